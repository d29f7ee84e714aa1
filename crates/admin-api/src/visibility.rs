//! Which projects' audit entries a caller may list.

use projects::{ProjectFilter, Window};
use rbac::{Action, Resource};

use crate::auth::{Caller, Ctx};
use crate::catalogue::robot_has_system_permission;
use crate::error::ApiResult;
use crate::routes::lookup::visible_scope;
use crate::state::ApiState;

/// The projects whose audit entries the caller may list (`None`: every entry, also
/// those outside projects such as logins). As in Harbor, that is every project where
/// the permission function grants `log:list`; merely public projects grant none.
pub async fn log_projects(state: &ApiState, ctx: &Ctx) -> ApiResult<Option<Vec<i64>>> {
    match &ctx.caller {
        Caller::User(u) if u.sysadmin => return Ok(None),
        Caller::Robot(r) if robot_has_system_permission(r, "audit-log", "list") => {
            return Ok(None);
        }
        _ => {}
    }
    let filter = ProjectFilter::new(visible_scope(ctx));
    let (projects, _) = state.db.list_projects(&filter, &[], Window::ALL).await?;
    let mut ids = Vec::new();
    for project in projects {
        if ctx
            .can(state, &project.access(), Resource::Log, Action::List)
            .await?
        {
            ids.push(project.id);
        }
    }
    Ok(Some(ids))
}
