//! Credential checks, the Docker token service and the bearer-token verifier of `/v2`.
//!
//! Flow (distribution's token authentication):
//! 1. `/v2/...` without a usable token answers 401 with
//!    `WWW-Authenticate: Bearer realm="<base>/service/token",service="berth",scope=".."`
//!    ([`BearerVerifier`], the `registry_core::Authorizer`).
//! 2. The client calls `GET /service/token` with Basic credentials (or none) and the
//!    scopes; [`router`] authenticates through a [`CredentialVerifier`], asks the
//!    [`GrantPolicy`] (by default the pure [`grant`] function) and returns an ES256 JWT
//!    whose `access` claim holds only what was granted.
//! 3. The client retries with `Authorization: Bearer <jwt>`; the verifier checks
//!    signature, key id, issuer, audience, validity window and scope, locally.
//!
//! Module map: `keys` (ES256 keys, `kid`), `scope` (requested scopes), `claims` (the
//! JWT claim set and scope matching), `policy` (the grant decision), `credentials`
//! (identity and Basic auth), `service` (configuration, issuing), `handlers` (HTTP),
//! `verify` (bearer verification), `challenge` (`WWW-Authenticate`), `error`.

mod challenge;
mod claims;
mod credentials;
mod error;
mod handlers;
mod keys;
mod policy;
mod scope;
mod service;
mod verify;

pub use claims::{AccessEntry, Claims};
pub use credentials::{CredentialVerifier, Credentials, Identity};
pub use error::AuthError;
pub use handlers::router;
pub use keys::{SigningKey, VerifyingKey, key_id};
pub use policy::{AdminOnlyPolicy, GrantPolicy, grant};
pub use scope::{MAX_SCOPES, Scope, ScopeResource};
pub use service::{IssuedToken, TokenConfig, TokenService};
pub use verify::BearerVerifier;
