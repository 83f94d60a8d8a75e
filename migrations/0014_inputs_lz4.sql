-- A create's inputs are compressed with lz4 instead of pglz, where the server was built with
-- it: pglz took about a third of a create's time on a 25 MB JSON file (0.50-0.59 s per POST
-- against 0.22-0.38 s with lz4), for chunks about 45% larger (a tenth of the text, not a
-- fifteenth). Chunks stored before keep their compression; both are read the same way.
-- A server without lz4 keeps pglz.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE import_inputs ALTER COLUMN data SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available on this server: inputs stay compressed with pglz';
END;
$$;
