//! Artifacts (manifests) and their tags as the admin API sees them: sizes that include
//! layers and children, tags, index children, and Harbor's deletion rules.

use std::collections::{HashMap, HashSet};

use crate::accounts::filter::{Bind, Where, bind_all, order_by};
use crate::codec::{from_db_int, now};
use crate::db::{Database, with_reader, with_transaction, with_writer};
use crate::error::DbError;
use crate::tenancy::filter::{SortKey, TextMatch, Window};

/// Manifest `m` is a "base" artifact in Harbor's sense: not a child of an index in the
/// same repository, and not an accessory (a manifest whose `subject` is in the
/// repository, e.g. a signature). Harbor lists and counts only these unless asked for
/// `base=*`.
///
/// The parent lookup starts from the references to `m`'s digest (an index lookup, a
/// handful of rows) and only then checks the parent's repository. `CROSS JOIN` keeps
/// SQLite to that order: left to choose, without statistics it walked every manifest of
/// the repository and probed each one's references, so listing or counting the
/// artifacts of a repository with N manifests cost N² lookups (10 ms of a 100-row
/// repository page at Harbor's "small" size). Postgres plans it the same either way.
pub(crate) const BASE_ARTIFACT: &str = "NOT EXISTS (SELECT 1 FROM manifest_references br \
     CROSS JOIN manifests bp \
     WHERE br.kind = 'manifest' AND br.digest = m.digest \
     AND bp.id = br.manifest_id AND bp.repository_id = m.repository_id) \
     AND NOT EXISTS (SELECT 1 FROM manifests bs \
     WHERE bs.repository_id = m.repository_id AND bs.digest = m.subject_digest)";

/// Size of manifest `m` as Harbor reports it: the manifest itself, the blobs it
/// references, and for an index each child with its blobs. Cast because Postgres sums
/// BIGINTs as NUMERIC.
const ARTIFACT_SIZE: &str = "CAST(m.size \
     + COALESCE((SELECT SUM(b.size) FROM manifest_references mb JOIN blobs b ON b.digest = mb.digest \
       WHERE mb.manifest_id = m.id AND mb.kind = 'blob'), 0) \
     + COALESCE((SELECT SUM(c.size + COALESCE((SELECT SUM(cb.size) FROM manifest_references cbr \
       JOIN blobs cb ON cb.digest = cbr.digest WHERE cbr.manifest_id = c.id AND cbr.kind = 'blob'), 0)) \
       FROM manifest_references mc JOIN manifests c ON c.repository_id = m.repository_id AND c.digest = mc.digest \
       WHERE mc.manifest_id = m.id AND mc.kind = 'manifest'), 0) AS BIGINT)";

/// An artifact with its tags and, for an index, its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub id: i64,
    pub repository_id: i64,
    pub repository_name: String,
    pub digest: String,
    /// The manifest's media type.
    pub media_type: String,
    pub artifact_type: Option<String>,
    /// The manifest's `annotations` object as JSON text.
    pub annotations: Option<String>,
    /// The manifest bytes (for the config media type and index platforms).
    pub content: Vec<u8>,
    pub size: u64,
    /// Unix seconds.
    pub push_time: i64,
    pub pull_time: Option<i64>,
    /// In name order.
    pub tags: Vec<ArtifactTag>,
    /// For an index: the children it references, with their ids when present.
    pub children: Vec<ArtifactChild>,
}

/// A tag in the shape of Harbor's `Tag`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArtifactTag {
    pub name: String,
    pub artifact_id: i64,
    pub repository_id: i64,
    /// When the tag was last pointed at its artifact (unix seconds).
    pub push_time: i64,
    /// The artifact's last pull: pulls are recorded per artifact, not per tag.
    pub pull_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactChild {
    pub digest: String,
    pub id: Option<i64>,
}

/// Which artifact: by digest or by tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRef {
    Digest(String),
    Tag(String),
}

/// Harbor's `tags` query term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    /// `tags=*`: tagged artifacts.
    Any,
    /// `tags=nil`: untagged artifacts.
    Nothing,
    /// `tags=v` or `tags=~v`.
    Matching(TextMatch),
}

/// Filters of the artifact listing; all given ones must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArtifactFilter {
    /// Also list index children and accessories (Harbor's `base=*`).
    pub all: bool,
    pub digest: Option<String>,
    pub media_type: Option<TextMatch>,
    pub tags: Option<TagFilter>,
}

/// `sort` fields of the artifact listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactSortField {
    Id,
    Digest,
    MediaType,
    PushTime,
    PullTime,
}

fn artifact_sort_column(field: ArtifactSortField) -> &'static str {
    match field {
        ArtifactSortField::Id => "m.id",
        ArtifactSortField::Digest => "m.digest",
        ArtifactSortField::MediaType => "m.media_type",
        ArtifactSortField::PushTime => "COALESCE(m.push_time, m.created_at)",
        ArtifactSortField::PullTime => "COALESCE(m.pull_time, 0)",
    }
}

/// `sort` fields of the tag listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagSortField {
    Name,
    PushTime,
}

fn tag_sort_column(field: TagSortField) -> &'static str {
    match field {
        TagSortField::Name => "t.name",
        TagSortField::PushTime => "t.updated_at",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteArtifactOutcome {
    /// The digests removed: the artifact first, then the children and accessories that
    /// went with it.
    Deleted(Vec<String>),
    NotFound,
    /// Refused: an index in the repository references the artifact.
    ReferencedByIndex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateTagOutcome {
    Created,
    /// The repository already has a tag of that name.
    Exists,
    ArtifactNotFound,
}

#[derive(sqlx::FromRow)]
struct ArtifactRow {
    id: i64,
    repository_id: i64,
    repository_name: String,
    digest: String,
    media_type: String,
    artifact_type: Option<String>,
    annotations: Option<String>,
    content: Vec<u8>,
    size: i64,
    push_time: i64,
    pull_time: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ChildRow {
    parent_id: i64,
    digest: String,
    child_id: Option<i64>,
}

fn select_artifacts() -> String {
    format!(
        "SELECT m.id, m.repository_id, r.name AS repository_name, m.digest, m.media_type, \
         m.artifact_type, m.annotations, m.content, {ARTIFACT_SIZE} AS size, \
         COALESCE(m.push_time, m.created_at) AS push_time, m.pull_time \
         FROM manifests m JOIN repositories r ON r.id = m.repository_id"
    )
}

const SELECT_TAGS: &str = "SELECT t.name, t.manifest_id AS artifact_id, t.repository_id, \
     t.updated_at AS push_time, m.pull_time FROM tags t JOIN manifests m ON m.id = t.manifest_id";

impl Database {
    /// One page of the artifacts of repository `repository` (full name) matching
    /// `filter`, newest push first unless `sort` says otherwise, and how many match.
    pub async fn list_artifacts(
        &self,
        repository: &str,
        filter: &ArtifactFilter,
        sort: &[SortKey<ArtifactSortField>],
        window: Window,
    ) -> Result<(Vec<Artifact>, u64), DbError> {
        let mut w = Where::default();
        w.text("r.name", &TextMatch::Exact(repository.to_owned()));
        if !filter.all {
            w.clause(BASE_ARTIFACT.to_owned());
        }
        if let Some(digest) = &filter.digest {
            w.text("m.digest", &TextMatch::Exact(digest.clone()));
        }
        if let Some(m) = &filter.media_type {
            w.text("m.media_type", m);
        }
        match &filter.tags {
            None => {}
            Some(TagFilter::Any) => {
                w.clause("EXISTS (SELECT 1 FROM tags tf WHERE tf.manifest_id = m.id)".to_owned());
            }
            Some(TagFilter::Nothing) => {
                w.clause(
                    "NOT EXISTS (SELECT 1 FROM tags tf WHERE tf.manifest_id = m.id)".to_owned(),
                );
            }
            Some(TagFilter::Matching(m)) => {
                let condition = nested_text(&mut w, "tf.name", m);
                w.clause(format!(
                    "EXISTS (SELECT 1 FROM tags tf WHERE tf.manifest_id = m.id AND {condition})"
                ));
            }
        }

        // Counted before the LIMIT placeholders join the bind list.
        let count_sql = format!(
            "SELECT COUNT(*) FROM manifests m JOIN repositories r ON r.id = m.repository_id{}",
            w.sql()
        );
        let total: i64 = with_reader!(self, pool => {
            bind_all!(sqlx::query_scalar::<_, i64>(&count_sql), &w.binds)
                .fetch_one(pool)
                .await?
        });
        let conditions = w.sql();
        let order = order_by(
            sort,
            artifact_sort_column,
            "COALESCE(m.push_time, m.created_at) DESC, m.id DESC",
        );
        let limit = w.limit(window)?;
        let sql = format!("{}{conditions}{order}{limit}", select_artifacts());
        let artifacts = self.load_artifacts(&sql, &w).await?;
        Ok((artifacts, from_db_int(total, "count")?))
    }

    /// The artifact `reference` names in repository `repository` (full name).
    pub async fn artifact(
        &self,
        repository: &str,
        reference: &ArtifactRef,
    ) -> Result<Option<Artifact>, DbError> {
        let mut w = Where::default();
        w.text("r.name", &TextMatch::Exact(repository.to_owned()));
        match reference {
            ArtifactRef::Digest(digest) => w.text("m.digest", &TextMatch::Exact(digest.clone())),
            ArtifactRef::Tag(tag) => {
                let t = w.param(Bind::Text(tag.clone()));
                w.clause(format!(
                    "m.id = (SELECT t.manifest_id FROM tags t WHERE t.repository_id = r.id AND t.name = {t})"
                ));
            }
        }
        let sql = format!("{}{}", select_artifacts(), w.sql());
        Ok(self.load_artifacts(&sql, &w).await?.pop())
    }

    /// Runs a [`select_artifacts`] query (`sql`, bound from `w`) and attaches tags and
    /// children.
    async fn load_artifacts(&self, sql: &str, w: &Where) -> Result<Vec<Artifact>, DbError> {
        let rows = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, ArtifactRow>(sql), &w.binds)
                .fetch_all(pool)
                .await?
        });
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();

        let mut tw = Where::default();
        tw.int_in("t.manifest_id", &ids);
        let tag_sql = format!("{SELECT_TAGS}{} ORDER BY t.name", tw.sql());
        let tag_rows = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, ArtifactTag>(&tag_sql), &tw.binds)
                .fetch_all(pool)
                .await?
        });
        let mut tags: HashMap<i64, Vec<ArtifactTag>> = HashMap::new();
        for t in tag_rows {
            tags.entry(t.artifact_id).or_default().push(t);
        }

        let mut cw = Where::default();
        cw.clause("mr.kind = 'manifest'".to_owned());
        cw.int_in("mr.manifest_id", &ids);
        let child_sql = format!(
            "SELECT mr.manifest_id AS parent_id, mr.digest, c.id AS child_id \
             FROM manifest_references mr JOIN manifests pm ON pm.id = mr.manifest_id \
             LEFT JOIN manifests c ON c.repository_id = pm.repository_id AND c.digest = mr.digest{} \
             ORDER BY mr.digest",
            cw.sql()
        );
        let child_rows = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, ChildRow>(&child_sql), &cw.binds)
                .fetch_all(pool)
                .await?
        });
        let mut children: HashMap<i64, Vec<ArtifactChild>> = HashMap::new();
        for c in child_rows {
            children
                .entry(c.parent_id)
                .or_default()
                .push(ArtifactChild {
                    digest: c.digest,
                    id: c.child_id,
                });
        }

        rows.into_iter()
            .map(|r| {
                Ok(Artifact {
                    tags: tags.remove(&r.id).unwrap_or_default(),
                    children: children.remove(&r.id).unwrap_or_default(),
                    size: from_db_int(r.size, "artifact size")?,
                    id: r.id,
                    repository_id: r.repository_id,
                    repository_name: r.repository_name,
                    digest: r.digest,
                    media_type: r.media_type,
                    artifact_type: r.artifact_type,
                    annotations: r.annotations,
                    content: r.content,
                    push_time: r.push_time,
                    pull_time: r.pull_time,
                })
            })
            .collect()
    }

    /// One page of the tags of artifact `artifact_id` matching `name`, and the total.
    pub async fn list_artifact_tags(
        &self,
        artifact_id: i64,
        name: Option<&TextMatch>,
        sort: &[SortKey<TagSortField>],
        window: Window,
    ) -> Result<(Vec<ArtifactTag>, u64), DbError> {
        let mut w = Where::default();
        w.int_eq("t.manifest_id", artifact_id);
        if let Some(m) = name {
            w.text("t.name", m);
        }
        // Counted before the LIMIT placeholders join the bind list.
        let count_sql = format!("SELECT COUNT(*) FROM tags t{}", w.sql());
        let total: i64 = with_reader!(self, pool => {
            bind_all!(sqlx::query_scalar::<_, i64>(&count_sql), &w.binds)
                .fetch_one(pool)
                .await?
        });
        let conditions = w.sql();
        let order = order_by(sort, tag_sort_column, "t.name");
        let limit = w.limit(window)?;
        let sql = format!("{SELECT_TAGS}{conditions}{order}{limit}");
        let tags = with_reader!(self, pool => {
            bind_all!(sqlx::query_as::<_, ArtifactTag>(&sql), &w.binds)
                .fetch_all(pool)
                .await?
        });
        Ok((tags, from_db_int(total, "count")?))
    }

    /// Tags artifact `artifact_id` of repository `repository_id` as `tag`, unless the
    /// repository already has that tag (Harbor refuses rather than moves it).
    pub async fn create_artifact_tag(
        &self,
        repository_id: i64,
        artifact_id: i64,
        tag: &str,
    ) -> Result<CreateTagOutcome, DbError> {
        let now = now();
        let outcome = with_transaction!(self, tx => {
            // INSERT ... SELECT so a manifest deleted meanwhile inserts nothing. (SQLite
            // needs the WHERE to parse ON CONFLICT after a SELECT.)
            let inserted = sqlx::query(
                "INSERT INTO tags (repository_id, name, manifest_id, updated_at) \
                 SELECT $1, $2, id, $3 FROM manifests WHERE id = $4 AND repository_id = $1 \
                 ON CONFLICT (repository_id, name) DO NOTHING",
            )
            .bind(repository_id)
            .bind(tag)
            .bind(now)
            .bind(artifact_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted > 0 {
                sqlx::query(crate::registry::repositories::TOUCH_REPOSITORY)
                    .bind(now)
                    .bind(repository_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                CreateTagOutcome::Created
            } else {
                let exists = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM manifests WHERE id = $1 AND repository_id = $2",
                )
                .bind(artifact_id)
                .bind(repository_id)
                .fetch_one(&mut *tx)
                .await?;
                if exists > 0 {
                    CreateTagOutcome::Exists
                } else {
                    CreateTagOutcome::ArtifactNotFound
                }
            }
        });
        Ok(outcome)
    }

    /// Removes tag `tag` if it points at artifact `artifact_id`; `false` otherwise.
    pub async fn delete_artifact_tag(&self, artifact_id: i64, tag: &str) -> Result<bool, DbError> {
        let deleted = with_writer!(self, pool => {
            sqlx::query("DELETE FROM tags WHERE manifest_id = $1 AND name = $2")
                .bind(artifact_id)
                .bind(tag)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Deletes artifact `digest` of repository `repository` the way Harbor does, in one
    /// transaction: refused while an index references it; otherwise it goes with its
    /// tags, and so do its index children and accessories unless they are tagged or
    /// referenced by another index. Blobs stay until garbage collection.
    pub async fn delete_artifact(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<DeleteArtifactOutcome, DbError> {
        let now = now();
        let outcome = with_transaction!(self, tx => {
            let root = sqlx::query_as::<_, (i64, i64)>(
                "SELECT m.id, m.repository_id FROM manifests m JOIN repositories r ON r.id = m.repository_id \
                 WHERE r.name = $1 AND m.digest = $2",
            )
            .bind(repository)
            .bind(digest)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((root_id, repository_id)) = root else {
                return Ok(DeleteArtifactOutcome::NotFound);
            };
            let parents = sqlx::query_scalar::<_, i64>(PARENTS)
                .bind(digest)
                .bind(repository_id)
                .fetch_all(&mut *tx)
                .await?;
            if !parents.is_empty() {
                return Ok(DeleteArtifactOutcome::ReferencedByIndex);
            }

            // Walk down from the artifact: children of indexes and accessories (whose
            // subject is a doomed manifest) go too, unless something else keeps them.
            let mut doomed: Vec<(i64, String)> = vec![(root_id, digest.to_owned())];
            let mut doomed_ids: HashSet<i64> = HashSet::from([root_id]);
            let mut next = 0;
            while next < doomed.len() {
                let (id, parent_digest) = doomed[next].clone();
                next += 1;
                let candidates = sqlx::query_as::<_, (i64, String)>(
                    "SELECT c.id, c.digest FROM manifest_references mr \
                     JOIN manifests c ON c.repository_id = $2 AND c.digest = mr.digest \
                     WHERE mr.manifest_id = $1 AND mr.kind = 'manifest' \
                     UNION SELECT a.id, a.digest FROM manifests a \
                     WHERE a.repository_id = $2 AND a.subject_digest = $3",
                )
                .bind(id)
                .bind(repository_id)
                .bind(&parent_digest)
                .fetch_all(&mut *tx)
                .await?;
                for (child_id, child_digest) in candidates {
                    if doomed_ids.contains(&child_id) {
                        continue;
                    }
                    let tags = sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM tags WHERE manifest_id = $1",
                    )
                    .bind(child_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if tags > 0 {
                        continue;
                    }
                    let parents = sqlx::query_scalar::<_, i64>(PARENTS)
                        .bind(&child_digest)
                        .bind(repository_id)
                        .fetch_all(&mut *tx)
                        .await?;
                    if parents.iter().any(|p| !doomed_ids.contains(p)) {
                        continue;
                    }
                    doomed_ids.insert(child_id);
                    doomed.push((child_id, child_digest));
                }
            }

            // Tags and references go by ON DELETE CASCADE.
            for (id, _) in &doomed {
                sqlx::query("DELETE FROM manifests WHERE id = $1")
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(crate::registry::repositories::TOUCH_REPOSITORY)
                .bind(now)
                .bind(repository_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            DeleteArtifactOutcome::Deleted(doomed.into_iter().map(|(_, d)| d).collect())
        });
        Ok(outcome)
    }
}

/// The condition `column` matches `m`, as [`Where::text`] writes it, for use inside a
/// subquery: written by a scratch builder that continues `w`'s placeholder numbering,
/// whose bind values then return to `w`.
fn nested_text(w: &mut Where, column: &str, m: &TextMatch) -> String {
    let mut inner = Where::default();
    std::mem::swap(&mut inner.binds, &mut w.binds);
    inner.text(column, m);
    std::mem::swap(&mut inner.binds, &mut w.binds);
    inner.sql().trim_start_matches(" WHERE ").to_owned()
}

/// Ids of the indexes in repository `$2` that reference manifest digest `$1`.
const PARENTS: &str = "SELECT p.id FROM manifest_references mr JOIN manifests p ON p.id = mr.manifest_id \
     WHERE mr.kind = 'manifest' AND mr.digest = $1 AND p.repository_id = $2";
