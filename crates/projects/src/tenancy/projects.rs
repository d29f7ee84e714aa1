//! Projects and their metadata (Harbor's key/value settings such as `public`).
//!
//! A project owns every repository named `<project>/...`; the link is the name prefix,
//! not a foreign key (see `migrations/*/0002_tenancy.sql`), so repository counts and the
//! "still holds repositories" check are range queries on `repositories.name`.

use std::collections::{BTreeMap, HashMap};

use crate::accounts::filter::{Bind, Where, bind_all, order_by};
use crate::codec::{from_db_int, now};
use crate::db::{Database, with_reader, with_transaction, with_writer};
use crate::error::DbError;
use crate::tenancy::filter::{SortKey, TextMatch, Window};

/// The metadata key that makes a project public (value `"true"`).
pub const PUBLIC_KEY: &str = "public";

/// Which projects a caller may see in listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectScope {
    /// Every project (system administrators).
    All,
    /// Public projects, those where user `member` has a role, and those named in
    /// `names` (the projects a robot's permissions cover).
    Visible {
        member: Option<i64>,
        names: Vec<String>,
    },
}

impl ProjectScope {
    /// Adds the condition "project `p` is in scope" to `w`.
    pub(crate) fn restrict(&self, w: &mut Where) {
        let ProjectScope::Visible { member, names } = self else {
            return;
        };
        let mut any = vec![format!("{PUBLIC_VALUE} = 'true'")];
        if let Some(user) = member {
            let u = w.param(Bind::Int(*user));
            any.push(format!(
                "EXISTS (SELECT 1 FROM project_members pmb WHERE pmb.project_id = p.project_id \
                 AND pmb.entity_type = 'u' AND pmb.entity_id = {u})"
            ));
        }
        if !names.is_empty() {
            let list: Vec<String> = names
                .iter()
                .map(|n| w.param(Bind::Text(n.clone())))
                .collect();
            any.push(format!("p.name IN ({})", list.join(", ")));
        }
        w.clause(format!("({})", any.join(" OR ")));
    }
}

/// `sort` fields of the project listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectSortField {
    Name,
    ProjectId,
    CreationTime,
    UpdateTime,
}

fn sort_column(field: ProjectSortField) -> &'static str {
    match field {
        ProjectSortField::Name => "p.name",
        ProjectSortField::ProjectId => "p.project_id",
        ProjectSortField::CreationTime => "p.created_at",
        ProjectSortField::UpdateTime => "p.updated_at",
    }
}

/// `'true'` or `'false'`: the `public` metadata of project `p` (absent means private).
pub(crate) const PUBLIC_VALUE: &str = "COALESCE((SELECT pm.value FROM project_metadata pm \
     WHERE pm.project_id = p.project_id AND pm.name = 'public'), 'false')";

/// The bounds of the repository names inside project `name`: every name `r` with
/// `low <= r < high` starts with `name/` ('0' follows '/'). A range rather than LIKE so
/// the unique index on `repositories.name` serves it.
pub(crate) fn repository_range(project: &str) -> (String, String) {
    (format!("{project}/"), format!("{project}0"))
}

/// A project with its metadata and repository count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub name: String,
    /// The creator; `None` once that user is deleted, or when a robot created it.
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub metadata: BTreeMap<String, String>,
    pub repo_count: u64,
}

impl Project {
    pub fn is_public(&self) -> bool {
        self.metadata.get(PUBLIC_KEY).is_some_and(|v| v == "true")
    }

    /// What permission checks need to know about this project.
    pub fn access(&self) -> rbac::ProjectAccess {
        rbac::ProjectAccess {
            id: self.id,
            name: self.name.clone(),
            public: self.is_public(),
            created_at: self.created_at,
        }
    }
}

/// Filters of the project listing; all given ones must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFilter {
    pub scope: ProjectScope,
    pub name: Option<TextMatch>,
    /// On the owner's username.
    pub owner: Option<TextMatch>,
    pub public: Option<bool>,
}

impl ProjectFilter {
    pub fn new(scope: ProjectScope) -> Self {
        Self {
            scope,
            name: None,
            owner: None,
            public: None,
        }
    }
}

/// A project to create. The owner (if any) becomes its project admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    pub name: String,
    pub owner_id: Option<i64>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateProjectOutcome {
    Created(i64),
    NameTaken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteProjectOutcome {
    Deleted,
    NotFound,
    /// Refused: repositories named `<project>/...` still exist.
    HasRepositories,
}

#[derive(sqlx::FromRow)]
struct ProjectRow {
    project_id: i64,
    name: String,
    owner_id: Option<i64>,
    owner_name: Option<String>,
    created_at: i64,
    updated_at: i64,
    repo_count: i64,
}

#[derive(sqlx::FromRow)]
struct MetadataRow {
    project_id: i64,
    name: String,
    value: String,
}

/// Harbor's role id of a project admin (`projectAdmin`), given to a project's creator.
const PROJECT_ADMIN_ROLE: i64 = 1;

/// Projects with their owner's name and their number of repositories, read from the
/// per-project counters the database keeps (migration 0011) rather than counted.
const SELECT_PROJECTS: &str = "SELECT p.project_id, p.name, p.owner_id, \
     u.username AS owner_name, p.created_at, p.updated_at, \
     (SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM project_repository_counts c \
      WHERE c.project_id = p.project_id) AS repo_count \
     FROM projects p LEFT JOIN users u ON u.id = p.owner_id";

impl Database {
    /// Creates a project, its metadata and its owner's project-admin membership in one
    /// transaction.
    pub async fn create_project(
        &self,
        project: &NewProject,
    ) -> Result<CreateProjectOutcome, DbError> {
        let now = now();
        let outcome = with_transaction!(self, tx => {
            let id = sqlx::query_scalar::<_, i64>(
                "INSERT INTO projects (name, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (name) DO NOTHING RETURNING project_id",
            )
            .bind(&project.name)
            .bind(project.owner_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            match id {
                None => CreateProjectOutcome::NameTaken,
                Some(id) => {
                    for (name, value) in &project.metadata {
                        sqlx::query(
                            "INSERT INTO project_metadata (project_id, name, value, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $4)",
                        )
                        .bind(id)
                        .bind(name)
                        .bind(value)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    if let Some(owner) = project.owner_id {
                        sqlx::query(
                            "INSERT INTO project_members (project_id, entity_id, entity_type, role, created_at, updated_at) \
                             VALUES ($1, $2, 'u', $3, $4, $4)",
                        )
                        .bind(id)
                        .bind(owner)
                        .bind(PROJECT_ADMIN_ROLE)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    CreateProjectOutcome::Created(id)
                }
            }
        });
        Ok(outcome)
    }

    pub async fn project_by_id(&self, id: i64) -> Result<Option<Project>, DbError> {
        let mut w = Where::default();
        w.int_eq("p.project_id", id);
        Ok(self.load_projects(&w, "").await?.pop())
    }

    pub async fn project_by_name(&self, name: &str) -> Result<Option<Project>, DbError> {
        let mut w = Where::default();
        w.text("p.name", &TextMatch::Exact(name.to_owned()));
        Ok(self.load_projects(&w, "").await?.pop())
    }

    /// One page of the projects matching `filter`, and how many match in all.
    pub async fn list_projects(
        &self,
        filter: &ProjectFilter,
        sort: &[SortKey<ProjectSortField>],
        window: Window,
    ) -> Result<(Vec<Project>, u64), DbError> {
        let mut w = Where::default();
        filter.scope.restrict(&mut w);
        if let Some(m) = &filter.name {
            w.text("p.name", m);
        }
        if let Some(m) = &filter.owner {
            w.text("u.username", m);
        }
        if let Some(public) = filter.public {
            w.clause(format!(
                "{PUBLIC_VALUE} = '{}'",
                if public { "true" } else { "false" }
            ));
        }
        // Counted before the LIMIT placeholders join the bind list.
        let count_sql = format!(
            "SELECT COUNT(*) FROM projects p LEFT JOIN users u ON u.id = p.owner_id{}",
            w.sql()
        );
        let total: i64 = with_reader!(self, pool => {
            bind_all!(sqlx::query_scalar::<_, i64>(&count_sql), &w.binds)
                .fetch_one(pool)
                .await?
        });
        let tail = format!(
            "{}{}",
            order_by(sort, sort_column, "p.project_id"),
            w.limit(window)?
        );
        let projects = self.load_projects(&w, &tail).await?;
        Ok((projects, from_db_int(total, "count")?))
    }

    /// Runs [`SELECT_PROJECTS`] with `w` and `tail` (order, limit) and attaches each
    /// project's metadata.
    async fn load_projects(&self, w: &Where, tail: &str) -> Result<Vec<Project>, DbError> {
        let sql = format!("{SELECT_PROJECTS}{}{tail}", w.sql());
        let rows = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, ProjectRow>(&sql), &w.binds)
                .fetch_all(pool)
                .await?
        });
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.project_id).collect();
        let mut mw = Where::default();
        mw.int_in("project_id", &ids);
        let meta_sql = format!(
            "SELECT project_id, name, value FROM project_metadata{}",
            mw.sql()
        );
        let meta_rows = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, MetadataRow>(&meta_sql), &mw.binds)
                .fetch_all(pool)
                .await?
        });
        let mut metadata: HashMap<i64, BTreeMap<String, String>> = HashMap::new();
        for m in meta_rows {
            metadata
                .entry(m.project_id)
                .or_default()
                .insert(m.name, m.value);
        }
        rows.into_iter()
            .map(|r| {
                Ok(Project {
                    metadata: metadata.remove(&r.project_id).unwrap_or_default(),
                    repo_count: from_db_int(r.repo_count, "count")?,
                    id: r.project_id,
                    name: r.name,
                    owner_id: r.owner_id,
                    owner_name: r.owner_name,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                })
            })
            .collect()
    }

    /// The role ids of user `user_id` in each of `project_ids` where they are a member.
    pub async fn member_roles(
        &self,
        user_id: i64,
        project_ids: &[i64],
    ) -> Result<HashMap<i64, i64>, DbError> {
        if project_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut w = Where::default();
        w.clause("entity_type = 'u'".to_owned());
        w.int_eq("entity_id", user_id);
        w.int_in("project_id", project_ids);
        let sql = format!("SELECT project_id, role FROM project_members{}", w.sql());
        let rows: Vec<(i64, i64)> = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, (i64, i64)>(&sql), &w.binds)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Sets (inserts or replaces) metadata entries; `false` if the project is gone.
    pub async fn set_project_metadata(
        &self,
        project_id: i64,
        entries: &BTreeMap<String, String>,
    ) -> Result<bool, DbError> {
        let now = now();
        let found = with_transaction!(self, tx => {
            let touched = sqlx::query("UPDATE projects SET updated_at = $1 WHERE project_id = $2")
                .bind(now)
                .bind(project_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if touched == 0 {
                false
            } else {
                for (name, value) in entries {
                    sqlx::query(
                        "INSERT INTO project_metadata (project_id, name, value, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (project_id, name) \
                         DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    )
                    .bind(project_id)
                    .bind(name)
                    .bind(value)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                true
            }
        });
        Ok(found)
    }

    /// Adds one metadata entry; `false` if the project already has `name`.
    pub async fn add_project_metadata(
        &self,
        project_id: i64,
        name: &str,
        value: &str,
    ) -> Result<bool, DbError> {
        let inserted = with_writer!(self, pool => {
            sqlx::query(
                "INSERT INTO project_metadata (project_id, name, value, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (project_id, name) DO NOTHING",
            )
            .bind(project_id)
            .bind(name)
            .bind(value)
            .bind(now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(inserted > 0)
    }

    /// Removes one metadata entry; `false` if there was none.
    pub async fn delete_project_metadata(
        &self,
        project_id: i64,
        name: &str,
    ) -> Result<bool, DbError> {
        let deleted = with_writer!(self, pool => {
            sqlx::query("DELETE FROM project_metadata WHERE project_id = $1 AND name = $2")
                .bind(project_id)
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Deletes a project (its metadata, members and robots go with it) unless it still
    /// holds repositories. The check and the delete are one statement, so a repository
    /// listed a moment earlier cannot be orphaned by a racing delete.
    pub async fn delete_project(&self, project_id: i64) -> Result<DeleteProjectOutcome, DbError> {
        let outcome = with_transaction!(self, tx => {
            let name = sqlx::query_scalar::<_, String>("SELECT name FROM projects WHERE project_id = $1")
                .bind(project_id)
                .fetch_optional(&mut *tx)
                .await?;
            match name {
                None => DeleteProjectOutcome::NotFound,
                Some(name) => {
                    let (low, high) = repository_range(&name);
                    let deleted = sqlx::query(
                        "DELETE FROM projects WHERE project_id = $1 AND NOT EXISTS \
                         (SELECT 1 FROM repositories r WHERE r.name >= $2 AND r.name < $3)",
                    )
                    .bind(project_id)
                    .bind(&low)
                    .bind(&high)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    if deleted == 0 {
                        DeleteProjectOutcome::HasRepositories
                    } else {
                        DeleteProjectOutcome::Deleted
                    }
                }
            }
        });
        Ok(outcome)
    }

    /// How many members of project `project_id` hold each role id.
    pub async fn member_counts_by_role(
        &self,
        project_id: i64,
    ) -> Result<BTreeMap<i64, u64>, DbError> {
        let rows: Vec<(i64, i64)> = with_reader!(self, pool => {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT role, COUNT(*) FROM project_members WHERE project_id = $1 GROUP BY role",
            )
            .bind(project_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(role, n)| Ok((role, from_db_int(n, "count")?)))
            .collect()
    }
}
