-- The listing of all repositories pages by id (the default order) with OFFSET. Walking
-- the primary key read every skipped row from the table to check its project_id (about
-- 1.2 ms for a page 3,000 deep); this index holds exactly the listed repositories, so
-- the walk reads index entries alone and only the page's rows are fetched.
CREATE INDEX repositories_in_projects ON repositories (id) WHERE project_id IS NOT NULL;
