//! Slows down password guessing: failed logins are counted per account and per client
//! address over a sliding window, and once either count reaches its limit further
//! attempts for that key are refused (429) until old failures leave the window.
//!
//! Nobody is locked out for good: a block lasts at most one window. The state is in
//! memory, per replica; a guesser spread over N replicas gets N times the budget, which
//! still turns millions of guesses into dozens.
//!
//! Attempts still being checked count too, but only for a key that already has a
//! failure in the window: a guesser cannot slip many guesses in parallel past a key
//! under suspicion, while a CI fleet logging one robot in from many jobs at once (no
//! failures) is never slowed.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most keys tracked per table, so a flood of made-up usernames cannot exhaust memory.
const MAX_TRACKED: usize = 10_000;
/// Longest account name kept as a key; longer ones are cut (they are not real accounts).
const MAX_ACCOUNT_KEY: usize = 256;

/// How many failed logins are tolerated, and over what period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures of one account (from anywhere) before its logins are paused.
    pub failures_per_account: u32,
    /// Failures from one client address (for any accounts) before it is paused. Higher
    /// than the per-account limit: many people may share one NAT address.
    pub failures_per_address: u32,
    /// The sliding window over which failures count.
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            failures_per_account: 5,
            failures_per_address: 20,
            window: Duration::from_secs(5 * 60),
        }
    }
}

/// The failure counters.
#[derive(Debug)]
pub(crate) struct LoginLimiter {
    limits: LoginLimits,
    state: Mutex<State>,
}

/// One login attempt in a key's window: still being checked, or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    at: Instant,
    failed: bool,
}

type Table<K> = HashMap<K, VecDeque<Entry>>;

#[derive(Debug, Default)]
struct State {
    accounts: Table<String>,
    addresses: Table<IpAddr>,
}

/// A login attempt that was let through; report how it ended.
#[derive(Debug)]
#[must_use]
pub(crate) struct Attempt {
    account: String,
    client: Option<IpAddr>,
    at: Instant,
}

impl LoginLimiter {
    pub(crate) fn new(limits: LoginLimits) -> Self {
        LoginLimiter {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// Lets an attempt through, or says how long to wait. The attempt is counted as a
    /// failure right away, so a burst of parallel guesses cannot all slip in before the
    /// first one has been checked; [`LoginLimiter::succeeded`] and
    /// [`LoginLimiter::abandoned`] take it back.
    pub(crate) fn begin(
        &self,
        account: &str,
        client: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt, Duration> {
        let window = self.limits.window;
        let account = account_key(account);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let account_wait = wait(
            &mut state.accounts,
            &account,
            self.limits.failures_per_account,
            window,
            now,
        );
        let address_wait = client.and_then(|ip| {
            wait(
                &mut state.addresses,
                &ip,
                self.limits.failures_per_address,
                window,
                now,
            )
        });
        if let Some(longest) = account_wait.into_iter().chain(address_wait).max() {
            return Err(longest);
        }
        record(&mut state.accounts, account.clone(), window, now);
        if let Some(ip) = client {
            record(&mut state.addresses, ip, window, now);
        }
        Ok(Attempt {
            account,
            client,
            at: now,
        })
    }

    /// The credentials were right: the account's failures are forgotten (the address's
    /// are not, or one valid login would reset a guesser's budget for other accounts).
    pub(crate) fn succeeded(&self, attempt: Attempt) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // The right credentials clear the account's failures; other attempts still in
        // progress stay counted (they may be a guesser's).
        if let Some(entries) = state.accounts.get_mut(&attempt.account) {
            entries.retain(|e| !e.failed);
        }
        forget(&mut state.accounts, &attempt.account, attempt.at);
        if let Some(ip) = attempt.client {
            forget(&mut state.addresses, &ip, attempt.at);
        }
    }

    /// The check could not run (backend failure): the attempt does not count.
    /// The credentials were wrong: the attempt now counts as a failure.
    pub(crate) fn failed(&self, attempt: Attempt) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        mark_failed(&mut state.accounts, &attempt.account, attempt.at);
        if let Some(ip) = attempt.client {
            mark_failed(&mut state.addresses, &ip, attempt.at);
        }
    }

    pub(crate) fn abandoned(&self, attempt: Attempt) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        forget(&mut state.accounts, &attempt.account, attempt.at);
        if let Some(ip) = attempt.client {
            forget(&mut state.addresses, &ip, attempt.at);
        }
    }
}

/// How long `key` must wait at `now`, if its failures in the window reached `limit`.
fn wait<K: Eq + Hash>(
    table: &mut Table<K>,
    key: &K,
    limit: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    let entries = table.get_mut(key)?;
    prune(entries, window, now);
    // No failure yet: attempts in progress are not suspicious.
    if !entries.iter().any(|e| e.failed) {
        return None;
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if entries.len() < limit {
        return None;
    }
    // Blocked until enough entries age out to bring the count under the limit.
    let index = entries.len() - limit;
    let until = entries.get(index).map(|e| e.at + window)?;
    Some(
        until
            .saturating_duration_since(now)
            .max(Duration::from_secs(1)),
    )
}

fn record<K: Eq + Hash + Clone>(table: &mut Table<K>, key: K, window: Duration, now: Instant) {
    if !table.contains_key(&key) && table.len() >= MAX_TRACKED {
        make_room(table, window, now);
    }
    table.entry(key).or_default().push_back(Entry {
        at: now,
        failed: false,
    });
}

/// Position of the attempt begun at `at` that is still being checked.
fn pending_position(entries: &VecDeque<Entry>, at: Instant) -> Option<usize> {
    entries.iter().rposition(|e| e.at == at && !e.failed)
}

fn mark_failed<K: Eq + Hash>(table: &mut Table<K>, key: &K, at: Instant) {
    if let Some(entries) = table.get_mut(key)
        && let Some(position) = pending_position(entries, at)
    {
        entries[position].failed = true;
    }
}

fn forget<K: Eq + Hash>(table: &mut Table<K>, key: &K, at: Instant) {
    if let Some(entries) = table.get_mut(key) {
        if let Some(position) = pending_position(entries, at) {
            entries.remove(position);
        }
        if entries.is_empty() {
            table.remove(key);
        }
    }
}

fn prune(entries: &mut VecDeque<Entry>, window: Duration, now: Instant) {
    while entries
        .front()
        .is_some_and(|e| now.saturating_duration_since(e.at) >= window)
    {
        entries.pop_front();
    }
}

/// Drops keys whose failures have all aged out; if the table is still full, drops the
/// key that failed least recently, which is the one closest to being forgotten anyway.
fn make_room<K: Eq + Hash + Clone>(table: &mut Table<K>, window: Duration, now: Instant) {
    table.retain(|_, failures| {
        prune(failures, window, now);
        !failures.is_empty()
    });
    if table.len() < MAX_TRACKED {
        return;
    }
    let stalest = table
        .iter()
        .min_by_key(|(_, entries)| entries.back().map(|e| e.at))
        .map(|(key, _)| key.clone());
    if let Some(key) = stalest {
        table.remove(&key);
    }
}

fn account_key(account: &str) -> String {
    let mut end = account.len().min(MAX_ACCOUNT_KEY);
    while !account.is_char_boundary(end) {
        end -= 1;
    }
    account[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const OTHER_IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            failures_per_account: 3,
            failures_per_address: 5,
            window: Duration::from_secs(60),
        })
    }

    fn fail(l: &LoginLimiter, account: &str, client: Option<IpAddr>, at: Instant) {
        let attempt = l.begin(account, client, at).expect("attempt allowed");
        l.failed(attempt);
    }

    #[test]
    fn account_is_paused_after_the_limit_and_released_by_the_window() {
        let l = limiter();
        let t0 = Instant::now();
        for i in 0..3 {
            fail(&l, "alice", IP, t0 + Duration::from_secs(i));
        }
        // Paused, from any address, until the first failure is 60 s old.
        let wait = l
            .begin("alice", OTHER_IP, t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(
            l.begin("alice", None, t0 + Duration::from_secs(59))
                .is_err()
        );
        // Other accounts are unaffected.
        assert!(
            l.begin("bob", OTHER_IP, t0 + Duration::from_secs(10))
                .is_ok()
        );
        // One failure aged out: one more attempt.
        let attempt = l.begin("alice", IP, t0 + Duration::from_secs(60)).unwrap();
        l.succeeded(attempt);
        // Success clears the account entirely.
        for i in 0..3 {
            fail(&l, "alice", OTHER_IP, t0 + Duration::from_secs(61 + i));
        }
        assert!(
            l.begin("alice", OTHER_IP, t0 + Duration::from_secs(65))
                .is_err()
        );
    }

    #[test]
    fn address_is_paused_across_accounts() {
        let l = limiter();
        let t0 = Instant::now();
        for i in 0..5 {
            fail(&l, &format!("user{i}"), IP, t0);
        }
        assert!(l.begin("someone-else", IP, t0).is_err());
        assert!(l.begin("someone-else", OTHER_IP, t0).is_ok());
        assert!(
            l.begin("someone-else", IP, t0 + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn success_keeps_address_failures_and_abandoned_attempts_do_not_count() {
        let l = limiter();
        let t0 = Instant::now();
        for i in 0..4 {
            fail(&l, &format!("user{i}"), IP, t0);
        }
        let ok = l.begin("alice", IP, t0).unwrap();
        l.succeeded(ok);
        for _ in 0..10 {
            let a = l.begin("carol", IP, t0).unwrap();
            l.abandoned(a);
        }
        // Four failures stand; the fifth attempt is allowed and then the address stops.
        fail(&l, "dave", IP, t0);
        assert!(l.begin("erin", IP, t0).is_err());
    }

    #[test]
    fn parallel_logins_of_a_clean_account_are_never_limited() {
        let l = limiter();
        let t0 = Instant::now();
        let pending: Vec<Attempt> = (0..50)
            .map(|_| l.begin("robot$ci", IP, t0).expect("no failure, no limit"))
            .collect();
        for attempt in pending {
            l.succeeded(attempt);
        }
        assert!(l.begin("robot$ci", IP, t0).is_ok());
    }

    #[test]
    fn after_a_failure_attempts_in_progress_count_too() {
        let l = limiter();
        let t0 = Instant::now();
        fail(&l, "alice", None, t0);
        // One failure and two guesses in flight reach the limit of three.
        let pending: Vec<Attempt> = (0..2)
            .map(|_| l.begin("alice", None, t0).unwrap())
            .collect();
        assert!(l.begin("alice", None, t0).is_err());
        for attempt in pending {
            l.abandoned(attempt);
        }
        assert!(l.begin("alice", None, t0).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let l = limiter();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED + 50) {
            fail(&l, &format!("user{i}"), None, t0);
        }
        let state = l.state.lock().unwrap();
        assert!(state.accounts.len() <= MAX_TRACKED);
        drop(state);
        let long = "x".repeat(10_000);
        fail(&l, &long, None, t0);
        assert!(account_key(&long).len() <= MAX_ACCOUNT_KEY);
        assert_eq!(account_key("zoë"), "zoë");
    }
}
