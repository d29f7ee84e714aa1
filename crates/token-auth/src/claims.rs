//! The JWT claim set of distribution's token specification, and the one question asked
//! of it on every `/v2` request: does its `access` claim cover this resource and action?

use std::time::{SystemTime, UNIX_EPOCH};

use registry_core::{Action, Resource};
use serde::{Deserialize, Serialize};

/// The claims Berth signs into every access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// Account name; empty for an anonymous token, as the specification asks.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<AccessEntry>,
}

/// One `access` entry: what the token allows on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Claims {
    /// Whether the `access` claim grants `action` on `resource`. Matching is exact on type
    /// and name: a token for `lib/app` says nothing about `lib/app/sub` or `Lib/App`.
    pub fn permits(&self, resource: &Resource, action: Action) -> bool {
        let (resource_type, name, needed) = match resource {
            // The base endpoint only asks "is this a valid token?".
            Resource::Base => return true,
            Resource::Catalog => ("registry", "catalog", "*"),
            Resource::Repository(name) => ("repository", name.as_str(), action.as_str()),
        };
        self.access.iter().any(|entry| {
            entry.resource_type == resource_type
                && entry.name == name
                && entry.actions.iter().any(|a| a == needed || a == "*")
        })
    }
}

/// Seconds since the Unix epoch; a clock before 1970 reads as 0.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(access: Vec<AccessEntry>) -> Claims {
        Claims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            exp: 0,
            nbf: 0,
            iat: 0,
            jti: "j".into(),
            access,
        }
    }

    fn entry(t: &str, n: &str, actions: &[&str]) -> AccessEntry {
        AccessEntry {
            resource_type: t.into(),
            name: n.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn repo(n: &str) -> Resource {
        Resource::Repository(n.parse().unwrap())
    }

    #[test]
    fn exact_repository_and_action() {
        let c = claims(vec![entry("repository", "lib/app", &["pull"])]);
        assert!(c.permits(&repo("lib/app"), Action::Pull));
        assert!(!c.permits(&repo("lib/app"), Action::Push));
        assert!(!c.permits(&repo("lib/app/sub"), Action::Pull));
        assert!(!c.permits(&repo("lib"), Action::Pull));
        assert!(!c.permits(&Resource::Catalog, Action::Pull));
        assert!(c.permits(&Resource::Base, Action::Pull));
    }

    #[test]
    fn wildcard_action_covers_all() {
        let c = claims(vec![entry("repository", "a", &["*"])]);
        for action in [Action::Pull, Action::Push, Action::Delete] {
            assert!(c.permits(&repo("a"), action));
        }
    }

    #[test]
    fn catalog_needs_registry_catalog_star() {
        assert!(
            claims(vec![entry("registry", "catalog", &["*"])])
                .permits(&Resource::Catalog, Action::Pull)
        );
        assert!(
            !claims(vec![entry("registry", "catalog", &["pull"])])
                .permits(&Resource::Catalog, Action::Pull)
        );
        assert!(
            !claims(vec![entry("repository", "catalog", &["*"])])
                .permits(&Resource::Catalog, Action::Pull)
        );
    }

    #[test]
    fn type_must_match_exactly() {
        let c = claims(vec![entry("repository(plugin)", "a", &["pull"])]);
        assert!(!c.permits(&repo("a"), Action::Pull));
    }

    #[test]
    fn anonymous_token_still_opens_the_base_endpoint() {
        assert!(claims(vec![]).permits(&Resource::Base, Action::Pull));
    }
}
