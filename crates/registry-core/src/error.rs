//! The OCI error codes and the one place where registry errors become HTTP responses.
//!
//! Policy: domain code returns a specific [`RegistryError`]; internal failures (database,
//! object store) are logged once here with their cause and answered with generic text, so
//! no backend detail leaks to clients.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::blobs::BackendError;

/// Error codes from the OCI distribution spec (plus `TOO_MANY_REQUESTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::TooManyRequests => "TOO_MANY_REQUESTS",
        }
    }
}

/// Everything that can go wrong while serving `/v2`.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A protocol error with its OCI code, HTTP status and a human message.
    #[error("{code:?}: {message}")]
    Oci {
        code: ErrorCode,
        status: StatusCode,
        message: String,
        detail: Option<serde_json::Value>,
    },
    /// Credentials missing, invalid or insufficient: 401 with a challenge that tells the
    /// client where to get a token (and for which scope).
    #[error("authentication required")]
    Unauthorized { challenge: String, message: String },
    /// The chunk does not continue the upload where it stands (416 with the current range).
    #[error("requested range not satisfiable")]
    RangeNotSatisfiable {
        location: String,
        upload_id: String,
        offset: u64,
    },
    /// A failure of the database or object store; never caused by client input.
    #[error("backend failure: {0}")]
    Backend(#[from] BackendError),
}

impl RegistryError {
    pub fn new(code: ErrorCode, status: StatusCode, message: impl Into<String>) -> Self {
        RegistryError::Oci {
            code,
            status,
            message: message.into(),
            detail: None,
        }
    }

    pub fn with_detail(self, detail: serde_json::Value) -> Self {
        match self {
            RegistryError::Oci {
                code,
                status,
                message,
                ..
            } => RegistryError::Oci {
                code,
                status,
                message,
                detail: Some(detail),
            },
            other => other,
        }
    }

    pub fn blob_unknown(digest: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::BlobUnknown,
            StatusCode::NOT_FOUND,
            format!("blob unknown to registry: {digest}"),
        )
    }
    pub fn upload_unknown() -> Self {
        Self::new(
            ErrorCode::BlobUploadUnknown,
            StatusCode::NOT_FOUND,
            "blob upload unknown to registry",
        )
    }
    pub fn upload_invalid(message: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::BlobUploadInvalid,
            StatusCode::BAD_REQUEST,
            message,
        )
    }
    pub fn digest_invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::DigestInvalid, StatusCode::BAD_REQUEST, message)
    }
    pub fn manifest_invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ManifestInvalid, StatusCode::BAD_REQUEST, message)
    }
    pub fn manifest_unknown(reference: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::ManifestUnknown,
            StatusCode::NOT_FOUND,
            format!("manifest unknown: {reference}"),
        )
    }
    pub fn name_invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NameInvalid, StatusCode::BAD_REQUEST, message)
    }
    pub fn name_unknown(name: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::NameUnknown,
            StatusCode::NOT_FOUND,
            format!("repository name not known to registry: {name}"),
        )
    }
    pub fn size_invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::SizeInvalid, StatusCode::BAD_REQUEST, message)
    }
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Denied, StatusCode::FORBIDDEN, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::Unsupported,
            StatusCode::METHOD_NOT_ALLOWED,
            message,
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    errors: [ErrorEntry<'a>; 1],
}

#[derive(Serialize)]
struct ErrorEntry<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a serde_json::Value>,
}

fn oci_body(code: ErrorCode, message: &str, detail: Option<&serde_json::Value>) -> String {
    serde_json::to_string(&ErrorBody {
        errors: [ErrorEntry {
            code: code.as_str(),
            message,
            detail,
        }],
    })
    .unwrap_or_default()
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        match self {
            RegistryError::Oci {
                code,
                status,
                message,
                detail,
            } => json_response(status, oci_body(code, &message, detail.as_ref())),
            RegistryError::Unauthorized { challenge, message } => {
                let mut response = json_response(
                    StatusCode::UNAUTHORIZED,
                    oci_body(ErrorCode::Unauthorized, &message, None),
                );
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
            RegistryError::RangeNotSatisfiable {
                location,
                upload_id,
                offset,
            } => {
                let mut response = json_response(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    oci_body(
                        ErrorCode::BlobUploadInvalid,
                        "chunk does not continue the upload at its current offset",
                        None,
                    ),
                );
                let headers = response.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&location) {
                    headers.insert(header::LOCATION, v);
                }
                if let Ok(v) = HeaderValue::from_str(&crate::http::range_header(offset)) {
                    headers.insert(header::RANGE, v);
                }
                if let Ok(v) = HeaderValue::from_str(&upload_id) {
                    headers.insert("docker-upload-uuid", v);
                }
                response
            }
            RegistryError::Backend(err) => {
                tracing::error!(error = %err, "backend failure");
                let status = match err {
                    BackendError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                json_response(
                    status,
                    serde_json::json!({"errors":[{"code":"UNKNOWN","message":"internal storage error; see the server log"}]})
                        .to_string(),
                )
            }
        }
    }
}
