//! Settings: small values every replica must agree on, such as the token signing key.

use crate::db::{Database, with_reader, with_transaction};
use crate::error::DbError;

impl Database {
    /// The value stored under `key`, if any.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(with_reader!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The stored value of `key`, storing `value_if_absent` first if there is none.
    /// Atomic: replicas racing on an empty database all get the one value that won, e.g.
    /// each proposes a fresh signing key and all end up signing with the same one.
    pub async fn get_or_create_setting(
        &self,
        key: &str,
        value_if_absent: &str,
    ) -> Result<String, DbError> {
        // On Postgres a racing INSERT waits for the winner's commit and then does nothing;
        // the SELECT, a new statement under READ COMMITTED, sees the winner's row. On
        // SQLite the transaction holds the write lock throughout.
        let value = with_transaction!(self, tx => {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                .bind(key)
                .bind(value_if_absent)
                .execute(&mut *tx)
                .await?;
            let value = sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            value
        });
        Ok(value)
    }
}
