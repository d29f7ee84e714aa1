//! Batched writes of registry activity: pull statistics and push/pull/delete audit
//! records. The gateway collects events in memory and flushes them here every second,
//! so concurrent pulls of one repository add to its counter once per batch instead of
//! each pull updating the same row (the contention that slows Harbor's pulls).

use crate::audit::NewAuditEntry;
use crate::codec::now;
use crate::db::{Backend, Database, with_transaction};
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
        let insert_sql = match self.backend {
            Backend::Sqlite { .. } => INSERT_AUDIT_BATCH_SQLITE,
            Backend::Postgres(_) => INSERT_AUDIT_BATCH_POSTGRES,
        };
        let audit_json = match audit {
            [] => None,
            _ => Some(audit_batch_json(audit)?),
        };
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
            // One statement for the whole batch rather than one per record: the log's
            // statement triggers (counters, migrations 0006 and 0008) then run once.
            // The records travel as one JSON array, so the statement's text, and with it
            // the prepared statement and its plan, is the same for every batch.
            if let Some(batch) = &audit_json {
                sqlx::query(insert_sql)
                    .bind(batch)
                    .bind(op_time)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

/// Inserts the audit records of a batch, given as a JSON array ($1, see
/// [`audit_batch_json`]) and their op_time ($2). The project is resolved by name, NULL
/// when it is gone.
const INSERT_AUDIT_BATCH_POSTGRES: &str = "INSERT INTO audit_log \
     (project_id, operation, resource_type, resource, username, client_ip, op_time) \
     SELECT (SELECT project_id FROM projects WHERE name = b.project), \
            b.operation, b.resource_type, b.resource, b.username, b.client_ip, $2 \
     FROM json_to_recordset($1::json) AS b(project TEXT, operation TEXT, \
          resource_type TEXT, resource TEXT, username TEXT, client_ip TEXT)";

/// [`INSERT_AUDIT_BATCH_POSTGRES`] for SQLite.
const INSERT_AUDIT_BATCH_SQLITE: &str = "INSERT INTO audit_log \
     (project_id, operation, resource_type, resource, username, client_ip, op_time) \
     SELECT (SELECT project_id FROM projects WHERE name = json_extract(b.value, '$.project')), \
            json_extract(b.value, '$.operation'), json_extract(b.value, '$.resource_type'), \
            json_extract(b.value, '$.resource'), json_extract(b.value, '$.username'), \
            json_extract(b.value, '$.client_ip'), $2 \
     FROM json_each($1) AS b ORDER BY b.key";

/// The audit records of a batch as the JSON array the insert statements read.
fn audit_batch_json(audit: &[(String, NewAuditEntry)]) -> Result<String, DbError> {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        project: &'a str,
        operation: &'a str,
        resource_type: &'a str,
        resource: &'a str,
        username: &'a str,
        client_ip: &'a str,
    }
    let rows: Vec<Row<'_>> = audit
        .iter()
        .map(|(project, e)| Row {
            project,
            operation: &e.operation,
            resource_type: &e.resource_type,
            resource: &e.resource,
            username: &e.username,
            client_ip: &e.client_ip,
        })
        .collect();
    serde_json::to_string(&rows).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(Box::new(e))))
}
