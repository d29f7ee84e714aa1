//! The one function that decides access.

use crate::directory::ProjectAccess;
use crate::matrix::{public_allows, role_allows};
use crate::model::Principal;
use crate::resource::{Action, Resource};
use crate::robot;

/// Decides whether `principal` may perform `action` on `resource` of `project`,
/// exactly as Harbor's project evaluator would:
///
/// - a system admin may do everything;
/// - a member gets their role's row of the matrix;
/// - on a public project everyone, anonymous included, also gets the public-project
///   permissions (read the project, list and pull repositories, read and list
///   artifacts, list tags);
/// - a robot gets what its permission entries for this project allow (plus the
///   public-project permissions), nothing that an entry denies, and nothing at all
///   once disabled.
///
/// Pure: the caller looks up the member's role and must refuse expired robots before
/// asking (see [`crate::RobotAccount::is_expired`]), so no clock is read here.
pub fn permits(
    principal: &Principal,
    project: &ProjectAccess,
    resource: Resource,
    action: Action,
) -> bool {
    let public = project.public && public_allows(resource, action);
    match principal {
        Principal::Anonymous => public,
        Principal::User { account, role } => {
            account.sysadmin || public || role.is_some_and(|r| role_allows(r, resource, action))
        }
        Principal::Robot(account) => {
            if account.disabled {
                return false;
            }
            let verdict = robot::evaluate(account, project, resource, action);
            // A deny entry outweighs every allow, the public ones included, as in
            // Harbor's casbin effect `some(allow) && !some(deny)`.
            !verdict.denied && (verdict.allowed || public)
        }
    }
}
