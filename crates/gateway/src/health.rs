//! `/health` (the process answers) and `/health/ready` (database and storage reachable).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use registry_core::{BlobStore, MetadataStore};
use serde_json::{Value, json};

#[derive(Clone)]
struct Probes {
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
}

pub fn router(meta: Arc<dyn MetadataStore>, blobs: Arc<dyn BlobStore>) -> Router {
    Router::new()
        .route("/health", get(alive))
        .route("/health/ready", get(ready))
        .with_state(Probes { meta, blobs })
}

async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(probes): State<Probes>) -> (StatusCode, Json<Value>) {
    let (db, storage) = tokio::join!(probes.meta.ping(), probes.blobs.ping());
    let state = |r: &Result<(), registry_core::BackendError>| match r {
        Ok(()) => "ok".to_owned(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness probe failed");
            "unavailable".to_owned()
        }
    };
    let status = if db.is_ok() && storage.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "database": state(&db), "storage": state(&storage) })),
    )
}
