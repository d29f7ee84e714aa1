//! The project side of the metadata database: projects and their metadata, members,
//! and the admin API's views of repositories, artifacts and tags; plus the filter,
//! sort and window vocabulary that every listing shares.

mod artifacts;
mod filter;
mod members;
mod projects;
mod repositories;

pub use artifacts::{
    Artifact, ArtifactChild, ArtifactFilter, ArtifactRef, ArtifactSortField, ArtifactTag,
    CreateTagOutcome, DeleteArtifactOutcome, TagFilter, TagSortField,
};
pub use filter::{SortKey, TextMatch, Window};
pub use members::{AddMemberOutcome, Member, MemberUser};
pub use projects::{
    CreateProjectOutcome, DeleteProjectOutcome, NewProject, PUBLIC_KEY, Project, ProjectFilter,
    ProjectScope, ProjectSortField,
};
pub use repositories::{RepositoryFilter, RepositoryInfo, RepositorySortField};
