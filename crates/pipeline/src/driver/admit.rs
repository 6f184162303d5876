//! Admission: what the driver does first with every delivery, whoever sent it. A notification is normalised by
//! the core; every record that needs no work is logged with its reason and counted; every message that is not an
//! event is kept under `rejected/invalid_event/` (acknowledged, never retried, never lost); an SQS message
//! received [`super::DriverConfig::max_receives`] times has its recordings quarantined `retries_exhausted`
//! unprocessed. On the load side, result files `load_audit` already settled are dropped and the rest read back
//! (a file that is not a result file quarantined, one that cannot be read for now left to be delivered again).
//!
//! What comes out is the delivery's units — one per SQS message, or one for records that came in none — each with
//! its work, or with the failure that leaves it to be delivered again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Utc;
use redscribe_core::events::{filter_listed, normalize, normalize_results, InvalidMessage, Normalized, ObjectEvent};
use redscribe_core::identity::recording_id;
use redscribe_core::layout::Layout;
use redscribe_core::metrics::Stage;
use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::quarantine::QuarantineRecord;
use redscribe_core::{Disposition, ErrorCode};
use serde_json::Value;

use super::{Delivery, Driver, Item};
use crate::load::Loader;
use crate::pending::{read_back, settled, Candidate, Unread};
use crate::quarantine::QuarantineSink;
use crate::transcribe::{Attempts, ResultFile};

/// What admitting deliveries found that needs no work, in numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Admitted {
    /// Recordings to process.
    pub recordings: usize,
    /// Records acknowledged without processing (test events, folder markers, the pipeline's own outputs,
    /// duplicates, announcements that are not result files).
    pub skipped: usize,
    /// Messages that were not events, kept under `rejected/invalid_event/`.
    pub invalid: usize,
    /// Result files `load_audit` had already settled (loaded or quarantined).
    pub already_settled: usize,
    /// Result files that could not be read back as one, quarantined.
    pub unreadable: usize,
    /// Recordings a redelivered message names that an earlier try finished: acknowledged, not done twice.
    pub already_done: usize,
    /// Result files read back, to load (each once, however many messages announced it).
    pub to_load: usize,
    /// Result files whose read failed for now: left to be delivered again.
    pub unread: usize,
}

impl Admitted {
    pub fn add(&mut self, other: &Admitted) {
        self.recordings += other.recordings;
        self.skipped += other.skipped;
        self.invalid += other.invalid;
        self.already_settled += other.already_settled;
        self.unreadable += other.unreadable;
        self.to_load += other.to_load;
        self.unread += other.unread;
    }
}

/// A unit of a delivery: its work, and why it must be delivered again (its other items still run).
#[derive(Debug, Default)]
pub(super) struct Unit {
    pub items: Vec<Item>,
    pub failure: Option<PortError>,
    /// How often its recordings already took the process down ([`Attempts::unanswered`]): units run least
    /// suspect first, so a poison recording's batch-mates are done before it can crash the process again.
    pub suspicion: u32,
}

/// A delivery, admitted.
#[derive(Debug, Default)]
pub(super) struct Admission {
    /// By SQS message (`None`: records that came in no message).
    pub units: BTreeMap<Option<String>, Unit>,
    /// Recordings settled while being admitted (quarantined after too many receives).
    pub outcomes: Vec<super::Outcome>,
    pub counts: Admitted,
}

impl Admission {
    fn unit(&mut self, message: Option<String>) -> &mut Unit {
        self.units.entry(message).or_default()
    }
}

impl<S: ObjectStore + 'static, W: Warehouse + 'static> Driver<S, W> {
    /// Admits one delivery. `Err`: nothing of it can be settled now (a quarantine record or the warehouse could
    /// not be written or read); the whole delivery is tried again. Admitting again is harmless: records are
    /// named by what they keep, and result files are checked against `load_audit` each time.
    pub(super) async fn admit(&self, delivery: &Delivery) -> Result<Admission, PortError> {
        let mut admission = Admission::default();
        match (delivery, &self.stage, &self.loader) {
            (Delivery::Notification(payload), Some(stage), _) => {
                let normalized = self.admit_notification(payload, stage.layout(), stage.quarantine_sink()).await?;
                admission.counts.skipped = normalized.skipped.len();
                admission.counts.invalid = normalized.invalid.len();
                let receives = receive_counts(payload);
                for object in normalized.objects {
                    let received = object.message_id.as_ref().and_then(|m| receives.get(m)).copied().unwrap_or(1);
                    // A first delivery has no history; a redelivery's is in the recording's attempt markers.
                    let marks = if received > 1 && object.message_id.is_some() {
                        Attempts::read(stage.store(), stage.layout(), &object).await?
                    } else {
                        Attempts::default()
                    };
                    self.admit_recording(&mut admission, object, received, marks).await;
                }
                for _ in 0..admission.counts.skipped {
                    stage.record_skipped();
                }
                for _ in 0..admission.counts.invalid {
                    stage.record_invalid();
                }
            }
            (Delivery::Notification(payload), None, Some(loader)) => {
                let layout = loader.config().layout.clone();
                let normalized = self.admit_notification(payload, &layout, loader.quarantine_sink()).await?;
                admission.counts.skipped = normalized.skipped.len();
                admission.counts.invalid = normalized.invalid.len();
                let candidates = normalized
                    .objects
                    .into_iter()
                    .map(|o| Candidate {
                        size: o.object.size.and_then(|s| u64::try_from(s).ok()),
                        etag: o.object.etag,
                        bucket: o.object.bucket,
                        key: o.object.key,
                        message_id: o.message_id,
                    })
                    .collect();
                self.admit_results(loader, candidates, &mut admission).await?;
                for _ in 0..admission.counts.invalid {
                    loader.record_invalid();
                }
            }
            (Delivery::Objects(objects), Some(stage), _) => {
                let filtered = filter_listed(objects.clone(), stage.layout());
                log_skipped(&filtered);
                admission.counts.skipped = filtered.skipped.len();
                admission.unit(None).items.extend(filtered.objects.into_iter().map(Item::Recording));
                for _ in 0..admission.counts.skipped {
                    stage.record_skipped();
                }
            }
            (Delivery::Results(candidates), _, Some(loader)) => {
                self.admit_results(loader, candidates.clone(), &mut admission).await?;
            }
            // Work this driver cannot do is a wiring bug: the delivery is handed back rather than lost.
            _ => return Err(PortError::new(ErrorCode::Internal, "this driver has no stage for the delivery")),
        }
        admission.counts.recordings =
            admission.units.values().flat_map(|u| &u.items).filter(|i| matches!(i, Item::Recording(_))).count();
        Ok(admission)
    }

    /// Normalises a payload (recordings with a transcribe stage, result files without one), logs what it skips
    /// and keeps every message that is not an event. A payload that is not one event at all is kept whole and
    /// comes back as one invalid message and no work.
    async fn admit_notification(
        &self,
        payload: &Value,
        layout: &Layout,
        sink: &dyn QuarantineSink,
    ) -> Result<Normalized, PortError> {
        let parsed = if self.stage.is_some() { normalize(payload, layout) } else { normalize_results(payload, layout) };
        let normalized = parsed.unwrap_or_else(|e| Normalized {
            invalid: vec![InvalidMessage { message_id: None, reason: e.to_string() }],
            ..Normalized::default()
        });
        log_skipped(&normalized);
        for message in &normalized.invalid {
            let body = message.message_id.as_deref().and_then(|id| sqs_record(payload, id)).unwrap_or(payload);
            quarantine_invalid(sink, layout, message, body, &self.config.fallback_bucket).await?;
        }
        Ok(normalized)
    }

    /// The receive-count policy, per recording: SQS counts receives per message, and a process that dies returns
    /// every message of its batch, so what each recording did is read from its attempt markers. A recording an
    /// earlier try finished is acknowledged, not done again; one whose processing started `max_receives - 1`
    /// times and never answered (each start ended with the process: a crash, out of memory, the timeout) — or
    /// whose message is on its `max_receives`-th receive after as many transient failures — is quarantined
    /// `retries_exhausted` unprocessed; the rest run, least suspect first.
    async fn admit_recording(&self, admission: &mut Admission, object: ObjectEvent, received: u32, marks: Attempts) {
        let max = self.config.max_receives.max(1);
        if marks.finished {
            tracing::info!(key = %object.object.key, received, "finished by an earlier try; not done again");
            admission.counts.already_done += 1;
            admission.unit(object.message_id.clone());
        } else if received > 1 && marks.unanswered >= max - 1 {
            let why = format!(
                "its processing started {} times and never answered: each try ended with the process (a crash, a \
                 timeout, out of memory); see the function's logs for the recording's key",
                marks.unanswered
            );
            self.poison(admission, object, received, why).await;
        } else if received >= max && marks.failed >= max - 1 {
            let why = format!("received {received} times, and each of its {} tries failed transiently", marks.failed);
            self.poison(admission, object, received, why).await;
        } else {
            let unit = admission.unit(object.message_id.clone());
            unit.suspicion = unit.suspicion.max(marks.unanswered);
            unit.items.push(Item::Recording(object));
        }
    }

    /// Quarantines a recording `retries_exhausted` unprocessed and acknowledges its message, while the rest of
    /// the batch goes on.
    async fn poison(&self, admission: &mut Admission, event: ObjectEvent, received: u32, message: String) {
        let Some(stage) = &self.stage else { return };
        tracing::error!(bucket = %event.object.bucket, key = %event.object.key, received, "quarantined after repeated receives: {message}");
        let outcome = stage.quarantine(&event, received, ErrorCode::RetriesExhausted, &message).await;
        let unit = admission.unit(event.message_id.clone());
        if let Err(e) = &outcome {
            unit.failure.get_or_insert(e.clone());
        }
        admission.outcomes.push((event, outcome));
    }

    /// Result files to load: each once (however many messages announced it), less what `load_audit` settled, read
    /// back into the items of the messages that announced it.
    async fn admit_results(
        &self,
        loader: &Arc<Loader<S, W>>,
        candidates: Vec<Candidate>,
        admission: &mut Admission,
    ) -> Result<(), PortError> {
        // Every message gets its unit, so that one whose files are all settled is acknowledged.
        for c in &candidates {
            admission.unit(c.message_id.clone());
        }
        if candidates.is_empty() {
            // Nothing announced or found: no call to the warehouse.
            return Ok(());
        }
        let deadline = self.config.deadline;
        loader.ensure_schema(deadline).await?;
        // Every announcement of each file, the first of each to be read.
        let mut announced: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
        for c in candidates {
            announced.entry(c.uri()).or_default().push(c);
        }
        let mut unique: Vec<Candidate> = announced.values().map(|all| all[0].clone()).collect();
        let uris: Vec<String> = announced.keys().cloned().collect();
        let audited = settled(loader.warehouse(), &loader.config().tables.audit, &uris, deadline).await?;
        // Settled when every announced version of its bytes is: the same key written again (the same recording
        // version processed again) is another file, and the table then follows the file.
        let is_settled = |uri: &String| {
            let Some(rows) = audited.get(uri) else { return false };
            announced[uri].iter().all(|c| c.etag.is_none() || rows.iter().any(|r| r.is_none() || *r == c.etag))
        };
        let done: Vec<String> = uris.iter().filter(|u| is_settled(u)).cloned().collect();
        admission.counts.already_settled = done.len();
        unique.retain(|c| !done.contains(&c.uri()));
        let layout = loader.config().layout.clone();
        for (candidate, result) in read_all(loader, &layout, unique, self.config.read_concurrency).await {
            let messages: Vec<Option<String>> =
                announced.remove(&candidate.uri()).unwrap_or_default().into_iter().map(|c| c.message_id).collect();
            match result {
                Ok(file) => {
                    admission.counts.to_load += 1;
                    for m in messages {
                        admission.unit(m).items.push(Item::Result(file.clone()));
                    }
                }
                Err(Unread { error, recording }) if error.code.disposition() == Disposition::Quarantine => {
                    let (bucket, key) = (&candidate.bucket, &candidate.key);
                    loader.quarantine_unreadable(bucket, key, &error.message, recording, deadline).await?;
                    admission.counts.unreadable += 1;
                }
                Err(Unread { error: e, .. }) => {
                    tracing::warn!(file = %candidate.uri(), code = e.code.as_str(), "reading the result file failed: {}", e.message);
                    admission.counts.unread += 1;
                    for m in messages {
                        admission.unit(m).failure.get_or_insert(e.clone());
                    }
                }
            }
        }
        Ok(())
    }
}

fn log_skipped(normalized: &Normalized) {
    for s in &normalized.skipped {
        tracing::info!(
            reason = s.reason.as_str(),
            bucket = s.bucket.as_deref(),
            key = s.key.as_deref(),
            "record skipped"
        );
    }
}

/// Reads candidates back, at most `concurrency` at a time, in the candidates' order. A read that panicked is a
/// failure of its file like any other (its messages are delivered again), not a file forgotten.
async fn read_all<S: ObjectStore + 'static, W: Warehouse>(
    loader: &Loader<S, W>,
    layout: &Layout,
    candidates: Vec<Candidate>,
    concurrency: usize,
) -> Vec<(Candidate, Result<ResultFile, Unread>)> {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut reads = tokio::task::JoinSet::new();
    let mut reading = HashMap::new();
    for (i, candidate) in candidates.into_iter().enumerate() {
        let (store, layout, limit) = (loader.store().clone(), layout.clone(), limit.clone());
        let c = candidate.clone();
        let handle = reads.spawn(async move {
            let _permit = limit.acquire_owned().await;
            read_back(store.as_ref(), &layout, &c).await
        });
        reading.insert(handle.id(), (i, candidate));
    }
    let mut read = Vec::new();
    while let Some(joined) = reads.join_next_with_id().await {
        let (id, result) = match joined {
            Ok((id, result)) => (id, result),
            Err(e) => {
                let message = format!("reading the result file back crashed: {e}");
                tracing::error!("{message}");
                (e.id(), Err(Unread::from(PortError::new(ErrorCode::Internal, message))))
            }
        };
        if let Some((i, candidate)) = reading.remove(&id) {
            read.push((i, candidate, result));
        }
    }
    read.sort_by_key(|(i, _, _)| *i);
    read.into_iter().map(|(_, c, r)| (c, r)).collect()
}

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

/// Whether the payload is an SQS batch (its answer is `batchItemFailures`).
pub fn is_sqs_batch(payload: &Value) -> bool {
    payload["Records"].as_array().is_some_and(|r| r.iter().any(|r| r["eventSource"] == "aws:sqs"))
}

/// The SQS record with this message id.
fn sqs_record<'a>(payload: &'a Value, message_id: &str) -> Option<&'a Value> {
    payload["Records"].as_array()?.iter().find(|r| r["messageId"] == message_id)
}

/// Keeps a message that is not an event under `rejected/invalid_event/`, whole, with the reason.
async fn quarantine_invalid(
    sink: &dyn QuarantineSink,
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
    sink.keep(&bucket, &key, &record).await?;
    tracing::warn!(message_id = invalid.message_id.as_deref(), key, "invalid message quarantined: {}", invalid.reason);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn receive_counts_come_from_each_records_attributes() {
        let payload = json!({"Records": [
            {"eventSource": "aws:sqs", "messageId": "a", "attributes": {"ApproximateReceiveCount": "3"}},
            {"eventSource": "aws:sqs", "messageId": "b", "attributes": {}},
            {"eventSource": "aws:sqs", "messageId": "c", "attributes": {"ApproximateReceiveCount": "x"}},
        ]});
        assert_eq!(receive_counts(&payload), HashMap::from([("a".to_string(), 3)]));
        assert!(is_sqs_batch(&payload));
        assert!(!is_sqs_batch(&json!({"Records": [{"eventSource": "aws:s3"}]})));
        assert_eq!(sqs_record(&payload, "b").unwrap()["messageId"], "b");
        assert!(sqs_record(&payload, "z").is_none());
    }

    #[tokio::test]
    async fn an_invalid_message_is_kept_whole_by_its_message_id() {
        let sink = crate::quarantine::MemorySink::default();
        let invalid = InvalidMessage { message_id: Some("m-1".into()), reason: "SQS body is not JSON".into() };
        let message = json!({"messageId": "m-1", "body": "not json"});
        quarantine_invalid(&sink, &Layout::default(), &invalid, &message, "fallback").await.unwrap();
        quarantine_invalid(&sink, &Layout::default(), &invalid, &message, "fallback").await.unwrap();
        let kept = sink.kept();
        assert_eq!(kept.len(), 1, "a redelivery overwrites its own record");
        let (bucket, key, record) = &kept[0];
        assert_eq!(bucket, "fallback");
        assert!(key.starts_with("rejected/invalid_event/"), "{key}");
        assert_eq!(record.payload.as_ref(), Some(&message));
        assert_eq!(record.message_id.as_deref(), Some("m-1"));
    }
}
