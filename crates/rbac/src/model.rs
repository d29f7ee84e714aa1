//! Who can act: users (with an optional system-admin flag), robot accounts, anonymous.

use serde::{Deserialize, Serialize};

/// Harbor's project roles, with Harbor's numeric ids (`role_id` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProjectRole {
    ProjectAdmin,
    Developer,
    Guest,
    Maintainer,
    LimitedGuest,
}

impl ProjectRole {
    pub fn id(self) -> i64 {
        match self {
            ProjectRole::ProjectAdmin => 1,
            ProjectRole::Developer => 2,
            ProjectRole::Guest => 3,
            ProjectRole::Maintainer => 4,
            ProjectRole::LimitedGuest => 5,
        }
    }

    pub fn from_id(id: i64) -> Option<Self> {
        Some(match id {
            1 => ProjectRole::ProjectAdmin,
            2 => ProjectRole::Developer,
            3 => ProjectRole::Guest,
            4 => ProjectRole::Maintainer,
            5 => ProjectRole::LimitedGuest,
            _ => return None,
        })
    }

    /// Harbor's `role_name` strings.
    pub fn name(self) -> &'static str {
        match self {
            ProjectRole::ProjectAdmin => "projectAdmin",
            ProjectRole::Developer => "developer",
            ProjectRole::Guest => "guest",
            ProjectRole::Maintainer => "maintainer",
            ProjectRole::LimitedGuest => "limitedGuest",
        }
    }
}

/// A local user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccount {
    pub id: i64,
    pub username: String,
    pub sysadmin: bool,
}

/// Robot levels: project robots (`robot$<project>+<name>`) and system robots
/// (`robot$<name>`, covering one, several or all projects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RobotLevel {
    Project,
    System,
}

/// One `{resource, action}` pair of a robot permission (Harbor's `Access`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Access {
    pub resource: String,
    pub action: String,
    /// Harbor carries an optional effect ("allow"/"deny"); Berth only grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

/// Harbor v2 robot permission: `{kind, namespace, access}`. `kind` is `project` (with
/// `namespace` a project name, or `*` for every project) or `system` (`namespace` `/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RobotPermission {
    pub kind: String,
    pub namespace: String,
    pub access: Vec<Access>,
}

/// A robot account as the permission function needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotAccount {
    pub id: i64,
    /// Full name, e.g. `robot$library+ci` or `robot$ci`.
    pub name: String,
    pub level: RobotLevel,
    pub disabled: bool,
    /// Unix seconds, or -1 for never.
    pub expires_at: i64,
    pub permissions: Vec<RobotPermission>,
}

impl RobotAccount {
    /// `expires_at` value meaning "never expires" (Harbor's `duration: -1`).
    pub const NEVER_EXPIRES: i64 = -1;

    /// Whether the account has expired at `now` (Unix seconds). As in Harbor, the
    /// account stops working at `expires_at` itself.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at != Self::NEVER_EXPIRES && self.expires_at <= now
    }

    /// Whether the account may log in at `now`: enabled and not expired.
    pub fn is_active(&self, now: i64) -> bool {
        !self.disabled && !self.is_expired(now)
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User {
        account: UserAccount,
        /// The user's role in the project in question, if a member.
        role: Option<ProjectRole>,
    },
    Robot(RobotAccount),
}
