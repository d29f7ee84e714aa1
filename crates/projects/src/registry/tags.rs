//! Tags: names pointing at manifests, listed in byte order.

use registry_core::{RepoName, Tag};

use crate::db::{Backend, Database, with_writer};
use crate::error::DbError;

pub(crate) async fn delete_tag(db: &Database, repo: &RepoName, tag: &Tag) -> Result<bool, DbError> {
    let deleted = with_writer!(db, pool => {
        sqlx::query(
            "DELETE FROM tags \
             WHERE name = $2 AND repository_id = (SELECT id FROM repositories WHERE name = $1)",
        )
        .bind(repo.as_str())
        .bind(tag.as_str())
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(deleted > 0)
}

pub(crate) async fn list_tags(
    db: &Database,
    repo: &RepoName,
    last: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, DbError> {
    // Tags are never empty, so "" as `last` means "from the start". Byte order comes from
    // the column collation (BINARY on SQLite, "C" on Postgres).
    //
    // The page comes back as one string, the names joined by newlines (a tag name cannot
    // contain one): a page can hold 10,000 names, and decoding them as 10,000 rows cost
    // most of the request's CPU, SQLite handing each row over from its worker thread.
    let joined = match &db.backend {
        Backend::Sqlite { reader, .. } => {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT group_concat(name, char(10) ORDER BY name) FROM ( \
                   SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id \
                   WHERE r.name = $1 AND t.name > $2 ORDER BY t.name LIMIT $3)",
            )
            .bind(repo.as_str())
            .bind(last.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_one(reader)
            .await?
        }
        Backend::Postgres(pool) => {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT string_agg(name, E'\\n' ORDER BY name) FROM ( \
                   SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id \
                   WHERE r.name = $1 AND t.name > $2 ORDER BY t.name LIMIT $3) page",
            )
            .bind(repo.as_str())
            .bind(last.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_one(pool)
            .await?
        }
    };
    Ok(joined
        .map(|names| names.split('\n').map(str::to_owned).collect())
        .unwrap_or_default())
}
