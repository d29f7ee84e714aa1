//! Harbor's project permission matrix, restricted to the resources Berth has.
//!
//! Source: Harbor's `src/common/rbac/project/rbac_role.go` (per-role policies) and
//! `rbac_util.go` (what a public project gives everyone). Kept as data so the table can
//! be read side by side with Harbor's.

use crate::model::ProjectRole;
use crate::resource::{Action, Resource};

use Action::{Create, Delete, List, Pull, Push, Read, Update};

/// One role's grants: for each resource, the actions allowed on it.
type Grants = &'static [(Resource, &'static [Action])];

const PROJECT_ADMIN: Grants = &[
    (Resource::Project, &[Read, Update, Delete]),
    (Resource::Metadata, &[Create, Read, Update, Delete]),
    (Resource::Member, &[Create, Read, Update, Delete, List]),
    (Resource::Log, &[List]),
    (
        Resource::Repository,
        &[Create, Read, Update, Delete, List, Pull, Push],
    ),
    (Resource::Artifact, &[Create, Read, Delete, List]),
    (Resource::Tag, &[Create, Delete, List]),
    (Resource::Robot, &[Create, Read, Update, Delete, List]),
];

const MAINTAINER: Grants = &[
    (Resource::Project, &[Read]),
    (Resource::Metadata, &[Read]),
    (Resource::Member, &[Read, List]),
    (
        Resource::Repository,
        &[Create, Read, Update, Delete, List, Pull, Push],
    ),
    (Resource::Artifact, &[Create, Read, Delete, List]),
    (Resource::Tag, &[Create, Delete, List]),
    (Resource::Robot, &[Read, List]),
];

const DEVELOPER: Grants = &[
    (Resource::Project, &[Read]),
    (Resource::Member, &[Read, List]),
    (
        Resource::Repository,
        &[Create, Read, Update, List, Pull, Push],
    ),
    (Resource::Artifact, &[Create, Read, List]),
    (Resource::Tag, &[Create, List]),
    (Resource::Robot, &[Read, List]),
];

const GUEST: Grants = &[
    (Resource::Project, &[Read]),
    (Resource::Member, &[Read, List]),
    (Resource::Repository, &[Read, List, Pull]),
    (Resource::Artifact, &[Read, List]),
    (Resource::Tag, &[List]),
    (Resource::Robot, &[Read, List]),
];

const LIMITED_GUEST: Grants = &[
    (Resource::Project, &[Read]),
    (Resource::Repository, &[Read, List, Pull]),
    (Resource::Artifact, &[Read, List]),
    (Resource::Tag, &[List]),
];

/// What a public project allows everyone, anonymous included. Note that Harbor gives
/// `list` but not `read` on repositories here.
const PUBLIC_PROJECT: Grants = &[
    (Resource::Project, &[Read]),
    (Resource::Repository, &[List, Pull]),
    (Resource::Artifact, &[Read, List]),
    (Resource::Tag, &[List]),
];

fn grants(table: Grants, resource: Resource, action: Action) -> bool {
    table
        .iter()
        .any(|(r, actions)| *r == resource && actions.contains(&action))
}

/// Whether a member with `role` may perform `action` on `resource`.
pub(crate) fn role_allows(role: ProjectRole, resource: Resource, action: Action) -> bool {
    let table = match role {
        ProjectRole::ProjectAdmin => PROJECT_ADMIN,
        ProjectRole::Maintainer => MAINTAINER,
        ProjectRole::Developer => DEVELOPER,
        ProjectRole::Guest => GUEST,
        ProjectRole::LimitedGuest => LIMITED_GUEST,
    };
    grants(table, resource, action)
}

/// Whether a public project lets anyone perform `action` on `resource`.
pub(crate) fn public_allows(resource: Resource, action: Action) -> bool {
    grants(PUBLIC_PROJECT, resource, action)
}
