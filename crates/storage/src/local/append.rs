//! Streaming a chunk of an upload onto the end of the upload's data file.
//!
//! Every part of an upload is appended to one file, `_uploads/<id>/data`, which becomes
//! the blob by a rename at commit: each byte is written (and synced) once, where staging
//! parts as separate files would copy them all again at commit.
//!
//! The body is received on the async side and handed over a short queue to one blocking
//! thread that writes it, so receiving and writing overlap and memory stays at the
//! queue's few chunks whatever the body's size.
//!
//! Appends are safe against concurrent requests for the same upload: the writer holds an
//! exclusive lock on the file while it writes, starts only if the file ends exactly where
//! the part must start, and cuts the file back to that point if the body fails or the
//! request is cancelled. The database records the part only after this returns, so the
//! file never ends before the recorded offset; if it ends after it, another request got
//! there first (or a crashed one left bytes behind) and the write is refused.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use bytes::Bytes;
use futures::StreamExt;
use registry_core::{BackendError, ByteStream};
use tokio::sync::mpsc;

use super::{data_file, ensure_parent};
use crate::error::body_error;
use crate::writer::coalesced;

/// Chunks queued between the receiving and the writing side. Body chunks are at most a
/// few hundred KiB, so a full queue holds a few MiB.
const QUEUE_DEPTH: usize = 8;

/// Write buffer: coalesces the small chunks a slow client sends into large writes;
/// larger chunks bypass it.
const WRITE_BUFFER: usize = 256 * 1024;

/// After this many bytes of one body, and after each further this many, a helper thread
/// starts writing what is in the page cache to the disk (see [`SyncAhead`]).
const SYNC_AHEAD_EVERY: u64 = 32 << 20;

enum Message {
    Data(Bytes),
    /// Sent once the whole body arrived; without it the writer undoes its append.
    Keep,
}

/// Why the blocking side of an append or a commit stopped.
pub(super) enum Refused {
    /// The file does not end at the part's offset, or is no longer the upload's file.
    Conflict(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for Refused {
    fn from(err: std::io::Error) -> Self {
        Self::Io(err)
    }
}

/// Appends `body` to the data file of `upload_id`, which must end at `offset`, and returns
/// the number of bytes appended once they are synced to disk.
pub(crate) async fn append(
    root: &Path,
    upload_id: &str,
    offset: u64,
    body: ByteStream,
) -> Result<u64, BackendError> {
    let path = data_file(root, upload_id)?;
    let (queue, received) = mpsc::channel(QUEUE_DEPTH);
    let writer = tokio::task::spawn_blocking(move || append_file(&path, offset, received));

    let forwarded = forward(body, &queue).await;
    if forwarded.is_ok() {
        // Fails only if the writer already stopped on an error, which joining it reports.
        let _ = queue.send(Message::Keep).await;
    }
    // Dropping the queue without `Keep` makes the writer undo its append. If this future
    // is itself dropped mid-body (the client went away), the same happens.
    drop(queue);
    let outcome = writer
        .await
        .map_err(|err| BackendError::Other(format!("upload {upload_id}: writer failed: {err}")))?;
    let received = match (forwarded, &outcome) {
        // Refusing before reading the body is the real answer, not the cut-off body.
        (_, Err(Refused::Conflict(message))) => {
            return Err(BackendError::Conflict(message.clone()));
        }
        (Err(body_failure), _) => return Err(body_failure),
        (Ok(received), _) => received,
    };
    match outcome {
        Ok(Some(written)) if written == received => Ok(written),
        Ok(Some(written)) => Err(BackendError::Other(format!(
            "upload {upload_id}: wrote {written} bytes of a {received}-byte body"
        ))),
        Ok(None) => Err(BackendError::Other(format!(
            "upload {upload_id}: write stopped early"
        ))),
        Err(Refused::Io(err)) => Err(BackendError::Other(format!(
            "upload {upload_id}: writing staged data: {err}"
        ))),
        Err(Refused::Conflict(message)) => Err(BackendError::Conflict(message)),
    }
}

/// Passes the body's chunks to the writer; returns the body's length, or its failure.
/// Small pieces are copied together first (see [`coalesced`]): one queue hand-off per
/// piece made a body sent in one-byte chunks cost minutes.
async fn forward(body: ByteStream, queue: &mpsc::Sender<Message>) -> Result<u64, BackendError> {
    let mut body = std::pin::pin!(coalesced(body));
    let mut received = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(body_error)?;
        received += chunk.len() as u64;
        if queue.send(Message::Data(chunk)).await.is_err() {
            // The writer stopped; joining it tells why.
            break;
        }
    }
    Ok(received)
}

/// The blocking side. Returns the bytes appended and synced, or `None` when the sender
/// went away without `Keep` (the append was undone).
fn append_file(
    path: &Path,
    offset: u64,
    mut received: mpsc::Receiver<Message>,
) -> Result<Option<u64>, Refused> {
    let file = open_locked(path, true)?;
    let len = file.metadata()?.len();
    if len != offset {
        return Err(Refused::Conflict(format!(
            "staged data ends at {len}, the chunk starts at {offset}"
        )));
    }
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
    out.seek(SeekFrom::Start(offset))?;
    let mut written = 0u64;
    let mut sync_ahead = SyncAhead::default();
    let kept = loop {
        match received.blocking_recv() {
            Some(Message::Data(chunk)) => {
                if let Err(err) = out.write_all(&chunk) {
                    undo(out.get_ref(), path, offset);
                    return Err(err.into());
                }
                written += chunk.len() as u64;
                sync_ahead.wrote(out.get_ref(), written);
            }
            Some(Message::Keep) => break true,
            None => break false,
        }
    };
    let file = match out.into_inner() {
        Ok(file) => file,
        Err(err) => {
            let (error, writer) = err.into_parts();
            undo(writer.get_ref(), path, offset);
            return Err(error.into());
        }
    };
    if !kept {
        undo(&file, path, offset);
        return Ok(None);
    }
    if let Err(err) = file.sync_data() {
        undo(&file, path, offset);
        return Err(err.into());
    }
    // The lock is released when `file` closes.
    Ok(Some(written))
}

/// Gets a large body onto the disk while it is still arriving.
///
/// The data is synced once, at the end, before the part is recorded. Without help the
/// kernel starts writing dirty pages back only when they reach a share of the RAM
/// (gigabytes on a server), so the disk idled while the body arrived and the whole body
/// was written during that final sync: receive time plus disk time. Past
/// [`SYNC_AHEAD_EVERY`] bytes a helper thread syncs the file in the background each time
/// another such amount has been written, so the disk works while the network does and the
/// final sync finds little left. Small bodies never start the helper.
#[derive(Default)]
struct SyncAhead {
    /// Wakes the helper; `None` until the first threshold (or if it could not start).
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    /// Bytes written when the helper was last woken.
    requested_at: u64,
}

impl SyncAhead {
    fn wrote(&mut self, file: &File, written: u64) {
        if written < self.requested_at + SYNC_AHEAD_EVERY {
            return;
        }
        self.requested_at = written;
        if self.wake.is_none() {
            self.wake = Self::start(file);
        }
        if let Some(wake) = &self.wake {
            // Full means a sync is already pending, which covers these bytes too.
            let _ = wake.try_send(());
        }
    }

    /// The helper syncs its own handle of the file until the writer drops the sender. Its
    /// errors are not reported: the writer's final sync fails the same way, and that one
    /// decides. If the thread cannot start, the body is simply synced at the end.
    fn start(file: &File) -> Option<std::sync::mpsc::SyncSender<()>> {
        let handle = file.try_clone().ok()?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("berth-sync-ahead".to_owned())
            .spawn(move || {
                while woken.recv().is_ok() {
                    let _ = handle.sync_data();
                }
            })
            .ok()?;
        Some(wake)
    }
}

/// Opens the upload's data file (creating it if asked) and takes its exclusive lock, then
/// checks the file is still the one at `path`: a commit renames it to a blob while
/// holding the lock, and appending to the renamed file would change a published blob.
pub(super) fn open_locked(path: &Path, create: bool) -> Result<File, Refused> {
    if create {
        ensure_parent(path)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)?;
    file.lock()?;
    let current = std::fs::metadata(path);
    let held = file.metadata()?;
    match current {
        Ok(meta) if meta.ino() == held.ino() && meta.dev() == held.dev() => Ok(file),
        Ok(_) | Err(_) => Err(Refused::Conflict(
            "the upload was committed or removed meanwhile".to_owned(),
        )),
    }
}

/// Cuts the file back to where this append started, so a failed or cancelled chunk leaves
/// the upload as it was and the client can send the chunk again. A failed first chunk
/// removes the file, so an abandoned upload leaves no empty file behind (an append
/// waiting for the lock then finds the name gone and is refused).
fn undo(file: &File, path: &Path, offset: u64) {
    let undone = if offset == 0 {
        std::fs::remove_file(path)
    } else {
        file.set_len(offset)
    };
    if let Err(err) = undone {
        // The next append at `offset` will be refused as a conflict; the client restarts
        // the upload. Nothing committed is affected.
        tracing::warn!(path = %path.display(), error = %err, "could not undo a failed append");
    }
}
