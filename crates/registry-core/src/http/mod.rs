//! The `/v2` HTTP surface: one router, one dispatcher, thin handlers per spec area.
//!
//! Handlers extract what they need from the request, authorize through
//! [`Authorizer`](crate::auth::Authorizer), call one [`Registry`] use case and map the
//! result to headers. Every error leaves through [`RegistryError`]'s `IntoResponse`.

mod blobs;
mod listing;
mod manifests;
pub mod path;
mod uploads;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures::StreamExt;

use crate::auth::{Action, Grant, Resource, UploadContext};
use crate::blobs::ByteStream;
use crate::error::RegistryError;
use crate::events::{EventKind, RegistryEvent};
use crate::name::RepoName;
use crate::service::Registry;
use path::Endpoint;

/// The `Range` header value distribution sends for an upload holding `offset` bytes.
pub fn range_header(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

/// Where an upload session is continued.
pub fn upload_location(repo: &RepoName, id: &str) -> String {
    format!("/v2/{repo}/blobs/uploads/{id}")
}

/// The `/v2` router. Mount it at the root of the server.
pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/v2", any(base))
        .route("/v2/", any(base))
        .route("/v2/{*rest}", any(dispatch))
        .layer(axum::middleware::map_response(api_version_header))
        .with_state(registry)
}

async fn api_version_header(mut response: Response) -> Response {
    response.headers_mut().insert(
        HeaderName::from_static("docker-distribution-api-version"),
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

async fn base(State(registry): State<Registry>, method: Method, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return RegistryError::unsupported("only GET and HEAD are allowed on /v2/").into_response();
    }
    match registry
        .auth
        .authorize(&headers, &Resource::Base, Action::Pull, None)
        .await
    {
        Ok(_) => json(StatusCode::OK, "{}".to_owned()),
        Err(err) => err.into_response(),
    }
}

async fn dispatch(State(registry): State<Registry>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let client_ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let rest = uri.path().strip_prefix("/v2/").unwrap_or_default();
    let endpoint = match path::parse(rest) {
        None => return not_found(),
        Some(Err(err)) => return err.into_response(),
        Some(Ok(endpoint)) => endpoint,
    };
    let sent_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let body = std::sync::Arc::new(std::sync::Mutex::new(Some(body)));
    let request = Request {
        registry,
        method,
        query: Query::parse(uri.query()),
        headers,
        client_ip,
        body: body.clone(),
    };
    let mut response = match route(request, endpoint).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    // Refused before its body was read (401 before a PATCH, 413 manifest, ...): the
    // connection cannot be reused, so say so instead of letting the client find out
    // from a reset on its next request.
    let unread = body.lock().map(|b| b.is_some()).unwrap_or(false);
    if sent_body && unread {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn route(req: Request, endpoint: Endpoint) -> Result<Response, RegistryError> {
    use Method as M;
    match (endpoint, req.method.clone()) {
        (Endpoint::Catalog, M::GET) => listing::catalog(req).await,
        (Endpoint::Tags(repo), M::GET) => listing::tags(req, repo).await,
        (Endpoint::Referrers(repo, digest), M::GET) => listing::referrers(req, repo, digest).await,
        (Endpoint::Manifest(repo, reference), M::GET | M::HEAD) => {
            manifests::get(req, repo, reference).await
        }
        (Endpoint::Manifest(repo, reference), M::PUT) => manifests::put(req, repo, reference).await,
        (Endpoint::Manifest(repo, reference), M::DELETE) => {
            manifests::delete(req, repo, reference).await
        }
        (Endpoint::Blob(repo, digest), M::GET | M::HEAD) => blobs::get(req, repo, digest).await,
        (Endpoint::Blob(repo, digest), M::DELETE) => blobs::delete(req, repo, digest).await,
        (Endpoint::UploadStart(repo), M::POST) => uploads::start(req, repo).await,
        (Endpoint::Upload(repo, id), M::GET | M::PATCH | M::PUT | M::DELETE) => {
            uploads::session(req, repo, id).await
        }
        (_, method) => Err(RegistryError::unsupported(format!(
            "method {method} is not allowed here"
        ))),
    }
}

/// Everything a handler needs from the request.
pub(crate) struct Request {
    pub registry: Registry,
    pub method: Method,
    pub query: Query,
    pub headers: HeaderMap,
    pub client_ip: Option<std::net::IpAddr>,
    /// Behind a mutex only so `Request` is `Sync` (a `Body` is not) and handlers can
    /// hold `&Request` across awaits; it is taken exactly once.
    body: std::sync::Arc<std::sync::Mutex<Option<Body>>>,
}

impl Request {
    /// Checks the request may do `action` on `resource`; returns who is asking.
    pub async fn authorize(
        &self,
        resource: Resource,
        action: Action,
        upload: Option<UploadContext>,
    ) -> Result<Grant, RegistryError> {
        self.registry
            .auth
            .authorize(&self.headers, &resource, action, upload)
            .await
    }

    /// Reports a push, pull or deletion (never blocks).
    pub fn report(
        &self,
        kind: EventKind,
        grant: &Grant,
        repository: &RepoName,
        digest: &crate::Digest,
        tag: Option<String>,
    ) {
        self.registry.events.record(RegistryEvent {
            kind,
            repository: repository.clone(),
            digest: digest.clone(),
            tag,
            actor: grant.principal.subject.clone(),
            client_ip: self.client_ip,
        });
    }

    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_length(&self) -> Result<Option<u64>, RegistryError> {
        match self.header(header::CONTENT_LENGTH) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| RegistryError::size_invalid("Content-Length is not a number")),
        }
    }

    pub fn take_body(&self) -> Body {
        self.body
            .lock()
            .ok()
            .and_then(|mut b| b.take())
            .unwrap_or_else(Body::empty)
    }

    pub fn into_stream(self) -> ByteStream {
        self.take_body()
            .into_data_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other))
            .boxed()
    }
}

/// Decoded query parameters (repeated keys kept in order).
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A response with headers; values that cannot be headers are skipped (never panics).
pub(crate) fn respond(status: StatusCode, headers: &[(&str, String)], body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let map = response.headers_mut();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.insert(n, v);
        }
    }
    response
}

pub(crate) fn json(status: StatusCode, body: String) -> Response {
    respond(
        status,
        &[("content-type", "application/json".to_owned())],
        Body::from(body),
    )
}

fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        r#"{"errors":[{"code":"NOT_FOUND","message":"no such endpoint"}]}"#.to_owned(),
    )
}
