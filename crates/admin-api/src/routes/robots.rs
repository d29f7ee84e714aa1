//! `/robots`: robot accounts for CI (Harbor's v2 robot API). Secrets are generated
//! here, shown once (on creation and on refresh) and stored only as a keyed hash.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::LOCATION};
use axum::response::{IntoResponse, Response};
use projects::{
    CreateRobotOutcome, NewRobot, RobotFilter, RobotRecord, RobotSortField, RobotUpdate, Window,
};
use rbac::{AccessDirectory as _, Action, RobotLevel};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::audit;
use crate::auth::{Caller, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::narrowing::within;
use crate::pagination::{PageParams, paged};
use crate::query::Q;
use crate::robot_model::{
    Owner, Robot, RobotCreate, RobotCreated, RobotSec, authorize, check_permissions, expiry,
    full_name, level_name, parse_level, project_namespace, resolve_duration,
};
use crate::routes::lookup::{only_keys, text_term};
use crate::routes::users::link_query;
use crate::rules::{check_password, check_robot_name};
use crate::sort::parse_sort;
use crate::state::ApiState;
use crate::time::rfc3339;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RobotListParams {
    /// `Level=project,ProjectID=<id>` for a project's robots; `Level=system` (the
    /// default) for system robots; `name=~<part>` to filter by name.
    pub q: Option<String>,
    /// Comma-separated fields (`id`, `name`, `creation_time`, `update_time`,
    /// `expires_at`), `-` for descending.
    pub sort: Option<String>,
}

const SORT_FIELDS: &[(&str, RobotSortField)] = &[
    ("id", RobotSortField::Id),
    ("name", RobotSortField::Name),
    ("creation_time", RobotSortField::CreationTime),
    ("update_time", RobotSortField::UpdateTime),
    ("expires_at", RobotSortField::ExpiresAt),
];

/// Whose robot `robot` is.
async fn owner_of(state: &ApiState, robot: &RobotRecord) -> ApiResult<Owner> {
    match (robot.level, robot.project_id) {
        (RobotLevel::Project, Some(id)) => match state.db.project_by_id(id).await? {
            Some(project) => Ok(Owner::Project(project.access())),
            None => Err(ApiError::not_found(format!("robot {} not found", robot.id))),
        },
        _ => Ok(Owner::System),
    }
}

async fn load_robot(state: &ApiState, robot_id: i64) -> ApiResult<RobotRecord> {
    state
        .db
        .robot_by_id(robot_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("robot {robot_id} not found")))
}

/// Loads a robot the caller may do `action` on (401/403 otherwise, as Harbor answers).
async fn load_authorized(
    state: &ApiState,
    ctx: &Ctx,
    robot_id: i64,
    action: Action,
) -> ApiResult<(RobotRecord, Owner)> {
    ctx.require_login()?;
    let robot = load_robot(state, robot_id).await?;
    let owner = owner_of(state, &robot).await?;
    authorize(state, ctx, &owner, action).await?;
    Ok((robot, owner))
}

/// Every project a permission list names must exist.
async fn check_namespaces_exist(
    state: &ApiState,
    permissions: &[rbac::RobotPermission],
) -> ApiResult<()> {
    for p in permissions.iter().filter(|p| {
        p.kind == crate::catalogue::KIND_PROJECT && p.namespace != crate::catalogue::WILDCARD
    }) {
        if state
            .db
            .project(&p.namespace)
            .await
            .map_err(ApiError::internal)?
            .is_none()
        {
            return Err(ApiError::not_found(format!(
                "project {} not found",
                p.namespace
            )));
        }
    }
    Ok(())
}

/// A robot acting as creator or editor may grant nothing it does not hold, for no
/// longer than it lives itself.
fn check_creator_bounds(
    ctx: &Ctx,
    permissions: &[rbac::RobotPermission],
    expires_at: i64,
) -> ApiResult<()> {
    let Caller::Robot(creator) = &ctx.caller else {
        return Ok(());
    };
    if !within(creator, permissions) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!(
                "permission scope is invalid: it must be equal to or narrower than the permissions of {}",
                creator.name
            ),
        ));
    }
    let outlives = creator.expires_at != rbac::RobotAccount::NEVER_EXPIRES
        && (expires_at == rbac::RobotAccount::NEVER_EXPIRES || expires_at > creator.expires_at);
    if outlives {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!("the robot must not outlive {}", creator.name),
        ));
    }
    Ok(())
}

/// Where the request's permissions belong (project robots: the one project they name).
async fn resolve_owner(
    state: &ApiState,
    level: RobotLevel,
    permissions: &[crate::robot_model::RobotPermission],
) -> ApiResult<Owner> {
    match level {
        RobotLevel::Project => {
            let name = project_namespace(permissions)?;
            let project = state
                .db
                .project(name)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::not_found(format!("project {name} not found")))?;
            Ok(Owner::Project(project))
        }
        RobotLevel::System => Ok(Owner::System),
    }
}

fn new_secret(chosen: Option<&str>) -> ApiResult<String> {
    match chosen.filter(|s| !s.is_empty()) {
        Some(secret) => {
            check_password(secret).map_err(|_| {
                ApiError::bad_request(
                    "the secret must be 8 to 128 characters long with at least one uppercase \
                     letter, one lowercase letter and one digit",
                )
            })?;
            Ok(secret.to_owned())
        }
        None => Ok(token_auth::generate_robot_secret()),
    }
}

/// List robots: a project's (`q=Level=project,ProjectID=<id>`) or the system's.
#[utoipa::path(get, path = "/api/v2.0/robots", tag = "robot", operation_id = "ListRobot",
    params(PageParams, RobotListParams),
    responses(
        (status = 200, body = [Robot], headers(("X-Total-Count" = i64), ("Link" = String))),
        (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn list_robots(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<RobotListParams>,
) -> ApiResult<Response> {
    ctx.require_login()?;
    let page = page.validate()?;
    let q = Q::parse(params.q.as_deref())?;
    only_keys(&q, &["Level", "ProjectID", "name"])?;
    let level = match text_term(&q, "Level")? {
        None => RobotLevel::System,
        Some(projects::TextMatch::Exact(l)) => parse_level(&l)?,
        Some(_) => return Err(ApiError::bad_request("Level takes an exact value")),
    };
    let owner = match level {
        RobotLevel::Project => {
            let id = match text_term(&q, "ProjectID")? {
                Some(projects::TextMatch::Exact(id)) => id.parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                ApiError::bad_request("project robots are listed with ProjectID=<id>")
            })?;
            let project = state
                .db
                .project_by_id(id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("project {id} not found")))?;
            Owner::Project(project.access())
        }
        RobotLevel::System => Owner::System,
    };
    authorize(&state, &ctx, &owner, Action::List).await?;
    let filter = RobotFilter {
        level: Some(level),
        project_id: owner.project_id(),
        name: text_term(&q, "name")?,
    };
    let sort = parse_sort(params.sort.as_deref(), SORT_FIELDS)?;
    let window = Window {
        offset: page.offset(),
        limit: page.size,
    };
    let (robots, total) = state.db.list_robots(&filter, &sort, window).await?;
    let items: Vec<Robot> = robots.into_iter().map(Robot::from).collect();
    let extra = link_query(&[("q", &params.q), ("sort", &params.sort)]);
    Ok(paged(items, total, page, "/api/v2.0/robots", &extra))
}

/// Create a robot account. The answer carries the secret, which is never shown again.
#[utoipa::path(post, path = "/api/v2.0/robots", tag = "robot", operation_id = "CreateRobot",
    request_body = RobotCreate,
    responses((status = 201, body = RobotCreated, headers(("Location" = String))),
        (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn create_robot(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiJson(req): ApiJson<RobotCreate>,
) -> ApiResult<Response> {
    ctx.require_login()?;
    check_robot_name(&req.name).map_err(ApiError::bad_request)?;
    let level = parse_level(&req.level)?;
    let duration = resolve_duration(req.duration)?;
    check_permissions(level, &req.permissions)?;
    let owner = resolve_owner(&state, level, &req.permissions).await?;
    authorize(&state, &ctx, &owner, Action::Create).await?;
    let permissions: Vec<rbac::RobotPermission> =
        req.permissions.iter().cloned().map(Into::into).collect();
    check_namespaces_exist(&state, &permissions).await?;
    let now = chrono::Utc::now().timestamp();
    let expires_at = expiry(now, duration)?;
    check_creator_bounds(&ctx, &permissions, expires_at)?;

    let project_name = match &owner {
        Owner::Project(p) => Some(p.name.as_str()),
        Owner::System => None,
    };
    let name = full_name(level, project_name, &req.name);
    let secret = new_secret(req.secret.as_deref())?;
    let (creator_type, creator_ref) = match &ctx.caller {
        Caller::Robot(r) => ("robot", r.id),
        Caller::User(u) => ("local", u.id),
        Caller::Anonymous => return Err(ApiError::unauthorized()),
    };
    let outcome = state
        .db
        .create_robot(&NewRobot {
            name: name.clone(),
            description: req.description,
            level,
            project_id: owner.project_id(),
            duration,
            expires_at,
            disabled: req.disable,
            creator_type: creator_type.to_owned(),
            creator_ref,
            permissions,
            secret_hash: token_auth::hash_robot_secret(&state.robot_secret_key, &secret),
        })
        .await?;
    let robot = match outcome {
        CreateRobotOutcome::Created(robot) => robot,
        CreateRobotOutcome::NameTaken => {
            return Err(ApiError::conflict(format!("robot {name} already exists")));
        }
    };
    audit::record(
        &state,
        &ctx,
        owner.project_id(),
        "create",
        "robot",
        &robot.name,
    )
    .await;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v2.0/robots/{}", robot.id)) {
        headers.insert(LOCATION, v);
    }
    let body = RobotCreated {
        id: robot.id,
        name: robot.name,
        secret,
        creation_time: rfc3339(robot.created_at),
        expires_at: robot.expires_at,
    };
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

/// A robot account (without its secret).
#[utoipa::path(get, path = "/api/v2.0/robots/{robot_id}", tag = "robot",
    operation_id = "GetRobotByID", params(("robot_id" = i64, Path)),
    responses((status = 200, body = Robot), (status = 401), (status = 403), (status = 404)))]
pub async fn get_robot(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(robot_id): ApiPath<i64>,
) -> ApiResult<Json<Robot>> {
    let (robot, _) = load_authorized(&state, &ctx, robot_id, Action::Read).await?;
    Ok(Json(robot.into()))
}

/// Update description, duration, permissions or the disabled flag (`disable: true`).
/// Name and level cannot change.
#[utoipa::path(put, path = "/api/v2.0/robots/{robot_id}", tag = "robot",
    operation_id = "UpdateRobot", params(("robot_id" = i64, Path)), request_body = Robot,
    responses((status = 200), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_robot(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(robot_id): ApiPath<i64>,
    ApiJson(req): ApiJson<Robot>,
) -> ApiResult<StatusCode> {
    let (robot, owner) = load_authorized(&state, &ctx, robot_id, Action::Update).await?;
    // Clients send back what GET gave them; the short name is accepted too.
    let short = match &owner {
        Owner::Project(p) => robot.name.strip_prefix(&format!("robot${}+", p.name)),
        Owner::System => robot.name.strip_prefix(crate::robot_model::ROBOT_PREFIX),
    };
    if req.name != robot.name && Some(req.name.as_str()) != short {
        return Err(ApiError::bad_request("the name of a robot cannot change"));
    }
    if req.level != level_name(robot.level) {
        return Err(ApiError::bad_request("the level of a robot cannot change"));
    }
    check_permissions(robot.level, &req.permissions)?;
    if let Owner::Project(project) = &owner
        && project_namespace(&req.permissions)? != project.name
    {
        return Err(ApiError::bad_request(
            "a project robot stays in its project",
        ));
    }
    let permissions: Vec<rbac::RobotPermission> =
        req.permissions.iter().cloned().map(Into::into).collect();
    check_namespaces_exist(&state, &permissions).await?;
    let duration = match req.duration {
        None => robot.duration,
        given => resolve_duration(given)?,
    };
    // As in Harbor, the lifetime counts from creation, not from the update.
    let expires_at = expiry(robot.created_at, duration)?;
    check_creator_bounds(&ctx, &permissions, expires_at)?;
    let update = RobotUpdate {
        description: req.description,
        duration,
        expires_at,
        disabled: req.disable,
        permissions,
    };
    if !state.db.update_robot(robot_id, &update).await? {
        return Err(ApiError::not_found(format!("robot {robot_id} not found")));
    }
    audit::record(
        &state,
        &ctx,
        owner.project_id(),
        "update",
        "robot",
        &robot.name,
    )
    .await;
    Ok(StatusCode::OK)
}

/// Refresh the secret: a new generated one, or the one given if it meets Harbor's rule.
/// The answer is the only place the new secret is shown. A robot may refresh its own.
#[utoipa::path(patch, path = "/api/v2.0/robots/{robot_id}", tag = "robot",
    operation_id = "RefreshSec", params(("robot_id" = i64, Path)), request_body = RobotSec,
    responses((status = 200, body = RobotSec), (status = 400), (status = 401), (status = 403),
        (status = 404)))]
pub async fn refresh_secret(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(robot_id): ApiPath<i64>,
    ApiJson(req): ApiJson<RobotSec>,
) -> ApiResult<Json<RobotSec>> {
    let itself = matches!(&ctx.caller, Caller::Robot(r) if r.id == robot_id);
    let (robot, owner) = if itself {
        let robot = load_robot(&state, robot_id).await?;
        let owner = owner_of(&state, &robot).await?;
        (robot, owner)
    } else {
        load_authorized(&state, &ctx, robot_id, Action::Update).await?
    };
    let secret = new_secret(Some(req.secret.as_str()))?;
    let hash = token_auth::hash_robot_secret(&state.robot_secret_key, &secret);
    if !state.db.set_robot_secret_hash(robot_id, &hash).await? {
        return Err(ApiError::not_found(format!("robot {robot_id} not found")));
    }
    audit::record(
        &state,
        &ctx,
        owner.project_id(),
        "update",
        "robot",
        &robot.name,
    )
    .await;
    Ok(Json(RobotSec { secret }))
}

/// Delete a robot account.
#[utoipa::path(delete, path = "/api/v2.0/robots/{robot_id}", tag = "robot",
    operation_id = "DeleteRobot", params(("robot_id" = i64, Path)),
    responses((status = 200), (status = 401), (status = 403), (status = 404)))]
pub async fn delete_robot(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(robot_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let (robot, owner) = load_authorized(&state, &ctx, robot_id, Action::Delete).await?;
    if !state.db.delete_robot(robot_id).await? {
        return Err(ApiError::not_found(format!("robot {robot_id} not found")));
    }
    audit::record(
        &state,
        &ctx,
        owner.project_id(),
        "delete",
        "robot",
        &robot.name,
    )
    .await;
    Ok(StatusCode::OK)
}
