//! Password hashing (argon2id, PHC strings) and generated passwords. Hashing is
//! deliberately slow, so the async wrappers move it off the async worker threads.

use std::sync::LazyLock;

use argon2::password_hash::Error as HashError;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::sync::Semaphore;

use crate::error::DbError;
use crate::password_cache::{TTL, VerifiedPasswords};

/// Length of generated passwords: ~143 bits from [A-Za-z0-9].
const GENERATED_LEN: usize = 24;

/// A real hash to verify against when the user does not exist, so that a login attempt
/// costs the same whether or not the username is known. Made with the same default
/// parameters as stored hashes, hence the same verification time.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| hash(&generate_password()).ok());

/// argon2id with the crate's default parameters and a random salt, as a PHC string.
fn hash(password: &str) -> Result<String, DbError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| DbError::Password(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (its parameters are read from it).
fn verify(password: &str, phc: &str) -> Result<bool, DbError> {
    match Argon2::default().verify_password(password.as_bytes(), phc) {
        Ok(()) => Ok(true),
        Err(HashError::PasswordInvalid) => Ok(false),
        Err(e) => Err(DbError::Password(e.to_string())),
    }
}

/// Each argon2id computation holds about 19 MiB. Without a bound, a burst of
/// concurrent logins (a CI fleet, or an attacker) ran hundreds at once on the blocking
/// pool and grew the process by gigabytes; with it, extra logins wait their turn and
/// memory stays at a few computations' worth.
static ARGON2_SLOTS: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Semaphore::new(cores.clamp(2, 16))
});

/// Runs one argon2 computation on the blocking pool, at most `ARGON2_SLOTS` at a time.
async fn run_argon2<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DbError> {
    // The semaphore is never closed, so acquiring only waits.
    let _slot = ARGON2_SLOTS.acquire().await.ok();
    Ok(tokio::task::spawn_blocking(work).await?)
}

pub(crate) async fn hash_password(password: String) -> Result<String, DbError> {
    run_argon2(move || hash(&password)).await?
}

/// Passwords argon2 accepted in the last minute (see `password_cache`).
static RECENTLY_VERIFIED: LazyLock<VerifiedPasswords> =
    LazyLock::new(|| VerifiedPasswords::new(TTL));

pub(crate) async fn verify_password(password: String, phc: String) -> Result<bool, DbError> {
    if RECENTLY_VERIFIED.contains(&phc, &password) {
        return Ok(true);
    }
    let (ok, password, phc) = run_argon2(move || {
        let ok = verify(&password, &phc);
        (ok, password, phc)
    })
    .await?;
    if matches!(ok, Ok(true)) {
        RECENTLY_VERIFIED.insert(&phc, &password);
    }
    ok
}

/// Spends the time of one verification without checking anything (unknown user).
pub(crate) async fn verify_dummy(password: String) {
    // The outcome is irrelevant: the caller answers "no such login" regardless.
    let _ = run_argon2(move || DUMMY_HASH.as_deref().map(|phc| verify(&password, phc))).await;
}

/// A random password of upper- and lowercase letters and digits, with at least one of
/// each so it passes the usual complexity rules (Harbor's among them).
pub(crate) fn generate_password() -> String {
    let mut rng = rand::rng();
    loop {
        let candidate: String = (&mut rng)
            .sample_iter(Alphanumeric)
            .take(GENERATED_LEN)
            .map(char::from)
            .collect();
        let has = |f: fn(&char) -> bool| candidate.chars().any(|c| f(&c));
        if has(char::is_ascii_uppercase)
            && has(char::is_ascii_lowercase)
            && has(char::is_ascii_digit)
        {
            return candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_phc_and_verifies() {
        let phc = hash("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("s3cret", &phc).unwrap());
        assert!(!verify("S3cret", &phc).unwrap());
        // A fresh salt every time.
        assert_ne!(phc, hash("s3cret").unwrap());
        assert!(matches!(
            verify("x", "not a phc string"),
            Err(DbError::Password(_))
        ));
    }

    #[tokio::test]
    async fn only_accepted_passwords_are_remembered() {
        let phc = hash("remember me").unwrap();
        assert!(!verify_password("wrong".into(), phc.clone()).await.unwrap());
        assert!(!RECENTLY_VERIFIED.contains(&phc, "wrong"));
        assert!(!RECENTLY_VERIFIED.contains(&phc, "remember me"));
        assert!(
            verify_password("remember me".into(), phc.clone())
                .await
                .unwrap()
        );
        assert!(RECENTLY_VERIFIED.contains(&phc, "remember me"));
        // Answered from the cache, and still only for the right password.
        assert!(
            verify_password("remember me".into(), phc.clone())
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong".into(), phc).await.unwrap());
    }

    #[test]
    fn generated_passwords_mix_classes() {
        for _ in 0..200 {
            let p = generate_password();
            assert_eq!(p.len(), GENERATED_LEN);
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
        }
        assert_ne!(generate_password(), generate_password());
    }

    #[test]
    fn dummy_hash_exists() {
        assert!(
            DUMMY_HASH
                .as_deref()
                .is_some_and(|h| h.starts_with("$argon2id$"))
        );
    }
}
