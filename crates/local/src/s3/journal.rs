//! A durable log of S3 event notifications with acknowledgements (at-least-once delivery, like S3 → SQS).
//!
//! `events.jsonl` holds one line per event (`{"seq":…,"event":{…}}`), appended and flushed to disk before the
//! upload's response is sent; `acks.jsonl` holds one line per acknowledged sequence number. On open, every event
//! without an acknowledgement is queued for delivery again, and a line torn by a crash is dropped ([`super::lines`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use redscribe_core::events::encode_key;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::lines;
use crate::LocalError;

/// One event handed to the subscriber: a complete S3 event notification with one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Journal sequence number; pass it to [`EventJournal::ack`] once the event is handled.
    pub seq: u64,
    /// The S3 event notification, as S3 would send it.
    pub event: Value,
}

/// Every delivery `events` holds now, without waiting: what a one-shot run takes, and what a test looks at.
pub fn drain(events: &mut mpsc::UnboundedReceiver<Delivery>) -> Vec<Delivery> {
    let mut out = Vec::new();
    while let Ok(d) = events.try_recv() {
        out.push(d);
    }
    out
}

/// What an upload (or a deletion: `ObjectRemoved:*`, no size or ETag) produced, for its event.
#[derive(Debug, Clone)]
pub struct ObjectCreated {
    pub event_name: &'static str,
    pub bucket: String,
    pub key: String,
    pub size: i64,
    pub etag: String,
    pub version_id: Option<String>,
    pub time: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct AckLine {
    ack: u64,
}

struct State {
    events: File,
    acks: File,
    next_seq: u64,
    unacked: BTreeMap<u64, Value>,
}

/// The journal. Cheap to share behind an `Arc`.
pub struct EventJournal {
    dir: PathBuf,
    region: String,
    state: Mutex<State>,
    /// Group commit: the highest sequence number known to be on disk, and a handle to sync `events.jsonl` with
    /// outside the state lock, so uploads in flight share one `fsync` instead of queueing for one each.
    synced: Mutex<u64>,
    events_sync: File,
    tx: mpsc::UnboundedSender<Delivery>,
}

impl EventJournal {
    /// Opens (or creates) the journal in `dir`; the receiver first yields every unacknowledged event.
    pub fn open(dir: &Path, region: &str) -> Result<(EventJournal, mpsc::UnboundedReceiver<Delivery>), LocalError> {
        std::fs::create_dir_all(dir).map_err(LocalError::io(dir))?;
        let events_path = dir.join("events.jsonl");
        let acks_path = dir.join("acks.jsonl");
        // A torn last line of either file is an append that never completed: its upload (or acknowledgement)
        // was never answered either. `lines::open` drops it, so the next append starts a line of its own.
        let (deliveries, events) = lines::open::<Delivery>(&events_path)?;
        let (acked, acks) = lines::open::<AckLine>(&acks_path)?;
        let mut unacked = BTreeMap::new();
        let mut next_seq = 1;
        for d in deliveries {
            next_seq = next_seq.max(d.seq + 1);
            unacked.insert(d.seq, d.event);
        }
        for a in acked {
            unacked.remove(&a.ack);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        for (&seq, event) in &unacked {
            let _ = tx.send(Delivery { seq, event: event.clone() });
        }
        let events_sync = events.try_clone().map_err(LocalError::io(&events_path))?;
        let state = State { events, acks, next_seq, unacked };
        let journal = EventJournal {
            dir: dir.into(),
            region: region.into(),
            state: Mutex::new(state),
            synced: Mutex::new(next_seq - 1),
            events_sync,
            tx,
        };
        Ok((journal, rx))
    }

    /// Folder of the journal files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records an event durably, then hands it to the subscriber. Returns its sequence number.
    pub fn record(&self, created: &ObjectCreated) -> Result<u64, LocalError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let seq = state.next_seq;
        let event = self.notification(seq, created);
        let path = self.dir.join("events.jsonl");
        lines::write(&mut state.events, &Delivery { seq, event: event.clone() }).map_err(LocalError::io(&path))?;
        state.next_seq += 1;
        state.unacked.insert(seq, event.clone());
        drop(state);
        self.sync_through(seq)?;
        // A closed receiver is fine: the event stays in the journal and is delivered on the next open.
        let _ = self.tx.send(Delivery { seq, event });
        Ok(seq)
    }

    /// Returns once the event `seq` is on disk: one `fsync` covers every line written before it started.
    fn sync_through(&self, seq: u64) -> Result<(), LocalError> {
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if *synced >= seq {
            return Ok(());
        }
        let written = self.state.lock().unwrap_or_else(|p| p.into_inner()).next_seq - 1;
        self.events_sync.sync_data().map_err(LocalError::io(&self.dir.join("events.jsonl")))?;
        *synced = written;
        Ok(())
    }

    /// Marks an event handled; it will not be delivered again.
    pub fn ack(&self, seq: u64) -> Result<(), LocalError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.unacked.remove(&seq).is_none() {
            return Ok(());
        }
        let path = self.dir.join("acks.jsonl");
        lines::append(&mut state.acks, &AckLine { ack: seq }).map_err(LocalError::io(&path))
    }

    /// Events recorded and not yet acknowledged.
    pub fn unacknowledged(&self) -> Vec<Delivery> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.unacked.iter().map(|(&seq, event)| Delivery { seq, event: event.clone() }).collect()
    }

    /// The notification S3 would send for this upload: one record, key URL-encoded, sequencer increasing.
    fn notification(&self, seq: u64, c: &ObjectCreated) -> Value {
        let mut object = json!({
            "key": encode_key(&c.key),
            "sequencer": format!("{seq:018X}"),
        });
        // A removal's record names the key, its sequencer and a delete marker's version, nothing of the bytes.
        if !c.event_name.starts_with("ObjectRemoved:") {
            object["size"] = json!(c.size);
            object["eTag"] = json!(c.etag);
        }
        if let Some(v) = &c.version_id {
            object["versionId"] = json!(v);
        }
        json!({
            "Records": [{
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": self.region,
                "eventTime": c.time.to_rfc3339_opts(SecondsFormat::Millis, true),
                "eventName": c.event_name,
                "userIdentity": {"principalId": "redscribe-local"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": format!("{seq:016X}"),
                    "x-amz-id-2": "redscribe-local",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "redscribe-local",
                    "bucket": {
                        "name": c.bucket,
                        "ownerIdentity": {"principalId": "redscribe-local"},
                        "arn": format!("arn:aws:s3:::{}", c.bucket),
                    },
                    "object": object,
                },
            }]
        })
    }
}
