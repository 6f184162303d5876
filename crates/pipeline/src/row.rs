//! The `transcription_results` row of one recording, from where it is and what probing it found.

use chrono::{DateTime, Utc};
use redscribe_core::attributes::Attributes;
use redscribe_core::events::{ObjectEvent, ObjectVersion};
use redscribe_core::identity::recording_id;
use redscribe_core::record::{AudioMetadata, ResultRow, Status};
use redscribe_core::Failure;

/// The recording version a row answers, and what reading it added (its declared content type) or the event
/// said of it (when it was uploaded).
#[derive(Debug, Clone, Default)]
pub struct Location {
    pub object: ObjectVersion,
    pub content_type: Option<String>,
    pub uploaded_at: Option<DateTime<Utc>>,
    /// What its key, metadata and tags say it is about (`transcription_attributes`, and the typed columns).
    pub attributes: Attributes,
    /// The reprocess that hears it again, if it is one (`ObjectEvent::generation`).
    pub generation: Option<i64>,
}

impl Location {
    /// Where the event says the recording is; what reading it adds (content type, ETag, size) comes later.
    pub fn of(event: &ObjectEvent) -> Location {
        Location {
            object: event.object.clone(),
            content_type: None,
            uploaded_at: event.event_time,
            attributes: Attributes::default(),
            generation: event.generation,
        }
    }
}

/// The row: `metadata_only` with the audio metadata, or `failed` with the classified error; either with the
/// well-known attributes' typed columns.
pub fn result_row(
    at: &Location,
    outcome: &Result<AudioMetadata, Failure>,
    processed_at: DateTime<Utc>,
    processing_ms: i64,
) -> ResultRow {
    let mut row = base_row(at, processed_at, Some(processing_ms));
    match outcome {
        Ok(meta) => {
            // The content decides the type, whatever the uploader declared.
            row.content_type = Some(redscribe_audio::sniff::mime_type(&meta.container).into());
            row.size_bytes = row.size_bytes.or(Some(meta.size_bytes as i64));
            row.audio = Some(meta.clone());
        }
        Err(failure) => row.set_error(failure.code, &failure.message),
    }
    row
}

/// The tombstone of a deleted recording (`erased`): its identity and the deletion's version and sequencer, and
/// nothing of its content — no attributes either, so no typed column from them.
pub fn erasure_row(at: &Location, processed_at: DateTime<Utc>) -> ResultRow {
    let at = Location { attributes: Attributes::default(), content_type: None, uploaded_at: None, ..at.clone() };
    ResultRow { status: Status::Erased, ..base_row(&at, processed_at, None) }
}

/// The row's columns that follow from where the recording is, `metadata_only` until an outcome says more.
fn base_row(at: &Location, processed_at: DateTime<Utc>, processing_ms: Option<i64>) -> ResultRow {
    let object = &at.object;
    let mut row = ResultRow {
        id: recording_id(&object.bucket, &object.key),
        text: None,
        timestamp: processed_at,
        bucket: object.bucket.clone(),
        object_key: object.key.clone(),
        object_version: object.version_id.clone().filter(|v| v != "null"),
        etag: object.etag.clone(),
        sequencer: object.sequencer.clone(),
        size_bytes: object.size,
        content_type: at.content_type.clone(),
        audio: None,
        model: None,
        language: None,
        word_count: None,
        avg_logprob: None,
        no_speech_prob: None,
        text_truncated: false,
        status: Status::MetadataOnly,
        error_code: None,
        error_message: None,
        uploaded_at: at.uploaded_at,
        processed_at,
        loaded_at: None,
        processing_ms,
        pipeline_version: redscribe_core::PIPELINE_VERSION.into(),
        compression_ratio: None,
        quality_flag: None,
        language_probability: None,
        cost_usd: None,
        pii_redacted: None,
        recorded_at: None,
        call_id: None,
        agent_id: None,
        agent_talk_s: None,
        customer_talk_s: None,
        non_talk_s: None,
        generation: at.generation,
    };
    let attributes = &at.attributes;
    row.recorded_at = attributes.recorded_at();
    row.call_id = attributes.known_text("call_id");
    row.agent_id = attributes.known_text("agent_id");
    row
}
