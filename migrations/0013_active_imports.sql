-- How many imports of each tenant (organization and mode) are pending or in progress, kept
-- by a trigger on every write of `imports`, so a create checks the active-imports limit by
-- reading one row (locked by its own increment until it commits) instead of taking a tenant
-- lock and counting the tenant's imports.
CREATE TABLE active_imports (
    organization_id text NOT NULL,
    mode text NOT NULL,
    count bigint NOT NULL CHECK (count >= 0),
    PRIMARY KEY (organization_id, mode)
);

CREATE FUNCTION imports_count_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ('pending', 'in_progress') THEN
        UPDATE active_imports SET count = count - 1
         WHERE organization_id = OLD.organization_id AND mode = OLD.mode;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ('pending', 'in_progress') THEN
        INSERT INTO active_imports (organization_id, mode, count)
             VALUES (NEW.organization_id, NEW.mode, 1)
        ON CONFLICT (organization_id, mode) DO UPDATE SET count = active_imports.count + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER imports_count_active_insert AFTER INSERT ON imports
    FOR EACH ROW EXECUTE FUNCTION imports_count_active();
-- Only a change between active and not (or of tenant) moves a count: the worker's many
-- updates of a running import's counts do not fire it.
CREATE TRIGGER imports_count_active_update AFTER UPDATE ON imports
    FOR EACH ROW
    WHEN ((OLD.status IN ('pending', 'in_progress')) IS DISTINCT FROM
              (NEW.status IN ('pending', 'in_progress'))
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id
          OR OLD.mode IS DISTINCT FROM NEW.mode)
    EXECUTE FUNCTION imports_count_active();
CREATE TRIGGER imports_count_active_delete AFTER DELETE ON imports
    FOR EACH ROW EXECUTE FUNCTION imports_count_active();

-- The triggers above lock `imports` against writes until this migration commits, so the
-- counts read here stay true.
INSERT INTO active_imports (organization_id, mode, count)
SELECT organization_id, mode, count(*) FROM imports
 WHERE status IN ('pending', 'in_progress')
 GROUP BY organization_id, mode;
