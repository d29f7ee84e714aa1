-- Ids that are never reused. Without AUTOINCREMENT, SQLite hands a new row the largest
-- existing id plus one, so deleting the newest project and creating another gives the
-- new one the old id: its admins would see the old project's audit entries, and clients
-- holding the old id would reach the new project. Postgres identity columns never
-- reuse values; see ../postgres/0003_stable_ids.sql.
--
-- SQLite cannot add AUTOINCREMENT to a table, so projects and the tables pointing at it
-- are rebuilt with identical columns. The migration runs inside a transaction, where
-- foreign keys cannot be switched off, so the order matters: the children are copied
-- to new tables that already reference the new projects table, and dropped before the
-- old projects table is, so dropping it cascades to nothing. Renaming the new tables
-- afterwards also renames the references to them.

CREATE TABLE projects_v3 (
    project_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    owner_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO projects_v3 (project_id, name, owner_id, created_at, updated_at)
    SELECT project_id, name, owner_id, created_at, updated_at FROM projects;

CREATE TABLE project_metadata_v3 (
    project_id INTEGER NOT NULL REFERENCES projects_v3 (project_id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, name)
);
INSERT INTO project_metadata_v3 (project_id, name, value, created_at, updated_at)
    SELECT project_id, name, value, created_at, updated_at FROM project_metadata;

CREATE TABLE project_members_v3 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects_v3 (project_id) ON DELETE CASCADE,
    entity_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    entity_type TEXT NOT NULL DEFAULT 'u' CHECK (entity_type IN ('u')),
    role        INTEGER NOT NULL CHECK (role BETWEEN 1 AND 5),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (project_id, entity_id, entity_type)
);
INSERT INTO project_members_v3 (id, project_id, entity_id, entity_type, role, created_at, updated_at)
    SELECT id, project_id, entity_id, entity_type, role, created_at, updated_at FROM project_members;

CREATE TABLE robots_v3 (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    secret_hash  TEXT NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('project', 'system')),
    project_id   INTEGER REFERENCES projects_v3 (project_id) ON DELETE CASCADE,
    duration     INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    creator_type TEXT NOT NULL DEFAULT 'local',
    creator_ref  INTEGER NOT NULL DEFAULT 0,
    permissions  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
INSERT INTO robots_v3 (id, name, description, secret_hash, level, project_id, duration,
                       expires_at, disabled, creator_type, creator_ref, permissions,
                       created_at, updated_at)
    SELECT id, name, description, secret_hash, level, project_id, duration,
           expires_at, disabled, creator_type, creator_ref, permissions,
           created_at, updated_at FROM robots;

DROP TABLE robots;
DROP TABLE project_members;
DROP TABLE project_metadata;
DROP TABLE projects;

ALTER TABLE projects_v3 RENAME TO projects;
ALTER TABLE project_metadata_v3 RENAME TO project_metadata;
ALTER TABLE project_members_v3 RENAME TO project_members;
ALTER TABLE robots_v3 RENAME TO robots;

CREATE INDEX project_members_by_user ON project_members (entity_id);
CREATE INDEX robots_by_project ON robots (project_id);
