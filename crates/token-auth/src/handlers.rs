//! HTTP face of the token service: `GET` (docker's Basic-auth flow) and `POST` (OAuth2
//! password grant) on the realm path.
//!
//! Refresh tokens are not issued: `offline_token=true` / `access_type=offline` are
//! ignored and `grant_type=refresh_token` is refused. A refresh token would be a
//! long-lived credential that survives password changes; without one, docker simply keeps
//! using Basic credentials, as it does with Harbor.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use axum::{Extension, Router};
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

use crate::credentials::{Credentials, Identity};
use crate::error::AuthError;
use crate::scope::Scope;
use crate::service::{IssuedToken, TokenService};

/// Routes `GET` and `POST` on the configured realm path (default `/service/token`).
pub fn router(service: Arc<TokenService>) -> Router {
    let path = service.config().realm_path.clone();
    Router::new()
        .route(&path, get(get_token).post(post_token))
        .with_state(service)
}

/// The body of a successful token response (token.md and oauth.md field names).
#[derive(Debug, Serialize)]
struct TokenResponse {
    token: String,
    access_token: String,
    expires_in: u64,
    issued_at: String,
    /// Granted scopes, space-separated; OAuth2 (POST) responses only.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// `GET /service/token?service=..&scope=..&scope=..&account=..` with optional Basic
/// credentials; no credentials yields an anonymous token.
async fn get_token(
    State(service): State<Arc<TokenService>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AuthError> {
    let params = Params::parse(query.as_deref().unwrap_or("").as_bytes());
    service.check_service(params.first("service"))?;
    let scopes = Scope::parse_all(params.all("scope"))?;
    let identity = match Credentials::from_basic_header(&headers)? {
        Some(credentials) => {
            // docker sends `account` = the Basic username; a different one is a confused
            // or forged request, not a reason to mint a token for either name.
            if let Some(account) = params.first("account")
                && account != credentials.username
            {
                return Err(AuthError::InvalidRequest(
                    "account does not match the authenticated user".to_owned(),
                ));
            }
            Some(
                service
                    .authenticate(
                        &credentials.username,
                        &credentials.password,
                        client_address(peer),
                    )
                    .await?,
            )
        }
        None => None,
    };
    let issued = issue(
        &service,
        identity.as_ref(),
        &scopes,
        params.first("client_id"),
    )
    .await?;
    Ok(respond(issued, None))
}

/// `POST /service/token` with an `application/x-www-form-urlencoded` body.
async fn post_token(
    State(service): State<Arc<TokenService>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Bytes,
) -> Result<Response, AuthError> {
    let params = Params::parse(&body);
    service.check_service(params.first("service"))?;
    match params.first("grant_type") {
        Some("password") => {}
        Some(other) => return Err(AuthError::UnsupportedGrantType(other.to_owned())),
        None => {
            return Err(AuthError::InvalidRequest(
                "grant_type is required".to_owned(),
            ));
        }
    }
    let (Some(username), Some(password)) = (params.first("username"), params.first("password"))
    else {
        return Err(AuthError::InvalidRequest(
            "username and password are required for grant_type=password".to_owned(),
        ));
    };
    let scopes = Scope::parse_all(params.all("scope"))?;
    let identity = service
        .authenticate(username, password, client_address(peer))
        .await?;
    let issued = issue(
        &service,
        Some(&identity),
        &scopes,
        params.first("client_id"),
    )
    .await?;
    let granted = issued
        .access
        .iter()
        .map(|e| format!("{}:{}:{}", e.resource_type, e.name, e.actions.join(",")))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(respond(issued, Some(granted)))
}

async fn issue(
    service: &TokenService,
    identity: Option<&Identity>,
    scopes: &[Scope],
    client_id: Option<&str>,
) -> Result<IssuedToken, AuthError> {
    let issued = service.issue(identity, scopes).await?;
    tracing::debug!(
        subject = identity.map(Identity::username).unwrap_or(""),
        client_id = client_id.unwrap_or(""),
        requested = scopes.len(),
        granted = issued.access.len(),
        "issued token"
    );
    Ok(issued)
}

/// The address of the TCP peer, as the server recorded it. Headers such as
/// `X-Forwarded-For` are deliberately ignored: anyone can write them, and the rate
/// limit would be worthless if a client could choose its own address.
fn client_address(peer: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<IpAddr> {
    peer.map(|Extension(ConnectInfo(addr))| addr.ip())
}

fn respond(issued: IssuedToken, scope: Option<String>) -> Response {
    let issued_at = DateTime::from_timestamp(issued.issued_at, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default();
    let body = TokenResponse {
        access_token: issued.token.clone(),
        token: issued.token,
        expires_in: issued.expires_in,
        issued_at,
        scope,
    };
    let mut response = Json(body).into_response();
    // RFC 6749 section 5.1: token responses must not be cached.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Decoded `application/x-www-form-urlencoded` pairs, keeping repeated keys (`scope`).
/// Deliberately not `Debug`: a POST body holds the password.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(input: &[u8]) -> Params {
        Params(
            form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first non-empty value of `key`; an empty value counts as absent.
    fn first(&self, key: &str) -> Option<&str> {
        self.all(key).find(|v| !v.is_empty())
    }

    fn all<'a, 'k>(&'a self, key: &'k str) -> impl Iterator<Item = &'a str> + use<'a, 'k> {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
