-- Whether a repository may hold artifacts that are not counted on their own: children of
-- an image index in the same repository, or accessories (a manifest whose subject is in
-- the same repository). Until one of those is pushed, every manifest of the repository is
-- an artifact and its artifact count is a plain count of manifests; the listings then
-- skip probing each manifest for a referencing index or a subject (about 35 us per
-- repository of ten manifests, most of the cost of a page of 100 repositories).
--
-- The flag only ever turns on (deleting the index later leaves it set, which is
-- conservative: the full check runs). The database sets it, so every writer does,
-- whatever its version. The triggers are deferred to commit: a manifest push already
-- updates its repository row last (updated_at, after its tags), and taking that row lock
-- earlier, at the reference insert, would order it before the tag locks of the same push
-- and could deadlock against a concurrent push of the same tag.
ALTER TABLE repositories ADD COLUMN nested_artifacts BOOLEAN NOT NULL DEFAULT FALSE;

CREATE FUNCTION repository_nests_by_reference() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories SET nested_artifacts = TRUE
    WHERE id = (SELECT repository_id FROM manifests WHERE id = NEW.manifest_id)
      AND NOT nested_artifacts;
    RETURN NULL;
END $$;

CREATE FUNCTION repository_nests_by_subject() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories SET nested_artifacts = TRUE
    WHERE id = NEW.repository_id AND NOT nested_artifacts;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER index_nests_in_repository
    AFTER INSERT ON manifest_references DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind = 'manifest')
    EXECUTE FUNCTION repository_nests_by_reference();

CREATE CONSTRAINT TRIGGER accessory_nests_in_repository
    AFTER INSERT OR UPDATE OF subject_digest ON manifests DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.subject_digest IS NOT NULL)
    EXECUTE FUNCTION repository_nests_by_subject();

-- Creating the triggers locked both tables against writes until this migration commits,
-- so the backfill sees every reference and subject there is.
UPDATE repositories SET nested_artifacts = TRUE
WHERE id IN (SELECT m.repository_id FROM manifest_references br
             JOIN manifests m ON m.id = br.manifest_id
             WHERE br.kind = 'manifest'
             UNION
             SELECT repository_id FROM manifests WHERE subject_digest IS NOT NULL);
