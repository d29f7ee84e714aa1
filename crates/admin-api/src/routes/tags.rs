//! Tags of an artifact: list, create, delete.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use projects::{CreateTagOutcome, TagSortField, Window};
use rbac::{Action, Resource};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{PageParams, paged};
use crate::query::Q;
use crate::routes::artifacts::{Tag, authorized_artifact, encode_segment};
use crate::routes::lookup::{only_keys, repository_path, text_term};
use crate::sort::parse_sort;
use crate::state::ApiState;

/// Body of `POST .../tags`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTag {
    pub name: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTagsParams {
    /// Harbor's query: `name=v` or `name=~v`.
    pub q: Option<String>,
    /// `name`, `push_time`; `-` for descending.
    pub sort: Option<String>,
    pub page: Option<u64>,
    pub page_size: Option<u64>,
}

const TAG_SORT: &[(&str, TagSortField)] = &[
    ("name", TagSortField::Name),
    ("push_time", TagSortField::PushTime),
];

/// Tags of one artifact.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags",
    tag = "artifact", operation_id = "listTags",
    params(("project_name" = String, Path, description = "Project name"),
        ("repository_name" = String, Path, description = "Repository path inside the project, slashes encoded"),
        ("reference" = String, Path, description = "Digest or tag"), ListTagsParams),
    responses((status = 200, body = [Tag], headers(("X-Total-Count" = u64), ("Link" = String))),
        (status = 400, description = "Bad request"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such artifact")))]
pub async fn list_tags(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<(String, String, String)>,
    params: ApiQuery<ListTagsParams>,
) -> ApiResult<Response> {
    let ApiPath((project_name, repository, reference)) = path;
    let ApiQuery(params) = params;
    let page = PageParams {
        page: params.page,
        page_size: params.page_size,
    }
    .validate()?;
    let q = Q::parse(params.q.as_deref())?;
    only_keys(&q, &["name"])?;
    let sort = parse_sort(params.sort.as_deref(), TAG_SORT)?;
    let (project, _, artifact) = authorized_artifact(
        &state,
        &ctx,
        (&project_name, &repository, &reference),
        Resource::Tag,
        Action::List,
    )
    .await?;
    let (tags, total) = state
        .db
        .list_artifact_tags(
            artifact.id,
            text_term(&q, "name")?.as_ref(),
            &sort,
            Window {
                offset: page.offset(),
                limit: page.size,
            },
        )
        .await?;
    let items: Vec<Tag> = tags.into_iter().map(Tag::from).collect();
    let path = format!(
        "/api/v2.0/projects/{}/repositories/{}/artifacts/{reference}/tags",
        project.name,
        encode_segment(&repository_path(&repository))
    );
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if let Some(q) = params.q.as_deref() {
        extra.push(("q", q));
    }
    if let Some(sort) = params.sort.as_deref() {
        extra.push(("sort", sort));
    }
    Ok(paged(items, total, page, &path, &extra))
}

/// Tag an artifact. 409 if the repository already has a tag of that name.
#[utoipa::path(post, path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags",
    tag = "artifact", operation_id = "createTag", request_body = NewTag,
    params(("project_name" = String, Path, description = "Project name"),
        ("repository_name" = String, Path, description = "Repository path inside the project, slashes encoded"),
        ("reference" = String, Path, description = "Digest or tag")),
    responses((status = 201, description = "Created", headers(("Location" = String))),
        (status = 400, description = "Invalid tag"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such artifact"),
        (status = 409, description = "Tag exists")))]
pub async fn create_tag(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<(String, String, String)>,
    body: ApiJson<NewTag>,
) -> ApiResult<Response> {
    let ApiPath((project_name, repository, reference)) = path;
    let (project, name, artifact) = authorized_artifact(
        &state,
        &ctx,
        (&project_name, &repository, &reference),
        Resource::Tag,
        Action::Create,
    )
    .await?;
    let ApiJson(new) = body;
    let tag: registry_core::Tag = new
        .name
        .parse()
        .map_err(|e: registry_core::name::NameError| ApiError::bad_request(e.to_string()))?;
    match state
        .db
        .create_artifact_tag(artifact.repository_id, artifact.id, tag.as_str())
        .await?
    {
        CreateTagOutcome::Created => {}
        CreateTagOutcome::Exists => {
            return Err(ApiError::conflict(format!(
                "the tag {tag} already exists under the repository {name}"
            )));
        }
        CreateTagOutcome::ArtifactNotFound => {
            return Err(ApiError::not_found(format!(
                "artifact {name}@{} not found",
                artifact.digest
            )));
        }
    }
    let resource = format!("{name}:{tag}");
    audit::record(&state, &ctx, Some(project.id), "create", "tag", &resource).await;
    let location = format!(
        "/api/v2.0/projects/{}/repositories/{}/artifacts/{}/tags/{tag}",
        project.name,
        encode_segment(&repository_path(&repository)),
        artifact.digest
    );
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Remove a tag from an artifact (the artifact stays).
#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}",
    tag = "artifact", operation_id = "deleteTag",
    params(("project_name" = String, Path, description = "Project name"),
        ("repository_name" = String, Path, description = "Repository path inside the project, slashes encoded"),
        ("reference" = String, Path, description = "Digest or tag"),
        ("tag_name" = String, Path, description = "The tag to remove")),
    responses((status = 200, description = "Deleted"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such artifact or tag")))]
pub async fn delete_tag(
    State(state): State<ApiState>,
    ctx: Ctx,
    path: ApiPath<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    let ApiPath((project_name, repository, reference, tag_name)) = path;
    let (project, name, artifact) = authorized_artifact(
        &state,
        &ctx,
        (&project_name, &repository, &reference),
        Resource::Tag,
        Action::Delete,
    )
    .await?;
    if !state.db.delete_artifact_tag(artifact.id, &tag_name).await? {
        return Err(ApiError::not_found(format!(
            "tag {tag_name} not found on artifact {name}@{}",
            artifact.digest
        )));
    }
    let resource = format!("{name}:{tag_name}");
    audit::record(&state, &ctx, Some(project.id), "delete", "tag", &resource).await;
    Ok(StatusCode::OK)
}
