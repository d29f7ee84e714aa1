//! Contract tests of the blob store on the memory and filesystem backends.
//!
//! Every scenario is an `async fn(&Fixture)`; `backend_tests!` runs each one on both
//! backends. Writes use tiny multipart chunks so that even small bodies span several
//! parts and the chunking, concatenation and abort paths all run.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use registry_core::blobs::StagedPart;
use registry_core::{BackendError, BlobStore, ByteStream, Digest};
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;

use crate::config::{MAX_REDIRECT_TTL_SECS, RedirectConfig, S3Config, StorageConfig};
use crate::store::ObjectBlobStore;
use crate::writer::WriteTuning;
use crate::{StorageError, open};

const TINY: WriteTuning = WriteTuning {
    chunk_size: 1000,
    max_in_flight: 2,
};

struct Fixture {
    blobs: ObjectBlobStore,
    /// The same backend, for looking behind the store's back.
    raw: Arc<dyn ObjectStore>,
    /// Filesystem backend only: the root, for checks object_store listings cannot make.
    root: Option<PathBuf>,
    /// Bytes staged so far per upload: where the next part starts, as the core tracks it.
    offsets: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    _dir: Option<TempDir>,
}

async fn memory() -> Fixture {
    let raw: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    Fixture {
        blobs: ObjectBlobStore::new(raw.clone()).with_tuning(TINY),
        raw,
        root: None,
        offsets: Default::default(),
        _dir: None,
    }
}

async fn filesystem() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let local = LocalFileSystem::new_with_prefix(&root)
        .unwrap()
        .with_automatic_cleanup(true);
    let raw: Arc<dyn ObjectStore> = Arc::new(local);
    Fixture {
        blobs: ObjectBlobStore::filesystem(raw.clone(), root.clone()).with_tuning(TINY),
        raw,
        root: Some(root),
        offsets: Default::default(),
        _dir: Some(dir),
    }
}

fn body(chunks: &[&[u8]]) -> ByteStream {
    let owned: Vec<Result<Bytes, std::io::Error>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(owned).boxed()
}

/// Deterministic, non-repeating-looking test content.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

fn digest_of(bytes: &[u8]) -> Digest {
    Digest::from_sha256(&Sha256::digest(bytes))
}

fn upload_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn collect(stream: ByteStream) -> Vec<u8> {
    stream
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
        .unwrap()
}

/// Where the next part of `upload` starts.
fn offset_of(fx: &Fixture, upload: &str) -> u64 {
    fx.offsets.lock().unwrap().get(upload).copied().unwrap_or(0)
}

async fn stage(fx: &Fixture, upload: &str, part: &str, data: &[u8]) -> StagedPart {
    // Split the body into uneven pieces, as a network would.
    let pieces: Vec<&[u8]> = data.chunks(777).collect();
    let written = fx
        .blobs
        .write_part(upload, part, offset_of(fx, upload), body(&pieces))
        .await
        .unwrap();
    assert_eq!(written, data.len() as u64);
    *fx.offsets
        .lock()
        .unwrap()
        .entry(upload.to_owned())
        .or_default() += written;
    StagedPart {
        id: part.to_owned(),
        size: written,
    }
}

async fn keys_under(fx: &Fixture, prefix: &str) -> Vec<String> {
    let prefix = Path::from(prefix);
    let mut keys: Vec<String> = fx
        .raw
        .list(Some(&prefix))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

/// Every file below `dir`, including the hidden `#` staging files of the filesystem
/// backend that object_store listings skip.
fn files_below(dir: &FsPath) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Asserts that nothing of `upload` remains: no listed object, and on the filesystem no
/// file at all (not even a half-written staging file) and no directory.
async fn assert_upload_gone(fx: &Fixture, upload: &str) {
    let prefix = format!("_uploads/{upload}");
    assert_eq!(keys_under(fx, &prefix).await, Vec::<String>::new());
    if let Some(root) = &fx.root {
        let dir = root.join("_uploads").join(upload);
        assert_eq!(files_below(&dir), Vec::<PathBuf>::new());
        let data = root.join("_uploads").join(format!("{upload}.data"));
        assert!(!data.exists(), "{} is left", data.display());
    }
}

// ---------------------------------------------------------------------------------------

async fn write_part_stages_under_the_upload(fx: &Fixture) {
    let upload = upload_id();
    let data = pattern(2500, 1);
    stage(fx, &upload, "p1", &data).await;
    // The filesystem appends every part to one data file; object stores keep each part.
    let key = match fx.root {
        Some(_) => format!("_uploads/{upload}.data"),
        None => format!("_uploads/{upload}/p1"),
    };
    assert_eq!(keys_under(fx, "_uploads").await, vec![key.clone()]);
    let stored = fx
        .raw
        .get(&Path::from(key))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), data.as_slice());
}

async fn commit_single_part(fx: &Fixture) {
    let upload = upload_id();
    let data = pattern(4321, 2);
    let digest = digest_of(&data);
    let part = stage(fx, &upload, "only", &data).await;

    assert_eq!(fx.blobs.blob_size(&digest).await.unwrap(), None);
    // The commit leaves nothing staged (checked below).
    fx.blobs.commit(&upload, &[part], &digest).await.unwrap();

    assert_eq!(fx.blobs.blob_size(&digest).await.unwrap(), Some(4321));
    assert_eq!(
        collect(fx.blobs.read(&digest, None).await.unwrap()).await,
        data
    );
    let hex = digest.hex();
    assert_eq!(
        keys_under(fx, "blobs").await,
        vec![format!("blobs/sha256/{}/{hex}", &hex[..2])]
    );
    assert_upload_gone(fx, &upload).await;
    if let Some(root) = &fx.root {
        let on_disk = root.join("blobs/sha256").join(&hex[..2]).join(hex);
        assert_eq!(std::fs::read(on_disk).unwrap(), data);
    }
}

async fn commit_several_parts_concatenates(fx: &Fixture) {
    let upload = upload_id();
    let pieces = [
        pattern(2999, 3),
        pattern(1, 4),
        pattern(1000, 5),
        pattern(4001, 6),
    ];
    let whole: Vec<u8> = pieces.concat();
    let digest = digest_of(&whole);
    let mut parts = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        parts.push(stage(fx, &upload, &format!("part-{i}"), piece).await);
    }

    fx.blobs.commit(&upload, &parts, &digest).await.unwrap();

    assert_eq!(
        fx.blobs.blob_size(&digest).await.unwrap(),
        Some(whole.len() as u64)
    );
    let read = collect(fx.blobs.read(&digest, None).await.unwrap()).await;
    assert_eq!(digest_of(&read), digest);
    assert_upload_gone(fx, &upload).await;
}

/// Bodies and blobs larger than every buffer and queue of the data path (256 KiB reads
/// and writes, a few chunks queued), in pieces of the sizes a network delivers, come back
/// byte for byte, whole and in ranges across buffer boundaries, and leave no staging file.
async fn large_blobs_cross_every_buffer(fx: &Fixture) {
    let upload = upload_id();
    let first = pattern(1_300_000, 21);
    let second = pattern(700_001, 22);
    let mut parts = Vec::new();
    for (i, data) in [&first, &second].into_iter().enumerate() {
        let pieces: Vec<&[u8]> = data.chunks(65_536 + 17).collect();
        let written = fx
            .blobs
            .write_part(
                &upload,
                &format!("big-{i}"),
                offset_of(fx, &upload),
                body(&pieces),
            )
            .await
            .unwrap();
        assert_eq!(written, data.len() as u64);
        fx.offsets.lock().unwrap().insert(upload.clone(), written);
        parts.push(StagedPart {
            id: format!("big-{i}"),
            size: written,
        });
    }
    let whole = [first.as_slice(), second.as_slice()].concat();
    let digest = digest_of(&whole);
    fx.blobs.commit(&upload, &parts, &digest).await.unwrap();

    assert_eq!(
        collect(fx.blobs.read(&digest, None).await.unwrap()).await,
        whole
    );
    for (start, end) in [(262_143, 262_145), (100, 1_900_000), (1_299_990, 2_000_001)] {
        let read = collect(fx.blobs.read(&digest, Some(start..end)).await.unwrap()).await;
        assert_eq!(read, whole[start as usize..end as usize], "{start}..{end}");
    }
    if let Some(root) = &fx.root {
        let leftovers: Vec<PathBuf> = files_below(root)
            .into_iter()
            .filter(|path| !path.starts_with(root.join("blobs")))
            .collect();
        assert_eq!(leftovers, Vec::<PathBuf>::new());
        assert_eq!(files_below(&root.join("blobs")).len(), 1);
    }
}

/// A body in many more pieces than the write queue holds, and bodies around the size of
/// the filesystem's write buffer (256 KiB), are staged byte for byte.
async fn bodies_in_many_pieces_and_around_the_write_buffer(fx: &Fixture) {
    for (len, piece) in [(20_000, 13), (262_143, 4096), (262_144, 4096), (262_145, 1)] {
        let upload = upload_id();
        let data = pattern(len, (len % 251) as u8);
        let pieces: Vec<&[u8]> = data.chunks(piece).collect();
        let written = fx
            .blobs
            .write_part(&upload, "p", 0, body(&pieces))
            .await
            .unwrap();
        assert_eq!(written, len as u64);
        let digest = digest_of(&data);
        let part = StagedPart {
            id: "p".into(),
            size: written,
        };
        fx.blobs.commit(&upload, &[part], &digest).await.unwrap();
        assert_eq!(
            collect(fx.blobs.read(&digest, None).await.unwrap()).await,
            data,
            "{len} bytes in pieces of {piece}"
        );
        assert_upload_gone(fx, &upload).await;
    }
}

async fn empty_blob_from_no_parts_or_an_empty_part(fx: &Fixture) {
    let digest = digest_of(b"");
    fx.blobs.commit(&upload_id(), &[], &digest).await.unwrap();
    assert_eq!(fx.blobs.blob_size(&digest).await.unwrap(), Some(0));
    fx.blobs.delete_blob(&digest).await.unwrap();

    // The core stages one zero-length part for an empty blob.
    let upload = upload_id();
    let part = stage(fx, &upload, "empty", b"").await;
    assert_eq!(part.size, 0);
    fx.blobs.commit(&upload, &[part], &digest).await.unwrap();
    assert_upload_gone(fx, &upload).await;
    assert_eq!(fx.blobs.blob_size(&digest).await.unwrap(), Some(0));
    assert!(
        collect(fx.blobs.read(&digest, None).await.unwrap())
            .await
            .is_empty()
    );
}

async fn commit_of_an_existing_blob_is_a_no_op(fx: &Fixture) {
    let data = pattern(1500, 7);
    let digest = digest_of(&data);
    let first = upload_id();
    let part = stage(fx, &first, "a", &data).await;
    fx.blobs.commit(&first, &[part], &digest).await.unwrap();

    // Parts that do not even exist: the existing blob wins without touching them.
    let ghost = StagedPart {
        id: "ghost".into(),
        size: 3,
    };
    fx.blobs
        .commit(&upload_id(), &[ghost], &digest)
        .await
        .unwrap();
    assert_eq!(
        collect(fx.blobs.read(&digest, None).await.unwrap()).await,
        data
    );
    assert_upload_gone(fx, &first).await;

    // A second upload of the same bytes: its staged copy is dropped, the blob stays.
    let second = upload_id();
    let part = stage(fx, &second, "b", &data).await;
    fx.blobs.commit(&second, &[part], &digest).await.unwrap();
    assert_upload_gone(fx, &second).await;
    assert_eq!(
        collect(fx.blobs.read(&digest, None).await.unwrap()).await,
        data
    );
}

async fn commit_with_a_missing_part_fails_and_publishes_nothing(fx: &Fixture) {
    let upload = upload_id();
    let data = pattern(1200, 8);
    let missing = StagedPart {
        id: "missing".into(),
        size: 10,
    };
    let digest = digest_of(b"never");

    // Nothing was staged at all.
    let single = fx
        .blobs
        .commit(&upload, std::slice::from_ref(&missing), &digest)
        .await;
    assert!(
        matches!(single, Err(BackendError::NotFound(_))),
        "{single:?}"
    );
    let present = stage(fx, &upload, "present", &data).await;
    let several = fx.blobs.commit(&upload, &[present, missing], &digest).await;
    // Object stores miss the part's object; the filesystem's data file is too short.
    assert!(
        matches!(
            several,
            Err(BackendError::NotFound(_) | BackendError::Other(_))
        ),
        "{several:?}"
    );
    assert_eq!(fx.blobs.blob_size(&digest).await.unwrap(), None);
    assert_eq!(keys_under(fx, "blobs").await, Vec::<String>::new());
}

async fn commit_refuses_parts_of_another_size(fx: &Fixture) {
    let upload = upload_id();
    let a = stage(fx, &upload, "a", &pattern(1500, 9)).await;
    let mut b = stage(fx, &upload, "b", &pattern(500, 10)).await;
    b.size += 1;
    let digest = digest_of(b"whatever");
    let result = fx.blobs.commit(&upload, &[a, b], &digest).await;
    assert!(matches!(result, Err(BackendError::Other(_))), "{result:?}");
    assert_eq!(fx.blobs.blob_size(&digest).await.unwrap(), None);
}

async fn range_reads(fx: &Fixture) {
    let upload = upload_id();
    let first = pattern(3000, 11);
    let second = pattern(2000, 12);
    let whole = [first.clone(), second.clone()].concat();
    let digest = digest_of(&whole);
    let parts = vec![
        stage(fx, &upload, "one", &first).await,
        stage(fx, &upload, "two", &second).await,
    ];
    fx.blobs.commit(&upload, &parts, &digest).await.unwrap();

    let read = |start: u64, end: u64| {
        let blobs = &fx.blobs;
        let digest = digest.clone();
        async move { collect(blobs.read(&digest, Some(start..end)).await.unwrap()).await }
    };
    assert_eq!(read(0, 10).await, &whole[..10]);
    // Across the boundary between the two staged parts, and across write chunks.
    assert_eq!(read(2990, 3010).await, &whole[2990..3010]);
    assert_eq!(read(999, 4001).await, &whole[999..4001]);
    assert_eq!(read(4990, 5000).await, &whole[4990..]);
    // Past the end is clamped, as in HTTP.
    assert_eq!(read(4990, 9999).await, &whole[4990..]);
    assert!(read(17, 17).await.is_empty());

    let beyond = fx.blobs.read(&digest, Some(5000..5010)).await;
    assert!(matches!(beyond, Err(BackendError::Other(_))));
    #[allow(clippy::reversed_empty_ranges)]
    let inverted = fx.blobs.read(&digest, Some(10..5)).await;
    assert!(matches!(inverted, Err(BackendError::Other(_))));
}

async fn missing_blobs(fx: &Fixture) {
    let digest = digest_of(b"absent");
    assert_eq!(fx.blobs.blob_size(&digest).await.unwrap(), None);
    assert!(matches!(
        fx.blobs.read(&digest, None).await,
        Err(BackendError::NotFound(_))
    ));
    assert!(matches!(
        fx.blobs.read(&digest, Some(0..1)).await,
        Err(BackendError::NotFound(_))
    ));
    assert!(matches!(
        fx.blobs.read(&digest, Some(0..0)).await,
        Err(BackendError::NotFound(_))
    ));
}

async fn delete_blob_is_idempotent(fx: &Fixture) {
    let data = pattern(100, 13);
    let digest = digest_of(&data);
    let upload = upload_id();
    let part = stage(fx, &upload, "x", &data).await;
    fx.blobs.commit(&upload, &[part], &digest).await.unwrap();

    fx.blobs.delete_blob(&digest).await.unwrap();
    assert_eq!(fx.blobs.blob_size(&digest).await.unwrap(), None);
    fx.blobs.delete_blob(&digest).await.unwrap();
    fx.blobs
        .delete_blob(&digest_of(b"never stored"))
        .await
        .unwrap();
}

async fn delete_upload_removes_only_that_upload(fx: &Fixture) {
    // "ab" is a string prefix of "abc": the listing must respect segment boundaries.
    for part in ["p1", "p2", "p3"] {
        stage(fx, "ab", part, &pattern(1100, 14)).await;
    }
    stage(fx, "abc", "keep", b"other upload").await;

    fx.blobs.delete_upload("ab").await.unwrap();
    assert_upload_gone(fx, "ab").await;
    let kept = match fx.root {
        Some(_) => "_uploads/abc.data",
        None => "_uploads/abc/keep",
    };
    assert_eq!(keys_under(fx, "_uploads").await, vec![kept]);
    if let Some(root) = &fx.root {
        assert!(!root.join("_uploads/ab").exists());
        assert!(!root.join("_uploads/ab.data").exists());
    }

    fx.blobs.delete_upload("ab").await.unwrap();
    fx.blobs.delete_upload("never-started").await.unwrap();
}

/// A body that yields `good` bytes in small pieces, then fails like a dropped connection.
/// `data` in `piece`-byte pieces, then a failing item of `kind` saying `message`.
fn pieces_then_failure(
    data: &[u8],
    piece: usize,
    kind: std::io::ErrorKind,
    message: &str,
) -> ByteStream {
    let pieces: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(piece)
        .map(|p| Ok(Bytes::copy_from_slice(p)))
        .chain([Err(std::io::Error::new(kind, message))])
        .collect();
    stream::iter(pieces).boxed()
}

fn failing_body(good: usize) -> ByteStream {
    pieces_then_failure(
        &pattern(good, 15),
        300,
        std::io::ErrorKind::ConnectionReset,
        "client hung up",
    )
}

async fn failing_body_aborts_and_leaves_nothing(fx: &Fixture) {
    // 150,000 bytes in 300-byte pieces: past the coalescing of small pieces, so the
    // multipart upload has started when the body fails.
    for good in [0, 10, 4500, 150_000] {
        let upload = upload_id();
        let result = fx
            .blobs
            .write_part(&upload, "p", 0, failing_body(good))
            .await;
        assert!(
            matches!(&result, Err(BackendError::Body(m)) if m.contains("hung up")),
            "{result:?}"
        );
        // object_store's filesystem abort removes its staging file on a blocking thread.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_upload_gone(fx, &upload).await;
        fx.blobs.delete_upload(&upload).await.unwrap();
        if let Some(root) = &fx.root {
            assert!(!root.join("_uploads").join(&upload).exists());
        }
    }
}

async fn cancelled_write_leaves_nothing(fx: &Fixture) {
    let upload = upload_id();
    // Some data (past the coalescing of small pieces), then a client that stalls forever.
    let stalled = stream::iter(vec![Ok(Bytes::from(pattern(70_000, 16)))])
        .chain(stream::pending())
        .boxed();
    let write = fx.blobs.write_part(&upload, "p", 0, stalled);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), write)
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_upload_gone(fx, &upload).await;
}

/// `data` in uneven pieces, then a failing item: how a monolithic upload's stream ends
/// when its bytes are not the blob its digest names.
fn failing_at_the_end(data: &[u8]) -> ByteStream {
    pieces_then_failure(
        data,
        777,
        std::io::ErrorKind::InvalidData,
        "the body is not the blob its digest names",
    )
}

async fn write_blob_publishes_the_body(fx: &Fixture) {
    // Above the multipart chunk (1000 bytes here) and within it.
    for (len, seed) in [(4500, 30), (600, 31)] {
        let upload = upload_id();
        let data = pattern(len, seed);
        let digest = digest_of(&data);
        let pieces: Vec<&[u8]> = data.chunks(777).collect();
        let written = fx
            .blobs
            .write_blob(&upload, &digest, body(&pieces))
            .await
            .unwrap();
        assert_eq!(written, len as u64);
        assert_eq!(fx.blobs.blob_size(&digest).await.unwrap(), Some(len as u64));
        assert_eq!(
            collect(fx.blobs.read(&digest, None).await.unwrap()).await,
            data
        );
        assert_upload_gone(fx, &upload).await;
    }
}

async fn write_blob_failing_at_the_end_publishes_nothing(fx: &Fixture) {
    for (len, seed) in [(4500, 32), (600, 33), (0, 34)] {
        let upload = upload_id();
        let data = pattern(len, seed);
        let digest = digest_of(&data);
        let result = fx
            .blobs
            .write_blob(&upload, &digest, failing_at_the_end(&data))
            .await;
        assert!(
            matches!(&result, Err(BackendError::Body(m)) if m.contains("not the blob")),
            "{result:?}"
        );
        assert_eq!(
            fx.blobs.blob_size(&digest).await.unwrap(),
            None,
            "{len} bytes"
        );
        assert_eq!(keys_under(fx, "blobs").await, Vec::<String>::new());
        tokio::time::sleep(Duration::from_millis(50)).await;
        fx.blobs.delete_upload(&upload).await.unwrap();
        assert_upload_gone(fx, &upload).await;
    }
}

async fn write_blob_of_an_existing_blob_keeps_it(fx: &Fixture) {
    let data = pattern(2500, 35);
    let digest = digest_of(&data);
    let first = upload_id();
    let part = stage(fx, &first, "first", &data).await;
    fx.blobs.commit(&first, &[part], &digest).await.unwrap();
    let hex = digest.hex();
    let key = Path::from(format!("blobs/sha256/{}/{hex}", &hex[..2]));
    let before = fx.raw.head(&key).await.unwrap();

    // Read to the end (where a monolithic upload's check runs), and not written again.
    let again = upload_id();
    let pieces: Vec<&[u8]> = data.chunks(777).collect();
    let read = fx
        .blobs
        .write_blob(&again, &digest, body(&pieces))
        .await
        .unwrap();
    assert_eq!(read, 2500);
    assert_upload_gone(fx, &again).await;
    let failed = fx
        .blobs
        .write_blob(&upload_id(), &digest, failing_at_the_end(&data))
        .await;
    assert!(matches!(&failed, Err(BackendError::Body(_))), "{failed:?}");
    let after = fx.raw.head(&key).await.unwrap();
    assert_eq!(
        (after.e_tag, after.last_modified),
        (before.e_tag, before.last_modified)
    );
    assert_eq!(
        collect(fx.blobs.read(&digest, None).await.unwrap()).await,
        data
    );
}

async fn invalid_ids_are_rejected(fx: &Fixture) {
    let digest = digest_of(b"x");
    for bad in ["", "../etc", "a/b", "a.b", "a#1", "sp ace"] {
        let write = fx.blobs.write_part(bad, "p", 0, body(&[b"x"])).await;
        assert!(matches!(write, Err(BackendError::Other(_))), "{bad:?}");
        let write = fx.blobs.write_part("u", bad, 0, body(&[b"x"])).await;
        assert!(matches!(write, Err(BackendError::Other(_))), "{bad:?}");
        let part = StagedPart {
            id: bad.to_owned(),
            size: 1,
        };
        let commit = fx.blobs.commit("u", &[part], &digest).await;
        assert!(matches!(commit, Err(BackendError::Other(_))), "{bad:?}");
        let commit = fx.blobs.commit(bad, &[], &digest).await;
        assert!(matches!(commit, Err(BackendError::Other(_))), "{bad:?}");
        let delete = fx.blobs.delete_upload(bad).await;
        assert!(matches!(delete, Err(BackendError::Other(_))), "{bad:?}");
    }
    assert_eq!(keys_under(fx, "").await.len(), 0);
}

async fn ping_answers(fx: &Fixture) {
    fx.blobs.ping().await.unwrap();
}

macro_rules! backend_tests {
    ($($scenario:ident),* $(,)?) => {
        mod memory_backend {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(&super::memory().await).await;
                }
            )*
        }
        mod filesystem_backend {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(&super::filesystem().await).await;
                }
            )*
        }
    };
}

backend_tests!(
    write_part_stages_under_the_upload,
    commit_single_part,
    commit_several_parts_concatenates,
    large_blobs_cross_every_buffer,
    bodies_in_many_pieces_and_around_the_write_buffer,
    empty_blob_from_no_parts_or_an_empty_part,
    commit_of_an_existing_blob_is_a_no_op,
    commit_with_a_missing_part_fails_and_publishes_nothing,
    commit_refuses_parts_of_another_size,
    range_reads,
    missing_blobs,
    delete_blob_is_idempotent,
    delete_upload_removes_only_that_upload,
    failing_body_aborts_and_leaves_nothing,
    cancelled_write_leaves_nothing,
    write_blob_publishes_the_body,
    write_blob_failing_at_the_end_publishes_nothing,
    write_blob_of_an_existing_blob_keeps_it,
    invalid_ids_are_rejected,
    ping_answers,
);

// --- abort bookkeeping ------------------------------------------------------------------

/// Wraps the memory store and records what happens to multipart uploads, because an
/// upload that was neither completed nor aborted is invisible in listings (on S3 it would
/// linger, and cost money, until a lifecycle rule removes it).
#[derive(Debug, Default)]
struct Recording {
    inner: InMemory,
    started: AtomicUsize,
    /// Single-request writes.
    puts: AtomicUsize,
    /// Server-side copies.
    copies: AtomicUsize,
    completed: Arc<AtomicUsize>,
    aborted: Arc<AtomicUsize>,
}

impl std::fmt::Display for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recording({})", self.inner)
    }
}

#[derive(Debug)]
struct RecordedUpload {
    inner: Box<dyn MultipartUpload>,
    completed: Arc<AtomicUsize>,
    aborted: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl MultipartUpload for RecordedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.completed.fetch_add(1, Ordering::SeqCst);
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.aborted.fetch_add(1, Ordering::SeqCst);
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for Recording {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.started.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(RecordedUpload {
            inner: self.inner.put_multipart_opts(location, opts).await?,
            completed: self.completed.clone(),
            aborted: self.aborted.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.copies.fetch_add(1, Ordering::SeqCst);
        self.inner.copy_opts(from, to, options).await
    }
}

fn recording() -> (Arc<Recording>, ObjectBlobStore) {
    let recording = Arc::new(Recording::default());
    let blobs = ObjectBlobStore::new(recording.clone()).with_tuning(TINY);
    (recording, blobs)
}

#[tokio::test]
async fn every_multipart_upload_is_completed_or_aborted() {
    let (rec, blobs) = recording();
    let upload = upload_id();
    let a = blobs
        .write_part(&upload, "a", 0, body(&[&pattern(2500, 20)]))
        .await
        .unwrap();
    let b = blobs
        .write_part(&upload, "b", 2500, body(&[&pattern(10, 21)]))
        .await
        .unwrap();
    // One piece large enough to pass the coalescing of small pieces, then a failure.
    let failing = stream::iter([
        Ok(Bytes::from(pattern(70_000, 22))),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client hung up",
        )),
    ])
    .boxed();
    let failed = blobs.write_part(&upload, "c", 2510, failing).await;
    assert!(matches!(failed, Err(BackendError::Body(_))));
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
    // A concatenation that finds a part of the wrong size must not publish a blob.
    let wrong = [
        StagedPart {
            id: "a".into(),
            size: a + 1,
        },
        parts[1].clone(),
    ];
    assert!(
        blobs
            .commit(&upload, &wrong, &digest_of(b"x"))
            .await
            .is_err()
    );
    let whole = [pattern(2500, 20), pattern(10, 21)].concat();
    blobs
        .commit(&upload, &parts, &digest_of(&whole))
        .await
        .unwrap();

    // Multipart: part a, the failed part c, the wrong and the right concatenation. The
    // 10-byte part b fits in one chunk and went up in a single PUT.
    assert_eq!(rec.started.load(Ordering::SeqCst), 4);
    assert_eq!(rec.completed.load(Ordering::SeqCst), 2);
    assert_eq!(rec.aborted.load(Ordering::SeqCst), 2);
    assert_eq!(rec.puts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_blob_written_in_one_step_is_written_once() {
    let (rec, blobs) = recording();
    let large = pattern(4500, 23);
    let small = pattern(600, 24);
    for data in [&large, &small] {
        blobs
            .write_blob(&upload_id(), &digest_of(data), body(&[data]))
            .await
            .unwrap();
    }
    // The large blob through one multipart upload, the small one in one PUT, straight to
    // their keys: nothing staged, nothing copied.
    assert_eq!(rec.started.load(Ordering::SeqCst), 1);
    assert_eq!(rec.completed.load(Ordering::SeqCst), 1);
    assert_eq!(rec.puts.load(Ordering::SeqCst), 1);
    assert_eq!(rec.copies.load(Ordering::SeqCst), 0);

    // A staged upload of the same size is copied to its key at commit.
    let upload = upload_id();
    let data = pattern(4500, 25);
    let size = blobs
        .write_part(&upload, "p", 0, body(&[&data]))
        .await
        .unwrap();
    let part = StagedPart {
        id: "p".into(),
        size,
    };
    blobs
        .commit(&upload, &[part], &digest_of(&data))
        .await
        .unwrap();
    assert_eq!(rec.copies.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_cancelled_write_is_aborted() {
    let (rec, blobs) = recording();
    // A piece large enough to start the multipart upload, then a client that stalls.
    let stalled = stream::iter(vec![Ok(Bytes::from(pattern(70_000, 22)))])
        .chain(stream::pending())
        .boxed();
    let write = blobs.write_part("u", "p", 0, stalled);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), write)
            .await
            .is_err()
    );
    // The abort runs on a spawned task; give it a moment.
    for _ in 0..100 {
        if rec.aborted.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rec.started.load(Ordering::SeqCst), 1);
    assert_eq!(rec.aborted.load(Ordering::SeqCst), 1);
    assert_eq!(rec.completed.load(Ordering::SeqCst), 0);
}

// --- open() and backend-specific behaviour ----------------------------------------------

#[tokio::test]
async fn open_filesystem_creates_the_root_and_works_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("nested/data/blobs");
    let blobs = open(&StorageConfig::Filesystem { root: root.clone() })
        .await
        .unwrap();
    assert!(root.is_dir());
    blobs.ping().await.unwrap();

    let data = pattern(20_000, 17);
    let digest = digest_of(&data);
    let written = blobs
        .write_part("u1", "p1", 0, body(&[&data]))
        .await
        .unwrap();
    let part = StagedPart {
        id: "p1".into(),
        size: written,
    };
    blobs.commit("u1", &[part], &digest).await.unwrap();
    assert_eq!(
        collect(blobs.read(&digest, None).await.unwrap()).await,
        data
    );
    assert!(!root.join("_uploads/u1").exists());
    assert!(!root.join("_uploads/u1.data").exists());
    // One file per upload, no directory: only `_uploads` itself is ever created for it.
    let entries: Vec<_> = std::fs::read_dir(root.join("_uploads")).unwrap().collect();
    assert!(entries.is_empty(), "{entries:?}");
}

#[tokio::test]
async fn filesystem_removes_a_staging_directory_of_earlier_versions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let blobs = open(&StorageConfig::Filesystem { root: root.clone() })
        .await
        .unwrap();
    // Earlier versions staged into `_uploads/<id>/` (a data file, or object-store parts).
    let legacy = root.join("_uploads/old-upload");
    std::fs::create_dir_all(&legacy).unwrap();
    std::fs::write(legacy.join("data"), b"partial").unwrap();
    std::fs::write(legacy.join("0123abcd"), b"part").unwrap();
    blobs.delete_upload("old-upload").await.unwrap();
    assert!(!legacy.exists());
    assert!(root.join("_uploads").is_dir());
}

/// The length of the filesystem backend's data file of `upload`, if it exists.
fn data_len(fx: &Fixture, upload: &str) -> Option<u64> {
    let root = fx.root.as_ref().expect("filesystem fixture");
    std::fs::metadata(root.join("_uploads").join(format!("{upload}.data")))
        .ok()
        .map(|meta| meta.len())
}

#[tokio::test]
async fn filesystem_refuses_a_chunk_that_does_not_start_where_the_data_ends() {
    let fx = filesystem().await;
    let upload = upload_id();
    let first = pattern(1000, 30);
    stage(&fx, &upload, "a", &first).await;
    // A stale offset (a racing request that lost) and one past the end are both refused
    // before any byte is written.
    for offset in [0, 999, 1001] {
        let result = fx
            .blobs
            .write_part(&upload, "late", offset, body(&[b"intruder"]))
            .await;
        assert!(
            matches!(result, Err(BackendError::Conflict(_))),
            "offset {offset}: {result:?}"
        );
        assert_eq!(data_len(&fx, &upload), Some(1000));
    }
    let second = pattern(500, 31);
    let b = stage(&fx, &upload, "b", &second).await;
    let whole = [first.as_slice(), second.as_slice()].concat();
    let digest = digest_of(&whole);
    let a = StagedPart {
        id: "a".into(),
        size: 1000,
    };
    fx.blobs.commit(&upload, &[a, b], &digest).await.unwrap();
    assert_eq!(
        collect(fx.blobs.read(&digest, None).await.unwrap()).await,
        whole
    );
}

#[tokio::test]
async fn filesystem_undoes_a_failed_or_cancelled_chunk() {
    let fx = filesystem().await;
    let upload = upload_id();
    let first = pattern(2000, 32);
    stage(&fx, &upload, "a", &first).await;

    let failed = fx
        .blobs
        .write_part(&upload, "b", 2000, failing_body(4500))
        .await;
    assert!(matches!(failed, Err(BackendError::Body(_))), "{failed:?}");
    assert_eq!(data_len(&fx, &upload), Some(2000));

    let stalled = stream::iter(vec![Ok(Bytes::from(pattern(5000, 33)))])
        .chain(stream::pending())
        .boxed();
    let write = fx.blobs.write_part(&upload, "c", 2000, stalled);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), write)
            .await
            .is_err()
    );
    // The writer notices the cancellation on its own thread.
    for _ in 0..100 {
        if data_len(&fx, &upload) == Some(2000) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(data_len(&fx, &upload), Some(2000));

    // The client sends the chunk again and the upload completes intact.
    let second = pattern(3000, 34);
    let b = stage(&fx, &upload, "b", &second).await;
    let whole = [first.as_slice(), second.as_slice()].concat();
    let digest = digest_of(&whole);
    let a = StagedPart {
        id: "a".into(),
        size: 2000,
    };
    fx.blobs.commit(&upload, &[a, b], &digest).await.unwrap();
    assert_eq!(
        collect(fx.blobs.read(&digest, None).await.unwrap()).await,
        whole
    );
}

#[tokio::test]
async fn filesystem_concurrent_chunks_at_one_offset_never_mix() {
    let fx = std::sync::Arc::new(filesystem().await);
    let upload = upload_id();
    // Each writer sends a distinct byte pattern in many pieces, all at offset 0.
    let writers: Vec<_> = (0..4u8)
        .map(|i| {
            let fx = fx.clone();
            let upload = upload.clone();
            tokio::spawn(async move {
                let data = vec![b'a' + i; 300_000];
                let pieces: Vec<&[u8]> = data.chunks(10_000).collect();
                let result = fx
                    .blobs
                    .write_part(&upload, &format!("w{i}"), 0, body(&pieces))
                    .await;
                (i, result)
            })
        })
        .collect();
    let mut won = Vec::new();
    for writer in writers {
        let (i, result) = writer.await.unwrap();
        match result {
            Ok(n) => won.push((i, n)),
            Err(BackendError::Conflict(_)) => {}
            Err(other) => panic!("writer {i}: {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one writer appends: {won:?}");
    let (winner, size) = won[0];
    let root = fx.root.as_ref().unwrap();
    let stored = std::fs::read(root.join("_uploads").join(format!("{upload}.data"))).unwrap();
    assert_eq!(size, 300_000);
    assert!(stored.iter().all(|&b| b == b'a' + winner) && stored.len() == 300_000);
}

#[tokio::test]
async fn filesystem_append_after_commit_cannot_change_the_blob() {
    let fx = filesystem().await;
    let upload = upload_id();
    let data = pattern(1500, 35);
    let part = stage(&fx, &upload, "a", &data).await;
    let digest = digest_of(&data);
    fx.blobs.commit(&upload, &[part], &digest).await.unwrap();
    // A chunk arriving after the commit starts a new data file and is refused there;
    // the blob keeps its bytes.
    let late = fx
        .blobs
        .write_part(&upload, "late", 1500, body(&[b"more"]))
        .await;
    assert!(matches!(late, Err(BackendError::Conflict(_))), "{late:?}");
    assert_eq!(
        collect(fx.blobs.read(&digest, None).await.unwrap()).await,
        data
    );
    fx.blobs.delete_upload(&upload).await.unwrap();
    assert_upload_gone(&fx, &upload).await;
}

#[tokio::test]
async fn open_filesystem_fails_when_the_root_cannot_be_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let result = open(&StorageConfig::Filesystem {
        root: file.join("sub"),
    })
    .await;
    assert!(matches!(result, Err(StorageError::CreateRoot { .. })));
}

#[tokio::test]
async fn filesystem_ping_notices_a_vanished_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("blobs");
    let blobs = open(&StorageConfig::Filesystem { root: root.clone() })
        .await
        .unwrap();
    std::fs::remove_dir(&root).unwrap();
    assert!(blobs.ping().await.is_err());
}

#[tokio::test]
async fn open_memory() {
    let blobs = open(&StorageConfig::Memory).await.unwrap();
    blobs.ping().await.unwrap();
}

fn s3_config(port: u16) -> S3Config {
    S3Config {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        bucket: "berth".into(),
        region: "us-east-1".into(),
        access_key: Some("key".into()),
        secret_key: Some("secret".into()),
        allow_http: true,
        virtual_hosted_style: false,
        redirect: None,
    }
}

#[tokio::test]
async fn s3_config_is_checked_when_opening() {
    let half = S3Config {
        secret_key: None,
        ..s3_config(9)
    };
    assert!(matches!(
        open(&StorageConfig::S3(half)).await,
        Err(StorageError::Config(_))
    ));
    let no_bucket = S3Config {
        bucket: String::new(),
        ..s3_config(9)
    };
    assert!(matches!(
        open(&StorageConfig::S3(no_bucket)).await,
        Err(StorageError::Config(_))
    ));
    let https_only = S3Config {
        allow_http: false,
        ..s3_config(9)
    };
    let store = open(&StorageConfig::S3(https_only)).await.unwrap();
    assert!(store.ping().await.is_err());
}

#[tokio::test]
async fn presigned_downloads_only_when_configured() {
    let digest = Digest::of(b"layer");
    let plain = open(&StorageConfig::S3(s3_config(9))).await.unwrap();
    assert_eq!(plain.download_url(&digest).await.unwrap(), None);
    let memory = open(&StorageConfig::Memory).await.unwrap();
    assert_eq!(memory.download_url(&digest).await.unwrap(), None);

    // Signing needs no server: the URL names the clients' endpoint, the blob's key and
    // the lifetime, and carries a signature.
    let redirecting = S3Config {
        redirect: Some(RedirectConfig {
            endpoint: Some("https://s3.example.com".into()),
            ttl_secs: 600,
        }),
        ..s3_config(9)
    };
    let store = open(&StorageConfig::S3(redirecting)).await.unwrap();
    let url = store.download_url(&digest).await.unwrap().expect("a URL");
    let hex = digest.hex();
    let expected = format!(
        "https://s3.example.com/berth/blobs/sha256/{}/{hex}?",
        &hex[..2]
    );
    assert!(url.starts_with(&expected), "{url}");
    assert!(url.contains("X-Amz-Expires=600"), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(
        !url.contains("secret"),
        "the secret key must not appear: {url}"
    );
}

#[tokio::test]
async fn redirect_lifetimes_outside_what_sigv4_allows_are_refused() {
    for ttl_secs in [0, MAX_REDIRECT_TTL_SECS + 1] {
        let config = S3Config {
            redirect: Some(RedirectConfig {
                endpoint: None,
                ttl_secs,
            }),
            ..s3_config(9)
        };
        let opened = open(&StorageConfig::S3(config)).await;
        assert!(
            matches!(&opened, Err(StorageError::Config(m)) if m.contains("ttl_secs")),
            "{ttl_secs}: {:?}",
            opened.err()
        );
    }
}

#[tokio::test]
async fn s3_that_refuses_connections_is_unavailable() {
    // Bind and drop a listener to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Opening does not contact the server, so start-up survives a store that is down.
    let store = open(&StorageConfig::S3(s3_config(port))).await.unwrap();
    let result = store.ping().await;
    assert!(
        matches!(result, Err(BackendError::Unavailable(_))),
        "{result:?}"
    );
}

/// A body past the size at which the filesystem backend syncs ahead on a helper thread
/// (while the writer keeps appending, and is cut back afterwards for a failed second
/// chunk) comes back byte for byte.
#[tokio::test]
async fn filesystem_body_synced_ahead_while_written_is_intact() {
    let fx = filesystem().await;
    let upload = upload_id();
    let data = pattern(80 << 20, 31);
    let pieces: Vec<&[u8]> = data.chunks(1 << 20).collect();
    let written = fx
        .blobs
        .write_part(&upload, "big", 0, body(&pieces))
        .await
        .unwrap();
    assert_eq!(written, data.len() as u64);
    // A second large chunk that fails midway leaves the first exactly as it was.
    let result = fx
        .blobs
        .write_part(&upload, "more", written, failing_body(40 << 20))
        .await;
    assert!(matches!(result, Err(BackendError::Body(_))), "{result:?}");
    assert_eq!(data_len(&fx, &upload), Some(written));

    let digest = digest_of(&data);
    let part = StagedPart {
        id: "big".into(),
        size: written,
    };
    fx.blobs.commit(&upload, &[part], &digest).await.unwrap();
    let read = collect(fx.blobs.read(&digest, None).await.unwrap()).await;
    assert!(read == data, "the blob differs from the body");
}
