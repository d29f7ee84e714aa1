//! The grant decision: which of the requested actions an account receives.
//!
//! [`RbacPolicy`] gathers the facts (the project, the caller's role) from an
//! [`AccessDirectory`] and then decides with pure functions: [`repository_grant`], which
//! asks `rbac::permits`, and [`catalog_grant`]. [`GrantPolicy`] stays the seam through
//! which the token service asks, so tests and tools can substitute another policy.

use std::sync::Arc;

use async_trait::async_trait;
use rbac::{AccessDirectory, Principal, ProjectAccess, permits};
use registry_core::RepoName;

use crate::credentials::Identity;
use crate::error::AuthError;
use crate::scope::{Scope, ScopeResource};

/// Distribution's repository actions and the RBAC question each one asks. `delete`
/// removes manifests and tags, i.e. artifacts.
const REPOSITORY_ACTIONS: [(&str, rbac::Resource, rbac::Action); 3] = [
    ("pull", rbac::Resource::Repository, rbac::Action::Pull),
    ("push", rbac::Resource::Repository, rbac::Action::Push),
    ("delete", rbac::Resource::Artifact, rbac::Action::Delete),
];
/// Distribution's "every action"; granted only when all of the above are.
const ALL_ACTIONS: &str = "*";

/// A replaceable grant decision.
#[async_trait]
pub trait GrantPolicy: Send + Sync {
    /// The actions `identity` (None: anonymous) is granted out of `requested.actions`.
    async fn grant(
        &self,
        identity: Option<&Identity>,
        requested: &Scope,
    ) -> Result<Vec<String>, AuthError>;
}

/// Harbor's rules: project roles, robot permissions, public projects; the catalog for
/// system admins only. A repository whose project does not exist gets nothing.
pub struct RbacPolicy {
    directory: Arc<dyn AccessDirectory>,
}

impl RbacPolicy {
    pub fn new(directory: Arc<dyn AccessDirectory>) -> Self {
        RbacPolicy { directory }
    }

    /// The principal as the permission function sees it in `project`.
    async fn principal(
        &self,
        identity: Option<&Identity>,
        project: &ProjectAccess,
    ) -> Result<Principal, AuthError> {
        // Only a user who is not a system admin needs the membership lookup: admins may
        // do everything anyway, robots carry their permissions with them.
        let role = match identity {
            Some(Identity::User(user)) if !user.sysadmin => self
                .directory
                .member_role(project.id, user.id)
                .await
                .map_err(AuthError::backend)?,
            _ => None,
        };
        Ok(identity.map_or(Principal::Anonymous, |id| id.principal(role)))
    }
}

#[async_trait]
impl GrantPolicy for RbacPolicy {
    async fn grant(
        &self,
        identity: Option<&Identity>,
        requested: &Scope,
    ) -> Result<Vec<String>, AuthError> {
        let repository = match &requested.resource {
            ScopeResource::Registry(name) => {
                return Ok(catalog_grant(identity, name, &requested.actions));
            }
            ScopeResource::Repository(repository) => repository,
        };
        let Some(project_name) = project_of(repository) else {
            return Ok(Vec::new());
        };
        let project = self
            .directory
            .project(project_name)
            .await
            .map_err(AuthError::backend)?;
        let Some(project) = project else {
            return Ok(Vec::new());
        };
        let principal = self.principal(identity, &project).await?;
        Ok(repository_grant(&principal, &project, &requested.actions))
    }
}

/// The project a repository belongs to: the first path component of `<project>/<rest>`.
/// A name without a `/` belongs to no project.
pub fn project_of(repository: &RepoName) -> Option<&str> {
    repository
        .as_str()
        .split_once('/')
        .map(|(project, _)| project)
}

/// The subset of `requested` (distribution actions, in request order) that `principal`
/// may perform on a repository of `project`. Unknown actions are dropped.
pub fn repository_grant(
    principal: &Principal,
    project: &ProjectAccess,
    requested: &[String],
) -> Vec<String> {
    let allows = |action: &str| {
        REPOSITORY_ACTIONS
            .iter()
            .find(|(name, _, _)| *name == action)
            .is_some_and(|(_, resource, act)| permits(principal, project, *resource, *act))
    };
    requested
        .iter()
        .filter(|action| match action.as_str() {
            ALL_ACTIONS => REPOSITORY_ACTIONS.iter().all(|(name, _, _)| allows(name)),
            other => allows(other),
        })
        .cloned()
        .collect()
}

/// `registry:catalog:*` is for system admins only (robots included: Harbor's token
/// service grants the catalog to no one else). Any other registry resource or action
/// gets nothing.
pub fn catalog_grant(identity: Option<&Identity>, name: &str, requested: &[String]) -> Vec<String> {
    let allowed = name == "catalog" && identity.is_some_and(Identity::is_sysadmin);
    requested
        .iter()
        .filter(|action| allowed && action.as_str() == ALL_ACTIONS)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rbac::{ProjectRole, UserAccount};

    fn project(public: bool) -> ProjectAccess {
        ProjectAccess {
            id: 1,
            name: "lib".into(),
            public,
            created_at: 0,
        }
    }

    fn user(sysadmin: bool) -> Identity {
        Identity::User(UserAccount {
            id: 9,
            username: "u".into(),
            sysadmin,
        })
    }

    fn actions(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    /// Who x what was requested -> what is granted, on a private and a public project.
    #[test]
    fn repository_grant_table() {
        let all = actions(&["pull", "push", "delete", "*", "fly"]);
        let member = |role| Principal::User {
            account: UserAccount {
                id: 9,
                username: "u".into(),
                sysadmin: false,
            },
            role: Some(role),
        };
        let cases: Vec<(&str, Principal, bool, &[&str])> = vec![
            (
                "sysadmin",
                user(true).principal(None),
                false,
                &["pull", "push", "delete", "*"],
            ),
            (
                "project admin",
                member(ProjectRole::ProjectAdmin),
                false,
                &["pull", "push", "delete", "*"],
            ),
            (
                "maintainer",
                member(ProjectRole::Maintainer),
                false,
                &["pull", "push", "delete", "*"],
            ),
            (
                "developer",
                member(ProjectRole::Developer),
                false,
                &["pull", "push"],
            ),
            ("guest", member(ProjectRole::Guest), false, &["pull"]),
            (
                "limited guest",
                member(ProjectRole::LimitedGuest),
                false,
                &["pull"],
            ),
            ("non-member", user(false).principal(None), false, &[]),
            (
                "non-member, public",
                user(false).principal(None),
                true,
                &["pull"],
            ),
            ("anonymous", Principal::Anonymous, false, &[]),
            ("anonymous, public", Principal::Anonymous, true, &["pull"]),
            (
                "developer, public",
                member(ProjectRole::Developer),
                true,
                &["pull", "push"],
            ),
        ];
        for (who, principal, public, expected) in cases {
            let got = repository_grant(&principal, &project(public), &all);
            assert_eq!(got, actions(expected), "{who}");
        }
    }

    #[test]
    fn grant_keeps_request_order_and_never_widens() {
        let admin = user(true).principal(None);
        assert_eq!(
            repository_grant(&admin, &project(false), &actions(&["push", "pull"])),
            actions(&["push", "pull"])
        );
        assert!(repository_grant(&admin, &project(false), &[]).is_empty());
    }

    #[test]
    fn catalog_is_for_sysadmins_only() {
        let star = actions(&["*", "pull"]);
        assert_eq!(
            catalog_grant(Some(&user(true)), "catalog", &star),
            actions(&["*"])
        );
        assert!(catalog_grant(Some(&user(true)), "other", &star).is_empty());
        assert!(catalog_grant(Some(&user(false)), "catalog", &star).is_empty());
        assert!(catalog_grant(None, "catalog", &star).is_empty());
    }

    #[test]
    fn project_is_the_first_component() {
        let name = |s: &str| s.parse::<RepoName>().unwrap();
        assert_eq!(project_of(&name("lib/app")), Some("lib"));
        assert_eq!(project_of(&name("lib/team/app")), Some("lib"));
        assert_eq!(project_of(&name("app")), None);
    }
}
