//! "A robot may create robots only with permissions no wider than its own": whether a
//! creator robot's entries cover a requested permission list. Conservative where the
//! permission function is generous: implied pulls and public-project access do not
//! count as the creator's own grants.

use rbac::{Access, RobotAccount, RobotLevel, RobotPermission};

use crate::catalogue::{KIND_PROJECT, WILDCARD};

fn is_deny(access: &Access) -> bool {
    access.effect.as_deref() == Some("deny")
}

fn is_allow(access: &Access) -> bool {
    matches!(access.effect.as_deref(), None | Some("") | Some("allow"))
}

/// Does the creator's `namespace` pattern cover the requested one? `*` counts only for
/// system robots, as in the permission function.
fn namespace_covers(
    creator: &RobotAccount,
    granted: &RobotPermission,
    wanted: &RobotPermission,
) -> bool {
    if granted.kind != wanted.kind {
        return false;
    }
    granted.namespace == wanted.namespace
        || (granted.kind == KIND_PROJECT
            && granted.namespace == WILDCARD
            && creator.level == RobotLevel::System)
}

/// A granted name covers a wanted one when equal or `*`; a wanted `*` needs a granted
/// `*`. `*` does not stand for the project itself, as in the permission function.
fn name_covers(granted: &str, wanted: &str, is_resource: bool) -> bool {
    granted == wanted || (granted == WILDCARD && !(is_resource && wanted == KIND_PROJECT))
}

/// Two names could denote a common value.
fn names_overlap(a: &str, b: &str) -> bool {
    a == b || a == WILDCARD || b == WILDCARD
}

/// Whether every allowing entry of `wanted` is allowed by an entry of `creator` and
/// denied by none. Deny entries in `wanted` only take away, so they always pass.
pub fn within(creator: &RobotAccount, wanted: &[RobotPermission]) -> bool {
    wanted.iter().all(|w| {
        let relevant: Vec<&RobotPermission> = creator
            .permissions
            .iter()
            .filter(|g| namespace_covers(creator, g, w))
            .collect();
        w.access.iter().filter(|a| is_allow(a)).all(|a| {
            let allowed = relevant.iter().flat_map(|g| g.access.iter()).any(|g| {
                is_allow(g)
                    && name_covers(&g.resource, &a.resource, true)
                    && name_covers(&g.action, &a.action, false)
            });
            // Any creator deny that might touch this grant voids it, including denies
            // from a `*` namespace entry (the creator is denied there too).
            let denied = creator
                .permissions
                .iter()
                .filter(|g| {
                    g.kind == w.kind && (g.namespace == w.namespace || g.namespace == WILDCARD)
                })
                .flat_map(|g| g.access.iter())
                .any(|g| {
                    is_deny(g)
                        && names_overlap(&g.resource, &a.resource)
                        && names_overlap(&g.action, &a.action)
                });
            allowed && !denied
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{KIND_SYSTEM, permission};

    fn robot(level: RobotLevel, permissions: Vec<RobotPermission>) -> RobotAccount {
        RobotAccount {
            id: 1,
            name: "robot$ci".into(),
            level,
            disabled: false,
            expires_at: -1,
            permissions,
        }
    }

    #[test]
    fn subsets_pass_and_wider_lists_fail() {
        let creator = robot(
            RobotLevel::Project,
            vec![permission(
                KIND_PROJECT,
                "lib",
                &[
                    ("repository", "pull"),
                    ("repository", "push"),
                    ("robot", "create"),
                ],
            )],
        );
        let ok = [permission(KIND_PROJECT, "lib", &[("repository", "pull")])];
        assert!(within(&creator, &ok));
        let same = creator.permissions.clone();
        assert!(within(&creator, &same));
        for wider in [
            permission(KIND_PROJECT, "lib", &[("repository", "delete")]),
            permission(KIND_PROJECT, "other", &[("repository", "pull")]),
            permission(KIND_PROJECT, "*", &[("repository", "pull")]),
            permission(KIND_PROJECT, "lib", &[("repository", "*")]),
            permission(KIND_PROJECT, "lib", &[("*", "pull")]),
            permission(KIND_SYSTEM, "/", &[("robot", "create")]),
        ] {
            assert!(!within(&creator, std::slice::from_ref(&wider)), "{wider:?}");
        }
    }

    #[test]
    fn wildcards_of_the_creator() {
        let creator = robot(
            RobotLevel::System,
            vec![permission(KIND_PROJECT, "*", &[("*", "*")])],
        );
        assert!(within(
            &creator,
            &[permission(KIND_PROJECT, "any", &[("tag", "delete")])]
        ));
        assert!(within(
            &creator,
            &[permission(KIND_PROJECT, "*", &[("*", "*")])]
        ));
        // `*` is not the project itself.
        assert!(!within(
            &creator,
            &[permission(KIND_PROJECT, "any", &[("project", "read")])]
        ));
        // A project robot's `*` namespace covers nothing.
        let project_robot = robot(RobotLevel::Project, creator.permissions.clone());
        assert!(!within(
            &project_robot,
            &[permission(KIND_PROJECT, "any", &[("tag", "list")])]
        ));
    }

    #[test]
    fn creator_denies_win() {
        let mut entry = permission(
            KIND_PROJECT,
            "lib",
            &[("repository", "*"), ("repository", "push")],
        );
        entry.access[1].effect = Some("deny".into());
        let creator = robot(RobotLevel::Project, vec![entry]);
        assert!(within(
            &creator,
            &[permission(KIND_PROJECT, "lib", &[("repository", "pull")])]
        ));
        assert!(!within(
            &creator,
            &[permission(KIND_PROJECT, "lib", &[("repository", "push")])]
        ));
        assert!(!within(
            &creator,
            &[permission(KIND_PROJECT, "lib", &[("repository", "*")])]
        ));
        // Asking for a deny is always allowed: it only narrows.
        let mut deny = permission(KIND_PROJECT, "lib", &[("tag", "delete")]);
        deny.access[0].effect = Some("deny".into());
        assert!(within(&creator, &[deny]));
    }
}
