-- Which project holds each repository, as a column maintained by the database; see the
-- Postgres file for why. SQLite dialect; keep in step with ../postgres/0007.
ALTER TABLE repositories
    ADD COLUMN project_id INTEGER REFERENCES projects (project_id) ON DELETE SET NULL;

UPDATE repositories SET project_id = (
    SELECT p.project_id FROM projects p
    WHERE p.name = substr(repositories.name, 1, instr(repositories.name, '/') - 1))
WHERE instr(name, '/') > 0;

CREATE INDEX repositories_by_project ON repositories (project_id);

-- SQLite triggers cannot assign NEW, so the new row is updated once it is in.
CREATE TRIGGER repository_in_project AFTER INSERT ON repositories BEGIN
    UPDATE repositories SET project_id = (
        SELECT p.project_id FROM projects p
        WHERE instr(NEW.name, '/') > 0
          AND p.name = substr(NEW.name, 1, instr(NEW.name, '/') - 1))
    WHERE id = NEW.id;
END;

CREATE TRIGGER project_takes_its_repositories AFTER INSERT ON projects BEGIN
    UPDATE repositories SET project_id = NEW.project_id
    WHERE name >= NEW.name || '/' AND name < NEW.name || '0' AND project_id IS NULL;
END;
