//! Blob upload endpoints: `POST /blobs/uploads/` (start, monolithic, mount) and the
//! session URL (`GET` status, `PATCH` chunk, `PUT` finish, `DELETE` cancel).

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

use super::{Request, path::parse_digest, range_header, respond, upload_location};
use crate::auth::{Action, Resource, UploadContext};
use crate::error::RegistryError;
use crate::name::RepoName;
use crate::service::ChunkRange;

pub(super) async fn start(req: Request, repo: RepoName) -> Result<Response, RegistryError> {
    req.authorize(Resource::Repository(repo.clone()), Action::Push, None)
        .await?;
    let registry = req.registry.clone();

    if let (Some(mount), Some(from)) = (req.query.get("mount"), req.query.get("from")) {
        let digest = parse_digest(mount)?;
        // Mounting needs pull on the source; without it, or when the source lacks the
        // blob, fall back to a normal upload as the spec requires.
        if let Ok(from) = from.parse::<RepoName>() {
            let can_read = req
                .authorize(Resource::Repository(from.clone()), Action::Pull, None)
                .await
                .is_ok();
            if can_read && registry.mount_blob(&repo, &from, &digest).await? {
                return Ok(blob_created(&repo, &digest));
            }
        }
    }

    if let Some(digest) = req.query.get("digest") {
        let digest = parse_digest(digest)?;
        let length = req.content_length()?;
        registry
            .upload_whole(&repo, &digest, length, req.into_stream())
            .await?;
        return Ok(blob_created(&repo, &digest));
    }

    let state = registry.start_upload(&repo).await?;
    Ok(accepted(&repo, &state.id, 0))
}

pub(super) async fn session(
    req: Request,
    repo: RepoName,
    id: String,
) -> Result<Response, RegistryError> {
    let registry = req.registry.clone();
    let session = registry.upload_session(&repo, &id).await?;
    let context = session.as_ref().map(|s| UploadContext {
        started_at: s.created_at,
    });
    req.authorize(Resource::Repository(repo.clone()), Action::Push, context)
        .await?;
    let session = session.ok_or_else(RegistryError::upload_unknown)?;

    match req.method {
        Method::GET => Ok(respond(
            StatusCode::NO_CONTENT,
            &[
                ("location", upload_location(&repo, &id)),
                ("range", range_header(session.offset)),
                ("docker-upload-uuid", id.clone()),
                ("content-length", "0".into()),
            ],
            Body::empty(),
        )),
        Method::PATCH => {
            let range = chunk_range(&req)?;
            let length = req.content_length()?;
            let updated = registry
                .append_chunk(&session, range, length, req.into_stream())
                .await?;
            Ok(accepted(&repo, &id, updated.offset))
        }
        Method::PUT => {
            let digest = req
                .query
                .get("digest")
                .ok_or_else(|| {
                    RegistryError::digest_invalid("the digest query parameter is required")
                })
                .and_then(parse_digest)?;
            let range = chunk_range(&req)?;
            let length = req.content_length()?;
            registry
                .finish_upload(&session, &digest, range, length, Some(req.into_stream()))
                .await?;
            Ok(blob_created(&repo, &digest))
        }
        _ => {
            registry.cancel_upload(&session).await?;
            Ok(respond(
                StatusCode::NO_CONTENT,
                &[("content-length", "0".into())],
                Body::empty(),
            ))
        }
    }
}

fn chunk_range(req: &Request) -> Result<Option<ChunkRange>, RegistryError> {
    match req.header(header::CONTENT_RANGE) {
        None => Ok(None),
        Some(v) => ChunkRange::parse(v)
            .map(Some)
            .ok_or_else(|| RegistryError::upload_invalid(format!("invalid Content-Range {v:?}"))),
    }
}

fn accepted(repo: &RepoName, id: &str, offset: u64) -> Response {
    respond(
        StatusCode::ACCEPTED,
        &[
            ("location", upload_location(repo, id)),
            ("range", range_header(offset)),
            ("docker-upload-uuid", id.to_owned()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}

fn blob_created(repo: &RepoName, digest: &crate::Digest) -> Response {
    respond(
        StatusCode::CREATED,
        &[
            ("location", format!("/v2/{repo}/blobs/{digest}")),
            ("docker-content-digest", digest.to_string()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}
