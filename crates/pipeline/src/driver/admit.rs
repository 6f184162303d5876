//! The first step of every front end: a payload (an S3 notification, an SQS batch, an EventBridge event, a
//! journal entry) normalised by the core into object events, with every record that needs no work logged with
//! its reason and every message that is not an event kept under `rejected/invalid_event/` — acknowledged, never
//! retried, never lost.

use chrono::Utc;
use redscribe_core::events::{InvalidMessage, Normalized};
use redscribe_core::identity::recording_id;
use redscribe_core::layout::Layout;
use redscribe_core::metrics::Stage;
use redscribe_core::ports::{ObjectStore, PortError};
use redscribe_core::quarantine::QuarantineRecord;
use redscribe_core::{CoreError, ErrorCode};
use serde_json::Value;

use crate::quarantine::QuarantineSink;

/// The work `parsed` (the core's normalisation of `payload`) holds. Skipped records are logged, and `skipped`
/// is called once for each; every message that is not an event is kept under `rejected/invalid_event/` (in the
/// layout's output bucket, else `fallback_bucket`) and `invalid` is called once for each. A payload that is not
/// one event at all is kept whole and comes back as one invalid message and no work.
pub async fn admit<S: ObjectStore + ?Sized>(
    store: &S,
    layout: &Layout,
    payload: &Value,
    parsed: Result<Normalized, CoreError>,
    fallback_bucket: &str,
    skipped: impl Fn(),
    invalid: impl Fn(),
) -> Result<Normalized, PortError> {
    let normalized = parsed.unwrap_or_else(|e| Normalized {
        invalid: vec![InvalidMessage { message_id: None, reason: e.to_string() }],
        ..Normalized::default()
    });
    for s in &normalized.skipped {
        tracing::info!(
            reason = s.reason.as_str(),
            bucket = s.bucket.as_deref(),
            key = s.key.as_deref(),
            "record skipped"
        );
        skipped();
    }
    for message in &normalized.invalid {
        let body = message.message_id.as_deref().and_then(|id| sqs_record(payload, id)).unwrap_or(payload);
        quarantine_invalid(store, layout, message, body, fallback_bucket).await?;
        invalid();
    }
    Ok(normalized)
}

/// Whether the payload is an SQS batch (its answer is `batchItemFailures`).
pub fn is_sqs_batch(payload: &Value) -> bool {
    payload["Records"].as_array().is_some_and(|r| r.iter().any(|r| r["eventSource"] == "aws:sqs"))
}

/// The SQS record with this message id.
fn sqs_record<'a>(payload: &'a Value, message_id: &str) -> Option<&'a Value> {
    payload["Records"].as_array()?.iter().find(|r| r["messageId"] == message_id)
}

/// Keeps a message that is not an event under `rejected/invalid_event/`, whole, with the reason.
async fn quarantine_invalid<S: ObjectStore + ?Sized>(
    store: &S,
    layout: &Layout,
    invalid: &InvalidMessage,
    message: &Value,
    fallback_bucket: &str,
) -> Result<(), PortError> {
    let now = Utc::now();
    let body = serde_json::to_vec(message).map_err(|e| PortError::new(ErrorCode::Internal, e.to_string()))?;
    // Named by the message id when there is one (a redelivery overwrites its own record), else by the content.
    let name = match &invalid.message_id {
        Some(id) => recording_id("sqs", id),
        None => recording_id("payload", &String::from_utf8_lossy(&body)),
    };
    let key = layout.rejected_key(ErrorCode::InvalidEvent, now.date_naive(), &name, "message");
    let mut record = QuarantineRecord::new(ErrorCode::InvalidEvent, invalid.reason.clone(), Stage::Receive);
    record.message_id = invalid.message_id.clone();
    record.payload = Some(message.clone());
    record.rejected_at = now;
    let bucket = layout.bucket_for(fallback_bucket).to_string();
    store.keep(&bucket, &key, &record).await?;
    tracing::warn!(message_id = invalid.message_id.as_deref(), key, "invalid message quarantined: {}", invalid.reason);
    Ok(())
}
