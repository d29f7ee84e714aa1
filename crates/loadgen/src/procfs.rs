//! What a server process costs, read from Linux's /proc: CPU time (utime + stime from
//! /proc/PID/stat) and memory (VmRSS, VmHWM from /proc/PID/status).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};

/// utime + stime, in clock ticks, from the text of /proc/PID/stat. The command name
/// (field 2) is in parentheses and may contain spaces or ')', so fields are counted
/// from the last ')'.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so field k is at index k - 3.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   1234 kB` line of /proc/PID/status, in KiB.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        if k.trim() != key {
            return None;
        }
        let mut parts = v.split_whitespace();
        let n: u64 = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") | None => Some(n),
            Some(_) => None,
        }
    })
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every common Linux).
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// A server process to watch.
#[derive(Debug, Clone)]
pub struct Probe {
    pub pid: u32,
    ticks: u64,
}

impl Probe {
    pub fn new(pid: u32) -> Result<Probe> {
        let probe = Probe {
            pid,
            ticks: clock_ticks(),
        };
        probe
            .cpu_seconds()
            .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
        Ok(probe)
    }

    pub fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        let ticks = parse_stat_ticks(&stat).context("unexpected /proc/PID/stat format")?;
        Ok(ticks as f64 / self.ticks as f64)
    }

    /// A `Vm*` / `Rss*` field of /proc/PID/status, in KiB.
    pub fn status_kib(&self, key: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        parse_status_kib(&status, key)
    }

    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS")
    }

    pub fn hwm_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM")
    }

    /// Samples VmRSS every `every` until the returned sampler is stopped.
    pub fn sample_rss(&self, every: Duration) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(self.rss_kib().unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let probe = self.clone();
            let peak = peak.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    if let Some(kib) = probe.rss_kib() {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                }
            })
        };
        RssSampler { peak, stop, task }
    }
}

pub struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    /// Stops sampling; the highest VmRSS seen, in KiB.
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_name() {
        let stat = "1234 (ber th) x) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 4 0 100 1000000 300 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(325));
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn status_lines() {
        let status = "Name:\tberth\nVmPeak:\t  100 kB\nVmHWM:\t   30500 kB\nVmRSS:\t   20480 kB\nThreads:\t4\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(20480));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(30500));
        assert_eq!(parse_status_kib(status, "Threads"), Some(4));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn own_process_is_readable() {
        let probe = Probe::new(std::process::id()).unwrap();
        assert!(probe.cpu_seconds().unwrap() >= 0.0);
        assert!(probe.rss_kib().unwrap() > 0);
        assert!(probe.hwm_kib().unwrap() >= probe.rss_kib().unwrap() / 2);
    }
}
