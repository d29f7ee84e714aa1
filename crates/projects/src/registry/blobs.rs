//! Blobs and their links to repositories. A blob row says the bytes exist and were
//! verified; a `repository_blobs` row says a repository may serve them.

use registry_core::{Digest, RepoName};

use crate::codec::{from_db_int, now, to_db_int};
use crate::db::{Database, with_reader, with_transaction, with_writer};
use crate::error::DbError;
use crate::registry::repositories::ensure_repository;

const INSERT_LINK: &str = "INSERT INTO repository_blobs (repository_id, digest, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (repository_id, digest) DO NOTHING";

/// Inside a write transaction `$tx`: links blob `$digest` (a `&String`) to repository
/// `$name` (a `&str`), creating the repository if needed.
macro_rules! link_blob {
    ($tx:ident, $name:expr, $digest:expr, $now:expr) => {{
        let repository_id = ensure_repository!($tx, $name, $now);
        sqlx::query(INSERT_LINK)
            .bind(repository_id)
            .bind($digest)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
    }};
}

pub(crate) async fn commit_blob(
    db: &Database,
    repo: &RepoName,
    digest: &Digest,
    size: u64,
    upload_id: Option<&str>,
) -> Result<(), DbError> {
    let size = to_db_int(size, "blob size")?;
    let digest = digest.to_string();
    let now = now();
    with_transaction!(db, tx => {
        // The digest names the content, so a second commit of the same blob (another
        // repository, a retried PUT) finds the row and leaves it as it is.
        sqlx::query(
            "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&digest)
        .bind(size)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // The repository almost always exists (its upload session lives in it): then
        // one statement links the blob. Zero rows means the repository is missing or the
        // link was already there; the general path below sorts out which.
        let linked = sqlx::query(
            "INSERT INTO repository_blobs (repository_id, digest, created_at) \
             SELECT r.id, $2, $3 FROM repositories r WHERE r.name = $1 \
             ON CONFLICT (repository_id, digest) DO NOTHING",
        )
        .bind(repo.as_str())
        .bind(&digest)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if linked == 0 {
            link_blob!(tx, repo.as_str(), &digest, now);
        }
        if let Some(upload_id) = upload_id {
            sqlx::query("DELETE FROM uploads WHERE id = $1")
                .bind(upload_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

pub(crate) async fn repository_blob(
    db: &Database,
    repo: &RepoName,
    digest: &Digest,
) -> Result<Option<u64>, DbError> {
    let size = with_reader!(db, pool => {
        sqlx::query_scalar::<_, i64>(
            "SELECT b.size FROM repository_blobs rb \
             JOIN repositories r ON r.id = rb.repository_id \
             JOIN blobs b ON b.digest = rb.digest \
             WHERE r.name = $1 AND rb.digest = $2",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_optional(pool)
        .await?
    });
    size.map(|s| from_db_int(s, "blob size")).transpose()
}

pub(crate) async fn mount_blob(
    db: &Database,
    repo: &RepoName,
    from: &RepoName,
    digest: &Digest,
) -> Result<bool, DbError> {
    let digest = digest.to_string();
    let now = now();
    with_transaction!(db, tx => {
        let held = sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM repository_blobs rb \
             JOIN repositories r ON r.id = rb.repository_id \
             WHERE r.name = $1 AND rb.digest = $2)",
        )
        .bind(from.as_str())
        .bind(&digest)
        .fetch_one(&mut *tx)
        .await?;
        if !held {
            // Nothing written: a failed mount must not create the target repository.
            return Ok(false);
        }
        link_blob!(tx, repo.as_str(), &digest, now);
        tx.commit().await?;
    });
    Ok(true)
}

pub(crate) async fn unlink_blob(
    db: &Database,
    repo: &RepoName,
    digest: &Digest,
) -> Result<bool, DbError> {
    let deleted = with_writer!(db, pool => {
        sqlx::query(
            "DELETE FROM repository_blobs \
             WHERE digest = $2 AND repository_id = (SELECT id FROM repositories WHERE name = $1)",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(deleted > 0)
}
