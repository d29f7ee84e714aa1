//! Batched writes of registry activity: pull statistics and push/pull/delete audit
//! records. The gateway collects events in memory and flushes them here every second,
//! so concurrent pulls of one repository add to its counter once per batch instead of
//! each pull updating the same row (the contention that slows Harbor's pulls).

use crate::audit::NewAuditEntry;
use crate::codec::now;
use crate::db::{Database, with_transaction};
use crate::error::DbError;

/// Pull statistics gathered over one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullStats {
    /// Repository name -> pulls in this batch.
    pub repositories: Vec<(String, i64)>,
    /// (repository name, manifest digest) -> time of the latest pull (unix seconds).
    pub manifests: Vec<(String, String, i64)>,
}

impl Database {
    /// Applies one batch of pull statistics and audit records in one transaction.
    /// Audit entries name their project by name (`project`), resolved here, so an entry
    /// for a project deleted meanwhile is kept with no project id.
    pub async fn record_activity(
        &self,
        pulls: &PullStats,
        audit: &[(String, NewAuditEntry)],
    ) -> Result<(), DbError> {
        if pulls.repositories.is_empty() && pulls.manifests.is_empty() && audit.is_empty() {
            return Ok(());
        }
        let op_time = now();
        with_transaction!(self, tx => {
            for (repository, count) in &pulls.repositories {
                sqlx::query("UPDATE repositories SET pull_count = pull_count + $2 WHERE name = $1")
                    .bind(repository)
                    .bind(*count)
                    .execute(&mut *tx)
                    .await?;
            }
            for (repository, digest, at) in &pulls.manifests {
                sqlx::query(
                    "UPDATE manifests SET pull_time = $3 \
                     WHERE digest = $2 AND repository_id = (SELECT id FROM repositories WHERE name = $1)",
                )
                .bind(repository)
                .bind(digest)
                .bind(*at)
                .execute(&mut *tx)
                .await?;
            }
            // One statement per chunk of records rather than per record: the log's
            // statement triggers (counters, migrations 0006 and 0008) then run once per
            // chunk. The op_time is the same for the whole batch ($1).
            for chunk in audit.chunks(AUDIT_ROWS_PER_INSERT) {
                let sql = batch_insert_sql(chunk.len());
                let mut query = sqlx::query(&sql).bind(op_time);
                for (project, entry) in chunk {
                    query = query
                        .bind(project)
                        .bind(&entry.operation)
                        .bind(&entry.resource_type)
                        .bind(&entry.resource)
                        .bind(&entry.username)
                        .bind(&entry.client_ip);
                }
                query.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

/// Audit records per INSERT statement: six placeholders each, well under both backends'
/// limits on placeholders per statement (SQLite 32,766, Postgres 65,535).
const AUDIT_ROWS_PER_INSERT: usize = 500;

/// `INSERT INTO audit_log ... VALUES` for `rows` records: `$1` is the op_time of all of
/// them, then six placeholders per record (project name, operation, resource type,
/// resource, username, client IP). The project is resolved by name, NULL when it is gone.
fn batch_insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO audit_log (project_id, operation, resource_type, resource, username, client_ip, op_time) VALUES ",
    );
    for row in 0..rows {
        let p = 2 + row * 6;
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "((SELECT project_id FROM projects WHERE name = ${p}), ${}, ${}, ${}, ${}, ${}, $1)",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5
        ));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_insert_numbers_six_placeholders_per_record_after_the_time() {
        let sql = batch_insert_sql(2);
        assert!(sql.ends_with(
            "VALUES ((SELECT project_id FROM projects WHERE name = $2), $3, $4, $5, $6, $7, $1), \
             ((SELECT project_id FROM projects WHERE name = $8), $9, $10, $11, $12, $13, $1)"
        ), "{sql}");
    }
}
