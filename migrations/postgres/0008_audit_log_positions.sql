-- A page of the audit log deep in its default order (newest first) was an OFFSET walk:
-- the index entries of every record before the page, up to 250,000 of them at 500,000
-- records (about 12 ms each time, and it grows with the log). These two tables count the
-- records per second of op_time and per block of 4,096 seconds (op_time >> 12), kept by
-- triggers in the same transaction as the records. A page at offset k then sums block
-- counts newest first to the block holding position k, then second counts within that
-- block, and walks the index only within one second (Database::list_audit_entries).
--
-- Like audit_log_counts (0006), each backend adds to its own row (slot = its process
-- id), so writers never wait for each other's counter rows; slot 0 holds what
-- Database::compact_audit_counts has folded in.
CREATE TABLE audit_log_seconds (
    op_time BIGINT NOT NULL,
    slot    INTEGER NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (op_time, slot)
);

CREATE TABLE audit_log_blocks (
    block BIGINT NOT NULL,
    slot  INTEGER NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (block, slot)
);

CREATE FUNCTION audit_log_position_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log_seconds (op_time, slot, n)
    SELECT op_time, pg_backend_pid(), COUNT(*) FROM inserted
    GROUP BY 1 ORDER BY 1
    ON CONFLICT (op_time, slot) DO UPDATE SET n = audit_log_seconds.n + EXCLUDED.n;
    INSERT INTO audit_log_blocks (block, slot, n)
    SELECT op_time >> 12, pg_backend_pid(), COUNT(*) FROM inserted
    GROUP BY 1 ORDER BY 1
    ON CONFLICT (block, slot) DO UPDATE SET n = audit_log_blocks.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION audit_log_position_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log_seconds (op_time, slot, n)
    SELECT op_time, pg_backend_pid(), -COUNT(*) FROM deleted
    GROUP BY 1 ORDER BY 1
    ON CONFLICT (op_time, slot) DO UPDATE SET n = audit_log_seconds.n + EXCLUDED.n;
    INSERT INTO audit_log_blocks (block, slot, n)
    SELECT op_time >> 12, pg_backend_pid(), -COUNT(*) FROM deleted
    GROUP BY 1 ORDER BY 1
    ON CONFLICT (block, slot) DO UPDATE SET n = audit_log_blocks.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- Writers (other replicas still running the previous version) wait until this migration
-- commits, so the backfill below and the triggers see the same records. Readers go on.
LOCK TABLE audit_log IN SHARE MODE;

CREATE TRIGGER audit_log_positioned_insert AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_position_inserted();
CREATE TRIGGER audit_log_positioned_delete AFTER DELETE ON audit_log
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_position_deleted();

INSERT INTO audit_log_seconds (op_time, slot, n)
SELECT op_time, 0, COUNT(*) FROM audit_log GROUP BY 1;
INSERT INTO audit_log_blocks (block, slot, n)
SELECT op_time >> 12, 0, COUNT(*) FROM audit_log GROUP BY 1;
