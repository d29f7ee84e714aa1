-- Berth metadata schema, SQLite dialect. Keep in step with ../postgres/0001_initial.sql:
-- same tables, columns and constraints; only the types differ.
-- Timestamps are unix seconds. Text comparisons use SQLite's default BINARY collation,
-- i.e. byte order, which is what the tag and catalog listings promise.

CREATE TABLE repositories (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- Every verified blob, once. Which repository may serve it is repository_blobs.
CREATE TABLE blobs (
    digest      TEXT    PRIMARY KEY,
    size        BIGINT  NOT NULL CHECK (size >= 0),
    created_at  BIGINT  NOT NULL
);

-- The unit of access and of cross-repository mount. A blob row cannot be deleted while
-- a repository still links it (no cascade on purpose: garbage collection must unlink first).
CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL REFERENCES blobs (digest),
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

CREATE TABLE manifests (
    id             INTEGER PRIMARY KEY,
    repository_id  INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    artifact_type  TEXT,
    subject_digest TEXT,
    config_digest  TEXT,
    annotations    TEXT,
    content        BLOB    NOT NULL,
    size           BIGINT  NOT NULL CHECK (size >= 0),
    created_at     BIGINT  NOT NULL,
    UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject_digest);

-- What a manifest points at: layers and config ('blob'), or an index's children ('manifest').
CREATE TABLE manifest_references (
    manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('blob', 'manifest')),
    digest      TEXT    NOT NULL,
    PRIMARY KEY (manifest_id, kind, digest)
);
CREATE INDEX manifest_references_by_digest ON manifest_references (digest);

-- Deleting a manifest deletes the tags pointing at it (cascade on manifest_id).
CREATE TABLE tags (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    manifest_id   INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_by_manifest ON tags (manifest_id);

-- Upload sessions live here, not in a process, so any replica can continue one.
-- parts: JSON array of {"id": "...", "size": n} in upload order.
CREATE TABLE uploads (
    id            TEXT    PRIMARY KEY,
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    byte_offset   BIGINT  NOT NULL CHECK (byte_offset >= 0),
    hash_state    BLOB    NOT NULL,
    parts         TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX uploads_by_updated_at ON uploads (updated_at);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

-- Process-wide values every replica must agree on (e.g. the token signing key).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
