//! Pushing, pulling and deleting manifests and tags.

use bytes::Bytes;

use super::{Registry, now};
use crate::digest::Digest;
use crate::error::{ErrorCode, RegistryError};
use crate::manifest;
use crate::meta::{ManifestRecord, PutManifestOutcome};
use crate::name::{Reference, RepoName};

/// What a successful manifest push reports back.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub digest: Digest,
    pub subject: Option<Digest>,
}

impl Registry {
    pub async fn put_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<StoredManifest, RegistryError> {
        let parsed = manifest::parse(&body, content_type)?;
        let digest = Digest::of(&body);
        if let Reference::Digest(expected) = reference
            && expected != &digest
        {
            return Err(RegistryError::digest_invalid(format!(
                "manifest digest {digest} does not match reference {expected}"
            )));
        }
        let record = ManifestRecord {
            digest: digest.clone(),
            media_type: parsed.media_type,
            artifact_type: parsed.artifact_type,
            subject: parsed.subject.clone(),
            config_digest: parsed.config_digest,
            annotations: parsed.annotations,
            content: body.to_vec(),
            created_at: now(),
        };
        let tag = match reference {
            Reference::Tag(tag) => Some(tag),
            Reference::Digest(_) => None,
        };
        match self
            .meta
            .put_manifest(repo, &record, &parsed.references, tag)
            .await?
        {
            PutManifestOutcome::Stored => Ok(StoredManifest {
                digest,
                subject: parsed.subject,
            }),
            PutManifestOutcome::MissingBlobs(missing) => Err(missing_error("blob", &missing)),
            PutManifestOutcome::MissingManifests(missing) => {
                Err(missing_error("manifest", &missing))
            }
        }
    }

    pub async fn get_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
    ) -> Result<ManifestRecord, RegistryError> {
        let found = match reference {
            Reference::Tag(tag) => self.meta.manifest_by_tag(repo, tag).await?,
            Reference::Digest(digest) => self.meta.manifest_by_digest(repo, digest).await?,
        };
        found.ok_or_else(|| RegistryError::manifest_unknown(reference))
    }

    /// Deleting by digest removes the manifest and its tags; by tag, only the tag.
    pub async fn delete_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
    ) -> Result<(), RegistryError> {
        let deleted = match reference {
            Reference::Tag(tag) => self.meta.delete_tag(repo, tag).await?,
            Reference::Digest(digest) => self.meta.delete_manifest(repo, digest).await?,
        };
        if deleted {
            Ok(())
        } else {
            Err(RegistryError::manifest_unknown(reference))
        }
    }
}

fn missing_error(kind: &str, missing: &[Digest]) -> RegistryError {
    let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
    RegistryError::new(
        ErrorCode::ManifestBlobUnknown,
        axum::http::StatusCode::BAD_REQUEST,
        format!(
            "manifest references {kind}s unknown to this repository: {}",
            list.join(", ")
        ),
    )
    .with_detail(serde_json::json!({ "missing": list }))
}
