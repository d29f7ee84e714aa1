//! Connections: which backend a URL names, how its pools are set up, migrations, and the
//! macros that run one piece of SQL against whichever backend is in use.
//!
//! SQL is written once with `$1`-style placeholders, which both SQLite and Postgres accept.
//! The macros below expand the same code once per backend inside a `match`, so each copy
//! is type-checked against its own driver; no `sqlx::Any`, no query macros, no database
//! needed at build time.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::DbError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long a SQLite connection waits for another one's lock before failing with
/// SQLITE_BUSY (mapped to "unavailable").
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Concurrent readers on SQLite. WAL lets them run beside the writer; a few are plenty on
/// the single node this backend is meant for.
const SQLITE_READERS: u32 = 4;
/// Postgres connections per process. Several replicas share one server, whose default
/// `max_connections` is 100.
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
/// A pooled Postgres connection idle this long is pinged before it serves a statement.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);
/// How long a request waits for a free pooled connection before failing "unavailable".
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The pools of one backend.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    /// SQLite allows one writer at a time. A transaction that starts reading and later
    /// writes must upgrade its lock, and two such transactions deadlock into SQLITE_BUSY.
    /// Funnelling every write through a single connection (and opening write transactions
    /// with `BEGIN IMMEDIATE`) serialises writers in this process up front; plain reads
    /// go to their own pool and, thanks to WAL, never wait for the writer.
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// Berth's metadata database: a cheap-to-clone handle over the pools of one backend.
#[derive(Clone, Debug)]
pub struct Database {
    pub(crate) backend: Backend,
}

/// Runs `$body` with `$pool` bound to the pool for plain reads (SQLite's reader pool).
macro_rules! with_reader {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite { reader: $pool, .. } => $body,
            $crate::db::Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the pool for single-statement writes (SQLite's
/// single writer connection).
macro_rules! with_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite { writer: $pool, .. } => $body,
            $crate::db::Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$tx` bound to a fresh write transaction. The body must call
/// `$tx.commit().await?` on success; leaving early (`?`, `return`) rolls back.
/// On SQLite the transaction starts with `BEGIN IMMEDIATE`, taking the write lock before
/// the first read, so it can never need a lock upgrade (see [`Backend::Sqlite`]).
macro_rules! with_transaction {
    ($db:expr, $tx:ident => $body:expr) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite { writer, .. } => {
                let mut $tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                $body
            }
            $crate::db::Backend::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                $body
            }
        }
    };
}

pub(crate) use {with_reader, with_transaction, with_writer};

impl Database {
    /// Opens the database named by `url`: `sqlite:<path>` (created if missing;
    /// `sqlite::memory:` for a throwaway in-memory one) or `postgres://...` /
    /// `postgresql://...`. Does not run migrations (see [`Database::migrate`]).
    pub async fn connect(url: &str) -> Result<Database, DbError> {
        let backend = if url.starts_with("sqlite:") {
            connect_sqlite(url).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            connect_postgres(url).await?
        } else {
            // Only the scheme: the rest may hold a password.
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            return Err(DbError::UnsupportedUrl(format!("{scheme}:")));
        };
        Ok(Database { backend })
    }

    /// Which backend this is: `"sqlite"` or `"postgres"` (for logs and metrics).
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Brings the schema up to date with the migrations embedded in the binary.
    /// Idempotent, and safe when several processes start at once against one database.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => {
                // sqlx takes no lock on SQLite, so two processes could both see a migration
                // as pending. Running the migrator inside one IMMEDIATE transaction makes the
                // second wait (busy timeout) and then find everything applied; the
                // migrator's own per-migration transactions become savepoints.
                // (`run_direct` is `run` on a connection we already hold; `run` itself
                // trips a higher-ranked lifetime limitation that makes this future !Send.)
                let mut conn = writer.acquire().await?;
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                SQLITE_MIGRATIONS.run_direct(&mut *tx).await?;
                tx.commit().await?;
            }
            // Postgres: sqlx serialises concurrent migrators with an advisory lock.
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Reachability probe: one round trip to the database.
    pub async fn ping(&self) -> Result<(), DbError> {
        with_reader!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes every pooled connection (graceful shutdown); later calls fail.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

async fn connect_sqlite(url: &str) -> Result<Backend, DbError> {
    let base = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);

    if url.contains(":memory:") || url.contains("mode=memory") {
        // An in-memory database lives as long as its connections, and WAL does not apply.
        // One connection that is never recycled serves both reads and writes.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(base)
            .await?;
        return Ok(Backend::Sqlite {
            writer: pool.clone(),
            reader: pool,
        });
    }

    // The writer connects first: it creates the file and switches it to WAL, which is
    // persistent, so readers need not set it again. synchronous=NORMAL is the WAL
    // recommendation: durable across application crashes, only a power loss can drop the
    // last commits.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(
            base.clone()
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal),
        )
        .await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(SQLITE_READERS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(base)
        .await?;
    Ok(Backend::Sqlite { writer, reader })
}

async fn connect_postgres(url: &str) -> Result<Backend, DbError> {
    // sqlx pings every connection it takes from the pool by default: a second round trip
    // for each statement. A connection that was busy moments ago is as good as the
    // statement that will tell; only one idle for a while (possibly cut by a Postgres
    // restart or a network timeout) is pinged, and a broken one is replaced before use.
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect(url)
        .await?;
    Ok(Backend::Postgres(pool))
}
