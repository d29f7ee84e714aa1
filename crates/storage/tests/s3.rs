//! The blob store against a real S3-compatible server.
//!
//! Needs a server: run through `tests/run.sh`, or by hand with
//! `eval "$(bash tests/services/s3-up.sh)"`, `cargo test -p storage --test s3`, and
//! `eval "$S3_STOP"`. Without the `BERTH_TEST_S3_*` variables every test fails on purpose,
//! so a missing server can never pass as a green run.
//!
//! The blob layout is fixed, so tests keep out of each other's way (and out of earlier
//! runs' way) through fresh upload ids and content with a per-run random seed.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use registry_core::blobs::StagedPart;
use registry_core::{BackendError, BlobStore, ByteStream, Digest};
use sha2::{Digest as _, Sha256};
use storage::{RedirectConfig, S3Config, StorageConfig, open};
use uuid::Uuid;

const MIB: usize = 1 << 20;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set. The S3 tests need a running S3-compatible server: run them \
             through tests/run.sh (or eval \"$(bash tests/services/s3-up.sh)\" first)."
        )
    })
}

fn config() -> S3Config {
    S3Config {
        endpoint: Some(env("BERTH_TEST_S3_ENDPOINT")),
        bucket: env("BERTH_TEST_S3_BUCKET"),
        region: env("BERTH_TEST_S3_REGION"),
        access_key: Some(env("BERTH_TEST_S3_ACCESS_KEY")),
        secret_key: Some(env("BERTH_TEST_S3_SECRET_KEY")),
        allow_http: true,
        virtual_hosted_style: false,
        redirect: None,
    }
}

async fn store_with(config: S3Config) -> Arc<dyn BlobStore> {
    open(&StorageConfig::S3(config)).await.unwrap()
}

async fn store() -> Arc<dyn BlobStore> {
    store_with(config()).await
}

/// The bucket seen directly, to check what the blob store left behind.
fn raw_bucket() -> AmazonS3 {
    let c = config();
    AmazonS3Builder::new()
        .with_endpoint(c.endpoint.unwrap())
        .with_bucket_name(c.bucket)
        .with_region(c.region)
        .with_access_key_id(c.access_key.unwrap())
        .with_secret_access_key(c.secret_key.unwrap())
        .with_allow_http(true)
        .build()
        .unwrap()
}

/// Multipart uploads started under `prefix` and neither completed nor aborted. They are
/// invisible to listings but keep their parts (and cost) on S3, so leaking none matters.
/// object_store has no call for this, so ask with curl, which signs SigV4 itself.
fn pending_multipart_uploads(prefix: &str) -> usize {
    let c = config();
    let url = format!(
        "{}/{}?prefix={}&uploads=",
        c.endpoint.unwrap(),
        c.bucket,
        prefix.replace('/', "%2F")
    );
    let output = Command::new("curl")
        .args(["-sS", "--fail", "--aws-sigv4"])
        .arg(format!("aws:amz:{}:s3", c.region))
        .arg("--user")
        .arg(format!(
            "{}:{}",
            c.access_key.unwrap(),
            c.secret_key.unwrap()
        ))
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .arg(url)
        .output()
        .expect("curl is needed to list multipart uploads");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .matches("<Upload>")
        .count()
}

async fn keys_under(prefix: &str) -> Vec<String> {
    raw_bucket()
        .list(Some(&Path::from(prefix)))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap()
}

fn upload_id() -> String {
    Uuid::new_v4().to_string()
}

/// Per-run randomness, so blobs (whose keys are their digests) never collide with a
/// previous run's leftovers.
fn seed() -> u64 {
    Uuid::new_v4().as_u64_pair().0 | 1
}

/// Deterministic pseudo-random content: chunk by chunk, so a large body is produced lazily
/// and its digest can be recomputed without keeping it.
fn chunk(seed: u64, index: usize, len: usize) -> Bytes {
    let mut state = seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// Chunk sizes of a `len`-byte body sent in 1 MiB pieces.
fn piece_lens(len: usize) -> impl Iterator<Item = usize> {
    (0..len.div_ceil(MIB)).map(move |i| MIB.min(len - i * MIB))
}

fn generated(seed: u64, len: usize) -> ByteStream {
    stream::iter(piece_lens(len).enumerate())
        .map(move |(i, n)| Ok(chunk(seed, i, n)))
        .boxed()
}

fn generated_bytes(seed: u64, len: usize) -> Vec<u8> {
    piece_lens(len)
        .enumerate()
        .flat_map(|(i, n)| chunk(seed, i, n).to_vec())
        .collect()
}

fn generated_digest(seed: u64, len: usize) -> Digest {
    let mut hasher = Sha256::new();
    for (i, n) in piece_lens(len).enumerate() {
        hasher.update(chunk(seed, i, n));
    }
    Digest::from_sha256(&hasher.finalize())
}

async fn read_digest(store: &dyn BlobStore, digest: &Digest) -> (Digest, u64) {
    let (hasher, len) = store
        .read(digest, None)
        .await
        .unwrap()
        .try_fold(
            (Sha256::new(), 0u64),
            |(mut hasher, len), chunk| async move {
                hasher.update(&chunk);
                Ok((hasher, len + chunk.len() as u64))
            },
        )
        .await
        .unwrap();
    (Digest::from_sha256(&hasher.finalize()), len)
}

async fn read_all(store: &dyn BlobStore, digest: &Digest, range: std::ops::Range<u64>) -> Vec<u8> {
    store
        .read(digest, Some(range))
        .await
        .unwrap()
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
        .unwrap()
}

/// Stages three parts (the first larger than one 8 MiB multipart chunk) and returns them
/// with the concatenated content.
async fn stage_three(store: &dyn BlobStore, upload: &str) -> (Vec<StagedPart>, Vec<u8>) {
    let seed = seed();
    let sizes = [9 * MIB + 17, 3 * MIB, 1234];
    let mut parts = Vec::new();
    let mut whole = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        let part_seed = seed.wrapping_add(i as u64);
        let id = format!("part{i}");
        let written = store
            .write_part(upload, &id, whole.len() as u64, generated(part_seed, size))
            .await
            .unwrap();
        assert_eq!(written, size as u64);
        parts.push(StagedPart { id, size: written });
        whole.extend(generated_bytes(part_seed, size));
    }
    (parts, whole)
}

#[tokio::test]
async fn ping_succeeds() {
    store().await.ping().await.unwrap();
}

#[tokio::test]
async fn streams_a_large_body_through_multipart() {
    let store = store().await;
    let upload = upload_id();
    let seed = seed();
    let len = 20 * MIB + 4321;
    let digest = generated_digest(seed, len);

    let written = store
        .write_part(&upload, "big", 0, generated(seed, len))
        .await
        .unwrap();
    assert_eq!(written, len as u64);
    let part = StagedPart {
        id: "big".into(),
        size: written,
    };
    store.commit(&upload, &[part], &digest).await.unwrap();
    // The commit removed what the upload staged.
    assert!(keys_under(&format!("_uploads/{upload}")).await.is_empty());

    assert_eq!(store.blob_size(&digest).await.unwrap(), Some(len as u64));
    assert_eq!(
        read_digest(store.as_ref(), &digest).await,
        (digest.clone(), len as u64)
    );
    store.delete_blob(&digest).await.unwrap();
}

#[tokio::test]
async fn commit_single_part() {
    let store = store().await;
    let upload = upload_id();
    let data = generated_bytes(seed(), 4096);
    let digest = Digest::of(&data);
    let written = store
        .write_part(
            &upload,
            "only",
            0,
            stream::iter([Ok(Bytes::from(data.clone()))]).boxed(),
        )
        .await
        .unwrap();
    let part = StagedPart {
        id: "only".into(),
        size: written,
    };
    assert_eq!(store.blob_size(&digest).await.unwrap(), None);
    store
        .commit(&upload, std::slice::from_ref(&part), &digest)
        .await
        .unwrap();
    // Committing again (another replica, a retried request) changes nothing.
    store.commit(&upload, &[part], &digest).await.unwrap();

    assert_eq!(store.blob_size(&digest).await.unwrap(), Some(4096));
    assert_eq!(read_all(store.as_ref(), &digest, 0..4096).await, data);
    let hex = digest.hex();
    assert_eq!(
        keys_under(&format!("blobs/sha256/{}", &hex[..2]))
            .await
            .into_iter()
            .filter(|k| k.ends_with(hex))
            .collect::<Vec<_>>(),
        vec![format!("blobs/sha256/{}/{hex}", &hex[..2])]
    );
    // The commit removed what the upload staged.
    assert!(keys_under(&format!("_uploads/{upload}")).await.is_empty());
    store.delete_blob(&digest).await.unwrap();
}

#[tokio::test]
async fn commit_three_parts_concatenates() {
    let store = store().await;
    let upload = upload_id();
    let (parts, whole) = stage_three(store.as_ref(), &upload).await;
    let digest = Digest::of(&whole);

    store.commit(&upload, &parts, &digest).await.unwrap();
    // The commit removed what the upload staged.
    assert!(keys_under(&format!("_uploads/{upload}")).await.is_empty());

    assert_eq!(
        store.blob_size(&digest).await.unwrap(),
        Some(whole.len() as u64)
    );
    assert_eq!(
        read_digest(store.as_ref(), &digest).await,
        (digest.clone(), whole.len() as u64)
    );
    store.delete_blob(&digest).await.unwrap();
}

#[tokio::test]
async fn range_read_crosses_part_boundaries() {
    let store = store().await;
    let upload = upload_id();
    let (parts, whole) = stage_three(store.as_ref(), &upload).await;
    let digest = Digest::of(&whole);
    store.commit(&upload, &parts, &digest).await.unwrap();
    // The commit removed what the upload staged.
    assert!(keys_under(&format!("_uploads/{upload}")).await.is_empty());

    let first_boundary = parts[0].size;
    let second_boundary = first_boundary + parts[1].size;
    let eight_mib = 8 * MIB as u64;
    for range in [
        // staged part 1 -> 2
        first_boundary - 100..first_boundary + 100,
        // across the 8 MiB multipart chunk boundary of the final object
        eight_mib - 5..eight_mib + 5,
        // through all three staged parts to the end
        first_boundary - 1..whole.len() as u64,
        second_boundary..second_boundary + 1,
    ] {
        let expected = &whole[range.start as usize..range.end as usize];
        assert_eq!(
            read_all(store.as_ref(), &digest, range.clone()).await,
            expected,
            "range {range:?}"
        );
    }
    store.delete_blob(&digest).await.unwrap();
}

#[tokio::test]
async fn delete_upload_removes_every_part() {
    let store = store().await;
    let upload = upload_id();
    let neighbour = upload_id();
    for (i, part) in ["a", "b", "c"].into_iter().enumerate() {
        store
            .write_part(&upload, part, 1000 * i as u64, generated(seed(), 1000))
            .await
            .unwrap();
    }
    store
        .write_part(&neighbour, "a", 0, generated(seed(), 10))
        .await
        .unwrap();
    assert_eq!(keys_under(&format!("_uploads/{upload}")).await.len(), 3);

    store.delete_upload(&upload).await.unwrap();
    assert!(keys_under(&format!("_uploads/{upload}")).await.is_empty());
    assert_eq!(keys_under(&format!("_uploads/{neighbour}")).await.len(), 1);
    // Idempotent, and so is deleting an upload that never staged anything.
    store.delete_upload(&upload).await.unwrap();
    store.delete_upload(&upload_id()).await.unwrap();

    let gone = StagedPart {
        id: "a".into(),
        size: 1000,
    };
    let commit = store.commit(&upload, &[gone], &Digest::of(b"gone")).await;
    assert!(
        matches!(commit, Err(BackendError::NotFound(_))),
        "{commit:?}"
    );
    store.delete_upload(&neighbour).await.unwrap();
}

#[tokio::test]
async fn failing_body_leaves_nothing() {
    let store = store().await;
    let upload = upload_id();
    // More than one 8 MiB chunk, so a real part is uploaded before the failure.
    let body = generated(seed(), 10 * MIB)
        .chain(stream::iter([Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client hung up",
        ))]))
        .boxed();
    let result = store.write_part(&upload, "p", 0, body).await;
    assert!(matches!(&result, Err(BackendError::Body(_))), "{result:?}");
    assert!(keys_under(&format!("_uploads/{upload}")).await.is_empty());
    let head = raw_bucket()
        .head(&Path::from(format!("_uploads/{upload}/p")))
        .await;
    assert!(matches!(head, Err(object_store::Error::NotFound { .. })));
    assert_eq!(pending_multipart_uploads(&format!("_uploads/{upload}/")), 0);
}

#[tokio::test]
async fn cancelled_write_is_aborted() {
    let store = store().await;
    let upload = upload_id();
    let prefix = format!("_uploads/{upload}/");
    // 10 MiB, so one part is uploaded, then a client that stalls forever.
    let body = generated(seed(), 10 * MIB).chain(stream::pending()).boxed();
    let writing = tokio::spawn({
        let store = store.clone();
        let upload = upload.clone();
        async move { store.write_part(&upload, "p", 0, body).await }
    });
    assert!(
        eventually(|| pending_multipart_uploads(&prefix) == 1).await,
        "the multipart upload never showed up"
    );
    // Dropping the request future (client disconnect, handler timeout) must abort it.
    writing.abort();
    assert!(
        eventually(|| pending_multipart_uploads(&prefix) == 0).await,
        "the cancelled multipart upload was left behind"
    );
    assert!(keys_under(&prefix).await.is_empty());
}

/// The bucket key of a blob, as the layout fixes it.
fn blob_key(digest: &Digest) -> String {
    let hex = digest.hex();
    format!("blobs/sha256/{}/{hex}", &hex[..2])
}

/// `body` followed by a failing item, as a monolithic upload's stream ends when its
/// bytes are not the blob its digest names.
fn failing_at_the_end(body: ByteStream) -> ByteStream {
    body.chain(stream::iter([Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "the body is not the blob its digest names",
    ))]))
    .boxed()
}

#[tokio::test]
async fn write_blob_goes_straight_to_the_blob() {
    let store = store().await;
    // One body above the 8 MiB multipart chunk, one that goes up in a single PUT.
    for len in [17 * MIB + 5, 3000] {
        let upload = upload_id();
        let seed = seed();
        let digest = generated_digest(seed, len);
        let written = store
            .write_blob(&upload, &digest, generated(seed, len))
            .await
            .unwrap();
        assert_eq!(written, len as u64);
        assert_eq!(
            read_digest(store.as_ref(), &digest).await,
            (digest.clone(), len as u64)
        );
        // Nothing was staged, so nothing is left to copy or remove.
        assert!(keys_under(&format!("_uploads/{upload}")).await.is_empty());
        assert_eq!(pending_multipart_uploads(&blob_key(&digest)), 0);
        store.delete_blob(&digest).await.unwrap();
    }
}

#[tokio::test]
async fn write_blob_failing_at_the_end_publishes_nothing() {
    let store = store().await;
    for len in [17 * MIB + 5, 3000] {
        let upload = upload_id();
        let seed = seed();
        let digest = generated_digest(seed, len);
        let result = store
            .write_blob(&upload, &digest, failing_at_the_end(generated(seed, len)))
            .await;
        assert!(matches!(&result, Err(BackendError::Body(_))), "{result:?}");
        assert_eq!(store.blob_size(&digest).await.unwrap(), None, "{len} bytes");
        let head = raw_bucket().head(&Path::from(blob_key(&digest))).await;
        assert!(matches!(head, Err(object_store::Error::NotFound { .. })));
        // The parts uploaded before the failure went with the aborted upload.
        assert_eq!(pending_multipart_uploads(&blob_key(&digest)), 0);
        assert!(keys_under(&format!("_uploads/{upload}")).await.is_empty());
    }
}

#[tokio::test]
async fn write_blob_of_an_existing_blob_reads_the_body_and_keeps_the_blob() {
    let store = store().await;
    let seed = seed();
    let len = 9 * MIB + 1;
    let digest = generated_digest(seed, len);
    store
        .write_blob(&upload_id(), &digest, generated(seed, len))
        .await
        .unwrap();
    let before = raw_bucket()
        .head(&Path::from(blob_key(&digest)))
        .await
        .unwrap();

    // The body is read (and would be checked) but not written again.
    let again = store
        .write_blob(&upload_id(), &digest, generated(seed, len))
        .await
        .unwrap();
    assert_eq!(again, len as u64);
    let failed = store
        .write_blob(
            &upload_id(),
            &digest,
            failing_at_the_end(generated(seed, 10)),
        )
        .await;
    assert!(matches!(&failed, Err(BackendError::Body(_))), "{failed:?}");

    let after = raw_bucket()
        .head(&Path::from(blob_key(&digest)))
        .await
        .unwrap();
    assert_eq!(after.last_modified, before.last_modified);
    assert_eq!(after.e_tag, before.e_tag);
    assert_eq!(
        read_digest(store.as_ref(), &digest).await,
        (digest.clone(), len as u64)
    );
    assert_eq!(pending_multipart_uploads(&blob_key(&digest)), 0);
    store.delete_blob(&digest).await.unwrap();
}

/// Polls `condition` for up to ten seconds.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn presigned_download_urls_read_one_blob_until_they_expire() {
    let endpoint = config().endpoint.unwrap();
    // The same server under another name: the URL must be signed for the host clients
    // use, not the one Berth writes to.
    let public = endpoint.replace("127.0.0.1", "localhost");
    assert_ne!(
        public, endpoint,
        "the test S3 endpoint is expected on 127.0.0.1"
    );
    let ttl_secs = 3;
    let store = store_with(S3Config {
        redirect: Some(RedirectConfig {
            endpoint: Some(public.clone()),
            ttl_secs,
        }),
        ..config()
    })
    .await;
    let seed = seed();
    let len = 3 * MIB + 17;
    let digest = generated_digest(seed, len);
    let content = generated_bytes(seed, len);
    store
        .write_blob(&upload_id(), &digest, generated(seed, len))
        .await
        .unwrap();
    let url = store.download_url(&digest).await.unwrap().expect("a URL");
    assert!(url.starts_with(&public), "{url}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    // Anyone holding the URL reads the blob, whole or a range, without credentials...
    let whole = http.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap(), content);
    let part = http
        .get(&url)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), content[1000..2000]);

    // ...but only that: the bucket is not public, another key is not covered by the
    // signature, and neither is writing.
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(http.get(unsigned).send().await.unwrap().status(), 403);
    let other = generated_digest(seed ^ 1, len);
    let elsewhere = url.replace(digest.hex(), other.hex());
    assert_eq!(http.get(&elsewhere).send().await.unwrap().status(), 403);
    let overwrite = http.put(&url).body("x").send().await.unwrap();
    assert_eq!(overwrite.status(), 403);
    assert_eq!(
        read_digest(store.as_ref(), &digest).await,
        (digest.clone(), len as u64)
    );

    // Once expired, the URL reads nothing.
    tokio::time::sleep(Duration::from_secs(ttl_secs + 2)).await;
    assert_eq!(http.get(&url).send().await.unwrap().status(), 403);
    store.delete_blob(&digest).await.unwrap();
}

#[tokio::test]
async fn missing_blobs_and_idempotent_delete() {
    let store = store().await;
    let digest = generated_digest(seed(), 10);
    assert_eq!(store.blob_size(&digest).await.unwrap(), None);
    assert!(matches!(
        store.read(&digest, None).await,
        Err(BackendError::NotFound(_))
    ));
    store.delete_blob(&digest).await.unwrap();
}

#[tokio::test]
async fn wrong_secret_is_rejected() {
    let store = store_with(S3Config {
        secret_key: Some("not-the-secret".into()),
        ..config()
    })
    .await;
    let ping = store.ping().await;
    assert!(matches!(ping, Err(BackendError::Other(_))), "{ping:?}");
    let write = store
        .write_part(&upload_id(), "p", 0, generated(seed(), 100))
        .await;
    assert!(matches!(write, Err(BackendError::Other(_))), "{write:?}");
}

#[tokio::test]
async fn missing_bucket_fails_ping() {
    let store = store_with(S3Config {
        bucket: format!("berth-missing-{}", Uuid::new_v4().simple()),
        ..config()
    })
    .await;
    assert!(store.ping().await.is_err());
}
