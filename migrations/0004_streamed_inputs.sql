-- The API stores a create's inputs while it is still receiving them, before it has read the
-- attributes that may follow them in the document; the import row is written last, in the
-- same transaction. The reference from the chunks to their import is checked at commit.
ALTER TABLE import_inputs
    DROP CONSTRAINT import_inputs_import_id_fkey,
    ADD CONSTRAINT import_inputs_import_id_fkey
        FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE CASCADE
        DEFERRABLE INITIALLY DEFERRED;
