//! The accounts side of `/api/v2.0` end to end, in-process: users, robots, the
//! permission catalogue, audit logs, search and statistics, with Harbor's field names,
//! paging headers and error envelope. Every case runs on SQLite and on Postgres
//! (`BERTH_TEST_DATABASE_URL`; see `support`).

mod support;

use std::collections::BTreeMap;

use projects::{CreateProjectOutcome, Database, MemberUser, NewProject};
use registry_core::meta::MetadataStore as _;
use registry_core::{Digest, RepoName};
use serde_json::{Value, json};
use support::{ADMIN, Api, Creds};

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::run(crate::support::Backend::Sqlite, crate::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::run(crate::support::Backend::Postgres, crate::$case).await;
                }
            )*
        }
    };
}

cases!(
    users_create_validate_and_conflict,
    users_list_page_filter_and_search,
    users_profile_self_or_admin,
    users_password_and_sysadmin_flag,
    users_delete,
    permissions_catalogue_and_current_permissions,
    project_robot_lifecycle,
    robot_requests_are_validated,
    robots_create_robots_no_wider_than_themselves,
    audit_logs_by_visibility_and_filters,
    search_and_statistics_by_visibility,
    systeminfo_shows_version_and_storage_to_signed_in_callers,
);

// ---- helpers ------------------------------------------------------------------------

const ALICE: Creds<'static> = Some(("alice", "Alice12345"));
const BOB: Creds<'static> = Some(("bob", "Bob1234567"));

async fn api(db: Database) -> Api {
    Api::new(db).await
}

/// Creates a user through the API; returns its id.
async fn create_user(api: &Api, name: &str, password: &str) -> i64 {
    let res = api
        .post(
            "/api/v2.0/users",
            ADMIN,
            json!({"username": name, "email": format!("{name}@example.com"),
                   "realname": format!("{name} R"), "password": password, "comment": "test"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let location = res.header("location").expect("Location").to_owned();
    location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("id in Location")
}

async fn alice_and_bob(api: &Api) -> (i64, i64) {
    (
        create_user(api, "alice", "Alice12345").await,
        create_user(api, "bob", "Bob1234567").await,
    )
}

async fn project(db: &Database, name: &str, public: bool) -> i64 {
    let mut metadata = BTreeMap::new();
    metadata.insert("public".to_owned(), public.to_string());
    match db
        .create_project(&NewProject {
            name: name.to_owned(),
            owner_id: None,
            metadata,
        })
        .await
        .expect("project")
    {
        CreateProjectOutcome::Created(id) => id,
        other => panic!("{other:?}"),
    }
}

async fn member(db: &Database, project_id: i64, user_id: i64, role: i64) {
    db.add_member(project_id, &MemberUser::Id(user_id), role)
        .await
        .expect("member");
}

async fn repository(db: &Database, name: &str) {
    let repo: RepoName = name.parse().expect("repo name");
    let content = name.as_bytes();
    db.commit_blob(&repo, &Digest::of(content), content.len() as u64, None)
        .await
        .expect("blob");
}

fn project_permission(project: &str, access: &[(&str, &str)]) -> Value {
    json!({
        "kind": "project",
        "namespace": project,
        "access": access.iter().map(|(r, a)| json!({"resource": r, "action": a})).collect::<Vec<_>>(),
    })
}

fn usernames(body: &Value) -> Vec<String> {
    body.as_array()
        .expect("array")
        .iter()
        .map(|u| u["username"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn assert_error(res: &support::Answer, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", res.text);
    assert_eq!(res.error_code(), code, "{}", res.text);
    assert!(
        res.body["errors"][0]["message"].is_string(),
        "Harbor error envelope: {}",
        res.text
    );
}

/// Audit entries as (operation, resource_type, resource, username), newest first.
async fn audit_trail(api: &Api, q: &str) -> Vec<(String, String, String, String)> {
    let res = api
        .get(&format!("/api/v2.0/audit-logs?page_size=100&q={q}"), ADMIN)
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (
                s("operation"),
                s("resource_type"),
                s("resource"),
                s("username"),
            )
        })
        .collect()
}

fn basic(name: &str, secret: &str) -> (String, String) {
    (name.to_owned(), secret.to_owned())
}

// ---- users --------------------------------------------------------------------------

async fn users_create_validate_and_conflict(db: Database) {
    let api = api(db).await;
    let body = |name: &str, email: &str, password: &str| json!({"username": name, "email": email, "realname": "Real Name", "password": password});
    // Harbor's password rule: 8-128 characters with upper, lower and digit.
    for weak in ["Short1", "alllowercase1", "ALLUPPERCASE1", "NoDigitsHere"] {
        let res = api
            .post(
                "/api/v2.0/users",
                ADMIN,
                body("carol", "carol@example.com", weak),
            )
            .await;
        assert_error(&res, 400, "BAD_REQUEST");
    }
    let res = api
        .post(
            "/api/v2.0/users",
            ADMIN,
            body("car:ol", "carol@example.com", "Carol12345"),
        )
        .await;
    assert_error(&res, 400, "BAD_REQUEST");
    let res = api
        .post(
            "/api/v2.0/users",
            ADMIN,
            body("carol", "not-an-email", "Carol12345"),
        )
        .await;
    assert_error(&res, 400, "BAD_REQUEST");
    let res = api
        .post("/api/v2.0/users", ADMIN, json!({"username": 5}))
        .await;
    assert_error(&res, 400, "BAD_REQUEST");

    let res = api
        .post(
            "/api/v2.0/users",
            ADMIN,
            body("carol", "carol@example.com", "Carol12345"),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert!(
        res.header("location")
            .unwrap()
            .starts_with("/api/v2.0/users/")
    );

    let res = api
        .post(
            "/api/v2.0/users",
            ADMIN,
            body("carol", "other@example.com", "Carol12345"),
        )
        .await;
    assert_error(&res, 409, "CONFLICT");
    let res = api
        .post(
            "/api/v2.0/users",
            ADMIN,
            body("dave", "carol@example.com", "Dave123456"),
        )
        .await;
    assert_error(&res, 409, "CONFLICT");

    // Only system administrators create users (self-registration is off).
    let carol = Some(("carol", "Carol12345"));
    let res = api
        .post(
            "/api/v2.0/users",
            carol,
            body("erin", "erin@example.com", "Erin123456"),
        )
        .await;
    assert_error(&res, 403, "FORBIDDEN");
    let res = api
        .post(
            "/api/v2.0/users",
            None,
            body("erin", "erin@example.com", "Erin123456"),
        )
        .await;
    assert_error(&res, 401, "UNAUTHORIZED");
    // Wrong credentials are refused, not downgraded to anonymous.
    let res = api
        .get("/api/v2.0/users/current", Some(("carol", "Wrong12345")))
        .await;
    assert_error(&res, 401, "UNAUTHORIZED");

    let trail = audit_trail(&api, "resource_type=user").await;
    assert_eq!(
        trail,
        [(
            "create".into(),
            "user".into(),
            "carol".into(),
            "admin".into()
        )]
    );
}

async fn users_list_page_filter_and_search(db: Database) {
    let api = api(db).await;
    alice_and_bob(&api).await;
    create_user(&api, "alicia", "Alicia1234").await;
    create_user(&api, "malice", "Malice1234").await;

    let res = api.get("/api/v2.0/users?sort=username", ADMIN).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("x-total-count"), Some("5"));
    assert_eq!(
        usernames(&res.body),
        ["admin", "alice", "alicia", "bob", "malice"]
    );
    let alice = &res.body[1];
    for field in [
        "user_id",
        "username",
        "email",
        "realname",
        "comment",
        "sysadmin_flag",
        "admin_role_in_auth",
        "creation_time",
        "update_time",
    ] {
        assert!(
            alice.get(field).is_some(),
            "UserResp.{field} missing: {alice}"
        );
    }
    assert_eq!(alice["email"], "alice@example.com");
    assert_eq!(alice["realname"], "alice R");
    assert_eq!(alice["comment"], "test");
    assert_eq!(alice["sysadmin_flag"], false);
    assert!(alice.get("password").is_none() && alice.get("password_hash").is_none());
    assert!(alice["creation_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(res.body[0]["sysadmin_flag"], true);

    // Paging: X-Total-Count and Link with prev and next, repeating q and sort.
    let res = api
        .get("/api/v2.0/users?page=2&page_size=2&sort=-username", ADMIN)
        .await;
    assert_eq!(usernames(&res.body), ["alicia", "alice"]);
    assert_eq!(res.header("x-total-count"), Some("5"));
    let link = res.header("link").expect("Link");
    assert!(
        link.contains("page=1") && link.contains("rel=\"prev\""),
        "{link}"
    );
    assert!(
        link.contains("page=3") && link.contains("rel=\"next\""),
        "{link}"
    );
    assert!(link.contains("sort=-username"), "{link}");
    let res = api.get("/api/v2.0/users?page_size=101", ADMIN).await;
    assert_error(&res, 400, "BAD_REQUEST");

    let res = api
        .get("/api/v2.0/users?q=username%3D~ali&sort=username", ADMIN)
        .await;
    assert_eq!(usernames(&res.body), ["alice", "alicia", "malice"]);
    let res = api
        .get("/api/v2.0/users?q=email%3Dbob%40example.com", ADMIN)
        .await;
    assert_eq!(usernames(&res.body), ["bob"]);
    let res = api.get("/api/v2.0/users?q=nickname%3Dx", ADMIN).await;
    assert_error(&res, 400, "BAD_REQUEST");
    let res = api.get("/api/v2.0/users?sort=password", ADMIN).await;
    assert_error(&res, 400, "BAD_REQUEST");

    // Listing is for administrators; search is for anyone signed in.
    assert_error(&api.get("/api/v2.0/users", ALICE).await, 403, "FORBIDDEN");
    assert_error(&api.get("/api/v2.0/users", None).await, 401, "UNAUTHORIZED");
    let res = api.get("/api/v2.0/users/search?username=ali", BOB).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("x-total-count"), Some("3"));
    assert_eq!(usernames(&res.body), ["alice", "alicia", "malice"]);
    let first = res.body[0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["user_id", "username"]);
    let res = api
        .get(
            "/api/v2.0/users/search?username=ali&page_size=1&page=2",
            BOB,
        )
        .await;
    assert_eq!(usernames(&res.body), ["alicia"]);
    assert_error(
        &api.get("/api/v2.0/users/search", BOB).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &api.get("/api/v2.0/users/search?username=a", None).await,
        401,
        "UNAUTHORIZED",
    );
}

async fn users_profile_self_or_admin(db: Database) {
    let api = api(db).await;
    let (alice, bob) = alice_and_bob(&api).await;

    let res = api.get("/api/v2.0/users/current", ALICE).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["user_id"], alice);
    assert_eq!(res.body["username"], "alice");
    assert_error(
        &api.get("/api/v2.0/users/current", None).await,
        401,
        "UNAUTHORIZED",
    );

    assert_eq!(
        api.get(&format!("/api/v2.0/users/{alice}"), ALICE)
            .await
            .status,
        200
    );
    assert_error(
        &api.get(&format!("/api/v2.0/users/{bob}"), ALICE).await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(
        api.get(&format!("/api/v2.0/users/{bob}"), ADMIN).await.body["username"],
        "bob"
    );
    assert_error(
        &api.get("/api/v2.0/users/9999", ADMIN).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &api.get("/api/v2.0/users/abc", ADMIN).await,
        400,
        "BAD_REQUEST",
    );

    let profile =
        json!({"email": "alice@corp.example.com", "realname": "Alice A.", "comment": "hi"});
    let res = api
        .put(&format!("/api/v2.0/users/{alice}"), ALICE, profile.clone())
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let me = api.get("/api/v2.0/users/current", ALICE).await.body;
    assert_eq!(
        (
            me["email"].as_str(),
            me["realname"].as_str(),
            me["comment"].as_str()
        ),
        (Some("alice@corp.example.com"), Some("Alice A."), Some("hi"))
    );
    assert_error(
        &api.put(&format!("/api/v2.0/users/{bob}"), ALICE, profile.clone())
            .await,
        403,
        "FORBIDDEN",
    );
    // Bob may not take Alice's email; the admin may edit Bob.
    let taken = json!({"email": "alice@corp.example.com", "realname": "Bob"});
    assert_error(
        &api.put(&format!("/api/v2.0/users/{bob}"), ADMIN, taken)
            .await,
        409,
        "CONFLICT",
    );
    let bad = json!({"email": "", "realname": "Bob"});
    assert_error(
        &api.put(&format!("/api/v2.0/users/{bob}"), BOB, bad).await,
        400,
        "BAD_REQUEST",
    );
    let long_comment =
        json!({"email": "b@example.com", "realname": "Bob", "comment": "c".repeat(31)});
    assert_error(
        &api.put(&format!("/api/v2.0/users/{bob}"), BOB, long_comment)
            .await,
        400,
        "BAD_REQUEST",
    );
    let ok = json!({"email": "bob@corp.example.com", "realname": "Bob B"});
    assert_eq!(
        api.put(&format!("/api/v2.0/users/{bob}"), ADMIN, ok)
            .await
            .status,
        200
    );
    assert_error(
        &api.put("/api/v2.0/users/9999", ADMIN, profile).await,
        404,
        "NOT_FOUND",
    );

    let trail = audit_trail(&api, "operation=update").await;
    assert_eq!(
        trail,
        [
            ("update".into(), "user".into(), "bob".into(), "admin".into()),
            (
                "update".into(),
                "user".into(),
                "alice".into(),
                "alice".into()
            ),
        ]
    );
}

async fn users_password_and_sysadmin_flag(db: Database) {
    let api = api(db).await;
    let (alice, bob) = alice_and_bob(&api).await;
    let path = format!("/api/v2.0/users/{alice}/password");

    // One's own password needs the current one.
    let res = api
        .put(&path, ALICE, json!({"new_password": "Alice67890"}))
        .await;
    assert_error(&res, 403, "FORBIDDEN");
    let res = api
        .put(
            &path,
            ALICE,
            json!({"old_password": "Wrong12345", "new_password": "Alice67890"}),
        )
        .await;
    assert_error(&res, 403, "FORBIDDEN");
    let res = api
        .put(
            &path,
            ALICE,
            json!({"old_password": "Alice12345", "new_password": "weak"}),
        )
        .await;
    assert_error(&res, 400, "BAD_REQUEST");
    let res = api
        .put(
            &path,
            ALICE,
            json!({"old_password": "Alice12345", "new_password": "Alice12345"}),
        )
        .await;
    assert_error(&res, 400, "BAD_REQUEST");
    let res = api
        .put(&path, ALICE, json!({"old_password": "Alice12345"}))
        .await;
    assert_error(&res, 400, "BAD_REQUEST");
    let res = api
        .put(
            &path,
            ALICE,
            json!({"old_password": "Alice12345", "new_password": "Alice67890"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_error(
        &api.get("/api/v2.0/users/current", ALICE).await,
        401,
        "UNAUTHORIZED",
    );
    let alice_new = Some(("alice", "Alice67890"));
    assert_eq!(
        api.get("/api/v2.0/users/current", alice_new).await.status,
        200
    );

    // Others' passwords: administrators reset them without the old one; users cannot.
    let bob_path = format!("/api/v2.0/users/{bob}/password");
    let res = api
        .put(
            &bob_path,
            alice_new,
            json!({"old_password": "Bob1234567", "new_password": "Bob7654321"}),
        )
        .await;
    assert_error(&res, 403, "FORBIDDEN");
    let res = api
        .put(&bob_path, ADMIN, json!({"new_password": "Bob7654321"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        api.get("/api/v2.0/users/current", Some(("bob", "Bob7654321")))
            .await
            .status,
        200
    );
    let res = api
        .put(
            "/api/v2.0/users/9999/password",
            ADMIN,
            json!({"new_password": "Xyz1234567"}),
        )
        .await;
    assert_error(&res, 404, "NOT_FOUND");

    // The administrator flag.
    let flag = format!("/api/v2.0/users/{alice}/sysadmin");
    assert_error(
        &api.put(&flag, BOB, json!({"sysadmin_flag": true})).await,
        401,
        "UNAUTHORIZED",
    );
    let bob_new = Some(("bob", "Bob7654321"));
    assert_error(
        &api.put(&flag, bob_new, json!({"sysadmin_flag": true}))
            .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &api.get("/api/v2.0/users", alice_new).await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(
        api.put(&flag, ADMIN, json!({"sysadmin_flag": true}))
            .await
            .status,
        200
    );
    let res = api.get("/api/v2.0/users", alice_new).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        api.get(&format!("/api/v2.0/users/{alice}"), ADMIN)
            .await
            .body["sysadmin_flag"],
        true
    );
    // Nobody changes their own flag (the last administrator cannot lock everyone out).
    assert_error(
        &api.put(&flag, alice_new, json!({"sysadmin_flag": false}))
            .await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(
        api.put(&flag, ADMIN, json!({"sysadmin_flag": false}))
            .await
            .status,
        200
    );
    assert_error(
        &api.get("/api/v2.0/users", alice_new).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &api.put(
            "/api/v2.0/users/9999/sysadmin",
            ADMIN,
            json!({"sysadmin_flag": true}),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(&api.put(&flag, ADMIN, json!({})).await, 400, "BAD_REQUEST");

    // Audit: who changed what; never the password itself.
    let trail = audit_trail(&api, "resource_type=user,operation=update").await;
    assert_eq!(trail.len(), 4, "{trail:?}");
    let raw = api
        .get("/api/v2.0/audit-logs?page_size=100", ADMIN)
        .await
        .text;
    for secret in ["Alice67890", "Bob7654321", "Alice12345"] {
        assert!(!raw.contains(secret), "a password reached the audit log");
    }
}

async fn users_delete(db: Database) {
    let api = api(db.clone()).await;
    let (alice, bob) = alice_and_bob(&api).await;
    let admin_id = db.user_by_name("admin").await.unwrap().unwrap().id;
    assert_error(
        &api.delete(&format!("/api/v2.0/users/{admin_id}"), ADMIN)
            .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &api.delete(&format!("/api/v2.0/users/{alice}"), ALICE).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &api.delete(&format!("/api/v2.0/users/{bob}"), ALICE).await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(
        api.delete(&format!("/api/v2.0/users/{bob}"), ADMIN)
            .await
            .status,
        200
    );
    assert_error(
        &api.delete(&format!("/api/v2.0/users/{bob}"), ADMIN).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &api.get("/api/v2.0/users/current", BOB).await,
        401,
        "UNAUTHORIZED",
    );
    let trail = audit_trail(&api, "operation=delete").await;
    assert_eq!(
        trail,
        [("delete".into(), "user".into(), "bob".into(), "admin".into())]
    );
}

// ---- permissions --------------------------------------------------------------------

async fn permissions_catalogue_and_current_permissions(db: Database) {
    let api = api(db.clone()).await;
    let (alice, bob) = alice_and_bob(&api).await;
    let lib = project(&db, "lib", false).await;
    member(&db, lib, alice, 1).await;
    member(&db, lib, bob, 3).await;

    let res = api.get("/api/v2.0/permissions", ADMIN).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let has = |list: &Value, r: &str, a: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .any(|p| p["resource"] == r && p["action"] == a)
    };
    assert!(has(&res.body["system"], "robot", "create"));
    assert!(has(&res.body["project"], "repository", "pull"));
    assert!(has(&res.body["project"], "repository", "push"));
    // Project admins see the project part only; others nothing.
    let res = api.get("/api/v2.0/permissions", ALICE).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["system"], json!([]));
    assert!(has(&res.body["project"], "artifact", "delete"));
    assert_error(
        &api.get("/api/v2.0/permissions", BOB).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &api.get("/api/v2.0/permissions", None).await,
        401,
        "UNAUTHORIZED",
    );

    // The caller's own permissions in a scope.
    let url = format!("/api/v2.0/users/current/permissions?scope=/project/{lib}&relative=true");
    let guest = api.get(&url, BOB).await.body;
    assert!(has(&guest, "repository", "pull"), "{guest}");
    assert!(!has(&guest, "repository", "push"), "{guest}");
    let admin_of_lib = api.get(&url, ALICE).await.body;
    assert!(has(&admin_of_lib, "repository", "push") && has(&admin_of_lib, "member", "create"));
    let absolute = api
        .get(
            &format!("/api/v2.0/users/current/permissions?scope=/project/{lib}"),
            BOB,
        )
        .await
        .body;
    assert!(
        has(&absolute, &format!("/project/{lib}/repository"), "pull"),
        "{absolute}"
    );
    let by_name = api
        .get(
            "/api/v2.0/users/current/permissions?scope=/project/lib&relative=true",
            BOB,
        )
        .await
        .body;
    assert_eq!(by_name, guest);
    let system = api
        .get(
            "/api/v2.0/users/current/permissions?scope=/system&relative=true",
            ADMIN,
        )
        .await
        .body;
    assert!(has(&system, "robot", "create"));
    let system = api
        .get("/api/v2.0/users/current/permissions?scope=/system", ALICE)
        .await
        .body;
    assert_eq!(system, json!([]));
    assert_eq!(
        api.get("/api/v2.0/users/current/permissions", ALICE)
            .await
            .body,
        json!([])
    );
    let missing = api
        .get(
            "/api/v2.0/users/current/permissions?scope=/project/9999",
            ALICE,
        )
        .await;
    assert_eq!(
        (missing.status.as_u16(), missing.body.clone()),
        (200, json!([]))
    );
    assert_error(
        &api.get("/api/v2.0/users/current/permissions", None).await,
        401,
        "UNAUTHORIZED",
    );
}

// ---- robots -------------------------------------------------------------------------

fn assert_secret_shape(secret: &str) {
    assert!(secret.len() >= 32, "{secret}");
    assert!(secret.chars().any(|c| c.is_ascii_uppercase()), "{secret}");
    assert!(secret.chars().any(|c| c.is_ascii_lowercase()), "{secret}");
    assert!(secret.chars().any(|c| c.is_ascii_digit()), "{secret}");
}

async fn project_robot_lifecycle(db: Database) {
    let api = api(db.clone()).await;
    let (alice, bob) = alice_and_bob(&api).await;
    let lib = project(&db, "lib", false).await;
    member(&db, lib, alice, 1).await;
    member(&db, lib, bob, 2).await;

    let request = json!({
        "name": "ci", "description": "CI pipeline", "level": "project", "duration": -1,
        "permissions": [project_permission("lib", &[("repository", "pull"), ("repository", "push")])],
    });
    // Developers cannot create robots; project admins can.
    assert_error(
        &api.post("/api/v2.0/robots", BOB, request.clone()).await,
        403,
        "FORBIDDEN",
    );
    let res = api.post("/api/v2.0/robots", ALICE, request.clone()).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let created = res.body.clone();
    let id = created["id"].as_i64().expect("id");
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v2.0/robots/{id}").as_str())
    );
    assert_eq!(created["name"], "robot$lib+ci");
    assert_eq!(created["expires_at"], -1);
    assert!(created["creation_time"].as_str().unwrap().ends_with('Z'));
    let secret = created["secret"]
        .as_str()
        .expect("secret shown on creation")
        .to_owned();
    assert_secret_shape(&secret);
    assert_error(
        &api.post("/api/v2.0/robots", ALICE, request).await,
        409,
        "CONFLICT",
    );

    // GET never shows the secret.
    let res = api.get(&format!("/api/v2.0/robots/{id}"), ALICE).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let robot = res.body.clone();
    assert!(robot.get("secret").is_none(), "{robot}");
    assert!(!res.text.contains(&secret));
    assert_eq!(robot["name"], "robot$lib+ci");
    assert_eq!(robot["description"], "CI pipeline");
    assert_eq!(robot["level"], "project");
    assert_eq!(robot["duration"], -1);
    assert_eq!(robot["editable"], true);
    assert_eq!(robot["disable"], false);
    assert_eq!(robot["creator_type"], "local");
    assert_eq!(robot["creator_ref"], alice);
    assert_eq!(robot["permissions"][0]["namespace"], "lib");
    assert_eq!(robot["permissions"][0]["access"][1]["action"], "push");
    assert!(robot["update_time"].is_string());
    // Harbor's matrix lets developers read and list robots, not manage them.
    assert_eq!(
        api.get(&format!("/api/v2.0/robots/{id}"), BOB).await.status,
        200
    );

    // Listing a project's robots, and the system's.
    let res = api
        .get(
            &format!("/api/v2.0/robots?q=Level%3Dproject,ProjectID%3D{lib}"),
            ALICE,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("x-total-count"), Some("1"));
    assert_eq!(res.body[0]["id"], id);
    assert!(res.body[0].get("secret").is_none());
    assert!(!res.text.contains(&secret));
    assert_error(
        &api.get("/api/v2.0/robots?q=Level%3Dproject", ALICE).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &api.get("/api/v2.0/robots?q=Level%3Dproject,ProjectID%3D9999", ALICE)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(&api.get("/api/v2.0/robots", ALICE).await, 403, "FORBIDDEN");
    let res = api.get("/api/v2.0/robots?q=Level%3Dsystem", ADMIN).await;
    assert_eq!(
        (res.status.as_u16(), res.header("x-total-count")),
        (200, Some("0"))
    );

    // The robot logs in with its secret and gets what it was given.
    let robot_creds = basic("robot$lib+ci", &secret);
    let as_robot = Some((robot_creds.0.as_str(), robot_creds.1.as_str()));
    let perms = api
        .get(
            &format!("/api/v2.0/users/current/permissions?scope=/project/{lib}&relative=true"),
            as_robot,
        )
        .await;
    assert_eq!(perms.status, 200, "{}", perms.text);
    assert!(perms.text.contains("\"push\""), "{}", perms.text);
    assert_error(
        &api.get("/api/v2.0/users/current", as_robot).await,
        412,
        "PRECONDITION",
    );

    // Disable through PUT (the GET body sent back), and the robot is refused.
    let mut update = robot.clone();
    update["disable"] = json!(true);
    update["description"] = json!("paused");
    let res = api
        .put(&format!("/api/v2.0/robots/{id}"), ALICE, update.clone())
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let robot = api.get(&format!("/api/v2.0/robots/{id}"), ALICE).await.body;
    assert_eq!(
        (robot["disable"].clone(), robot["description"].clone()),
        (json!(true), json!("paused"))
    );
    assert_error(
        &api.get("/api/v2.0/users/current/permissions", as_robot)
            .await,
        401,
        "UNAUTHORIZED",
    );
    update["disable"] = json!(false);
    update["duration"] = json!(10);
    assert_eq!(
        api.put(&format!("/api/v2.0/robots/{id}"), ALICE, update.clone())
            .await
            .status,
        200
    );
    let robot = api.get(&format!("/api/v2.0/robots/{id}"), ALICE).await.body;
    assert_eq!(robot["duration"], 10);
    assert!(robot["expires_at"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    assert_eq!(
        api.get("/api/v2.0/users/current/permissions", as_robot)
            .await
            .status,
        200
    );

    // Name, level and project are fixed.
    let mut renamed = update.clone();
    renamed["name"] = json!("robot$lib+other");
    assert_error(
        &api.put(&format!("/api/v2.0/robots/{id}"), ALICE, renamed)
            .await,
        400,
        "BAD_REQUEST",
    );
    let mut short_name = update.clone();
    short_name["name"] = json!("ci");
    assert_eq!(
        api.put(&format!("/api/v2.0/robots/{id}"), ALICE, short_name)
            .await
            .status,
        200
    );
    let mut relevelled = update.clone();
    relevelled["level"] = json!("system");
    assert_error(
        &api.put(&format!("/api/v2.0/robots/{id}"), ALICE, relevelled)
            .await,
        400,
        "BAD_REQUEST",
    );
    project(&db, "other", false).await;
    let mut moved = update.clone();
    moved["permissions"] = json!([project_permission("other", &[("repository", "pull")])]);
    assert_error(
        &api.put(&format!("/api/v2.0/robots/{id}"), ALICE, moved)
            .await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &api.put(&format!("/api/v2.0/robots/{id}"), BOB, update.clone())
            .await,
        403,
        "FORBIDDEN",
    );

    // Refresh: a new secret, shown in the answer only; the old one stops working.
    let res = api
        .patch(&format!("/api/v2.0/robots/{id}"), ALICE, json!({}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let refreshed = res.body["secret"].as_str().expect("new secret").to_owned();
    assert_secret_shape(&refreshed);
    assert_ne!(refreshed, secret);
    assert_error(
        &api.get("/api/v2.0/users/current/permissions", as_robot)
            .await,
        401,
        "UNAUTHORIZED",
    );
    let new_creds = Some(("robot$lib+ci", refreshed.as_str()));
    assert_eq!(
        api.get("/api/v2.0/users/current/permissions", new_creds)
            .await
            .status,
        200
    );
    // A chosen secret must meet Harbor's rule.
    let res = api
        .patch(
            &format!("/api/v2.0/robots/{id}"),
            ALICE,
            json!({"secret": "weak"}),
        )
        .await;
    assert_error(&res, 400, "BAD_REQUEST");
    let res = api
        .patch(
            &format!("/api/v2.0/robots/{id}"),
            ALICE,
            json!({"secret": "Chosen12345"}),
        )
        .await;
    assert_eq!(
        (res.status.as_u16(), res.body["secret"].clone()),
        (200, json!("Chosen12345"))
    );
    let chosen = Some(("robot$lib+ci", "Chosen12345"));
    assert_eq!(
        api.get("/api/v2.0/users/current/permissions", chosen)
            .await
            .status,
        200
    );
    // A robot may refresh its own secret.
    let res = api
        .patch(&format!("/api/v2.0/robots/{id}"), chosen, json!({}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_error(
        &api.patch(&format!("/api/v2.0/robots/{id}"), BOB, json!({}))
            .await,
        403,
        "FORBIDDEN",
    );

    // Delete.
    assert_error(
        &api.delete(&format!("/api/v2.0/robots/{id}"), BOB).await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(
        api.delete(&format!("/api/v2.0/robots/{id}"), ALICE)
            .await
            .status,
        200
    );
    assert_error(
        &api.get(&format!("/api/v2.0/robots/{id}"), ALICE).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &api.delete(&format!("/api/v2.0/robots/{id}"), ALICE).await,
        404,
        "NOT_FOUND",
    );

    // Every change was audited in the project, without secrets.
    let res = api
        .get(
            "/api/v2.0/projects/lib/logs?q=resource_type%3Drobot&page_size=50",
            ALICE,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let ops: Vec<&str> = res
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops.first(), Some(&"delete"));
    assert_eq!(ops.last(), Some(&"create"));
    assert_eq!(ops.iter().filter(|o| **o == "update").count(), 6, "{ops:?}");
    assert!(
        res.body
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["resource"] == "robot$lib+ci")
    );
    for s in [&secret, &refreshed] {
        assert!(!res.text.contains(s.as_str()));
    }
}

async fn robot_requests_are_validated(db: Database) {
    let api = api(db.clone()).await;
    project(&db, "lib", false).await;
    let valid = json!({
        "name": "ci", "level": "project",
        "permissions": [project_permission("lib", &[("repository", "pull")])],
    });
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    for (body, status) in [
        (with("name", json!("CI")), 400),
        (with("name", json!("c+i")), 400),
        (with("name", json!("")), 400),
        (with("level", json!("global")), 400),
        (with("duration", json!(-5)), 400),
        (with("secret", json!("weak")), 400),
        (with("permissions", json!([])), 400),
        (
            with(
                "permissions",
                json!([project_permission("*", &[("repository", "pull")])]),
            ),
            400,
        ),
        (
            with(
                "permissions",
                json!([project_permission("lib", &[("scan", "create")])]),
            ),
            400,
        ),
        (
            with("permissions", json!([project_permission("lib", &[])])),
            400,
        ),
        (
            with(
                "permissions",
                json!([
                    project_permission("lib", &[("repository", "pull")]),
                    project_permission("lib", &[("tag", "list")])
                ]),
            ),
            400,
        ),
        (
            with(
                "permissions",
                json!([{"kind": "system", "namespace": "/",
                                     "access": [{"resource": "robot", "action": "create"}]}]),
            ),
            400,
        ),
        (
            with(
                "permissions",
                json!([project_permission("nope", &[("repository", "pull")])]),
            ),
            404,
        ),
        (with("permissions", json!("not a list")), 400),
    ] {
        let res = api.post("/api/v2.0/robots", ADMIN, body.clone()).await;
        assert_eq!(res.status, status, "{body} -> {}", res.text);
        assert!(res.error_code().len() > 2, "{}", res.text);
    }
    // System robots: `*` and system entries are fine, unknown projects are not.
    let system = json!({
        "name": "all", "level": "system", "duration": 0,
        "permissions": [project_permission("*", &[("repository", "pull")]),
                        {"kind": "system", "namespace": "/", "access": [{"resource": "robot", "action": "list"}]}],
    });
    let res = api.post("/api/v2.0/robots", ADMIN, system).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["name"], "robot$all");
    // Duration 0 is the 30-day default.
    let expires = res.body["expires_at"].as_i64().unwrap();
    let expected = chrono::Utc::now().timestamp() + 30 * 86_400;
    assert!((expires - expected).abs() < 60, "{expires} vs {expected}");
    let unknown = json!({"name": "x", "level": "system",
        "permissions": [project_permission("nope", &[("repository", "pull")])]});
    assert_error(
        &api.post("/api/v2.0/robots", ADMIN, unknown).await,
        404,
        "NOT_FOUND",
    );
    // A chosen secret at creation is taken as is.
    let chosen = with("secret", json!("MySecret123"));
    let res = api.post("/api/v2.0/robots", ADMIN, chosen).await;
    assert_eq!(
        (res.status.as_u16(), res.body["secret"].clone()),
        (201, json!("MySecret123"))
    );
    assert_error(
        &api.post("/api/v2.0/robots", None, valid).await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &api.get("/api/v2.0/robots/9999", ADMIN).await,
        404,
        "NOT_FOUND",
    );
}

async fn robots_create_robots_no_wider_than_themselves(db: Database) {
    let api = api(db.clone()).await;
    let (alice, _) = alice_and_bob(&api).await;
    let lib = project(&db, "lib", false).await;
    project(&db, "other", false).await;
    member(&db, lib, alice, 1).await;

    // A project robot that may create robots in its project.
    let res = api
        .post("/api/v2.0/robots", ALICE, json!({
            "name": "maker", "level": "project", "duration": 10,
            "permissions": [project_permission("lib", &[("repository", "pull"), ("repository", "push"), ("robot", "create")])],
        }))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let maker_id = res.body["id"].as_i64().unwrap();
    let maker_secret = res.body["secret"].as_str().unwrap().to_owned();
    let maker = Some(("robot$lib+maker", maker_secret.as_str()));
    let child = |name: &str, access: &[(&str, &str)], duration: i64| {
        json!({"name": name, "level": "project", "duration": duration,
               "permissions": [project_permission("lib", access)]})
    };

    let res = api
        .post(
            "/api/v2.0/robots",
            maker,
            child("puller", &[("repository", "pull")], 5),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let puller = api
        .get(&format!("/api/v2.0/robots/{}", res.body["id"]), ADMIN)
        .await
        .body;
    assert_eq!(
        (
            puller["creator_type"].clone(),
            puller["creator_ref"].clone()
        ),
        (json!("robot"), json!(maker_id))
    );
    // Wider than itself: another action, a wildcard, an unlimited or longer life.
    for (body, why) in [
        (
            child("deleter", &[("repository", "delete")], 5),
            "action it lacks",
        ),
        (child("star", &[("repository", "*")], 5), "wildcard"),
        (
            child("forever", &[("repository", "pull")], -1),
            "never expires",
        ),
        (
            child("longer", &[("repository", "pull")], 30),
            "outlives it",
        ),
    ] {
        let res = api.post("/api/v2.0/robots", maker, body).await;
        assert_error(&res, 403, "FORBIDDEN");
        assert!(
            !res.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .is_empty(),
            "{why}"
        );
    }
    // Other projects and system robots are not its business.
    let elsewhere = json!({"name": "x", "level": "project",
        "permissions": [project_permission("other", &[("repository", "pull")])]});
    assert_error(
        &api.post("/api/v2.0/robots", maker, elsewhere).await,
        403,
        "FORBIDDEN",
    );
    let system = json!({"name": "x", "level": "system",
        "permissions": [project_permission("lib", &[("repository", "pull")])]});
    assert_error(
        &api.post("/api/v2.0/robots", maker, system).await,
        403,
        "FORBIDDEN",
    );
    // Nor may it widen a robot by updating it.
    let mut widened = puller.clone();
    widened["permissions"] = json!([project_permission("lib", &[("repository", "delete")])]);
    assert_error(
        &api.put(
            &format!("/api/v2.0/robots/{}", puller["id"]),
            maker,
            widened,
        )
        .await,
        403,
        "FORBIDDEN",
    );

    // Users other than system administrators cannot create system robots.
    let sys_request = |name: &str, permissions: Value| json!({"name": name, "level": "system", "duration": -1, "permissions": permissions});
    let admin_perms = json!([
        project_permission("lib", &[("repository", "pull"), ("repository", "push")]),
        {"kind": "system", "namespace": "/", "access": [{"resource": "robot", "action": "create"},
                                                        {"resource": "robot", "action": "read"}]},
    ]);
    assert_error(
        &api.post(
            "/api/v2.0/robots",
            ALICE,
            sys_request("ops", admin_perms.clone()),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    let res = api
        .post("/api/v2.0/robots", ADMIN, sys_request("ops", admin_perms))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let ops_secret = res.body["secret"].as_str().unwrap().to_owned();
    let ops = Some(("robot$ops", ops_secret.as_str()));
    // A system robot with the system robot permission creates narrower system robots.
    let res = api
        .post(
            "/api/v2.0/robots",
            ops,
            sys_request(
                "ops-pull",
                json!([project_permission("lib", &[("repository", "pull")])]),
            ),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(
        api.get(&format!("/api/v2.0/robots/{}", res.body["id"]), ops)
            .await
            .status,
        200
    );
    let res = api
        .post(
            "/api/v2.0/robots",
            ops,
            sys_request(
                "ops-all",
                json!([project_permission("*", &[("repository", "pull")])]),
            ),
        )
        .await;
    assert_error(&res, 403, "FORBIDDEN");
    // It lacks robot:list at system level.
    assert_error(&api.get("/api/v2.0/robots", ops).await, 403, "FORBIDDEN");
    let res = api.get("/api/v2.0/robots?sort=name", ADMIN).await;
    assert_eq!(res.header("x-total-count"), Some("2"));
    let names: Vec<&str> = res
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["robot$ops", "robot$ops-pull"]);

    // The audit log names the creating robot.
    let trail = audit_trail(&api, "resource_type=robot,username=~robot%24").await;
    assert_eq!(
        trail,
        [
            (
                "create".into(),
                "robot".into(),
                "robot$ops-pull".into(),
                "robot$ops".into()
            ),
            (
                "create".into(),
                "robot".into(),
                "robot$lib+puller".into(),
                "robot$lib+maker".into()
            ),
        ]
    );
}

// ---- audit logs ---------------------------------------------------------------------

async fn audit_logs_by_visibility_and_filters(db: Database) {
    let api = api(db.clone()).await;
    let (alice, bob) = alice_and_bob(&api).await;
    let lib = project(&db, "lib", true).await;
    let app = project(&db, "app", false).await;
    member(&db, lib, alice, 1).await;
    member(&db, app, bob, 3).await;
    for (project_id, op) in [
        (Some(lib), "push"),
        (Some(lib), "pull"),
        (Some(app), "delete"),
    ] {
        db.add_audit_entry(&projects::NewAuditEntry {
            project_id,
            operation: op.into(),
            resource_type: "artifact".into(),
            resource: "x".into(),
            username: "carol".into(),
            client_ip: "192.0.2.1".into(),
        })
        .await
        .unwrap();
    }
    db.record_login("alice", "192.0.2.9", true).await.unwrap();
    db.record_login("mallory", "192.0.2.66", false)
        .await
        .unwrap();

    // Administrators see everything (two user creations, three artifacts, two logins).
    let res = api.get("/api/v2.0/audit-logs", ADMIN).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("x-total-count"), Some("7"));
    let first = &res.body[0];
    for field in [
        "id",
        "username",
        "resource",
        "resource_type",
        "operation",
        "op_time",
    ] {
        assert!(first.get(field).is_some(), "AuditLog.{field}: {first}");
    }
    assert_eq!(first["operation"], "login_failed");
    assert_eq!(first["resource"], "mallory");
    // Others: only projects where they may list logs. Alice admins lib; Bob is a
    // guest of app (guests cannot list logs); public projects give no log access.
    let res = api.get("/api/v2.0/audit-logs", ALICE).await;
    let ops: Vec<&str> = res
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["pull", "push"]);
    let res = api.get("/api/v2.0/audit-logs", BOB).await;
    assert_eq!(
        (
            res.status.as_u16(),
            res.header("x-total-count"),
            res.body.clone()
        ),
        (200, Some("0"), json!([]))
    );
    assert_error(
        &api.get("/api/v2.0/audit-logs", None).await,
        401,
        "UNAUTHORIZED",
    );

    // q: exact and fuzzy terms, time ranges; bad terms are 400.
    let q = |q: &str| format!("/api/v2.0/audit-logs?q={q}");
    assert_eq!(
        api.get(&q("operation%3Dpush"), ADMIN)
            .await
            .header("x-total-count"),
        Some("1")
    );
    assert_eq!(
        api.get(&q("operation%3D~login"), ADMIN)
            .await
            .header("x-total-count"),
        Some("2")
    );
    assert_eq!(
        api.get(&q("username%3Dcarol,resource_type%3Dartifact"), ADMIN)
            .await
            .header("x-total-count"),
        Some("3")
    );
    assert_eq!(
        api.get(&q("resource%3Dmallory"), ADMIN)
            .await
            .header("x-total-count"),
        Some("1")
    );
    let range = "op_time%3D%5B2000-01-01%2000%3A00%3A00~2100-01-01%2000%3A00%3A00%5D";
    assert_eq!(
        api.get(&q(range), ADMIN).await.header("x-total-count"),
        Some("7")
    );
    let future = "op_time%3D%5B2100-01-01%2000%3A00%3A00~%5D";
    assert_eq!(
        api.get(&q(future), ADMIN).await.header("x-total-count"),
        Some("0")
    );
    assert_error(
        &api.get(&q("op_time%3D%5Byesterday~%5D"), ADMIN).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &api.get(&q("project%3Dlib"), ADMIN).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &api.get("/api/v2.0/audit-logs?sort=nope", ADMIN).await,
        400,
        "BAD_REQUEST",
    );
    // Oldest first on request; paging with links.
    let res = api
        .get(
            "/api/v2.0/audit-logs?sort=op_time,id&page=2&page_size=3",
            ADMIN,
        )
        .await;
    assert_eq!(res.body[0]["operation"], "pull");
    let link = res.header("link").expect("Link");
    assert!(
        link.contains("rel=\"prev\"") && link.contains("rel=\"next\""),
        "{link}"
    );
    assert!(link.starts_with("</api/v2.0/audit-logs?"), "{link}");

    // One project's log.
    let res = api.get("/api/v2.0/projects/lib/logs", ALICE).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("x-total-count"), Some("2"));
    let res = api
        .get("/api/v2.0/projects/lib/logs?q=operation%3Dpull", ADMIN)
        .await;
    assert_eq!(res.header("x-total-count"), Some("1"));
    assert_error(
        &api.get("/api/v2.0/projects/app/logs", BOB).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &api.get("/api/v2.0/projects/lib/logs", BOB).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &api.get("/api/v2.0/projects/nope/logs", ADMIN).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &api.get("/api/v2.0/projects/lib/logs", None).await,
        401,
        "UNAUTHORIZED",
    );
}

// ---- search and statistics ----------------------------------------------------------

async fn search_and_statistics_by_visibility(db: Database) {
    let api = api(db.clone()).await;
    let (alice, _) = alice_and_bob(&api).await;
    project(&db, "lib", true).await;
    let secret = project(&db, "secret-app", false).await;
    project(&db, "hidden", false).await;
    member(&db, secret, alice, 2).await;
    repository(&db, "lib/app").await;
    repository(&db, "lib/tools").await;
    repository(&db, "secret-app/app").await;
    repository(&db, "hidden/app").await;

    let names = |body: &Value, list: &str, field: &str| -> Vec<String> {
        body[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i[field].as_str().unwrap().to_owned())
            .collect()
    };
    let res = api.get("/api/v2.0/search?q=app", None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(names(&res.body, "project", "name"), Vec::<String>::new());
    assert_eq!(
        names(&res.body, "repository", "repository_name"),
        ["lib/app"]
    );
    let repo = &res.body["repository"][0];
    assert_eq!(repo["project_name"], "lib");
    assert_eq!(repo["project_public"], true);
    assert!(repo["project_id"].is_i64() && repo["pull_count"] == 0 && repo["artifact_count"] == 0);

    let res = api.get("/api/v2.0/search?q=app", ALICE).await;
    assert_eq!(names(&res.body, "project", "name"), ["secret-app"]);
    assert_eq!(
        names(&res.body, "repository", "repository_name"),
        ["lib/app", "secret-app/app"]
    );
    let found = &res.body["project"][0];
    assert_eq!(found["project_id"], secret);
    assert_eq!(found["metadata"]["public"], "false");
    assert_eq!(found["current_user_role_id"], 2);
    assert_eq!(found["repo_count"], 1);
    let res = api.get("/api/v2.0/search?q=app", ADMIN).await;
    assert_eq!(
        names(&res.body, "repository", "repository_name"),
        ["hidden/app", "lib/app", "secret-app/app"]
    );
    assert_eq!(
        names(
            &api.get("/api/v2.0/search?q=li", ADMIN).await.body,
            "project",
            "name"
        ),
        ["lib"]
    );
    assert_error(
        &api.get("/api/v2.0/search", ALICE).await,
        400,
        "BAD_REQUEST",
    );

    assert_error(
        &api.get("/api/v2.0/statistics", None).await,
        401,
        "UNAUTHORIZED",
    );
    let stat = api.get("/api/v2.0/statistics", ADMIN).await.body;
    assert_eq!(
        stat,
        json!({"private_project_count": 2, "private_repo_count": 2, "public_project_count": 1,
               "public_repo_count": 2, "total_project_count": 3, "total_repo_count": 4,
               "total_storage_consumption": "lib/applib/toolssecret-app/apphidden/app".len()})
    );
    let stat = api.get("/api/v2.0/statistics", ALICE).await.body;
    assert_eq!(
        stat,
        json!({"private_project_count": 1, "private_repo_count": 1, "public_project_count": 1,
               "public_repo_count": 2, "total_project_count": 0, "total_repo_count": 0,
               "total_storage_consumption": 0})
    );
}

// ---- system information ---------------------------------------------------------------

async fn systeminfo_shows_version_and_storage_to_signed_in_callers(db: Database) {
    let api = api(db).await;
    let anonymous = api.get("/api/v2.0/systeminfo", None).await;
    assert_eq!(anonymous.status, 200, "{}", anonymous.text);
    assert_eq!(anonymous.body["harbor_version"], "");
    assert_eq!(anonymous.body["registry_storage_provider_name"], "");
    assert_eq!(
        anonymous.body["external_url"],
        "https://registry.example.com"
    );

    let admin = api.get("/api/v2.0/systeminfo", ADMIN).await;
    assert_eq!(admin.status, 200, "{}", admin.text);
    let version = admin.body["harbor_version"].as_str().unwrap_or_default();
    assert!(version.starts_with("berth-"), "{}", admin.text);
    // The test API stores blobs in memory; Harbor names that driver `inmemory`.
    assert_eq!(admin.body["registry_storage_provider_name"], "inmemory");
    assert_eq!(admin.body["registry_url"], "registry.example.com");
}
