//! A small OCI distribution client for exact protocol assertions.
//!
//! Requests go out without credentials first; on a 401 the client reads the
//! `WWW-Authenticate` challenge, fetches a token from its realm with Basic credentials (or
//! answers a Basic challenge directly), caches it per scope and retries once. That is the
//! flow docker, skopeo and other clients follow, so the tests exercise the same path.
//!
//! Every response is read in full and any 5xx fails the test: a registry must answer bad
//! input with 4xx, and internal errors are never acceptable in these tests.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::oci::{Blob, Image, sha256_digest, unique_repo};

/// Per-request limit: large enough for tens of MiB on a loaded machine, small enough that a
/// server that stops answering fails the test well before the test's own timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

pub struct RegistryClient {
    http: reqwest::Client,
    base: String,
    creds: Option<(String, String)>,
    /// Authorization header values by scope set (see `scopes_for`).
    tokens: Mutex<HashMap<String, String>>,
}

/// A complete response: status, headers and the whole body.
#[derive(Clone)]
pub struct Resp {
    pub method: Method,
    pub url: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A request being built; see [`RegistryClient::request`].
pub struct Req<'a> {
    client: &'a RegistryClient,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Option<Bytes>,
}

impl RegistryClient {
    /// A client for the registry at `base` (`http://host:port`), with optional Basic
    /// credentials used only to obtain tokens (or to answer a Basic challenge).
    pub fn new(base: &str, creds: Option<(&str, &str)>) -> RegistryClient {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("building the HTTP client");
        RegistryClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            creds: creds.map(|(u, p)| (u.to_owned(), p.to_owned())),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The underlying HTTP client, for requests that must bypass the token flow.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A request to `target`: a path (`/v2/...`), a `Location` value (relative or absolute)
    /// or a full URL.
    pub fn request(&self, method: Method, target: &str) -> Req<'_> {
        Req {
            client: self,
            method,
            url: self.url(target),
            headers: HeaderMap::new(),
            body: None,
        }
    }

    pub fn get(&self, target: &str) -> Req<'_> {
        self.request(Method::GET, target)
    }
    pub fn head(&self, target: &str) -> Req<'_> {
        self.request(Method::HEAD, target)
    }
    pub fn post(&self, target: &str) -> Req<'_> {
        self.request(Method::POST, target)
    }
    pub fn put(&self, target: &str) -> Req<'_> {
        self.request(Method::PUT, target)
    }
    pub fn patch(&self, target: &str) -> Req<'_> {
        self.request(Method::PATCH, target)
    }
    pub fn delete(&self, target: &str) -> Req<'_> {
        self.request(Method::DELETE, target)
    }

    /// Resolves a path or `Location` value against this client's registry.
    pub fn url(&self, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else if target.starts_with('/') {
            format!("{}{target}", self.base)
        } else {
            format!("{}/{target}", self.base)
        }
    }

    /// The `Authorization` header value this client would use for `repo` (pull, push and
    /// delete), fetched through the challenge of `/v2/`. For hand-written raw requests.
    pub async fn authorization_for(&self, repo: &str) -> String {
        let probe = self.get(&format!("/v2/{repo}/tags/list")).send().await;
        let key = scopes_for(&probe.url).join(" ");
        self.tokens
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .unwrap_or_else(|| panic!("no credentials were obtained for {repo}: {probe}"))
    }

    /// Gets credentials for `scopes` from the challenge of `GET /v2/`; `None` if that
    /// needs none or none can be had.
    async fn authorize_ahead(&self, scopes: &[String]) -> Result<Option<String>, reqwest::Error> {
        if self.creds.is_none() {
            return Ok(None);
        }
        let url = self.url("/v2/");
        let response = send_idempotent(|| self.http.get(&url)).await?;
        let probe = Resp::read(Method::GET, url, response).await?;
        check_no_server_error(&probe);
        if probe.status != StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        self.authorize(&probe, scopes).await
    }

    /// Answers the challenge in `unauthorized` for `scopes`; `None` if no credentials are
    /// configured or the token service refuses them. A transport failure of the token
    /// request is returned (a server killed mid-test), never a panic.
    async fn authorize(
        &self,
        unauthorized: &Resp,
        scopes: &[String],
    ) -> Result<Option<String>, reqwest::Error> {
        let Some((user, password)) = self.creds.as_ref() else {
            return Ok(None);
        };
        let Some(challenge) = unauthorized.header("www-authenticate") else {
            return Ok(None);
        };
        let (scheme, params) = parse_challenge(challenge);
        if scheme.eq_ignore_ascii_case("basic") {
            let raw = format!("{user}:{password}");
            return Ok(Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )));
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Ok(None);
        }
        let Some(mut url) = params
            .get("realm")
            .and_then(|realm| url::Url::parse(realm).ok())
        else {
            return Ok(None);
        };
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = params.get("service") {
                query.append_pair("service", service);
            }
            // The scope the server asked for, plus everything the tests may do with this
            // repository, so one token serves the whole sequence of a test.
            let mut wanted: Vec<String> = params
                .get("scope")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            for scope in scopes {
                if !wanted.contains(scope) {
                    wanted.push(scope.clone());
                }
            }
            for scope in &wanted {
                query.append_pair("scope", scope);
            }
        }
        let response =
            send_idempotent(|| self.http.get(url.as_str()).basic_auth(user, Some(password)))
                .await?;
        let resp = Resp::read(Method::GET, url.to_string(), response).await?;
        check_no_server_error(&resp);
        if resp.status != StatusCode::OK {
            return Ok(None);
        }
        let body = resp.json();
        let token = body
            .get("token")
            .or_else(|| body.get("access_token"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("token response without a token: {resp}"));
        Ok(Some(format!("Bearer {token}")))
    }
}

impl Req<'_> {
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("valid header name"),
            HeaderValue::from_str(value).expect("valid header value"),
        );
        self
    }

    #[must_use]
    pub fn content_type(self, value: &str) -> Self {
        self.header("content-type", value)
    }

    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sends the request (with the token flow); fails the test on a transport error or 5xx.
    pub async fn send(self) -> Resp {
        let (method, url) = (self.method.clone(), self.url.clone());
        self.try_send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url} failed: {}", error_chain(&e)))
    }

    /// Like [`Req::send`] but returns transport errors (for requests racing a crash).
    /// A 5xx still fails the test.
    pub async fn try_send(self) -> Result<Resp, reqwest::Error> {
        let scopes = scopes_for(&self.url);
        let key = scopes.join(" ");
        let mut cached = self.client.tokens.lock().unwrap().get(&key).cloned();
        if cached.is_none() && self.body.as_ref().is_some_and(|b| !b.is_empty()) {
            // Authenticate with a bodyless request first, as docker and skopeo do: a server
            // may answer 401 without reading a large body and then close the connection,
            // which would break the next request on it (the token fetch).
            cached = self.client.authorize_ahead(&scopes).await?;
            if let Some(auth) = &cached {
                self.client
                    .tokens
                    .lock()
                    .unwrap()
                    .insert(key.clone(), auth.clone());
            }
        }
        let first = self.execute(cached.as_deref()).await?;
        if first.status == StatusCode::UNAUTHORIZED
            && let Some(auth) = self.client.authorize(&first, &scopes).await?
        {
            self.client.tokens.lock().unwrap().insert(key, auth.clone());
            let second = self.execute(Some(&auth)).await?;
            check_no_server_error(&second);
            return Ok(second);
        }
        check_no_server_error(&first);
        Ok(first)
    }

    async fn execute(&self, authorization: Option<&str>) -> Result<Resp, reqwest::Error> {
        let build = || {
            let mut request = self
                .client
                .http
                .request(self.method.clone(), &self.url)
                .headers(self.headers.clone());
            if let Some(auth) = authorization {
                request = request.header("authorization", auth);
            }
            if let Some(body) = &self.body {
                request = request.body(body.clone());
            }
            request
        };
        let response = if matches!(self.method, Method::GET | Method::HEAD) {
            send_idempotent(build).await?
        } else {
            build().send().await?
        };
        Resp::read(self.method.clone(), self.url.clone(), response).await
    }
}

/// Sends a GET or HEAD, once more if the first attempt failed on a connection that was
/// already open (not on connecting). A server may close a kept-alive connection right
/// after answering a request whose body it did not read (a 401 or 413 before the upload);
/// reusing that connection then fails although nothing is wrong. Go's HTTP client, and so
/// docker and skopeo, retry idempotent requests in this case too. A server that is down
/// fails both attempts.
async fn send_idempotent(
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    match build().send().await {
        Err(e) if !e.is_connect() && !e.is_timeout() => build().send().await,
        other => other,
    }
}

/// An error with all its causes ("error sending request" alone says little).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The token scopes a request to `url` needs: the repository in its path (all actions the
/// tests use), the source of a cross-repository mount, or the catalog.
fn scopes_for(url: &str) -> Vec<String> {
    let parsed = url::Url::parse(url).expect("request URLs are absolute");
    let path = parsed.path();
    if path == "/v2/_catalog" {
        return vec!["registry:catalog:*".to_owned()];
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Vec::new();
    };
    let Some(repo) = ["/blobs/", "/manifests/", "/tags/", "/referrers/"]
        .iter()
        .filter_map(|marker| rest.find(marker).map(|i| &rest[..i]))
        .min_by_key(|name| name.len())
    else {
        return Vec::new();
    };
    let mut scopes = vec![format!("repository:{repo}:pull,push,delete")];
    if let Some((_, from)) = parsed.query_pairs().find(|(k, _)| k == "from") {
        scopes.push(format!("repository:{from}:pull"));
    }
    scopes
}

/// Splits `Bearer realm="...",service="...",scope="a b"` into the scheme and its
/// parameters (quoted values may contain commas).
pub fn parse_challenge(header: &str) -> (String, HashMap<String, String>) {
    let header = header.trim();
    let (scheme, mut rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            value = quoted[..end].to_owned();
            rest = quoted.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        params.insert(key, value);
    }
    (scheme.to_owned(), params)
}

#[track_caller]
fn check_no_server_error(resp: &Resp) {
    assert!(
        !resp.status.is_server_error(),
        "the registry answered with a server error: {resp}"
    );
}

impl Resp {
    async fn read(
        method: Method,
        url: String,
        response: reqwest::Response,
    ) -> Result<Resp, reqwest::Error> {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok(Resp {
            method,
            url,
            status,
            headers,
            body,
        })
    }

    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The header's value; fails the test if it is missing.
    #[track_caller]
    pub fn required_header(&self, name: &str) -> &str {
        self.header(name)
            .unwrap_or_else(|| panic!("response has no {name} header: {self}"))
    }

    /// The `Location` header; fails the test if it is missing.
    #[track_caller]
    pub fn location(&self) -> &str {
        self.required_header("location")
    }

    /// The `Content-Length` header as a number; fails the test if missing or malformed.
    #[track_caller]
    pub fn content_length(&self) -> u64 {
        self.required_header("content-length")
            .parse()
            .unwrap_or_else(|_| panic!("malformed Content-Length: {self}"))
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {self}"))
    }

    /// The `code`s of an OCI error body (empty if the body is not one).
    pub fn error_codes(&self) -> Vec<String> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.get("code").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// Fails the test unless the status is `status`.
    #[track_caller]
    pub fn expect_status(self, status: u16) -> Resp {
        assert_eq!(self.status(), status, "unexpected status: {self}");
        self
    }

    /// Fails the test unless the status is `status` and the OCI error body has `code`.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Resp {
        assert_eq!(self.status(), status, "unexpected status: {self}");
        assert!(
            self.error_codes().iter().any(|c| c == code),
            "expected error code {code}: {self}"
        );
        self
    }
}

impl fmt::Display for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {} -> {}", self.method, self.url, self.status)?;
        for (name, value) in &self.headers {
            writeln!(f, "  {name}: {}", value.to_str().unwrap_or("<binary>"))?;
        }
        let text = String::from_utf8_lossy(&self.body);
        let shown: String = text.chars().take(2000).collect();
        write!(f, "  body ({} bytes): {shown}", self.body.len())
    }
}

impl fmt::Debug for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `location` with `key=value` added to its query (URL-encoded).
pub fn with_query(location: &str, key: &str, value: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    format!("{location}{sep}{key}={value}")
}

/// The path and query of a `Location` value, so a URL handed out by one replica can be
/// sent to another.
pub fn path_and_query(location: &str) -> String {
    if location.starts_with('/') {
        return location.to_owned();
    }
    let url = url::Url::parse(location).unwrap_or_else(|e| panic!("bad Location {location}: {e}"));
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

// ----- registry operations built on the raw requests ---------------------------------------

impl RegistryClient {
    /// Opens an upload session (`POST .../blobs/uploads/`); expects 202 with a `Location`.
    pub async fn start_upload(&self, repo: &str) -> Resp {
        let resp = self
            .post(&format!("/v2/{repo}/blobs/uploads/"))
            .header("content-length", "0")
            .send()
            .await
            .expect_status(202);
        resp.location();
        resp
    }

    /// Uploads `blob` with POST then PUT (monolithic); expects 201.
    pub async fn upload_blob(&self, repo: &str, blob: &Blob) -> Resp {
        let location = self.start_upload(repo).await.location().to_owned();
        self.put(&with_query(&location, "digest", &blob.digest))
            .content_type("application/octet-stream")
            .body(blob.data.clone())
            .send()
            .await
            .expect_status(201)
    }

    /// Uploads `blob` in PATCH chunks of `chunk` bytes (or the registry's advertised
    /// `OCI-Chunk-Min-Length`, if larger) with Content-Range, closing with an empty PUT;
    /// expects every step to succeed as the spec says.
    pub async fn upload_blob_chunked(&self, repo: &str, blob: &Blob, chunk: usize) -> Resp {
        let started = self.start_upload(repo).await;
        let chunk = chunk.max(min_chunk_length(&started));
        let mut location = started.location().to_owned();
        let mut offset = 0usize;
        while offset < blob.data.len() {
            let end = (offset + chunk).min(blob.data.len());
            let resp = self
                .patch(&location)
                .content_type("application/octet-stream")
                .header("content-range", &format!("{offset}-{}", end - 1))
                .body(blob.data.slice(offset..end))
                .send()
                .await
                .expect_status(202);
            assert_eq!(
                resp.header("range"),
                Some(format!("0-{}", end - 1).as_str()),
                "PATCH must report the received range: {resp}"
            );
            location = resp.location().to_owned();
            offset = end;
        }
        self.put(&with_query(&location, "digest", &blob.digest))
            .send()
            .await
            .expect_status(201)
    }

    /// PUTs a manifest as-is; the caller checks the response.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: impl Into<Bytes>,
    ) -> Resp {
        self.put(&format!("/v2/{repo}/manifests/{reference}"))
            .content_type(media_type)
            .body(body)
            .send()
            .await
    }

    /// Uploads the image's blobs and its manifest under `reference`; expects 201 and the
    /// right `Docker-Content-Digest`.
    pub async fn push_image(&self, repo: &str, reference: &str, image: &Image) -> Resp {
        for blob in image.blobs() {
            self.upload_blob(repo, blob).await;
        }
        let resp = self
            .put_manifest(repo, reference, &image.media_type, image.manifest.clone())
            .await
            .expect_status(201);
        assert_eq!(
            resp.header("docker-content-digest"),
            Some(image.digest.as_str()),
            "manifest PUT must return the manifest's digest: {resp}"
        );
        resp
    }

    /// Pulls `reference` and checks the manifest bytes, its digest header and every blob.
    pub async fn assert_pullable(&self, repo: &str, reference: &str, image: &Image) {
        let resp = self
            .get(&format!("/v2/{repo}/manifests/{reference}"))
            .header("accept", &image.media_type)
            .send()
            .await
            .expect_status(200);
        assert_eq!(
            resp.body, image.manifest,
            "manifest bytes must be returned exactly as pushed: {resp}"
        );
        assert_eq!(
            resp.header("docker-content-digest"),
            Some(image.digest.as_str())
        );
        for blob in image.blobs() {
            let got = self.get_blob_verified(repo, &blob.digest).await;
            assert_eq!(got.len(), blob.data.len(), "size of {}", blob.digest);
        }
    }

    /// Checks that blobs are served per repository: a new repository (named after
    /// `name`) that holds another blob answers `BLOB_UNKNOWN` for `digest`.
    pub async fn expect_blob_unknown_elsewhere(&self, name: &str, digest: &str) {
        let other = unique_repo(name);
        self.upload_blob(&other, &Blob::random(10)).await;
        self.get(&format!("/v2/{other}/blobs/{digest}"))
            .send()
            .await
            .expect_error(404, "BLOB_UNKNOWN");
    }

    /// GETs a blob and fails the test unless its bytes hash to `digest`.
    pub async fn get_blob_verified(&self, repo: &str, digest: &str) -> Bytes {
        let resp = self
            .get(&format!("/v2/{repo}/blobs/{digest}"))
            .send()
            .await
            .expect_status(200);
        assert_eq!(
            sha256_digest(&resp.body),
            digest,
            "blob bytes do not match their digest ({} bytes received)",
            resp.body.len()
        );
        resp.body
    }

    /// All tags of `repo` (one request, no paging).
    pub async fn tags(&self, repo: &str) -> Vec<String> {
        let resp = self
            .get(&format!("/v2/{repo}/tags/list"))
            .send()
            .await
            .expect_status(200);
        string_list(&resp.json(), "tags")
    }
}

/// The target of a `Link: <url>; rel="next"` header, if the response has one.
pub fn next_link(resp: &Resp) -> Option<String> {
    resp.headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find(|part| part.contains("rel=\"next\"") || part.contains("rel=next"))
        .and_then(|part| {
            let start = part.find('<')? + 1;
            let end = part.find('>')?;
            Some(part[start..end].to_owned())
        })
}

/// The registry's `OCI-Chunk-Min-Length` from an upload POST response (0 if absent).
pub fn min_chunk_length(post_response: &Resp) -> usize {
    post_response
        .header("oci-chunk-min-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The strings in `value[field]` (a JSON array; `null` or absent counts as empty).
pub fn string_list(value: &Value, field: &str) -> Vec<String> {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().expect("string entries").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge_with_commas_in_scope() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:5000/service/token",service="berth",scope="repository:library/a:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(params["realm"], "http://127.0.0.1:5000/service/token");
        assert_eq!(params["service"], "berth");
        assert_eq!(params["scope"], "repository:library/a:pull,push");
    }

    #[test]
    fn scopes_follow_the_path() {
        assert_eq!(
            scopes_for("http://h/v2/library/a/blobs/uploads/?mount=sha256:1&from=library/b"),
            vec![
                "repository:library/a:pull,push,delete".to_owned(),
                "repository:library/b:pull".to_owned()
            ]
        );
        assert_eq!(
            scopes_for("http://h/v2/_catalog?n=1"),
            vec!["registry:catalog:*".to_owned()]
        );
        assert!(scopes_for("http://h/v2/").is_empty());
    }

    #[test]
    fn query_and_location_helpers() {
        assert_eq!(
            with_query("/v2/a/blobs/uploads/x", "digest", "sha256:ab"),
            "/v2/a/blobs/uploads/x?digest=sha256%3Aab"
        );
        assert_eq!(with_query("/u?s=1", "digest", "d"), "/u?s=1&digest=d");
        assert_eq!(path_and_query("http://h:1/v2/a?x=1"), "/v2/a?x=1");
    }

    #[test]
    fn finds_the_next_link() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#),
        );
        let resp = Resp {
            method: Method::GET,
            url: "http://h/v2/a/tags/list".into(),
            status: StatusCode::OK,
            headers,
            body: Bytes::new(),
        };
        assert_eq!(
            next_link(&resp).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
    }
}
