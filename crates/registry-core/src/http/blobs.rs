//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`, with single byte ranges (206), or a
//! redirect to the store (307) when it hands out download URLs.

use std::ops::Range;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

use super::{Request, respond};
use crate::auth::{Action, Resource};
use crate::digest::Digest;
use crate::error::{ErrorCode, RegistryError};
use crate::name::RepoName;

pub(super) async fn get(
    req: Request,
    repo: RepoName,
    digest: Digest,
) -> Result<Response, RegistryError> {
    req.authorize(Resource::Repository(repo.clone()), Action::Pull, None)
        .await?;
    let size = req.registry.blob_size(&repo, &digest).await?;
    let common = [
        ("docker-content-digest", digest.to_string()),
        ("etag", format!("\"{digest}\"")),
        ("accept-ranges", "bytes".to_owned()),
        ("content-type", "application/octet-stream".to_owned()),
        ("cache-control", "max-age=31536000".to_owned()),
    ];
    let range = match req.header(header::RANGE) {
        Some(value) => Some(parse_range(value, size).ok_or_else(|| unsatisfiable(size))?),
        None => None,
    };
    let (status, length, mut headers) = match &range {
        Some(r) => (
            StatusCode::PARTIAL_CONTENT,
            r.end - r.start,
            vec![(
                "content-range",
                format!("bytes {}-{}/{size}", r.start, r.end - 1),
            )],
        ),
        None => (StatusCode::OK, size, Vec::new()),
    };
    headers.extend(common);
    headers.push(("content-length", length.to_string()));
    if req.method == Method::HEAD {
        return Ok(respond(status, &headers, Body::empty()));
    }
    // The client sends its request (and any `Range`) to the store itself; the store
    // answers with the same bytes, so the size, digest and range checks above still hold.
    if let Some(url) = req.registry.blob_download_url(&digest).await? {
        let redirect = [
            ("location", url),
            ("docker-content-digest", digest.to_string()),
            ("content-length", "0".to_owned()),
        ];
        return Ok(respond(
            StatusCode::TEMPORARY_REDIRECT,
            &redirect,
            Body::empty(),
        ));
    }
    let stream = req.registry.read_blob(&digest, range).await?;
    Ok(respond(status, &headers, Body::from_stream(stream)))
}

pub(super) async fn delete(
    req: Request,
    repo: RepoName,
    digest: Digest,
) -> Result<Response, RegistryError> {
    req.authorize(Resource::Repository(repo.clone()), Action::Delete, None)
        .await?;
    req.registry.delete_blob(&repo, &digest).await?;
    Ok(respond(
        StatusCode::ACCEPTED,
        &[("content-length", "0".into())],
        Body::empty(),
    ))
}

/// Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range against `size` into an
/// exclusive range; `None` when unsatisfiable or malformed.
fn parse_range(value: &str, size: u64) -> Option<Range<u64>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        let suffix: u64 = end.parse().ok()?;
        if suffix == 0 {
            return None;
        }
        size.saturating_sub(suffix)..size
    } else {
        let start: u64 = start.parse().ok()?;
        let end: u64 = if end.is_empty() {
            size.checked_sub(1)?
        } else {
            end.parse::<u64>().ok()?.min(size.checked_sub(1)?)
        };
        if start > end {
            return None;
        }
        start..end + 1
    };
    (range.start < size).then_some(range)
}

fn unsatisfiable(size: u64) -> RegistryError {
    RegistryError::new(
        ErrorCode::BlobUnknown,
        StatusCode::RANGE_NOT_SATISFIABLE,
        format!("requested range is not satisfiable for a blob of {size} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Some(90..100));
        assert_eq!(parse_range("bytes=-10", 100), Some(90..100));
        assert_eq!(parse_range("bytes=95-200", 100), Some(95..100));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }
}
