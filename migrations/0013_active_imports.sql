-- How many imports of each tenant (organization and mode) are pending or in progress, kept
-- by triggers on every write of `imports`, and the active-imports limit checked there: a
-- create sets `imports.max_active` for its transaction, and its commit fails with SQLSTATE
-- IM429 (the active count before it in DETAIL) when the tenant already has that many.
--
-- The triggers are deferred to the commit: the tenant's count row is then locked only from
-- the commit's start to its end, so concurrent creates of one tenant queue only for each
-- other's commits, not for their whole transactions, and the limit still holds exactly.
-- Deferred, they also fire in the order of the writes, so an import inserted and changed in
-- one transaction is counted right.
CREATE TABLE active_imports (
    organization_id text NOT NULL,
    mode text NOT NULL,
    count bigint NOT NULL CHECK (count >= 0),
    PRIMARY KEY (organization_id, mode)
);

CREATE FUNCTION imports_count_active() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    active bigint;
    max_active bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('pending', 'in_progress') THEN
        UPDATE active_imports SET count = count - 1
         WHERE organization_id = OLD.organization_id AND mode = OLD.mode;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('pending', 'in_progress') THEN
        INSERT INTO active_imports AS a (organization_id, mode, count)
             VALUES (NEW.organization_id, NEW.mode, 1)
        ON CONFLICT (organization_id, mode) DO UPDATE SET count = a.count + 1
        RETURNING a.count INTO active;
        max_active := nullif(current_setting('imports.max_active', true), '')::bigint;
        IF TG_OP = 'INSERT' AND active > max_active THEN
            RAISE EXCEPTION 'too many active imports'
                USING ERRCODE = 'IM429', DETAIL = (active - 1)::text;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER imports_count_active_insert AFTER INSERT ON imports
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION imports_count_active();
-- Only a change between active and not (or of tenant) moves a count: the worker's many
-- updates of a running import's counts do not fire it.
CREATE CONSTRAINT TRIGGER imports_count_active_update AFTER UPDATE ON imports
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN ((OLD.status IN ('pending', 'in_progress')) IS DISTINCT FROM
              (NEW.status IN ('pending', 'in_progress'))
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id
          OR OLD.mode IS DISTINCT FROM NEW.mode)
    EXECUTE FUNCTION imports_count_active();
CREATE CONSTRAINT TRIGGER imports_count_active_delete AFTER DELETE ON imports
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION imports_count_active();

-- The triggers above lock `imports` against writes until this migration commits, so the
-- counts read here stay true.
INSERT INTO active_imports (organization_id, mode, count)
SELECT organization_id, mode, count(*) FROM imports
 WHERE status IN ('pending', 'in_progress')
 GROUP BY organization_id, mode;
