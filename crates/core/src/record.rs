//! Typed rows of the warehouse tables and their conversion to and from Arrow record batches.

use std::sync::Arc;

use arrow_array::builder::TimestampMicrosecondBuilder;
use arrow_array::builder::{BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::TimestampMicrosecondArray;
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::ObjectVersion;
use crate::schema::{
    attributes_schema, load_audit_schema, results_schema, segments_schema, words_schema, RESULTS_TABLE,
};
use crate::{CoreError, ErrorCode};

/// Largest transcript stored in `transcription_results.text`: `VARCHAR(65535)`, counted in UTF-8 bytes.
pub const TEXT_MAX_BYTES: usize = 65535;
/// Largest `error_message`: `VARCHAR(1024)`.
pub const ERROR_MESSAGE_MAX_BYTES: usize = 1024;

/// Cuts `s` to at most `max_bytes` bytes of UTF-8 at a character boundary; the flag says whether it was cut.
pub fn truncate_utf8(s: &str, max_bytes: usize) -> (&str, bool) {
    if s.len() <= max_bytes {
        return (s, false);
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// Audio facts read from a recording's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioMetadata {
    /// Container sniffed from the content: `wav`, `aiff`, `flac`, `mp3`, `ogg`, `mp4`, `mkv`, `caf`.
    pub container: String,
    /// Codec short name: `pcm_s16le`, `pcm_mulaw`, `flac`, `mp3`, `vorbis`, `aac`, …
    pub codec: String,
    pub duration_s: f64,
    pub sample_rate: u32,
    pub channels: u16,
    /// Bits per second: exact for PCM, the average over the file otherwise.
    pub bit_rate: Option<u64>,
    pub size_bytes: u64,
}

/// `transcription_results.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Audio decoded and transcribed (an empty text means no speech was heard: silence, noise, music).
    Transcribed,
    /// Audio metadata only (transcription turned off).
    MetadataOnly,
    /// Rejected: see `error_code` and `error_message`.
    Failed,
    /// The recording was deleted: a tombstone that keeps only its identity and the deletion's sequencer, so that
    /// nothing older of it comes back (its segments, words and attributes went with its content).
    Erased,
}

impl Status {
    /// The stable spelling stored in the table.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Transcribed => "transcribed",
            Status::MetadataOnly => "metadata_only",
            Status::Failed => "failed",
            Status::Erased => "erased",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        [Status::Transcribed, Status::MetadataOnly, Status::Failed, Status::Erased]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One row of `transcription_results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub id: String,
    pub text: Option<String>,
    /// The original schema's `timestamp`: when the row was produced (UTC).
    pub timestamp: DateTime<Utc>,
    pub bucket: String,
    pub object_key: String,
    pub object_version: Option<String>,
    pub etag: Option<String>,
    pub sequencer: Option<String>,
    pub size_bytes: Option<i64>,
    pub content_type: Option<String>,
    pub audio: Option<AudioMetadata>,
    pub model: Option<String>,
    pub language: Option<String>,
    pub word_count: Option<i32>,
    pub avg_logprob: Option<f64>,
    pub no_speech_prob: Option<f64>,
    pub text_truncated: bool,
    pub status: Status,
    pub error_code: Option<ErrorCode>,
    pub error_message: Option<String>,
    pub uploaded_at: Option<DateTime<Utc>>,
    pub processed_at: DateTime<Utc>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub processing_ms: Option<i64>,
    pub pipeline_version: String,
    /// How much the transcript compresses (gzip): above ~2.4 it repeats itself.
    pub compression_ratio: Option<f64>,
    /// The transcriber's verdict: `ok`, `no_speech`, `repetition` or `low_confidence`.
    pub quality_flag: Option<String>,
    /// How sure language detection was (schema version 4); `None` where the language was given.
    pub language_probability: Option<f64>,
    /// What transcribing it cost, USD by the price table (schema version 5; [`crate::cost`]).
    pub cost_usd: Option<f64>,
    /// What PII redaction took out, as JSON counts by type (schema version 8; [`crate::redact`]); `None` when it
    /// was not asked for.
    pub pii_redacted: Option<String>,
    /// When the call or meeting took place, as its attributes say (schema version 9; [`crate::attributes`]).
    pub recorded_at: Option<DateTime<Utc>>,
    pub call_id: Option<String>,
    pub agent_id: Option<String>,
    /// Seconds the `agent` and the `customer` channel were heard speaking, and seconds no one was (schema version
    /// 9; [`crate::talk`]).
    pub agent_talk_s: Option<f64>,
    pub customer_talk_s: Option<f64>,
    pub non_talk_s: Option<f64>,
    /// Which processing of its version the row is: `None` for its upload's event, else the reprocess's start (Unix
    /// milliseconds; schema version 9).
    pub generation: Option<i64>,
}

impl ResultRow {
    /// The recording version the row answers.
    pub fn object(&self) -> ObjectVersion {
        ObjectVersion {
            bucket: self.bucket.clone(),
            key: self.object_key.clone(),
            version_id: self.object_version.clone(),
            etag: self.etag.clone(),
            sequencer: self.sequencer.clone(),
            size: self.size_bytes,
        }
    }

    /// Stores a transcript, cutting it to [`TEXT_MAX_BYTES`] at a character boundary and flagging the cut.
    pub fn set_text(&mut self, text: &str) {
        let (kept, cut) = truncate_utf8(text, TEXT_MAX_BYTES);
        self.text = Some(kept.to_owned());
        self.text_truncated = cut;
    }

    /// Stores an error, its message cut to [`ERROR_MESSAGE_MAX_BYTES`].
    pub fn set_error(&mut self, code: ErrorCode, message: &str) {
        self.status = Status::Failed;
        self.error_code = Some(code);
        self.error_message = Some(truncate_utf8(message, ERROR_MESSAGE_MAX_BYTES).0.to_owned());
    }
}

/// One row of `transcription_segments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRow {
    pub id: String,
    pub object_version: Option<String>,
    pub segment_index: i32,
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    pub avg_logprob: Option<f64>,
    pub no_speech_prob: Option<f64>,
    pub processed_at: DateTime<Utc>,
    /// The audio channel it was heard on (0-based) when the channels were transcribed one by one (a stereo call,
    /// one speaker per channel); 0 when the recording was transcribed as one mix.
    pub channel: i32,
    /// The role of its channel (`REDSCRIBE_CHANNEL_ROLES`: `agent`, `customer`, …), schema version 9.
    pub speaker: Option<String>,
}

/// One row of `transcription_attributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeRow {
    pub id: String,
    pub object_version: Option<String>,
    pub name: String,
    pub value: String,
    /// `key`, `metadata` or `tag` ([`crate::attributes::Source`]).
    pub source: String,
    pub processed_at: DateTime<Utc>,
}

/// The longest word `transcription_words` holds, in bytes (its `word` column is `VARCHAR(256)`).
pub const WORD_MAX_BYTES: usize = 256;

/// One row of `transcription_words`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordRow {
    pub id: String,
    pub object_version: Option<String>,
    pub channel: i32,
    pub segment_index: i32,
    /// Its place in the segment, from 0.
    pub word_index: i32,
    pub start_s: f64,
    pub end_s: f64,
    /// As written, with its punctuation; cut to [`WORD_MAX_BYTES`] at a character boundary.
    pub word: String,
    pub probability: Option<f64>,
    pub processed_at: DateTime<Utc>,
}

/// One row of `load_audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadAuditRow {
    pub file_uri: String,
    pub manifest_uri: Option<String>,
    pub table_name: String,
    pub statement_id: Option<String>,
    pub rows_loaded: Option<i64>,
    pub status: String,
    pub error_message: Option<String>,
    pub loaded_at: DateTime<Utc>,
    /// The ETag of the bytes loaded (version 6).
    pub file_etag: Option<String>,
}

fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn utc_col(values: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    let mut b = TimestampMicrosecondBuilder::new().with_timezone(crate::schema::UTC);
    b.extend(values);
    Arc::new(b.finish())
}

fn str_col<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    b.extend(values);
    Arc::new(b.finish())
}

fn i64_col(values: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    let mut b = Int64Builder::new();
    b.extend(values);
    Arc::new(b.finish())
}

fn i32_col(values: impl IntoIterator<Item = Option<i32>>) -> ArrayRef {
    let mut b = Int32Builder::new();
    b.extend(values);
    Arc::new(b.finish())
}

fn f64_col(values: impl IntoIterator<Item = Option<f64>>) -> ArrayRef {
    let mut b = Float64Builder::new();
    b.extend(values);
    Arc::new(b.finish())
}

/// Builds a `transcription_results` batch, columns in table order.
pub fn results_batch(rows: &[ResultRow]) -> Result<RecordBatch, CoreError> {
    let audio = |f: fn(&AudioMetadata) -> Option<f64>| -> ArrayRef {
        f64_col(rows.iter().map(|r| r.audio.as_ref().and_then(f)))
    };
    let mut truncated = BooleanBuilder::new();
    truncated.extend(rows.iter().map(|r| Some(r.text_truncated)));
    let mut plain_ts = TimestampMicrosecondBuilder::new();
    plain_ts.extend(rows.iter().map(|r| Some(micros(&r.timestamp))));
    let columns: Vec<ArrayRef> = vec![
        str_col(rows.iter().map(|r| Some(r.id.as_str()))),
        str_col(rows.iter().map(|r| r.text.as_deref())),
        Arc::new(plain_ts.finish()),
        str_col(rows.iter().map(|r| Some(r.bucket.as_str()))),
        str_col(rows.iter().map(|r| Some(r.object_key.as_str()))),
        str_col(rows.iter().map(|r| r.object_version.as_deref())),
        str_col(rows.iter().map(|r| r.etag.as_deref())),
        str_col(rows.iter().map(|r| r.sequencer.as_deref())),
        i64_col(rows.iter().map(|r| r.size_bytes)),
        str_col(rows.iter().map(|r| r.content_type.as_deref())),
        str_col(rows.iter().map(|r| r.audio.as_ref().map(|a| a.container.as_str()))),
        str_col(rows.iter().map(|r| r.audio.as_ref().map(|a| a.codec.as_str()))),
        audio(|a| Some(a.duration_s)),
        i32_col(rows.iter().map(|r| r.audio.as_ref().map(|a| a.sample_rate as i32))),
        i32_col(rows.iter().map(|r| r.audio.as_ref().map(|a| i32::from(a.channels)))),
        i64_col(rows.iter().map(|r| r.audio.as_ref().and_then(|a| a.bit_rate).map(|b| b as i64))),
        str_col(rows.iter().map(|r| r.model.as_deref())),
        str_col(rows.iter().map(|r| r.language.as_deref())),
        i32_col(rows.iter().map(|r| r.word_count)),
        f64_col(rows.iter().map(|r| r.avg_logprob)),
        f64_col(rows.iter().map(|r| r.no_speech_prob)),
        Arc::new(truncated.finish()),
        str_col(rows.iter().map(|r| Some(r.status.as_str()))),
        str_col(rows.iter().map(|r| r.error_code.map(ErrorCode::as_str))),
        str_col(rows.iter().map(|r| r.error_message.as_deref())),
        utc_col(rows.iter().map(|r| r.uploaded_at.as_ref().map(micros))),
        utc_col(rows.iter().map(|r| Some(micros(&r.processed_at)))),
        utc_col(rows.iter().map(|r| r.loaded_at.as_ref().map(micros))),
        i64_col(rows.iter().map(|r| r.processing_ms)),
        str_col(rows.iter().map(|r| Some(r.pipeline_version.as_str()))),
        f64_col(rows.iter().map(|r| r.compression_ratio)),
        str_col(rows.iter().map(|r| r.quality_flag.as_deref())),
        f64_col(rows.iter().map(|r| r.language_probability)),
        f64_col(rows.iter().map(|r| r.cost_usd)),
        str_col(rows.iter().map(|r| r.pii_redacted.as_deref())),
        utc_col(rows.iter().map(|r| r.recorded_at.as_ref().map(micros))),
        str_col(rows.iter().map(|r| r.call_id.as_deref())),
        str_col(rows.iter().map(|r| r.agent_id.as_deref())),
        f64_col(rows.iter().map(|r| r.agent_talk_s)),
        f64_col(rows.iter().map(|r| r.customer_talk_s)),
        f64_col(rows.iter().map(|r| r.non_talk_s)),
        i64_col(rows.iter().map(|r| r.generation)),
    ];
    Ok(RecordBatch::try_new(results_schema(), columns)?)
}

/// Builds a `transcription_segments` batch.
pub fn segments_batch(rows: &[SegmentRow]) -> Result<RecordBatch, CoreError> {
    let columns: Vec<ArrayRef> = vec![
        str_col(rows.iter().map(|r| Some(r.id.as_str()))),
        str_col(rows.iter().map(|r| r.object_version.as_deref())),
        i32_col(rows.iter().map(|r| Some(r.segment_index))),
        f64_col(rows.iter().map(|r| Some(r.start_s))),
        f64_col(rows.iter().map(|r| Some(r.end_s))),
        str_col(rows.iter().map(|r| Some(r.text.as_str()))),
        f64_col(rows.iter().map(|r| r.avg_logprob)),
        f64_col(rows.iter().map(|r| r.no_speech_prob)),
        utc_col(rows.iter().map(|r| Some(micros(&r.processed_at)))),
        i32_col(rows.iter().map(|r| Some(r.channel))),
        str_col(rows.iter().map(|r| r.speaker.as_deref())),
    ];
    Ok(RecordBatch::try_new(segments_schema(), columns)?)
}

/// Builds a `transcription_attributes` batch.
pub fn attributes_batch(rows: &[AttributeRow]) -> Result<RecordBatch, CoreError> {
    let columns: Vec<ArrayRef> = vec![
        str_col(rows.iter().map(|r| Some(r.id.as_str()))),
        str_col(rows.iter().map(|r| r.object_version.as_deref())),
        str_col(rows.iter().map(|r| Some(r.name.as_str()))),
        str_col(rows.iter().map(|r| Some(r.value.as_str()))),
        str_col(rows.iter().map(|r| Some(r.source.as_str()))),
        utc_col(rows.iter().map(|r| Some(micros(&r.processed_at)))),
    ];
    Ok(RecordBatch::try_new(attributes_schema(), columns)?)
}

/// Builds a `transcription_words` batch.
pub fn words_batch(rows: &[WordRow]) -> Result<RecordBatch, CoreError> {
    let columns: Vec<ArrayRef> = vec![
        str_col(rows.iter().map(|r| Some(r.id.as_str()))),
        str_col(rows.iter().map(|r| r.object_version.as_deref())),
        i32_col(rows.iter().map(|r| Some(r.channel))),
        i32_col(rows.iter().map(|r| Some(r.segment_index))),
        i32_col(rows.iter().map(|r| Some(r.word_index))),
        f64_col(rows.iter().map(|r| Some(r.start_s))),
        f64_col(rows.iter().map(|r| Some(r.end_s))),
        str_col(rows.iter().map(|r| Some(truncate_utf8(&r.word, WORD_MAX_BYTES).0))),
        f64_col(rows.iter().map(|r| r.probability)),
        utc_col(rows.iter().map(|r| Some(micros(&r.processed_at)))),
    ];
    Ok(RecordBatch::try_new(words_schema(), columns)?)
}

/// Builds a `load_audit` batch.
pub fn load_audit_batch(rows: &[LoadAuditRow]) -> Result<RecordBatch, CoreError> {
    let columns: Vec<ArrayRef> = vec![
        str_col(rows.iter().map(|r| Some(r.file_uri.as_str()))),
        str_col(rows.iter().map(|r| r.manifest_uri.as_deref())),
        str_col(rows.iter().map(|r| Some(r.table_name.as_str()))),
        str_col(rows.iter().map(|r| r.statement_id.as_deref())),
        i64_col(rows.iter().map(|r| r.rows_loaded)),
        str_col(rows.iter().map(|r| Some(r.status.as_str()))),
        str_col(rows.iter().map(|r| r.error_message.as_deref())),
        utc_col(rows.iter().map(|r| Some(micros(&r.loaded_at)))),
        str_col(rows.iter().map(|r| r.file_etag.as_deref())),
    ];
    Ok(RecordBatch::try_new(load_audit_schema(), columns)?)
}

fn mismatch(reason: impl Into<String>) -> CoreError {
    CoreError::SchemaMismatch { table: RESULTS_TABLE, reason: reason.into() }
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, CoreError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| mismatch(format!("missing column {name}")))?
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| mismatch(format!("column {name} has type other than the schema's")))
}

/// A column appended by a migration after the table was created: a file written under an earlier schema does not
/// have it, and its rows read it as NULL.
fn later<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<Option<&'a T>, CoreError> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(_) => col(batch, name).map(Some),
    }
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_owned())
}

fn opt_ts(a: &TimestampMicrosecondArray, i: usize) -> Option<DateTime<Utc>> {
    if a.is_valid(i) {
        DateTime::from_timestamp_micros(a.value(i))
    } else {
        None
    }
}

fn opt<T: arrow_array::ArrowPrimitiveType>(a: &arrow_array::PrimitiveArray<T>, i: usize) -> Option<T::Native> {
    a.is_valid(i).then(|| a.value(i))
}

/// The recording ids of a `transcription_segments` or `transcription_words` batch, one per row (what the loader
/// checks such a file against before loading it with its result row).
pub fn detail_ids(batch: &RecordBatch) -> Result<Vec<String>, CoreError> {
    let ids = col::<StringArray>(batch, "id")?;
    Ok((0..batch.num_rows()).map(|i| ids.value(i).to_string()).collect())
}

/// Reads `transcription_segments` rows back from a batch (of a file this crate wrote, or any with its columns).
pub fn segments_from_batch(batch: &RecordBatch) -> Result<Vec<SegmentRow>, CoreError> {
    let s = |name| col::<StringArray>(batch, name);
    let (id, version, text) = (s("id")?, s("object_version")?, s("text")?);
    let (index, channel) = (col::<Int32Array>(batch, "segment_index")?, later::<Int32Array>(batch, "channel")?);
    let f = |name| col::<Float64Array>(batch, name);
    let (start, end, logprob, no_speech) = (f("start_s")?, f("end_s")?, f("avg_logprob")?, f("no_speech_prob")?);
    let processed = col::<TimestampMicrosecondArray>(batch, "processed_at")?;
    let speaker = later::<StringArray>(batch, "speaker")?;
    (0..batch.num_rows())
        .map(|i| {
            Ok(SegmentRow {
                id: id.value(i).to_owned(),
                object_version: opt_str(version, i),
                segment_index: index.value(i),
                start_s: start.value(i),
                end_s: end.value(i),
                text: text.value(i).to_owned(),
                avg_logprob: opt(logprob, i),
                no_speech_prob: opt(no_speech, i),
                processed_at: opt_ts(processed, i).ok_or_else(|| mismatch("processed_at out of range"))?,
                channel: channel.and_then(|c| opt(c, i)).unwrap_or_default(),
                speaker: speaker.and_then(|a| opt_str(a, i)),
            })
        })
        .collect()
}

/// Reads `transcription_words` rows back from a batch (of a file this crate wrote, or any with its columns).
pub fn words_from_batch(batch: &RecordBatch) -> Result<Vec<WordRow>, CoreError> {
    let s = |name| col::<StringArray>(batch, name);
    let (id, version, word) = (s("id")?, s("object_version")?, s("word")?);
    let i = |name| col::<Int32Array>(batch, name);
    let (channel, segment, index) = (i("channel")?, i("segment_index")?, i("word_index")?);
    let f = |name| col::<Float64Array>(batch, name);
    let (start, end, probability) = (f("start_s")?, f("end_s")?, f("probability")?);
    let processed = col::<TimestampMicrosecondArray>(batch, "processed_at")?;
    (0..batch.num_rows())
        .map(|r| {
            Ok(WordRow {
                id: id.value(r).to_owned(),
                object_version: opt_str(version, r),
                channel: channel.value(r),
                segment_index: segment.value(r),
                word_index: index.value(r),
                start_s: start.value(r),
                end_s: end.value(r),
                word: word.value(r).to_owned(),
                probability: opt(probability, r),
                processed_at: opt_ts(processed, r).ok_or_else(|| mismatch("processed_at out of range"))?,
            })
        })
        .collect()
}

/// Reads `transcription_results` rows back from a batch (of a file this crate wrote, or any file with the same
/// columns).
pub fn results_from_batch(batch: &RecordBatch) -> Result<Vec<ResultRow>, CoreError> {
    let s = |name| col::<StringArray>(batch, name);
    let (id, text, bucket, key, version, etag, sequencer, content_type) = (
        s("id")?,
        s("text")?,
        s("bucket")?,
        s("object_key")?,
        s("object_version")?,
        s("etag")?,
        s("sequencer")?,
        s("content_type")?,
    );
    let (container, codec, model, language, status, error_code, error_message, pipeline_version) = (
        s("container")?,
        s("codec")?,
        s("model")?,
        s("language")?,
        s("status")?,
        s("error_code")?,
        s("error_message")?,
        s("pipeline_version")?,
    );
    let timestamp = col::<TimestampMicrosecondArray>(batch, "timestamp")?;
    let uploaded = col::<TimestampMicrosecondArray>(batch, "uploaded_at")?;
    let processed = col::<TimestampMicrosecondArray>(batch, "processed_at")?;
    let loaded = col::<TimestampMicrosecondArray>(batch, "loaded_at")?;
    let size = col::<Int64Array>(batch, "size_bytes")?;
    let duration = col::<Float64Array>(batch, "duration_s")?;
    let rate = col::<Int32Array>(batch, "sample_rate")?;
    let channels = col::<Int32Array>(batch, "channels")?;
    let bit_rate = col::<Int64Array>(batch, "bit_rate")?;
    let words = col::<Int32Array>(batch, "word_count")?;
    let logprob = col::<Float64Array>(batch, "avg_logprob")?;
    let no_speech = col::<Float64Array>(batch, "no_speech_prob")?;
    let truncated = col::<BooleanArray>(batch, "text_truncated")?;
    let ms = col::<Int64Array>(batch, "processing_ms")?;
    // Appended by later migrations: NULL in files of earlier schemas.
    let compression = later::<Float64Array>(batch, "compression_ratio")?;
    let quality_flag = later::<StringArray>(batch, "quality_flag")?;
    let language_probability = later::<Float64Array>(batch, "language_probability")?;
    let cost_usd = later::<Float64Array>(batch, "cost_usd")?;
    let pii_redacted = later::<StringArray>(batch, "pii_redacted")?;
    let recorded_at = later::<TimestampMicrosecondArray>(batch, "recorded_at")?;
    let (call_id, agent_id) = (later::<StringArray>(batch, "call_id")?, later::<StringArray>(batch, "agent_id")?);
    let agent_talk = later::<Float64Array>(batch, "agent_talk_s")?;
    let customer_talk = later::<Float64Array>(batch, "customer_talk_s")?;
    let non_talk = later::<Float64Array>(batch, "non_talk_s")?;
    let generation = later::<Int64Array>(batch, "generation")?;

    (0..batch.num_rows())
        .map(|i| {
            let audio = match (opt_str(container, i), opt_str(codec, i)) {
                (Some(container), Some(codec)) => Some(AudioMetadata {
                    container,
                    codec,
                    duration_s: opt(duration, i).unwrap_or_default(),
                    sample_rate: opt(rate, i).unwrap_or_default().max(0) as u32,
                    channels: opt(channels, i).unwrap_or_default().clamp(0, i32::from(u16::MAX)) as u16,
                    bit_rate: opt(bit_rate, i).map(|b| b.max(0) as u64),
                    size_bytes: opt(size, i).unwrap_or_default().max(0) as u64,
                }),
                _ => None,
            };
            let status_text = status.value(i);
            Ok(ResultRow {
                id: id.value(i).to_owned(),
                text: opt_str(text, i),
                timestamp: opt_ts(timestamp, i).ok_or_else(|| mismatch("timestamp out of range"))?,
                bucket: bucket.value(i).to_owned(),
                object_key: key.value(i).to_owned(),
                object_version: opt_str(version, i),
                etag: opt_str(etag, i),
                sequencer: opt_str(sequencer, i),
                size_bytes: opt(size, i),
                content_type: opt_str(content_type, i),
                audio,
                model: opt_str(model, i),
                language: opt_str(language, i),
                word_count: opt(words, i),
                avg_logprob: opt(logprob, i),
                no_speech_prob: opt(no_speech, i),
                text_truncated: truncated.value(i),
                status: Status::parse(status_text)
                    .ok_or_else(|| mismatch(format!("unknown status {status_text:?}")))?,
                error_code: match opt_str(error_code, i) {
                    Some(c) => Some(ErrorCode::parse(&c).ok_or_else(|| mismatch(format!("unknown error code {c:?}")))?),
                    None => None,
                },
                error_message: opt_str(error_message, i),
                uploaded_at: opt_ts(uploaded, i),
                processed_at: opt_ts(processed, i).ok_or_else(|| mismatch("processed_at out of range"))?,
                loaded_at: opt_ts(loaded, i),
                processing_ms: opt(ms, i),
                pipeline_version: pipeline_version.value(i).to_owned(),
                compression_ratio: compression.and_then(|a| opt(a, i)),
                quality_flag: quality_flag.and_then(|a| opt_str(a, i)),
                language_probability: language_probability.and_then(|a| opt(a, i)),
                cost_usd: cost_usd.and_then(|a| opt(a, i)),
                pii_redacted: pii_redacted.and_then(|a| opt_str(a, i)),
                recorded_at: recorded_at.and_then(|a| opt_ts(a, i)),
                call_id: call_id.and_then(|a| opt_str(a, i)),
                agent_id: agent_id.and_then(|a| opt_str(a, i)),
                agent_talk_s: agent_talk.and_then(|a| opt(a, i)),
                customer_talk_s: customer_talk.and_then(|a| opt(a, i)),
                non_talk_s: non_talk.and_then(|a| opt(a, i)),
                generation: generation.and_then(|a| opt(a, i)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate_utf8("hello", 10), ("hello", false));
        assert_eq!(truncate_utf8("hello", 5), ("hello", false));
        assert_eq!(truncate_utf8("hello", 4), ("hell", true));
        // "é" is two bytes, "録" three: never split one.
        assert_eq!(truncate_utf8("aé", 2), ("a", true));
        assert_eq!(truncate_utf8("録音", 5), ("録", true));
        assert_eq!(truncate_utf8("録音", 2), ("", true));
        let long = "話".repeat(30_000); // 90,000 bytes
        let (kept, cut) = truncate_utf8(&long, TEXT_MAX_BYTES);
        assert!(cut);
        assert!(kept.len() <= TEXT_MAX_BYTES && kept.len() > TEXT_MAX_BYTES - 3);
        assert_eq!(kept.chars().count() * 3, kept.len());
    }
}
