-- The audit log is listed newest first with the id as tiebreak (op_time DESC, id DESC).
-- An index on op_time alone cannot give that order, so Postgres sorted the whole log
-- for a deep page (about 200 ms at 500,000 records); these end with the id.
CREATE INDEX audit_log_by_time_id ON audit_log (op_time, id);
DROP INDEX audit_log_by_time;
CREATE INDEX audit_log_by_project_time_id ON audit_log (project_id, op_time, id);
DROP INDEX audit_log_by_project;
