//! Measuring the list endpoints over a seeded metadata-scale dataset: for each endpoint,
//! a fixed number of requests at concurrency 1 (latency of one caller) and at a higher
//! concurrency (latency under load), spread over projects, repositories, page sizes and
//! pages, including the last page of each listing (the deepest OFFSET).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::api::{Api, BASE};
use crate::client::{expect, pull_scope};
use crate::dataset::{self, Plan};
use crate::procfs::Probe;
use crate::random;
use crate::report::{fmt_num, render};
use crate::scenarios::timed_loop;
use crate::stats::Summary;

/// Page sizes the requests cycle through (Harbor's UI uses 10 to 100).
const PAGE_SIZES: [u64; 4] = [10, 15, 50, 100];

/// Every endpoint measured, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Projects,
    AllRepositories,
    Repositories,
    Artifacts,
    ArtifactTags,
    Members,
    AuditLogs,
    ProjectLogs,
    V2Tags,
    V2TagsN100,
    V2TagsPaged,
    /// A trivial API request with Basic credentials: what the password check alone costs.
    CurrentUserBasic,
}

impl Endpoint {
    pub const ALL: [Endpoint; 12] = [
        Endpoint::Projects,
        Endpoint::AllRepositories,
        Endpoint::Repositories,
        Endpoint::Artifacts,
        Endpoint::ArtifactTags,
        Endpoint::Members,
        Endpoint::AuditLogs,
        Endpoint::ProjectLogs,
        Endpoint::V2Tags,
        Endpoint::V2TagsN100,
        Endpoint::V2TagsPaged,
        Endpoint::CurrentUserBasic,
    ];

    /// The route, as shown in the tables.
    pub fn route(self) -> &'static str {
        match self {
            Endpoint::Projects => "GET /api/v2.0/projects",
            Endpoint::AllRepositories => "GET /api/v2.0/repositories",
            Endpoint::Repositories => "GET /api/v2.0/projects/{p}/repositories",
            Endpoint::Artifacts => "GET .../repositories/{r}/artifacts?with_tag=true",
            Endpoint::ArtifactTags => "GET .../artifacts/{ref}/tags",
            Endpoint::Members => "GET /api/v2.0/projects/{p}/members",
            Endpoint::AuditLogs => "GET /api/v2.0/audit-logs",
            Endpoint::ProjectLogs => "GET /api/v2.0/projects/{p}/logs",
            Endpoint::V2Tags => "GET /v2/{name}/tags/list",
            Endpoint::V2TagsN100 => "GET /v2/{name}/tags/list?n=100",
            Endpoint::V2TagsPaged => "GET /v2/{name}/tags/list?n=10&last=..",
            Endpoint::CurrentUserBasic => "GET /api/v2.0/users/current (Basic)",
        }
    }

    /// Whether the measured request goes to the admin API (else `/v2`).
    fn is_api(self) -> bool {
        !matches!(
            self,
            Endpoint::V2Tags | Endpoint::V2TagsN100 | Endpoint::V2TagsPaged
        )
    }
}

/// Sizes of the global listings, read from the server before measuring (the per-project
/// ones follow from the plan).
#[derive(Debug, Clone, Copy)]
pub struct Totals {
    pub projects: u64,
    pub repositories: u64,
    pub audit: u64,
    pub project_logs: u64,
    pub members: u64,
}

impl Totals {
    pub async fn read(api: &Api, plan: &Plan) -> Result<Totals> {
        let p0 = dataset::project_name(0);
        Ok(Totals {
            projects: api.total(&format!("{BASE}/projects")).await?,
            repositories: api.total(&format!("{BASE}/repositories")).await?,
            audit: api.total(&format!("{BASE}/audit-logs")).await?,
            project_logs: api.total(&format!("{BASE}/projects/{p0}/logs")).await?,
            // The seeded members plus the project's creator.
            members: plan.members_per_project.min(plan.users) + 1,
        })
    }
}

/// A page size and a page of a listing of `total` items: every tenth request asks for
/// the last page, the others for a page drawn at random.
pub fn pick_page(r: u64, n: u64, total: u64) -> (u64, u64) {
    let size = PAGE_SIZES[(r % PAGE_SIZES.len() as u64) as usize];
    let pages = total.div_ceil(size).max(1);
    let page = if n % 10 == 9 {
        pages
    } else {
        1 + random::mix(r) % pages
    };
    (page, size)
}

/// The request number `n` of `endpoint`: its path and query, different projects,
/// repositories and pages from one request to the next.
pub fn request_path(endpoint: Endpoint, plan: &Plan, totals: &Totals, seed: u64, n: u64) -> String {
    let r = random::mix(seed ^ random::mix(n.wrapping_add(endpoint as u64 * 0x1_0000_0001)));
    let p = r % plan.projects;
    let repo = (r >> 16) % plan.repos_per_project;
    let a = (r >> 32) % plan.artifacts_per_repo;
    let project = dataset::project_name(p);
    let short = dataset::repo_short(repo);
    let paged = |total: u64| {
        let (page, size) = pick_page(r >> 8, n, total);
        format!("page={page}&page_size={size}")
    };
    match endpoint {
        Endpoint::Projects => format!("{BASE}/projects?{}", paged(totals.projects)),
        Endpoint::AllRepositories => format!("{BASE}/repositories?{}", paged(totals.repositories)),
        Endpoint::Repositories => format!(
            "{BASE}/projects/{project}/repositories?{}",
            paged(plan.repos_per_project)
        ),
        Endpoint::Artifacts => format!(
            "{BASE}/projects/{project}/repositories/{short}/artifacts?with_tag=true&{}",
            paged(plan.artifacts_per_repo)
        ),
        Endpoint::ArtifactTags => format!(
            "{BASE}/projects/{project}/repositories/{short}/artifacts/{}/tags?{}",
            dataset::tag_name(a, 0),
            paged(plan.tags_per_artifact)
        ),
        Endpoint::Members => format!(
            "{BASE}/projects/{project}/members?{}",
            paged(totals.members)
        ),
        Endpoint::AuditLogs => format!("{BASE}/audit-logs?{}", paged(totals.audit)),
        Endpoint::ProjectLogs => format!(
            "{BASE}/projects/{project}/logs?{}",
            paged(totals.project_logs)
        ),
        Endpoint::V2Tags => format!("/v2/{}/tags/list", dataset::repo_name(p, repo)),
        Endpoint::V2TagsN100 => format!("/v2/{}/tags/list?n=100", dataset::repo_name(p, repo)),
        Endpoint::V2TagsPaged => {
            let t = (r >> 40) % plan.tags_per_artifact;
            format!(
                "/v2/{}/tags/list?n=10&last={}",
                dataset::repo_name(p, repo),
                dataset::tag_name(a, t)
            )
        }
        Endpoint::CurrentUserBasic => format!("{BASE}/users/current"),
    }
}

/// The figures of one endpoint at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointResult {
    pub kind: &'static str,
    pub endpoint: &'static str,
    pub example: String,
    pub auth: &'static str,
    pub concurrency: usize,
    pub requests: u64,
    pub errors: u64,
    pub req_per_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_ms_per_request: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_peak_mib: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// One request, its body read and checked: an API listing is a JSON array, a `/v2`
/// tags list an object whose `tags` has the expected length when the whole list was
/// asked for.
async fn one(api: &Api, endpoint: Endpoint, path: &str, plan: &Plan) -> Result<()> {
    let resp = if endpoint == Endpoint::CurrentUserBasic {
        api.send_basic(Method::GET, path).await?
    } else if endpoint.is_api() {
        api.send(Method::GET, path, None).await?
    } else {
        let name = path
            .trim_start_matches("/v2/")
            .split("/tags/list")
            .next()
            .unwrap_or_default()
            .to_owned();
        let url = api.reg.url(path)?;
        api.reg
            .send(&pull_scope(&name), |c| {
                c.get(url.clone()).header(ACCEPT, "application/json")
            })
            .await?
    };
    let resp = expect(resp, &[StatusCode::OK], path).await?;
    let body: Value = resp.json().await.with_context(|| format!("{path}: body"))?;
    match endpoint {
        Endpoint::CurrentUserBasic => {}
        Endpoint::V2Tags | Endpoint::V2TagsN100 => {
            let got = body["tags"].as_array().map_or(0, Vec::len) as u64;
            let want = plan.tags_per_repo().min(if endpoint == Endpoint::V2Tags {
                u64::MAX
            } else {
                100
            });
            if got != want {
                bail!("{path}: {got} tags, expected {want}");
            }
        }
        Endpoint::V2TagsPaged => {
            body["tags"]
                .as_array()
                .ok_or_else(|| anyhow!("{path}: no tags array"))?;
        }
        _ => {
            body.as_array()
                .ok_or_else(|| anyhow!("{path}: not a JSON array"))?;
        }
    }
    Ok(())
}

/// Measures every endpoint at each of `concurrencies`, `requests` requests each.
pub async fn measure(
    api: Arc<Api>,
    plan: Plan,
    concurrencies: &[usize],
    requests: u64,
    seed: u64,
    probe: Option<&Probe>,
) -> Result<Vec<EndpointResult>> {
    plan.check()?;
    let totals = Totals::read(&api, &plan).await?;
    eprintln!(
        "measuring over {} projects, {} repositories, {} audit records ({} in {})",
        totals.projects,
        totals.repositories,
        totals.audit,
        totals.project_logs,
        dataset::project_name(0)
    );
    prime_pull_tokens(&api, &plan).await?;
    // A warm-up pass (not measured): connections, tokens, the server's caches.
    for endpoint in Endpoint::ALL {
        let path = request_path(endpoint, &plan, &totals, seed ^ 0xA5A5, 0);
        one(&api, endpoint, &path, &plan).await?;
    }
    let mut results = Vec::new();
    for &c in concurrencies {
        for endpoint in Endpoint::ALL {
            let r = measure_one(&api, endpoint, &plan, &totals, c, requests, seed, probe).await;
            eprintln!("{}", progress_line(&r));
            results.push(r);
        }
    }
    Ok(results)
}

/// Pull tokens for every repository, fetched before measuring in batches of this many
/// repositories per token: a client keeps its token, so the `/v2` figures should not
/// include logins (each a deliberate password check on the server).
const REPOS_PER_TOKEN: u64 = 50;

async fn prime_pull_tokens(api: &Api, plan: &Plan) -> Result<()> {
    let repos = plan.repositories();
    let mut first = 0;
    while first < repos {
        let last = (first + REPOS_PER_TOKEN).min(repos);
        let scopes: Vec<String> = (first..last)
            .map(|i| {
                let (p, r) = plan.repo_at(i);
                pull_scope(&dataset::repo_name(p, r))
            })
            .collect();
        api.reg.prime_tokens(&scopes).await?;
        first = last;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn measure_one(
    api: &Arc<Api>,
    endpoint: Endpoint,
    plan: &Plan,
    totals: &Totals,
    concurrency: usize,
    requests: u64,
    seed: u64,
    probe: Option<&Probe>,
) -> EndpointResult {
    let cpu0 = probe.and_then(|p| p.cpu_seconds().ok());
    let sampler = probe.map(|p| p.sample_rss(Duration::from_millis(50)));
    let (a, plan2, totals2) = (api.clone(), *plan, *totals);
    let out = timed_loop(
        concurrency,
        Duration::from_secs(3600),
        requests,
        1,
        move |_, n| {
            let a = a.clone();
            async move {
                let path = request_path(endpoint, &plan2, &totals2, seed, n);
                one(&a, endpoint, &path, &plan2).await?;
                Ok(0)
            }
        },
    )
    .await;
    let rss_peak_mib = match sampler {
        Some(s) => Some(s.finish().await as f64 / 1024.0),
        None => None,
    };
    let cpu = probe
        .and_then(|p| p.cpu_seconds().ok())
        .zip(cpu0)
        .map(|(b, a)| b - a);
    let mut lat = out.lat.into_iter().next().unwrap_or_default();
    let secs = out.elapsed.as_secs_f64().max(1e-9);
    EndpointResult {
        kind: "metadata",
        endpoint: endpoint.route(),
        example: request_path(endpoint, plan, totals, seed, 9),
        auth: if endpoint == Endpoint::CurrentUserBasic || !endpoint.is_api() {
            if endpoint.is_api() { "Basic" } else { "token" }
        } else {
            api.auth_name()
        },
        concurrency,
        requests: out.ops,
        errors: out.errors,
        req_per_s: (out.ops as f64 / secs * 10.0).round() / 10.0,
        latency: lat.summary(),
        cpu_ms_per_request: cpu
            .filter(|_| out.ops > 0)
            .map(|c| (c * 1000.0 / out.ops as f64 * 1000.0).round() / 1000.0),
        rss_peak_mib: rss_peak_mib.map(|m| (m * 10.0).round() / 10.0),
        first_error: out.first_error,
    }
}

fn progress_line(r: &EndpointResult) -> String {
    let mut s = format!("{:<48} c={:<3}", r.endpoint, r.concurrency);
    if let Some(l) = &r.latency {
        s.push_str(&format!(
            " p50 {} p95 {} p99 {} ms",
            fmt_num(l.p50_ms),
            fmt_num(l.p95_ms),
            fmt_num(l.p99_ms)
        ));
    }
    if r.errors > 0 {
        s.push_str(&format!(
            " errors {} (first: {})",
            r.errors,
            r.first_error.as_deref().unwrap_or("")
        ));
    }
    s
}

/// One row per endpoint: p50/p95/p99 at each concurrency, errors, server CPU per request.
pub fn table(results: &[EndpointResult], target_ms: f64, markdown: bool) -> String {
    let mut concurrencies: Vec<usize> = results.iter().map(|r| r.concurrency).collect();
    concurrencies.dedup();
    let mut headers: Vec<String> = vec!["endpoint".into(), "auth".into()];
    for c in &concurrencies {
        headers.push(format!("c={c} p50 ms"));
        headers.push(format!("c={c} p95 ms"));
        headers.push(format!("c={c} p99 ms"));
        headers.push(format!("c={c} req/s"));
    }
    headers.push("errors".into());
    headers.push("server CPU ms/req (c=1)".into());
    headers.push(format!("p95 <= {target_ms} ms"));
    let mut rows = Vec::new();
    for endpoint in Endpoint::ALL.map(Endpoint::route) {
        let of: Vec<&EndpointResult> = results.iter().filter(|r| r.endpoint == endpoint).collect();
        let Some(first) = of.first() else { continue };
        let mut row = vec![endpoint.replace('|', "/"), first.auth.to_owned()];
        let mut errors = 0;
        for c in &concurrencies {
            match of.iter().find(|r| r.concurrency == *c) {
                Some(r) => {
                    errors += r.errors;
                    let l = r.latency.unwrap_or_default();
                    row.push(fmt_num(l.p50_ms));
                    row.push(fmt_num(l.p95_ms));
                    row.push(fmt_num(l.p99_ms));
                    row.push(fmt_num(r.req_per_s));
                }
                None => row.extend(std::iter::repeat_n(String::new(), 4)),
            }
        }
        row.push(errors.to_string());
        row.push(first.cpu_ms_per_request.map(fmt_num).unwrap_or_default());
        let c1 = of
            .iter()
            .find(|r| r.concurrency == 1)
            .and_then(|r| r.latency)
            .map(|l| l.p95_ms);
        // The target is about listings; the Basic row only shows the password's cost.
        let listing = endpoint != Endpoint::CurrentUserBasic.route();
        row.push(match c1 {
            _ if !listing => "-".into(),
            Some(p) if p <= target_ms => "yes".into(),
            Some(_) => "**no**".into(),
            None => String::new(),
        });
        rows.push(row);
    }
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut out = render(&headers, &rows, markdown);
    if !markdown {
        out = out.replace("**no**", "NO");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Scale;

    fn totals() -> Totals {
        Totals {
            projects: 101,
            repositories: 10_000,
            audit: 123_456,
            project_logs: 1200,
            members: 4,
        }
    }

    #[test]
    fn every_tenth_request_reads_the_last_page() {
        for n in 0..200 {
            let (page, size) = pick_page(random::mix(n), n, 123_456);
            assert!(PAGE_SIZES.contains(&size));
            let pages = 123_456u64.div_ceil(size);
            assert!((1..=pages).contains(&page), "{page} of {pages}");
            if n % 10 == 9 {
                assert_eq!(page, pages);
            }
        }
        // A listing smaller than a page still has page 1.
        assert_eq!(pick_page(0, 9, 3), (1, 10));
        assert_eq!(pick_page(0, 9, 0), (1, 10));
    }

    #[test]
    fn paths_stay_inside_the_dataset_and_vary() {
        let plan = Plan::of(Scale::Small);
        let t = totals();
        let mut seen = std::collections::HashSet::new();
        for n in 0..200 {
            let path = request_path(Endpoint::Artifacts, &plan, &t, 7, n);
            assert!(path.starts_with("/api/v2.0/projects/md-p0"), "{path}");
            assert!(path.contains("/repositories/r0"), "{path}");
            assert!(path.contains("with_tag=true"), "{path}");
            seen.insert(path);
        }
        assert!(seen.len() > 150, "{}", seen.len());
        let deep = request_path(Endpoint::AuditLogs, &plan, &t, 7, 9);
        let size: u64 = deep
            .rsplit("page_size=")
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap();
        assert!(
            deep.contains(&format!("page={}&", 123_456u64.div_ceil(size))),
            "{deep}"
        );
        let v2 = request_path(Endpoint::V2TagsPaged, &plan, &t, 7, 3);
        assert!(
            v2.starts_with("/v2/md-p0") && v2.contains("/tags/list?n=10&last=a0"),
            "{v2}"
        );
        // Tiny has one project: every request goes there.
        let tiny = Plan::of(Scale::Tiny);
        for n in 0..50 {
            assert!(request_path(Endpoint::Members, &tiny, &t, 1, n).contains("/md-p000/"));
        }
    }

    #[test]
    fn table_flags_slow_endpoints() {
        let result = |endpoint: Endpoint, c: usize, p95: f64| EndpointResult {
            kind: "metadata",
            endpoint: endpoint.route(),
            example: String::new(),
            auth: "token",
            concurrency: c,
            requests: 200,
            errors: 0,
            req_per_s: 100.0,
            latency: Some(Summary {
                count: 200,
                p50_ms: p95 / 2.0,
                p95_ms: p95,
                p99_ms: p95 * 1.5,
                ..Summary::default()
            }),
            cpu_ms_per_request: Some(1.5),
            rss_peak_mib: None,
            first_error: None,
        };
        let results = vec![
            result(Endpoint::Projects, 1, 3.0),
            result(Endpoint::AuditLogs, 1, 80.0),
            result(Endpoint::Projects, 16, 9.0),
            result(Endpoint::AuditLogs, 16, 300.0),
            result(Endpoint::CurrentUserBasic, 1, 80.0),
        ];
        let md = table(&results, 50.0, true);
        assert_eq!(md.lines().count(), 5, "{md}");
        let basic = md.lines().find(|l| l.contains("(Basic)")).unwrap();
        assert!(basic.trim_end().ends_with("| -            |"), "{basic}");
        assert!(md.contains("c=16 p95 ms"), "{md}");
        let audit = md.lines().find(|l| l.contains("audit-logs")).unwrap();
        assert!(
            audit.contains("**no**") && audit.contains("| 300 "),
            "{audit}"
        );
        let projects = md.lines().find(|l| l.contains("/projects ")).unwrap();
        assert!(projects.contains("yes"), "{projects}");
        assert!(table(&results, 50.0, false).contains("NO"));
    }
}
