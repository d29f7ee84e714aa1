//! Shared fixtures: in-memory users, an in-memory access directory (projects, members,
//! robots) and a ready token service.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use token_auth::rbac::{
    Access, AccessDirectory, DirectoryError, ProjectAccess, ProjectRole, RobotAccount, RobotLevel,
    RobotPermission, UserAccount,
};
use token_auth::{
    Accounts, AuthError, CredentialVerifier, Identity, RobotVerifier, SigningKey, TokenConfig,
    TokenService, hash_robot_secret,
};

pub const ADMIN: (&str, &str) = ("admin", "Adm1n:secret");
pub const DEV: (&str, &str) = ("dev", "dev-password");
pub const GUEST: (&str, &str) = ("guest", "guest-password");
pub const OUTSIDER: (&str, &str) = ("outsider", "outsider-password");

/// The server-side key robot secrets are hashed with.
pub const ROBOT_KEY: &[u8] = b"test robot key";
/// Pull-only robot of project `lib`.
pub const PULL_ROBOT: (&str, &str) = ("robot$lib+pull", "PullSecret0123456789abcdefABCDEF");
/// Push robot of project `lib` (push implies pull).
pub const PUSH_ROBOT: (&str, &str) = ("robot$lib+push", "PushSecret0123456789abcdefABCDEF");
/// Disabled robot with full access to `lib`.
pub const DISABLED_ROBOT: (&str, &str) = ("robot$lib+off", "OffSecret0123456789abcdefABCDEFG");
/// Expired robot with full access to `lib`.
pub const EXPIRED_ROBOT: (&str, &str) = ("robot$lib+old", "OldSecret0123456789abcdefABCDEFG");

/// Project ids of the standard directory.
pub const LIB: i64 = 1;
pub const TEAM: i64 = 2;
pub const PUBLIC: i64 = 3;

/// username -> (id, password, is_admin). `broken` makes every check fail like a dead DB.
pub struct MemoryUsers {
    users: HashMap<String, (i64, String, bool)>,
    broken: bool,
}

impl MemoryUsers {
    pub fn new() -> MemoryUsers {
        let mut users = HashMap::new();
        for (id, (name, password), admin) in [
            (1, ADMIN, true),
            (2, DEV, false),
            (3, GUEST, false),
            (4, OUTSIDER, false),
        ] {
            users.insert(name.to_owned(), (id, password.to_owned(), admin));
        }
        MemoryUsers {
            users,
            broken: false,
        }
    }

    pub fn broken() -> MemoryUsers {
        MemoryUsers {
            broken: true,
            ..MemoryUsers::new()
        }
    }
}

#[async_trait]
impl CredentialVerifier for MemoryUsers {
    async fn verify(&self, username: &str, password: &str) -> Result<Option<Identity>, AuthError> {
        if self.broken {
            return Err(AuthError::backend(std::io::Error::other(
                "database is down",
            )));
        }
        Ok(self
            .users
            .get(username)
            .filter(|(_, p, _)| p == password)
            .map(|(id, _, is_admin)| {
                Identity::User(UserAccount {
                    id: *id,
                    username: username.to_owned(),
                    sysadmin: *is_admin,
                })
            }))
    }
}

/// Projects, memberships and robots in memory, changeable while a test runs.
#[derive(Default)]
pub struct MemoryDirectory {
    projects: Mutex<HashMap<String, ProjectAccess>>,
    members: Mutex<HashMap<(i64, i64), ProjectRole>>,
    robots: Mutex<HashMap<String, (RobotAccount, String)>>,
    /// How many project lookups reached the directory.
    pub project_lookups: AtomicUsize,
    pub broken: bool,
}

impl MemoryDirectory {
    /// Projects `lib` (private; dev is a developer, guest a guest), `team` (private, no
    /// members) and `public` (public); the robots above.
    pub fn standard() -> MemoryDirectory {
        let d = MemoryDirectory::default();
        d.add_project(LIB, "lib", false, 0);
        d.add_project(TEAM, "team", false, 0);
        d.add_project(PUBLIC, "public", true, 0);
        d.add_member(LIB, 2, ProjectRole::Developer);
        d.add_member(LIB, 3, ProjectRole::Guest);
        d.add_robot(
            PULL_ROBOT,
            robot(PULL_ROBOT.0, "lib", &[("repository", "pull")]),
        );
        d.add_robot(
            PUSH_ROBOT,
            robot(PUSH_ROBOT.0, "lib", &[("repository", "push")]),
        );
        d.add_robot(
            DISABLED_ROBOT,
            RobotAccount {
                disabled: true,
                ..robot(DISABLED_ROBOT.0, "lib", &[("*", "*")])
            },
        );
        d.add_robot(
            EXPIRED_ROBOT,
            RobotAccount {
                expires_at: 1_000,
                ..robot(EXPIRED_ROBOT.0, "lib", &[("*", "*")])
            },
        );
        d
    }

    pub fn broken() -> MemoryDirectory {
        MemoryDirectory {
            broken: true,
            ..MemoryDirectory::standard()
        }
    }

    pub fn add_project(&self, id: i64, name: &str, public: bool, created_at: i64) {
        self.projects.lock().unwrap().insert(
            name.to_owned(),
            ProjectAccess {
                id,
                name: name.to_owned(),
                public,
                created_at,
            },
        );
    }

    pub fn delete_project(&self, name: &str) {
        let removed = self.projects.lock().unwrap().remove(name).unwrap();
        self.members
            .lock()
            .unwrap()
            .retain(|(project, _), _| *project != removed.id);
    }

    pub fn add_member(&self, project: i64, user: i64, role: ProjectRole) {
        self.members.lock().unwrap().insert((project, user), role);
    }

    pub fn add_robot(&self, (name, secret): (&str, &str), account: RobotAccount) {
        self.robots.lock().unwrap().insert(
            name.to_owned(),
            (account, hash_robot_secret(ROBOT_KEY, secret)),
        );
    }

    fn check(&self) -> Result<(), DirectoryError> {
        if self.broken {
            return Err(DirectoryError::Unavailable("database is down".into()));
        }
        Ok(())
    }
}

/// A project robot of `project` with `access` pairs.
pub fn robot(name: &str, project: &str, access: &[(&str, &str)]) -> RobotAccount {
    RobotAccount {
        id: 100,
        name: name.to_owned(),
        level: RobotLevel::Project,
        disabled: false,
        expires_at: -1,
        permissions: vec![RobotPermission {
            kind: "project".into(),
            namespace: project.into(),
            access: access
                .iter()
                .map(|(resource, action)| Access {
                    resource: (*resource).into(),
                    action: (*action).into(),
                    effect: None,
                })
                .collect(),
        }],
    }
}

#[async_trait]
impl AccessDirectory for MemoryDirectory {
    async fn project(&self, name: &str) -> Result<Option<ProjectAccess>, DirectoryError> {
        self.check()?;
        self.project_lookups.fetch_add(1, Ordering::SeqCst);
        Ok(self.projects.lock().unwrap().get(name).cloned())
    }

    async fn member_role(
        &self,
        project_id: i64,
        user_id: i64,
    ) -> Result<Option<ProjectRole>, DirectoryError> {
        self.check()?;
        Ok(self
            .members
            .lock()
            .unwrap()
            .get(&(project_id, user_id))
            .copied())
    }

    async fn robot(&self, name: &str) -> Result<Option<(RobotAccount, String)>, DirectoryError> {
        self.check()?;
        Ok(self.robots.lock().unwrap().get(name).cloned())
    }
}

/// A token service over `users` and `directory`, as the gateway wires it.
pub fn service_full(
    config: TokenConfig,
    users: MemoryUsers,
    directory: Arc<MemoryDirectory>,
) -> (Arc<TokenService>, SigningKey) {
    let (key, pem) = SigningKey::generate().unwrap();
    let robots = RobotVerifier::new(directory.clone(), ROBOT_KEY);
    let accounts = Accounts::new(Arc::new(users), Arc::new(robots));
    let service = TokenService::new(
        config,
        SigningKey::from_pem(&pem).unwrap(),
        Arc::new(accounts),
        directory,
    )
    .unwrap();
    (Arc::new(service), key)
}

pub fn service_with(config: TokenConfig, users: MemoryUsers) -> (Arc<TokenService>, SigningKey) {
    service_full(config, users, Arc::new(MemoryDirectory::standard()))
}

pub fn service() -> (Arc<TokenService>, SigningKey) {
    service_with(TokenConfig::default(), MemoryUsers::new())
}

/// The decoded JSON of a JWT's header (part 0) or claims (part 1), unverified.
pub fn jwt_part(token: &str, part: usize) -> serde_json::Value {
    let segment = token.split('.').nth(part).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}
