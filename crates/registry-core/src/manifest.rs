//! Manifest parsing: just enough to validate a pushed manifest and index what it points
//! at. The registry always stores and serves the exact bytes it received.

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::RegistryError;
use crate::meta::ManifestReferences;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Every manifest media type Berth serves.
pub const MANIFEST_TYPES: [&str; 4] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// Largest manifest accepted, as in CNCF distribution: manifests are held in memory and in
/// the database, so they must stay small.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// Layer media types whose blobs live elsewhere and need not be in the registry.
const FOREIGN_LAYER_TYPES: [&str; 3] = [
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: Option<String>,
    digest: String,
    size: Option<i64>,
    #[serde(default)]
    urls: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What a valid manifest says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub config_digest: Option<Digest>,
    pub subject: Option<Digest>,
    pub annotations: Option<String>,
    pub references: ManifestReferences,
}

fn descriptor_digest(d: &Descriptor, what: &str) -> Result<Digest, RegistryError> {
    if d.size.is_some_and(|s| s < 0) {
        return Err(RegistryError::manifest_invalid(format!(
            "{what} has a negative size"
        )));
    }
    d.digest.parse().map_err(|e| {
        RegistryError::manifest_invalid(format!("{what} has an invalid digest {:?}: {e}", d.digest))
    })
}

/// Validates `body` pushed with `content_type` (the request's Content-Type, if any) and
/// extracts its references.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<ParsedManifest, RegistryError> {
    if body.len() > MAX_MANIFEST_BYTES {
        return Err(RegistryError::new(
            crate::ErrorCode::SizeInvalid,
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("manifest is larger than {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    let content_type = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty());
    if matches!(content_type, Some(DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED)) {
        return Err(schema1_error());
    }
    let raw: RawManifest = serde_json::from_slice(body)
        .map_err(|e| RegistryError::manifest_invalid(format!("manifest is not valid JSON: {e}")))?;
    if raw.schema_version == Some(1) {
        return Err(schema1_error());
    }
    if raw.schema_version != Some(2) {
        return Err(RegistryError::manifest_invalid(
            "manifest must have schemaVersion 2",
        ));
    }
    // The body's own mediaType wins when present; it must agree with the Content-Type.
    let media_type = match (&raw.media_type, content_type) {
        (Some(body_type), Some(header)) if body_type != header && header != "application/json" => {
            return Err(RegistryError::manifest_invalid(format!(
                "Content-Type {header} does not match the manifest's mediaType {body_type}"
            )));
        }
        (Some(body_type), _) => body_type.clone(),
        (None, Some(header)) if MANIFEST_TYPES.contains(&header) => header.to_owned(),
        // OCI allows omitting mediaType (podman does): infer from the shape.
        (None, _) if raw.manifests.is_some() => OCI_INDEX.to_owned(),
        (None, _) => OCI_MANIFEST.to_owned(),
    };
    if !MANIFEST_TYPES.contains(&media_type.as_str()) {
        return Err(RegistryError::manifest_invalid(format!(
            "unsupported manifest media type {media_type}"
        )));
    }

    let mut references = ManifestReferences::default();
    let mut config_digest = None;
    let is_index = media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST;
    if is_index {
        let manifests = raw
            .manifests
            .as_ref()
            .ok_or_else(|| RegistryError::manifest_invalid("index has no manifests array"))?;
        for m in manifests {
            references
                .manifests
                .push(descriptor_digest(m, "index entry")?);
        }
        if raw.layers.is_some() || raw.config.is_some() {
            return Err(RegistryError::manifest_invalid(
                "an index may not have config or layers",
            ));
        }
    } else {
        let config = raw
            .config
            .as_ref()
            .ok_or_else(|| RegistryError::manifest_invalid("image manifest has no config"))?;
        let digest = descriptor_digest(config, "config")?;
        references.blobs.push(digest.clone());
        config_digest = Some(digest);
        let layers = raw
            .layers
            .as_ref()
            .ok_or_else(|| RegistryError::manifest_invalid("image manifest has no layers array"))?;
        for layer in layers {
            let digest = descriptor_digest(layer, "layer")?;
            let foreign = layer
                .media_type
                .as_deref()
                .is_some_and(|t| FOREIGN_LAYER_TYPES.contains(&t))
                && !layer.urls.is_empty();
            if !foreign {
                references.blobs.push(digest);
            }
        }
        if raw.manifests.is_some() {
            return Err(RegistryError::manifest_invalid(
                "an image manifest may not have a manifests array",
            ));
        }
    }
    references.blobs.sort();
    references.blobs.dedup();
    references.manifests.sort();
    references.manifests.dedup();

    let subject = raw
        .subject
        .as_ref()
        .map(|s| descriptor_digest(s, "subject"))
        .transpose()?;
    // Per the spec, an image manifest without artifactType is typed by its config.
    let artifact_type = raw.artifact_type.clone().or_else(|| {
        (!is_index)
            .then(|| raw.config.as_ref().and_then(|c| c.media_type.clone()))
            .flatten()
    });
    let annotations = raw
        .annotations
        .as_ref()
        .filter(|a| !a.is_empty())
        .map(|a| serde_json::Value::Object(a.clone()).to_string());

    Ok(ParsedManifest {
        media_type,
        artifact_type,
        config_digest,
        subject,
        annotations,
        references,
    })
}

fn schema1_error() -> RegistryError {
    RegistryError::manifest_invalid(
        "Docker schema 1 manifests are not supported; push with a current client (schema 2 or OCI)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn parses_docker_image_manifest() {
        let body = serde_json::json!({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": d('a'), "size": 10},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": d('b'), "size": 5}]
        });
        let p = parse(body.to_string().as_bytes(), Some(DOCKER_MANIFEST)).unwrap();
        assert_eq!(p.media_type, DOCKER_MANIFEST);
        assert_eq!(p.references.blobs.len(), 2);
        assert_eq!(p.config_digest.unwrap().to_string(), d('a'));
    }

    #[test]
    fn infers_oci_type_without_media_type_and_reads_subject() {
        let body = serde_json::json!({
            "schemaVersion": 2, "artifactType": "application/vnd.example.sig",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": d('a'), "size": 2},
            "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": d('c'), "size": 3},
            "annotations": {"k": "v"}
        });
        let p = parse(body.to_string().as_bytes(), None).unwrap();
        assert_eq!(p.media_type, OCI_MANIFEST);
        assert_eq!(
            p.artifact_type.as_deref(),
            Some("application/vnd.example.sig")
        );
        assert_eq!(p.subject.unwrap().to_string(), d('c'));
        assert_eq!(p.annotations.as_deref(), Some(r#"{"k":"v"}"#));
    }

    #[test]
    fn index_references_manifests() {
        let body = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": d('a'), "size": 1}]
        });
        let p = parse(body.to_string().as_bytes(), Some(OCI_INDEX)).unwrap();
        assert_eq!(p.references.manifests.len(), 1);
        assert!(p.references.blobs.is_empty());
    }

    #[test]
    fn rejects_bad_manifests() {
        assert!(parse(b"not json", None).is_err());
        assert!(parse(br#"{"schemaVersion":1,"name":"x"}"#, None).is_err());
        assert!(parse(br#"{"schemaVersion":2,"mediaType":"text/plain"}"#, None).is_err());
        let no_config =
            serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []});
        assert!(parse(no_config.to_string().as_bytes(), None).is_err());
        let bad_digest = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"digest": "sha256:zz", "size": 1}, "layers": []});
        assert!(parse(bad_digest.to_string().as_bytes(), None).is_err());
        let mismatch =
            serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
        assert!(parse(mismatch.to_string().as_bytes(), Some(OCI_MANIFEST)).is_err());
        assert!(parse(&vec![b' '; MAX_MANIFEST_BYTES + 1], None).is_err());
    }
}
