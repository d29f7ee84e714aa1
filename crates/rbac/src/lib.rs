//! Berth's permission model, shared by the token service, `/v2` and `/api/v2.0`.
//!
//! This crate is pure: it holds the model (roles, principals, robot permissions), the
//! vocabulary (Harbor's resources and actions), Harbor's project permission matrix, the
//! one function that decides every (principal, project, resource, action) question
//! ([`permits`]), and the lookup trait ([`AccessDirectory`]) that the `projects` crate
//! implements on the database. No I/O happens here.
//!
//! Module map: `model` (who), `resource` (what), `matrix` (roles and public projects),
//! `robot` (robot permission lists), `policy` (the decision), `directory` (lookups).

mod directory;
mod matrix;
mod model;
mod policy;
mod resource;
mod robot;

pub use directory::{AccessDirectory, DirectoryError, ProjectAccess};
pub use model::{
    Access, Principal, ProjectRole, RobotAccount, RobotLevel, RobotPermission, UserAccount,
};
pub use policy::permits;
pub use resource::{Action, Resource};
