//! What a fresh installation starts with besides the admin account: the public
//! `library` project, as in Harbor.

use crate::codec::now;
use crate::db::{Database, with_transaction};
use crate::error::DbError;

impl Database {
    /// Creates project `name` (public or not) owned by `owner` with `owner` as project
    /// admin, unless a project of that name exists. Returns whether it was created.
    /// Safe when several replicas start at once: the insert is conflict-free.
    pub async fn ensure_project(
        &self,
        name: &str,
        public: bool,
        owner: &str,
    ) -> Result<bool, DbError> {
        let now = now();
        let created = with_transaction!(self, tx => {
            let owner_id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await?;
            let project_id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO projects (name, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (name) DO NOTHING RETURNING project_id",
            )
            .bind(name)
            .bind(owner_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(project_id) = project_id {
                sqlx::query(
                    "INSERT INTO project_metadata (project_id, name, value, created_at, updated_at) \
                     VALUES ($1, 'public', $2, $3, $3)",
                )
                .bind(project_id)
                .bind(if public { "true" } else { "false" })
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if let Some(owner_id) = owner_id {
                    sqlx::query(
                        "INSERT INTO project_members (project_id, entity_id, entity_type, role, created_at, updated_at) \
                         VALUES ($1, $2, 'u', 1, $3, $3)",
                    )
                    .bind(project_id)
                    .bind(owner_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            project_id.is_some()
        });
        Ok(created)
    }
}
