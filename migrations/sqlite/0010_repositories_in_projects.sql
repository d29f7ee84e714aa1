-- The listing of all repositories pages by id (the default order) with OFFSET; this
-- index holds exactly the listed repositories (those in a project), so the walk over the
-- skipped ones reads index entries alone. Same index as Postgres' 0010.
CREATE INDEX repositories_in_projects ON repositories (id) WHERE project_id IS NOT NULL;
