//! The OpenAPI document, generated from the handlers' annotations. Every route in
//! `routes/mod.rs` must be listed here; a test keeps the two in step.

use utoipa::OpenApi;

use crate::routes::system;

#[derive(OpenApi)]
#[openapi(
    info(title = "Berth API", version = "2.0", description = "Harbor-compatible administration API of Berth"),
    servers((url = "/")),
    paths(system::ping, system::health, system::systeminfo),
    components(schemas(system::OverallHealth, system::ComponentHealth, system::GeneralInfo)),
)]
pub struct ApiDoc;
