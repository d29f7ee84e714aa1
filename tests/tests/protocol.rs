//! The OCI distribution API (spec v1.1.1) and the Docker token flow, driven request by
//! request with exact assertions on status codes, headers, bodies and error codes.
//! Every test runs on both backends and on a registry of its own. The client fails any
//! test on a 5xx response, so "never a server error" is checked everywhere.

use base64::Engine;
use berth_e2e::client::{
    RegistryClient, min_chunk_length, next_link, parse_challenge, path_and_query, string_list,
    with_query,
};
use berth_e2e::oci::{
    self, Blob, DOCKER_SCHEMA1_SIGNED, Image, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, sha256_digest,
    unique_repo,
};
use berth_e2e::raw::{self, RawOutcome};
use berth_e2e::{Backend, BerthServer, Resp, backend_tests};
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;
const OCTETS: &str = "application/octet-stream";
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

backend_tests!(
    unauthenticated_requests_are_challenged,
    token_service_checks_credentials,
    monolithic_upload_post_then_put,
    monolithic_upload_single_post,
    chunked_upload_with_status_and_out_of_order_chunk,
    cancelled_upload_is_unknown,
    cross_repo_mount_and_fallback,
    blob_get_head_and_range,
    manifest_put_get_head_by_tag_and_digest,
    manifest_with_missing_blob_is_rejected,
    schema1_manifest_is_rejected,
    tags_list_paging,
    catalog_paging,
    referrers_with_filter_and_subject_header,
    delete_tag_manifest_and_blob,
    unknown_repository_and_manifest,
    invalid_name_is_rejected,
    wrong_digest_is_rejected_and_leaves_no_blob,
    truncated_or_overlong_body_leaves_no_blob,
    one_byte_chunks_keep_memory_flat,
    oversized_manifest_is_rejected,
    malformed_manifest_is_rejected,
);

// ----- authentication -------------------------------------------------------------------

async fn unauthenticated_requests_are_challenged(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let anonymous = server.anonymous_client();

    let resp = anonymous.get("/v2/").send().await.expect_status(401);
    let (scheme, params) = parse_challenge(resp.required_header("www-authenticate"));
    assert_eq!(scheme, "Bearer", "{resp}");
    assert_eq!(
        params.get("realm"),
        Some(&format!("{}/service/token", server.base_url())),
        "{resp}"
    );
    assert_eq!(
        params.get("service").map(String::as_str),
        Some("berth"),
        "{resp}"
    );
    assert!(
        resp.error_codes().contains(&"UNAUTHORIZED".to_owned()),
        "{resp}"
    );

    // Repository requests name the scope the client must ask for.
    let repo = unique_repo("secret");
    let pull = anonymous
        .get(&format!("/v2/{repo}/tags/list"))
        .send()
        .await
        .expect_status(401);
    let scope = challenge_scope(&pull);
    assert!(
        scope.starts_with(&format!("repository:{repo}:")) && scope.contains("pull"),
        "{pull}"
    );
    let push = anonymous
        .post(&format!("/v2/{repo}/blobs/uploads/"))
        .header("content-length", "0")
        .send()
        .await
        .expect_status(401);
    let scope = challenge_scope(&push);
    assert!(
        scope.starts_with(&format!("repository:{repo}:")) && scope.contains("push"),
        "{push}"
    );

    // The same challenge, answered with the admin's credentials, lets the client in.
    server.client().get("/v2/").send().await.expect_status(200);
}

async fn token_service_checks_credentials(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let repo = unique_repo("tokens");
    let http = server.anonymous_client();
    let token_url = format!(
        "/service/token?service=berth&scope={}",
        url_encode(&format!("repository:{repo}:pull,push"))
    );

    let wrong = http
        .get(&token_url)
        .header("authorization", &basic("admin", "not-the-password"))
        .send()
        .await;
    assert_eq!(
        wrong.status(),
        401,
        "a wrong password must not get a token: {wrong}"
    );

    let resp = http
        .get(&token_url)
        .header("authorization", &basic("admin", server.admin_password()))
        .send()
        .await
        .expect_status(200);
    let body = resp.json();
    let token = body
        .get("token")
        .or_else(|| body.get("access_token"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no token in {resp}"))
        .to_owned();

    // A JWT whose `access` claim grants what was asked for (Docker token spec).
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "token is not a JWT: {token}");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .expect("JWT payload is base64url"),
    )
    .expect("JWT payload is JSON");
    let access = claims["access"].as_array().expect("access claim");
    let granted = access
        .iter()
        .find(|a| a["type"] == "repository" && a["name"] == repo.as_str())
        .unwrap_or_else(|| panic!("no access entry for {repo}: {claims}"));
    let actions = string_list(granted, "actions");
    assert!(
        actions.contains(&"pull".to_owned()) && actions.contains(&"push".to_owned()),
        "{claims}"
    );

    let bearer = format!("Bearer {token}");
    http.get("/v2/")
        .header("authorization", &bearer)
        .send()
        .await
        .expect_status(200);
    http.get(&format!("/v2/{repo}/tags/list"))
        .header("authorization", &bearer)
        .send()
        .await
        .expect_status(404);

    // A token whose signature does not verify is worthless.
    let mut forged = token.clone();
    let last = forged.pop().expect("non-empty token");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let resp = http
        .get(&format!("/v2/{repo}/tags/list"))
        .header("authorization", &format!("Bearer {forged}"))
        .send()
        .await;
    assert_eq!(resp.status(), 401, "a forged token must be refused: {resp}");
}

// ----- blob uploads ---------------------------------------------------------------------

async fn monolithic_upload_post_then_put(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("mono");
    let blob = Blob::random(300_000);

    let location = client.start_upload(&repo).await.location().to_owned();
    let resp = client
        .put(&with_query(&location, "digest", &blob.digest))
        .content_type(OCTETS)
        .body(blob.data.clone())
        .send()
        .await
        .expect_status(201);
    assert_eq!(
        resp.header("docker-content-digest"),
        Some(blob.digest.as_str())
    );

    // The returned Location is a pullable blob URL.
    let fetched = client.get(resp.location()).send().await.expect_status(200);
    assert_eq!(fetched.body, blob.data);
    assert_eq!(
        client.get_blob_verified(&repo, &blob.digest).await,
        blob.data
    );
}

async fn monolithic_upload_single_post(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("single-post");
    let blob = Blob::random(200_000);

    let resp = client
        .post(&with_query(
            &format!("/v2/{repo}/blobs/uploads/"),
            "digest",
            &blob.digest,
        ))
        .content_type(OCTETS)
        .body(blob.data.clone())
        .send()
        .await;
    match resp.status() {
        201 => {
            let fetched = client.get(resp.location()).send().await.expect_status(200);
            assert_eq!(fetched.body, blob.data);
        }
        // The spec lets a registry decline single-POST uploads with 202 and a session,
        // which the client then completes with PUT.
        202 => {
            client
                .put(&with_query(resp.location(), "digest", &blob.digest))
                .content_type(OCTETS)
                .body(blob.data.clone())
                .send()
                .await
                .expect_status(201);
        }
        _ => panic!("single POST must answer 201 or 202: {resp}"),
    }
    client.get_blob_verified(&repo, &blob.digest).await;
}

async fn chunked_upload_with_status_and_out_of_order_chunk(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("chunked");

    let started = client.start_upload(&repo).await;
    // Uneven chunk sizes on purpose, respecting the registry's minimum if it has one.
    let chunk = (MIB + 123).max(min_chunk_length(&started));
    let blob = Blob::random(2 * chunk + 1000);
    let data = &blob.data;

    let first = client
        .patch(started.location())
        .content_type(OCTETS)
        .header("content-range", &format!("0-{}", chunk - 1))
        .body(data.slice(..chunk))
        .send()
        .await
        .expect_status(202);
    assert_eq!(
        first.header("range"),
        Some(format!("0-{}", chunk - 1).as_str())
    );
    let location = first.location().to_owned();

    let status = client.get(&location).send().await.expect_status(204);
    assert_eq!(
        status.header("range"),
        Some(format!("0-{}", chunk - 1).as_str())
    );
    status.location();

    // A chunk that does not start where the upload stands is refused with 416 ...
    let gap = chunk + 10;
    let out_of_order = client
        .patch(&location)
        .content_type(OCTETS)
        .header("content-range", &format!("{gap}-{}", gap + 99))
        .body(data.slice(gap..gap + 100))
        .send()
        .await;
    assert_eq!(out_of_order.status(), 416, "{out_of_order}");
    // ... and changes nothing.
    let status = client.get(&location).send().await.expect_status(204);
    assert_eq!(
        status.header("range"),
        Some(format!("0-{}", chunk - 1).as_str())
    );
    let location = status.location().to_owned();

    let second = client
        .patch(&location)
        .content_type(OCTETS)
        .header("content-range", &format!("{chunk}-{}", 2 * chunk - 1))
        .body(data.slice(chunk..2 * chunk))
        .send()
        .await
        .expect_status(202);
    assert_eq!(
        second.header("range"),
        Some(format!("0-{}", 2 * chunk - 1).as_str())
    );

    // The last chunk travels with the closing PUT.
    let done = client
        .put(&with_query(second.location(), "digest", &blob.digest))
        .content_type(OCTETS)
        .header(
            "content-range",
            &format!("{}-{}", 2 * chunk, data.len() - 1),
        )
        .body(data.slice(2 * chunk..))
        .send()
        .await
        .expect_status(201);
    assert_eq!(
        done.header("docker-content-digest"),
        Some(blob.digest.as_str())
    );
    let got = client.get_blob_verified(&repo, &blob.digest).await;
    assert_eq!(got.len(), data.len());

    // The plain helper (PATCHes, then an empty PUT) works too.
    let other = Blob::random(chunk + 7);
    client.upload_blob_chunked(&repo, &other, chunk).await;
    client.get_blob_verified(&repo, &other.digest).await;
}

async fn cancelled_upload_is_unknown(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("cancel");
    let blob = Blob::random(10_000);

    let location = client.start_upload(&repo).await.location().to_owned();
    let patched = client
        .patch(&location)
        .content_type(OCTETS)
        .header("content-range", "0-4999")
        .body(blob.data.slice(..5000))
        .send()
        .await
        .expect_status(202);
    let location = patched.location().to_owned();

    client.delete(&location).send().await.expect_status(204);

    client
        .get(&location)
        .send()
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    client
        .patch(&location)
        .content_type(OCTETS)
        .header("content-range", "5000-9999")
        .body(blob.data.slice(5000..))
        .send()
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    client
        .put(&with_query(&location, "digest", &blob.digest))
        .send()
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    expect_blob_absent(&client, &repo, &blob.digest).await;

    // A session id that never existed is just as unknown.
    client
        .get(&format!(
            "/v2/{repo}/blobs/uploads/{}",
            uuid::Uuid::new_v4()
        ))
        .send()
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
}

async fn cross_repo_mount_and_fallback(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let source = unique_repo("mount-src");
    let target = unique_repo("mount-dst");
    let elsewhere = unique_repo("mount-other");

    let blob = Blob::random(50_000);
    client.upload_blob(&source, &blob).await;
    let mounted = client
        .post(&format!(
            "/v2/{target}/blobs/uploads/?mount={}&from={source}",
            blob.digest
        ))
        .header("content-length", "0")
        .send()
        .await
        .expect_status(201);
    mounted.location();
    assert_eq!(
        mounted.header("docker-content-digest"),
        Some(blob.digest.as_str())
    );
    client.get_blob_verified(&target, &blob.digest).await;

    // The blob exists in the registry, but not in the named source: no mount (that would
    // leak content across repositories), an upload session instead.
    let private = Blob::random(40_000);
    client.upload_blob(&elsewhere, &private).await;
    let fallback = client
        .post(&format!(
            "/v2/{target}/blobs/uploads/?mount={}&from={source}",
            private.digest
        ))
        .header("content-length", "0")
        .send()
        .await
        .expect_status(202);
    expect_blob_absent(&client, &target, &private.digest).await;
    client
        .put(&with_query(fallback.location(), "digest", &private.digest))
        .content_type(OCTETS)
        .body(private.data.clone())
        .send()
        .await
        .expect_status(201);
    client.get_blob_verified(&target, &private.digest).await;

    // A digest nobody has: also a plain upload session.
    let unknown = sha256_digest(b"never uploaded");
    let resp = client
        .post(&format!(
            "/v2/{target}/blobs/uploads/?mount={unknown}&from={source}"
        ))
        .header("content-length", "0")
        .send()
        .await
        .expect_status(202);
    resp.location();
}

// ----- blob reads -----------------------------------------------------------------------

async fn blob_get_head_and_range(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("ranges");
    let blob = Blob::random(100_000);
    client.upload_blob(&repo, &blob).await;
    let path = format!("/v2/{repo}/blobs/{}", blob.digest);

    let head = client.head(&path).send().await.expect_status(200);
    assert_eq!(head.content_length(), 100_000);
    assert_eq!(
        head.header("docker-content-digest"),
        Some(blob.digest.as_str())
    );
    assert!(head.body.is_empty());

    let get = client.get(&path).send().await.expect_status(200);
    assert_eq!(get.content_length(), 100_000);
    assert_eq!(
        get.header("docker-content-digest"),
        Some(blob.digest.as_str())
    );
    assert_eq!(get.body, blob.data);

    let part = client
        .get(&path)
        .header("range", "bytes=10-99")
        .send()
        .await
        .expect_status(206);
    assert_eq!(part.header("content-range"), Some("bytes 10-99/100000"));
    assert_eq!(part.body, blob.data.slice(10..100));

    let tail = client
        .get(&path)
        .header("range", "bytes=99990-")
        .send()
        .await
        .expect_status(206);
    assert_eq!(
        tail.header("content-range"),
        Some("bytes 99990-99999/100000")
    );
    assert_eq!(tail.body, blob.data.slice(99_990..));

    let beyond = client
        .get(&path)
        .header("range", "bytes=200000-")
        .send()
        .await;
    assert_eq!(beyond.status(), 416, "{beyond}");

    let unknown = sha256_digest(b"no such blob");
    client
        .get(&format!("/v2/{repo}/blobs/{unknown}"))
        .send()
        .await
        .expect_error(404, "BLOB_UNKNOWN");
    client
        .head(&format!("/v2/{repo}/blobs/{unknown}"))
        .send()
        .await
        .expect_status(404);

    // Blobs are served per repository: another repository does not see this one.
    client
        .expect_blob_unknown_elsewhere("ranges-other", &blob.digest)
        .await;
}

// ----- manifests ------------------------------------------------------------------------

async fn manifest_put_get_head_by_tag_and_digest(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("manifests");

    let image = Image::random(&[1000, 2000]);
    for blob in image.blobs() {
        client.upload_blob(&repo, blob).await;
    }
    let put = client
        .put_manifest(&repo, "v1", OCI_MANIFEST, image.manifest.clone())
        .await
        .expect_status(201);
    assert_eq!(
        put.header("docker-content-digest"),
        Some(image.digest.as_str())
    );
    let fetched = client
        .get(put.location())
        .header("accept", MANIFEST_ACCEPT)
        .send()
        .await
        .expect_status(200);
    assert_eq!(fetched.body, image.manifest);

    for reference in ["v1", image.digest.as_str()] {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let get = client
            .get(&path)
            .header("accept", MANIFEST_ACCEPT)
            .send()
            .await
            .expect_status(200);
        assert_eq!(get.body, image.manifest, "exact bytes by {reference}");
        assert_eq!(media_type_of(&get), OCI_MANIFEST);
        assert_eq!(
            get.header("docker-content-digest"),
            Some(image.digest.as_str())
        );
        assert_eq!(get.content_length(), image.manifest.len() as u64);

        let head = client
            .head(&path)
            .header("accept", MANIFEST_ACCEPT)
            .send()
            .await
            .expect_status(200);
        assert!(head.body.is_empty());
        assert_eq!(media_type_of(&head), OCI_MANIFEST);
        assert_eq!(
            head.header("docker-content-digest"),
            Some(image.digest.as_str())
        );
        assert_eq!(head.content_length(), image.manifest.len() as u64);
    }

    // By digest, and in Docker's schema 2 format: the Content-Type comes back as pushed.
    let docker = Image::random_docker(&[3000]);
    for blob in docker.blobs() {
        client.upload_blob(&repo, blob).await;
    }
    let put = client
        .put_manifest(
            &repo,
            &docker.digest,
            &docker.media_type,
            docker.manifest.clone(),
        )
        .await
        .expect_status(201);
    assert_eq!(
        put.header("docker-content-digest"),
        Some(docker.digest.as_str())
    );
    let get = client
        .get(&format!("/v2/{repo}/manifests/{}", docker.digest))
        .header("accept", MANIFEST_ACCEPT)
        .send()
        .await
        .expect_status(200);
    assert_eq!(media_type_of(&get), oci::DOCKER_MANIFEST);
    assert_eq!(get.body, docker.manifest);

    // PUT by a digest that is not the body's digest is refused.
    let wrong = sha256_digest(b"something else");
    client
        .put_manifest(&repo, &wrong, OCI_MANIFEST, image.manifest.clone())
        .await
        .expect_error(400, "DIGEST_INVALID");

    // An OCI manifest without a mediaType field (as podman pushes them) is valid.
    let bare = Image::random(&[500]);
    let mut doc: Value = serde_json::from_slice(&bare.manifest).unwrap();
    doc.as_object_mut().unwrap().remove("mediaType");
    let bare = Image::from_parts(OCI_MANIFEST, &doc, bare.config, bare.layers);
    client.push_image(&repo, "bare", &bare).await;
    client.assert_pullable(&repo, "bare", &bare).await;

    // Moving a tag: v1 now names the Docker image.
    client
        .put_manifest(&repo, "v1", &docker.media_type, docker.manifest.clone())
        .await
        .expect_status(201);
    let get = client
        .get(&format!("/v2/{repo}/manifests/v1"))
        .header("accept", MANIFEST_ACCEPT)
        .send()
        .await
        .expect_status(200);
    assert_eq!(
        get.header("docker-content-digest"),
        Some(docker.digest.as_str())
    );
    // The manifest that lost its tag is still there by digest.
    client.assert_pullable(&repo, &image.digest, &image).await;
    assert_eq!(client.tags(&repo).await, vec!["bare", "v1"]);
}

async fn manifest_with_missing_blob_is_rejected(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("missing-blob");
    let image = Image::random(&[1000, 1000]);

    // Config and first layer uploaded, second layer not.
    client.upload_blob(&repo, &image.config).await;
    client.upload_blob(&repo, &image.layers[0]).await;
    client
        .put_manifest(&repo, "v1", OCI_MANIFEST, image.manifest.clone())
        .await
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
    client
        .get(&format!("/v2/{repo}/manifests/v1"))
        .send()
        .await
        .expect_status(404);

    // A layer that exists only in another repository does not count either.
    let other = unique_repo("missing-blob-other");
    client.upload_blob(&other, &image.layers[1]).await;
    client
        .put_manifest(&repo, "v1", OCI_MANIFEST, image.manifest.clone())
        .await
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");

    client.upload_blob(&repo, &image.layers[1]).await;
    client
        .put_manifest(&repo, "v1", OCI_MANIFEST, image.manifest.clone())
        .await
        .expect_status(201);
}

async fn schema1_manifest_is_rejected(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("schema1");
    let layer = Blob::random(100);
    client.upload_blob(&repo, &layer).await;
    let schema1 = json!({
        "schemaVersion": 1,
        "name": repo,
        "tag": "v1",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": layer.digest}],
        "history": [{"v1Compatibility": "{\"id\":\"e2e\"}"}],
        "signatures": [],
    });
    let body = serde_json::to_vec(&schema1).unwrap();
    for content_type in [DOCKER_SCHEMA1_SIGNED, "application/json"] {
        client
            .put_manifest(&repo, "v1", content_type, body.clone())
            .await
            .expect_error(400, "MANIFEST_INVALID");
    }
    client
        .get(&format!("/v2/{repo}/manifests/v1"))
        .send()
        .await
        .expect_status(404);
}

// ----- listing --------------------------------------------------------------------------

async fn tags_list_paging(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("tags");
    let image = Image::random(&[10]);
    client.push_image(&repo, "latest", &image).await;
    // Pushed out of order; numeric-looking tags sort as strings.
    for tag in ["beta", "2", "10", "b-2", "alpha", "1.0"] {
        client
            .put_manifest(&repo, tag, OCI_MANIFEST, image.manifest.clone())
            .await
            .expect_status(201);
    }
    let sorted = ["1.0", "10", "2", "alpha", "b-2", "beta", "latest"];

    let all = client
        .get(&format!("/v2/{repo}/tags/list"))
        .send()
        .await
        .expect_status(200);
    assert_eq!(all.json()["name"], repo.as_str());
    assert_eq!(string_list(&all.json(), "tags"), sorted);

    // Pages of 3, following the Link header.
    let first = client
        .get(&format!("/v2/{repo}/tags/list?n=3"))
        .send()
        .await
        .expect_status(200);
    assert_eq!(string_list(&first.json(), "tags"), sorted[..3]);
    assert!(
        next_link(&first).is_some(),
        "more tags remain, so a Link is due: {first}"
    );
    let pages = follow_pages(&client, first, "tags", 3).await;
    assert_eq!(pages.concat(), sorted);

    let none = client
        .get(&format!("/v2/{repo}/tags/list?n=0"))
        .send()
        .await
        .expect_status(200);
    assert!(string_list(&none.json(), "tags").is_empty(), "{none}");
    assert!(
        next_link(&none).is_none(),
        "n=0 must not have a Link: {none}"
    );

    let after = client
        .get(&format!("/v2/{repo}/tags/list?last=2"))
        .send()
        .await
        .expect_status(200);
    assert_eq!(string_list(&after.json(), "tags"), sorted[3..]);

    let window = client
        .get(&format!("/v2/{repo}/tags/list?n=2&last=alpha"))
        .send()
        .await
        .expect_status(200);
    assert_eq!(string_list(&window.json(), "tags"), ["b-2", "beta"]);
}

async fn catalog_paging(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let mut repos: Vec<String> = ["e", "a", "d", "b", "c"]
        .iter()
        .map(|s| format!("{}/catalog-{s}", oci::PROJECT))
        .collect();
    for repo in &repos {
        client.push_image(repo, "v1", &Image::random(&[10])).await;
    }
    repos.sort();

    let all = client.get("/v2/_catalog").send().await.expect_status(200);
    assert_eq!(string_list(&all.json(), "repositories"), repos, "{all}");

    let first = client
        .get("/v2/_catalog?n=2")
        .send()
        .await
        .expect_status(200);
    assert_eq!(string_list(&first.json(), "repositories"), repos[..2]);
    assert!(
        next_link(&first).is_some(),
        "more repositories remain: {first}"
    );
    let pages = follow_pages(&client, first, "repositories", 2).await;
    assert_eq!(pages.concat(), repos);

    let after = client
        .get(&format!("/v2/_catalog?n=10&last={}", url_encode(&repos[2])))
        .send()
        .await
        .expect_status(200);
    assert_eq!(string_list(&after.json(), "repositories"), repos[3..]);
}

async fn referrers_with_filter_and_subject_header(backend: Backend) {
    const SBOM: &str = "application/vnd.example.sbom.v1";
    const SIGNATURE: &str = "application/vnd.example.signature.v1";
    const CONFIG_TYPED: &str = "application/vnd.example.config.v1+json";

    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("referrers");
    let subject = Image::random(&[100]);
    client.push_image(&repo, "v1", &subject).await;

    let sbom = Image::artifact(
        Some(SBOM),
        OCI_EMPTY,
        &subject,
        &[("org.example.sbom.format", "json")],
    );
    let signature = Image::artifact(Some(SIGNATURE), OCI_EMPTY, &subject, &[]);
    // No artifactType: the referrers list must use the config's media type instead.
    let untyped = Image::artifact(None, CONFIG_TYPED, &subject, &[]);
    for artifact in [&sbom, &signature, &untyped] {
        push_referrer(&client, &repo, artifact, &subject.digest).await;
    }

    let path = format!("/v2/{repo}/referrers/{}", subject.digest);
    let all = client.get(&path).send().await.expect_status(200);
    assert_eq!(media_type_of(&all), OCI_INDEX);
    let index = all.json();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], OCI_INDEX);
    let listed = index["manifests"].as_array().expect("manifests array");
    assert_eq!(listed.len(), 3, "{all}");
    for (artifact, artifact_type) in [
        (&sbom, SBOM),
        (&signature, SIGNATURE),
        (&untyped, CONFIG_TYPED),
    ] {
        let entry = listed
            .iter()
            .find(|d| d["digest"] == artifact.digest.as_str())
            .unwrap_or_else(|| panic!("{} missing from {all}", artifact.digest));
        assert_eq!(entry["mediaType"], OCI_MANIFEST);
        assert_eq!(entry["size"], artifact.manifest.len());
        assert_eq!(entry["artifactType"], artifact_type);
    }
    let sbom_entry = listed
        .iter()
        .find(|d| d["digest"] == sbom.digest.as_str())
        .unwrap();
    assert_eq!(sbom_entry["annotations"]["org.example.sbom.format"], "json");

    let filtered = client
        .get(&format!("{path}?artifactType={}", url_encode(SBOM)))
        .send()
        .await
        .expect_status(200);
    assert_eq!(filtered.header("oci-filters-applied"), Some("artifactType"));
    let listed = filtered.json()["manifests"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{filtered}");
    assert_eq!(listed[0]["digest"], sbom.digest.as_str());

    // No referrers: an empty index, not a 404.
    let lonely = sha256_digest(b"no referrers here");
    let empty = client
        .get(&format!("/v2/{repo}/referrers/{lonely}"))
        .send()
        .await
        .expect_status(200);
    assert!(
        empty.json()["manifests"].as_array().unwrap().is_empty(),
        "{empty}"
    );

    // A referrer may arrive before its subject.
    let future_subject = Image::random(&[10]);
    let early = Image::artifact(Some(SBOM), OCI_EMPTY, &future_subject, &[]);
    push_referrer(&client, &repo, &early, &future_subject.digest).await;
    let listed = client
        .get(&format!("/v2/{repo}/referrers/{}", future_subject.digest))
        .send()
        .await
        .expect_status(200)
        .json();
    assert_eq!(listed["manifests"][0]["digest"], early.digest.as_str());

    client
        .get(&format!("/v2/{repo}/referrers/sha256:not-a-digest"))
        .send()
        .await
        .expect_status(400);
}

// ----- deletion -------------------------------------------------------------------------

async fn delete_tag_manifest_and_blob(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("delete");
    let image = Image::random(&[1000]);
    client.push_image(&repo, "one", &image).await;
    client
        .put_manifest(&repo, "two", OCI_MANIFEST, image.manifest.clone())
        .await
        .expect_status(201);

    // Deleting a tag leaves the manifest and its other tags.
    client
        .delete(&format!("/v2/{repo}/manifests/one"))
        .send()
        .await
        .expect_status(202);
    client
        .get(&format!("/v2/{repo}/manifests/one"))
        .send()
        .await
        .expect_error(404, "MANIFEST_UNKNOWN");
    client.assert_pullable(&repo, "two", &image).await;
    assert_eq!(client.tags(&repo).await, vec!["two"]);

    // Deleting the manifest takes every tag pointing at it along.
    let by_digest = format!("/v2/{repo}/manifests/{}", image.digest);
    client.delete(&by_digest).send().await.expect_status(202);
    client.get(&by_digest).send().await.expect_status(404);
    client
        .get(&format!("/v2/{repo}/manifests/two"))
        .send()
        .await
        .expect_status(404);
    client.delete(&by_digest).send().await.expect_status(404);

    let layer = format!("/v2/{repo}/blobs/{}", image.layers[0].digest);
    client.delete(&layer).send().await.expect_status(202);
    client
        .get(&layer)
        .send()
        .await
        .expect_error(404, "BLOB_UNKNOWN");
    client.delete(&layer).send().await.expect_status(404);
}

// ----- bad input ------------------------------------------------------------------------

async fn unknown_repository_and_manifest(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let missing = unique_repo("nobody-pushed-here");
    let resp = client
        .get(&format!("/v2/{missing}/manifests/latest"))
        .send()
        .await
        .expect_status(404);
    let codes = resp.error_codes();
    assert!(
        codes
            .iter()
            .any(|c| c == "NAME_UNKNOWN" || c == "MANIFEST_UNKNOWN"),
        "{resp}"
    );
    client
        .get(&format!("/v2/{missing}/tags/list"))
        .send()
        .await
        .expect_error(404, "NAME_UNKNOWN");

    let repo = unique_repo("known");
    client.push_image(&repo, "v1", &Image::random(&[10])).await;
    client
        .get(&format!("/v2/{repo}/manifests/v2"))
        .send()
        .await
        .expect_error(404, "MANIFEST_UNKNOWN");
    let head = client
        .head(&format!("/v2/{repo}/manifests/v2"))
        .send()
        .await
        .expect_status(404);
    assert!(head.body.is_empty());
}

async fn invalid_name_is_rejected(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let too_long = format!("{}/{}", oci::PROJECT, "a".repeat(256));
    // The name is a syntax error of the request, reported as such (not as missing access).
    for name in [
        "library/Upper",
        "library/bad..dots",
        "library/-leading",
        "library/trailing_",
        too_long.as_str(),
    ] {
        client
            .post(&format!("/v2/{name}/blobs/uploads/"))
            .header("content-length", "0")
            .send()
            .await
            .expect_error(400, "NAME_INVALID");
        client
            .get(&format!("/v2/{name}/manifests/latest"))
            .send()
            .await
            .expect_error(400, "NAME_INVALID");
    }
}

async fn wrong_digest_is_rejected_and_leaves_no_blob(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("bad-digest");
    let blob = Blob::random(20_000);
    let claimed_content = b"what the client claims";
    let claimed = sha256_digest(claimed_content);

    let location = client.start_upload(&repo).await.location().to_owned();
    client
        .put(&with_query(&location, "digest", &claimed))
        .content_type(OCTETS)
        .body(blob.data.clone())
        .send()
        .await
        .expect_error(400, "DIGEST_INVALID");
    expect_blob_absent(&client, &repo, &claimed).await;
    expect_blob_absent(&client, &repo, &blob.digest).await;
    // Nothing of the refused bytes was kept under the claimed digest either: the real
    // content of that digest, pushed now, is what comes back (a blob store that finds a
    // blob already at that key keeps it, so stored wrong bytes would be served here).
    let location = client.start_upload(&repo).await.location().to_owned();
    client
        .put(&with_query(&location, "digest", &claimed))
        .content_type(OCTETS)
        .body(claimed_content.to_vec())
        .send()
        .await
        .expect_status(201);
    assert_eq!(
        client.get_blob_verified(&repo, &claimed).await.as_ref(),
        claimed_content
    );

    // Digests that are not digests at all.
    for bad in ["sha256:xyz", "sha256:", "nodigest"] {
        let location = client.start_upload(&repo).await.location().to_owned();
        client
            .put(&with_query(&location, "digest", bad))
            .content_type(OCTETS)
            .body(blob.data.clone())
            .send()
            .await
            .expect_error(400, "DIGEST_INVALID");
    }
    // A single-POST upload with a malformed digest: refused, or (from a registry that
    // does not take single-POST uploads, which the spec allows) answered with a session.
    let resp = client
        .post(&with_query(
            &format!("/v2/{repo}/blobs/uploads/"),
            "digest",
            "sha256:xyz",
        ))
        .content_type(OCTETS)
        .body(blob.data.clone())
        .send()
        .await;
    if resp.status() != 202 {
        resp.expect_error(400, "DIGEST_INVALID");
    }
    expect_blob_absent(&client, &repo, &blob.digest).await;
}

async fn truncated_or_overlong_body_leaves_no_blob(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("short-body");
    let authorization = client.authorization_for(&repo).await;
    let blob = Blob::random(64 * 1024);
    let half = blob.size() / 2;

    // Content-Length promises the whole blob, the client sends half and hangs up.
    let location = client.start_upload(&repo).await.location().to_owned();
    let head = format!(
        "PUT {} HTTP/1.1\r\nAuthorization: {authorization}\r\n\
         Content-Type: {OCTETS}\r\nContent-Length: {}",
        path_and_query(&with_query(&location, "digest", &blob.digest)),
        blob.size()
    );
    let outcome = raw::exchange(&server.host(), &head, &blob.data[..half], true).await;
    expect_client_error_or_close(&outcome, "truncated body");
    expect_blob_absent(&client, &repo, &blob.digest).await;

    // Content-Length says half, the client sends everything: the registry reads half,
    // which does not match the digest of the whole.
    let location = client.start_upload(&repo).await.location().to_owned();
    let head = format!(
        "PUT {} HTTP/1.1\r\nAuthorization: {authorization}\r\n\
         Content-Type: {OCTETS}\r\nContent-Length: {half}",
        path_and_query(&with_query(&location, "digest", &blob.digest))
    );
    match raw::exchange(&server.host(), &head, &blob.data, false).await {
        RawOutcome::Answered(status, text) => {
            assert_eq!(status, 400, "overlong body: {text}");
            assert!(text.contains("DIGEST_INVALID"), "overlong body: {text}");
        }
        RawOutcome::Closed => panic!("overlong body: connection closed without an answer"),
    }
    expect_blob_absent(&client, &repo, &blob.digest).await;
    let first_half = sha256_digest(&blob.data[..half]);
    expect_blob_absent(&client, &repo, &first_half).await;
    // Neither attempt left bytes under the blob's digest: pushed whole now, it reads back.
    client.upload_blob(&repo, &blob).await.expect_status(201);
    assert_eq!(
        client.get_blob_verified(&repo, &blob.digest).await,
        blob.data
    );

    // A truncated chunk does not advance the upload either.
    let location = client.start_upload(&repo).await.location().to_owned();
    let head = format!(
        "PATCH {} HTTP/1.1\r\nAuthorization: {authorization}\r\n\
         Content-Type: {OCTETS}\r\nContent-Range: 0-{}\r\nContent-Length: {}",
        path_and_query(&location),
        blob.size() - 1,
        blob.size()
    );
    let outcome = raw::exchange(&server.host(), &head, &blob.data[..half], true).await;
    expect_client_error_or_close(&outcome, "truncated chunk");
    let status = client.get(&location).send().await;
    if status.status() == 204 {
        let range = status.header("range").unwrap_or("");
        assert_ne!(
            range,
            format!("0-{}", blob.size() - 1),
            "a truncated chunk must not count as complete: {status}"
        );
    } else {
        status.expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    }
}

/// A body in one-byte HTTP chunks (as any client may send it) is stored in bounded
/// memory. Buffered piece by piece for an object store's multipart write, each piece kept
/// its read buffer alive: 4 MB pushed this way took the server from 30 to 293 MB.
async fn one_byte_chunks_keep_memory_flat(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("one-byte-chunks");
    let authorization = client.authorization_for(&repo).await;
    let blob = Blob::random(3 * 1000 * 1000);
    let mut body = Vec::with_capacity(blob.size() * 6 + 5);
    for byte in blob.data.iter() {
        body.extend_from_slice(b"1\r\n");
        body.push(*byte);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");

    let location = client.start_upload(&repo).await.location().to_owned();
    let head = format!(
        "PUT {} HTTP/1.1\r\nAuthorization: {authorization}\r\n\
         Content-Type: {OCTETS}\r\nTransfer-Encoding: chunked",
        path_and_query(&with_query(&location, "digest", &blob.digest))
    );
    match raw::exchange(&server.host(), &head, &body, false).await {
        RawOutcome::Answered(status, text) => assert_eq!(status, 201, "{text}"),
        RawOutcome::Closed => panic!("connection closed without an answer"),
    }
    assert_eq!(
        client.get_blob_verified(&repo, &blob.digest).await,
        blob.data
    );
    let peak_kib = peak_rss_kib(server.pid().expect("server pid"));
    assert!(
        peak_kib < 120 * 1024,
        "peak RSS {} MiB after a 3 MB blob in one-byte chunks",
        peak_kib / 1024
    );
}

/// The lifetime peak resident memory (`VmHWM`) of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

async fn oversized_manifest_is_rejected(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("big-manifest");
    let image = Image::random(&[100]);
    for blob in image.blobs() {
        client.upload_blob(&repo, blob).await;
    }

    // The spec asks registries to accept manifests of at least 4 megabytes ...
    let (big, big_digest) = padded_manifest(&image, 4_000_000);
    let put = client
        .put_manifest(&repo, "big", OCI_MANIFEST, big.clone())
        .await
        .expect_status(201);
    assert_eq!(
        put.header("docker-content-digest"),
        Some(big_digest.as_str())
    );
    let get = client
        .get(&format!("/v2/{repo}/manifests/big"))
        .header("accept", MANIFEST_ACCEPT)
        .send()
        .await
        .expect_status(200);
    assert_eq!(get.body, big);

    // ... and to refuse larger ones (with 413); Berth's limit is 4 MiB.
    let (huge, _) = padded_manifest(&image, 4 * MIB + 1);
    let resp = client.put_manifest(&repo, "huge", OCI_MANIFEST, huge).await;
    assert!(
        resp.status() == 413 || resp.status() == 400,
        "a manifest over 4 MiB must be refused: {resp}"
    );
    client
        .get(&format!("/v2/{repo}/manifests/huge"))
        .send()
        .await
        .expect_status(404);
}

async fn malformed_manifest_is_rejected(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let client = server.client();
    let repo = unique_repo("malformed");
    let image = Image::random(&[100]);
    for blob in image.blobs() {
        client.upload_blob(&repo, blob).await;
    }
    let valid: Value = serde_json::from_slice(&image.manifest).unwrap();

    let mut wrong_version = valid.clone();
    wrong_version["schemaVersion"] = json!(3);
    let mut no_config = valid.clone();
    no_config.as_object_mut().unwrap().remove("config");
    let mut layers_not_array = valid.clone();
    layers_not_array["layers"] = json!("nope");

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"{\"schemaVersion\": 2, ".to_vec()),
        ("a JSON array", b"[]".to_vec()),
        (
            "schemaVersion 3",
            serde_json::to_vec(&wrong_version).unwrap(),
        ),
        ("no config", serde_json::to_vec(&no_config).unwrap()),
        (
            "layers not an array",
            serde_json::to_vec(&layers_not_array).unwrap(),
        ),
    ];
    for (what, body) in cases {
        let resp = client.put_manifest(&repo, "v1", OCI_MANIFEST, body).await;
        assert_eq!(resp.status(), 400, "{what}: {resp}");
        assert!(
            resp.error_codes().iter().any(|c| c == "MANIFEST_INVALID"),
            "{what}: {resp}"
        );
    }
    client
        .get(&format!("/v2/{repo}/manifests/v1"))
        .send()
        .await
        .expect_status(404);
}

// ----- helpers --------------------------------------------------------------------------

/// The `scope` parameter of a response's Bearer challenge.
fn challenge_scope(resp: &Resp) -> String {
    let (_, params) = parse_challenge(resp.required_header("www-authenticate"));
    params
        .get("scope")
        .cloned()
        .unwrap_or_else(|| panic!("challenge without scope: {resp}"))
}

/// The Content-Type without parameters (the spec tells clients to ignore them).
fn media_type_of(resp: &Resp) -> &str {
    resp.required_header("content-type")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn expect_blob_absent(client: &RegistryClient, repo: &str, digest: &str) {
    client
        .head(&format!("/v2/{repo}/blobs/{digest}"))
        .send()
        .await
        .expect_status(404);
}

fn expect_client_error_or_close(outcome: &RawOutcome, what: &str) {
    if let RawOutcome::Answered(status, text) = outcome {
        assert!(
            (400..500).contains(status),
            "{what}: expected a 4xx or a closed connection, got: {text}"
        );
    }
}

/// Follows `Link: rel="next"` from `first` (or, without a Link, `last=` of a full page),
/// collecting each page's `field`, checking no page exceeds `n`.
async fn follow_pages(
    client: &RegistryClient,
    first: Resp,
    field: &str,
    n: usize,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut resp = first;
    loop {
        let page = string_list(&resp.json(), field);
        assert!(page.len() <= n, "page larger than n={n}: {resp}");
        let next = next_link(&resp);
        let full = page.len() == n;
        let last = page.last().cloned();
        if !page.is_empty() {
            pages.push(page);
        }
        let target = match (next, last) {
            (Some(link), _) => link,
            // The spec allows a short page only at the end when there is no Link.
            (None, Some(last)) if full => {
                let base = path_and_query(&resp.url);
                let base = base.split('?').next().unwrap().to_owned();
                format!("{base}?n={n}&last={}", url_encode(&last))
            }
            _ => break,
        };
        resp = client.get(&target).send().await.expect_status(200);
        assert!(pages.len() < 100, "paging does not end");
    }
    pages
}

/// Uploads an artifact's blobs and PUTs it by digest, checking `OCI-Subject`.
async fn push_referrer(client: &RegistryClient, repo: &str, artifact: &Image, subject: &str) {
    for blob in artifact.blobs() {
        client.upload_blob(repo, blob).await;
    }
    let put = client
        .put_manifest(
            repo,
            &artifact.digest,
            OCI_MANIFEST,
            artifact.manifest.clone(),
        )
        .await
        .expect_status(201);
    assert_eq!(
        put.header("oci-subject"),
        Some(subject),
        "a registry with the referrers API confirms the subject: {put}"
    );
}

/// `image`'s manifest padded with an annotation to exactly `size` bytes, and its digest.
fn padded_manifest(image: &Image, size: usize) -> (Vec<u8>, String) {
    let mut doc: Value = serde_json::from_slice(&image.manifest).unwrap();
    doc["annotations"] = json!({"org.example.padding": ""});
    let base = serde_json::to_vec(&doc).unwrap().len();
    assert!(size > base, "target size too small");
    doc["annotations"]["org.example.padding"] = json!("x".repeat(size - base));
    let bytes = serde_json::to_vec(&doc).unwrap();
    assert_eq!(bytes.len(), size);
    let digest = sha256_digest(&bytes);
    (bytes, digest)
}
