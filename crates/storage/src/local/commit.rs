//! Making a finished upload a blob on the filesystem: its data file, which holds every
//! part in order, is renamed to the blob's name. No byte is copied, and nothing stays
//! staged. All of it happens in one blocking step (each step is a hand-off to another
//! thread, which for a small image costs more than the file operations themselves).

use std::io::ErrorKind;
use std::path::Path;

use registry_core::BackendError;
use registry_core::blobs::StagedPart;

use super::append::{Refused, open_locked};
use super::{data_file, ensure_parent, file_of, sync_dir};
use crate::layout;

/// Makes `dest` (a blob key) hold the staged data of `upload_id`, whose recorded parts are
/// `parts`. The data was synced part by part as it was appended. When `dest` exists
/// already (blobs are immutable, so it holds these very bytes), the staged data is
/// removed instead.
pub(crate) async fn commit(
    root: &Path,
    upload_id: &str,
    parts: &[StagedPart],
    dest: &object_store::path::Path,
) -> Result<(), BackendError> {
    // Part ids name nothing on the filesystem, but are checked as on every store.
    for part in parts {
        layout::part_path(upload_id, &part.id)?;
    }
    let recorded: u64 = parts.iter().map(|part| part.size).sum();
    let data = data_file(root, upload_id)?;
    let dest_file = file_of(root, dest);
    let outcome = tokio::task::spawn_blocking(move || publish(&data, recorded, &dest_file))
        .await
        .map_err(|err| BackendError::Other(format!("committing {dest}: task failed: {err}")))?;
    outcome.map_err(|refused| match refused {
        Refused::Io(err) if err.kind() == ErrorKind::NotFound => {
            BackendError::NotFound(format!("staged data of upload {upload_id}"))
        }
        Refused::Io(err) => BackendError::Other(format!("committing {dest}: {err}")),
        Refused::Conflict(message) => BackendError::Conflict(message),
    })
}

fn publish(data: &Path, recorded: u64, dest: &Path) -> Result<(), Refused> {
    if dest.try_exists()? {
        return match std::fs::remove_file(data) {
            Err(err) if err.kind() != ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        };
    }
    // Holding the lock keeps appends out while the file changes its name; an append
    // waiting for it finds the name gone and is refused.
    let file = open_locked(data, false)?;
    let len = file.metadata()?.len();
    if len < recorded {
        return Err(Refused::Io(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("staged data holds {len} bytes, {recorded} were recorded"),
        )));
    }
    if len > recorded {
        // Left by an append that crashed before it could be undone: never recorded, so
        // not part of the blob.
        file.set_len(recorded)?;
        file.sync_all()?;
    }
    ensure_parent(dest)?;
    std::fs::rename(data, dest)?;
    if let Some(dir) = dest.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}
