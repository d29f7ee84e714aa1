//! Upload sessions, shared by every replica: a PATCH may land on one process and the next
//! on another, so the offset, the staged parts and the running hash state live here.

use registry_core::RepoName;
use registry_core::blobs::StagedPart;
use registry_core::meta::UploadSession;

use crate::codec::{decode_parts, encode_parts, from_db_int, now, to_db_int};
use crate::db::{Database, with_reader, with_transaction, with_writer};
use crate::error::DbError;
use crate::registry::repositories::ensure_repository;

#[derive(sqlx::FromRow)]
struct UploadRow {
    id: String,
    byte_offset: i64,
    hash_state: Vec<u8>,
    parts: String,
    created_at: i64,
}

pub(crate) async fn create_upload(db: &Database, session: &UploadSession) -> Result<(), DbError> {
    let offset = to_db_int(session.offset, "upload offset")?;
    let parts = encode_parts(&session.parts)?;
    // Inserts the session into its repository, if that exists; the number of rows.
    // "Last touched" starts at creation, so a session nobody ever writes to goes stale.
    macro_rules! insert_session {
        ($executor:expr) => {
            sqlx::query(
                "INSERT INTO uploads \
                 (id, repository_id, byte_offset, hash_state, parts, created_at, updated_at) \
                 SELECT $1, r.id, $3, $4, $5, $6, $6 FROM repositories r WHERE r.name = $2",
            )
            .bind(&session.id)
            .bind(session.repository.as_str())
            .bind(offset)
            .bind(&session.hash_state[..])
            .bind(&parts)
            .bind(session.created_at)
            .execute($executor)
            .await?
            .rows_affected()
        };
    }
    // The repository almost always exists (every blob of a push opens a session): then
    // one statement does it, where a transaction costs four round trips (on SQLite, four
    // hand-offs to its worker thread). A repository's first upload creates it too, in
    // one transaction with the session.
    let inserted = with_writer!(db, pool => { insert_session!(pool) });
    if inserted == 1 {
        return Ok(());
    }
    let now = now();
    with_transaction!(db, tx => {
        ensure_repository!(tx, session.repository.as_str(), now);
        insert_session!(&mut *tx);
        tx.commit().await?;
    });
    Ok(())
}

pub(crate) async fn get_upload(
    db: &Database,
    repo: &RepoName,
    id: &str,
) -> Result<Option<UploadSession>, DbError> {
    let row = with_reader!(db, pool => {
        sqlx::query_as::<_, UploadRow>(
            "SELECT u.id, u.byte_offset, u.hash_state, u.parts, u.created_at \
             FROM uploads u JOIN repositories r ON r.id = u.repository_id \
             WHERE u.id = $1 AND r.name = $2",
        )
        .bind(id)
        .bind(repo.as_str())
        .fetch_optional(pool)
        .await?
    });
    row.map(|row| {
        Ok(UploadSession {
            id: row.id,
            repository: repo.clone(),
            offset: from_db_int(row.byte_offset, "upload offset")?,
            hash_state: row.hash_state,
            parts: decode_parts(&row.parts)?,
            created_at: row.created_at,
        })
    })
    .transpose()
}

/// Compare-and-swap on the session row: the update applies only if the row still holds
/// exactly what the caller read (offset and parts), so of two racing appends exactly one
/// wins. Comparing the parts too matters for empty parts, which do not move the offset.
/// One statement: the parts read are encoded again to compare with the column, which
/// `encode_parts` wrote, so the same parts give the same text.
pub(crate) async fn append_upload_part(
    db: &Database,
    session: &UploadSession,
    part: &StagedPart,
    new_hash_state: &[u8],
) -> Result<bool, DbError> {
    let expected = to_db_int(session.offset, "upload offset")?;
    let new_offset = session
        .offset
        .checked_add(part.size)
        .ok_or_else(|| {
            DbError::OutOfRange(format!("upload offset {} + {}", session.offset, part.size))
        })
        .and_then(|n| to_db_int(n, "upload offset"))?;
    let old_parts = encode_parts(&session.parts)?;
    let mut parts = session.parts.clone();
    parts.push(part.clone());
    let new_parts = encode_parts(&parts)?;

    let updated = with_writer!(db, pool => {
        sqlx::query(
            "UPDATE uploads SET byte_offset = $1, hash_state = $2, parts = $3, updated_at = $4 \
             WHERE id = $5 AND byte_offset = $6 AND parts = $7",
        )
        .bind(new_offset)
        .bind(new_hash_state)
        .bind(&new_parts)
        .bind(now())
        .bind(&session.id)
        .bind(expected)
        .bind(&old_parts)
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(updated == 1)
}

pub(crate) async fn delete_upload(db: &Database, id: &str) -> Result<bool, DbError> {
    let deleted = with_writer!(db, pool => {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(deleted > 0)
}

pub(crate) async fn stale_uploads(
    db: &Database,
    before: i64,
    limit: u32,
) -> Result<Vec<String>, DbError> {
    let ids = with_reader!(db, pool => {
        sqlx::query_scalar::<_, String>(
            "SELECT id FROM uploads WHERE updated_at < $1 ORDER BY updated_at, id LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
    });
    Ok(ids)
}
