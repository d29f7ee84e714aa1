//! Who is asking: the authenticated [`Identity`], the credential-check contract the
//! gateway implements on its users table, the dispatch between users and robot
//! accounts, and the Basic `Authorization` header it is all fed from.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rbac::{Principal, ProjectRole, RobotAccount, UserAccount};

use crate::error::AuthError;
use crate::robots::ROBOT_PREFIX;

/// An authenticated account: a local user or a robot account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    User(UserAccount),
    /// The robot as it was when it logged in, permissions included.
    Robot(RobotAccount),
}

impl Identity {
    /// The login name: the token subject and the name in logs.
    pub fn username(&self) -> &str {
        match self {
            Identity::User(user) => &user.username,
            Identity::Robot(robot) => &robot.name,
        }
    }

    /// Robots are never system admins, whatever their permissions.
    pub fn is_sysadmin(&self) -> bool {
        matches!(self, Identity::User(user) if user.sysadmin)
    }

    /// The principal the permission function sees for a project in which a user holds
    /// `role` (ignored for robots, whose permissions travel with them).
    pub fn principal(&self, role: Option<ProjectRole>) -> Principal {
        match self {
            Identity::User(account) => Principal::User {
                account: account.clone(),
                role,
            },
            Identity::Robot(robot) => Principal::Robot(robot.clone()),
        }
    }
}

/// Checks a username and password (or robot secret).
#[async_trait]
pub trait CredentialVerifier: Send + Sync {
    /// `Ok(None)` for wrong credentials, unknown, disabled or expired accounts alike;
    /// `Err` only when the check itself could not run (use [`AuthError::backend`]).
    async fn verify(&self, username: &str, password: &str) -> Result<Option<Identity>, AuthError>;
}

/// Sends `robot$...` names to the robot verifier and every other name to the users
/// verifier, so a user can never be mistaken for a robot or the other way round.
pub struct Accounts {
    users: Arc<dyn CredentialVerifier>,
    robots: Arc<dyn CredentialVerifier>,
}

impl Accounts {
    pub fn new(users: Arc<dyn CredentialVerifier>, robots: Arc<dyn CredentialVerifier>) -> Self {
        Accounts { users, robots }
    }
}

#[async_trait]
impl CredentialVerifier for Accounts {
    async fn verify(&self, username: &str, password: &str) -> Result<Option<Identity>, AuthError> {
        let verifier = if username.starts_with(ROBOT_PREFIX) {
            &self.robots
        } else {
            &self.users
        };
        let identity = verifier.verify(username, password).await?;
        // A verifier answering for another kind of account would bypass the prefix rule.
        Ok(identity
            .filter(|id| matches!(id, Identity::Robot(_)) == username.starts_with(ROBOT_PREFIX)))
    }
}

/// A username and password taken from a request. `Debug` hides the password so the
/// value can sit in spans and error chains without leaking it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Reads `Authorization: Basic ...`. Any other scheme, or no header, is an anonymous
    /// request (`Ok(None)`); a Basic header that does not decode is an error, so a client
    /// with broken credentials is told rather than silently treated as anonymous.
    pub fn from_basic_header(headers: &HeaderMap) -> Result<Option<Credentials>, AuthError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let value = value
            .to_str()
            .map_err(|_| AuthError::MalformedCredentials)?;
        let value = value.trim();
        let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Ok(None);
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .map_err(|_| AuthError::MalformedCredentials)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthError::MalformedCredentials)?;
        // The password may itself contain ':'; the username may not (RFC 7617).
        let (username, password) = decoded
            .split_once(':')
            .ok_or(AuthError::MalformedCredentials)?;
        Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn reads_basic_credentials() {
        let encoded = STANDARD.encode("admin:pa:ss");
        let c = Credentials::from_basic_header(&with_auth(&format!("Basic {encoded}")))
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "admin");
        assert_eq!(c.password, "pa:ss");
        let lower = Credentials::from_basic_header(&with_auth(&format!("basic {encoded}")));
        assert!(lower.unwrap().is_some());
    }

    #[test]
    fn no_header_or_other_scheme_is_anonymous() {
        assert!(
            Credentials::from_basic_header(&HeaderMap::new())
                .unwrap()
                .is_none()
        );
        assert!(
            Credentials::from_basic_header(&with_auth("Bearer abc"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn malformed_basic_is_an_error() {
        for bad in [
            "Basic !!!",
            "Basic ",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            assert!(
                Credentials::from_basic_header(&with_auth(bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_redacts_password() {
        let c = Credentials {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
