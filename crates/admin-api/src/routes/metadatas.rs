//! Project metadata (`/projects/{p}/metadatas`), and the validation of project names
//! and metadata values shared with project create and update.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rbac::{Action, Resource};

use crate::audit;
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::lookup::project_by_name_or_id;
use crate::routes::projects::parse_bool;
use crate::state::ApiState;

/// Longest project name (Harbor's limit).
const MAX_PROJECT_NAME: usize = 255;

/// Harbor's rule for project names: `[a-z0-9]+(?:[._-][a-z0-9]+)*`, 1 to 255
/// characters. Every such name is also a valid first component of a repository name.
pub(crate) fn validate_project_name(name: &str) -> ApiResult<()> {
    let b = name.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let separator = |c: u8| matches!(c, b'.' | b'_' | b'-');
    let valid = !b.is_empty()
        && b.len() <= MAX_PROJECT_NAME
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && b.iter().all(|&c| alnum(c) || separator(c))
        && !b.windows(2).any(|w| separator(w[0]) && separator(w[1]));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid project name {name:?}: 1 to {MAX_PROJECT_NAME} characters of lowercase \
             letters and digits, single '.', '_' or '-' between them"
        )))
    }
}

/// Metadata keys whose values are booleans.
const BOOLEAN_KEYS: &[&str] = &[
    "public",
    "enable_content_trust",
    "enable_content_trust_cosign",
    "prevent_vul",
    "auto_scan",
    "auto_sbom_generation",
    "reuse_sys_cve_allowlist",
];

/// Harbor's vulnerability severities for `severity`.
const SEVERITIES: &[&str] = &[
    "none",
    "unknown",
    "negligible",
    "low",
    "medium",
    "high",
    "critical",
];

/// Keys the metadata API accepts (Harbor's list; `reuse_sys_cve_allowlist` and
/// `retention_id` are set through the project itself).
const METADATA_API_KEYS: &[&str] = &[
    "public",
    "enable_content_trust",
    "enable_content_trust_cosign",
    "prevent_vul",
    "auto_scan",
    "auto_sbom_generation",
    "severity",
];

/// Validates metadata values and writes them the way Harbor stores them: booleans as
/// `true`/`false`, severities in lowercase.
pub(crate) fn normalize_metadata(
    entries: BTreeMap<String, String>,
) -> ApiResult<BTreeMap<String, String>> {
    entries
        .into_iter()
        .map(|(key, value)| {
            let value = if BOOLEAN_KEYS.contains(&key.as_str()) {
                parse_bool(&value)
                    .map_err(|_| invalid_pair(&key, &value))?
                    .to_string()
            } else if key == "severity" {
                let lower = value.to_ascii_lowercase();
                if !SEVERITIES.contains(&lower.as_str()) {
                    return Err(invalid_pair(&key, &value));
                }
                lower
            } else {
                value
            };
            Ok((key, value))
        })
        .collect()
}

fn invalid_pair(key: &str, value: &str) -> ApiError {
    ApiError::bad_request(format!("invalid key/value pair {key}/{value}"))
}

/// One key/value pair for the metadata API, validated.
fn single_entry(body: HashMap<String, String>) -> ApiResult<(String, String)> {
    if body.len() != 1 {
        return Err(ApiError::bad_request("only one key/value pair is allowed"));
    }
    let entries: BTreeMap<String, String> = body.into_iter().collect();
    let entries = normalize_metadata(entries)?;
    let (key, value) = entries
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::bad_request("only one key/value pair is allowed"))?;
    if !METADATA_API_KEYS.contains(&key.as_str()) {
        return Err(invalid_pair(&key, &value));
    }
    Ok((key, value))
}

/// All metadata of a project.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/metadatas", tag = "projectMetadata",
    operation_id = "listProjectMetadatas",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, body = HashMap<String, String>), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project")))]
pub async fn list_metadatas(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<String>,
) -> ApiResult<Json<BTreeMap<String, String>>> {
    let ApiPath(name_or_id) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Metadata, Action::Read)
        .await?;
    Ok(Json(project.metadata))
}

/// Add one metadata entry; 409 if the project already has it.
#[utoipa::path(post, path = "/api/v2.0/projects/{project_name_or_id}/metadatas", tag = "projectMetadata",
    operation_id = "addProjectMetadatas", request_body = HashMap<String, String>,
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, description = "Added"), (status = 400, description = "Invalid pair"),
        (status = 401, description = "Not signed in"), (status = 403, description = "Not allowed"),
        (status = 404, description = "No such project"), (status = 409, description = "Already set")))]
pub async fn add_metadatas(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<String>,
    body: ApiJson<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    let ApiPath(name_or_id) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(
        &state,
        &project.access(),
        Resource::Metadata,
        Action::Create,
    )
    .await?;
    let ApiJson(body) = body;
    let (key, value) = single_entry(body)?;
    if !state
        .db
        .add_project_metadata(project.id, &key, &value)
        .await?
    {
        return Err(ApiError::conflict(format!(
            "metadata {key} of project {} already exists",
            project.name
        )));
    }
    let resource = format!("{}:{key}", project.name);
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "create",
        "project_metadata",
        &resource,
    )
    .await;
    Ok(StatusCode::OK)
}

/// One metadata entry, as `{name: value}`.
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
    tag = "projectMetadata", operation_id = "getProjectMetadata",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("meta_name" = String, Path, description = "Metadata name"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, body = HashMap<String, String>), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project or entry")))]
pub async fn get_metadata(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<(String, String)>,
) -> ApiResult<Json<BTreeMap<String, String>>> {
    let ApiPath((name_or_id, meta_name)) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(&state, &project.access(), Resource::Metadata, Action::Read)
        .await?;
    let value = project
        .metadata
        .get(&meta_name)
        .ok_or_else(|| metadata_not_found(&project.name, &meta_name))?;
    Ok(Json(BTreeMap::from([(meta_name, value.clone())])))
}

fn metadata_not_found(project: &str, key: &str) -> ApiError {
    ApiError::not_found(format!("metadata {key} of project {project} not found"))
}

/// Set one metadata entry; the body holds exactly that key.
#[utoipa::path(put, path = "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
    tag = "projectMetadata", operation_id = "updateProjectMetadata", request_body = HashMap<String, String>,
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("meta_name" = String, Path, description = "Metadata name"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, description = "Updated"), (status = 400, description = "Invalid pair"),
        (status = 401, description = "Not signed in"), (status = 403, description = "Not allowed"),
        (status = 404, description = "No such project")))]
pub async fn update_metadata(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<(String, String)>,
    body: ApiJson<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    let ApiPath((name_or_id, meta_name)) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(
        &state,
        &project.access(),
        Resource::Metadata,
        Action::Update,
    )
    .await?;
    let ApiJson(body) = body;
    let (key, value) = single_entry(body)?;
    if key != meta_name {
        return Err(ApiError::bad_request(format!(
            "the body must set {meta_name}, not {key}"
        )));
    }
    let entries = BTreeMap::from([(key, value)]);
    if !state.db.set_project_metadata(project.id, &entries).await? {
        return Err(ApiError::not_found(format!(
            "project {name_or_id} not found"
        )));
    }
    let resource = format!("{}:{meta_name}", project.name);
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "update",
        "project_metadata",
        &resource,
    )
    .await;
    Ok(StatusCode::OK)
}

/// Remove one metadata entry (removing `public` makes the project private).
#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
    tag = "projectMetadata", operation_id = "deleteProjectMetadata",
    params(("project_name_or_id" = String, Path, description = "Project name or id"),
        ("meta_name" = String, Path, description = "Metadata name"),
        ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the parameter as a name")),
    responses((status = 200, description = "Deleted"), (status = 401, description = "Not signed in"),
        (status = 403, description = "Not allowed"), (status = 404, description = "No such project or entry")))]
pub async fn delete_metadata(
    State(state): State<ApiState>,
    ctx: Ctx,
    headers: HeaderMap,
    path: ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let ApiPath((name_or_id, meta_name)) = path;
    let project = project_by_name_or_id(&state, &headers, &name_or_id).await?;
    ctx.require(
        &state,
        &project.access(),
        Resource::Metadata,
        Action::Delete,
    )
    .await?;
    if !state
        .db
        .delete_project_metadata(project.id, &meta_name)
        .await?
    {
        return Err(metadata_not_found(&project.name, &meta_name));
    }
    let resource = format!("{}:{meta_name}", project.name);
    audit::record(
        &state,
        &ctx,
        Some(project.id),
        "delete",
        "project_metadata",
        &resource,
    )
    .await;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_follow_harbor() {
        for ok in [
            "a",
            "library",
            "my-team",
            "a.b_c-d",
            "0abc",
            &"a".repeat(255),
        ] {
            assert!(validate_project_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Library",
            "-a",
            "a-",
            "a--b",
            "a..b",
            "a/b",
            "a b",
            "_a",
            "é",
            &"a".repeat(256),
        ] {
            assert!(validate_project_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_is_normalised() {
        let m = normalize_metadata(BTreeMap::from([
            ("public".to_owned(), "TRUE".to_owned()),
            ("severity".to_owned(), "High".to_owned()),
            ("retention_id".to_owned(), "7".to_owned()),
        ]))
        .unwrap();
        assert_eq!(m["public"], "true");
        assert_eq!(m["severity"], "high");
        assert_eq!(m["retention_id"], "7");
        assert!(
            normalize_metadata(BTreeMap::from([(
                "auto_scan".to_owned(),
                "maybe".to_owned()
            )]))
            .is_err()
        );
        assert!(
            single_entry(HashMap::from([("retention_id".to_owned(), "1".to_owned())])).is_err()
        );
        assert!(single_entry(HashMap::new()).is_err());
        assert_eq!(
            single_entry(HashMap::from([("public".to_owned(), "1".to_owned())])).unwrap(),
            ("public".to_owned(), "true".to_owned())
        );
    }
}
