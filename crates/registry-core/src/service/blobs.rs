//! Reading, mounting and unlinking blobs of a repository.

use std::ops::Range;

use super::Registry;
use crate::blobs::{BackendError, ByteStream};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::name::RepoName;

impl Registry {
    /// Size of a blob the repository may serve; `BLOB_UNKNOWN` otherwise.
    pub async fn blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<u64, RegistryError> {
        self.meta
            .repository_blob(repo, digest)
            .await?
            .ok_or_else(|| RegistryError::blob_unknown(digest))
    }

    /// Streams a blob (or a range of it) the repository may serve.
    pub async fn read_blob(
        &self,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, RegistryError> {
        match self.blobs.read(digest, range).await {
            Ok(stream) => Ok(stream),
            // Linked in the database but gone from storage: report it as unknown rather
            // than failing the request with a 500.
            Err(BackendError::NotFound(_)) => {
                tracing::error!(%digest, "blob is linked but missing from storage");
                Err(RegistryError::blob_unknown(digest))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Where the client may fetch a blob itself instead of through Berth, when the store
    /// offers that (presigned URLs on S3, if configured). The caller checked access.
    pub async fn blob_download_url(
        &self,
        digest: &Digest,
    ) -> Result<Option<String>, RegistryError> {
        Ok(self.blobs.download_url(digest).await?)
    }

    /// Links a blob of `from` into `repo`; `false` when `from` does not hold it.
    pub async fn mount_blob(
        &self,
        repo: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        Ok(self.meta.mount_blob(repo, from, digest).await?)
    }

    /// Removes a blob from a repository. The bytes stay until garbage collection.
    pub async fn delete_blob(&self, repo: &RepoName, digest: &Digest) -> Result<(), RegistryError> {
        if self.meta.unlink_blob(repo, digest).await? {
            Ok(())
        } else {
            Err(RegistryError::blob_unknown(digest))
        }
    }
}
