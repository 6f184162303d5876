-- redscribe schema, version 1.
--
-- Column order is a contract: Parquet COPY maps columns by position, so the order here must match the Arrow
-- schemas in crates/core/src/schema.rs (a contract test parses this file and compares).
-- VARCHAR lengths are bytes of UTF-8. TEXT would silently become VARCHAR(256), so transcripts use VARCHAR(65535);
-- longer transcripts are cut at a character boundary and flagged in text_truncated, and the full text stays in
-- transcription_segments and in the JSON written to S3.
-- Redshift does not enforce PRIMARY KEY or UNIQUE; the loader de-duplicates and MERGEs on id.

CREATE TABLE IF NOT EXISTS transcription_results (
    id               VARCHAR(50)      NOT NULL,  -- deterministic from bucket/key
    text             VARCHAR(65535),             -- transcript; NULL when not transcribed
    "timestamp"      TIMESTAMP        NOT NULL,  -- when the row was produced, UTC (original column)
    bucket           VARCHAR(63)      NOT NULL,
    object_key       VARCHAR(1024)    NOT NULL,  -- decoded S3 key
    object_version   VARCHAR(1024),              -- S3 version id, when the bucket is versioned
    etag             VARCHAR(128),
    sequencer        VARCHAR(64),                -- orders events for the same key
    size_bytes       BIGINT,
    content_type     VARCHAR(255),
    container        VARCHAR(32),                -- sniffed from content: wav, flac, mp3, ogg, mp4, aiff, …
    codec            VARCHAR(32),                -- pcm_s16le, flac, mp3, vorbis, aac, …
    duration_s       DOUBLE PRECISION,
    sample_rate      INTEGER,
    channels         INTEGER,
    bit_rate         BIGINT,
    model            VARCHAR(128),
    language         VARCHAR(16),
    word_count       INTEGER,
    avg_logprob      DOUBLE PRECISION,
    no_speech_prob   DOUBLE PRECISION,
    text_truncated   BOOLEAN          NOT NULL,
    status           VARCHAR(16)      NOT NULL,  -- transcribed | metadata_only | failed
    error_code       VARCHAR(64),
    error_message    VARCHAR(1024),
    uploaded_at      TIMESTAMPTZ,
    processed_at     TIMESTAMPTZ      NOT NULL,
    loaded_at        TIMESTAMPTZ,                -- set by the loader's MERGE
    processing_ms    BIGINT,
    pipeline_version VARCHAR(32)      NOT NULL,
    PRIMARY KEY (id)
)
DISTSTYLE KEY
DISTKEY (id)
SORTKEY (processed_at);

CREATE TABLE IF NOT EXISTS transcription_segments (
    id               VARCHAR(50)      NOT NULL,
    object_version   VARCHAR(1024),
    segment_index    INTEGER          NOT NULL,
    start_s          DOUBLE PRECISION NOT NULL,
    end_s            DOUBLE PRECISION NOT NULL,
    text             VARCHAR(65535)   NOT NULL,
    avg_logprob      DOUBLE PRECISION,
    no_speech_prob   DOUBLE PRECISION,
    processed_at     TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (id, segment_index)
)
DISTSTYLE KEY
DISTKEY (id)
SORTKEY (id, segment_index);

CREATE TABLE IF NOT EXISTS load_audit (
    file_uri         VARCHAR(1024)    NOT NULL,  -- s3:// URI of one loaded file
    manifest_uri     VARCHAR(1024),
    table_name       VARCHAR(127)     NOT NULL,
    statement_id     VARCHAR(64),                -- Data API statement id
    rows_loaded      BIGINT,
    status           VARCHAR(16)      NOT NULL,  -- loaded | failed | quarantined
    error_message    VARCHAR(1024),
    loaded_at        TIMESTAMPTZ      NOT NULL
)
DISTSTYLE EVEN
SORTKEY (loaded_at);
