//! Repositories: created implicitly by the first upload, blob or manifest pushed to them.

use registry_core::RepoName;

use crate::db::{Database, with_reader};
use crate::error::DbError;

pub(crate) const INSERT_REPOSITORY: &str = "INSERT INTO repositories (name, created_at, updated_at) \
     VALUES ($1, $2, $2) ON CONFLICT (name) DO NOTHING";
pub(crate) const SELECT_REPOSITORY_ID: &str = "SELECT id FROM repositories WHERE name = $1";

/// Inside a write transaction, as its last statement: moves repository `$2`'s
/// `updated_at` forward to `$1` (unix seconds). Conditional, so that of the writes to one
/// repository within a second only the first rewrites and locks its row. Unconditional,
/// every push into a repository queued on that row lock until the one before it had
/// committed (on Postgres, 9 ms per tag at 32 concurrent pushes into one repository),
/// and left a dead version of the row behind, so that looking the repository up by name
/// slowed down (0.55 ms after 10,000 tags) until a vacuum. The time never moves back,
/// whatever the clock of the replica that writes.
pub(crate) const TOUCH_REPOSITORY: &str =
    "UPDATE repositories SET updated_at = $1 WHERE id = $2 AND updated_at < $1";

/// Inside a write transaction `$tx`: the id of repository `$name` (a `&str`), creating it
/// if needed. The select comes first because the repository almost always exists (every
/// blob and manifest of a push asks): one statement instead of an insert-or-ignore and a
/// select, and an existing row is never rewritten. When it is missing, insert-or-ignore
/// then select again, so a concurrent creation is found rather than duplicated.
macro_rules! ensure_repository {
    ($tx:ident, $name:expr, $now:expr) => {{
        let name: &str = $name;
        let existing =
            sqlx::query_scalar::<_, i64>($crate::registry::repositories::SELECT_REPOSITORY_ID)
                .bind(name)
                .fetch_optional(&mut *$tx)
                .await?;
        match existing {
            Some(id) => id,
            None => {
                sqlx::query($crate::registry::repositories::INSERT_REPOSITORY)
                    .bind(name)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await?;
                sqlx::query_scalar::<_, i64>($crate::registry::repositories::SELECT_REPOSITORY_ID)
                    .bind(name)
                    .fetch_one(&mut *$tx)
                    .await?
            }
        }
    }};
}
pub(crate) use ensure_repository;

pub(crate) async fn repository_exists(db: &Database, repo: &RepoName) -> Result<bool, DbError> {
    let exists = with_reader!(db, pool => {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM repositories WHERE name = $1)")
            .bind(repo.as_str())
            .fetch_one(pool)
            .await?
    });
    Ok(exists)
}

pub(crate) async fn list_repositories(
    db: &Database,
    last: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, DbError> {
    // Names are never empty, so "" as `last` means "from the start". Byte order comes from
    // the column collation (BINARY on SQLite, "C" on Postgres).
    let names = with_reader!(db, pool => {
        sqlx::query_scalar::<_, String>(
            "SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2",
        )
        .bind(last.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
    });
    Ok(names)
}
