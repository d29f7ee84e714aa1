//! Two `berth` processes on one Postgres database and one bucket, as replicas behind a
//! load balancer would run: nothing a request needs may live in one process's memory,
//! upload sessions included. Requires BERTH_TEST_DATABASE_URL and BERTH_TEST_S3_*.

use berth_e2e::client::{min_chunk_length, path_and_query, string_list, with_query};
use berth_e2e::oci::{Blob, Image, unique_repo};
use berth_e2e::{Backend, BerthServer, TEST_TIMEOUT, with_timeout};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn chunked_upload_spans_two_processes() {
    with_timeout(TEST_TIMEOUT, async {
        let a = BerthServer::start(Backend::PostgresS3).await;
        let b = a.start_replica().await;
        let (on_a, on_b) = (a.client(), b.client());
        let repo = unique_repo("replicas");

        // Started on A ...
        let started = on_a.start_upload(&repo).await;
        let chunk = MIB.max(min_chunk_length(&started));
        let blob = Blob::random(3 * chunk + 500);
        let data = &blob.data;
        let first = on_a
            .patch(started.location())
            .content_type("application/octet-stream")
            .header("content-range", &format!("0-{}", chunk - 1))
            .body(data.slice(..chunk))
            .send()
            .await
            .expect_status(202);

        // ... continued on B, with the session A handed out ...
        let second = on_b
            .patch(&path_and_query(first.location()))
            .content_type("application/octet-stream")
            .header("content-range", &format!("{chunk}-{}", 2 * chunk - 1))
            .body(data.slice(chunk..2 * chunk))
            .send()
            .await
            .expect_status(202);
        assert_eq!(
            second.header("range"),
            Some(format!("0-{}", 2 * chunk - 1).as_str()),
            "B must continue where A stopped: {second}"
        );

        // ... whose progress A sees ...
        let status = on_a
            .get(&path_and_query(second.location()))
            .send()
            .await
            .expect_status(204);
        assert_eq!(
            status.header("range"),
            Some(format!("0-{}", 2 * chunk - 1).as_str())
        );

        // ... and finished on A with the rest of the data.
        on_a.put(&with_query(
            &path_and_query(status.location()),
            "digest",
            &blob.digest,
        ))
        .content_type("application/octet-stream")
        .header(
            "content-range",
            &format!("{}-{}", 2 * chunk, data.len() - 1),
        )
        .body(data.slice(2 * chunk..))
        .send()
        .await
        .expect_status(201);

        assert_eq!(on_b.get_blob_verified(&repo, &blob.digest).await, blob.data);
        assert_eq!(on_a.get_blob_verified(&repo, &blob.digest).await, blob.data);
    })
    .await;
}

#[tokio::test]
async fn each_process_serves_what_the_other_stored() {
    with_timeout(TEST_TIMEOUT, async {
        let a = BerthServer::start(Backend::PostgresS3).await;
        let b = a.start_replica().await;
        let (on_a, on_b) = (a.client(), b.client());

        let repo_a = unique_repo("from-a");
        let repo_b = unique_repo("from-b");
        let image_a = Image::random(&[200_000, 300_000]);
        let image_b = Image::random(&[250_000]);
        on_a.push_image(&repo_a, "v1", &image_a).await;
        on_b.push_image(&repo_b, "v1", &image_b).await;

        for client in [&on_a, &on_b] {
            client.assert_pullable(&repo_a, "v1", &image_a).await;
            client.assert_pullable(&repo_b, "v1", &image_b).await;
            let catalog = client.get("/v2/_catalog").send().await.expect_status(200);
            let repos = string_list(&catalog.json(), "repositories");
            assert!(
                repos.contains(&repo_a) && repos.contains(&repo_b),
                "{catalog}"
            );
        }

        // A tag added on B is listed by A; a manifest deleted on A is gone on B.
        on_b.put_manifest(&repo_a, "v2", &image_a.media_type, image_a.manifest.clone())
            .await
            .expect_status(201);
        assert_eq!(on_a.tags(&repo_a).await, vec!["v1", "v2"]);
        on_a.delete(&format!("/v2/{repo_b}/manifests/{}", image_b.digest))
            .send()
            .await
            .expect_status(202);
        on_b.get(&format!("/v2/{repo_b}/manifests/v1"))
            .send()
            .await
            .expect_status(404);

        // A blob uploaded through B can be mounted through A.
        let shared = Blob::random(10_000);
        on_b.upload_blob(&repo_b, &shared).await;
        on_a.post(&format!(
            "/v2/{repo_a}/blobs/uploads/?mount={}&from={repo_b}",
            shared.digest
        ))
        .header("content-length", "0")
        .send()
        .await
        .expect_status(201);
        on_b.get_blob_verified(&repo_a, &shared.digest).await;
    })
    .await;
}
