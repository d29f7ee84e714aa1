//! The registry operations the scenarios are made of: blob uploads (monolithic, chunked,
//! streamed from the random generator), manifest pushes, small synthetic images, and a
//! blob download that verifies the digest while it streams.

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::client::{Registry, expect, pull_scope, push_scope};
use crate::random::{self, RandomBody, Rng};
use crate::upload;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// What a client accepts when it pulls a manifest by tag.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: String,
    pub data: Bytes,
}

impl Blob {
    pub fn new(data: Bytes) -> Blob {
        Blob {
            digest: sha256_digest(&data),
            data,
        }
    }
}

/// A small image: 1-3 random layers of 1-32 KiB, a config naming them, and the manifest.
#[derive(Debug, Clone)]
pub struct SmallImage {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Bytes,
    pub manifest_digest: String,
}

/// The image number `index` of a run with `seed`: deterministic, different for every
/// (seed, index), so a run never finds its blobs already present.
pub fn small_image(seed: u64, index: u64) -> SmallImage {
    let image_seed = random::mix(seed ^ random::mix(index.wrapping_add(0x5EED)));
    let mut rng = Rng::new(image_seed);
    let count = 1 + rng.below(3);
    let layers: Vec<Blob> = (0..count)
        .map(|i| {
            let len = 1024 + rng.below(31 * 1024) as usize;
            Blob::new(random::bytes(image_seed.wrapping_add(i + 1), 0, len))
        })
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Env": [format!("BENCH_IMAGE={seed:x}-{index}")] },
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>(),
        },
    });
    let config = Blob::new(Bytes::from(config.to_string()));
    let manifest = manifest_for(&config, &layers);
    SmallImage {
        manifest_digest: sha256_digest(&manifest),
        manifest,
        config,
        layers,
    }
}

pub fn manifest_for(config: &Blob, layers: &[Blob]) -> Bytes {
    let descriptor = |media: &str, b: &Blob| serde_json::json!({ "mediaType": media, "digest": b.digest, "size": b.data.len() });
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": layers.iter().map(|l| descriptor(OCI_LAYER, l)).collect::<Vec<_>>(),
    });
    Bytes::from(manifest.to_string())
}

fn location(reg: &Registry, request: &Url, resp: &reqwest::Response) -> Result<Url> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("upload response without Location"))?;
    let url = upload::resolve(request, loc)?;
    reg.check_url(&url)?;
    Ok(url)
}

/// `POST /v2/<repo>/blobs/uploads/`: a new upload session's URL.
pub async fn start_upload(reg: &Registry, repo: &str) -> Result<Url> {
    let url = reg.url(&format!("/v2/{repo}/blobs/uploads/"))?;
    let resp = reg
        .send(&push_scope(repo), |c| {
            c.post(url.clone()).header(CONTENT_LENGTH, "0")
        })
        .await?;
    let resp = expect(resp, &[StatusCode::ACCEPTED], "start upload").await?;
    location(reg, &url, &resp)
}

/// `HEAD /v2/<repo>/blobs/<digest>`: whether the blob is there.
pub async fn blob_exists(reg: &Registry, repo: &str, digest: &str, scope: &str) -> Result<bool> {
    let url = reg.url(&format!("/v2/{repo}/blobs/{digest}"))?;
    let resp = reg.send(scope, |c| c.head(url.clone())).await?;
    match resp.status() {
        s if s.is_success() => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        s => bail!("HEAD blob: HTTP {s}"),
    }
}

/// A small blob in two requests, POST then PUT, as docker pushes layers.
pub async fn push_blob(reg: &Registry, repo: &str, blob: &Blob) -> Result<()> {
    let loc = start_upload(reg, repo).await?;
    let put = upload::with_digest(&loc, &blob.digest);
    let resp = reg
        .send(&push_scope(repo), |c| {
            c.put(put.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(blob.data.clone())
        })
        .await?;
    expect(resp, &[StatusCode::CREATED], "PUT blob").await?;
    Ok(())
}

/// `PUT /v2/<repo>/manifests/<reference>`.
pub async fn put_manifest(
    reg: &Registry,
    repo: &str,
    reference: &str,
    manifest: &Bytes,
) -> Result<()> {
    let url = reg.url(&format!("/v2/{repo}/manifests/{reference}"))?;
    let resp = reg
        .send(&push_scope(repo), |c| {
            c.put(url.clone())
                .header(CONTENT_TYPE, OCI_MANIFEST)
                .body(manifest.clone())
        })
        .await?;
    expect(resp, &[StatusCode::CREATED], "PUT manifest").await?;
    Ok(())
}

/// Pushes an image as docker does: for each blob a HEAD, and an upload when missing;
/// then the manifest under `tag`. Returns the number of HTTP requests it took.
pub async fn push_image(reg: &Registry, repo: &str, tag: &str, image: &SmallImage) -> Result<u64> {
    let scope = push_scope(repo);
    let mut requests = 0;
    for blob in image.layers.iter().chain(std::iter::once(&image.config)) {
        requests += 1;
        if !blob_exists(reg, repo, &blob.digest, &scope).await? {
            push_blob(reg, repo, blob).await?;
            requests += 2;
        }
    }
    put_manifest(reg, repo, tag, &image.manifest).await?;
    Ok(requests + 1)
}

/// A large random blob in one request: POST, then one PUT streaming all `size` bytes.
pub async fn push_random_whole(
    reg: &Registry,
    repo: &str,
    seed: u64,
    size: u64,
    digest: &str,
) -> Result<()> {
    let loc = start_upload(reg, repo).await?;
    let put = upload::with_digest(&loc, digest);
    let resp = reg
        .send(&push_scope(repo), |c| {
            c.put(put.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(reqwest::Body::wrap(RandomBody::new(seed, 0, size)))
        })
        .await?;
    expect(resp, &[StatusCode::CREATED], "PUT blob (one request)").await?;
    Ok(())
}

/// A large random blob in chunks: POST, one PATCH per chunk with its `Content-Range`
/// (each to the Location the previous response gave), then a PUT with the digest.
pub async fn push_random_chunked(
    reg: &Registry,
    repo: &str,
    seed: u64,
    size: u64,
    chunk: u64,
    digest: &str,
) -> Result<u64> {
    let mut loc = start_upload(reg, repo).await?;
    let mut requests = 1;
    for (offset, len) in upload::chunk_plan(size, chunk)? {
        let range = upload::content_range(offset, len).ok_or_else(|| anyhow!("empty chunk"))?;
        let target = loc.clone();
        let resp = reg
            .send(&push_scope(repo), |c| {
                c.patch(target.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, range.as_str())
                    .body(reqwest::Body::wrap(RandomBody::new(seed, offset, len)))
            })
            .await?;
        let resp = expect(resp, &[StatusCode::ACCEPTED], "PATCH chunk").await?;
        loc = location(reg, &target, &resp)?;
        requests += 1;
    }
    let put = upload::with_digest(&loc, digest);
    let resp = reg
        .send(&push_scope(repo), |c| {
            c.put(put.clone()).header(CONTENT_LENGTH, "0")
        })
        .await?;
    expect(resp, &[StatusCode::CREATED], "PUT (close chunked upload)").await?;
    Ok(requests + 1)
}

/// Downloads a blob, hashing it as it streams; fails unless it matches `digest`.
/// Returns the number of bytes received.
pub async fn pull_verify(reg: &Registry, repo: &str, digest: &str) -> Result<u64> {
    let url = reg.url(&format!("/v2/{repo}/blobs/{digest}"))?;
    let resp = reg.send(&pull_scope(repo), |c| c.get(url.clone())).await?;
    let mut resp = expect(resp, &[StatusCode::OK], "GET blob").await?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    while let Some(chunk) = resp.chunk().await? {
        total += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let got = format!("sha256:{}", hex::encode(hasher.finalize()));
    if got != digest {
        bail!("blob digest mismatch: expected {digest}, got {got} ({total} bytes)");
    }
    Ok(total)
}

/// `GET /v2/<repo>/manifests/<reference>`, reading the whole body.
pub async fn get_manifest(reg: &Registry, repo: &str, reference: &str) -> Result<usize> {
    let url = reg.url(&format!("/v2/{repo}/manifests/{reference}"))?;
    let resp = reg
        .send(&pull_scope(repo), |c| {
            c.get(url.clone()).header(ACCEPT, MANIFEST_ACCEPT)
        })
        .await?;
    let resp = expect(resp, &[StatusCode::OK], "GET manifest").await?;
    Ok(resp.bytes().await?.len())
}

/// `HEAD /v2/<repo>/manifests/<reference>`; true when it exists.
pub async fn head_manifest(reg: &Registry, repo: &str, reference: &str) -> Result<bool> {
    let url = reg.url(&format!("/v2/{repo}/manifests/{reference}"))?;
    let resp = reg
        .send(&pull_scope(repo), |c| {
            c.head(url.clone()).header(ACCEPT, MANIFEST_ACCEPT)
        })
        .await?;
    match resp.status() {
        s if s.is_success() => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        s => bail!("HEAD manifest: HTTP {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_images_are_deterministic_and_distinct() {
        let a = small_image(1, 0);
        let again = small_image(1, 0);
        assert_eq!(a.manifest_digest, again.manifest_digest);
        assert_ne!(a.manifest_digest, small_image(1, 1).manifest_digest);
        assert_ne!(a.manifest_digest, small_image(2, 0).manifest_digest);
        for i in 0..50 {
            let img = small_image(7, i);
            assert!((1..=3).contains(&img.layers.len()));
            for l in &img.layers {
                assert!((1024..32 * 1024).contains(&l.data.len()));
                assert_eq!(l.digest, sha256_digest(&l.data));
            }
            let m: serde_json::Value = serde_json::from_slice(&img.manifest).unwrap();
            assert_eq!(m["config"]["digest"], img.config.digest.as_str());
            assert_eq!(m["layers"].as_array().unwrap().len(), img.layers.len());
            assert_eq!(img.manifest_digest, sha256_digest(&img.manifest));
        }
    }
}
