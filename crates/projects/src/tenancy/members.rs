//! Project members: users holding one of Harbor's roles (ids 1 to 5) in a project.

use crate::accounts::filter::{Where, bind_all};
use crate::codec::{from_db_int, now};
use crate::db::{Database, with_reader, with_transaction, with_writer};
use crate::error::DbError;
use crate::tenancy::filter::{TextMatch, Window};

/// One membership, in the shape of Harbor's `ProjectMemberEntity`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    pub id: i64,
    pub project_id: i64,
    pub entity_id: i64,
    /// The member's username.
    pub entity_name: String,
    /// `u` (user); Berth has no groups.
    pub entity_type: String,
    pub role: i64,
}

/// The user to add: by id or by username (Harbor's `member_user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberUser {
    Id(i64),
    Name(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddMemberOutcome {
    /// The new membership's id.
    Added(i64),
    UserNotFound,
    AlreadyMember,
}

const SELECT_MEMBERS: &str = "SELECT m.id, m.project_id, m.entity_id, u.username AS entity_name, \
     m.entity_type, m.role FROM project_members m JOIN users u ON u.id = m.entity_id";

impl Database {
    /// One page of the members of `project_id` (optionally only those whose username
    /// matches `name`), ordered by id, and the total.
    pub async fn list_members(
        &self,
        project_id: i64,
        name: Option<&TextMatch>,
        window: Window,
    ) -> Result<(Vec<Member>, u64), DbError> {
        let mut w = Where::default();
        w.int_eq("m.project_id", project_id);
        if let Some(m) = name {
            w.text("u.username", m);
        }
        // Counted before the LIMIT placeholders join the bind list.
        let count_sql = format!(
            "SELECT COUNT(*) FROM project_members m JOIN users u ON u.id = m.entity_id{}",
            w.sql()
        );
        let total: i64 = with_reader!(self, pool => {
            bind_all!(sqlx::query_scalar::<_, i64>(&count_sql), &w.binds)
                .fetch_one(pool)
                .await?
        });
        let conditions = w.sql();
        let limit = w.limit(window)?;
        let sql = format!("{SELECT_MEMBERS}{conditions} ORDER BY m.id{limit}");
        let members = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, Member>(&sql), &w.binds)
                .fetch_all(pool)
                .await?
        });
        Ok((members, from_db_int(total, "count")?))
    }

    /// Membership `member_id` of project `project_id` (an id of another project is `None`).
    pub async fn member(&self, project_id: i64, member_id: i64) -> Result<Option<Member>, DbError> {
        let sql = format!("{SELECT_MEMBERS} WHERE m.project_id = $1 AND m.id = $2");
        let member = with_reader!(self, pool => {
            sqlx::query_as::<_, Member>(&sql)
                .bind(project_id)
                .bind(member_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(member)
    }

    /// Makes `user` a member of `project_id` with `role`. The user lookup and the insert
    /// share one transaction, so a user deleted meanwhile is reported, not half-added.
    pub async fn add_member(
        &self,
        project_id: i64,
        user: &MemberUser,
        role: i64,
    ) -> Result<AddMemberOutcome, DbError> {
        let now = now();
        let outcome = with_transaction!(self, tx => {
            let user_id = match user {
                MemberUser::Id(id) => {
                    sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE id = $1")
                        .bind(*id)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                MemberUser::Name(name) => {
                    sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
            match user_id {
                None => AddMemberOutcome::UserNotFound,
                Some(user_id) => {
                    let id = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO project_members (project_id, entity_id, entity_type, role, created_at, updated_at) \
                         VALUES ($1, $2, 'u', $3, $4, $4) \
                         ON CONFLICT (project_id, entity_id, entity_type) DO NOTHING RETURNING id",
                    )
                    .bind(project_id)
                    .bind(user_id)
                    .bind(role)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    match id {
                        Some(id) => AddMemberOutcome::Added(id),
                        None => AddMemberOutcome::AlreadyMember,
                    }
                }
            }
        });
        Ok(outcome)
    }

    /// Changes a member's role; `false` if there is no such membership in the project.
    pub async fn update_member_role(
        &self,
        project_id: i64,
        member_id: i64,
        role: i64,
    ) -> Result<bool, DbError> {
        let updated = with_writer!(self, pool => {
            sqlx::query(
                "UPDATE project_members SET role = $1, updated_at = $2 WHERE project_id = $3 AND id = $4",
            )
            .bind(role)
            .bind(now())
            .bind(project_id)
            .bind(member_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(updated > 0)
    }

    /// Ends a membership; `false` if there is no such membership in the project.
    pub async fn delete_member(&self, project_id: i64, member_id: i64) -> Result<bool, DbError> {
        let deleted = with_writer!(self, pool => {
            sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND id = $2")
                .bind(project_id)
                .bind(member_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }
}
