-- How many of an import's processed inputs created a record and how many changed one; the
-- rest of processed_count found the record already as given (a "nothing changed" warning).
ALTER TABLE imports
    ADD COLUMN created_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN updated_count bigint NOT NULL DEFAULT 0;
