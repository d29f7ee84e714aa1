//! Conversions between domain values and column values, shared by both backends.

use registry_core::Digest;
use registry_core::blobs::StagedPart;
use serde::{Deserialize, Serialize};

use crate::error::DbError;

/// Now, in unix seconds (every timestamp column).
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Sizes and offsets are `u64` in the domain and BIGINT (signed) in both databases.
pub(crate) fn to_db_int(n: u64, what: &str) -> Result<i64, DbError> {
    i64::try_from(n).map_err(|_| DbError::OutOfRange(format!("{what} {n} exceeds 2^63-1")))
}

/// The reverse of [`to_db_int`]; a negative value is a row this code never wrote.
pub(crate) fn from_db_int(n: i64, what: &str) -> Result<u64, DbError> {
    u64::try_from(n).map_err(|_| DbError::Corrupt(format!("negative {what}: {n}")))
}

pub(crate) fn parse_digest(s: &str) -> Result<Digest, DbError> {
    s.parse()
        .map_err(|e| DbError::Corrupt(format!("digest {s:?}: {e}")))
}

pub(crate) fn parse_optional_digest(s: Option<String>) -> Result<Option<Digest>, DbError> {
    s.as_deref().map(parse_digest).transpose()
}

/// One element of the `uploads.parts` JSON array. JSON rather than a delimited list
/// because part ids are opaque strings chosen by the caller.
#[derive(Serialize, Deserialize)]
struct PartColumn {
    id: String,
    size: u64,
}

pub(crate) fn encode_parts(parts: &[StagedPart]) -> Result<String, DbError> {
    let column: Vec<PartColumn> = parts
        .iter()
        .map(|p| PartColumn {
            id: p.id.clone(),
            size: p.size,
        })
        .collect();
    serde_json::to_string(&column).map_err(|e| DbError::Corrupt(format!("upload parts: {e}")))
}

pub(crate) fn decode_parts(text: &str) -> Result<Vec<StagedPart>, DbError> {
    let column: Vec<PartColumn> = serde_json::from_str(text)
        .map_err(|e| DbError::Corrupt(format!("upload parts {text:?}: {e}")))?;
    Ok(column
        .into_iter()
        .map(|p| StagedPart {
            id: p.id,
            size: p.size,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_with_awkward_ids() {
        let parts = vec![
            StagedPart {
                id: "a:b,c\"d".into(),
                size: 0,
            },
            StagedPart {
                id: "0b7c".into(),
                size: u64::from(u32::MAX) + 1,
            },
        ];
        let text = encode_parts(&parts).unwrap();
        assert_eq!(decode_parts(&text).unwrap(), parts);
        assert_eq!(encode_parts(&[]).unwrap(), "[]");
        assert!(matches!(decode_parts("nope"), Err(DbError::Corrupt(_))));
    }

    #[test]
    fn integers_stay_in_bigint_range() {
        assert_eq!(to_db_int(5, "size").unwrap(), 5);
        assert!(matches!(
            to_db_int(u64::MAX, "size"),
            Err(DbError::OutOfRange(_))
        ));
        assert!(matches!(from_db_int(-1, "size"), Err(DbError::Corrupt(_))));
    }
}
