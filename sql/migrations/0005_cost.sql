-- redscribe schema, version 5: what each recording cost to transcribe, and the daily cost by model.
--
-- cost_usd is the transcribe function's share for the recording, by the price table (crates/core/src/cost.rs):
-- its Lambda time at the function's memory, its invocation request, its S3 reads and writes and its queue
-- message. Appended at the end, as ALTER TABLE ADD COLUMN appends it, and in the same place in the Arrow schema
-- (crates/core/src/schema.rs): Parquet COPY maps columns by position.

ALTER TABLE transcription_results ADD COLUMN cost_usd DOUBLE PRECISION;

-- Per day and model: recordings, audio minutes transcribed, what they cost, and the cost of a minute of audio (all
-- the day's cost of that model over the minutes it transcribed). Rows that never reached a model (refused at the
-- header, not audio) count under 'none', with their cost and no minutes.
CREATE OR REPLACE VIEW transcription_cost_daily AS
SELECT
    CAST(processed_at AS DATE)                                            AS day,
    COALESCE(model, 'none')                                               AS model,
    COUNT(*)                                                              AS recordings,
    COALESCE(SUM(CASE WHEN status = 'transcribed' THEN duration_s END), 0) / 60.0 AS audio_minutes,
    COALESCE(SUM(cost_usd), 0)                                            AS cost_usd,
    SUM(cost_usd) / NULLIF(SUM(CASE WHEN status = 'transcribed' THEN duration_s END) / 60.0, 0)
                                                                          AS cost_per_audio_minute
FROM transcription_results
GROUP BY 1, 2;
