//! Which backend holds the blobs, and how to reach it.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// The blob store backend. In TOML this reads e.g.
/// `backend = "filesystem"` + `root = "/var/lib/berth/blobs"`, or `backend = "s3"` with the
/// [`S3Config`] fields alongside, or `backend = "memory"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
pub enum StorageConfig {
    /// A local directory, created if missing. The single-node default.
    Filesystem { root: PathBuf },
    /// Any S3-compatible object store (AWS S3, MinIO, Ceph RGW, SeaweedFS).
    S3(S3Config),
    /// Process memory: lost on exit, not shared between replicas. For tests and demos.
    Memory,
}

/// Where an S3-compatible bucket is and how to sign requests to it.
///
/// `Debug` is written by hand so the secret key never reaches a log line.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// e.g. `http://127.0.0.1:9000` for a self-hosted server; `None` means AWS itself.
    #[serde(default)]
    pub endpoint: Option<String>,
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// Static credentials. Give both or neither; with neither, the standard AWS sources
    /// (`AWS_*` environment, web identity, container or instance metadata) are used.
    #[serde(default)]
    pub access_key: Option<String>,
    #[serde(default)]
    pub secret_key: Option<String>,
    /// Permit a plain `http://` endpoint (local servers, test setups).
    #[serde(default)]
    pub allow_http: bool,
    /// `https://<bucket>.<endpoint>` addressing instead of path style
    /// (`https://<endpoint>/<bucket>`). Most self-hosted servers want path style.
    #[serde(default)]
    pub virtual_hosted_style: bool,
    /// Answer blob downloads with a redirect to a presigned URL of the object, so clients
    /// fetch the bytes from the store itself; `None` serves every byte through Berth.
    #[serde(default)]
    pub redirect: Option<RedirectConfig>,
}

/// Downloads by redirect: `GET /v2/<name>/blobs/<digest>` answers `307` with a presigned
/// URL once the client's pull permission is checked. Clients must be able to reach the
/// store; the URL grants a read of that one object until it expires, to whoever has it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectConfig {
    /// The store's address as clients reach it, when it differs from `endpoint` (e.g.
    /// Berth talks to `http://minio.internal:9000`, clients to `https://s3.example.com`).
    /// The URL is signed for this host, so it must be the same store, not a proxy that
    /// rewrites requests.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// How long each URL stays valid, in seconds: long enough for a slow client to fetch
    /// a large layer (and to retry it), short enough that a leaked URL soon stops working.
    #[serde(default = "default_redirect_ttl_secs")]
    pub ttl_secs: u64,
}

/// Twenty minutes, as CNCF distribution's S3 driver signs its redirects.
pub const DEFAULT_REDIRECT_TTL_SECS: u64 = 20 * 60;

/// The longest validity SigV4 allows for a presigned URL: seven days.
pub const MAX_REDIRECT_TTL_SECS: u64 = 7 * 24 * 3600;

fn default_redirect_ttl_secs() -> u64 {
    DEFAULT_REDIRECT_TTL_SECS
}

impl StorageConfig {
    /// The backend's name as Harbor's `systeminfo` reports its storage driver.
    pub fn provider_name(&self) -> &'static str {
        match self {
            StorageConfig::Filesystem { .. } => "filesystem",
            StorageConfig::S3(_) => "s3",
            StorageConfig::Memory => "inmemory",
        }
    }
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("redirect", &self.redirect)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> S3Config {
        S3Config {
            endpoint: Some("http://127.0.0.1:9000".into()),
            bucket: "blobs".into(),
            region: "us-east-1".into(),
            access_key: Some("AKIDEXAMPLE".into()),
            secret_key: Some("wJalrXUtnFEMI-very-secret".into()),
            allow_http: true,
            virtual_hosted_style: false,
            redirect: None,
        }
    }

    #[test]
    fn debug_redacts_the_secret_key() {
        let shown = format!("{:?}", StorageConfig::S3(s3()));
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
    }

    #[test]
    fn deserializes_every_backend() {
        let fs: StorageConfig =
            serde_json::from_str(r#"{"backend":"filesystem","root":"/data/blobs"}"#).unwrap();
        assert_eq!(
            fs,
            StorageConfig::Filesystem {
                root: "/data/blobs".into()
            }
        );

        let mem: StorageConfig = serde_json::from_str(r#"{"backend":"memory"}"#).unwrap();
        assert_eq!(mem, StorageConfig::Memory);
        assert_eq!(fs.provider_name(), "filesystem");
        assert_eq!(mem.provider_name(), "inmemory");

        let s3: StorageConfig =
            serde_json::from_str(r#"{"backend":"s3","bucket":"b","endpoint":"http://h:1"}"#)
                .unwrap();
        let StorageConfig::S3(s3) = s3 else {
            panic!("expected s3")
        };
        assert_eq!(StorageConfig::S3(s3.clone()).provider_name(), "s3");
        assert_eq!(s3.region, "us-east-1");
        assert_eq!(s3.endpoint.as_deref(), Some("http://h:1"));
        assert!(!s3.allow_http && !s3.virtual_hosted_style);
        assert!(s3.access_key.is_none() && s3.secret_key.is_none());
        assert_eq!(s3.redirect, None);

        let redirecting: StorageConfig = serde_json::from_str(
            r#"{"backend":"s3","bucket":"b","redirect":{"endpoint":"https://s3.example.com"}}"#,
        )
        .unwrap();
        let StorageConfig::S3(redirecting) = redirecting else {
            panic!("expected s3")
        };
        assert_eq!(
            redirecting.redirect,
            Some(RedirectConfig {
                endpoint: Some("https://s3.example.com".into()),
                ttl_secs: DEFAULT_REDIRECT_TTL_SECS,
            })
        );

        let typo = serde_json::from_str::<StorageConfig>(r#"{"backend":"s3","bukket":"b"}"#);
        assert!(typo.is_err());
    }
}
