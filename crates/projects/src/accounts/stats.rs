//! What `GET /statistics` needs beyond the project and repository listings.

use crate::codec::from_db_int;
use crate::db::{Database, with_reader};
use crate::error::DbError;

impl Database {
    /// Bytes of every stored blob, each counted once however many repositories link it
    /// (what the storage holds, as Harbor's `total_storage_consumption`).
    pub async fn total_blob_bytes(&self) -> Result<u64, DbError> {
        // SUM of BIGINT is NUMERIC on Postgres: cast back so both backends give an i64.
        let bytes: i64 = with_reader!(self, pool => {
            sqlx::query_scalar("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blobs")
                .fetch_one(pool)
                .await?
        });
        from_db_int(bytes, "storage size")
    }
}
