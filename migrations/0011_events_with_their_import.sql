-- Events go with their import: deleting an import deletes its events, as it deletes its
-- inputs and log entries. The events of imports deleted before this migration are removed
-- first, so that the reference holds.
DELETE FROM import_events e WHERE NOT EXISTS (SELECT 1 FROM imports i WHERE i.id = e.import_id);

ALTER TABLE import_events
    ADD CONSTRAINT import_events_import_id_fkey
        FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE CASCADE;
