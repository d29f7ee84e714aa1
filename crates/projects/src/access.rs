//! `rbac::AccessDirectory` on the database: the lookups behind every permission check
//! (token requests, `/v2`, the admin API). Each is one query on a unique index.

use async_trait::async_trait;
use rbac::{
    AccessDirectory, DirectoryError, ProjectAccess, ProjectRole, RobotAccount, RobotLevel,
    RobotPermission,
};

use crate::db::{Database, with_reader};
use crate::error::DbError;

/// A project with its `public` flag (Harbor keeps it as metadata; absent means private).
const PROJECT_SQL: &str = "SELECT p.project_id, p.name, p.created_at, \
     COALESCE((SELECT m.value FROM project_metadata m \
               WHERE m.project_id = p.project_id AND m.name = 'public'), 'false') AS public \
     FROM projects p WHERE p.name = $1";

/// Only user members exist today (`entity_type` 'u'); groups would be another type.
const MEMBER_SQL: &str = "SELECT role FROM project_members \
     WHERE project_id = $1 AND entity_id = $2 AND entity_type = 'u'";

/// A robot with the name of the project it belongs to (project robots only).
const ROBOT_SQL: &str = "SELECT r.id, r.name, r.level, r.disabled, r.expires_at, \
     r.permissions, r.secret_hash, p.name AS project_name \
     FROM robots r LEFT JOIN projects p ON p.project_id = r.project_id \
     WHERE r.name = $1";

#[derive(sqlx::FromRow)]
struct ProjectRow {
    project_id: i64,
    name: String,
    created_at: i64,
    public: String,
}

#[derive(sqlx::FromRow)]
struct RobotRow {
    id: i64,
    name: String,
    level: String,
    disabled: bool,
    expires_at: i64,
    permissions: String,
    secret_hash: String,
    project_name: Option<String>,
}

#[async_trait]
impl AccessDirectory for Database {
    async fn project(&self, name: &str) -> Result<Option<ProjectAccess>, DirectoryError> {
        let row = find_project(self, name).await.map_err(directory_error)?;
        Ok(row.map(|r| ProjectAccess {
            id: r.project_id,
            name: r.name,
            created_at: r.created_at,
            public: r.public == "true",
        }))
    }

    async fn member_role(
        &self,
        project_id: i64,
        user_id: i64,
    ) -> Result<Option<ProjectRole>, DirectoryError> {
        let role = find_role(self, project_id, user_id)
            .await
            .map_err(directory_error)?;
        match role {
            None => Ok(None),
            // The schema only admits 1..=5, so anything else is a corrupt row.
            Some(id) => ProjectRole::from_id(id).map(Some).ok_or_else(|| {
                DirectoryError::Failed(format!("member role {id} is not a Harbor role"))
            }),
        }
    }

    async fn robot(&self, name: &str) -> Result<Option<(RobotAccount, String)>, DirectoryError> {
        let row = find_robot(self, name).await.map_err(directory_error)?;
        row.map(decode_robot).transpose()
    }
}

async fn find_project(db: &Database, name: &str) -> Result<Option<ProjectRow>, DbError> {
    Ok(with_reader!(db, pool => {
        sqlx::query_as::<_, ProjectRow>(PROJECT_SQL)
            .bind(name)
            .fetch_optional(pool)
            .await?
    }))
}

async fn find_role(db: &Database, project_id: i64, user_id: i64) -> Result<Option<i64>, DbError> {
    Ok(with_reader!(db, pool => {
        sqlx::query_scalar::<_, i64>(MEMBER_SQL)
            .bind(project_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?
    }))
}

async fn find_robot(db: &Database, name: &str) -> Result<Option<RobotRow>, DbError> {
    Ok(with_reader!(db, pool => {
        sqlx::query_as::<_, RobotRow>(ROBOT_SQL)
            .bind(name)
            .fetch_optional(pool)
            .await?
    }))
}

fn decode_robot(row: RobotRow) -> Result<(RobotAccount, String), DirectoryError> {
    let corrupt = |what: String| DirectoryError::Failed(format!("robot {}: {what}", row.name));
    let level = match row.level.as_str() {
        "project" => RobotLevel::Project,
        "system" => RobotLevel::System,
        other => return Err(corrupt(format!("unknown level {other:?}"))),
    };
    let mut permissions: Vec<RobotPermission> = serde_json::from_str(&row.permissions)
        .map_err(|e| corrupt(format!("permissions are not valid JSON: {e}")))?;
    if level == RobotLevel::Project {
        // A project robot acts in its own project only, whatever its stored permissions
        // say: they name projects by name, the robot belongs to one by id, and only the
        // id survives a rename or a delete-and-recreate.
        match &row.project_name {
            Some(own) => permissions.retain(|p| &p.namespace == own),
            None => permissions.clear(),
        }
    }
    let robot = RobotAccount {
        id: row.id,
        name: row.name,
        level,
        disabled: row.disabled,
        expires_at: row.expires_at,
        permissions,
    };
    Ok((robot, row.secret_hash))
}

/// Keeps "try again later" apart from everything else, so `/v2` can answer 503 rather
/// than 500 while the database is down.
fn directory_error(err: DbError) -> DirectoryError {
    if err.is_unavailable() {
        DirectoryError::Unavailable(err.to_string())
    } else {
        DirectoryError::Failed(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::with_writer;

    const SEED: &[&str] = &[
        "INSERT INTO users (username, password_hash, is_admin, created_at, updated_at) \
         VALUES ('dev', 'x', FALSE, 0, 0)",
        "INSERT INTO projects (name, owner_id, created_at, updated_at) \
         VALUES ('lib', NULL, 111, 111), ('open', NULL, 222, 222)",
        "INSERT INTO project_metadata (project_id, name, value, created_at, updated_at) \
         SELECT project_id, 'public', CASE WHEN name = 'open' THEN 'true' ELSE 'false' END, 0, 0 \
         FROM projects",
        "INSERT INTO project_members (project_id, entity_id, entity_type, role, created_at, updated_at) \
         SELECT p.project_id, u.id, 'u', 2, 0, 0 FROM projects p, users u \
         WHERE p.name = 'lib' AND u.username = 'dev'",
        r#"INSERT INTO robots (name, secret_hash, level, project_id, duration, expires_at, disabled, permissions, created_at, updated_at)
           SELECT 'robot$lib+ci', 'abc', 'project', project_id, -1, -1, FALSE,
                  '[{"kind":"project","namespace":"lib","access":[{"resource":"repository","action":"pull"}]},
                    {"kind":"project","namespace":"open","access":[{"resource":"repository","action":"push"}]}]', 0, 0
           FROM projects WHERE name = 'lib'"#,
        r#"INSERT INTO robots (name, secret_hash, level, project_id, duration, expires_at, disabled, permissions, created_at, updated_at)
           VALUES ('robot$all', 'def', 'system', NULL, 30, 999, TRUE,
                   '[{"kind":"project","namespace":"*","access":[{"resource":"repository","action":"pull","effect":"allow"}]}]', 0, 0),
                  ('robot$bad', 'ghi', 'system', NULL, -1, -1, FALSE, 'not json', 0, 0)"#,
    ];

    async fn execute(db: &Database, sql: &str) {
        with_writer!(db, pool => {
            sqlx::query(sql).execute(pool).await.unwrap();
        });
    }

    async fn seeded(url: &str) -> Database {
        let db = Database::connect(url).await.unwrap();
        db.migrate().await.unwrap();
        for sql in SEED {
            execute(&db, sql).await;
        }
        db
    }

    async fn user_id(db: &Database, name: &str) -> i64 {
        with_reader!(db, pool => {
            sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
                .bind(name)
                .fetch_one(pool)
                .await
                .unwrap()
        })
    }

    /// The whole contract of the directory, on one backend.
    async fn lookups(url: &str) {
        let db = seeded(url).await;
        let lib = db.project("lib").await.unwrap().unwrap();
        assert_eq!(
            (lib.name.as_str(), lib.public, lib.created_at),
            ("lib", false, 111)
        );
        let open = db.project("open").await.unwrap().unwrap();
        assert!(open.public);
        assert_ne!(open.id, lib.id);
        assert_eq!(db.project("nope").await.unwrap(), None);
        assert_eq!(db.project("LIB").await.unwrap(), None);

        let dev = user_id(&db, "dev").await;
        assert_eq!(
            db.member_role(lib.id, dev).await.unwrap(),
            Some(ProjectRole::Developer)
        );
        assert_eq!(db.member_role(open.id, dev).await.unwrap(), None);

        let (ci, hash) = db.robot("robot$lib+ci").await.unwrap().unwrap();
        assert_eq!(hash, "abc");
        assert_eq!(
            (ci.level, ci.disabled, ci.expires_at),
            (RobotLevel::Project, false, -1)
        );
        // The entry for another project is dropped: project robots stay in their project.
        assert_eq!(ci.permissions.len(), 1);
        assert_eq!(ci.permissions[0].namespace, "lib");

        let (all, _) = db.robot("robot$all").await.unwrap().unwrap();
        assert_eq!(
            (all.level, all.disabled, all.expires_at),
            (RobotLevel::System, true, 999)
        );
        assert_eq!(all.permissions[0].namespace, "*");
        assert_eq!(
            all.permissions[0].access[0].effect.as_deref(),
            Some("allow")
        );

        assert!(db.robot("robot$nobody").await.unwrap().is_none());
        assert!(matches!(
            db.robot("robot$bad").await,
            Err(DirectoryError::Failed(_))
        ));

        // Without `public` metadata a project is private.
        execute(&db, "DELETE FROM project_metadata WHERE name = 'public'").await;
        assert!(!db.project("open").await.unwrap().unwrap().public);

        // A deleted project takes its robots along (and is gone for lookups).
        execute(&db, "DELETE FROM projects WHERE name = 'lib'").await;
        assert_eq!(db.project("lib").await.unwrap(), None);
        assert!(db.robot("robot$lib+ci").await.unwrap().is_none());

        db.close().await;
        assert!(matches!(
            db.project("open").await,
            Err(DirectoryError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn sqlite_lookups() {
        let dir = tempfile::tempdir().unwrap();
        lookups(&format!("sqlite:{}", dir.path().join("berth.db").display())).await;
    }

    /// Runs when `BERTH_TEST_DATABASE_URL` names a Postgres server (see
    /// `tests/services/pg-up.sh`), in a database of its own.
    #[tokio::test]
    async fn postgres_lookups() {
        use sqlx::{Connection, Executor, PgConnection};
        let Ok(admin_url) = std::env::var("BERTH_TEST_DATABASE_URL") else {
            eprintln!("BERTH_TEST_DATABASE_URL is not set; Postgres directory lookups not run");
            return;
        };
        let name = format!("berth_access_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        lookups(url.as_str()).await;
        admin
            .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
            .await
            .unwrap();
    }
}
