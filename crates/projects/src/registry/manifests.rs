//! Manifests, their references, and the referrers listing.

use std::collections::HashSet;

use registry_core::meta::{ManifestRecord, ManifestReferences, PutManifestOutcome, Referrer};
use registry_core::{Digest, RepoName, Tag};

use crate::codec::{from_db_int, now, parse_digest, parse_optional_digest, to_db_int};
use crate::db::{Database, with_reader, with_transaction, with_writer};
use crate::error::DbError;
use crate::registry::repositories::{SELECT_REPOSITORY_ID, ensure_repository};

/// The columns of a [`ManifestRecord`], as selected by [`SELECT_MANIFEST`].
#[derive(sqlx::FromRow)]
struct ManifestRow {
    digest: String,
    media_type: String,
    artifact_type: Option<String>,
    subject_digest: Option<String>,
    config_digest: Option<String>,
    annotations: Option<String>,
    content: Vec<u8>,
    created_at: i64,
}

impl ManifestRow {
    fn into_record(self) -> Result<ManifestRecord, DbError> {
        Ok(ManifestRecord {
            digest: parse_digest(&self.digest)?,
            media_type: self.media_type,
            artifact_type: self.artifact_type,
            subject: parse_optional_digest(self.subject_digest)?,
            config_digest: parse_optional_digest(self.config_digest)?,
            annotations: self.annotations,
            content: self.content,
            created_at: self.created_at,
        })
    }
}

const SELECT_MANIFEST: &str = "SELECT m.digest, m.media_type, m.artifact_type, m.subject_digest, \
     m.config_digest, m.annotations, m.content, m.created_at";

#[derive(sqlx::FromRow)]
struct ReferrerRow {
    digest: String,
    media_type: String,
    artifact_type: Option<String>,
    size: i64,
    annotations: Option<String>,
}

/// Digests per existence query, and references per INSERT: far below either backend's
/// limit on bound parameters, and above what real manifests list.
const DIGESTS_PER_QUERY: usize = 500;
const REFERENCES_PER_INSERT: usize = 500;

/// How a manifest is refused for the referenced digests that are not in the repository.
type MissingOutcome = fn(Vec<Digest>) -> PutManifestOutcome;

/// `$first, $first+1, ...`: `count` numbered placeholders.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `digests` without repeats, first occurrence first (a manifest may list a layer twice).
fn unique(digests: &[Digest]) -> Vec<&Digest> {
    let mut seen = HashSet::new();
    digests.iter().filter(|d| seen.insert(*d)).collect()
}

pub(crate) async fn put_manifest(
    db: &Database,
    repo: &RepoName,
    manifest: &ManifestRecord,
    references: &ManifestReferences,
    tag: Option<&Tag>,
) -> Result<PutManifestOutcome, DbError> {
    let blobs = unique(&references.blobs);
    let children = unique(&references.manifests);
    let size = u64::try_from(manifest.content.len())
        .map_err(|_| DbError::OutOfRange("manifest size".into()))
        .and_then(|n| to_db_int(n, "manifest size"))?;
    let now = now();

    with_transaction!(db, tx => {
        // Check first, write after: a rejected manifest leaves no trace, not even the
        // repository. The checks run inside the write transaction so that nothing can
        // change between them and the insert (on SQLite the transaction already holds the
        // write lock).
        let repository_id = sqlx::query_scalar::<_, i64>(SELECT_REPOSITORY_ID)
            .bind(repo.as_str())
            .fetch_optional(&mut *tx)
            .await?;

        // One query per kind for all the digests (not one per digest): each statement is
        // a round trip to the database, or on SQLite a hand-off to its worker thread.
        let checks: [(&str, &Vec<&Digest>, MissingOutcome); 2] = [
            ("repository_blobs", &blobs, PutManifestOutcome::MissingBlobs),
            ("manifests", &children, PutManifestOutcome::MissingManifests),
        ];
        for (table, wanted, missing_outcome) in checks {
            let mut present = HashSet::new();
            if let Some(id) = repository_id {
                for batch in wanted.chunks(DIGESTS_PER_QUERY) {
                    let sql = format!(
                        "SELECT digest FROM {table} WHERE repository_id = $1 AND digest IN ({})",
                        placeholders(2, batch.len())
                    );
                    let mut query = sqlx::query_scalar::<_, String>(&sql).bind(id);
                    for digest in batch {
                        query = query.bind(digest.to_string());
                    }
                    present.extend(query.fetch_all(&mut *tx).await?);
                }
            }
            let missing: Vec<Digest> = wanted
                .iter()
                .filter(|d| !present.contains(&d.to_string()))
                .map(|d| (*d).clone())
                .collect();
            if !missing.is_empty() {
                return Ok(missing_outcome(missing));
            }
        }

        let repository_id = match repository_id {
            Some(id) => id,
            None => ensure_repository!(tx, repo.as_str(), now),
        };
        let digest = manifest.digest.to_string();
        // Same digest, same bytes: a re-push keeps the first row (and its created_at).
        // RETURNING gives the new row's id in the same statement; on a re-push it returns
        // nothing and the existing row is looked up.
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, \
             subject_digest, config_digest, annotations, content, size, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id",
        )
        .bind(repository_id)
        .bind(&digest)
        .bind(&manifest.media_type)
        .bind(manifest.artifact_type.as_deref())
        .bind(manifest.subject.as_ref().map(Digest::to_string))
        .bind(manifest.config_digest.as_ref().map(Digest::to_string))
        .bind(manifest.annotations.as_deref())
        .bind(&manifest.content[..])
        .bind(size)
        .bind(manifest.created_at)
        .fetch_optional(&mut *tx)
        .await?;
        let manifest_id = match inserted {
            Some(id) => id,
            None => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2",
                )
                .bind(repository_id)
                .bind(&digest)
                .fetch_one(&mut *tx)
                .await?
            }
        };

        // A digest names its bytes, so its references never change: insert what is
        // missing. Concurrent pushes of one manifest (under different tags) both get
        // here; on Postgres the second waits for the first and then skips its rows
        // instead of failing on the primary key.
        let kinds: Vec<(&str, String)> = blobs
            .iter()
            .map(|d| ("blob", d.to_string()))
            .chain(children.iter().map(|d| ("manifest", d.to_string())))
            .collect();
        for batch in kinds.chunks(REFERENCES_PER_INSERT) {
            let rows: Vec<String> = (0..batch.len())
                .map(|i| format!("($1, ${}, ${})", 2 + 2 * i, 3 + 2 * i))
                .collect();
            let sql = format!(
                "INSERT INTO manifest_references (manifest_id, kind, digest) VALUES {} \
                 ON CONFLICT (manifest_id, kind, digest) DO NOTHING",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(manifest_id);
            for (kind, child) in batch {
                query = query.bind(*kind).bind(child.as_str());
            }
            query.execute(&mut *tx).await?;
        }

        if let Some(tag) = tag {
            sqlx::query(
                "INSERT INTO tags (repository_id, name, manifest_id, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (repository_id, name) \
                 DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at",
            )
            .bind(repository_id)
            .bind(tag.as_str())
            .bind(manifest_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }

        sqlx::query(crate::registry::repositories::TOUCH_REPOSITORY)
            .bind(now)
            .bind(repository_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(PutManifestOutcome::Stored)
}

pub(crate) async fn manifest_by_digest(
    db: &Database,
    repo: &RepoName,
    digest: &Digest,
) -> Result<Option<ManifestRecord>, DbError> {
    let sql = format!(
        "{SELECT_MANIFEST} FROM manifests m JOIN repositories r ON r.id = m.repository_id \
         WHERE r.name = $1 AND m.digest = $2"
    );
    let row = with_reader!(db, pool => {
        sqlx::query_as::<_, ManifestRow>(&sql)
            .bind(repo.as_str())
            .bind(digest.to_string())
            .fetch_optional(pool)
            .await?
    });
    row.map(ManifestRow::into_record).transpose()
}

pub(crate) async fn manifest_by_tag(
    db: &Database,
    repo: &RepoName,
    tag: &Tag,
) -> Result<Option<ManifestRecord>, DbError> {
    let sql = format!(
        "{SELECT_MANIFEST} FROM tags t \
         JOIN repositories r ON r.id = t.repository_id \
         JOIN manifests m ON m.id = t.manifest_id \
         WHERE r.name = $1 AND t.name = $2"
    );
    let row = with_reader!(db, pool => {
        sqlx::query_as::<_, ManifestRow>(&sql)
            .bind(repo.as_str())
            .bind(tag.as_str())
            .fetch_optional(pool)
            .await?
    });
    row.map(ManifestRow::into_record).transpose()
}

/// Its tags and references go with it (ON DELETE CASCADE).
pub(crate) async fn delete_manifest(
    db: &Database,
    repo: &RepoName,
    digest: &Digest,
) -> Result<bool, DbError> {
    let deleted = with_writer!(db, pool => {
        sqlx::query(
            "DELETE FROM manifests \
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

pub(crate) async fn referrers(
    db: &Database,
    repo: &RepoName,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Result<Vec<Referrer>, DbError> {
    let rows = with_reader!(db, pool => {
        sqlx::query_as::<_, ReferrerRow>(
            "SELECT m.digest, m.media_type, m.artifact_type, m.size, m.annotations \
             FROM manifests m JOIN repositories r ON r.id = m.repository_id \
             WHERE r.name = $1 AND m.subject_digest = $2 \
             AND ($3 IS NULL OR m.artifact_type = $3) \
             ORDER BY m.digest",
        )
        .bind(repo.as_str())
        .bind(subject.to_string())
        .bind(artifact_type)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter()
        .map(|row| {
            Ok(Referrer {
                digest: parse_digest(&row.digest)?,
                media_type: row.media_type,
                artifact_type: row.artifact_type,
                size: from_db_int(row.size, "manifest size")?,
                annotations: row.annotations,
            })
        })
        .collect()
}
