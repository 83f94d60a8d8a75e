-- The field delimiter of a CSV import's inputs: ',' (the default), ';' or a tab. NULL for a
-- JSON import, and for a CSV import created before this column (read as ',').
ALTER TABLE imports
    ADD COLUMN csv_delimiter text
        CONSTRAINT imports_csv_delimiter_check CHECK (csv_delimiter IN (',', ';', E'\t'));
