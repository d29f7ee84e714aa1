-- A page of the audit log deep in its default order (newest first) was an OFFSET walk
-- over every record before it. These two tables count the records per second of op_time
-- and per block of 4,096 seconds (op_time >> 12), kept by triggers in the same
-- transaction as the records, so a page at offset k sums counts down to the second
-- holding position k and walks the index only within that second
-- (Database::list_audit_entries). As in audit_log_counts, SQLite has one writer at a
-- time and keeps everything in slot 0; the slot column is there for Postgres.
CREATE TABLE audit_log_seconds (
    op_time INTEGER NOT NULL,
    slot    INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (op_time, slot)
);

CREATE TABLE audit_log_blocks (
    block INTEGER NOT NULL,
    slot  INTEGER NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (block, slot)
);

CREATE TRIGGER audit_log_positioned_insert AFTER INSERT ON audit_log BEGIN
    INSERT INTO audit_log_seconds (op_time, slot, n) VALUES (NEW.op_time, 0, 1)
    ON CONFLICT (op_time, slot) DO UPDATE SET n = n + 1;
    INSERT INTO audit_log_blocks (block, slot, n) VALUES (NEW.op_time >> 12, 0, 1)
    ON CONFLICT (block, slot) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER audit_log_positioned_delete AFTER DELETE ON audit_log BEGIN
    INSERT INTO audit_log_seconds (op_time, slot, n) VALUES (OLD.op_time, 0, -1)
    ON CONFLICT (op_time, slot) DO UPDATE SET n = n - 1;
    INSERT INTO audit_log_blocks (block, slot, n) VALUES (OLD.op_time >> 12, 0, -1)
    ON CONFLICT (block, slot) DO UPDATE SET n = n - 1;
END;

INSERT INTO audit_log_seconds (op_time, slot, n)
SELECT op_time, 0, COUNT(*) FROM audit_log GROUP BY 1;
INSERT INTO audit_log_blocks (block, slot, n)
SELECT op_time >> 12, 0, COUNT(*) FROM audit_log GROUP BY 1;
