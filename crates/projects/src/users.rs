//! Local user accounts: the bootstrap admin and password checks for the token service
//! and the admin API.

use crate::codec::now;
use crate::db::{Database, with_reader, with_writer};
use crate::error::DbError;
use crate::password::{generate_password, hash_password, verify_dummy, verify_password};

/// An authenticated local user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    is_admin: bool,
    password_hash: String,
}

impl Database {
    /// Creates the system admin `username` if it does not exist yet, with `password` or,
    /// when none is given, a generated one. Returns the password only when it was
    /// generated here (so the caller can show it once). An existing user is left alone,
    /// never reset: restarting with a different configured password changes nothing.
    pub async fn ensure_admin(
        &self,
        username: &str,
        password: Option<&str>,
    ) -> Result<Option<String>, DbError> {
        let exists = with_reader!(self, pool => {
            sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
                .bind(username)
                .fetch_one(pool)
                .await?
        });
        if exists {
            return Ok(None);
        }

        let (password, generated) = match password {
            Some(given) => (given.to_owned(), false),
            None => (generate_password(), true),
        };
        let password_hash = hash_password(password.clone()).await?;
        let now = now();
        let inserted = with_writer!(self, pool => {
            sqlx::query(
                "INSERT INTO users (username, password_hash, is_admin, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (username) DO NOTHING",
            )
            .bind(username)
            .bind(&password_hash)
            .bind(true)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        // Zero rows: another replica created the admin between our check and insert. Its
        // password stands, and ours was never stored, so there is nothing to report.
        Ok((inserted == 1 && generated).then_some(password))
    }

    /// The user `username` if `password` is theirs; `None` for a wrong password and for an
    /// unknown user alike. An unknown user still costs one full argon2 verification, so
    /// response times do not reveal which usernames exist.
    pub async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, DbError> {
        let row = with_reader!(self, pool => {
            sqlx::query_as::<_, UserRow>(
                "SELECT id, username, is_admin, password_hash FROM users WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else {
            verify_dummy(password.to_owned()).await;
            return Ok(None);
        };
        if !verify_password(password.to_owned(), row.password_hash).await? {
            return Ok(None);
        }
        Ok(Some(User {
            id: row.id,
            username: row.username,
            is_admin: row.is_admin,
        }))
    }

    /// Replaces the password of `username` (admin recovery, password change); `false` if
    /// there is no such user.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<bool, DbError> {
        let password_hash = hash_password(password.to_owned()).await?;
        let updated = with_writer!(self, pool => {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3")
                .bind(&password_hash)
                .bind(now())
                .bind(username)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated > 0)
    }
}
