-- How many repositories each project holds, kept beside the repositories by triggers in
-- the same transaction, so a page of projects reads one small sum per project for its
-- repo_count (instead of counting every repository of every project on the page) and the
-- listing of all repositories totals a few hundred rows instead of the whole table.
--
-- Like audit_log_counts (0006), each backend adds to its own row (slot = its process id),
-- so two transactions creating repositories never wait for each other's counter row;
-- slot 0 holds what Database::compact_audit_counts has folded in. A repository counts
-- for the project in its project_id (0007): set on insert, changed when a new project
-- takes repositories already under its name, cleared when its project is deleted.
CREATE TABLE project_repository_counts (
    project_id BIGINT NOT NULL,
    slot       INTEGER NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (project_id, slot)
);

CREATE FUNCTION repositories_counted_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_repository_counts (project_id, slot, n)
    SELECT project_id, pg_backend_pid(), COUNT(*) FROM inserted
    WHERE project_id IS NOT NULL GROUP BY 1 ORDER BY 1
    ON CONFLICT (project_id, slot) DO UPDATE SET n = project_repository_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION repositories_counted_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_repository_counts (project_id, slot, n)
    SELECT project_id, pg_backend_pid(), -COUNT(*) FROM deleted
    WHERE project_id IS NOT NULL GROUP BY 1 ORDER BY 1
    ON CONFLICT (project_id, slot) DO UPDATE SET n = project_repository_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- Row-level: a repository changes project rarely (a new project adopting it, its project
-- deleted), and only a trigger without transition tables may name the column, so the
-- far more frequent updates of pull counts and push times do not run it.
CREATE FUNCTION repository_changed_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_repository_counts (project_id, slot, n)
    SELECT project_id, pg_backend_pid(), d FROM (
        SELECT OLD.project_id AS project_id, -1 AS d
        UNION ALL SELECT NEW.project_id, 1) c
    WHERE project_id IS NOT NULL ORDER BY 1
    ON CONFLICT (project_id, slot) DO UPDATE SET n = project_repository_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- Writers wait until this migration commits, so the backfill and the triggers see the
-- same repositories.
LOCK TABLE repositories IN SHARE MODE;

CREATE TRIGGER repositories_counted_insert AFTER INSERT ON repositories
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION repositories_counted_insert();
CREATE TRIGGER repositories_counted_delete AFTER DELETE ON repositories
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION repositories_counted_delete();
CREATE TRIGGER repository_counted_move AFTER UPDATE OF project_id ON repositories
    FOR EACH ROW WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id)
    EXECUTE FUNCTION repository_changed_project();

INSERT INTO project_repository_counts (project_id, slot, n)
SELECT project_id, 0, COUNT(*) FROM repositories WHERE project_id IS NOT NULL GROUP BY 1;
