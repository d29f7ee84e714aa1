//! The crate's one error type, and the one place where it becomes an HTTP answer: a JSON
//! error body for the token endpoint, or a bearer challenge for `/v2`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::RegistryError;

use crate::challenge::Challenge;

/// Everything that can go wrong while checking credentials, issuing or verifying tokens.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token request is malformed: a bad scope, a foreign `service`, missing fields.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// An OAuth2 `grant_type` this service does not implement.
    #[error("unsupported grant type: {0}")]
    UnsupportedGrantType(String),
    /// Credentials were presented and did not check out.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many failed logins for this account or from this address recently.
    #[error("too many failed login attempts; retry in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    /// The `Authorization` header is not a well-formed Basic credential.
    #[error("malformed basic authorization header")]
    MalformedCredentials,
    /// A `/v2` request came without a bearer token.
    #[error("no bearer token")]
    MissingToken,
    /// A bearer token that is malformed, forged, expired or meant for someone else.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// A valid token that does not grant what the request needs.
    #[error("insufficient scope")]
    InsufficientScope,
    /// A signing key that cannot be parsed, generated or used, or a failed random source.
    #[error("crypto: {0}")]
    Crypto(String),
    /// A configuration value that cannot work (e.g. a token lifetime under 60 s).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The credential store failed (database down, ...); never the client's fault.
    #[error("credential backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AuthError {
    /// Wraps a failure of a [`crate::CredentialVerifier`] or of the access directory.
    pub fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        AuthError::Backend(Box::new(err))
    }

    /// HTTP status on the token endpoint.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::InvalidRequest(_) | AuthError::UnsupportedGrantType(_) => {
                StatusCode::BAD_REQUEST
            }
            AuthError::InvalidCredentials
            | AuthError::MalformedCredentials
            | AuthError::MissingToken
            | AuthError::InvalidToken(_)
            | AuthError::InsufficientScope => StatusCode::UNAUTHORIZED,
            AuthError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::Crypto(_) | AuthError::Config(_) | AuthError::Backend(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Error code in the `{"errors":[{"code":..}]}` body, in the style of distribution.
    fn code(&self) -> &'static str {
        match self {
            AuthError::InvalidRequest(_) => "INVALID_REQUEST",
            AuthError::UnsupportedGrantType(_) => "UNSUPPORTED",
            AuthError::InvalidCredentials
            | AuthError::MalformedCredentials
            | AuthError::MissingToken
            | AuthError::InvalidToken(_)
            | AuthError::InsufficientScope => "UNAUTHORIZED",
            AuthError::TooManyAttempts { .. } => "TOO_MANY_REQUESTS",
            AuthError::Crypto(_) | AuthError::Config(_) | AuthError::Backend(_) => "UNKNOWN",
        }
    }

    /// Text for the client. Authentication failures all read the same so the answer does
    /// not tell whether the user exists; internal failures never expose their cause.
    fn public_message(&self) -> String {
        match self {
            AuthError::InvalidRequest(_)
            | AuthError::UnsupportedGrantType(_)
            | AuthError::TooManyAttempts { .. } => self.to_string(),
            AuthError::InvalidCredentials
            | AuthError::MalformedCredentials
            | AuthError::MissingToken
            | AuthError::InvalidToken(_)
            | AuthError::InsufficientScope => "authentication required".to_owned(),
            AuthError::Crypto(_) | AuthError::Config(_) | AuthError::Backend(_) => {
                "internal error; see the server log".to_owned()
            }
        }
    }

    /// The `/v2` form of a failed authorization: 401 with a bearer challenge telling the
    /// client where to get a token and, via `error=`, why the one it sent was refused.
    pub(crate) fn into_registry_error(self, challenge: Challenge<'_>) -> RegistryError {
        let (error, message) = match &self {
            AuthError::MissingToken => (None, "authentication required".to_owned()),
            AuthError::InsufficientScope => (
                Some("insufficient_scope"),
                "access to the requested resource is not authorized".to_owned(),
            ),
            AuthError::InvalidToken(reason) => {
                (Some("invalid_token"), format!("invalid token: {reason}"))
            }
            // Verification produces only the three kinds above; anything else is
            // treated as an unusable token rather than a server fault.
            other => (Some("invalid_token"), other.to_string()),
        };
        RegistryError::Unauthorized {
            challenge: challenge.render(error),
            message,
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "token service failure");
        } else {
            tracing::debug!(error = %self, "token request refused");
        }
        let body = serde_json::json!({
            "errors": [{ "code": self.code(), "message": self.public_message() }]
        });
        let mut response = (status, Json(body)).into_response();
        if let AuthError::TooManyAttempts { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 7235: a 401 carries a challenge; the token endpoint takes Basic credentials.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"berth\""),
            );
        }
        response
    }
}
