//! The grant decision: which of the requested actions an account receives.
//!
//! [`grant`] is the one pure function that decides; [`GrantPolicy`] is the seam through
//! which the gateway will swap in a project- and role-aware policy (which needs database
//! facts, hence async) without touching the token service.

use async_trait::async_trait;

use crate::credentials::Identity;
use crate::error::AuthError;
use crate::scope::{Scope, ScopeResource};

/// Every action a repository knows; `*` is distribution's "all of them".
const REPOSITORY_ACTIONS: &[&str] = &["pull", "push", "delete", "*"];
const CATALOG_ACTIONS: &[&str] = &["*"];

/// The actions `identity` (None: anonymous) is granted out of those `requested`.
///
/// Current rule, until projects and roles arrive: a system admin gets everything asked
/// for on any repository and the catalog; anyone else, anonymous included, gets nothing.
/// The result is always a subset of `requested.actions`, in request order.
pub fn grant(identity: Option<&Identity>, requested: &Scope) -> Vec<String> {
    let is_admin = identity.is_some_and(|id| id.is_admin);
    let allowed: &[&str] = match &requested.resource {
        ScopeResource::Repository(_) if is_admin => REPOSITORY_ACTIONS,
        ScopeResource::Registry(name) if is_admin && name == "catalog" => CATALOG_ACTIONS,
        _ => &[],
    };
    requested
        .actions
        .iter()
        .filter(|action| allowed.contains(&action.as_str()))
        .cloned()
        .collect()
}

/// A replaceable grant decision. Implementations may consult a database for the facts
/// (memberships, public projects) and then decide with a pure function like [`grant`].
#[async_trait]
pub trait GrantPolicy: Send + Sync {
    async fn grant(
        &self,
        identity: Option<&Identity>,
        requested: &Scope,
    ) -> Result<Vec<String>, AuthError>;
}

/// The policy of [`grant`]: system admins only.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdminOnlyPolicy;

#[async_trait]
impl GrantPolicy for AdminOnlyPolicy {
    async fn grant(
        &self,
        identity: Option<&Identity>,
        requested: &Scope,
    ) -> Result<Vec<String>, AuthError> {
        Ok(grant(identity, requested))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Identity {
        Identity {
            username: "admin".into(),
            is_admin: true,
        }
    }

    fn user() -> Identity {
        Identity {
            username: "dev".into(),
            is_admin: false,
        }
    }

    fn scope(s: &str) -> Scope {
        Scope::parse(s).unwrap()
    }

    /// The full table: who x what was requested -> what is granted.
    #[test]
    fn grant_table() {
        let admin = admin();
        let user = user();
        let cases: &[(Option<&Identity>, &str, &[&str])] = &[
            (Some(&admin), "repository:lib/app:pull", &["pull"]),
            (
                Some(&admin),
                "repository:lib/app:pull,push",
                &["pull", "push"],
            ),
            (
                Some(&admin),
                "repository:lib/app:push,pull",
                &["push", "pull"],
            ),
            (Some(&admin), "repository:lib/app:delete", &["delete"]),
            (Some(&admin), "repository:lib/app:*", &["*"]),
            (Some(&admin), "repository:lib/app:pull,fly", &["pull"]),
            (Some(&admin), "repository:lib/app:", &[]),
            (Some(&admin), "registry:catalog:*", &["*"]),
            (Some(&admin), "registry:catalog:pull", &[]),
            (Some(&admin), "registry:other:*", &[]),
            (Some(&user), "repository:lib/app:pull", &[]),
            (Some(&user), "repository:lib/app:pull,push,delete,*", &[]),
            (Some(&user), "registry:catalog:*", &[]),
            (None, "repository:lib/app:pull", &[]),
            (None, "repository:lib/app:*", &[]),
            (None, "registry:catalog:*", &[]),
        ];
        for (who, requested, expected) in cases {
            let got = grant(*who, &scope(requested));
            assert_eq!(got, *expected, "{who:?} {requested}");
        }
    }

    #[test]
    fn never_wider_than_requested() {
        let requested = scope("repository:a:pull");
        let got = grant(Some(&admin()), &requested);
        assert!(got.iter().all(|a| requested.actions.contains(a)));
    }
}
