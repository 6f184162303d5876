-- redscribe schema, version 6: which bytes of a file were loaded.
--
-- A result file is named by its recording's id and version, so processing the same version again the same day
-- writes the same key with new bytes. load_audit kept only the URI, and the loader took the new file for one
-- already loaded: the table kept the old row while S3 held the new one. With the file's ETag, a file is settled
-- only as the bytes that were loaded (rows written before this column, NULL here, still settle by URI).

ALTER TABLE load_audit ADD COLUMN file_etag VARCHAR(64);
