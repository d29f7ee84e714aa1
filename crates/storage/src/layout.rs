//! Where things live in the object store.
//!
//! Final blobs: `blobs/sha256/<first 2 hex>/<64 hex>` (the two-character fan-out keeps
//! directories small on the filesystem backend and matches the layout operators expect).
//! Staged parts: `_uploads/<upload id>/<part id>`, so one prefix listing finds every part of
//! an upload and nothing else. The filesystem backend appends every part of an upload to
//! one file instead, `_uploads/<upload id>.data`.

use object_store::path::Path;
use registry_core::{BackendError, Digest};

const BLOBS: &str = "blobs";
const UPLOADS: &str = "_uploads";
/// Longest id accepted; far above a uuid (36), low enough to keep keys short.
const MAX_ID_LEN: usize = 128;

/// The key of a final blob.
pub(crate) fn blob_path(digest: &Digest) -> Path {
    let hex = digest.hex();
    // A `Digest` is always 64 lowercase hex characters, so the fan-out slice cannot fail;
    // `get` keeps this panic-free even if that invariant ever changed.
    let fan_out = hex.get(..2).unwrap_or(hex);
    Path::from_iter([BLOBS, digest.algorithm(), fan_out, hex])
}

/// The prefix holding every staged part of an upload.
pub(crate) fn upload_prefix(upload_id: &str) -> Result<Path, BackendError> {
    Ok(Path::from_iter([
        UPLOADS,
        safe_segment("upload id", upload_id)?,
    ]))
}

/// The key of one staged part.
pub(crate) fn part_path(upload_id: &str, part_id: &str) -> Result<Path, BackendError> {
    Ok(Path::from_iter([
        UPLOADS,
        safe_segment("upload id", upload_id)?,
        safe_segment("part id", part_id)?,
    ]))
}

/// The file the filesystem backend appends an upload's parts to. It sits directly in
/// `_uploads` rather than in a directory of its own: creating and removing a directory per
/// upload cost more kernel time than writing a small blob (ext4 allocates each new
/// directory's inode by scanning for a lightly used block group). Ids have no `.`, so
/// the name never collides with an upload's prefix.
pub(crate) fn upload_data_path(upload_id: &str) -> Result<Path, BackendError> {
    let file = format!("{}.data", safe_segment("upload id", upload_id)?);
    Ok(Path::from_iter([UPLOADS, file.as_str()]))
}

/// A prefix under which nothing is ever stored; listing it is the cheapest call that still
/// proves the bucket exists and the credentials work.
pub(crate) fn probe_prefix() -> Path {
    Path::from("_health")
}

/// Ids become path segments, so only `[A-Za-z0-9-]` is allowed: no `/`, `..`, `#` (which
/// the filesystem backend uses for its own staging files) or anything needing escaping.
fn safe_segment<'a>(what: &str, id: &'a str) -> Result<&'a str, BackendError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(id)
    } else {
        Err(BackendError::Other(format!(
            "invalid {what} {id:?}: expected 1 to {MAX_ID_LEN} characters of [A-Za-z0-9-]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_fan_out_on_the_first_two_hex_characters() {
        let digest = Digest::of(b"hello");
        assert_eq!(
            blob_path(&digest).as_ref(),
            "blobs/sha256/2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    #[test]
    fn part_keys_live_under_their_upload() {
        let part = part_path("0b5e-41", "a1").unwrap();
        assert_eq!(part.as_ref(), "_uploads/0b5e-41/a1");
        assert!(part.prefix_matches(&upload_prefix("0b5e-41").unwrap()));
        assert!(!part.prefix_matches(&upload_prefix("0b5e").unwrap()));
    }

    #[test]
    fn unsafe_ids_are_rejected() {
        let long = "a".repeat(MAX_ID_LEN + 1);
        for bad in [
            "",
            "..",
            "a/b",
            "a.b",
            "a#0",
            "a b",
            "ü",
            "%2F",
            long.as_str(),
        ] {
            assert!(
                matches!(upload_prefix(bad), Err(BackendError::Other(_))),
                "upload id {bad:?} accepted"
            );
            assert!(
                matches!(part_path("ok", bad), Err(BackendError::Other(_))),
                "part id {bad:?} accepted"
            );
        }
        assert!(upload_prefix(&"a".repeat(MAX_ID_LEN)).is_ok());
    }
}
