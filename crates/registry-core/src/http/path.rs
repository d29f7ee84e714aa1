//! Turns a `/v2/...` path into a typed endpoint.
//!
//! Repository names contain slashes, so axum's router cannot match
//! `/v2/<name>/blobs/<digest>`; instead the path is matched from its end, where the
//! grammar is unambiguous, and the rest is the name.

use crate::digest::Digest;
use crate::error::RegistryError;
use crate::name::{Reference, RepoName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Catalog,
    Tags(RepoName),
    Manifest(RepoName, Reference),
    Blob(RepoName, Digest),
    UploadStart(RepoName),
    Upload(RepoName, String),
    Referrers(RepoName, Digest),
}

/// Parses the part of the path after `/v2/`. `None` when the shape matches no endpoint
/// (404); an error when the shape matches but a name, tag or digest is invalid.
pub fn parse(rest: &str) -> Option<Result<Endpoint, RegistryError>> {
    if rest == "_catalog" {
        return Some(Ok(Endpoint::Catalog));
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let n = segments.len();
    let name_of = |count: usize| -> Result<RepoName, RegistryError> {
        segments[..count]
            .join("/")
            .parse::<RepoName>()
            .map_err(|e| RegistryError::name_invalid(e.to_string()))
    };
    if n >= 3 && segments[n - 2] == "tags" && segments[n - 1] == "list" {
        return Some(name_of(n - 2).map(Endpoint::Tags));
    }
    if n >= 4 && segments[n - 3] == "blobs" && segments[n - 2] == "uploads" {
        let id = segments[n - 1];
        return Some(name_of(n - 3).map(|name| {
            if id.is_empty() {
                Endpoint::UploadStart(name)
            } else {
                Endpoint::Upload(name, id.to_owned())
            }
        }));
    }
    if n >= 3 && segments[n - 2] == "blobs" && segments[n - 1] == "uploads" {
        return Some(name_of(n - 2).map(Endpoint::UploadStart));
    }
    if n >= 3 && segments[n - 2] == "manifests" {
        let reference = segments[n - 1];
        return Some(
            name_of(n - 2)
                .and_then(|name| parse_reference(reference).map(|r| Endpoint::Manifest(name, r))),
        );
    }
    if n >= 3 && segments[n - 2] == "blobs" {
        return Some(
            name_of(n - 2)
                .and_then(|name| parse_digest(segments[n - 1]).map(|d| Endpoint::Blob(name, d))),
        );
    }
    if n >= 3 && segments[n - 2] == "referrers" {
        return Some(
            name_of(n - 2).and_then(|name| {
                parse_digest(segments[n - 1]).map(|d| Endpoint::Referrers(name, d))
            }),
        );
    }
    None
}

pub fn parse_digest(s: &str) -> Result<Digest, RegistryError> {
    s.parse()
        .map_err(|e| RegistryError::digest_invalid(format!("invalid digest {s:?}: {e}")))
}

fn parse_reference(s: &str) -> Result<Reference, RegistryError> {
    if s.contains(':') {
        return parse_digest(s).map(Reference::Digest);
    }
    s.parse().map(Reference::Tag).map_err(|e| {
        RegistryError::new(
            crate::ErrorCode::ManifestInvalid,
            axum::http::StatusCode::BAD_REQUEST,
            format!("invalid reference {s:?}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(path: &str) -> Endpoint {
        parse(path).unwrap().unwrap()
    }

    #[test]
    fn parses_every_endpoint() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(ok("_catalog"), Endpoint::Catalog);
        assert!(matches!(ok("a/b/tags/list"), Endpoint::Tags(n) if n.as_str() == "a/b"));
        assert!(
            matches!(ok("a/manifests/latest"), Endpoint::Manifest(n, Reference::Tag(t)) if n.as_str() == "a" && t.as_str() == "latest")
        );
        assert!(matches!(
            ok(&format!("a/manifests/{d}")),
            Endpoint::Manifest(_, Reference::Digest(_))
        ));
        assert!(
            matches!(ok(&format!("x/y/blobs/{d}")), Endpoint::Blob(n, _) if n.as_str() == "x/y")
        );
        assert!(matches!(ok("x/blobs/uploads/"), Endpoint::UploadStart(_)));
        assert!(matches!(ok("x/blobs/uploads"), Endpoint::UploadStart(_)));
        assert!(matches!(ok("x/blobs/uploads/abc"), Endpoint::Upload(_, id) if id == "abc"));
        assert!(matches!(
            ok(&format!("x/referrers/{d}")),
            Endpoint::Referrers(_, _)
        ));
        // A repository may itself be called "blobs" or "manifests".
        assert!(
            matches!(ok("blobs/manifests/v1"), Endpoint::Manifest(n, _) if n.as_str() == "blobs")
        );
    }

    #[test]
    fn rejects_bad_parts() {
        assert!(parse("nothing").is_none());
        assert!(parse("Bad/tags/list").unwrap().is_err());
        assert!(parse("a/blobs/notadigest").unwrap().is_err());
        assert!(parse("a/manifests/bad:ref").unwrap().is_err());
        assert!(parse("a/manifests/.bad").unwrap().is_err());
        assert!(parse("../x/tags/list").unwrap().is_err());
    }
}
