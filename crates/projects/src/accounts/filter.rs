//! A small WHERE-clause builder for the account listings (users, robots, audit log):
//! conditions with `$n` placeholders both backends accept, their bind values in order,
//! paging and sorting. The filter vocabulary ([`TextMatch`], [`SortKey`], [`Window`]) is
//! the one the project listings use.

use crate::codec::to_db_int;
use crate::error::DbError;
use crate::tenancy::{SortKey, TextMatch, Window};

/// A value bound to a placeholder.
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

/// Collects `AND`-ed conditions and their bind values, numbering placeholders in order.
#[derive(Default)]
pub(crate) struct Where {
    clauses: Vec<String>,
    pub(crate) binds: Vec<Bind>,
}

impl Where {
    /// Adds a bind value and returns its placeholder.
    pub(crate) fn param(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    pub(crate) fn clause(&mut self, sql: String) {
        self.clauses.push(sql);
    }

    pub(crate) fn text(&mut self, column: &str, m: &TextMatch) {
        let sql = match m {
            TextMatch::Exact(v) => format!("{column} = {}", self.param(Bind::Text(v.clone()))),
            // Harbor's fuzzy match is case-insensitive (`icontains`). LOWER on both
            // sides, because Postgres LIKE is case-sensitive and SQLite's is not.
            TextMatch::Contains(v) => {
                let pattern = format!("%{}%", escape_like(&v.to_lowercase()));
                format!(
                    "LOWER({column}) LIKE {} ESCAPE '\\'",
                    self.param(Bind::Text(pattern))
                )
            }
        };
        self.clauses.push(sql);
    }

    pub(crate) fn int_in(&mut self, column: &str, values: &[i64]) {
        if values.is_empty() {
            self.clauses.push("1 = 0".to_owned());
            return;
        }
        let list: Vec<String> = values.iter().map(|v| self.param(Bind::Int(*v))).collect();
        self.clauses
            .push(format!("{column} IN ({})", list.join(", ")));
    }

    pub(crate) fn int_eq(&mut self, column: &str, value: i64) {
        let p = self.param(Bind::Int(value));
        self.clauses.push(format!("{column} = {p}"));
    }

    /// `column` between `from` and `to`, both inclusive, either open.
    pub(crate) fn range(&mut self, column: &str, from: Option<i64>, to: Option<i64>) {
        if let Some(from) = from {
            let p = self.param(Bind::Int(from));
            self.clauses.push(format!("{column} >= {p}"));
        }
        if let Some(to) = to {
            let p = self.param(Bind::Int(to));
            self.clauses.push(format!("{column} <= {p}"));
        }
    }

    /// ` WHERE a AND b`, or nothing.
    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// ` LIMIT $n OFFSET $m` (binds appended after every condition's).
    pub(crate) fn limit(&mut self, window: Window) -> Result<String, DbError> {
        let limit = self.param(Bind::Int(to_db_int(window.limit, "limit")?));
        let offset = self.param(Bind::Int(to_db_int(window.offset, "offset")?));
        Ok(format!(" LIMIT {limit} OFFSET {offset}"))
    }
}

/// Binds every value of a [`Where`] to a query, in placeholder order. A macro because
/// each backend's query type is different (see `db.rs`).
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for value in $binds {
            query = match value {
                $crate::accounts::filter::Bind::Int(i) => query.bind(*i),
                $crate::accounts::filter::Bind::Text(s) => query.bind(s.clone()),
            };
        }
        query
    }};
}
pub(crate) use bind_all;

/// ` ORDER BY ...` from `sort`, each field mapped to its column by `column`, always
/// followed by `fallback` (the default order, ending in a unique column) so that pages
/// neither repeat nor skip rows.
pub(crate) fn order_by<F: Copy>(
    sort: &[SortKey<F>],
    column: impl Fn(F) -> &'static str,
    fallback: &str,
) -> String {
    let mut terms: Vec<String> = sort
        .iter()
        .map(|key| {
            format!(
                "{} {}",
                column(key.field),
                if key.descending { "DESC" } else { "ASC" }
            )
        })
        .collect();
    terms.push(fallback.to_owned());
    format!(" ORDER BY {}", terms.join(", "))
}

/// Escapes LIKE wildcards so user input matches literally (escape character `\`).
pub(crate) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_in_order() {
        let mut w = Where::default();
        w.text("username", &TextMatch::Contains("A_b%".into()));
        w.int_in("project_id", &[3, 4]);
        w.range("op_time", Some(1), None);
        let limit = w
            .limit(Window {
                offset: 20,
                limit: 10,
            })
            .unwrap();
        assert_eq!(
            w.sql(),
            " WHERE LOWER(username) LIKE $1 ESCAPE '\\' AND project_id IN ($2, $3) AND op_time >= $4"
        );
        assert_eq!(limit, " LIMIT $5 OFFSET $6");
        assert!(matches!(&w.binds[0], Bind::Text(p) if p == "%a\\_b\\%%"));
    }

    #[test]
    fn empty_sets_match_nothing() {
        let mut w = Where::default();
        w.int_in("id", &[]);
        assert_eq!(w.sql(), " WHERE 1 = 0");
        assert_eq!(Where::default().sql(), "");
        let mut all = Where::default();
        assert_eq!(all.limit(Window::ALL).unwrap(), " LIMIT $1 OFFSET $2");
    }

    #[test]
    fn order_by_maps_fields_and_breaks_ties() {
        let sort = [SortKey {
            field: true,
            descending: true,
        }];
        let column = |f: bool| if f { "u.created_at" } else { "u.username" };
        assert_eq!(
            order_by(&sort, column, "u.id"),
            " ORDER BY u.created_at DESC, u.id"
        );
        assert_eq!(order_by::<bool>(&[], column, "u.id"), " ORDER BY u.id");
    }
}
