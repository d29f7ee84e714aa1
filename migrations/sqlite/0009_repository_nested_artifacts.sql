-- Whether a repository may hold artifacts that are not counted on their own: children of
-- an image index in the same repository, or accessories (a manifest whose subject is in
-- the same repository). Until one of those is pushed, every manifest of the repository is
-- an artifact and its artifact count is a plain count of manifests, so the listings skip
-- probing each manifest for a referencing index or a subject. The flag only ever turns
-- on (conservative: the full check runs). SQLite has one writer at a time, so the
-- triggers run in place (Postgres defers them to commit, see its 0009).
ALTER TABLE repositories ADD COLUMN nested_artifacts INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER index_nests_in_repository AFTER INSERT ON manifest_references
WHEN NEW.kind = 'manifest' BEGIN
    UPDATE repositories SET nested_artifacts = 1
    WHERE id = (SELECT repository_id FROM manifests WHERE id = NEW.manifest_id)
      AND nested_artifacts = 0;
END;

CREATE TRIGGER accessory_nests_in_repository AFTER INSERT ON manifests
WHEN NEW.subject_digest IS NOT NULL BEGIN
    UPDATE repositories SET nested_artifacts = 1
    WHERE id = NEW.repository_id AND nested_artifacts = 0;
END;

CREATE TRIGGER accessory_nests_in_repository_on_update AFTER UPDATE OF subject_digest ON manifests
WHEN NEW.subject_digest IS NOT NULL BEGIN
    UPDATE repositories SET nested_artifacts = 1
    WHERE id = NEW.repository_id AND nested_artifacts = 0;
END;

UPDATE repositories SET nested_artifacts = 1
WHERE id IN (SELECT m.repository_id FROM manifest_references br
             JOIN manifests m ON m.id = br.manifest_id
             WHERE br.kind = 'manifest'
             UNION
             SELECT repository_id FROM manifests WHERE subject_digest IS NOT NULL);
