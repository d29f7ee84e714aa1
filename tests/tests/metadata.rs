//! The metadata-scale benchmark scenario (`berth-bench metadata`) at its tiny size against
//! a real server: the seeding creates what the plan says (checked through the API's
//! counts, not the tool's own bookkeeping), a second seeding resumes without creating
//! anything, and every measured request succeeds. No timing is asserted.

use std::time::Duration;

use berth_e2e::{ApiClient, Backend, BerthServer};
use loadgen::api::ApiAuth;
use loadgen::dataset::{self, Plan, Scale};
use loadgen::metadata::{Options, run};
use loadgen::seed::TagVia;

/// Seeding 5,000 tags takes well under a minute on a release build; debug builds and a
/// loaded machine need more.
const LIMIT: Duration = Duration::from_secs(900);

mod embedded {
    #[tokio::test]
    async fn tiny_metadata_seed_and_measure() {
        berth_e2e::with_timeout(
            super::LIMIT,
            super::tiny_metadata_seed_and_measure(super::Backend::Embedded),
        )
        .await;
    }
}

mod postgres_s3 {
    #[tokio::test]
    async fn tiny_metadata_seed_and_measure() {
        berth_e2e::with_timeout(
            super::LIMIT,
            super::tiny_metadata_seed_and_measure(super::Backend::PostgresS3),
        )
        .await;
    }
}

fn options(server: &BerthServer, seed: bool, measure: bool, tag_via: TagVia) -> Options {
    Options {
        base: url::Url::parse(&server.base_url()).expect("server URL"),
        creds: loadgen::client::Credentials {
            user: server.admin_user().to_owned(),
            password: server.admin_password().to_owned(),
        },
        name: "berth".to_owned(),
        allow_remote: false,
        scale: Scale::Tiny,
        seed,
        measure,
        concurrency: 4,
        requests: 20,
        api_auth: ApiAuth::Auto,
        tag_via,
        pid: server.pid(),
        request_seed: 1,
        markdown: None,
    }
}

async fn total(api: &ApiClient, path: &str) -> u64 {
    let resp = api.get(path).await.expect_status(200);
    resp.required_header("X-Total-Count")
        .parse()
        .unwrap_or_else(|e| panic!("GET {path}: X-Total-Count: {e}"))
}

async fn tiny_metadata_seed_and_measure(backend: Backend) {
    let server = BerthServer::start(backend).await;
    let plan = Plan::of(Scale::Tiny);
    // Tags through the API here, so both ways of creating them are exercised (the
    // resumed run below uses /v2).
    let first = run(options(&server, true, false, TagVia::Api))
        .await
        .expect("seeding");
    let created: u64 = first.seeded.iter().map(|p| p.created).sum();
    assert!(created >= plan.tags() + plan.projects, "{created}");

    let api = ApiClient::admin(&server);
    let p0 = dataset::project_name(0);
    // `library` plus the seeded project.
    assert_eq!(
        total(&api, "/projects?page_size=1").await,
        1 + plan.projects
    );
    assert_eq!(
        total(&api, &format!("/projects/{p0}/repositories?page_size=1")).await,
        plan.repos_per_project
    );
    let repo = dataset::repo_short(42);
    assert_eq!(
        total(
            &api,
            &format!("/projects/{p0}/repositories/{repo}/artifacts?page_size=1")
        )
        .await,
        plan.artifacts_per_repo
    );
    let tag = dataset::tag_name(plan.artifacts_per_repo - 1, 0);
    assert_eq!(
        total(
            &api,
            &format!("/projects/{p0}/repositories/{repo}/artifacts/{tag}/tags?page_size=1")
        )
        .await,
        plan.tags_per_artifact
    );
    // The seeded member and the project's creator.
    assert_eq!(
        total(&api, &format!("/projects/{p0}/members?page_size=1")).await,
        plan.members() / plan.projects + 1
    );
    assert!(total(&api, "/audit-logs?page_size=1").await >= plan.audit_records);
    let tags = server
        .client()
        .tags(&dataset::repo_name(0, plan.repos_per_project - 1))
        .await;
    assert_eq!(tags.len() as u64, plan.tags_per_repo(), "{tags:?}");
    assert_eq!(
        tags.first().map(String::as_str),
        Some(dataset::tag_name(0, 0).as_str())
    );

    // Seeding again finds everything in place; then every measured request succeeds.
    let second = run(options(&server, true, true, TagVia::V2))
        .await
        .expect("second run");
    let again: u64 = second.seeded.iter().map(|p| p.created).sum();
    assert_eq!(
        again, 0,
        "a resumed seeding created items: {:?}",
        second.seeded
    );
    assert_eq!(
        second.results.len(),
        2 * loadgen::measure::Endpoint::ALL.len()
    );
    for r in &second.results {
        assert_eq!(r.errors, 0, "{r:?}");
        assert_eq!(r.requests, 20, "{r:?}");
        assert!(r.latency.is_some(), "{r:?}");
    }
}
