//! The API's own description: `/api/v2.0/openapi.json` and the interactive page at
//! `/api/v2.0/docs`. Kept apart from the API's routes, which all appear in the document.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::ApiError;
use crate::openapi::ApiDoc;

const OPENAPI_JSON: &str = "/api/v2.0/openapi.json";

pub(super) fn router() -> Router {
    Router::new()
        .route(OPENAPI_JSON, get(openapi_json))
        .merge(SwaggerUi::new("/api/v2.0/docs").config(Config::from(OPENAPI_JSON)))
}

/// The OpenAPI document, built on first request rather than at start: building it runs
/// the schema code of every endpoint, which added about 2.5 MiB to the idle server's
/// RSS (measured on a release build) for a page most deployments never open.
async fn openapi_json() -> Response {
    static DOCUMENT: LazyLock<Result<Bytes, String>> = LazyLock::new(|| {
        ApiDoc::openapi()
            .to_json()
            .map(Bytes::from)
            .map_err(|e| e.to_string())
    });
    match &*DOCUMENT {
        Ok(json) => ([(CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}
