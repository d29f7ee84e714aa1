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

/// The same order with every term's direction flipped, for reading a listing from its far
/// end. `order` is what [`order_by`] returns: plain columns, each with an optional
/// `ASC`/`DESC` (no expressions containing commas).
pub(crate) fn reverse_order(order: &str) -> String {
    let terms = order.strip_prefix(" ORDER BY ").unwrap_or(order);
    let flipped: Vec<String> = terms
        .split(", ")
        .map(|term| {
            if let Some(column) = term.strip_suffix(" DESC") {
                format!("{column} ASC")
            } else {
                format!("{} DESC", term.strip_suffix(" ASC").unwrap_or(term))
            }
        })
        .collect();
    format!(" ORDER BY {}", flipped.join(", "))
}

/// A page past the middle of a listing of `total` rows, as a page of the reversed order.
///
/// OFFSET walks every row it skips, so the last page of 500,000 audit records walked all
/// of them. Since every order ends in a unique column (see [`order_by`]), the rows at
/// `offset..offset + limit` are the rows at `total - offset - limit..total - offset` of
/// the reversed order; the caller reads those with [`reverse_order`] and sorts them back.
/// `None` when the page starts in the first half (or there is nothing to skip).
pub(crate) fn from_far_end(window: Window, total: u64) -> Option<Window> {
    let end = window.offset.saturating_add(window.limit).min(total);
    let far = window.offset < total && window.offset.saturating_add(end) > total;
    far.then(|| Window {
        offset: total - end,
        limit: end - window.offset,
    })
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
    fn reversed_orders_flip_every_term() {
        assert_eq!(
            reverse_order(" ORDER BY op_time DESC, id DESC"),
            " ORDER BY op_time ASC, id ASC"
        );
        assert_eq!(
            reverse_order(" ORDER BY u.created_at ASC, u.id"),
            " ORDER BY u.created_at DESC, u.id DESC"
        );
    }

    #[test]
    fn deep_pages_are_read_from_the_far_end() {
        let w = |offset, limit| Window { offset, limit };
        // The first half, and pages past the end, are read as asked.
        assert_eq!(from_far_end(w(0, 10), 100), None);
        assert_eq!(from_far_end(w(40, 10), 100), None);
        assert_eq!(from_far_end(w(100, 10), 100), None);
        assert_eq!(from_far_end(w(0, 100), 100), None);
        assert_eq!(from_far_end(Window::ALL, 100), None);
        // Rows 50..60 of 100 are rows 40..50 reversed; the last, partial page is the first.
        assert_eq!(from_far_end(w(50, 10), 100), Some(w(40, 10)));
        assert_eq!(from_far_end(w(95, 10), 100), Some(w(0, 5)));
        assert_eq!(from_far_end(w(1, 3), 4), Some(w(0, 3)));
        // Every row of every mirrored page is the row the plain page would return.
        for total in 0..12u64 {
            for offset in 0..14 {
                for limit in 1..6 {
                    if let Some(m) = from_far_end(w(offset, limit), total) {
                        let plain: Vec<u64> = (offset..(offset + limit).min(total)).collect();
                        let mut mirrored: Vec<u64> = (m.offset..m.offset + m.limit)
                            .map(|i| total - 1 - i)
                            .collect();
                        mirrored.reverse();
                        assert_eq!(
                            mirrored, plain,
                            "total {total} offset {offset} limit {limit}"
                        );
                    }
                }
            }
        }
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
