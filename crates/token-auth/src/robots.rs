//! Robot account secrets: generation, storage form and login.
//!
//! A robot secret is 32 random alphanumeric characters (about 190 bits), so it cannot be
//! guessed and needs no slow password hash: it is stored as HMAC-SHA256 under a
//! server-side key. CI fleets request many tokens; each login costs one database lookup
//! and one HMAC, not an argon2 run. The key keeps a leaked database dump from being
//! usable to check guesses offline.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::hmac;
use rand::Rng;
use rand::distr::Alphanumeric;
use rbac::AccessDirectory;

use crate::claims::unix_now;
use crate::credentials::{CredentialVerifier, Identity};
use crate::error::AuthError;

/// Every robot login name starts with this (Harbor's default robot prefix).
pub const ROBOT_PREFIX: &str = "robot$";

/// Length of generated robot secrets.
const SECRET_LEN: usize = 32;
/// Random bytes in a generated HMAC key.
const KEY_BYTES: usize = 32;

/// The stored form of a robot secret: lowercase hex of HMAC-SHA256(`key`, `secret`).
pub fn hash_robot_secret(key: &[u8], secret: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hex::encode(hmac::sign(&key, secret.as_bytes()).as_ref())
}

/// A fresh robot secret: 32 characters from `[A-Za-z0-9]` with at least one upper-case
/// letter, one lower-case letter and one digit (Harbor's secret rule).
pub fn generate_robot_secret() -> String {
    let mut rng = rand::rng();
    loop {
        let secret: String = (0..SECRET_LEN)
            .map(|_| char::from(rng.sample(Alphanumeric)))
            .collect();
        // A 32-character draw misses a class with probability below 1e-6.
        if has_every_class(&secret) {
            return secret;
        }
    }
}

/// A fresh server-side HMAC key for robot secrets, as hex (stored once in the settings
/// table so every replica uses the same key).
pub fn generate_robot_key() -> String {
    let mut bytes = [0u8; KEY_BYTES];
    rand::rng().fill(&mut bytes[..]);
    hex::encode(bytes)
}

fn has_every_class(secret: &str) -> bool {
    secret.bytes().any(|b| b.is_ascii_uppercase())
        && secret.bytes().any(|b| b.is_ascii_lowercase())
        && secret.bytes().any(|b| b.is_ascii_digit())
}

/// Logs robot accounts in: looks the name up in the [`AccessDirectory`], checks the
/// secret in constant time, and refuses disabled and expired robots.
pub struct RobotVerifier {
    directory: Arc<dyn AccessDirectory>,
    key: hmac::Key,
}

impl RobotVerifier {
    /// `key` is the server-side HMAC key the stored secret hashes were made with.
    pub fn new(directory: Arc<dyn AccessDirectory>, key: &[u8]) -> Self {
        RobotVerifier {
            directory,
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// [`CredentialVerifier::verify`] with an explicit clock for the expiry check.
    pub async fn verify_at(
        &self,
        name: &str,
        secret: &str,
        now: i64,
    ) -> Result<Option<Identity>, AuthError> {
        let found = self
            .directory
            .robot(name)
            .await
            .map_err(AuthError::backend)?;
        let Some((robot, stored)) = found else {
            // Same work as a known robot, so timing does not tell which names exist.
            let _ = hmac::sign(&self.key, secret.as_bytes());
            return Ok(None);
        };
        let Ok(expected) = hex::decode(stored.trim()) else {
            tracing::warn!(
                robot = name,
                "stored robot secret hash is not hex; refusing"
            );
            return Ok(None);
        };
        // `hmac::verify` compares in constant time.
        if hmac::verify(&self.key, secret.as_bytes(), &expected).is_err() {
            return Ok(None);
        }
        if !robot.is_active(now) {
            tracing::info!(
                robot = name,
                disabled = robot.disabled,
                expires_at = robot.expires_at,
                "login refused: robot account disabled or expired"
            );
            return Ok(None);
        }
        Ok(Some(Identity::Robot(robot)))
    }
}

#[async_trait]
impl CredentialVerifier for RobotVerifier {
    async fn verify(&self, username: &str, password: &str) -> Result<Option<Identity>, AuthError> {
        if !username.starts_with(ROBOT_PREFIX) {
            return Ok(None);
        }
        self.verify_at(username, password, unix_now()).await
    }
}

impl fmt::Debug for RobotVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobotVerifier").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_keyed_hex_sha256() {
        let a = hash_robot_secret(b"key-one", "Secret1");
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(a, hash_robot_secret(b"key-one", "Secret1"));
        assert_ne!(a, hash_robot_secret(b"key-two", "Secret1"));
        assert_ne!(a, hash_robot_secret(b"key-one", "Secret2"));
        // RFC 4231 test case 2.
        assert_eq!(
            hash_robot_secret(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn generated_secrets_follow_the_rule_and_differ() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let s = generate_robot_secret();
            assert_eq!(s.len(), SECRET_LEN);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(has_every_class(&s), "{s}");
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn generated_keys_are_random_hex() {
        let a = generate_robot_key();
        assert_eq!(a.len(), KEY_BYTES * 2);
        assert!(hex::decode(&a).is_ok());
        assert_ne!(a, generate_robot_key());
    }
}
