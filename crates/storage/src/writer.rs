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
//!
//! Small pieces of the stream are copied together first (see [`coalesced`]), so what is
//! buffered is a few large blocks whatever the sender's framing.

use bytes::{Bytes, BytesMut};
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
    let mut source = std::pin::pin!(coalesced(source));
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

/// Pieces smaller than this are copied into blocks of at least this size.
const COALESCE_BELOW: usize = 64 * 1024;

/// `source` with its small pieces copied together into blocks of [`COALESCE_BELOW`] bytes
/// or more; larger pieces pass through as they are, and the order is kept.
///
/// A client may send its body in one-byte pieces (HTTP chunked encoding allows it), and
/// the server hands each over as its own `Bytes`, a view into the read buffer it came
/// from. Buffered as they arrived, a chunk of 8 MiB became millions of entries, each
/// keeping its read buffer alive: a 4 MB blob pushed that way took Berth's memory from
/// 30 to 293 MB. Copied together, the pieces are freed as they arrive.
pub(crate) fn coalesced<S, E>(source: S) -> impl Stream<Item = Result<Bytes, E>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    struct State<S> {
        source: std::pin::Pin<Box<S>>,
        /// A small piece not copied yet: a body that is one small piece (most blobs of an
        /// image) goes on as it came.
        lone: Option<Bytes>,
        block: BytesMut,
        /// A large piece that arrived while a block was filling, sent right after it.
        next: Option<Bytes>,
        ended: bool,
    }
    impl<S> State<S> {
        /// What has gathered so far, if anything.
        fn take_gathered(&mut self) -> Option<Bytes> {
            match self.lone.take() {
                Some(piece) => Some(piece),
                None if self.block.is_empty() => None,
                None => Some(self.block.split().freeze()),
            }
        }
    }
    let start = State {
        source: Box::pin(source),
        lone: None,
        block: BytesMut::new(),
        next: None,
        ended: false,
    };
    futures::stream::unfold(start, |mut state| async move {
        if let Some(piece) = state.next.take() {
            return Some((Ok(piece), state));
        }
        if state.ended {
            return None;
        }
        loop {
            match state.source.next().await {
                Some(Ok(piece)) if piece.len() >= COALESCE_BELOW => match state.take_gathered() {
                    None => return Some((Ok(piece), state)),
                    Some(gathered) => {
                        state.next = Some(piece);
                        return Some((Ok(gathered), state));
                    }
                },
                Some(Ok(piece)) => {
                    if state.lone.is_none() && state.block.is_empty() {
                        state.lone = Some(piece);
                        continue;
                    }
                    if let Some(lone) = state.lone.take() {
                        state.block.extend_from_slice(&lone);
                    }
                    state.block.extend_from_slice(&piece);
                    if state.block.len() >= COALESCE_BELOW {
                        let block = state.block.split().freeze();
                        return Some((Ok(block), state));
                    }
                }
                Some(Err(err)) => {
                    state.ended = true;
                    return Some((Err(err), state));
                }
                None => {
                    state.ended = true;
                    return state.take_gathered().map(|gathered| (Ok(gathered), state));
                }
            }
        }
    })
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

#[cfg(test)]
mod tests {
    use futures::{StreamExt, stream};

    use super::*;

    async fn run(pieces: Vec<Result<Bytes, &'static str>>) -> Vec<Result<Bytes, &'static str>> {
        coalesced(stream::iter(pieces)).collect().await
    }

    #[tokio::test]
    async fn one_byte_pieces_become_large_blocks() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let pieces = data
            .iter()
            .map(|b| Ok(Bytes::copy_from_slice(&[*b])))
            .collect();
        let blocks: Vec<Bytes> = run(pieces).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(blocks.len(), 4, "200,000 bytes in blocks of 64 KiB");
        for block in &blocks[..3] {
            assert_eq!(block.len(), COALESCE_BELOW);
        }
        assert_eq!(blocks.concat(), data);
    }

    #[tokio::test]
    async fn large_pieces_pass_through_in_order() {
        let large = Bytes::from(vec![7u8; COALESCE_BELOW * 2]);
        let out = run(vec![
            Ok(Bytes::from_static(b"head ")),
            Ok(Bytes::from_static(b"of it")),
            Ok(large.clone()),
            Ok(Bytes::from_static(b"tail")),
        ])
        .await;
        let out: Vec<Bytes> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], Bytes::from_static(b"head of it"));
        // The same memory, not a copy.
        assert_eq!(out[1].as_ptr(), large.as_ptr());
        assert_eq!(out[2], Bytes::from_static(b"tail"));
    }

    #[tokio::test]
    async fn a_lone_small_piece_is_not_copied() {
        let piece = Bytes::from(vec![1u8; 1000]);
        let out = run(vec![Ok(piece.clone())]).await;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap().as_ptr(), piece.as_ptr());
    }

    #[tokio::test]
    async fn an_error_ends_the_stream() {
        let out = run(vec![
            Ok(Bytes::from_static(b"some")),
            Err("client hung up"),
            Ok(Bytes::from_static(b"never")),
        ])
        .await;
        assert_eq!(out, vec![Err("client hung up")]);
        assert!(run(Vec::new()).await.is_empty());
    }
}
