//! Building a blob store from its configuration.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::ClientOptions;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::signer::Signer;
use registry_core::BlobStore;

use crate::config::{MAX_REDIRECT_TTL_SECS, RedirectConfig, S3Config, StorageConfig};
use crate::error::StorageError;
use crate::store::ObjectBlobStore;

/// Opens the configured blob store. Creates the filesystem root if missing; does not
/// contact S3 (use `ping` for that), so a store that is down does not stop start-up.
pub async fn open(config: &StorageConfig) -> Result<Arc<dyn BlobStore>, StorageError> {
    let store = match config {
        StorageConfig::Filesystem { root } => filesystem(root).await?,
        StorageConfig::S3(s3_config) => s3_store(s3_config)?,
        StorageConfig::Memory => ObjectBlobStore::new(Arc::new(InMemory::new())),
    };
    Ok(Arc::new(store))
}

async fn filesystem(root: &Path) -> Result<ObjectBlobStore, StorageError> {
    tokio::fs::create_dir_all(root)
        .await
        .map_err(|source| StorageError::CreateRoot {
            path: root.to_owned(),
            source,
        })?;
    // The same absolute path object_store resolves keys against, for directory cleanup.
    let root = tokio::fs::canonicalize(root)
        .await
        .map_err(|source| StorageError::CreateRoot {
            path: root.to_owned(),
            source,
        })?;
    let local = LocalFileSystem::new_with_prefix(&root)?
        // Deleting the last part of an upload also removes `_uploads/<id>/`.
        .with_automatic_cleanup(true)
        // A blob the database records must survive a power cut, as it would on S3.
        .with_fsync(true);
    Ok(ObjectBlobStore::filesystem(Arc::new(local), root))
}

fn s3_store(config: &S3Config) -> Result<ObjectBlobStore, StorageError> {
    let client = Arc::new(s3(config, config.endpoint.as_deref())?);
    let store = ObjectBlobStore::new(client.clone());
    let Some(redirect) = &config.redirect else {
        return Ok(store);
    };
    let ttl = redirect_ttl(redirect)?;
    // A second client that only signs: the signature covers the host clients will send.
    let signer: Arc<dyn Signer> = match &redirect.endpoint {
        Some(endpoint) => Arc::new(s3(config, Some(endpoint))?),
        None => client,
    };
    Ok(store.with_presigned_downloads(signer, ttl))
}

fn redirect_ttl(redirect: &RedirectConfig) -> Result<Duration, StorageError> {
    if !(1..=MAX_REDIRECT_TTL_SECS).contains(&redirect.ttl_secs) {
        return Err(StorageError::Config(format!(
            "s3: redirect ttl_secs must be between 1 and {MAX_REDIRECT_TTL_SECS} (seven days, \
             the longest a presigned URL can be valid), not {}",
            redirect.ttl_secs
        )));
    }
    Ok(Duration::from_secs(redirect.ttl_secs))
}

/// A client for `config`'s bucket at `endpoint` (`None`: AWS itself).
fn s3(
    config: &S3Config,
    endpoint: Option<&str>,
) -> Result<object_store::aws::AmazonS3, StorageError> {
    if config.bucket.is_empty() {
        return Err(StorageError::Config("s3: bucket must not be empty".into()));
    }
    let builder = match (&config.access_key, &config.secret_key) {
        // Fully explicit: ignore ambient AWS_* variables so they cannot mix in (a stray
        // AWS_SESSION_TOKEN next to static keys would break every signature).
        (Some(access), Some(secret)) => AmazonS3Builder::new()
            .with_access_key_id(access)
            .with_secret_access_key(secret),
        // Ambient credentials: environment, web identity, container or instance metadata.
        (None, None) => AmazonS3Builder::from_env(),
        _ => {
            return Err(StorageError::Config(
                "s3: give both access_key and secret_key, or neither".into(),
            ));
        }
    };
    // Set first: `with_client_options` replaces client settings made before it.
    let mut builder = builder
        .with_client_options(client_options())
        .with_bucket_name(&config.bucket)
        .with_region(&config.region)
        .with_allow_http(config.allow_http)
        .with_virtual_hosted_style_request(config.virtual_hosted_style);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    Ok(builder.build()?)
}

/// The default 30 s limit on a whole request would cut off any blob download slower than
/// that (a 1 GiB layer to a 10 MB/s client), and resuming is bounded by the retry budget.
/// Instead, give up on a connection that stays silent.
fn client_options() -> ClientOptions {
    ClientOptions::new()
        .with_timeout_disabled()
        .with_connect_timeout(Duration::from_secs(5))
        .with_read_timeout(Duration::from_secs(60))
}
