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
//! Both run on the one [`crate::driver`]: an invocation is a set of jobs, one per SQS message. Nothing here knows the
//! Lambda runtime: `lambdas/` pass payloads in and answers out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use redscribe_core::events::{normalize, normalize_results, ObjectEvent};
use redscribe_core::layout::Layout;
use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::{Disposition, ErrorCode};
use serde_json::{json, Value};

use crate::driver::{admit, is_sqs_batch, BatchLimits, Driver, DriverConfig, Item, Job, Listener, Retries, Settled};
use crate::load::{LoadReport, Loader};
use crate::pending::{read_back, settled, sweep, Candidate, Unread};
use crate::transcribe::{Processed, ResultFile, TranscribeStage};

/// What processing one event gave: a result (written, or quarantined), or a transient failure to retry.
pub type Outcome = (ObjectEvent, Result<Processed, PortError>);

/// What one invocation did.
#[derive(Debug)]
pub struct Invocation {
    /// The last outcome of each recording (a recording retried within the invocation appears once).
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

/// Jobs by SQS message (`None`: a direct invocation's records), and what they settled as.
#[derive(Default)]
struct Answers {
    outcomes: BTreeMap<(String, String, Option<String>), Outcome>,
    report: LoadReport,
    retry: BTreeMap<Option<String>, PortError>,
}

impl Listener<Option<String>> for Answers {
    fn processed(&mut self, event: &ObjectEvent, outcome: &Result<Processed, PortError>) {
        let key = (event.bucket.clone(), event.key.clone(), event.message_id.clone());
        self.outcomes.insert(key, (event.clone(), outcome.clone()));
    }

    fn loaded(&mut self, report: &LoadReport) {
        self.report.add(report);
    }

    fn settled(&mut self, token: Option<String>, settled: Settled) {
        if let Settled::Retry(e) = settled {
            self.retry.insert(token, e);
        }
    }
}

impl Answers {
    /// The messages to deliver again; `Err` when records of a direct invocation must be (the whole of it).
    fn retry(&self) -> Result<Vec<String>, PortError> {
        if let Some(e) = self.retry.get(&None) {
            return Err(e.clone());
        }
        Ok(self.retry.keys().flatten().cloned().collect())
    }
}

/// Jobs of the objects, one per SQS message (or one for a direct invocation).
fn jobs_by_message(items: Vec<(Option<String>, Item)>) -> Vec<Job<Option<String>>> {
    let mut by: BTreeMap<Option<String>, Vec<Item>> = BTreeMap::new();
    for (message, item) in items {
        by.entry(message).or_default().push(item);
    }
    by.into_iter().map(|(token, items)| Job { token, items }).collect()
}

/// The instant of a deadline given as milliseconds since the Unix epoch (as Lambda's context gives it).
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Instant::now() + Duration::from_millis(deadline_ms).saturating_sub(now)
}

/// How the transcribe function handles one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscribeOptions {
    /// Recordings processed at once.
    pub concurrency: usize,
    /// Receives quarantine records of messages that name no bucket (the configured output bucket wins).
    pub fallback_bucket: String,
    /// When the invocation must have answered, and the function's whole time ([`DriverConfig`]).
    pub deadline: Option<Instant>,
    pub time_limit: Option<Duration>,
    /// A message received this many times (`ApproximateReceiveCount`) is quarantined `retries_exhausted`
    /// unprocessed: keep it below the queue's `maxReceiveCount`, so it never reaches the dead-letter queue.
    pub max_receives: u32,
}

impl TranscribeOptions {
    pub fn new(concurrency: usize, fallback_bucket: &str) -> TranscribeOptions {
        TranscribeOptions {
            concurrency,
            fallback_bucket: fallback_bucket.to_string(),
            deadline: None,
            time_limit: None,
            max_receives: MAX_RECEIVES,
        }
    }
}

/// The default of [`TranscribeOptions::max_receives`] (`REDSCRIBE_MAX_RECEIVES`): three tries, quarantined on
/// the fourth receive; the stack's queue gives up (dead-letter queue) at five.
pub const MAX_RECEIVES: u32 = 4;

/// How many times SQS has delivered each message of a batch (`attributes.ApproximateReceiveCount`).
fn receive_counts(payload: &Value) -> HashMap<String, u32> {
    let records = payload["Records"].as_array().map(Vec::as_slice).unwrap_or_default();
    records
        .iter()
        .filter_map(|r| {
            let id = r["messageId"].as_str()?;
            let count = r["attributes"]["ApproximateReceiveCount"].as_str()?.parse().ok()?;
            Some((id.to_string(), count))
        })
        .collect()
}

/// Handles one payload. An error means a direct invocation must be retried whole. A message SQS has delivered
/// [`TranscribeOptions::max_receives`] times is not processed again: each earlier try ended without an answer
/// (the process crashed, ran out of memory or time) or failed transiently, so its recordings are quarantined
/// `retries_exhausted` and the message acknowledged, while the rest of the batch goes on.
pub async fn transcribe_invocation<S: ObjectStore + 'static>(
    stage: Arc<TranscribeStage<S>>,
    payload: &Value,
    options: &TranscribeOptions,
) -> Result<Invocation, PortError> {
    let (concurrency, fallback_bucket) = (options.concurrency, options.fallback_bucket.as_str());
    let from_sqs = is_sqs_batch(payload);
    let parsed = normalize(payload, stage.layout());
    let normalized = admit(
        stage.store(),
        stage.layout(),
        payload,
        parsed,
        fallback_bucket,
        || stage.record_skipped(),
        || stage.record_invalid(),
    )
    .await?;
    let receives = receive_counts(payload);
    let mut answers = Answers::default();
    let mut items = Vec::new();
    for object in normalized.objects {
        let received = object.message_id.as_ref().and_then(|m| receives.get(m)).copied().unwrap_or(1);
        if received < options.max_receives.max(1) {
            items.push((object.message_id.clone(), Item::Recording(object)));
            continue;
        }
        let message = format!(
            "received {received} times without an answer: every earlier try ended with the process (a crash, a \
             timeout, out of memory) or failed transiently; see the function's logs for the recording's key"
        );
        tracing::error!(bucket = %object.bucket, key = %object.key, received, "quarantined after repeated receives");
        let outcome = stage.quarantine(&object, received, ErrorCode::RetriesExhausted, &message).await;
        if let Err(e) = &outcome {
            answers.retry.insert(object.message_id.clone(), e.clone());
        }
        answers.processed(&object, &outcome);
    }
    let config = DriverConfig {
        concurrency,
        deadline: options.deadline,
        time_limit: options.time_limit,
        ..DriverConfig::default()
    };
    Driver::transcribing(stage, config).run_all(jobs_by_message(items), &mut answers).await;
    let retry = answers.retry()?;
    let mut invocation = Invocation {
        skipped: normalized.skipped.len(),
        invalid: normalized.invalid.len(),
        outcomes: answers.outcomes.into_values().collect(),
        retry,
        response: Value::Null,
    };
    let (written, quarantined) = invocation.counts();
    invocation.response = if from_sqs {
        batch_item_failures(&invocation.retry)
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
pub async fn load_invocation<S: ObjectStore + 'static, W: Warehouse + 'static>(
    loader: &Arc<Loader<S, W>>,
    payload: &Value,
    deadline: Option<Instant>,
    limits: &LoadLimits,
    bucket: &str,
) -> Result<LoadInvocation, PortError> {
    let from_sqs = is_sqs_batch(payload);
    let mut out = LoadInvocation::default();
    let candidates = candidates(loader, payload, limits, bucket, &mut out).await?;
    if candidates.is_empty() {
        // Nothing announced or found: no call to the warehouse.
        out.response = load_response(&out, from_sqs);
        return Ok(out);
    }
    let (items, unread) = read_candidates(loader, candidates, limits, &mut out).await?;
    let config = DriverConfig {
        batch: limits.batch,
        deadline,
        margin: limits.margin,
        retries: Retries::BRIEF,
        ..DriverConfig::default()
    };
    let mut answers = Answers::default();
    for message in unread {
        answers
            .retry
            .insert(message, PortError::new(ErrorCode::ServiceUnavailable, "reading a result file back failed"));
    }
    let jobs = jobs_by_message(items);
    let files_of: HashMap<Option<String>, usize> = jobs.iter().map(|j| (j.token.clone(), j.items.len())).collect();
    Driver::loading(loader.clone(), config).run_all(jobs, &mut answers).await;
    out.deferred += answers.retry.keys().filter_map(|m| files_of.get(m)).sum::<usize>();
    out.report = std::mem::take(&mut answers.report);
    match answers.retry() {
        Ok(retry) => out.retry = retry,
        // What a sweep left over, the next sweep finds.
        Err(_) if is_sweep(payload) => {}
        // Without messages to name, the invocation fails as a whole and is retried.
        Err(e) => return Err(e),
    }
    out.response = load_response(&out, from_sqs);
    Ok(out)
}

/// The result files a payload announces (or a sweep finds), each once, less those `load_audit` has settled.
async fn candidates<S: ObjectStore + 'static, W: Warehouse>(
    loader: &Loader<S, W>,
    payload: &Value,
    limits: &LoadLimits,
    bucket: &str,
    out: &mut LoadInvocation,
) -> Result<Vec<Candidate>, PortError> {
    let layout = loader.config().layout.clone();
    let mut candidates = if is_sweep(payload) {
        let swept = layout.bucket_for(bucket);
        if swept.is_empty() {
            return Err(PortError::new(ErrorCode::Internal, "a sweep needs S3_BUCKET or REDSCRIBE_OUTPUT_BUCKET"));
        }
        sweep(loader.store().as_ref(), &layout, swept, Utc::now().date_naive(), limits.sweep_days).await?
    } else {
        let parsed = normalize_results(payload, &layout);
        let store = loader.store().as_ref();
        let normalized = admit(store, &layout, payload, parsed, bucket, || {}, || loader.record_invalid()).await?;
        out.invalid = normalized.invalid.len();
        out.skipped = normalized.skipped.len();
        normalized
            .objects
            .into_iter()
            .map(|o| Candidate { bucket: o.bucket, key: o.key, message_id: o.message_id })
            .collect()
    };
    if candidates.is_empty() {
        return Ok(candidates);
    }
    loader.ensure_schema().await?;
    let mut uris: Vec<String> = candidates.iter().map(Candidate::uri).collect();
    uris.sort();
    uris.dedup();
    let done = settled(loader.warehouse(), &loader.config().tables.audit, &uris).await?;
    out.already_settled = done.len();
    candidates.retain(|c| !done.contains(&c.uri()));
    Ok(candidates)
}

/// Reads each candidate back once (however many messages announced it) into the items of its messages. A file
/// that is not a result file is quarantined; the messages of one that could not be read for now come back in
/// the second list, to be retried.
async fn read_candidates<S: ObjectStore + 'static, W: Warehouse>(
    loader: &Loader<S, W>,
    candidates: Vec<Candidate>,
    limits: &LoadLimits,
    out: &mut LoadInvocation,
) -> Result<(Vec<(Option<String>, Item)>, BTreeSet<Option<String>>), PortError> {
    let layout = loader.config().layout.clone();
    let mut announced_by: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    let mut unique = Vec::new();
    for c in candidates {
        let by = announced_by.entry(c.uri()).or_default();
        if by.is_empty() {
            unique.push(c.clone());
        }
        by.push(c.message_id);
    }
    let mut items = Vec::new();
    let mut unread = BTreeSet::new();
    for (candidate, result) in read_all(loader, &layout, unique, limits.read_concurrency).await {
        let messages = announced_by.remove(&candidate.uri()).unwrap_or_default();
        match result {
            Ok(file) => items.extend(messages.into_iter().map(|m| (m, Item::Result(file.clone())))),
            Err(Unread { error, recording }) if error.code.disposition() == Disposition::Quarantine => {
                loader.quarantine_unreadable(&candidate.bucket, &candidate.key, &error.message, recording).await?;
                out.unreadable += 1;
            }
            Err(Unread { error: e, .. }) => {
                tracing::warn!(file = %candidate.uri(), code = e.code.as_str(), "reading the result file failed: {}", e.message);
                out.deferred += 1;
                unread.extend(messages);
            }
        }
    }
    Ok((items, unread))
}

/// Reads candidates back, at most `concurrency` at a time, in the candidates' order.
async fn read_all<S: ObjectStore + 'static, W: Warehouse>(
    loader: &Loader<S, W>,
    layout: &Layout,
    candidates: Vec<Candidate>,
    concurrency: usize,
) -> Vec<(Candidate, Result<ResultFile, Unread>)> {
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

fn batch_item_failures(retry: &[String]) -> Value {
    json!({ "batchItemFailures": retry.iter().map(|id| json!({ "itemIdentifier": id })).collect::<Vec<_>>() })
}

fn load_response(out: &LoadInvocation, from_sqs: bool) -> Value {
    if from_sqs {
        batch_item_failures(&out.retry)
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
