//! Test content: blobs with their digests, and image / artifact manifests built from them.
//! Everything is generated (random bytes), so no test depends on an external image.

use bytes::Bytes;
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The project all test repositories live in: Harbor's default project, which exists
/// on a fresh registry.
pub const PROJECT: &str = "library";

/// `library/<name>-<random>`: a repository name no other test uses.
pub fn unique_repo(name: &str) -> String {
    format!(
        "{PROJECT}/{name}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand::rng().fill_bytes(&mut data);
    data
}

/// Content and its descriptor fields.
#[derive(Clone, Debug)]
pub struct Blob {
    pub media_type: String,
    pub data: Bytes,
    pub digest: String,
}

impl Blob {
    pub fn new(media_type: &str, data: impl Into<Bytes>) -> Blob {
        let data = data.into();
        Blob {
            media_type: media_type.to_owned(),
            digest: sha256_digest(&data),
            data,
        }
    }

    /// `len` random bytes typed as an OCI layer (the registry does not look inside).
    pub fn random(len: usize) -> Blob {
        Blob::new(OCI_LAYER, random_bytes(len))
    }

    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// The OCI descriptor `{mediaType, digest, size}`.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size()})
    }
}

/// A manifest with the blobs it references.
#[derive(Clone, Debug)]
pub struct Image {
    pub media_type: String,
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Bytes,
    pub digest: String,
}

impl Image {
    /// An OCI image with random layers of the given sizes and a unique config.
    pub fn random(layer_sizes: &[usize]) -> Image {
        let layers: Vec<Blob> = layer_sizes.iter().map(|&n| Blob::random(n)).collect();
        Image::oci(unique_config(OCI_CONFIG, &layers), layers, None, None, &[])
    }

    /// A Docker schema 2 image (what `docker push` produces) with random layers.
    pub fn random_docker(layer_sizes: &[usize]) -> Image {
        let layers: Vec<Blob> = layer_sizes
            .iter()
            .map(|&n| Blob::new(DOCKER_LAYER, random_bytes(n)))
            .collect();
        let config = unique_config(DOCKER_CONFIG, &layers);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": config.descriptor(),
            "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
        });
        Image::from_parts(DOCKER_MANIFEST, &manifest, config, layers)
    }

    /// An OCI artifact referring to `subject`: `artifactType` set (or not, to test the
    /// fallback to the config media type), the given annotations, one small layer.
    pub fn artifact(
        artifact_type: Option<&str>,
        config_media_type: &str,
        subject: &Image,
        annotations: &[(&str, &str)],
    ) -> Image {
        let config = if config_media_type == OCI_EMPTY {
            Blob::new(OCI_EMPTY, &b"{}"[..])
        } else {
            Blob::new(config_media_type, random_bytes(64))
        };
        let layers = vec![Blob::new("application/vnd.example.data", random_bytes(512))];
        Image::oci(
            config,
            layers,
            artifact_type,
            Some(subject.descriptor()),
            annotations,
        )
    }

    fn oci(
        config: Blob,
        layers: Vec<Blob>,
        artifact_type: Option<&str>,
        subject: Option<Value>,
        annotations: &[(&str, &str)],
    ) -> Image {
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
        });
        if let Some(t) = artifact_type {
            manifest["artifactType"] = json!(t);
        }
        if let Some(s) = subject {
            manifest["subject"] = s;
        }
        if !annotations.is_empty() {
            let map: serde_json::Map<String, Value> = annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect();
            manifest["annotations"] = Value::Object(map);
        }
        Image::from_parts(OCI_MANIFEST, &manifest, config, layers)
    }

    /// An image from an explicit manifest document (serialised once; those bytes are the
    /// manifest and define its digest).
    pub fn from_parts(
        media_type: &str,
        manifest: &Value,
        config: Blob,
        layers: Vec<Blob>,
    ) -> Image {
        let bytes = Bytes::from(serde_json::to_vec_pretty(manifest).expect("serialising"));
        Image {
            media_type: media_type.to_owned(),
            digest: sha256_digest(&bytes),
            manifest: bytes,
            config,
            layers,
        }
    }

    /// The config followed by the layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        std::iter::once(&self.config).chain(self.layers.iter())
    }

    /// The descriptor of this manifest, for `subject` fields and indexes.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.manifest.len()})
    }
}

/// A config blob whose content is unique, so two images never share a config by accident.
fn unique_config(media_type: &str, layers: &[Blob]) -> Blob {
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"berth.e2e.nonce": uuid::Uuid::new_v4().to_string()}},
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>(),
        },
    });
    Blob::new(
        media_type,
        serde_json::to_vec(&config).expect("serialising"),
    )
}
