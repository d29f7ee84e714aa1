//! The benchmark scenarios. Each runs on one target, bounded by a count or a time, and
//! yields one [`ScenarioResult`]; setup work (seeding tags, repositories, fixtures) is
//! done before measuring and is not part of the figures.
//!
//! Here: the scenarios, settings, targets and results, and [`run`]. What a scenario does
//! while measured is in `body`, the seeding before it in `seeding`, the walks of paged
//! listings in `listing`, and the loop of concurrent workers in `timed_loop`.

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

mod body;
mod listing;
mod seeding;
mod timed_loop;

use body::*;
use listing::*;
pub(crate) use seeding::Retries;
use seeding::*;
pub use timed_loop::{LoopOutcome, timed_loop};

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
    let tokens_before = target.reg.token_requests();
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
    let token_requests = target.reg.token_requests() - tokens_before;
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
            // Setup fetches the tokens a scenario needs; a fetch while measuring (a
            // token that ran out, or a scope setup missed) shows here.
            if scenario != Scenario::Token {
                result
                    .extra
                    .insert("token_requests".into(), json!(token_requests));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_match_the_cli() {
        use clap::ValueEnum as _;
        for s in Scenario::ALL {
            let pv = s.to_possible_value().unwrap();
            assert_eq!(pv.get_name(), s.name());
        }
    }
}
