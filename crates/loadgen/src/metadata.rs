//! The metadata-scale scenario (`berth-bench metadata`): seed a Harbor-sized dataset of
//! projects, repositories, artifacts, tags, users, members and audit records, then
//! measure the list endpoints over it. Seeding is in [`crate::seed`], measuring in
//! [`crate::measure`], names and counts in [`crate::dataset`]; this joins them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use serde_json::json;
use url::Url;

use crate::api::{Api, ApiAuth};
use crate::client::{Credentials, Registry};
use crate::dataset::{Plan, Scale};
use crate::measure::{self, EndpointResult};
use crate::procfs::Probe;
use crate::seed::{self, PhaseReport, TagVia};

/// The target of the issue: admin API list endpoints at the small size, p95 <= 50 ms.
pub const TARGET_P95_MS: f64 = 50.0;

pub struct Options {
    pub base: Url,
    pub creds: Credentials,
    pub name: String,
    pub allow_remote: bool,
    pub scale: Scale,
    pub seed: bool,
    pub measure: bool,
    pub concurrency: usize,
    pub requests: u64,
    pub api_auth: ApiAuth,
    pub tag_via: TagVia,
    pub pid: Option<u32>,
    pub request_seed: u64,
    pub markdown: Option<PathBuf>,
}

/// What a run did: the seeding phases and the measurements.
pub struct Outcome {
    pub seeded: Vec<PhaseReport>,
    pub seed_seconds: Option<f64>,
    pub results: Vec<EndpointResult>,
}

impl Outcome {
    pub fn errors(&self) -> u64 {
        self.results.iter().map(|r| r.errors).sum()
    }
}

/// Seeds and/or measures as `opts` says, printing JSON lines on stdout and the table on
/// stderr (and as Markdown to `opts.markdown`).
pub async fn run(opts: Options) -> Result<Outcome> {
    let plan = Plan::of(opts.scale);
    plan.check()?;
    if opts.concurrency == 0 || opts.concurrency > 1024 {
        bail!("--concurrency must be between 1 and 1024");
    }
    let basic = opts.creds.basic_header()?;
    let reg = Registry::connect(
        opts.name.clone(),
        opts.base.clone(),
        Some(opts.creds.clone()),
        opts.allow_remote,
        opts.concurrency + 4,
    )
    .await
    .with_context(|| format!("connecting to {}", opts.name))?;
    let api = Arc::new(Api::connect(Arc::new(reg), basic, opts.api_auth).await?);
    let probe = opts.pid.map(Probe::new).transpose()?;
    println!(
        "{}",
        json!({
            "kind": "settings",
            "scenario": "metadata",
            "target": opts.name,
            "scale": format!("{:?}", opts.scale).to_lowercase(),
            "projects": plan.projects,
            "repositories": plan.repositories(),
            "artifacts": plan.artifacts(),
            "tags": plan.tags(),
            "users": plan.users,
            "members": plan.members(),
            "audit_records": plan.audit_records,
            "concurrency": opts.concurrency,
            "requests": opts.requests,
            "api_auth": api.auth_name(),
            "tag_via": format!("{:?}", opts.tag_via).to_lowercase(),
        })
    );
    eprintln!(
        "metadata at {:?} scale on {} ({} API auth): {} projects, {} repositories, {} artifacts, {} tags, {} users, {} audit records",
        opts.scale,
        api.reg.base,
        api.auth_name(),
        plan.projects,
        plan.repositories(),
        plan.artifacts(),
        plan.tags(),
        plan.users,
        plan.audit_records
    );

    let mut outcome = Outcome {
        seeded: Vec::new(),
        seed_seconds: None,
        results: Vec::new(),
    };
    if opts.seed {
        let t = Instant::now();
        outcome.seeded = seed::seed(api.clone(), plan, opts.concurrency, opts.tag_via).await?;
        let secs = t.elapsed().as_secs_f64();
        outcome.seed_seconds = Some(secs);
        for r in &outcome.seeded {
            println!("{}", serde_json::to_string(r)?);
        }
        println!(
            "{}",
            json!({"kind": "seed-total", "seconds": (secs * 10.0).round() / 10.0})
        );
        eprintln!("seeding took {:.1} s", secs);
    }
    if opts.measure {
        let mut levels = vec![1];
        if opts.concurrency > 1 {
            levels.push(opts.concurrency);
        }
        outcome.results = measure::measure(
            api.clone(),
            plan,
            &levels,
            opts.requests,
            opts.request_seed,
            probe.as_ref(),
        )
        .await?;
        for r in &outcome.results {
            println!("{}", serde_json::to_string(r)?);
        }
        eprintln!();
        eprint!("{}", measure::table(&outcome.results, TARGET_P95_MS, false));
        if let Some(path) = &opts.markdown {
            std::fs::write(path, measure::table(&outcome.results, TARGET_P95_MS, true))
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(outcome)
}
