//! The vocabulary every listing of the admin API shares (projects, members,
//! repositories, artifacts, tags, and the account listings): text filters, sort keys
//! and the window of rows to return. The SQL for them is built by
//! `accounts::filter::Where`.

/// A text filter from Harbor's `q`: equal (`k=v`), or containing the value,
/// case-insensitively (`k=~v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMatch {
    Exact(String),
    Contains(String),
}

/// A sort key: one of the fields a listing offers, and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey<F> {
    pub field: F,
    pub descending: bool,
}

/// Which rows of a listing to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: u64,
    pub limit: u64,
}

impl Window {
    /// Everything (for small, bounded listings).
    pub const ALL: Window = Window {
        offset: 0,
        limit: i64::MAX as u64,
    };
}
