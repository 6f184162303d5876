//! The two Lambda front ends: a payload in, the function's answer out. Each is a source (the payload, or for a
//! sweep the results prefixes listed) and an acknowledgement (the answer); admitting, processing, loading,
//! retrying and settling are the one [`crate::driver`]'s, as for every other front end.
//!
//! [`transcribe_invocation`]: whatever the trigger — S3 directly, SQS, SNS in SQS, or EventBridge. An SQS batch
//! gets `batchItemFailures` naming only the messages worth retrying (transient failures), so a permanently bad
//! recording is quarantined and acknowledged instead of retried until the dead-letter queue. A direct invocation
//! that hit a transient failure fails as a whole, and Lambda's own retries deliver it again (processing is
//! idempotent).
//!
//! [`load_invocation`]: result files announced by S3 notifications of the results prefix (SQS or EventBridge), or
//! swept from the last days' prefixes on a schedule; loaded in batches while the invocation has time for another.
//! Files left over are retried (SQS) or found by the next sweep. The function is the table's one writer
//! (reserved concurrency 1).
//!
//! Nothing here knows the Lambda runtime: `lambdas/` pass payloads in and answers out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::ErrorCode;
use serde_json::{json, Value};

use crate::driver::{is_sqs_batch, BatchLimits, Delivery, Driver, DriverConfig, Job, Report, Retries};
use crate::load::Loader;
use crate::pending::sweep;
use crate::transcribe::TranscribeStage;

/// What one invocation did, and what the function answers.
#[derive(Debug)]
pub struct Invocation {
    pub report: Report<()>,
    pub response: Value,
}

/// The instant of a deadline given as milliseconds since the Unix epoch (as Lambda's context gives it).
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Instant::now() + Duration::from_millis(deadline_ms).saturating_sub(now)
}

/// Handles one payload of the transcribe function, run by a driver configured with `config` (the function's
/// concurrency, the invocation's deadline, its time limit, the receive-count bound and the bucket of records of
/// messages that name none). An error means a direct invocation must be retried whole.
pub async fn transcribe_invocation<S: ObjectStore + 'static>(
    stage: Arc<TranscribeStage<S>>,
    payload: &Value,
    config: DriverConfig,
) -> Result<Invocation, PortError> {
    let mut report = Report::default();
    let job = Job { token: (), delivery: Delivery::Notification(payload.clone()) };
    Driver::transcribing(stage, config).run_all(vec![job], &mut report).await;
    let response = if is_sqs_batch(payload) {
        batch_item_failures(&report.retry_messages()?)
    } else {
        report.retry_messages()?;
        json!({
            "processed": report.written(),
            "quarantined": report.quarantined().values().sum::<usize>(),
            "skipped": report.admitted.skipped,
            "invalid": report.admitted.invalid,
        })
    };
    Ok(Invocation { report, response })
}

/// How the load function bounds one invocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadLimits {
    pub batch: BatchLimits,
    /// Days of results prefixes a sweep lists: today and the days before it (UTC).
    pub sweep_days: u32,
    /// No batch starts with less time left than this, or than 1.5× the longest batch of the invocation so far.
    pub margin: Duration,
    /// Rows processed more than this many days ago are purged by each sweep (`ResultRetentionDays`); `None`: kept.
    pub retention_days: Option<u32>,
}

impl Default for LoadLimits {
    fn default() -> LoadLimits {
        LoadLimits {
            batch: BatchLimits::default(),
            sweep_days: 2,
            margin: Duration::from_secs(30),
            retention_days: None,
        }
    }
}

/// Handles one payload of the load function. `bucket` is swept and receives quarantine records of messages that
/// name none (the layout's output bucket wins). An error means the invocation failed as a whole and is retried
/// (for SQS: the whole batch comes back).
pub async fn load_invocation<S: ObjectStore + 'static, W: Warehouse + 'static>(
    loader: &Arc<Loader<S, W>>,
    payload: &Value,
    deadline: Option<Instant>,
    limits: &LoadLimits,
    bucket: &str,
) -> Result<Invocation, PortError> {
    let swept = is_sweep(payload);
    let delivery = if swept {
        let layout = &loader.config().layout;
        let bucket = layout.bucket_for(bucket);
        if bucket.is_empty() {
            return Err(PortError::new(ErrorCode::Internal, "a sweep needs S3_BUCKET or REDSCRIBE_OUTPUT_BUCKET"));
        }
        let today = Utc::now().date_naive();
        Delivery::Results(sweep(loader.store().as_ref(), layout, bucket, today, limits.sweep_days).await?)
    } else {
        Delivery::Notification(payload.clone())
    };
    let config = DriverConfig {
        batch: limits.batch,
        deadline,
        margin: limits.margin,
        retries: Retries::BRIEF,
        fallback_bucket: bucket.to_string(),
        ..DriverConfig::default()
    };
    let mut report = Report::default();
    Driver::loading(loader.clone(), config).run_all(vec![Job { token: (), delivery }], &mut report).await;
    // The result retention, on the schedule: lifecycle expiry of the files raises no event the rows could follow.
    // The sweeps of the first hour of each UTC day purge (a few a day, not every sweep: each statement on
    // Redshift Serverless is billed at least a minute), or a sweep that asks (`{"sweep": true, "purge": true}`).
    let mut purged_before = None;
    let purge_now = payload["purge"] == true || Utc::now().hour() == 0;
    if let (true, true, Some(days)) = (swept, purge_now, limits.retention_days) {
        match loader.purge_until(days, deadline).await {
            Ok(cutoff) => purged_before = Some(cutoff.to_rfc3339()),
            // The next sweep purges what this one could not.
            Err(e) => tracing::warn!(code = e.code.as_str(), "retention purge left for the next sweep: {}", e.message),
        }
    }
    let retry = match report.retry_messages() {
        Ok(retry) => retry,
        // What a sweep left over, the next sweep finds.
        Err(_) if swept => Vec::new(),
        // Without messages to name, the invocation fails as a whole and is retried.
        Err(e) => return Err(e),
    };
    let mut response = if is_sqs_batch(payload) {
        batch_item_failures(&retry)
    } else {
        json!({
            "loaded": report.load.loaded.len(),
            "rejected": report.load.rejected.len() + report.admitted.unreadable,
            "superseded": report.load.superseded.len(),
            "already_settled": report.admitted.already_settled,
            "deferred": deferred(&report),
            "skipped": report.admitted.skipped,
            "invalid": report.admitted.invalid,
        })
    };
    // Said only by a sweep that purged (the cutoff it used).
    if let (Some(cutoff), Some(fields)) = (purged_before, response.as_object_mut()) {
        fields.insert("purged_before".into(), json!(cutoff));
    }
    Ok(Invocation { report, response })
}

/// Result files left for later: not read back for now, or read back and neither loaded nor refused (no time for
/// another batch, or a batch failed transiently).
pub fn deferred<T>(report: &Report<T>) -> usize {
    let settled = report.load.loaded.len() + report.load.rejected.len() + report.load.superseded.len();
    report.admitted.unread + report.admitted.to_load.saturating_sub(settled)
}

fn batch_item_failures(retry: &[String]) -> Value {
    json!({ "batchItemFailures": retry.iter().map(|id| json!({ "itemIdentifier": id })).collect::<Vec<_>>() })
}

/// Whether the payload asks for a sweep: an EventBridge schedule's `Scheduled Event`, or `{"sweep": true}`.
fn is_sweep(payload: &Value) -> bool {
    (payload["source"] == "aws.events" && payload["detail-type"] == "Scheduled Event") || payload["sweep"] == true
}
