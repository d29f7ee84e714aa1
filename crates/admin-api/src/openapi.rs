//! The OpenAPI document, generated from the handlers' annotations. Every route in
//! `routes/mod.rs` must be listed here; a test keeps the two in step.

use utoipa::OpenApi;

use crate::robot_model;
use crate::routes::{
    artifacts, audit_logs, members, metadatas, permissions, projects, repositories, robots, search,
    statistics, system, tags, users,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Berth API", version = "2.0", description = "Harbor-compatible administration API of Berth"),
    servers((url = "/")),
    paths(system::ping, system::health, system::systeminfo,
        users::list_users, users::create_user, users::current_user, users::search_users,
        users::get_user, users::update_user_profile, users::delete_user,
        users::update_password, users::set_sysadmin, permissions::current_permissions,
        robots::list_robots, robots::create_robot, robots::get_robot, robots::update_robot,
        robots::refresh_secret, robots::delete_robot, permissions::get_permissions,
        audit_logs::list_audit_logs, audit_logs::project_logs,
        search::search, statistics::statistics,
        projects::list_projects, projects::head_project, projects::create_project,
        projects::get_project, projects::update_project, projects::delete_project,
        projects::project_deletable, projects::project_summary,
        metadatas::list_metadatas, metadatas::add_metadatas, metadatas::get_metadata,
        metadatas::update_metadata, metadatas::delete_metadata,
        members::list_members, members::create_member, members::get_member,
        members::update_member, members::delete_member,
        repositories::list_all_repositories, repositories::list_repositories,
        repositories::get_repository, repositories::update_repository,
        repositories::delete_repository,
        artifacts::list_artifacts, artifacts::get_artifact, artifacts::delete_artifact,
        tags::list_tags, tags::create_tag, tags::delete_tag),
    components(schemas(system::OverallHealth, system::ComponentHealth, system::GeneralInfo,
        users::UserResp, users::UserCreationReq, users::UserProfile, users::PasswordReq,
        users::UserSysAdminFlag, users::UserSearchRespItem,
        permissions::Permission, permissions::Permissions,
        robot_model::Robot, robot_model::RobotCreate, robot_model::RobotCreated,
        robot_model::RobotSec, robot_model::RobotPermission, robot_model::Access,
        audit_logs::AuditLog, search::Search, search::SearchRepository,
        statistics::Statistic,
        projects::Project, projects::ProjectReq, projects::ProjectMetadata, projects::CVEAllowlist,
        projects::ProjectDeletable, projects::ProjectSummary,
        members::ProjectMemberEntity, members::ProjectMember, members::UserEntity,
        members::RoleRequest, repositories::Repository, repositories::RepositoryUpdate,
        artifacts::Artifact, artifacts::Reference, artifacts::Platform, artifacts::Tag,
        tags::NewTag)),
)]
pub struct ApiDoc;
