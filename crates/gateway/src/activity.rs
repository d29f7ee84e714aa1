//! Collects `/v2` events (pushes, pulls, deletions) and login attempts, and writes them
//! to the database in batches: audit records plus pull statistics. Requests only push
//! onto a bounded queue; a background task flushes once a second, so recording never
//! slows a pull and concurrent pulls of one repository never contend on its row. The
//! same task folds the audit counters together every ten minutes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use registry_core::{EventKind, EventSink, RegistryEvent};
use token_auth::{LoginObserver, LoginOutcome};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Events queued beyond this are dropped (and counted) rather than blocking requests.
const QUEUE_CAPACITY: usize = 65_536;
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// A batch is written early when it grows this large.
const MAX_BATCH: usize = 1024;
/// How often the per-connection audit counters are folded together (see
/// `Database::compact_audit_counts`); each pooled Postgres connection adds one row per
/// project, second and block it records for, and connections are replaced over time.
const COMPACT_COUNTS_EVERY: Duration = Duration::from_secs(600);

/// One thing to record.
#[derive(Debug, Clone)]
enum Activity {
    Registry(RegistryEvent),
    Login {
        username: String,
        client: Option<IpAddr>,
        outcome: LoginOutcome,
    },
}

pub struct ActivityRecorder {
    queue: mpsc::Sender<Activity>,
    dropped: AtomicU64,
}

impl ActivityRecorder {
    fn enqueue(&self, activity: Activity) {
        if self.queue.try_send(activity).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "activity queue full; events dropped");
            }
        }
    }
}

impl EventSink for ActivityRecorder {
    fn record(&self, event: RegistryEvent) {
        self.enqueue(Activity::Registry(event));
    }
}

impl LoginObserver for ActivityRecorder {
    fn login(&self, username: &str, client: Option<IpAddr>, outcome: LoginOutcome) {
        self.enqueue(Activity::Login {
            username: username.to_owned(),
            client,
            outcome,
        });
    }
}

/// The background writer; [`finish`](Flusher::finish) writes what is queued and stops it.
pub struct Flusher {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Flusher {
    /// Called at shutdown, after the server stopped taking requests.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        if let Err(err) = self.task.await {
            tracing::warn!(error = %err, "activity flusher ended abnormally");
        }
    }
}

/// Starts the recorder and its flusher.
pub fn start(db: projects::Database) -> (Arc<ActivityRecorder>, Flusher) {
    start_with(db, COMPACT_COUNTS_EVERY)
}

/// [`start`] with the period of the audit counters' folding given (shorter in tests).
fn start_with(db: projects::Database, compact_every: Duration) -> (Arc<ActivityRecorder>, Flusher) {
    let (queue, events) = mpsc::channel(QUEUE_CAPACITY);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(flush_loop(db, events, stopped, compact_every));
    (
        Arc::new(ActivityRecorder {
            queue,
            dropped: AtomicU64::new(0),
        }),
        Flusher { stop, task },
    )
}

async fn flush_loop(
    db: projects::Database,
    mut events: mpsc::Receiver<Activity>,
    mut stopped: oneshot::Receiver<()>,
    compact_every: Duration,
) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut compact =
        tokio::time::interval_at(tokio::time::Instant::now() + compact_every, compact_every);
    compact.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Some(event) => {
                    batch.push(event);
                    if batch.len() >= MAX_BATCH {
                        write(&db, std::mem::take(&mut batch)).await;
                    }
                }
                // Every sender is gone (shutdown): write what is left and stop.
                None => {
                    write(&db, std::mem::take(&mut batch)).await;
                    return;
                }
            },
            _ = &mut stopped => {
                while let Ok(event) = events.try_recv() {
                    batch.push(event);
                }
                write(&db, std::mem::take(&mut batch)).await;
                return;
            }
            _ = tick.tick() => {
                if !batch.is_empty() {
                    write(&db, std::mem::take(&mut batch)).await;
                }
            }
            _ = compact.tick() => match db.compact_audit_counts().await {
                Ok(folded) => tracing::debug!(folded, "folded audit counters"),
                Err(err) => tracing::warn!(error = %err, "could not fold audit counters"),
            },
        }
    }
}

async fn write(db: &projects::Database, batch: Vec<Activity>) {
    if batch.is_empty() {
        return;
    }
    let (pulls, audit) = summarize(&batch);
    if let Err(err) = db.record_activity(&pulls, &audit).await {
        tracing::error!(error = %err, events = batch.len(), "could not record registry activity");
    }
}

/// Turns events into pull counters (one per repository and manifest) and audit rows.
fn summarize(batch: &[Activity]) -> (projects::PullStats, Vec<(String, projects::NewAuditEntry)>) {
    let now = chrono_now();
    let mut repo_pulls: HashMap<&str, i64> = HashMap::new();
    let mut manifest_pulls: HashMap<(&str, String), i64> = HashMap::new();
    let mut audit = Vec::with_capacity(batch.len());
    for activity in batch {
        let event = match activity {
            Activity::Registry(event) => event,
            Activity::Login {
                username,
                client,
                outcome,
            } => {
                let operation = match outcome {
                    LoginOutcome::Succeeded => "login",
                    LoginOutcome::Failed => "login_failed",
                    LoginOutcome::Throttled => "login_throttled",
                };
                // Logins belong to no project: an empty name resolves to no project id.
                audit.push((
                    String::new(),
                    projects::NewAuditEntry {
                        project_id: None,
                        operation: operation.to_owned(),
                        resource_type: "user".to_owned(),
                        resource: username.clone(),
                        username: username.clone(),
                        client_ip: client.map(|ip| ip.to_string()).unwrap_or_default(),
                    },
                ));
                continue;
            }
        };
        let repository = event.repository.as_str();
        let operation = match event.kind {
            EventKind::Push => "create",
            EventKind::Pull => {
                *repo_pulls.entry(repository).or_default() += 1;
                manifest_pulls.insert((repository, event.digest.to_string()), now);
                "pull"
            }
            EventKind::Delete => "delete",
        };
        let resource = match &event.tag {
            Some(tag) => format!("{repository}:{tag}"),
            None => format!("{repository}@{}", event.digest),
        };
        audit.push((
            event.repository.project().to_owned(),
            projects::NewAuditEntry {
                project_id: None,
                operation: operation.to_owned(),
                resource_type: "artifact".to_owned(),
                resource,
                username: if event.actor.is_empty() {
                    "anonymous".to_owned()
                } else {
                    event.actor.clone()
                },
                client_ip: event.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            },
        ));
    }
    let pulls = projects::PullStats {
        repositories: repo_pulls
            .into_iter()
            .map(|(r, n)| (r.to_owned(), n))
            .collect(),
        manifests: manifest_pulls
            .into_iter()
            .map(|((r, d), t)| (r.to_owned(), d, t))
            .collect(),
    };
    (pulls, audit)
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, repo: &str, tag: Option<&str>) -> Activity {
        Activity::Registry(RegistryEvent {
            kind,
            repository: repo.parse().unwrap(),
            digest: registry_core::Digest::of(b"m"),
            tag: tag.map(str::to_owned),
            actor: String::new(),
            client_ip: None,
        })
    }

    #[test]
    fn pulls_are_counted_once_per_repository() {
        let batch = vec![
            event(EventKind::Pull, "library/a", Some("1")),
            event(EventKind::Pull, "library/a", Some("1")),
            event(EventKind::Pull, "library/b", None),
            event(EventKind::Push, "library/a", Some("2")),
            Activity::Login {
                username: "bob".into(),
                client: None,
                outcome: LoginOutcome::Failed,
            },
        ];
        let (pulls, audit) = summarize(&batch);
        let mut repos = pulls.repositories.clone();
        repos.sort();
        assert_eq!(
            repos,
            vec![("library/a".into(), 2), ("library/b".into(), 1)]
        );
        assert_eq!(pulls.manifests.len(), 2);
        assert_eq!(audit.len(), 5);
        assert_eq!(audit[4].1.operation, "login_failed");
        assert_eq!(audit[4].1.resource_type, "user");
        assert_eq!(audit[0].0, "library");
        assert_eq!(audit[0].1.username, "anonymous");
        assert_eq!(audit[3].1.operation, "create");
        assert_eq!(
            audit[2].1.resource,
            format!("library/b@{}", registry_core::Digest::of(b"m"))
        );
    }

    /// The flusher folds the audit counters on its timer: a counter row of a backend
    /// process long gone (slot 4242) is folded into the project's slot-0 row. Postgres
    /// only: SQLite keeps one row per project and has nothing to fold.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flusher_folds_the_audit_counters_on_its_timer() {
        use sqlx::{Connection, Executor};
        let admin_url = std::env::var("BERTH_TEST_DATABASE_URL").unwrap_or_else(|_| {
            panic!(
                "BERTH_TEST_DATABASE_URL is not set: this test needs a Postgres server. Run \
                 the tests through tests/run.sh, or `eval \"$(bash tests/services/pg-up.sh)\"` first."
            )
        });
        let name = format!("berth_gw_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect");
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create database");
        let mut url = url::Url::parse(&admin_url).expect("url");
        url.set_path(&name);
        let url = url.to_string();

        // In a task of its own, so the database is dropped even when it fails.
        let outcome = tokio::spawn(async move {
            let db = projects::Database::connect(&url).await.expect("connect");
            db.migrate().await.expect("migrate");
            let mut raw = sqlx::PgConnection::connect(&url).await.expect("connect");
            raw.execute(
                "INSERT INTO audit_log_counts (project_id, slot, n) VALUES (7, 0, 2), (7, 4242, 3)",
            )
            .await
            .expect("seed counters");

            let (_recorder, flusher) = start_with(db, Duration::from_millis(100));
            let mut rows: Vec<(i32, i64)> = Vec::new();
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                rows = sqlx::query_as(
                    "SELECT slot, n FROM audit_log_counts WHERE project_id = 7 ORDER BY slot",
                )
                .fetch_all(&mut raw)
                .await
                .expect("counters");
                if rows.len() == 1 {
                    break;
                }
            }
            flusher.finish().await;
            assert_eq!(rows, vec![(0, 5)]);
        })
        .await;
        admin
            .execute(format!("DROP DATABASE \"{name}\" WITH (FORCE)").as_str())
            .await
            .expect("drop database");
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}
