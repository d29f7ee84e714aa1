//! The `berth` binary's library: configuration, wiring of the crates into one HTTP
//! server, middleware, and the `serve` / `migrate` subcommands.

mod activity;
mod api_auth;
pub mod config;
mod credentials;
mod health;
mod middleware;
pub mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use registry_core::{BlobStore, MetadataStore, Registry};
use tokio::net::TcpListener;

use config::Config;

/// Name of the account created at first start.
pub const ADMIN_USERNAME: &str = "admin";
/// The public project every installation starts with.
pub const DEFAULT_PROJECT: &str = "library";
/// Settings key under which the token signing key is shared by every replica.
const SIGNING_KEY_SETTING: &str = "token_signing_key_pem";
/// Settings key of the HMAC key robot secrets are stored under (same on every replica).
const ROBOT_KEY_SETTING: &str = "robot_secret_key";

/// Applies migrations and exits (`berth migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = open_database(config).await?;
    db.migrate().await.context("applying migrations")?;
    tracing::info!("database is up to date");
    Ok(())
}

/// Runs the registry until SIGINT/SIGTERM (`berth serve`).
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    serve_on(config, listener, shutdown_signal()).await
}

/// Serves on an already-bound listener until `shutdown` completes, then lets in-flight
/// requests finish. Tests bind port 0 and pass the listener in.
pub async fn serve_on(
    config: Config,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let app = build(&config).await?;
    spawn_upload_janitor(app.registry.clone(), config.upload_expiry_secs);
    let address = listener
        .local_addr()
        .context("reading the listen address")?;
    tracing::info!(
        %address,
        startup_ms = started.elapsed().as_millis() as u64,
        "berth is ready"
    );
    axum::serve(
        listener,
        app.router
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving HTTP")?;
    app.flusher.finish().await;
    tracing::info!("berth stopped");
    Ok(())
}

/// Builds the whole application: database, storage, token service, routes.
pub async fn build(config: &Config) -> anyhow::Result<App> {
    if !config.uses_s3() || config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
    }
    let db = open_database(config).await?;
    db.migrate().await.context("applying migrations")?;
    bootstrap_admin(&db, config).await?;
    // Harbor starts with a public `library` project; so does Berth.
    db.ensure_project(DEFAULT_PROJECT, true, ADMIN_USERNAME)
        .await
        .context("creating the library project")?;

    let storage = storage_config(config);
    let blobs = storage::open(&storage)
        .await
        .context("opening blob storage")?;

    let key_pem = shared_secret(&db, SIGNING_KEY_SETTING, || {
        let (_, pem) = token_auth::SigningKey::generate()?;
        Ok(pem)
    })
    .await
    .context("loading the token signing key")?;
    let signing_key =
        token_auth::SigningKey::from_pem(&key_pem).context("reading the token signing key")?;
    let robot_key = shared_secret(&db, ROBOT_KEY_SETTING, || {
        Ok(token_auth::generate_robot_key())
    })
    .await
    .context("loading the robot secret key")?;
    let directory: Arc<dyn token_auth::rbac::AccessDirectory> = Arc::new(db.clone());
    let accounts = token_auth::Accounts::new(
        Arc::new(credentials::UserCredentials::new(db.clone())),
        Arc::new(token_auth::RobotVerifier::new(
            directory.clone(),
            robot_key.as_bytes(),
        )),
    );
    let (recorder, flusher) = activity::start(db.clone());
    let tokens = Arc::new(
        token_auth::TokenService::new(
            token_auth::TokenConfig {
                service: config.service_name.clone(),
                issuer: config.service_name.clone(),
                external_url: config.external_url.clone(),
                ttl: Duration::from_secs(config.token_ttl_secs),
                ..token_auth::TokenConfig::default()
            },
            signing_key,
            Arc::new(accounts),
            directory,
        )
        .context("configuring the token service")?
        .with_login_observer(recorder.clone()),
    );

    let meta: Arc<dyn MetadataStore> = Arc::new(db.clone());
    let registry = Registry::new(meta.clone(), blobs.clone(), tokens.clone()).with_events(recorder);
    let api = admin_api::ApiState {
        db: db.clone(),
        auth: Arc::new(api_auth::TokenAuthenticator::new(tokens.clone(), db)),
        registry: registry.clone(),
        robot_secret_key: Arc::from(robot_key.as_bytes()),
        external_url: config.external_url.clone(),
        storage_provider: storage.provider_name(),
    };
    let app = Router::new()
        .merge(registry_core::http::router(registry.clone()))
        .merge(token_auth::router(tokens))
        .merge(admin_api::router(api))
        .merge(health::router(meta, blobs))
        .layer(middleware::stack());
    Ok(App {
        router: app,
        registry,
        flusher,
    })
}

/// The assembled server: routes, the registry (for background jobs), and the activity
/// writer to finish at shutdown.
pub struct App {
    pub router: Router,
    pub registry: Registry,
    flusher: activity::Flusher,
}

/// The secret every replica shares under `key` in the settings table: read it, or on
/// first start make one and store it (a replica starting at the same moment may win;
/// then its value is the one returned). Reading first means a restart generates no key
/// (the first use of the crypto library's random generator seeds it, about 20 ms).
async fn shared_secret(
    db: &projects::Database,
    key: &str,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    if let Some(value) = db.setting(key).await? {
        return Ok(value);
    }
    Ok(db.get_or_create_setting(key, &make()?).await?)
}

async fn open_database(config: &Config) -> anyhow::Result<projects::Database> {
    let url = config.database_url();
    projects::Database::connect(&url)
        .await
        .with_context(|| format!("cannot open database {}", config::redact_url(&url)))
}

/// Creates the `admin` account on first start. A generated password is printed once,
/// to stdout only; it is never logged.
async fn bootstrap_admin(db: &projects::Database, config: &Config) -> anyhow::Result<()> {
    let generated = db
        .ensure_admin(ADMIN_USERNAME, config.admin_password.as_deref())
        .await
        .context("creating the admin account")?;
    if let Some(password) = generated {
        println!(
            "\nCreated the administrator account.\n  username: {ADMIN_USERNAME}\n  password: {password}\n\
             This password is shown once; set BERTH_ADMIN_PASSWORD before the first start to choose it.\n\
             Log in with: docker login {} -u {ADMIN_USERNAME}\n",
            login_host(config)
        );
    }
    Ok(())
}

fn login_host(config: &Config) -> String {
    match &config.external_url {
        Some(url) => url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned(),
        None if config.listen.ip().is_unspecified() => {
            format!("localhost:{}", config.listen.port())
        }
        None => config.listen.to_string(),
    }
}

fn storage_config(config: &Config) -> storage::StorageConfig {
    match &config.s3.bucket {
        Some(bucket) => {
            let s3 = &config.s3;
            let allow_http = s3.allow_http.unwrap_or_else(|| {
                s3.endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://"))
            });
            storage::StorageConfig::S3(storage::S3Config {
                endpoint: s3.endpoint.clone(),
                bucket: bucket.clone(),
                region: s3.region.clone().unwrap_or_else(|| "us-east-1".into()),
                access_key: s3.access_key.clone(),
                secret_key: s3.secret_key.clone(),
                allow_http,
                virtual_hosted_style: s3.virtual_hosted_style,
                redirect: s3.redirect.then(|| storage::RedirectConfig {
                    endpoint: s3.redirect_endpoint.clone(),
                    ttl_secs: s3
                        .redirect_ttl_secs
                        .unwrap_or(storage::DEFAULT_REDIRECT_TTL_SECS),
                }),
            })
        }
        None => storage::StorageConfig::Filesystem {
            root: config.data_dir.join("blobs"),
        },
    }
}

/// Periodically removes abandoned upload sessions and their staged bytes. Safe on every
/// replica at once: deleting a session twice is a no-op.
fn spawn_upload_janitor(registry: Registry, max_age_secs: u64) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match registry.purge_stale_uploads(max_age_secs as i64).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "removed abandoned upload sessions"),
                Err(err) => tracing::warn!(error = %err, "could not purge abandoned uploads"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down; finishing in-flight requests");
}

/// Keeps trait objects' types in one place for readers.
#[allow(dead_code)]
type Stores = (Arc<dyn MetadataStore>, Arc<dyn BlobStore>);
