//! The body of an upload request on its way to storage: hashed and counted as it
//! streams, cut off when longer than declared, and, for a blob written in one step,
//! checked against its length and digest before the store may make it visible.

use std::sync::{Arc, Mutex};

use futures::StreamExt;

use crate::blobs::{BackendError, ByteStream};
use crate::digest::Digest;
use crate::hashing::UploadHasher;
use crate::meta::UploadSession;

/// Progress of one chunk as it streams through: hashed and counted on the way.
pub(super) struct ChunkProgress {
    pub(super) hasher: UploadHasher,
    pub(super) received: u64,
    /// Set when a whole blob's bytes turned out not to be the blob (see
    /// [`checked_stream`]).
    pub(super) mismatch: Option<Mismatch>,
}

impl ChunkProgress {
    /// Progress of a chunk that continues `session`, shared with the stream it watches.
    pub(super) fn continuing(session: &UploadSession) -> Result<Arc<Mutex<Self>>, BackendError> {
        let hasher = UploadHasher::restore(&session.hash_state).ok_or_else(|| {
            BackendError::Other(format!("upload {} has a corrupt hash state", session.id))
        })?;
        Ok(Arc::new(Mutex::new(Self {
            hasher,
            received: 0,
            mismatch: None,
        })))
    }
}

/// Why the bytes of a blob written in one step are not the blob the client named.
pub(super) enum Mismatch {
    Size { declared: u64, received: u64 },
    Digest(Digest),
}

pub(super) fn poisoned() -> BackendError {
    BackendError::Other("upload progress lock poisoned".into())
}

/// Wraps a request body so every byte is hashed and counted on its way to storage, and
/// a body longer than declared fails instead of being stored.
pub(super) fn hashing_stream(
    body: ByteStream,
    progress: Arc<Mutex<ChunkProgress>>,
    expected: Option<u64>,
) -> ByteStream {
    body.map(move |chunk| {
        let chunk = chunk?;
        let mut p = progress
            .lock()
            .map_err(|_| std::io::Error::other("upload progress lock poisoned"))?;
        p.received += chunk.len() as u64;
        if expected.is_some_and(|e| p.received > e) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "body is longer than declared",
            ));
        }
        p.hasher.update(&chunk);
        Ok(chunk)
    })
    .boxed()
}

/// [`hashing_stream`] that, once the body has ended, fails its last item unless the body
/// had the declared length and the digest `digest` (see [`verify_whole`]): a store
/// writing the bytes straight to the blob then never completes the write.
pub(super) fn checked_stream(
    body: ByteStream,
    progress: Arc<Mutex<ChunkProgress>>,
    expected: Option<u64>,
    digest: Digest,
) -> ByteStream {
    let check = {
        let progress = progress.clone();
        futures::stream::once(async move { verify_whole(&progress, expected, &digest) })
            .filter_map(|verdict| async move { verdict.err().map(Err) })
    };
    hashing_stream(body, progress, expected)
        .chain(check)
        .boxed()
}

/// Whether the whole body streamed through `progress` is the blob: the declared length
/// (when there was one) and `digest`. A mismatch is recorded in `progress` for the
/// answer to the client, and fails the stream.
fn verify_whole(
    progress: &Mutex<ChunkProgress>,
    expected: Option<u64>,
    digest: &Digest,
) -> Result<(), std::io::Error> {
    let mut p = progress
        .lock()
        .map_err(|_| std::io::Error::other("upload progress lock poisoned"))?;
    let received = p.received;
    let mismatch = match expected {
        Some(declared) if declared != received => Mismatch::Size { declared, received },
        _ => {
            let actual = p.hasher.digest();
            if actual == *digest {
                return Ok(());
            }
            Mismatch::Digest(actual)
        }
    };
    p.mismatch = Some(mismatch);
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "the body is not the blob its digest names",
    ))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures::{StreamExt, stream};

    use super::*;

    fn session() -> UploadSession {
        UploadSession {
            id: "u".into(),
            repository: "library/a".parse().unwrap(),
            offset: 0,
            hash_state: UploadHasher::new().save(),
            parts: Vec::new(),
            created_at: 0,
        }
    }

    fn body(pieces: &[&'static [u8]]) -> ByteStream {
        let pieces: Vec<std::io::Result<Bytes>> =
            pieces.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        stream::iter(pieces).boxed()
    }

    /// Runs `checked_stream` to its end: the bytes that came through, the error that
    /// ended it (if any), and the recorded mismatch.
    async fn run(
        pieces: &[&'static [u8]],
        expected: Option<u64>,
        digest: Digest,
    ) -> (Vec<u8>, Option<std::io::Error>, Option<Mismatch>) {
        let progress = ChunkProgress::continuing(&session()).unwrap();
        let mut checked = checked_stream(body(pieces), progress.clone(), expected, digest);
        let mut passed = Vec::new();
        let mut failure = None;
        while let Some(item) = checked.next().await {
            match item {
                Ok(bytes) => passed.extend_from_slice(&bytes),
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        let mismatch = progress.lock().unwrap().mismatch.take();
        (passed, failure, mismatch)
    }

    #[tokio::test]
    async fn the_named_blob_passes_unchanged() {
        let (passed, failure, mismatch) =
            run(&[b"hello ", b"world"], Some(11), Digest::of(b"hello world")).await;
        assert_eq!(passed, b"hello world");
        assert!(failure.is_none() && mismatch.is_none());
        // Without a declared length only the digest counts.
        let (_, failure, _) = run(&[b"hello"], None, Digest::of(b"hello")).await;
        assert!(failure.is_none());
    }

    #[tokio::test]
    async fn other_bytes_fail_the_last_item() {
        let (passed, failure, mismatch) = run(
            &[b"hello ", b"world"],
            Some(11),
            Digest::of(b"something else"),
        )
        .await;
        // Every byte went through before the verdict, which comes as one more item.
        assert_eq!(passed, b"hello world");
        assert_eq!(
            failure.map(|e| e.kind()),
            Some(std::io::ErrorKind::InvalidData)
        );
        assert!(
            matches!(&mismatch, Some(Mismatch::Digest(actual)) if *actual == Digest::of(b"hello world"))
        );
    }

    #[tokio::test]
    async fn a_short_body_is_a_size_mismatch() {
        let (_, failure, mismatch) = run(&[b"hello"], Some(11), Digest::of(b"hello")).await;
        assert!(failure.is_some());
        assert!(matches!(
            mismatch,
            Some(Mismatch::Size {
                declared: 11,
                received: 5
            })
        ));
    }

    #[tokio::test]
    async fn a_long_body_fails_as_soon_as_it_overflows() {
        let (passed, failure, mismatch) =
            run(&[b"hello", b" world"], Some(5), Digest::of(b"hello")).await;
        assert_eq!(passed, b"hello");
        assert!(failure.is_some_and(|e| e.to_string().contains("longer than declared")));
        assert!(mismatch.is_none());
    }
}
