//! Blob upload sessions: start, append chunks, finish with a digest, cancel.
//!
//! A session lives in the metadata database (offset, ordered staged parts, saved sha256
//! state), and its bytes live in the blob store's staging area, so any replica can
//! continue it. Each chunk is streamed into its own staged part while being hashed; the
//! part is recorded only if the whole chunk arrived and the session had not moved on.

use futures::StreamExt;
use uuid::Uuid;

use super::upload_body::{ChunkProgress, Mismatch, checked_stream, hashing_stream, poisoned};
use super::{Registry, now};
use crate::blobs::{BackendError, ByteStream, StagedPart};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::hashing::UploadHasher;
use crate::meta::UploadSession;
use crate::name::RepoName;

/// Where an upload stands, for the `Location`/`Range` response headers.
#[derive(Debug, Clone)]
pub struct UploadState {
    pub id: String,
    pub offset: u64,
}

/// A chunk's declared position (`Content-Range: <start>-<end>`, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRange {
    pub start: u64,
    pub end: u64,
}

impl ChunkRange {
    /// Parses `start-end`, tolerating a `bytes=`/`bytes ` prefix some clients send.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        let v = v
            .strip_prefix("bytes=")
            .or_else(|| v.strip_prefix("bytes "))
            .unwrap_or(v);
        let v = v.split('/').next()?;
        let (start, end) = v.split_once('-')?;
        let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
        (end >= start).then_some(Self { start, end })
    }

    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl Registry {
    pub async fn start_upload(&self, repo: &RepoName) -> Result<UploadState, RegistryError> {
        let session = self.open_session(repo).await?;
        Ok(UploadState {
            id: session.id,
            offset: 0,
        })
    }

    /// Creates a new, empty session of `repo` in the metadata store.
    async fn open_session(&self, repo: &RepoName) -> Result<UploadSession, RegistryError> {
        let session = UploadSession {
            id: Uuid::new_v4().to_string(),
            repository: repo.clone(),
            offset: 0,
            hash_state: UploadHasher::new().save(),
            parts: Vec::new(),
            created_at: now(),
        };
        self.meta.create_upload(&session).await?;
        Ok(session)
    }

    pub async fn upload_session(
        &self,
        repo: &RepoName,
        id: &str,
    ) -> Result<Option<UploadSession>, RegistryError> {
        if Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        Ok(self.meta.get_upload(repo, id).await?)
    }

    /// Appends one chunk. `range` is the declared `Content-Range`; `length` the declared
    /// `Content-Length`. Out-of-order chunks are refused with 416 before reading the body.
    pub async fn append_chunk(
        &self,
        session: &UploadSession,
        range: Option<ChunkRange>,
        length: Option<u64>,
        body: ByteStream,
    ) -> Result<UploadSession, RegistryError> {
        let expected = self.chunk_length(session, range, length)?;
        self.write_chunk(session, expected, body).await
    }

    /// The length a chunk must have, from its declared `Content-Range` and
    /// `Content-Length`; a range that does not start at the session's offset (or
    /// disagrees with the length) is refused before the body is read.
    fn chunk_length(
        &self,
        session: &UploadSession,
        range: Option<ChunkRange>,
        length: Option<u64>,
    ) -> Result<Option<u64>, RegistryError> {
        if let Some(range) = range
            && (range.start != session.offset || length.is_some_and(|l| l != range.len()))
        {
            return Err(self.range_error(session, session.offset));
        }
        Ok(range.map(|r| r.len()).or(length))
    }

    /// The answer to a failed write of a request body into the store.
    fn write_failure(&self, session: &UploadSession, err: BackendError) -> RegistryError {
        match err {
            // Another request wrote to this upload first: as for an out-of-order chunk.
            BackendError::Conflict(_) => self.range_error(session, session.offset),
            BackendError::Body(message) => RegistryError::size_invalid(format!(
                "request body could not be read completely: {message}"
            )),
            other => other.into(),
        }
    }

    fn range_error(&self, session: &UploadSession, offset: u64) -> RegistryError {
        RegistryError::RangeNotSatisfiable {
            location: crate::http::upload_location(&session.repository, &session.id),
            upload_id: session.id.clone(),
            offset,
        }
    }

    /// Stages a chunk and records it in the session (compare-and-swap on the offset).
    async fn write_chunk(
        &self,
        session: &UploadSession,
        expected: Option<u64>,
        body: ByteStream,
    ) -> Result<UploadSession, RegistryError> {
        let Some((part, hash_state)) = self.stage_chunk(session, expected, body).await? else {
            return Ok(session.clone());
        };
        let won = self
            .meta
            .append_upload_part(session, &part, &hash_state)
            .await?;
        if !won {
            // Another request moved the session on while this chunk streamed.
            return Err(self.range_error(session, session.offset));
        }
        Ok(with_part(session, part, hash_state))
    }

    /// Streams a chunk into a new staged part at the session's offset while hashing it.
    /// Returns the part and the hash state after it, or `None` for an empty chunk; the
    /// session in the metadata store is left as it was.
    async fn stage_chunk(
        &self,
        session: &UploadSession,
        expected: Option<u64>,
        body: ByteStream,
    ) -> Result<Option<(StagedPart, Vec<u8>)>, RegistryError> {
        let progress = ChunkProgress::continuing(session)?;
        let stream = hashing_stream(body, progress.clone(), expected);
        let part_id = Uuid::new_v4().simple().to_string();
        let written = self
            .blobs
            .write_part(&session.id, &part_id, session.offset, stream)
            .await
            .map_err(|err| self.write_failure(session, err))?;
        let (hash_state, received) = {
            let p = progress.lock().map_err(|_| poisoned())?;
            (p.hasher.save(), p.received)
        };
        if written != received {
            return Err(BackendError::Other(format!(
                "storage wrote {written} bytes of a {received}-byte chunk"
            ))
            .into());
        }
        if expected.is_some_and(|e| e != received) {
            return Err(RegistryError::size_invalid(format!(
                "chunk declared {} bytes but {received} arrived",
                expected.unwrap_or_default()
            )));
        }
        if received == 0 {
            return Ok(None);
        }
        let part = StagedPart {
            id: part_id,
            size: received,
        };
        Ok(Some((part, hash_state)))
    }

    /// Finishes an upload: appends the optional last chunk, checks the digest, makes the
    /// blob visible in the repository, and removes the session.
    pub async fn finish_upload(
        &self,
        session: &UploadSession,
        digest: &Digest,
        range: Option<ChunkRange>,
        length: Option<u64>,
        body: Option<ByteStream>,
    ) -> Result<(), RegistryError> {
        // The last chunk is staged but not recorded in the session: the commit below
        // deletes the session anyway, so recording it would be two statements for
        // nothing. The digest is checked over exactly the bytes this request staged on
        // top of the session it read; a request racing on the same session either finds
        // the staged bytes moved on (the storage refuses a write at a stale offset) or
        // finds the session gone once this one commits.
        let mut session = match body {
            Some(body) if length != Some(0) => {
                let expected = self.chunk_length(session, range, length)?;
                if session.parts.is_empty() {
                    return self.write_whole_blob(session, digest, expected, body).await;
                }
                match self.stage_chunk(session, expected, body).await? {
                    Some((part, hash_state)) => with_part(session, part, hash_state),
                    None => session.clone(),
                }
            }
            _ => session.clone(),
        };
        let hasher = UploadHasher::restore(&session.hash_state).ok_or_else(|| {
            BackendError::Other(format!("upload {} has a corrupt hash state", session.id))
        })?;
        let actual = hasher.digest();
        if &actual != digest {
            // The bytes can never become this blob: drop the session so nothing lingers.
            self.discard_upload(&session.id).await;
            return Err(RegistryError::digest_invalid(format!(
                "provided digest {digest} does not match uploaded content {actual}"
            )));
        }
        if session.parts.is_empty() {
            // The empty blob: stage a zero-length part so commit has something to copy.
            let part_id = Uuid::new_v4().simple().to_string();
            self.blobs
                .write_part(&session.id, &part_id, 0, futures::stream::empty().boxed())
                .await?;
            session.parts.push(StagedPart {
                id: part_id,
                size: 0,
            });
        }
        match self.blobs.commit(&session.id, &session.parts, digest).await {
            Ok(()) => {}
            // A concurrent request committed or cancelled this upload first.
            Err(BackendError::Conflict(_)) => return Err(RegistryError::upload_unknown()),
            Err(other) => return Err(other.into()),
        }
        self.meta
            .commit_blob(
                &session.repository,
                digest,
                session.offset,
                Some(&session.id),
            )
            .await?;
        // The commit left nothing staged, so unlike a cancel there is nothing to remove.
        Ok(())
    }

    /// Finishes an upload that staged nothing with the request that carries all of its
    /// bytes (a monolithic upload): the store writes the blob directly, and the length
    /// and digest are checked in the stream, so bytes that are not the named blob never
    /// become visible (see [`BlobStore::write_blob`](crate::BlobStore::write_blob)).
    async fn write_whole_blob(
        &self,
        session: &UploadSession,
        digest: &Digest,
        expected: Option<u64>,
        body: ByteStream,
    ) -> Result<(), RegistryError> {
        let progress = ChunkProgress::continuing(session)?;
        let stream = checked_stream(body, progress.clone(), expected, digest.clone());
        let written = self.blobs.write_blob(&session.id, digest, stream).await;
        let (received, mismatch) = {
            let mut p = progress.lock().map_err(|_| poisoned())?;
            (p.received, p.mismatch.take())
        };
        match mismatch {
            Some(Mismatch::Digest(actual)) => {
                // The bytes can never become this blob: drop the session so nothing lingers.
                self.discard_upload(&session.id).await;
                return Err(RegistryError::digest_invalid(format!(
                    "provided digest {digest} does not match uploaded content {actual}"
                )));
            }
            Some(Mismatch::Size { declared, received }) => {
                return Err(RegistryError::size_invalid(format!(
                    "chunk declared {declared} bytes but {received} arrived"
                )));
            }
            None => {}
        }
        let written = written.map_err(|err| self.write_failure(session, err))?;
        if written != received {
            return Err(BackendError::Other(format!(
                "storage took {written} bytes of a {received}-byte blob"
            ))
            .into());
        }
        self.meta
            .commit_blob(&session.repository, digest, received, Some(&session.id))
            .await?;
        Ok(())
    }

    /// Monolithic upload in a single `POST ?digest=` request.
    pub async fn upload_whole(
        &self,
        repo: &RepoName,
        digest: &Digest,
        length: Option<u64>,
        body: ByteStream,
    ) -> Result<(), RegistryError> {
        let session = self.open_session(repo).await?;
        let result = self
            .finish_upload(&session, digest, None, length, Some(body))
            .await;
        if result.is_err() {
            self.discard_upload(&session.id).await;
        }
        result
    }

    pub async fn cancel_upload(&self, session: &UploadSession) -> Result<(), RegistryError> {
        if !self.meta.delete_upload(&session.id).await? {
            return Err(RegistryError::upload_unknown());
        }
        if let Err(err) = self.blobs.delete_upload(&session.id).await {
            tracing::warn!(upload = %session.id, error = %err, "could not remove staged upload parts");
        }
        Ok(())
    }

    /// Best-effort removal of a failed session and its staged bytes.
    async fn discard_upload(&self, id: &str) {
        if let Err(err) = self.meta.delete_upload(id).await {
            tracing::warn!(upload = %id, error = %err, "could not delete upload session");
        }
        if let Err(err) = self.blobs.delete_upload(id).await {
            tracing::warn!(upload = %id, error = %err, "could not remove staged upload parts");
        }
    }

    /// Deletes sessions untouched for `max_age_secs` and their staged bytes.
    pub async fn purge_stale_uploads(&self, max_age_secs: i64) -> Result<usize, RegistryError> {
        let stale = self.meta.stale_uploads(now() - max_age_secs, 1000).await?;
        for id in &stale {
            self.discard_upload(id).await;
        }
        Ok(stale.len())
    }
}

/// `session` with `part` appended and the hash state after it.
fn with_part(session: &UploadSession, part: StagedPart, hash_state: Vec<u8>) -> UploadSession {
    let mut updated = session.clone();
    updated.offset += part.size;
    updated.hash_state = hash_state;
    updated.parts.push(part);
    updated
}

#[cfg(test)]
mod tests {
    use super::ChunkRange;

    #[test]
    fn parses_content_range() {
        assert_eq!(
            ChunkRange::parse("0-99"),
            Some(ChunkRange { start: 0, end: 99 })
        );
        assert_eq!(
            ChunkRange::parse("bytes=10-19"),
            Some(ChunkRange { start: 10, end: 19 })
        );
        assert_eq!(ChunkRange::parse("5-4"), None);
        assert_eq!(ChunkRange::parse("x-4"), None);
        assert_eq!(ChunkRange::parse("0-9").map(|r| r.len()), Some(10));
    }
}
