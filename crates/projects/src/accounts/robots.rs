//! Robot accounts (Harbor v2 model). Only a keyed hash of each secret is stored; the
//! caller computes it, so the key never reaches this crate.

use crate::accounts::filter::{Where, bind_all, order_by};
use crate::codec::{from_db_int, now};
use crate::db::{Database, with_reader, with_writer};
use crate::error::DbError;
use crate::tenancy::{SortKey, TextMatch, Window};
use rbac::{RobotLevel, RobotPermission};

/// A robot account as the admin API shows it (never the secret hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotRecord {
    pub id: i64,
    /// Full name: `robot$<project>+<name>` or `robot$<name>`.
    pub name: String,
    pub description: String,
    pub level: RobotLevel,
    /// The project of a project-level robot.
    pub project_id: Option<i64>,
    /// Days, or -1 for never.
    pub duration: i64,
    /// Unix seconds, or -1 for never.
    pub expires_at: i64,
    pub disabled: bool,
    /// `local` (a user created it) or `robot`.
    pub creator_type: String,
    /// The creating user's or robot's id.
    pub creator_ref: i64,
    pub permissions: Vec<RobotPermission>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewRobot {
    pub name: String,
    pub description: String,
    pub level: RobotLevel,
    pub project_id: Option<i64>,
    pub duration: i64,
    pub expires_at: i64,
    pub disabled: bool,
    pub creator_type: String,
    pub creator_ref: i64,
    pub permissions: Vec<RobotPermission>,
    pub secret_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRobotOutcome {
    Created(RobotRecord),
    NameTaken,
}

/// What `PUT /robots/{id}` may change (name and level are fixed).
#[derive(Debug, Clone)]
pub struct RobotUpdate {
    pub description: String,
    pub duration: i64,
    pub expires_at: i64,
    pub disabled: bool,
    pub permissions: Vec<RobotPermission>,
}

/// Filters of `GET /robots`.
#[derive(Debug, Clone, Default)]
pub struct RobotFilter {
    pub level: Option<RobotLevel>,
    pub project_id: Option<i64>,
    pub name: Option<TextMatch>,
}

/// What the robot listing sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RobotSortField {
    Id,
    Name,
    CreationTime,
    UpdateTime,
    ExpiresAt,
}

fn robot_sort_column(field: RobotSortField) -> &'static str {
    match field {
        RobotSortField::Id => "id",
        RobotSortField::Name => "name",
        RobotSortField::CreationTime => "created_at",
        RobotSortField::UpdateTime => "updated_at",
        RobotSortField::ExpiresAt => "expires_at",
    }
}

const ROBOT_COLUMNS: &str = "id, name, description, level, project_id, duration, expires_at, \
     disabled, creator_type, creator_ref, permissions, created_at, updated_at";

fn level_str(level: RobotLevel) -> &'static str {
    match level {
        RobotLevel::Project => "project",
        RobotLevel::System => "system",
    }
}

fn encode_permissions(permissions: &[RobotPermission]) -> Result<String, DbError> {
    serde_json::to_string(permissions)
        .map_err(|e| DbError::Corrupt(format!("robot permissions: {e}")))
}

/// A `robots` row as stored; [`RobotRow::decode`] turns it into a [`RobotRecord`].
#[derive(sqlx::FromRow)]
struct RobotRow {
    id: i64,
    name: String,
    description: String,
    level: String,
    project_id: Option<i64>,
    duration: i64,
    expires_at: i64,
    disabled: bool,
    creator_type: String,
    creator_ref: i64,
    permissions: String,
    created_at: i64,
    updated_at: i64,
}

impl RobotRow {
    fn decode(self) -> Result<RobotRecord, DbError> {
        let level = match self.level.as_str() {
            "project" => RobotLevel::Project,
            "system" => RobotLevel::System,
            other => return Err(DbError::Corrupt(format!("robot level {other:?}"))),
        };
        let permissions = serde_json::from_str(&self.permissions)
            .map_err(|e| DbError::Corrupt(format!("robot permissions: {e}")))?;
        Ok(RobotRecord {
            id: self.id,
            name: self.name,
            description: self.description,
            level,
            project_id: self.project_id,
            duration: self.duration,
            expires_at: self.expires_at,
            disabled: self.disabled,
            creator_type: self.creator_type,
            creator_ref: self.creator_ref,
            permissions,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl Database {
    pub async fn create_robot(&self, robot: &NewRobot) -> Result<CreateRobotOutcome, DbError> {
        let permissions = encode_permissions(&robot.permissions)?;
        let now = now();
        let id: Option<i64> = with_writer!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO robots (name, description, secret_hash, level, project_id, duration, expires_at, \
                 disabled, creator_type, creator_ref, permissions, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
                 ON CONFLICT (name) DO NOTHING RETURNING id",
            )
            .bind(&robot.name)
            .bind(&robot.description)
            .bind(&robot.secret_hash)
            .bind(level_str(robot.level))
            .bind(robot.project_id)
            .bind(robot.duration)
            .bind(robot.expires_at)
            .bind(robot.disabled)
            .bind(&robot.creator_type)
            .bind(robot.creator_ref)
            .bind(&permissions)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        let Some(id) = id else {
            return Ok(CreateRobotOutcome::NameTaken);
        };
        match self.robot_by_id(id).await? {
            Some(record) => Ok(CreateRobotOutcome::Created(record)),
            // Deleted between the insert and the read: as if never created.
            None => Err(DbError::Corrupt(format!(
                "robot {id} vanished after insert"
            ))),
        }
    }

    pub async fn robot_by_id(&self, id: i64) -> Result<Option<RobotRecord>, DbError> {
        let sql = format!("SELECT {ROBOT_COLUMNS} FROM robots WHERE id = $1");
        with_reader!(self, pool => {
            sqlx::query_as::<_, RobotRow>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(RobotRow::decode)
                .transpose()
        })
    }

    /// One page of robots matching `filter`, and how many match in all.
    pub async fn list_robots(
        &self,
        filter: &RobotFilter,
        sort: &[SortKey<RobotSortField>],
        window: Window,
    ) -> Result<(Vec<RobotRecord>, u64), DbError> {
        let mut w = Where::default();
        if let Some(level) = filter.level {
            w.text("level", &TextMatch::Exact(level_str(level).to_owned()));
        }
        if let Some(project_id) = filter.project_id {
            w.int_eq("project_id", project_id);
        }
        if let Some(m) = &filter.name {
            w.text("name", m);
        }
        let count_sql = format!("SELECT COUNT(*) FROM robots{}", w.sql());
        let total: i64 = with_reader!(self, pool => {
            bind_all!(sqlx::query_scalar(&count_sql), &w.binds).fetch_one(pool).await?
        });
        let list_sql = format!(
            "SELECT {ROBOT_COLUMNS} FROM robots{}{}",
            w.sql(),
            order_by(sort, robot_sort_column, "id")
        ) + &w.limit(window)?;
        let robots = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, RobotRow>(&list_sql), &w.binds)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(RobotRow::decode)
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok((robots, from_db_int(total, "robot count")?))
    }

    /// Applies `update`; `false` if there is no such robot.
    pub async fn update_robot(&self, id: i64, update: &RobotUpdate) -> Result<bool, DbError> {
        let permissions = encode_permissions(&update.permissions)?;
        let updated = with_writer!(self, pool => {
            sqlx::query(
                "UPDATE robots SET description = $1, duration = $2, expires_at = $3, disabled = $4, \
                 permissions = $5, updated_at = $6 WHERE id = $7",
            )
            .bind(&update.description)
            .bind(update.duration)
            .bind(update.expires_at)
            .bind(update.disabled)
            .bind(&permissions)
            .bind(now())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated > 0)
    }

    /// Replaces the secret hash (refresh); `false` if there is no such robot.
    pub async fn set_robot_secret_hash(&self, id: i64, secret_hash: &str) -> Result<bool, DbError> {
        let updated = with_writer!(self, pool => {
            sqlx::query("UPDATE robots SET secret_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(secret_hash)
                .bind(now())
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated > 0)
    }

    pub async fn delete_robot(&self, id: i64) -> Result<bool, DbError> {
        let deleted = with_writer!(self, pool => {
            sqlx::query("DELETE FROM robots WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }
}
