//! The project side of the `/v2` decision, on top of token verification: a token only
//! opens a repository whose project still exists and is not younger than the token, so
//! the tokens of a deleted project do not open a new project of the same name. A push
//! into a project that does not exist is answered with a clear `NAME_UNKNOWN`.
//!
//! This runs on every registry request, so project lookups are cached for a few seconds
//! in a bounded map.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::{HeaderMap, StatusCode};
use rbac::{AccessDirectory, DirectoryError, ProjectAccess};
use registry_core::auth::UploadContext;
use registry_core::{
    Action, Authorizer, BackendError, ErrorCode, Grant, RegistryError, RepoName, Resource,
};

use crate::claims::unix_now;
use crate::error::AuthError;
use crate::policy::project_of;
use crate::service::TokenService;
use crate::verify::grant_for;

/// Most project names cached; beyond that the cache starts over rather than grow.
const CACHE_CAPACITY: usize = 1024;

/// Project lookups for `/v2`, cached briefly.
pub(crate) struct ProjectGate {
    directory: Arc<dyn AccessDirectory>,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    fetched: Instant,
    /// `None` is cached too, so requests for a missing project do not all reach the
    /// database.
    project: Option<ProjectAccess>,
}

impl ProjectGate {
    /// `ttl` zero turns caching off.
    pub(crate) fn new(directory: Arc<dyn AccessDirectory>, ttl: Duration) -> Self {
        ProjectGate {
            directory,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn project(
        &self,
        name: &str,
    ) -> Result<Option<ProjectAccess>, DirectoryError> {
        let now = Instant::now();
        if let Some(hit) = self.cached(name, now) {
            return Ok(hit);
        }
        let project = self.directory.project(name).await?;
        if !self.ttl.is_zero() {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, c| now.saturating_duration_since(c.fetched) < self.ttl);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(
                name.to_owned(),
                Cached {
                    fetched: now,
                    project: project.clone(),
                },
            );
        }
        Ok(project)
    }

    fn cached(&self, name: &str, now: Instant) -> Option<Option<ProjectAccess>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(name)
            .filter(|c| now.saturating_duration_since(c.fetched) < self.ttl)
            .map(|c| c.project.clone())
    }
}

impl TokenService {
    /// The whole `/v2` decision with an explicit clock: the token (signature, validity,
    /// scope; see [`crate::BearerVerifier::authorize_at`]) and, for a repository, its
    /// project: it must exist and have been created no later than the token was issued.
    pub async fn authorize_at(
        &self,
        headers: &HeaderMap,
        resource: &Resource,
        action: Action,
        upload: Option<UploadContext>,
        now: i64,
    ) -> Result<Grant, RegistryError> {
        let verifier = self.verifier();
        let checked = verifier.check(headers, resource, action, upload, now);
        let Resource::Repository(repository) = resource else {
            return checked
                .map(|claims| grant_for(&claims))
                .map_err(|err| verifier.refuse(err, headers, resource, action));
        };
        match checked {
            Ok(claims) => match self.project_of(repository).await? {
                Some(project) if project.created_at <= claims.iat => Ok(grant_for(&claims)),
                // The token was issued for an earlier project of this name. Refusing it
                // as invalid makes docker fetch a fresh token, judged on the new project.
                Some(_) => Err(verifier.refuse(
                    AuthError::InvalidToken("issued before the project was created"),
                    headers,
                    resource,
                    action,
                )),
                None => Err(project_missing(repository)),
            },
            // The token service grants nothing in a missing project, so a push there
            // ends here; say why instead of sending docker round the token loop again.
            Err(AuthError::InsufficientScope) if action == Action::Push => {
                match self.project_of(repository).await? {
                    None => Err(project_missing(repository)),
                    Some(_) => Err(verifier.refuse(
                        AuthError::InsufficientScope,
                        headers,
                        resource,
                        action,
                    )),
                }
            }
            Err(err) => Err(verifier.refuse(err, headers, resource, action)),
        }
    }

    async fn project_of(
        &self,
        repository: &RepoName,
    ) -> Result<Option<ProjectAccess>, RegistryError> {
        let Some(name) = project_of(repository) else {
            return Ok(None);
        };
        self.gate().project(name).await.map_err(|err| {
            tracing::error!(error = %err, project = name, "project lookup failed");
            RegistryError::Backend(match err {
                DirectoryError::Unavailable(m) => BackendError::Unavailable(m),
                DirectoryError::Failed(m) => BackendError::Other(m),
            })
        })
    }
}

/// `NAME_UNKNOWN` (404) naming the missing project, or `NAME_INVALID` (400) for a name
/// that has no project part at all.
fn project_missing(repository: &RepoName) -> RegistryError {
    match project_of(repository) {
        Some(project) => RegistryError::new(
            ErrorCode::NameUnknown,
            StatusCode::NOT_FOUND,
            format!("project {project} not found"),
        ),
        None => RegistryError::name_invalid(format!(
            "repository {repository} is not in a project; use <project>/{repository}"
        )),
    }
}

#[async_trait]
impl Authorizer for TokenService {
    async fn authorize(
        &self,
        headers: &HeaderMap,
        resource: &Resource,
        action: Action,
        upload: Option<UploadContext>,
    ) -> Result<Grant, RegistryError> {
        self.authorize_at(headers, resource, action, upload, unix_now())
            .await
    }
}
