//! Paged listings: tags, catalog, referrers.

use super::Registry;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::meta::Referrer;
use crate::name::RepoName;

/// Largest page served, whatever `n` asks; a `Link` header points at the rest.
pub const MAX_PAGE: u32 = 10_000;

/// One page of names, and whether more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<String>,
    pub more: bool,
}

fn page_from(mut items: Vec<String>, limit: u32) -> Page {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Page { items, more }
}

impl Registry {
    pub async fn list_tags(
        &self,
        repo: &RepoName,
        n: Option<u32>,
        last: Option<&str>,
    ) -> Result<Page, RegistryError> {
        if !self.meta.repository_exists(repo).await? {
            return Err(RegistryError::name_unknown(repo));
        }
        let limit = n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                more: false,
            });
        }
        let items = self.meta.list_tags(repo, last, limit + 1).await?;
        Ok(page_from(items, limit))
    }

    pub async fn catalog(&self, n: Option<u32>, last: Option<&str>) -> Result<Page, RegistryError> {
        let limit = n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                more: false,
            });
        }
        let items = self.meta.list_repositories(last, limit + 1).await?;
        Ok(page_from(items, limit))
    }

    pub async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, RegistryError> {
        Ok(self.meta.referrers(repo, subject, artifact_type).await?)
    }
}
