//! Seeding done before a scenario measures: the large blobs, the fixture image, the
//! tags and catalog repositories, with retries counted.

use super::*;
use crate::client::push_scope;

pub(super) async fn setup(
    scenario: Scenario,
    target: &mut Target,
    settings: &Settings,
    digests: &mut DigestCache,
) -> Result<()> {
    match scenario {
        Scenario::PushBlob | Scenario::PushBlobChunked => {
            // Hash before the clock starts (not part of the figure).
            let chunked = scenario == Scenario::PushBlobChunked;
            digests.get(big_seed(settings, chunked), settings.blob_size);
        }
        Scenario::PullBlob => {
            if target.big.is_none() {
                let seed = big_seed(settings, false);
                let digest = digests.get(seed, settings.blob_size);
                let repo = settings.repo("blob");
                oci::push_random_whole(&target.reg, &repo, seed, settings.blob_size, &digest)
                    .await?;
                target.big = Some(BigBlob { repo, digest });
            }
        }
        Scenario::GetManifest
        | Scenario::HeadManifest
        | Scenario::HeadBlob
        | Scenario::Mix
        | Scenario::Token => {
            ensure_fixture(target, settings).await?;
        }
        Scenario::TagsList | Scenario::TagsListPaged => {
            ensure_tags(target, settings).await?;
            if target.tags_check.is_none() {
                let repo = settings.repo("tags");
                let whole = list_whole(&target.reg, &repo).await?;
                let path = format!("/v2/{repo}/tags/list");
                let paged =
                    walk_pages(&target.reg, &path, &pull_scope(&repo), settings.page_size).await?;
                target.tags_check = Some((whole, paged));
            }
        }
        Scenario::CatalogPaged => {
            ensure_catalog(target, settings).await?;
            if target.catalog_check.is_none() {
                let walk = walk_pages(
                    &target.reg,
                    "/v2/_catalog",
                    CATALOG_SCOPE,
                    settings.page_size,
                )
                .await?;
                target.catalog_check = Some(walk);
            }
        }
        Scenario::PushImages => {}
    }
    // The tokens the measured part needs are fetched now. A token request may cost a
    // password check on the server (tens of milliseconds when the password was not
    // verified recently), and every worker waits for it: fetched inside the loop, it
    // put one stall of all 32 workers into the first milliseconds of a scenario, which
    // was the mixed load's p99.9 after a long suite.
    target
        .reg
        .prime_tokens(&scopes_used(scenario, settings))
        .await
}

/// The scopes a scenario's requests ask tokens for (the token scenario fetches its own).
pub(super) fn scopes_used(scenario: Scenario, settings: &Settings) -> Vec<String> {
    match scenario {
        Scenario::PushBlob | Scenario::PushBlobChunked => vec![push_scope(&settings.repo("blob"))],
        Scenario::PullBlob => vec![pull_scope(&settings.repo("blob"))],
        Scenario::GetManifest | Scenario::HeadManifest | Scenario::HeadBlob => {
            vec![pull_scope(&settings.repo("img"))]
        }
        Scenario::Mix => vec![
            pull_scope(&settings.repo("img")),
            push_scope(&settings.repo("mix")),
        ],
        Scenario::PushImages => vec![push_scope(&settings.repo("img"))],
        Scenario::TagsList | Scenario::TagsListPaged => vec![pull_scope(&settings.repo("tags"))],
        Scenario::CatalogPaged => vec![CATALOG_SCOPE.to_owned()],
        Scenario::Token => Vec::new(),
    }
}

/// One small image tagged `bench` in `<prefix>-img`, read by the read scenarios.
pub(super) async fn ensure_fixture(target: &mut Target, settings: &Settings) -> Result<()> {
    if target.fixture.is_some() {
        return Ok(());
    }
    let repo = settings.repo("img");
    let image = oci::small_image(settings.seed, u64::MAX);
    oci::push_image(&target.reg, &repo, "bench", &image)
        .await
        .context("pushing the read fixture")?;
    // Warm the pull-scope token and check the fixture reads back.
    oci::get_manifest(&target.reg, &repo, "bench").await?;
    let layer = image
        .layers
        .first()
        .map(|l| l.digest.clone())
        .ok_or_else(|| anyhow!("fixture without layers"))?;
    target.fixture = Some(Fixture {
        repo,
        tag: "bench".into(),
        layer,
    });
    Ok(())
}

pub(super) fn tag_name(i: u64) -> String {
    format!("t{i:07}")
}

/// `<prefix>-tags` with `settings.tags` tags on one manifest (kept between runs: when
/// the last tag exists the seeding is skipped).
pub(super) async fn ensure_tags(target: &mut Target, settings: &Settings) -> Result<()> {
    if target.tags_ready {
        return Ok(());
    }
    let repo = settings.repo("tags");
    let n = settings.tags;
    if n == 0 {
        bail!("--tags must be positive");
    }
    let last = tag_name(n - 1);
    if !oci::head_manifest(&target.reg, &repo, &last).await? {
        let image = Arc::new(oci::small_image(settings.seed, u64::MAX - 1));
        oci::push_image(&target.reg, &repo, &tag_name(0), &image).await?;
        let reg = target.reg.clone();
        let repo2 = repo.clone();
        let retries = Arc::new(Retries::default());
        let r2 = retries.clone();
        let out = timed_loop(
            settings.concurrency,
            Duration::from_secs(3600),
            n - 1,
            1,
            move |_, i| {
                let reg = reg.clone();
                let repo = repo2.clone();
                let image = image.clone();
                let retries = r2.clone();
                async move {
                    let tag = tag_name(i + 1);
                    retries
                        .run(|| oci::put_manifest(&reg, &repo, &tag, &image.manifest))
                        .await?;
                    Ok(0)
                }
            },
        )
        .await;
        if out.errors > 0 {
            bail!(
                "seeding {n} tags: {} errors after retries, first: {}",
                out.errors,
                out.first_error.unwrap_or_default()
            );
        }
        target.tags_seed_note = retries.note(&format!("seeding {n} tags"));
    }
    target.tags_ready = true;
    Ok(())
}

/// Retries of seeding requests: up to [`Retries::ATTEMPTS`] tries each, counted.
#[derive(Default)]
pub(crate) struct Retries {
    retried: AtomicU64,
    first: Mutex<Option<String>>,
}

impl Retries {
    const ATTEMPTS: u32 = 10;

    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt < Self::ATTEMPTS => {
                    self.retried.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = self.first.lock() {
                        first.get_or_insert_with(|| format!("{e:#}"));
                    }
                    // Back off with jitter, so racing requests stop colliding.
                    let clock = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.subsec_nanos())
                        .unwrap_or(0);
                    let jitter = random::mix(u64::from(clock)) % 50;
                    let pause = 20 * u64::from(attempt) + jitter;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn note(&self, what: &str) -> Option<String> {
        let n = self.retried.load(Ordering::Relaxed);
        (n > 0).then(|| {
            let first = self
                .first
                .lock()
                .ok()
                .and_then(|f| f.clone())
                .unwrap_or_default();
            format!("{what}: {n} requests failed and were retried; first: {first}")
        })
    }
}

pub(super) fn catalog_repo(settings: &Settings, i: u64) -> String {
    format!("{}-cat-{i:05}", settings.prefix)
}

/// `settings.repos` repositories `<prefix>-cat-NNNNN`, one tiny image each.
pub(super) async fn ensure_catalog(target: &mut Target, settings: &Settings) -> Result<()> {
    if target.catalog_ready {
        return Ok(());
    }
    let n = settings.repos;
    if n == 0 {
        bail!("--repos must be positive");
    }
    if !oci::head_manifest(&target.reg, &catalog_repo(settings, n - 1), "seed").await? {
        let image = Arc::new(oci::small_image(settings.seed, u64::MAX - 2));
        let reg = target.reg.clone();
        let s = settings.clone();
        let retries = Arc::new(Retries::default());
        let r2 = retries.clone();
        let out = timed_loop(
            settings.concurrency,
            Duration::from_secs(3600),
            n,
            1,
            move |_, i| {
                let reg = reg.clone();
                let image = image.clone();
                let repo = catalog_repo(&s, i);
                let retries = r2.clone();
                async move {
                    retries
                        .run(|| oci::push_image(&reg, &repo, "seed", &image))
                        .await?;
                    Ok(0)
                }
            },
        )
        .await;
        if out.errors > 0 {
            bail!(
                "seeding {n} repositories: {} errors after retries, first: {}",
                out.errors,
                out.first_error.unwrap_or_default()
            );
        }
        target.catalog_seed_note = retries.note(&format!("seeding {n} repositories"));
    }
    target.catalog_ready = true;
    Ok(())
}
