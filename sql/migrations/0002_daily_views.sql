-- Daily aggregates for dashboards and ad-hoc questions.

CREATE OR REPLACE VIEW transcription_daily AS
SELECT
    CAST(processed_at AS DATE)                                 AS day,
    COUNT(*)                                                   AS recordings,
    SUM(CASE WHEN status = 'transcribed' THEN 1 ELSE 0 END)    AS transcribed,
    SUM(CASE WHEN status = 'metadata_only' THEN 1 ELSE 0 END)  AS metadata_only,
    SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END)         AS failed,
    COALESCE(SUM(duration_s), 0) / 3600.0                      AS audio_hours,
    COALESCE(SUM(size_bytes), 0)                               AS bytes,
    SUM(COALESCE(word_count, 0))                               AS words
FROM transcription_results
GROUP BY 1;

CREATE OR REPLACE VIEW transcription_failures_daily AS
SELECT
    CAST(processed_at AS DATE) AS day,
    error_code,
    COUNT(*)             AS recordings
FROM transcription_results
WHERE status = 'failed'
GROUP BY 1, 2;
