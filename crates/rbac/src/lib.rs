//! Berth's permission model, shared by the token service, `/v2` and `/api/v2.0`.
//!
//! This crate is pure: it holds the model (roles, principals, robot permissions), the
//! one function that decides every (principal, project, resource, action) question
//! ([`permits`], in `policy.rs`), and the lookup trait ([`AccessDirectory`]) that the
//! `projects` crate implements on the database. No I/O happens here.

mod directory;
mod model;
mod policy;

pub use directory::{AccessDirectory, DirectoryError, ProjectAccess};
pub use model::{
    Access, Principal, ProjectRole, RobotAccount, RobotLevel, RobotPermission, UserAccount,
};
pub use policy::{Action, Resource, permits};
