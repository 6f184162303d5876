-- redscribe schema, version 9: what a recording is about, so that its row joins to calls, agents and campaigns;
-- who spoke how long on a call; and which processing of its version a row is (reprocessing).
--
-- Every column is appended at the end, as ALTER TABLE ADD COLUMN appends it, and in the same place in the Arrow
-- schemas (crates/core/src/schema.rs): Parquet COPY maps columns by position. Result files written before this
-- migration still load: the loader copies them through a stage of their own column count (crates/core/src/load.rs).

-- The well-known attributes as typed columns: from the uploader's metadata, else an S3 tag, else the key pattern.
ALTER TABLE transcription_results ADD COLUMN recorded_at TIMESTAMPTZ;    -- when the call or meeting took place
ALTER TABLE transcription_results ADD COLUMN call_id VARCHAR(256);       -- the contact's id in its platform
ALTER TABLE transcription_results ADD COLUMN agent_id VARCHAR(256);
-- Talk time of a two-channel call whose channels are named (REDSCRIBE_CHANNEL_ROLES=agent,customer): seconds in
-- which that role's words were heard, and seconds in which no one's were.
ALTER TABLE transcription_results ADD COLUMN agent_talk_s DOUBLE PRECISION;
ALTER TABLE transcription_results ADD COLUMN customer_talk_s DOUBLE PRECISION;
ALTER TABLE transcription_results ADD COLUMN non_talk_s DOUBLE PRECISION;
-- Which processing of its version the row is: NULL (0) for the processing of its upload's event, else when the
-- reprocess that produced it started (Unix milliseconds). Of two processings of one version the later generation's
-- row is kept, so a reprocess replaces the row and a late delivery of the upload's event does not bring the old one
-- back; a new upload (a later sequencer) replaces any reprocess.
ALTER TABLE transcription_results ADD COLUMN generation BIGINT;

-- The role of the channel a segment was heard on (agent, customer, …); NULL when channels are not named.
ALTER TABLE transcription_segments ADD COLUMN speaker VARCHAR(64);

-- Every attribute of a recording: one row per name and source, loaded in the same transaction as its row and
-- replaced with it. source: 'key' (a named group of REDSCRIBE_KEY_PATTERN), 'metadata' (x-amz-meta-<name>, names
-- in lower case as S3 keeps them), 'tag' (an S3 object tag). Values longer than the column are cut at a character
-- boundary.
CREATE TABLE IF NOT EXISTS transcription_attributes (
    id               VARCHAR(50)      NOT NULL,
    object_version   VARCHAR(1024),
    name             VARCHAR(512)     NOT NULL,
    value            VARCHAR(1024)    NOT NULL,
    source           VARCHAR(16)      NOT NULL,  -- key | metadata | tag
    processed_at     TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (id, source, name)
)
DISTSTYLE KEY
DISTKEY (id)
SORTKEY (id, name);
