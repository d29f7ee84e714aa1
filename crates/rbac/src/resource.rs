//! The vocabulary of permissions: Harbor's project-scoped RBAC resources and actions,
//! spelled as Harbor spells them in robot permissions and the `/permissions` API.

use std::fmt;

/// Harbor's project-scoped RBAC resources that Berth has.
///
/// `Project` is the project itself (Harbor's empty "self" sub-resource, written
/// `project` in robot permissions); the others are sub-resources of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Project,
    Metadata,
    Member,
    Log,
    Repository,
    Artifact,
    Tag,
    Robot,
}

impl Resource {
    /// Every resource, in a stable order (tables, listings).
    pub const ALL: [Resource; 8] = [
        Resource::Project,
        Resource::Metadata,
        Resource::Member,
        Resource::Log,
        Resource::Repository,
        Resource::Artifact,
        Resource::Tag,
        Resource::Robot,
    ];

    /// Harbor's name of the resource.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Project => "project",
            Resource::Metadata => "metadata",
            Resource::Member => "member",
            Resource::Log => "log",
            Resource::Repository => "repository",
            Resource::Artifact => "artifact",
            Resource::Tag => "tag",
            Resource::Robot => "robot",
        }
    }

    /// The resource Harbor names `s`; `None` for the wildcard and for resources Berth
    /// does not have (`scan`, `label`, ...), which therefore never match anything.
    pub fn parse(s: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Harbor's RBAC actions (those that apply to the resources above).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    List,
    Pull,
    Push,
}

impl Action {
    /// Every action, in a stable order (tables, listings).
    pub const ALL: [Action; 7] = [
        Action::Create,
        Action::Read,
        Action::Update,
        Action::Delete,
        Action::List,
        Action::Pull,
        Action::Push,
    ];

    /// Harbor's name of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::List => "list",
            Action::Pull => "pull",
            Action::Push => "push",
        }
    }

    /// The action Harbor names `s`; `None` for the wildcard and unknown names.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Resource::ALL {
            assert_eq!(Resource::parse(r.as_str()), Some(r));
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Resource::parse("*"), None);
        assert_eq!(Resource::parse("scan"), None);
        assert_eq!(Resource::parse("Repository"), None);
        assert_eq!(Action::parse("*"), None);
        assert_eq!(Action::parse("PULL"), None);
    }
}
