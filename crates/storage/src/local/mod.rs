//! The filesystem backend's data path, done directly on files instead of through
//! object_store's generic local store.
//!
//! object_store stays in charge of listing, heads and deletes; the byte-moving paths live
//! here because its generic versions cost too much on a single disk: reads in small
//! blocking pieces, writes through 8 MiB multipart buffers, and upload commits that read
//! every staged part back through the same small reads. Here a read reads ahead in large
//! buffers, every chunk of an upload is appended to one file from a short queue, and a
//! commit renames that file to the blob's name.
//!
//! Durability matches object_store's `with_fsync(true)`: an appended chunk is synced
//! before the database records it, and a blob's directory after the blob appears in it.

mod append;
mod commit;
mod read;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use registry_core::BackendError;

pub(crate) use append::append;
pub(crate) use commit::commit;
pub(crate) use read::read;

/// Removes whatever an upload staged: its data file and, from versions that staged into a
/// directory per upload (`_uploads/<id>/`), that directory. Missing is fine: a retry or
/// another replica may have removed it first.
pub(crate) async fn remove_staged(root: &Path, upload_id: &str) -> Result<(), BackendError> {
    let data = data_file(root, upload_id)?;
    let prefix = crate::layout::upload_prefix(upload_id)?;
    let legacy_dir = file_of(root, &prefix);
    let removed = tokio::task::spawn_blocking(move || {
        for result in [
            std::fs::remove_file(&data),
            std::fs::remove_dir_all(&legacy_dir),
        ] {
            match result {
                Err(err) if err.kind() != ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        Ok(())
    })
    .await
    .map_err(|err| BackendError::Other(format!("removing upload {upload_id}: {err}")))?;
    removed.map_err(|err| io_error(err, &prefix))
}

/// The file of the object store key `key` under `root`. Keys are built by `layout` from
/// checked segments, so joining them cannot leave the root.
fn file_of(root: &Path, key: &object_store::path::Path) -> PathBuf {
    root.join(key.as_ref())
}

/// The file an upload's chunks are appended to.
fn data_file(root: &Path, upload_id: &str) -> Result<PathBuf, BackendError> {
    Ok(file_of(root, &crate::layout::upload_data_path(upload_id)?))
}

/// Makes a new directory entry in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `path`'s parent directories when missing. Tried twice: a directory emptied by
/// object_store's delete of its last file is removed with it, and can vanish between
/// creating it and creating a child inside it.
fn ensure_parent(path: &Path) -> std::io::Result<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    match std::fs::create_dir_all(parent) {
        Err(err) if err.kind() == ErrorKind::NotFound => std::fs::create_dir_all(parent),
        other => other,
    }
}

fn io_error(err: std::io::Error, what: &object_store::path::Path) -> BackendError {
    match err.kind() {
        ErrorKind::NotFound => BackendError::NotFound(what.to_string()),
        _ => BackendError::Other(format!("{what}: {err}")),
    }
}
