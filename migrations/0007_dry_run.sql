-- A dry run is processed in full (validation, relationships, constraint checks) but its
-- writes to the resource tables are rolled back: created_count and updated_count then say
-- what the import would do.
ALTER TABLE imports ADD COLUMN dry_run boolean NOT NULL DEFAULT false;
