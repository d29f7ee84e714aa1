//! End-to-end test harness for Berth: it runs the real `berth` binary (built by
//! `cargo build -p gateway`) and drives it with real clients.
//!
//! - [`BerthServer`] starts `berth serve` on a free port with its own data directory and
//!   either the embedded backends (SQLite + filesystem) or Postgres + S3, waits until
//!   `/health/ready` answers, and kills it on drop. `kill_hard` and `restart` support
//!   crash tests; `start_replica` starts a second process on the same database and bucket.
//! - [`RegistryClient`] is a small OCI distribution client over reqwest that follows the
//!   Docker token flow, for exact protocol assertions. It fails the test on any 5xx.
//! - [`ApiClient`] calls the Harbor-compatible admin API (`/api/v2.0`) with Basic
//!   credentials: users, projects, members, robot accounts, the audit log.
//! - [`Docker`] and [`Skopeo`] run the real CLIs against the private engine started by
//!   `tests/services/dockerd-up.sh`.
//!
//! Services come from the environment that `bash tests/run.sh` sets up: `DOCKER_HOST`,
//! `BERTH_TEST_DATABASE_URL` and `BERTH_TEST_S3_*`. A test that needs one of them fails with
//! a message saying how to provide it; none is skipped silently.

pub mod admin;
pub mod client;
pub mod docker;
pub mod env;
pub mod oci;
pub mod process;
pub mod raw;
pub mod server;

pub use admin::{ApiClient, Role};
pub use client::{RegistryClient, Resp};
pub use docker::{Docker, Skopeo};
pub use oci::{Blob, Image};
pub use server::{Backend, BerthServer};

use std::future::Future;
use std::time::Duration;

/// Upper bound for one ordinary end-to-end test, start-up included. Generous for a loaded
/// 2-core machine; its purpose is to turn a hang into a failure, not to measure speed.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(240);

/// Runs `test` and fails if it takes longer than `limit`, so a server that stops answering
/// fails one test instead of stalling the whole suite.
pub async fn with_timeout<F: Future<Output = ()>>(limit: Duration, test: F) {
    if tokio::time::timeout(limit, test).await.is_err() {
        panic!("test did not finish within {limit:?}");
    }
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn name(Backend)` of
/// the calling file, as `embedded::name` and `postgres_s3::name`, each bounded by
/// [`TEST_TIMEOUT`]. Filter with `cargo test -p berth-e2e embedded` (or `postgres_s3`).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::with_timeout($crate::TEST_TIMEOUT, super::$name($crate::Backend::Embedded)).await
                }
            )+
        }
        mod postgres_s3 {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::with_timeout($crate::TEST_TIMEOUT, super::$name($crate::Backend::PostgresS3)).await
                }
            )+
        }
    };
}
