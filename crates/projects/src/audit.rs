//! The audit log: who did what, to which resource, when and from where.

use crate::db::{Database, with_writer};
use crate::error::DbError;

/// A record to append to the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub project_id: Option<i64>,
    /// `create`, `update`, `delete`, `pull`, `push`, `login`, `login_failed`, ...
    pub operation: String,
    /// `project`, `repository`, `artifact`, `tag`, `member`, `robot`, `user`, ...
    pub resource_type: String,
    pub resource: String,
    pub username: String,
    pub client_ip: String,
}

impl Database {
    pub async fn add_audit_entry(&self, entry: &NewAuditEntry) -> Result<(), DbError> {
        let now = chrono::Utc::now().timestamp();
        with_writer!(self, pool => {
            sqlx::query(
                "INSERT INTO audit_log (project_id, operation, resource_type, resource, username, client_ip, op_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(entry.project_id)
            .bind(&entry.operation)
            .bind(&entry.resource_type)
            .bind(&entry.resource)
            .bind(&entry.username)
            .bind(&entry.client_ip)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
