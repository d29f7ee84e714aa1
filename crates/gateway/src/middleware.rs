//! The layer stack around every route, outermost first: request id (generated unless the
//! client sent one), tracing span carrying it, the id echoed in the response, and a last
//! line of defence that turns a handler panic into a logged 500 instead of a dropped
//! connection (handlers are written not to panic; this keeps one bug from taking a
//! client's whole push down with a reset).

use axum::http::{HeaderName, Request};
use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};
use tower_http::catch_panic::{CatchPanicLayer, DefaultResponseForPanic};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn make_span<B>(request: &Request<B>) -> tracing::Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

type Span = fn(&Request<axum::body::Body>) -> tracing::Span;

#[allow(clippy::type_complexity)]
pub fn stack() -> ServiceBuilder<
    Stack<
        CatchPanicLayer<DefaultResponseForPanic>,
        Stack<
            PropagateRequestIdLayer,
            Stack<
                TraceLayer<SharedClassifier<ServerErrorsAsFailures>, Span, (), DefaultOnResponse>,
                Stack<SetRequestIdLayer<MakeRequestUuid>, Identity>,
            >,
        >,
    >,
> {
    ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span as Span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(CatchPanicLayer::new())
}
