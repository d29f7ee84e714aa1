//! The accounts side of the admin API: user administration, robot accounts, storage
//! statistics, and the WHERE-clause builder their listings (and the audit log's, in
//! `audit.rs`) share. Filters use the project listings' vocabulary (`tenancy`).

pub(crate) mod filter;
mod robots;
mod stats;
mod users_admin;

pub use robots::{
    CreateRobotOutcome, NewRobot, RobotFilter, RobotRecord, RobotSortField, RobotUpdate,
};
pub use users_admin::{
    CreateUserOutcome, NewUser, UpdateProfileOutcome, UserFilter, UserRecord, UserSortField,
};
