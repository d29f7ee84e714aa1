//! The audit log: who did what, to which resource, when and from where.

use crate::accounts::filter::{Bind, Where, bind_all, from_far_end, order_by, reverse_order};
use crate::codec::{from_db_int, to_db_int};
use crate::db::{Backend, Database, with_reader, with_writer};
use crate::error::DbError;
use crate::tenancy::{SortKey, TextMatch, Window};

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

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub project_id: Option<i64>,
    pub operation: String,
    pub resource_type: String,
    pub resource: String,
    pub username: String,
    pub client_ip: String,
    /// Unix seconds.
    pub op_time: i64,
}

/// Filters of the audit listings (Harbor's `q` keys, plus which projects to show).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries of these projects (entries without a project are then excluded);
    /// `None` for no restriction.
    pub project_ids: Option<Vec<i64>>,
    pub operation: Option<TextMatch>,
    pub resource: Option<TextMatch>,
    pub resource_type: Option<TextMatch>,
    pub username: Option<TextMatch>,
    /// Unix seconds, inclusive.
    pub op_time_from: Option<i64>,
    pub op_time_to: Option<i64>,
}

impl AuditFilter {
    /// True when nothing narrows the listing: the whole log.
    fn is_everything(&self) -> bool {
        self.project_ids.is_none() && self.by_projects_only()
    }

    /// True when nothing but the projects narrows the listing, so its total is the sum
    /// of the per-project counters (`audit_log_counts`) rather than a count of records.
    fn by_projects_only(&self) -> bool {
        self.operation.is_none()
            && self.resource.is_none()
            && self.resource_type.is_none()
            && self.username.is_none()
            && self.op_time_from.is_none()
            && self.op_time_to.is_none()
    }
}

/// The tables of counters and the column each counts by: audit records per project (the
/// listing totals, migration 0006), per second and per block of 4,096 seconds (the
/// positions of the whole log, migration 0008), and repositories per project (0011).
/// Each has a `slot` and an `n` column.
const COUNTER_TABLES: [(&str, &str); 4] = [
    ("audit_log_counts", "project_id"),
    ("audit_log_seconds", "op_time"),
    ("audit_log_blocks", "block"),
    ("project_repository_counts", "project_id"),
];

/// The ids of the page of the whole log, newest first, that starts at position `offset`
/// and holds up to `limit` records (both placeholders of the same query).
///
/// An OFFSET walk over the time index costs one index entry per record skipped (up to
/// 250,000 at 500,000 records). Instead, the counts per block of 4,096 seconds and per
/// second (`audit_log_blocks`, `audit_log_seconds`, kept exact by triggers, migration
/// 0008) are summed newest first, first to the block holding position `offset`, then to
/// the second within it; the index is walked only within that second. One statement, so
/// the counts and the records are read in one snapshot.
fn positioned_page(offset: &str, limit: &str) -> String {
    format!(
        "WITH blocks AS (\
             SELECT block, CAST(SUM(n) AS BIGINT) AS n FROM audit_log_blocks GROUP BY block), \
         block_starts AS (\
             SELECT block, n, \
                    CAST(SUM(n) OVER (ORDER BY block DESC ROWS UNBOUNDED PRECEDING) AS BIGINT) - n AS skip \
             FROM blocks), \
         in_block AS (\
             SELECT block, skip FROM block_starts WHERE skip <= {offset} AND {offset} < skip + n), \
         seconds AS (\
             SELECT s.op_time, CAST(SUM(s.n) AS BIGINT) AS n \
             FROM audit_log_seconds s JOIN in_block b \
               ON s.op_time BETWEEN b.block * 4096 AND b.block * 4096 + 4095 \
             GROUP BY s.op_time), \
         second_starts AS (\
             SELECT op_time, n, (SELECT skip FROM in_block) \
                    + CAST(SUM(n) OVER (ORDER BY op_time DESC ROWS UNBOUNDED PRECEDING) AS BIGINT) - n AS skip \
             FROM seconds), \
         in_second AS (\
             SELECT op_time, skip FROM second_starts WHERE skip <= {offset} AND {offset} < skip + n) \
         SELECT id FROM audit_log WHERE op_time <= (SELECT op_time FROM in_second) \
         ORDER BY op_time DESC, id DESC \
         LIMIT {limit} OFFSET COALESCE((SELECT {offset} - skip FROM in_second), 0)"
    )
}

/// True for the default order, newest first, however it was asked for.
fn is_newest_first(sort: &[SortKey<AuditSortField>]) -> bool {
    match sort {
        [] => true,
        [key] => key.field == AuditSortField::OpTime && key.descending,
        _ => false,
    }
}

/// What the audit listing sorts by (default: newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSortField {
    Id,
    OpTime,
    Username,
    Operation,
    Resource,
    ResourceType,
}

fn audit_sort_column(field: AuditSortField) -> &'static str {
    match field {
        AuditSortField::Id => "id",
        AuditSortField::OpTime => "op_time",
        AuditSortField::Username => "username",
        AuditSortField::Operation => "operation",
        AuditSortField::Resource => "resource",
        AuditSortField::ResourceType => "resource_type",
    }
}

impl Database {
    /// Records a login through Basic auth or the token service: `login` on success,
    /// `login_failed` otherwise, on resource type `user`.
    pub async fn record_login(
        &self,
        username: &str,
        client_ip: &str,
        success: bool,
    ) -> Result<(), DbError> {
        self.add_audit_entry(&NewAuditEntry {
            project_id: None,
            operation: if success { "login" } else { "login_failed" }.to_owned(),
            resource_type: "user".to_owned(),
            resource: username.to_owned(),
            username: username.to_owned(),
            client_ip: client_ip.to_owned(),
        })
        .await
    }

    /// One page of audit entries matching `filter`, newest first unless `sort` says
    /// otherwise, and how many match in all.
    pub async fn list_audit_entries(
        &self,
        filter: &AuditFilter,
        sort: &[SortKey<AuditSortField>],
        window: Window,
    ) -> Result<(Vec<AuditEntry>, u64), DbError> {
        let mut w = Where::default();
        if let Some(ids) = &filter.project_ids {
            w.int_in("project_id", ids);
        }
        for (column, m) in [
            ("operation", &filter.operation),
            ("resource", &filter.resource),
            ("resource_type", &filter.resource_type),
            ("username", &filter.username),
        ] {
            if let Some(m) = m {
                w.text(column, m);
            }
        }
        w.range("op_time", filter.op_time_from, filter.op_time_to);
        let total = if filter.by_projects_only() {
            self.audit_total(filter.project_ids.as_deref()).await?
        } else {
            let count_sql = format!("SELECT COUNT(*) FROM audit_log{}", w.sql());
            with_reader!(self, pool => {
                bind_all!(sqlx::query_scalar::<_, i64>(&count_sql), &w.binds).fetch_one(pool).await?
            })
        };
        // The page's ids first, then their rows: skipping OFFSET rows on the index alone
        // is cheap, whereas selecting the columns directly read every skipped row too
        // (the last page of 500,000 records took 30-40 ms instead of about 8).
        let order = order_by(sort, audit_sort_column, "op_time DESC, id DESC");
        let total = from_db_int(total, "audit entry count")?;
        let page = if filter.is_everything() && is_newest_first(sort) {
            // The whole log newest first: the counters find the page's second.
            let offset = w.param(Bind::Int(to_db_int(window.offset, "offset")?));
            let limit = w.param(Bind::Int(to_db_int(window.limit, "limit")?));
            positioned_page(&offset, &limit)
        } else {
            // A deep page is read from the other end of the order (half the walk at most).
            let (page_order, page_window) = match from_far_end(window, total) {
                Some(mirrored) => (reverse_order(&order), mirrored),
                None => (order.clone(), window),
            };
            format!("SELECT id FROM audit_log{}{page_order}", w.sql()) + &w.limit(page_window)?
        };
        let list_sql = format!(
            "SELECT id, project_id, operation, resource_type, resource, username, client_ip, op_time \
             FROM audit_log WHERE id IN ({page}){order}"
        );
        let entries = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, AuditEntry>(&list_sql), &w.binds).fetch_all(pool).await?
        });
        Ok((entries, total))
    }

    /// How many audit records belong to `projects` (`None`: all records), read from the
    /// counters the database's triggers keep beside the log (migration 0006).
    async fn audit_total(&self, projects: Option<&[i64]>) -> Result<i64, DbError> {
        let mut w = Where::default();
        if let Some(ids) = projects {
            w.int_in("project_id", ids);
        }
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM audit_log_counts{}",
            w.sql()
        );
        Ok(with_reader!(self, pool => {
            bind_all!(sqlx::query_scalar::<_, i64>(&sql), &w.binds).fetch_one(pool).await?
        }))
    }

    /// Folds the counters that Postgres backends keep per process ([`COUNTER_TABLES`]:
    /// audit records, and repositories per project) into one row per key, so rows of
    /// connections long closed do not accumulate.
    /// Rows a running transaction holds are skipped (folded next time), so this never
    /// waits for or blocks a writer; concurrent calls (other replicas) serialise on an
    /// advisory lock.
    /// Returns how many rows were folded; SQLite keeps a single row per key and has
    /// nothing to fold.
    pub async fn compact_audit_counts(&self) -> Result<u64, DbError> {
        /// `pg_try_advisory_xact_lock` key: "berth audit counts" folded into an i64.
        const LOCK_KEY: i64 = 0x6265_7274_6861_6301;
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(0);
        };
        let mut tx = pool.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Ok(0);
        }
        let mut folded = 0;
        for (table, key) in COUNTER_TABLES {
            let rows: i64 = sqlx::query_scalar(&format!(
                "WITH moved AS (\
                     DELETE FROM {table} WHERE ({key}, slot) IN (\
                         SELECT {key}, slot FROM {table} WHERE slot <> 0 \
                         FOR UPDATE SKIP LOCKED) \
                     RETURNING {key}, n), \
                 added AS (\
                     INSERT INTO {table} ({key}, slot, n) \
                     SELECT {key}, 0, SUM(n)::BIGINT FROM moved GROUP BY {key} ORDER BY {key} \
                     ON CONFLICT ({key}, slot) DO UPDATE SET n = {table}.n + EXCLUDED.n \
                     RETURNING 1) \
                 SELECT COUNT(*) FROM moved"
            ))
            .fetch_one(&mut *tx)
            .await?;
            folded += rows;
        }
        tx.commit().await?;
        from_db_int(folded, "folded audit counters")
    }

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
