//! The `berth` binary itself: subcommands, configuration errors, and memory that stays
//! flat while a multi-gigabyte layer streams through.

use std::process::Command;

use berth_e2e::server::berth_bin;
use berth_e2e::{Backend, BerthServer};
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};

fn berth(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    Command::new(berth_bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BERTH_DATA_DIR", data_dir)
        .output()
        .expect("running berth")
}

#[test]
fn version_and_migrate_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let version = berth(&["--version"], dir.path());
    assert!(version.status.success());
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(text.starts_with("berth "), "{text}");

    // migrate creates the embedded database and is idempotent.
    for _ in 0..2 {
        let out = berth(&["migrate"], dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("berth.db").is_file());
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("berth.toml");
    std::fs::write(&config, "lisen = \"0.0.0.0:5000\"\n").unwrap();
    let out = berth(
        &["--config", config.to_str().unwrap(), "migrate"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid config file"), "{stderr}");
    assert!(stderr.contains("lisen"), "{stderr}");

    let out = berth(&["migrate", "--database-url", "mysql://nope/x"], dir.path());
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
}

/// Size of the streamed layer: 2 GiB unless `BERTH_E2E_LARGE_BLOB_MIB` says otherwise.
fn large_blob_bytes() -> u64 {
    std::env::var("BERTH_E2E_LARGE_BLOB_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(2048)
        << 20
}

/// Peak resident memory of a process, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kib * 1024
}

/// Deterministic, incompressible-enough content generated in 1 MiB pieces, so neither
/// side ever holds the whole layer.
fn pieces(total: u64) -> impl Iterator<Item = Bytes> {
    let mut block = vec![0u8; 1 << 20];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for chunk in block.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    let count = total.div_ceil(1 << 20);
    (0..count).map(move |i| {
        let mut piece = block.clone();
        piece[..8].copy_from_slice(&i.to_le_bytes());
        let len = (total - i * (1 << 20)).min(1 << 20) as usize;
        piece.truncate(len);
        Bytes::from(piece)
    })
}

#[tokio::test]
async fn a_multi_gigabyte_layer_streams_with_flat_memory() {
    let size = large_blob_bytes();
    let server = BerthServer::start(Backend::Embedded).await;
    let pid = server.pid().expect("server pid");
    let client = server.client();
    let repo = "library/large";
    let auth = client.authorization_for(repo).await;
    let http = client.http();

    let started = client
        .post(&format!("/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .expect_status(202);
    let location = client.url(started.location());

    // One streamed PATCH, hashed on the way out.
    let mut hasher = Sha256::new();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let producer = tokio::spawn(async move {
        for piece in pieces(size) {
            hasher.update(&piece);
            if tx.send(Ok(piece)).await.is_err() {
                break;
            }
        }
        hex::encode(hasher.finalize())
    });
    let stream = tokio_stream_from(rx);
    let patched = http
        .patch(&location)
        .header("authorization", &auth)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("PATCH of the large layer");
    assert_eq!(patched.status().as_u16(), 202, "{:?}", patched.text().await);
    let digest = format!("sha256:{}", producer.await.unwrap());
    let next = patched
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(|l| client.url(l))
        .expect("location after PATCH");
    let sep = if next.contains('?') { '&' } else { '?' };
    let put = http
        .put(format!("{next}{sep}digest={digest}"))
        .header("authorization", &auth)
        .header("content-length", "0")
        .send()
        .await
        .expect("PUT finishing the upload");
    assert_eq!(put.status().as_u16(), 201, "{:?}", put.text().await);

    // Pull it back, verifying while streaming.
    let pulled = http
        .get(client.url(&format!("/v2/{repo}/blobs/{digest}")))
        .header("authorization", &auth)
        .send()
        .await
        .expect("GET of the large layer");
    assert_eq!(pulled.status().as_u16(), 200);
    let mut check = Sha256::new();
    let mut received = 0u64;
    let mut body = pulled.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("reading the large layer");
        received += chunk.len() as u64;
        check.update(&chunk);
    }
    assert_eq!(received, size);
    assert_eq!(format!("sha256:{}", hex::encode(check.finalize())), digest);

    // Whatever the layer's size, the server's peak memory stays small.
    let peak = peak_rss(pid);
    eprintln!(
        "server peak RSS {} MiB after streaming {} MiB in and out",
        peak >> 20,
        size >> 20
    );
    assert!(
        peak < 160 << 20,
        "server peak RSS {} MiB while streaming {} MiB",
        peak >> 20,
        size >> 20
    );
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
