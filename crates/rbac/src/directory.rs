//! Lookups the permission checks need, implemented on the database by `projects`.

use async_trait::async_trait;

use crate::model::{ProjectRole, RobotAccount};

/// The crate's one error type: a lookup of the [`AccessDirectory`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The backing store cannot answer now (down, overloaded, busy); retrying may help.
    #[error("access directory unavailable: {0}")]
    Unavailable(String),
    /// Any other failure, such as a stored value this code cannot read.
    #[error("access directory failure: {0}")]
    Failed(String),
}

/// What access decisions need to know about a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectAccess {
    pub id: i64,
    pub name: String,
    pub public: bool,
    /// Unix seconds; a token issued before this cannot refer to this project (a deleted
    /// project's tokens must not open a new project of the same name).
    pub created_at: i64,
}

#[async_trait]
pub trait AccessDirectory: Send + Sync + 'static {
    /// The project named `name`, if it exists.
    async fn project(&self, name: &str) -> Result<Option<ProjectAccess>, DirectoryError>;

    /// The role of user `user_id` in project `project_id`, if a member.
    async fn member_role(
        &self,
        project_id: i64,
        user_id: i64,
    ) -> Result<Option<ProjectRole>, DirectoryError>;

    /// A robot account by its full name (`robot$...`), with its secret hash for login.
    async fn robot(&self, name: &str) -> Result<Option<(RobotAccount, String)>, DirectoryError>;
}
