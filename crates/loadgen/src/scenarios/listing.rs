//! Walking tag and catalog listings, whole and page by page, and checking them.

use super::*;

pub(super) fn check_listing(
    m: &mut Measured,
    whole: u64,
    pages: &Walk,
    expected: u64,
    page_size: u32,
    what: &str,
) {
    let mut problems = Vec::new();
    if whole != expected {
        problems.push(format!(
            "whole list has {whole} {what}, expected {expected}"
        ));
    }
    if pages.items != expected {
        problems.push(format!(
            "paged walk saw {} {what}, expected {expected}",
            pages.items
        ));
    }
    if pages.largest > u64::from(page_size) {
        problems.push(format!(
            "n={page_size} not honoured: a page had {} entries",
            pages.largest
        ));
    }
    if !problems.is_empty() {
        let prior = m.note.take();
        m.note = Some(
            prior
                .into_iter()
                .chain(problems)
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
}

/// The whole tags list asked for without `n`, following `Link` headers if the registry
/// still pages it (Berth caps any page at 10,000 entries).
pub(super) async fn list_whole(reg: &Registry, repo: &str) -> Result<Walk> {
    let url = reg.url(&format!("/v2/{repo}/tags/list"))?;
    walk_from(reg, &pull_scope(repo), url).await
}

#[derive(Debug, Clone)]
pub(super) struct Walk {
    pub(super) pages: u64,
    pub(super) items: u64,
    pub(super) largest: u64,
}

/// Walks a paged listing from the start, following `Link` headers (bounded).
pub(super) async fn walk_pages(reg: &Registry, path: &str, scope: &str, n: u32) -> Result<Walk> {
    let url = reg.url(&format!("{path}?n={n}"))?;
    walk_from(reg, scope, url).await
}

pub(super) async fn walk_from(reg: &Registry, scope: &str, mut url: Url) -> Result<Walk> {
    let mut walk = Walk {
        pages: 0,
        items: 0,
        largest: 0,
    };
    for _ in 0..1_000_000 {
        let (items, next) = get_page(reg, scope, &url).await?;
        walk.pages += 1;
        walk.items += items;
        walk.largest = walk.largest.max(items);
        match next {
            Some(next) => url = next,
            None => return Ok(walk),
        }
    }
    bail!("listing did not end after a million pages")
}

/// One page read without parsing it: the next page's URL, if any.
pub(super) async fn get_page_raw(reg: &Registry, scope: &str, url: &Url) -> Result<Option<Url>> {
    let (resp, next) = fetch_page(reg, scope, url).await?;
    resp.bytes().await?;
    Ok(next)
}

/// One page of `tags` or `repositories`: its entry count and the next page's URL.
pub(super) async fn get_page(reg: &Registry, scope: &str, url: &Url) -> Result<(u64, Option<Url>)> {
    let (resp, next) = fetch_page(reg, scope, url).await?;
    let body: Value = resp.json().await?;
    let items = ["tags", "repositories"]
        .iter()
        .find_map(|k| body.get(*k))
        .map(|v| v.as_array().map(|a| a.len() as u64).unwrap_or(0))
        .unwrap_or(0);
    Ok((items, next))
}

/// Requests one page and reads the next page's URL from its `Link` header; the body is
/// left to the caller.
async fn fetch_page(
    reg: &Registry,
    scope: &str,
    url: &Url,
) -> Result<(reqwest::Response, Option<Url>)> {
    let resp = reg.send(scope, |c| c.get(url.clone())).await?;
    let resp = expect(resp, &[StatusCode::OK], "listing").await?;
    let next = resp
        .headers()
        .get(LINK)
        .and_then(|v| v.to_str().ok())
        .and_then(upload::next_link)
        .map(|l| upload::resolve(url, l))
        .transpose()?;
    if let Some(next) = &next {
        reg.check_url(next)?;
    }
    Ok((resp, next))
}
