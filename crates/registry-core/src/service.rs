//! The registry's use cases, independent of HTTP.
use std::sync::Arc;

use crate::auth::Authorizer;
use crate::blobs::BlobStore;
use crate::meta::MetadataStore;

/// The registry: metadata, blobs and the authorizer, shared by every request.
#[derive(Clone)]
pub struct Registry {
    pub meta: Arc<dyn MetadataStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub auth: Arc<dyn Authorizer>,
}
