//! Drives the token router in-process, as docker, podman and oras would.

mod common;

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use registry_core::{Action, Resource};
use serde_json::{Value, json};
use tower::ServiceExt;

use common::{ADMIN, DEV, MemoryUsers, basic, jwt_part, service, service_with};
use token_auth::{TokenConfig, router};

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(request: Request<Body>) -> Reply {
    let (service, _) = service();
    send_to(router(service), request).await
}

async fn send_to(app: axum::Router, request: Request<Body>) -> Reply {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

fn get(query: &str, auth: Option<String>) -> Request<Body> {
    let mut builder = Request::get(format!("/service/token?{query}"));
    if let Some(auth) = auth {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    builder.body(Body::empty()).unwrap()
}

fn post(form: &str) -> Request<Body> {
    Request::post("/service/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

fn access_of(reply: &Reply) -> Value {
    jwt_part(reply.body["token"].as_str().unwrap(), 1)["access"].clone()
}

fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.body["errors"][0]["code"], code, "{:?}", reply.body);
    assert!(reply.body["errors"][0]["message"].is_string());
}

#[tokio::test]
async fn admin_gets_exactly_what_it_asked() {
    let reply = send(get(
        "service=berth&scope=repository:lib/app:pull,push",
        Some(basic(ADMIN.0, ADMIN.1)),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        access_of(&reply),
        json!([{"type": "repository", "name": "lib/app", "actions": ["pull", "push"]}])
    );
    let claims = jwt_part(reply.body["token"].as_str().unwrap(), 1);
    assert_eq!(claims["sub"], "admin");
}

#[tokio::test]
async fn response_and_token_shape() {
    let (service, key) = service();
    let reply = send_to(
        router(service),
        get(
            "service=berth&scope=repository:lib/app:pull&client_id=docker&offline_token=true",
            Some(basic(ADMIN.0, ADMIN.1)),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let token = reply.body["token"].as_str().unwrap();
    assert_eq!(reply.body["access_token"], token);
    assert_eq!(reply.body["expires_in"], 300);
    // No refresh tokens are issued, even when asked for.
    assert!(reply.body.get("refresh_token").is_none());
    let issued_at = reply.body["issued_at"].as_str().unwrap();
    let issued_at = chrono::DateTime::parse_from_rfc3339(issued_at).unwrap();
    assert!(issued_at.to_rfc3339().ends_with("+00:00"));

    let head = jwt_part(token, 0);
    assert_eq!(head["alg"], "ES256");
    assert_eq!(head["typ"], "JWT");
    assert_eq!(head["kid"], key.kid());

    let claims = jwt_part(token, 1);
    assert_eq!(claims["iss"], "berth-token-service");
    assert_eq!(claims["aud"], "berth");
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 300);
    assert_eq!(iat, issued_at.timestamp());
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
}

#[tokio::test]
async fn token_ids_are_unique() {
    let (service, _) = service();
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let reply = send_to(router(service.clone()), get("service=berth", None)).await;
        let jti = jwt_part(reply.body["token"].as_str().unwrap(), 1)["jti"].clone();
        assert!(seen.insert(jti.to_string()));
    }
}

#[tokio::test]
async fn anonymous_gets_an_empty_access_list() {
    let reply = send(get(
        "service=berth&scope=repository:lib/app:pull,push,delete,*&scope=registry:catalog:*",
        None,
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(access_of(&reply), json!([]));
    assert_eq!(
        jwt_part(reply.body["token"].as_str().unwrap(), 1)["sub"],
        ""
    );
}

#[tokio::test]
async fn user_gets_nothing_in_a_missing_project() {
    let reply = send(get(
        "service=berth&scope=repository:dev/app:pull,push",
        Some(basic(DEV.0, DEV.1)),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(access_of(&reply), json!([]));
    assert_eq!(
        jwt_part(reply.body["token"].as_str().unwrap(), 1)["sub"],
        "dev"
    );
}

#[tokio::test]
async fn login_without_scope_succeeds() {
    // `docker login` asks for a token with no scope at all.
    let reply = send(get(
        "account=admin&client_id=docker&offline_token=true&service=berth",
        Some(basic(ADMIN.0, ADMIN.1)),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(access_of(&reply), json!([]));
}

#[tokio::test]
async fn wrong_password_is_401() {
    for auth in [
        basic(ADMIN.0, "wrong"),
        basic("nobody", "x"),
        basic(ADMIN.0, ""),
        basic("", ""),
    ] {
        let reply = send(get(
            "service=berth&scope=repository:lib/app:pull",
            Some(auth),
        ))
        .await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        assert_eq!(
            reply.body["errors"][0]["message"],
            "authentication required"
        );
        assert!(
            reply.headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic ")
        );
    }
}

#[tokio::test]
async fn malformed_basic_header_is_401() {
    for auth in ["Basic", "Basic !!notbase64", "Basic bm9jb2xvbg=="] {
        let reply = send(get("service=berth", Some(auth.to_owned()))).await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
}

#[tokio::test]
async fn multiple_scopes() {
    let reply = send(get(
        "service=berth&scope=repository:lib/app:pull,push&scope=repository:lib/base:pull&scope=registry:catalog:*",
        Some(basic(ADMIN.0, ADMIN.1)),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        access_of(&reply),
        json!([
            {"type": "repository", "name": "lib/app", "actions": ["pull", "push"]},
            {"type": "repository", "name": "lib/base", "actions": ["pull"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]},
        ])
    );
}

#[tokio::test]
async fn space_separated_and_repeated_scopes_merge() {
    let reply = send(get(
        "service=berth&scope=repository:lib/a:pull%20repository:lib/b:pull&scope=repository:lib/a:push&scope=repository(plugin):lib/c:pull",
        Some(basic(ADMIN.0, ADMIN.1)),
    ))
    .await;
    assert_eq!(
        access_of(&reply),
        json!([
            {"type": "repository", "name": "lib/a", "actions": ["pull", "push"]},
            {"type": "repository", "name": "lib/b", "actions": ["pull"]},
            {"type": "repository", "name": "lib/c", "actions": ["pull"]},
        ])
    );
}

#[tokio::test]
async fn unknown_actions_are_dropped_not_granted() {
    let reply = send(get(
        "service=berth&scope=repository:lib/app:pull,admin&scope=registry:catalog:pull",
        Some(basic(ADMIN.0, ADMIN.1)),
    ))
    .await;
    assert_eq!(
        access_of(&reply),
        json!([{"type": "repository", "name": "lib/app", "actions": ["pull"]}])
    );
}

#[tokio::test]
async fn invalid_scope_is_400() {
    for scope in [
        "repository:Lib/App:pull",
        "repository:lib/../app:pull",
        "repository:lib%252Fapp:pull",
        "repository:lib/app",
        "repository:lib/app:PULL",
        "namespace:lib:pull",
        "garbage",
    ] {
        let reply = send(get(
            &format!("service=berth&scope={scope}"),
            Some(basic(ADMIN.0, ADMIN.1)),
        ))
        .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    }
}

#[tokio::test]
async fn foreign_service_is_400() {
    let reply = send(get(
        "service=registry.docker.io&scope=repository:a:pull",
        None,
    ))
    .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
}

#[tokio::test]
async fn missing_service_defaults_to_ours() {
    let reply = send(get(
        "scope=repository:a:pull",
        Some(basic(ADMIN.0, ADMIN.1)),
    ))
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        jwt_part(reply.body["token"].as_str().unwrap(), 1)["aud"],
        "berth"
    );
}

#[tokio::test]
async fn account_must_match_credentials() {
    let reply = send(get(
        "service=berth&account=dev",
        Some(basic(ADMIN.0, ADMIN.1)),
    ))
    .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
}

#[tokio::test]
async fn credential_backend_failure_is_500_without_detail() {
    let (service, _) = service_with(TokenConfig::default(), MemoryUsers::broken());
    let reply = send_to(
        router(service),
        get("service=berth", Some(basic(ADMIN.0, ADMIN.1))),
    )
    .await;
    assert_error(&reply, StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN");
    assert!(!reply.body.to_string().contains("database"));
}

#[tokio::test]
async fn post_password_grant() {
    let reply = send(post(&format!(
        "grant_type=password&username={}&password={}&service=berth&client_id=docker&access_type=offline&scope=repository:lib/app:pull,push%20registry:catalog:*",
        ADMIN.0,
        "Adm1n%3Asecret"
    )))
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        reply.body["scope"],
        "repository:lib/app:pull,push registry:catalog:*"
    );
    assert_eq!(reply.body["token"], reply.body["access_token"]);
    assert_eq!(reply.body["expires_in"], 300);
    assert!(reply.body.get("refresh_token").is_none());
    assert_eq!(access_of(&reply).as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn post_wrong_password_is_401() {
    let reply = send(post(
        "grant_type=password&username=admin&password=nope&service=berth&client_id=x",
    ))
    .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn post_refresh_token_grant_is_unsupported() {
    let reply = send(post(
        "grant_type=refresh_token&refresh_token=abc&service=berth&client_id=x",
    ))
    .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "UNSUPPORTED");
}

#[tokio::test]
async fn post_malformed_requests_are_400() {
    for form in [
        "username=admin&password=x&service=berth",
        "grant_type=password&service=berth",
        "grant_type=password&username=admin&service=berth",
        "grant_type=password&username=admin&password=x&service=other",
        "grant_type=password&username=admin&password=Adm1n%3Asecret&scope=repository:A:pull",
    ] {
        let reply = send(post(form)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    }
}

#[tokio::test]
async fn other_methods_are_405() {
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/service/token")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(request).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn custom_realm_path_is_served() {
    let config = TokenConfig {
        realm_path: "/auth/token".into(),
        ..TokenConfig::default()
    };
    let (service, _) = service_with(config, MemoryUsers::new());
    let request = Request::get("/auth/token?service=berth")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send_to(router(service), request).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn issued_token_opens_v2_for_what_was_granted() {
    let (service, _) = service();
    let reply = send_to(
        router(service.clone()),
        get(
            "service=berth&scope=repository:lib/app:pull",
            Some(basic(ADMIN.0, ADMIN.1)),
        ),
    )
    .await;
    let token = reply.body["token"].as_str().unwrap();
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );

    let authorizer: std::sync::Arc<dyn registry_core::Authorizer> = service;
    let repo = Resource::Repository("lib/app".parse().unwrap());
    let grant = authorizer
        .authorize(&headers, &repo, Action::Pull, None)
        .await
        .unwrap();
    assert_eq!(grant.principal.subject, "admin");
    assert!(
        authorizer
            .authorize(&headers, &Resource::Base, Action::Pull, None)
            .await
            .is_ok()
    );
    assert!(
        authorizer
            .authorize(&headers, &repo, Action::Push, None)
            .await
            .is_err()
    );
}
