//! Workers repeating an operation until a count or a time is reached, with latencies
//! recorded per kind of operation.

use super::*;

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
}
