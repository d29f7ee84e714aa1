//! The permission function as a full table: every role, the public-project rules and a
//! set of robot permission lists, against every resource and action.
//!
//! The expected rows are written out by hand from Harbor's `rbac_role.go` (roles),
//! `rbac_util.go` (public projects) and the robot security context, not derived from
//! the implementation, so a change to either side shows up here.

use rbac::{
    Access, Action, Principal, ProjectAccess, ProjectRole, Resource, RobotAccount, RobotLevel,
    RobotPermission, UserAccount, permits,
};

/// For each resource, the actions allowed (space-separated Harbor names). A resource
/// that is absent allows nothing.
type Expected = &'static [(Resource, &'static str)];

const EVERYTHING: Expected = &[
    (
        Resource::Project,
        "create read update delete list pull push",
    ),
    (
        Resource::Metadata,
        "create read update delete list pull push",
    ),
    (Resource::Member, "create read update delete list pull push"),
    (Resource::Log, "create read update delete list pull push"),
    (
        Resource::Repository,
        "create read update delete list pull push",
    ),
    (
        Resource::Artifact,
        "create read update delete list pull push",
    ),
    (Resource::Tag, "create read update delete list pull push"),
    (Resource::Robot, "create read update delete list pull push"),
];

const NOTHING: Expected = &[];

const PROJECT_ADMIN: Expected = &[
    (Resource::Project, "read update delete"),
    (Resource::Metadata, "create read update delete"),
    (Resource::Member, "create read update delete list"),
    (Resource::Log, "list"),
    (
        Resource::Repository,
        "create read update delete list pull push",
    ),
    (Resource::Artifact, "create read delete list"),
    (Resource::Tag, "create delete list"),
    (Resource::Robot, "create read update delete list"),
];

const MAINTAINER: Expected = &[
    (Resource::Project, "read"),
    (Resource::Metadata, "read"),
    (Resource::Member, "read list"),
    (
        Resource::Repository,
        "create read update delete list pull push",
    ),
    (Resource::Artifact, "create read delete list"),
    (Resource::Tag, "create delete list"),
    (Resource::Robot, "read list"),
];

const DEVELOPER: Expected = &[
    (Resource::Project, "read"),
    (Resource::Member, "read list"),
    (Resource::Repository, "create read update list pull push"),
    (Resource::Artifact, "create read list"),
    (Resource::Tag, "create list"),
    (Resource::Robot, "read list"),
];

const GUEST: Expected = &[
    (Resource::Project, "read"),
    (Resource::Member, "read list"),
    (Resource::Repository, "read list pull"),
    (Resource::Artifact, "read list"),
    (Resource::Tag, "list"),
    (Resource::Robot, "read list"),
];

const LIMITED_GUEST: Expected = &[
    (Resource::Project, "read"),
    (Resource::Repository, "read list pull"),
    (Resource::Artifact, "read list"),
    (Resource::Tag, "list"),
];

/// What anyone gets on a public project (no `read` on repositories, as in Harbor).
const PUBLIC: Expected = &[
    (Resource::Project, "read"),
    (Resource::Repository, "list pull"),
    (Resource::Artifact, "read list"),
    (Resource::Tag, "list"),
];

fn project(public: bool) -> ProjectAccess {
    ProjectAccess {
        id: 7,
        name: "team".into(),
        public,
        created_at: 1_700_000_000,
    }
}

fn user(sysadmin: bool, role: Option<ProjectRole>) -> Principal {
    Principal::User {
        account: UserAccount {
            id: 42,
            username: "someone".into(),
            sysadmin,
        },
        role,
    }
}

fn access(resource: &str, action: &str) -> Access {
    Access {
        resource: resource.into(),
        action: action.into(),
        effect: None,
    }
}

fn deny(resource: &str, action: &str) -> Access {
    Access {
        effect: Some("deny".into()),
        ..access(resource, action)
    }
}

fn permission(kind: &str, namespace: &str, access: Vec<Access>) -> RobotPermission {
    RobotPermission {
        kind: kind.into(),
        namespace: namespace.into(),
        access,
    }
}

fn robot(level: RobotLevel, permissions: Vec<RobotPermission>) -> Principal {
    Principal::Robot(RobotAccount {
        id: 3,
        name: "robot$team+ci".into(),
        level,
        disabled: false,
        expires_at: -1,
        permissions,
    })
}

/// Compares the whole resource x action table of `principal` with `expected`.
fn assert_table(what: &str, principal: &Principal, project: &ProjectAccess, expected: Expected) {
    let mut mismatches = Vec::new();
    for resource in Resource::ALL {
        let row = expected
            .iter()
            .find(|(r, _)| *r == resource)
            .map_or("", |(_, actions)| *actions);
        for name in row.split_whitespace() {
            assert!(Action::parse(name).is_some(), "typo in table: {name}");
        }
        for action in Action::ALL {
            let want = row.split_whitespace().any(|a| a == action.as_str());
            let got = permits(principal, project, resource, action);
            if want != got {
                mismatches.push(format!("{resource} {action}: expected {want}, got {got}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{what}:\n{}", mismatches.join("\n"));
}

#[test]
fn system_admin_may_do_everything() {
    for public in [false, true] {
        assert_table(
            "sysadmin, not a member",
            &user(true, None),
            &project(public),
            EVERYTHING,
        );
        assert_table(
            "sysadmin who is also a guest",
            &user(true, Some(ProjectRole::Guest)),
            &project(public),
            EVERYTHING,
        );
    }
}

#[test]
fn roles_on_a_private_project() {
    let p = project(false);
    for (role, expected) in [
        (ProjectRole::ProjectAdmin, PROJECT_ADMIN),
        (ProjectRole::Maintainer, MAINTAINER),
        (ProjectRole::Developer, DEVELOPER),
        (ProjectRole::Guest, GUEST),
        (ProjectRole::LimitedGuest, LIMITED_GUEST),
    ] {
        assert_table(role.name(), &user(false, Some(role)), &p, expected);
    }
}

#[test]
fn roles_on_a_public_project_are_unchanged() {
    // The public permissions are a subset of every role's, even the limited guest's.
    let p = project(true);
    for (role, expected) in [
        (ProjectRole::ProjectAdmin, PROJECT_ADMIN),
        (ProjectRole::Maintainer, MAINTAINER),
        (ProjectRole::Developer, DEVELOPER),
        (ProjectRole::Guest, GUEST),
        (ProjectRole::LimitedGuest, LIMITED_GUEST),
    ] {
        assert_table(role.name(), &user(false, Some(role)), &p, expected);
    }
}

#[test]
fn outsiders() {
    assert_table(
        "anonymous, private",
        &Principal::Anonymous,
        &project(false),
        NOTHING,
    );
    assert_table(
        "anonymous, public",
        &Principal::Anonymous,
        &project(true),
        PUBLIC,
    );
    assert_table(
        "non-member, private",
        &user(false, None),
        &project(false),
        NOTHING,
    );
    assert_table(
        "non-member, public",
        &user(false, None),
        &project(true),
        PUBLIC,
    );
}

#[test]
fn project_robots() {
    let private = project(false);
    let public = project(true);

    // The common CI robot: pull only.
    let pull_only = robot(
        RobotLevel::Project,
        vec![permission(
            "project",
            "team",
            vec![access("repository", "pull")],
        )],
    );
    assert_table(
        "pull-only robot",
        &pull_only,
        &private,
        &[(Resource::Repository, "pull")],
    );
    assert_table(
        "pull-only robot, public project",
        &pull_only,
        &public,
        &[
            (Resource::Project, "read"),
            (Resource::Repository, "list pull"),
            (Resource::Artifact, "read list"),
            (Resource::Tag, "list"),
        ],
    );

    // Push implies pull for project robots, as Harbor adds it.
    let push_only = robot(
        RobotLevel::Project,
        vec![permission(
            "project",
            "team",
            vec![access("repository", "push")],
        )],
    );
    assert_table(
        "push robot",
        &push_only,
        &private,
        &[(Resource::Repository, "pull push")],
    );

    // Harbor's default CI set: push, pull, artifact delete and tag management.
    let ci = robot(
        RobotLevel::Project,
        vec![permission(
            "project",
            "team",
            vec![
                access("repository", "pull"),
                access("repository", "push"),
                access("artifact", "delete"),
                access("artifact", "read"),
                access("tag", "create"),
                access("tag", "delete"),
                access("tag", "list"),
                access("scan", "create"),
            ],
        )],
    );
    assert_table(
        "ci robot",
        &ci,
        &private,
        &[
            (Resource::Repository, "pull push"),
            (Resource::Artifact, "read delete"),
            (Resource::Tag, "create delete list"),
        ],
    );

    // Wildcards: every sub-resource and action, but not the project itself.
    let wildcard = robot(
        RobotLevel::Project,
        vec![permission("project", "team", vec![access("*", "*")])],
    );
    assert_table(
        "wildcard robot",
        &wildcard,
        &private,
        &[
            (
                Resource::Metadata,
                "create read update delete list pull push",
            ),
            (Resource::Member, "create read update delete list pull push"),
            (Resource::Log, "create read update delete list pull push"),
            (
                Resource::Repository,
                "create read update delete list pull push",
            ),
            (
                Resource::Artifact,
                "create read update delete list pull push",
            ),
            (Resource::Tag, "create read update delete list pull push"),
            (Resource::Robot, "create read update delete list pull push"),
        ],
    );

    // The project itself is named `project`.
    let reader = robot(
        RobotLevel::Project,
        vec![permission(
            "project",
            "team",
            vec![access("project", "read"), access("repository", "*")],
        )],
    );
    assert_table(
        "project reader",
        &reader,
        &private,
        &[
            (Resource::Project, "read"),
            (
                Resource::Repository,
                "create read update delete list pull push",
            ),
        ],
    );
}

#[test]
fn robot_entries_outside_the_project_give_nothing() {
    let p = project(false);
    for (what, permissions) in [
        (
            "other project",
            vec![permission("project", "other", vec![access("*", "*")])],
        ),
        (
            // A project robot cannot reach every project through `*`.
            "project robot with *",
            vec![permission("project", "*", vec![access("*", "*")])],
        ),
        (
            "system kind",
            vec![permission("system", "/", vec![access("*", "*")])],
        ),
        (
            "unknown names",
            vec![permission(
                "project",
                "team",
                vec![
                    access("repositories", "pull"),
                    access("repository", "PULL"),
                    access("helm-chart", "read"),
                    Access {
                        effect: Some("maybe".into()),
                        ..access("repository", "pull")
                    },
                ],
            )],
        ),
        ("no permissions", vec![]),
    ] {
        assert_table(what, &robot(RobotLevel::Project, permissions), &p, NOTHING);
    }
}

#[test]
fn system_robots() {
    let private = project(false);
    // `*` covers every project for system robots; no pull is implied by push.
    let all_projects_push = robot(
        RobotLevel::System,
        vec![permission(
            "project",
            "*",
            vec![access("repository", "push"), access("artifact", "list")],
        )],
    );
    assert_table(
        "system robot, all projects",
        &all_projects_push,
        &private,
        &[(Resource::Repository, "push"), (Resource::Artifact, "list")],
    );

    let named = robot(
        RobotLevel::System,
        vec![
            permission("system", "/", vec![access("project", "create")]),
            permission("project", "other", vec![access("repository", "push")]),
            permission("project", "team", vec![access("repository", "pull")]),
        ],
    );
    assert_table(
        "system robot, named projects",
        &named,
        &private,
        &[(Resource::Repository, "pull")],
    );
}

#[test]
fn robot_deny_entries_win() {
    let public = project(true);
    let denied = robot(
        RobotLevel::Project,
        vec![permission(
            "project",
            "team",
            vec![
                access("repository", "*"),
                deny("repository", "push"),
                deny("repository", "pull"),
            ],
        )],
    );
    assert_table(
        "robot with deny entries, public project",
        &denied,
        &public,
        &[
            (Resource::Project, "read"),
            (Resource::Repository, "create read update delete list"),
            (Resource::Artifact, "read list"),
            (Resource::Tag, "list"),
        ],
    );
}

#[test]
fn disabled_robot_gets_nothing_even_on_public_projects() {
    let Principal::Robot(mut account) = robot(
        RobotLevel::Project,
        vec![permission("project", "team", vec![access("*", "*")])],
    ) else {
        unreachable!()
    };
    account.disabled = true;
    let principal = Principal::Robot(account);
    assert_table("disabled robot", &principal, &project(true), NOTHING);
    assert_table("disabled robot", &principal, &project(false), NOTHING);
}

#[test]
fn robot_expiry() {
    let account = |expires_at| RobotAccount {
        id: 1,
        name: "robot$x".into(),
        level: RobotLevel::System,
        disabled: false,
        expires_at,
        permissions: vec![],
    };
    assert!(!account(-1).is_expired(i64::MAX));
    assert!(!account(100).is_expired(99));
    assert!(account(100).is_expired(100));
    assert!(account(100).is_expired(101));
    assert!(account(-1).is_active(0));
    assert!(!account(100).is_active(100));
    let disabled = RobotAccount {
        disabled: true,
        ..account(-1)
    };
    assert!(!disabled.is_active(0));
}

#[test]
fn harbor_role_ids_and_names() {
    for (id, name) in [
        (1, "projectAdmin"),
        (2, "developer"),
        (3, "guest"),
        (4, "maintainer"),
        (5, "limitedGuest"),
    ] {
        let role = ProjectRole::from_id(id).unwrap();
        assert_eq!(role.id(), id);
        assert_eq!(role.name(), name);
    }
    assert_eq!(ProjectRole::from_id(0), None);
    assert_eq!(ProjectRole::from_id(6), None);
}
