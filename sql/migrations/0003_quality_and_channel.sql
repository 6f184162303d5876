-- redscribe schema, version 3: the transcriber's quality signals on each result, and the channel each segment was
-- heard on (stereo calls are transcribed one channel at a time, one speaker per channel).
--
-- Redshift appends added columns at the end of the table, and the Arrow schemas in crates/core/src/schema.rs append
-- them in the same order (Parquet COPY maps columns by position). It adds one column per ALTER TABLE and has no
-- ADD COLUMN IF NOT EXISTS: the migration runs once, recorded in schema_migrations.

ALTER TABLE transcription_results ADD COLUMN compression_ratio DOUBLE PRECISION;  -- gzip ratio of the text; > 2.4 loops
ALTER TABLE transcription_results ADD COLUMN quality_flag VARCHAR(16);  -- ok | no_speech | repetition | low_confidence
ALTER TABLE transcription_segments ADD COLUMN channel INTEGER;  -- 0-based; 0 for mono or a mix of all channels
