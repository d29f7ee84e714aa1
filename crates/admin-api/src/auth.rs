//! Who is calling: Basic credentials (users and robots) or a Bearer token, resolved by
//! the gateway's [`Authenticator`], and permission checks through [`rbac::permits`].

use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use rbac::{Action, Principal, ProjectAccess, Resource, RobotAccount, UserAccount};

use crate::error::ApiError;
use crate::state::ApiState;

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    User(UserAccount),
    Robot(RobotAccount),
}

/// Resolves credentials to a caller. Implemented by the gateway on top of the token
/// service, so the API and `/service/token` accept exactly the same credentials (and
/// share the failed-login rate limit).
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Basic credentials of a user or robot. `Ok(None)` when wrong; an error (e.g. 429)
    /// when the attempt is refused outright.
    async fn basic(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Option<Caller>, ApiError>;

    /// A bearer token issued by `/service/token`.
    async fn bearer(&self, token: &str) -> Result<Option<Caller>, ApiError>;
}

/// The request context every handler extracts: the caller and where they came from.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub caller: Caller,
    pub client_ip: Option<IpAddr>,
}

impl Ctx {
    /// The name recorded in audit logs.
    pub fn username(&self) -> &str {
        match &self.caller {
            Caller::Anonymous => "anonymous",
            Caller::User(u) => &u.username,
            Caller::Robot(r) => &r.name,
        }
    }

    pub fn is_sysadmin(&self) -> bool {
        matches!(&self.caller, Caller::User(u) if u.sysadmin)
    }

    pub fn user(&self) -> Option<&UserAccount> {
        match &self.caller {
            Caller::User(u) => Some(u),
            _ => None,
        }
    }

    /// 401 for anonymous callers.
    pub fn require_login(&self) -> Result<(), ApiError> {
        match self.caller {
            Caller::Anonymous => Err(ApiError::unauthorized()),
            _ => Ok(()),
        }
    }

    /// 401 unless a system administrator, 403 for other callers.
    pub fn require_sysadmin(&self) -> Result<(), ApiError> {
        self.require_login()?;
        if self.is_sysadmin() {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// The rbac principal for `project` (looks up the caller's role there).
    pub async fn principal(
        &self,
        state: &ApiState,
        project: &ProjectAccess,
    ) -> Result<Principal, ApiError> {
        Ok(match &self.caller {
            Caller::Anonymous => Principal::Anonymous,
            Caller::Robot(r) => Principal::Robot(r.clone()),
            Caller::User(u) => {
                let role = if u.sysadmin {
                    None
                } else {
                    use rbac::AccessDirectory as _;
                    state
                        .db
                        .member_role(project.id, u.id)
                        .await
                        .map_err(ApiError::internal)?
                };
                Principal::User {
                    account: u.clone(),
                    role,
                }
            }
        })
    }

    /// Whether the caller may do `action` on `resource` of `project`.
    pub async fn can(
        &self,
        state: &ApiState,
        project: &ProjectAccess,
        resource: Resource,
        action: Action,
    ) -> Result<bool, ApiError> {
        let principal = self.principal(state, project).await?;
        Ok(rbac::permits(&principal, project, resource, action))
    }

    /// Like [`can`](Self::can) but answers 401 (anonymous) or 403 when denied.
    pub async fn require(
        &self,
        state: &ApiState,
        project: &ProjectAccess,
        resource: Resource,
        action: Action,
    ) -> Result<(), ApiError> {
        if self.can(state, project, resource, action).await? {
            Ok(())
        } else if self.caller == Caller::Anonymous {
            Err(ApiError::unauthorized())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

impl<S> FromRequestParts<S> for Ctx
where
    ApiState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ApiState::from_ref(state);
        let client_ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Ctx {
                caller: Caller::Anonymous,
                client_ip,
            });
        };
        let value = value.to_str().map_err(|_| ApiError::unauthorized())?;
        let (scheme, rest) = value.split_once(' ').ok_or_else(ApiError::unauthorized)?;
        let caller = if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| ApiError::unauthorized())?;
            let decoded = String::from_utf8(decoded).map_err(|_| ApiError::unauthorized())?;
            let (user, password) = decoded.split_once(':').ok_or_else(ApiError::unauthorized)?;
            state.auth.basic(user, password, client_ip).await?
        } else if scheme.eq_ignore_ascii_case("bearer") {
            state.auth.bearer(rest.trim()).await?
        } else {
            None
        };
        // Wrong credentials are an error, not a silent downgrade to anonymous.
        let caller = caller.ok_or_else(ApiError::unauthorized)?;
        Ok(Ctx { caller, client_ip })
    }
}
