//! Streaming a byte stream into one object with bounded memory.
//!
//! A stream that ends within its first chunk goes up in one `PUT`: one request where a
//! multipart upload takes three (create, part, complete), which is most of the cost of
//! the small blobs of an image. Longer streams are cut into fixed-size chunks that are
//! uploaded as multipart parts while the next chunk fills, with at most a few parts in
//! flight, so memory stays around `chunk_size * (max_in_flight + 1)` whatever the length
//! of the stream. Either way the object only becomes visible once the stream has ended
//! without error; every failure (and a dropped, i.e. cancelled, write) aborts the
//! multipart upload so no parts are left behind.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use registry_core::BackendError;

use crate::error::backend_error;

/// Size and concurrency of multipart writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteTuning {
    /// Bytes per multipart part. S3 needs at least 5 MiB for every part but the last.
    pub chunk_size: usize,
    /// Parts uploading at the same time; each holds one chunk in memory.
    pub max_in_flight: usize,
}

impl Default for WriteTuning {
    fn default() -> Self {
        Self {
            chunk_size: 8 << 20,
            max_in_flight: 2,
        }
    }
}

/// Streams `source` into a new object at `path` and returns the number of bytes written.
///
/// `source_error` classifies failures of the stream itself (a client body vs. a stored
/// part), since only the caller knows where the bytes come from. When `expected_len` is
/// given, a stream of any other length is refused before the object becomes visible.
pub(crate) async fn write_stream<S, E>(
    store: &dyn ObjectStore,
    path: &Path,
    tuning: WriteTuning,
    source: S,
    source_error: impl Fn(E) -> BackendError,
    expected_len: Option<u64>,
) -> Result<u64, BackendError>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let mut source = std::pin::pin!(source);
    let check_len = |written: u64| match expected_len {
        Some(expected) if expected != written => Err(BackendError::Other(format!(
            "{path}: expected {expected} bytes, the source had {written}"
        ))),
        _ => Ok(()),
    };

    // The first chunk's worth is gathered before anything is sent.
    let mut first: Vec<Bytes> = Vec::new();
    let mut written: u64 = 0;
    let ended = loop {
        if written > tuning.chunk_size as u64 {
            break false;
        }
        match source.next().await {
            Some(item) => {
                let bytes = item.map_err(&source_error)?;
                written += bytes.len() as u64;
                first.push(bytes);
            }
            None => break true,
        }
    };
    if ended {
        check_len(written)?;
        let payload: PutPayload = first.into_iter().collect();
        store.put(path, payload).await.map_err(backend_error)?;
        return Ok(written);
    }

    let upload = store.put_multipart(path).await.map_err(backend_error)?;
    let mut writer = AbortOnDrop(Some(WriteMultipart::new_with_chunk_size(
        upload,
        tuning.chunk_size,
    )));
    let outcome = async {
        let mut gathered = first.into_iter();
        loop {
            let mut bytes = match gathered.next() {
                Some(bytes) => bytes,
                None => match source.next().await {
                    Some(item) => {
                        let bytes = item.map_err(&source_error)?;
                        written += bytes.len() as u64;
                        bytes
                    }
                    None => break,
                },
            };
            // Hand over at most one chunk at a time and wait for a free slot before each,
            // so one huge `Bytes` cannot start an unbounded number of part uploads.
            while !bytes.is_empty() {
                let piece = bytes.split_to(bytes.len().min(tuning.chunk_size));
                let upload = writer.get()?;
                upload
                    .wait_for_capacity(tuning.max_in_flight)
                    .await
                    .map_err(backend_error)?;
                upload.put(piece);
            }
        }
        check_len(written)
    }
    .await;

    match outcome {
        Ok(()) => {
            // `finish` aborts the upload itself when completing fails.
            writer.take()?.finish().await.map_err(backend_error)?;
            Ok(written)
        }
        Err(err) => {
            writer.abort(path).await;
            Err(err)
        }
    }
}

/// Owns an in-progress multipart upload and aborts it unless it was finished: on an error
/// path explicitly, and from `Drop` when the writing future is cancelled (client gone).
struct AbortOnDrop(Option<WriteMultipart>);

impl AbortOnDrop {
    fn get(&mut self) -> Result<&mut WriteMultipart, BackendError> {
        self.0.as_mut().ok_or_else(closed)
    }

    fn take(&mut self) -> Result<WriteMultipart, BackendError> {
        self.0.take().ok_or_else(closed)
    }

    async fn abort(&mut self, path: &Path) {
        if let Some(upload) = self.0.take()
            && let Err(err) = upload.abort().await
        {
            // The write already failed; report that failure, not the cleanup's.
            tracing::warn!(%path, error = %err, "could not abort multipart upload");
        }
    }
}

fn closed() -> BackendError {
    BackendError::Other("multipart upload already closed".to_owned())
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(upload) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(err) = upload.abort().await {
                    tracing::warn!(error = %err, "could not abort cancelled multipart upload");
                }
            });
        }
    }
}
