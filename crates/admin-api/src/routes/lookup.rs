//! Finding the project (and repository) a request names, the way Harbor reads its
//! paths, and which projects a caller may see in listings.

use axum::http::HeaderMap;
use projects::{Project, ProjectScope, TextMatch};
use rbac::RobotLevel;

use crate::auth::{Caller, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::query::{Q, Term};
use crate::state::ApiState;

/// Harbor's header saying that `{project_name_or_id}` is a name even if it looks like
/// a number.
const IS_RESOURCE_NAME: &str = "x-is-resource-name";

/// The project `name_or_id` refers to: an id when it parses as one, unless the
/// `X-Is-Resource-Name: true` header says it is a name. 404 when there is none.
pub(crate) async fn project_by_name_or_id(
    state: &ApiState,
    headers: &HeaderMap,
    name_or_id: &str,
) -> ApiResult<Project> {
    let is_name = headers
        .get(IS_RESOURCE_NAME)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let found = match name_or_id.parse::<i64>() {
        Ok(id) if !is_name => state.db.project_by_id(id).await?,
        _ => state.db.project_by_name(name_or_id).await?,
    };
    found.ok_or_else(|| project_not_found(name_or_id))
}

/// The project called `name` (paths that take only a name). 404 when there is none.
pub(crate) async fn project_by_name(state: &ApiState, name: &str) -> ApiResult<Project> {
    state
        .db
        .project_by_name(name)
        .await?
        .ok_or_else(|| project_not_found(name))
}

fn project_not_found(name_or_id: &str) -> ApiError {
    ApiError::not_found(format!("project {name_or_id} not found"))
}

/// The projects `ctx` may see in listings: everything for system admins; public ones
/// plus memberships for users; public ones plus those its permissions name for robots
/// (all of them for a system robot covering `*`); public ones for anonymous callers.
pub(crate) fn visible_scope(ctx: &Ctx) -> ProjectScope {
    match &ctx.caller {
        Caller::Anonymous => ProjectScope::Visible {
            member: None,
            names: Vec::new(),
        },
        Caller::User(u) if u.sysadmin => ProjectScope::All,
        Caller::User(u) => ProjectScope::Visible {
            member: Some(u.id),
            names: Vec::new(),
        },
        Caller::Robot(r) => {
            let namespaces = r
                .permissions
                .iter()
                .filter(|p| p.kind == "project")
                .map(|p| p.namespace.clone());
            let mut names = Vec::new();
            for ns in namespaces {
                if ns == "*" && r.level == RobotLevel::System {
                    return ProjectScope::All;
                }
                names.push(ns);
            }
            ProjectScope::Visible {
                member: None,
                names,
            }
        }
    }
}

/// The repository path of a `{repository_name}` segment, already percent-decoded
/// once by the router. Harbor clients encode slashes twice (`a%252Fb`), others once
/// (`a%2Fb`); decoding what is left once more accepts both. Repository names never
/// contain `%`, so this cannot change a name that was meant literally.
pub(crate) fn repository_path(segment: &str) -> String {
    if segment.contains('%') {
        url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| segment.to_owned())
    } else {
        segment.to_owned()
    }
}

/// The full name of repository `segment` in project `project`.
pub(crate) fn full_repository_name(project: &str, segment: &str) -> String {
    format!("{project}/{}", repository_path(segment))
}

/// Harbor's zero time: what Harbor answers for a time that never happened (an
/// artifact never pulled).
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00.000Z";

/// A `q` text term (`k=v` or `k=~v`) as a store filter; other forms are a 400.
pub(crate) fn text_term(q: &Q, key: &str) -> ApiResult<Option<TextMatch>> {
    match q.get(key) {
        None => Ok(None),
        Some(Term::Exact(v)) => Ok(Some(TextMatch::Exact(v.clone()))),
        Some(Term::Fuzzy(v)) => Ok(Some(TextMatch::Contains(v.clone()))),
        Some(_) => Err(ApiError::bad_request(format!(
            "query key {key:?} takes k=v or k=~v"
        ))),
    }
}

/// 400 for `q` keys a listing does not support, so a typo does not silently widen
/// the result.
pub(crate) fn only_keys(q: &Q, supported: &[&str]) -> ApiResult<()> {
    match q.0.keys().find(|k| !supported.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(ApiError::bad_request(format!(
            "unsupported query key {k:?}; supported: {}",
            supported.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_segments_decode_once_or_twice() {
        assert_eq!(repository_path("app"), "app");
        assert_eq!(repository_path("team/app"), "team/app");
        assert_eq!(repository_path("team%2Fapp"), "team/app");
        assert_eq!(full_repository_name("lib", "a%2Fb%2Fc"), "lib/a/b/c");
    }

    #[test]
    fn q_terms() {
        let q = Q::parse(Some("name=~ap,digest=sha256:x,tags={a b}")).unwrap();
        assert_eq!(
            text_term(&q, "name").unwrap(),
            Some(TextMatch::Contains("ap".into()))
        );
        assert_eq!(
            text_term(&q, "digest").unwrap(),
            Some(TextMatch::Exact("sha256:x".into()))
        );
        assert!(text_term(&q, "tags").is_err());
        assert_eq!(text_term(&q, "none").unwrap(), None);
        assert!(only_keys(&q, &["name", "digest", "tags"]).is_ok());
        assert!(only_keys(&q, &["name"]).is_err());
    }
}
