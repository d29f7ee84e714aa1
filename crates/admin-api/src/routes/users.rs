//! `/users`: local accounts (Harbor's user API), the current user and their
//! permissions.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::LOCATION};
use axum::response::{IntoResponse, Response};
use projects::{
    CreateUserOutcome, NewUser, UpdateProfileOutcome, UserFilter, UserRecord, UserSortField, Window,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::auth::{Caller, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{PageParams, paged};
use crate::query::Q;
use crate::routes::lookup::{only_keys, text_term};
use crate::rules::{check_password, check_profile, check_username};
use crate::sort::parse_sort;
use crate::state::ApiState;
use crate::time::rfc3339;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserResp {
    pub email: String,
    pub realname: String,
    pub comment: String,
    pub user_id: i64,
    pub username: String,
    pub sysadmin_flag: bool,
    /// Always false: Berth has no external authenticator granting admin rights.
    pub admin_role_in_auth: bool,
    /// RFC 3339.
    pub creation_time: String,
    pub update_time: String,
}

impl From<UserRecord> for UserResp {
    fn from(u: UserRecord) -> Self {
        Self {
            email: u.email,
            realname: u.realname,
            comment: u.comment,
            user_id: u.id,
            username: u.username,
            sysadmin_flag: u.sysadmin,
            admin_role_in_auth: false,
            creation_time: rfc3339(u.created_at),
            update_time: rfc3339(u.updated_at),
        }
    }
}

/// No `Debug`: it carries a password, which must never reach a log.
#[derive(Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct UserCreationReq {
    pub email: String,
    pub realname: String,
    pub comment: String,
    pub password: String,
    pub username: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct UserProfile {
    pub email: String,
    pub realname: String,
    pub comment: String,
}

/// No `Debug`: it carries passwords.
#[derive(Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct PasswordReq {
    /// Required when changing one's own password.
    pub old_password: Option<String>,
    pub new_password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserSysAdminFlag {
    /// true: system administrator; false: not.
    pub sysadmin_flag: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserSearchRespItem {
    pub user_id: i64,
    pub username: String,
}

/// `q` and `sort` of listings.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Harbor's query: `k=v` (exact), `k=~v` (fuzzy). Keys: `username`, `email`.
    pub q: Option<String>,
    /// Comma-separated fields, `-` for descending.
    pub sort: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Part of a username.
    pub username: Option<String>,
}

const SORT_FIELDS: &[(&str, UserSortField)] = &[
    ("user_id", UserSortField::UserId),
    ("username", UserSortField::Username),
    ("email", UserSortField::Email),
    ("realname", UserSortField::Realname),
    ("creation_time", UserSortField::CreationTime),
    ("update_time", UserSortField::UpdateTime),
];

/// The repeated query parameters of paging links.
pub(crate) fn link_query<'a>(pairs: &[(&'a str, &'a Option<String>)]) -> Vec<(&'a str, &'a str)> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
        .collect()
}

/// The signed-in user, or 401 (anonymous) / 403 (robots: they have no user profile).
fn signed_in_user(ctx: &Ctx) -> ApiResult<&rbac::UserAccount> {
    match &ctx.caller {
        Caller::User(u) => Ok(u),
        Caller::Anonymous => Err(ApiError::unauthorized()),
        Caller::Robot(_) => Err(ApiError::forbidden()),
    }
}

/// The caller themselves or a system administrator, else 403.
fn require_self_or_admin(ctx: &Ctx, user_id: i64) -> ApiResult<&rbac::UserAccount> {
    let me = signed_in_user(ctx)?;
    if me.sysadmin || me.id == user_id {
        Ok(me)
    } else {
        Err(ApiError::forbidden())
    }
}

async fn load_user(state: &ApiState, user_id: i64) -> ApiResult<UserRecord> {
    state
        .db
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {user_id} not found")))
}

/// List users (system administrators only).
#[utoipa::path(get, path = "/api/v2.0/users", tag = "user", operation_id = "listUsers",
    params(PageParams, ListParams),
    responses(
        (status = 200, body = [UserResp], headers(("X-Total-Count" = i64), ("Link" = String))),
        (status = 401), (status = 403)))]
pub async fn list_users(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    ctx.require_sysadmin()?;
    let page = page.validate()?;
    let q = Q::parse(params.q.as_deref())?;
    only_keys(&q, &["username", "email"])?;
    let filter = UserFilter {
        username: text_term(&q, "username")?,
        email: text_term(&q, "email")?,
    };
    let sort = parse_sort(params.sort.as_deref(), SORT_FIELDS)?;
    let window = Window {
        offset: page.offset(),
        limit: page.size,
    };
    let (users, total) = state.db.list_users(&filter, &sort, window).await?;
    let items: Vec<UserResp> = users.into_iter().map(UserResp::from).collect();
    let extra = link_query(&[("q", &params.q), ("sort", &params.sort)]);
    Ok(paged(items, total, page, "/api/v2.0/users", &extra))
}

/// Create a local user (system administrators only; self-registration is off).
#[utoipa::path(post, path = "/api/v2.0/users", tag = "user", operation_id = "createUser",
    request_body = UserCreationReq,
    responses((status = 201, headers(("Location" = String))), (status = 400), (status = 401),
        (status = 403), (status = 409)))]
pub async fn create_user(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiJson(req): ApiJson<UserCreationReq>,
) -> ApiResult<Response> {
    ctx.require_sysadmin()?;
    check_username(&req.username).map_err(ApiError::bad_request)?;
    check_profile(&req.email, &req.realname, &req.comment).map_err(ApiError::bad_request)?;
    check_password(&req.password).map_err(ApiError::bad_request)?;
    let outcome = state
        .db
        .create_user(&NewUser {
            username: req.username.clone(),
            email: req.email.clone(),
            realname: req.realname,
            comment: req.comment,
            password: req.password,
            sysadmin: false,
        })
        .await?;
    let user = match outcome {
        CreateUserOutcome::Created(user) => user,
        CreateUserOutcome::UsernameTaken => {
            return Err(ApiError::conflict(format!(
                "username {} already exists",
                req.username
            )));
        }
        CreateUserOutcome::EmailTaken => {
            return Err(ApiError::conflict(format!(
                "email {} already exists",
                req.email
            )));
        }
    };
    audit::record(&state, &ctx, None, "create", "user", &user.username).await;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v2.0/users/{}", user.id)) {
        headers.insert(LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers).into_response())
}

/// The signed-in user's profile (412 for robot accounts, which have none).
#[utoipa::path(get, path = "/api/v2.0/users/current", tag = "user",
    operation_id = "getCurrentUserInfo",
    responses((status = 200, body = UserResp), (status = 401), (status = 412)))]
pub async fn current_user(State(state): State<ApiState>, ctx: Ctx) -> ApiResult<Json<UserResp>> {
    let me = match &ctx.caller {
        Caller::User(u) => u,
        Caller::Anonymous => return Err(ApiError::unauthorized()),
        Caller::Robot(_) => {
            return Err(ApiError::precondition(
                "robot accounts have no user profile",
            ));
        }
    };
    Ok(Json(load_user(&state, me.id).await?.into()))
}

/// Users whose name contains `username`, names starting with it first (any signed-in
/// caller).
#[utoipa::path(get, path = "/api/v2.0/users/search", tag = "user", operation_id = "searchUsers",
    params(PageParams, SearchParams),
    responses(
        (status = 200, body = [UserSearchRespItem], headers(("X-Total-Count" = i64), ("Link" = String))),
        (status = 400), (status = 401)))]
pub async fn search_users(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> ApiResult<Response> {
    ctx.require_login()?;
    let page = page.validate()?;
    let username = params
        .username
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::bad_request("the username parameter is required"))?;
    let window = Window {
        offset: page.offset(),
        limit: page.size,
    };
    let (users, total) = state.db.search_users(username, window).await?;
    let items: Vec<UserSearchRespItem> = users
        .into_iter()
        .map(|(user_id, username)| UserSearchRespItem { user_id, username })
        .collect();
    let extra = link_query(&[("username", &params.username)]);
    Ok(paged(items, total, page, "/api/v2.0/users/search", &extra))
}

/// A user's profile: one's own, or anyone's for system administrators.
#[utoipa::path(get, path = "/api/v2.0/users/{user_id}", tag = "user", operation_id = "getUser",
    params(("user_id" = i64, Path)),
    responses((status = 200, body = UserResp), (status = 401), (status = 403), (status = 404)))]
pub async fn get_user(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(user_id): ApiPath<i64>,
) -> ApiResult<Json<UserResp>> {
    require_self_or_admin(&ctx, user_id)?;
    Ok(Json(load_user(&state, user_id).await?.into()))
}

/// Update email, realname and comment: one's own, or anyone's for system administrators.
#[utoipa::path(put, path = "/api/v2.0/users/{user_id}", tag = "user",
    operation_id = "updateUserProfile", params(("user_id" = i64, Path)), request_body = UserProfile,
    responses((status = 200), (status = 400), (status = 401), (status = 403), (status = 404),
        (status = 409)))]
pub async fn update_user_profile(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(profile): ApiJson<UserProfile>,
) -> ApiResult<StatusCode> {
    require_self_or_admin(&ctx, user_id)?;
    check_profile(&profile.email, &profile.realname, &profile.comment)
        .map_err(ApiError::bad_request)?;
    let user = load_user(&state, user_id).await?;
    match state
        .db
        .update_user_profile(user_id, &profile.email, &profile.realname, &profile.comment)
        .await?
    {
        UpdateProfileOutcome::Updated => {}
        UpdateProfileOutcome::NotFound => {
            return Err(ApiError::not_found(format!("user {user_id} not found")));
        }
        UpdateProfileOutcome::EmailTaken => {
            return Err(ApiError::conflict(format!(
                "email {} already exists",
                profile.email
            )));
        }
    }
    audit::record(&state, &ctx, None, "update", "user", &user.username).await;
    Ok(StatusCode::OK)
}

/// Delete a user (system administrators only, not themselves).
#[utoipa::path(delete, path = "/api/v2.0/users/{user_id}", tag = "user", operation_id = "deleteUser",
    params(("user_id" = i64, Path)),
    responses((status = 200), (status = 401), (status = 403), (status = 404)))]
pub async fn delete_user(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(user_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    ctx.require_sysadmin()?;
    if ctx.user().is_some_and(|me| me.id == user_id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "you cannot delete yourself",
        ));
    }
    let user = load_user(&state, user_id).await?;
    if !state.db.delete_user(user_id).await? {
        return Err(ApiError::not_found(format!("user {user_id} not found")));
    }
    audit::record(&state, &ctx, None, "delete", "user", &user.username).await;
    Ok(StatusCode::OK)
}

/// Change a password. Changing one's own needs `old_password`; system administrators
/// may reset anyone else's without it.
#[utoipa::path(put, path = "/api/v2.0/users/{user_id}/password", tag = "user",
    operation_id = "updateUserPassword", params(("user_id" = i64, Path)), request_body = PasswordReq,
    responses((status = 200), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn update_password(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(req): ApiJson<PasswordReq>,
) -> ApiResult<StatusCode> {
    let me = require_self_or_admin(&ctx, user_id)?.clone();
    let new_password = req
        .new_password
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("new_password is required"))?;
    let user = load_user(&state, user_id).await?;
    if me.id == user_id {
        let old = req.old_password.as_deref().unwrap_or_default();
        if old.is_empty()
            || state
                .db
                .verify_password(&user.username, old)
                .await?
                .is_none()
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "the current password is incorrect",
            ));
        }
    }
    check_password(new_password).map_err(ApiError::bad_request)?;
    if state
        .db
        .verify_password(&user.username, new_password)
        .await?
        .is_some()
    {
        return Err(ApiError::bad_request(
            "the new password must differ from the old one",
        ));
    }
    if !state.db.set_user_password(user_id, new_password).await? {
        return Err(ApiError::not_found(format!("user {user_id} not found")));
    }
    audit::record(&state, &ctx, None, "update", "user", &user.username).await;
    Ok(StatusCode::OK)
}

/// Grant or revoke system administration (system administrators only, not on
/// themselves, so the last administrator cannot lock everyone out).
#[utoipa::path(put, path = "/api/v2.0/users/{user_id}/sysadmin", tag = "user",
    operation_id = "setUserSysAdmin", params(("user_id" = i64, Path)),
    request_body = UserSysAdminFlag,
    responses((status = 200), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn set_sysadmin(
    State(state): State<ApiState>,
    ctx: Ctx,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(flag): ApiJson<UserSysAdminFlag>,
) -> ApiResult<StatusCode> {
    ctx.require_sysadmin()?;
    if ctx.user().is_some_and(|me| me.id == user_id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "you cannot change your own administrator flag",
        ));
    }
    let user = load_user(&state, user_id).await?;
    if !state
        .db
        .set_user_sysadmin(user_id, flag.sysadmin_flag)
        .await?
    {
        return Err(ApiError::not_found(format!("user {user_id} not found")));
    }
    audit::record(&state, &ctx, None, "update", "user", &user.username).await;
    Ok(StatusCode::OK)
}
