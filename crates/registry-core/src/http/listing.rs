//! `GET /v2/<name>/tags/list`, `GET /v2/_catalog` and `GET /v2/<name>/referrers/<digest>`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{Request, json, respond};
use crate::auth::{Action, Resource};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::OCI_INDEX;
use crate::name::RepoName;
use crate::service::Page;

fn page_params(req: &Request) -> Result<(Option<u32>, Option<String>), RegistryError> {
    let n = match req.query.get("n") {
        None | Some("") => None,
        Some(v) => Some(v.parse::<u32>().map_err(|_| {
            RegistryError::new(
                crate::ErrorCode::Unsupported,
                StatusCode::BAD_REQUEST,
                "n must be a non-negative integer",
            )
        })?),
    };
    let last = req
        .query
        .get("last")
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    Ok((n, last))
}

/// `Link: <path?n=N&last=L>; rel="next"` when more results follow.
fn with_link(mut response: Response, path: &str, n: Option<u32>, page: &Page) -> Response {
    if let (true, Some(last)) = (page.more, page.items.last()) {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("n", &n.unwrap_or(page.items.len() as u32).to_string());
        query.append_pair("last", last);
        let link = format!("<{path}?{}>; rel=\"next\"", query.finish());
        if let Ok(value) = link.parse() {
            response.headers_mut().insert("link", value);
        }
    }
    response
}

pub(super) async fn tags(req: Request, repo: RepoName) -> Result<Response, RegistryError> {
    req.authorize(Resource::Repository(repo.clone()), Action::Pull, None)
        .await?;
    let (n, last) = page_params(&req)?;
    let page = req.registry.list_tags(&repo, n, last.as_deref()).await?;
    let body = json!({ "name": repo.as_str(), "tags": page.items }).to_string();
    Ok(with_link(
        json(StatusCode::OK, body),
        &format!("/v2/{repo}/tags/list"),
        n,
        &page,
    ))
}

pub(super) async fn catalog(req: Request) -> Result<Response, RegistryError> {
    req.authorize(Resource::Catalog, Action::Pull, None).await?;
    let (n, last) = page_params(&req)?;
    let page = req.registry.catalog(n, last.as_deref()).await?;
    let body = json!({ "repositories": page.items }).to_string();
    Ok(with_link(
        json(StatusCode::OK, body),
        "/v2/_catalog",
        n,
        &page,
    ))
}

pub(super) async fn referrers(
    req: Request,
    repo: RepoName,
    subject: Digest,
) -> Result<Response, RegistryError> {
    req.authorize(Resource::Repository(repo.clone()), Action::Pull, None)
        .await?;
    let artifact_type = req.query.get("artifactType").filter(|t| !t.is_empty());
    let found = req
        .registry
        .referrers(&repo, &subject, artifact_type)
        .await?;
    let manifests: Vec<serde_json::Value> = found
        .iter()
        .map(|r| {
            let mut d = json!({
                "mediaType": r.media_type,
                "digest": r.digest.to_string(),
                "size": r.size,
            });
            if let Some(t) = &r.artifact_type {
                d["artifactType"] = json!(t);
            }
            if let Some(a) = r
                .annotations
                .as_deref()
                .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            {
                d["annotations"] = a;
            }
            d
        })
        .collect();
    let body =
        json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests }).to_string();
    let mut headers = vec![("content-type", OCI_INDEX.to_owned())];
    if artifact_type.is_some() {
        headers.push(("oci-filters-applied", "artifactType".to_owned()));
    }
    Ok(respond(StatusCode::OK, &headers, body.into()))
}
