//! Repositories: listing (everywhere the caller may look, or in one project), get,
//! description update, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use projects::{RepositoryFilter, RepositoryInfo, RepositorySortField, Window};
use rbac::{Action, Resource};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{PageParams, paged};
use crate::query::Q;
use crate::routes::lookup::{
    full_repository_name, only_keys, project_by_name, text_term, visible_scope,
};
use crate::sort::parse_sort;
use crate::state::ApiState;
use crate::time::rfc3339;

/// A repository as Harbor shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Repository {
    pub id: i64,
    pub project_id: i64,
    /// Full name, `<project>/<path>`.
    pub name: String,
    pub description: String,
    pub artifact_count: u64,
    pub pull_count: u64,
    pub creation_time: String,
    pub update_time: String,
}

impl From<RepositoryInfo> for Repository {
    fn from(r: RepositoryInfo) -> Self {
        Self {
            id: r.id,
            project_id: r.project_id,
            name: r.name,
            description: r.description,
            artifact_count: r.artifact_count,
            pull_count: r.pull_count,
            creation_time: rfc3339(r.created_at),
            update_time: rfc3339(r.updated_at),
        }
    }
}

/// Body of `PUT .../repositories/{r}`: Harbor's `Repository`, of which only
/// `description` can change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RepositoryUpdate {
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRepositoriesParams {
    /// Harbor's query: `name=v` or `name=~v` on the full name.
    pub q: Option<String>,
    /// `name`, `id`, `creation_time`, `update_time`, `pull_count`; `-` for descending.
    pub sort: Option<String>,
    pub page: Option<u64>,
    pub page_size: Option<u64>,
}

const REPOSITORY_SORT: &[(&str, RepositorySortField)] = &[
    ("name", RepositorySortField::Name),
    ("id", RepositorySortField::Id),
    ("creation_time", RepositorySortField::CreationTime),
    ("update_time", RepositorySortField::UpdateTime),
    ("pull_count", RepositorySortField::PullCount),
];

async fn list(
    state: &ApiState,
    ctx: &Ctx,
    project: Option<String>,
    params: ListRepositoriesParams,
    path: &str,
) -> ApiResult<Response> {
    let page = PageParams {
        page: params.page,
        page_size: params.page_size,
    }
    .validate()?;
    let q = Q::parse(params.q.as_deref())?;
    only_keys(&q, &["name"])?;
    let filter = RepositoryFilter {
        scope: visible_scope(ctx),
        project,
        name: text_term(&q, "name")?,
    };
    let sort = parse_sort(params.sort.as_deref(), REPOSITORY_SORT)?;
    let (found, total) = state
        .db
        .list_repository_infos(
            &filter,
            &sort,
            Window {
                offset: page.offset(),
                limit: page.size,
            },
        )
        .await?;
    let items: Vec<Repository> = found.into_iter().map(Into::into).collect();
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if let Some(q) = params.q.as_deref() {
        extra.push(("q", q));
    }
    if let Some(sort) = params.sort.as_deref() {
        extra.push(("sort", sort));
    }
    Ok(paged(items, total, page, path, &extra))
}

/// Repositories in every project the caller may see (all of them for system admins).
#[utoipa::path(get, path = "/api/v2.0/repositories", tag = "repository",
    operation_id = "listAllRepositories", params(ListRepositoriesParams),
    responses((status = 200, body = [Repository], headers(("X-Total-Count" = u64), ("Link" = String))),
        (status = 400, description = "Bad request")))]
pub async fn list_all_repositories(
    State(state): State<ApiState>,
    ctx: Ctx,
    params: ApiQuery<ListRepositoriesParams>,
) -> ApiResult<Response> {
    let ApiQuery(params) = params;
    list(&state, &ctx, None, params, "/api/v2.0/repositories").await
}

/// Repositories of one project.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name}/repositories", tag = "repository",
    operation_id = "listRepositories",
    params(("project_name" = String, Path, description = "Project name"), ListRepositoriesParams),
    responses((status = 200, body = [Repository], headers(("X-Total-Count" = u64), ("Link" = String))),
        (status = 400, description = "Bad request"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project")))]
pub async fn list_repositories(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<String>,
    params: ApiQuery<ListRepositoriesParams>,
) -> ApiResult<Response> {
    let ApiPath(project_name) = path;
    let ApiQuery(params) = params;
    let project = project_by_name(&state, &project_name).await?;
    ctx.require(
        &state,
        &project.access(),
        Resource::Repository,
        Action::List,
    )
    .await?;
    let path = format!("/api/v2.0/projects/{}/repositories", project.name);
    list(&state, &ctx, Some(project.name), params, &path).await
}

fn repository_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("repository {name} not found"))
}

/// The project and full repository name a repository path names, with the caller
/// checked for `action` on repositories of that project.
async fn authorized_repository(
    state: &ApiState,
    ctx: &Ctx,
    project_name: &str,
    repository: &str,
    action: Action,
) -> ApiResult<(projects::Project, String)> {
    let project = project_by_name(state, project_name).await?;
    ctx.require(state, &project.access(), Resource::Repository, action)
        .await?;
    let name = full_repository_name(&project.name, repository);
    Ok((project, name))
}

/// One repository. `repository_name` is the path inside the project, its slashes
/// encoded (`a%2Fb`, or `a%252Fb` as Harbor clients send it).
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}",
    tag = "repository", operation_id = "getRepository",
    params(("project_name" = String, Path, description = "Project name"),
        ("repository_name" = String, Path, description = "Repository path inside the project, slashes encoded")),
    responses((status = 200, body = Repository), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such repository")))]
pub async fn get_repository(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<(String, String)>,
) -> ApiResult<Json<Repository>> {
    let ApiPath((project_name, repository)) = path;
    let (_, name) =
        authorized_repository(&state, &ctx, &project_name, &repository, Action::Read).await?;
    let found = state
        .db
        .repository_info(&name)
        .await?
        .ok_or_else(|| repository_not_found(&name))?;
    Ok(Json(found.into()))
}

/// Set a repository's description.
#[utoipa::path(put, path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}",
    tag = "repository", operation_id = "updateRepository", request_body = RepositoryUpdate,
    params(("project_name" = String, Path, description = "Project name"),
        ("repository_name" = String, Path, description = "Repository path inside the project, slashes encoded")),
    responses((status = 200, description = "Updated"), (status = 400, description = "Bad body"),
        (status = 401, description = "Not signed in"), (status = 403, description = "Not allowed"),
        (status = 404, description = "No such repository")))]
pub async fn update_repository(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<(String, String)>,
    body: ApiJson<RepositoryUpdate>,
) -> ApiResult<StatusCode> {
    let ApiPath((project_name, repository)) = path;
    let (project, name) =
        authorized_repository(&state, &ctx, &project_name, &repository, Action::Update).await?;
    let ApiJson(update) = body;
    if !state
        .db
        .set_repository_description(&name, &update.description)
        .await?
    {
        return Err(repository_not_found(&name));
    }
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "update",
        "repository",
        &name,
    )
    .await;
    Ok(StatusCode::OK)
}

/// Delete a repository with all its artifacts and tags. Blobs are reclaimed by garbage
/// collection.
#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}",
    tag = "repository", operation_id = "deleteRepository",
    params(("project_name" = String, Path, description = "Project name"),
        ("repository_name" = String, Path, description = "Repository path inside the project, slashes encoded")),
    responses((status = 200, description = "Deleted"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such repository")))]
pub async fn delete_repository(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let ApiPath((project_name, repository)) = path;
    let (project, name) =
        authorized_repository(&state, &ctx, &project_name, &repository, Action::Delete).await?;
    let uploads = state
        .db
        .delete_repository(&name)
        .await?
        .ok_or_else(|| repository_not_found(&name))?;
    // The sessions are gone from the database, so nothing else would ever find their
    // staged bytes: remove them now, best effort.
    for id in uploads {
        if let Err(err) = state.registry.blobs.delete_upload(&id).await {
            tracing::warn!(upload = %id, error = %err, "could not remove staged upload parts");
        }
    }
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "delete",
        "repository",
        &name,
    )
    .await;
    Ok(StatusCode::OK)
}
