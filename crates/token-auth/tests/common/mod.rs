//! Shared fixtures: an in-memory credential store and a ready token service.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use token_auth::{AuthError, CredentialVerifier, Identity, SigningKey, TokenConfig, TokenService};

pub const ADMIN: (&str, &str) = ("admin", "Adm1n:secret");
pub const DEV: (&str, &str) = ("dev", "dev-password");

/// username -> (password, is_admin). `broken` makes every check fail like a dead DB.
pub struct MemoryUsers {
    users: HashMap<String, (String, bool)>,
    broken: bool,
}

impl MemoryUsers {
    pub fn new() -> MemoryUsers {
        let mut users = HashMap::new();
        users.insert(ADMIN.0.to_owned(), (ADMIN.1.to_owned(), true));
        users.insert(DEV.0.to_owned(), (DEV.1.to_owned(), false));
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
            .filter(|(p, _)| p == password)
            .map(|(_, is_admin)| Identity {
                username: username.to_owned(),
                is_admin: *is_admin,
            }))
    }
}

pub fn service_with(config: TokenConfig, users: MemoryUsers) -> (Arc<TokenService>, SigningKey) {
    let (key, pem) = SigningKey::generate().unwrap();
    let service =
        TokenService::new(config, SigningKey::from_pem(&pem).unwrap(), Arc::new(users)).unwrap();
    (Arc::new(service), key)
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
