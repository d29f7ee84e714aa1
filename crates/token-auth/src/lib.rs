//! Credential checks, the Docker token service and the bearer-token verifier of `/v2`.
//!
//! Flow (distribution's token authentication):
//! 1. `/v2/...` without a usable token answers 401 with
//!    `WWW-Authenticate: Bearer realm="<base>/service/token",service="berth",scope=".."`
//!    ([`TokenService`] is the `registry_core::Authorizer`).
//! 2. The client calls `GET /service/token` with Basic credentials (or none) and the
//!    scopes; [`router`] authenticates users and robot accounts through a
//!    [`CredentialVerifier`] (failed logins rate-limited per account and address), asks
//!    the [`GrantPolicy`] (by default [`RbacPolicy`]: Harbor's roles, robot permissions
//!    and public projects, decided by `rbac::permits`) and returns an ES256 JWT whose
//!    `access` claim holds only what was granted.
//! 3. The client retries with `Authorization: Bearer <jwt>`; the verifier checks
//!    signature, key id, issuer, audience, validity window and scope, locally, and then
//!    that the repository's project exists and is not younger than the token.
//!
//! Module map: `keys` (ES256 keys, `kid`), `scope` (requested scopes), `claims` (the
//! JWT claim set and scope matching), `policy` (the grant decision), `credentials`
//! (identity, Basic auth, user/robot dispatch), `robots` (robot secrets and login),
//! `limiter` (failed-login limits), `service` (configuration, login, issuing),
//! `handlers` (HTTP), `verify` (bearer verification), `gate` (project checks on `/v2`),
//! `challenge` (`WWW-Authenticate`), `error`.

mod challenge;
mod claims;
mod credentials;
mod error;
mod gate;
mod handlers;
mod keys;
mod limiter;
mod policy;
mod robots;
mod scope;
mod service;
mod verify;

/// The permission model this crate decides with, re-exported so callers need not
/// depend on it separately.
pub use rbac;

pub use claims::{AccessEntry, Claims};
pub use credentials::{Accounts, CredentialVerifier, Credentials, Identity};
pub use error::AuthError;
pub use handlers::router;
pub use keys::{SigningKey, VerifyingKey, key_id};
pub use limiter::LoginLimits;
pub use policy::{GrantPolicy, RbacPolicy, catalog_grant, project_of, repository_grant};
pub use robots::{
    ROBOT_PREFIX, RobotVerifier, generate_robot_key, generate_robot_secret, hash_robot_secret,
};
pub use scope::{MAX_SCOPES, Scope, ScopeResource};
pub use service::{IssuedToken, LoginObserver, LoginOutcome, TokenConfig, TokenService};
pub use verify::BearerVerifier;
