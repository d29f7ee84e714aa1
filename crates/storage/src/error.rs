//! This crate's error type, and the single translation of object store failures into the
//! backend-neutral [`BackendError`] that the registry core understands.

use std::error::Error as StdError;
use std::io::ErrorKind;
use std::path::PathBuf;

use object_store::client::{HttpError, HttpErrorKind};
use registry_core::BackendError;

/// Failures while setting a blob store up (configuration, root directory, client build).
/// Failures of individual operations are [`BackendError`]s, as the `BlobStore` trait says.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid storage configuration: {0}")]
    Config(String),
    #[error("cannot create storage root {}: {source}", path.display())]
    CreateRoot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open object store: {0}")]
    ObjectStore(#[from] object_store::Error),
}

/// Maps an object store failure onto [`BackendError`]. Every object store error in this
/// crate goes through here, so the classification is consistent across operations.
pub(crate) fn backend_error(err: object_store::Error) -> BackendError {
    match err {
        object_store::Error::NotFound { path, .. } => BackendError::NotFound(path),
        other if is_unavailable(&other) => BackendError::Unavailable(other.to_string()),
        other => BackendError::Other(other.to_string()),
    }
}

/// Failure of the stream a caller handed us (the client's request body). Kept apart from
/// store failures so the core can answer "your upload broke" instead of "storage broke".
pub(crate) fn body_error(err: std::io::Error) -> BackendError {
    BackendError::Body(err.to_string())
}

/// True when the failure means "cannot reach the store right now" (refused, reset, timed
/// out) rather than "the store said no". Object store wraps the transport error a few
/// levels deep, so the whole source chain is searched.
fn is_unavailable(err: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(http) = e.downcast_ref::<HttpError>()
            && matches!(
                http.kind(),
                HttpErrorKind::Connect | HttpErrorKind::Timeout | HttpErrorKind::Interrupted
            )
        {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::NotConnected
                    | ErrorKind::TimedOut
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            )
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_keeps_the_path() {
        let err = object_store::Error::NotFound {
            path: "blobs/x".into(),
            source: "missing".into(),
        };
        assert!(matches!(backend_error(err), BackendError::NotFound(p) if p == "blobs/x"));
    }

    #[test]
    fn transport_failures_are_unavailable() {
        let refused = std::io::Error::new(ErrorKind::ConnectionRefused, "refused");
        let err = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(HttpErrorKind::Connect, refused)),
        };
        assert!(matches!(backend_error(err), BackendError::Unavailable(_)));

        let timed_out = std::io::Error::new(ErrorKind::TimedOut, "slow");
        let err = object_store::Error::Generic {
            store: "S3",
            source: Box::new(timed_out),
        };
        assert!(matches!(backend_error(err), BackendError::Unavailable(_)));
    }

    #[test]
    fn refusals_are_other() {
        let err = object_store::Error::PermissionDenied {
            path: "blobs/x".into(),
            source: "403 SignatureDoesNotMatch".into(),
        };
        assert!(matches!(backend_error(err), BackendError::Other(_)));
    }

    #[test]
    fn body_failures_are_body() {
        let err = std::io::Error::new(ErrorKind::UnexpectedEof, "client went away");
        assert!(matches!(body_error(err), BackendError::Body(m) if m.contains("went away")));
    }
}
