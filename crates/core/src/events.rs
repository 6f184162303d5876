//! Event normalisation (DESIGN 2.1).
//!
//! Accepts every envelope an S3 `ObjectCreated` (or `ObjectRemoved`: a recording to erase) notification can arrive
//! in — a direct S3 notification, the same inside SQS messages, inside SNS notifications inside SQS messages (or SNS
//! invoking Lambda directly), and EventBridge `Object Created` and `Object Deleted` events — and turns it into
//! [`ObjectEvent`]s with decoded keys. Everything that is not work for the pipeline is reported in
//! [`Normalized::skipped`] with a [`SkipReason`]; SQS messages whose body cannot be understood are reported in
//! [`Normalized::invalid`] so the caller can quarantine them.

use std::collections::HashMap;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3EventRecord;
use aws_lambda_events::event::sns::SnsMessage;
use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, Utc};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::identity::Sequencer;
use crate::layout::Layout;
use crate::CoreError;

/// The envelope an object event arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Envelope {
    /// S3 notification invoking the function directly.
    S3,
    /// S3 notification inside an SQS message.
    Sqs,
    /// S3 notification inside an SNS notification inside an SQS message.
    SnsSqs,
    /// S3 notification inside an SNS notification invoking the function directly.
    Sns,
    /// EventBridge `Object Created` (or `Object Deleted`) event.
    EventBridge,
}

/// One version of one object in S3: where it is and what S3 said of it when it was written — the recording an
/// event, a quarantine record, a result row and a result file's metadata all name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectVersion {
    pub bucket: String,
    /// The key, URL-decoded (`+` is a space, `%2B` is a plus).
    pub key: String,
    pub version_id: Option<String>,
    /// The ETag without surrounding quotes.
    pub etag: Option<String>,
    /// The S3 event's sequencer: orders the writes of one key.
    pub sequencer: Option<String>,
    pub size: Option<i64>,
}

impl ObjectVersion {
    /// `bucket`/`key`, nothing more known of it.
    pub fn new(bucket: &str, key: &str) -> ObjectVersion {
        ObjectVersion { bucket: bucket.to_string(), key: key.to_string(), ..ObjectVersion::default() }
    }

    /// The token that names this version in the pipeline's keys (its result file, attempt markers, parts):
    /// [`crate::identity::version_token`] of its version id, ETag and sequencer.
    pub fn version_token(&self) -> String {
        crate::identity::version_token(self.version_id.as_deref(), self.etag.as_deref(), self.sequencer.as_deref())
    }
}

/// One object that was created and should be processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectEvent {
    #[serde(flatten)]
    pub object: ObjectVersion,
    /// `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`, … (EventBridge reasons are mapped to these).
    pub event_name: String,
    pub event_time: Option<DateTime<Utc>>,
    pub envelope: Envelope,
    /// The SQS message the event came in, for per-message failure reporting.
    pub message_id: Option<String>,
    /// A reprocess of a version already heard: when the reprocess started (Unix milliseconds). Of two processings
    /// of one version, the later generation's row is kept (`load::load_statements`); an upload's own event has
    /// none (generation 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

impl ObjectEvent {
    /// Whether the event says the object was deleted (`ObjectRemoved:Delete`, `ObjectRemoved:DeleteMarkerCreated`):
    /// the recording is to be erased.
    pub fn is_removal(&self) -> bool {
        self.event_name.starts_with("ObjectRemoved:")
    }

    /// An object-created event of `bucket`/`key` that says nothing more (no size, version, ETag, sequencer, time,
    /// message): what a listing or a test starts from, filled in with struct update syntax.
    pub fn created(bucket: &str, key: &str) -> ObjectEvent {
        ObjectEvent::of(ObjectVersion::new(bucket, key))
    }

    /// An object-created event of `object`, with no time and no message.
    pub fn of(object: ObjectVersion) -> ObjectEvent {
        ObjectEvent {
            object,
            event_name: "ObjectCreated:Put".into(),
            event_time: None,
            envelope: Envelope::S3,
            message_id: None,
            generation: None,
        }
    }
}

/// Why a record or message was acknowledged without processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// `s3:TestEvent`, sent when a notification configuration is saved.
    TestEvent,
    /// Not an object-created event (removals, restores, …).
    NotObjectCreated,
    /// A key ending in `/`: a console "folder".
    FolderMarker,
    /// A key under one of the pipeline's own output prefixes (loop guard).
    OwnOutput,
    /// Another record in the same event names the same object, with the same or a later sequencer.
    Duplicate,
    /// Announced to the load stage but not a Parquet result file (a JSON Lines copy, a segments file, …).
    NotAResult,
}

impl SkipReason {
    /// The stable snake_case spelling, as logged.
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipReason::TestEvent => "test_event",
            SkipReason::NotObjectCreated => "not_object_created",
            SkipReason::FolderMarker => "folder_marker",
            SkipReason::OwnOutput => "own_output",
            SkipReason::Duplicate => "duplicate",
            SkipReason::NotAResult => "not_a_result",
        }
    }
}

/// A record or message acknowledged without processing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub reason: SkipReason,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub message_id: Option<String>,
}

/// An SQS message (or record) that is not an event redscribe understands; it must be quarantined, not retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidMessage {
    pub message_id: Option<String>,
    pub reason: String,
}

/// The result of normalising one invocation payload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Normalized {
    pub objects: Vec<ObjectEvent>,
    pub skipped: Vec<Skipped>,
    pub invalid: Vec<InvalidMessage>,
}

/// Characters S3 leaves as they are when it writes a key into an event notification.
const KEY_KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// Encodes a key the way S3 writes it into an event notification: form encoding, with `+` for a space and `/`
/// kept. The inverse of [`decode_key`].
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_KEEP).to_string().replace("%20", "+")
}

/// Decodes an S3 event key: `+` is a space, then percent-decoding as UTF-8.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let plus_as_space = raw.replace('+', " ");
    percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|e| format!("key {raw:?} is not UTF-8 after URL-decoding: {e}"))
}

/// Normalises an invocation payload given as text.
pub fn normalize_str(payload: &str, layout: &Layout) -> Result<Normalized, CoreError> {
    let value: Value = serde_json::from_str(payload)?;
    normalize(&value, layout)
}

/// Normalises an invocation payload.
///
/// Returns an error only when the payload as a whole is not an accepted envelope; a bad message inside an SQS
/// batch is reported in [`Normalized::invalid`] instead, so the rest of the batch is processed.
pub fn normalize(payload: &Value, layout: &Layout) -> Result<Normalized, CoreError> {
    let mut out = Normalized::default();
    collect(payload, None, Outer::Top, &mut out)?;
    // A long recording's part request is the pipeline's own object, and work: it is heard like a recording.
    let recording = |o: &ObjectEvent| {
        let (bucket, key) = (&o.object.bucket, &o.object.key);
        (layout.is_output(bucket, key) && !layout.is_request(key)).then_some(SkipReason::OwnOutput)
    };
    out.objects = apply_filters(std::mem::take(&mut out.objects), recording, &mut out.skipped);
    Ok(out)
}

/// Normalises a payload that announces result files to the load stage (S3 notifications of the results prefix, in
/// any envelope [`normalize`] accepts): the objects kept are Parquet result files, everything else is skipped.
pub fn normalize_results(payload: &Value, layout: &Layout) -> Result<Normalized, CoreError> {
    let mut out = Normalized::default();
    collect(payload, None, Outer::Top, &mut out)?;
    // A result file deleted is nothing to load.
    let result = |o: &ObjectEvent| {
        (o.is_removal() || !layout.is_results_file(&o.object.bucket, &o.object.key)).then_some(SkipReason::NotAResult)
    };
    out.objects = apply_filters(std::mem::take(&mut out.objects), result, &mut out.skipped);
    Ok(out)
}

/// The skip rules applied to objects that were listed or named rather than announced (a backfill's listing, a
/// replayed record): the same rules as [`normalize`] — folder markers, the pipeline's own outputs, one event per
/// object — so every front end skips the same things for the same reasons.
pub fn filter_listed(objects: Vec<ObjectEvent>, layout: &Layout) -> Normalized {
    let mut out = Normalized::default();
    let recording =
        |o: &ObjectEvent| layout.is_output(&o.object.bucket, &o.object.key).then_some(SkipReason::OwnOutput);
    out.objects = apply_filters(objects, recording, &mut out.skipped);
    out
}

/// Where in the nesting a payload was found; decides the envelope label and which shapes are allowed.
#[derive(Clone, Copy, PartialEq)]
enum Outer {
    Top,
    Sqs,
    Sns,
    SnsInSqs,
}

fn is_test_event(v: &Value) -> bool {
    v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

fn collect(v: &Value, message_id: Option<&str>, outer: Outer, out: &mut Normalized) -> Result<(), CoreError> {
    if is_test_event(v) {
        out.skipped.push(Skipped {
            reason: SkipReason::TestEvent,
            bucket: v.get("Bucket").and_then(Value::as_str).map(str::to_owned),
            key: None,
            message_id: message_id.map(str::to_owned),
        });
        return Ok(());
    }
    if v.get("detail-type").is_some() && v.get("source").is_some() {
        return collect_eventbridge(v, message_id, outer, out);
    }
    let Some(records) = v.get("Records").and_then(Value::as_array) else {
        return Err(CoreError::UnrecognisedEvent(
            "expected an S3, SQS, SNS or EventBridge event (no Records, no detail-type)".into(),
        ));
    };
    for record in records {
        let source =
            record.get("eventSource").or_else(|| record.get("EventSource")).and_then(Value::as_str).unwrap_or_default();
        match (source, outer) {
            ("aws:s3", _) => {
                let envelope = match outer {
                    Outer::Top => Envelope::S3,
                    Outer::Sqs => Envelope::Sqs,
                    Outer::Sns => Envelope::Sns,
                    Outer::SnsInSqs => Envelope::SnsSqs,
                };
                match serde_json::from_value::<S3EventRecord>(record.clone()) {
                    Ok(r) => push_s3_record(r, envelope, message_id, out),
                    Err(e) => invalid_or_err(message_id, format!("malformed S3 record: {e}"), out)?,
                }
            }
            ("aws:sqs", Outer::Top) => collect_sqs(record, out),
            ("aws:sns", Outer::Top | Outer::Sqs) => {
                let inner = record.get("Sns").cloned().unwrap_or(Value::Null);
                let next = if outer == Outer::Top { Outer::Sns } else { Outer::SnsInSqs };
                collect_sns(&inner, message_id, next, out)?;
            }
            (other, _) => {
                invalid_or_err(message_id, format!("unsupported record source {other:?} here"), out)?;
            }
        }
    }
    Ok(())
}

/// Inside an SQS message a bad shape is that message's problem; at the top level it is the caller's.
fn invalid_or_err(message_id: Option<&str>, reason: String, out: &mut Normalized) -> Result<(), CoreError> {
    match message_id {
        Some(id) => {
            out.invalid.push(InvalidMessage { message_id: Some(id.to_owned()), reason });
            Ok(())
        }
        None => Err(CoreError::UnrecognisedEvent(reason)),
    }
}

fn collect_sqs(record: &Value, out: &mut Normalized) {
    let message: SqsMessage = match serde_json::from_value(record.clone()) {
        Ok(m) => m,
        Err(e) => {
            out.invalid.push(InvalidMessage { message_id: None, reason: format!("malformed SQS record: {e}") });
            return;
        }
    };
    // A message without an id cannot be reported as failed on its own; use an empty id so the caller still sees
    // it. SQS always sets one.
    let id = message.message_id.unwrap_or_default();
    let Some(body) = message.body else {
        out.invalid.push(InvalidMessage { message_id: Some(id), reason: "SQS message has no body".into() });
        return;
    };
    let parsed: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => {
            out.invalid.push(InvalidMessage { message_id: Some(id), reason: format!("SQS body is not JSON: {e}") });
            return;
        }
    };
    let result = if parsed.get("Type").and_then(Value::as_str) == Some("Notification") {
        collect_sns(&parsed, Some(&id), Outer::SnsInSqs, out)
    } else {
        collect(&parsed, Some(&id), Outer::Sqs, out)
    };
    if let Err(e) = result {
        out.invalid.push(InvalidMessage { message_id: Some(id), reason: e.to_string() });
    }
}

fn collect_sns(sns: &Value, message_id: Option<&str>, outer: Outer, out: &mut Normalized) -> Result<(), CoreError> {
    let notification: SnsMessage = match serde_json::from_value(sns.clone()) {
        Ok(n) => n,
        Err(e) => return invalid_or_err(message_id, format!("malformed SNS notification: {e}"), out),
    };
    let inner: Value = match serde_json::from_str(&notification.message) {
        Ok(v) => v,
        Err(e) => return invalid_or_err(message_id, format!("SNS Message is not JSON: {e}"), out),
    };
    match collect(&inner, message_id, outer, out) {
        Err(e) if message_id.is_some() => invalid_or_err(message_id, e.to_string(), out),
        other => other,
    }
}

fn push_s3_record(r: S3EventRecord, envelope: Envelope, message_id: Option<&str>, out: &mut Normalized) {
    let message_id = message_id.map(str::to_owned);
    let bucket = r.s3.bucket.name.unwrap_or_default();
    let Some(raw_key) = r.s3.object.key else {
        out.invalid.push(InvalidMessage { message_id, reason: format!("S3 record for bucket {bucket:?} has no key") });
        return;
    };
    let key = match decode_key(&raw_key) {
        Ok(k) => k,
        Err(reason) => {
            out.invalid.push(InvalidMessage { message_id, reason });
            return;
        }
    };
    out.objects.push(ObjectEvent {
        object: ObjectVersion {
            bucket,
            key,
            size: r.s3.object.size,
            version_id: r.s3.object.version_id.filter(|v| !v.is_empty()),
            etag: r.s3.object.e_tag.map(|e| e.trim_matches('"').to_owned()).filter(|e| !e.is_empty()),
            sequencer: r.s3.object.sequencer.filter(|s| !s.is_empty()),
        },
        event_name: r.event_name.unwrap_or_default(),
        event_time: Some(r.event_time),
        envelope,
        message_id,
        generation: None,
    });
}

/// The `detail` of an EventBridge S3 event.
#[derive(Debug, Deserialize)]
struct S3Detail {
    bucket: DetailBucket,
    object: DetailObject,
    #[serde(default)]
    reason: Option<String>,
    /// Of `Object Deleted`: `Permanently Deleted` or `Delete Marker Created`.
    #[serde(default, rename = "deletion-type")]
    deletion_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DetailBucket {
    name: String,
}

#[derive(Debug, Deserialize)]
struct DetailObject {
    key: String,
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default, rename = "version-id")]
    version_id: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

/// The S3 notification's event name of an EventBridge S3 event, or `None` for one that is not work: a creation (by
/// its `reason`), or a deletion by a request (`reason` `DeleteObject`; by its `deletion-type`, a delete marker or
/// not). A deletion by a lifecycle rule (`Lifecycle Expiration`) is a deployment's retention, not an erasure: the
/// S3 notifications the stack subscribes (`s3:ObjectRemoved:*`) do not include it either ("Using EventBridge",
/// Amazon S3 User Guide).
fn eventbridge_event_name(detail_type: &str, detail: &S3Detail) -> Option<&'static str> {
    match (detail_type, detail.reason.as_deref()) {
        ("Object Created", Some("CompleteMultipartUpload")) => Some("ObjectCreated:CompleteMultipartUpload"),
        ("Object Created", Some("CopyObject")) => Some("ObjectCreated:Copy"),
        ("Object Created", Some("PostObject")) => Some("ObjectCreated:Post"),
        ("Object Created", _) => Some("ObjectCreated:Put"),
        ("Object Deleted", Some("DeleteObject")) => Some(match detail.deletion_type.as_deref() {
            Some("Delete Marker Created") => "ObjectRemoved:DeleteMarkerCreated",
            _ => "ObjectRemoved:Delete",
        }),
        _ => None,
    }
}

fn collect_eventbridge(
    v: &Value,
    message_id: Option<&str>,
    outer: Outer,
    out: &mut Normalized,
) -> Result<(), CoreError> {
    if matches!(outer, Outer::Sns | Outer::SnsInSqs) {
        return invalid_or_err(message_id, "EventBridge event inside SNS is not supported".into(), out);
    }
    let event: EventBridgeEvent<Value> = match serde_json::from_value(v.clone()) {
        Ok(e) => e,
        Err(e) => return invalid_or_err(message_id, format!("malformed EventBridge event: {e}"), out),
    };
    if event.source != "aws.s3" {
        return invalid_or_err(message_id, format!("EventBridge source {:?} is not aws.s3", event.source), out);
    }
    let detail: S3Detail = match serde_json::from_value(event.detail) {
        Ok(d) => d,
        Err(e) => return invalid_or_err(message_id, format!("malformed EventBridge S3 detail: {e}"), out),
    };
    let Some(event_name) = eventbridge_event_name(&event.detail_type, &detail) else {
        out.skipped.push(Skipped {
            reason: SkipReason::NotObjectCreated,
            bucket: Some(detail.bucket.name),
            key: decode_key(&detail.object.key).ok(),
            message_id: message_id.map(str::to_owned),
        });
        return Ok(());
    };
    let key = match decode_key(&detail.object.key) {
        Ok(k) => k,
        Err(reason) => return invalid_or_err(message_id, reason, out),
    };
    out.objects.push(ObjectEvent {
        object: ObjectVersion {
            bucket: detail.bucket.name,
            key,
            size: detail.object.size,
            version_id: detail.object.version_id.filter(|v| !v.is_empty()),
            etag: detail.object.etag.map(|e| e.trim_matches('"').to_owned()).filter(|e| !e.is_empty()),
            sequencer: detail.object.sequencer.filter(|s| !s.is_empty()),
        },
        event_name: event_name.into(),
        event_time: event.time,
        envelope: Envelope::EventBridge,
        message_id: message_id.map(str::to_owned),
        generation: None,
    });
    Ok(())
}

fn skip(reason: SkipReason, o: ObjectEvent) -> Skipped {
    Skipped { reason, bucket: Some(o.object.bucket), key: Some(o.object.key), message_id: o.message_id }
}

/// Drops what is not work (`unwanted` names why an object is not), then collapses records naming the same object
/// to the latest one.
fn apply_filters(
    objects: Vec<ObjectEvent>,
    unwanted: impl Fn(&ObjectEvent) -> Option<SkipReason>,
    skipped: &mut Vec<Skipped>,
) -> Vec<ObjectEvent> {
    let mut kept: Vec<ObjectEvent> = Vec::with_capacity(objects.len());
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for o in objects {
        let reason = if !o.event_name.starts_with("ObjectCreated:") && !o.is_removal() {
            Some(SkipReason::NotObjectCreated)
        } else if o.object.key.ends_with('/') {
            Some(SkipReason::FolderMarker)
        } else {
            unwanted(&o)
        };
        if let Some(reason) = reason {
            skipped.push(skip(reason, o));
            continue;
        }
        match index.get(&(o.object.bucket.clone(), o.object.key.clone())) {
            None => {
                index.insert((o.object.bucket.clone(), o.object.key.clone()), kept.len());
                kept.push(o);
            }
            Some(&i) => {
                let newer = match (&o.object.sequencer, &kept[i].object.sequencer) {
                    (Some(a), Some(b)) => Sequencer::new(a) > Sequencer::new(b),
                    _ => false,
                };
                if newer {
                    let older = std::mem::replace(&mut kept[i], o);
                    skipped.push(skip(SkipReason::Duplicate, older));
                } else {
                    skipped.push(skip(SkipReason::Duplicate, o));
                }
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_encoding_round_trips_and_matches_s3() {
        let cases = [
            ("calls/2026/call 0042.wav", "calls/2026/call+0042.wav"),
            ("a+b.wav", "a%2Bb.wav"),
            ("it's a \"test\".wav", "it%27s+a+%22test%22.wav"),
            ("録音.flac", "%E9%8C%B2%E9%9F%B3.flac"),
            ("100% done.mp3", "100%25+done.mp3"),
            ("a'; drop table x; --.wav", "a%27%3B+drop+table+x%3B+--.wav"),
        ];
        for (key, encoded) in cases {
            assert_eq!(encode_key(key), encoded);
            assert_eq!(decode_key(encoded).unwrap(), key);
        }
        assert!(decode_key("%FF%FE").is_err());
    }
}
