//! `GET /audit-logs` and `GET /projects/{project_name}/logs`: Harbor's (legacy) audit
//! log API over every recorded push, pull, delete, login and admin change.

use axum::extract::State;
use axum::response::Response;
use projects::{AuditEntry, AuditFilter, AuditSortField, Window};
use rbac::{AccessDirectory as _, Action, Resource};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::pagination::{PageParams, paged};
use crate::query::{Q, Term};
use crate::routes::lookup::{only_keys, text_term};
use crate::routes::users::link_query;
use crate::sort::parse_sort;
use crate::state::ApiState;
use crate::time::{parse_query_time, rfc3339};
use crate::visibility::log_projects;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditLog {
    pub id: i64,
    pub username: String,
    pub resource: String,
    pub resource_type: String,
    pub operation: String,
    /// RFC 3339.
    pub op_time: String,
}

impl From<AuditEntry> for AuditLog {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            username: e.username,
            resource: e.resource,
            resource_type: e.resource_type,
            operation: e.operation,
            op_time: rfc3339(e.op_time),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogListParams {
    /// Keys `operation`, `resource`, `resource_type`, `username` (exact `k=v` or fuzzy
    /// `k=~v`) and `op_time=[2024-01-01 00:00:00~2024-12-31 23:59:59]`.
    pub q: Option<String>,
    /// Comma-separated fields (`op_time`, `id`, `username`, `operation`, `resource`,
    /// `resource_type`), `-` for descending; newest first by default.
    pub sort: Option<String>,
}

const SORT_FIELDS: &[(&str, AuditSortField)] = &[
    ("id", AuditSortField::Id),
    ("op_time", AuditSortField::OpTime),
    ("username", AuditSortField::Username),
    ("operation", AuditSortField::Operation),
    ("resource", AuditSortField::Resource),
    ("resource_type", AuditSortField::ResourceType),
];

fn filter_from(q: &Q) -> ApiResult<AuditFilter> {
    only_keys(
        q,
        &[
            "operation",
            "resource",
            "resource_type",
            "username",
            "op_time",
        ],
    )?;
    let time = |v: &Option<String>| -> ApiResult<Option<i64>> {
        v.as_deref()
            .map(|t| {
                parse_query_time(t).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "invalid time {t:?}; use \"2006-01-02 15:04:05\""
                    ))
                })
            })
            .transpose()
    };
    let (op_time_from, op_time_to) = match q.get("op_time") {
        None => (None, None),
        Some(Term::Range(from, to)) => (time(from)?, time(to)?),
        Some(Term::Exact(t)) => {
            let t = time(&Some(t.clone()))?;
            (t, t)
        }
        Some(_) => return Err(ApiError::bad_request("op_time takes a range [from~to]")),
    };
    Ok(AuditFilter {
        project_ids: None,
        operation: text_term(q, "operation")?,
        resource: text_term(q, "resource")?,
        resource_type: text_term(q, "resource_type")?,
        username: text_term(q, "username")?,
        op_time_from,
        op_time_to,
    })
}

async fn list(
    state: &ApiState,
    filter: AuditFilter,
    page: PageParams,
    params: &LogListParams,
    path: &str,
) -> ApiResult<Response> {
    let page = page.validate()?;
    let sort = parse_sort(params.sort.as_deref(), SORT_FIELDS)?;
    let window = Window {
        offset: page.offset(),
        limit: page.size,
    };
    if filter.project_ids.as_ref().is_some_and(Vec::is_empty) {
        // Nothing is visible: skip the query, answer an empty page.
        return Ok(paged(Vec::<AuditLog>::new(), 0, page, path, &[]));
    }
    let (entries, total) = state.db.list_audit_entries(&filter, &sort, window).await?;
    let items: Vec<AuditLog> = entries.into_iter().map(AuditLog::from).collect();
    let extra = link_query(&[("q", &params.q), ("sort", &params.sort)]);
    Ok(paged(items, total, page, path, &extra))
}

/// Audit log entries: all of them for system administrators, otherwise those of the
/// projects where the caller may list logs.
#[utoipa::path(get, path = "/api/v2.0/audit-logs", tag = "auditlog", operation_id = "listAuditLogs",
    params(PageParams, LogListParams),
    responses(
        (status = 200, body = [AuditLog], headers(("X-Total-Count" = i64), ("Link" = String))),
        (status = 400), (status = 401)))]
pub async fn list_audit_logs(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<LogListParams>,
) -> ApiResult<Response> {
    ctx.require_login()?;
    let mut filter = filter_from(&Q::parse(params.q.as_deref())?)?;
    filter.project_ids = log_projects(&state, &ctx).await?;
    list(&state, filter, page, &params, "/api/v2.0/audit-logs").await
}

/// Audit log entries of one project (needs `log:list` there).
#[utoipa::path(get, path = "/api/v2.0/projects/{project_name}/logs", tag = "project",
    operation_id = "getLogs", params(("project_name" = String, Path), PageParams, LogListParams),
    responses(
        (status = 200, body = [AuditLog], headers(("X-Total-Count" = i64), ("Link" = String))),
        (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn project_logs(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(project_name): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<LogListParams>,
) -> ApiResult<Response> {
    let project = state
        .db
        .project(&project_name)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("project {project_name} not found")))?;
    ctx.require(&state, &project, Resource::Log, Action::List)
        .await?;
    let mut filter = filter_from(&Q::parse(params.q.as_deref())?)?;
    filter.project_ids = Some(vec![project.id]);
    let path = format!("/api/v2.0/projects/{project_name}/logs");
    list(&state, filter, page, &params, &path).await
}
