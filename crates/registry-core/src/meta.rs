//! The metadata contract: everything the registry knows about repositories, blobs,
//! manifests, tags and upload sessions. Implemented on SQLite and Postgres by the
//! `projects` crate; both implementations pass the same contract test suite.
//!
//! Listing tags, the catalog and referrers are queries here, never object-store scans.

use async_trait::async_trait;

use crate::blobs::{BackendError, StagedPart};
use crate::digest::Digest;
use crate::name::{RepoName, Tag};

/// An upload session, shared by every replica through the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    pub id: String,
    pub repository: RepoName,
    /// Bytes received so far (sum of `parts` sizes).
    pub offset: u64,
    /// Saved sha256 state of the bytes received so far (see `hashing::UploadHasher`).
    pub hash_state: Vec<u8>,
    /// Staged parts in order.
    pub parts: Vec<StagedPart>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A manifest as stored: the exact bytes pushed plus what was parsed out of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub digest: Digest,
    pub media_type: String,
    /// `artifactType`, or for image manifests without one the config media type.
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    pub config_digest: Option<Digest>,
    /// The manifest's `annotations` object as JSON text, if any (served by referrers).
    pub annotations: Option<String>,
    pub content: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// What a manifest points at; all must exist in the repository when it is pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestReferences {
    pub blobs: Vec<Digest>,
    pub manifests: Vec<Digest>,
}

/// One entry of a referrers listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: u64,
    pub annotations: Option<String>,
}

/// Result of storing a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutManifestOutcome {
    Stored,
    /// Referenced blobs absent from the repository: nothing was written.
    MissingBlobs(Vec<Digest>),
    /// Referenced child manifests absent from the repository: nothing was written.
    MissingManifests(Vec<Digest>),
}

#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Reachability probe for `/health/ready`.
    async fn ping(&self) -> Result<(), BackendError>;

    /// Whether the repository exists (has ever received a blob or manifest).
    async fn repository_exists(&self, repo: &RepoName) -> Result<bool, BackendError>;

    // ---- upload sessions -------------------------------------------------------------

    /// Records a new, empty upload session (creating the repository if needed).
    async fn create_upload(&self, session: &UploadSession) -> Result<(), BackendError>;

    /// The session `id` of `repo`, if it exists.
    async fn get_upload(
        &self,
        repo: &RepoName,
        id: &str,
    ) -> Result<Option<UploadSession>, BackendError>;

    /// Appends one staged part to `session` as the caller read it, atomically and only
    /// if the stored session still stands exactly there (same offset, same parts): of
    /// two replicas racing on one session exactly one wins. Returns `false` when the
    /// session moved on or vanished.
    async fn append_upload_part(
        &self,
        session: &UploadSession,
        part: &StagedPart,
        new_hash_state: &[u8],
    ) -> Result<bool, BackendError>;

    /// Deletes a session; `false` if it did not exist.
    async fn delete_upload(&self, id: &str) -> Result<bool, BackendError>;

    /// Sessions last touched before `before` (unix seconds), for cleaning up abandoned
    /// uploads.
    async fn stale_uploads(&self, before: i64, limit: u32) -> Result<Vec<String>, BackendError>;

    // ---- blobs -----------------------------------------------------------------------

    /// Records a verified blob and links it to `repo`, and deletes the upload session
    /// `upload_id` (if given), all in one transaction.
    async fn commit_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        size: u64,
        upload_id: Option<&str>,
    ) -> Result<(), BackendError>;

    /// Size of a blob if it is linked to `repo`.
    async fn repository_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<u64>, BackendError>;

    /// Links an existing blob of `from` into `repo` (cross-repository mount).
    /// Returns `false` when `from` does not hold the blob.
    async fn mount_blob(
        &self,
        repo: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<bool, BackendError>;

    /// Unlinks a blob from a repository; `false` when it was not linked.
    async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<bool, BackendError>;

    // ---- manifests and tags ------------------------------------------------------------

    /// Stores a manifest (idempotent for the same digest), its references, and points
    /// `tag` at it, in one transaction, after checking every reference exists in `repo`.
    async fn put_manifest(
        &self,
        repo: &RepoName,
        manifest: &ManifestRecord,
        references: &ManifestReferences,
        tag: Option<&Tag>,
    ) -> Result<PutManifestOutcome, BackendError>;

    /// A manifest by digest.
    async fn manifest_by_digest(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>, BackendError>;

    /// A manifest by tag.
    async fn manifest_by_tag(
        &self,
        repo: &RepoName,
        tag: &Tag,
    ) -> Result<Option<ManifestRecord>, BackendError>;

    /// Deletes a manifest and every tag pointing at it; `false` if absent.
    async fn delete_manifest(&self, repo: &RepoName, digest: &Digest)
    -> Result<bool, BackendError>;

    /// Deletes one tag (the manifest stays); `false` if absent.
    async fn delete_tag(&self, repo: &RepoName, tag: &Tag) -> Result<bool, BackendError>;

    /// Tags of `repo` in lexical order, after `last`, at most `limit`.
    async fn list_tags(
        &self,
        repo: &RepoName,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, BackendError>;

    /// Repository names in lexical order, after `last`, at most `limit`.
    async fn list_repositories(
        &self,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, BackendError>;

    /// Manifests of `repo` whose subject is `subject`, optionally of one artifact type,
    /// ordered by digest.
    async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, BackendError>;
}
