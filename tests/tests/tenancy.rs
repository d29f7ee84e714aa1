//! Multi-tenancy end to end, on both backends: projects, Harbor's roles, robot accounts,
//! project deletion and the audit log, set up through the Harbor-compatible admin API
//! (`/api/v2.0`) and exercised with the real `docker` CLI. Requires DOCKER_HOST.
//!
//! Every test starts its own registry with fresh users and projects; images are built
//! locally, pushed, and removed from the engine before a pull, so a pull really downloads.

use std::time::Duration;

use berth_e2e::admin::{error_messages, is_refusal};
use berth_e2e::process::CmdOutput;
use berth_e2e::{
    ApiClient, Backend, BerthServer, Docker, Image, RegistryClient, Role, backend_tests,
};

backend_tests!(
    developer_pushes_and_pulls_in_private_project,
    guest_pulls_but_cannot_push,
    non_member_sees_nothing_of_private_project,
    anonymous_pulls_from_public_library_but_cannot_push,
    pull_only_robot_cannot_push_and_push_robot_can,
    disabled_and_expired_robots_cannot_log_in,
    push_into_missing_project_is_refused_naming_it,
    project_with_repositories_cannot_be_deleted,
    audit_log_records_logins_pushes_and_pulls,
);

/// Audit records are written in batches (about once a second); allow for a loaded machine.
const AUDIT_WAIT: Duration = Duration::from_secs(10);

async fn developer_pushes_and_pulls_in_private_project(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let admin = ApiClient::admin(&server);
    let host = server.host();
    let project = unique("dev");
    admin.create_project(&project, false).await;
    let dev = new_user(&admin, "dev").await;
    admin.add_member(&project, &dev.name, Role::Developer).await;

    let docker = Docker::from_env();
    docker
        .login(&host, &dev.name, &dev.password)
        .await
        .assert_success();
    let v1 = format!("{host}/{project}/app:1");
    let image_id = push_then_forget(&docker, &v1).await;
    assert_eq!(
        server.client().tags(&format!("{project}/app")).await,
        vec!["1"]
    );

    docker.pull(&v1).await.assert_success();
    assert_eq!(docker.image_id(&v1).await, image_id);

    // Membership is per project: `library` is public, so a developer elsewhere may pull
    // there but not push.
    let elsewhere = format!("{host}/library/{project}-app:1");
    docker.tag(&v1, &elsewhere).await;
    assert_denied(
        docker.push(&elsewhere).await,
        "a push into a project the user is no member of",
    );
}

async fn guest_pulls_but_cannot_push(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let admin = ApiClient::admin(&server);
    let host = server.host();
    let project = unique("guest");
    admin.create_project(&project, false).await;
    let guest = new_user(&admin, "guest").await;
    admin.add_member(&project, &guest.name, Role::Guest).await;
    let v1 = format!("{host}/{project}/app:1");
    let image_id = push_as_admin(&server, &v1).await;

    let docker = Docker::from_env();
    docker
        .login(&host, &guest.name, &guest.password)
        .await
        .assert_success();
    docker.pull(&v1).await.assert_success();
    assert_eq!(docker.image_id(&v1).await, image_id);

    let v2 = format!("{host}/{project}/app:2");
    docker.tag(&v1, &v2).await;
    assert_denied(docker.push(&v2).await, "a guest's push");
    assert_eq!(
        server.client().tags(&format!("{project}/app")).await,
        vec!["1"]
    );
}

async fn non_member_sees_nothing_of_private_project(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let admin = ApiClient::admin(&server);
    let host = server.host();
    let project = unique("private");
    admin.create_project(&project, false).await;
    let repo = format!("{project}/app");
    let v1 = format!("{host}/{repo}:1");
    push_as_admin(&server, &v1).await;
    let outsider = new_user(&admin, "outsider").await;

    // docker: the account is valid, the project is not theirs.
    let docker = Docker::from_env();
    docker
        .login(&host, &outsider.name, &outsider.password)
        .await
        .assert_success();
    let pulled = docker.pull(&v1).await;
    assert!(
        !pulled.success(),
        "a non-member must not pull from a private project: {pulled}"
    );
    assert!(!docker.image_exists(&v1).await);

    // The distribution API, as that user and anonymously: nothing to see.
    let as_outsider = RegistryClient::new(
        &server.base_url(),
        Some((&outsider.name, &outsider.password)),
    );
    for client in [&as_outsider, &server.anonymous_client()] {
        for path in [
            format!("/v2/{repo}/tags/list"),
            format!("/v2/{repo}/manifests/1"),
        ] {
            let resp = client.get(&path).send().await;
            assert!(
                is_refusal(resp.status),
                "a private project must answer 401, 403 or 404 to outsiders: {resp}"
            );
        }
    }

    // The admin API neither lists nor shows it to them.
    let outsider_api = ApiClient::user(&server, &outsider.name, &outsider.password);
    let listed = outsider_api.project_names().await;
    assert!(
        listed.iter().any(|p| p == "library"),
        "public projects are listed to every user: {listed:?}"
    );
    assert!(
        !listed.contains(&project),
        "a private project must not be listed to a non-member: {listed:?}"
    );
    assert!(admin.project_names().await.contains(&project));
    for path in [
        format!("/projects/{project}"),
        format!("/projects/{project}/repositories"),
    ] {
        let resp = outsider_api.get(&path).await;
        assert!(
            is_refusal(resp.status),
            "a non-member must not read {path}: {resp}"
        );
    }
}

async fn anonymous_pulls_from_public_library_but_cannot_push(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let host = server.host();

    // `library` exists after the first start and is public, as in Harbor.
    let anonymous_api = ApiClient::new(&server.base_url(), None);
    let library = anonymous_api
        .get("/projects/library")
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        library["metadata"]["public"].as_str(),
        Some("true"),
        "library must be public: {library}"
    );

    let repo = format!("library/{}", unique("anon"));
    let v1 = format!("{host}/{repo}:1");
    let image_id = push_as_admin(&server, &v1).await;

    // A fresh Docker config: no login, no stored credentials.
    let docker = Docker::from_env();
    docker.pull(&v1).await.assert_success();
    assert_eq!(docker.image_id(&v1).await, image_id);

    let v2 = format!("{host}/{repo}:2");
    docker.tag(&v1, &v2).await;
    assert_denied(docker.push(&v2).await, "an anonymous push");
    assert_eq!(server.client().tags(&repo).await, vec!["1"]);
}

async fn pull_only_robot_cannot_push_and_push_robot_can(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let admin = ApiClient::admin(&server);
    let host = server.host();
    let project = unique("ci");
    admin.create_project(&project, false).await;
    let repo = format!("{project}/app");
    let v1 = format!("{host}/{repo}:1");
    let v2 = format!("{host}/{repo}:2");
    let image_id = push_as_admin(&server, &v1).await;
    let puller = admin.create_robot(&project, "puller", &["pull"], -1).await;
    let pusher = admin
        .create_robot(&project, "pusher", &["pull", "push"], 30)
        .await;

    let pulling = Docker::from_env();
    pulling
        .login(&host, &puller.name, &puller.secret)
        .await
        .assert_success();
    pulling.pull(&v1).await.assert_success();
    assert_eq!(pulling.image_id(&v1).await, image_id);
    pulling.tag(&v1, &v2).await;
    assert_denied(pulling.push(&v2).await, "a pull-only robot's push");
    let client = server.client();
    assert_eq!(client.tags(&repo).await, vec!["1"]);

    let pushing = Docker::from_env();
    pushing
        .login(&host, &pusher.name, &pusher.secret)
        .await
        .assert_success();
    pushing.push(&v2).await.assert_success();
    assert_eq!(client.tags(&repo).await, vec!["1", "2"]);

    // A project robot holds nothing in other projects, private ones included.
    let other = unique("other");
    admin.create_project(&other, false).await;
    let other_repo = format!("{other}/app");
    client
        .push_image(&other_repo, "1", &Image::random(&[1000]))
        .await;
    let as_robot = RegistryClient::new(&server.base_url(), Some((&pusher.name, &pusher.secret)));
    let resp = as_robot
        .get(&format!("/v2/{other_repo}/tags/list"))
        .send()
        .await;
    assert!(
        is_refusal(resp.status),
        "a robot of {project} must not read {other}: {resp}"
    );
}

async fn disabled_and_expired_robots_cannot_log_in(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let admin = ApiClient::admin(&server);
    let host = server.host();
    let project = unique("robots");
    admin.create_project(&project, false).await;
    let repo = format!("{project}/app");
    server
        .client()
        .push_image(&repo, "1", &Image::random(&[1000]))
        .await;
    let disabled = admin
        .create_robot(&project, "disabled", &["pull"], -1)
        .await;
    let expired = admin.create_robot(&project, "expired", &["pull"], 30).await;

    // Both work at first, so a refusal below is the state change and nothing else.
    for robot in [&disabled, &expired] {
        Docker::from_env()
            .login(&host, &robot.name, &robot.secret)
            .await
            .assert_success();
        let tags = RegistryClient::new(&server.base_url(), Some((&robot.name, &robot.secret)))
            .tags(&repo)
            .await;
        assert_eq!(tags, vec!["1"], "{} pulls before the change", robot.name);
    }

    admin.disable_robot(disabled.id).await;
    let shown = admin.robot(disabled.id).await;
    assert_eq!(
        shown["disable"], true,
        "PUT disable:true must stick: {shown}"
    );

    // Robot lifetimes are whole days (and count from creation), so the API cannot make
    // one that has already run out: move its expiry into the past, as time would.
    let past = unix_now() - 3600;
    server
        .execute_sql(&format!(
            "UPDATE robots SET expires_at = {past} WHERE id = {}",
            expired.id
        ))
        .await;
    let shown = admin.robot(expired.id).await;
    assert_eq!(
        shown["expires_at"].as_i64(),
        Some(past),
        "the robot must now show an expiry in the past: {shown}"
    );

    for robot in [&disabled, &expired] {
        let login = Docker::from_env()
            .login(&host, &robot.name, &robot.secret)
            .await;
        assert!(
            !login.success(),
            "{} must not be able to docker login: {login}",
            robot.name
        );
        // Nor can it get a token for what it could pull before.
        let resp = RegistryClient::new(&server.base_url(), Some((&robot.name, &robot.secret)))
            .get(&format!("/v2/{repo}/tags/list"))
            .send()
            .await;
        assert_eq!(
            resp.status(),
            401,
            "{} must get no token any more: {resp}",
            robot.name
        );
    }
}

async fn push_into_missing_project_is_refused_naming_it(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let admin = ApiClient::admin(&server);
    let host = server.host();
    let missing = unique("absent");

    let docker = Docker::from_env();
    docker
        .login(&host, server.admin_user(), server.admin_password())
        .await
        .assert_success();
    let reference = format!("{host}/{missing}/app:1");
    docker.build_image(&reference, 1, 20_000).await;
    let pushed = docker.push(&reference).await;
    assert!(
        !pushed.success(),
        "a push into a project that does not exist must fail: {pushed}"
    );
    // stdout names the repository anyway; the error itself is on stderr.
    assert!(
        names_project(&pushed.stderr, &missing),
        "the error must name the missing project {missing}: {pushed}"
    );

    // The same through the distribution API: NAME_UNKNOWN naming the project.
    let client = server.client();
    let resp = client
        .post(&format!("/v2/{missing}/app/blobs/uploads/"))
        .header("content-length", "0")
        .send()
        .await
        .expect_error(404, "NAME_UNKNOWN");
    assert!(
        names_project(&String::from_utf8_lossy(&resp.body), &missing),
        "the error must name the missing project {missing}: {resp}"
    );

    // Nothing was created on the way.
    admin
        .get(&format!("/projects/{missing}"))
        .await
        .expect_status(404);
}

async fn project_with_repositories_cannot_be_deleted(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let admin = ApiClient::admin(&server);
    let project = unique("doomed");
    admin.create_project(&project, false).await;
    let client = server.client();
    let repos = ["app", "team/tool"];
    for repo in repos {
        client
            .push_image(&format!("{project}/{repo}"), "1", &Image::random(&[1000]))
            .await;
    }

    let refused = admin.delete(&format!("/projects/{project}")).await;
    assert_eq!(
        refused.status(),
        412,
        "deleting a project with repositories must be refused: {refused}"
    );
    assert!(
        !error_messages(&refused).is_empty(),
        "the refusal must use Harbor's error envelope: {refused}"
    );
    admin
        .get(&format!("/projects/{project}"))
        .await
        .expect_status(200);
    assert_eq!(client.tags(&format!("{project}/app")).await, vec!["1"]);

    admin
        .delete_repository(&project, repos[0])
        .await
        .expect_status(200);
    let still = admin.delete(&format!("/projects/{project}")).await;
    assert_eq!(
        still.status(),
        412,
        "one repository is left, so the project stays: {still}"
    );

    admin
        .delete_repository(&project, repos[1])
        .await
        .expect_status(200);
    for repo in repos {
        client
            .get(&format!("/v2/{project}/{repo}/tags/list"))
            .send()
            .await
            .expect_status(404);
    }
    admin
        .delete(&format!("/projects/{project}"))
        .await
        .expect_status(200);
    admin
        .get(&format!("/projects/{project}"))
        .await
        .expect_status(404);
    assert!(!admin.project_names().await.contains(&project));
}

async fn audit_log_records_logins_pushes_and_pulls(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let admin = ApiClient::admin(&server);
    let host = server.host();
    let project = unique("audited");
    admin.create_project(&project, false).await;
    let dev = new_user(&admin, "audited").await;
    admin.add_member(&project, &dev.name, Role::Developer).await;

    let docker = Docker::from_env();
    docker
        .login(&host, &dev.name, "Wrong-password-1")
        .await
        .assert_failure();
    docker
        .login(&host, &dev.name, &dev.password)
        .await
        .assert_success();
    let repo = format!("{project}/app");
    let reference = format!("{host}/{repo}:1");
    push_then_forget(&docker, &reference).await;
    docker.pull(&reference).await.assert_success();

    let by_user = format!("username={}", dev.name);
    let failed = admin
        .wait_for_audit(&by_user, AUDIT_WAIT, "the failed login", |e| {
            e.operation == "login_failed"
        })
        .await;
    assert_eq!(failed.resource_type, "user", "{failed:?}");
    let login = admin
        .wait_for_audit(&by_user, AUDIT_WAIT, "the login", |e| {
            e.operation == "login"
        })
        .await;
    assert_eq!(
        (login.resource_type.as_str(), login.resource.as_str()),
        ("user", dev.name.as_str()),
        "{login:?}"
    );
    let push = admin
        .wait_for_audit(&by_user, AUDIT_WAIT, "the push", |e| {
            e.operation == "create"
        })
        .await;
    assert_eq!(
        (push.resource_type.as_str(), push.resource.as_str()),
        ("artifact", format!("{repo}:1").as_str()),
        "{push:?}"
    );
    let pull = admin
        .wait_for_audit(&by_user, AUDIT_WAIT, "the pull", |e| e.operation == "pull")
        .await;
    assert_eq!(pull.resource_type, "artifact", "{pull:?}");
    assert!(
        pull.resource == format!("{repo}:1")
            || pull.resource.starts_with(&format!("{repo}@sha256:")),
        "the pull must name {repo}: {pull:?}"
    );

    // The filter really selects by user: the admin's own entries are not among them.
    let entries = admin.audit_logs(&by_user).await;
    assert!(
        entries.iter().all(|e| e.username == dev.name),
        "q=username= must select {}'s entries only: {entries:#?}",
        dev.name
    );
}

// ----- helpers ---------------------------------------------------------------------------

/// A name no other test uses, valid for projects and users: `<prefix>-<8 hex>`.
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

struct User {
    name: String,
    password: String,
}

/// A new local user with a password that meets Harbor's rule.
async fn new_user(admin: &ApiClient, prefix: &str) -> User {
    let user = User {
        name: unique(prefix),
        password: format!("Pw1-{}", uuid::Uuid::new_v4().simple()),
    };
    admin.create_user(&user.name, &user.password).await;
    user
}

/// Builds a small two-layer image, pushes it as `reference` with `docker` (logged in), and
/// removes it from the engine so that a later pull has to download it. Returns the image id.
async fn push_then_forget(docker: &Docker, reference: &str) -> String {
    let local = format!("berth-e2e/tenancy-{}:build", uuid::Uuid::new_v4().simple());
    let image_id = docker.build_image(&local, 2, 64_000).await;
    docker.tag(&local, reference).await;
    docker.push(reference).await.assert_success();
    docker.remove_images(&[&local, reference]).await;
    assert!(!docker.image_exists(reference).await);
    image_id
}

/// [`push_then_forget`] as the system administrator, with a Docker config of its own.
async fn push_as_admin(server: &BerthServer, reference: &str) -> String {
    let docker = Docker::from_env();
    docker
        .login(&server.host(), server.admin_user(), server.admin_password())
        .await
        .assert_success();
    push_then_forget(&docker, reference).await
}

/// The command failed, and docker's error (on stderr) says it was for lack of access.
#[track_caller]
fn assert_denied(out: CmdOutput, what: &str) {
    assert!(!out.success(), "{what} must fail: {out}");
    let text = out.stderr.to_lowercase();
    assert!(
        ["denied", "unauthorized", "insufficient"]
            .iter()
            .any(|word| text.contains(word)),
        "{what} must fail for lack of access (denied, unauthorized or insufficient scope): {out}"
    );
}

/// Whether an error text speaks of project `name` (not merely of a repository in it).
fn names_project(text: &str, name: &str) -> bool {
    text.contains(name) && text.to_lowercase().contains("project")
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
        .try_into()
        .expect("seconds fit in i64")
}
