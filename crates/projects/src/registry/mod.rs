//! [`MetadataStore`] for [`Database`]: the registry's view of the metadata database.
//! Each method delegates to the module that owns its tables; errors become
//! [`BackendError`]s through the one `From<DbError>` in `error.rs`.

mod blobs;
mod manifests;
pub(crate) mod repositories;
mod tags;
mod uploads;

use async_trait::async_trait;
use registry_core::blobs::{BackendError, StagedPart};
use registry_core::meta::{
    ManifestRecord, ManifestReferences, MetadataStore, PutManifestOutcome, Referrer, UploadSession,
};
use registry_core::{Digest, RepoName, Tag};

use crate::db::Database;

#[async_trait]
impl MetadataStore for Database {
    async fn ping(&self) -> Result<(), BackendError> {
        Ok(Database::ping(self).await?)
    }

    async fn repository_exists(&self, repo: &RepoName) -> Result<bool, BackendError> {
        Ok(repositories::repository_exists(self, repo).await?)
    }

    async fn create_upload(&self, session: &UploadSession) -> Result<(), BackendError> {
        Ok(uploads::create_upload(self, session).await?)
    }

    async fn get_upload(
        &self,
        repo: &RepoName,
        id: &str,
    ) -> Result<Option<UploadSession>, BackendError> {
        Ok(uploads::get_upload(self, repo, id).await?)
    }

    async fn append_upload_part(
        &self,
        session: &UploadSession,
        part: &StagedPart,
        new_hash_state: &[u8],
    ) -> Result<bool, BackendError> {
        Ok(uploads::append_upload_part(self, session, part, new_hash_state).await?)
    }

    async fn delete_upload(&self, id: &str) -> Result<bool, BackendError> {
        Ok(uploads::delete_upload(self, id).await?)
    }

    async fn stale_uploads(&self, before: i64, limit: u32) -> Result<Vec<String>, BackendError> {
        Ok(uploads::stale_uploads(self, before, limit).await?)
    }

    async fn commit_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        size: u64,
        upload_id: Option<&str>,
    ) -> Result<(), BackendError> {
        Ok(blobs::commit_blob(self, repo, digest, size, upload_id).await?)
    }

    async fn repository_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<u64>, BackendError> {
        Ok(blobs::repository_blob(self, repo, digest).await?)
    }

    async fn mount_blob(
        &self,
        repo: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<bool, BackendError> {
        Ok(blobs::mount_blob(self, repo, from, digest).await?)
    }

    async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<bool, BackendError> {
        Ok(blobs::unlink_blob(self, repo, digest).await?)
    }

    async fn put_manifest(
        &self,
        repo: &RepoName,
        manifest: &ManifestRecord,
        references: &ManifestReferences,
        tag: Option<&Tag>,
    ) -> Result<PutManifestOutcome, BackendError> {
        Ok(manifests::put_manifest(self, repo, manifest, references, tag).await?)
    }

    async fn manifest_by_digest(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>, BackendError> {
        Ok(manifests::manifest_by_digest(self, repo, digest).await?)
    }

    async fn manifest_by_tag(
        &self,
        repo: &RepoName,
        tag: &Tag,
    ) -> Result<Option<ManifestRecord>, BackendError> {
        Ok(manifests::manifest_by_tag(self, repo, tag).await?)
    }

    async fn delete_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<bool, BackendError> {
        Ok(manifests::delete_manifest(self, repo, digest).await?)
    }

    async fn delete_tag(&self, repo: &RepoName, tag: &Tag) -> Result<bool, BackendError> {
        Ok(tags::delete_tag(self, repo, tag).await?)
    }

    async fn list_tags(
        &self,
        repo: &RepoName,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, BackendError> {
        Ok(tags::list_tags(self, repo, last, limit).await?)
    }

    async fn list_repositories(
        &self,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, BackendError> {
        Ok(repositories::list_repositories(self, last, limit).await?)
    }

    async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, BackendError> {
        Ok(manifests::referrers(self, repo, subject, artifact_type).await?)
    }
}
