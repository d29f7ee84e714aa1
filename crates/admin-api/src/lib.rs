//! The Harbor-compatible admin API under `/api/v2.0`.
//!
//! Paths, parameters and JSON field names follow Harbor's v2.0 API for the resources
//! Berth has, so Harbor clients and scripts work unchanged. Every handler: extract the
//! [`Caller`](auth::Caller), check permission through [`rbac::permits`], call the
//! `projects` store, write an audit record for mutations, answer JSON. Errors leave
//! through [`ApiError`](error::ApiError) as Harbor's `{"errors":[{code,message}]}`.

pub mod audit;
pub mod auth;
mod catalogue;
pub mod error;
mod extract;
mod narrowing;
mod openapi;
pub mod pagination;
pub mod query;
mod robot_model;
mod routes;
mod rules;
pub mod sort;
pub mod state;
pub mod time;
mod visibility;

pub use auth::{Authenticator, Caller};
pub use error::ApiError;
pub use state::ApiState;

/// The `/api/v2.0` router, including `/api/v2.0/openapi.json` and the API page at
/// `/api/v2.0/docs/`.
pub fn router(state: ApiState) -> axum::Router {
    routes::router(state)
}
