-- Multi-tenancy: projects, members, robots, audit log, pull statistics, user profile.
-- SQLite dialect; keep in step with ../postgres/0002_tenancy.sql.

ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN realname TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN comment TEXT NOT NULL DEFAULT '';

-- A project owns every repository whose name starts with "<project name>/" (see the
-- Postgres file for why this is a prefix rather than a foreign key).
CREATE TABLE projects (
    project_id INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    owner_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE project_metadata (
    project_id INTEGER NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE project_members (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    entity_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    entity_type TEXT NOT NULL DEFAULT 'u' CHECK (entity_type IN ('u')),
    role        INTEGER NOT NULL CHECK (role BETWEEN 1 AND 5),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (project_id, entity_id, entity_type)
);
CREATE INDEX project_members_by_user ON project_members (entity_id);

CREATE TABLE robots (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    secret_hash  TEXT NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('project', 'system')),
    project_id   INTEGER REFERENCES projects (project_id) ON DELETE CASCADE,
    duration     INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    creator_type TEXT NOT NULL DEFAULT 'local',
    creator_ref  INTEGER NOT NULL DEFAULT 0,
    permissions  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX robots_by_project ON robots (project_id);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER,
    operation     TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource      TEXT NOT NULL,
    username      TEXT NOT NULL,
    client_ip     TEXT NOT NULL DEFAULT '',
    op_time       INTEGER NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (op_time);
CREATE INDEX audit_log_by_project ON audit_log (project_id, op_time);

ALTER TABLE repositories ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN pull_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN pull_time INTEGER;
ALTER TABLE manifests ADD COLUMN push_time INTEGER;
