//! The accounts store contract: user administration, robot accounts, the audit log and
//! storage totals, on SQLite (a temp file) and Postgres (a database of its own on the
//! server named by `BERTH_TEST_DATABASE_URL`).
//!
//! Run from the workspace root:
//!   eval "$(bash tests/services/pg-up.sh)"; cargo test -p projects --test accounts; eval "$PG_STOP"

mod support;

use std::collections::BTreeMap;

use projects::{
    AuditFilter, AuditSortField, CreateProjectOutcome, CreateRobotOutcome, CreateUserOutcome,
    Database, DeleteProjectOutcome, MemberUser, NewAuditEntry, NewProject, NewRobot, NewUser,
    PullStats, RobotFilter, RobotSortField, RobotUpdate, SortKey, TextMatch, UpdateProfileOutcome,
    UserFilter, UserSortField, Window,
};
use rbac::{Access, AccessDirectory, RobotLevel, RobotPermission};
use registry_core::meta::MetadataStore;
use registry_core::{Digest, RepoName};
use sqlx::Connection as _;
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
    users_are_created_once_per_name_and_email,
    users_list_filter_sort_and_page,
    user_search_puts_prefix_matches_first,
    profile_admin_flag_password_and_delete,
    project_admin_anywhere,
    robots_round_trip_and_names_are_unique,
    robots_list_by_level_project_and_name,
    robots_update_secret_and_delete,
    robots_go_with_their_project,
    audit_entries_filter_sort_and_page,
    audit_totals_stay_exact_under_concurrent_writers,
    audit_records_cannot_be_changed,
    whole_log_pages_follow_the_time_counters,
    logins_are_audited,
    blob_bytes_count_each_blob_once,
);

// ---- helpers ------------------------------------------------------------------------

const ALL: Window = Window::ALL;

fn window(offset: u64, limit: u64) -> Window {
    Window { offset, limit }
}

fn new_user(name: &str, email: &str) -> NewUser {
    NewUser {
        username: name.to_owned(),
        email: email.to_owned(),
        realname: format!("{name} Real"),
        comment: String::new(),
        password: "Passw0rdPassw0rd".to_owned(),
        sysadmin: false,
    }
}

async fn user(db: &Database, name: &str) -> i64 {
    match db
        .create_user(&new_user(name, &format!("{name}@example.com")))
        .await
        .expect("create user")
    {
        CreateUserOutcome::Created(u) => u.id,
        other => panic!("{other:?}"),
    }
}

async fn project(db: &Database, name: &str, owner: Option<i64>) -> i64 {
    let outcome = db
        .create_project(&NewProject {
            name: name.to_owned(),
            owner_id: owner,
            metadata: BTreeMap::new(),
        })
        .await
        .expect("create project");
    match outcome {
        CreateProjectOutcome::Created(id) => id,
        other => panic!("{other:?}"),
    }
}

fn permission(namespace: &str, pairs: &[(&str, &str)]) -> RobotPermission {
    RobotPermission {
        kind: "project".into(),
        namespace: namespace.into(),
        access: pairs
            .iter()
            .map(|(r, a)| Access {
                resource: (*r).into(),
                action: (*a).into(),
                effect: None,
            })
            .collect(),
    }
}

fn new_robot(name: &str, level: RobotLevel, project_id: Option<i64>) -> NewRobot {
    NewRobot {
        name: name.to_owned(),
        description: "ci".to_owned(),
        level,
        project_id,
        duration: 30,
        expires_at: 1_900_000_000,
        disabled: false,
        creator_type: "local".to_owned(),
        creator_ref: 1,
        permissions: vec![permission("lib", &[("repository", "pull")])],
        secret_hash: "ab".repeat(32),
    }
}

async fn robot(db: &Database, robot: &NewRobot) -> projects::RobotRecord {
    match db.create_robot(robot).await.expect("create robot") {
        CreateRobotOutcome::Created(r) => r,
        other => panic!("{other:?}"),
    }
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| name(i).to_owned()).collect()
}

async fn audit(db: &Database, project_id: Option<i64>, operation: &str, username: &str) {
    db.add_audit_entry(&NewAuditEntry {
        project_id,
        operation: operation.to_owned(),
        resource_type: "repository".to_owned(),
        resource: format!("lib/app-{operation}"),
        username: username.to_owned(),
        client_ip: "10.0.0.1".to_owned(),
    })
    .await
    .expect("audit");
}

// ---- users --------------------------------------------------------------------------

async fn users_are_created_once_per_name_and_email(url: String) {
    let db = open(&url).await;
    let created = db
        .create_user(&new_user("alice", "alice@example.com"))
        .await
        .unwrap();
    let CreateUserOutcome::Created(alice) = created else {
        panic!("{created:?}")
    };
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.email, "alice@example.com");
    assert_eq!(alice.realname, "alice Real");
    assert!(!alice.sysadmin);
    assert!(alice.created_at > 0 && alice.updated_at == alice.created_at);
    assert_eq!(
        db.create_user(&new_user("alice", "other@example.com"))
            .await
            .unwrap(),
        CreateUserOutcome::UsernameTaken
    );
    assert_eq!(
        db.create_user(&new_user("bob", "alice@example.com"))
            .await
            .unwrap(),
        CreateUserOutcome::EmailTaken
    );
    // Empty emails (the bootstrap admin's) may repeat.
    for name in ["x1", "x2"] {
        assert!(matches!(
            db.create_user(&new_user(name, "")).await.unwrap(),
            CreateUserOutcome::Created(_)
        ));
    }
    // The password is stored hashed and verifies.
    let verified = db
        .verify_password("alice", "Passw0rdPassw0rd")
        .await
        .unwrap()
        .expect("login");
    assert_eq!(verified.id, alice.id);
    assert_eq!(db.user_by_id(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(db.user_by_name("alice").await.unwrap(), Some(alice));
    assert_eq!(db.user_by_id(9999).await.unwrap(), None);
}

async fn users_list_filter_sort_and_page(url: String) {
    let db = open(&url).await;
    for name in ["carol", "alice", "bob", "Alina", "dave"] {
        user(&db, name).await;
    }
    let by_name = [SortKey {
        field: UserSortField::Username,
        descending: false,
    }];
    let (all, total) = db
        .list_users(&UserFilter::default(), &by_name, ALL)
        .await
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(
        names(&all, |u| &u.username),
        ["Alina", "alice", "bob", "carol", "dave"]
    );
    // Fuzzy is case-insensitive and matches literally (`_` and `%` are no wildcards).
    let filter = UserFilter {
        username: Some(TextMatch::Contains("ALI".into())),
        email: None,
    };
    let (found, total) = db.list_users(&filter, &by_name, ALL).await.unwrap();
    assert_eq!(
        (names(&found, |u| &u.username), total),
        (vec!["Alina".into(), "alice".into()], 2)
    );
    let wildcard = UserFilter {
        username: Some(TextMatch::Contains("_".into())),
        email: None,
    };
    assert_eq!(db.list_users(&wildcard, &[], ALL).await.unwrap().1, 0);
    let exact = UserFilter {
        username: None,
        email: Some(TextMatch::Exact("bob@example.com".into())),
    };
    assert_eq!(
        names(&db.list_users(&exact, &[], ALL).await.unwrap().0, |u| &u
            .username),
        ["bob"]
    );
    // Pages: total counts everything, pages do not overlap.
    let desc = [SortKey {
        field: UserSortField::Username,
        descending: true,
    }];
    let (page1, total) = db
        .list_users(&UserFilter::default(), &desc, window(0, 2))
        .await
        .unwrap();
    let (page3, _) = db
        .list_users(&UserFilter::default(), &desc, window(4, 2))
        .await
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(names(&page1, |u| &u.username), ["dave", "carol"]);
    assert_eq!(names(&page3, |u| &u.username), ["Alina"]);
}

async fn user_search_puts_prefix_matches_first(url: String) {
    let db = open(&url).await;
    for name in ["malice", "alice", "bob", "alicia"] {
        user(&db, name).await;
    }
    let (found, total) = db.search_users("ali", ALL).await.unwrap();
    assert_eq!(total, 3);
    let found: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(found, ["alice", "alicia", "malice"]);
    let (page, total) = db.search_users("ali", window(1, 1)).await.unwrap();
    assert_eq!((page.len(), total), (1, 3));
    assert_eq!(page[0].1, "alicia");
    assert_eq!(db.search_users("zzz", ALL).await.unwrap().1, 0);
}

async fn profile_admin_flag_password_and_delete(url: String) {
    let db = open(&url).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    assert_eq!(
        db.update_user_profile(alice, "new@example.com", "Alice A.", "hi")
            .await
            .unwrap(),
        UpdateProfileOutcome::Updated
    );
    let record = db.user_by_id(alice).await.unwrap().unwrap();
    assert_eq!(
        (
            record.email.as_str(),
            record.realname.as_str(),
            record.comment.as_str()
        ),
        ("new@example.com", "Alice A.", "hi")
    );
    assert_eq!(
        db.update_user_profile(bob, "new@example.com", "Bob", "")
            .await
            .unwrap(),
        UpdateProfileOutcome::EmailTaken
    );
    assert_eq!(
        db.update_user_profile(9999, "x@example.com", "X", "")
            .await
            .unwrap(),
        UpdateProfileOutcome::NotFound
    );

    assert!(db.set_user_sysadmin(bob, true).await.unwrap());
    assert!(db.user_by_id(bob).await.unwrap().unwrap().sysadmin);
    assert!(
        db.verify_password("bob", "Passw0rdPassw0rd")
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
    assert!(!db.set_user_sysadmin(9999, true).await.unwrap());

    assert!(db.set_user_password(alice, "N3wPassword").await.unwrap());
    assert!(
        db.verify_password("alice", "N3wPassword")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        db.verify_password("alice", "Passw0rdPassw0rd")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!db.set_user_password(9999, "N3wPassword").await.unwrap());

    // Deleting a user removes their memberships; their projects stay, ownerless.
    let lib = project(&db, "lib", Some(alice)).await;
    assert!(db.delete_user(alice).await.unwrap());
    assert!(!db.delete_user(alice).await.unwrap());
    assert_eq!(db.user_by_id(alice).await.unwrap(), None);
    assert_eq!(db.member_role(lib, alice).await.unwrap(), None);
    let kept = db.project_by_id(lib).await.unwrap().expect("project stays");
    assert_eq!(kept.owner_id, None);
}

async fn project_admin_anywhere(url: String) {
    let db = open(&url).await;
    let alice = user(&db, "alice").await;
    let bob = user(&db, "bob").await;
    let lib = project(&db, "lib", None).await;
    assert!(!db.is_project_admin_anywhere(alice).await.unwrap());
    db.add_member(lib, &MemberUser::Id(alice), 1).await.unwrap();
    db.add_member(lib, &MemberUser::Id(bob), 2).await.unwrap();
    assert!(db.is_project_admin_anywhere(alice).await.unwrap());
    assert!(!db.is_project_admin_anywhere(bob).await.unwrap());
}

// ---- robots -------------------------------------------------------------------------

async fn robots_round_trip_and_names_are_unique(url: String) {
    let db = open(&url).await;
    let lib = project(&db, "lib", None).await;
    let spec = new_robot("robot$lib+ci", RobotLevel::Project, Some(lib));
    let created = robot(&db, &spec).await;
    assert_eq!(created.name, "robot$lib+ci");
    assert_eq!(created.level, RobotLevel::Project);
    assert_eq!(created.project_id, Some(lib));
    assert_eq!((created.duration, created.expires_at), (30, 1_900_000_000));
    assert_eq!(created.permissions, spec.permissions);
    assert_eq!(
        (created.creator_type.as_str(), created.creator_ref),
        ("local", 1)
    );
    assert!(!created.disabled);
    assert_eq!(
        db.robot_by_id(created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(db.robot_by_id(9999).await.unwrap(), None);
    assert_eq!(
        db.create_robot(&spec).await.unwrap(),
        CreateRobotOutcome::NameTaken
    );
    // The login lookup sees the same robot and the stored hash.
    let (account, hash) = db.robot("robot$lib+ci").await.unwrap().expect("robot");
    assert_eq!(account.id, created.id);
    assert_eq!(account.permissions, spec.permissions);
    assert_eq!(hash, spec.secret_hash);
}

async fn robots_list_by_level_project_and_name(url: String) {
    let db = open(&url).await;
    let lib = project(&db, "lib", None).await;
    let app = project(&db, "app", None).await;
    for (name, level, project_id) in [
        ("robot$lib+b", RobotLevel::Project, Some(lib)),
        ("robot$lib+a", RobotLevel::Project, Some(lib)),
        ("robot$app+a", RobotLevel::Project, Some(app)),
        ("robot$sys1", RobotLevel::System, None),
        ("robot$sys2", RobotLevel::System, None),
    ] {
        robot(&db, &new_robot(name, level, project_id)).await;
    }
    let by_name = [SortKey {
        field: RobotSortField::Name,
        descending: false,
    }];
    let lib_robots = RobotFilter {
        level: Some(RobotLevel::Project),
        project_id: Some(lib),
        name: None,
    };
    let (found, total) = db.list_robots(&lib_robots, &by_name, ALL).await.unwrap();
    assert_eq!(
        (names(&found, |r| &r.name), total),
        (vec!["robot$lib+a".into(), "robot$lib+b".into()], 2)
    );
    let system = RobotFilter {
        level: Some(RobotLevel::System),
        project_id: None,
        name: None,
    };
    let (found, total) = db
        .list_robots(&system, &by_name, window(1, 1))
        .await
        .unwrap();
    assert_eq!(
        (names(&found, |r| &r.name), total),
        (vec!["robot$sys2".into()], 2)
    );
    let fuzzy = RobotFilter {
        level: None,
        project_id: None,
        name: Some(TextMatch::Contains("+A".into())),
    };
    assert_eq!(db.list_robots(&fuzzy, &[], ALL).await.unwrap().1, 2);
}

async fn robots_update_secret_and_delete(url: String) {
    let db = open(&url).await;
    let lib = project(&db, "lib", None).await;
    let created = robot(
        &db,
        &new_robot("robot$lib+ci", RobotLevel::Project, Some(lib)),
    )
    .await;
    let update = RobotUpdate {
        description: "pushes".into(),
        duration: -1,
        expires_at: -1,
        disabled: true,
        permissions: vec![permission(
            "lib",
            &[("repository", "push"), ("repository", "pull")],
        )],
    };
    assert!(db.update_robot(created.id, &update).await.unwrap());
    let updated = db.robot_by_id(created.id).await.unwrap().unwrap();
    assert_eq!(updated.description, "pushes");
    assert_eq!(
        (updated.duration, updated.expires_at, updated.disabled),
        (-1, -1, true)
    );
    assert_eq!(updated.permissions, update.permissions);
    assert_eq!(updated.name, created.name);
    assert!(!db.update_robot(9999, &update).await.unwrap());

    assert!(db.set_robot_secret_hash(created.id, "cd").await.unwrap());
    let (account, hash) = db.robot("robot$lib+ci").await.unwrap().unwrap();
    assert_eq!(hash, "cd");
    assert!(account.disabled);
    assert!(!db.set_robot_secret_hash(9999, "cd").await.unwrap());

    assert!(db.delete_robot(created.id).await.unwrap());
    assert!(!db.delete_robot(created.id).await.unwrap());
    assert!(db.robot("robot$lib+ci").await.unwrap().is_none());
}

async fn robots_go_with_their_project(url: String) {
    let db = open(&url).await;
    let lib = project(&db, "lib", None).await;
    let project_robot = robot(
        &db,
        &new_robot("robot$lib+ci", RobotLevel::Project, Some(lib)),
    )
    .await;
    let system_robot = robot(&db, &new_robot("robot$all", RobotLevel::System, None)).await;
    assert_eq!(
        db.delete_project(lib).await.unwrap(),
        DeleteProjectOutcome::Deleted
    );
    assert_eq!(db.robot_by_id(project_robot.id).await.unwrap(), None);
    assert!(db.robot_by_id(system_robot.id).await.unwrap().is_some());
}

// ---- audit log ----------------------------------------------------------------------

/// Runs one SQL statement on the test database outside Berth's API (to change the log
/// behind its back, or count it the slow way); the error if the database refuses.
async fn raw_sql(url: &str, sql: &str) -> Result<i64, sqlx::Error> {
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_optional(&mut conn)
            .await
            .map(|v| v.unwrap_or(0))
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_optional(&mut conn)
            .await
            .map(|v| v.unwrap_or(0))
    }
}

/// The listing's total for `projects` (`None`: every record).
async fn audit_total(db: &Database, projects: Option<Vec<i64>>) -> u64 {
    let filter = AuditFilter {
        project_ids: projects,
        ..AuditFilter::default()
    };
    db.list_audit_entries(&filter, &[], window(0, 1))
        .await
        .unwrap()
        .1
}

async fn audit_totals_stay_exact_under_concurrent_writers(url: String) {
    let db = open(&url).await;
    let lib = project(&db, "lib", None).await;
    let app = project(&db, "app", None).await;
    // Eight writers at once, single records and batches naming their project, so on
    // Postgres several pooled connections each keep counters of their own.
    let writers = (0..8).map(|w| {
        let db = db.clone();
        tokio::spawn(async move {
            for i in 0..10 {
                let project_id = [Some(lib), Some(app), None][(w + i) % 3];
                audit(&db, project_id, "push", "ci").await;
            }
            let entry = |project: &str| {
                (
                    project.to_owned(),
                    NewAuditEntry {
                        project_id: None,
                        operation: "pull".to_owned(),
                        resource_type: "artifact".to_owned(),
                        resource: format!("{project}/x:1"),
                        username: "ci".to_owned(),
                        client_ip: String::new(),
                    },
                )
            };
            let batch = [entry("lib"), entry("app"), entry("lib"), entry("")];
            db.record_activity(&PullStats::default(), &batch)
                .await
                .expect("batch");
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("writer");
    }
    let count = |sql: &'static str| {
        let url = url.clone();
        async move { u64::try_from(raw_sql(&url, sql).await.unwrap()).unwrap() }
    };
    let all = count("SELECT COUNT(*) FROM audit_log").await;
    let in_lib = count("SELECT COUNT(*) FROM audit_log WHERE project_id = (SELECT project_id FROM projects WHERE name = 'lib')").await;
    // 80 single records (27 lib, 27 app, 26 without) and 8 batches of 2 lib, 1 app, 1 none.
    assert_eq!((all, in_lib), (112, 43));
    let expect = async |db: &Database| {
        assert_eq!(audit_total(db, None).await, 112);
        assert_eq!(audit_total(db, Some(vec![lib])).await, 43);
        assert_eq!(audit_total(db, Some(vec![app])).await, 35);
        assert_eq!(audit_total(db, Some(vec![lib, app])).await, 78);
        assert_eq!(audit_total(db, Some(vec![])).await, 0);
    };
    expect(&db).await;

    // Folding the per-connection counters keeps every total; a second pass finds nothing.
    let folded = db.compact_audit_counts().await.unwrap();
    if url.starts_with("sqlite:") {
        assert_eq!(folded, 0);
    } else {
        assert!(
            folded >= 3,
            "Postgres counters start per connection: {folded}"
        );
    }
    expect(&db).await;
    assert_eq!(db.compact_audit_counts().await.unwrap(), 0);
    let rows = count("SELECT COUNT(*) FROM audit_log_counts").await;
    assert_eq!(rows, 3, "one counter per project after folding");

    // Records removed in bulk (as a retention purge would) leave the totals right.
    raw_sql(&url, "DELETE FROM audit_log WHERE operation = 'pull'")
        .await
        .unwrap();
    audit(&db, Some(lib), "delete", "admin").await;
    assert_eq!(audit_total(&db, None).await, 112 - 32 + 1);
    assert_eq!(audit_total(&db, Some(vec![lib])).await, 43 - 16 + 1);
    assert_eq!(audit_total(&db, Some(vec![app])).await, 35 - 8);
}

async fn audit_records_cannot_be_changed(url: String) {
    let db = open(&url).await;
    let lib = project(&db, "lib", None).await;
    audit(&db, Some(lib), "delete", "mallory").await;
    let err = raw_sql(&url, "UPDATE audit_log SET username = 'alice'")
        .await
        .expect_err("audit records are append-only");
    assert!(
        err.to_string().contains("audit records cannot be changed"),
        "{err}"
    );
    let (entries, total) = db
        .list_audit_entries(&AuditFilter::default(), &[], ALL)
        .await
        .unwrap();
    assert_eq!((total, entries[0].username.as_str()), (1, "mallory"));
}

async fn audit_entries_filter_sort_and_page(url: String) {
    let db = open(&url).await;
    let lib = project(&db, "lib", None).await;
    let app = project(&db, "app", None).await;
    audit(&db, Some(lib), "create", "alice").await;
    audit(&db, Some(lib), "push", "bob").await;
    audit(&db, Some(app), "delete", "alice").await;
    audit(&db, None, "update", "admin").await;

    let (all, total) = db
        .list_audit_entries(&AuditFilter::default(), &[], ALL)
        .await
        .unwrap();
    assert_eq!(total, 4);
    // Newest first (same second: the later id first).
    let ops: Vec<&str> = all.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(ops, ["update", "delete", "push", "create"]);
    let first = &all[3];
    assert_eq!(
        (
            first.project_id,
            first.resource.as_str(),
            first.resource_type.as_str()
        ),
        (Some(lib), "lib/app-create", "repository")
    );
    assert_eq!(
        (first.username.as_str(), first.client_ip.as_str()),
        ("alice", "10.0.0.1")
    );

    let only_lib = AuditFilter {
        project_ids: Some(vec![lib]),
        ..AuditFilter::default()
    };
    assert_eq!(
        db.list_audit_entries(&only_lib, &[], ALL).await.unwrap().1,
        2
    );
    let nothing = AuditFilter {
        project_ids: Some(vec![]),
        ..AuditFilter::default()
    };
    assert_eq!(
        db.list_audit_entries(&nothing, &[], ALL).await.unwrap().1,
        0
    );
    let alice = AuditFilter {
        username: Some(TextMatch::Exact("alice".into())),
        operation: Some(TextMatch::Contains("DEL".into())),
        ..AuditFilter::default()
    };
    let (found, total) = db.list_audit_entries(&alice, &[], ALL).await.unwrap();
    assert_eq!((total, found[0].operation.as_str()), (1, "delete"));
    let resource = AuditFilter {
        resource: Some(TextMatch::Contains("app-p".into())),
        resource_type: Some(TextMatch::Exact("repository".into())),
        ..AuditFilter::default()
    };
    assert_eq!(
        db.list_audit_entries(&resource, &[], ALL).await.unwrap().1,
        1
    );

    let now = chrono::Utc::now().timestamp();
    let recent = AuditFilter {
        op_time_from: Some(now - 60),
        op_time_to: Some(now + 60),
        ..AuditFilter::default()
    };
    assert_eq!(db.list_audit_entries(&recent, &[], ALL).await.unwrap().1, 4);
    let future = AuditFilter {
        op_time_from: Some(now + 60),
        ..AuditFilter::default()
    };
    assert_eq!(db.list_audit_entries(&future, &[], ALL).await.unwrap().1, 0);

    let by_user = [
        SortKey {
            field: AuditSortField::Username,
            descending: false,
        },
        SortKey {
            field: AuditSortField::Id,
            descending: false,
        },
    ];
    let (page, total) = db
        .list_audit_entries(&AuditFilter::default(), &by_user, window(1, 2))
        .await
        .unwrap();
    assert_eq!(total, 4);
    let page: Vec<(&str, &str)> = page
        .iter()
        .map(|e| (e.username.as_str(), e.operation.as_str()))
        .collect();
    assert_eq!(page, [("alice", "create"), ("alice", "delete")]);

    // Every page, shallow or deep (deep ones are read from the far end), is the matching
    // slice of the whole listing, in the default order and in a requested one.
    for sort in [&by_user[..], &[]] {
        let (whole, _) = db
            .list_audit_entries(&AuditFilter::default(), sort, ALL)
            .await
            .unwrap();
        for offset in 0..6 {
            for limit in 1..5 {
                let (page, total) = db
                    .list_audit_entries(&AuditFilter::default(), sort, window(offset, limit))
                    .await
                    .unwrap();
                let from = (offset as usize).min(whole.len());
                let to = (offset + limit).min(4) as usize;
                assert_eq!(total, 4);
                assert_eq!(
                    page,
                    whole[from..to.max(from)],
                    "offset {offset} limit {limit}"
                );
            }
        }
    }
}

/// The whole log, newest first, is paged through the per-second and per-block counters
/// (migration 0008). Records spread over many seconds and blocks, with ids out of time
/// order; every page must be the slice of the order a filtered (OFFSET) listing gives,
/// also after a bulk delete, after folding (Postgres) and after batched writes.
async fn whole_log_pages_follow_the_time_counters(url: String) {
    let db = open(&url).await;
    let lib = project(&db, "lib", None).await;
    // 300 records over 50 seconds 997 s apart (a dozen 4,096 s blocks), six per second,
    // inserted in an order that is not the time order.
    let base = 1_796_000_000_i64;
    let rows: Vec<String> = (0..300)
        .map(|i| {
            let op_time = base + (i * 37 % 50) * 997;
            format!("({lib}, 'push', 'artifact', 'lib/app:{i}', 'ci', '', {op_time})")
        })
        .collect();
    let insert = format!(
        "INSERT INTO audit_log (project_id, operation, resource_type, resource, username, client_ip, op_time) VALUES {}",
        rows.join(", ")
    );
    raw_sql(&url, &insert).await.unwrap();

    // The OFFSET listing: any filter that matches everything takes that path.
    let everything_filtered = AuditFilter {
        op_time_from: Some(0),
        ..AuditFilter::default()
    };
    let newest_first = [SortKey {
        field: AuditSortField::OpTime,
        descending: true,
    }];
    let check = async |db: &Database, expect_total: u64| {
        let (whole, total) = db
            .list_audit_entries(&everything_filtered, &[], ALL)
            .await
            .unwrap();
        assert_eq!((total, whole.len() as u64), (expect_total, expect_total));
        assert!(
            whole
                .windows(2)
                .all(|w| (w[0].op_time, w[0].id) > (w[1].op_time, w[1].id))
        );
        for sort in [&[][..], &newest_first[..]] {
            for limit in [1, 7, 100] {
                for offset in (0..=expect_total + 2).step_by(if limit == 1 { 1 } else { 5 }) {
                    let (page, total) = db
                        .list_audit_entries(&AuditFilter::default(), sort, window(offset, limit))
                        .await
                        .unwrap();
                    let from = (offset as usize).min(whole.len());
                    let to = ((offset + limit) as usize).min(whole.len());
                    assert_eq!(total, expect_total);
                    assert_eq!(page, whole[from..to], "offset {offset} limit {limit}");
                }
            }
        }
        // The counters agree with the records, second by second and block by block.
        for (key, of_record, table) in [
            ("op_time", "op_time", "audit_log_seconds"),
            ("block", "op_time >> 12", "audit_log_blocks"),
        ] {
            let mismatched = raw_sql(
                &url,
                &format!(
                    "SELECT COUNT(*) FROM (\
                         SELECT {of_record} AS {key}, COUNT(*) AS n FROM audit_log GROUP BY 1) r \
                     FULL JOIN (SELECT {key}, SUM(n) AS n FROM {table} GROUP BY {key}) c \
                     USING ({key}) WHERE COALESCE(r.n, 0) <> COALESCE(c.n, 0)"
                ),
            )
            .await
            .unwrap();
            assert_eq!(mismatched, 0, "counts in {table}");
        }
    };
    check(&db, 300).await;

    // A bulk delete (as a retention purge would do) takes records out of every second.
    raw_sql(&url, "DELETE FROM audit_log WHERE id % 4 = 0")
        .await
        .unwrap();
    let left = u64::try_from(
        raw_sql(&url, "SELECT COUNT(*) FROM audit_log")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(left < 300 && left > 200, "{left}");
    check(&db, left).await;

    // Records written now, one by one and in a batch, land in the newest block.
    audit(&db, Some(lib), "delete", "admin").await;
    let pull = NewAuditEntry {
        project_id: None,
        operation: "pull".to_owned(),
        resource_type: "artifact".to_owned(),
        // Quotes, a backslash and non-ASCII survive the batch's JSON encoding.
        resource: "lib/app:\"1\"\\é".to_owned(),
        username: "ci".to_owned(),
        client_ip: "192.0.2.1".to_owned(),
    };
    let batch = vec![("lib".to_owned(), pull.clone()); 3];
    db.record_activity(&PullStats::default(), &batch)
        .await
        .unwrap();
    check(&db, left + 4).await;
    let (newest, _) = db
        .list_audit_entries(&AuditFilter::default(), &[], window(0, 3))
        .await
        .unwrap();
    for entry in &newest {
        let got = (
            entry.project_id,
            entry.resource.as_str(),
            entry.client_ip.as_str(),
        );
        assert_eq!(got, (Some(lib), pull.resource.as_str(), "192.0.2.1"));
    }
    db.compact_audit_counts().await.unwrap();
    check(&db, left + 4).await;

    // The whole-log listing does read the counters: with every second over-counted by
    // one, pages no longer match the records.
    raw_sql(&url, "UPDATE audit_log_seconds SET n = n + 1")
        .await
        .unwrap();
    let (whole, _) = db
        .list_audit_entries(&everything_filtered, &[], ALL)
        .await
        .unwrap();
    let mut moved = 0;
    for offset in 0..whole.len() {
        let (page, _) = db
            .list_audit_entries(&AuditFilter::default(), &[], window(offset as u64, 1))
            .await
            .unwrap();
        moved += usize::from(page[..] != whole[offset..=offset]);
    }
    assert!(moved > 0, "no page depends on the per-second counts");
}

async fn logins_are_audited(url: String) {
    let db = open(&url).await;
    db.record_login("alice", "192.0.2.7", true).await.unwrap();
    db.record_login("alice", "192.0.2.8", false).await.unwrap();
    let filter = AuditFilter {
        resource_type: Some(TextMatch::Exact("user".into())),
        ..AuditFilter::default()
    };
    let (entries, total) = db.list_audit_entries(&filter, &[], ALL).await.unwrap();
    assert_eq!(total, 2);
    let seen: Vec<(&str, &str, &str, Option<i64>)> = entries
        .iter()
        .map(|e| {
            (
                e.operation.as_str(),
                e.username.as_str(),
                e.client_ip.as_str(),
                e.project_id,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("login_failed", "alice", "192.0.2.8", None),
            ("login", "alice", "192.0.2.7", None)
        ]
    );
}

// ---- statistics ---------------------------------------------------------------------

async fn blob_bytes_count_each_blob_once(url: String) {
    let db = open(&url).await;
    assert_eq!(db.total_blob_bytes().await.unwrap(), 0);
    let a: RepoName = "lib/a".parse().unwrap();
    let b: RepoName = "lib/b".parse().unwrap();
    let one = Digest::of(b"one");
    let two = Digest::of(b"two!");
    db.commit_blob(&a, &one, 3, None).await.unwrap();
    db.commit_blob(&b, &one, 3, None).await.unwrap();
    db.commit_blob(&b, &two, 4, None).await.unwrap();
    assert_eq!(db.total_blob_bytes().await.unwrap(), 7);
}
