//! The resource/action catalogue: what can be granted at project level (derived from
//! the permission function, so it cannot drift from what is enforced) and at system
//! level (the system operations Berth checks for robots), plus the names robots'
//! permission entries use.

use rbac::{Action, Principal, ProjectAccess, ProjectRole, Resource, RobotAccount, UserAccount};

/// `kind` of entries that apply to projects (`namespace`: a project name or `*`).
pub const KIND_PROJECT: &str = "project";
/// `kind` of entries that apply to the whole system (`namespace`: `/`).
pub const KIND_SYSTEM: &str = "system";
pub const SYSTEM_NAMESPACE: &str = "/";
/// Any project (namespace), any resource or any action.
pub const WILDCARD: &str = "*";

/// System-level permissions Berth enforces: managing system robots and reading the
/// audit log of every project. Harbor's names.
pub const SYSTEM_PERMISSIONS: &[(&str, &str)] = &[
    ("audit-log", "list"),
    ("robot", "create"),
    ("robot", "read"),
    ("robot", "update"),
    ("robot", "delete"),
    ("robot", "list"),
];

/// Every project-level (resource, action) that can be granted: what a project admin
/// may do in a private project.
pub fn project_permissions() -> Vec<(Resource, Action)> {
    let admin = Principal::User {
        account: UserAccount {
            id: 0,
            username: String::new(),
            sysadmin: false,
        },
        role: Some(ProjectRole::ProjectAdmin),
    };
    let project = ProjectAccess {
        id: 0,
        name: String::new(),
        public: false,
        created_at: 0,
    };
    Resource::ALL
        .into_iter()
        .flat_map(|r| Action::ALL.into_iter().map(move |a| (r, a)))
        .filter(|(r, a)| rbac::permits(&admin, &project, *r, *a))
        .collect()
}

/// Whether `(resource, action)` names something grantable in entries of `kind`; `*`
/// stands for any.
pub fn is_grantable(kind: &str, resource: &str, action: &str) -> bool {
    let matches = |r: &str, a: &str| {
        (resource == WILDCARD || resource == r) && (action == WILDCARD || action == a)
    };
    match kind {
        KIND_PROJECT => project_permissions()
            .into_iter()
            .any(|(r, a)| matches(r.as_str(), a.as_str())),
        KIND_SYSTEM => SYSTEM_PERMISSIONS.iter().any(|(r, a)| matches(r, a)),
        _ => false,
    }
}

/// Whether `robot`'s own entries allow the system-level `(resource, action)`.
pub fn robot_has_system_permission(robot: &RobotAccount, resource: &str, action: &str) -> bool {
    robot_active(robot)
        && robot
            .permissions
            .iter()
            .filter(|p| p.kind == KIND_SYSTEM && p.namespace == SYSTEM_NAMESPACE)
            .flat_map(|p| p.access.iter())
            .filter(|a| matches!(a.effect.as_deref(), None | Some("") | Some("allow")))
            .any(|a| {
                (a.resource == WILDCARD || a.resource == resource)
                    && (a.action == WILDCARD || a.action == action)
            })
}

/// A robot still able to act (the authenticator already refuses others; this guards
/// long requests and callers built by hand).
pub fn robot_active(robot: &RobotAccount) -> bool {
    robot.is_active(chrono::Utc::now().timestamp())
}

/// Shorthand for tests building entries.
#[cfg(test)]
pub fn permission(kind: &str, namespace: &str, access: &[(&str, &str)]) -> rbac::RobotPermission {
    rbac::RobotPermission {
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        access: access
            .iter()
            .map(|(r, a)| rbac::Access {
                resource: (*r).to_owned(),
                action: (*a).to_owned(),
                effect: None,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_catalogue_follows_the_matrix() {
        let all = project_permissions();
        assert!(all.contains(&(Resource::Repository, Action::Pull)));
        assert!(all.contains(&(Resource::Repository, Action::Push)));
        assert!(all.contains(&(Resource::Robot, Action::Create)));
        assert!(!all.contains(&(Resource::Tag, Action::Pull)));
    }

    #[test]
    fn grantable_names() {
        assert!(is_grantable(KIND_PROJECT, "repository", "pull"));
        assert!(is_grantable(KIND_PROJECT, "*", "*"));
        assert!(!is_grantable(KIND_PROJECT, "scan", "create"));
        assert!(is_grantable(KIND_SYSTEM, "robot", "create"));
        assert!(!is_grantable(KIND_SYSTEM, "repository", "pull"));
        assert!(!is_grantable("other", "robot", "create"));
    }
}
