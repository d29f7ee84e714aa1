//! Configuration: defaults that run, a TOML file (`--config`), then `BERTH_*` environment
//! variables and command-line flags, each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid value for {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// Everything `berth serve` needs. Field names are the TOML keys.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Home of the embedded default: SQLite database and blob files.
    pub data_dir: PathBuf,
    /// `sqlite:...` or `postgres://...`; defaults to SQLite inside `data_dir`.
    pub database_url: Option<String>,
    /// Public base URL (e.g. `https://registry.example.com`) used in token challenges;
    /// derived from each request's Host header when unset.
    pub external_url: Option<String>,
    /// Password for the bootstrap `admin` account, used only when it is first created.
    pub admin_password: Option<String>,
    /// Name of this registry in tokens (`service` and `aud`).
    pub service_name: String,
    /// Lifetime of issued bearer tokens, in seconds.
    pub token_ttl_secs: u64,
    /// Upload sessions untouched for this long are removed with their staged bytes.
    pub upload_expiry_secs: u64,
    /// `text` (default) or `json` logs.
    pub log_format: String,
    pub s3: S3Settings,
}

/// S3-compatible storage; used when `bucket` is set, otherwise blobs go to `data_dir`.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    /// Allow plain `http://` endpoints (local MinIO/SeaweedFS); off for real deployments.
    pub allow_http: Option<bool>,
    /// Virtual-hosted-style bucket addressing (AWS); path-style otherwise.
    pub virtual_hosted_style: bool,
    /// Answer blob downloads with a `307` to a presigned URL, so clients fetch the bytes
    /// from the store. Off by default: clients must be able to reach the store.
    pub redirect: bool,
    /// The store's address as clients reach it, if not `endpoint`.
    pub redirect_endpoint: Option<String>,
    /// Validity of each presigned URL, in seconds (default 1200).
    pub redirect_ttl_secs: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 5000)),
            data_dir: PathBuf::from("berth-data"),
            database_url: None,
            external_url: None,
            admin_password: None,
            service_name: "berth".into(),
            token_ttl_secs: 300,
            upload_expiry_secs: 24 * 3600,
            log_format: "text".into(),
            s3: S3Settings::default(),
        }
    }
}

// Secrets must never reach logs, so Debug is written by hand.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("external_url", &self.external_url)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .field("service_name", &self.service_name)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("s3", &self.s3)
            .finish()
    }
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
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
            .field("redirect_endpoint", &self.redirect_endpoint)
            .field("redirect_ttl_secs", &self.redirect_ttl_secs)
            .finish()
    }
}

/// Hides the password of a `scheme://user:password@host/db` URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Values given on the command line (or by their environment variable through clap).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// Address to listen on [default: 0.0.0.0:5000]
    #[arg(long, env = "BERTH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory of the embedded default [default: ./berth-data]
    #[arg(long, env = "BERTH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite:PATH or postgres://USER:PASS@HOST/DB
    #[arg(long, env = "BERTH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Public base URL of this registry, used in token challenges
    #[arg(long, env = "BERTH_EXTERNAL_URL")]
    pub external_url: Option<String>,
}

impl Config {
    /// Loads the file (if any), then applies environment variables and flags.
    pub fn load(file: Option<&Path>, flags: &Overrides) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?
            }
            None => Config::default(),
        };
        config.apply_env(&|name| std::env::var(name).ok())?;
        config.check()?;
        if let Some(v) = flags.listen {
            config.listen = v;
        }
        if let Some(v) = &flags.data_dir {
            config.data_dir = v.clone();
        }
        if let Some(v) = &flags.database_url {
            config.database_url = Some(v.clone());
        }
        if let Some(v) = &flags.external_url {
            config.external_url = Some(v.clone());
        }
        Ok(config)
    }

    /// Applies the `BERTH_*` variables not covered by flags. `var` is injectable for tests.
    fn apply_env(&mut self, var: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let set = |target: &mut Option<String>, name: &str| {
            if let Some(v) = var(name).filter(|v| !v.is_empty()) {
                *target = Some(v);
            }
        };
        set(&mut self.admin_password, "BERTH_ADMIN_PASSWORD");
        set(&mut self.s3.endpoint, "BERTH_S3_ENDPOINT");
        set(&mut self.s3.bucket, "BERTH_S3_BUCKET");
        set(&mut self.s3.region, "BERTH_S3_REGION");
        set(&mut self.s3.access_key, "BERTH_S3_ACCESS_KEY");
        set(&mut self.s3.secret_key, "BERTH_S3_SECRET_KEY");
        if let Some(v) = var("BERTH_S3_ALLOW_HTTP") {
            self.s3.allow_http = Some(parse_bool("BERTH_S3_ALLOW_HTTP", &v)?);
        }
        if let Some(v) = var("BERTH_S3_VIRTUAL_HOSTED_STYLE") {
            self.s3.virtual_hosted_style = parse_bool("BERTH_S3_VIRTUAL_HOSTED_STYLE", &v)?;
        }
        if let Some(v) = var("BERTH_S3_REDIRECT") {
            self.s3.redirect = parse_bool("BERTH_S3_REDIRECT", &v)?;
        }
        set(&mut self.s3.redirect_endpoint, "BERTH_S3_REDIRECT_ENDPOINT");
        if let Some(v) = var("BERTH_S3_REDIRECT_TTL_SECS") {
            self.s3.redirect_ttl_secs = Some(v.parse().map_err(|_| ConfigError::Invalid {
                name: "BERTH_S3_REDIRECT_TTL_SECS",
                message: format!("{v:?} is not a number of seconds"),
            })?);
        }
        if let Some(v) = var("BERTH_SERVICE_NAME").filter(|v| !v.is_empty()) {
            self.service_name = v;
        }
        if let Some(v) = var("BERTH_TOKEN_TTL_SECS") {
            self.token_ttl_secs = v.parse().map_err(|_| ConfigError::Invalid {
                name: "BERTH_TOKEN_TTL_SECS",
                message: format!("{v:?} is not a number of seconds"),
            })?;
        }
        if let Some(v) = var("BERTH_LOG_FORMAT").filter(|v| !v.is_empty()) {
            self.log_format = v;
        }
        Ok(())
    }

    /// Settings that are valid one by one but contradict each other.
    fn check(&self) -> Result<(), ConfigError> {
        let s3 = &self.s3;
        if s3.redirect && s3.bucket.is_none() {
            return Err(ConfigError::Invalid {
                name: "s3.redirect",
                message: "redirects are for S3 storage: set a bucket, or leave redirect off".into(),
            });
        }
        if !s3.redirect && (s3.redirect_endpoint.is_some() || s3.redirect_ttl_secs.is_some()) {
            return Err(ConfigError::Invalid {
                name: "s3.redirect",
                message: "redirect_endpoint and redirect_ttl_secs take effect only with \
                          redirect = true (BERTH_S3_REDIRECT=true)"
                    .into(),
            });
        }
        Ok(())
    }

    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("berth.db").display()))
    }

    /// Whether blobs go to S3 rather than the data directory.
    pub fn uses_s3(&self) -> bool {
        self.s3.bucket.is_some()
    }
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            message: format!("{v:?} is not a boolean"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_values() {
        let mut config: Config = toml::from_str(
            "listen = \"127.0.0.1:6000\"\n[s3]\nbucket = \"from-file\"\nregion = \"eu\"\n",
        )
        .unwrap();
        let env = |name: &str| match name {
            "BERTH_S3_BUCKET" => Some("from-env".to_owned()),
            "BERTH_S3_ALLOW_HTTP" => Some("true".to_owned()),
            _ => None,
        };
        config.apply_env(&env).unwrap();
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.s3.bucket.as_deref(), Some("from-env"));
        assert_eq!(config.s3.region.as_deref(), Some("eu"));
        assert_eq!(config.s3.allow_http, Some(true));
        assert!(config.uses_s3());
    }

    #[test]
    fn redirect_settings_come_from_file_and_env() {
        let mut config: Config =
            toml::from_str("[s3]\nbucket = \"b\"\nredirect = true\nredirect_ttl_secs = 600\n")
                .unwrap();
        let env = |name: &str| {
            (name == "BERTH_S3_REDIRECT_ENDPOINT").then(|| "https://s3.example.com".to_owned())
        };
        config.apply_env(&env).unwrap();
        config.check().unwrap();
        assert!(config.s3.redirect);
        assert_eq!(config.s3.redirect_ttl_secs, Some(600));
        assert_eq!(
            config.s3.redirect_endpoint.as_deref(),
            Some("https://s3.example.com")
        );

        let off = |name: &str| (name == "BERTH_S3_REDIRECT").then(|| "false".to_owned());
        config.apply_env(&off).unwrap();
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("redirect = true"), "{err}");

        let bad_ttl = |name: &str| (name == "BERTH_S3_REDIRECT_TTL_SECS").then(|| "20m".to_owned());
        assert!(Config::default().apply_env(&bad_ttl).is_err());
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let mut config = Config::default();
        let env = |name: &str| (name == "BERTH_TOKEN_TTL_SECS").then(|| "soon".to_owned());
        assert!(config.apply_env(&env).is_err());
    }

    #[test]
    fn defaults_to_sqlite_in_data_dir_and_redacts_secrets() {
        let mut config = Config::default();
        assert!(config.database_url().starts_with("sqlite://berth-data"));
        config.database_url = Some("postgres://u:secret@db/x".into());
        config.s3.secret_key = Some("s3cret".into());
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("secret@") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
