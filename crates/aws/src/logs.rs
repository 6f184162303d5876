//! CloudWatch Logs as the destination of the pipeline's EMF documents outside Lambda (in Lambda, stdout is already
//! a log stream). Documents are handed to a [`LogShipper`] without waiting: a bounded queue, drained by a task that
//! batches them into `PutLogEvents` calls (at most 10,000 events, 1 MiB counting 26 bytes per event, 24 hours
//! from first to last) with the `x-amzn-logs-format: json/emf` header that makes CloudWatch extract the metrics.
//! Calls are retried as [`RetryPolicy`] says; a batch that still fails is counted and dropped, never retried
//! forever, and a full queue drops the new document rather than blocking the pipeline. The log group and stream
//! are created when missing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_cloudwatchlogs::Client;
use tokio::sync::mpsc;

use crate::retry::RetryPolicy;
use crate::AwsError;

/// Largest number of events in one `PutLogEvents` call.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Largest `PutLogEvents` payload: the sum of the messages' UTF-8 bytes plus [`EVENT_OVERHEAD`] per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Bytes CloudWatch Logs counts for every event besides its message.
pub const EVENT_OVERHEAD: usize = 26;
/// Largest event message.
pub const MAX_EVENT_BYTES: usize = 1_048_576 - EVENT_OVERHEAD;
/// Longest time between the first and last event of one call.
const MAX_BATCH_SPAN_MS: i64 = 24 * 3600 * 1000;

/// One log event: when (milliseconds since the epoch) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

impl LogEvent {
    /// An EMF document as a log event, stamped with the document's own `_aws.Timestamp`.
    pub fn from_emf(document: &serde_json::Value) -> LogEvent {
        LogEvent {
            timestamp_ms: document["_aws"]["Timestamp"].as_i64().unwrap_or_default(),
            message: document.to_string(),
        }
    }
}

/// Where and how the shipper sends.
#[derive(Debug, Clone)]
pub struct ShipperConfig {
    pub log_group: String,
    pub log_stream: String,
    /// Documents waiting to be sent before new ones are dropped.
    pub queue: usize,
    /// Longest wait before a partial batch is sent.
    pub flush_interval: Duration,
    /// Mark the events as EMF (`x-amzn-logs-format: json/emf`).
    pub emf: bool,
    pub retry: RetryPolicy,
}

impl ShipperConfig {
    /// EMF documents to `log_group`, in a stream named after this host and process.
    pub fn emf(log_group: &str) -> ShipperConfig {
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        let host = if host.is_empty() { "redscribe".to_string() } else { host };
        ShipperConfig {
            log_group: log_group.to_string(),
            log_stream: format!("{host}/{}/{}", std::process::id(), chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ")),
            queue: 50_000,
            flush_interval: Duration::from_secs(5),
            emf: true,
            retry: RetryPolicy::default(),
        }
    }
}

/// What a shipper did, when it is closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShipStats {
    /// Events CloudWatch Logs accepted.
    pub sent: u64,
    /// Events given up on: queue full, a batch that failed for good, too large, or not sent before the close
    /// timed out.
    pub dropped: u64,
    /// `PutLogEvents` calls that succeeded.
    pub batches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    /// Accepted by `send`.
    queued: AtomicU64,
    /// Refused by `send` (queue full, too large).
    refused: AtomicU64,
    sent: AtomicU64,
    batches: AtomicU64,
    /// The log group and stream could not be made when the shipper started: the endpoint is not there, and a
    /// close does not wait on it.
    unreachable: std::sync::atomic::AtomicBool,
}

/// How long a close waits for an endpoint that has not answered since the shipper started.
const UNREACHABLE_GRACE: Duration = Duration::from_secs(2);

/// Sends log events to one stream of CloudWatch Logs in the background.
#[derive(Debug)]
pub struct LogShipper {
    tx: mpsc::Sender<LogEvent>,
    task: tokio::task::JoinHandle<()>,
    counters: Arc<Counters>,
}

impl LogShipper {
    /// Starts the sending task on the current Tokio runtime.
    pub fn start(client: Client, config: ShipperConfig) -> LogShipper {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(ship(client, config, rx, counters.clone()));
        LogShipper { tx, task, counters }
    }

    /// A shipper for an SDK configuration (see [`crate::config::load`]); the SDK's own retries are off, as for
    /// every adapter here.
    pub fn from_conf(conf: &aws_config::SdkConfig, config: ShipperConfig) -> LogShipper {
        let conf = aws_sdk_cloudwatchlogs::config::Builder::from(conf)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        LogShipper::start(Client::from_conf(conf), config)
    }

    /// Queues one event without waiting; `false` when it was dropped (the queue is full, or the event is larger
    /// than CloudWatch Logs accepts).
    pub fn send(&self, event: LogEvent) -> bool {
        if event.message.len() > MAX_EVENT_BYTES {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match self.tx.try_send(event) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Sends what is queued and stops, waiting at most `timeout`; what is not sent by then is counted dropped.
    pub async fn close(self, timeout: Duration) -> ShipStats {
        let LogShipper { tx, mut task, counters } = self;
        drop(tx);
        // An endpoint that has not answered since the start gets one short try, not the whole retry budget.
        let timeout =
            if counters.unreachable.load(Ordering::Relaxed) { timeout.min(UNREACHABLE_GRACE) } else { timeout };
        if tokio::time::timeout(timeout, &mut task).await.is_err() {
            task.abort();
            tracing::warn!(log_group_timeout_s = timeout.as_secs(), "CloudWatch Logs: gave up sending at close");
        }
        let sent = counters.sent.load(Ordering::Relaxed);
        // Whatever was queued and not sent failed for good or was still waiting when the close timed out.
        let unsent = counters.queued.load(Ordering::Relaxed).saturating_sub(sent);
        ShipStats {
            sent,
            dropped: counters.refused.load(Ordering::Relaxed) + unsent,
            batches: counters.batches.load(Ordering::Relaxed),
        }
    }
}

/// Splits events into `PutLogEvents` batches, in time order: each within [`MAX_BATCH_EVENTS`], [`MAX_BATCH_BYTES`]
/// and 24 hours.
pub fn batches(mut events: Vec<LogEvent>) -> Vec<Vec<LogEvent>> {
    events.sort_by_key(|e| e.timestamp_ms);
    let mut out: Vec<Vec<LogEvent>> = Vec::new();
    let mut bytes = 0usize;
    for event in events {
        let size = event.message.len() + EVENT_OVERHEAD;
        let full = out.last().is_none_or(|b| {
            b.len() >= MAX_BATCH_EVENTS
                || bytes + size > MAX_BATCH_BYTES
                || event.timestamp_ms - b[0].timestamp_ms > MAX_BATCH_SPAN_MS
        });
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        out.last_mut().expect("a batch is open").push(event);
    }
    out
}

async fn ship(client: Client, config: ShipperConfig, mut rx: mpsc::Receiver<LogEvent>, counters: Arc<Counters>) {
    let mut buffer: Vec<LogEvent> = Vec::new();
    let mut bytes = 0usize;
    // The group and stream first, in one try, while the work runs: whether the endpoint is there is known long
    // before a close (a dead endpoint retried would cost the whole retry budget at exit).
    let once = RetryPolicy { max_attempts: 1, ..config.retry };
    let mut ready = match ensure_stream(&client, &config, &once).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(log_group = %config.log_group, error = %e, "CloudWatch Logs: not reachable; one try per batch until it answers");
            counters.unreachable.store(true, Ordering::Relaxed);
            false
        }
    };
    let mut tick = tokio::time::interval(config.flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // A batch is due when the queue closes, when it is full, or at every tick.
        let (closed, due) = tokio::select! {
            event = rx.recv() => match event {
                Some(event) => {
                    bytes += event.message.len() + EVENT_OVERHEAD;
                    buffer.push(event);
                    (false, buffer.len() >= MAX_BATCH_EVENTS || bytes >= MAX_BATCH_BYTES)
                }
                None => (true, true),
            },
            _ = tick.tick() => (false, true),
        };
        if due && !buffer.is_empty() {
            for batch in batches(std::mem::take(&mut buffer)) {
                let n = batch.len() as u64;
                // An endpoint that did not answer gets one try per batch until it does.
                let unreachable = counters.unreachable.load(Ordering::Relaxed);
                let retry = if unreachable { &once } else { &config.retry };
                let result = async {
                    if !ready {
                        ensure_stream(&client, &config, retry).await?;
                        ready = true;
                    }
                    put(&client, &config, retry, &batch).await
                }
                .await;
                match result {
                    Ok(()) => {
                        counters.sent.fetch_add(n, Ordering::Relaxed);
                        counters.batches.fetch_add(1, Ordering::Relaxed);
                        counters.unreachable.store(false, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(events = n, log_group = %config.log_group, error = %e, "CloudWatch Logs: batch dropped");
                        // The group or stream may have gone: look again before the next batch.
                        ready = false;
                    }
                }
            }
            bytes = 0;
        }
        if closed {
            return;
        }
    }
}

async fn ensure_stream(client: &Client, config: &ShipperConfig, retry: &RetryPolicy) -> Result<(), AwsError> {
    let group = retry.send("CreateLogGroup", || client.create_log_group().log_group_name(&config.log_group).send());
    existing_is_fine(group.await.map(|_| ()))?;
    let stream = retry.send("CreateLogStream", || {
        client.create_log_stream().log_group_name(&config.log_group).log_stream_name(&config.log_stream).send()
    });
    existing_is_fine(stream.await.map(|_| ()))
}

/// A create call that failed because the resource is already there succeeded in what it was for.
fn existing_is_fine(created: Result<(), AwsError>) -> Result<(), AwsError> {
    match created {
        Err(AwsError::Call { service_code: Some(code), .. }) if code == "ResourceAlreadyExistsException" => Ok(()),
        other => other,
    }
}

async fn put(client: &Client, config: &ShipperConfig, retry: &RetryPolicy, batch: &[LogEvent]) -> Result<(), AwsError> {
    let events: Vec<InputLogEvent> = batch
        .iter()
        .map(|e| InputLogEvent::builder().timestamp(e.timestamp_ms).message(&e.message).build())
        .collect::<Result<_, _>>()
        .map_err(|e| AwsError::Config(e.to_string()))?;
    let out = retry
        .send("PutLogEvents", || {
            let call = client
                .put_log_events()
                .log_group_name(&config.log_group)
                .log_stream_name(&config.log_stream)
                .set_log_events(Some(events.clone()))
                .customize();
            let call = if config.emf {
                call.mutate_request(|req| {
                    req.headers_mut().insert("x-amzn-logs-format", "json/emf");
                })
            } else {
                call
            };
            call.send()
        })
        .await?;
    if let Some(rejected) = out.rejected_log_events_info() {
        tracing::warn!(
            too_old_before = rejected.too_old_log_event_end_index(),
            too_new_from = rejected.too_new_log_event_start_index(),
            expired_before = rejected.expired_log_event_end_index(),
            "CloudWatch Logs rejected some events of a batch"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t: i64, len: usize) -> LogEvent {
        LogEvent { timestamp_ms: t, message: "x".repeat(len) }
    }

    #[test]
    fn batches_keep_within_every_limit_and_in_time_order() {
        let many: Vec<LogEvent> = (0..25_000).map(|i| event(i, 10)).collect();
        let split = batches(many);
        assert_eq!(split.iter().map(Vec::len).collect::<Vec<_>>(), [10_000, 10_000, 5_000]);

        let big: Vec<LogEvent> = (0..5).map(|i| event(i, 300_000)).collect();
        let split = batches(big);
        assert_eq!(split.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2]);
        for b in &split {
            assert!(b.iter().map(|e| e.message.len() + EVENT_OVERHEAD).sum::<usize>() <= MAX_BATCH_BYTES);
        }

        let day = MAX_BATCH_SPAN_MS;
        let spread = vec![event(2 * day + 5, 1), event(0, 1), event(day, 1), event(day + 1, 1)];
        let split = batches(spread);
        let times: Vec<Vec<i64>> = split.iter().map(|b| b.iter().map(|e| e.timestamp_ms).collect()).collect();
        assert_eq!(times, [vec![0, day], vec![day + 1], vec![2 * day + 5]]);
    }
}
