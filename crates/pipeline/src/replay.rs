//! Replay: quarantined recordings processed again, after a fix. The quarantine records under `rejected/` name
//! the recording they are about; each becomes the object event it came from (same version, same sequencer), so a
//! replay updates the recording's row in place and never adds one. A record is removed once its recording has
//! been processed again and loaded: with a result, or with a newer quarantine record of its own.

use redscribe_core::events::ObjectEvent;
use redscribe_core::layout::Layout;
use redscribe_core::ports::{ObjectStore, PortError};
use redscribe_core::quarantine::QuarantineRecord;
use redscribe_core::ErrorCode;

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

/// Parses one quarantine record ([`QuarantineRecord`], the one type every stage writes).
pub fn parse_record(record_key: &str, body: &[u8]) -> Result<Quarantined, Unreadable> {
    let unreadable = |why: String| Unreadable { record_key: record_key.to_string(), why };
    let record = QuarantineRecord::from_json(body).map_err(|e| unreadable(format!("not a quarantine record: {e}")))?;
    let recording = record.recording.ok_or_else(|| unreadable("the record names no recording".into()))?;
    Ok(Quarantined {
        record_key: record_key.to_string(),
        reason: record.reason.as_str().to_string(),
        recording: recording.to_event(),
    })
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
        match parse_record(&listed.key, &object.body) {
            Ok(q) => found.push(q),
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

    #[test]
    fn records_of_both_stages_parse_and_others_are_reported() {
        let stage = br#"{"reason":"truncated","message":"cut","recording":{"bucket":"b","key":"in/a'b.wav",
            "version_id":"v1","etag":"e","sequencer":"0A","size":10,"event_name":"ObjectCreated:Put",
            "event_time":"2026-11-23T10:00:00Z"},"id":"x","rejected_at":"2026-11-23T10:00:01Z"}"#;
        let q = parse_record("rejected/truncated/dt=2026-11-23/x-v1.json", stage).unwrap();
        assert_eq!(q.reason, "truncated");
        assert_eq!(q.recording.key, "in/a'b.wav");
        assert_eq!(q.recording.version_id.as_deref(), Some("v1"));
        assert_eq!(q.recording.sequencer.as_deref(), Some("0A"));
        assert_eq!(q.recording.size, Some(10));

        let older = br#"{"reason":"load_rejected","message":"m","file":"s3://b/processed/x.parquet","id":"x",
            "rejected_at":"2026-11-23T10:00:00Z"}"#;
        let u = parse_record("rejected/load_rejected/x.json", older).unwrap_err();
        assert!(u.why.contains("names no recording"), "{}", u.why);
        let u = parse_record("rejected/x.json", b"not json").unwrap_err();
        assert!(u.why.contains("not a quarantine record"), "{}", u.why);
    }
}
