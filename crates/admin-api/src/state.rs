//! What every handler can reach.

use std::sync::Arc;

use crate::auth::Authenticator;

#[derive(Clone)]
pub struct ApiState {
    pub db: projects::Database,
    pub auth: Arc<dyn Authenticator>,
    /// The registry, for deletions that must go through its use cases.
    pub registry: registry_core::Registry,
    /// Key for robot secret hashes (shared by every replica through the settings table).
    pub robot_secret_key: Arc<[u8]>,
    /// Reported by systeminfo.
    pub external_url: Option<String>,
    /// The blob store's kind (`filesystem`, `s3`), reported by systeminfo to signed-in
    /// callers.
    pub storage_provider: &'static str,
}
