//! A short-lived memory of passwords argon2 has just accepted.
//!
//! `docker` sends the user's password with every token request (each push and pull
//! asks for a fresh token), so a busy CI user would otherwise cost one argon2id run,
//! about 19 MiB and tens of milliseconds of CPU, per request. After a successful
//! verification the pair (stored hash, password) is remembered for [`TTL`] as an
//! HMAC-SHA256 tag under a random key made at start and never stored, so the cache holds
//! neither the password nor anything that can be checked against guesses without that
//! key.
//!
//! Only successes are remembered: a wrong password always pays the full argon2 cost, so
//! guessing is not made cheaper. A changed password changes the stored hash, so an entry
//! for the old one can never match again; the account itself (exists, enabled) is read
//! from the database on every login before this is consulted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use rand::RngCore;

/// How long an accepted password is remembered.
pub(crate) const TTL: Duration = Duration::from_secs(60);
/// Entries kept at most; beyond this, expired entries are dropped first, then all.
const CAPACITY: usize = 4096;

type Tag = [u8; 32];

pub(crate) struct VerifiedPasswords {
    key: hmac::Key,
    ttl: Duration,
    entries: Mutex<HashMap<Tag, Instant>>,
}

impl VerifiedPasswords {
    pub(crate) fn new(ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `password` was accepted against `phc` within the last TTL.
    pub(crate) fn contains(&self, phc: &str, password: &str) -> bool {
        let tag = self.tag(phc, password);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&tag) {
            Some(expires) if *expires > Instant::now() => true,
            Some(_) => {
                entries.remove(&tag);
                false
            }
            None => false,
        }
    }

    /// Remembers that argon2 accepted `password` against `phc`.
    pub(crate) fn insert(&self, phc: &str, password: &str) {
        let tag = self.tag(phc, password);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, expires| *expires > now);
            if entries.len() >= CAPACITY {
                // Only reachable with thousands of distinct logins a minute; forgetting
                // them all costs at most one argon2 run each on their next login.
                entries.clear();
            }
        }
        entries.insert(tag, now + self.ttl);
    }

    /// HMAC over both strings, length-prefixed so no two pairs share an input.
    fn tag(&self, phc: &str, password: &str) -> Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&(phc.len() as u64).to_be_bytes());
        ctx.update(phc.as_bytes());
        ctx.update(password.as_bytes());
        let mut tag = [0u8; 32];
        tag.copy_from_slice(ctx.sign().as_ref());
        tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_the_exact_pair_inserted() {
        let cache = VerifiedPasswords::new(TTL);
        assert!(!cache.contains("$argon2id$a", "pw"));
        cache.insert("$argon2id$a", "pw");
        assert!(cache.contains("$argon2id$a", "pw"));
        assert!(!cache.contains("$argon2id$a", "pw2"));
        assert!(!cache.contains("$argon2id$b", "pw"));
        // Moving bytes between the two strings must not collide.
        assert!(!cache.contains("$argon2id$ap", "w"));
    }

    #[test]
    fn entries_expire() {
        let cache = VerifiedPasswords::new(Duration::from_millis(20));
        cache.insert("phc", "pw");
        assert!(cache.contains("phc", "pw"));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!cache.contains("phc", "pw"));
        assert!(cache.entries.lock().unwrap().is_empty());
    }

    #[test]
    fn stays_bounded() {
        let cache = VerifiedPasswords::new(TTL);
        for i in 0..CAPACITY + 10 {
            cache.insert("phc", &i.to_string());
        }
        assert!(cache.entries.lock().unwrap().len() <= CAPACITY);
        // The newest entry survives a purge.
        assert!(cache.contains("phc", &(CAPACITY + 9).to_string()));
    }

    #[test]
    fn tags_differ_between_processes() {
        let (a, b) = (VerifiedPasswords::new(TTL), VerifiedPasswords::new(TTL));
        assert_ne!(a.tag("phc", "pw"), b.tag("phc", "pw"));
    }
}
