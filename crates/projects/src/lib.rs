//! Berth's metadata database, on SQLite (embedded default, one data directory, zero
//! setup) or Postgres (production, shared by several replicas).
//!
//! [`Database`] implements [`registry_core::MetadataStore`] (repositories, blobs,
//! manifests, tags, upload sessions) and owns the users and settings tables. Both
//! backends run the same SQL and pass the same contract tests (`tests/contract.rs`).
//! Migrations live at the workspace root in `migrations/sqlite` and
//! `migrations/postgres` (one schema, two dialects) and are embedded in the binary.

mod access;
mod accounts;
mod activity;
mod audit;
mod bootstrap;
mod codec;
mod db;
mod error;
mod password;
mod password_cache;
mod registry;
mod settings;
mod tenancy;
mod users;

pub use accounts::{
    CreateRobotOutcome, CreateUserOutcome, NewRobot, NewUser, RobotFilter, RobotRecord,
    RobotSortField, RobotUpdate, UpdateProfileOutcome, UserFilter, UserRecord, UserSortField,
};
pub use activity::PullStats;
pub use audit::{AuditEntry, AuditFilter, AuditSortField, NewAuditEntry};
pub use db::Database;
pub use error::DbError;
pub use tenancy::{
    AddMemberOutcome, Artifact, ArtifactChild, ArtifactFilter, ArtifactRef, ArtifactSortField,
    ArtifactTag, CreateProjectOutcome, CreateTagOutcome, DeleteArtifactOutcome,
    DeleteProjectOutcome, Member, MemberUser, NewProject, PUBLIC_KEY, Project, ProjectFilter,
    ProjectScope, ProjectSortField, RepositoryFilter, RepositoryInfo, RepositorySortField, SortKey,
    TagFilter, TagSortField, TextMatch, Window,
};
pub use users::User;
