//! [`BlobStore`] on top of any `object_store` backend.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use object_store::signer::{Method, Signer};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use registry_core::blobs::StagedPart;
use registry_core::{BackendError, BlobStore, ByteStream, Digest};

use crate::error::{backend_error, body_error};
use crate::layout;
use crate::writer::{WriteTuning, write_stream};

/// `/health/ready` must answer quickly even when the store hangs or retries a refused
/// connection; past this the store counts as unavailable.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest object S3 copies in one `CopyObject` call; bigger single parts are streamed.
const S3_COPY_LIMIT: u64 = 5 << 30;

/// Blobs and upload staging in an object store, at `blobs/sha256/<2 hex>/<64 hex>` and
/// `_uploads/<upload>/<part>`.
#[derive(Debug)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    tuning: WriteTuning,
    /// Largest part committed by a server-side copy; `None` when copies have no limit.
    copy_limit: Option<u64>,
    /// Set for the filesystem backend, whose data path works on files directly (`local`).
    fs_root: Option<PathBuf>,
    /// Set when downloads are answered with presigned URLs instead of bytes.
    downloads: Option<PresignedDownloads>,
}

/// Signs `GET` URLs of blobs for clients to fetch from the store directly.
#[derive(Debug)]
struct PresignedDownloads {
    /// Signs for the host clients reach; may differ from the one Berth writes to.
    signer: Arc<dyn Signer>,
    ttl: Duration,
}

impl ObjectBlobStore {
    /// Wraps any object store. Copies are limited to what S3 allows in one call, the
    /// safe assumption for a store of unknown kind.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            tuning: WriteTuning::default(),
            copy_limit: Some(S3_COPY_LIMIT),
            fs_root: None,
            downloads: None,
        }
    }

    /// Answers downloads with URLs `signer` signs, valid for `ttl`, instead of bytes.
    pub(crate) fn with_presigned_downloads(
        mut self,
        signer: Arc<dyn Signer>,
        ttl: Duration,
    ) -> Self {
        self.downloads = Some(PresignedDownloads { signer, ttl });
        self
    }

    /// A store on the local filesystem rooted at `root`, where a copy is a hard link and
    /// therefore has no size limit.
    pub(crate) fn filesystem(store: Arc<dyn ObjectStore>, root: PathBuf) -> Self {
        Self {
            copy_limit: None,
            fs_root: Some(root),
            ..Self::new(store)
        }
    }

    #[cfg(test)]
    pub(crate) fn with_tuning(mut self, tuning: WriteTuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Puts the content of `parts` at `dest`. One part is copied server-side (cheap, and
    /// atomic on every backend); several are concatenated through a streaming multipart
    /// write, which is atomic because the object appears only when the upload completes.
    async fn assemble(
        &self,
        upload_id: &str,
        parts: &[StagedPart],
        dest: &Path,
    ) -> Result<(), BackendError> {
        match parts {
            [] => self
                .store
                .put(dest, PutPayload::new())
                .await
                .map(drop)
                .map_err(backend_error),
            // Unlike concatenation, a copy cannot check the part's size without another
            // round trip; the size was counted from the very bytes written, so trust it.
            [part] if self.copy_limit.is_none_or(|limit| part.size <= limit) => {
                let from = layout::part_path(upload_id, &part.id)?;
                self.store.copy(&from, dest).await.map_err(backend_error)
            }
            _ => self.concatenate(upload_id, parts, dest).await,
        }
    }

    async fn concatenate(
        &self,
        upload_id: &str,
        parts: &[StagedPart],
        dest: &Path,
    ) -> Result<(), BackendError> {
        let paths = parts
            .iter()
            .map(|part| layout::part_path(upload_id, &part.id))
            .collect::<Result<Vec<_>, _>>()?;
        let expected: u64 = parts.iter().map(|part| part.size).sum();
        let store = self.store.clone();
        // Parts are opened one after another, so only one read is in flight at a time.
        let bytes: BoxStream<'static, object_store::Result<Bytes>> = stream::iter(paths)
            .then(move |path| open_part(store.clone(), path))
            .try_flatten()
            .boxed();
        write_stream(
            self.store.as_ref(),
            dest,
            self.tuning,
            bytes,
            backend_error,
            Some(expected),
        )
        .await
        .map(drop)
    }
}

/// The part id under which [`BlobStore::write_blob`] stages a whole body on the
/// filesystem (part ids name nothing there, but are checked like any other).
const WHOLE_BODY_PART: &str = "whole";

/// Reads `body` to its end without keeping it: the blob exists already, but the caller's
/// check of the bytes runs as they stream, and the client sent them.
async fn drain(mut body: ByteStream) -> Result<u64, BackendError> {
    let mut read = 0u64;
    while let Some(chunk) = body.next().await {
        read += chunk.map_err(body_error)?.len() as u64;
    }
    Ok(read)
}

/// Opens one staged part for reading. A named `async fn` (rather than a closure) keeps the
/// future's lifetimes simple enough for the compiler to see it is `Send`.
async fn open_part(
    store: Arc<dyn ObjectStore>,
    path: Path,
) -> object_store::Result<BoxStream<'static, object_store::Result<Bytes>>> {
    Ok(store.get(&path).await?.into_stream())
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn write_part(
        &self,
        upload_id: &str,
        part_id: &str,
        offset: u64,
        body: ByteStream,
    ) -> Result<u64, BackendError> {
        let path = layout::part_path(upload_id, part_id)?;
        if let Some(root) = &self.fs_root {
            return crate::local::append(root, upload_id, offset, body).await;
        }
        write_stream(
            self.store.as_ref(),
            &path,
            self.tuning,
            body,
            body_error,
            None,
        )
        .await
    }

    async fn commit(
        &self,
        upload_id: &str,
        parts: &[StagedPart],
        digest: &Digest,
    ) -> Result<(), BackendError> {
        // Checked even when no part needs reading, so a bad id fails the same way always.
        layout::upload_prefix(upload_id)?;
        let dest = layout::blob_path(digest);
        // On the filesystem one blocking step checks for the blob, renames the staged
        // file or removes it. With no part there is no data file; the empty blob is
        // written as it is on other stores.
        if let Some(root) = &self.fs_root
            && !parts.is_empty()
        {
            return crate::local::commit(root, upload_id, parts, &dest).await;
        }
        // Blobs are immutable: a blob that exists already has exactly these bytes.
        match self.store.head(&dest).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => {
                self.assemble(upload_id, parts, &dest).await?;
            }
            Err(err) => return Err(backend_error(err)),
        }
        // The blob is in place; its staged parts only take space now. Failing to remove
        // them does not fail the commit (the stale-upload sweep retries).
        if let Err(err) = self.delete_upload(upload_id).await {
            tracing::warn!(upload = upload_id, error = %err, "could not remove staged upload parts");
        }
        Ok(())
    }

    async fn write_blob(
        &self,
        upload_id: &str,
        digest: &Digest,
        body: ByteStream,
    ) -> Result<u64, BackendError> {
        let dest = layout::blob_path(digest);
        // On the filesystem the body is appended to the upload's data file and renamed,
        // as a staged upload is: a rename costs nothing, and the file is synced before.
        if let Some(root) = &self.fs_root {
            let size = crate::local::append(root, upload_id, 0, body).await?;
            let part = StagedPart {
                id: WHOLE_BODY_PART.to_owned(),
                size,
            };
            crate::local::commit(root, upload_id, &[part], &dest).await?;
            return Ok(size);
        }
        // Object stores have no rename: staging the body and copying it to the blob's key
        // at commit wrote every byte twice (a server-side copy of 512 MiB took SeaweedFS
        // 1.2 s). Streamed straight to the blob's key, the object appears only when the
        // (multipart) write completes, after the caller's check passed.
        layout::upload_prefix(upload_id)?;
        match self.store.head(&dest).await {
            Ok(_) => drain(body).await,
            Err(object_store::Error::NotFound { .. }) => {
                write_stream(
                    self.store.as_ref(),
                    &dest,
                    self.tuning,
                    body,
                    body_error,
                    None,
                )
                .await
            }
            Err(err) => Err(backend_error(err)),
        }
    }

    async fn delete_upload(&self, upload_id: &str) -> Result<(), BackendError> {
        let prefix = layout::upload_prefix(upload_id)?;
        if let Some(root) = &self.fs_root {
            return crate::local::remove_staged(root, upload_id).await;
        }
        let locations = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .boxed();
        let mut deleted = self.store.delete_stream(locations);
        while let Some(result) = deleted.next().await {
            match result {
                // Someone else (a retry, another replica) removed it first: fine.
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(backend_error(err)),
            }
        }
        Ok(())
    }

    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, BackendError> {
        match self.store.head(&layout::blob_path(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(backend_error(err)),
        }
    }

    async fn download_url(&self, digest: &Digest) -> Result<Option<String>, BackendError> {
        let Some(downloads) = &self.downloads else {
            return Ok(None);
        };
        // Signing is local (an HMAC over the request), unless ambient credentials are due
        // for a refresh. Whether the object exists is not asked: the database that
        // listed the blob is the authority, and a missing object answers 404 at the store.
        let url = downloads
            .signer
            .signed_url(Method::GET, &layout::blob_path(digest), downloads.ttl)
            .await
            .map_err(backend_error)?;
        Ok(Some(url.into()))
    }

    async fn read(
        &self,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, BackendError> {
        let path = layout::blob_path(digest);
        let range = match range {
            Some(r) if r.start > r.end => {
                return Err(BackendError::Other(format!(
                    "invalid byte range {}..{}",
                    r.start, r.end
                )));
            }
            // Object stores reject empty ranges; the answer is known without reading, as
            // long as the blob exists.
            Some(r) if r.start == r.end => {
                self.store.head(&path).await.map_err(backend_error)?;
                return Ok(stream::empty().boxed());
            }
            other => other,
        };
        if let Some(root) = &self.fs_root {
            return crate::local::read(root, &path, range).await;
        }
        // A range ending past the blob is clamped to its end (as HTTP does); one starting
        // at or past the end fails.
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self
            .store
            .get_opts(&path, options)
            .await
            .map_err(backend_error)?;
        Ok(result.into_stream().map_err(std::io::Error::from).boxed())
    }

    async fn delete_blob(&self, digest: &Digest) -> Result<(), BackendError> {
        match self.store.delete(&layout::blob_path(digest)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(backend_error(err)),
        }
    }

    async fn ping(&self) -> Result<(), BackendError> {
        if let Some(root) = &self.fs_root {
            // Listing a missing directory succeeds on the filesystem backend; check the
            // root itself so a vanished or unmounted data directory is noticed.
            match tokio::fs::metadata(root).await {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(BackendError::Other(format!(
                        "storage root {} is not a directory",
                        root.display()
                    )));
                }
                Err(err) => {
                    return Err(BackendError::Unavailable(format!(
                        "storage root {}: {err}",
                        root.display()
                    )));
                }
            }
        }
        // A listing (unlike a HEAD of a missing key) fails when the bucket is missing, and
        // like every request it proves the credentials are accepted.
        let probe = layout::probe_prefix();
        match tokio::time::timeout(PING_TIMEOUT, self.store.list_with_delimiter(Some(&probe))).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(backend_error(err)),
            Err(_) => Err(BackendError::Unavailable(format!(
                "object store did not answer within {PING_TIMEOUT:?}"
            ))),
        }
    }
}
