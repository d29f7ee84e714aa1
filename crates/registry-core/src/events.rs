//! What happened on `/v2`, reported to whoever records audit logs and pull statistics.
//!
//! Reporting must never slow or fail a request: implementations queue the event and
//! return at once (the gateway batches them into the database in the background).

use std::net::IpAddr;

use crate::digest::Digest;
use crate::name::RepoName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A manifest was pushed (with the tag it was pushed to, if any).
    Push,
    /// A manifest was downloaded (GET, not HEAD).
    Pull,
    /// A manifest or tag was deleted.
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEvent {
    pub kind: EventKind,
    pub repository: RepoName,
    pub digest: Digest,
    pub tag: Option<String>,
    /// Account name from the token; empty for anonymous.
    pub actor: String,
    pub client_ip: Option<IpAddr>,
}

pub trait EventSink: Send + Sync + 'static {
    /// Queues an event. Must not block.
    fn record(&self, event: RegistryEvent);
}

/// Discards events (tests, tools).
pub struct NoEvents;

impl EventSink for NoEvents {
    fn record(&self, _event: RegistryEvent) {}
}
