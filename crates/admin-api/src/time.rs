//! Timestamps: the database keeps unix seconds, Harbor's JSON carries RFC 3339 in UTC
//! (`2006-01-02T15:04:05Z`), and `q` ranges are written `2006-01-02 15:04:05`.

use chrono::{DateTime, NaiveDateTime, SecondsFormat};

/// Unix seconds as RFC 3339 UTC; an out-of-range value (never written by Berth) as
/// the epoch rather than a failure of the whole response.
pub fn rfc3339(unix_seconds: i64) -> String {
    DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A time in a `q` range: Harbor's `2006-01-02 15:04:05` (UTC), RFC 3339, a plain date,
/// or unix seconds. Values may be quoted, as Harbor's query syntax allows.
pub fn parse_query_time(value: &str) -> Option<i64> {
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if let Ok(secs) = value.parse::<i64>() {
        return Some(secs);
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S") {
        return Some(t.and_utc().timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp());
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(rfc3339(1136214245), "2006-01-02T15:04:05Z");
        assert_eq!(parse_query_time("2006-01-02 15:04:05"), Some(1136214245));
        assert_eq!(parse_query_time("'2006-01-02 15:04:05'"), Some(1136214245));
        assert_eq!(parse_query_time("2006-01-02T15:04:05Z"), Some(1136214245));
        assert_eq!(parse_query_time("2006-01-02"), Some(1136160000));
        assert_eq!(parse_query_time("1136214245"), Some(1136214245));
        assert_eq!(parse_query_time("yesterday"), None);
    }
}
