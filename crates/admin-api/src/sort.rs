//! Harbor's `sort` parameter: comma-separated field names, `-` in front for descending
//! (`sort=name,-creation_time`), checked against the fields a listing offers.

use projects::SortKey;

use crate::error::ApiError;

/// Parses `sort` with `fields` mapping Harbor's field names to the store's sort fields.
/// An unknown field is a 400, so a typo does not silently return another order.
pub fn parse_sort<F: Copy>(
    sort: Option<&str>,
    fields: &[(&str, F)],
) -> Result<Vec<SortKey<F>>, ApiError> {
    let Some(sort) = sort else {
        return Ok(Vec::new());
    };
    sort.split(',')
        .map(str::trim)
        .filter(|term| !term.is_empty())
        .map(|term| {
            let (name, descending) = match term.strip_prefix('-') {
                Some(name) => (name, true),
                None => (term, false),
            };
            let field = fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, f)| *f)
                .ok_or_else(|| {
                    let known: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                    ApiError::bad_request(format!(
                        "cannot sort by {name:?}; sortable fields: {}",
                        known.join(", ")
                    ))
                })?;
            Ok(SortKey { field, descending })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directions_and_rejects_unknown_fields() {
        let fields = [("name", 1), ("creation_time", 2)];
        let keys = parse_sort(Some("name,-creation_time"), &fields).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!((keys[0].field, keys[0].descending), (1, false));
        assert_eq!((keys[1].field, keys[1].descending), (2, true));
        assert!(parse_sort(Some("bogus"), &fields).is_err());
        assert!(parse_sort(None, &fields).unwrap().is_empty());
        assert!(parse_sort(Some(""), &fields).unwrap().is_empty());
    }
}
