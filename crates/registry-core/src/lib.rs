//! Berth's OCI distribution domain and its `/v2` HTTP surface.
//!
//! This crate knows the protocol (names, digests, manifests, upload sessions, error codes)
//! and talks to the outside world only through three traits:
//! [`MetadataStore`] (the metadata database), [`BlobStore`] (content-addressed bytes) and
//! [`Authorizer`] (who may do what). It never imports sqlx or object_store; the `projects`,
//! `storage` and `token-auth` crates implement the traits and the gateway wires them.

pub mod auth;
pub mod blobs;
pub mod digest;
pub mod error;
pub mod events;
pub mod hashing;
pub mod http;
pub mod manifest;
pub mod meta;
pub mod name;
pub mod service;

pub use auth::{Action, Authorizer, Grant, Principal, Resource};
pub use blobs::{BackendError, BlobStore, ByteStream};
pub use digest::Digest;
pub use error::{ErrorCode, RegistryError};
pub use events::{EventKind, EventSink, NoEvents, RegistryEvent};
pub use meta::MetadataStore;
pub use name::{Reference, RepoName, Tag};
pub use service::Registry;
