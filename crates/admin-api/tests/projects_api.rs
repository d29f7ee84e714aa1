//! The project side of `/api/v2.0` driven in-process: projects, metadata, members,
//! repositories, artifacts and tags, with Harbor's field names, paging headers, error
//! envelope, permission checks and audit records; every case on SQLite and Postgres.
//!
//! Run from the workspace root:
//!   eval "$(bash tests/services/pg-up.sh)"; cargo test -p admin-api --test projects_api; eval "$PG_STOP"

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use projects::{AuditFilter, CreateUserOutcome, Database, NewUser, PullStats, Window};
use registry_core::meta::{ManifestRecord, ManifestReferences, MetadataStore, PutManifestOutcome};
use registry_core::{Digest, RepoName, Tag};
use serde_json::{Value, json};
use support::{ADMIN, Answer, Api, Creds};
use tower::ServiceExt as _;

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
    create_get_update_projects,
    project_name_or_id_and_head,
    list_projects_by_visibility_with_paging_headers,
    delete_project_deletable_and_summary,
    metadata_api,
    members_api,
    member_roles_decide_access,
    repositories_api,
    artifacts_and_references,
    tags_api,
    delete_artifacts,
    audit_records_for_every_change,
    openapi_lists_the_project_paths,
);

const PASSWORD: &str = "Passw0rd!";
const ALICE: Creds<'static> = Some(("alice", PASSWORD));
const BOB: Creds<'static> = Some(("bob", PASSWORD));
const CAROL: Creds<'static> = Some(("carol", PASSWORD));

// ---- helpers ------------------------------------------------------------------------

async fn user(db: &Database, name: &str) -> i64 {
    match db
        .create_user(&NewUser {
            username: name.to_owned(),
            email: format!("{name}@example.com"),
            realname: name.to_owned(),
            comment: String::new(),
            password: PASSWORD.to_owned(),
            sysadmin: false,
        })
        .await
        .expect("create user")
    {
        CreateUserOutcome::Created(u) => u.id,
        other => panic!("{name}: {other:?}"),
    }
}

/// A request with extra headers (the helpers of `support` send none).
async fn call_with(
    api: &Api,
    method: Method,
    path: &str,
    creds: Creds<'_>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if let Some((user, password)) = creds {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        req = req.header(header::AUTHORIZATION, format!("Basic {token}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let res = api.router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn head(api: &Api, path: &str, creds: Creds<'_>) -> StatusCode {
    call_with(api, Method::HEAD, path, creds, &[], None)
        .await
        .status
}

/// Creates project `name` as `creds`; returns its id.
async fn create_project(api: &Api, creds: Creds<'_>, name: &str, public: bool) -> i64 {
    let a = api
        .post(
            "/api/v2.0/projects",
            creds,
            json!({"project_name": name, "metadata": {"public": public.to_string()}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let location = a.header("location").expect("Location").to_owned();
    location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("id in Location")
}

/// Harbor's error envelope with `code`.
#[track_caller]
fn assert_error(a: &Answer, status: StatusCode, code: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.error_code(), code, "{}", a.text);
    assert!(
        a.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        a.text
    );
}

async fn add_member(api: &Api, project: &str, username: &str, role: i64) {
    let a = api
        .post(
            &format!("/api/v2.0/projects/{project}/members"),
            ADMIN,
            json!({"role_id": role, "member_user": {"username": username}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
}

fn repo(name: &str) -> RepoName {
    name.parse().expect("repository name")
}

async fn blob(db: &Database, repo: &RepoName, content: &[u8]) -> Digest {
    let digest = Digest::of(content);
    db.commit_blob(repo, &digest, content.len() as u64, None)
        .await
        .expect("commit blob");
    digest
}

async fn put(
    db: &Database,
    repo: &RepoName,
    content: &str,
    media_type: &str,
    refs: ManifestReferences,
    subject: Option<&Digest>,
    tag: Option<&str>,
) -> Digest {
    let record = ManifestRecord {
        digest: Digest::of(content.as_bytes()),
        media_type: media_type.to_owned(),
        artifact_type: None,
        subject: subject.cloned(),
        config_digest: None,
        annotations: Some(r#"{"org.opencontainers.image.title":"x"}"#.into()),
        content: content.as_bytes().to_vec(),
        created_at: chrono::Utc::now().timestamp(),
    };
    let tag: Option<Tag> = tag.map(|t| t.parse().expect("tag"));
    let outcome = db
        .put_manifest(repo, &record, &refs, tag.as_ref())
        .await
        .expect("put manifest");
    assert_eq!(outcome, PutManifestOutcome::Stored);
    record.digest
}

const OCI_IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// An OCI image in `repo` whose layer is `layer`.
async fn image(db: &Database, repo: &RepoName, layer: &str, tag: Option<&str>) -> Digest {
    let config_bytes = format!(r#"{{"architecture":"amd64","os":"linux","l":"{layer}"}}"#);
    let config = blob(db, repo, config_bytes.as_bytes()).await;
    let layer_digest = blob(db, repo, layer.as_bytes()).await;
    let content = json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE,
        "config": {"mediaType": OCI_CONFIG, "digest": config.to_string(), "size": config_bytes.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest.to_string(), "size": layer.len()}],
    })
    .to_string();
    let refs = ManifestReferences {
        blobs: vec![config, layer_digest],
        manifests: Vec::new(),
    };
    put(db, repo, &content, OCI_IMAGE, refs, None, tag).await
}

/// An index of `children` (architecture names) in `repo`.
async fn index(
    db: &Database,
    repo: &RepoName,
    children: &[(&Digest, &str)],
    tag: Option<&str>,
) -> Digest {
    let manifests: Vec<Value> = children
        .iter()
        .map(|(d, arch)| {
            json!({"mediaType": OCI_IMAGE, "digest": d.to_string(), "size": 100,
                   "platform": {"architecture": arch, "os": "linux", "os.version": "10"}})
        })
        .collect();
    let content =
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).to_string();
    let refs = ManifestReferences {
        blobs: Vec::new(),
        manifests: children.iter().map(|(d, _)| (*d).clone()).collect(),
    };
    put(db, repo, &content, OCI_INDEX, refs, None, tag).await
}

/// A signature-like accessory of `subject`.
async fn accessory(db: &Database, repo: &RepoName, subject: &Digest) -> Digest {
    let content = json!({"schemaVersion": 2, "mediaType": OCI_IMAGE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [], "subject": {"mediaType": OCI_IMAGE, "digest": subject.to_string(), "size": 1}})
    .to_string();
    put(
        db,
        repo,
        &content,
        OCI_IMAGE,
        ManifestReferences::default(),
        Some(subject),
        None,
    )
    .await
}

fn names(a: &Answer, key: &str) -> Vec<String> {
    a.body
        .as_array()
        .unwrap_or_else(|| panic!("array: {}", a.text))
        .iter()
        .map(|p| p[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

// ---- projects -----------------------------------------------------------------------

async fn create_get_update_projects(db: Database) {
    let api = Api::new(db.clone()).await;
    let alice = user(&db, "alice").await;
    user(&db, "bob").await;

    let a = api
        .post("/api/v2.0/projects", None, json!({"project_name": "team"}))
        .await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let a = api
        .post(
            "/api/v2.0/projects",
            Some(("alice", "wrong")),
            json!({"project_name": "team"}),
        )
        .await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    let id = create_project(&api, ALICE, "team", false).await;
    let a = api
        .post(
            "/api/v2.0/projects",
            BOB,
            json!({"project_name": "team", "public": true}),
        )
        .await;
    assert_error(&a, StatusCode::CONFLICT, "CONFLICT");
    for bad in ["Team", "-team", "te--am", "a/b", ""] {
        let a = api
            .post("/api/v2.0/projects", ALICE, json!({"project_name": bad}))
            .await;
        assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    let a = api
        .post(
            "/api/v2.0/projects",
            ALICE,
            json!({"project_name": "x1", "metadata": {"auto_scan": "maybe"}}),
        )
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = call_with(&api, Method::POST, "/api/v2.0/projects", ALICE, &[], None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "no body");

    // Harbor's shape.
    let a = api.get(&format!("/api/v2.0/projects/{id}"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let p = &a.body;
    assert_eq!(p["project_id"], id);
    assert_eq!(p["name"], "team");
    assert_eq!(p["owner_id"], alice);
    assert_eq!(p["owner_name"], "alice");
    assert_eq!(p["deleted"], false);
    assert_eq!(p["togglable"], true);
    assert_eq!(p["current_user_role_id"], 1);
    assert_eq!(p["current_user_role_ids"], json!([1]));
    assert_eq!(p["repo_count"], 0);
    assert_eq!(p["metadata"], json!({"public": "false"}));
    assert_eq!(p["cve_allowlist"]["project_id"], id);
    assert_eq!(p["cve_allowlist"]["items"], json!([]));
    for key in ["creation_time", "update_time"] {
        let t = p[key].as_str().expect(key);
        assert!(
            chrono::DateTime::parse_from_rfc3339(t).is_ok(),
            "{key}: {t}"
        );
    }

    // Private: a stranger is refused, anonymous asked to sign in.
    let a = api.get("/api/v2.0/projects/team", BOB).await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");
    let a = api.get("/api/v2.0/projects/team", None).await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let a = api.get("/api/v2.0/projects/nope", ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");

    // Update: metadata only; the deprecated `public` flag wins over metadata.public.
    let a = api
        .put(
            "/api/v2.0/projects/team",
            BOB,
            json!({"metadata": {"public": "true"}}),
        )
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");
    let a = api
        .put(
            "/api/v2.0/projects/team",
            ALICE,
            json!({"project_name": "ignored", "public": true,
                   "metadata": {"public": "false", "auto_scan": "TRUE", "severity": "High"},
                   "storage_limit": 10}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api
        .put(
            "/api/v2.0/projects/team",
            ALICE,
            json!({"metadata": {"severity": "dreadful"}}),
        )
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");

    // Now public: bob may look, without a role and without the toggle.
    let a = api.get("/api/v2.0/projects/team", BOB).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["name"], "team");
    assert_eq!(
        a.body["metadata"],
        json!({"public": "true", "auto_scan": "true", "severity": "high"})
    );
    assert_eq!(a.body["togglable"], false);
    assert!(a.body.get("current_user_role_id").is_none());
    let a = api.get("/api/v2.0/projects/team", None).await;
    assert_eq!(a.status, StatusCode::OK, "anonymous reads a public project");

    // The system admin sees everything and may change it.
    let a = api.get("/api/v2.0/projects/team", ADMIN).await;
    assert_eq!(
        (a.status, &a.body["togglable"]),
        (StatusCode::OK, &json!(true))
    );
}

async fn project_name_or_id_and_head(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    let id = create_project(&api, ALICE, "team", false).await;
    // A name that looks like a number.
    let numeric = create_project(&api, ALICE, "4242", false).await;

    let by_name = api.get("/api/v2.0/projects/team", ALICE).await;
    assert_eq!(by_name.body["project_id"], id);
    let by_id = api
        .get(&format!("/api/v2.0/projects/{numeric}"), ALICE)
        .await;
    assert_eq!(by_id.body["name"], "4242");
    let a = api.get("/api/v2.0/projects/4242", ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    let a = call_with(
        &api,
        Method::GET,
        "/api/v2.0/projects/4242",
        ALICE,
        &[("X-Is-Resource-Name", "true")],
        None,
    )
    .await;
    assert_eq!(
        (a.status, &a.body["project_id"]),
        (StatusCode::OK, &json!(numeric))
    );

    // Location by name on request.
    let a = call_with(
        &api,
        Method::POST,
        "/api/v2.0/projects",
        ALICE,
        &[("X-Resource-Name-In-Location", "true")],
        Some(json!({"project_name": "named"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.header("location"), Some("/api/v2.0/projects/named"));

    assert_eq!(
        head(&api, "/api/v2.0/projects?project_name=team", ALICE).await,
        StatusCode::OK
    );
    assert_eq!(
        head(&api, "/api/v2.0/projects?project_name=nope", ALICE).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        head(&api, "/api/v2.0/projects?project_name=team", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        head(&api, "/api/v2.0/projects", ALICE).await,
        StatusCode::BAD_REQUEST
    );
}

async fn list_projects_by_visibility_with_paging_headers(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    user(&db, "bob").await;
    for name in ["pub1", "pub2", "pub3"] {
        create_project(&api, ADMIN, name, true).await;
    }
    create_project(&api, ALICE, "priv-alice", false).await;
    create_project(&api, ADMIN, "priv-admin", false).await;

    let sorted = "&sort=name";
    let a = api
        .get(&format!("/api/v2.0/projects?page_size=100{sorted}"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(names(&a, "name"), ["pub1", "pub2", "pub3"]);
    assert_eq!(a.header("x-total-count"), Some("3"));
    assert!(a.header("link").is_none(), "one page, no links");

    let a = api
        .get(&format!("/api/v2.0/projects?page_size=100{sorted}"), ALICE)
        .await;
    assert_eq!(names(&a, "name"), ["priv-alice", "pub1", "pub2", "pub3"]);
    let a = api
        .get(&format!("/api/v2.0/projects?page_size=100{sorted}"), BOB)
        .await;
    assert_eq!(names(&a, "name"), ["pub1", "pub2", "pub3"]);
    let a = api
        .get(&format!("/api/v2.0/projects?page_size=100{sorted}"), ADMIN)
        .await;
    assert_eq!(a.header("x-total-count"), Some("5"));

    // Paging: X-Total-Count and RFC 5988 links.
    let a = api
        .get("/api/v2.0/projects?page=2&page_size=2&sort=name", ADMIN)
        .await;
    assert_eq!(names(&a, "name"), ["pub1", "pub2"]);
    assert_eq!(a.header("x-total-count"), Some("5"));
    let link = a.header("link").expect("Link");
    assert!(
        link.contains("rel=\"prev\"") && link.contains("rel=\"next\""),
        "{link}"
    );
    assert!(link.contains("page=1") && link.contains("page=3"), "{link}");
    assert!(
        link.contains("/api/v2.0/projects?") && link.contains("sort=name"),
        "{link}"
    );
    let a = api
        .get("/api/v2.0/projects?page=3&page_size=2&sort=name", ADMIN)
        .await;
    assert_eq!(names(&a, "name"), ["pub3"]);
    let link = a.header("link").expect("Link");
    assert!(
        link.contains("rel=\"prev\"") && !link.contains("rel=\"next\""),
        "{link}"
    );

    // Filters: name (contains), public, owner, q, sort direction.
    let a = api
        .get("/api/v2.0/projects?name=priv&sort=name", ADMIN)
        .await;
    assert_eq!(names(&a, "name"), ["priv-admin", "priv-alice"]);
    let a = api
        .get("/api/v2.0/projects?public=false&sort=name", ALICE)
        .await;
    assert_eq!(names(&a, "name"), ["priv-alice"]);
    let a = api.get("/api/v2.0/projects?owner=alice", ADMIN).await;
    assert_eq!(names(&a, "name"), ["priv-alice"]);
    let a = api
        .get(
            "/api/v2.0/projects?q=name%3D~pub,public%3Dtrue&sort=-name",
            ADMIN,
        )
        .await;
    assert_eq!(names(&a, "name"), ["pub3", "pub2", "pub1"]);
    let a = api.get("/api/v2.0/projects?q=name%3Dpub2", ADMIN).await;
    assert_eq!(names(&a, "name"), ["pub2"]);
    // Each listed project carries the caller's role.
    let a = api.get("/api/v2.0/projects?name=priv-alice", ALICE).await;
    assert_eq!(a.body[0]["current_user_role_id"], 1);

    for bad in [
        "/api/v2.0/projects?sort=bogus",
        "/api/v2.0/projects?page_size=101",
        "/api/v2.0/projects?page=0",
        "/api/v2.0/projects?q=colour%3Dred",
        "/api/v2.0/projects?public=maybe",
    ] {
        let a = api.get(bad, ADMIN).await;
        assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
}

async fn delete_project_deletable_and_summary(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    user(&db, "bob").await;
    let id = create_project(&api, ALICE, "team", true).await;
    add_member(&api, "team", "bob", 2).await;
    image(&db, &repo("team/app"), "layer", Some("v1")).await;

    let a = api.get("/api/v2.0/projects/team/summary", ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.body,
        json!({"repo_count": 1, "project_admin_count": 1, "maintainer_count": 0,
               "developer_count": 1, "guest_count": 0, "limited_guest_count": 0})
    );
    // Anonymous may read a public project, not its members.
    let a = api.get("/api/v2.0/projects/team/summary", None).await;
    assert_eq!(a.body, json!({"repo_count": 1}));

    let a = api
        .get(&format!("/api/v2.0/projects/{id}/_deletable"), ALICE)
        .await;
    assert_eq!(a.body["deletable"], false, "{}", a.text);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("repositories"))
    );
    let a = api.get("/api/v2.0/projects/team/_deletable", BOB).await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");

    let a = api.delete("/api/v2.0/projects/team", BOB).await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");
    let a = api.delete("/api/v2.0/projects/team", ALICE).await;
    assert_error(&a, StatusCode::PRECONDITION_FAILED, "PRECONDITION");
    assert_eq!(
        api.get("/api/v2.0/projects/team", ALICE).await.status,
        StatusCode::OK
    );

    let a = api
        .delete("/api/v2.0/projects/team/repositories/app", ALICE)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api.get("/api/v2.0/projects/team/_deletable", ALICE).await;
    assert_eq!(a.body, json!({"deletable": true}));
    let a = api.delete(&format!("/api/v2.0/projects/{id}"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api.get("/api/v2.0/projects/team", ADMIN).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    let a = api.delete("/api/v2.0/projects/team", ADMIN).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    // The name is free again, under a new id.
    let again = create_project(&api, BOB, "team", false).await;
    assert_ne!(again, id);
}

async fn metadata_api(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    user(&db, "bob").await;
    create_project(&api, ALICE, "team", false).await;
    add_member(&api, "team", "bob", 3).await;
    let base = "/api/v2.0/projects/team/metadatas";

    let a = api.get(base, ALICE).await;
    assert_eq!(
        (a.status, &a.body),
        (StatusCode::OK, &json!({"public": "false"}))
    );
    let a = api.get(&format!("{base}/"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "Harbor's trailing-slash path");
    let a = api.get(base, BOB).await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");

    let a = api.post(base, ALICE, json!({"auto_scan": "1"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api.post(base, ALICE, json!({"auto_scan": "false"})).await;
    assert_error(&a, StatusCode::CONFLICT, "CONFLICT");
    let a = api
        .post(
            base,
            ALICE,
            json!({"prevent_vul": "true", "severity": "low"}),
        )
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = api.post(base, ALICE, json!({"colour": "red"})).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = api.post(base, BOB, json!({"severity": "low"})).await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");

    let a = api.get(&format!("{base}/auto_scan"), ALICE).await;
    assert_eq!(a.body, json!({"auto_scan": "true"}));
    let a = api.get(&format!("{base}/severity"), ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");

    let a = api
        .put(
            &format!("{base}/public"),
            ALICE,
            json!({"auto_scan": "true"}),
        )
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = api
        .put(&format!("{base}/public"), ALICE, json!({"public": "true"}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        api.get("/api/v2.0/projects/team", None).await.status,
        StatusCode::OK,
        "now public"
    );

    let a = api.delete(&format!("{base}/public"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api.delete(&format!("{base}/public"), ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(
        api.get("/api/v2.0/projects/team", None).await.status,
        StatusCode::UNAUTHORIZED,
        "private again"
    );
    let a = api.get(base, ALICE).await;
    assert_eq!(a.body, json!({"auto_scan": "true"}));
}

async fn members_api(db: Database) {
    let api = Api::new(db.clone()).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    user(&db, "carol").await;
    user(&db, "dave").await;
    create_project(&api, ALICE, "team", false).await;
    let base = "/api/v2.0/projects/team/members";

    let a = api
        .post(
            base,
            ALICE,
            json!({"role_id": 2, "member_user": {"username": "bob"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let location = a.header("location").expect("Location").to_owned();
    assert!(
        location.starts_with("/api/v2.0/projects/team/members/"),
        "{location}"
    );
    let a = api
        .post(
            base,
            ALICE,
            json!({"role_id": 4, "member_user": {"user_id": bob}}),
        )
        .await;
    assert_error(&a, StatusCode::CONFLICT, "CONFLICT");
    let a = api
        .post(
            base,
            ALICE,
            json!({"role_id": 3, "member_user": {"username": "nobody"}}),
        )
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    let a = api
        .post(
            base,
            ALICE,
            json!({"role_id": 9, "member_user": {"username": "carol"}}),
        )
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = api.post(base, ALICE, json!({"role_id": 3})).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = api
        .post(
            base,
            ALICE,
            json!({"role_id": 3, "member_group": {"group_name": "devs"}}),
        )
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = api
        .post(
            base,
            ALICE,
            json!({"role_id": 5, "member_user": {"username": "carol"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);

    let a = api.get(&format!("{base}?page_size=2"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.header("x-total-count"), Some("3"));
    assert!(a.header("link").is_some_and(|l| l.contains("rel=\"next\"")));
    assert_eq!(names(&a, "entity_name"), ["alice", "bob"]);
    let first = &a.body[0];
    assert_eq!(first["role_id"], 1);
    assert_eq!(first["role_name"], "projectAdmin");
    assert_eq!(first["entity_id"], alice);
    assert_eq!(first["entity_type"], "u");
    assert!(first["id"].is_i64() && first["project_id"].is_i64());
    let a = api.get(&format!("{base}?entityname=car"), ALICE).await;
    assert_eq!(names(&a, "entity_name"), ["carol"]);
    assert_eq!(a.body[0]["role_name"], "limitedGuest");

    let mid = location.rsplit('/').next().unwrap();
    let a = api.get(&format!("{base}/{mid}"), ALICE).await;
    assert_eq!(
        (&a.body["entity_name"], &a.body["role_name"]),
        (&json!("bob"), &json!("developer"))
    );
    let a = api
        .put(&format!("{base}/{mid}"), ALICE, json!({"role_id": 4}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api.get(&format!("{base}/{mid}"), ALICE).await;
    assert_eq!(a.body["role_name"], "maintainer");
    let a = api
        .put(&format!("{base}/{mid}"), ALICE, json!({"role_id": 0}))
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = api.get(&format!("{base}/999999"), ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    let a = api.get(&format!("{base}/abc"), ALICE).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");

    let a = api.delete(&format!("{base}/{mid}"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api.delete(&format!("{base}/{mid}"), ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(
        api.get(base, ALICE).await.header("x-total-count"),
        Some("2")
    );
}

async fn member_roles_decide_access(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    user(&db, "bob").await;
    user(&db, "carol").await;
    user(&db, "dave").await;
    create_project(&api, ALICE, "team", false).await;
    add_member(&api, "team", "bob", 2).await; // developer
    add_member(&api, "team", "carol", 3).await; // guest
    add_member(&api, "team", "dave", 5).await; // limited guest
    let r = repo("team/app");
    image(&db, &r, "layer", Some("v1")).await;
    let members = "/api/v2.0/projects/team/members";
    let artifact = "/api/v2.0/projects/team/repositories/app/artifacts/v1";

    // Members: developers and guests may list; limited guests not; only admins add.
    assert_eq!(api.get(members, BOB).await.status, StatusCode::OK);
    assert_eq!(api.get(members, CAROL).await.status, StatusCode::OK);
    let a = api.get(members, Some(("dave", PASSWORD))).await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");
    let a = api
        .post(
            members,
            BOB,
            json!({"role_id": 3, "member_user": {"username": "dave"}}),
        )
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");

    // Artifacts: everyone reads; guests cannot tag; developers cannot delete.
    assert_eq!(
        api.get(artifact, Some(("dave", PASSWORD))).await.status,
        StatusCode::OK
    );
    let a = api
        .post(&format!("{artifact}/tags"), CAROL, json!({"name": "x"}))
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");
    let a = api
        .post(&format!("{artifact}/tags"), BOB, json!({"name": "x"}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = api.delete(artifact, BOB).await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");
    let a = api
        .delete("/api/v2.0/projects/team/repositories/app", BOB)
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");
    // Developers may describe repositories.
    let a = api
        .put(
            "/api/v2.0/projects/team/repositories/app",
            BOB,
            json!({"description": "d"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // Only project admins change the project.
    let a = api
        .put(
            "/api/v2.0/projects/team",
            BOB,
            json!({"metadata": {"public": "true"}}),
        )
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");
    // Outsiders see nothing; anonymous callers are asked to sign in.
    let a = api
        .get(
            "/api/v2.0/projects/team/repositories",
            Some(("admin", "bad")),
        )
        .await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let a = api.get("/api/v2.0/projects/team/repositories", None).await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

// ---- repositories -------------------------------------------------------------------

async fn repositories_api(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    user(&db, "bob").await;
    let team = create_project(&api, ALICE, "team", false).await;
    create_project(&api, ADMIN, "pub", true).await;
    image(&db, &repo("team/app"), "a1", Some("v1")).await;
    image(&db, &repo("team/app"), "a2", None).await;
    image(&db, &repo("team/sub/web"), "w1", Some("v1")).await;
    image(&db, &repo("pub/tool"), "t1", Some("v1")).await;

    let a = api
        .get("/api/v2.0/projects/team/repositories?sort=name", ALICE)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(names(&a, "name"), ["team/app", "team/sub/web"]);
    assert_eq!(a.header("x-total-count"), Some("2"));
    let app = &a.body[0];
    assert_eq!(app["project_id"], team);
    assert_eq!(app["artifact_count"], 2);
    assert_eq!(app["pull_count"], 0);
    assert_eq!(app["description"], "");
    assert!(
        app["id"].is_i64() && app["creation_time"].is_string() && app["update_time"].is_string()
    );

    let a = api
        .get("/api/v2.0/projects/team/repositories?q=name%3D~web", ALICE)
        .await;
    assert_eq!(names(&a, "name"), ["team/sub/web"]);
    let a = api
        .get(
            "/api/v2.0/projects/team/repositories?page_size=1&sort=-name",
            ALICE,
        )
        .await;
    assert_eq!(names(&a, "name"), ["team/sub/web"]);
    assert!(a.header("link").is_some_and(|l| l.contains("page=2")));
    let a = api.get("/api/v2.0/projects/team/repositories", BOB).await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");
    let a = api.get("/api/v2.0/projects/nope/repositories", ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");

    // Across projects: what the caller may see.
    let a = api.get("/api/v2.0/repositories?sort=name", None).await;
    assert_eq!(names(&a, "name"), ["pub/tool"]);
    let a = api.get("/api/v2.0/repositories?sort=name", ALICE).await;
    assert_eq!(names(&a, "name"), ["pub/tool", "team/app", "team/sub/web"]);
    let a = api.get("/api/v2.0/repositories?sort=name", ADMIN).await;
    assert_eq!(a.header("x-total-count"), Some("3"));

    // One repository; slashes encoded once or twice.
    for path in [
        "/api/v2.0/projects/team/repositories/sub%2Fweb",
        "/api/v2.0/projects/team/repositories/sub%252Fweb",
    ] {
        let a = api.get(path, ALICE).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        assert_eq!(a.body["name"], "team/sub/web");
        assert_eq!(a.body["artifact_count"], 1);
    }
    let a = api
        .get("/api/v2.0/projects/team/repositories/none", ALICE)
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    let a = api
        .get("/api/v2.0/projects/team/repositories/app", BOB)
        .await;
    assert_error(&a, StatusCode::FORBIDDEN, "FORBIDDEN");

    let a = api
        .put(
            "/api/v2.0/projects/team/repositories/sub%252Fweb",
            ALICE,
            json!({"description": "the web front end", "name": "ignored"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api
        .get("/api/v2.0/projects/team/repositories/sub%2Fweb", ALICE)
        .await;
    assert_eq!(a.body["description"], "the web front end");
    let a = api
        .put(
            "/api/v2.0/projects/team/repositories/none",
            ALICE,
            json!({"description": "x"}),
        )
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");

    let a = api
        .delete("/api/v2.0/projects/team/repositories/app", ALICE)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api
        .delete("/api/v2.0/projects/team/repositories/app", ALICE)
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert!(!db.repository_exists(&repo("team/app")).await.unwrap());
    let a = api.get("/api/v2.0/projects/team", ALICE).await;
    assert_eq!(a.body["repo_count"], 1);
}

// ---- artifacts and tags -------------------------------------------------------------

async fn artifacts_and_references(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    create_project(&api, ALICE, "pub", true).await;
    let r = repo("pub/app");
    let amd = image(&db, &r, "amd64", None).await;
    let arm = image(&db, &r, "arm64", None).await;
    let idx = index(&db, &r, &[(&amd, "amd64"), (&arm, "arm64")], Some("multi")).await;
    let plain = image(&db, &r, "plain", Some("latest")).await;
    let sig = accessory(&db, &r, &plain).await;
    let base = "/api/v2.0/projects/pub/repositories/app/artifacts";

    // Anonymous may list a public project's artifacts; children and accessories are
    // inside their parents.
    let a = api.get(&format!("{base}?sort=digest"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.header("x-total-count"), Some("2"));
    let mut expected = vec![idx.to_string(), plain.to_string()];
    expected.sort();
    assert_eq!(names(&a, "digest"), expected);

    let list = a.body.as_array().unwrap();
    let img = list
        .iter()
        .find(|x| x["digest"] == plain.to_string())
        .unwrap();
    assert_eq!(img["type"], "IMAGE");
    assert_eq!(img["media_type"], OCI_CONFIG);
    assert_eq!(img["manifest_media_type"], OCI_IMAGE);
    assert_eq!(img["repository_name"], "pub/app");
    assert!(img["project_id"].is_i64() && img["repository_id"].is_i64() && img["id"].is_i64());
    assert!(img["size"].as_u64().unwrap() > 0);
    assert_eq!(img["pull_time"], "0001-01-01T00:00:00.000Z");
    assert!(
        img["push_time"]
            .as_str()
            .is_some_and(|t| t.starts_with("20"))
    );
    assert_eq!(
        img["annotations"],
        json!({"org.opencontainers.image.title": "x"})
    );
    assert_eq!(img["references"], Value::Null);
    let tags = img["tags"].as_array().expect("tags");
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0]["name"], "latest");
    assert_eq!(tags[0]["artifact_id"], img["id"]);
    assert_eq!(tags[0]["repository_id"], img["repository_id"]);
    assert_eq!(tags[0]["immutable"], false);

    let ix = list
        .iter()
        .find(|x| x["digest"] == idx.to_string())
        .unwrap();
    assert_eq!(ix["type"], "IMAGE");
    assert_eq!(ix["media_type"], OCI_INDEX);
    let refs = ix["references"].as_array().expect("references");
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[0]["parent_id"], ix["id"]);
    assert_eq!(refs[0]["child_digest"], amd.to_string());
    assert!(refs[0]["child_id"].is_i64());
    assert_eq!(refs[0]["platform"]["architecture"], "amd64");
    assert_eq!(refs[0]["platform"]["os"], "linux");
    assert_eq!(refs[0]["platform"]["'os.version'"], "10");
    assert_eq!(refs[1]["platform"]["architecture"], "arm64");
    let child_sizes: u64 = [&amd, &arm]
        .iter()
        .map(|d| {
            let a = list.iter().find(|x| x["digest"] == d.to_string());
            a.map_or(0, |x| x["size"].as_u64().unwrap())
        })
        .sum();
    assert_eq!(child_sizes, 0, "children are not listed at the top");
    assert!(ix["size"].as_u64().unwrap() > img["size"].as_u64().unwrap());

    // Without tags; everything (base=*); tag filters; paging.
    let a = api.get(&format!("{base}?with_tag=false"), None).await;
    assert!(
        a.body
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["tags"].is_null())
    );
    let a = api.get(&format!("{base}?q=base%3D*"), None).await;
    assert_eq!(a.header("x-total-count"), Some("5"));
    let a = api
        .get(&format!("{base}?q=tags%3Dnil,base%3D*&sort=digest"), None)
        .await;
    let mut untagged = vec![amd.to_string(), arm.to_string(), sig.to_string()];
    untagged.sort();
    assert_eq!(names(&a, "digest"), untagged);
    let a = api.get(&format!("{base}?q=tags%3D*"), None).await;
    assert_eq!(a.header("x-total-count"), Some("2"));
    let a = api.get(&format!("{base}?q=tags%3D~mul"), None).await;
    assert_eq!(names(&a, "digest"), [idx.to_string()]);
    let a = api.get(&format!("{base}?q=tags%3Dlatest"), None).await;
    assert_eq!(names(&a, "digest"), [plain.to_string()]);
    let a = api.get(&format!("{base}?page_size=1"), None).await;
    assert_eq!(a.body.as_array().unwrap().len(), 1);
    assert!(a.header("link").is_some_and(|l| l.contains("rel=\"next\"")));
    let a = api.get(&format!("{base}?q=base%3Dfoo"), None).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = api
        .get("/api/v2.0/projects/pub/repositories/none/artifacts", None)
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");

    // One artifact, by tag or digest.
    let a = api.get(&format!("{base}/multi"), None).await;
    assert_eq!(
        (a.status, &a.body["digest"]),
        (StatusCode::OK, &json!(idx.to_string()))
    );
    let a = api.get(&format!("{base}/{amd}"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["tags"], Value::Null);
    let a = api
        .get(&format!("{base}/{}", Digest::of(b"nothing")), None)
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    let a = api.get(&format!("{base}/sha256:zz"), None).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");

    // Pull statistics recorded by the registry show on the artifact, its tags and the
    // repository.
    let stats = PullStats {
        repositories: vec![("pub/app".into(), 3)],
        manifests: vec![("pub/app".into(), plain.to_string(), 1_700_000_000)],
    };
    db.record_activity(&stats, &[]).await.expect("pull stats");
    let a = api.get(&format!("{base}/latest"), None).await;
    assert_eq!(a.body["pull_time"], "2023-11-14T22:13:20Z");
    assert_eq!(a.body["tags"][0]["pull_time"], "2023-11-14T22:13:20Z");
    let a = api
        .get("/api/v2.0/projects/pub/repositories?q=name%3Dpub/app", None)
        .await;
    assert_eq!(a.body[0]["pull_count"], 3, "{}", a.text);
}

async fn tags_api(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    create_project(&api, ALICE, "team", false).await;
    let r = repo("team/sub/app");
    let a1 = image(&db, &r, "a1", Some("v1")).await;
    image(&db, &r, "a2", Some("v2")).await;
    let base = "/api/v2.0/projects/team/repositories/sub%252Fapp/artifacts";

    let a = api
        .post(&format!("{base}/v1/tags"), ALICE, json!({"name": "stable"}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let location = a.header("location").expect("Location");
    assert!(
        location.ends_with(&format!("/artifacts/{a1}/tags/stable")),
        "{location}"
    );
    let a = api
        .post(&format!("{base}/{a1}/tags"), ALICE, json!({"name": "v2"}))
        .await;
    assert_error(&a, StatusCode::CONFLICT, "CONFLICT");
    let a = api
        .post(
            &format!("{base}/v1/tags"),
            ALICE,
            json!({"name": "bad/tag"}),
        )
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    let a = api
        .post(&format!("{base}/nope/tags"), ALICE, json!({"name": "x"}))
        .await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    let a = api
        .post(&format!("{base}/v1/tags"), ALICE, json!({"nom": "x"}))
        .await;
    assert_error(&a, StatusCode::BAD_REQUEST, "BAD_REQUEST");
    // The registry serves the new tag.
    let tag: Tag = "stable".parse().unwrap();
    assert_eq!(
        db.manifest_by_tag(&r, &tag).await.unwrap().unwrap().digest,
        a1
    );

    let a = api.get(&format!("{base}/v1/tags"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(names(&a, "name"), ["stable", "v1"]);
    assert_eq!(a.header("x-total-count"), Some("2"));
    assert_eq!(a.body[0]["immutable"], false);
    assert!(a.body[0]["push_time"].is_string() && a.body[0]["pull_time"].is_string());
    let a = api
        .get(&format!("{base}/v1/tags?q=name%3D~sta&page_size=1"), ALICE)
        .await;
    assert_eq!(names(&a, "name"), ["stable"]);
    let a = api.get(&format!("{base}/v1/tags?sort=-name"), ALICE).await;
    assert_eq!(names(&a, "name"), ["v1", "stable"]);

    let a = api.delete(&format!("{base}/{a1}/tags/v2"), ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    let a = api.delete(&format!("{base}/{a1}/tags/stable"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = api.delete(&format!("{base}/{a1}/tags/stable"), ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert!(db.manifest_by_tag(&r, &tag).await.unwrap().is_none());
    let a = api.get(&format!("{base}/{a1}"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "the artifact stays");
}

async fn delete_artifacts(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    create_project(&api, ALICE, "pub", true).await;
    let r = repo("pub/app");
    let amd = image(&db, &r, "amd64", None).await;
    let arm = image(&db, &r, "arm64", Some("arm-only")).await;
    let idx = index(&db, &r, &[(&amd, "amd64"), (&arm, "arm64")], Some("multi")).await;
    let sig = accessory(&db, &r, &idx).await;
    let plain = image(&db, &r, "plain", Some("latest")).await;
    let base = "/api/v2.0/projects/pub/repositories/app/artifacts";

    let a = api.delete(&format!("{base}/latest"), None).await;
    assert_error(&a, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let a = api.delete(&format!("{base}/{amd}"), ALICE).await;
    assert_error(
        &a,
        StatusCode::PRECONDITION_FAILED,
        "VIOLATE_FOREIGN_KEY_CONSTRAINT",
    );

    // By tag: the whole artifact goes, with its tags.
    let a = api.delete(&format!("{base}/latest"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(db.manifest_by_digest(&r, &plain).await.unwrap().is_none());
    let a = api.delete(&format!("{base}/latest"), ALICE).await;
    assert_error(&a, StatusCode::NOT_FOUND, "NOT_FOUND");

    // The index goes with its signature and its untagged child; the tagged child stays.
    let a = api.delete(&format!("{base}/{idx}"), ALICE).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    for gone in [&idx, &amd, &sig] {
        assert!(
            db.manifest_by_digest(&r, gone).await.unwrap().is_none(),
            "{gone}"
        );
    }
    let a = api.get(&format!("{base}?q=base%3D*"), ALICE).await;
    assert_eq!(names(&a, "digest"), [arm.to_string()]);
    let a = api
        .get("/api/v2.0/projects/pub/repositories/app", ALICE)
        .await;
    assert_eq!(a.body["artifact_count"], 1);
}

// ---- audit and documentation --------------------------------------------------------

async fn audit_records_for_every_change(db: Database) {
    let api = Api::new(db.clone()).await;
    user(&db, "alice").await;
    user(&db, "bob").await;
    let id = create_project(&api, ALICE, "team", false).await;
    image(&db, &repo("team/app"), "a1", Some("v1")).await;
    let a1 = image(&db, &repo("team/app"), "a2", Some("v2")).await;
    let base = "/api/v2.0/projects/team";
    let calls = [
        api.put(base, ALICE, json!({"metadata": {"auto_scan": "true"}}))
            .await,
        api.post(
            &format!("{base}/metadatas"),
            ALICE,
            json!({"severity": "low"}),
        )
        .await,
        api.put(
            &format!("{base}/metadatas/severity"),
            ALICE,
            json!({"severity": "high"}),
        )
        .await,
        api.delete(&format!("{base}/metadatas/severity"), ALICE)
            .await,
        api.post(
            &format!("{base}/members"),
            ALICE,
            json!({"role_id": 2, "member_user": {"username": "bob"}}),
        )
        .await,
        api.put(
            &format!("{base}/repositories/app"),
            ALICE,
            json!({"description": "d"}),
        )
        .await,
        api.post(
            &format!("{base}/repositories/app/artifacts/v1/tags"),
            ALICE,
            json!({"name": "t"}),
        )
        .await,
        api.delete(
            &format!("{base}/repositories/app/artifacts/v1/tags/t"),
            ALICE,
        )
        .await,
        api.delete(&format!("{base}/repositories/app/artifacts/{a1}"), ALICE)
            .await,
        api.delete(&format!("{base}/repositories/app"), ALICE).await,
    ];
    for a in &calls {
        assert!(a.status.is_success(), "{}", a.text);
    }
    let mid = api
        .get(&format!("{base}/members?entityname=bob"), ALICE)
        .await
        .body[0]["id"]
        .clone();
    assert!(
        api.put(
            &format!("{base}/members/{mid}"),
            ALICE,
            json!({"role_id": 3})
        )
        .await
        .status
        .is_success()
    );
    assert!(
        api.delete(&format!("{base}/members/{mid}"), ALICE)
            .await
            .status
            .is_success()
    );
    assert!(api.delete(base, ALICE).await.status.is_success());
    // Refused changes leave no record.
    assert!(!api.delete(base, ALICE).await.status.is_success());

    let (entries, _) = db
        .list_audit_entries(&AuditFilter::default(), &[], Window::ALL)
        .await
        .expect("audit log");
    let mut got: Vec<(String, String, String)> = entries
        .iter()
        .filter(|e| e.username == "alice")
        .map(|e| {
            assert_eq!(e.project_id, Some(id), "{e:?}");
            (
                e.operation.clone(),
                e.resource_type.clone(),
                e.resource.clone(),
            )
        })
        .collect();
    got.sort();
    let mut expected: Vec<(String, String, String)> = [
        ("create", "project", "team".to_owned()),
        ("update", "project", "team".to_owned()),
        ("create", "project_metadata", "team:severity".to_owned()),
        ("update", "project_metadata", "team:severity".to_owned()),
        ("delete", "project_metadata", "team:severity".to_owned()),
        ("create", "member", "team:bob".to_owned()),
        ("update", "member", "team:bob".to_owned()),
        ("delete", "member", "team:bob".to_owned()),
        ("update", "repository", "team/app".to_owned()),
        ("create", "tag", "team/app:t".to_owned()),
        ("delete", "tag", "team/app:t".to_owned()),
        ("delete", "artifact", format!("team/app@{a1}")),
        ("delete", "repository", "team/app".to_owned()),
        ("delete", "project", "team".to_owned()),
    ]
    .into_iter()
    .map(|(o, t, r)| (o.to_owned(), t.to_owned(), r))
    .collect();
    expected.sort();
    assert_eq!(got, expected);
}

async fn openapi_lists_the_project_paths(db: Database) {
    let api = Api::new(db).await;
    let a = api.get("/api/v2.0/openapi.json", None).await;
    assert_eq!(a.status, StatusCode::OK);
    let paths = &a.body["paths"];
    let expected: &[(&str, &[&str])] = &[
        ("/api/v2.0/projects", &["get", "head", "post"]),
        (
            "/api/v2.0/projects/{project_name_or_id}",
            &["get", "put", "delete"],
        ),
        (
            "/api/v2.0/projects/{project_name_or_id}/_deletable",
            &["get"],
        ),
        ("/api/v2.0/projects/{project_name_or_id}/summary", &["get"]),
        (
            "/api/v2.0/projects/{project_name_or_id}/metadatas",
            &["get", "post"],
        ),
        (
            "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
            &["get", "put", "delete"],
        ),
        (
            "/api/v2.0/projects/{project_name_or_id}/members",
            &["get", "post"],
        ),
        (
            "/api/v2.0/projects/{project_name_or_id}/members/{mid}",
            &["get", "put", "delete"],
        ),
        ("/api/v2.0/repositories", &["get"]),
        ("/api/v2.0/projects/{project_name}/repositories", &["get"]),
        (
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}",
            &["get", "put", "delete"],
        ),
        (
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts",
            &["get"],
        ),
        (
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}",
            &["get", "delete"],
        ),
        (
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags",
            &["get", "post"],
        ),
        (
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}",
            &["delete"],
        ),
    ];
    for (path, methods) in expected {
        for m in *methods {
            assert!(
                paths[path][m].is_object(),
                "{m} {path} missing from the OpenAPI document"
            );
        }
    }
    let schemas = &a.body["components"]["schemas"];
    for s in [
        "Project",
        "ProjectReq",
        "ProjectMetadata",
        "ProjectSummary",
        "ProjectDeletable",
        "ProjectMember",
        "ProjectMemberEntity",
        "RoleRequest",
        "UserEntity",
        "Repository",
        "Artifact",
        "Tag",
        "Reference",
        "Platform",
        "NewTag",
    ] {
        assert!(schemas[s].is_object(), "schema {s} missing");
    }
    assert!(schemas["Project"]["properties"]["current_user_role_ids"].is_object());
}
