//! Reading blobs: object_store's local backend streams a file in small blocking reads,
//! which held pulls to about a third of the disk's speed. Blobs are immutable once
//! committed, so reading the file directly is safe.
//!
//! One blocking thread reads ahead into a short queue while the async side sends what
//! was read, so reading the file and writing the socket overlap instead of taking turns.
//! When the client goes away the queue closes and the reader stops.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use bytes::Bytes;
use futures::stream;
use registry_core::{BackendError, ByteStream};
use tokio::sync::mpsc;

use super::{file_of, io_error};

/// Bytes per read and per body chunk: large enough that per-chunk costs (a queue hand-off,
/// a socket write) are negligible, small enough that many concurrent pulls stay cheap.
const READ_BUFFER: usize = 256 * 1024;

/// Chunks read ahead of the socket; with the chunk being sent and the one being read,
/// a pull holds at most `(READ_AHEAD + 2) * READ_BUFFER` bytes.
const READ_AHEAD: usize = 4;

/// Streams the object at `path` under `root`, whole or the byte range `range` (an end
/// past the file is clamped; a start at or past the end fails, as on object stores).
pub(crate) async fn read(
    root: &Path,
    path: &object_store::path::Path,
    range: Option<Range<u64>>,
) -> Result<ByteStream, BackendError> {
    let file_path = file_of(root, path);
    // Open, size and seek in one blocking hop; errors are reported before any byte.
    let opened = tokio::task::spawn_blocking(move || open_range(&file_path, range))
        .await
        .map_err(|err| BackendError::Other(format!("{path}: reader task failed: {err}")))?;
    let (file, remaining) = match opened {
        Ok(Opened::Ready(file, remaining)) => (file, remaining),
        Ok(Opened::StartPastEnd { start, len }) => {
            return Err(BackendError::Other(format!(
                "range start {start} is past the end of {path} ({len} bytes)"
            )));
        }
        Err(err) => return Err(io_error(err, path)),
    };
    let (chunks, received) = mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || read_ahead(file, remaining, &chunks));
    Ok(Box::pin(stream::unfold(
        received,
        |mut received| async move { received.recv().await.map(|chunk| (chunk, received)) },
    )))
}

enum Opened {
    Ready(File, u64),
    StartPastEnd { start: u64, len: u64 },
}

fn open_range(path: &Path, range: Option<Range<u64>>) -> std::io::Result<Opened> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let (start, end) = match range {
        None => (0, len),
        Some(r) if r.start >= len => {
            return Ok(Opened::StartPastEnd {
                start: r.start,
                len,
            });
        }
        Some(r) => (r.start, r.end.min(len)),
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start))?;
    }
    Ok(Opened::Ready(file, end - start))
}

/// The blocking side: reads `remaining` bytes in `READ_BUFFER` pieces into the queue.
/// A file shorter than announced ends the stream with an error, never silently short.
fn read_ahead(
    mut file: File,
    mut remaining: u64,
    chunks: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    while remaining > 0 {
        let want = remaining.min(READ_BUFFER as u64) as usize;
        // Read into uninitialised capacity: zeroing each buffer first (BytesMut::zeroed)
        // cost more CPU than the reads themselves once the allocator reuses memory.
        // `read_to_end` on a `take` stops at `want` bytes without growing the buffer.
        let mut buf = Vec::with_capacity(want);
        let outcome = match (&mut file).take(want as u64).read_to_end(&mut buf) {
            Ok(0) => Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                "blob file ended early",
            )),
            Ok(n) => {
                remaining -= n as u64;
                Ok(Bytes::from(buf))
            }
            Err(err) => Err(err),
        };
        let failed = outcome.is_err();
        // A closed queue means the client went away: stop reading.
        if chunks.blocking_send(outcome).is_err() || failed {
            return;
        }
    }
}
