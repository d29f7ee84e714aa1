//! The Harbor API (`/api/v2.0`) as the metadata scenario uses it: JSON requests with the
//! admin's credentials, and the `X-Total-Count` header of listings.
//!
//! Credentials: Basic on every request works everywhere, but it makes the server check
//! the password each time, and Berth checks passwords with argon2 (tens of milliseconds
//! of CPU by design). A listing measured that way measures the password hash. Berth's
//! API also takes the bearer tokens its token service issues, the way a browser session
//! skips the password after login, so [`ApiAuth::Auto`] uses one when the server
//! accepts it and falls back to Basic (Harbor's API does not take registry tokens).

use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use crate::client::{AuthMode, Registry, expect};

pub const BASE: &str = "/api/v2.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiAuth {
    /// A token from the registry's token service when the API accepts it, else Basic.
    Auto,
    /// Basic credentials on every request.
    Basic,
    /// A token from the registry's token service (fails where the API refuses it).
    Token,
}

pub struct Api {
    pub reg: Arc<Registry>,
    basic: HeaderValue,
    /// Whether requests carry a token (else Basic).
    tokens: bool,
}

impl Api {
    /// Chooses the credentials per `auth` and checks them with `GET /users/current`.
    pub async fn connect(reg: Arc<Registry>, basic: HeaderValue, auth: ApiAuth) -> Result<Api> {
        let has_tokens = matches!(reg.mode(), AuthMode::Bearer { .. });
        let mut api = Api {
            reg,
            basic,
            tokens: false,
        };
        let current = format!("{BASE}/users/current");
        if auth != ApiAuth::Basic && has_tokens {
            api.tokens = true;
            let resp = api.send(Method::GET, &current, None).await?;
            if resp.status().is_success() {
                return Ok(api);
            }
            if auth == ApiAuth::Token {
                return Err(anyhow!(
                    "the API refused a token from the token service ({})",
                    resp.status()
                ));
            }
            api.tokens = false;
        } else if auth == ApiAuth::Token {
            return Err(anyhow!("{} issues no tokens", api.reg.name));
        }
        let resp = api.send(Method::GET, &current, None).await?;
        expect(
            resp,
            &[StatusCode::OK],
            "GET /api/v2.0/users/current (Basic)",
        )
        .await?;
        Ok(api)
    }

    pub fn uses_tokens(&self) -> bool {
        self.tokens
    }

    pub fn auth_name(&self) -> &'static str {
        if self.tokens { "token" } else { "Basic" }
    }

    async fn header(&self) -> Result<HeaderValue> {
        if self.tokens {
            self.reg.account_bearer().await
        } else {
            Ok(self.basic.clone())
        }
    }

    /// One request to `path` (absolute, with its query), JSON body if any.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response> {
        self.send_with(method, path, body, None).await
    }

    /// Like [`send`](Self::send), with Basic credentials whatever the mode (to show what
    /// a password check costs next to the same request with a token).
    pub async fn send_basic(&self, method: Method, path: &str) -> Result<Response> {
        self.send_with(method, path, None, Some(self.basic.clone()))
            .await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        header: Option<HeaderValue>,
    ) -> Result<Response> {
        let url = self.reg.url(path)?;
        let header = match header {
            Some(h) => h,
            None => self.header().await?,
        };
        let mut rb = self
            .reg
            .http()
            .request(method.clone(), url)
            .header(AUTHORIZATION, header);
        if let Some(body) = body {
            rb = rb
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        rb.send().await.with_context(|| format!("{method} {path}"))
    }

    /// POSTs `body`; `Ok(true)` when created, `Ok(false)` when it already existed (409).
    pub async fn create(&self, path: &str, body: &Value) -> Result<bool> {
        let resp = self.send(Method::POST, path, Some(body)).await?;
        if resp.status() == StatusCode::CONFLICT {
            return Ok(false);
        }
        expect(resp, &[StatusCode::CREATED], &format!("POST {path}")).await?;
        Ok(true)
    }

    /// `X-Total-Count` of a listing (asked for with one item per page).
    pub async fn total(&self, path: &str) -> Result<u64> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let full = format!("{path}{sep}page=1&page_size=1");
        let resp = self.send(Method::GET, &full, None).await?;
        let resp = expect(resp, &[StatusCode::OK], &format!("GET {full}")).await?;
        total_count(&resp).ok_or_else(|| anyhow!("GET {full}: no X-Total-Count header"))
    }
}

pub fn total_count(resp: &Response) -> Option<u64> {
    resp.headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}
