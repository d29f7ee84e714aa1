//! Blob downloads answered with a redirect to the object store (`BERTH_S3_REDIRECT`), on
//! Postgres + S3: the registry checks access and answers `307` with a presigned URL, and
//! the client fetches the bytes from the store. Requires the S3 server, Postgres and, for
//! the docker test, DOCKER_HOST.

use berth_e2e::oci::unique_repo;
use berth_e2e::{Backend, BerthServer, Blob, Docker, TEST_TIMEOUT, with_timeout};

/// Lifetime the tests give presigned URLs, to find it again in them.
const TTL_SECS: &str = "600";

/// A server on Postgres + S3 that redirects downloads. With `public_name`, URLs are signed
/// for `localhost` where the server itself writes to `127.0.0.1` (the URL must name the
/// host clients were told); without, for the store's own address. Returns the server and
/// the endpoint the URLs must start with.
async fn redirecting_server(public_name: bool) -> (BerthServer, String) {
    let s3 = berth_e2e::env::S3Settings::from_env();
    let mut env = vec![
        ("BERTH_S3_REDIRECT", "true".to_owned()),
        ("BERTH_S3_REDIRECT_TTL_SECS", TTL_SECS.to_owned()),
    ];
    let public = if public_name {
        let public = s3.endpoint.replace("127.0.0.1", "localhost");
        assert_ne!(
            public, s3.endpoint,
            "the test S3 endpoint is expected on 127.0.0.1"
        );
        env.push(("BERTH_S3_REDIRECT_ENDPOINT", public.clone()));
        public
    } else {
        s3.endpoint.clone()
    };
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = BerthServer::start_with_env(Backend::PostgresS3, &env).await;
    (server, public)
}

/// An HTTP client that shows redirects instead of following them.
fn not_following() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("building the HTTP client")
}

#[tokio::test]
async fn blob_downloads_redirect_to_the_store() {
    with_timeout(TEST_TIMEOUT, async {
        let (server, public) = redirecting_server(true).await;
        let client = server.client();
        let repo = unique_repo("redirect");
        let blob = Blob::random(1_500_000);
        client.upload_blob(&repo, &blob).await;
        let path = format!("/v2/{repo}/blobs/{}", blob.digest);
        let authorization = client.authorization_for(&repo).await;
        let raw = not_following();

        // HEAD is answered by the registry itself.
        let head = client.head(&path).send().await.expect_status(200);
        assert_eq!(head.content_length(), 1_500_000);

        // GET: a redirect to the object, signed for the clients' host, for a while.
        let redirect = raw
            .get(client.url(&path))
            .header("authorization", &authorization)
            .send()
            .await
            .expect("GET blob");
        assert_eq!(redirect.status(), 307);
        let header = |name: &str| {
            redirect
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("docker-content-digest").as_deref(),
            Some(blob.digest.as_str())
        );
        let location = header("location").expect("a Location");
        let hex = blob.digest.trim_start_matches("sha256:");
        assert!(location.starts_with(&public), "{location}");
        assert!(location.contains(hex), "{location}");
        assert!(
            location.contains(&format!("X-Amz-Expires={TTL_SECS}")),
            "{location}"
        );
        assert!(!location.contains(server.admin_password()), "{location}");

        // The store serves the bytes, and ranges, to a client without credentials.
        let fetched = raw.get(&location).send().await.expect("GET location");
        assert_eq!(fetched.status(), 200);
        assert_eq!(fetched.bytes().await.unwrap(), blob.data);
        let part = raw
            .get(&location)
            .header("range", "bytes=10-99")
            .send()
            .await
            .expect("ranged GET location");
        assert_eq!(part.status(), 206);
        assert_eq!(part.bytes().await.unwrap(), blob.data.slice(10..100));

        // A client that follows redirects, as docker does, gets the blob in one call
        // (dropping its registry credentials on the way to another host).
        let followed = client.get(&path).send().await.expect_status(200);
        assert_eq!(followed.body, blob.data);

        // Access is checked before any URL is handed out.
        let anonymous = raw.get(client.url(&path)).send().await.expect("GET");
        assert_eq!(anonymous.status(), 401);
        assert!(anonymous.headers().get("location").is_none());
        client
            .expect_blob_unknown_elsewhere("redirect-other", &blob.digest)
            .await;
        // A range the blob cannot satisfy is refused here, in the registry's own format.
        let beyond = raw
            .get(client.url(&path))
            .header("authorization", &authorization)
            .header("range", "bytes=2000000-")
            .send()
            .await
            .expect("GET beyond the end");
        assert_eq!(beyond.status(), 416);
    })
    .await
}

#[tokio::test]
async fn docker_pulls_through_the_redirect() {
    with_timeout(TEST_TIMEOUT, async {
        // URLs for the store's own address: the same host name as the registry, another
        // port, as in a single-host setup (the other test covers a public name).
        let (server, _) = redirecting_server(false).await;
        let docker = Docker::from_env();
        let host = server.host();
        docker
            .login(&host, server.admin_user(), server.admin_password())
            .await
            .assert_success();
        let local = format!("berth-e2e/redirect-{}:build", uuid::Uuid::new_v4().simple());
        let image_id = docker.build_image(&local, 2, 300_000).await;
        let reference = format!("{host}/{}:1", unique_repo("redirect-docker"));
        docker.tag(&local, &reference).await;
        docker.push(&reference).await.assert_success();

        // With redirects on, the registry never sends a layer itself: the engine can only
        // have the image again by following them to the store.
        docker.remove_images(&[&local, &reference]).await;
        assert!(!docker.image_exists(&reference).await);
        docker.pull(&reference).await.assert_success();
        assert_eq!(docker.image_id(&reference).await, image_id);
    })
    .await
}
