//! The one function that decides access. To be completed with Harbor's full matrix.

use crate::directory::ProjectAccess;
use crate::model::Principal;

/// Harbor's RBAC resources that Berth has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Project,
    Repository,
    Artifact,
    Tag,
    Member,
    Robot,
    Log,
    Metadata,
}

/// Harbor's RBAC actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Pull,
    Push,
    Delete,
    Create,
    Read,
    Update,
    List,
}

/// Decides whether `principal` may perform `action` on `resource` of `project`.
pub fn permits(
    principal: &Principal,
    project: &ProjectAccess,
    resource: Resource,
    action: Action,
) -> bool {
    let _ = (principal, project, resource, action);
    false
}
