//! Repositories as the admin API sees them: with their project, description, artifact
//! and pull counts; listing across projects, description updates, and deletion.

use std::collections::HashMap;

use crate::accounts::filter::{Bind, Where, bind_all, from_far_end, order_by, reverse_order};
use crate::codec::{from_db_int, now};
use crate::db::{Database, with_reader, with_transaction, with_writer};
use crate::error::DbError;
use crate::tenancy::artifacts::BASE_ARTIFACT;
use crate::tenancy::filter::{SortKey, TextMatch, Window};
use crate::tenancy::projects::{ProjectScope, repository_range};

/// A repository in the shape of Harbor's `Repository`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryInfo {
    pub id: i64,
    pub project_id: i64,
    /// Full name, `<project>/<path>`.
    pub name: String,
    pub description: String,
    /// Artifacts as Harbor counts them: neither children of an index nor accessories.
    pub artifact_count: u64,
    pub pull_count: u64,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct RepositoryRow {
    id: i64,
    project_id: i64,
    name: String,
    description: String,
    /// Every manifest of the repository: its artifact count unless `nested_artifacts`.
    manifest_count: i64,
    nested_artifacts: bool,
    pull_count: i64,
    created_at: i64,
    updated_at: i64,
}

impl RepositoryRow {
    fn decode(self, base_artifacts: Option<i64>) -> Result<RepositoryInfo, DbError> {
        Ok(RepositoryInfo {
            id: self.id,
            project_id: self.project_id,
            name: self.name,
            description: self.description,
            artifact_count: from_db_int(base_artifacts.unwrap_or(self.manifest_count), "count")?,
            pull_count: from_db_int(self.pull_count, "pull count")?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Filters of the repository listing; all given ones must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryFilter {
    /// Projects whose repositories may be listed.
    pub scope: ProjectScope,
    /// Only this project's repositories (by project name).
    pub project: Option<String>,
    /// On the full name (`<project>/<path>`), as Harbor matches it.
    pub name: Option<TextMatch>,
}

/// `sort` fields of the repository listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositorySortField {
    Name,
    Id,
    CreationTime,
    UpdateTime,
    PullCount,
}

/// The columns of a [`RepositoryRow`] from `repositories r`. The artifact count is
/// first every manifest, counted on the index alone; only repositories where an index or
/// an accessory was ever pushed (`nested_artifacts`, migration 0009) need the full count
/// ([`Database::base_artifact_counts`]). Kept out of this query, that count's anti-joins
/// cost Postgres more to plan (about 1 ms) than the whole page took to run.
const REPOSITORY_COLUMNS: &str = "r.id, r.project_id, r.name, r.description, \
     (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS manifest_count, \
     r.nested_artifacts, r.pull_count, r.created_at, r.updated_at";

/// `FROM` clause joining each repository to its project. `project_id` is kept by the
/// database from the name (migration 0007), so this is an integer join; a repository
/// outside every project has none and drops out.
const FROM_REPOSITORIES: &str =
    "FROM repositories r JOIN projects p ON p.project_id = r.project_id";

fn sort_column(field: RepositorySortField) -> &'static str {
    match field {
        RepositorySortField::Name => "r.name",
        RepositorySortField::Id => "r.id",
        RepositorySortField::CreationTime => "r.created_at",
        RepositorySortField::UpdateTime => "r.updated_at",
        RepositorySortField::PullCount => "r.pull_count",
    }
}

impl Database {
    /// Decodes `rows`, with the full artifact count of those whose artifacts may nest.
    async fn repository_infos(
        &self,
        rows: Vec<RepositoryRow>,
    ) -> Result<Vec<RepositoryInfo>, DbError> {
        let nested: Vec<i64> = rows
            .iter()
            .filter(|r| r.nested_artifacts)
            .map(|r| r.id)
            .collect();
        let mut counts = self.base_artifact_counts(&nested).await?;
        rows.into_iter()
            .map(|row| {
                let base = counts.remove(&row.id);
                row.decode(base)
            })
            .collect()
    }

    /// The artifacts (neither children of an index nor accessories) of each repository
    /// in `ids`. Correlated per repository: Postgres runs each count as an anti-join
    /// over that repository's manifests, where one grouped query over all of them
    /// scanned every manifest reference.
    async fn base_artifact_counts(&self, ids: &[i64]) -> Result<HashMap<i64, i64>, DbError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut w = Where::default();
        w.int_in("r.id", ids);
        let sql = format!(
            "SELECT r.id, (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id \
             AND {BASE_ARTIFACT}) FROM repositories r{}",
            w.sql()
        );
        let rows: Vec<(i64, i64)> = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, (i64, i64)>(&sql), &w.binds)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// One page of the repositories matching `filter`, and how many match in all.
    /// Repositories outside every project (none can be pushed) are not listed.
    pub async fn list_repository_infos(
        &self,
        filter: &RepositoryFilter,
        sort: &[SortKey<RepositorySortField>],
        window: Window,
    ) -> Result<(Vec<RepositoryInfo>, u64), DbError> {
        let mut w = Where::default();
        filter.scope.restrict(&mut w);
        if let Some(project) = &filter.project {
            let (low, high) = repository_range(project);
            let low = w.param(Bind::Text(low));
            let high = w.param(Bind::Text(high));
            w.clause(format!("r.name >= {low} AND r.name < {high}"));
        }
        if let Some(m) = &filter.name {
            w.text("r.name", m);
        }
        // Without a scope no condition reads the project, and the foreign key vouches for
        // it, so the count and the page's walk read the repositories alone (the count an
        // index-only scan, half the time of the join).
        let from_where = match filter.scope {
            ProjectScope::All => format!(
                "FROM repositories r WHERE r.project_id IS NOT NULL{}",
                w.sql().replacen(" WHERE ", " AND ", 1)
            ),
            ProjectScope::Visible { .. } => format!("{FROM_REPOSITORIES}{}", w.sql()),
        };
        // Counted before the LIMIT placeholders join the bind list. The whole listing's
        // total is the sum of the per-project counters (migration 0011).
        let count_sql = if matches!(filter.scope, ProjectScope::All)
            && filter.project.is_none()
            && filter.name.is_none()
        {
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM project_repository_counts".to_owned()
        } else {
            format!("SELECT COUNT(*) {from_where}")
        };
        let total: i64 = with_reader!(self, pool => {
            bind_all!(sqlx::query_scalar::<_, i64>(&count_sql), &w.binds)
                .fetch_one(pool)
                .await?
        });
        let order = order_by(sort, sort_column, "r.id");
        // A deep page is taken from the far end of the order: the sort then keeps at most
        // half the rows (see `from_far_end`); the outer query restores the order.
        let total = from_db_int(total, "count")?;
        let (page_order, page_window) = match from_far_end(window, total) {
            Some(mirrored) => (reverse_order(&order), mirrored),
            None => (order.clone(), window),
        };
        let limit = w.limit(page_window)?;
        // The page's ids first (a walk of the order's index alone when it has one), then
        // those rows and their manifest counts: Postgres computed a count for every row
        // that OFFSET skips, so the last page of 10,000 repositories evaluated it 10,000
        // times (335 ms), and reading each skipped row for its columns cost more than
        // the walk.
        let sql = format!(
            "SELECT {REPOSITORY_COLUMNS} FROM repositories r WHERE r.id IN (\
             SELECT r.id {from_where}{page_order}{limit}){order}"
        );
        let rows = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, RepositoryRow>(&sql), &w.binds)
                .fetch_all(pool)
                .await?
        });
        let repositories = self.repository_infos(rows).await?;
        Ok((repositories, total))
    }

    /// The repository named `name` (full name), if it exists inside a project.
    pub async fn repository_info(&self, name: &str) -> Result<Option<RepositoryInfo>, DbError> {
        let sql = format!("SELECT {REPOSITORY_COLUMNS} {FROM_REPOSITORIES} WHERE r.name = $1");
        let row = with_reader!(self, pool => {
            sqlx::query_as::<_, RepositoryRow>(&sql)
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(self
            .repository_infos(row.into_iter().collect())
            .await?
            .pop())
    }

    /// Sets a repository's description; `false` if there is no such repository.
    pub async fn set_repository_description(
        &self,
        name: &str,
        description: &str,
    ) -> Result<bool, DbError> {
        let updated = with_writer!(self, pool => {
            sqlx::query("UPDATE repositories SET description = $1, updated_at = $2 WHERE name = $3")
                .bind(description)
                .bind(now())
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated > 0)
    }

    /// Deletes a repository with everything in it (manifests, tags, blob links, upload
    /// sessions) in one transaction. Returns the ids of the upload sessions it ended, so
    /// the caller can remove their staged bytes from blob storage; `None` if there was no
    /// such repository. Blobs themselves stay until garbage collection.
    pub async fn delete_repository(&self, name: &str) -> Result<Option<Vec<String>>, DbError> {
        let outcome = with_transaction!(self, tx => {
            let id = sqlx::query_scalar::<_, i64>("SELECT id FROM repositories WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
            match id {
                None => None,
                Some(id) => {
                    let uploads = sqlx::query_scalar::<_, String>(
                        "SELECT id FROM uploads WHERE repository_id = $1 ORDER BY id",
                    )
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM repositories WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Some(uploads)
                }
            }
        });
        Ok(outcome)
    }
}
