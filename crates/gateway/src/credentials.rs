//! Connects the token service's credential check to the users table.

use async_trait::async_trait;
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
        Ok(user.map(|u| Identity {
            username: u.username,
            is_admin: u.is_admin,
        }))
    }
}
