-- Multi-tenancy: projects, members, robots, audit log, pull statistics, user profile.
-- Postgres dialect; keep in step with ../sqlite/0002_tenancy.sql.

ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN realname TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN comment TEXT NOT NULL DEFAULT '';

-- A project owns every repository whose name starts with "<project name>/".
-- Repositories are matched by that prefix, not by a foreign key, so the /v2 write path
-- stays independent of projects; pushing into a missing project is refused by the
-- permission check before anything is written.
CREATE TABLE projects (
    project_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    owner_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Harbor's project metadata as key/value strings: public, auto_scan, severity, ...
CREATE TABLE project_metadata (
    project_id BIGINT NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, name)
);

-- Members are users (entity_type 'u'); role is Harbor's role id 1..5.
CREATE TABLE project_members (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  BIGINT NOT NULL REFERENCES projects (project_id) ON DELETE CASCADE,
    entity_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    entity_type TEXT NOT NULL DEFAULT 'u' CHECK (entity_type IN ('u')),
    role        BIGINT NOT NULL CHECK (role BETWEEN 1 AND 5),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (project_id, entity_id, entity_type)
);
CREATE INDEX project_members_by_user ON project_members (entity_id);

-- Robot accounts. name is the full login name (robot$<project>+<name> or robot$<name>).
-- secret_hash is a keyed hash of a high-entropy secret, never the secret.
-- permissions: JSON array of {kind, namespace, access:[{resource, action}]}.
CREATE TABLE robots (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT COLLATE "C" NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    secret_hash  TEXT NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('project', 'system')),
    project_id   BIGINT REFERENCES projects (project_id) ON DELETE CASCADE,
    duration     BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    creator_type TEXT NOT NULL DEFAULT 'local',
    creator_ref  BIGINT NOT NULL DEFAULT 0,
    permissions  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX robots_by_project ON robots (project_id);

-- Every push, pull, delete, login and admin change. project_id is kept as a plain value
-- (no foreign key) so the history survives the project's deletion.
CREATE TABLE audit_log (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    BIGINT,
    operation     TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource      TEXT NOT NULL,
    username      TEXT NOT NULL,
    client_ip     TEXT NOT NULL DEFAULT '',
    op_time       BIGINT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (op_time);
CREATE INDEX audit_log_by_project ON audit_log (project_id, op_time);

-- Repository description (Harbor's repository update) and pull statistics. Pull counts
-- are added in batches by a flusher, so concurrent pulls never fight over these rows.
ALTER TABLE repositories ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN pull_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN pull_time BIGINT;
ALTER TABLE manifests ADD COLUMN push_time BIGINT;
