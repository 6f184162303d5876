-- redscribe schema, version 7: every word of a transcript, with its times.
--
-- One row per word, loaded in the same transaction as its recording's row and replaced with it. Times are seconds
-- from the start of the recording (of the channel, for a call heard one channel at a time); word_index is the
-- word's place in its segment, so (id, segment_index, word_index) reads the transcript in order. A word is at
-- most WORD_MAX_BYTES (crates/core/src/record.rs): a longer one (a run of characters the model wrote without a
-- space) is cut at a character boundary.

CREATE TABLE IF NOT EXISTS transcription_words (
    id               VARCHAR(50)      NOT NULL,
    object_version   VARCHAR(1024),
    channel          INTEGER          NOT NULL,  -- 0-based; 0 for mono or a mix of all channels
    segment_index    INTEGER          NOT NULL,  -- the segment it belongs to (transcription_segments)
    word_index       INTEGER          NOT NULL,  -- its place in the segment, from 0
    start_s          DOUBLE PRECISION NOT NULL,
    end_s            DOUBLE PRECISION NOT NULL,
    word             VARCHAR(256)     NOT NULL,  -- as written, with its punctuation
    probability      DOUBLE PRECISION,           -- the model's, the mean over the word's tokens
    processed_at     TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (id, segment_index, word_index)
)
DISTSTYLE KEY
DISTKEY (id)
SORTKEY (id, segment_index, word_index);
