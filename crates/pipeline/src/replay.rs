//! Replay: quarantined recordings processed again, after a fix. The quarantine records under `rejected/` name
//! the recording they are about; each becomes the object event it came from (same version, same sequencer), so a
//! replay updates the recording's row in place and never adds one. A record is removed once its recording has
//! been processed again and loaded: with a result, or with a newer quarantine record of its own.

use redscribe_core::events::{normalize, ObjectEvent};
use redscribe_core::layout::Layout;
use redscribe_core::ports::{ObjectStore, PortError};
use redscribe_core::quarantine::QuarantineRecord;
use redscribe_core::ErrorCode;
use serde_json::Value;

use crate::transcribe::Processed;

/// A quarantine record and the recording it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    /// Where the record is.
    pub record_key: String,
    /// Its reason (an [`ErrorCode`] spelling).
    pub reason: String,
    pub recording: ObjectEvent,
}

/// A record that cannot be replayed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub record_key: String,
    pub why: String,
}

/// Parses one quarantine record ([`QuarantineRecord`], the one type every stage writes) into the recordings it
/// names: the recording of a stage or load failure (a result file no reader could open names it by its metadata),
/// or — for a message that was not an event — what that message announces when normalised again (the point of
/// replaying it after a fix). Announcements of result files are the load function's; its sweep finds those files
/// again, so they are not replayed here.
pub fn parse_record(record_key: &str, body: &[u8], layout: &Layout) -> Result<Vec<Quarantined>, Unreadable> {
    let unreadable = |why: String| Unreadable { record_key: record_key.to_string(), why };
    let record = QuarantineRecord::from_json(body).map_err(|e| unreadable(format!("not a quarantine record: {e}")))?;
    let recordings = match (record.recording, &record.payload) {
        (Some(recording), _) => vec![recording.to_event()],
        (None, Some(payload)) => announced(payload, layout).map_err(unreadable)?,
        (None, None) => return Err(unreadable("the record names no recording".into())),
    };
    let reason = record.reason.as_str().to_string();
    Ok(recordings
        .into_iter()
        .map(|recording| Quarantined { record_key: record_key.to_string(), reason: reason.clone(), recording })
        .collect())
}

/// The recordings a kept message announces, normalised as the transcribe function would now.
fn announced(payload: &Value, layout: &Layout) -> Result<Vec<ObjectEvent>, String> {
    // A message kept out of an SQS batch is one record of it.
    let wrapped;
    let payload = if payload["eventSource"] == "aws:sqs" {
        wrapped = serde_json::json!({ "Records": [payload] });
        &wrapped
    } else {
        payload
    };
    let normalized = normalize(payload, layout).map_err(|e| format!("the message still is not an event: {e}"))?;
    if let Some(invalid) = normalized.invalid.first() {
        return Err(format!("the message still is not an event: {}", invalid.reason));
    }
    if normalized.objects.is_empty() {
        let why = normalized.skipped.first().map_or("nothing", |s| s.reason.as_str());
        return Err(format!("the message announces no recording to process ({why})"));
    }
    Ok(normalized.objects)
}

/// Every quarantine record in `bucket` (of one reason, or all), read and parsed.
pub async fn find_quarantined<S: ObjectStore>(
    store: &S,
    bucket: &str,
    layout: &Layout,
    reason: Option<ErrorCode>,
) -> Result<(Vec<Quarantined>, Vec<Unreadable>), PortError> {
    let (mut found, mut unreadable) = (Vec::new(), Vec::new());
    for listed in store.list(bucket, &layout.rejected_prefix(reason)).await? {
        if !listed.key.ends_with(".json") {
            continue;
        }
        let object = store.get(bucket, &listed.key, None).await?;
        match parse_record(&listed.key, &object.body, layout) {
            Ok(q) => found.extend(q),
            Err(u) => unreadable.push(u),
        }
    }
    Ok((found, unreadable))
}

/// After the replayed recording's result is loaded: removes the old record unless the replay wrote a record
/// under the same key (same reason, same day, same version), which then stands for the recording.
pub async fn settle<S: ObjectStore>(
    store: &S,
    bucket: &str,
    record: &Quarantined,
    replayed: &Processed,
) -> Result<(), PortError> {
    if let Processed::Quarantined { record_key, .. } = replayed {
        if *record_key == record.record_key {
            return Ok(());
        }
    }
    store.delete(bucket, &record.record_key).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(key: &str, body: &[u8]) -> Result<Vec<Quarantined>, Unreadable> {
        parse_record(key, body, &Layout::default())
    }

    #[test]
    fn records_of_every_kind_name_their_recordings_and_others_are_reported() {
        let stage = br#"{"reason":"truncated","message":"cut","recording":{"bucket":"b","key":"in/a'b.wav",
            "version_id":"v1","etag":"e","sequencer":"0A","size":10,"event_name":"ObjectCreated:Put",
            "event_time":"2026-11-23T10:00:00Z"},"id":"x","rejected_at":"2026-11-23T10:00:01Z"}"#;
        let [q] = parse("rejected/truncated/dt=2026-11-23/x-v1.json", stage).unwrap().try_into().unwrap();
        assert_eq!(q.reason, "truncated");
        assert_eq!(q.recording.object.key, "in/a'b.wav");
        assert_eq!(q.recording.object.version_id.as_deref(), Some("v1"));
        assert_eq!(q.recording.object.sequencer.as_deref(), Some("0A"));
        assert_eq!(q.recording.object.size, Some(10));

        // A message that was not an event, fixed since (or read by a fixed parser): what it announces.
        let message = serde_json::json!({"messageId": "m-1", "eventSource": "aws:sqs",
            "body": include_str!("../../../tests/fixtures/events/s3_put.json")});
        let record = serde_json::json!({"reason": "invalid_event", "message": "m", "message_id": "m-1",
            "payload": message, "recording": null, "rejected_at": "2026-11-23T10:00:00Z"});
        let [q] = parse("rejected/invalid_event/m.json", record.to_string().as_bytes()).unwrap().try_into().unwrap();
        assert_eq!((q.reason.as_str(), q.recording.object.key.as_str()), ("invalid_event", "calls/2026/call 0042.wav"));
        let still_bad = serde_json::json!({"reason": "invalid_event", "message": "m",
            "payload": {"messageId": "m-2", "eventSource": "aws:sqs", "body": "not json"},
            "rejected_at": "2026-11-23T10:00:00Z"});
        let u = parse("rejected/invalid_event/n.json", still_bad.to_string().as_bytes()).unwrap_err();
        assert!(u.why.contains("still is not an event"), "{}", u.why);

        let older = br#"{"reason":"load_rejected","message":"m","file":"s3://b/processed/x.parquet","id":"x",
            "rejected_at":"2026-11-23T10:00:00Z"}"#;
        let u = parse("rejected/load_rejected/x.json", older).unwrap_err();
        assert!(u.why.contains("names no recording"), "{}", u.why);
        let u = parse("rejected/x.json", b"not json").unwrap_err();
        assert!(u.why.contains("not a quarantine record"), "{}", u.why);
    }
}
