//! Harbor's `q` query language: comma-separated `key=value` terms where the value is
//! exact (`k=v`), fuzzy (`k=~v`), a range (`k=[min~max]`), or a set (`k={a b c}`).

use std::collections::HashMap;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Exact(String),
    Fuzzy(String),
    Range(Option<String>, Option<String>),
    AnyOf(Vec<String>),
}

/// Parsed `q`: key -> term.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Q(pub HashMap<String, Term>);

impl Q {
    pub fn parse(q: Option<&str>) -> Result<Self, ApiError> {
        let mut terms = HashMap::new();
        let Some(q) = q.filter(|q| !q.trim().is_empty()) else {
            return Ok(Self(terms));
        };
        for part in split_terms(q) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| ApiError::bad_request(format!("invalid query term {part:?}")))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "invalid query term {part:?}"
                )));
            }
            let term = if let Some(v) = value.strip_prefix('~') {
                Term::Fuzzy(v.to_owned())
            } else if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                let (min, max) = inner
                    .split_once('~')
                    .ok_or_else(|| ApiError::bad_request(format!("invalid range {value:?}")))?;
                let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
                Term::Range(opt(min), opt(max))
            } else if let Some(inner) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                Term::AnyOf(inner.split_whitespace().map(str::to_owned).collect())
            } else {
                Term::Exact(value.to_owned())
            };
            terms.insert(key.to_owned(), term);
        }
        Ok(Self(terms))
    }

    pub fn get(&self, key: &str) -> Option<&Term> {
        self.0.get(key)
    }

    /// The value of an exact or fuzzy term.
    pub fn text(&self, key: &str) -> Option<(&str, bool)> {
        match self.0.get(key)? {
            Term::Exact(v) => Some((v, false)),
            Term::Fuzzy(v) => Some((v, true)),
            _ => None,
        }
    }
}

/// Splits on commas that are not inside `[...]` or `{...}`.
fn split_terms(q: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in q.char_indices() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&q[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&q[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_harbor_terms() {
        let q = Q::parse(Some(
            "name=~lib,public=true,op_time=[2020-01-01 00:00:00~],operation={create delete}",
        ))
        .unwrap();
        assert_eq!(q.get("name"), Some(&Term::Fuzzy("lib".into())));
        assert_eq!(q.get("public"), Some(&Term::Exact("true".into())));
        assert_eq!(
            q.get("op_time"),
            Some(&Term::Range(Some("2020-01-01 00:00:00".into()), None))
        );
        assert_eq!(
            q.get("operation"),
            Some(&Term::AnyOf(vec!["create".into(), "delete".into()]))
        );
        assert!(Q::parse(Some("novalue")).is_err());
        assert!(Q::parse(None).unwrap().0.is_empty());
    }
}
