//! Starting, crashing and restarting the `berth` binary under test.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::client::RegistryClient;
use crate::env::{S3Settings, require};
use crate::process::{self, CmdOutput};

/// How long `berth serve` may take to answer `/health/ready`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How often readiness is probed while waiting.
const READY_POLL: Duration = Duration::from_millis(100);
/// The user `berth` creates from `BERTH_ADMIN_PASSWORD`.
pub const ADMIN_USER: &str = "admin";

/// Which metadata and blob backends a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite and the local filesystem under the data directory: `berth serve` defaults.
    Embedded,
    /// A fresh database on the test Postgres and a fresh bucket on the test S3 server.
    PostgresS3,
}

/// A running `berth serve` process. Killed (SIGKILL) when dropped; if the test is failing
/// at that moment, the end of the server's log is printed with the failure.
pub struct BerthServer {
    backend: Backend,
    port: u16,
    admin_password: String,
    child: Option<Child>,
    /// Holds the data directory and the log; removed when the server is dropped.
    work: TempDir,
    /// Database and bucket, shared with replicas; the database is dropped with the last one.
    shared: Option<Arc<SharedBackend>>,
    /// Settings beyond those of the backend, e.g. `BERTH_S3_REDIRECT`; kept on restart.
    extra_env: Vec<(String, String)>,
}

/// The Postgres database and S3 bucket of one logical registry (all its replicas).
struct SharedBackend {
    database: TestDatabase,
    s3: S3Settings,
}

impl BerthServer {
    /// Starts a server with a fresh, empty registry on `backend`.
    pub async fn start(backend: Backend) -> BerthServer {
        Self::start_with_env(backend, &[]).await
    }

    /// Like [`Self::start`], with `BERTH_*` settings of the test's own on top.
    pub async fn start_with_env(backend: Backend, env: &[(&str, &str)]) -> BerthServer {
        let shared = match backend {
            Backend::Embedded => None,
            Backend::PostgresS3 => Some(Arc::new(SharedBackend::create().await)),
        };
        let password = format!("Adm1n-{}", uuid::Uuid::new_v4().simple());
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let server = Self::launch(backend, password, shared, env).await;
        server.ensure_project(crate::oci::PROJECT).await;
        server
    }

    /// Makes sure project `name` exists, through the Harbor-compatible admin API, as a
    /// private project. Harbor ships with `library`; this also covers a registry that
    /// does not create it by itself. A registry without that API is left as it is.
    pub async fn ensure_project(&self, name: &str) {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("building the admin API client");
        let url = format!("{}/api/v2.0/projects", self.base_url());
        let body = serde_json::json!({"project_name": name, "metadata": {"public": "false"}});
        let resp = http
            .post(&url)
            .basic_auth(ADMIN_USER, Some(&self.admin_password))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = resp.status().as_u16();
        // 201 created, 409 already there; 404/405: no admin API in this build.
        if ![201, 409, 404, 405].contains(&status) {
            let text = resp.text().await.unwrap_or_default();
            panic!("creating project {name}: POST {url} -> {status}: {text}");
        }
    }

    /// Starts a second process of the same registry: same database, bucket and admin
    /// password, its own port and data directory. Only Postgres + S3 can be shared.
    pub async fn start_replica(&self) -> BerthServer {
        let shared = self
            .shared
            .clone()
            .expect("only a Postgres + S3 server can have replicas");
        Self::launch(
            self.backend,
            self.admin_password.clone(),
            Some(shared),
            self.extra_env.clone(),
        )
        .await
    }

    async fn launch(
        backend: Backend,
        admin_password: String,
        shared: Option<Arc<SharedBackend>>,
        extra_env: Vec<(String, String)>,
    ) -> BerthServer {
        let bin = berth_bin();
        let work = tempfile::Builder::new()
            .prefix("berth-e2e-")
            .tempdir()
            .expect("creating the server's temp dir");
        std::fs::create_dir(work.path().join("data")).expect("creating the data dir");
        let mut server = BerthServer {
            backend,
            port: 0,
            admin_password,
            child: None,
            work,
            shared,
            extra_env,
        };
        // The port is found by binding port 0 and releasing it, so another process may grab
        // it before berth binds; if berth then dies on an address in use, try another.
        for attempt in 1..=3 {
            server.port = free_port();
            server.spawn(&bin);
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(StartError::Exited(log)) if attempt < 3 && log.contains("in use") => continue,
                Err(e) => panic!("{}", e.describe(&bin, server.port)),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Ends the process with SIGKILL, as a crash would: no shutdown code runs.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Errors mean it has already exited, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
            unregister_pid(child.id());
        }
    }

    /// Starts the process again (killing it first if it runs) on the same port, data
    /// directory, database and bucket, and waits until it is ready.
    pub async fn restart(&mut self) {
        self.kill_hard();
        let bin = berth_bin();
        self.log_marker("restart");
        self.spawn(&bin);
        if let Err(e) = self.wait_ready().await {
            panic!("{}", e.describe(&bin, self.port));
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT`: the registry host as docker and skopeo spell it in references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn admin_user(&self) -> &str {
        ADMIN_USER
    }

    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The S3 settings of a Postgres + S3 server (its own bucket); `None` when embedded.
    pub fn s3(&self) -> Option<&S3Settings> {
        self.shared.as_ref().map(|shared| &shared.s3)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.work.path().join("data")
    }

    /// A client logged in as the admin user.
    pub fn client(&self) -> RegistryClient {
        RegistryClient::new(&self.base_url(), Some((ADMIN_USER, &self.admin_password)))
    }

    /// A client without credentials.
    pub fn anonymous_client(&self) -> RegistryClient {
        RegistryClient::new(&self.base_url(), None)
    }

    /// Runs one SQL statement on this registry's metadata database: Postgres through
    /// `psql`, the embedded SQLite file (`berth.db` in the data directory, where
    /// `berth serve` keeps it by default) through python3's sqlite3 module. For states the
    /// API cannot create on purpose, such as a robot account whose lifetime has run out.
    pub async fn execute_sql(&self, sql: &str) {
        let out = match &self.shared {
            Some(shared) => psql(&shared.database.url, sql).await,
            None => {
                let db = self.data_dir().join("berth.db");
                assert!(db.is_file(), "no SQLite database at {}", db.display());
                let mut cmd = tokio::process::Command::new("python3");
                cmd.args([
                    "-c",
                    "import sqlite3, sys\n\
                     c = sqlite3.connect(sys.argv[1], timeout=30)\n\
                     c.execute(sys.argv[2])\n\
                     c.commit()\n",
                ])
                .arg(&db)
                .arg(sql);
                process::run(cmd, None, Duration::from_secs(60)).await
            }
        };
        assert!(out.success(), "running `{sql}` on the database: {out}");
    }

    /// The last `lines` lines the server printed (all its runs, with restart markers).
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path(), lines)
    }

    fn log_path(&self) -> PathBuf {
        self.work.path().join("berth.log")
    }

    fn log_marker(&self, what: &str) {
        if let Ok(mut log) = OpenOptions::new().append(true).open(self.log_path()) {
            let _ = writeln!(log, "----- berth-e2e: {what} -----");
        }
    }

    fn spawn(&mut self, bin: &Path) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening the server log");
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log);
        // Only the settings below reach the server: a developer's own BERTH_* settings
        // and ambient AWS_* variables (e.g. AWS_CA_BUNDLE) must not change what is tested.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("BERTH_") || key.starts_with("AWS_") {
                cmd.env_remove(key.as_ref());
            }
        }
        cmd.env("BERTH_LISTEN", self.host())
            .env("BERTH_DATA_DIR", self.data_dir())
            .env("BERTH_ADMIN_PASSWORD", &self.admin_password)
            .env("RUST_BACKTRACE", "1")
            // The log goes to a file that is shown on failure: no terminal colour codes.
            .env("NO_COLOR", "1");
        if let Some(shared) = &self.shared {
            cmd.env("BERTH_DATABASE_URL", &shared.database.url)
                .env("BERTH_S3_ENDPOINT", &shared.s3.endpoint)
                .env("BERTH_S3_BUCKET", &shared.s3.bucket)
                .env("BERTH_S3_REGION", &shared.s3.region)
                .env("BERTH_S3_ACCESS_KEY", &shared.s3.access_key)
                .env("BERTH_S3_SECRET_KEY", &shared.s3.secret_key);
            // The test S3 server speaks plain HTTP on loopback.
            if shared.s3.endpoint.starts_with("http://") {
                cmd.env("BERTH_S3_ALLOW_HTTP", "true");
            }
        }
        cmd.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        register_pid(child.id());
        self.child = Some(child);
    }

    /// Polls `/health/ready` until it answers 200; fails early if the process exits.
    async fn wait_ready(&mut self) -> Result<(), StartError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("building the readiness client");
        let url = format!("{}/health/ready", self.base_url());
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut last: String;
        loop {
            let child = self.child.as_mut().expect("spawned");
            if let Ok(Some(status)) = child.try_wait() {
                unregister_pid(child.id());
                self.child = None;
                return Err(StartError::Exited(format!(
                    "exited with {status}\n{}",
                    self.log_tail(80)
                )));
            }
            match http.get(&url).send().await {
                Ok(r) if r.status() == reqwest::StatusCode::OK => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status()),
                Err(e) => last = format!("{e}"),
            }
            if Instant::now() >= deadline {
                let tail = self.log_tail(80);
                self.kill_hard();
                return Err(StartError::NotReady(format!(
                    "no 200 from /health/ready after {STARTUP_TIMEOUT:?} (last: {last})\n{tail}"
                )));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }
}

impl Drop for BerthServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- last lines of the berth log ({}) -----\n{}",
                self.base_url(),
                self.log_tail(60)
            );
        }
        self.kill_hard();
    }
}

enum StartError {
    Exited(String),
    NotReady(String),
}

impl StartError {
    fn describe(&self, bin: &Path, port: u16) -> String {
        let detail = match self {
            StartError::Exited(d) | StartError::NotReady(d) => d,
        };
        format!(
            "`{} serve` on 127.0.0.1:{port} did not become ready: {detail}",
            bin.display()
        )
    }
}

/// Where the binary under test is: `$BERTH_BIN`, or `berth` next to the test executable's
/// `deps/` directory, i.e. the same target directory and profile as the tests.
pub fn berth_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("BERTH_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("locating the test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in <target>/<profile>/deps");
    let bin = profile_dir.join("berth");
    assert!(
        bin.is_file(),
        "the berth binary is not at {}: build it with `cargo build -p gateway` \
         (bash tests/run.sh builds everything), or point BERTH_BIN at it",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("local address").port()
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(no log at {}: {e})", path.display()));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// `tests/run.sh` points BERTH_E2E_PID_DIR at a directory and, on exit, kills any server
// whose pid file is still there: a test process that aborts (instead of unwinding through
// Drop) must not leave servers behind.
fn register_pid(pid: u32) {
    if let Some(dir) = std::env::var_os("BERTH_E2E_PID_DIR") {
        let _ = File::create(Path::new(&dir).join(pid.to_string()));
    }
}

fn unregister_pid(pid: u32) {
    if let Some(dir) = std::env::var_os("BERTH_E2E_PID_DIR") {
        let _ = std::fs::remove_file(Path::new(&dir).join(pid.to_string()));
    }
}

impl SharedBackend {
    async fn create() -> SharedBackend {
        let database = TestDatabase::create().await;
        let mut s3 = S3Settings::from_env();
        // A bucket per registry keeps tests from seeing each other's objects.
        s3.bucket = format!(
            "berth-e2e-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..20]
        );
        create_bucket(&s3).await;
        SharedBackend { database, s3 }
    }
}

/// Creates `s3.bucket` with a SigV4-signed PUT (curl signs it; no S3 SDK needed).
async fn create_bucket(s3: &S3Settings) {
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args(["-sS", "--fail-with-body", "--noproxy", "*", "-X", "PUT"])
        .arg("--aws-sigv4")
        .arg(format!("aws:amz:{}:s3", s3.region))
        .arg("--user")
        .arg(format!("{}:{}", s3.access_key, s3.secret_key))
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .arg(format!(
            "{}/{}",
            s3.endpoint.trim_end_matches('/'),
            s3.bucket
        ));
    let out = process::run(cmd, None, Duration::from_secs(30)).await;
    assert!(
        out.success(),
        "creating bucket {} on {}: {out}",
        s3.bucket,
        s3.endpoint
    );
}

/// A database of its own on the test Postgres, dropped when the last user goes away.
struct TestDatabase {
    /// The server-level URL from the environment (used to create and drop).
    admin_url: String,
    name: String,
    /// The URL berth connects with.
    url: String,
}

impl TestDatabase {
    async fn create() -> TestDatabase {
        let admin_url = require("BERTH_TEST_DATABASE_URL");
        let name = format!("berth_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|e| panic!("BERTH_TEST_DATABASE_URL is not a URL: {e}"));
        url.set_path(&format!("/{name}"));
        let out = psql(&admin_url, &format!("CREATE DATABASE \"{name}\"")).await;
        assert!(out.success(), "creating database {name}: {out}");
        TestDatabase {
            admin_url,
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Best effort and synchronous (Drop cannot await). FORCE ends sessions of servers
        // that were killed a moment ago and whose connections Postgres has not reaped yet.
        let _ = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.admin_url,
                "-c",
            ])
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

async fn psql(url: &str, sql: &str) -> CmdOutput {
    let mut cmd = tokio::process::Command::new("psql");
    cmd.args([
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        url,
        "-c",
        sql,
    ]);
    process::run(cmd, None, Duration::from_secs(30)).await
}
