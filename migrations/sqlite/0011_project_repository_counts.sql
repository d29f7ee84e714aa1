-- How many repositories each project holds, kept by triggers in the same transaction, so
-- a page of projects reads one small row per project for its repo_count and the listing
-- of all repositories totals them instead of counting the table. As in
-- audit_log_counts, SQLite has one writer at a time and keeps every count in slot 0.
-- A new repository gets its project_id from 0007's trigger, an UPDATE right after the
-- INSERT, so it is counted by the update trigger here.
CREATE TABLE project_repository_counts (
    project_id INTEGER NOT NULL,
    slot       INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (project_id, slot)
);

CREATE TRIGGER repositories_counted_insert AFTER INSERT ON repositories
WHEN NEW.project_id IS NOT NULL BEGIN
    INSERT INTO project_repository_counts (project_id, slot, n) VALUES (NEW.project_id, 0, 1)
    ON CONFLICT (project_id, slot) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER repositories_counted_delete AFTER DELETE ON repositories
WHEN OLD.project_id IS NOT NULL BEGIN
    INSERT INTO project_repository_counts (project_id, slot, n) VALUES (OLD.project_id, 0, -1)
    ON CONFLICT (project_id, slot) DO UPDATE SET n = n - 1;
END;

CREATE TRIGGER repository_counted_move AFTER UPDATE OF project_id ON repositories
WHEN OLD.project_id IS NOT NEW.project_id BEGIN
    INSERT INTO project_repository_counts (project_id, slot, n)
    SELECT OLD.project_id, 0, -1 WHERE OLD.project_id IS NOT NULL
    ON CONFLICT (project_id, slot) DO UPDATE SET n = n - 1;
    INSERT INTO project_repository_counts (project_id, slot, n)
    SELECT NEW.project_id, 0, 1 WHERE NEW.project_id IS NOT NULL
    ON CONFLICT (project_id, slot) DO UPDATE SET n = n + 1;
END;

INSERT INTO project_repository_counts (project_id, slot, n)
SELECT project_id, 0, COUNT(*) FROM repositories WHERE project_id IS NOT NULL GROUP BY 1;
