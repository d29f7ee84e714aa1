//! The load tool's scenarios (`berth-bench`) against a real Berth, briefly: each runs
//! without errors, and the tokens its requests need are fetched while setting up, never
//! while measuring (a token request may cost the server a password check, and every
//! worker would wait for it inside the measured latencies).

use std::time::Duration;

use berth_e2e::{Backend, BerthServer, TEST_TIMEOUT, with_timeout};
use loadgen::client::{Credentials, Registry};
use loadgen::scenarios::{self, DigestCache, Scenario, Settings, Target};

#[tokio::test]
async fn scenarios_fetch_their_tokens_before_measuring() {
    with_timeout(TEST_TIMEOUT, async {
        let server = BerthServer::start(Backend::Embedded).await;
        let base = url::Url::parse(&format!("{}/", server.base_url())).expect("base URL");
        let creds = Credentials {
            user: server.admin_user().to_owned(),
            password: server.admin_password().to_owned(),
        };
        let reg = Registry::connect("berth".into(), base, Some(creds), false, 8)
            .await
            .expect("connecting the load tool");
        let mut target = Target::new(reg, None, None);
        let settings = Settings {
            blob_size: 1 << 20,
            chunk_size: 1 << 20,
            images: 4,
            concurrency: 4,
            duration: Duration::from_millis(300),
            tags: 12,
            repos: 6,
            page_size: 5,
            prefix: "library/bench-tokens".into(),
            seed: 7,
            max_requests: u64::MAX,
        };
        let mut digests = DigestCache::default();
        for scenario in [
            Scenario::PushBlob,
            Scenario::PullBlob,
            Scenario::PushImages,
            Scenario::GetManifest,
            Scenario::HeadBlob,
            Scenario::TagsList,
            Scenario::TagsListPaged,
            Scenario::CatalogPaged,
            Scenario::Mix,
        ] {
            let name = scenario.name();
            let result = scenarios::run(scenario, &mut target, &settings, &mut digests).await;
            assert_eq!(result.status, "ok", "{name}: {:?}", result.note);
            assert!(result.operations > 0, "{name} did nothing");
            assert_eq!(result.errors, 0, "{name}: {:?}", result.note);
            assert_eq!(
                result.extra.get("token_requests"),
                Some(&serde_json::json!(0)),
                "{name} fetched a token while measuring"
            );
        }
    })
    .await
}
