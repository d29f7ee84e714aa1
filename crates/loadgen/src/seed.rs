//! Seeding the metadata-scale dataset over HTTP only: users, projects and members through
//! the Harbor API, repositories, artifacts and tags through `/v2`, then enough pulls to
//! reach the planned number of audit records. Work that is already there is skipped or
//! answered with a harmless 409, so an interrupted seeding resumes where it stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::api::{Api, BASE};
use crate::client::{Registry, expect, pull_scope, push_scope};
use crate::dataset::{self, Plan};
use crate::oci::{self, Blob, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST};
use crate::random;
use crate::scenarios::{Retries, timed_loop};

/// How tags beyond an artifact's first are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TagVia {
    /// `PUT /v2/<repo>/manifests/<tag>` with the manifest again (what `docker push` does).
    V2,
    /// `POST /api/v2.0/projects/{p}/repositories/{r}/artifacts/{digest}/tags`.
    Api,
}

/// Repositories handled by one unit of work: they share one token (one login, a
/// deliberately slow password check on the server).
const REPOS_PER_BATCH: u64 = 25;

/// Longer than any seeding can take; the loops stop by count.
const NO_DEADLINE: Duration = Duration::from_secs(7 * 24 * 3600);

/// One phase of the seeding, as printed in its JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub kind: &'static str,
    pub phase: &'static str,
    /// Items the phase is about (users, projects, tags, ...), present or created.
    pub items: u64,
    /// Of those, created by this run.
    pub created: u64,
    pub requests: u64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Counts work done and prints a progress line on stderr every few seconds.
pub struct Progress {
    done: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start(what: &'static str, total: u64) -> Progress {
        let done = Arc::new(AtomicU64::new(0));
        let counter = done.clone();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = counter.load(Ordering::Relaxed);
                eprintln!("{}", progress_line(what, n, total, started.elapsed()));
            }
        });
        Progress { done, task }
    }

    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    pub fn counter(&self) -> Arc<AtomicU64> {
        self.done.clone()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `tags: 12000/500000 (2.4%), 812/s, ETA 10m01s`.
pub fn progress_line(what: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let rate = done as f64 / secs;
    let pct = if total == 0 {
        100.0
    } else {
        100.0 * done as f64 / total as f64
    };
    let eta = if rate > 0.0 && done < total {
        let left = ((total - done) as f64 / rate).round() as u64;
        format!("{}m{:02}s", left / 60, left % 60)
    } else {
        "-".to_owned()
    };
    format!("  {what}: {done}/{total} ({pct:.1}%), {rate:.0}/s, ETA {eta}")
}

/// The config and layer every seeded image shares: tiny, fixed content, so a resumed run
/// pushes exactly the same blobs.
pub struct SharedBlobs {
    pub config: Blob,
    pub layer: Blob,
}

impl SharedBlobs {
    pub fn new() -> SharedBlobs {
        let layer = Blob::new(random::bytes(0x4D45_5441, 0, 1024));
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "rootfs": { "type": "layers", "diff_ids": [layer.digest] },
        });
        SharedBlobs {
            config: Blob::new(Bytes::from(config.to_string())),
            layer,
        }
    }

    /// Artifact `a` of `repo`: the shared config and layer, made distinct by an
    /// annotation (so every artifact of the dataset has its own digest).
    pub fn manifest(&self, repo: &str, a: u64) -> Bytes {
        let d = |media: &str, b: &Blob| json!({ "mediaType": media, "digest": b.digest, "size": b.data.len() });
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": d(OCI_CONFIG, &self.config),
            "layers": [d(OCI_LAYER, &self.layer)],
            "annotations": { "org.berth.bench.artifact": format!("{repo}#{a}") },
        });
        Bytes::from(manifest.to_string())
    }
}

impl Default for SharedBlobs {
    fn default() -> Self {
        SharedBlobs::new()
    }
}

/// Seeds everything `plan` describes; one report per phase.
pub async fn seed(
    api: Arc<Api>,
    plan: Plan,
    concurrency: usize,
    tag_via: TagVia,
) -> Result<Vec<PhaseReport>> {
    plan.check()?;
    let mut reports = vec![
        seed_users(&api, &plan, concurrency).await?,
        seed_projects(&api, &plan, concurrency).await?,
        seed_members(&api, &plan, concurrency).await?,
    ];
    reports.push(seed_repositories(&api, &plan, concurrency, tag_via).await?);
    reports.push(seed_audit(&api, &plan, concurrency).await?);
    Ok(reports)
}

fn report(phase: &'static str, items: u64, created: u64, requests: u64, t: Instant) -> PhaseReport {
    let r = PhaseReport {
        kind: "seed",
        phase,
        items,
        created,
        requests,
        seconds: (t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        note: None,
    };
    eprintln!(
        "seeded {phase}: {items} ({created} new) in {:.1} s",
        r.seconds
    );
    r
}

/// Runs `op(i)` for `i` in `0..n` on `concurrency` workers, retrying failures; `op`
/// returns how many items it created. Fails if any item still fails after retries.
async fn each<F, Fut>(
    what: &'static str,
    n: u64,
    concurrency: usize,
    progress_total: u64,
    op: F,
) -> Result<(u64, Option<String>)>
where
    F: Fn(u64, Arc<AtomicU64>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<u64>> + Send + 'static,
{
    let progress = Progress::start(what, progress_total);
    let created = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(Retries::default());
    let op = Arc::new(op);
    let (c2, r2, done) = (created.clone(), retries.clone(), progress.counter());
    let out = timed_loop(concurrency, NO_DEADLINE, n, 1, move |_, i| {
        let (op, created, retries, done) = (op.clone(), c2.clone(), r2.clone(), done.clone());
        async move {
            let made = retries.run(|| op(i, done.clone())).await?;
            created.fetch_add(made, Ordering::Relaxed);
            Ok(0)
        }
    })
    .await;
    drop(progress);
    if out.errors > 0 {
        bail!(
            "seeding {what}: {} failed after retries, first: {}",
            out.errors,
            out.first_error.unwrap_or_default()
        );
    }
    Ok((created.load(Ordering::Relaxed), retries.note(what)))
}

async fn seed_users(api: &Arc<Api>, plan: &Plan, concurrency: usize) -> Result<PhaseReport> {
    let t = Instant::now();
    let query = format!("{BASE}/users?q=username%3D~{}-user-", dataset::PREFIX);
    let have = api.total(&query).await?;
    if have >= plan.users {
        return Ok(report("users", plan.users, 0, 1, t));
    }
    let a = api.clone();
    let (created, note) = each(
        "users",
        plan.users,
        concurrency,
        plan.users,
        move |u, done| {
            let a = a.clone();
            async move {
                let body = json!({
                    "username": dataset::user_name(u),
                    "email": dataset::user_email(u),
                    "realname": format!("Bench user {u}"),
                    "password": dataset::USER_PASSWORD,
                    "comment": "metadata benchmark",
                });
                let made = a.create(&format!("{BASE}/users"), &body).await?;
                done.fetch_add(1, Ordering::Relaxed);
                Ok(u64::from(made))
            }
        },
    )
    .await?;
    let mut r = report("users", plan.users, created, plan.users + 1, t);
    r.note = note;
    Ok(r)
}

async fn seed_projects(api: &Arc<Api>, plan: &Plan, concurrency: usize) -> Result<PhaseReport> {
    let t = Instant::now();
    let a = api.clone();
    let (created, note) = each(
        "projects",
        plan.projects,
        concurrency,
        plan.projects,
        move |p, done| {
            let a = a.clone();
            async move {
                // HEAD first: on a resumed run every project is there, and a create that
                // conflicts costs the server more than a lookup.
                let name = dataset::project_name(p);
                let head = a
                    .send(
                        Method::HEAD,
                        &format!("{BASE}/projects?project_name={name}"),
                        None,
                    )
                    .await?;
                let made = if head.status() == StatusCode::OK {
                    false
                } else {
                    let body = json!({ "project_name": name, "metadata": { "public": "false" } });
                    a.create(&format!("{BASE}/projects"), &body).await?
                };
                done.fetch_add(1, Ordering::Relaxed);
                Ok(u64::from(made))
            }
        },
    )
    .await?;
    let mut r = report("projects", plan.projects, created, plan.projects * 2, t);
    r.note = note;
    Ok(r)
}

async fn seed_members(api: &Arc<Api>, plan: &Plan, concurrency: usize) -> Result<PhaseReport> {
    let t = Instant::now();
    let a = api.clone();
    let plan2 = *plan;
    let (created, note) = each(
        "members",
        plan.projects,
        concurrency,
        plan.members(),
        move |p, done| {
            let a = a.clone();
            async move {
                let project = dataset::project_name(p);
                let mut made = 0;
                for (user, role) in plan2.members_of(p) {
                    let body = json!({
                        "role_id": role,
                        "member_user": { "username": dataset::user_name(user) },
                    });
                    if a.create(&format!("{BASE}/projects/{project}/members"), &body)
                        .await?
                    {
                        made += 1;
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(made)
            }
        },
    )
    .await?;
    let mut r = report("members", plan.members(), created, plan.members(), t);
    r.note = note;
    Ok(r)
}

/// Repositories, artifacts and tags, in batches of [`REPOS_PER_BATCH`] repositories that
/// share one token. Progress counts tags (those found in place included).
async fn seed_repositories(
    api: &Arc<Api>,
    plan: &Plan,
    concurrency: usize,
    tag_via: TagVia,
) -> Result<PhaseReport> {
    let t = Instant::now();
    let repos = plan.repositories();
    let batches = repos.div_ceil(REPOS_PER_BATCH);
    let blobs = Arc::new(SharedBlobs::new());
    let requests = Arc::new(AtomicU64::new(0));
    let (a, plan2, req2) = (api.clone(), *plan, requests.clone());
    let (created, note) = each("tags", batches, concurrency, plan.tags(), move |b, done| {
        let (a, blobs, requests) = (a.clone(), blobs.clone(), req2.clone());
        async move {
            let first = b * REPOS_PER_BATCH;
            let last = (first + REPOS_PER_BATCH).min(plan2.repositories());
            // Repositories already complete are found through the API (no login);
            // the others share one token, fetched only when there is work.
            let mut todo = Vec::new();
            for i in first..last {
                requests.fetch_add(1, Ordering::Relaxed);
                if repository_complete(&a, &plan2, i).await? {
                    done.fetch_add(plan2.tags_per_repo(), Ordering::Relaxed);
                } else {
                    todo.push(i);
                }
            }
            let scopes: Vec<String> = todo
                .iter()
                .map(|&i| {
                    let (p, r) = plan2.repo_at(i);
                    push_scope(&dataset::repo_name(p, r))
                })
                .collect();
            a.reg.prime_tokens(&scopes).await?;
            let mut made = 0;
            for i in todo {
                let (n, m) = seed_repository(&a, &plan2, &blobs, i, tag_via).await?;
                made += m;
                requests.fetch_add(n, Ordering::Relaxed);
                done.fetch_add(plan2.tags_per_repo(), Ordering::Relaxed);
            }
            Ok(made)
        }
    })
    .await?;
    let mut r = report(
        "repositories+artifacts+tags",
        plan.tags(),
        created,
        requests.load(Ordering::Relaxed),
        t,
    );
    r.note = note;
    Ok(r)
}

/// Whether repository `i` has its last tag (tags are created in order, so then it has
/// them all): `GET /api/v2.0/projects/{p}/repositories/{r}/artifacts/{last tag}`.
async fn repository_complete(api: &Api, plan: &Plan, i: u64) -> Result<bool> {
    let (p, r) = plan.repo_at(i);
    let last_tag = dataset::tag_name(plan.artifacts_per_repo - 1, plan.tags_per_artifact - 1);
    let path = format!(
        "{BASE}/projects/{}/repositories/{}/artifacts/{last_tag}",
        dataset::project_name(p),
        dataset::repo_short(r)
    );
    let resp = api.send(Method::GET, &path, None).await?;
    match resp.status() {
        StatusCode::OK => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        _ => {
            expect(resp, &[StatusCode::OK], &format!("GET {path}")).await?;
            Ok(false)
        }
    }
}

/// One repository: the two blobs, then each artifact under its first tag and the
/// artifact's other tags. Returns (requests, tags created).
async fn seed_repository(
    api: &Api,
    plan: &Plan,
    blobs: &SharedBlobs,
    i: u64,
    tag_via: TagVia,
) -> Result<(u64, u64)> {
    let reg: &Registry = &api.reg;
    let (p, r) = plan.repo_at(i);
    let repo = dataset::repo_name(p, r);
    let mut requests = 0;
    let scope = push_scope(&repo);
    for blob in [&blobs.layer, &blobs.config] {
        requests += 1;
        if !oci::blob_exists(reg, &repo, &blob.digest, &scope).await? {
            oci::push_blob(reg, &repo, blob).await?;
            requests += 2;
        }
    }
    let mut made = 0;
    for a in 0..plan.artifacts_per_repo {
        let manifest = blobs.manifest(&repo, a);
        oci::put_manifest(reg, &repo, &dataset::tag_name(a, 0), &manifest).await?;
        requests += 1;
        made += 1;
        let digest = oci::sha256_digest(&manifest);
        for t in 1..plan.tags_per_artifact {
            let tag = dataset::tag_name(a, t);
            match tag_via {
                TagVia::V2 => oci::put_manifest(reg, &repo, &tag, &manifest).await?,
                TagVia::Api => {
                    let path = format!(
                        "{BASE}/projects/{}/repositories/{}/artifacts/{digest}/tags",
                        dataset::project_name(p),
                        dataset::repo_short(r)
                    );
                    api.create(&path, &json!({ "name": tag })).await?;
                }
            }
            requests += 1;
            made += 1;
        }
    }
    Ok((requests, made))
}

/// Tops the audit log up to the planned size with manifest pulls (each is recorded),
/// after the pushes' own records have been written (the server writes them in batches).
async fn seed_audit(api: &Arc<Api>, plan: &Plan, concurrency: usize) -> Result<PhaseReport> {
    let t = Instant::now();
    let path = format!("{BASE}/audit-logs");
    let have = settled_total(api, &path).await?;
    eprintln!("audit records: {have} (want {})", plan.audit_records);
    if have >= plan.audit_records {
        return Ok(report("audit", have, 0, 0, t));
    }
    let missing = plan.audit_records - have;
    let (a, plan2) = (api.clone(), *plan);
    // Pulls spread over all repositories; the first request per batch of repositories
    // fetches a token for the whole batch.
    let (pulled, note) = each("audit", missing, concurrency, missing, move |n, done| {
        let a = a.clone();
        async move {
            let i = n % plan2.repositories();
            let (p, r) = plan2.repo_at(i);
            let repo = dataset::repo_name(p, r);
            let scope = pull_scope(&repo);
            let url = a.reg.url(&format!(
                "/v2/{repo}/manifests/{}",
                dataset::tag_name(n / plan2.repositories() % plan2.artifacts_per_repo, 0)
            ))?;
            let resp = a
                .reg
                .send(&scope, |c| {
                    c.get(url.clone())
                        .header(reqwest::header::ACCEPT, oci::MANIFEST_ACCEPT)
                })
                .await?;
            let resp = expect(resp, &[StatusCode::OK], "GET manifest").await?;
            resp.bytes().await?;
            done.fetch_add(1, Ordering::Relaxed);
            Ok(1)
        }
    })
    .await?;
    let now = settled_total(api, &path).await?;
    eprintln!("audit records after {pulled} pulls: {now}");
    let mut r = report("audit", now, now.saturating_sub(have), pulled, t);
    r.note = note;
    if now < plan.audit_records {
        let gap = format!(
            "only {now} audit records after topping up (want {}): the server drops or merges some",
            plan.audit_records
        );
        r.note = Some(match r.note {
            Some(n) => format!("{n}; {gap}"),
            None => gap,
        });
    }
    Ok(r)
}

/// `X-Total-Count` once it stopped growing (records are written in the background).
async fn settled_total(api: &Api, path: &str) -> Result<u64> {
    let mut last = api.total(path).await?;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let now = api.total(path).await?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_are_distinct_and_reference_the_shared_blobs() {
        let blobs = SharedBlobs::new();
        let a = blobs.manifest("md-p000/r000", 0);
        let b = blobs.manifest("md-p000/r000", 1);
        let c = blobs.manifest("md-p000/r001", 0);
        assert_ne!(oci::sha256_digest(&a), oci::sha256_digest(&b));
        assert_ne!(oci::sha256_digest(&a), oci::sha256_digest(&c));
        // Deterministic, so a resumed seeding pushes the same digests.
        assert_eq!(a, SharedBlobs::new().manifest("md-p000/r000", 0));
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["config"]["digest"], blobs.config.digest.as_str());
        assert_eq!(v["layers"][0]["digest"], blobs.layer.digest.as_str());
        assert_eq!(v["layers"][0]["size"], 1024);
    }

    #[test]
    fn progress_lines() {
        let l = progress_line("tags", 1000, 5000, Duration::from_secs(10));
        assert_eq!(l, "  tags: 1000/5000 (20.0%), 100/s, ETA 0m40s");
        let l = progress_line("tags", 5000, 5000, Duration::from_secs(10));
        assert!(l.ends_with("ETA -"), "{l}");
        let l = progress_line("x", 0, 0, Duration::ZERO);
        assert!(l.contains("(100.0%)"), "{l}");
    }
}
