//! Berth's blob store: the [`registry_core::BlobStore`] contract on the `object_store`
//! crate, for the local filesystem (single node), any S3-compatible object store (scale
//! out) and memory (tests).
//!
//! Final blobs live at `blobs/sha256/<2 hex>/<64 hex>`, staged upload parts at
//! `_uploads/<upload id>/<part id>` (on the filesystem, one `_uploads/<upload id>.data`). Everything is streamed with bounded memory, and an
//! object becomes visible only once completely written.

mod config;
mod error;
mod layout;
mod local;
mod open;
mod store;
mod writer;

#[cfg(test)]
mod tests;

pub use config::{
    DEFAULT_REDIRECT_TTL_SECS, MAX_REDIRECT_TTL_SECS, RedirectConfig, S3Config, StorageConfig,
};
pub use error::StorageError;
pub use open::open;
pub use store::ObjectBlobStore;
