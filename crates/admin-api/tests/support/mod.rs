//! Harness for driving `admin_api::router` in-process: a fresh database per test on
//! SQLite (a temp file) or Postgres (`BERTH_TEST_DATABASE_URL`), a test authenticator
//! (Basic credentials of users and robots, checked against that database), an
//! in-memory blob store and a permissive `/v2` authorizer.
#![allow(dead_code)]

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use admin_api::{ApiError, ApiState, Authenticator, Caller};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use projects::Database;
use rbac::{AccessDirectory as _, UserAccount};
use registry_core::RegistryError;
use registry_core::auth::{Action, Authorizer, Grant, Principal, Resource, UploadContext};
use serde_json::Value;
use sqlx::{Connection as _, Executor as _, PgConnection};
use tower::ServiceExt as _;

pub const PG_ENV: &str = "BERTH_TEST_DATABASE_URL";
pub const ROBOT_KEY: &[u8] = b"test robot secret key";
pub const ADMIN_PASSWORD: &str = "Harbor12345";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `case` with a migrated, empty database of `backend` (the bootstrap admin
/// `admin` / [`ADMIN_PASSWORD`] created), removed afterwards.
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite:{}", dir.path().join("berth.db").display());
            case(open(&url).await).await;
        }
        Backend::Postgres => {
            let admin_url = std::env::var(PG_ENV).unwrap_or_else(|_| {
                panic!(
                    "{PG_ENV} is not set: start a server with \
                     `eval \"$(bash tests/services/pg-up.sh)\"` (from the workspace root) first"
                )
            });
            let name = format!("berth_api_{}", uuid::Uuid::new_v4().simple());
            let mut admin = PgConnection::connect(&admin_url).await.expect("connect");
            admin
                .execute(format!("CREATE DATABASE \"{name}\"").as_str())
                .await
                .expect("create test database");
            let mut url = url::Url::parse(&admin_url).expect("admin URL");
            url.set_path(&name);
            let db = open(url.as_str()).await;
            let outcome = tokio::spawn(case(db.clone())).await;
            db.close().await;
            admin
                .execute(format!("DROP DATABASE \"{name}\" WITH (FORCE)").as_str())
                .await
                .expect("drop test database");
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

async fn open(url: &str) -> Database {
    let db = Database::connect(url).await.expect("connect");
    db.migrate().await.expect("migrate");
    db.ensure_admin("admin", Some(ADMIN_PASSWORD))
        .await
        .expect("bootstrap admin");
    db
}

/// Basic credentials of users (argon2 check) and robots (keyed hash, enabled, not
/// expired), as the gateway's authenticator accepts them.
pub struct TestAuth {
    pub db: Database,
}

#[async_trait]
impl Authenticator for TestAuth {
    async fn basic(
        &self,
        username: &str,
        password: &str,
        _client: Option<IpAddr>,
    ) -> Result<Option<Caller>, ApiError> {
        if username.starts_with("robot$") {
            let Some((robot, hash)) = self.db.robot(username).await.map_err(ApiError::internal)?
            else {
                return Ok(None);
            };
            let ok = token_auth::hash_robot_secret(ROBOT_KEY, password) == hash
                && robot.is_active(chrono::Utc::now().timestamp());
            return Ok(ok.then_some(Caller::Robot(robot)));
        }
        Ok(self.db.verify_password(username, password).await?.map(|u| {
            Caller::User(UserAccount {
                id: u.id,
                username: u.username,
                sysadmin: u.is_admin,
            })
        }))
    }

    async fn bearer(&self, _token: &str) -> Result<Option<Caller>, ApiError> {
        Ok(None)
    }
}

struct AllowAll;

#[async_trait]
impl Authorizer for AllowAll {
    async fn authorize(
        &self,
        _headers: &axum::http::HeaderMap,
        _resource: &Resource,
        _action: Action,
        _upload: Option<UploadContext>,
    ) -> Result<Grant, RegistryError> {
        Ok(Grant {
            principal: Principal {
                subject: String::new(),
            },
        })
    }
}

/// The API under test.
#[derive(Clone)]
pub struct Api {
    pub router: axum::Router,
    pub db: Database,
}

/// An answer: status, headers and the JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The code of Harbor's error envelope.
    pub fn error_code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or_default()
    }
}

/// Basic credentials.
pub type Creds<'a> = Option<(&'a str, &'a str)>;

pub const ADMIN: Creds<'static> = Some(("admin", ADMIN_PASSWORD));

impl Api {
    pub async fn new(db: Database) -> Self {
        let storage = storage::StorageConfig::Memory;
        let blobs = storage::open(&storage).await.expect("memory store");
        let registry =
            registry_core::Registry::new(Arc::new(db.clone()), blobs, Arc::new(AllowAll));
        let state = ApiState {
            db: db.clone(),
            auth: Arc::new(TestAuth { db: db.clone() }),
            registry,
            robot_secret_key: Arc::from(ROBOT_KEY),
            external_url: Some("https://registry.example.com".into()),
            storage_provider: storage.provider_name(),
        };
        Self {
            router: admin_api::router(state),
            db,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        creds: Creds<'_>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some((user, password)) = creds {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            req = req.header(header::AUTHORIZATION, format!("Basic {token}"));
        }
        let req = match body {
            Some(json) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, creds: Creds<'_>) -> Answer {
        self.call(Method::GET, path, creds, None).await
    }
    pub async fn post(&self, path: &str, creds: Creds<'_>, body: Value) -> Answer {
        self.call(Method::POST, path, creds, Some(body)).await
    }
    pub async fn put(&self, path: &str, creds: Creds<'_>, body: Value) -> Answer {
        self.call(Method::PUT, path, creds, Some(body)).await
    }
    pub async fn patch(&self, path: &str, creds: Creds<'_>, body: Value) -> Answer {
        self.call(Method::PATCH, path, creds, Some(body)).await
    }
    pub async fn delete(&self, path: &str, creds: Creds<'_>) -> Answer {
        self.call(Method::DELETE, path, creds, None).await
    }
}
