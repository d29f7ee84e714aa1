//! How a robot account's permission list applies to one project, following Harbor's
//! robot security context (`src/common/security/robot/context.go`) and its casbin
//! matcher: a request is allowed when some entry allows it and no entry denies it.

use crate::directory::ProjectAccess;
use crate::model::{Access, RobotAccount, RobotLevel, RobotPermission};
use crate::resource::{Action, Resource};

/// Permission kind that scopes entries to projects (`system` entries never apply to a
/// project question).
const KIND_PROJECT: &str = "project";
/// Namespace and resource/action wildcard.
const WILDCARD: &str = "*";

/// What the robot's own entries say about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Verdict {
    pub(crate) allowed: bool,
    pub(crate) denied: bool,
}

/// Evaluates every entry of `robot` that applies to `project`.
pub(crate) fn evaluate(
    robot: &RobotAccount,
    project: &ProjectAccess,
    resource: Resource,
    action: Action,
) -> Verdict {
    let mut verdict = Verdict::default();
    let entries = robot
        .permissions
        .iter()
        .filter(|p| covers(robot.level, p, project))
        .flat_map(|p| p.access.iter());
    for access in entries {
        if !resource_matches(&access.resource, resource) {
            continue;
        }
        let direct = action_matches(&access.action, action);
        // Harbor gives project robots pull wherever they may push (docker checks for
        // existing layers before pushing); system robots get exactly their list.
        let implied_pull = robot.level == RobotLevel::Project
            && action == Action::Pull
            && access.action == Action::Push.as_str()
            && effect(access) == Some(Effect::Allow);
        match effect(access) {
            Some(Effect::Allow) if direct || implied_pull => verdict.allowed = true,
            Some(Effect::Deny) if direct => verdict.denied = true,
            _ => {}
        }
    }
    verdict
}

/// Whether a permission entry speaks about `project`. Project robots are confined to
/// entries naming a project (Harbor drops anything outside the robot's namespace, `*`
/// included); system robots may also cover every project with `*`.
fn covers(level: RobotLevel, permission: &RobotPermission, project: &ProjectAccess) -> bool {
    if permission.kind != KIND_PROJECT {
        return false;
    }
    permission.namespace == project.name
        || (level == RobotLevel::System && permission.namespace == WILDCARD)
}

/// `*` stands for every sub-resource of the project, but not for the project itself:
/// Harbor matches `/project/<id>/*` against `/project/<id>/<resource>`, and the project
/// is `/project/<id>`.
fn resource_matches(pattern: &str, resource: Resource) -> bool {
    if pattern == WILDCARD {
        return resource != Resource::Project;
    }
    Resource::parse(pattern) == Some(resource)
}

fn action_matches(pattern: &str, action: Action) -> bool {
    pattern == WILDCARD || Action::parse(pattern) == Some(action)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// Harbor's default effect is allow; an effect it does not know matches nothing.
fn effect(access: &Access) -> Option<Effect> {
    match access.effect.as_deref() {
        None | Some("") | Some("allow") => Some(Effect::Allow),
        Some("deny") => Some(Effect::Deny),
        Some(_) => None,
    }
}
