//! `GET /search?q=`: projects and repositories whose names contain a keyword, among
//! those the caller may see (Harbor's `Search` shape).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use projects::{
    ProjectFilter, ProjectSortField, RepositoryFilter, RepositorySortField, SortKey, TextMatch,
    Window,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::routes::lookup::visible_scope;
use crate::routes::projects::{Project, roles_of, to_json};
use crate::state::ApiState;

/// At most this many projects and this many repositories per answer (Harbor's search
/// is not paged; the cap keeps one keystroke from listing a whole registry).
pub const SEARCH_LIMIT: u64 = 100;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchRepository {
    pub project_id: i64,
    pub project_name: String,
    pub project_public: bool,
    pub repository_name: String,
    pub pull_count: u64,
    pub artifact_count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Search {
    pub project: Vec<Project>,
    pub repository: Vec<SearchRepository>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Part of a project or repository name.
    pub q: Option<String>,
}

/// Search projects and repositories by name. Anonymous callers see public ones only.
#[utoipa::path(get, path = "/api/v2.0/search", tag = "search", operation_id = "search",
    params(SearchQuery), responses((status = 200, body = Search), (status = 400)))]
pub async fn search(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiQuery(params): ApiQuery<SearchQuery>,
) -> ApiResult<Json<Search>> {
    let keyword = params
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::bad_request("the q parameter is required"))?;
    let scope = visible_scope(&ctx);
    let window = Window {
        offset: 0,
        limit: SEARCH_LIMIT,
    };

    let mut filter = ProjectFilter::new(scope.clone());
    filter.name = Some(TextMatch::Contains(keyword.to_owned()));
    let by_name = [SortKey {
        field: ProjectSortField::Name,
        descending: false,
    }];
    let (found, _) = state.db.list_projects(&filter, &by_name, window).await?;
    let roles = roles_of(&state, &ctx, &found).await?;
    let project = found
        .into_iter()
        .map(|p| {
            let role = roles.get(&p.id).copied();
            to_json(&ctx, p, role)
        })
        .collect();

    let repo_filter = RepositoryFilter {
        scope,
        project: None,
        name: Some(TextMatch::Contains(keyword.to_owned())),
    };
    let by_name = [SortKey {
        field: RepositorySortField::Name,
        descending: false,
    }];
    let (repos, _) = state
        .db
        .list_repository_infos(&repo_filter, &by_name, window)
        .await?;
    // Each repository's project, looked up once per distinct project.
    let mut owners: HashMap<i64, (String, bool)> = HashMap::new();
    let mut repository = Vec::with_capacity(repos.len());
    for r in repos {
        if !owners.contains_key(&r.project_id)
            && let Some(p) = state.db.project_by_id(r.project_id).await?
        {
            owners.insert(p.id, (p.name.clone(), p.is_public()));
        }
        let Some((project_name, project_public)) = owners.get(&r.project_id).cloned() else {
            // Its project was deleted meanwhile: the repository is going too.
            continue;
        };
        repository.push(SearchRepository {
            project_id: r.project_id,
            project_name,
            project_public,
            repository_name: r.name,
            pull_count: r.pull_count,
            artifact_count: r.artifact_count,
        });
    }
    Ok(Json(Search {
        project,
        repository,
    }))
}
