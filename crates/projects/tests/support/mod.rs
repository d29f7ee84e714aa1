//! Test harness: a fresh, empty database per test on either backend, removed afterwards.

use std::future::Future;

use projects::Database;
use sqlx::{Connection, Executor, PgConnection};

pub const PG_ENV: &str = "BERTH_TEST_DATABASE_URL";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `case` with the URL of a new empty database (not migrated).
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            // The directory (and the database, its WAL and shm files) goes when `dir` drops,
            // also when the case panics.
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite:{}", dir.path().join("berth.db").display());
            case(url).await;
        }
        Backend::Postgres => {
            let admin_url = std::env::var(PG_ENV).unwrap_or_else(|_| {
                panic!(
                    "{PG_ENV} is not set: the Postgres half of the contract tests needs a server. \
                     Run the tests through tests/run.sh, or start a throwaway server with \
                     `eval \"$(bash tests/services/pg-up.sh)\"` (from the workspace root) first."
                )
            });
            let name = format!("berth_{}", uuid::Uuid::new_v4().simple());
            let mut admin = PgConnection::connect(&admin_url)
                .await
                .expect("connect to the Postgres admin URL");
            create_database(&mut admin, &name).await;
            let mut url = url::Url::parse(&admin_url).expect("admin URL");
            url.set_path(&name);

            // Run the case as its own task so that a panic is caught and the database is
            // still dropped before the panic is passed on.
            let outcome = tokio::spawn(case(url.to_string())).await;
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

/// Creates the per-test database with a linguistic (ICU "en") default collation, as many
/// production clusters have, so the tests show that listings still come out in byte
/// order. Falls back to the server's default if it lacks ICU.
async fn create_database(admin: &mut PgConnection, name: &str) {
    let icu = format!(
        "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' \
         LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'"
    );
    if let Err(e) = admin.execute(icu.as_str()).await {
        eprintln!("creating an ICU database failed ({e}); using the server default collation");
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create test database");
    }
}

/// Connects and migrates.
pub async fn open(url: &str) -> Database {
    let db = Database::connect(url).await.expect("connect");
    db.migrate().await.expect("migrate");
    db
}
