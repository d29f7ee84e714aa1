-- Ids that are never reused. Postgres identity columns already guarantee it; the SQLite
-- dialect rebuilds its tables with AUTOINCREMENT (see ../sqlite/0003_stable_ids.sql).
-- Kept so both dialects share one list of migration versions.
SELECT 1;
