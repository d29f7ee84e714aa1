-- The audit listing's total (X-Total-Count) was a COUNT(*) over the whole log. This table
-- keeps the count per project (project_id 0: records without a project), maintained by
-- triggers in the same transaction as the records, so the total is exact and cheap.
-- SQLite has one writer at a time, so every count lives in slot 0; the slot column is
-- there for Postgres, where each backend process adds to a row of its own.
CREATE TABLE audit_log_counts (
    project_id INTEGER NOT NULL,
    slot       INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (project_id, slot)
);

CREATE TRIGGER audit_log_counted_insert AFTER INSERT ON audit_log BEGIN
    INSERT INTO audit_log_counts (project_id, slot, n) VALUES (COALESCE(NEW.project_id, 0), 0, 1)
    ON CONFLICT (project_id, slot) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER audit_log_counted_delete AFTER DELETE ON audit_log BEGIN
    INSERT INTO audit_log_counts (project_id, slot, n) VALUES (COALESCE(OLD.project_id, 0), 0, -1)
    ON CONFLICT (project_id, slot) DO UPDATE SET n = n - 1;
END;

-- Audit records are a history: nothing changes one once written (and a changed
-- project_id would also leave the counts wrong).
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit records cannot be changed');
END;

INSERT INTO audit_log_counts (project_id, slot, n)
SELECT COALESCE(project_id, 0), 0, COUNT(*) FROM audit_log GROUP BY 1;
