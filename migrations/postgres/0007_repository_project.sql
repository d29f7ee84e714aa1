-- Which project holds each repository, as a column. A project owns every repository whose
-- name starts with "<project name>/" (0002); the listings used to find that project by
-- cutting the name and matching it against every project, a hash join with a string
-- function per repository (about 12 ms for a page deep into 10,000 repositories), where
-- an integer join walks the page's order on an index (about 3 ms).
--
-- The database keeps the column, so the /v2 write path still knows nothing of projects:
-- a new repository takes the project its name places it in, and a new project takes the
-- repositories already under its name (none in practice: pushing into a missing project
-- is refused). Deleting a project leaves the column NULL, which is what "outside every
-- project" means (deleting a project that holds repositories is refused anyway; a push
-- racing that delete is the only way to get there). Names never change.
ALTER TABLE repositories
    ADD COLUMN project_id BIGINT REFERENCES projects (project_id) ON DELETE SET NULL;

UPDATE repositories r SET project_id = p.project_id
FROM projects p
WHERE strpos(r.name, '/') > 0 AND p.name = split_part(r.name, '/', 1);

CREATE INDEX repositories_by_project ON repositories (project_id);

CREATE FUNCTION repository_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.project_id := (SELECT p.project_id FROM projects p
                       WHERE strpos(NEW.name, '/') > 0 AND p.name = split_part(NEW.name, '/', 1));
    RETURN NEW;
END $$;

CREATE TRIGGER repository_in_project BEFORE INSERT OR UPDATE OF name ON repositories
FOR EACH ROW EXECUTE FUNCTION repository_project();

CREATE FUNCTION project_repositories() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories SET project_id = NEW.project_id
    WHERE name >= NEW.name || '/' AND name < NEW.name || '0' AND project_id IS NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER project_takes_its_repositories AFTER INSERT ON projects
FOR EACH ROW EXECUTE FUNCTION project_repositories();
