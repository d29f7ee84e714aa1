//! Projects: list, create, check by name, get, update, delete, deletable, summary.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use projects::{
    CreateProjectOutcome, DeleteProjectOutcome, NewProject, PUBLIC_KEY, Project as StoredProject,
    ProjectFilter, ProjectSortField, TextMatch, Window,
};
use rbac::{Action, Principal, Resource};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::auth::{Caller, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{PageParams, paged};
use crate::query::Q;
use crate::routes::lookup::{only_keys, project_by_name_or_id, text_term, visible_scope};
use crate::routes::metadatas::{normalize_metadata, validate_project_name};
use crate::sort::parse_sort;
use crate::state::ApiState;
use crate::time::rfc3339;

/// Harbor's project metadata. Values are strings, booleans as `"true"`/`"false"`.
/// Berth stores them all and acts on `public`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ProjectMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_content_trust: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_content_trust_cosign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_vul: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_sbom_generation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_sys_cve_allowlist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_id: Option<String>,
}

impl ProjectMetadata {
    /// The entries given, as stored key/value pairs (unvalidated).
    fn entries(&self) -> BTreeMap<String, String> {
        let fields = [
            ("public", &self.public),
            ("enable_content_trust", &self.enable_content_trust),
            (
                "enable_content_trust_cosign",
                &self.enable_content_trust_cosign,
            ),
            ("prevent_vul", &self.prevent_vul),
            ("severity", &self.severity),
            ("auto_scan", &self.auto_scan),
            ("auto_sbom_generation", &self.auto_sbom_generation),
            ("reuse_sys_cve_allowlist", &self.reuse_sys_cve_allowlist),
            ("retention_id", &self.retention_id),
        ];
        fields
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.to_owned(), v)))
            .collect()
    }
}

/// Body of `POST /projects` and `PUT /projects/{id}`. `storage_limit`, `registry_id`
/// and `cve_allowlist` are accepted and ignored: Berth has no quotas, proxy caches or
/// scanners.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ProjectReq {
    pub project_name: Option<String>,
    /// Deprecated in Harbor; overrides `metadata.public` when given.
    pub public: Option<bool>,
    pub metadata: Option<ProjectMetadata>,
    // Read by Harbor, only documented here (see above).
    #[allow(dead_code)]
    pub storage_limit: Option<i64>,
    #[allow(dead_code)]
    pub registry_id: Option<i64>,
    #[allow(dead_code)]
    #[schema(value_type = Option<Object>)]
    pub cve_allowlist: Option<serde_json::Value>,
}

impl ProjectReq {
    /// The metadata to store, validated and normalised; `public` folded in.
    fn metadata(&self) -> ApiResult<BTreeMap<String, String>> {
        let mut entries = self
            .metadata
            .as_ref()
            .map(ProjectMetadata::entries)
            .unwrap_or_default();
        if let Some(public) = self.public {
            entries.insert(PUBLIC_KEY.to_owned(), public.to_string());
        }
        normalize_metadata(entries)
    }
}

/// Harbor's (empty) CVE allowlist of a project: Berth does not scan, so it is never
/// populated, but Harbor clients expect the object.
#[derive(Debug, Serialize, ToSchema)]
#[allow(clippy::upper_case_acronyms)]
pub struct CVEAllowlist {
    pub id: i64,
    pub project_id: i64,
    pub items: Vec<serde_json::Value>,
    pub creation_time: String,
    pub update_time: String,
}

/// A project as Harbor shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Project {
    pub project_id: i64,
    /// The creator; 0 once that user is gone.
    pub owner_id: i64,
    pub name: String,
    pub creation_time: String,
    pub update_time: String,
    pub deleted: bool,
    pub owner_name: String,
    /// Whether the caller may change the project's publicity.
    pub togglable: bool,
    /// The caller's role id in the project, if a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_user_role_id: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub current_user_role_ids: Vec<i64>,
    pub repo_count: u64,
    #[schema(value_type = ProjectMetadata)]
    pub metadata: BTreeMap<String, String>,
    pub cve_allowlist: CVEAllowlist,
}

/// Whether a project can be deleted now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectDeletable {
    pub deletable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Repository and member counts of a project (Harbor's quota and registry parts are
/// omitted: Berth has neither quotas nor proxy caches).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectSummary {
    pub repo_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_admin_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintainer_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub developer_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limited_guest_count: Option<u64>,
}

/// The caller as a principal of a project where their role id is `role_id`.
fn principal_for(ctx: &Ctx, role_id: Option<i64>) -> Principal {
    match &ctx.caller {
        Caller::Anonymous => Principal::Anonymous,
        Caller::Robot(r) => Principal::Robot(r.clone()),
        Caller::User(u) => Principal::User {
            account: u.clone(),
            role: role_id.and_then(rbac::ProjectRole::from_id),
        },
    }
}

/// The Harbor shape of `p` for `ctx`, whose role there is `role_id`.
pub(crate) fn to_json(ctx: &Ctx, p: StoredProject, role_id: Option<i64>) -> Project {
    let access = p.access();
    let principal = principal_for(ctx, role_id);
    Project {
        togglable: rbac::permits(&principal, &access, Resource::Project, Action::Update),
        current_user_role_id: role_id,
        current_user_role_ids: role_id.into_iter().collect(),
        project_id: p.id,
        owner_id: p.owner_id.unwrap_or(0),
        creation_time: rfc3339(p.created_at),
        update_time: rfc3339(p.updated_at),
        deleted: false,
        owner_name: p.owner_name.unwrap_or_default(),
        repo_count: p.repo_count,
        cve_allowlist: CVEAllowlist {
            id: 0,
            project_id: p.id,
            items: Vec::new(),
            creation_time: rfc3339(p.created_at),
            update_time: rfc3339(p.updated_at),
        },
        metadata: p.metadata,
        name: p.name,
    }
}

/// The caller's role ids in each of `projects` (users only).
pub(crate) async fn roles_of(
    state: &ApiState,
    ctx: &Ctx,
    projects: &[StoredProject],
) -> ApiResult<std::collections::HashMap<i64, i64>> {
    match ctx.user() {
        Some(u) => {
            let ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
            Ok(state.db.member_roles(u.id, &ids).await?)
        }
        None => Ok(Default::default()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListProjectsParams {
    /// Harbor's query: `name`, `owner` (`k=v`, `k=~v`), `public` (`true`/`false`).
    pub q: Option<String>,
    pub page: Option<u64>,
    pub page_size: Option<u64>,
    /// `name`, `project_id`, `creation_time`, `update_time`; `-` for descending.
    pub sort: Option<String>,
    /// Projects whose name contains this.
    pub name: Option<String>,
    pub public: Option<bool>,
    /// The owner's username.
    pub owner: Option<String>,
    /// Accepted for compatibility; details are always included.
    #[allow(dead_code)]
    pub with_detail: Option<bool>,
}

const PROJECT_SORT: &[(&str, ProjectSortField)] = &[
    ("name", ProjectSortField::Name),
    ("project_id", ProjectSortField::ProjectId),
    ("creation_time", ProjectSortField::CreationTime),
    ("update_time", ProjectSortField::UpdateTime),
];

/// List the projects the caller may see: anonymous callers the public ones, users
/// also those they are a member of, system admins all.
#[utoipa::path(get, path = "/api/v2.0/projects", tag = "project", operation_id = "listProjects",
    params(ListProjectsParams),
    responses(
        (status = 200, body = [Project], headers(("X-Total-Count" = u64), ("Link" = String))),
        (status = 400, description = "Bad request"),
        (status = 401, description = "Wrong credentials")))]
pub async fn list_projects(
    State(state): State<ApiState>,
    ctx: Ctx,
    params: ApiQuery<ListProjectsParams>,
) -> ApiResult<Response> {
    let ApiQuery(params) = params;
    let page = PageParams {
        page: params.page,
        page_size: params.page_size,
    }
    .validate()?;
    let q = Q::parse(params.q.as_deref())?;
    only_keys(&q, &["name", "owner", "public"])?;
    let mut filter = ProjectFilter::new(visible_scope(&ctx));
    filter.name = text_term(&q, "name")?;
    filter.owner = text_term(&q, "owner")?;
    if let Some((v, _)) = q.text("public") {
        filter.public = Some(parse_bool(v)?);
    }
    if let Some(name) = &params.name {
        filter.name = Some(TextMatch::Contains(name.clone()));
    }
    if let Some(owner) = &params.owner {
        filter.owner = Some(TextMatch::Exact(owner.clone()));
    }
    if params.public.is_some() {
        filter.public = params.public;
    }
    let sort = parse_sort(params.sort.as_deref(), PROJECT_SORT)?;
    let (found, total) = state
        .db
        .list_projects(
            &filter,
            &sort,
            Window {
                offset: page.offset(),
                limit: page.size,
            },
        )
        .await?;
    let roles = roles_of(&state, &ctx, &found).await?;
    let items: Vec<Project> = found
        .into_iter()
        .map(|p| {
            let role = roles.get(&p.id).copied();
            to_json(&ctx, p, role)
        })
        .collect();
    let public = params.public.map(|p| p.to_string());
    let mut extra: Vec<(&str, &str)> = Vec::new();
    for (key, value) in [
        ("q", params.q.as_deref()),
        ("sort", params.sort.as_deref()),
        ("name", params.name.as_deref()),
        ("public", public.as_deref()),
        ("owner", params.owner.as_deref()),
    ] {
        if let Some(v) = value {
            extra.push((key, v));
        }
    }
    Ok(paged(items, total, page, "/api/v2.0/projects", &extra))
}

/// Harbor's boolean strings (`true`, `1`, `T`, ...).
pub(crate) fn parse_bool(v: &str) -> ApiResult<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" => Ok(true),
        "false" | "f" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(format!("{v:?} is not a boolean"))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeadProjectParams {
    /// The project name to look for.
    pub project_name: Option<String>,
}

/// Whether a project of that name exists (200) or not (404). Signed-in callers only.
#[utoipa::path(head, path = "/api/v2.0/projects", tag = "project", operation_id = "headProject",
    params(HeadProjectParams),
    responses((status = 200, description = "Exists"), (status = 404, description = "No such project"),
        (status = 400, description = "project_name missing"), (status = 401, description = "Not signed in")))]
pub async fn head_project(
    State(state): State<ApiState>,
    ctx: Ctx,
    params: ApiQuery<HeadProjectParams>,
) -> ApiResult<StatusCode> {
    ctx.require_login()?;
    let ApiQuery(params) = params;
    let name = params
        .project_name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("project_name is required"))?;
    match state.db.project_by_name(&name).await? {
        Some(_) => Ok(StatusCode::OK),
        None => Err(ApiError::not_found(format!("project {name} not found"))),
    }
}

/// Whether `ctx` may create projects: every user (Harbor's "everyone" creation
/// restriction) and robots granted `project:create` at system level.
fn may_create_projects(ctx: &Ctx) -> bool {
    match &ctx.caller {
        Caller::Anonymous => false,
        Caller::User(_) => true,
        Caller::Robot(r) => r.permissions.iter().any(|p| {
            p.kind == "system"
                && p.access.iter().any(|a| {
                    (a.resource == "project" || a.resource == "*")
                        && (a.action == "create" || a.action == "*")
                        && a.effect
                            .as_deref()
                            .is_none_or(|e| e.is_empty() || e == "allow")
                })
        }),
    }
}

/// Create a project. The creator becomes its project admin. `X-Resource-Name-In-Location:
/// true` makes `Location` carry the name instead of the id.
#[utoipa::path(post, path = "/api/v2.0/projects", tag = "project", operation_id = "createProject",
    request_body = ProjectReq,
    responses((status = 201, description = "Created", headers(("Location" = String))),
        (status = 400, description = "Invalid name or metadata"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 409, description = "Name taken")))]
pub async fn create_project(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: ApiJson<ProjectReq>,
) -> ApiResult<Response> {
    ctx.require_login()?;
    if !may_create_projects(&ctx) {
        return Err(ApiError::forbidden());
    }
    let ApiJson(req) = body;
    let name = req.project_name.clone().unwrap_or_default();
    validate_project_name(&name)?;
    let mut metadata = req.metadata()?;
    metadata
        .entry(PUBLIC_KEY.to_owned())
        .or_insert_with(|| "false".to_owned());
    let owner_id = ctx.user().map(|u| u.id);
    let outcome = state
        .db
        .create_project(&NewProject {
            name: name.clone(),
            owner_id,
            metadata,
        })
        .await?;
    let id = match outcome {
        CreateProjectOutcome::Created(id) => id,
        CreateProjectOutcome::NameTaken => {
            return Err(ApiError::conflict(format!(
                "the project named {name} already exists"
            )));
        }
    };
    audit::record(&state, &ctx, Some(id), "create", "project", &name).await;
    let by_name = headers
        .get("x-resource-name-in-location")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let location = if by_name {
        format!("/api/v2.0/projects/{name}")
    } else {
        format!("/api/v2.0/projects/{id}")
    };
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Get a project by id, or by name (with `X-Is-Resource-Name: true`, or when the
/// parameter is not a number).
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}", tag = "project",
    operation_id = "getProject",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, body = Project), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project")))]
pub async fn get_project(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<String>,
) -> ApiResult<Json<Project>> {
    let ApiPath(name_or_id) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Project, Action::Read)
        .await?;
    let roles = roles_of(&state, &ctx, std::slice::from_ref(&project)).await?;
    let role = roles.get(&project.id).copied();
    Ok(Json(to_json(&ctx, project, role)))
}

/// Update a project's metadata (the name cannot change).
#[utoipa::path(put, path = "/api/v2.0/projects/{project_name_or_id}", tag = "project",
    operation_id = "updateProject", request_body = ProjectReq,
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, description = "Updated"), (status = 400, description = "Invalid metadata"),
        (status = 401, description = "Not signed in"), (status = 403, description = "Not allowed"),
        (status = 404, description = "No such project")))]
pub async fn update_project(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<String>,
    body: ApiJson<ProjectReq>,
) -> ApiResult<StatusCode> {
    let ApiPath(name_or_id) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Project, Action::Update)
        .await?;
    let ApiJson(req) = body;
    let metadata = req.metadata()?;
    if !state.db.set_project_metadata(project.id, &metadata).await? {
        return Err(ApiError::not_found(format!(
            "project {name_or_id} not found"
        )));
    }
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "update",
        "project",
        &project.name,
    )
    .await;
    Ok(StatusCode::OK)
}

/// Delete a project; refused (412) while it still holds repositories.
#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name_or_id}", tag = "project",
    operation_id = "deleteProject",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, description = "Deleted"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project"),
        (status = 412, description = "The project still contains repositories")))]
pub async fn delete_project(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<String>,
) -> ApiResult<StatusCode> {
    let ApiPath(name_or_id) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Project, Action::Delete)
        .await?;
    match state.db.delete_project(project.id).await? {
        DeleteProjectOutcome::Deleted => {}
        DeleteProjectOutcome::NotFound => {
            return Err(ApiError::not_found(format!(
                "project {name_or_id} not found"
            )));
        }
        DeleteProjectOutcome::HasRepositories => return Err(still_has_repositories(&project)),
    }
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "delete",
        "project",
        &project.name,
    )
    .await;
    Ok(StatusCode::OK)
}

fn still_has_repositories(project: &StoredProject) -> ApiError {
    ApiError::precondition(format!(
        "the project {} contains repositories, can not be deleted",
        project.name
    ))
}

/// Whether the project can be deleted now, and why not.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/_deletable", tag = "project",
    operation_id = "getProjectDeletable",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, body = ProjectDeletable), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project")))]
pub async fn project_deletable(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<String>,
) -> ApiResult<Json<ProjectDeletable>> {
    let ApiPath(name_or_id) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Project, Action::Delete)
        .await?;
    Ok(Json(if project.repo_count == 0 {
        ProjectDeletable {
            deletable: true,
            message: None,
        }
    } else {
        ProjectDeletable {
            deletable: false,
            message: Some(still_has_repositories(&project).message),
        }
    }))
}

/// Repository count and, for callers who may list members, member counts by role.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/summary", tag = "project",
    operation_id = "getProjectSummary",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, body = ProjectSummary), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project")))]
pub async fn project_summary(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<String>,
) -> ApiResult<Json<ProjectSummary>> {
    let ApiPath(name_or_id) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    let access = project.access();
    ctx.require(&state, &access, Resource::Project, Action::Read)
        .await?;
    let mut summary = ProjectSummary {
        repo_count: project.repo_count,
        project_admin_count: None,
        maintainer_count: None,
        developer_count: None,
        guest_count: None,
        limited_guest_count: None,
    };
    // As in Harbor, member counts only for those who may see the members.
    if ctx
        .can(&state, &access, Resource::Member, Action::List)
        .await?
    {
        let counts = state.db.member_counts_by_role(project.id).await?;
        let count = |role: rbac::ProjectRole| Some(counts.get(&role.id()).copied().unwrap_or(0));
        summary.project_admin_count = count(rbac::ProjectRole::ProjectAdmin);
        summary.maintainer_count = count(rbac::ProjectRole::Maintainer);
        summary.developer_count = count(rbac::ProjectRole::Developer);
        summary.guest_count = count(rbac::ProjectRole::Guest);
        summary.limited_guest_count = count(rbac::ProjectRole::LimitedGuest);
    }
    Ok(Json(summary))
}
