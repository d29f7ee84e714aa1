//! Connects the token service's credential check to the users table. Robot accounts
//! are checked by `token_auth::RobotVerifier`; `token_auth::Accounts` routes each name
//! to the right one.

use async_trait::async_trait;
use token_auth::rbac::UserAccount;
use token_auth::{AuthError, CredentialVerifier, Identity};

pub struct UserCredentials {
    db: projects::Database,
}

impl UserCredentials {
    pub fn new(db: projects::Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CredentialVerifier for UserCredentials {
    async fn verify(&self, username: &str, password: &str) -> Result<Option<Identity>, AuthError> {
        let user = self
            .db
            .verify_password(username, password)
            .await
            .map_err(AuthError::backend)?;
        Ok(user.map(|u| {
            Identity::User(UserAccount {
                id: u.id,
                username: u.username,
                sysadmin: u.is_admin,
            })
        }))
    }
}
