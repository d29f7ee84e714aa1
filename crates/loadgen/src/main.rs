//! `berth-bench`: the command line of the load tool. See docs/performance.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use url::Url;

use loadgen::client::{Credentials, Registry, is_loopback};
use loadgen::procfs::Probe;
use loadgen::report::{self, fmt_num, render};
use loadgen::scenarios::{self, DigestCache, Scenario, ScenarioResult, Settings, Target};
use loadgen::units::{human_size, parse_duration, parse_size};

#[derive(Parser)]
#[command(
    name = "berth-bench",
    version,
    about = "Measures OCI registries: blob push/pull throughput, small-image pushes, \
             manifest and blob request rates and latencies, listings, token issuance, \
             and the server's CPU and memory",
    args_conflicts_with_subcommands = true,
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Polls GET /v2/ until the registry answers, then prints how long it took.
    WaitReady(WaitArgs),
    /// Seeds a Harbor-sized metadata dataset (projects, repositories, artifacts, tags,
    /// users, members, audit records) and measures the list endpoints over it.
    Metadata(MetadataArgs),
}

#[derive(Args)]
struct MetadataArgs {
    /// Registry base URL, e.g. http://admin:secret@127.0.0.1:5000 (a system administrator).
    #[arg(long = "target", value_name = "URL")]
    target: String,
    /// User name (overrides the URL's).
    #[arg(long)]
    user: Option<String>,
    /// Password (overrides the URL's).
    #[arg(long)]
    password: Option<String>,
    /// A short name for the output (default: host:port).
    #[arg(long)]
    name: Option<String>,
    /// Only seed (resumes an interrupted seeding; what exists is skipped).
    #[arg(long, conflicts_with = "measure_only")]
    seed_only: bool,
    /// Only measure (the dataset must have been seeded at the same --scale).
    #[arg(long)]
    measure_only: bool,
    /// small: Harbor's "small" size (100 projects, 10,000 repositories, 100,000
    /// artifacts, 500,000 tags, 100 users, 100,000 audit records); tiny: 1/100 of it.
    #[arg(long, value_enum, default_value = "small")]
    scale: loadgen::dataset::Scale,
    /// Concurrent requests while seeding, and the second concurrency measured (after 1).
    #[arg(short = 'c', long, default_value_t = 16)]
    concurrency: usize,
    /// Requests per endpoint and concurrency.
    #[arg(long, default_value_t = 200)]
    requests: u64,
    /// Credentials on the admin API: auto uses a token from the registry's token service
    /// when the API accepts it (Berth), else Basic (Harbor).
    #[arg(long, value_enum, default_value = "auto")]
    api_auth: loadgen::api::ApiAuth,
    /// How the tags after an artifact's first are created while seeding.
    #[arg(long, value_enum, default_value = "v2")]
    tag_via: loadgen::seed::TagVia,
    /// Server process id: server CPU per request and RSS.
    #[arg(long = "server-pid", value_name = "PID")]
    pid: Option<u32>,
    /// Seed of the request mix (which projects, repositories and pages are asked for).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Allow a target outside the loopback interface.
    #[arg(long)]
    allow_remote: bool,
    /// Also write the table as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
}

#[derive(Args)]
struct WaitArgs {
    /// Registry base URL.
    #[arg(long)]
    url: String,
    /// When the server was started, in nanoseconds since the epoch (`date +%s%N`);
    /// the time printed is measured from there instead of from this command's start.
    #[arg(long)]
    since_ns: Option<u128>,
    /// Give up after this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Allow a URL that is not on the loopback interface.
    #[arg(long)]
    allow_remote: bool,
}

#[derive(Args)]
struct RunArgs {
    /// Registry base URL, e.g. http://admin:secret@127.0.0.1:5000. Repeat to compare
    /// several registries: each scenario runs on every target in turn, and the ratios
    /// are to the first target.
    #[arg(long = "target", value_name = "URL")]
    targets: Vec<String>,
    /// A short name per target for the tables (default: host:port).
    #[arg(long = "name", value_name = "NAME")]
    names: Vec<String>,
    /// User name: once for all targets, or once per target (overrides the URL's).
    #[arg(long = "user", value_name = "USER")]
    users: Vec<String>,
    /// Password: once for all targets, or once per target (overrides the URL's).
    #[arg(long = "password", value_name = "PASSWORD")]
    passwords: Vec<String>,
    /// Server process id per target (0 for none): CPU seconds per request and RSS.
    #[arg(long = "server-pid", value_name = "PID")]
    pids: Vec<u32>,
    /// Account for the token scenario (e.g. a robot), once or per target; default the
    /// target's own credentials.
    #[arg(long = "token-user", value_name = "USER")]
    token_users: Vec<String>,
    /// Password of --token-user, once or per target.
    #[arg(long = "token-password", value_name = "PASSWORD")]
    token_passwords: Vec<String>,
    /// Scenarios to run, comma-separated (default: all, in the listed order).
    #[arg(long, value_delimiter = ',', value_enum)]
    scenarios: Vec<Scenario>,
    /// Size of the large blob (push-blob, push-blob-chunked, pull-blob).
    #[arg(long, default_value = "512MiB", value_parser = parse_size)]
    blob_size: u64,
    /// Chunk size of push-blob-chunked.
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    chunk_size: u64,
    /// Number of small images push-images pushes.
    #[arg(long, default_value_t = 200)]
    images: u64,
    /// Concurrent requests (workers) of the concurrent scenarios and of seeding.
    #[arg(short = 'c', long, default_value_t = 32)]
    concurrency: usize,
    /// How long each timed scenario runs.
    #[arg(short = 'd', long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Tags seeded in the tags repository.
    #[arg(long, default_value_t = 10_000)]
    tags: u64,
    /// Repositories seeded for the catalog.
    #[arg(long, default_value_t = 1_000)]
    repos: u64,
    /// Page size (`n`) of the paged listings.
    #[arg(long, default_value_t = 100)]
    page_size: u32,
    /// Repository names start with this (Berth needs an existing project: library/...).
    #[arg(long, default_value = "library/bench")]
    repo_prefix: String,
    /// Seed of the generated content (default: from the clock, so blobs are new).
    #[arg(long)]
    seed: Option<u64>,
    /// Upper bound of operations per timed scenario, whatever the duration.
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
    /// Allow targets (and realms, redirects) outside the loopback interface.
    #[arg(long)]
    allow_remote: bool,
    /// Also write the tables as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::WaitReady(args)) => wait_ready(args).await,
        Some(Command::Metadata(args)) => metadata(args).await,
        None => run(cli.run).await,
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("berth-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_ready(args: WaitArgs) -> Result<ExitCode> {
    let (base, _) = parse_target(&args.url)?;
    if !args.allow_remote && !is_loopback(&base) {
        bail!("{base} is not a loopback address (see --allow-remote)");
    }
    let url = base.join("/v2/")?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()?;
    let started = Instant::now();
    let since = args.since_ns;
    loop {
        if let Ok(resp) = http.get(url.clone()).send().await
            && resp.status().as_u16() < 500
        {
            let ms = match since {
                Some(ns) => {
                    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
                    now.saturating_sub(ns) as f64 / 1e6
                }
                None => started.elapsed().as_secs_f64() * 1000.0,
            };
            println!(
                "{}",
                json!({"kind": "ready", "url": base.as_str(), "status": resp.status().as_u16(), "ms": (ms * 10.0).round() / 10.0})
            );
            return Ok(ExitCode::SUCCESS);
        }
        if started.elapsed() > args.timeout {
            bail!("{url} did not answer within {:?}", args.timeout);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn metadata(args: MetadataArgs) -> Result<ExitCode> {
    let (base, url_creds) = parse_target(&args.target)?;
    let creds = Credentials {
        user: args
            .user
            .or_else(|| url_creds.as_ref().map(|c| c.user.clone()))
            .unwrap_or_else(|| "admin".to_owned()),
        password: args
            .password
            .or_else(|| url_creds.map(|c| c.password))
            .context("give the admin password (--password or in the URL)")?,
    };
    let name = args.name.unwrap_or_else(|| {
        format!(
            "{}:{}",
            base.host_str().unwrap_or("?"),
            base.port_or_known_default().unwrap_or(0)
        )
    });
    let outcome = loadgen::metadata::run(loadgen::metadata::Options {
        base,
        creds,
        name,
        allow_remote: args.allow_remote,
        scale: args.scale,
        seed: !args.measure_only,
        measure: !args.seed_only,
        concurrency: args.concurrency,
        requests: args.requests,
        api_auth: args.api_auth,
        tag_via: args.tag_via,
        pid: args.pid,
        request_seed: args.seed,
        markdown: args.markdown,
    })
    .await?;
    Ok(if outcome.errors() > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// Splits `http://user:pass@host:port/...` into the base URL and the credentials.
fn parse_target(raw: &str) -> Result<(Url, Option<Credentials>)> {
    let mut url = Url::parse(raw).with_context(|| format!("bad target URL {raw:?}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("target {raw:?}: only http and https are supported");
    }
    let decode = |s: &str| -> Result<String> {
        Ok(url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default())
    };
    let creds = if url.username().is_empty() {
        None
    } else {
        Some(Credentials {
            user: decode(url.username())?,
            password: decode(url.password().unwrap_or(""))?,
        })
    };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    Ok((url, creds))
}

/// Values given once (for all targets) or once per target.
fn per_target<T: Clone>(values: &[T], n: usize, flag: &str) -> Result<Vec<Option<T>>> {
    match values.len() {
        0 => Ok(vec![None; n]),
        1 => Ok(vec![Some(values[0].clone()); n]),
        l if l == n => Ok(values.iter().cloned().map(Some).collect()),
        l => bail!("--{flag} given {l} times for {n} targets: give it once, or once per --target"),
    }
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let n = args.targets.len();
    if n == 0 {
        bail!("give at least one --target URL (see --help)");
    }
    if args.concurrency == 0 || args.concurrency > 4096 {
        bail!("--concurrency must be between 1 and 4096");
    }
    if args.page_size == 0 {
        bail!("--page-size must be positive");
    }
    let names = per_target(&args.names, n, "name")?;
    let users = per_target(&args.users, n, "user")?;
    let passwords = per_target(&args.passwords, n, "password")?;
    let token_users = per_target(&args.token_users, n, "token-user")?;
    let token_passwords = per_target(&args.token_passwords, n, "token-password")?;
    if !args.pids.is_empty() && args.pids.len() != n {
        bail!("--server-pid must be given once per --target (0 for none)");
    }
    let scenarios_list: Vec<Scenario> = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenarios.clone()
    };
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let settings = Settings {
        blob_size: args.blob_size,
        chunk_size: args.chunk_size.max(1),
        images: args.images,
        concurrency: args.concurrency,
        duration: args.duration,
        tags: args.tags,
        repos: args.repos,
        page_size: args.page_size,
        prefix: args.repo_prefix.trim_end_matches('/').to_owned(),
        seed,
        max_requests: args.max_requests,
    };

    let mut targets = Vec::with_capacity(n);
    for i in 0..n {
        let (base, url_creds) = parse_target(&args.targets[i])?;
        let name = names[i].clone().unwrap_or_else(|| {
            format!(
                "{}:{}",
                base.host_str().unwrap_or("?"),
                base.port_or_known_default().unwrap_or(0)
            )
        });
        let creds = match (&users[i], &passwords[i], url_creds) {
            (Some(u), Some(p), _) => Some(Credentials {
                user: u.clone(),
                password: p.clone(),
            }),
            (Some(u), None, c) => Some(Credentials {
                user: u.clone(),
                password: c.map(|c| c.password).unwrap_or_default(),
            }),
            (None, Some(p), c) => Some(Credentials {
                user: c.map(|c| c.user).unwrap_or_default(),
                password: p.clone(),
            }),
            (None, None, c) => c,
        };
        let token_creds = match (&token_users[i], &token_passwords[i]) {
            (Some(u), Some(p)) => Some(Credentials {
                user: u.clone(),
                password: p.clone(),
            }),
            (Some(_), None) | (None, Some(_)) => {
                bail!("--token-user and --token-password go together")
            }
            (None, None) => creds.clone(),
        };
        let reg = Registry::connect(
            name.clone(),
            base,
            creds,
            args.allow_remote,
            settings.concurrency + 4,
        )
        .await
        .with_context(|| format!("connecting to {name}"))?;
        let probe = match args.pids.get(i).copied().filter(|&p| p != 0) {
            Some(pid) => Some(Probe::new(pid)?),
            None => None,
        };
        eprintln!(
            "target {name}: {} ({:?} auth){}",
            reg.base,
            auth_name(&reg),
            probe
                .as_ref()
                .map(|p| format!(", server pid {}", p.pid))
                .unwrap_or_default()
        );
        targets.push(Target::new(reg, probe, token_creds));
    }
    let target_names: Vec<String> = targets.iter().map(|t| t.reg.name.clone()).collect();

    println!(
        "{}",
        json!({
            "kind": "settings",
            "targets": target_names,
            "scenarios": scenarios_list.iter().map(|s| s.name()).collect::<Vec<_>>(),
            "blob_size": settings.blob_size,
            "chunk_size": settings.chunk_size,
            "images": settings.images,
            "concurrency": settings.concurrency,
            "duration_s": settings.duration.as_secs_f64(),
            "tags": settings.tags,
            "repos": settings.repos,
            "page_size": settings.page_size,
            "repo_prefix": settings.prefix,
            "seed": settings.seed,
        })
    );
    eprintln!(
        "blob {} in {} chunks, {} images, concurrency {}, {:?} per timed scenario, {} tags, {} repositories, pages of {}",
        human_size(settings.blob_size),
        human_size(settings.chunk_size),
        settings.images,
        settings.concurrency,
        settings.duration,
        settings.tags,
        settings.repos,
        settings.page_size
    );

    let mut digests = DigestCache::default();
    let mut results: Vec<ScenarioResult> = Vec::new();
    let mut failed = false;
    for (si, &scenario) in scenarios_list.iter().enumerate() {
        // Alternate the order so that no target always goes first.
        let order: Vec<usize> = if si % 2 == 0 {
            (0..n).collect()
        } else {
            (0..n).rev().collect()
        };
        let mut this: Vec<Option<ScenarioResult>> = vec![None; n];
        for i in order {
            let r = scenarios::run(scenario, &mut targets[i], &settings, &mut digests).await;
            println!("{}", serde_json::to_string(&r)?);
            eprintln!("{}", progress_line(&r));
            failed |= r.status == "failed";
            this[i] = Some(r);
        }
        let this: Vec<ScenarioResult> = this.into_iter().flatten().collect();
        let refs: Vec<&ScenarioResult> = this.iter().collect();
        for ratio in report::ratios(&refs) {
            println!("{}", serde_json::to_string(&ratio)?);
            eprintln!(
                "  {} / {}: {}x",
                ratio.target,
                ratio.baseline,
                fmt_num(ratio.ratio)
            );
        }
        results.extend(this);
    }

    let mib = |k: u64| k as f64 / 1024.0;
    let mut memory_rows = Vec::new();
    for t in &targets {
        if let Some(p) = &t.probe {
            let hwm = p.hwm_kib().map(mib);
            let rss_end = p.rss_kib().map(mib);
            let anon_end = p.status_kib("RssAnon").map(mib);
            let cpu = p.cpu_seconds().ok();
            println!(
                "{}",
                json!({
                    "kind": "server",
                    "target": t.reg.name,
                    "pid": p.pid,
                    "idle_rss_mib": t.idle_rss_kib.map(mib),
                    "peak_rss_mib": mib(t.peak_rss_kib),
                    "hwm_mib": hwm,
                    "rss_end_mib": rss_end,
                    "rss_anon_end_mib": anon_end,
                    "cpu_seconds_total": cpu,
                })
            );
            memory_rows.push(vec![
                t.reg.name.clone(),
                t.idle_rss_kib
                    .map(|k| format!("{:.1}", mib(k)))
                    .unwrap_or_default(),
                format!("{:.1}", mib(t.peak_rss_kib)),
                hwm.map(|m| format!("{m:.1}")).unwrap_or_default(),
                match (rss_end, anon_end) {
                    (Some(r), Some(a)) => format!("{r:.1} ({a:.1})"),
                    (Some(r), None) => format!("{r:.1}"),
                    _ => String::new(),
                },
                cpu.map(|c| format!("{c:.2}")).unwrap_or_default(),
            ]);
        }
    }
    let memory_headers = [
        "target",
        "idle RSS MiB (before the suite)",
        "peak RSS MiB (sampled every 50 ms)",
        "VmHWM MiB (lifetime peak)",
        "RSS (anonymous) MiB at the end",
        "server CPU s (lifetime)",
    ];

    eprintln!();
    eprint!("{}", report::summary_table(&results, &target_names, false));
    eprintln!();
    eprint!("{}", report::detail_table(&results, false));
    if !memory_rows.is_empty() {
        eprintln!();
        eprint!("{}", render(&memory_headers, &memory_rows, false));
    }
    if let Some(path) = &args.markdown {
        let mut md = String::new();
        md.push_str(&report::summary_table(&results, &target_names, true));
        md.push('\n');
        md.push_str(&report::detail_table(&results, true));
        if !memory_rows.is_empty() {
            md.push('\n');
            md.push_str(&render(&memory_headers, &memory_rows, true));
        }
        std::fs::write(path, md).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if failed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn auth_name(reg: &Registry) -> &'static str {
    match reg.mode() {
        loadgen::client::AuthMode::Anonymous => "no",
        loadgen::client::AuthMode::Basic => "Basic",
        loadgen::client::AuthMode::Bearer { .. } => "token",
    }
}

fn progress_line(r: &ScenarioResult) -> String {
    let mut s = format!("{:<18} {:<12} ", r.scenario, r.target);
    if r.is_ok() {
        s.push_str(&format!("{:>9} {:<9}", fmt_num(r.value), r.metric));
        if let Some(l) = &r.latency {
            s.push_str(&format!(
                " p50 {} p99 {} p99.9 {} ms",
                fmt_num(l.p50_ms),
                fmt_num(l.p99_ms),
                fmt_num(l.p999_ms)
            ));
        }
        if r.errors > 0 {
            s.push_str(&format!(" errors {}", r.errors));
        }
        if let Some(c) = r.server.as_ref().and_then(|s| s.cpu_ms_per_request) {
            s.push_str(&format!(" cpu {} ms/req", fmt_num(c)));
        }
    } else {
        s.push_str(r.status);
    }
    if let Some(note) = &r.note {
        s.push_str(&format!(" ({note})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_urls_split_credentials() {
        let (base, creds) = parse_target("http://admin:p%40ss@127.0.0.1:5000/v2/?x=1").unwrap();
        assert_eq!(base.as_str(), "http://127.0.0.1:5000/");
        let creds = creds.unwrap();
        assert_eq!(creds.user, "admin");
        assert_eq!(creds.password, "p@ss");
        let (base, creds) = parse_target("http://localhost:5001").unwrap();
        assert_eq!(base.as_str(), "http://localhost:5001/");
        assert!(creds.is_none());
        assert!(parse_target("ftp://x").is_err());
        assert!(parse_target("not a url").is_err());
    }

    #[test]
    fn per_target_values() {
        assert_eq!(per_target::<u8>(&[], 2, "x").unwrap(), vec![None, None]);
        assert_eq!(per_target(&[1], 2, "x").unwrap(), vec![Some(1), Some(1)]);
        assert_eq!(per_target(&[1, 2], 2, "x").unwrap(), vec![Some(1), Some(2)]);
        assert!(per_target(&[1, 2], 3, "x").is_err());
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "berth-bench",
            "--target",
            "http://127.0.0.1:1",
            "--target",
            "http://127.0.0.1:2",
            "--scenarios",
            "push-blob,get-manifest",
            "--blob-size",
            "64MiB",
            "-d",
            "2s",
        ])
        .unwrap();
        assert_eq!(cli.run.targets.len(), 2);
        assert_eq!(
            cli.run.scenarios,
            vec![Scenario::PushBlob, Scenario::GetManifest]
        );
        assert_eq!(cli.run.blob_size, 64 << 20);
        assert_eq!(cli.run.duration, Duration::from_secs(2));
        // later single-valued options override earlier ones (compare.sh appends overrides)
        let cli = Cli::try_parse_from([
            "berth-bench",
            "--target",
            "http://127.0.0.1:1",
            "-d",
            "3s",
            "--target",
            "http://127.0.0.1:2",
            "-d",
            "2s",
        ])
        .unwrap();
        assert_eq!(cli.run.duration, Duration::from_secs(2));
        assert_eq!(cli.run.targets.len(), 2);
        let cli = Cli::try_parse_from(["berth-bench", "wait-ready", "--url", "http://127.0.0.1:1"])
            .unwrap();
        assert!(matches!(cli.command, Some(Command::WaitReady(_))));
        let cli = Cli::try_parse_from([
            "berth-bench",
            "metadata",
            "--target",
            "http://admin:x@127.0.0.1:1",
            "--scale",
            "tiny",
            "--measure-only",
        ])
        .unwrap();
        let Some(Command::Metadata(m)) = cli.command else {
            panic!("not the metadata subcommand");
        };
        assert_eq!(m.scale, loadgen::dataset::Scale::Tiny);
        assert!(m.measure_only && !m.seed_only);
        assert_eq!((m.concurrency, m.requests), (16, 200));
        assert!(
            Cli::try_parse_from([
                "berth-bench",
                "metadata",
                "--target",
                "http://127.0.0.1:1",
                "--seed-only",
                "--measure-only",
            ])
            .is_err()
        );
    }
}
