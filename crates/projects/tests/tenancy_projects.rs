//! The project side of the metadata store (projects, metadata, members, and the admin
//! views of repositories, artifacts and tags), on SQLite and Postgres alike.
//!
//! Run from the workspace root:
//!   eval "$(bash tests/services/pg-up.sh)"; cargo test -p projects --test tenancy_projects; eval "$PG_STOP"

mod support;

use std::collections::BTreeMap;

use projects::{
    AddMemberOutcome, ArtifactFilter, ArtifactRef, ArtifactSortField, CreateProjectOutcome,
    CreateTagOutcome, CreateUserOutcome, Database, DeleteArtifactOutcome, DeleteProjectOutcome,
    MemberUser, NewProject, NewUser, ProjectFilter, ProjectScope, ProjectSortField,
    RepositoryFilter, RepositorySortField, SortKey, TagFilter, TagSortField, TextMatch, Window,
};
use registry_core::blobs::StagedPart;
use registry_core::meta::{
    ManifestRecord, ManifestReferences, MetadataStore, PutManifestOutcome, UploadSession,
};
use registry_core::{Digest, RepoName, Tag};
use support::open;

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
    create_get_and_duplicate_projects,
    list_projects_by_scope_filter_sort_and_window,
    project_metadata_set_add_delete,
    delete_project_refused_while_it_holds_repositories,
    members_lifecycle,
    repositories_by_scope_project_and_name,
    migration_places_existing_repositories_in_their_projects,
    migration_marks_repositories_where_artifacts_nest,
    repository_counts_follow_pushes_adoption_and_deletion,
    delete_repository_takes_everything_in_it,
    artifacts_with_tags_children_and_sizes,
    artifact_tags_create_list_delete,
    delete_artifact_follows_harbor_rules,
    writes_move_a_repository_update_time_forward_only,
);

// ---- helpers ------------------------------------------------------------------------

fn repo(name: &str) -> RepoName {
    name.parse().expect("repository name")
}

fn all() -> Window {
    Window::ALL
}

fn window(offset: u64, limit: u64) -> Window {
    Window { offset, limit }
}

async fn user(db: &Database, name: &str) -> i64 {
    let outcome = db
        .create_user(&NewUser {
            username: name.to_owned(),
            email: format!("{name}@example.com"),
            realname: name.to_owned(),
            comment: String::new(),
            password: "Passw0rd!".to_owned(),
            sysadmin: false,
        })
        .await
        .expect("create user");
    match outcome {
        CreateUserOutcome::Created(u) => u.id,
        other => panic!("user {name}: {other:?}"),
    }
}

async fn project(db: &Database, name: &str, owner: Option<i64>, public: bool) -> i64 {
    let metadata = BTreeMap::from([("public".to_owned(), public.to_string())]);
    match db
        .create_project(&NewProject {
            name: name.to_owned(),
            owner_id: owner,
            metadata,
        })
        .await
        .expect("create project")
    {
        CreateProjectOutcome::Created(id) => id,
        other => panic!("project {name}: {other:?}"),
    }
}

/// Records a blob of `content` as committed to `repo`.
async fn blob(db: &Database, repo: &RepoName, content: &[u8]) -> Digest {
    let digest = Digest::of(content);
    db.commit_blob(repo, &digest, content.len() as u64, None)
        .await
        .expect("commit blob");
    digest
}

/// Stores manifest `content` (with `refs`, optional `subject` and `tag`) in `repo`.
async fn manifest(
    db: &Database,
    repo: &RepoName,
    content: &str,
    media_type: &str,
    refs: ManifestReferences,
    subject: Option<&Digest>,
    tag: Option<&str>,
) -> Digest {
    let record = ManifestRecord {
        digest: Digest::of(content.as_bytes()),
        media_type: media_type.to_owned(),
        artifact_type: None,
        subject: subject.cloned(),
        config_digest: None,
        annotations: None,
        content: content.as_bytes().to_vec(),
        created_at: chrono::Utc::now().timestamp(),
    };
    let tag: Option<Tag> = tag.map(|t| t.parse().expect("tag"));
    let outcome = db
        .put_manifest(repo, &record, &refs, tag.as_ref())
        .await
        .expect("put manifest");
    assert_eq!(outcome, PutManifestOutcome::Stored);
    record.digest
}

const IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// An image in `repo`: config (10 bytes) and one layer (`layer`), tagged `tag`.
async fn image(db: &Database, repo: &RepoName, layer: &str, tag: Option<&str>) -> Digest {
    let config = blob(db, repo, b"config-123").await;
    let layer = blob(db, repo, layer.as_bytes()).await;
    let content = format!(r#"{{"config":"{config}","layers":["{layer}"]}}"#);
    let refs = ManifestReferences {
        blobs: vec![config, layer],
        manifests: Vec::new(),
    };
    manifest(db, repo, &content, IMAGE, refs, None, tag).await
}

async fn index(db: &Database, repo: &RepoName, children: &[&Digest], tag: Option<&str>) -> Digest {
    let list: Vec<String> = children.iter().map(|d| format!(r#""{d}""#)).collect();
    let content = format!(r#"{{"manifests":[{}]}}"#, list.join(","));
    let refs = ManifestReferences {
        blobs: Vec::new(),
        manifests: children.iter().map(|d| (*d).clone()).collect(),
    };
    manifest(db, repo, &content, INDEX, refs, None, tag).await
}

fn names(projects: &[projects::Project]) -> Vec<&str> {
    projects.iter().map(|p| p.name.as_str()).collect()
}

// ---- projects -----------------------------------------------------------------------

async fn create_get_and_duplicate_projects(url: String) {
    let db = open(&url).await;
    let alice = user(&db, "alice").await;
    let id = project(&db, "lib", Some(alice), true).await;

    let p = db.project_by_id(id).await.unwrap().expect("by id");
    assert_eq!(p.name, "lib");
    assert_eq!(p.owner_id, Some(alice));
    assert_eq!(p.owner_name.as_deref(), Some("alice"));
    assert!(p.is_public());
    assert_eq!(p.metadata["public"], "true");
    assert_eq!(p.repo_count, 0);
    assert_eq!(db.project_by_name("lib").await.unwrap(), Some(p.clone()));
    assert!(db.project_by_name("nope").await.unwrap().is_none());
    assert!(db.project_by_id(id + 100).await.unwrap().is_none());

    // The creator is the project admin.
    assert_eq!(db.member_roles(alice, &[id]).await.unwrap()[&id], 1);

    let again = db
        .create_project(&NewProject {
            name: "lib".into(),
            owner_id: None,
            metadata: BTreeMap::new(),
        })
        .await
        .unwrap();
    assert_eq!(again, CreateProjectOutcome::NameTaken);

    // Repositories count by name prefix, and only whole path components.
    for name in ["lib/a", "lib/b/c", "lib0/x", "lib.x/y", "libx/z"] {
        blob(&db, &repo(name), name.as_bytes()).await;
    }
    assert_eq!(db.project_by_id(id).await.unwrap().unwrap().repo_count, 2);

    // A robot-created project has no owner and no members.
    let orphan = project(&db, "orphan", None, false).await;
    let p = db.project_by_id(orphan).await.unwrap().unwrap();
    assert_eq!((p.owner_id, p.owner_name.as_deref()), (None, None));
    assert!(!p.is_public());
    assert!(db.member_counts_by_role(orphan).await.unwrap().is_empty());
}

async fn list_projects_by_scope_filter_sort_and_window(url: String) {
    let db = open(&url).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    project(&db, "pub-a", Some(alice), true).await;
    project(&db, "priv-alice", Some(alice), false).await;
    project(&db, "priv-bob", Some(bob), false).await;
    project(&db, "pub-b", Some(bob), true).await;

    let list = |filter: ProjectFilter, sort: Vec<SortKey<ProjectSortField>>, w: Window| {
        let db = db.clone();
        async move { db.list_projects(&filter, &sort, w).await.unwrap() }
    };
    let by_name = vec![SortKey {
        field: ProjectSortField::Name,
        descending: false,
    }];

    let (all_projects, total) = list(
        ProjectFilter::new(ProjectScope::All),
        by_name.clone(),
        all(),
    )
    .await;
    assert_eq!(
        names(&all_projects),
        ["priv-alice", "priv-bob", "pub-a", "pub-b"]
    );
    assert_eq!(total, 4);

    let anonymous = ProjectScope::Visible {
        member: None,
        names: Vec::new(),
    };
    let (found, total) = list(
        ProjectFilter::new(anonymous.clone()),
        by_name.clone(),
        all(),
    )
    .await;
    assert_eq!((names(&found), total), (vec!["pub-a", "pub-b"], 2));

    let as_bob = ProjectScope::Visible {
        member: Some(bob),
        names: Vec::new(),
    };
    let (found, _) = list(ProjectFilter::new(as_bob.clone()), by_name.clone(), all()).await;
    assert_eq!(names(&found), ["priv-bob", "pub-a", "pub-b"]);

    // A robot: public ones plus the projects its permissions name.
    let robot = ProjectScope::Visible {
        member: None,
        names: vec!["priv-alice".into()],
    };
    let (found, _) = list(ProjectFilter::new(robot), by_name.clone(), all()).await;
    assert_eq!(names(&found), ["priv-alice", "pub-a", "pub-b"]);

    // public=false within bob's scope: his private projects only.
    let mut f = ProjectFilter::new(as_bob.clone());
    f.public = Some(false);
    assert_eq!(
        names(&list(f, by_name.clone(), all()).await.0),
        ["priv-bob"]
    );

    let mut f = ProjectFilter::new(ProjectScope::All);
    f.name = Some(TextMatch::Contains("PRIV".into()));
    assert_eq!(
        names(&list(f, by_name.clone(), all()).await.0),
        ["priv-alice", "priv-bob"]
    );
    let mut f = ProjectFilter::new(ProjectScope::All);
    f.name = Some(TextMatch::Exact("pub-b".into()));
    assert_eq!(names(&list(f, by_name.clone(), all()).await.0), ["pub-b"]);
    let mut f = ProjectFilter::new(ProjectScope::All);
    f.owner = Some(TextMatch::Exact("alice".into()));
    assert_eq!(
        names(&list(f, by_name.clone(), all()).await.0),
        ["priv-alice", "pub-a"]
    );

    // Sorting and windows: total counts every match, not the page.
    let desc = vec![SortKey {
        field: ProjectSortField::Name,
        descending: true,
    }];
    let (page, total) = list(ProjectFilter::new(ProjectScope::All), desc, window(1, 2)).await;
    assert_eq!((names(&page), total), (vec!["pub-a", "priv-bob"], 4));
    let (page, _) = list(
        ProjectFilter::new(ProjectScope::All),
        Vec::new(),
        window(3, 10),
    )
    .await;
    assert_eq!(names(&page), ["pub-b"], "default order is creation (id)");
    let (page, total) = list(
        ProjectFilter::new(ProjectScope::All),
        by_name,
        window(10, 10),
    )
    .await;
    assert!(page.is_empty());
    assert_eq!(total, 4);
}

async fn project_metadata_set_add_delete(url: String) {
    let db = open(&url).await;
    let id = project(&db, "lib", None, false).await;
    let before = db.project_by_id(id).await.unwrap().unwrap();

    assert!(
        db.add_project_metadata(id, "auto_scan", "true")
            .await
            .unwrap()
    );
    assert!(
        !db.add_project_metadata(id, "auto_scan", "false")
            .await
            .unwrap(),
        "already set"
    );
    let set = BTreeMap::from([
        ("public".to_owned(), "true".to_owned()),
        ("severity".to_owned(), "high".to_owned()),
    ]);
    assert!(db.set_project_metadata(id, &set).await.unwrap());
    assert!(
        !db.set_project_metadata(id + 100, &set).await.unwrap(),
        "no such project"
    );

    let p = db.project_by_id(id).await.unwrap().unwrap();
    assert!(p.is_public());
    assert_eq!(p.metadata["auto_scan"], "true");
    assert_eq!(p.metadata["severity"], "high");
    assert!(p.updated_at >= before.updated_at);

    assert!(db.delete_project_metadata(id, "public").await.unwrap());
    assert!(!db.delete_project_metadata(id, "public").await.unwrap());
    assert!(!db.project_by_id(id).await.unwrap().unwrap().is_public());
}

async fn delete_project_refused_while_it_holds_repositories(url: String) {
    let db = open(&url).await;
    let alice = user(&db, "alice").await;
    let id = project(&db, "lib", Some(alice), false).await;
    blob(&db, &repo("lib/app"), b"x").await;
    // Names that only look alike do not count.
    blob(&db, &repo("lib0/app"), b"x").await;
    blob(&db, &repo("library/app"), b"x").await;

    assert_eq!(
        db.delete_project(id).await.unwrap(),
        DeleteProjectOutcome::HasRepositories
    );
    assert!(db.project_by_id(id).await.unwrap().is_some());

    assert!(db.delete_repository("lib/app").await.unwrap().is_some());
    assert_eq!(
        db.delete_project(id).await.unwrap(),
        DeleteProjectOutcome::Deleted
    );
    assert_eq!(
        db.delete_project(id).await.unwrap(),
        DeleteProjectOutcome::NotFound
    );
    assert!(db.project_by_name("lib").await.unwrap().is_none());
    // Memberships went with it, and the name is free again.
    assert!(db.member_roles(alice, &[id]).await.unwrap().is_empty());
    let again = project(&db, "lib", Some(alice), false).await;
    assert_ne!(again, id);
}

// ---- members ------------------------------------------------------------------------

async fn members_lifecycle(url: String) {
    let db = open(&url).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let carol = user(&db, "carol").await;
    let lib = project(&db, "lib", Some(alice), false).await;
    let other = project(&db, "other", Some(bob), false).await;

    let bob_m = match db
        .add_member(lib, &MemberUser::Name("bob".into()), 2)
        .await
        .unwrap()
    {
        AddMemberOutcome::Added(id) => id,
        o => panic!("{o:?}"),
    };
    let carol_m = match db.add_member(lib, &MemberUser::Id(carol), 3).await.unwrap() {
        AddMemberOutcome::Added(id) => id,
        o => panic!("{o:?}"),
    };
    assert_eq!(
        db.add_member(lib, &MemberUser::Id(carol), 4).await.unwrap(),
        AddMemberOutcome::AlreadyMember
    );
    assert_eq!(
        db.add_member(lib, &MemberUser::Name("nobody".into()), 2)
            .await
            .unwrap(),
        AddMemberOutcome::UserNotFound
    );
    assert_eq!(
        db.add_member(lib, &MemberUser::Id(carol + 1000), 2)
            .await
            .unwrap(),
        AddMemberOutcome::UserNotFound
    );

    let (members, total) = db.list_members(lib, None, all()).await.unwrap();
    assert_eq!(total, 3);
    let listed: Vec<(&str, i64, &str)> = members
        .iter()
        .map(|m| (m.entity_name.as_str(), m.role, m.entity_type.as_str()))
        .collect();
    assert_eq!(
        listed,
        [("alice", 1, "u"), ("bob", 2, "u"), ("carol", 3, "u")]
    );
    let (page, total) = db.list_members(lib, None, window(1, 1)).await.unwrap();
    assert_eq!((page[0].entity_name.as_str(), total), ("bob", 3));
    let (found, total) = db
        .list_members(lib, Some(&TextMatch::Contains("AR".into())), all())
        .await
        .unwrap();
    assert_eq!((found.len(), total, found[0].entity_id), (1, 1, carol));

    let m = db.member(lib, bob_m).await.unwrap().expect("member");
    assert_eq!((m.project_id, m.entity_id, m.role), (lib, bob, 2));
    assert!(
        db.member(other, bob_m).await.unwrap().is_none(),
        "another project's id"
    );

    assert!(db.update_member_role(lib, bob_m, 4).await.unwrap());
    assert!(!db.update_member_role(other, bob_m, 4).await.unwrap());
    assert_eq!(db.member(lib, bob_m).await.unwrap().unwrap().role, 4);

    let counts = db.member_counts_by_role(lib).await.unwrap();
    assert_eq!(counts, BTreeMap::from([(1, 1), (3, 1), (4, 1)]));
    let roles = db.member_roles(bob, &[lib, other]).await.unwrap();
    assert_eq!((roles[&lib], roles[&other]), (4, 1));

    assert!(db.delete_member(lib, carol_m).await.unwrap());
    assert!(!db.delete_member(lib, carol_m).await.unwrap());
    assert_eq!(db.list_members(lib, None, all()).await.unwrap().1, 2);
}

// ---- repositories -------------------------------------------------------------------

async fn repositories_by_scope_project_and_name(url: String) {
    let db = open(&url).await;
    let alice = user(&db, "alice").await;
    let public = project(&db, "pub", None, true).await;
    let private = project(&db, "priv", Some(alice), false).await;
    for name in [
        "pub/app",
        "pub/team/web",
        "priv/secret",
        "pubx/stray",
        "loose",
    ] {
        blob(&db, &repo(name), name.as_bytes()).await;
    }
    image(&db, &repo("pub/app"), "layer-1", Some("v1")).await;
    image(&db, &repo("pub/app"), "layer-2", None).await;

    let by_name = [SortKey {
        field: RepositorySortField::Name,
        descending: false,
    }];
    let list = |scope: ProjectScope, project: Option<&str>, name: Option<TextMatch>| {
        let db = db.clone();
        let filter = RepositoryFilter {
            scope,
            project: project.map(str::to_owned),
            name,
        };
        async move {
            let (found, total) = db
                .list_repository_infos(&filter, &by_name, Window::ALL)
                .await
                .unwrap();
            assert_eq!(total as usize, found.len());
            found
        }
    };

    // Repositories outside every project are not listed.
    let everything = list(ProjectScope::All, None, None).await;
    let listed: Vec<(&str, i64)> = everything
        .iter()
        .map(|r| (r.name.as_str(), r.project_id))
        .collect();
    assert_eq!(
        listed,
        [
            ("priv/secret", private),
            ("pub/app", public),
            ("pub/team/web", public)
        ]
    );
    let app = &everything[1];
    assert_eq!(
        (app.artifact_count, app.pull_count, app.description.as_str()),
        (2, 0, "")
    );

    let anonymous = ProjectScope::Visible {
        member: None,
        names: Vec::new(),
    };
    let names_of = |found: Vec<projects::RepositoryInfo>| -> Vec<String> {
        found.into_iter().map(|r| r.name).collect()
    };
    assert_eq!(
        names_of(list(anonymous.clone(), None, None).await),
        ["pub/app", "pub/team/web"]
    );
    let as_alice = ProjectScope::Visible {
        member: Some(alice),
        names: Vec::new(),
    };
    assert_eq!(names_of(list(as_alice, None, None).await).len(), 3);
    assert_eq!(
        names_of(list(ProjectScope::All, Some("priv"), None).await),
        ["priv/secret"]
    );
    assert_eq!(
        names_of(
            list(
                ProjectScope::All,
                Some("pub"),
                Some(TextMatch::Contains("WEB".into()))
            )
            .await
        ),
        ["pub/team/web"]
    );
    assert_eq!(
        names_of(
            list(
                ProjectScope::All,
                None,
                Some(TextMatch::Exact("pub/app".into()))
            )
            .await
        ),
        ["pub/app"]
    );
    // A project filter never widens the scope.
    assert!(list(anonymous, Some("priv"), None).await.is_empty());

    let (page, total) = db
        .list_repository_infos(
            &RepositoryFilter {
                scope: ProjectScope::All,
                project: None,
                name: None,
            },
            &[SortKey {
                field: RepositorySortField::Name,
                descending: true,
            }],
            window(0, 1),
        )
        .await
        .unwrap();
    assert_eq!((page[0].name.as_str(), total), ("pub/team/web", 3));

    // Every page, shallow or deep (deep ones are read from the far end of the order), is
    // the matching slice of the whole listing, for any scope and order.
    let by_name_desc = [SortKey {
        field: RepositorySortField::Name,
        descending: true,
    }];
    let visible = ProjectScope::Visible {
        member: None,
        names: Vec::new(),
    };
    for scope in [ProjectScope::All, visible] {
        for sort in [&by_name_desc[..], &by_name[..], &[]] {
            let filter = RepositoryFilter {
                scope: scope.clone(),
                project: None,
                name: None,
            };
            let (whole, total) = db
                .list_repository_infos(&filter, sort, Window::ALL)
                .await
                .unwrap();
            let whole = names_of(whole);
            for offset in 0..5u64 {
                for limit in 1..4u64 {
                    let (page, page_total) = db
                        .list_repository_infos(&filter, sort, window(offset, limit))
                        .await
                        .unwrap();
                    let from = (offset as usize).min(whole.len());
                    let to = ((offset + limit) as usize).min(whole.len());
                    assert_eq!(page_total, total);
                    assert_eq!(
                        names_of(page),
                        whole[from..to],
                        "offset {offset} limit {limit}"
                    );
                }
            }
        }
    }

    assert!(
        db.set_repository_description("pub/app", "the app")
            .await
            .unwrap()
    );
    assert!(
        !db.set_repository_description("pub/none", "x")
            .await
            .unwrap()
    );
    let info = db.repository_info("pub/app").await.unwrap().expect("info");
    assert_eq!(
        (info.description.as_str(), info.project_id),
        ("the app", public)
    );
    assert!(
        db.repository_info("loose").await.unwrap().is_none(),
        "outside projects"
    );
    assert!(db.repository_info("pub/none").await.unwrap().is_none());

    // A project created after repositories under its name takes them ("pubx" is not a
    // prefix of "pub/..." nor the other way round, and "loose" stays outside).
    let pubx = project(&db, "pubx", None, true).await;
    let info = db
        .repository_info("pubx/stray")
        .await
        .unwrap()
        .expect("now inside");
    assert_eq!(info.project_id, pubx);
    assert_eq!(db.project_by_id(pubx).await.unwrap().unwrap().repo_count, 1);
    assert_eq!(
        db.project_by_id(public).await.unwrap().unwrap().repo_count,
        2
    );
    let (all, total) = db
        .list_repository_infos(
            &RepositoryFilter {
                scope: ProjectScope::All,
                project: None,
                name: None,
            },
            &by_name,
            Window::ALL,
        )
        .await
        .unwrap();
    assert_eq!(total, 4);
    assert_eq!(
        names_of(all),
        ["priv/secret", "pub/app", "pub/team/web", "pubx/stray"]
    );
    // A repository pushed into an existing project is in it from its first write.
    blob(&db, &repo("pubx/later"), b"later").await;
    let info = db
        .repository_info("pubx/later")
        .await
        .unwrap()
        .expect("inside");
    assert_eq!(info.project_id, pubx);
    assert!(db.repository_info("loose").await.unwrap().is_none());
}

/// On Postgres a first push can race the deletion of its project: the new repository's
/// project is read before the delete commits, and its foreign key check then fails. That
/// is answered as "try again" (503), whose retry finds no project, not as a server fault.
/// (SQLite has one writer at a time, so there the push simply comes before or after.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_first_push_racing_its_project_deletion_is_retryable() {
    support::run(support::Backend::Postgres, |url| async move {
        use sqlx::Connection;
        let db = open(&url).await;
        let doomed = project(&db, "doomed", None, false).await;
        let mut deleter = sqlx::PgConnection::connect(&url).await.expect("connect");
        let mut delete = Connection::begin(&mut deleter).await.expect("begin");
        sqlx::query("DELETE FROM projects WHERE project_id = $1")
            .bind(doomed)
            .execute(&mut *delete)
            .await
            .expect("delete");

        let r = repo("doomed/app");
        let push = tokio::spawn({
            let db = db.clone();
            let r = r.clone();
            async move { db.commit_blob(&r, &Digest::of(b"x"), 1, None).await }
        });
        // Commit the delete only once the push waits for its lock on the project row.
        let mut watcher = sqlx::PgConnection::connect(&url).await.expect("connect");
        let mut waited = 0;
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&mut watcher)
            .await
            .expect("pg_stat_activity");
            if waiting > 0 {
                break;
            }
            waited += 1;
            assert!(waited < 500, "the push never waited for the project row");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        delete.commit().await.expect("commit the delete");

        let outcome = push.await.expect("push task");
        assert!(
            matches!(outcome, Err(registry_core::BackendError::Unavailable(_))),
            "{outcome:?}"
        );
        assert!(db.repository_info("doomed/app").await.unwrap().is_none());
        assert!(!db.repository_exists(&r).await.unwrap());
    })
    .await;
}

/// Migration 0007 gives the repositories that existed before it their project, by name.
/// Every repository inside a project (of `project` only, if given), by name, and the
/// listing's total, as an administrator sees them.
async fn repositories_by_name(
    db: &Database,
    project: Option<&str>,
) -> (Vec<projects::RepositoryInfo>, u64) {
    let filter = RepositoryFilter {
        scope: ProjectScope::All,
        project: project.map(str::to_owned),
        name: None,
    };
    let by_name = [SortKey {
        field: RepositorySortField::Name,
        descending: false,
    }];
    db.list_repository_infos(&filter, &by_name, Window::ALL)
        .await
        .unwrap()
}

/// Brings a fresh database to the schema before migration `version` (e.g. "0007") and
/// runs `seed` on it, as a database of an earlier release would be.
async fn migrate_before(url: &str, version: &str, seed: &[&str]) {
    let postgres = !url.starts_with("sqlite:");
    let dialect = if postgres { "postgres" } else { "sqlite" };
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(dialect);
    let earlier = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&all).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name.as_str() < version {
            std::fs::copy(&path, earlier.path().join(&name)).expect("copy");
        }
    }
    let before = sqlx::migrate::Migrator::new(earlier.path())
        .await
        .expect("earlier migrations");
    if postgres {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        before.run(&pool).await.expect("migrate");
        pool.close().await;
    } else {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("url")
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .expect("connect");
        before.run(&pool).await.expect("migrate");
        pool.close().await;
    }
    execute(url, seed).await;
}

/// Runs `statements` on the database at `url`, behind the store's back.
async fn execute(url: &str, statements: &[&str]) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("connect");
        for sql in statements {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        for sql in statements {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;
    }
}

async fn migration_places_existing_repositories_in_their_projects(url: String) {
    let seed = [
        "INSERT INTO projects (name, created_at, updated_at) VALUES ('a', 1, 1)",
        "INSERT INTO repositories (name, created_at, updated_at) VALUES \
         ('a/x', 1, 1), ('a/y/z', 1, 1), ('ab/w', 1, 1), ('a', 1, 1), ('loose', 1, 1)",
    ];
    migrate_before(&url, "0007", &seed).await;

    let db = open(&url).await;
    let a = db.project_by_name("a").await.unwrap().expect("project a");
    assert_eq!(a.repo_count, 2);
    let (found, total) = repositories_by_name(&db, None).await;
    let listed: Vec<(&str, i64)> = found
        .iter()
        .map(|r| (r.name.as_str(), r.project_id))
        .collect();
    assert_eq!(listed, [("a/x", a.id), ("a/y/z", a.id)]);
    assert_eq!(total, 2);
    // And a project created afterwards takes what lies under its name.
    let ab = project(&db, "ab", None, false).await;
    let info = db.repository_info("ab/w").await.unwrap().expect("ab/w");
    assert_eq!(info.project_id, ab);
    assert!(db.repository_info("a").await.unwrap().is_none());
}

/// Repositories holding an index or an accessory before migration 0009 are marked by
/// it, so their artifact counts leave the children and accessories out.
async fn migration_marks_repositories_where_artifacts_nest(url: String) {
    // Three repositories of two images each: one also holds an index of both, one has
    // an accessory (a manifest whose subject is the other image), one nothing else.
    let seed = [
        "INSERT INTO projects (name, created_at, updated_at) VALUES ('a', 1, 1)",
        "INSERT INTO repositories (name, created_at, updated_at) VALUES \
         ('a/indexed', 1, 1), ('a/signed', 1, 1), ('a/plain', 1, 1)",
        "INSERT INTO manifests (repository_id, digest, media_type, content, size, created_at) \
         SELECT r.id, d.digest, 'application/vnd.oci.image.manifest.v1+json', '{}', 2, 1 \
         FROM repositories r CROSS JOIN (SELECT 'sha256:01' AS digest UNION ALL SELECT 'sha256:02') d",
        "INSERT INTO manifests (repository_id, digest, media_type, content, size, created_at) \
         SELECT id, 'sha256:0i', 'application/vnd.oci.image.index.v1+json', '{}', 2, 1 \
         FROM repositories WHERE name = 'a/indexed'",
        "INSERT INTO manifest_references (manifest_id, kind, digest) \
         SELECT m.id, 'manifest', c.digest FROM manifests m \
         CROSS JOIN (SELECT 'sha256:01' AS digest UNION ALL SELECT 'sha256:02') c \
         WHERE m.digest = 'sha256:0i'",
        "INSERT INTO manifests (repository_id, digest, media_type, subject_digest, content, size, created_at) \
         SELECT id, 'sha256:0s', 'application/vnd.oci.image.manifest.v1+json', 'sha256:02', '{}', 2, 1 \
         FROM repositories WHERE name = 'a/signed'",
    ];
    migrate_before(&url, "0009", &seed).await;

    let db = open(&url).await;
    let (found, _) = repositories_by_name(&db, Some("a")).await;
    let counts: Vec<(&str, u64)> = found
        .iter()
        .map(|r| (r.name.as_str(), r.artifact_count))
        .collect();
    assert_eq!(counts, [("a/indexed", 1), ("a/plain", 2), ("a/signed", 2)]);
}

/// Each project's repo_count and the total of all repositories come from counters the
/// database keeps (migration 0011). They must follow every way a repository appears,
/// moves or goes: first pushes (several at once, which on Postgres use several
/// connections and so several counter rows), a project created after repositories under
/// its name, repository deletion, and folding the counter rows.
async fn repository_counts_follow_pushes_adoption_and_deletion(url: String) {
    let db = open(&url).await;
    let a = project(&db, "a", None, false).await;
    let b = project(&db, "b", None, false).await;
    let pushes: Vec<_> = (0..12)
        .map(|i| {
            let db = db.clone();
            let name = format!("{}/app{i}", if i % 3 == 0 { "b" } else { "a" });
            tokio::spawn(async move { blob(&db, &repo(&name), b"layer").await })
        })
        .collect();
    for push in pushes {
        push.await.expect("push");
    }
    // Outside every project until "c" exists.
    blob(&db, &repo("c/early"), b"x").await;
    blob(&db, &repo("c/early2"), b"x").await;
    blob(&db, &repo("loose"), b"x").await;

    let all = RepositoryFilter {
        scope: ProjectScope::All,
        project: None,
        name: None,
    };
    let check = async |db: &Database, expect: &[(i64, u64)], total: u64| {
        for (id, n) in expect {
            let p = db.project_by_id(*id).await.unwrap().expect("project");
            assert_eq!(p.repo_count, *n, "project {}", p.name);
        }
        let (found, listed) = db
            .list_repository_infos(&all, &[], Window::ALL)
            .await
            .unwrap();
        assert_eq!((listed, found.len() as u64), (total, total));
    };
    check(&db, &[(a, 8), (b, 4)], 12).await;

    let c = project(&db, "c", None, false).await;
    check(&db, &[(a, 8), (b, 4), (c, 2)], 14).await;

    assert!(db.delete_repository("a/app1").await.unwrap().is_some());
    assert!(db.delete_repository("c/early").await.unwrap().is_some());
    check(&db, &[(a, 7), (b, 4), (c, 1)], 12).await;

    db.compact_audit_counts().await.unwrap();
    check(&db, &[(a, 7), (b, 4), (c, 1)], 12).await;
    // A project with no repository left counts none.
    assert!(db.delete_repository("c/early2").await.unwrap().is_some());
    check(&db, &[(c, 0)], 11).await;
}

async fn delete_repository_takes_everything_in_it(url: String) {
    let db = open(&url).await;
    project(&db, "lib", None, false).await;
    let r = repo("lib/app");
    let digest = image(&db, &r, "layer", Some("latest")).await;
    let session = UploadSession {
        id: "upload-1".into(),
        repository: r.clone(),
        offset: 0,
        hash_state: vec![1],
        parts: Vec::<StagedPart>::new(),
        created_at: 1,
    };
    db.create_upload(&session).await.unwrap();

    assert_eq!(
        db.delete_repository("lib/app").await.unwrap(),
        Some(vec!["upload-1".to_owned()])
    );
    assert_eq!(db.delete_repository("lib/app").await.unwrap(), None);
    assert!(!db.repository_exists(&r).await.unwrap());
    assert!(db.manifest_by_digest(&r, &digest).await.unwrap().is_none());
    assert!(db.get_upload(&r, "upload-1").await.unwrap().is_none());
    // Pushing again starts from scratch.
    image(&db, &r, "layer", None).await;
    assert!(db.list_tags(&r, None, 10).await.unwrap().is_empty());
}

// ---- artifacts and tags -------------------------------------------------------------

async fn artifacts_with_tags_children_and_sizes(url: String) {
    let db = open(&url).await;
    project(&db, "lib", None, false).await;
    let r = repo("lib/app");
    let artifact_count = async |name: &str| {
        db.repository_info(name)
            .await
            .unwrap()
            .expect("repository")
            .artifact_count
    };
    let amd = image(&db, &r, "amd64-layer", None).await;
    let arm = image(&db, &r, "arm64-layer!", None).await;
    // Two images, nothing nests yet: each is an artifact.
    assert_eq!(artifact_count("lib/app").await, 2);
    // The index makes them its children: one artifact.
    let idx = index(&db, &r, &[&amd, &arm], Some("v1")).await;
    assert_eq!(artifact_count("lib/app").await, 1);
    let plain = image(&db, &r, "plain-layer", Some("latest")).await;
    let sig = manifest(
        &db,
        &r,
        r#"{"signature":1}"#,
        IMAGE,
        ManifestReferences::default(),
        Some(&plain),
        None,
    )
    .await;
    // A referrer whose subject is elsewhere is an ordinary artifact here.
    let stray = manifest(
        &db,
        &r,
        r#"{"stray":1}"#,
        IMAGE,
        ManifestReferences::default(),
        Some(&Digest::of(b"not here")),
        None,
    )
    .await;

    let by_digest = [SortKey {
        field: ArtifactSortField::Digest,
        descending: false,
    }];
    let list = |filter: ArtifactFilter| {
        let db = db.clone();
        async move {
            let (found, total) = db
                .list_artifacts("lib/app", &filter, &by_digest, Window::ALL)
                .await
                .unwrap();
            assert_eq!(total as usize, found.len());
            found
        }
    };
    let digests = |found: &[projects::Artifact]| -> Vec<String> {
        found.iter().map(|a| a.digest.clone()).collect()
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    // Base artifacts only by default: no index children, no accessories.
    let base = list(ArtifactFilter::default()).await;
    assert_eq!(
        digests(&base),
        sorted(vec![idx.to_string(), plain.to_string(), stray.to_string()])
    );
    let everything = list(ArtifactFilter {
        all: true,
        ..Default::default()
    })
    .await;
    assert_eq!(everything.len(), 6);
    assert_eq!(
        db.repository_info("lib/app")
            .await
            .unwrap()
            .unwrap()
            .artifact_count,
        3
    );

    // In a repository with no index, an accessory alone is enough to be left out.
    let signed = repo("lib/signed");
    let only = image(&db, &signed, "signed-layer", Some("v1")).await;
    assert_eq!(artifact_count("lib/signed").await, 1);
    manifest(
        &db,
        &signed,
        r#"{"signature":2}"#,
        IMAGE,
        ManifestReferences::default(),
        Some(&only),
        None,
    )
    .await;
    assert_eq!(artifact_count("lib/signed").await, 1);
    let everything_in_lib = RepositoryFilter {
        scope: ProjectScope::All,
        project: Some("lib".to_owned()),
        name: None,
    };
    let (repos, _) = db
        .list_repository_infos(&everything_in_lib, &[], Window::ALL)
        .await
        .unwrap();
    let counts: Vec<(&str, u64)> = repos
        .iter()
        .map(|r| (r.name.as_str(), r.artifact_count))
        .collect();
    assert_eq!(counts, [("lib/app", 3), ("lib/signed", 1)]);

    // Sizes: manifest + config + layer; an index adds its children.
    let img = base.iter().find(|a| a.digest == plain.to_string()).unwrap();
    let img_manifest = format!(
        r#"{{"config":"{}","layers":["{}"]}}"#,
        Digest::of(b"config-123"),
        Digest::of(b"plain-layer")
    );
    assert_eq!(
        img.size,
        (img_manifest.len() + 10 + "plain-layer".len()) as u64
    );
    assert_eq!(
        img.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["latest"]
    );
    assert_eq!(img.tags[0].artifact_id, img.id);
    let ix = base.iter().find(|a| a.digest == idx.to_string()).unwrap();
    let child_sizes: u64 = everything
        .iter()
        .filter(|a| a.digest == amd.to_string() || a.digest == arm.to_string())
        .map(|a| a.size)
        .sum();
    assert_eq!(ix.size, ix.content.len() as u64 + child_sizes);
    assert_eq!(ix.children.len(), 2);
    assert!(ix.children.iter().all(|c| c.id.is_some()));

    // Tag filters.
    let tagged = list(ArtifactFilter {
        tags: Some(TagFilter::Any),
        ..Default::default()
    })
    .await;
    assert_eq!(
        digests(&tagged),
        sorted(vec![idx.to_string(), plain.to_string()])
    );
    let untagged = list(ArtifactFilter {
        tags: Some(TagFilter::Nothing),
        ..Default::default()
    })
    .await;
    assert_eq!(digests(&untagged), [stray.to_string()]);
    let fuzzy = list(ArtifactFilter {
        tags: Some(TagFilter::Matching(TextMatch::Contains("LAT".into()))),
        ..Default::default()
    })
    .await;
    assert_eq!(digests(&fuzzy), [plain.to_string()]);
    let exact = list(ArtifactFilter {
        digest: Some(idx.to_string()),
        ..Default::default()
    })
    .await;
    assert_eq!(digests(&exact), [idx.to_string()]);
    let accessory = list(ArtifactFilter {
        all: true,
        digest: Some(sig.to_string()),
        ..Default::default()
    })
    .await;
    assert_eq!(accessory.len(), 1);

    // Newest first by default; windows page through.
    let (page, total) = db
        .list_artifacts("lib/app", &ArtifactFilter::default(), &[], window(0, 2))
        .await
        .unwrap();
    assert_eq!((page.len(), total), (2, 3));
    assert_eq!(page[0].digest, stray.to_string(), "pushed last");

    // By reference.
    let by_tag = db
        .artifact("lib/app", &ArtifactRef::Tag("v1".into()))
        .await
        .unwrap()
        .expect("by tag");
    assert_eq!(by_tag.digest, idx.to_string());
    let by_digest_ref = db
        .artifact("lib/app", &ArtifactRef::Digest(amd.to_string()))
        .await
        .unwrap()
        .expect("child by digest");
    assert!(by_digest_ref.tags.is_empty());
    assert!(
        db.artifact("lib/app", &ArtifactRef::Tag("nope".into()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.artifact("lib/other", &ArtifactRef::Digest(amd.to_string()))
            .await
            .unwrap()
            .is_none()
    );
}

async fn artifact_tags_create_list_delete(url: String) {
    let db = open(&url).await;
    project(&db, "lib", None, false).await;
    let r = repo("lib/app");
    let a = image(&db, &r, "a", Some("v1")).await;
    let b = image(&db, &r, "b", None).await;
    let art = db
        .artifact("lib/app", &ArtifactRef::Digest(a.to_string()))
        .await
        .unwrap()
        .unwrap();
    let other = db
        .artifact("lib/app", &ArtifactRef::Digest(b.to_string()))
        .await
        .unwrap()
        .unwrap();

    for t in ["v2", "stable", "v10"] {
        assert_eq!(
            db.create_artifact_tag(art.repository_id, art.id, t)
                .await
                .unwrap(),
            CreateTagOutcome::Created
        );
    }
    // A name already used in the repository, even on another artifact, is refused.
    assert_eq!(
        db.create_artifact_tag(other.repository_id, other.id, "v1")
            .await
            .unwrap(),
        CreateTagOutcome::Exists
    );
    assert_eq!(
        db.create_artifact_tag(art.repository_id, other.id + 1000, "x")
            .await
            .unwrap(),
        CreateTagOutcome::ArtifactNotFound
    );

    let (tags, total) = db
        .list_artifact_tags(art.id, None, &[], Window::ALL)
        .await
        .unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!((names, total), (vec!["stable", "v1", "v10", "v2"], 4));
    let (page, total) = db
        .list_artifact_tags(
            art.id,
            Some(&TextMatch::Contains("v".into())),
            &[SortKey {
                field: TagSortField::Name,
                descending: true,
            }],
            window(0, 2),
        )
        .await
        .unwrap();
    let names: Vec<&str> = page.iter().map(|t| t.name.as_str()).collect();
    assert_eq!((names, total), (vec!["v2", "v10"], 3));
    // The registry sees the new tag.
    let tag: Tag = "stable".parse().unwrap();
    assert_eq!(
        db.manifest_by_tag(&r, &tag).await.unwrap().unwrap().digest,
        a
    );

    assert!(db.delete_artifact_tag(art.id, "stable").await.unwrap());
    assert!(!db.delete_artifact_tag(art.id, "stable").await.unwrap());
    assert!(
        !db.delete_artifact_tag(other.id, "v1").await.unwrap(),
        "not this artifact's"
    );
    assert!(db.manifest_by_tag(&r, &tag).await.unwrap().is_none());
    assert!(
        db.artifact("lib/app", &ArtifactRef::Digest(a.to_string()))
            .await
            .unwrap()
            .is_some()
    );
}

/// A write moves the repository's `updated_at` to the present, never back: the statement
/// is conditional so that concurrent pushes do not queue on the repository row.
async fn writes_move_a_repository_update_time_forward_only(url: String) {
    let db = open(&url).await;
    project(&db, "lib", None, false).await;
    let r = repo("lib/app");
    let first = image(&db, &r, "a", Some("v1")).await;
    let updated_at = |db: Database| async move {
        db.repository_info("lib/app")
            .await
            .unwrap()
            .expect("repository")
            .updated_at
    };
    let now = || chrono::Utc::now().timestamp();

    // Set ahead (another replica's clock, say): a push leaves it there.
    let ahead = now() + 100_000;
    execute(
        &url,
        &[&format!(
            "UPDATE repositories SET updated_at = {ahead} WHERE name = 'lib/app'"
        )],
    )
    .await;
    image(&db, &r, "b", Some("v2")).await;
    assert_eq!(updated_at(db.clone()).await, ahead);

    // Set in the past: a push, a tag created through the API and an artifact deleted
    // each bring it to the present.
    let art = db
        .artifact("lib/app", &ArtifactRef::Digest(first.to_string()))
        .await
        .unwrap()
        .unwrap();
    let past = "UPDATE repositories SET updated_at = 5 WHERE name = 'lib/app'";
    for step in 0..3 {
        execute(&url, &[past]).await;
        let before = now();
        match step {
            0 => {
                image(&db, &r, "c", Some("v3")).await;
            }
            1 => {
                let created = db
                    .create_artifact_tag(art.repository_id, art.id, "stable")
                    .await
                    .unwrap();
                assert_eq!(created, CreateTagOutcome::Created);
            }
            _ => {
                let deleted = db
                    .delete_artifact("lib/app", &first.to_string())
                    .await
                    .unwrap();
                assert!(matches!(deleted, DeleteArtifactOutcome::Deleted(_)));
            }
        }
        let t = updated_at(db.clone()).await;
        assert!(
            before <= t && t <= now(),
            "step {step}: {t} not in {before}.."
        );
    }
}

async fn delete_artifact_follows_harbor_rules(url: String) {
    let db = open(&url).await;
    project(&db, "lib", None, false).await;
    let r = repo("lib/app");
    let loose = image(&db, &r, "loose", None).await;
    let tagged_child = image(&db, &r, "tagged-child", Some("keep")).await;
    let shared = image(&db, &r, "shared", None).await;
    let idx = index(&db, &r, &[&loose, &tagged_child, &shared], Some("v1")).await;
    let other_idx = index(&db, &r, &[&shared], Some("v2")).await;
    let sig = manifest(
        &db,
        &r,
        r#"{"sig":"of the index"}"#,
        IMAGE,
        ManifestReferences::default(),
        Some(&idx),
        None,
    )
    .await;

    // A child of an index cannot go on its own.
    assert_eq!(
        db.delete_artifact("lib/app", &loose.to_string())
            .await
            .unwrap(),
        DeleteArtifactOutcome::ReferencedByIndex
    );
    assert_eq!(
        db.delete_artifact("lib/app", &Digest::of(b"nope").to_string())
            .await
            .unwrap(),
        DeleteArtifactOutcome::NotFound
    );

    // The index goes with its untagged, unshared child and its signature.
    let outcome = db
        .delete_artifact("lib/app", &idx.to_string())
        .await
        .unwrap();
    let DeleteArtifactOutcome::Deleted(gone) = outcome else {
        panic!("{outcome:?}");
    };
    let mut gone_sorted = gone.clone();
    gone_sorted.sort();
    let mut expected = vec![idx.to_string(), loose.to_string(), sig.to_string()];
    expected.sort();
    assert_eq!(gone_sorted, expected);
    assert_eq!(gone[0], idx.to_string(), "the artifact itself first");

    let left = db
        .list_artifacts(
            "lib/app",
            &ArtifactFilter {
                all: true,
                ..Default::default()
            },
            &[],
            Window::ALL,
        )
        .await
        .unwrap()
        .0;
    let mut left: Vec<String> = left.into_iter().map(|a| a.digest).collect();
    left.sort();
    let mut expected = vec![
        tagged_child.to_string(),
        shared.to_string(),
        other_idx.to_string(),
    ];
    expected.sort();
    assert_eq!(left, expected);
    assert!(
        db.manifest_by_tag(&r, &"v1".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // Now nothing references the tagged child: it can go.
    assert!(matches!(
        db.delete_artifact("lib/app", &tagged_child.to_string()).await.unwrap(),
        DeleteArtifactOutcome::Deleted(d) if d == vec![tagged_child.to_string()]
    ));
}
