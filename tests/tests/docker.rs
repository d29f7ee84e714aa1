//! The real `docker` CLI (through the private engine of tests/services/dockerd-up.sh)
//! against Berth on both backends: login, multi-layer push, tags, pull, cross-repository
//! mount and logout. Requires DOCKER_HOST.

use berth_e2e::oci::{DOCKER_MANIFEST, unique_repo};
use berth_e2e::{Backend, BerthServer, Docker, backend_tests};

backend_tests!(
    login_push_pull_roundtrip,
    push_mounts_layers_from_another_repository
);

async fn login_push_pull_roundtrip(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let docker = Docker::from_env();
    let host = server.host();

    let refused = docker.login(&host, "admin", "not-the-password").await;
    assert!(
        !refused.success(),
        "login with a wrong password must fail: {refused}"
    );
    docker
        .login(&host, server.admin_user(), server.admin_password())
        .await
        .assert_success();

    let local = local_tag("app");
    let image_id = docker.build_image(&local, 3, 200_000).await;
    let repo = unique_repo("app");
    let v1 = format!("{host}/{repo}:1");
    let v2 = format!("{host}/{repo}:2");
    docker.tag(&local, &v1).await;
    docker.push(&v1).await.assert_success();
    docker.tag(&local, &v2).await;
    let second = docker.push(&v2).await.assert_success();
    assert!(
        second.combined().contains("Layer already exists"),
        "the second tag must reuse the pushed layers: {second}"
    );

    // What the registry holds: two tags on one Docker schema 2 manifest with 3 layers.
    let client = server.client();
    assert_eq!(client.tags(&repo).await, vec!["1", "2"]);
    let manifest = client
        .get(&format!("/v2/{repo}/manifests/1"))
        .header("accept", DOCKER_MANIFEST)
        .send()
        .await
        .expect_status(200);
    assert_eq!(manifest.header("content-type"), Some(DOCKER_MANIFEST));
    let layers = manifest.json()["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(layers.len(), 3, "{manifest}");

    // Pull back into an engine that no longer has the image: same image id.
    docker.remove_images(&[&local, &v1, &v2]).await;
    assert!(!docker.image_exists(&v1).await);
    docker.pull(&v1).await.assert_success();
    assert_eq!(docker.image_id(&v1).await, image_id);
    docker.pull(&v2).await.assert_success();
    assert_eq!(docker.image_id(&v2).await, image_id);

    // Logged out, pushing is refused.
    docker.logout(&host).await.assert_success();
    let v3 = format!("{host}/{repo}:3");
    docker.tag(&v1, &v3).await;
    let anonymous = docker.push(&v3).await;
    assert!(
        !anonymous.success(),
        "push without login must fail: {anonymous}"
    );
    assert_eq!(client.tags(&repo).await, vec!["1", "2"]);
}

async fn push_mounts_layers_from_another_repository(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let docker = Docker::from_env();
    let host = server.host();
    docker
        .login(&host, server.admin_user(), server.admin_password())
        .await
        .assert_success();

    let local = local_tag("base");
    let image_id = docker.build_image(&local, 2, 150_000).await;
    let base_repo = unique_repo("base");
    let derived_repo = unique_repo("derived");
    let base = format!("{host}/{base_repo}:1");
    let derived = format!("{host}/{derived_repo}:1");
    docker.tag(&local, &base).await;
    docker.push(&base).await.assert_success();

    // The engine knows these layers are in `base_repo` on this registry, so it asks for a
    // cross-repository mount instead of uploading them again.
    docker.tag(&local, &derived).await;
    let pushed = docker.push(&derived).await.assert_success();
    assert!(
        pushed
            .combined()
            .contains(&format!("Mounted from {base_repo}")),
        "layers should be mounted from {base_repo}: {pushed}"
    );

    // The mounted layers are served from the new repository.
    let client = server.client();
    let manifest = client
        .get(&format!("/v2/{derived_repo}/manifests/1"))
        .header("accept", DOCKER_MANIFEST)
        .send()
        .await
        .expect_status(200)
        .json();
    let mut digests = vec![manifest["config"]["digest"].as_str().unwrap().to_owned()];
    for layer in manifest["layers"].as_array().unwrap() {
        digests.push(layer["digest"].as_str().unwrap().to_owned());
    }
    for digest in &digests {
        client.get_blob_verified(&derived_repo, digest).await;
    }

    docker.remove_images(&[&local, &base, &derived]).await;
    docker.pull(&derived).await.assert_success();
    assert_eq!(docker.image_id(&derived).await, image_id);
}

/// A local image name no other test uses (the engine is shared by parallel tests).
fn local_tag(name: &str) -> String {
    format!("berth-e2e/{name}-{}:build", uuid::Uuid::new_v4().simple())
}
