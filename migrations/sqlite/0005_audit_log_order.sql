-- Postgres' 0005 adds the id to the audit log's time indexes so they give the listing
-- order (op_time DESC, id DESC). SQLite's indexes already end with the rowid, which is
-- the id, so there is nothing to change here; the file keeps the two histories aligned.
SELECT 1;
