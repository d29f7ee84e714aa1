//! Harbor's paging: `page` (from 1) and `page_size` (default 10, at most 100) in, and
//! `X-Total-Count` plus an RFC 5988 `Link` header (`rel="prev"`, `rel="next"`) out.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub const DEFAULT_PAGE_SIZE: u64 = 10;
pub const MAX_PAGE_SIZE: u64 = 100;

#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1.
    pub page: Option<u64>,
    /// Items per page (at most 100).
    pub page_size: Option<u64>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u64,
    pub size: u64,
}

impl Page {
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.size
    }
}

impl PageParams {
    pub fn validate(&self) -> Result<Page, ApiError> {
        let page = self.page.unwrap_or(1);
        let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page == 0 {
            return Err(ApiError::bad_request("page must be at least 1"));
        }
        if size == 0 || size > MAX_PAGE_SIZE {
            return Err(ApiError::bad_request(format!(
                "page_size must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        Ok(Page { page, size })
    }
}

/// A JSON array answer with Harbor's paging headers. `path` is the request path and
/// `extra_query` the other query parameters to repeat in links (e.g. `q=...`).
pub fn paged<T: Serialize>(
    items: Vec<T>,
    total: u64,
    page: Page,
    path: &str,
    extra_query: &[(&str, &str)],
) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        headers.insert("x-total-count", v);
    }
    let link_to = |p: u64| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in extra_query {
            q.append_pair(k, v);
        }
        q.append_pair("page", &p.to_string());
        q.append_pair("page_size", &page.size.to_string());
        format!("<{path}?{}>", q.finish())
    };
    let mut links = Vec::new();
    if page.page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page.page - 1)));
    }
    if page.page * page.size < total {
        links.push(format!("{}; rel=\"next\"", link_to(page.page + 1)));
    }
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(" , "))
    {
        headers.insert("link", v);
    }
    (headers, Json(items)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_links() {
        assert!(
            PageParams {
                page: Some(0),
                page_size: None
            }
            .validate()
            .is_err()
        );
        assert!(
            PageParams {
                page: None,
                page_size: Some(101)
            }
            .validate()
            .is_err()
        );
        let page = PageParams {
            page: Some(2),
            page_size: Some(10),
        }
        .validate()
        .unwrap();
        assert_eq!(page.offset(), 10);
        let response = paged(
            vec![1, 2],
            35,
            page,
            "/api/v2.0/projects",
            &[("q", "name=~a")],
        );
        let link = response.headers()["link"].to_str().unwrap();
        assert!(
            link.contains("page=1") && link.contains("rel=\"prev\""),
            "{link}"
        );
        assert!(
            link.contains("page=3") && link.contains("rel=\"next\""),
            "{link}"
        );
        assert!(link.contains("q=name%3D%7Ea"), "{link}");
        assert_eq!(response.headers()["x-total-count"], "35");
    }
}
