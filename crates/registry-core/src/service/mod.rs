//! The registry's use cases, independent of HTTP: upload sessions, blobs, manifests and
//! listings. Handlers in [`crate::http`] extract, call one of these, and map the result.

mod blobs;
mod listing;
mod manifests;
mod upload_body;
mod uploads;

use std::sync::Arc;

use crate::auth::Authorizer;
use crate::blobs::BlobStore;
use crate::events::{EventSink, NoEvents};
use crate::meta::MetadataStore;

pub use listing::Page;
pub use manifests::StoredManifest;
pub use uploads::{ChunkRange, UploadState};

/// The registry: metadata, blobs and the authorizer, shared by every request.
#[derive(Clone)]
pub struct Registry {
    pub meta: Arc<dyn MetadataStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub auth: Arc<dyn Authorizer>,
    pub events: Arc<dyn EventSink>,
}

impl Registry {
    /// A registry that reports no events; see [`with_events`](Self::with_events).
    pub fn new(
        meta: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        auth: Arc<dyn Authorizer>,
    ) -> Self {
        Self {
            meta,
            blobs,
            auth,
            events: Arc::new(NoEvents),
        }
    }

    /// Reports pushes, pulls and deletions to `events`.
    pub fn with_events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }
}

/// Current time in unix seconds.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
