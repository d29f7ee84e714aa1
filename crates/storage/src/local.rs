//! Reading blobs straight from the filesystem backend.
//!
//! object_store's local backend streams a file in small blocking reads, which held
//! pulls to about a third of the disk's speed. Blobs are immutable once committed, so
//! reading the file directly with large buffers is safe and as fast as the disk.

use std::io::{ErrorKind, SeekFrom};
use std::ops::Range;
use std::path::Path;

use futures::StreamExt;
use registry_core::{BackendError, ByteStream};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Read buffer per request: large enough that the per-read thread hand-off of tokio's
/// file I/O is negligible, small enough that many concurrent pulls stay cheap.
const READ_BUFFER: usize = 256 * 1024;

/// Streams the object at `path` under `root`, whole or the byte range `range` (an end
/// past the file is clamped; a start at or past the end fails, as on object stores).
pub(crate) async fn read(
    root: &Path,
    path: &object_store::path::Path,
    range: Option<Range<u64>>,
) -> Result<ByteStream, BackendError> {
    let file_path = root.join(path.as_ref());
    let mut file = tokio::fs::File::open(&file_path)
        .await
        .map_err(|e| io_error(e, path))?;
    let len = file.metadata().await.map_err(|e| io_error(e, path))?.len();
    let (start, end) = match range {
        None => (0, len),
        Some(r) if r.start >= len => {
            return Err(BackendError::Other(format!(
                "range start {} is past the end of {path} ({len} bytes)",
                r.start
            )));
        }
        Some(r) => (r.start, r.end.min(len)),
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(|e| io_error(e, path))?;
    }
    Ok(ReaderStream::with_capacity(file.take(end - start), READ_BUFFER).boxed())
}

fn io_error(err: std::io::Error, path: &object_store::path::Path) -> BackendError {
    match err.kind() {
        ErrorKind::NotFound => BackendError::NotFound(path.to_string()),
        _ => BackendError::Other(format!("reading {path}: {err}")),
    }
}
