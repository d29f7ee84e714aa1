//! `GET /statistics`: how many projects and repositories there are, and the storage in
//! use. Totals and storage only for system administrators, as in Harbor.

use axum::Json;
use axum::extract::State;
use projects::{ProjectFilter, ProjectScope, RepositoryFilter, Window};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Ctx;
use crate::error::ApiResult;
use crate::routes::lookup::visible_scope;
use crate::state::ApiState;

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Statistic {
    /// Private projects the caller can see (all of them for system administrators).
    pub private_project_count: u64,
    pub private_repo_count: u64,
    pub public_project_count: u64,
    pub public_repo_count: u64,
    /// System administrators only (0 otherwise).
    pub total_project_count: u64,
    pub total_repo_count: u64,
    /// Bytes of stored blobs; system administrators only.
    pub total_storage_consumption: u64,
}

/// Counting only: no rows are fetched.
const COUNT_ONLY: Window = Window {
    offset: 0,
    limit: 0,
};

async fn count_projects(
    state: &ApiState,
    scope: ProjectScope,
    public: Option<bool>,
) -> ApiResult<u64> {
    let mut filter = ProjectFilter::new(scope);
    filter.public = public;
    Ok(state.db.list_projects(&filter, &[], COUNT_ONLY).await?.1)
}

async fn count_repositories(state: &ApiState, scope: ProjectScope) -> ApiResult<u64> {
    let filter = RepositoryFilter {
        scope,
        project: None,
        name: None,
    };
    Ok(state
        .db
        .list_repository_infos(&filter, &[], COUNT_ONLY)
        .await?
        .1)
}

/// Project and repository counts (signed-in callers).
#[utoipa::path(get, path = "/api/v2.0/statistics", tag = "statistic",
    operation_id = "getStatistic", responses((status = 200, body = Statistic), (status = 401)))]
pub async fn statistics(State(state): State<ApiState>, ctx: Ctx) -> ApiResult<Json<Statistic>> {
    ctx.require_login()?;
    // Public-only scope: no member, no names.
    let public_only = ProjectScope::Visible {
        member: None,
        names: Vec::new(),
    };
    let mut stat = Statistic {
        public_project_count: count_projects(&state, ProjectScope::All, Some(true)).await?,
        public_repo_count: count_repositories(&state, public_only).await?,
        ..Statistic::default()
    };
    if ctx.is_sysadmin() {
        stat.total_project_count = count_projects(&state, ProjectScope::All, None).await?;
        stat.total_repo_count = count_repositories(&state, ProjectScope::All).await?;
        stat.private_project_count = stat
            .total_project_count
            .saturating_sub(stat.public_project_count);
        stat.private_repo_count = stat.total_repo_count.saturating_sub(stat.public_repo_count);
        stat.total_storage_consumption = state.db.total_blob_bytes().await?;
    } else {
        let scope = visible_scope(&ctx);
        stat.private_project_count = count_projects(&state, scope.clone(), Some(false)).await?;
        // The scope includes every public project: what remains is private.
        stat.private_repo_count = count_repositories(&state, scope)
            .await?
            .saturating_sub(stat.public_repo_count);
    }
    Ok(Json(stat))
}
