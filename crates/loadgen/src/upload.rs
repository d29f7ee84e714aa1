//! Small pure helpers of the push and listing protocols: chunk plans, `Content-Range`
//! values, upload `Location`s with the digest added, and `Link: <...>; rel="next"`.

use anyhow::{Context as _, Result, bail};
use url::Url;

/// The `(offset, length)` of each chunk of a `total`-byte upload in `chunk`-byte pieces;
/// the last one may be shorter. Empty for an empty upload.
pub fn chunk_plan(total: u64, chunk: u64) -> Result<Vec<(u64, u64)>> {
    if chunk == 0 {
        bail!("chunk size must be positive");
    }
    let mut out = Vec::with_capacity(total.div_ceil(chunk) as usize);
    let mut offset = 0;
    while offset < total {
        let len = chunk.min(total - offset);
        out.push((offset, len));
        offset += len;
    }
    Ok(out)
}

/// The `Content-Range` of a PATCH carrying `len` bytes at `offset`: the inclusive
/// `<start>-<end>` form of the OCI distribution spec (no unit). `None` for no bytes.
pub fn content_range(offset: u64, len: u64) -> Option<String> {
    if len == 0 {
        return None;
    }
    let end = offset.checked_add(len - 1)?;
    Some(format!("{offset}-{end}"))
}

/// Resolves a `Location` header against the URL of the request that returned it.
pub fn resolve(base: &Url, location: &str) -> Result<Url> {
    base.join(location)
        .with_context(|| format!("bad Location {location:?}"))
}

/// The upload URL with `digest=<digest>` appended to whatever query it already has
/// (distribution keeps its upload state in `_state=...`).
pub fn with_digest(location: &Url, digest: &str) -> Url {
    let mut url = location.clone();
    url.query_pairs_mut().append_pair("digest", digest);
    url
}

/// The target of a `Link: <url>; rel="next"` header, if it has one.
pub fn next_link(link: &str) -> Option<&str> {
    for part in link.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some((target, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|v| v.trim_matches('"').split_whitespace().any(|r| r == "next"))
                .unwrap_or(false)
        });
        if is_next {
            return Some(target);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_inclusive() {
        assert_eq!(content_range(0, 1), Some("0-0".into()));
        assert_eq!(content_range(0, 16 << 20), Some("0-16777215".into()));
        assert_eq!(
            content_range(16 << 20, 16 << 20),
            Some("16777216-33554431".into())
        );
        assert_eq!(content_range(5, 0), None);
        assert_eq!(content_range(u64::MAX, 2), None);
    }

    #[test]
    fn chunk_plan_covers_everything_once() {
        assert!(chunk_plan(10, 0).is_err());
        assert_eq!(chunk_plan(0, 4).unwrap(), vec![]);
        assert_eq!(chunk_plan(10, 4).unwrap(), vec![(0, 4), (4, 4), (8, 2)]);
        assert_eq!(chunk_plan(8, 4).unwrap(), vec![(0, 4), (4, 4)]);
        let plan = chunk_plan(512 << 20, 16 << 20).unwrap();
        assert_eq!(plan.len(), 32);
        let mut next = 0;
        for (off, len) in &plan {
            assert_eq!(*off, next);
            next += len;
        }
        assert_eq!(next, 512 << 20);
        // ranges of consecutive chunks abut
        let ranges: Vec<_> = chunk_plan(10, 4)
            .unwrap()
            .into_iter()
            .filter_map(|(o, l)| content_range(o, l))
            .collect();
        assert_eq!(ranges, vec!["0-3", "4-7", "8-9"]);
    }

    #[test]
    fn digest_is_appended_to_existing_query() {
        let base = Url::parse("http://127.0.0.1:5000/v2/").unwrap();
        let loc = resolve(&base, "/v2/a/b/blobs/uploads/123?_state=xyz%3D").unwrap();
        let put = with_digest(&loc, "sha256:abc");
        assert_eq!(
            put.as_str(),
            "http://127.0.0.1:5000/v2/a/b/blobs/uploads/123?_state=xyz%3D&digest=sha256%3Aabc"
        );
        let loc = resolve(&base, "http://127.0.0.1:5000/v2/a/blobs/uploads/9").unwrap();
        assert_eq!(
            with_digest(&loc, "sha256:0").as_str(),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/9?digest=sha256%3A0"
        );
    }

    #[test]
    fn next_link_is_found() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=100&last=t00099>; rel="next""#),
            Some("/v2/a/tags/list?n=100&last=t00099")
        );
        assert_eq!(
            next_link(r#"<http://x/prev>; rel="prev", <http://x/next>; rel=next"#),
            Some("http://x/next")
        );
        assert_eq!(next_link(r#"</v2/_catalog?n=1>; rel="last""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
