//! Project members: users holding one of Harbor's roles in a project.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use projects::{AddMemberOutcome, Member, MemberUser, TextMatch, Window};
use rbac::{Action, ProjectRole, Resource};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{PageParams, paged};
use crate::routes::lookup::project_by_name_or_id;
use crate::state::ApiState;

/// A membership as Harbor shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectMemberEntity {
    pub id: i64,
    pub project_id: i64,
    pub entity_name: String,
    pub role_name: String,
    pub role_id: i64,
    pub entity_id: i64,
    /// `u` for a user (Berth has no groups).
    pub entity_type: String,
}

impl From<Member> for ProjectMemberEntity {
    fn from(m: Member) -> Self {
        Self {
            role_name: ProjectRole::from_id(m.role)
                .map(|r| r.name().to_owned())
                .unwrap_or_default(),
            id: m.id,
            project_id: m.project_id,
            entity_name: m.entity_name,
            role_id: m.role,
            entity_id: m.entity_id,
            entity_type: m.entity_type,
        }
    }
}

/// The user of a new membership: by `user_id` or by `username`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserEntity {
    pub user_id: Option<i64>,
    pub username: Option<String>,
}

/// Body of `POST /projects/{p}/members`. `member_group` is refused: Berth has no groups.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProjectMember {
    /// 1 project admin, 2 developer, 3 guest, 4 maintainer, 5 limited guest.
    pub role_id: i64,
    pub member_user: Option<UserEntity>,
    #[schema(value_type = Option<Object>)]
    pub member_group: Option<serde_json::Value>,
}

/// Body of `PUT /projects/{p}/members/{mid}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    pub role_id: i64,
}

fn valid_role(role_id: i64) -> ApiResult<i64> {
    ProjectRole::from_id(role_id)
        .map(ProjectRole::id)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid role_id {role_id}: 1 projectAdmin, 2 developer, 3 guest, 4 maintainer, \
                 5 limitedGuest"
            ))
        })
}

fn member_not_found(mid: i64) -> ApiError {
    ApiError::not_found(format!("project member {mid} not found"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMembersParams {
    pub page: Option<u64>,
    pub page_size: Option<u64>,
    /// Members whose username contains this.
    pub entityname: Option<String>,
    /// Alias of `entityname`.
    pub entity_name: Option<String>,
}

/// List a project's members.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/members", tag = "member",
    operation_id = "listProjectMembers",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name"),
        ListMembersParams),
    responses((status = 200, body = [ProjectMemberEntity], headers(("X-Total-Count" = u64), ("Link" = String))),
        (status = 401, description = "Not signed in"), (status = 403, description = "Not allowed"),
        (status = 404, description = "No such project")))]
pub async fn list_members(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<String>,
    params: ApiQuery<ListMembersParams>,
) -> ApiResult<Response> {
    let ApiPath(name_or_id) = path;
    let ApiQuery(params) = params;
    let page = PageParams {
        page: params.page,
        page_size: params.page_size,
    }
    .validate()?;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Member, Action::List)
        .await?;
    let name = params
        .entityname
        .as_ref()
        .or(params.entity_name.as_ref())
        .filter(|n| !n.is_empty());
    let filter = name.map(|n| TextMatch::Contains(n.clone()));
    let (members, total) = state
        .db
        .list_members(
            project.id,
            filter.as_ref(),
            Window {
                offset: page.offset(),
                limit: page.size,
            },
        )
        .await?;
    let items: Vec<ProjectMemberEntity> = members.into_iter().map(Into::into).collect();
    let path = format!("/api/v2.0/projects/{name_or_id}/members");
    let extra: Vec<(&str, &str)> = name
        .map(|n| ("entityname", n.as_str()))
        .into_iter()
        .collect();
    Ok(paged(items, total, page, &path, &extra))
}

/// Add a user to a project with a role.
#[utoipa::path(post, path = "/api/v2.0/projects/{project_name_or_id}/members", tag = "member",
    operation_id = "createProjectMember", request_body = ProjectMember,
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 201, description = "Created", headers(("Location" = String))),
        (status = 400, description = "Invalid role or member"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project or user"),
        (status = 409, description = "Already a member")))]
pub async fn create_member(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<String>,
    body: ApiJson<ProjectMember>,
) -> ApiResult<Response> {
    let ApiPath(name_or_id) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Member, Action::Create)
        .await?;
    let ApiJson(req) = body;
    let role = valid_role(req.role_id)?;
    let user = match req.member_user {
        Some(UserEntity {
            user_id: Some(id), ..
        }) if id > 0 => MemberUser::Id(id),
        Some(UserEntity {
            username: Some(name),
            ..
        }) if !name.is_empty() => MemberUser::Name(name),
        _ if req.member_group.is_some() => {
            return Err(ApiError::bad_request("group members are not supported"));
        }
        _ => {
            return Err(ApiError::bad_request(
                "member_user with user_id or username is required",
            ));
        }
    };
    let id = match state.db.add_member(project.id, &user, role).await? {
        AddMemberOutcome::Added(id) => id,
        AddMemberOutcome::UserNotFound => {
            let who = match &user {
                MemberUser::Id(id) => format!("with id {id}"),
                MemberUser::Name(name) => name.clone(),
            };
            return Err(ApiError::not_found(format!("user {who} not found")));
        }
        AddMemberOutcome::AlreadyMember => {
            return Err(ApiError::conflict(
                "the user is already a member of the project",
            ));
        }
    };
    let who = match state.db.member(project.id, id).await? {
        Some(m) => m.entity_name,
        None => id.to_string(),
    };
    let resource = format!("{}:{who}", project.name);
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "create",
        "member",
        &resource,
    )
    .await;
    let mut response = StatusCode::CREATED.into_response();
    let location = format!("/api/v2.0/projects/{name_or_id}/members/{id}");
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// One membership.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/members/{mid}", tag = "member",
    operation_id = "getProjectMember",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("mid" = i64, Path, description = "Member id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, body = ProjectMemberEntity), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project or member")))]
pub async fn get_member(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<(String, i64)>,
) -> ApiResult<Json<ProjectMemberEntity>> {
    let ApiPath((name_or_id, mid)) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Member, Action::Read)
        .await?;
    let member = state
        .db
        .member(project.id, mid)
        .await?
        .ok_or_else(|| member_not_found(mid))?;
    Ok(Json(member.into()))
}

/// Change a member's role.
#[utoipa::path(put, path = "/api/v2.0/projects/{project_name_or_id}/members/{mid}", tag = "member",
    operation_id = "updateProjectMember", request_body = RoleRequest,
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("mid" = i64, Path, description = "Member id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, description = "Updated"), (status = 400, description = "Invalid role"),
        (status = 401, description = "Not signed in"), (status = 403, description = "Not allowed"),
        (status = 404, description = "No such project or member")))]
pub async fn update_member(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<(String, i64)>,
    body: ApiJson<RoleRequest>,
) -> ApiResult<StatusCode> {
    let ApiPath((name_or_id, mid)) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Member, Action::Update)
        .await?;
    let ApiJson(req) = body;
    let role = valid_role(req.role_id)?;
    let member = state
        .db
        .member(project.id, mid)
        .await?
        .ok_or_else(|| member_not_found(mid))?;
    if !state.db.update_member_role(project.id, mid, role).await? {
        return Err(member_not_found(mid));
    }
    let resource = format!("{}:{}", project.name, member.entity_name);
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "update",
        "member",
        &resource,
    )
    .await;
    Ok(StatusCode::OK)
}

/// Remove a member from a project.
#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name_or_id}/members/{mid}", tag = "member",
    operation_id = "deleteProjectMember",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("mid" = i64, Path, description = "Member id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, description = "Deleted"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project or member")))]
pub async fn delete_member(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<(String, i64)>,
) -> ApiResult<StatusCode> {
    let ApiPath((name_or_id, mid)) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Member, Action::Delete)
        .await?;
    let member = state
        .db
        .member(project.id, mid)
        .await?
        .ok_or_else(|| member_not_found(mid))?;
    if !state.db.delete_member(project.id, mid).await? {
        return Err(member_not_found(mid));
    }
    let resource = format!("{}:{}", project.name, member.entity_name);
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "delete",
        "member",
        &resource,
    )
    .await;
    Ok(StatusCode::OK)
}
