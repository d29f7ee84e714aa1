//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

use super::{Request, respond};
use crate::auth::{Action, Resource};
use crate::error::{ErrorCode, RegistryError};
use crate::events::EventKind;
use crate::manifest::{MANIFEST_TYPES, MAX_MANIFEST_BYTES};
use crate::name::{Reference, RepoName};

pub(super) async fn get(
    req: Request,
    repo: RepoName,
    reference: Reference,
) -> Result<Response, RegistryError> {
    let grant = req
        .authorize(Resource::Repository(repo.clone()), Action::Pull, None)
        .await?;
    let manifest = req.registry.get_manifest(&repo, &reference).await?;
    // Clients (Go's net/http among them) may send several Accept headers: join them all.
    let accept: Vec<&str> = req
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let accept = (!accept.is_empty()).then(|| accept.join(","));
    if !acceptable(accept.as_deref(), &manifest.media_type) {
        return Err(RegistryError::new(
            ErrorCode::ManifestUnknown,
            StatusCode::NOT_FOUND,
            format!(
                "manifest is a {} and the Accept header does not allow it",
                manifest.media_type
            ),
        ));
    }
    let headers = [
        ("content-type", manifest.media_type.clone()),
        ("docker-content-digest", manifest.digest.to_string()),
        ("etag", format!("\"{}\"", manifest.digest)),
        ("content-length", manifest.content.len().to_string()),
    ];
    let body = if req.method == Method::HEAD {
        Body::empty()
    } else {
        let tag = match &reference {
            Reference::Tag(t) => Some(t.to_string()),
            Reference::Digest(_) => None,
        };
        req.report(EventKind::Pull, &grant, &repo, &manifest.digest, tag);
        Body::from(manifest.content)
    };
    Ok(respond(StatusCode::OK, &headers, body))
}

/// Accept negotiation as CNCF distribution does it: when the client lists manifest
/// types and the stored one is not among them, it cannot use this manifest. A missing
/// header, `*/*`, or a list naming no manifest type at all is served as is.
fn acceptable(accept: Option<&str>, media_type: &str) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    let listed: Vec<&str> = accept
        .split(',')
        .map(|entry| entry.split(';').next().unwrap_or("").trim())
        .collect();
    listed.contains(&media_type)
        || listed.iter().any(|t| *t == "*/*" || *t == "application/*")
        || !listed.iter().any(|t| MANIFEST_TYPES.contains(t))
}

pub(super) async fn put(
    req: Request,
    repo: RepoName,
    reference: Reference,
) -> Result<Response, RegistryError> {
    let grant = req
        .authorize(Resource::Repository(repo.clone()), Action::Push, None)
        .await?;
    let content_type = req.header(header::CONTENT_TYPE).map(str::to_owned);
    if req
        .content_length()?
        .is_some_and(|l| l > MAX_MANIFEST_BYTES as u64)
    {
        return Err(too_large());
    }
    let registry = req.registry.clone();
    let body = axum::body::to_bytes(req.take_body(), MAX_MANIFEST_BYTES)
        .await
        .map_err(|_| too_large())?;
    let stored = registry
        .put_manifest(&repo, &reference, content_type.as_deref(), body)
        .await?;
    let tag = match &reference {
        Reference::Tag(t) => Some(t.to_string()),
        Reference::Digest(_) => None,
    };
    req.report(EventKind::Push, &grant, &repo, &stored.digest, tag);
    let mut headers = vec![
        (
            "location",
            format!("/v2/{repo}/manifests/{}", stored.digest),
        ),
        ("docker-content-digest", stored.digest.to_string()),
        ("content-length", "0".to_owned()),
    ];
    if let Some(subject) = &stored.subject {
        headers.push(("oci-subject", subject.to_string()));
    }
    Ok(respond(StatusCode::CREATED, &headers, Body::empty()))
}

pub(super) async fn delete(
    req: Request,
    repo: RepoName,
    reference: Reference,
) -> Result<Response, RegistryError> {
    let grant = req
        .authorize(Resource::Repository(repo.clone()), Action::Delete, None)
        .await?;
    let target = req.registry.get_manifest(&repo, &reference).await?;
    req.registry.delete_manifest(&repo, &reference).await?;
    let tag = match &reference {
        Reference::Tag(t) => Some(t.to_string()),
        Reference::Digest(_) => None,
    };
    req.report(EventKind::Delete, &grant, &repo, &target.digest, tag);
    Ok(respond(
        StatusCode::ACCEPTED,
        &[("content-length", "0".into())],
        Body::empty(),
    ))
}

fn too_large() -> RegistryError {
    RegistryError::new(
        ErrorCode::SizeInvalid,
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("manifest is larger than {MAX_MANIFEST_BYTES} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::acceptable;
    use crate::manifest::{DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};

    #[test]
    fn accept_negotiation() {
        assert!(acceptable(None, OCI_MANIFEST));
        assert!(acceptable(Some("*/*"), OCI_MANIFEST));
        assert!(acceptable(Some("application/json"), OCI_MANIFEST));
        assert!(acceptable(
            Some(&format!("{DOCKER_MANIFEST}, {OCI_MANIFEST};q=0.9")),
            OCI_MANIFEST
        ));
        assert!(!acceptable(Some(DOCKER_MANIFEST), OCI_INDEX));
    }
}
