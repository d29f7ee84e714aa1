//! Requested scopes: `repository:<name>:<actions>` and `registry:catalog:*`, parsed by the
//! grammar of distribution's token scope documentation.

use std::fmt;

use registry_core::RepoName;

use crate::error::AuthError;

/// Most scopes accepted in one token request; a real client asks for a handful, and each
/// one costs a policy decision.
pub const MAX_SCOPES: usize = 64;

/// The resource a scope names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScopeResource {
    /// `repository:<name>` (also written `repository(<class>):<name>`; the class is
    /// deprecated and ignored, as distribution does).
    Repository(RepoName),
    /// `registry:<name>`; `registry:catalog` is the only one Berth grants.
    Registry(String),
}

impl ScopeResource {
    /// The resource type as it appears in a token's `access` claim.
    pub fn resource_type(&self) -> &'static str {
        match self {
            ScopeResource::Repository(_) => "repository",
            ScopeResource::Registry(_) => "registry",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ScopeResource::Repository(name) => name.as_str(),
            ScopeResource::Registry(name) => name,
        }
    }
}

/// One resource scope and the actions requested on it, deduplicated in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub resource: ScopeResource,
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses one `type[(class)]:name:action[,action]*` scope.
    ///
    /// The type ends at the first `:` and the actions start after the last one, so a name
    /// may not be cut short by a colon (a `host:port/` prefix then reaches the name check,
    /// which refuses it: Berth names carry no host).
    pub fn parse(s: &str) -> Result<Scope, AuthError> {
        let invalid = |why: &str| AuthError::InvalidRequest(format!("invalid scope {s:?}: {why}"));
        let (resource_type, rest) = s
            .split_once(':')
            .ok_or_else(|| invalid("expected type:name:actions"))?;
        let (name, actions) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected type:name:actions"))?;

        let resource_type = strip_class(resource_type).ok_or_else(|| invalid("bad type"))?;
        let resource = match resource_type {
            "repository" => ScopeResource::Repository(
                name.parse()
                    .map_err(|e: registry_core::name::NameError| invalid(&e.to_string()))?,
            ),
            "registry" if is_lower_alnum(name) => ScopeResource::Registry(name.to_owned()),
            "registry" => return Err(invalid("bad registry resource name")),
            _ => return Err(invalid("unknown resource type")),
        };

        let mut parsed: Vec<String> = Vec::new();
        // `action := /[a-z]*/`, so empty items are legal and simply ask for nothing.
        for action in actions.split(',').filter(|a| !a.is_empty()) {
            let valid = action == "*" || action.bytes().all(|b| b.is_ascii_lowercase());
            if !valid {
                return Err(invalid("bad action"));
            }
            if !parsed.iter().any(|a| a == action) {
                parsed.push(action.to_owned());
            }
        }
        Ok(Scope {
            resource,
            actions: parsed,
        })
    }

    /// Parses every scope in `values`, each of which may itself be a space-separated
    /// list (the OAuth2 POST form), and merges scopes on the same resource.
    pub fn parse_all<'a>(
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Scope>, AuthError> {
        let mut scopes: Vec<Scope> = Vec::new();
        for item in values.into_iter().flat_map(|v| v.split(' ')) {
            if item.is_empty() {
                continue;
            }
            let scope = Scope::parse(item)?;
            match scopes.iter_mut().find(|s| s.resource == scope.resource) {
                Some(existing) => {
                    for action in scope.actions {
                        if !existing.actions.contains(&action) {
                            existing.actions.push(action);
                        }
                    }
                }
                None => scopes.push(scope),
            }
            if scopes.len() > MAX_SCOPES {
                return Err(AuthError::InvalidRequest(format!(
                    "at most {MAX_SCOPES} scopes per request"
                )));
            }
        }
        Ok(scopes)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.resource.resource_type(),
            self.resource.name(),
            self.actions.join(",")
        )
    }
}

/// `repository(plugin)` -> `repository`; `None` unless type and class are `[a-z0-9]+`.
fn strip_class(resource_type: &str) -> Option<&str> {
    let base = match resource_type.split_once('(') {
        Some((base, class)) => {
            let class = class.strip_suffix(')')?;
            if !is_lower_alnum(class) {
                return None;
            }
            base
        }
        None => resource_type,
    };
    is_lower_alnum(base).then_some(base)
}

fn is_lower_alnum(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str) -> ScopeResource {
        ScopeResource::Repository(name.parse().unwrap())
    }

    #[test]
    fn parses_repository_scope() {
        let s = Scope::parse("repository:lib/app:pull,push").unwrap();
        assert_eq!(s.resource, repo("lib/app"));
        assert_eq!(s.actions, ["pull", "push"]);
        assert_eq!(s.to_string(), "repository:lib/app:pull,push");
    }

    #[test]
    fn class_is_tolerated_and_dropped() {
        let s = Scope::parse("repository(plugin):lib/app:pull").unwrap();
        assert_eq!(s.resource, repo("lib/app"));
        assert_eq!(s.to_string(), "repository:lib/app:pull");
    }

    #[test]
    fn catalog_and_wildcard() {
        let s = Scope::parse("registry:catalog:*").unwrap();
        assert_eq!(s.resource, ScopeResource::Registry("catalog".into()));
        assert_eq!(s.actions, ["*"]);
        assert_eq!(
            Scope::parse("repository:a:*").unwrap().actions,
            ["*".to_owned()]
        );
    }

    #[test]
    fn actions_are_deduplicated_and_empty_items_skipped() {
        let s = Scope::parse("repository:a:pull,,pull,push,").unwrap();
        assert_eq!(s.actions, ["pull", "push"]);
        assert!(Scope::parse("repository:a:").unwrap().actions.is_empty());
    }

    #[test]
    fn rejects_bad_scopes() {
        for bad in [
            "",
            "repository",
            "repository:lib/app",
            "repository:Lib/App:pull",
            "repository:lib/../app:pull",
            "repository:lib%2Fapp:pull",
            "repository:../etc:pull",
            "repository:localhost:5000/app:pull",
            "repository::pull",
            "repository:lib/app:PULL",
            "repository:lib/app:pu ll",
            "repository:lib/app:pull;rm",
            "Repository:lib/app:pull",
            "repository(:lib/app:pull",
            "repository(Plugin):lib/app:pull",
            "namespace:lib:pull",
            "registry:Catalog:*",
            "registry::*",
        ] {
            let err = Scope::parse(bad).unwrap_err();
            assert!(matches!(err, AuthError::InvalidRequest(_)), "{bad}");
        }
    }

    #[test]
    fn parse_all_splits_spaces_and_merges() {
        let scopes = Scope::parse_all([
            "repository:a:pull repository:b:push",
            "repository:a:push",
            "",
        ])
        .unwrap();
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[0].to_string(), "repository:a:pull,push");
        assert_eq!(scopes[1].to_string(), "repository:b:push");
    }

    #[test]
    fn parse_all_bounds_the_number_of_scopes() {
        let many: Vec<String> = (0..=MAX_SCOPES)
            .map(|i| format!("repository:r{i}:pull"))
            .collect();
        assert!(Scope::parse_all(many.iter().map(String::as_str)).is_err());
        assert!(Scope::parse_all(many[..MAX_SCOPES].iter().map(String::as_str)).is_ok());
    }
}
