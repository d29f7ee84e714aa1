//! The admin API's credential check, on top of the token service: Basic credentials go
//! through the same login path as `/service/token` (same robot handling, same rate
//! limit, same audit), and Bearer tokens are the ones that service issues.

use std::net::IpAddr;
use std::sync::Arc;

use admin_api::{ApiError, Authenticator, Caller};
use async_trait::async_trait;
use token_auth::rbac::{AccessDirectory, UserAccount};
use token_auth::{AuthError, Identity, TokenService};

pub struct TokenAuthenticator {
    tokens: Arc<TokenService>,
    db: projects::Database,
}

impl TokenAuthenticator {
    pub fn new(tokens: Arc<TokenService>, db: projects::Database) -> Self {
        Self { tokens, db }
    }
}

fn caller(identity: Identity) -> Caller {
    match identity {
        Identity::User(user) => Caller::User(user),
        Identity::Robot(robot) => Caller::Robot(robot),
    }
}

#[async_trait]
impl Authenticator for TokenAuthenticator {
    async fn basic(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Option<Caller>, ApiError> {
        match self.tokens.authenticate(username, password, client).await {
            Ok(identity) => Ok(Some(caller(identity))),
            Err(AuthError::InvalidCredentials | AuthError::MalformedCredentials) => Ok(None),
            Err(AuthError::TooManyAttempts { retry_after }) => Err(ApiError::too_many_requests(
                format!("too many failed logins; retry in {retry_after} seconds"),
            )),
            Err(other) => Err(ApiError::internal(other)),
        }
    }

    async fn bearer(&self, token: &str) -> Result<Option<Caller>, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let Ok(claims) = self.tokens.verifier().verify_token(token, None, now) else {
            return Ok(None);
        };
        if claims.sub.is_empty() {
            return Ok(Some(Caller::Anonymous));
        }
        // The token names an account; what it may do comes from that account now, not
        // from the registry scopes the token carries.
        if claims.sub.starts_with(token_auth::ROBOT_PREFIX) {
            let robot = self
                .db
                .robot(&claims.sub)
                .await
                .map_err(ApiError::internal)?;
            return Ok(robot
                .map(|(robot, _)| robot)
                .filter(|robot| robot.is_active(now))
                .map(Caller::Robot));
        }
        let user = self
            .db
            .user_by_name(&claims.sub)
            .await
            .map_err(ApiError::from)?;
        Ok(user.map(|u| {
            Caller::User(UserAccount {
                id: u.id,
                username: u.username,
                sysadmin: u.sysadmin,
            })
        }))
    }
}
