//! The token service: authenticates an account, asks the grant policy, and signs a
//! token holding only what was granted.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::fill;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use rbac::AccessDirectory;

use crate::claims::{AccessEntry, Claims, unix_now};
use crate::credentials::{CredentialVerifier, Identity};
use crate::error::AuthError;
use crate::gate::ProjectGate;
use crate::keys::SigningKey;
use crate::limiter::{LoginLimiter, LoginLimits};
use crate::policy::{GrantPolicy, RbacPolicy};
use crate::scope::Scope;
use crate::verify::BearerVerifier;

/// Settings of the token service and of the verifier that checks its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// The audience: the `service` in challenges and token requests, `aud` in tokens.
    pub service: String,
    /// The `iss` of issued tokens; the verifier accepts no other.
    pub issuer: String,
    /// Path the token router serves and challenges point to.
    pub realm_path: String,
    /// Public base URL (`https://registry.example.com`). When unset, the challenge realm
    /// is rebuilt from each request's `Host` / `X-Forwarded-*` headers.
    pub external_url: Option<String>,
    /// Scheme used for the realm when neither `external_url` nor `X-Forwarded-Proto`
    /// says; the gateway sets `https` when it terminates TLS itself.
    pub default_scheme: String,
    /// How long an access token lives. At least 60 s: older clients assume that much.
    pub ttl: Duration,
    /// Clock skew tolerated on `exp` and `nbf` between replicas.
    pub leeway: Duration,
    /// How long after an upload started an expired token may still continue it.
    pub upload_grace: Duration,
    /// Failed-login limits per account and per client address.
    pub login_limits: LoginLimits,
    /// How long `/v2` trusts a project lookup (existence, creation time). Short: a
    /// deleted project's repositories stay reachable with old tokens this long at most.
    pub project_cache_ttl: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            service: "berth".to_owned(),
            issuer: "berth-token-service".to_owned(),
            realm_path: "/service/token".to_owned(),
            external_url: None,
            default_scheme: "http".to_owned(),
            ttl: Duration::from_secs(300),
            leeway: Duration::from_secs(30),
            upload_grace: Duration::from_secs(24 * 60 * 60),
            login_limits: LoginLimits::default(),
            project_cache_ttl: Duration::from_secs(5),
        }
    }
}

impl TokenConfig {
    /// Rejects settings that would yield unusable challenges or tokens.
    pub fn validate(&self) -> Result<(), AuthError> {
        let bad = |what: &str| Err(AuthError::Config(what.to_owned()));
        let is_token_text = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        };
        if !is_token_text(&self.service) {
            return bad("service must be non-empty printable ASCII without quotes");
        }
        if !is_token_text(&self.issuer) {
            return bad("issuer must be non-empty printable ASCII without quotes");
        }
        if !self.realm_path.starts_with('/') || !is_token_text(&self.realm_path) {
            return bad("realm path must be an absolute path such as /service/token");
        }
        if let Some(url) = &self.external_url {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || !is_token_text(url) {
                return bad("external URL must be an http:// or https:// URL");
            }
        }
        if self.default_scheme != "http" && self.default_scheme != "https" {
            return bad("default scheme must be http or https");
        }
        if self.ttl < Duration::from_secs(60) {
            return bad("token lifetime must be at least 60 seconds");
        }
        if self.ttl > Duration::from_secs(24 * 60 * 60) {
            return bad("token lifetime must be at most 24 hours");
        }
        let limits = &self.login_limits;
        if limits.failures_per_account == 0
            || limits.failures_per_address == 0
            || limits.window.is_zero()
        {
            return bad("login limits must allow at least one failure over a non-empty window");
        }
        if self.project_cache_ttl > Duration::from_secs(60) {
            return bad("project cache lifetime must be at most 60 seconds");
        }
        Ok(())
    }
}

/// A freshly signed token and what went into it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    /// Seconds from `issued_at` to expiry.
    pub expires_in: u64,
    /// Unix seconds.
    pub issued_at: i64,
    /// The granted access, exactly as signed into the token.
    pub access: Vec<AccessEntry>,
}

/// Issues tokens (`/service/token`) and checks them on `/v2` (it is the registry's
/// `Authorizer`: token verification by its [`BearerVerifier`], then the project checks).
pub struct TokenService {
    config: TokenConfig,
    key: SigningKey,
    credentials: Arc<dyn CredentialVerifier>,
    policy: Arc<dyn GrantPolicy>,
    verifier: BearerVerifier,
    gate: ProjectGate,
    limiter: LoginLimiter,
    observer: Option<Arc<dyn LoginObserver>>,
}

/// How a login attempt ended, for audit logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Succeeded,
    /// Wrong username, password or secret.
    Failed,
    /// Refused unchecked: too many recent failures.
    Throttled,
}

/// Told about every login attempt (token requests and admin API calls with Basic
/// credentials). Must not block: implementations queue and return.
pub trait LoginObserver: Send + Sync + 'static {
    fn login(&self, username: &str, client: Option<IpAddr>, outcome: LoginOutcome);
}

impl TokenService {
    /// A service that logs accounts in through `credentials` (users and robots; see
    /// [`crate::Accounts`]) and grants by Harbor's rules ([`RbacPolicy`]) with the facts
    /// from `directory`, which `/v2` also uses to check projects.
    pub fn new(
        config: TokenConfig,
        key: SigningKey,
        credentials: Arc<dyn CredentialVerifier>,
        directory: Arc<dyn AccessDirectory>,
    ) -> Result<TokenService, AuthError> {
        config.validate()?;
        let verifier = BearerVerifier::new(key.verifying_key().clone(), &config)?;
        Ok(TokenService {
            gate: ProjectGate::new(directory.clone(), config.project_cache_ttl),
            limiter: LoginLimiter::new(config.login_limits.clone()),
            config,
            key,
            credentials,
            policy: Arc::new(RbacPolicy::new(directory)),
            verifier,
            observer: None,
        })
    }

    /// Reports every login attempt to `observer` (audit logging).
    pub fn with_login_observer(mut self, observer: Arc<dyn LoginObserver>) -> TokenService {
        self.observer = Some(observer);
        self
    }

    fn observe(&self, username: &str, client: Option<IpAddr>, outcome: LoginOutcome) {
        if let Some(observer) = &self.observer {
            observer.login(username, client, outcome);
        }
    }

    /// Replaces the grant policy (tests, tools).
    pub fn with_policy(mut self, policy: Arc<dyn GrantPolicy>) -> TokenService {
        self.policy = policy;
        self
    }

    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    /// The verifier for `/v2`; [`TokenService`] also implements the `Authorizer` trait
    /// by delegating to it.
    pub fn verifier(&self) -> &BearerVerifier {
        &self.verifier
    }

    pub(crate) fn gate(&self) -> &ProjectGate {
        &self.gate
    }

    /// Checks a username and password (or robot secret) presented from `client`.
    /// Wrong ones are [`AuthError::InvalidCredentials`]; too many recent failures for the
    /// account or the address are [`AuthError::TooManyAttempts`], without checking.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Identity, AuthError> {
        let attempt = match self.limiter.begin(username, client, Instant::now()) {
            Ok(attempt) => attempt,
            Err(wait) => {
                tracing::warn!(username, client = ?client, "login refused: too many failed attempts");
                self.observe(username, client, LoginOutcome::Throttled);
                // Whole seconds, rounded up, as Retry-After wants.
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                return Err(AuthError::TooManyAttempts {
                    retry_after: retry_after.max(1),
                });
            }
        };
        match self.credentials.verify(username, password).await {
            Ok(Some(identity)) => {
                self.limiter.succeeded(attempt);
                self.observe(username, client, LoginOutcome::Succeeded);
                Ok(identity)
            }
            Ok(None) => {
                self.limiter.failed(attempt);
                tracing::info!(username, client = ?client, "login failed: invalid credentials");
                self.observe(username, client, LoginOutcome::Failed);
                Err(AuthError::InvalidCredentials)
            }
            Err(err) => {
                self.limiter.abandoned(attempt);
                Err(err)
            }
        }
    }

    /// Refuses a token request addressed to another service (audience).
    pub fn check_service(&self, requested: Option<&str>) -> Result<(), AuthError> {
        match requested {
            Some(service) if service != self.config.service => {
                Err(AuthError::InvalidRequest(format!(
                    "unknown service {service:?}; this is {:?}",
                    self.config.service
                )))
            }
            _ => Ok(()),
        }
    }

    /// Signs a token for `identity` (None: anonymous) holding what the policy grants out
    /// of `scopes`.
    pub async fn issue(
        &self,
        identity: Option<&Identity>,
        scopes: &[Scope],
    ) -> Result<IssuedToken, AuthError> {
        self.issue_at(identity, scopes, unix_now()).await
    }

    /// [`TokenService::issue`] with an explicit clock, for tests and tooling.
    pub async fn issue_at(
        &self,
        identity: Option<&Identity>,
        scopes: &[Scope],
        now: i64,
    ) -> Result<IssuedToken, AuthError> {
        let mut access = Vec::new();
        for scope in scopes {
            let granted = self.policy.grant(identity, scope).await?;
            // Never wider than asked, whatever a replacement policy returns.
            let granted: Vec<String> = granted
                .into_iter()
                .filter(|a| scope.actions.contains(a))
                .collect();
            if !granted.is_empty() {
                access.push(AccessEntry {
                    resource_type: scope.resource.resource_type().to_owned(),
                    name: scope.resource.name().to_owned(),
                    actions: granted,
                });
            }
        }
        let lifetime = self.config.ttl.as_secs();
        let claims = Claims {
            iss: self.config.issuer.clone(),
            sub: identity
                .map(|id| id.username().to_owned())
                .unwrap_or_default(),
            aud: self.config.service.clone(),
            exp: now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX)),
            nbf: now,
            iat: now,
            jti: random_jti()?,
            access,
        };
        let token = self.key.sign(&claims)?;
        Ok(IssuedToken {
            token,
            expires_in: lifetime,
            issued_at: now,
            access: claims.access,
        })
    }
}

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenService")
            .field("config", &self.config)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// 128 random bits, so token ids never repeat across replicas.
fn random_jti() -> Result<String, AuthError> {
    let mut bytes = [0u8; 16];
    fill(&mut bytes).map_err(|_| AuthError::Crypto("system random source failed".to_owned()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
