//! `skopeo` (no daemon of its own) against Berth on both backends: copies between the
//! Docker engine, the registry and an OCI layout directory, OCI-format pushes, inspect,
//! list-tags and delete. Requires DOCKER_HOST (the source images are built there).

use berth_e2e::oci::{OCI_CONFIG, OCI_MANIFEST, sha256_digest, unique_repo};
use berth_e2e::{Backend, BerthServer, Docker, Skopeo, backend_tests};
use serde_json::Value;

backend_tests!(
    copy_between_daemon_registry_and_oci_layout,
    oci_format_push_inspect_list_tags_delete
);

async fn copy_between_daemon_registry_and_oci_layout(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let docker = Docker::from_env();
    let skopeo = Skopeo::new();
    let creds = creds(&server);

    let local = format!("berth-e2e/skopeo-{}:1", uuid::Uuid::new_v4().simple());
    docker.build_image(&local, 2, 100_000).await;
    let repo = unique_repo("skopeo");
    let remote = format!("docker://{}/{repo}:1", server.host());

    skopeo
        .run(&[
            "copy",
            "--src-daemon-host",
            docker.host(),
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &format!("docker-daemon:{local}"),
            &remote,
        ])
        .await
        .assert_success();
    let client = server.client();
    assert_eq!(client.tags(&repo).await, vec!["1"]);

    // inspect reports what the registry serves.
    let inspected = skopeo
        .run(&["inspect", "--tls-verify=false", "--creds", &creds, &remote])
        .await
        .assert_success();
    let inspected: Value = serde_json::from_str(&inspected.stdout).expect("inspect prints JSON");
    assert_eq!(
        inspected["Layers"].as_array().map(Vec::len),
        Some(2),
        "{inspected}"
    );
    let served = client
        .head(&format!("/v2/{repo}/manifests/1"))
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .expect_status(200);
    assert_eq!(
        inspected["Digest"].as_str(),
        served.header("docker-content-digest"),
        "{inspected}"
    );

    // Registry -> OCI layout: every blob arrives intact.
    let layout = skopeo.scratch().join("layout");
    let layout_ref = format!("oci:{}:1", layout.display());
    skopeo
        .run(&[
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &creds,
            &remote,
            &layout_ref,
        ])
        .await
        .assert_success();
    let index: Value = serde_json::from_slice(
        &std::fs::read(layout.join("index.json")).expect("the layout has an index.json"),
    )
    .unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "1"
    );
    let blobs = std::fs::read_dir(layout.join("blobs/sha256")).expect("layout blobs");
    let mut count = 0;
    for entry in blobs {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        assert_eq!(
            sha256_digest(&data),
            format!("sha256:{name}"),
            "corrupt blob {name}"
        );
        count += 1;
    }
    // Manifest, config and two layers.
    assert_eq!(count, 4, "blobs in {}", layout.display());
}

async fn oci_format_push_inspect_list_tags_delete(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let docker = Docker::from_env();
    let skopeo = Skopeo::new();
    let creds = creds(&server);
    let host = server.host();

    let local = format!("berth-e2e/skopeo-oci-{}:1", uuid::Uuid::new_v4().simple());
    docker.build_image(&local, 2, 100_000).await;
    let source_repo = unique_repo("skopeo-src");
    let source = format!("docker://{host}/{source_repo}:1");
    skopeo
        .run(&[
            "copy",
            "--src-daemon-host",
            docker.host(),
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &format!("docker-daemon:{local}"),
            &source,
        ])
        .await
        .assert_success();

    // Registry -> registry, converted to OCI on the way.
    let repo = unique_repo("skopeo-oci");
    for tag in ["1", "2"] {
        skopeo
            .run(&[
                "copy",
                "--format",
                "oci",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--src-creds",
                &creds,
                "--dest-creds",
                &creds,
                &source,
                &format!("docker://{host}/{repo}:{tag}"),
            ])
            .await
            .assert_success();
    }
    let target = format!("docker://{host}/{repo}:1");
    let raw = skopeo
        .run(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &creds,
            &target,
        ])
        .await
        .assert_success();
    let manifest: Value = serde_json::from_str(&raw.stdout).expect("raw manifest is JSON");
    assert_eq!(manifest["mediaType"], OCI_MANIFEST, "{manifest}");
    assert_eq!(manifest["config"]["mediaType"], OCI_CONFIG, "{manifest}");

    let client = server.client();
    let served = client
        .get(&format!("/v2/{repo}/manifests/1"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .expect_status(200);
    assert_eq!(served.header("content-type"), Some(OCI_MANIFEST));
    // skopeo may end its output with a newline; the manifest bytes must match otherwise.
    assert_eq!(
        served.body.trim_ascii_end(),
        raw.stdout.trim_end().as_bytes()
    );

    let listed = skopeo
        .run(&[
            "list-tags",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{host}/{repo}"),
        ])
        .await
        .assert_success();
    let listed: Value = serde_json::from_str(&listed.stdout).expect("list-tags prints JSON");
    assert_eq!(listed["Tags"], serde_json::json!(["1", "2"]), "{listed}");

    // skopeo deletes by manifest digest, so both tags of that manifest go.
    skopeo
        .run(&["delete", "--tls-verify=false", "--creds", &creds, &target])
        .await
        .assert_success();
    let gone = skopeo
        .run(&["inspect", "--tls-verify=false", "--creds", &creds, &target])
        .await;
    assert!(
        !gone.success(),
        "the deleted image must not inspect: {gone}"
    );
    for tag in ["1", "2"] {
        client
            .get(&format!("/v2/{repo}/manifests/{tag}"))
            .send()
            .await
            .expect_status(404);
    }
    // The source repository is untouched.
    assert_eq!(client.tags(&source_repo).await, vec!["1"]);
}

fn creds(server: &BerthServer) -> String {
    format!("{}:{}", server.admin_user(), server.admin_password())
}
