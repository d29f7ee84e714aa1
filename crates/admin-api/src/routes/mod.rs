//! Every `/api/v2.0` route, registered in one place.

pub(crate) mod artifacts;
pub(crate) mod audit_logs;
mod docs;
pub(crate) mod lookup;
pub(crate) mod members;
pub(crate) mod metadatas;
pub(crate) mod permissions;
pub(crate) mod projects;
pub(crate) mod repositories;
pub(crate) mod robots;
pub(crate) mod search;
pub(crate) mod statistics;
pub(crate) mod system;
pub(crate) mod tags;
pub(crate) mod users;

use axum::Router;
use axum::routing::{get, put};

use crate::state::ApiState;

pub const BASE: &str = "/api/v2.0";

pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/ping", get(system::ping))
        .route("/health", get(system::health))
        .route("/systeminfo", get(system::systeminfo))
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/current", get(users::current_user))
        .route(
            "/users/current/permissions",
            get(permissions::current_permissions),
        )
        .route("/users/search", get(users::search_users))
        .route(
            "/users/{user_id}",
            get(users::get_user)
                .put(users::update_user_profile)
                .delete(users::delete_user),
        )
        .route("/users/{user_id}/password", put(users::update_password))
        .route("/users/{user_id}/sysadmin", put(users::set_sysadmin))
        .route(
            "/robots",
            get(robots::list_robots).post(robots::create_robot),
        )
        .route(
            "/robots/{robot_id}",
            get(robots::get_robot)
                .put(robots::update_robot)
                .patch(robots::refresh_secret)
                .delete(robots::delete_robot),
        )
        .route("/permissions", get(permissions::get_permissions))
        .route("/audit-logs", get(audit_logs::list_audit_logs))
        .route(
            "/projects/{project_name}/logs",
            get(audit_logs::project_logs),
        )
        .route("/search", get(search::search))
        .route("/statistics", get(statistics::statistics))
        .merge(project_routes())
        .fallback(system::not_found);
    Router::new()
        .nest(BASE, api.with_state(state))
        .merge(docs::router())
}

/// Projects, their metadata and members, repositories, artifacts and tags. A
/// `{repository_name}` is one path segment: its slashes arrive encoded (see
/// `lookup::repository_path`).
fn project_routes() -> Router<ApiState> {
    const REPO: &str = "/projects/{project_name}/repositories/{repository_name}";
    const ARTIFACT: &str =
        "/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}";
    Router::new()
        .route(
            "/projects",
            get(projects::list_projects)
                .head(projects::head_project)
                .post(projects::create_project),
        )
        .route(
            "/projects/{project_name_or_id}",
            get(projects::get_project)
                .put(projects::update_project)
                .delete(projects::delete_project),
        )
        .route(
            "/projects/{project_name_or_id}/_deletable",
            get(projects::project_deletable),
        )
        .route(
            "/projects/{project_name_or_id}/summary",
            get(projects::project_summary),
        )
        .route(
            "/projects/{project_name_or_id}/metadatas",
            get(metadatas::list_metadatas).post(metadatas::add_metadatas),
        )
        // Harbor's definition spells this path with a trailing slash; clients use both.
        .route(
            "/projects/{project_name_or_id}/metadatas/",
            get(metadatas::list_metadatas).post(metadatas::add_metadatas),
        )
        .route(
            "/projects/{project_name_or_id}/metadatas/{meta_name}",
            get(metadatas::get_metadata)
                .put(metadatas::update_metadata)
                .delete(metadatas::delete_metadata),
        )
        .route(
            "/projects/{project_name_or_id}/members",
            get(members::list_members).post(members::create_member),
        )
        .route(
            "/projects/{project_name_or_id}/members/{mid}",
            get(members::get_member)
                .put(members::update_member)
                .delete(members::delete_member),
        )
        .route("/repositories", get(repositories::list_all_repositories))
        .route(
            "/projects/{project_name}/repositories",
            get(repositories::list_repositories),
        )
        .route(
            REPO,
            get(repositories::get_repository)
                .put(repositories::update_repository)
                .delete(repositories::delete_repository),
        )
        .route(&format!("{REPO}/artifacts"), get(artifacts::list_artifacts))
        .route(
            ARTIFACT,
            get(artifacts::get_artifact).delete(artifacts::delete_artifact),
        )
        .route(
            &format!("{ARTIFACT}/tags"),
            get(tags::list_tags).post(tags::create_tag),
        )
        .route(
            &format!("{ARTIFACT}/tags/{{tag_name}}"),
            axum::routing::delete(tags::delete_tag),
        )
}
