//! The benchmark scenarios. Each runs on one target, bounded by a count or a time, and
//! yields one [`ScenarioResult`]; setup work (seeding tags, repositories, fixtures) is
//! done before measuring and is not part of the figures.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use reqwest::StatusCode;
use reqwest::header::LINK;
use serde::Serialize;
use serde_json::{Map, Value, json};
use url::Url;

use crate::client::{AuthMode, CATALOG_SCOPE, Credentials, Registry, expect, pull_scope};
use crate::oci;
use crate::procfs::Probe;
use crate::random;
use crate::stats::{Latencies, Summary};
use crate::upload;

/// Every scenario, in the order the suite runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Scenario {
    /// One large random blob, POST then a single streamed PUT.
    PushBlob,
    /// The same size in chunks: POST, PATCH per chunk (Content-Range), PUT.
    PushBlobChunked,
    /// GET of the large blob, sha256 verified while streaming.
    PullBlob,
    /// N small images (config + 1-3 layers + manifest + tag) at concurrency C.
    PushImages,
    /// GET manifest by tag, for T seconds at concurrency C.
    GetManifest,
    /// HEAD manifest by tag.
    HeadManifest,
    /// HEAD blob by digest.
    HeadBlob,
    /// The whole tags list of a repository with --tags tags.
    TagsList,
    /// The same list in pages of --page-size, following Link headers.
    TagsListPaged,
    /// /v2/_catalog over --repos repositories, in pages.
    CatalogPaged,
    /// Token issuance (GET on the token realm with Basic credentials).
    Token,
    /// 90% reads (manifest GET, blob HEAD), 10% small image pushes.
    Mix,
}

impl Scenario {
    pub const ALL: [Scenario; 12] = [
        Scenario::PushBlob,
        Scenario::PushBlobChunked,
        Scenario::PullBlob,
        Scenario::PushImages,
        Scenario::GetManifest,
        Scenario::HeadManifest,
        Scenario::HeadBlob,
        Scenario::TagsList,
        Scenario::TagsListPaged,
        Scenario::CatalogPaged,
        Scenario::Token,
        Scenario::Mix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::PushBlob => "push-blob",
            Scenario::PushBlobChunked => "push-blob-chunked",
            Scenario::PullBlob => "pull-blob",
            Scenario::PushImages => "push-images",
            Scenario::GetManifest => "get-manifest",
            Scenario::HeadManifest => "head-manifest",
            Scenario::HeadBlob => "head-blob",
            Scenario::TagsList => "tags-list",
            Scenario::TagsListPaged => "tags-list-paged",
            Scenario::CatalogPaged => "catalog-paged",
            Scenario::Token => "token",
            Scenario::Mix => "mix",
        }
    }
}

/// What the suite was asked to do.
#[derive(Debug, Clone)]
pub struct Settings {
    pub blob_size: u64,
    pub chunk_size: u64,
    pub images: u64,
    pub concurrency: usize,
    pub duration: Duration,
    pub tags: u64,
    pub repos: u64,
    pub page_size: u32,
    pub prefix: String,
    pub seed: u64,
    pub max_requests: u64,
}

impl Settings {
    pub fn repo(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }
}

/// One registry under test and what has been set up on it.
pub struct Target {
    pub reg: Arc<Registry>,
    pub probe: Option<Probe>,
    /// The account the token scenario logs in as (a robot, typically).
    pub token_creds: Option<Credentials>,
    big: Option<BigBlob>,
    fixture: Option<Fixture>,
    tags_ready: bool,
    catalog_ready: bool,
    /// Checks of the seeded listings (whole list, and a paged walk), made before measuring.
    tags_check: Option<(Walk, Walk)>,
    catalog_check: Option<Walk>,
    /// Requests that failed while seeding and succeeded when retried (a server problem
    /// worth knowing about, though not part of the measured figures).
    tags_seed_note: Option<String>,
    catalog_seed_note: Option<String>,
    /// Image numbers handed out so far (each push uses a new image).
    next_image: Arc<AtomicU64>,
    pub idle_rss_kib: Option<u64>,
    pub peak_rss_kib: u64,
}

impl Target {
    pub fn new(reg: Registry, probe: Option<Probe>, token_creds: Option<Credentials>) -> Target {
        let idle_rss_kib = probe.as_ref().and_then(Probe::rss_kib);
        Target {
            reg: Arc::new(reg),
            probe,
            token_creds,
            big: None,
            fixture: None,
            tags_ready: false,
            catalog_ready: false,
            tags_check: None,
            catalog_check: None,
            tags_seed_note: None,
            catalog_seed_note: None,
            next_image: Arc::new(AtomicU64::new(0)),
            idle_rss_kib,
            peak_rss_kib: idle_rss_kib.unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone)]
struct BigBlob {
    repo: String,
    digest: String,
}

#[derive(Debug, Clone)]
struct Fixture {
    repo: String,
    tag: String,
    layer: String,
}

/// Digests of generated blobs, computed once per (seed, size) for all targets.
#[derive(Default)]
pub struct DigestCache(HashMap<(u64, u64), String>);

impl DigestCache {
    fn get(&mut self, seed: u64, size: u64) -> String {
        self.0
            .entry((seed, size))
            .or_insert_with(|| random::sha256_of(seed, 0, size))
            .clone()
    }
}

/// The server's cost during one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ServerUsage {
    pub pid: u32,
    pub cpu_seconds: f64,
    /// Server CPU time divided by the HTTP requests the scenario sent.
    pub cpu_ms_per_request: Option<f64>,
    pub rss_before_mib: Option<f64>,
    pub rss_peak_mib: f64,
    pub hwm_mib: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub kind: &'static str,
    pub scenario: &'static str,
    pub target: String,
    pub url: String,
    /// `ok`, `skipped` or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub metric: &'static str,
    pub value: f64,
    pub seconds: f64,
    pub operations: u64,
    pub requests: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    pub concurrency: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerUsage>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl ScenarioResult {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// What a scenario body measured.
struct Measured {
    metric: &'static str,
    value: f64,
    seconds: f64,
    operations: u64,
    errors: u64,
    bytes: Option<u64>,
    concurrency: usize,
    latency: Option<Summary>,
    note: Option<String>,
    extra: Map<String, Value>,
}

impl Measured {
    fn from_loop(metric: &'static str, mut o: LoopOutcome, concurrency: usize) -> Measured {
        let secs = o.elapsed.as_secs_f64().max(1e-9);
        let latency = o.lat.first_mut().and_then(Latencies::summary);
        Measured {
            metric,
            value: o.ops as f64 / secs,
            seconds: secs,
            operations: o.ops,
            errors: o.errors,
            bytes: None,
            concurrency,
            latency,
            note: o.first_error.map(|e| format!("first error: {e}")),
            extra: Map::new(),
        }
    }

    fn throughput(bytes: u64, elapsed: Duration, requests: u64) -> Measured {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Measured {
            metric: "MB/s",
            value: bytes as f64 / 1e6 / secs,
            seconds: secs,
            operations: requests,
            errors: 0,
            bytes: Some(bytes),
            concurrency: 1,
            latency: None,
            note: None,
            extra: Map::new(),
        }
    }
}

/// The unit of a scenario's main figure.
pub fn metric_of(s: Scenario) -> &'static str {
    match s {
        Scenario::PushBlob | Scenario::PushBlobChunked | Scenario::PullBlob => "MB/s",
        Scenario::PushImages => "images/s",
        Scenario::TagsList => "lists/s",
        Scenario::TagsListPaged | Scenario::CatalogPaged => "pages/s",
        Scenario::Mix => "ops/s",
        _ => "req/s",
    }
}

/// Runs one scenario on one target: setup, then the measured part with the server's
/// CPU time and memory watched.
pub async fn run(
    scenario: Scenario,
    target: &mut Target,
    settings: &Settings,
    digests: &mut DigestCache,
) -> ScenarioResult {
    let mut result = ScenarioResult {
        kind: "result",
        scenario: scenario.name(),
        target: target.reg.name.clone(),
        url: target.reg.base.to_string(),
        status: "ok",
        note: None,
        metric: metric_of(scenario),
        value: 0.0,
        seconds: 0.0,
        operations: 0,
        requests: 0,
        errors: 0,
        bytes: None,
        concurrency: settings.concurrency,
        latency: None,
        server: None,
        extra: Map::new(),
    };
    let setup_started = Instant::now();
    if let Err(e) = setup(scenario, target, settings, digests).await {
        result.status = "failed";
        result.note = Some(format!("setup: {e:#}"));
        return result;
    }
    if let Some(reason) = skip_reason(scenario, target) {
        result.status = "skipped";
        result.note = Some(reason);
        return result;
    }
    let setup_secs = setup_started.elapsed().as_secs_f64();

    let requests_before = target.reg.requests();
    let cpu_before = target.probe.as_ref().and_then(|p| p.cpu_seconds().ok());
    let rss_before = target.probe.as_ref().and_then(Probe::rss_kib);
    let sampler = target
        .probe
        .as_ref()
        .map(|p| p.sample_rss(Duration::from_millis(50)));

    let measured = body(scenario, target, settings, digests).await;

    let peak = match sampler {
        Some(s) => Some(s.finish().await),
        None => None,
    };
    let requests = target.reg.requests() - requests_before;
    result.requests = requests;
    if let (Some(probe), Some(cpu_before)) = (&target.probe, cpu_before) {
        let cpu = probe.cpu_seconds().map(|c| c - cpu_before).unwrap_or(0.0);
        let peak = peak.unwrap_or(0).max(rss_before.unwrap_or(0));
        target.peak_rss_kib = target.peak_rss_kib.max(peak);
        let mib = |k: u64| k as f64 / 1024.0;
        result.server = Some(ServerUsage {
            pid: probe.pid,
            cpu_seconds: cpu,
            cpu_ms_per_request: (requests > 0).then(|| cpu * 1000.0 / requests as f64),
            rss_before_mib: rss_before.map(mib),
            rss_peak_mib: mib(peak),
            hwm_mib: probe.hwm_kib().map(mib),
        });
    }
    match measured {
        Ok(m) => {
            result.metric = m.metric;
            result.value = m.value;
            result.seconds = m.seconds;
            result.operations = m.operations;
            result.errors = m.errors;
            result.bytes = m.bytes;
            result.concurrency = m.concurrency;
            result.latency = m.latency;
            result.note = m.note;
            result.extra = m.extra;
            if m.operations == 0 && m.errors > 0 {
                result.status = "failed";
            }
        }
        Err(e) => {
            result.status = "failed";
            result.note = Some(format!("{e:#}"));
        }
    }
    let seed_note = match scenario {
        Scenario::TagsList | Scenario::TagsListPaged => target.tags_seed_note.clone(),
        Scenario::CatalogPaged => target.catalog_seed_note.clone(),
        _ => None,
    };
    if let Some(seed_note) = seed_note {
        result.note = Some(match result.note.take() {
            Some(n) => format!("{n}; {seed_note}"),
            None => seed_note,
        });
    }
    if setup_secs >= 1.0 {
        result
            .extra
            .insert("setup_seconds".into(), json!(round3(setup_secs)));
    }
    result
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn skip_reason(scenario: Scenario, target: &Target) -> Option<String> {
    match (scenario, target.reg.mode()) {
        (Scenario::Token, AuthMode::Bearer { .. }) => None,
        (Scenario::Token, AuthMode::Basic) => {
            Some("no token service (the registry authenticates with Basic)".into())
        }
        (Scenario::Token, AuthMode::Anonymous) => Some("no token service (anonymous)".into()),
        _ => None,
    }
}

fn big_seed(settings: &Settings, chunked: bool) -> u64 {
    random::mix(settings.seed ^ if chunked { 0xC4 } else { 0xB1 })
}

async fn setup(
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
    Ok(())
}

/// One small image tagged `bench` in `<prefix>-img`, read by the read scenarios.
async fn ensure_fixture(target: &mut Target, settings: &Settings) -> Result<()> {
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

fn tag_name(i: u64) -> String {
    format!("t{i:07}")
}

/// `<prefix>-tags` with `settings.tags` tags on one manifest (kept between runs: when
/// the last tag exists the seeding is skipped).
async fn ensure_tags(target: &mut Target, settings: &Settings) -> Result<()> {
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

fn catalog_repo(settings: &Settings, i: u64) -> String {
    format!("{}-cat-{i:05}", settings.prefix)
}

/// `settings.repos` repositories `<prefix>-cat-NNNNN`, one tiny image each.
async fn ensure_catalog(target: &mut Target, settings: &Settings) -> Result<()> {
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

async fn body(
    scenario: Scenario,
    target: &mut Target,
    settings: &Settings,
    digests: &mut DigestCache,
) -> Result<Measured> {
    let c = settings.concurrency;
    let d = settings.duration;
    let max = settings.max_requests;
    let reg = target.reg.clone();
    match scenario {
        Scenario::PushBlob => {
            let seed = big_seed(settings, false);
            let digest = digests.get(seed, settings.blob_size);
            let repo = settings.repo("blob");
            let t = Instant::now();
            oci::push_random_whole(&reg, &repo, seed, settings.blob_size, &digest).await?;
            let m = Measured::throughput(settings.blob_size, t.elapsed(), 2);
            target.big = Some(BigBlob { repo, digest });
            Ok(m)
        }
        Scenario::PushBlobChunked => {
            let seed = big_seed(settings, true);
            let digest = digests.get(seed, settings.blob_size);
            let repo = settings.repo("blob");
            let t = Instant::now();
            let requests = oci::push_random_chunked(
                &reg,
                &repo,
                seed,
                settings.blob_size,
                settings.chunk_size,
                &digest,
            )
            .await?;
            let mut m = Measured::throughput(settings.blob_size, t.elapsed(), requests);
            m.extra
                .insert("chunk_bytes".into(), json!(settings.chunk_size));
            Ok(m)
        }
        Scenario::PullBlob => {
            let big = target
                .big
                .clone()
                .ok_or_else(|| anyhow!("no blob to pull"))?;
            let t = Instant::now();
            let bytes = oci::pull_verify(&reg, &big.repo, &big.digest).await?;
            let mut m = Measured::throughput(bytes, t.elapsed(), 1);
            m.note = Some("sha256 verified".into());
            Ok(m)
        }
        Scenario::PushImages => {
            let repo = Arc::new(settings.repo("img"));
            let next = target.next_image.clone();
            let seed = settings.seed;
            let requests = Arc::new(AtomicU64::new(0));
            let req2 = requests.clone();
            let out = timed_loop(
                c,
                Duration::from_secs(3600).max(d),
                settings.images,
                1,
                move |_, _| {
                    let reg = reg.clone();
                    let repo = repo.clone();
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let requests = req2.clone();
                    async move {
                        let image = oci::small_image(seed, index);
                        let n = oci::push_image(&reg, &repo, &format!("i{index}"), &image).await?;
                        requests.fetch_add(n, Ordering::Relaxed);
                        Ok(0)
                    }
                },
            )
            .await;
            let ops = out.ops;
            let mut m = Measured::from_loop("images/s", out, c);
            if ops > 0 {
                m.extra.insert(
                    "requests_per_image".into(),
                    json!(round3(requests.load(Ordering::Relaxed) as f64 / ops as f64)),
                );
            }
            Ok(m)
        }
        Scenario::GetManifest | Scenario::HeadManifest | Scenario::HeadBlob => {
            let f = target
                .fixture
                .clone()
                .ok_or_else(|| anyhow!("no fixture"))?;
            let f = Arc::new(f);
            let out = timed_loop(c, d, max, 1, move |_, _| {
                let reg = reg.clone();
                let f = f.clone();
                async move {
                    match scenario {
                        Scenario::GetManifest => {
                            oci::get_manifest(&reg, &f.repo, &f.tag).await?;
                        }
                        Scenario::HeadManifest => {
                            if !oci::head_manifest(&reg, &f.repo, &f.tag).await? {
                                bail!("manifest not found");
                            }
                        }
                        _ => {
                            let scope = pull_scope(&f.repo);
                            if !oci::blob_exists(&reg, &f.repo, &f.layer, &scope).await? {
                                bail!("blob not found");
                            }
                        }
                    }
                    Ok(0)
                }
            })
            .await;
            Ok(Measured::from_loop("req/s", out, c))
        }
        Scenario::TagsList => {
            let repo = settings.repo("tags");
            let mut extra = Map::new();
            let (whole, pages) = target
                .tags_check
                .clone()
                .ok_or_else(|| anyhow!("tags not checked"))?;
            extra.insert("tags_returned".into(), json!(whole.items));
            extra.insert("requests_per_list".into(), json!(whole.pages));
            extra.insert("paged_total".into(), json!(pages.items));
            extra.insert("pages".into(), json!(pages.pages));
            extra.insert("largest_page".into(), json!(pages.largest));
            let url = Arc::new(reg.url(&format!("/v2/{repo}/tags/list"))?);
            let scope = Arc::new(pull_scope(&repo));
            let out = timed_loop(c, d, max, 1, move |_, _| {
                let reg = reg.clone();
                let url = url.clone();
                let scope = scope.clone();
                async move {
                    // The whole list: one request, or more if the registry pages it.
                    let mut next = Some((*url).clone());
                    for _ in 0..100_000 {
                        let Some(u) = next.take() else { break };
                        next = get_page_raw(&reg, &scope, &u).await?;
                    }
                    Ok(0)
                }
            })
            .await;
            let mut m = Measured::from_loop("lists/s", out, c);
            m.extra = extra;
            check_listing(
                &mut m,
                whole.items,
                &pages,
                settings.tags,
                settings.page_size,
                "tags",
            );
            Ok(m)
        }
        Scenario::TagsListPaged | Scenario::CatalogPaged => {
            let (first, scope, expected) = if scenario == Scenario::TagsListPaged {
                let repo = settings.repo("tags");
                (
                    format!("/v2/{repo}/tags/list?n={}", settings.page_size),
                    pull_scope(&repo),
                    settings.tags,
                )
            } else {
                (
                    format!("/v2/_catalog?n={}", settings.page_size),
                    CATALOG_SCOPE.to_owned(),
                    settings.repos,
                )
            };
            let pages = if scenario == Scenario::TagsListPaged {
                target.tags_check.clone().map(|(_, paged)| paged)
            } else {
                target.catalog_check.clone()
            }
            .ok_or_else(|| anyhow!("listing not checked"))?;
            let first = Arc::new(reg.url(&first)?);
            let scope = Arc::new(scope);
            let cursors: Arc<Vec<Mutex<Option<Url>>>> =
                Arc::new((0..c).map(|_| Mutex::new(None)).collect());
            let out = timed_loop(c, d, max, 1, move |w, _| {
                let reg = reg.clone();
                let scope = scope.clone();
                let cursors = cursors.clone();
                let url = cursors
                    .get(w)
                    .and_then(|m| m.lock().ok().and_then(|mut g| g.take()))
                    .unwrap_or_else(|| (*first).clone());
                async move {
                    let (_, next) = get_page(&reg, &scope, &url).await?;
                    if let Some(slot) = cursors.get(w)
                        && let Ok(mut g) = slot.lock()
                    {
                        *g = next;
                    }
                    Ok(0)
                }
            })
            .await;
            let mut m = Measured::from_loop("pages/s", out, c);
            m.extra.insert("pages_per_walk".into(), json!(pages.pages));
            m.extra.insert("items_per_walk".into(), json!(pages.items));
            m.extra.insert("largest_page".into(), json!(pages.largest));
            if scenario == Scenario::TagsListPaged {
                check_listing(
                    &mut m,
                    pages.items,
                    &pages,
                    expected,
                    settings.page_size,
                    "tags",
                );
            } else if pages.items < expected {
                m.note = Some(format!(
                    "catalog lists {} repositories, fewer than the {expected} seeded",
                    pages.items
                ));
            } else if pages.largest > settings.page_size as u64 {
                m.note = Some(format!(
                    "n={} not honoured: a page had {} entries",
                    settings.page_size, pages.largest
                ));
            }
            Ok(m)
        }
        Scenario::Token => {
            let creds = target.token_creds.clone();
            let scope = Arc::new(pull_scope(&settings.repo("img")));
            let out = timed_loop(c, d, max, 1, move |_, _| {
                let reg = reg.clone();
                let creds = creds.clone();
                let scope = scope.clone();
                async move {
                    let creds = creds.as_ref();
                    reg.fetch_token(creds, Some(&scope)).await?;
                    Ok(0)
                }
            })
            .await;
            let mut m = Measured::from_loop("req/s", out, c);
            if let Some(c) = &target.token_creds {
                m.extra.insert("account".into(), json!(c.user));
            }
            Ok(m)
        }
        Scenario::Mix => {
            let f = Arc::new(
                target
                    .fixture
                    .clone()
                    .ok_or_else(|| anyhow!("no fixture"))?,
            );
            let repo = Arc::new(settings.repo("mix"));
            let next = target.next_image.clone();
            let seed = settings.seed;
            let out = timed_loop(c, d, max, 2, move |_, seq| {
                let reg = reg.clone();
                let f = f.clone();
                let repo = repo.clone();
                let roll = random::mix(seed ^ seq.wrapping_mul(0x2545_F491_4F6C_DD1D)) % 100;
                let index = (roll >= 90).then(|| next.fetch_add(1, Ordering::Relaxed));
                async move {
                    match index {
                        None if roll < 45 => {
                            oci::get_manifest(&reg, &f.repo, &f.tag).await?;
                            Ok(0)
                        }
                        None => {
                            let scope = pull_scope(&f.repo);
                            if !oci::blob_exists(&reg, &f.repo, &f.layer, &scope).await? {
                                bail!("blob not found");
                            }
                            Ok(0)
                        }
                        Some(index) => {
                            let image = oci::small_image(seed, index);
                            oci::push_image(&reg, &repo, &format!("m{index}"), &image).await?;
                            Ok(1)
                        }
                    }
                }
            })
            .await;
            let mut pushes = out.lat.get(1).cloned().unwrap_or_default();
            let reads = out.lat.first().map(Latencies::len).unwrap_or(0);
            let mut m = Measured::from_loop("ops/s", out, c);
            m.extra.insert("reads".into(), json!(reads));
            m.extra.insert("pushes".into(), json!(pushes.len()));
            if let Some(s) = pushes.summary() {
                m.extra
                    .insert("push_p50_ms".into(), json!(round3(s.p50_ms)));
                m.extra
                    .insert("push_p99_ms".into(), json!(round3(s.p99_ms)));
            }
            m.extra.insert(
                "latency_is".into(),
                json!("reads only; pushes in push_p50/p99"),
            );
            Ok(m)
        }
    }
}

fn check_listing(
    m: &mut Measured,
    whole: u64,
    pages: &Walk,
    expected: u64,
    page_size: u32,
    what: &str,
) {
    let mut problems = Vec::new();
    if whole != expected {
        problems.push(format!(
            "whole list has {whole} {what}, expected {expected}"
        ));
    }
    if pages.items != expected {
        problems.push(format!(
            "paged walk saw {} {what}, expected {expected}",
            pages.items
        ));
    }
    if pages.largest > u64::from(page_size) {
        problems.push(format!(
            "n={page_size} not honoured: a page had {} entries",
            pages.largest
        ));
    }
    if !problems.is_empty() {
        let prior = m.note.take();
        m.note = Some(
            prior
                .into_iter()
                .chain(problems)
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
}

/// The whole tags list asked for without `n`, following `Link` headers if the registry
/// still pages it (Berth caps any page at 10,000 entries).
async fn list_whole(reg: &Registry, repo: &str) -> Result<Walk> {
    let url = reg.url(&format!("/v2/{repo}/tags/list"))?;
    walk_from(reg, &pull_scope(repo), url).await
}

#[derive(Debug, Clone)]
struct Walk {
    pages: u64,
    items: u64,
    largest: u64,
}

/// Walks a paged listing from the start, following `Link` headers (bounded).
async fn walk_pages(reg: &Registry, path: &str, scope: &str, n: u32) -> Result<Walk> {
    let url = reg.url(&format!("{path}?n={n}"))?;
    walk_from(reg, scope, url).await
}

async fn walk_from(reg: &Registry, scope: &str, mut url: Url) -> Result<Walk> {
    let mut walk = Walk {
        pages: 0,
        items: 0,
        largest: 0,
    };
    for _ in 0..1_000_000 {
        let (items, next) = get_page(reg, scope, &url).await?;
        walk.pages += 1;
        walk.items += items;
        walk.largest = walk.largest.max(items);
        match next {
            Some(next) => url = next,
            None => return Ok(walk),
        }
    }
    bail!("listing did not end after a million pages")
}

/// One page read without parsing it: the next page's URL, if any.
async fn get_page_raw(reg: &Registry, scope: &str, url: &Url) -> Result<Option<Url>> {
    let resp = reg.send(scope, |c| c.get(url.clone())).await?;
    let resp = expect(resp, &[StatusCode::OK], "listing").await?;
    let next = resp
        .headers()
        .get(LINK)
        .and_then(|v| v.to_str().ok())
        .and_then(upload::next_link)
        .map(|l| upload::resolve(url, l))
        .transpose()?;
    if let Some(next) = &next {
        reg.check_url(next)?;
    }
    resp.bytes().await?;
    Ok(next)
}

/// One page of `tags` or `repositories`: its entry count and the next page's URL.
async fn get_page(reg: &Registry, scope: &str, url: &Url) -> Result<(u64, Option<Url>)> {
    let resp = reg.send(scope, |c| c.get(url.clone())).await?;
    let resp = expect(resp, &[StatusCode::OK], "listing").await?;
    let next = resp
        .headers()
        .get(LINK)
        .and_then(|v| v.to_str().ok())
        .and_then(upload::next_link)
        .map(|l| upload::resolve(url, l))
        .transpose()?;
    if let Some(next) = &next {
        reg.check_url(next)?;
    }
    let body: Value = resp.json().await?;
    let items = ["tags", "repositories"]
        .iter()
        .find_map(|k| body.get(*k))
        .map(|v| v.as_array().map(|a| a.len() as u64).unwrap_or(0))
        .unwrap_or(0);
    Ok((items, next))
}

/// What a loop of workers did.
pub struct LoopOutcome {
    pub ops: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latencies of successful operations, by the kind the operation returned.
    pub lat: Vec<Latencies>,
    pub first_error: Option<String>,
}

/// Runs `op` from `concurrency` workers until `duration` has passed or `max_ops`
/// operations have started, whichever comes first. `op(worker, n)` returns the kind
/// (`0..kinds`) its latency is filed under.
pub async fn timed_loop<F, Fut>(
    concurrency: usize,
    duration: Duration,
    max_ops: u64,
    kinds: usize,
    op: F,
) -> LoopOutcome
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<usize>> + Send + 'static,
{
    let kinds = kinds.max(1);
    let op = Arc::new(op);
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::with_capacity(concurrency);
    for w in 0..concurrency.max(1) {
        let op = op.clone();
        let issued = issued.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = vec![Latencies::new(); kinds];
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None::<String>);
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= max_ops {
                    break;
                }
                let t = Instant::now();
                match op(w, n).await {
                    Ok(kind) => {
                        if let Some(l) = lat.get_mut(kind.min(kinds - 1)) {
                            l.record(t.elapsed());
                        }
                        ok += 1;
                    }
                    Err(e) => {
                        errors += 1;
                        if first_error.is_none() {
                            first_error = Some(format!("{e:#}"));
                        }
                        // Do not spin on a server that refuses connections.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            (lat, ok, errors, first_error)
        }));
    }
    let mut out = LoopOutcome {
        ops: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        lat: vec![Latencies::new(); kinds],
        first_error: None,
    };
    for h in handles {
        match h.await {
            Ok((lat, ok, errors, first_error)) => {
                for (into, from) in out.lat.iter_mut().zip(lat) {
                    into.merge(from);
                }
                out.ops += ok;
                out.errors += errors;
                if out.first_error.is_none() {
                    out.first_error = first_error;
                }
            }
            Err(e) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("worker: {e}"));
            }
        }
    }
    out.elapsed = start.elapsed();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loop_stops_by_count() {
        let out = timed_loop(4, Duration::from_secs(60), 100, 1, |_, _| async { Ok(0) }).await;
        assert_eq!(out.ops, 100);
        assert_eq!(out.errors, 0);
        assert_eq!(out.lat[0].len(), 100);
    }

    #[tokio::test]
    async fn loop_stops_by_time_and_counts_errors() {
        let out = timed_loop(
            2,
            Duration::from_millis(50),
            u64::MAX,
            2,
            |_, n| async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                if n % 2 == 0 { Ok(1) } else { bail!("odd {n}") }
            },
        )
        .await;
        assert!(out.elapsed >= Duration::from_millis(50));
        assert!(out.elapsed < Duration::from_secs(5));
        assert!(out.ops > 0 && out.errors > 0);
        assert_eq!(out.lat[0].len(), 0);
        assert_eq!(out.lat[1].len() as u64, out.ops);
        assert!(out.first_error.unwrap().starts_with("odd"));
    }

    #[test]
    fn scenario_names_match_the_cli() {
        use clap::ValueEnum as _;
        for s in Scenario::ALL {
            let pv = s.to_possible_value().unwrap();
            assert_eq!(pv.get_name(), s.name());
        }
    }
}
