//! Robot accounts in Harbor's JSON shapes, and the rules a robot definition must meet:
//! level, duration, permission entries, and who may manage which robots.

use rbac::{Action, ProjectAccess, Resource, RobotLevel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Ctx};
use crate::catalogue::{
    KIND_PROJECT, KIND_SYSTEM, SYSTEM_NAMESPACE, WILDCARD, is_grantable,
    robot_has_system_permission,
};
use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;
use crate::time::rfc3339;

/// Harbor's prefix of robot login names.
pub const ROBOT_PREFIX: &str = "robot$";
/// Lifetime in days when a request gives none (or 0): Harbor's default robot token
/// duration.
pub const DEFAULT_DURATION_DAYS: i64 = 30;
const SECONDS_PER_DAY: i64 = 86_400;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Access {
    /// A project resource (`repository`, `artifact`, `tag`, ...) or a system one
    /// (`robot`, `audit-log`); `*` for any.
    pub resource: String,
    /// `pull`, `push`, `create`, `read`, `update`, `delete`, `list`; `*` for any.
    pub action: String,
    /// `allow` (default) or `deny`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RobotPermission {
    /// `project` or `system`.
    pub kind: String,
    /// A project name (or `*` for every project, system robots only) for `project`;
    /// `/` for `system`.
    pub namespace: String,
    pub access: Vec<Access>,
}

impl From<RobotPermission> for rbac::RobotPermission {
    fn from(p: RobotPermission) -> Self {
        Self {
            kind: p.kind,
            namespace: p.namespace,
            access: p
                .access
                .into_iter()
                .map(|a| rbac::Access {
                    resource: a.resource,
                    action: a.action,
                    effect: a.effect.filter(|e| !e.is_empty()),
                })
                .collect(),
        }
    }
}

impl From<rbac::RobotPermission> for RobotPermission {
    fn from(p: rbac::RobotPermission) -> Self {
        Self {
            kind: p.kind,
            namespace: p.namespace,
            access: p
                .access
                .into_iter()
                .map(|a| Access {
                    resource: a.resource,
                    action: a.action,
                    effect: a.effect,
                })
                .collect(),
        }
    }
}

/// A robot account. Answered by GET (never with its secret) and sent back by PUT.
/// None of the types carrying a secret derive `Debug`, so none can reach a log.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Robot {
    pub id: i64,
    /// Full name: `robot$<project>+<name>` or `robot$<name>`.
    pub name: String,
    pub description: String,
    /// Never answered; ignored in updates (PATCH changes the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `project` or `system`.
    pub level: String,
    /// Days; -1 for never.
    pub duration: Option<i64>,
    pub editable: bool,
    pub disable: bool,
    /// Unix seconds; -1 for never.
    pub expires_at: i64,
    pub permissions: Vec<RobotPermission>,
    /// `local` (created by a user) or `robot`.
    pub creator_type: String,
    pub creator_ref: i64,
    pub creation_time: String,
    pub update_time: String,
}

impl From<projects::RobotRecord> for Robot {
    fn from(r: projects::RobotRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            secret: None,
            level: level_name(r.level).to_owned(),
            duration: Some(r.duration),
            editable: true,
            disable: r.disabled,
            expires_at: r.expires_at,
            permissions: r
                .permissions
                .into_iter()
                .map(RobotPermission::from)
                .collect(),
            creator_type: r.creator_type,
            creator_ref: r.creator_ref,
            creation_time: rfc3339(r.created_at),
            update_time: rfc3339(r.updated_at),
        }
    }
}

/// The request to create a robot account.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct RobotCreate {
    pub name: String,
    pub description: String,
    /// A chosen secret (Harbor's rule: 8-128 characters with upper, lower, digit);
    /// generated when absent.
    pub secret: Option<String>,
    pub level: String,
    pub disable: bool,
    /// Days; -1 for never; absent or 0 for the default of 30.
    pub duration: Option<i64>,
    pub permissions: Vec<RobotPermission>,
}

/// The answer to a creation: the only time, besides a refresh, the secret is shown.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RobotCreated {
    pub id: i64,
    pub name: String,
    pub secret: String,
    pub creation_time: String,
    pub expires_at: i64,
}

/// A secret: PATCH sends one to set (or none to generate one) and gets the new one back.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RobotSec {
    pub secret: String,
}

pub fn level_name(level: RobotLevel) -> &'static str {
    match level {
        RobotLevel::Project => "project",
        RobotLevel::System => "system",
    }
}

pub fn parse_level(level: &str) -> ApiResult<RobotLevel> {
    match level {
        "project" => Ok(RobotLevel::Project),
        "system" => Ok(RobotLevel::System),
        other => Err(ApiError::bad_request(format!(
            "robot level must be \"project\" or \"system\", not {other:?}"
        ))),
    }
}

/// `-1` or a positive number of days; absent or 0 means the default.
pub fn resolve_duration(duration: Option<i64>) -> ApiResult<i64> {
    match duration {
        None | Some(0) => Ok(DEFAULT_DURATION_DAYS),
        Some(d) if d == -1 || d > 0 => Ok(d),
        Some(_) => Err(ApiError::bad_request(
            "duration must be either -1 (never) or a positive number of days",
        )),
    }
}

/// When a robot of `duration` days starting at `from` expires (-1 for never).
pub fn expiry(from: i64, duration: i64) -> ApiResult<i64> {
    if duration == -1 {
        return Ok(rbac::RobotAccount::NEVER_EXPIRES);
    }
    duration
        .checked_mul(SECONDS_PER_DAY)
        .and_then(|s| from.checked_add(s))
        .ok_or_else(|| ApiError::bad_request("duration is too long"))
}

pub fn full_name(level: RobotLevel, project: Option<&str>, name: &str) -> String {
    match (level, project) {
        (RobotLevel::Project, Some(project)) => format!("{ROBOT_PREFIX}{project}+{name}"),
        _ => format!("{ROBOT_PREFIX}{name}"),
    }
}

/// Whose robots: a project's, or the system's.
#[derive(Debug, Clone)]
pub enum Owner {
    Project(ProjectAccess),
    System,
}

impl Owner {
    pub fn project_id(&self) -> Option<i64> {
        match self {
            Owner::Project(p) => Some(p.id),
            Owner::System => None,
        }
    }
}

/// May the caller do `action` on robots of `owner`? Project robots: the permission
/// function decides (project admins, system administrators, robots with robot
/// permissions there). System robots: system administrators, and robots holding the
/// system-level robot permission.
pub async fn authorize(
    state: &ApiState,
    ctx: &Ctx,
    owner: &Owner,
    action: Action,
) -> ApiResult<()> {
    match owner {
        Owner::Project(project) => ctx.require(state, project, Resource::Robot, action).await,
        Owner::System => match &ctx.caller {
            Caller::Anonymous => Err(ApiError::unauthorized()),
            Caller::User(u) if u.sysadmin => Ok(()),
            Caller::Robot(r) if robot_has_system_permission(r, "robot", action.as_str()) => Ok(()),
            _ => Err(ApiError::forbidden()),
        },
    }
}

/// The project a project-level robot's permissions name: exactly one `project` entry
/// for a named project.
pub fn project_namespace(permissions: &[RobotPermission]) -> ApiResult<&str> {
    match permissions {
        [p] if p.kind == KIND_PROJECT && p.namespace != WILDCARD && !p.namespace.is_empty() => {
            Ok(&p.namespace)
        }
        _ => Err(ApiError::bad_request(
            "a project robot needs exactly one permission of kind \"project\" naming its project",
        )),
    }
}

/// Checks every entry's kind, namespace shape and names. Project namespaces of system
/// robots must exist (checked by the caller, which holds the directory).
pub fn check_permissions(level: RobotLevel, permissions: &[RobotPermission]) -> ApiResult<()> {
    if permissions.is_empty() {
        return Err(ApiError::bad_request(
            "a robot needs at least one permission",
        ));
    }
    for p in permissions {
        match (p.kind.as_str(), level) {
            (KIND_PROJECT, _) if !p.namespace.is_empty() => {}
            (KIND_SYSTEM, RobotLevel::System) if p.namespace == SYSTEM_NAMESPACE => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid permission kind {:?} with namespace {:?} for a {} robot",
                    p.kind,
                    p.namespace,
                    level_name(level)
                )));
            }
        }
        if p.kind == KIND_PROJECT && p.namespace == WILDCARD && level == RobotLevel::Project {
            return Err(ApiError::bad_request(
                "a project robot cannot cover every project",
            ));
        }
        if p.access.is_empty() {
            return Err(ApiError::bad_request(
                "a permission needs at least one access",
            ));
        }
        for a in &p.access {
            if !matches!(
                a.effect.as_deref(),
                None | Some("") | Some("allow") | Some("deny")
            ) {
                return Err(ApiError::bad_request(format!(
                    "effect must be \"allow\" or \"deny\", not {:?}",
                    a.effect.as_deref().unwrap_or_default()
                )));
            }
            if !is_grantable(&p.kind, &a.resource, &a.action) {
                return Err(ApiError::bad_request(format!(
                    "{}:{} is not a {} permission (see GET /api/v2.0/permissions)",
                    a.resource, a.action, p.kind
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(kind: &str, namespace: &str, resource: &str, action: &str) -> RobotPermission {
        RobotPermission {
            kind: kind.into(),
            namespace: namespace.into(),
            access: vec![Access {
                resource: resource.into(),
                action: action.into(),
                effect: None,
            }],
        }
    }

    #[test]
    fn durations_and_expiry() {
        assert_eq!(resolve_duration(None).unwrap(), DEFAULT_DURATION_DAYS);
        assert_eq!(resolve_duration(Some(0)).unwrap(), DEFAULT_DURATION_DAYS);
        assert_eq!(resolve_duration(Some(-1)).unwrap(), -1);
        assert_eq!(resolve_duration(Some(7)).unwrap(), 7);
        assert!(resolve_duration(Some(-2)).is_err());
        assert_eq!(expiry(100, 1).unwrap(), 100 + 86_400);
        assert_eq!(expiry(100, -1).unwrap(), -1);
        assert!(expiry(100, i64::MAX).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(
            full_name(RobotLevel::Project, Some("lib"), "ci"),
            "robot$lib+ci"
        );
        assert_eq!(full_name(RobotLevel::System, None, "ci"), "robot$ci");
    }

    #[test]
    fn permission_shapes() {
        let project = [perm("project", "lib", "repository", "pull")];
        assert!(check_permissions(RobotLevel::Project, &project).is_ok());
        assert_eq!(project_namespace(&project).unwrap(), "lib");
        assert!(
            check_permissions(
                RobotLevel::Project,
                &[perm("project", "*", "repository", "pull")]
            )
            .is_err()
        );
        assert!(
            check_permissions(
                RobotLevel::Project,
                &[perm("system", "/", "robot", "create")]
            )
            .is_err()
        );
        assert!(
            check_permissions(
                RobotLevel::System,
                &[perm("system", "/", "robot", "create")]
            )
            .is_ok()
        );
        assert!(check_permissions(RobotLevel::System, &[perm("project", "*", "*", "*")]).is_ok());
        assert!(
            check_permissions(
                RobotLevel::System,
                &[perm("project", "lib", "scan", "create")]
            )
            .is_err()
        );
        assert!(check_permissions(RobotLevel::System, &[]).is_err());
        let mut odd = perm("project", "lib", "repository", "pull");
        odd.access[0].effect = Some("maybe".into());
        assert!(check_permissions(RobotLevel::System, &[odd]).is_err());
    }
}
