//! Content digests (`sha256:<64 hex>`), the identity of every blob and manifest.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A validated `sha256` digest. Other algorithms are rejected: the OCI spec only requires
/// sha256, and accepting unknown algorithms would mean storing content we cannot verify.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestParseError {
    #[error("digest must look like sha256:<64 lowercase hex characters>")]
    Malformed,
    #[error("unsupported digest algorithm {0:?}; only sha256 is supported")]
    UnsupportedAlgorithm(String),
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_sha256(Sha256::digest(bytes).as_slice())
    }

    /// Builds a digest from a finished sha256 output (32 bytes).
    pub fn from_sha256(raw: &[u8]) -> Self {
        Self {
            hex: hex::encode(raw),
        }
    }

    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algorithm, hex) = s.split_once(':').ok_or(DigestParseError::Malformed)?;
        if algorithm != "sha256" {
            let known_shape = !algorithm.is_empty()
                && algorithm
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
            return Err(if known_shape {
                DigestParseError::UnsupportedAlgorithm(algorithm.to_owned())
            } else {
                DigestParseError::Malformed
            });
        }
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestParseError::Malformed);
        }
        Ok(Self {
            hex: hex.to_owned(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sha256() {
        let d = Digest::of(b"hello");
        let parsed: Digest = d.to_string().parse().unwrap();
        assert_eq!(parsed, d);
        assert_eq!(
            d.to_string(),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    #[test]
    fn rejects_bad_digests() {
        assert_eq!(
            "sha256:abc".parse::<Digest>(),
            Err(DigestParseError::Malformed)
        );
        assert_eq!(
            format!("sha256:{}", "A".repeat(64)).parse::<Digest>(),
            Err(DigestParseError::Malformed)
        );
        assert_eq!(
            format!("sha512:{}", "a".repeat(128)).parse::<Digest>(),
            Err(DigestParseError::UnsupportedAlgorithm("sha512".into()))
        );
        assert_eq!(
            "nocolon".parse::<Digest>(),
            Err(DigestParseError::Malformed)
        );
        assert_eq!("../x:y".parse::<Digest>(), Err(DigestParseError::Malformed));
    }
}
