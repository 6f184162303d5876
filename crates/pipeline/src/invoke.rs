//! One invocation of a stage as Lambda delivers it.
//!
//! [`transcribe_invocation`]: whatever the trigger — S3 directly, SQS, SNS in SQS, or EventBridge. The payload is normalised, every object processed (bounded concurrency), every message that
//! is not an event kept as a quarantine record, and the answer built the way the trigger reads it: an SQS batch
//! gets `batchItemFailures` naming only the messages worth retrying (transient failures), so a permanently bad
//! recording is quarantined and acknowledged instead of retried until the dead-letter queue. A direct invocation
//! that hit a transient failure fails as a whole, and Lambda's own retries deliver it again (processing is
//! idempotent).
//!
//! [`load_invocation`]: result files announced by S3 notifications of the results prefix (SQS or EventBridge), or
//! swept from the last days' prefixes on a schedule; what `load_audit` already settled is skipped, the rest loaded
//! in batches while the invocation has time for another. Files left over are retried (SQS) or found by the next
//! sweep. The function is the table's one writer (reserved concurrency 1).
//!
//! Nothing here knows the Lambda runtime: `lambdas/` pass payloads in and answers out.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use redscribe_core::events::{normalize, normalize_results, InvalidMessage, Normalized};
use redscribe_core::identity::recording_id;
use redscribe_core::layout::Layout;
use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::{CoreError, Disposition, ErrorCode};
use serde_json::{json, Value};

use crate::drive::{process_all, BatchLimits, Outcome};
use crate::load::{LoadReport, Loader};
use crate::pending::{read_back, settled, sweep, Candidate};
use crate::transcribe::{Processed, ResultFile, TranscribeStage};

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
    let parsed = normalize(payload, stage.layout());
    let normalized =
        keep_invalid(stage.store(), stage.layout(), payload, parsed, fallback_bucket, || stage.record_invalid())
            .await?;
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

/// How the load function bounds one invocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadLimits {
    pub batch: BatchLimits,
    /// Days of results prefixes a sweep lists: today and the days before it (UTC).
    pub sweep_days: u32,
    /// No batch starts with less time left than this, or than 1.5× the longest batch of the invocation so far.
    pub margin: Duration,
    /// Result files read back at once.
    pub read_concurrency: usize,
}

impl Default for LoadLimits {
    fn default() -> LoadLimits {
        LoadLimits {
            batch: BatchLimits::default(),
            sweep_days: 2,
            margin: Duration::from_secs(30),
            read_concurrency: 8,
        }
    }
}

/// What one invocation of the load function did.
#[derive(Debug, Default)]
pub struct LoadInvocation {
    pub report: LoadReport,
    /// Candidates `load_audit` had already settled (loaded or quarantined).
    pub already_settled: usize,
    /// Files that could not be read back, quarantined.
    pub unreadable: usize,
    /// Files left for later: no time for another batch, or a batch failed.
    pub deferred: usize,
    /// Records that announced nothing to load (other keys, test events, …).
    pub skipped: usize,
    /// Messages that were not events, kept under `rejected/invalid_event/`.
    pub invalid: usize,
    /// SQS messages to deliver again.
    pub retry: Vec<String>,
    pub response: Value,
}

/// Handles one payload of the load function. `bucket` is swept and receives quarantine records of messages that
/// name none (the layout's output bucket wins). An error means the invocation failed as a whole and is
/// retried (for SQS: the whole batch comes back).
pub async fn load_invocation<S: ObjectStore + 'static, W: Warehouse>(
    loader: &Loader<S, W>,
    payload: &Value,
    deadline: Option<Instant>,
    limits: &LoadLimits,
    bucket: &str,
) -> Result<LoadInvocation, PortError> {
    let from_sqs = is_sqs_batch(payload);
    let layout = loader.config().layout.clone();
    let mut out = LoadInvocation::default();
    let mut candidates = if is_sweep(payload) {
        let swept = layout.bucket_for(bucket);
        if swept.is_empty() {
            return Err(PortError::new(ErrorCode::Internal, "a sweep needs S3_BUCKET or REDSCRIBE_OUTPUT_BUCKET"));
        }
        sweep(loader.store().as_ref(), &layout, swept, Utc::now().date_naive(), limits.sweep_days).await?
    } else {
        let parsed = normalize_results(payload, &layout);
        let normalized =
            keep_invalid(loader.store().as_ref(), &layout, payload, parsed, bucket, || loader.record_invalid()).await?;
        out.invalid = normalized.invalid.len();
        out.skipped = normalized.skipped.len();
        normalized
            .objects
            .into_iter()
            .map(|o| Candidate { bucket: o.bucket, key: o.key, message_id: o.message_id })
            .collect()
    };
    // Who announced each file (one file may be announced by several messages), then each file once.
    let mut announced_by: HashMap<String, Vec<String>> = HashMap::new();
    for c in &candidates {
        announced_by.entry(c.uri()).or_default().extend(c.message_id.clone());
    }
    candidates.sort_by(|a, b| a.key.cmp(&b.key).then(a.bucket.cmp(&b.bucket)));
    candidates.dedup_by(|a, b| a.uri() == b.uri());
    if candidates.is_empty() {
        // Nothing announced or found: no call to the warehouse.
        out.response = load_response(&out, from_sqs);
        return Ok(out);
    }
    loader.ensure_schema().await?;
    let uris: Vec<String> = candidates.iter().map(Candidate::uri).collect();
    let done = settled(loader.warehouse(), &loader.config().tables.audit, &uris).await?;
    out.already_settled = done.len();
    candidates.retain(|c| !done.contains(&c.uri()));

    let mut retry_uris: Vec<String> = Vec::new();
    let mut failure: Option<PortError> = None;
    let mut files: Vec<ResultFile> = Vec::new();
    for (candidate, result) in read_all(loader, &layout, candidates, limits.read_concurrency).await {
        match result {
            Ok(file) => files.push(file),
            Err(e) if e.code.disposition() == Disposition::Quarantine => {
                loader.quarantine_unreadable(&candidate.bucket, &candidate.key, &e.message).await?;
                out.unreadable += 1;
            }
            Err(e) => {
                tracing::warn!(file = %candidate.uri(), code = e.code.as_str(), "reading the result file failed: {}", e.message);
                retry_uris.push(candidate.uri());
                failure = Some(e);
            }
        }
    }

    let mut longest = Duration::ZERO;
    let mut batches = limits.batch.batches(files).into_iter();
    while let Some(batch) = batches.next() {
        let needed = limits.margin.max(longest.mul_f64(1.5));
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let outcome = if left.is_some_and(|left| left < needed) {
            tracing::info!(
                left_ms = left.unwrap_or_default().as_millis() as u64,
                needed_ms = needed.as_millis() as u64,
                "no time for another batch"
            );
            None
        } else {
            let started = Instant::now();
            let result = loader.load(batch.clone()).await;
            longest = longest.max(started.elapsed());
            Some(result)
        };
        match outcome {
            Some(Ok(report)) => {
                out.report.loaded.extend(report.loaded);
                out.report.rejected.extend(report.rejected);
                out.report.batches += report.batches;
            }
            stopped => {
                if let Some(Err(e)) = stopped {
                    tracing::warn!(code = e.code.as_str(), files = batch.len(), "load failed: {}", e.message);
                    failure = Some(e);
                }
                for file in batch.into_iter().chain(batches.by_ref().flatten()) {
                    retry_uris.push(file.uri());
                    out.deferred += 1;
                }
            }
        }
    }
    let retry: BTreeSet<String> =
        retry_uris.iter().flat_map(|uri| announced_by.get(uri).cloned().unwrap_or_default()).collect();
    out.retry = retry.into_iter().collect();
    if let Some(e) = failure {
        // Without messages to name, the invocation fails as a whole and is retried.
        if !from_sqs {
            return Err(e);
        }
    }
    out.response = load_response(&out, from_sqs);
    Ok(out)
}

/// Reads candidates back, at most `concurrency` at a time, in the candidates' order.
async fn read_all<S: ObjectStore + 'static, W: Warehouse>(
    loader: &Loader<S, W>,
    layout: &Layout,
    candidates: Vec<Candidate>,
    concurrency: usize,
) -> Vec<(Candidate, Result<ResultFile, PortError>)> {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut reads = tokio::task::JoinSet::new();
    for (i, candidate) in candidates.into_iter().enumerate() {
        let (store, layout, limit) = (loader.store().clone(), layout.clone(), limit.clone());
        reads.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = read_back(store.as_ref(), &layout, &candidate.bucket, &candidate.key).await;
            (i, candidate, result)
        });
    }
    let mut read = Vec::new();
    while let Some(joined) = reads.join_next().await {
        match joined {
            Ok(r) => read.push(r),
            // A read that panicked names no file; its file is found again by the next sweep.
            Err(e) => tracing::error!("reading a result file back failed: {e}"),
        }
    }
    read.sort_by_key(|(i, _, _)| *i);
    read.into_iter().map(|(_, c, r)| (c, r)).collect()
}

fn load_response(out: &LoadInvocation, from_sqs: bool) -> Value {
    if from_sqs {
        json!({ "batchItemFailures": out.retry.iter().map(|id| json!({ "itemIdentifier": id })).collect::<Vec<_>>() })
    } else {
        json!({
            "loaded": out.report.loaded.len(),
            "rejected": out.report.rejected.len() + out.unreadable,
            "already_settled": out.already_settled,
            "deferred": out.deferred,
            "skipped": out.skipped,
            "invalid": out.invalid,
        })
    }
}

/// Whether the payload asks for a sweep: an EventBridge schedule's `Scheduled Event`, or `{"sweep": true}`.
fn is_sweep(payload: &Value) -> bool {
    (payload["source"] == "aws.events" && payload["detail-type"] == "Scheduled Event") || payload["sweep"] == true
}

/// Whether the payload is an SQS batch (its answer is `batchItemFailures`).
fn is_sqs_batch(payload: &Value) -> bool {
    payload["Records"].as_array().is_some_and(|r| r.iter().any(|r| r["eventSource"] == "aws:sqs"))
}

/// The SQS record with this message id.
fn sqs_record<'a>(payload: &'a Value, message_id: &str) -> Option<&'a Value> {
    payload["Records"].as_array()?.iter().find(|r| r["messageId"] == message_id)
}

/// The work a payload holds, every message in it that is not an event kept under `rejected/invalid_event/`
/// (`counted` once for each). A payload that is not one event at all is kept whole and comes back as one invalid
/// message and no work: acknowledged, not retried.
async fn keep_invalid<S: ObjectStore + ?Sized>(
    store: &S,
    layout: &Layout,
    payload: &Value,
    parsed: Result<Normalized, CoreError>,
    fallback_bucket: &str,
    counted: impl Fn(),
) -> Result<Normalized, PortError> {
    let normalized = parsed.unwrap_or_else(|e| Normalized {
        invalid: vec![InvalidMessage { message_id: None, reason: e.to_string() }],
        ..Normalized::default()
    });
    for invalid in &normalized.invalid {
        let message = invalid.message_id.as_deref().and_then(|id| sqs_record(payload, id)).unwrap_or(payload);
        quarantine_invalid(store, layout, invalid, message, fallback_bucket).await?;
        counted();
    }
    Ok(normalized)
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
    let record = json!({
        "reason": ErrorCode::InvalidEvent.as_str(),
        "message": invalid.reason,
        "message_id": invalid.message_id,
        "payload": message,
        "rejected_at": now,
        "pipeline_version": redscribe_core::PIPELINE_VERSION,
    });
    let bucket = layout.bucket_for(fallback_bucket).to_string();
    crate::put_json(store, &bucket, &key, &record).await?;
    tracing::warn!(message_id = invalid.message_id.as_deref(), key, "invalid message quarantined: {}", invalid.reason);
    Ok(())
}
