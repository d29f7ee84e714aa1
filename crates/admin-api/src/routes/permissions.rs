//! `GET /permissions` (the catalogue robot accounts are built from) and
//! `GET /users/current/permissions` (what the caller may do in a scope).

use axum::Json;
use axum::extract::State;
use rbac::{AccessDirectory as _, ProjectAccess};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, Ctx};
use crate::catalogue::{SYSTEM_PERMISSIONS, project_permissions, robot_has_system_permission};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::ApiState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Permission {
    pub resource: String,
    pub action: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Permissions {
    /// System-level permissions (system administrators only).
    pub system: Vec<Permission>,
    /// Project-level permissions.
    pub project: Vec<Permission>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PermissionScope {
    /// `/system`, or `/project/{project_id}` (a project name works too).
    pub scope: Option<String>,
    /// Resources relative to the scope (`repository` rather than `/project/1/repository`).
    pub relative: Option<bool>,
}

fn permission(resource: &str, action: &str) -> Permission {
    Permission {
        resource: resource.to_owned(),
        action: action.to_owned(),
    }
}

fn project_catalogue() -> Vec<Permission> {
    project_permissions()
        .into_iter()
        .map(|(r, a)| permission(r.as_str(), a.as_str()))
        .collect()
}

/// The resources and actions robot permissions can name: project level for system
/// administrators and project admins, system level for system administrators only.
#[utoipa::path(get, path = "/api/v2.0/permissions", tag = "permissions",
    operation_id = "getPermissions",
    responses((status = 200, body = Permissions), (status = 401), (status = 403)))]
pub async fn get_permissions(
    State(state): State<ApiState>,
    ctx: Ctx,
) -> ApiResult<Json<Permissions>> {
    ctx.require_login()?;
    let system = if ctx.is_sysadmin() {
        SYSTEM_PERMISSIONS
            .iter()
            .map(|(r, a)| permission(r, a))
            .collect()
    } else {
        let is_project_admin = match ctx.user() {
            Some(me) => state.db.is_project_admin_anywhere(me.id).await?,
            None => false,
        };
        if !is_project_admin {
            return Err(ApiError::forbidden());
        }
        Vec::new()
    };
    Ok(Json(Permissions {
        system,
        project: project_catalogue(),
    }))
}

/// The project a `/project/...` scope names, by id or name.
async fn scoped_project(state: &ApiState, key: &str) -> ApiResult<Option<ProjectAccess>> {
    if let Ok(id) = key.parse::<i64>() {
        return Ok(state.db.project_by_id(id).await?.map(|p| p.access()));
    }
    state.db.project(key).await.map_err(ApiError::internal)
}

/// What the caller may do within `scope`: every catalogue entry the permission function
/// grants them there. An unknown or missing scope gives an empty list, as in Harbor.
#[utoipa::path(get, path = "/api/v2.0/users/current/permissions", tag = "user",
    operation_id = "getCurrentUserPermissions", params(PermissionScope),
    responses((status = 200, body = [Permission]), (status = 401)))]
pub async fn current_permissions(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiQuery(params): ApiQuery<PermissionScope>,
) -> ApiResult<Json<Vec<Permission>>> {
    ctx.require_login()?;
    let scope = params.scope.unwrap_or_default();
    let scope = scope.trim_end_matches('/');
    let relative = params.relative.unwrap_or(false);
    let name = |resource: &str| {
        if relative {
            resource.to_owned()
        } else {
            format!("{scope}/{resource}")
        }
    };
    let mut out = Vec::new();
    if scope == "/system" {
        for (resource, action) in SYSTEM_PERMISSIONS {
            let allowed = match &ctx.caller {
                Caller::User(u) => u.sysadmin,
                Caller::Robot(r) => robot_has_system_permission(r, resource, action),
                Caller::Anonymous => false,
            };
            if allowed {
                out.push(permission(&name(resource), action));
            }
        }
    } else if let Some(key) = scope.strip_prefix("/project/").filter(|k| !k.contains('/'))
        && let Some(project) = scoped_project(&state, key).await?
    {
        let principal = ctx.principal(&state, &project).await?;
        for (resource, action) in project_permissions() {
            if rbac::permits(&principal, &project, resource, action) {
                out.push(permission(&name(resource.as_str()), action.as_str()));
            }
        }
    }
    Ok(Json(out))
}
