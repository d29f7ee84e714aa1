//! User administration: profiles, listing and search, creation, deletion, the admin flag
//! and password resets by id.

use crate::accounts::filter::{Bind, Where, bind_all, escape_like, order_by};
use crate::codec::{from_db_int, now};
use crate::db::{Database, with_reader, with_writer};
use crate::error::DbError;
use crate::password::hash_password;
use crate::tenancy::{SortKey, TextMatch, Window};

/// A local user as the admin API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub realname: String,
    pub comment: String,
    #[sqlx(rename = "is_admin")]
    pub sysadmin: bool,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A user to create. The password is hashed (argon2id) before it is stored. `Debug`
/// leaves the password out.
#[derive(Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub realname: String,
    pub comment: String,
    pub password: String,
    pub sysadmin: bool,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("realname", &self.realname)
            .field("comment", &self.comment)
            .field("password", &"<redacted>")
            .field("sysadmin", &self.sysadmin)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateUserOutcome {
    Created(UserRecord),
    UsernameTaken,
    EmailTaken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateProfileOutcome {
    Updated,
    NotFound,
    EmailTaken,
}

/// Filters of `GET /users` (`q=username=~a,email=~b`).
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub username: Option<TextMatch>,
    pub email: Option<TextMatch>,
}

/// What the user listing sorts by (Harbor's `user_id`, `username`, `email`,
/// `realname`, `creation_time`, `update_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSortField {
    UserId,
    Username,
    Email,
    Realname,
    CreationTime,
    UpdateTime,
}

fn user_sort_column(field: UserSortField) -> &'static str {
    match field {
        UserSortField::UserId => "id",
        UserSortField::Username => "username",
        UserSortField::Email => "email",
        UserSortField::Realname => "realname",
        UserSortField::CreationTime => "created_at",
        UserSortField::UpdateTime => "updated_at",
    }
}

const USER_COLUMNS: &str =
    "id, username, email, realname, comment, is_admin, created_at, updated_at";

impl Database {
    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>, DbError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(with_reader!(self, pool => {
            sqlx::query_as::<_, UserRecord>(&sql).bind(id).fetch_optional(pool).await?
        }))
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, DbError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        Ok(with_reader!(self, pool => {
            sqlx::query_as::<_, UserRecord>(&sql).bind(username).fetch_optional(pool).await?
        }))
    }

    /// One page of users matching `filter`, and how many match in all.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        sort: &[SortKey<UserSortField>],
        window: Window,
    ) -> Result<(Vec<UserRecord>, u64), DbError> {
        let mut w = Where::default();
        if let Some(m) = &filter.username {
            w.text("username", m);
        }
        if let Some(m) = &filter.email {
            w.text("email", m);
        }
        let count_sql = format!("SELECT COUNT(*) FROM users{}", w.sql());
        let total: i64 = with_reader!(self, pool => {
            bind_all!(sqlx::query_scalar(&count_sql), &w.binds).fetch_one(pool).await?
        });
        let list_sql = format!(
            "SELECT {USER_COLUMNS} FROM users{}{}",
            w.sql(),
            order_by(sort, user_sort_column, "id")
        );
        let list_sql = list_sql + &w.limit(window)?;
        let users = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, UserRecord>(&list_sql), &w.binds).fetch_all(pool).await?
        });
        Ok((users, from_db_int(total, "user count")?))
    }

    /// Users whose name contains `fragment` (case-insensitive), names starting with it
    /// first: `(id, username)` pairs and the total number of matches.
    pub async fn search_users(
        &self,
        fragment: &str,
        window: Window,
    ) -> Result<(Vec<(i64, String)>, u64), DbError> {
        let mut w = Where::default();
        w.text("username", &TextMatch::Contains(fragment.to_owned()));
        let count_sql = format!("SELECT COUNT(*) FROM users{}", w.sql());
        let total: i64 = with_reader!(self, pool => {
            bind_all!(sqlx::query_scalar(&count_sql), &w.binds).fetch_one(pool).await?
        });
        let prefix = w.param(Bind::Text(format!(
            "{}%",
            escape_like(&fragment.to_lowercase())
        )));
        let list_sql = format!(
            "SELECT id, username FROM users{} \
             ORDER BY CASE WHEN LOWER(username) LIKE {prefix} ESCAPE '\\' THEN 0 ELSE 1 END, username, id",
            w.sql()
        ) + &w.limit(window)?;
        let users = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, (i64, String)>(&list_sql), &w.binds).fetch_all(pool).await?
        });
        Ok((users, from_db_int(total, "user count")?))
    }

    /// Creates a local user. Usernames are unique, and so are non-empty emails.
    pub async fn create_user(&self, user: &NewUser) -> Result<CreateUserOutcome, DbError> {
        let password_hash = hash_password(user.password.clone()).await?;
        let now = now();
        let inserted: Option<i64> = with_writer!(self, pool => {
            // No conflict target: a clash on the username or on the email index both
            // end in "nothing inserted", sorted out below.
            sqlx::query_scalar(
                "INSERT INTO users (username, password_hash, is_admin, email, realname, comment, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(&user.username)
            .bind(&password_hash)
            .bind(user.sysadmin)
            .bind(&user.email)
            .bind(&user.realname)
            .bind(&user.comment)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        if let Some(id) = inserted {
            return Ok(match self.user_by_id(id).await? {
                Some(record) => CreateUserOutcome::Created(record),
                // Deleted again in between by someone else: report it as it is now.
                None => CreateUserOutcome::UsernameTaken,
            });
        }
        if self.user_by_name(&user.username).await?.is_some() {
            Ok(CreateUserOutcome::UsernameTaken)
        } else {
            Ok(CreateUserOutcome::EmailTaken)
        }
    }

    /// Replaces email, realname and comment (Harbor's profile update).
    pub async fn update_user_profile(
        &self,
        id: i64,
        email: &str,
        realname: &str,
        comment: &str,
    ) -> Result<UpdateProfileOutcome, DbError> {
        let result = with_writer!(self, pool => {
            sqlx::query(
                "UPDATE users SET email = $1, realname = $2, comment = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(email)
            .bind(realname)
            .bind(comment)
            .bind(now())
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        });
        match result {
            Ok(0) => Ok(UpdateProfileOutcome::NotFound),
            Ok(_) => Ok(UpdateProfileOutcome::Updated),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Ok(UpdateProfileOutcome::EmailTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a user; their memberships go with them (cascade), projects they own keep
    /// existing without an owner. `false` if there was no such user.
    pub async fn delete_user(&self, id: i64) -> Result<bool, DbError> {
        let deleted = with_writer!(self, pool => {
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Grants or revokes system administration; `false` if there is no such user.
    pub async fn set_user_sysadmin(&self, id: i64, sysadmin: bool) -> Result<bool, DbError> {
        let updated = with_writer!(self, pool => {
            sqlx::query("UPDATE users SET is_admin = $1, updated_at = $2 WHERE id = $3")
                .bind(sysadmin)
                .bind(now())
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated > 0)
    }

    /// Replaces the password of user `id`; `false` if there is no such user.
    pub async fn set_user_password(&self, id: i64, password: &str) -> Result<bool, DbError> {
        let password_hash = hash_password(password.to_owned()).await?;
        let updated = with_writer!(self, pool => {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(&password_hash)
                .bind(now())
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated > 0)
    }

    /// Whether user `id` is a project admin of at least one project (Harbor lets them
    /// read the permission catalogue to build robot accounts).
    pub async fn is_project_admin_anywhere(&self, user_id: i64) -> Result<bool, DbError> {
        Ok(with_reader!(self, pool => {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM project_members WHERE entity_id = $1 AND entity_type = 'u' AND role = 1)",
            )
            .bind(user_id)
            .fetch_one(pool)
            .await?
        }))
    }
}
