//! Who is asking: the credential-check contract the gateway implements on its users
//! table, and the Basic `Authorization` header it is fed from.

use std::fmt;

use async_trait::async_trait;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::AuthError;

/// An authenticated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub is_admin: bool,
}

/// Checks a username and password (or robot secret).
#[async_trait]
pub trait CredentialVerifier: Send + Sync {
    /// `Ok(None)` for wrong credentials, unknown or disabled accounts alike; `Err` only
    /// when the check itself could not run (use [`AuthError::backend`]).
    async fn verify(&self, username: &str, password: &str) -> Result<Option<Identity>, AuthError>;
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
