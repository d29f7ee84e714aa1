//! The crate's one error type, and the one place where it becomes a
//! [`registry_core::BackendError`].

use registry_core::BackendError;

/// Everything that can go wrong in the metadata database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no backend this crate speaks.
    #[error(
        "unsupported database URL scheme in {0:?}: expected sqlite:, postgres:// or postgresql://"
    )]
    UnsupportedUrl(String),
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds something this code never writes (a malformed digest, bad parts JSON).
    #[error("corrupt row in the metadata database: {0}")]
    Corrupt(String),
    /// A number does not fit the column (sizes and offsets are BIGINT, i.e. below 2^63).
    #[error("value out of range: {0}")]
    OutOfRange(String),
    #[error("password hashing: {0}")]
    Password(String),
    /// A blocking task (password hashing) panicked or was cancelled.
    #[error("background task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl DbError {
    /// Whether retrying later may succeed: the database is down, overloaded or busy, as
    /// opposed to a bug or bad data. Drives the `Unavailable` mapping (a 503 upstream).
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Sqlx(e) => sqlx_unavailable(e),
            DbError::Migrate(sqlx::migrate::MigrateError::Execute(e))
            | DbError::Migrate(sqlx::migrate::MigrateError::ExecuteMigration(e, _)) => {
                sqlx_unavailable(e)
            }
            _ => false,
        }
    }
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
        _ => false,
    }
}

/// Database error codes that mean "not now" rather than "never".
fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        // A Postgres SQLSTATE (always five characters): class 08 connection exceptions,
        // class 40 a transaction rolled back by a deadlock or serialization failure,
        // class 53 insufficient resources (too many connections, out of memory or disk),
        // 57P01-57P03 shutting down or starting up. And 23503, a foreign key violation:
        // every row Berth writes refers to rows it has just read, so one means a
        // concurrent transaction removed them meanwhile (a project deleted while a first
        // push creates a repository in it); the retry sees the removal and is answered
        // accordingly.
        code.starts_with("08")
            || code.starts_with("40")
            || code.starts_with("53")
            || matches!(code, "57P01" | "57P02" | "57P03" | "23503")
    } else {
        // SQLite's extended result code as a decimal string (at most four digits); the low
        // byte is the primary code. SQLITE_BUSY (5) and SQLITE_LOCKED (6) mean the lock
        // outlasted the busy timeout.
        code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
    }
}

impl From<DbError> for BackendError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            BackendError::Unavailable(e.to_string())
        } else {
            BackendError::Other(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeout_and_io_are_unavailable() {
        let timed_out: BackendError = DbError::Sqlx(sqlx::Error::PoolTimedOut).into();
        assert!(matches!(timed_out, BackendError::Unavailable(_)));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let refused: BackendError = DbError::Sqlx(sqlx::Error::Io(refused)).into();
        assert!(matches!(refused, BackendError::Unavailable(_)));
    }

    #[test]
    fn other_failures_are_other() {
        let corrupt: BackendError = DbError::Corrupt("x".into()).into();
        assert!(matches!(corrupt, BackendError::Other(_)));
        let missing: BackendError = DbError::Sqlx(sqlx::Error::RowNotFound).into();
        assert!(matches!(missing, BackendError::Other(_)));
    }

    #[test]
    fn transient_codes() {
        for code in [
            "08006", "40001", "40P01", "23503", "53300", "57P01", "5", "517", "6",
        ] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["23505", "23514", "42P01", "19", "787", "2067", "1"] {
            assert!(!transient_code(code), "{code}");
        }
    }
}
