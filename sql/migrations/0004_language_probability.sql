-- redscribe schema, version 4: how sure language detection was, beside the language (multilingual models detect
-- the language of each recording; NULL where it was given or the model speaks English only).
--
-- Appended at the end of the table, as ALTER TABLE ADD COLUMN appends it, and in the same place in the Arrow
-- schema (crates/core/src/schema.rs): Parquet COPY maps columns by position.

ALTER TABLE transcription_results ADD COLUMN language_probability DOUBLE PRECISION;  -- 0..1
