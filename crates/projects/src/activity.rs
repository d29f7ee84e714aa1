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
            for (project, entry) in audit {
                sqlx::query(
                    "INSERT INTO audit_log (project_id, operation, resource_type, resource, username, client_ip, op_time) \
                     VALUES ((SELECT project_id FROM projects WHERE name = $1), $2, $3, $4, $5, $6, $7)",
                )
                .bind(project)
                .bind(&entry.operation)
                .bind(&entry.resource_type)
                .bind(&entry.resource)
                .bind(&entry.username)
                .bind(&entry.client_ip)
                .bind(op_time)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
