//! The blob store contract: content-addressed bytes plus the staging area of uploads.
//!
//! Implementations (crate `storage`) keep final blobs at `blobs/sha256/<2 hex>/<64 hex>`
//! and staged uploads under `_uploads/`: one object per part on object stores
//! (`_uploads/<upload id>/<part>`), one file the parts are appended to on the filesystem
//! (`_uploads/<upload id>.data`). A staged part or a blob becomes
//! visible only once completely written, so a crash mid-write leaves nothing
//! half-visible. Final blobs are written once and never overwritten.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::digest::Digest;

/// A stream of body bytes, as received from a client or read from storage.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// A failure of a backend (object store or database), independent of the backend's kind.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The object or row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend cannot be reached right now (connection refused, timeout).
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Reading the request body failed (client went away, body longer than declared...).
    /// Carried through the store so the caller can tell a client fault from a store fault.
    #[error("request body: {0}")]
    Body(String),
    /// A staged write does not fit where the upload stands in storage: another write of
    /// the same upload got there first, or the upload was committed meanwhile. The caller
    /// answers as for an out-of-order chunk; nothing was written.
    #[error("upload moved on: {0}")]
    Conflict(String),
    /// Any other failure.
    #[error("{0}")]
    Other(String),
}

/// Staged part of an upload, in the order the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPart {
    /// Opaque key chosen by the core (unique per part), e.g. a uuid.
    pub id: String,
    pub size: u64,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Streams `body` into a new staged part of `upload_id` and returns the number of bytes
    /// written. `offset` is where the part starts in the upload (the sum of the sizes of
    /// the parts recorded before it). The part is visible (and later committable) only if
    /// this returns `Ok`; on error nothing of it remains reachable. A store may refuse with
    /// [`BackendError::Conflict`] when its staged bytes do not end at `offset`.
    async fn write_part(
        &self,
        upload_id: &str,
        part_id: &str,
        offset: u64,
        body: ByteStream,
    ) -> Result<u64, BackendError>;

    /// Makes `digest` a final blob whose content is the concatenation of `parts`, and
    /// removes what the upload staged (moved into the blob, or dropped when the blob
    /// already exists). The caller has verified the digest.
    async fn commit(
        &self,
        upload_id: &str,
        parts: &[StagedPart],
        digest: &Digest,
    ) -> Result<(), BackendError>;

    /// Makes `digest` a final blob from `body` in one step, for an upload that staged
    /// nothing before the request that brings all its bytes and names its digest (a
    /// monolithic `PUT` or `POST ?digest=`). The caller checks the bytes as they stream
    /// and fails the stream's last item when they are not exactly the blob; the blob
    /// becomes visible only if the whole stream ends without error, and whatever was
    /// written is then removed or was never visible. If the blob exists already, the body
    /// is still read to its end (so the check runs) and nothing is written. Staging space
    /// of `upload_id` may be used on the way; on failure [`Self::delete_upload`] clears it.
    /// Returns the number of bytes read.
    async fn write_blob(
        &self,
        upload_id: &str,
        digest: &Digest,
        body: ByteStream,
    ) -> Result<u64, BackendError>;

    /// Removes every staged part of an upload (cancelled or abandoned). Idempotent.
    async fn delete_upload(&self, upload_id: &str) -> Result<(), BackendError>;

    /// Size of a stored blob, or `None` when it is absent.
    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, BackendError>;

    /// A URL the client may fetch the blob from itself (whole or any range), such as a
    /// presigned object store URL; `None` (the default) when this store serves bytes only
    /// through [`Self::read`]. The caller has checked that the client may read the blob.
    async fn download_url(&self, _digest: &Digest) -> Result<Option<String>, BackendError> {
        Ok(None)
    }

    /// Streams a blob, whole or a byte range (`start..end`, end exclusive).
    async fn read(
        &self,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, BackendError>;

    /// Deletes a final blob (garbage collection only). Idempotent.
    async fn delete_blob(&self, digest: &Digest) -> Result<(), BackendError>;

    /// Cheap reachability probe for `/health/ready`.
    async fn ping(&self) -> Result<(), BackendError>;
}
