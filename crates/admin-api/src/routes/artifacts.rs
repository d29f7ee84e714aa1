//! Artifacts: listing with tags and index references, get, delete.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use projects::{
    Artifact as StoredArtifact, ArtifactFilter, ArtifactRef, ArtifactSortField, ArtifactTag,
    DeleteArtifactOutcome, Project, TagFilter, TextMatch, Window,
};
use rbac::{Action, Resource};
use registry_core::manifest::{DOCKER_MANIFEST_LIST, OCI_INDEX};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::pagination::{PageParams, paged};
use crate::query::{Q, Term};
use crate::routes::lookup::{
    ZERO_TIME, full_repository_name, only_keys, project_by_name, repository_path, text_term,
};
use crate::sort::parse_sort;
use crate::state::ApiState;
use crate::time::rfc3339;

/// A tag as Harbor shows it. Berth keeps no tag ids, so `id` is absent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tag {
    pub repository_id: i64,
    pub artifact_id: i64,
    pub name: String,
    pub push_time: String,
    /// The artifact's last pull (pulls are recorded per artifact).
    pub pull_time: String,
    /// Berth has no immutability rules.
    pub immutable: bool,
}

impl From<ArtifactTag> for Tag {
    fn from(t: ArtifactTag) -> Self {
        Self {
            repository_id: t.repository_id,
            artifact_id: t.artifact_id,
            name: t.name,
            push_time: rfc3339(t.push_time),
            pull_time: t.pull_time.map_or_else(|| ZERO_TIME.to_owned(), rfc3339),
            immutable: false,
        }
    }
}

/// Platform of an index entry. The quoted keys are spelled exactly as in Harbor's API
/// definition, which Harbor clients read.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Platform {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(rename = "'os.version'", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(rename = "'os.features'", skip_serializing_if = "Option::is_none")]
    pub os_features: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An index's reference to a child manifest.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reference {
    pub parent_id: i64,
    /// Absent when the child is not in the repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_id: Option<i64>,
    pub child_digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

/// An artifact as Harbor shows it. `tags` and `references` are `null` when there are
/// none, as in Harbor.
#[derive(Debug, Serialize, ToSchema)]
pub struct Artifact {
    pub id: i64,
    /// `IMAGE`, `CHART`, `CNAB` or `UNKNOWN`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The config media type (the manifest's for an index).
    pub media_type: String,
    pub manifest_media_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub project_id: i64,
    pub repository_id: i64,
    pub repository_name: String,
    pub digest: String,
    /// Manifest, config and layers; for an index, also its children.
    pub size: u64,
    pub push_time: String,
    pub pull_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    pub references: Option<Vec<Reference>>,
    pub tags: Option<Vec<Tag>>,
}

/// Harbor's artifact type from the config media type (or the index media type).
fn artifact_kind(media_type: &str) -> &'static str {
    match media_type {
        "application/vnd.docker.container.image.v1+json"
        | "application/vnd.oci.image.config.v1+json"
        | OCI_INDEX
        | DOCKER_MANIFEST_LIST => "IMAGE",
        "application/vnd.cncf.helm.config.v1+json" => "CHART",
        "application/vnd.cnab.manifest.v1" => "CNAB",
        _ => "UNKNOWN",
    }
}

/// A JSON object of strings, as Harbor's `Annotations`.
fn string_map(v: Option<&Value>) -> Option<BTreeMap<String, String>> {
    let map: BTreeMap<String, String> = v?
        .as_object()?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    (!map.is_empty()).then_some(map)
}

fn string_list(v: Option<&Value>) -> Option<Vec<String>> {
    let list: Vec<String> = v?
        .as_array()?
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    (!list.is_empty()).then_some(list)
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

/// The index entries of `manifest` as Harbor references, in index order.
fn references(a: &StoredArtifact, manifest: &Value) -> Option<Vec<Reference>> {
    let entries = manifest.get("manifests")?.as_array()?;
    let refs: Vec<Reference> = entries
        .iter()
        .filter_map(|entry| {
            let digest = entry.get("digest")?.as_str()?.to_owned();
            let platform = entry.get("platform").map(|p| Platform {
                architecture: text(p.get("architecture")),
                os: text(p.get("os")),
                os_version: text(p.get("os.version")),
                os_features: string_list(p.get("os.features")),
                variant: text(p.get("variant")),
            });
            Some(Reference {
                parent_id: a.id,
                child_id: a
                    .children
                    .iter()
                    .find(|c| c.digest == digest)
                    .and_then(|c| c.id),
                child_digest: digest,
                platform,
                annotations: string_map(entry.get("annotations")),
                urls: string_list(entry.get("urls")),
            })
        })
        .collect();
    (!refs.is_empty()).then_some(refs)
}

/// The Harbor shape of `a` (in project `project_id`).
pub(crate) fn to_json(a: StoredArtifact, project_id: i64, with_tags: bool) -> Artifact {
    // Stored manifests were parsed on push; unreadable JSON here only loses details.
    let manifest: Value = serde_json::from_slice(&a.content).unwrap_or(Value::Null);
    let is_index = a.media_type == OCI_INDEX || a.media_type == DOCKER_MANIFEST_LIST;
    let config_type = manifest
        .get("config")
        .and_then(|c| c.get("mediaType"))
        .and_then(Value::as_str);
    let media_type = match config_type {
        Some(t) if !is_index => t.to_owned(),
        _ => a.media_type.clone(),
    };
    let tags: Vec<Tag> = if with_tags {
        a.tags.iter().cloned().map(Tag::from).collect()
    } else {
        Vec::new()
    };
    Artifact {
        id: a.id,
        kind: artifact_kind(&media_type).to_owned(),
        references: references(&a, &manifest),
        annotations: a
            .annotations
            .as_deref()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .and_then(|v| string_map(Some(&v))),
        media_type,
        manifest_media_type: a.media_type,
        artifact_type: a.artifact_type,
        project_id,
        repository_id: a.repository_id,
        repository_name: a.repository_name,
        digest: a.digest,
        size: a.size,
        push_time: rfc3339(a.push_time),
        pull_time: a.pull_time.map_or_else(|| ZERO_TIME.to_owned(), rfc3339),
        tags: (!tags.is_empty()).then_some(tags),
    }
}

/// A `{reference}` segment: a digest if it has an algorithm prefix, a tag otherwise.
pub(crate) fn parse_reference(reference: &str) -> ApiResult<ArtifactRef> {
    if reference.contains(':') {
        let digest: registry_core::Digest = reference
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid digest {reference:?}")))?;
        Ok(ArtifactRef::Digest(digest.to_string()))
    } else {
        let tag: registry_core::Tag = reference
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid tag {reference:?}")))?;
        Ok(ArtifactRef::Tag(tag.to_string()))
    }
}

/// The project, full repository name and artifact a path names, with the caller
/// checked for `action` on `resource` of that project.
pub(crate) async fn authorized_artifact(
    state: &ApiState,
    ctx: &Ctx,
    (project_name, repository, reference): (&str, &str, &str),
    resource: Resource,
    action: Action,
) -> ApiResult<(Project, String, StoredArtifact)> {
    let project = project_by_name(state, project_name).await?;
    ctx.require(state, &project.access(), resource, action)
        .await?;
    let name = full_repository_name(&project.name, repository);
    let reference = parse_reference(reference)?;
    let artifact = state.db.artifact(&name, &reference).await?.ok_or_else(|| {
        let r = match &reference {
            ArtifactRef::Digest(d) => format!("{name}@{d}"),
            ArtifactRef::Tag(t) => format!("{name}:{t}"),
        };
        ApiError::not_found(format!("artifact {r} not found"))
    })?;
    Ok((project, name, artifact))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListArtifactsParams {
    /// Harbor's query: `tags=*` (tagged), `tags=nil` (untagged), `tags=v`, `tags=~v`,
    /// `digest=...`, `media_type=v` or `=~v`, `base=*` (include index children and
    /// accessories).
    pub q: Option<String>,
    /// `push_time`, `pull_time`, `digest`, `media_type`, `id`; `-` for descending.
    /// Newest push first by default.
    pub sort: Option<String>,
    pub page: Option<u64>,
    pub page_size: Option<u64>,
    /// Include each artifact's tags (default true).
    pub with_tag: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetArtifactParams {
    /// Include the artifact's tags (default true).
    pub with_tag: Option<bool>,
}

const ARTIFACT_SORT: &[(&str, ArtifactSortField)] = &[
    ("id", ArtifactSortField::Id),
    ("digest", ArtifactSortField::Digest),
    ("media_type", ArtifactSortField::MediaType),
    ("push_time", ArtifactSortField::PushTime),
    ("pull_time", ArtifactSortField::PullTime),
];

fn artifact_filter(q: &Q) -> ApiResult<ArtifactFilter> {
    only_keys(q, &["tags", "digest", "media_type", "base"])?;
    let mut filter = ArtifactFilter {
        media_type: text_term(q, "media_type")?,
        ..ArtifactFilter::default()
    };
    filter.digest = match text_term(q, "digest")? {
        None => None,
        Some(TextMatch::Exact(d)) => Some(d),
        Some(TextMatch::Contains(_)) => {
            return Err(ApiError::bad_request("digest takes an exact match"));
        }
    };
    filter.tags = match q.get("tags") {
        None => None,
        Some(Term::Exact(v)) if v == "*" => Some(TagFilter::Any),
        Some(Term::Exact(v)) if v == "nil" => Some(TagFilter::Nothing),
        Some(_) => text_term(q, "tags")?.map(TagFilter::Matching),
    };
    filter.all = match q.get("base") {
        None => false,
        Some(Term::Exact(v)) if v == "*" => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "the value of \"base\" can only be exact match value with \"*\"",
            ));
        }
    };
    Ok(filter)
}

/// Artifacts of a repository, newest first: index children and accessories are
/// listed inside their parent unless `q` has `base=*`.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts",
    tag = "artifact", operation_id = "listArtifacts",
    params(("project_name" = String, Path, description = "Project name"),
        ("repository_name" = String, Path, description = "Repository path inside the project, slashes encoded"),
        ListArtifactsParams),
    responses((status = 200, body = [Artifact], headers(("X-Total-Count" = u64), ("Link" = String))),
        (status = 400, description = "Bad request"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such repository")))]
pub async fn list_artifacts(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<(String, String)>,
    params: ApiQuery<ListArtifactsParams>,
) -> ApiResult<Response> {
    let ApiPath((project_name, repository)) = path;
    let ApiQuery(params) = params;
    let page = PageParams {
        page: params.page,
        page_size: params.page_size,
    }
    .validate()?;
    let project = project_by_name(&state, &project_name).await?;
    ctx.require(&state, &project.access(), Resource::Artifact, Action::List)
        .await?;
    let q = Q::parse(params.q.as_deref())?;
    let filter = artifact_filter(&q)?;
    let sort = parse_sort(params.sort.as_deref(), ARTIFACT_SORT)?;
    let name = full_repository_name(&project.name, &repository);
    if state.db.repository_info(&name).await?.is_none() {
        return Err(ApiError::not_found(format!("repository {name} not found")));
    }
    let (found, total) = state
        .db
        .list_artifacts(
            &name,
            &filter,
            &sort,
            Window {
                offset: page.offset(),
                limit: page.size,
            },
        )
        .await?;
    let with_tags = params.with_tag.unwrap_or(true);
    let items: Vec<Artifact> = found
        .into_iter()
        .map(|a| to_json(a, project.id, with_tags))
        .collect();
    let path = format!(
        "/api/v2.0/projects/{}/repositories/{}/artifacts",
        project.name,
        encode_segment(&repository_path(&repository))
    );
    let with_tag = params.with_tag.map(|w| w.to_string());
    let mut extra: Vec<(&str, &str)> = Vec::new();
    for (key, value) in [
        ("q", params.q.as_deref()),
        ("sort", params.sort.as_deref()),
        ("with_tag", with_tag.as_deref()),
    ] {
        if let Some(v) = value {
            extra.push((key, v));
        }
    }
    Ok(paged(items, total, page, &path, &extra))
}

/// A repository path as one URL segment, slashes encoded twice as Harbor does.
pub(crate) fn encode_segment(path: &str) -> String {
    path.replace('/', "%252F")
}

/// One artifact, by digest or tag.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}",
    tag = "artifact", operation_id = "getArtifact",
    params(("project_name" = String, Path, description = "Project name"),
        ("repository_name" = String, Path, description = "Repository path inside the project, slashes encoded"),
        ("reference" = String, Path, description = "Digest or tag"), GetArtifactParams),
    responses((status = 200, body = Artifact), (status = 400, description = "Bad reference"),
        (status = 401, description = "Not signed in"), (status = 403, description = "Not allowed"),
        (status = 404, description = "No such artifact")))]
pub async fn get_artifact(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<(String, String, String)>,
    params: ApiQuery<GetArtifactParams>,
) -> ApiResult<Json<Artifact>> {
    let ApiPath((project_name, repository, reference)) = path;
    let ApiQuery(params) = params;
    let (project, _, artifact) = authorized_artifact(
        &state,
        &ctx,
        (&project_name, &repository, &reference),
        Resource::Artifact,
        Action::Read,
    )
    .await?;
    Ok(Json(to_json(
        artifact,
        project.id,
        params.with_tag.unwrap_or(true),
    )))
}

/// Delete an artifact (by digest, or by one of its tags) with all its tags; the
/// children of an index and accessories go with it unless tagged or used by another
/// index. Refused (412) while an index references the artifact.
#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}",
    tag = "artifact", operation_id = "deleteArtifact",
    params(("project_name" = String, Path, description = "Project name"),
        ("repository_name" = String, Path, description = "Repository path inside the project, slashes encoded"),
        ("reference" = String, Path, description = "Digest or tag")),
    responses((status = 200, description = "Deleted"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such artifact"),
        (status = 412, description = "Referenced by an index")))]
pub async fn delete_artifact(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let ApiPath((project_name, repository, reference)) = path;
    let (project, name, artifact) = authorized_artifact(
        &state,
        &ctx,
        (&project_name, &repository, &reference),
        Resource::Artifact,
        Action::Delete,
    )
    .await?;
    match state.db.delete_artifact(&name, &artifact.digest).await? {
        DeleteArtifactOutcome::Deleted(_) => {}
        DeleteArtifactOutcome::NotFound => {
            return Err(ApiError::not_found(format!(
                "artifact {name}@{} not found",
                artifact.digest
            )));
        }
        DeleteArtifactOutcome::ReferencedByIndex => {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "VIOLATE_FOREIGN_KEY_CONSTRAINT",
                "the deleting artifact is referenced by others",
            ));
        }
    }
    let resource = format!("{name}@{}", artifact.digest);
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "delete",
        "artifact",
        &resource,
    )
    .await;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_references() {
        assert_eq!(
            artifact_kind("application/vnd.oci.image.config.v1+json"),
            "IMAGE"
        );
        assert_eq!(
            artifact_kind("application/vnd.cncf.helm.config.v1+json"),
            "CHART"
        );
        assert_eq!(artifact_kind("application/x-other"), "UNKNOWN");
        assert!(matches!(parse_reference("latest"), Ok(ArtifactRef::Tag(t)) if t == "latest"));
        assert!(parse_reference("sha256:zz").is_err());
        assert!(parse_reference("bad/tag").is_err());
        assert_eq!(encode_segment("a/b"), "a%252Fb");
    }
}
