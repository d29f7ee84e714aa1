//! The `WWW-Authenticate: Bearer ...` challenge of a refused `/v2` request, and the
//! absolute realm URL in it.

use axum::http::HeaderMap;
use registry_core::{Action, Resource};

/// Where clients fetch tokens. Docker needs an absolute URL; without a configured
/// external URL it is rebuilt per request from the headers the client (or the proxy in
/// front of Berth) sent, so the same binary works at any address.
#[derive(Debug, Clone)]
pub(crate) struct Realm {
    /// `https://registry.example.com` (no trailing slash) when configured.
    external_url: Option<String>,
    path: String,
    default_scheme: String,
}

impl Realm {
    pub(crate) fn new(external_url: Option<&str>, path: &str, default_scheme: &str) -> Realm {
        Realm {
            external_url: external_url.map(|u| u.trim_end_matches('/').to_owned()),
            path: path.to_owned(),
            default_scheme: default_scheme.to_owned(),
        }
    }

    pub(crate) fn url(&self, headers: &HeaderMap) -> String {
        if let Some(base) = &self.external_url {
            return format!("{base}{}", self.path);
        }
        let scheme = first_value(headers, "x-forwarded-proto")
            .map(str::to_ascii_lowercase)
            .filter(|s| s == "http" || s == "https")
            .unwrap_or_else(|| self.default_scheme.clone());
        // A host that is not a plain host[:port] is ignored rather than echoed: it ends
        // up inside a quoted header value and tells the client where to send passwords.
        let host = first_value(headers, "x-forwarded-host")
            .filter(|h| is_plain_host(h))
            .or_else(|| first_value(headers, "host").filter(|h| is_plain_host(h)))
            .unwrap_or("localhost");
        format!("{scheme}://{host}{}", self.path)
    }
}

/// The first comma-separated item of a header (proxies append to `X-Forwarded-*`).
fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

fn is_plain_host(host: &str) -> bool {
    host.len() <= 255
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

/// A bearer challenge before its optional `error` parameter is chosen.
#[derive(Debug, Clone)]
pub(crate) struct Challenge<'a> {
    pub(crate) realm: String,
    pub(crate) service: &'a str,
    pub(crate) scope: Option<String>,
}

impl Challenge<'_> {
    /// `Bearer realm="..",service="..",scope="..",error=".."`, parameters in the order
    /// distribution writes them (RFC 6750 section 3).
    pub(crate) fn render(&self, error: Option<&str>) -> String {
        let mut out = format!(
            "Bearer realm={},service={}",
            quoted(&self.realm),
            quoted(self.service)
        );
        if let Some(scope) = &self.scope {
            out.push_str(",scope=");
            out.push_str(&quoted(scope));
        }
        if let Some(error) = error {
            out.push_str(",error=");
            out.push_str(&quoted(error));
        }
        out
    }
}

/// The scope a client must request to perform `action` on `resource`; `None` for the
/// base endpoint, which needs no scope. A push asks for `pull,push` as docker does, since
/// pushing a layer begins by checking whether it already exists.
pub(crate) fn required_scope(resource: &Resource, action: Action) -> Option<String> {
    match resource {
        Resource::Base => None,
        Resource::Catalog => Some("registry:catalog:*".to_owned()),
        Resource::Repository(name) => {
            let actions = match action {
                Action::Push => "pull,push",
                other => other.as_str(),
            };
            Some(format!("repository:{name}:{actions}"))
        }
    }
}

/// An RFC 7230 quoted-string.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn realm_from_host() {
        let realm = Realm::new(None, "/service/token", "http");
        assert_eq!(
            realm.url(&headers(&[("host", "reg.local:5000")])),
            "http://reg.local:5000/service/token"
        );
    }

    #[test]
    fn realm_prefers_forwarded_headers() {
        let realm = Realm::new(None, "/service/token", "http");
        let h = headers(&[
            ("host", "10.0.0.5:8080"),
            ("x-forwarded-host", "registry.example.com, proxy.internal"),
            ("x-forwarded-proto", "HTTPS,http"),
        ]);
        assert_eq!(realm.url(&h), "https://registry.example.com/service/token");
    }

    #[test]
    fn configured_external_url_wins() {
        let realm = Realm::new(Some("https://r.example.com/"), "/service/token", "http");
        let h = headers(&[("host", "evil.example"), ("x-forwarded-proto", "http")]);
        assert_eq!(realm.url(&h), "https://r.example.com/service/token");
    }

    #[test]
    fn hostile_host_is_not_echoed() {
        let realm = Realm::new(None, "/service/token", "https");
        let h = headers(&[("host", "a\",service=\"x"), ("x-forwarded-proto", "gopher")]);
        assert_eq!(realm.url(&h), "https://localhost/service/token");
    }

    #[test]
    fn challenge_format_matches_distribution() {
        let c = Challenge {
            realm: "https://auth.docker.io/token".into(),
            service: "registry.docker.io",
            scope: Some("repository:samalba/my-app:pull,push".into()),
        };
        assert_eq!(
            c.render(None),
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#
        );
        assert_eq!(
            c.render(Some("insufficient_scope")),
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push",error="insufficient_scope""#
        );
    }

    #[test]
    fn required_scopes() {
        let repo = Resource::Repository("lib/app".parse().unwrap());
        assert_eq!(required_scope(&Resource::Base, Action::Pull), None);
        assert_eq!(
            required_scope(&Resource::Catalog, Action::Pull).as_deref(),
            Some("registry:catalog:*")
        );
        assert_eq!(
            required_scope(&repo, Action::Pull).as_deref(),
            Some("repository:lib/app:pull")
        );
        assert_eq!(
            required_scope(&repo, Action::Push).as_deref(),
            Some("repository:lib/app:pull,push")
        );
        assert_eq!(
            required_scope(&repo, Action::Delete).as_deref(),
            Some("repository:lib/app:delete")
        );
    }
}
