//! Every `/api/v2.0` route, registered in one place.

pub(crate) mod system;

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_swagger_ui::SwaggerUi;

use crate::openapi::ApiDoc;
use crate::state::ApiState;

pub const BASE: &str = "/api/v2.0";

pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/ping", get(system::ping))
        .route("/health", get(system::health))
        .route("/systeminfo", get(system::systeminfo))
        .fallback(system::not_found);
    Router::new()
        .nest(BASE, api.with_state(state))
        .merge(SwaggerUi::new("/api/v2.0/docs").url("/api/v2.0/openapi.json", ApiDoc::openapi()))
}
