//! Verification of bearer tokens on `/v2`: signature, validity window and scope. Runs
//! on every registry request, so everything reusable (keys, validation rules) is built
//! once up front. The project checks on top of it live in `gate`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::http::{HeaderMap, header};
use jsonwebtoken::{Algorithm, Validation};
use registry_core::auth::UploadContext;
use registry_core::{Action, Authorizer, Grant, Principal, RegistryError, Resource};

use crate::challenge::{Challenge, Realm, required_scope};
use crate::claims::{Claims, unix_now};
use crate::error::AuthError;
use crate::keys::VerifyingKey;
use crate::service::TokenConfig;

/// Tokens whose signature and claims already verified, so each token costs one ECDSA
/// verification rather than one per request (it dominates the CPU of a small registry
/// request). Keyed by the whole token: only identical bytes hit. The validity window is
/// still checked on every use. Bounded: cleared when full; entries are re-verified then.
#[derive(Debug, Default)]
struct VerifiedTokens {
    map: Mutex<HashMap<Box<str>, Arc<Claims>>>,
}

/// How many verified tokens are remembered (a few hundred bytes each).
const VERIFIED_TOKENS_CAPACITY: usize = 8192;

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<Arc<Claims>> {
        self.map.lock().ok()?.get(token).cloned()
    }

    fn insert(&self, token: &str, claims: Arc<Claims>) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= VERIFIED_TOKENS_CAPACITY {
                map.clear();
            }
            map.insert(token.into(), claims);
        }
    }
}

/// Checks `Authorization: Bearer <jwt>` against the token service's public key(s).
#[derive(Debug, Clone)]
pub struct BearerVerifier {
    verified: Arc<VerifiedTokens>,
    keys: Vec<VerifyingKey>,
    validation: Validation,
    service: String,
    realm: Realm,
    leeway: i64,
    upload_grace: i64,
}

impl BearerVerifier {
    /// A verifier for tokens signed by `key` for `config.service` by `config.issuer`.
    pub fn new(key: VerifyingKey, config: &TokenConfig) -> Result<BearerVerifier, AuthError> {
        config.validate()?;
        // ES256 only: this is what rules out `alg: none` and HS256 signed with the
        // public key as the HMAC secret.
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[&config.service]);
        validation.set_issuer(&[&config.issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        // Time is checked here rather than by jsonwebtoken, because an expired token may
        // still continue an upload it was valid for (see `check_time`).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Ok(BearerVerifier {
            verified: Arc::default(),
            keys: vec![key],
            validation,
            service: config.service.clone(),
            realm: Realm::new(
                config.external_url.as_deref(),
                &config.realm_path,
                &config.default_scheme,
            ),
            leeway: secs(config.leeway),
            upload_grace: secs(config.upload_grace),
        })
    }

    /// Also accepts tokens signed by `key`, e.g. the previous key during a key rotation.
    pub fn with_key(mut self, key: VerifyingKey) -> BearerVerifier {
        if !self.keys.iter().any(|k| k.kid() == key.kid()) {
            self.keys.push(key);
        }
        self
    }

    /// Verifies signature, `kid`, `alg`, `iss`, `aud`, `nbf` and `exp` (the latter with
    /// the upload grace when `upload` is given) and returns the claims. Scope is not
    /// checked here; see [`Claims::permits`].
    pub fn verify_token(
        &self,
        token: &str,
        upload: Option<UploadContext>,
        now: i64,
    ) -> Result<Claims, AuthError> {
        if let Some(claims) = self.verified.get(token) {
            self.check_time(&claims, upload, now)?;
            return Ok(Claims::clone(&claims));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken("malformed"))?;
        let kid = header
            .kid
            .as_deref()
            .ok_or(AuthError::InvalidToken("no key id"))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid() == kid)
            .ok_or(AuthError::InvalidToken("unknown key id"))?;
        let claims = jsonwebtoken::decode::<Claims>(token, key.decoding_key(), &self.validation)
            .map_err(|e| AuthError::InvalidToken(describe(e.kind())))?
            .claims;
        self.check_time(&claims, upload, now)?;
        self.verified.insert(token, Arc::new(claims.clone()));
        Ok(claims)
    }

    fn check_time(
        &self,
        claims: &Claims,
        upload: Option<UploadContext>,
        now: i64,
    ) -> Result<(), AuthError> {
        if claims.nbf > now.saturating_add(self.leeway) {
            return Err(AuthError::InvalidToken("not yet valid"));
        }
        if claims.exp.saturating_add(self.leeway) >= now {
            return Ok(());
        }
        // Expired. A multi-GB push outlives its token; honour the token if it was still
        // valid when the upload began and the upload is not older than the grace period.
        match upload {
            Some(ctx)
                if claims.exp >= ctx.started_at
                    && ctx.started_at <= now.saturating_add(self.leeway)
                    && now.saturating_sub(ctx.started_at) <= self.upload_grace =>
            {
                Ok(())
            }
            _ => Err(AuthError::InvalidToken("expired")),
        }
    }

    /// The token part of the `/v2` decision with an explicit clock: signature, validity
    /// and scope. It does not look at projects; [`crate::TokenService`]'s `Authorizer` adds
    /// that, and is what the gateway serves `/v2` with.
    pub fn authorize_at(
        &self,
        headers: &HeaderMap,
        resource: &Resource,
        action: Action,
        upload: Option<UploadContext>,
        now: i64,
    ) -> Result<Grant, RegistryError> {
        self.check(headers, resource, action, upload, now)
            .map(|claims| grant_for(&claims))
            .map_err(|err| self.refuse(err, headers, resource, action))
    }

    /// The verified claims of the request's bearer token, if they cover `action` on
    /// `resource`.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        resource: &Resource,
        action: Action,
        upload: Option<UploadContext>,
        now: i64,
    ) -> Result<Claims, AuthError> {
        let token = bearer_token(headers).ok_or(AuthError::MissingToken)?;
        let claims = self.verify_token(token, upload, now)?;
        if !claims.permits(resource, action) {
            return Err(AuthError::InsufficientScope);
        }
        Ok(claims)
    }

    /// The 401 answer for a refused request: a challenge naming the scope to ask for.
    pub(crate) fn refuse(
        &self,
        err: AuthError,
        headers: &HeaderMap,
        resource: &Resource,
        action: Action,
    ) -> RegistryError {
        tracing::debug!(error = %err, ?resource, action = action.as_str(), "bearer token refused");
        err.into_registry_error(Challenge {
            realm: self.realm.url(headers),
            service: &self.service,
            scope: required_scope(resource, action),
        })
    }
}

/// The grant of a verified token: who it was issued to.
pub(crate) fn grant_for(claims: &Claims) -> Grant {
    Grant {
        principal: Principal {
            subject: claims.sub.clone(),
        },
    }
}

#[async_trait]
impl Authorizer for BearerVerifier {
    async fn authorize(
        &self,
        headers: &HeaderMap,
        resource: &Resource,
        action: Action,
        upload: Option<UploadContext>,
    ) -> Result<Grant, RegistryError> {
        self.authorize_at(headers, resource, action, upload, unix_now())
    }
}

/// The token of `Authorization: Bearer <token>`; anything else counts as no token, so
/// the client gets a challenge telling it how to obtain one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm => "algorithm not accepted",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::MissingRequiredClaim(_) => "missing claim",
        _ => "malformed",
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
