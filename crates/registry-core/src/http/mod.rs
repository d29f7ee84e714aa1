//! The `/v2` HTTP surface.

/// The `Range` header value distribution sends for an upload holding `offset` bytes.
pub fn range_header(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}
