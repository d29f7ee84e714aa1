//! The authorization contract between the `/v2` surface and the token service.
//!
//! The registry asks one question per request: do these request headers grant `action`
//! on `resource`? The `token-auth` crate answers it by verifying a bearer token; the
//! grant decision itself lives there, in one replaceable place.

use async_trait::async_trait;
use axum::http::HeaderMap;

use crate::error::RegistryError;
use crate::name::RepoName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pull" => Some(Action::Pull),
            "push" => Some(Action::Push),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// What a request touches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// The `/v2/` base endpoint: only needs a valid identity.
    Base,
    /// `registry:catalog:*`.
    Catalog,
    Repository(RepoName),
}

/// Who made a request, as proven by their token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Account name (`admin`, `robot$ci`, ...) or empty for anonymous.
    pub subject: String,
}

/// A successful authorization.
#[derive(Debug, Clone)]
pub struct Grant {
    pub principal: Principal,
}

/// When an upload session started, so a request continuing it can be honoured with a
/// token that was valid then but has since expired (multi-GB pushes outlive tokens).
#[derive(Debug, Clone, Copy)]
pub struct UploadContext {
    /// Unix seconds when the upload session was created.
    pub started_at: i64,
}

#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    /// Checks `headers` grant `action` on `resource`. Errors are ready-made OCI responses:
    /// [`RegistryError::Unauthorized`] with a challenge, or `DENIED`.
    async fn authorize(
        &self,
        headers: &HeaderMap,
        resource: &Resource,
        action: Action,
        upload: Option<UploadContext>,
    ) -> Result<Grant, RegistryError>;
}
