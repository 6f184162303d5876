//! One invocation of the transcribe stage as Lambda delivers it, whatever the trigger: S3 directly, SQS, SNS in
//! SQS, or EventBridge. The payload is normalised, every object processed (bounded concurrency), every message that
//! is not an event kept as a quarantine record, and the answer built the way the trigger reads it: an SQS batch
//! gets `batchItemFailures` naming only the messages worth retrying (transient failures), so a permanently bad
//! recording is quarantined and acknowledged instead of retried until the dead-letter queue. A direct invocation
//! that hit a transient failure fails as a whole, and Lambda's own retries deliver it again (processing is
//! idempotent). Nothing here knows the Lambda runtime: `lambdas/transcribe` passes payloads in and answers out.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use redscribe_core::events::{normalize, InvalidMessage};
use redscribe_core::identity::recording_id;
use redscribe_core::ports::{ObjectStore, PortError};
use redscribe_core::ErrorCode;
use serde_json::{json, Value};

use crate::drive::{process_all, Outcome};
use crate::transcribe::{Processed, TranscribeStage};

/// What one invocation did.
#[derive(Debug)]
pub struct Invocation {
    pub outcomes: Vec<Outcome>,
    /// Records acknowledged without processing (test events, folder markers, the pipeline's own outputs, …).
    pub skipped: usize,
    /// Messages that were not events, kept under `rejected/invalid_event/`.
    pub invalid: usize,
    /// SQS messages to deliver again.
    pub retry: Vec<String>,
    /// What the function answers.
    pub response: Value,
}

impl Invocation {
    /// Recordings written (`metadata_only` or `transcribed`) and quarantined.
    pub fn counts(&self) -> (usize, usize) {
        let quarantined = self.outcomes.iter().filter(|(_, r)| matches!(r, Ok(Processed::Quarantined { .. }))).count();
        let written = self.outcomes.iter().filter(|(_, r)| matches!(r, Ok(Processed::Written(_)))).count();
        (written, quarantined)
    }
}

/// Handles one payload. `fallback_bucket` receives quarantine records of messages that name no bucket (the
/// configured output bucket wins when there is one). An error means a direct invocation must be retried whole.
pub async fn transcribe_invocation<S: ObjectStore + 'static>(
    stage: Arc<TranscribeStage<S>>,
    payload: &Value,
    concurrency: usize,
    fallback_bucket: &str,
) -> Result<Invocation, PortError> {
    let from_sqs = is_sqs_batch(payload);
    let normalized = match normalize(payload, stage.layout()) {
        Ok(n) => n,
        Err(e) => {
            // Not one event at all: the whole payload is kept, and acknowledged.
            let invalid = InvalidMessage { message_id: None, reason: e.to_string() };
            quarantine_invalid(&stage, &invalid, payload, fallback_bucket).await?;
            let response = if from_sqs {
                json!({ "batchItemFailures": [] })
            } else {
                json!({ "processed": 0, "quarantined": 0, "skipped": 0, "invalid": 1 })
            };
            return Ok(Invocation { outcomes: Vec::new(), skipped: 0, invalid: 1, retry: Vec::new(), response });
        }
    };
    for invalid in &normalized.invalid {
        let message = invalid.message_id.as_deref().and_then(|id| sqs_record(payload, id)).unwrap_or(payload);
        quarantine_invalid(&stage, invalid, message, fallback_bucket).await?;
    }
    for skipped in &normalized.skipped {
        tracing::info!(
            reason = skipped.reason.as_str(),
            bucket = skipped.bucket.as_deref(),
            key = skipped.key.as_deref(),
            "record skipped"
        );
        stage.record_skipped();
    }
    let outcomes = process_all(stage, normalized.objects, concurrency, |_| {}).await;
    let mut retry = BTreeSet::new();
    let mut direct_failure = None;
    for (event, result) in &outcomes {
        if let Err(e) = result {
            tracing::warn!(bucket = %event.bucket, key = %event.key, code = e.code.as_str(), "transient failure: {}", e.message);
            match &event.message_id {
                Some(id) => {
                    retry.insert(id.clone());
                }
                None => direct_failure = Some(e.clone()),
            }
        }
    }
    if let Some(e) = direct_failure {
        return Err(e);
    }
    let retry: Vec<String> = retry.into_iter().collect();
    let mut invocation = Invocation {
        skipped: normalized.skipped.len(),
        invalid: normalized.invalid.len(),
        outcomes,
        retry,
        response: Value::Null,
    };
    let (written, quarantined) = invocation.counts();
    invocation.response = if from_sqs {
        json!({ "batchItemFailures": invocation.retry.iter().map(|id| json!({ "itemIdentifier": id })).collect::<Vec<_>>() })
    } else {
        json!({
            "processed": written,
            "quarantined": quarantined,
            "skipped": invocation.skipped,
            "invalid": invocation.invalid,
        })
    };
    Ok(invocation)
}

/// Whether the payload is an SQS batch (its answer is `batchItemFailures`).
fn is_sqs_batch(payload: &Value) -> bool {
    payload["Records"].as_array().is_some_and(|r| r.iter().any(|r| r["eventSource"] == "aws:sqs"))
}

/// The SQS record with this message id.
fn sqs_record<'a>(payload: &'a Value, message_id: &str) -> Option<&'a Value> {
    payload["Records"].as_array()?.iter().find(|r| r["messageId"] == message_id)
}

/// Keeps a message that is not an event under `rejected/invalid_event/`, whole, with the reason.
async fn quarantine_invalid<S: ObjectStore + 'static>(
    stage: &TranscribeStage<S>,
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
    let layout = stage.layout();
    let key = layout.rejected_key(ErrorCode::InvalidEvent, now.date_naive(), &name, "message");
    let record = json!({
        "reason": ErrorCode::InvalidEvent.as_str(),
        "message": invalid.reason,
        "message_id": invalid.message_id,
        "payload": message,
        "rejected_at": now,
        "pipeline_version": redscribe_core::PIPELINE_VERSION,
    });
    let bucket = layout.bucket_for(fallback_bucket).to_string();
    crate::put_json(stage.store(), &bucket, &key, &record).await?;
    tracing::warn!(message_id = invalid.message_id.as_deref(), key, "invalid message quarantined: {}", invalid.reason);
    stage.record_invalid();
    Ok(())
}
