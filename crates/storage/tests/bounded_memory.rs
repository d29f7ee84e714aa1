//! Blobs far larger than the memory a write may use pass through the filesystem backend
//! while the process's peak resident memory stays flat.
//!
//! This is its own test binary with a single test so the peak-memory reading (`VmHWM`)
//! is not disturbed by tests running alongside it.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use registry_core::blobs::StagedPart;
use registry_core::{ByteStream, Digest};
use sha2::{Digest as _, Sha256};
use storage::{StorageConfig, open};

const MIB: u64 = 1 << 20;
/// Each half is staged as its own part, then both are concatenated into one blob.
const HALF: u64 = 256 * MIB;
/// Allowed peak growth: the writer holds ~3 chunks of 8 MiB; the rest is slack for the
/// runtime and allocator, still far below the 512 MiB that pass through.
const ALLOWED_GROWTH: u64 = 96 * MIB;

/// `len` bytes in fresh 1 MiB allocations, so any chunk kept alive shows up in RSS.
fn generated(len: u64, seed: u8) -> ByteStream {
    let chunks = len / MIB;
    stream::iter(0..chunks)
        .map(move |i| Ok(Bytes::from(vec![seed.wrapping_add(i as u8); MIB as usize])))
        .boxed()
}

fn expected_digest(parts: &[(u64, u8)]) -> Digest {
    let mut hasher = Sha256::new();
    for &(len, seed) in parts {
        for i in 0..len / MIB {
            hasher.update(vec![seed.wrapping_add(i as u8); MIB as usize]);
        }
    }
    Digest::from_sha256(&hasher.finalize())
}

/// Peak resident set size of this process so far.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(&StorageConfig::Filesystem {
        root: dir.path().join("blobs"),
    })
    .await
    .unwrap();
    // Computed up front (it allocates too) so it cannot blur the measurement.
    let digest = expected_digest(&[(HALF, 1), (HALF, 2)]);
    let before = peak_rss();

    let a = blobs
        .write_part("big", "a", 0, generated(HALF, 1))
        .await
        .unwrap();
    let b = blobs
        .write_part("big", "b", HALF, generated(HALF, 2))
        .await
        .unwrap();
    assert_eq!((a, b), (HALF, HALF));
    let parts = [
        StagedPart {
            id: "a".into(),
            size: a,
        },
        StagedPart {
            id: "b".into(),
            size: b,
        },
    ];
    blobs.commit("big", &parts, &digest).await.unwrap();
    blobs.delete_upload("big").await.unwrap();
    assert_eq!(blobs.blob_size(&digest).await.unwrap(), Some(2 * HALF));

    let hasher = blobs
        .read(&digest, None)
        .await
        .unwrap()
        .try_fold(Sha256::new(), |mut hasher, chunk| async move {
            hasher.update(&chunk);
            Ok(hasher)
        })
        .await
        .unwrap();
    assert_eq!(Digest::from_sha256(&hasher.finalize()), digest);

    let growth = peak_rss().saturating_sub(before);
    assert!(
        growth < ALLOWED_GROWTH,
        "peak memory grew by {} MiB while streaming {} MiB",
        growth / MIB,
        2 * HALF / MIB
    );
    eprintln!(
        "peak memory grew by {} MiB for {} MiB written, concatenated and read",
        growth / MIB,
        2 * HALF / MIB
    );
}
