//! Result files waiting for the load stage, as the load Lambda finds them: announced by S3 notifications of the
//! results prefix (through SQS or EventBridge), or found by a sweep of the last days' prefixes. Files `load_audit`
//! has already settled (loaded or quarantined) are dropped, so an announcement delivered twice or a sweep after an
//! announcement loads nothing twice; the rest are read back into [`ResultFile`]s — the result row names the
//! recording it answers, and the detail files beside it (segments, words) come along when there are some.

use std::collections::HashMap;

use chrono::NaiveDate;
use redscribe_core::events::ObjectEvent;
use redscribe_core::layout::Layout;
use redscribe_core::ports::{BoundedBuffer, ObjectStore, PortError, StoredObject, Warehouse};
use redscribe_core::quarantine::RecordingRef;
use redscribe_core::schema::{file_columns, results_schema, Detail};
use redscribe_core::sql::{literal, Identifier};
use redscribe_core::ErrorCode;

use crate::transcribe::{DetailFile, ResultFile};

/// The most a result file (or a detail file) may hold to be read back. The stage writes one row of at most 64 KB
/// of text, and a recording's segments and words (a 4-hour recording has a few thousand segments and some 40,000
/// words: about 2 MB of Parquet); a file over this under the results prefix is not one the stage wrote, and is
/// quarantined unread. With `REDSCRIBE_READ_CONCURRENCY` reads at once, this bounds what read-back holds in memory.
pub const RESULT_FILE_MAX_BYTES: u64 = 16 << 20;

/// A result file to load, what its announcement or listing said of its size, and the SQS message that announced
/// it (none when a sweep found it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
    /// The ETag its announcement or listing gave (without quotes).
    pub etag: Option<String>,
    pub message_id: Option<String>,
}

impl Candidate {
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The Parquet result files under the results prefix of `days` days up to `today` (UTC), oldest day first.
pub async fn sweep<S: ObjectStore + ?Sized>(
    store: &S,
    layout: &Layout,
    bucket: &str,
    today: NaiveDate,
    days: u32,
) -> Result<Vec<Candidate>, PortError> {
    let mut found = Vec::new();
    for back in (0..days.max(1)).rev() {
        let Some(day) = today.checked_sub_days(chrono::Days::new(back.into())) else { continue };
        for object in store.list(bucket, &layout.results_day_prefix(day)).await? {
            if layout.is_results_file(bucket, &object.key) {
                let size = u64::try_from(object.size).ok();
                let (key, etag) = (object.key, object.etag);
                found.push(Candidate { bucket: bucket.to_string(), key, size, etag, message_id: None });
            }
        }
    }
    Ok(found)
}

/// What `load_audit` records as loaded, quarantined or erased among `uris`: each URI with the ETags of the bytes
/// settled (`None` for a row that does not say, written before version 6: it settles the URI whatever its bytes).
pub async fn settled<W: Warehouse + ?Sized>(
    warehouse: &W,
    audit: &Identifier,
    uris: &[String],
    deadline: Option<std::time::Instant>,
) -> Result<HashMap<String, Vec<Option<String>>>, PortError> {
    let mut settled: HashMap<String, Vec<Option<String>>> = HashMap::new();
    // A few hundred URIs per statement keeps the text far below the Data API's 100 KB limit.
    for chunk in uris.chunks(200) {
        let list = chunk
            .iter()
            .map(|u| literal(u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PortError::new(ErrorCode::Internal, e.to_string()))?
            .join(", ");
        let rows = warehouse
            .query_until(
                &format!(
                    "SELECT DISTINCT \"file_uri\", \"file_etag\" FROM {audit} WHERE \"status\" IN ('loaded', \
                     'quarantined', 'erased') AND \"file_uri\" IN ({list})"
                ),
                deadline,
            )
            .await?;
        for row in rows {
            let mut row = row.into_iter();
            if let Some(uri) = row.next().flatten() {
                settled.entry(uri).or_default().push(row.next().flatten());
            }
        }
    }
    Ok(settled)
}

/// A result file that could not be read back, and the recording its metadata names (when the stage wrote it).
#[derive(Debug, Clone, PartialEq)]
pub struct Unread {
    pub error: PortError,
    pub recording: Option<RecordingRef>,
}

impl From<PortError> for Unread {
    fn from(error: PortError) -> Unread {
        Unread { error, recording: None }
    }
}

/// Reads a result file back: its size and rows, the recording its row answers, and its segments file if one
/// was written. A file that is not a result file redscribe can read fails with `load_rejected` (permanent: the
/// warehouse would refuse it too), with the recording the file's metadata names; so does one over
/// [`RESULT_FILE_MAX_BYTES`], refused from its announced size without a read, or as the read passes the bound.
pub async fn read_back<S: ObjectStore + ?Sized>(
    store: &S,
    layout: &Layout,
    candidate: &Candidate,
) -> Result<ResultFile, Unread> {
    let (bucket, key) = (candidate.bucket.as_str(), candidate.key.as_str());
    if let Some(size) = candidate.size.filter(|s| *s > RESULT_FILE_MAX_BYTES) {
        let why =
            format!("s3://{bucket}/{key}: {size} bytes, over the bound of {RESULT_FILE_MAX_BYTES} for a result file");
        return Err(Unread::from(PortError::new(ErrorCode::LoadRejected, why)));
    }
    let object = get_bounded(store, bucket, key).await?;
    let recording = RecordingRef::from_metadata(&object.metadata);
    parse_result_file(store, layout, bucket, key, object).await.map_err(|error| Unread { error, recording })
}

async fn parse_result_file<S: ObjectStore + ?Sized>(
    store: &S,
    layout: &Layout,
    bucket: &str,
    key: &str,
    object: StoredObject,
) -> Result<ResultFile, PortError> {
    let unreadable = |e: String| PortError::new(ErrorCode::LoadRejected, format!("s3://{bucket}/{key}: {e}"));
    let size = object.body.len() as u64;
    let object_etag = object.etag.clone();
    let batches = redscribe_core::encode::from_parquet(object.body).map_err(|e| unreadable(e.to_string()))?;
    let columns = file_columns(&results_schema(), &batches).map_err(unreadable)?;
    let mut rows = Vec::new();
    for batch in &batches {
        rows.extend(redscribe_core::record::results_from_batch(batch).map_err(|e| unreadable(e.to_string()))?);
    }
    let row = match rows.as_slice() {
        [row] => row,
        [] => return Err(unreadable("the file holds no row".into())),
        more => return Err(unreadable(format!("a result file holds one row; this one holds {}", more.len()))),
    };
    written_by_the_stage(row, key).map_err(|why| unreadable(format!("not a result file the stage wrote: {why}")))?;
    // The row does not keep the notification's name: an upload's row answers an object-created event, an erasure the
    // recording's deletion.
    let source =
        ObjectEvent { event_time: row.uploaded_at, generation: row.generation, ..ObjectEvent::of(row.object()) };
    // An erasure answers the recording's deletion.
    let source = match row.status {
        redscribe_core::record::Status::Erased => ObjectEvent { event_name: "ObjectRemoved:Delete".into(), ..source },
        _ => source,
    };
    let mut details = Vec::new();
    for detail in Detail::ALL {
        let Some(detail_key) = layout.detail_key_for(detail, key) else { continue };
        let object = match get_bounded(store, bucket, &detail_key).await {
            Ok(object) => object,
            Err(e) if e.code == ErrorCode::ObjectNotFound => continue,
            Err(e) => return Err(e),
        };
        let size = object.body.len() as u64;
        let batches = redscribe_core::encode::from_parquet(object.body)
            .map_err(|e| unreadable(format!("{} file {detail_key}: {e}", detail.table())))?;
        let columns = file_columns(&detail.schema(), &batches)
            .map_err(|e| unreadable(format!("{} file {detail_key}: {e}", detail.table())))?;
        let mut rows = 0;
        for batch in &batches {
            let ids = redscribe_core::record::detail_ids(batch)
                .map_err(|e| unreadable(format!("{} file {detail_key}: {e}", detail.table())))?;
            if let Some(other) = ids.iter().find(|id| **id != row.id) {
                let why = format!("{} file {detail_key} holds rows of {other}, not of {}", detail.table(), row.id);
                return Err(unreadable(why));
            }
            rows += ids.len() as i64;
        }
        details.push(DetailFile { detail, key: detail_key, size, rows, columns });
    }
    Ok(ResultFile {
        etag: object_etag,
        id: row.id.clone(),
        bucket: bucket.to_string(),
        key: key.to_string(),
        size,
        rows: rows.len() as i64,
        columns,
        source,
        details,
        erased: None,
    })
}

/// Reads an object of at most [`RESULT_FILE_MAX_BYTES`]; one that passes it ends the read (`load_rejected`).
pub(crate) async fn get_bounded<S: ObjectStore + ?Sized>(
    store: &S,
    bucket: &str,
    key: &str,
) -> Result<StoredObject, PortError> {
    let mut sink = BoundedBuffer { body: Vec::new(), max: RESULT_FILE_MAX_BYTES };
    let head = store.get_into(bucket, key, None, &mut sink).await.map_err(|e| match e.code {
        ErrorCode::LoadRejected => PortError::new(e.code, format!("s3://{bucket}/{key}: {}", e.message)),
        _ => e,
    })?;
    Ok(StoredObject {
        body: sink.body,
        content_type: head.content_type,
        etag: head.etag,
        version_id: head.version_id,
        metadata: head.metadata,
    })
}

/// The recordings a deployment transcribes, which every result file it loads must answer: the load function's
/// `S3_BUCKET` and `REDSCRIBE_INPUT_PREFIX` (the stack's bucket and `InputPrefix`). No bucket: any bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recordings {
    pub bucket: Option<String>,
    pub prefix: String,
}

impl Recordings {
    /// Recordings anywhere under `prefix` of `bucket`.
    pub fn under(bucket: &str, prefix: &str) -> Recordings {
        Recordings { bucket: Some(bucket.to_string()), prefix: prefix.to_string() }
    }

    pub fn holds(&self, bucket: &str, key: &str) -> bool {
        self.bucket.as_deref().is_none_or(|b| b == bucket) && key.starts_with(&self.prefix)
    }
}

/// Whether a result file answers its recording as the recording is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The recording holds the bytes (the ETag) the file's row answers: load it.
    Current,
    /// The recording holds other bytes: the file is settled unloaded, and the row follows the recording's newer
    /// upload.
    Superseded(String),
    /// The recording is gone: the file is settled unloaded and its objects deleted (its recording's erasure may have
    /// loaded before it arrived), and the row follows the recording's removal.
    Gone(String),
}

/// Checks a result file's claims against the recording, as the loader does just before a load: the recording
/// must be one this deployment transcribes (else the file is refused, `load_rejected`: it is not the stage's),
/// and it must still hold the bytes the row answers — a listing of its key gives the current ETag. So a file can
/// only ever load the answer to the recording's current bytes, which is what lets the load's MERGE let a row of
/// other bytes replace the stored one whatever its claimed sequencer (see `core::load`): a file planted with a
/// maximal sequencer pins nothing past the next upload.
pub async fn standing<S: ObjectStore + ?Sized>(
    store: &S,
    recordings: &Recordings,
    file: &ResultFile,
) -> Result<Standing, PortError> {
    let object = &file.source.object;
    let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
    if !recordings.holds(bucket, key) {
        let why = format!(
            "{}: it answers s3://{bucket}/{key}, which is not under the recordings of this deployment (s3://{}/{})",
            file.uri(),
            recordings.bucket.as_deref().unwrap_or("*"),
            recordings.prefix
        );
        return Err(PortError::new(ErrorCode::LoadRejected, why));
    }
    if file.source.is_removal() {
        // An erasure stands whatever the key holds now: the load orders it against the recording's rows (a later
        // upload's row wins over it), and only the pipeline's roles may write under the results prefix.
        return Ok(Standing::Current);
    }
    Ok(match (store.find(bucket, key).await?, object.etag.as_deref()) {
        (None, _) => Standing::Gone(format!("s3://{bucket}/{key} is no longer there")),
        // A row that names no ETag (its event gave none, and the recording was never read) answers whatever the
        // key holds; S3's own events always carry one.
        (Some(_), None) => Standing::Current,
        (Some(now), Some(claimed)) if now.etag.as_deref() == Some(claimed) => Standing::Current,
        (Some(now), Some(claimed)) => Standing::Superseded(format!(
            "s3://{bucket}/{key} now holds other bytes (ETag {}, the row answers {claimed})",
            now.etag.as_deref().unwrap_or("none")
        )),
    })
}

/// Whether a result row is what the transcribe stage writes at `key`: its id derived from its bucket and key, its
/// sequencer an S3 sequencer (hexadecimal), and the file named `<id>-<version>.parquet` with the version token
/// of the row's own version, ETag and sequencer. A file planted under the results prefix — naming another
/// recording's id, or claiming an object it does not describe — fails here and is quarantined, never loaded over
/// that recording's row.
pub fn written_by_the_stage(row: &redscribe_core::record::ResultRow, key: &str) -> Result<(), String> {
    let id = redscribe_core::identity::recording_id(&row.bucket, &row.object_key);
    if row.id != id {
        return Err(format!("its id {} is not the id of s3://{}/{} ({id})", row.id, row.bucket, row.object_key));
    }
    if let Some(s) = &row.sequencer {
        if s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("its sequencer {s:?} is not an S3 sequencer"));
        }
    }
    let name = format!("{id}-{}.parquet", row.object().version_token());
    if key.rsplit('/').next() != Some(name.as_str()) {
        return Err(format!("its name is not {name}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::{result_row, Location};
    use redscribe_core::events::ObjectVersion;

    fn row(key: &str, sequencer: Option<&str>) -> redscribe_core::record::ResultRow {
        let object = ObjectVersion {
            etag: Some("0123abcd".into()),
            sequencer: sequencer.map(str::to_string),
            size: Some(10),
            ..ObjectVersion::new("recordings", key)
        };
        let at = Location { object, ..Location::default() };
        result_row(&at, &Err(crate::transcribe::failure(ErrorCode::NotAudio, "no")), chrono::Utc::now(), 1)
    }

    fn name(r: &redscribe_core::record::ResultRow) -> String {
        let version = redscribe_core::identity::version_token(None, r.etag.as_deref(), r.sequencer.as_deref());
        format!("processed/transcription_results/dt=2026-12-01/{}-{version}.parquet", r.id)
    }

    #[test]
    fn only_what_the_stage_writes_passes() {
        let good = row("in/call.wav", Some("0055AED6DCD90281E5"));
        assert_eq!(written_by_the_stage(&good, &name(&good)), Ok(()));

        let mut planted = good.clone();
        planted.id = redscribe_core::identity::recording_id("recordings", "in/someone-else.wav");
        let why = written_by_the_stage(&planted, &name(&planted)).unwrap_err();
        assert!(why.contains("is not the id of s3://recordings/in/call.wav"), "{why}");

        let odd = row("in/call.wav", Some("'; drop table x; --"));
        assert!(written_by_the_stage(&odd, &name(&odd)).unwrap_err().contains("not an S3 sequencer"));

        let other = row("in/other.wav", Some("0A"));
        let why = written_by_the_stage(&good, &name(&other)).unwrap_err();
        assert!(why.contains("its name is not"), "{why}");
        assert_eq!(written_by_the_stage(&row("in/x.wav", None), &name(&row("in/x.wav", None))), Ok(()));
    }
}
