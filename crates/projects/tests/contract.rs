//! The metadata contract: every case runs against SQLite (a temp file) and Postgres (a
//! database of its own on the server named by `BERTH_TEST_DATABASE_URL`). Both backends
//! must behave identically; a case that only one passes is a bug in the other.
//!
//! Run from the workspace root:
//!   eval "$(bash tests/services/pg-up.sh)"; cargo test -p projects; eval "$PG_STOP"

mod support;

use std::collections::HashSet;

use projects::{Database, DbError};
use registry_core::blobs::{BackendError, StagedPart};
use registry_core::meta::{
    ManifestRecord, ManifestReferences, MetadataStore, PutManifestOutcome, UploadSession,
};
use registry_core::{Digest, RepoName, Tag};
use support::open;

/// Instantiates every case once per backend: `sqlite::<case>` and `postgres::<case>`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::run(crate::support::Backend::Sqlite, crate::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::run(crate::support::Backend::Postgres, crate::$case).await;
                }
            )*
        }
    };
}

contract!(
    migrate_is_idempotent_and_safe_concurrently,
    upload_lifecycle,
    racing_appends_exactly_one_wins,
    stale_uploads_by_last_touch,
    commit_blob_is_idempotent_and_ends_the_upload,
    mount_and_unlink,
    put_manifest_with_missing_references_writes_nothing,
    manifest_by_tag_and_digest,
    tag_moves_and_deletes,
    concurrent_pushes_of_one_manifest_all_succeed,
    delete_manifest_removes_its_tags,
    tags_paginate_in_byte_order,
    catalog_paginates_in_byte_order,
    referrers_by_subject_and_artifact_type,
    ensure_admin_generates_once_and_never_resets,
    ensure_admin_with_given_password,
    verify_password_right_wrong_unknown,
    set_password_replaces_the_hash,
    get_or_create_setting_is_atomic,
);

// ---- helpers ------------------------------------------------------------------------

fn repo(name: &str) -> RepoName {
    name.parse().expect("repository name")
}

fn tag(name: &str) -> Tag {
    name.parse().expect("tag")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn session(repository: &RepoName, id: &str, created_at: i64) -> UploadSession {
    UploadSession {
        id: id.to_owned(),
        repository: repository.clone(),
        offset: 0,
        hash_state: vec![1, 2, 3],
        parts: Vec::new(),
        created_at,
    }
}

/// `session` as it stands after `parts` were appended to it.
fn with_parts(session: &UploadSession, parts: &[StagedPart]) -> UploadSession {
    UploadSession {
        offset: parts.iter().map(|p| p.size).sum(),
        parts: parts.to_vec(),
        ..session.clone()
    }
}

fn part(id: &str, size: u64) -> StagedPart {
    StagedPart {
        id: id.to_owned(),
        size,
    }
}

/// A manifest record whose content is `content` (any bytes; not parsed here).
fn manifest(content: &[u8]) -> ManifestRecord {
    ManifestRecord {
        digest: Digest::of(content),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        artifact_type: None,
        subject: None,
        config_digest: None,
        annotations: None,
        content: content.to_vec(),
        created_at: 1_700_000_000,
    }
}

/// Records a blob with content `content` as committed to `repo`.
async fn link_blob(db: &Database, repo: &RepoName, content: &[u8]) -> Digest {
    let digest = Digest::of(content);
    db.commit_blob(repo, &digest, content.len() as u64, None)
        .await
        .expect("commit blob");
    digest
}

async fn put(
    db: &Database,
    repo: &RepoName,
    record: &ManifestRecord,
    refs: &ManifestReferences,
    tag_name: Option<&str>,
) -> PutManifestOutcome {
    let tag_value = tag_name.map(tag);
    db.put_manifest(repo, record, refs, tag_value.as_ref())
        .await
        .expect("put manifest")
}

/// All tags of `repo`, fetched `page` at a time.
async fn all_tags_paged(db: &Database, repo: &RepoName, page: u32) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let last = out.last().cloned();
        let batch = db
            .list_tags(repo, last.as_deref(), page)
            .await
            .expect("tags");
        assert!(batch.len() <= page as usize, "limit not honoured");
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

// ---- migrations ---------------------------------------------------------------------

async fn migrate_is_idempotent_and_safe_concurrently(url: String) {
    // Two processes starting on an empty database at once: both migrate, neither fails.
    let a = Database::connect(&url).await.expect("connect a");
    let b = Database::connect(&url).await.expect("connect b");
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.expect("first migrator");
    rb.expect("second migrator");

    // And again, later: nothing to do.
    a.migrate().await.expect("migrate again");
    open(&url).await;

    a.ping().await.expect("ping");
    MetadataStore::ping(&b)
        .await
        .expect("ping through the trait");
    assert!(!a.repository_exists(&repo("x")).await.unwrap());
    assert!(["sqlite", "postgres"].contains(&a.backend_name()));
    a.close().await;
    b.close().await;
}

// ---- uploads ------------------------------------------------------------------------

async fn upload_lifecycle(url: String) {
    let db = open(&url).await;
    let r = repo("lib/app");
    assert!(!db.repository_exists(&r).await.unwrap());

    let s = session(&r, "u1", now());
    db.create_upload(&s).await.unwrap();
    assert!(
        db.repository_exists(&r).await.unwrap(),
        "an upload creates its repository"
    );
    assert_eq!(db.get_upload(&r, "u1").await.unwrap(), Some(s.clone()));
    assert_eq!(
        db.get_upload(&repo("lib/other"), "u1").await.unwrap(),
        None,
        "other repository"
    );
    assert_eq!(db.get_upload(&r, "nope").await.unwrap(), None);

    assert!(
        db.append_upload_part(&s, &part("p1", 10), b"h1")
            .await
            .unwrap()
    );
    let after_p1 = with_parts(&s, &[part("p1", 10)]);
    assert!(
        db.append_upload_part(&after_p1, &part("p2", 5), b"h2")
            .await
            .unwrap()
    );
    // A session read before the last append, one at another offset, one at the same
    // offset with other parts, and unknown sessions all lose.
    for stale in [
        after_p1,
        with_parts(&s, &[part("p1", 10), part("p9", 89)]),
        with_parts(&s, &[part("p1", 5), part("p2", 10)]),
        session(&r, "nope", now()),
    ] {
        assert!(
            !db.append_upload_part(&stale, &part("p3", 1), b"h3")
                .await
                .unwrap(),
            "{stale:?}"
        );
    }

    let got = db.get_upload(&r, "u1").await.unwrap().expect("session");
    assert_eq!(got.offset, 15);
    assert_eq!(got.hash_state, b"h2");
    assert_eq!(got.parts, vec![part("p1", 10), part("p2", 5)]);
    assert_eq!(got.created_at, s.created_at);

    assert!(db.delete_upload("u1").await.unwrap());
    assert!(!db.delete_upload("u1").await.unwrap());
    assert_eq!(db.get_upload(&r, "u1").await.unwrap(), None);
}

async fn racing_appends_exactly_one_wins(url: String) {
    let db = open(&url).await;
    let r = repo("race");
    // Sized parts, and empty parts (which do not move the offset) too.
    for (round, size) in [(0, 7u64), (1, 0), (2, 3)] {
        let id = format!("u{round}");
        let read = session(&r, &id, now());
        db.create_upload(&read).await.unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let db = db.clone();
                let read = read.clone();
                tokio::spawn(async move {
                    let p = part(&format!("part-{i}"), size);
                    let won = db.append_upload_part(&read, &p, &[i as u8]).await.unwrap();
                    (won, p, i as u8)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            let (won, p, state) = t.await.unwrap();
            if won {
                winners.push((p, state));
            }
        }
        let got = db.get_upload(&r, &id).await.unwrap().expect("session");
        // Also for empty parts, which leave the offset where it was: the parts changed.
        assert_eq!(winners.len(), 1, "round {round}: exactly one append wins");
        let (p, state) = winners.remove(0);
        assert_eq!(
            got.parts,
            vec![p],
            "round {round}: only the winner's part is recorded"
        );
        assert_eq!(got.offset, size);
        assert_eq!(got.hash_state, vec![state]);
    }
}

async fn stale_uploads_by_last_touch(url: String) {
    let db = open(&url).await;
    let r = repo("stale");
    let t = now();
    db.create_upload(&session(&r, "old", t - 1000))
        .await
        .unwrap();
    db.create_upload(&session(&r, "mid", t - 100))
        .await
        .unwrap();
    db.create_upload(&session(&r, "new", t + 100))
        .await
        .unwrap();

    assert_eq!(db.stale_uploads(t - 500, 10).await.unwrap(), vec!["old"]);
    assert_eq!(db.stale_uploads(t, 10).await.unwrap(), vec!["old", "mid"]);
    assert_eq!(
        db.stale_uploads(t + 1000, 2).await.unwrap(),
        vec!["old", "mid"],
        "limit"
    );
    assert!(db.stale_uploads(t - 5000, 10).await.unwrap().is_empty());

    // Writing to a session touches it.
    assert!(
        db.append_upload_part(&session(&r, "old", t - 1000), &part("p", 1), b"s")
            .await
            .unwrap()
    );
    assert_eq!(db.stale_uploads(t - 50, 10).await.unwrap(), vec!["mid"]);
}

// ---- blobs --------------------------------------------------------------------------

async fn commit_blob_is_idempotent_and_ends_the_upload(url: String) {
    let db = open(&url).await;
    let r = repo("lib/app");
    let d = Digest::of(b"layer");
    db.create_upload(&session(&r, "u1", now())).await.unwrap();
    assert!(
        db.append_upload_part(&session(&r, "u1", now()), &part("p", 5), b"s")
            .await
            .unwrap()
    );

    db.commit_blob(&r, &d, 5, Some("u1")).await.unwrap();
    assert_eq!(
        db.get_upload(&r, "u1").await.unwrap(),
        None,
        "upload deleted with the commit"
    );
    assert_eq!(db.repository_blob(&r, &d).await.unwrap(), Some(5));

    // A retried commit, and a commit whose session is already gone, both succeed.
    db.commit_blob(&r, &d, 5, Some("u1")).await.unwrap();
    db.commit_blob(&r, &d, 5, None).await.unwrap();
    assert_eq!(db.repository_blob(&r, &d).await.unwrap(), Some(5));

    // Linked per repository: another repository does not see it until it commits too.
    let other = repo("lib/other");
    assert_eq!(db.repository_blob(&other, &d).await.unwrap(), None);
    db.commit_blob(&other, &d, 5, None).await.unwrap();
    assert!(db.repository_exists(&other).await.unwrap());
    assert_eq!(db.repository_blob(&other, &d).await.unwrap(), Some(5));
    assert_eq!(
        db.repository_blob(&r, &Digest::of(b"nope")).await.unwrap(),
        None
    );
}

async fn mount_and_unlink(url: String) {
    let db = open(&url).await;
    let (a, b, c) = (repo("team/a"), repo("team/b"), repo("team/c"));
    let d = link_blob(&db, &a, b"shared layer").await;

    assert!(db.mount_blob(&b, &a, &d).await.unwrap());
    assert!(
        db.mount_blob(&b, &a, &d).await.unwrap(),
        "mounting twice is fine"
    );
    assert_eq!(db.repository_blob(&b, &d).await.unwrap(), Some(12));

    // A source that does not hold the blob: refused, and the target is not created.
    assert!(!db.mount_blob(&c, &repo("team/none"), &d).await.unwrap());
    assert!(!db.mount_blob(&c, &c, &d).await.unwrap());
    assert!(!db.repository_exists(&c).await.unwrap());

    assert!(db.unlink_blob(&a, &d).await.unwrap());
    assert!(!db.unlink_blob(&a, &d).await.unwrap());
    assert!(!db.unlink_blob(&repo("team/none"), &d).await.unwrap());
    assert_eq!(db.repository_blob(&a, &d).await.unwrap(), None);
    assert_eq!(
        db.repository_blob(&b, &d).await.unwrap(),
        Some(12),
        "b keeps its link"
    );
    assert!(
        !db.mount_blob(&c, &a, &d).await.unwrap(),
        "a no longer holds it"
    );
    assert!(
        db.mount_blob(&a, &b, &d).await.unwrap(),
        "but can mount it back from b"
    );
}

// ---- manifests and tags -------------------------------------------------------------

async fn put_manifest_with_missing_references_writes_nothing(url: String) {
    let db = open(&url).await;
    let r = repo("lib/app");
    let config = b"config".as_slice();
    let layer = b"layer".as_slice();
    let m = manifest(b"image manifest");
    let refs = ManifestReferences {
        blobs: vec![Digest::of(config), Digest::of(layer), Digest::of(layer)],
        manifests: vec![],
    };

    // Nothing exists yet: all (distinct) blobs are missing, and not even the repository
    // is created.
    assert_eq!(
        put(&db, &r, &m, &refs, Some("v1")).await,
        PutManifestOutcome::MissingBlobs(vec![Digest::of(config), Digest::of(layer)])
    );
    assert!(!db.repository_exists(&r).await.unwrap());

    // The layer exists, but in another repository: still missing here.
    link_blob(&db, &repo("lib/other"), layer).await;
    link_blob(&db, &r, config).await;
    assert_eq!(
        put(&db, &r, &m, &refs, Some("v1")).await,
        PutManifestOutcome::MissingBlobs(vec![Digest::of(layer)])
    );
    assert_eq!(db.manifest_by_digest(&r, &m.digest).await.unwrap(), None);
    assert_eq!(db.manifest_by_tag(&r, &tag("v1")).await.unwrap(), None);
    assert!(db.list_tags(&r, None, 10).await.unwrap().is_empty());

    link_blob(&db, &r, layer).await;
    assert_eq!(
        put(&db, &r, &m, &refs, Some("v1")).await,
        PutManifestOutcome::Stored
    );

    // An index whose children are missing.
    let index = manifest(b"index");
    let child2 = Digest::of(b"absent child");
    let index_refs = ManifestReferences {
        blobs: vec![],
        manifests: vec![m.digest.clone(), child2.clone()],
    };
    assert_eq!(
        put(&db, &r, &index, &index_refs, Some("multi")).await,
        PutManifestOutcome::MissingManifests(vec![child2])
    );
    assert_eq!(
        db.manifest_by_digest(&r, &index.digest).await.unwrap(),
        None
    );
    assert_eq!(db.manifest_by_tag(&r, &tag("multi")).await.unwrap(), None);

    let index_refs = ManifestReferences {
        blobs: vec![],
        manifests: vec![m.digest.clone()],
    };
    assert_eq!(
        put(&db, &r, &index, &index_refs, Some("multi")).await,
        PutManifestOutcome::Stored
    );
    // A child in another repository does not count either.
    let elsewhere = repo("lib/elsewhere");
    assert_eq!(
        put(&db, &elsewhere, &index, &index_refs, None).await,
        PutManifestOutcome::MissingManifests(vec![m.digest.clone()])
    );
}

async fn manifest_by_tag_and_digest(url: String) {
    let db = open(&url).await;
    let r = repo("lib/app");
    let cfg = link_blob(&db, &r, b"cfg").await;
    let mut m = manifest(&[0, 159, 146, 150, 255, b'{']); // not UTF-8: stored as bytes
    m.artifact_type = Some("application/vnd.example".into());
    m.config_digest = Some(cfg.clone());
    m.subject = Some(Digest::of(b"some subject"));
    m.annotations = Some(r#"{"org.opencontainers.image.created":"2024"}"#.into());
    let refs = ManifestReferences {
        blobs: vec![cfg],
        manifests: vec![],
    };
    assert_eq!(
        put(&db, &r, &m, &refs, Some("latest")).await,
        PutManifestOutcome::Stored
    );

    assert_eq!(
        db.manifest_by_digest(&r, &m.digest).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(
        db.manifest_by_tag(&r, &tag("latest")).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(db.manifest_by_tag(&r, &tag("other")).await.unwrap(), None);
    assert_eq!(
        db.manifest_by_digest(&repo("lib/x"), &m.digest)
            .await
            .unwrap(),
        None
    );

    // Pushing the same digest again is idempotent and keeps the first row.
    let mut again = m.clone();
    again.created_at += 500;
    assert_eq!(
        put(&db, &r, &again, &refs, Some("stable")).await,
        PutManifestOutcome::Stored
    );
    assert_eq!(
        db.manifest_by_digest(&r, &m.digest).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(
        db.manifest_by_tag(&r, &tag("stable")).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(
        db.list_tags(&r, None, 10).await.unwrap(),
        vec!["latest", "stable"]
    );

    // Untagged push (push by digest).
    let plain = manifest(b"untagged");
    assert_eq!(
        put(&db, &r, &plain, &ManifestReferences::default(), None).await,
        PutManifestOutcome::Stored
    );
    assert_eq!(
        db.manifest_by_digest(&r, &plain.digest).await.unwrap(),
        Some(plain)
    );
    assert_eq!(db.list_tags(&r, None, 10).await.unwrap().len(), 2);
}

async fn tag_moves_and_deletes(url: String) {
    let db = open(&url).await;
    let r = repo("lib/app");
    let none = ManifestReferences::default();
    let (m1, m2) = (manifest(b"one"), manifest(b"two"));
    put(&db, &r, &m1, &none, Some("latest")).await;
    put(&db, &r, &m2, &none, Some("latest")).await;

    assert_eq!(
        db.manifest_by_tag(&r, &tag("latest")).await.unwrap(),
        Some(m2.clone())
    );
    assert_eq!(
        db.manifest_by_digest(&r, &m1.digest).await.unwrap(),
        Some(m1),
        "old one stays"
    );
    assert_eq!(db.list_tags(&r, None, 10).await.unwrap(), vec!["latest"]);

    assert!(db.delete_tag(&r, &tag("latest")).await.unwrap());
    assert!(!db.delete_tag(&r, &tag("latest")).await.unwrap());
    assert!(
        !db.delete_tag(&repo("lib/none"), &tag("latest"))
            .await
            .unwrap()
    );
    assert_eq!(db.manifest_by_tag(&r, &tag("latest")).await.unwrap(), None);
    assert_eq!(
        db.manifest_by_digest(&r, &m2.digest).await.unwrap(),
        Some(m2),
        "manifest stays"
    );
}

/// Many clients pushing the same manifest under different tags at once (a CI fleet
/// tagging one build): every push succeeds and every tag points at the one manifest.
async fn concurrent_pushes_of_one_manifest_all_succeed(url: String) {
    let db = open(&url).await;
    let r = repo("lib/fleet");
    let layer = link_blob(&db, &r, b"shared layer").await;
    let config = link_blob(&db, &r, b"shared config").await;
    let refs = ManifestReferences {
        blobs: vec![config, layer],
        manifests: vec![],
    };
    let m = manifest(b"one build");
    let pushes: Vec<_> = (0..16)
        .map(|i| {
            let (db, r, m, refs) = (db.clone(), r.clone(), m.clone(), refs.clone());
            tokio::spawn(async move {
                let t = tag(&format!("build-{i:02}"));
                db.put_manifest(&r, &m, &refs, Some(&t)).await
            })
        })
        .collect();
    for push in pushes {
        let outcome = push.await.expect("task").expect("put manifest");
        assert_eq!(outcome, PutManifestOutcome::Stored);
    }
    let tags = db.list_tags(&r, None, 100).await.unwrap();
    assert_eq!(tags.len(), 16);
    for t in tags {
        assert_eq!(
            db.manifest_by_tag(&r, &tag(&t))
                .await
                .unwrap()
                .map(|m| m.digest),
            Some(m.digest.clone())
        );
    }
}

async fn delete_manifest_removes_its_tags(url: String) {
    let db = open(&url).await;
    let r = repo("lib/app");
    let none = ManifestReferences::default();
    let (m1, m2) = (manifest(b"one"), manifest(b"two"));
    let layer = link_blob(&db, &r, b"layer").await;
    let with_layer = ManifestReferences {
        blobs: vec![layer],
        manifests: vec![],
    };
    put(&db, &r, &m1, &with_layer, Some("a")).await;
    put(&db, &r, &m1, &with_layer, Some("b")).await;
    put(&db, &r, &m2, &none, Some("c")).await;
    // The same digest in another repository is a separate manifest.
    let other = repo("lib/other");
    put(&db, &other, &m1, &none, Some("a")).await;

    assert!(db.delete_manifest(&r, &m1.digest).await.unwrap());
    assert!(!db.delete_manifest(&r, &m1.digest).await.unwrap());
    assert_eq!(db.manifest_by_digest(&r, &m1.digest).await.unwrap(), None);
    assert_eq!(db.list_tags(&r, None, 10).await.unwrap(), vec!["c"]);
    assert_eq!(db.manifest_by_tag(&r, &tag("a")).await.unwrap(), None);

    assert_eq!(
        db.manifest_by_tag(&other, &tag("a")).await.unwrap(),
        Some(m1.clone())
    );
    assert!(
        !db.delete_manifest(&repo("lib/none"), &m2.digest)
            .await
            .unwrap()
    );

    // Pushing it again works (its references were removed with it).
    assert_eq!(
        put(&db, &r, &m1, &with_layer, Some("a")).await,
        PutManifestOutcome::Stored
    );
    assert_eq!(db.list_tags(&r, None, 10).await.unwrap(), vec!["a", "c"]);
}

async fn tags_paginate_in_byte_order(url: String) {
    let db = open(&url).await;
    let r = repo("lib/app");
    let m = manifest(b"m");
    let names = [
        "v1", "V2", "a", "B", "_x", "1.0", "1-0", "1_0", "latest", "Latest", "b", "A", "z9", "Z_",
    ];
    for name in names {
        put(&db, &r, &m, &ManifestReferences::default(), Some(name)).await;
    }
    // Byte order: digits < upper case < '_' < lower case; a linguistic collation would
    // interleave the cases instead.
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();

    assert_eq!(db.list_tags(&r, None, 100).await.unwrap(), expected);
    for page in [1, 3, 5, 100] {
        assert_eq!(
            all_tags_paged(&db, &r, page).await,
            expected,
            "page size {page}"
        );
    }
    assert_eq!(
        db.list_tags(&r, Some("B"), 2).await.unwrap(),
        vec!["Latest", "V2"]
    );
    assert_eq!(
        db.list_tags(&r, Some("Latest"), 1).await.unwrap(),
        vec!["V2"],
        "`last` is exclusive"
    );
    assert!(db.list_tags(&r, Some("zzz"), 10).await.unwrap().is_empty());
    assert!(db.list_tags(&r, None, 0).await.unwrap().is_empty());
    assert!(
        db.list_tags(&repo("lib/none"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn catalog_paginates_in_byte_order(url: String) {
    let db = open(&url).await;
    let names = [
        "b/a", "a-b", "a.b", "a/b", "a_b", "ab", "a0", "a", "c", "a/b/c", "a__b",
    ];
    for name in names {
        link_blob(&db, &repo(name), name.as_bytes()).await;
    }
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();

    assert_eq!(db.list_repositories(None, 100).await.unwrap(), expected);
    let mut paged = Vec::new();
    loop {
        let batch = db
            .list_repositories(paged.last().map(String::as_str), 4)
            .await
            .unwrap();
        assert!(batch.len() <= 4);
        if batch.is_empty() {
            break;
        }
        paged.extend(batch);
    }
    assert_eq!(paged, expected);
    assert_eq!(
        db.list_repositories(Some("a/b"), 2).await.unwrap(),
        vec!["a/b/c", "a0"]
    );
    assert!(
        db.list_repositories(Some("c"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(db.list_repositories(None, 0).await.unwrap().is_empty());
}

async fn referrers_by_subject_and_artifact_type(url: String) {
    let db = open(&url).await;
    let r = repo("lib/app");
    let none = ManifestReferences::default();
    // The subject itself need not exist (OCI allows pushing referrers first).
    let subject = Digest::of(b"the image");

    let mut sig = manifest(b"signature");
    sig.artifact_type = Some("application/vnd.dev.cosign".into());
    sig.subject = Some(subject.clone());
    sig.annotations = Some(r#"{"k":"v"}"#.into());
    let mut sbom = manifest(b"sbom document");
    sbom.artifact_type = Some("application/spdx+json".into());
    sbom.subject = Some(subject.clone());
    sbom.media_type = "application/vnd.oci.artifact.manifest.v1+json".into();
    let mut unrelated = manifest(b"other referrer");
    unrelated.artifact_type = Some("application/spdx+json".into());
    unrelated.subject = Some(Digest::of(b"another image"));
    let plain = manifest(b"plain image");
    for m in [&sig, &sbom, &unrelated, &plain] {
        assert_eq!(
            put(&db, &r, m, &none, None).await,
            PutManifestOutcome::Stored
        );
    }
    // The same referrer in another repository is not listed here.
    let other = repo("lib/other");
    let mut foreign = manifest(b"foreign");
    foreign.subject = Some(subject.clone());
    put(&db, &other, &foreign, &none, None).await;

    let all = db.referrers(&r, &subject, None).await.unwrap();
    let mut expected = vec![&sig, &sbom];
    expected.sort_by_key(|m| m.digest.to_string());
    let digests: Vec<_> = all.iter().map(|x| x.digest.clone()).collect();
    assert_eq!(
        digests,
        expected
            .iter()
            .map(|m| m.digest.clone())
            .collect::<Vec<_>>()
    );
    for (got, want) in all.iter().zip(&expected) {
        assert_eq!(got.media_type, want.media_type);
        assert_eq!(got.artifact_type, want.artifact_type);
        assert_eq!(got.annotations, want.annotations);
        assert_eq!(got.size, want.content.len() as u64);
    }

    let sboms = db
        .referrers(&r, &subject, Some("application/spdx+json"))
        .await
        .unwrap();
    assert_eq!(sboms.len(), 1);
    assert_eq!(sboms[0].digest, sbom.digest);
    assert!(
        db.referrers(&r, &subject, Some("application/none"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.referrers(&r, &Digest::of(b"nobody"), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.referrers(&repo("lib/none"), &subject, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.referrers(&other, &subject, None).await.unwrap().len(), 1);
}

// ---- users and settings -------------------------------------------------------------

async fn ensure_admin_generates_once_and_never_resets(url: String) {
    let db = open(&url).await;
    let generated = db
        .ensure_admin("admin", None)
        .await
        .unwrap()
        .expect("a generated password");
    assert!(generated.len() >= 20, "{generated}");
    assert!(generated.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(generated.chars().any(|c| c.is_ascii_uppercase()));
    assert!(generated.chars().any(|c| c.is_ascii_lowercase()));
    assert!(generated.chars().any(|c| c.is_ascii_digit()));

    let user = db
        .verify_password("admin", &generated)
        .await
        .unwrap()
        .expect("login");
    assert_eq!(user.username, "admin");
    assert!(user.is_admin);

    // Restarts, with or without a configured password, leave the account alone.
    assert_eq!(db.ensure_admin("admin", None).await.unwrap(), None);
    assert_eq!(
        db.ensure_admin("admin", Some("changed")).await.unwrap(),
        None
    );
    assert_eq!(
        db.verify_password("admin", &generated).await.unwrap(),
        Some(user)
    );
    assert_eq!(db.verify_password("admin", "changed").await.unwrap(), None);
}

async fn ensure_admin_with_given_password(url: String) {
    let db = open(&url).await;
    assert_eq!(
        db.ensure_admin("root", Some("Harbor12345")).await.unwrap(),
        None
    );
    let user = db
        .verify_password("root", "Harbor12345")
        .await
        .unwrap()
        .expect("login");
    assert!(user.is_admin);
    assert_eq!(db.ensure_admin("root", Some("other")).await.unwrap(), None);
    assert!(
        db.verify_password("root", "Harbor12345")
            .await
            .unwrap()
            .is_some()
    );

    // The stored value is an argon2id PHC string, never the password.
    let stored: String = match url.starts_with("sqlite:") {
        true => {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query_scalar("SELECT password_hash FROM users WHERE username = $1")
                .bind("root")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
        false => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query_scalar("SELECT password_hash FROM users WHERE username = $1")
                .bind("root")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains("Harbor12345"));
}

async fn verify_password_right_wrong_unknown(url: String) {
    let db = open(&url).await;
    db.ensure_admin("alice", Some("correct horse"))
        .await
        .unwrap();
    let alice = db
        .verify_password("alice", "correct horse")
        .await
        .unwrap()
        .expect("right");
    assert_eq!(alice.username, "alice");
    assert!(alice.id > 0);
    assert_eq!(db.verify_password("alice", "wrong").await.unwrap(), None);
    assert_eq!(db.verify_password("alice", "").await.unwrap(), None);
    assert_eq!(
        db.verify_password("Alice", "correct horse").await.unwrap(),
        None,
        "case matters"
    );
    assert_eq!(
        db.verify_password("mallory", "correct horse")
            .await
            .unwrap(),
        None
    );
}

async fn set_password_replaces_the_hash(url: String) {
    let db = open(&url).await;
    db.ensure_admin("admin", Some("first")).await.unwrap();
    assert!(db.set_password("admin", "second").await.unwrap());
    assert!(
        db.verify_password("admin", "second")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.verify_password("admin", "first")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!db.set_password("nobody", "x").await.unwrap());
}

async fn get_or_create_setting_is_atomic(url: String) {
    open(&url).await;
    // Several "replicas" (each with its own pools) propose a value at the same moment.
    let mut replicas = Vec::new();
    for _ in 0..4 {
        replicas.push(Database::connect(&url).await.unwrap());
    }
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let db = replicas[i % replicas.len()].clone();
            tokio::spawn(async move {
                db.get_or_create_setting("token.signing_key", &format!("candidate-{i}"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut values = HashSet::new();
    for t in tasks {
        values.insert(t.await.unwrap());
    }
    assert_eq!(values.len(), 1, "all replicas agree: {values:?}");
    let winner = values.into_iter().next().unwrap();
    assert!(winner.starts_with("candidate-"));

    // Later callers get the stored value, not theirs.
    let db = &replicas[0];
    assert_eq!(
        db.get_or_create_setting("token.signing_key", "late")
            .await
            .unwrap(),
        winner
    );
    assert_eq!(db.get_or_create_setting("other", "x").await.unwrap(), "x");
}

// ---- backend-independent ------------------------------------------------------------

#[tokio::test]
async fn unsupported_url_is_rejected_without_echoing_secrets() {
    let err = Database::connect("mysql://user:secret@localhost/db")
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::UnsupportedUrl(_)), "{err}");
    assert!(!err.to_string().contains("secret"));
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    // Port 1 on loopback: connection refused.
    let err = Database::connect("postgres://u:p@127.0.0.1:1/db")
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(matches!(
        BackendError::from(err),
        BackendError::Unavailable(_)
    ));
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let db = open("sqlite::memory:").await;
    let r = repo("mem");
    let d = link_blob(&db, &r, b"x").await;
    assert_eq!(db.repository_blob(&r, &d).await.unwrap(), Some(1));
    assert_eq!(db.list_repositories(None, 10).await.unwrap(), vec!["mem"]);
}

/// Pooled Postgres connections are not pinged before each statement (only after ten
/// idle seconds), so when the server drops them all at once (a restart, a failover) a
/// request may meet a dead one: that request is answered "unavailable" (503, retry), the
/// dead connection is discarded, and the pool recovers with new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pool_recovers_when_the_server_drops_its_connections() {
    support::run(support::Backend::Postgres, |url| async move {
        use sqlx::Connection;
        let db = open(&url).await;
        let r = repo("lib/app");
        let d = link_blob(&db, &r, b"x").await;
        // Several pooled connections in use at once, then idle in the pool.
        let reads: Vec<_> = (0..6)
            .map(|_| {
                let db = db.clone();
                let r = r.clone();
                let d = d.clone();
                tokio::spawn(async move { db.repository_blob(&r, &d).await })
            })
            .collect();
        for read in reads {
            assert_eq!(read.await.expect("task").expect("read"), Some(1));
        }

        let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
        let dropped: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
        )
        .fetch_one(&mut admin)
        .await
        .expect("terminate");
        assert!(dropped >= 1, "no pooled connection to drop");

        let mut failures = 0;
        let mut recovered = false;
        for _ in 0..40 {
            match db.repository_blob(&r, &d).await {
                Ok(found) => {
                    assert_eq!(found, Some(1));
                    recovered = true;
                    break;
                }
                Err(err) => {
                    assert!(
                        matches!(err, BackendError::Unavailable(_)),
                        "a dropped connection is a 503: {err:?}"
                    );
                    failures += 1;
                }
            }
        }
        assert!(
            recovered,
            "the pool did not recover after {failures} failures"
        );
        assert!(
            failures <= dropped,
            "{failures} failures for {dropped} dropped connections"
        );
        // And stays healthy.
        for _ in 0..10 {
            assert_eq!(db.repository_blob(&r, &d).await.unwrap(), Some(1));
        }
    })
    .await;
}
