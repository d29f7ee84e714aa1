//! Projects, roles and robot accounts through the token endpoint and `/v2`: who gets
//! which token, robot logins, failed-login limits, and tokens of deleted projects.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use registry_core::{Action, ErrorCode, RegistryError, Resource};
use serde_json::{Value, json};
use tower::ServiceExt;

use common::{
    ADMIN, DEV, DISABLED_ROBOT, EXPIRED_ROBOT, GUEST, LIB, MemoryDirectory, MemoryUsers, OUTSIDER,
    PULL_ROBOT, PUSH_ROBOT, basic, jwt_part, service, service_full,
};
use token_auth::{
    LoginLimits, LoginObserver, LoginOutcome, Scope, TokenConfig, TokenService, router,
};

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn access(&self) -> Value {
        jwt_part(self.body["token"].as_str().unwrap(), 1)["access"].clone()
    }

    fn token(&self) -> &str {
        self.body["token"].as_str().unwrap()
    }
}

async fn token_request(
    service: &Arc<TokenService>,
    query: &str,
    auth: Option<(&str, &str)>,
    from: &str,
) -> Reply {
    let mut builder = Request::get(format!("/service/token?service=berth&{query}"));
    if let Some((user, password)) = auth {
        builder = builder.header(header::AUTHORIZATION, basic(user, password));
    }
    let mut request = builder.body(Body::empty()).unwrap();
    let peer: SocketAddr = from.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = router(service.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

const CLIENT: &str = "192.0.2.10:40000";

/// The access granted to `auth` for `scope`.
async fn granted(service: &Arc<TokenService>, scope: &str, auth: Option<(&str, &str)>) -> Value {
    let reply = token_request(service, &format!("scope={scope}"), auth, CLIENT).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.access()
}

fn repo_access(name: &str, actions: &[&str]) -> Value {
    json!([{"type": "repository", "name": name, "actions": actions}])
}

const EVERYTHING: &str = "repository:lib/app:pull,push,delete,*";

#[tokio::test]
async fn roles_decide_what_a_token_holds() {
    let (service, _) = service();
    let cases: &[(Option<(&str, &str)>, Value)] = &[
        (
            Some(ADMIN),
            repo_access("lib/app", &["pull", "push", "delete", "*"]),
        ),
        // Developer: push and pull in their project, no delete.
        (Some(DEV), repo_access("lib/app", &["pull", "push"])),
        // Guest: pull only.
        (Some(GUEST), repo_access("lib/app", &["pull"])),
        // Not a member of the private project: nothing.
        (Some(OUTSIDER), json!([])),
        (None, json!([])),
    ];
    for (who, expected) in cases {
        assert_eq!(
            &granted(&service, EVERYTHING, *who).await,
            expected,
            "{who:?}"
        );
    }
}

#[tokio::test]
async fn public_projects_give_everyone_pull_only() {
    let (service, _) = service();
    let scope = "repository:public/app:pull,push,delete";
    for who in [None, Some(OUTSIDER), Some(DEV)] {
        assert_eq!(
            granted(&service, scope, who).await,
            repo_access("public/app", &["pull"]),
            "{who:?}"
        );
    }
    // A private project stays closed to anonymous requests.
    assert_eq!(
        granted(&service, "repository:lib/app:pull", None).await,
        json!([])
    );
}

#[tokio::test]
async fn missing_projects_and_names_without_a_project_get_nothing() {
    let (service, _) = service();
    for scope in [
        "repository:nope/app:pull,push",
        "repository:app:pull,push",
        "repository:libx/app:pull",
    ] {
        assert_eq!(
            granted(&service, scope, Some(ADMIN)).await,
            json!([]),
            "{scope}"
        );
    }
}

#[tokio::test]
async fn membership_is_per_project() {
    let (service, _) = service();
    // dev is a developer in lib but not a member of team.
    let reply = token_request(
        &service,
        "scope=repository:lib/app:pull,push&scope=repository:team/app:pull,push",
        Some(DEV),
        CLIENT,
    )
    .await;
    assert_eq!(reply.access(), repo_access("lib/app", &["pull", "push"]));
}

#[tokio::test]
async fn catalog_is_for_system_admins_only() {
    let (service, _) = service();
    let catalog = json!([{"type": "registry", "name": "catalog", "actions": ["*"]}]);
    assert_eq!(
        granted(&service, "registry:catalog:*", Some(ADMIN)).await,
        catalog
    );
    for who in [Some(DEV), Some(PUSH_ROBOT), None] {
        assert_eq!(
            granted(&service, "registry:catalog:*", who).await,
            json!([]),
            "{who:?}"
        );
    }
}

#[tokio::test]
async fn robots_get_their_permissions() {
    let (service, _) = service();
    // Pull-only robot cannot push.
    assert_eq!(
        granted(&service, EVERYTHING, Some(PULL_ROBOT)).await,
        repo_access("lib/app", &["pull"])
    );
    // A push robot may also pull (docker checks layers before pushing), not delete.
    assert_eq!(
        granted(&service, EVERYTHING, Some(PUSH_ROBOT)).await,
        repo_access("lib/app", &["pull", "push"])
    );
    // Nothing in other private projects; public ones are open to it as to anyone.
    assert_eq!(
        granted(&service, "repository:team/app:pull", Some(PULL_ROBOT)).await,
        json!([])
    );
    assert_eq!(
        granted(
            &service,
            "repository:public/app:pull,push",
            Some(PUSH_ROBOT)
        )
        .await,
        repo_access("public/app", &["pull"])
    );
    let reply = token_request(
        &service,
        "scope=repository:lib/app:pull",
        Some(PULL_ROBOT),
        CLIENT,
    )
    .await;
    assert_eq!(jwt_part(reply.token(), 1)["sub"], PULL_ROBOT.0);
}

#[tokio::test]
async fn robot_login_is_refused_when_wrong_disabled_or_expired() {
    let (service, _) = service();
    let refused = [
        (PULL_ROBOT.0, "WrongSecret0123456789abcdefABCDE"),
        (PULL_ROBOT.0, ""),
        // Another robot's secret.
        (PULL_ROBOT.0, PUSH_ROBOT.1),
        ("robot$lib+nobody", PULL_ROBOT.1),
        DISABLED_ROBOT,
        EXPIRED_ROBOT,
    ];
    for (i, auth) in refused.into_iter().enumerate() {
        // A fresh address each time, so the failed-login limit stays out of the way.
        let from = format!("198.51.100.{}:1000", i + 1);
        let reply =
            token_request(&service, "scope=repository:lib/app:pull", Some(auth), &from).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(reply.body["errors"][0]["code"], "UNAUTHORIZED");
        assert_eq!(
            reply.body["errors"][0]["message"],
            "authentication required"
        );
    }
}

#[tokio::test]
async fn robot_names_never_reach_the_users_table_and_back() {
    // A user verifier that claims every name (even robot ones) must not log a robot
    // name in as a user.
    struct Anyone;
    #[async_trait::async_trait]
    impl token_auth::CredentialVerifier for Anyone {
        async fn verify(
            &self,
            username: &str,
            _: &str,
        ) -> Result<Option<token_auth::Identity>, token_auth::AuthError> {
            Ok(Some(token_auth::Identity::User(
                token_auth::rbac::UserAccount {
                    id: 1,
                    username: username.to_owned(),
                    sysadmin: true,
                },
            )))
        }
    }
    let accounts = token_auth::Accounts::new(Arc::new(Anyone), Arc::new(Anyone));
    use token_auth::CredentialVerifier;
    assert!(accounts.verify("robot$x", "s").await.unwrap().is_none());
    assert!(accounts.verify("alice", "s").await.unwrap().is_some());
}

fn limited(limits: LoginLimits) -> Arc<TokenService> {
    let config = TokenConfig {
        login_limits: limits,
        ..TokenConfig::default()
    };
    service_full(
        config,
        MemoryUsers::new(),
        Arc::new(MemoryDirectory::standard()),
    )
    .0
}

#[tokio::test]
async fn failed_logins_are_limited_per_account() {
    let service = limited(LoginLimits::default());
    for i in 0..5 {
        let from = format!("203.0.113.{i}:5000");
        let reply = token_request(&service, "", Some((DEV.0, "guess")), &from).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // Sixth attempt, even with the right password and from a new address: paused.
    let reply = token_request(&service, "", Some(DEV), "203.0.113.99:5000").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.body["errors"][0]["code"], "TOO_MANY_REQUESTS");
    let retry: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    // Other accounts are not affected, anonymous requests never are.
    assert_eq!(
        token_request(&service, "", Some(GUEST), "203.0.113.99:5000")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        token_request(&service, "", None, "203.0.113.1:5000")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_logins_are_limited_per_address() {
    let service = limited(LoginLimits::default());
    let from = "198.51.100.7:1234";
    for i in 0..20 {
        let reply = token_request(&service, "", Some((&format!("user{i}"), "x")), from).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // The address is paused for every account, robots included...
    for auth in [ADMIN, PULL_ROBOT] {
        let reply = token_request(&service, "", Some(auth), "198.51.100.7:9999").await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{auth:?}");
    }
    // ...while other addresses carry on.
    let reply = token_request(&service, "", Some(ADMIN), "198.51.100.8:1234").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn the_limit_lifts_when_the_window_passes() {
    let service = limited(LoginLimits {
        failures_per_account: 2,
        failures_per_address: 100,
        window: Duration::from_millis(400),
    });
    for _ in 0..2 {
        let reply = token_request(&service, "", Some((DEV.0, "guess")), CLIENT).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = token_request(&service, "", Some(DEV), CLIENT).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let reply = token_request(&service, "", Some(DEV), CLIENT).await;
    assert_eq!(reply.status, StatusCode::OK);
    // The success wiped the account's failures: two more wrong ones are tolerated again.
    for _ in 0..2 {
        let reply = token_request(&service, "", Some((DEV.0, "guess")), CLIENT).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn directory_failure_is_500_without_detail() {
    let (service, _) = service_full(
        TokenConfig::default(),
        MemoryUsers::new(),
        Arc::new(MemoryDirectory::broken()),
    );
    for auth in [Some(ADMIN), Some(PULL_ROBOT), None] {
        let reply = token_request(&service, "scope=repository:lib/app:pull", auth, CLIENT).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{auth:?}");
        assert!(!reply.body.to_string().contains("database"));
    }
}

// ---- /v2: projects behind the token ----

const T0: i64 = 1_700_000_000;

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::HOST, "registry.test".parse().unwrap());
    h.insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    h
}

fn repo(name: &str) -> Resource {
    Resource::Repository(name.parse().unwrap())
}

/// A service without the project cache, so each check sees the directory as it is.
fn uncached() -> (Arc<TokenService>, Arc<MemoryDirectory>) {
    let directory = Arc::new(MemoryDirectory::standard());
    let config = TokenConfig {
        project_cache_ttl: Duration::ZERO,
        ..TokenConfig::default()
    };
    let (service, _) = service_full(config, MemoryUsers::new(), directory.clone());
    (service, directory)
}

async fn admin_token(service: &TokenService, scope: &str, at: i64) -> String {
    let admin = service.authenticate(ADMIN.0, ADMIN.1, None).await.unwrap();
    let scopes = Scope::parse_all([scope]).unwrap();
    service
        .issue_at(Some(&admin), &scopes, at)
        .await
        .unwrap()
        .token
}

#[tokio::test]
async fn a_deleted_and_recreated_project_refuses_old_tokens() {
    let (service, directory) = uncached();
    let token = admin_token(&service, "repository:lib/app:pull,push", T0).await;
    let headers = bearer(&token);
    assert!(
        service
            .authorize_at(&headers, &repo("lib/app"), Action::Push, None, T0 + 1)
            .await
            .is_ok()
    );

    directory.delete_project("lib");
    directory.add_project(LIB + 100, "lib", false, T0 + 10);
    for action in [Action::Pull, Action::Push] {
        match service
            .authorize_at(&headers, &repo("lib/app"), action, None, T0 + 20)
            .await
        {
            Err(RegistryError::Unauthorized { challenge, message }) => {
                assert!(
                    challenge.ends_with(r#"error="invalid_token""#),
                    "{challenge}"
                );
                assert!(
                    message.contains("before the project was created"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // A token issued after the new project was created works.
    let fresh = admin_token(&service, "repository:lib/app:pull,push", T0 + 15).await;
    assert!(
        service
            .authorize_at(
                &bearer(&fresh),
                &repo("lib/app"),
                Action::Push,
                None,
                T0 + 20
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_deleted_project_is_name_unknown() {
    let (service, directory) = uncached();
    let token = admin_token(&service, "repository:lib/app:pull,push", T0).await;
    directory.delete_project("lib");
    match service
        .authorize_at(
            &bearer(&token),
            &repo("lib/app"),
            Action::Pull,
            None,
            T0 + 1,
        )
        .await
    {
        Err(RegistryError::Oci {
            code,
            status,
            message,
            ..
        }) => {
            assert_eq!(code, ErrorCode::NameUnknown);
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(message, "project lib not found");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn pushing_into_a_missing_project_says_so() {
    let (service, _) = uncached();
    // The token service grants nothing there; /v2 explains why.
    let token = admin_token(&service, "repository:nope/app:pull,push", T0).await;
    let headers = bearer(&token);
    match service
        .authorize_at(&headers, &repo("nope/app"), Action::Push, None, T0)
        .await
    {
        Err(RegistryError::Oci {
            code,
            status,
            message,
            ..
        }) => {
            assert_eq!(code, ErrorCode::NameUnknown);
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(message, "project nope not found");
        }
        other => panic!("{other:?}"),
    }
    // A name outside any project is invalid.
    let token = admin_token(&service, "repository:app:pull,push", T0).await;
    match service
        .authorize_at(&bearer(&token), &repo("app"), Action::Push, None, T0)
        .await
    {
        Err(RegistryError::Oci { code, .. }) => assert_eq!(code, ErrorCode::NameInvalid),
        other => panic!("{other:?}"),
    }
    // A pull is simply unauthorized, as is a push refused in an existing project.
    assert!(matches!(
        service
            .authorize_at(&headers, &repo("nope/app"), Action::Pull, None, T0)
            .await,
        Err(RegistryError::Unauthorized { .. })
    ));
    let guest = service.authenticate(GUEST.0, GUEST.1, None).await.unwrap();
    let scopes = Scope::parse_all(["repository:lib/app:pull,push"]).unwrap();
    let pull_only = service
        .issue_at(Some(&guest), &scopes, T0)
        .await
        .unwrap()
        .token;
    assert!(matches!(
        service
            .authorize_at(
                &bearer(&pull_only),
                &repo("lib/app"),
                Action::Push,
                None,
                T0
            )
            .await,
        Err(RegistryError::Unauthorized { .. })
    ));
    // Without a token the client first gets the usual challenge.
    let mut anonymous = HeaderMap::new();
    anonymous.insert(header::HOST, "registry.test".parse().unwrap());
    assert!(matches!(
        service
            .authorize_at(&anonymous, &repo("nope/app"), Action::Push, None, T0)
            .await,
        Err(RegistryError::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn project_lookups_are_cached_briefly() {
    let directory = Arc::new(MemoryDirectory::standard());
    let (service, _) = service_full(
        TokenConfig::default(),
        MemoryUsers::new(),
        directory.clone(),
    );
    let token = admin_token(&service, "repository:lib/app:pull", T0).await;
    let before = directory.project_lookups.load(Ordering::SeqCst);
    for _ in 0..10 {
        assert!(
            service
                .authorize_at(&bearer(&token), &repo("lib/app"), Action::Pull, None, T0)
                .await
                .is_ok()
        );
    }
    assert_eq!(directory.project_lookups.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn anonymous_tokens_pull_from_public_projects_on_v2() {
    let (service, _) = uncached();
    let scopes = Scope::parse_all(["repository:public/app:pull,push"]).unwrap();
    let token = service.issue_at(None, &scopes, T0).await.unwrap().token;
    let headers = bearer(&token);
    assert_eq!(
        service
            .authorize_at(&headers, &repo("public/app"), Action::Pull, None, T0)
            .await
            .unwrap()
            .principal
            .subject,
        ""
    );
    assert!(
        service
            .authorize_at(&headers, &repo("public/app"), Action::Push, None, T0)
            .await
            .is_err()
    );
}

/// Records what the service reports about logins.
#[derive(Default)]
struct SeenLogins(std::sync::Mutex<Vec<(String, Option<std::net::IpAddr>, LoginOutcome)>>);

impl LoginObserver for SeenLogins {
    fn login(&self, username: &str, client: Option<std::net::IpAddr>, outcome: LoginOutcome) {
        self.0
            .lock()
            .unwrap()
            .push((username.to_owned(), client, outcome));
    }
}

#[tokio::test]
async fn every_login_attempt_is_reported_with_its_address() {
    let seen = Arc::new(SeenLogins::default());
    let config = TokenConfig {
        login_limits: LoginLimits::default(),
        ..TokenConfig::default()
    };
    let (service, _) = service_full(
        config,
        MemoryUsers::new(),
        Arc::new(MemoryDirectory::standard()),
    );
    let service = Arc::new(
        Arc::try_unwrap(service)
            .ok()
            .unwrap()
            .with_login_observer(seen.clone()),
    );
    token_request(&service, "", Some(DEV), "192.0.2.1:4000").await;
    for _ in 0..5 {
        token_request(&service, "", Some((DEV.0, "guess")), "192.0.2.2:4000").await;
    }
    token_request(&service, "", Some(DEV), "192.0.2.3:4000").await;
    // Anonymous requests are not logins.
    token_request(&service, "", None, "192.0.2.4:4000").await;
    let seen = seen.0.lock().unwrap();
    let outcomes: Vec<LoginOutcome> = seen.iter().map(|s| s.2).collect();
    assert_eq!(
        outcomes,
        [
            vec![LoginOutcome::Succeeded],
            vec![LoginOutcome::Failed; 5],
            vec![LoginOutcome::Throttled]
        ]
        .concat()
    );
    assert_eq!(seen[0].0, DEV.0);
    assert_eq!(seen[0].1, Some("192.0.2.1".parse().unwrap()));
}
