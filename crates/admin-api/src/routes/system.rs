//! ping, health, systeminfo.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Ctx;
use crate::error::ApiError;
use crate::state::ApiState;

/// Liveness of the API.
#[utoipa::path(get, path = "/api/v2.0/ping", tag = "ping",
    responses((status = 200, description = "Pong", body = String)))]
pub async fn ping() -> &'static str {
    "Pong"
}

#[derive(Serialize, ToSchema)]
pub struct ComponentHealth {
    pub name: String,
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct OverallHealth {
    pub status: String,
    pub components: Vec<ComponentHealth>,
}

/// Health of Berth's components (Harbor's shape).
#[utoipa::path(get, path = "/api/v2.0/health", tag = "health",
    responses((status = 200, body = OverallHealth)))]
pub async fn health(State(state): State<ApiState>) -> Json<OverallHealth> {
    let (db, storage) = tokio::join!(state.db.ping(), state.registry.blobs.ping());
    let status = |ok: bool| if ok { "healthy" } else { "unhealthy" }.to_owned();
    let all = db.is_ok() && storage.is_ok();
    Json(OverallHealth {
        status: status(all),
        components: vec![
            ComponentHealth {
                name: "database".into(),
                status: status(db.is_ok()),
            },
            ComponentHealth {
                name: "storage".into(),
                status: status(storage.is_ok()),
            },
        ],
    })
}

#[derive(Serialize, ToSchema)]
pub struct GeneralInfo {
    pub with_notary: bool,
    pub auth_mode: String,
    pub registry_url: Option<String>,
    pub external_url: Option<String>,
    pub project_creation_restriction: String,
    pub self_registration: bool,
    pub has_ca_root: bool,
    pub harbor_version: String,
    pub registry_storage_provider_name: String,
    pub read_only: bool,
    pub with_chartmuseum: bool,
    pub notification_enable: bool,
}

/// General system information; the version and the storage driver only for signed-in
/// callers, as Harbor does.
#[utoipa::path(get, path = "/api/v2.0/systeminfo", tag = "systeminfo",
    responses((status = 200, body = GeneralInfo)))]
pub async fn systeminfo(State(state): State<ApiState>, ctx: Ctx) -> Json<GeneralInfo> {
    let host = state.external_url.as_deref().map(|u| {
        u.trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    });
    let signed_in = ctx.require_login().is_ok();
    Json(GeneralInfo {
        with_notary: false,
        auth_mode: "db_auth".into(),
        registry_url: host,
        external_url: state.external_url.clone(),
        project_creation_restriction: "everyone".into(),
        self_registration: false,
        has_ca_root: false,
        harbor_version: if signed_in {
            format!("berth-{}", env!("CARGO_PKG_VERSION"))
        } else {
            String::new()
        },
        registry_storage_provider_name: if signed_in {
            state.storage_provider.to_owned()
        } else {
            String::new()
        },
        read_only: false,
        with_chartmuseum: false,
        notification_enable: false,
    })
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such API endpoint")
}
