//! `berth-bench`: measures an OCI registry by URL (Berth or any other) with Basic or
//! Docker token authentication, one scenario at a time, and compares several targets
//! side by side. See docs/performance.md for how it is run and what each scenario means.
//!
//! The pieces that need no server (challenge parsing, percentiles, the random stream,
//! chunk ranges, /proc parsing) are unit-tested here; the load itself only runs from
//! the `berth-bench` binary.

pub mod api;
pub mod challenge;
pub mod client;
pub mod dataset;
pub mod measure;
pub mod metadata;
pub mod oci;
pub mod procfs;
pub mod random;
pub mod report;
pub mod scenarios;
pub mod seed;
pub mod stats;
pub mod units;
pub mod upload;
