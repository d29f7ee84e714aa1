//! `rbac::AccessDirectory` on the database: the lookups permission checks need.

use async_trait::async_trait;
use rbac::{AccessDirectory, DirectoryError, ProjectAccess, ProjectRole, RobotAccount, RobotLevel};
use sqlx::Row;

use crate::db::{Database, with_reader};

fn unavailable(err: sqlx::Error) -> DirectoryError {
    DirectoryError(err.to_string())
}

#[async_trait]
impl AccessDirectory for Database {
    async fn project(&self, name: &str) -> Result<Option<ProjectAccess>, DirectoryError> {
        let row = with_reader!(self, pool => {
            sqlx::query(
                "SELECT p.project_id, p.name, p.created_at, \
                 COALESCE((SELECT m.value FROM project_metadata m WHERE m.project_id = p.project_id AND m.name = 'public'), 'false') AS public \
                 FROM projects p WHERE p.name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(unavailable)?
            .map(|r| -> Result<ProjectAccess, sqlx::Error> {
                Ok(ProjectAccess {
                    id: r.try_get("project_id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    public: r.try_get::<String, _>("public")? == "true",
                })
            })
        });
        row.transpose().map_err(unavailable)
    }

    async fn member_role(
        &self,
        project_id: i64,
        user_id: i64,
    ) -> Result<Option<ProjectRole>, DirectoryError> {
        let role: Option<i64> = with_reader!(self, pool => {
            sqlx::query_scalar(
                "SELECT role FROM project_members WHERE project_id = $1 AND entity_id = $2 AND entity_type = 'u'",
            )
            .bind(project_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await
            .map_err(unavailable)?
        });
        Ok(role.and_then(ProjectRole::from_id))
    }

    async fn robot(&self, name: &str) -> Result<Option<(RobotAccount, String)>, DirectoryError> {
        let row = with_reader!(self, pool => {
            sqlx::query(
                "SELECT id, name, level, disabled, expires_at, permissions, secret_hash FROM robots WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(unavailable)?
            .map(|r| -> Result<(RobotAccount, String), sqlx::Error> {
                let level: String = r.try_get("level")?;
                let permissions: String = r.try_get("permissions")?;
                let robot = RobotAccount {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    level: if level == "system" { RobotLevel::System } else { RobotLevel::Project },
                    disabled: r.try_get("disabled")?,
                    expires_at: r.try_get("expires_at")?,
                    permissions: serde_json::from_str(&permissions)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                };
                Ok((robot, r.try_get("secret_hash")?))
            })
        });
        row.transpose().map_err(unavailable)
    }
}
