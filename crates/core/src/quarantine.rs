//! The quarantine record: one JSON document under `rejected/<reason>/…` for everything the pipeline refused — a
//! recording that cannot be read, a message that is not an event, a result file the warehouse refused — with
//! what `redscribe replay` needs to try it again. One type, written and read here; records of earlier versions
//! (without `stage` or `attempts`) still read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::{decode_key, encode_key, ObjectEvent, ObjectVersion};
use crate::metrics::Stage;
use crate::ports::{metadata_size, Metadata, METADATA_MAX_BYTES};
use crate::ErrorCode;

/// A quarantine record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    pub reason: ErrorCode,
    pub message: String,
    /// Where it failed (absent in records of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// The recording's event, when there is one: what a replay turns back into the event.
    #[serde(default)]
    pub recording: Option<RecordingRef>,
    /// The recording's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// For a load failure: the result file, and the batch and manifest it was refused in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// For a message that is not an event: its SQS message id and the message, whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// How many times it was tried before it was kept here (0: not known).
    #[serde(default)]
    pub attempts: u32,
    pub rejected_at: DateTime<Utc>,
    #[serde(default)]
    pub pipeline_version: String,
}

impl QuarantineRecord {
    /// A record of `reason` with its message, now, by this pipeline version, after one attempt (permanent failures
    /// are not tried again; the transcribe stage counts the transient failures before); the rest is filled by the
    /// caller.
    pub fn new(reason: ErrorCode, message: impl Into<String>, stage: Stage) -> QuarantineRecord {
        QuarantineRecord {
            reason,
            message: message.into(),
            stage: Some(stage),
            recording: None,
            id: None,
            file: None,
            batch: None,
            manifest: None,
            message_id: None,
            payload: None,
            attempts: 1,
            rejected_at: Utc::now(),
            pipeline_version: crate::PIPELINE_VERSION.to_string(),
        }
    }

    /// About this recording.
    pub fn of(mut self, event: &ObjectEvent) -> QuarantineRecord {
        self.recording = Some(RecordingRef::from(event));
        self
    }

    /// The JSON document as stored.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a record serialises")
    }

    /// Reads a stored document.
    pub fn from_json(body: &[u8]) -> Result<QuarantineRecord, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// The recording a record is about, as its event named it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingRef {
    #[serde(flatten)]
    pub object: ObjectVersion,
    pub event_name: Option<String>,
    pub event_time: Option<DateTime<Utc>>,
}

impl From<&ObjectEvent> for RecordingRef {
    fn from(e: &ObjectEvent) -> RecordingRef {
        RecordingRef { object: e.object.clone(), event_name: Some(e.event_name.clone()), event_time: e.event_time }
    }
}

/// Names of the user metadata a result file carries about its recording (`x-amz-meta-recording-…`).
const META_BUCKET: &str = "recording-bucket";
const META_KEY: &str = "recording-key";
const META_VERSION: &str = "recording-version-id";
const META_ETAG: &str = "recording-etag";
const META_SEQUENCER: &str = "recording-sequencer";
const META_SIZE: &str = "recording-size";
const META_EVENT: &str = "recording-event-name";
const META_TIME: &str = "recording-event-time";

impl RecordingRef {
    /// The recording as user metadata of its result file, so that a result file no reader can open still names
    /// the recording it answers, and `replay` can remake its event. The key is encoded as S3 encodes keys in
    /// events (metadata travels as HTTP headers: ASCII only). `None` when it would pass S3's 2 KB limit (a key
    /// of ~1,500 bytes of non-ASCII text).
    pub fn to_metadata(&self) -> Option<Metadata> {
        let mut m = Metadata::new();
        let o = &self.object;
        m.insert(META_BUCKET.into(), o.bucket.clone());
        m.insert(META_KEY.into(), encode_key(&o.key));
        let mut opt = |name: &str, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.is_empty() && v.is_ascii()) {
                m.insert(name.to_string(), v);
            }
        };
        opt(META_VERSION, o.version_id.clone());
        opt(META_ETAG, o.etag.clone());
        opt(META_SEQUENCER, o.sequencer.clone());
        opt(META_SIZE, o.size.map(|s| s.to_string()));
        opt(META_EVENT, self.event_name.clone());
        opt(META_TIME, self.event_time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)));
        (metadata_size(&m) <= METADATA_MAX_BYTES).then_some(m)
    }

    /// The recording named by a result file's metadata ([`RecordingRef::to_metadata`]), if it names one.
    pub fn from_metadata(m: &Metadata) -> Option<RecordingRef> {
        let text = |name: &str| m.get(name).cloned();
        Some(RecordingRef {
            object: ObjectVersion {
                bucket: text(META_BUCKET).filter(|b| !b.is_empty())?,
                key: decode_key(m.get(META_KEY)?).ok().filter(|k| !k.is_empty())?,
                version_id: text(META_VERSION),
                etag: text(META_ETAG),
                sequencer: text(META_SEQUENCER),
                size: text(META_SIZE).and_then(|s| s.parse().ok()),
            },
            event_name: text(META_EVENT),
            event_time: text(META_TIME)
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc)),
        })
    }

    /// The event it came from: same version, same sequencer, so a replay updates the row in place.
    pub fn to_event(&self) -> ObjectEvent {
        ObjectEvent {
            event_name: self.event_name.clone().unwrap_or_else(|| "ObjectCreated:Put".into()),
            event_time: self.event_time,
            ..ObjectEvent::of(self.object.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_older_records_still_read() {
        let event = ObjectEvent::of(ObjectVersion {
            version_id: Some("v1".into()),
            etag: Some("e".into()),
            sequencer: Some("0A".into()),
            size: Some(10),
            ..ObjectVersion::new("b", "in/a'b.wav")
        });
        let mut record = QuarantineRecord::new(ErrorCode::Truncated, "cut", Stage::Decode).of(&event);
        record.attempts = 2;
        let json: serde_json::Value = serde_json::from_slice(&record.to_json()).unwrap();
        assert_eq!(json["recording"]["key"], "in/a'b.wav", "the recording's fields stay where readers find them");
        assert_eq!(json["recording"]["sequencer"], "0A");
        let back = QuarantineRecord::from_json(&record.to_json()).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.recording.unwrap().to_event(), event);

        let older = br#"{"reason":"load_rejected","message":"m","file":"s3://b/x.parquet","id":"x",
            "recording":null,"rejected_at":"2026-11-23T10:00:00Z"}"#;
        let r = QuarantineRecord::from_json(older).unwrap();
        assert_eq!((r.reason, r.stage, r.attempts, r.recording), (ErrorCode::LoadRejected, None, 0, None));
        assert!(QuarantineRecord::from_json(br#"{"reason":"no_such_code","message":"m"}"#).is_err());
    }

    #[test]
    fn a_recording_survives_the_trip_through_object_metadata() {
        let mut recording = RecordingRef {
            object: ObjectVersion {
                version_id: Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY".into()),
                etag: Some("0123abcd".into()),
                sequencer: Some("0055AED6DCD90281E5".into()),
                size: Some(123_456),
                ..ObjectVersion::new("b", "in/llamada de María+1 ü/x.wav")
            },
            event_name: Some("ObjectCreated:CompleteMultipartUpload".into()),
            event_time: Some(DateTime::parse_from_rfc3339("2026-12-02T08:00:00.123456Z").unwrap().into()),
        };
        let m = recording.to_metadata().unwrap();
        assert!(m.values().all(|v| v.is_ascii()), "{m:?}");
        assert_eq!(RecordingRef::from_metadata(&m).as_ref(), Some(&recording));

        // What S3 would refuse is left out, not sent.
        recording.object.key = "ü".repeat(512);
        assert_eq!(recording.to_metadata(), None);
        // Metadata of something else names no recording.
        let other: Metadata = [("language".to_string(), "es".to_string())].into();
        assert_eq!(RecordingRef::from_metadata(&other), None);
    }
}
