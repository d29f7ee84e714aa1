//! Latency samples and their percentiles (nearest-rank, exact: every sample is kept).

use std::time::Duration;

use serde::Serialize;

/// Request latencies in nanoseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    nanos: Vec<u64>,
}

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latencies {
    pub fn new() -> Latencies {
        Latencies::default()
    }

    pub fn record(&mut self, d: Duration) {
        self.nanos
            .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn merge(&mut self, other: Latencies) {
        self.nanos.extend(other.nanos);
    }

    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nanos.is_empty()
    }

    /// Sorts the samples and summarises them; `None` without samples.
    pub fn summary(&mut self) -> Option<Summary> {
        if self.nanos.is_empty() {
            return None;
        }
        self.nanos.sort_unstable();
        let ms = |n: u64| n as f64 / 1e6;
        let sum: u128 = self.nanos.iter().map(|&n| u128::from(n)).sum();
        let at = |p: f64| percentile(&self.nanos, p).map(ms).unwrap_or(0.0);
        Some(Summary {
            count: self.nanos.len(),
            mean_ms: sum as f64 / self.nanos.len() as f64 / 1e6,
            p50_ms: at(50.0),
            p90_ms: at(90.0),
            p95_ms: at(95.0),
            p99_ms: at(99.0),
            p999_ms: at(99.9),
            max_ms: self.nanos.last().copied().map(ms).unwrap_or(0.0),
        })
    }
}

/// The nearest-rank percentile of ascending `sorted` samples: the smallest sample such
/// that at least `p` percent of all samples are less than or equal to it.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() || !p.is_finite() {
        return None;
    }
    let n = sorted.len();
    let p = p.clamp(0.0, 100.0);
    // The small epsilon keeps e.g. 99.9% of 1000 at rank 999 despite float rounding.
    let rank = ((p / 100.0) * n as f64 - 1e-9).ceil() as usize;
    let rank = rank.clamp(1, n);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_one_to_hundred() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 99.9), Some(100));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&v, 1.0), Some(1));
        assert_eq!(percentile(&v, 1.5), Some(2));
    }

    #[test]
    fn thousand_samples_tail() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 99.9), Some(999));
        assert_eq!(percentile(&v, 99.0), Some(990));
        assert_eq!(percentile(&v, 50.0), Some(500));
    }

    #[test]
    fn edge_cases() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7], 0.0), Some(7));
        assert_eq!(percentile(&[7], 99.9), Some(7));
        assert_eq!(percentile(&[1, 2], 50.0), Some(1));
        assert_eq!(percentile(&[1, 2], 50.1), Some(2));
        assert_eq!(percentile(&[1, 2], f64::NAN), None);
        assert_eq!(percentile(&[1, 2], 150.0), Some(2));
    }

    #[test]
    fn summary_in_milliseconds() {
        let mut l = Latencies::new();
        assert!(l.summary().is_none());
        for ms in [4u64, 1, 3, 2] {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary().unwrap();
        assert_eq!(s.count, 4);
        assert_eq!(s.p50_ms, 2.0);
        assert_eq!(s.p95_ms, 4.0);
        assert_eq!(s.p99_ms, 4.0);
        assert_eq!(s.max_ms, 4.0);
        assert!((s.mean_ms - 2.5).abs() < 1e-9);
        let mut other = Latencies::new();
        other.record(Duration::from_millis(10));
        l.merge(other);
        assert_eq!(l.summary().unwrap().max_ms, 10.0);
    }
}
