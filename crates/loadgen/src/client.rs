//! An HTTP client for one registry that answers its authentication challenge: Basic
//! credentials on every request, or Docker bearer tokens fetched from the realm named in
//! the `WWW-Authenticate` challenge, cached per scope and fetched again on a 401.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};
use url::{Host, Url};

use crate::challenge::{self, Challenge};

#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    pub fn basic_header(&self) -> Result<HeaderValue> {
        let raw = format!("{}:{}", self.user, self.password);
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// How the registry wants to be authenticated, learnt from `GET /v2/`.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// `/v2/` answered 200 without credentials.
    Anonymous,
    /// `WWW-Authenticate: Basic ...`: the credentials go on every request.
    Basic,
    /// `WWW-Authenticate: Bearer realm=..,service=..`: tokens from the realm.
    Bearer { realm: Url, service: Option<String> },
}

/// A token as the token service returned it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub token: String,
    pub expires_in: u64,
}

struct Cached {
    header: HeaderValue,
    renew_at: Instant,
}

impl Cached {
    fn new(grant: &Grant) -> Result<Cached> {
        let mut header = HeaderValue::from_str(&format!("Bearer {}", grant.token))?;
        header.set_sensitive(true);
        // Renew a little before the token runs out.
        let life = Duration::from_secs(grant.expires_in);
        let margin = (life / 10).min(Duration::from_secs(30));
        Ok(Cached {
            header,
            renew_at: Instant::now() + life.saturating_sub(margin),
        })
    }
}

/// True for `localhost` and loopback addresses (127.0.0.0/8, ::1).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub struct Registry {
    pub name: String,
    /// `scheme://host:port` with no path.
    pub base: Url,
    http: reqwest::Client,
    creds: Option<Credentials>,
    basic: Option<HeaderValue>,
    mode: AuthMode,
    allow_remote: bool,
    tokens: Mutex<HashMap<String, Cached>>,
    token_fetch: tokio::sync::Mutex<()>,
    /// HTTP requests sent to this registry (token requests included).
    requests: AtomicU64,
    /// Token requests among them.
    token_requests: AtomicU64,
}

impl Registry {
    /// Builds the client and learns the authentication scheme from `GET /v2/`, then
    /// checks the credentials once (a login), so a wrong password fails early.
    pub async fn connect(
        name: String,
        base: Url,
        creds: Option<Credentials>,
        allow_remote: bool,
        pool: usize,
    ) -> Result<Registry> {
        if !allow_remote && !is_loopback(&base) {
            bail!(
                "{base} is not a loopback address; pass --allow-remote to measure a registry elsewhere"
            );
        }
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if !allow_remote && !is_loopback(attempt.url()) {
                attempt.error("redirect to a non-loopback address refused (see --allow-remote)")
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(policy)
            .pool_max_idle_per_host(pool.max(1))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build()?;
        let basic = creds.as_ref().map(Credentials::basic_header).transpose()?;
        let mut registry = Registry {
            name,
            base,
            http,
            creds,
            basic,
            mode: AuthMode::Anonymous,
            allow_remote,
            tokens: Mutex::new(HashMap::new()),
            token_fetch: tokio::sync::Mutex::new(()),
            requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
        };
        registry.mode = registry.discover().await?;
        Ok(registry)
    }

    async fn discover(&self) -> Result<AuthMode> {
        let url = self.url("/v2/")?;
        self.count(1);
        let resp = self
            .http
            .get(url.clone())
            .send()
            .await
            .with_context(|| format!("{}: GET {url}", self.name))?;
        match resp.status() {
            s if s.is_success() => return Ok(AuthMode::Anonymous),
            StatusCode::UNAUTHORIZED => {}
            s => bail!("{}: GET {url} answered {s}", self.name),
        }
        let challenge = challenge_of(&resp)
            .ok_or_else(|| anyhow!("{}: 401 from /v2/ without a usable challenge", self.name))?;
        let mode = if challenge.is_bearer() {
            let realm = challenge
                .param("realm")
                .ok_or_else(|| anyhow!("bearer challenge without realm"))?;
            let realm = self.base.join(realm).context("bad realm URL")?;
            self.check_url(&realm)?;
            AuthMode::Bearer {
                realm,
                service: challenge.param("service").map(str::to_owned),
            }
        } else if challenge.is_basic() {
            AuthMode::Basic
        } else {
            bail!(
                "{}: unsupported authentication scheme {:?}",
                self.name,
                challenge.scheme
            );
        };
        // Check the credentials once.
        match &mode {
            AuthMode::Basic => {
                let basic = self
                    .basic
                    .clone()
                    .ok_or_else(|| anyhow!("{}: needs credentials (Basic)", self.name))?;
                self.count(1);
                let resp = self
                    .http
                    .get(url)
                    .header(AUTHORIZATION, basic)
                    .send()
                    .await?;
                if !resp.status().is_success() {
                    bail!("{}: login refused ({})", self.name, resp.status());
                }
            }
            AuthMode::Bearer { realm, service } => {
                self.fetch_token_at(realm, service.as_deref(), self.creds.as_ref(), &[])
                    .await
                    .with_context(|| format!("{}: login at the token service", self.name))?;
            }
            AuthMode::Anonymous => {}
        }
        Ok(mode)
    }

    pub fn mode(&self) -> &AuthMode {
        &self.mode
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Token requests sent so far.
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    fn count(&self, n: u64) {
        self.requests.fetch_add(n, Ordering::Relaxed);
    }

    /// `base` + an absolute path such as `/v2/a/b/tags/list?n=100`.
    pub fn url(&self, path_and_query: &str) -> Result<Url> {
        self.base
            .join(path_and_query)
            .with_context(|| format!("bad path {path_and_query:?}"))
    }

    /// Refuses URLs that leave the loopback interface unless allowed.
    pub fn check_url(&self, url: &Url) -> Result<()> {
        if self.allow_remote || is_loopback(url) {
            Ok(())
        } else {
            bail!("{url} is not a loopback address (see --allow-remote)")
        }
    }

    /// Fetches a token from the token service without touching the cache (the token
    /// issuance scenario measures exactly this request).
    pub async fn fetch_token(
        &self,
        creds: Option<&Credentials>,
        scope: Option<&str>,
    ) -> Result<Grant> {
        self.fetch_token_scopes(creds, scope.as_slice()).await
    }

    /// Like [`fetch_token`](Self::fetch_token), for a token that covers several scopes
    /// (one `scope` parameter each, as the Docker token specification allows).
    pub async fn fetch_token_scopes(
        &self,
        creds: Option<&Credentials>,
        scopes: &[&str],
    ) -> Result<Grant> {
        match &self.mode {
            AuthMode::Bearer { realm, service } => {
                self.fetch_token_at(realm, service.as_deref(), creds, scopes)
                    .await
            }
            _ => bail!("{} has no token service", self.name),
        }
    }

    /// Fetches one token for all of `scopes` and caches it under each of them, so that
    /// work over many repositories costs one login per batch instead of one per
    /// repository (each login is a deliberately slow password check on the server).
    /// Does nothing unless the registry uses tokens.
    pub async fn prime_tokens(&self, scopes: &[String]) -> Result<()> {
        if !matches!(self.mode, AuthMode::Bearer { .. }) || scopes.is_empty() {
            return Ok(());
        }
        let wanted: Vec<&str> = scopes.iter().map(String::as_str).collect();
        let grant = self
            .fetch_token_scopes(self.creds.as_ref(), &wanted)
            .await?;
        let cached = Cached::new(&grant)?;
        if let Ok(mut tokens) = self.tokens.lock() {
            for scope in scopes {
                tokens.insert(
                    scope.clone(),
                    Cached {
                        header: cached.header.clone(),
                        renew_at: cached.renew_at,
                    },
                );
            }
        }
        Ok(())
    }

    /// A bearer header for the admin API when the registry issues tokens (Berth's API
    /// accepts them; Harbor's does not, see [`crate::api`]). Cached like the others,
    /// under the empty scope.
    pub async fn account_bearer(&self) -> Result<HeaderValue> {
        self.bearer("", None, false).await
    }

    async fn fetch_token_at(
        &self,
        realm: &Url,
        service: Option<&str>,
        creds: Option<&Credentials>,
        scopes: &[&str],
    ) -> Result<Grant> {
        let mut url = realm.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = service {
                q.append_pair("service", service);
            }
            for scope in scopes {
                q.append_pair("scope", scope);
            }
            if let Some(c) = creds {
                q.append_pair("account", &c.user);
            }
        }
        let mut rb = self.http.get(url);
        if let Some(c) = creds {
            rb = rb.header(AUTHORIZATION, c.basic_header()?);
        }
        self.count(1);
        self.token_requests.fetch_add(1, Ordering::Relaxed);
        let resp = rb.send().await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("token service answered {status}");
        }
        let body: serde_json::Value = resp.json().await.context("token response")?;
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow!("token response without a token"))?
            .to_owned();
        let expires_in = body
            .get("expires_in")
            .and_then(|e| e.as_u64())
            .unwrap_or(60);
        Ok(Grant { token, expires_in })
    }

    fn cached(&self, scope: &str) -> Option<HeaderValue> {
        let tokens = self.tokens.lock().ok()?;
        let c = tokens.get(scope)?;
        (Instant::now() < c.renew_at).then(|| c.header.clone())
    }

    /// A bearer header for `scope`, from the cache or freshly fetched (one fetch at a
    /// time, so a burst of workers does not ask for the same token many times).
    /// `ask_for` is the scope to request when it differs from the cache key (the scope
    /// of a challenge).
    async fn bearer(&self, scope: &str, ask_for: Option<&str>, fresh: bool) -> Result<HeaderValue> {
        if !fresh && let Some(h) = self.cached(scope) {
            return Ok(h);
        }
        let _guard = self.token_fetch.lock().await;
        if !fresh && let Some(h) = self.cached(scope) {
            return Ok(h);
        }
        let wanted = ask_for.unwrap_or(scope);
        let grant = self
            .fetch_token(self.creds.as_ref(), (!wanted.is_empty()).then_some(wanted))
            .await?;
        let cached = Cached::new(&grant)?;
        let header = cached.header.clone();
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(scope.to_owned(), cached);
        }
        Ok(header)
    }

    async fn auth_header(&self, scope: &str) -> Result<Option<HeaderValue>> {
        Ok(match &self.mode {
            AuthMode::Anonymous => None,
            AuthMode::Basic => self.basic.clone(),
            AuthMode::Bearer { .. } => Some(self.bearer(scope, None, false).await?),
        })
    }

    /// Sends the request that `build` makes, authenticated for `scope`
    /// (e.g. `repository:library/a:pull`). On a 401 with a bearer challenge it fetches a
    /// new token for the challenge's scope and sends a rebuilt request once more.
    pub async fn send<F>(&self, scope: &str, build: F) -> Result<Response>
    where
        F: Fn(&reqwest::Client) -> RequestBuilder,
    {
        let mut rb = build(&self.http);
        if let Some(h) = self.auth_header(scope).await? {
            rb = rb.header(AUTHORIZATION, h);
        }
        self.count(1);
        let resp = rb.send().await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let AuthMode::Bearer { .. } = self.mode else {
            return Ok(resp);
        };
        let challenge = challenge_of(&resp);
        drop(resp);
        let ask_for = challenge
            .as_ref()
            .and_then(|c| c.param("scope"))
            .map(str::to_owned);
        let header = self.bearer(scope, ask_for.as_deref(), true).await?;
        self.count(1);
        Ok(build(&self.http)
            .header(AUTHORIZATION, header)
            .send()
            .await?)
    }
}

fn challenge_of(resp: &Response) -> Option<Challenge> {
    resp.headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(challenge::parse)
        .max_by_key(|c| (c.is_bearer(), c.is_basic()))
}

/// `repository:<name>:pull`.
pub fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

/// `repository:<name>:pull,push` (what docker asks for when pushing).
pub fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

pub const CATALOG_SCOPE: &str = "registry:catalog:*";

/// Fails with the status and the start of the body unless the status is one of `ok`.
pub async fn expect(resp: Response, ok: &[StatusCode], what: &str) -> Result<Response> {
    let status = resp.status();
    if ok.contains(&status) {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    let snippet: String = body.chars().take(300).collect();
    Err(anyhow!("{what}: HTTP {status}: {snippet}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for ok in [
            "http://127.0.0.1:5000",
            "http://127.1.2.3/",
            "http://localhost:80",
            "http://LOCALHOST",
            "http://[::1]:5000",
        ] {
            assert!(is_loopback(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:5000",
            "http://192.168.1.1",
            "http://example.com",
            "http://localhost.example.com",
            "http://[::2]",
            "http://0.0.0.0:5000",
        ] {
            assert!(!is_loopback(&Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn basic_header_and_hidden_password() {
        let c = Credentials {
            user: "admin".into(),
            password: "s3cret".into(),
        };
        assert_eq!(
            c.basic_header().unwrap().to_str().unwrap(),
            "Basic YWRtaW46czNjcmV0"
        );
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn scopes() {
        assert_eq!(pull_scope("library/a"), "repository:library/a:pull");
        assert_eq!(push_scope("library/a"), "repository:library/a:pull,push");
    }
}
