//! Result files waiting for the load stage, as the load Lambda finds them: announced by S3 notifications of the
//! results prefix (through SQS or EventBridge), or found by a sweep of the last days' prefixes. Files `load_audit`
//! has already settled (loaded or quarantined) are dropped, so an announcement delivered twice or a sweep after an
//! announcement loads nothing twice; the rest are read back into [`ResultFile`]s — the result row names the
//! recording it answers, and the segments file beside it comes along when there is one.

use std::collections::HashSet;

use chrono::NaiveDate;
use redscribe_core::events::{Envelope, ObjectEvent};
use redscribe_core::layout::Layout;
use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::sql::{literal, Identifier};
use redscribe_core::ErrorCode;

use crate::transcribe::{ResultFile, SegmentsFile};

/// A result file to load, and the SQS message that announced it (none when a sweep found it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub bucket: String,
    pub key: String,
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
                found.push(Candidate { bucket: bucket.to_string(), key: object.key, message_id: None });
            }
        }
    }
    Ok(found)
}

/// URIs `load_audit` already records as loaded or quarantined, among `uris`.
pub async fn settled<W: Warehouse + ?Sized>(
    warehouse: &W,
    audit: &Identifier,
    uris: &[String],
) -> Result<HashSet<String>, PortError> {
    let mut settled = HashSet::new();
    // A few hundred URIs per statement keeps the text far below the Data API's 100 KB limit.
    for chunk in uris.chunks(200) {
        let list = chunk
            .iter()
            .map(|u| literal(u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PortError::new(ErrorCode::Internal, e.to_string()))?
            .join(", ");
        let rows = warehouse
            .query(&format!(
                "SELECT DISTINCT \"file_uri\" FROM {audit} WHERE \"status\" IN ('loaded', 'quarantined') \
                 AND \"file_uri\" IN ({list})"
            ))
            .await?;
        settled.extend(rows.into_iter().filter_map(|r| r.into_iter().next().flatten()));
    }
    Ok(settled)
}

/// Reads a result file back: its size and rows, the recording its row answers, and its segments file if one
/// was written. A file that is not a result file redscribe can read fails with `load_rejected` (permanent: the
/// warehouse would refuse it too).
pub async fn read_back<S: ObjectStore + ?Sized>(
    store: &S,
    layout: &Layout,
    bucket: &str,
    key: &str,
) -> Result<ResultFile, PortError> {
    let unreadable = |e: String| PortError::new(ErrorCode::LoadRejected, format!("s3://{bucket}/{key}: {e}"));
    let object = store.get(bucket, key, None).await?;
    let size = object.body.len() as u64;
    let batches = redscribe_core::encode::from_parquet(object.body).map_err(|e| unreadable(e.to_string()))?;
    let mut rows = Vec::new();
    for batch in &batches {
        rows.extend(redscribe_core::record::results_from_batch(batch).map_err(|e| unreadable(e.to_string()))?);
    }
    let Some(row) = rows.first() else { return Err(unreadable("the file holds no row".into())) };
    let source = ObjectEvent {
        bucket: row.bucket.clone(),
        key: row.object_key.clone(),
        size: row.size_bytes,
        version_id: row.object_version.clone(),
        etag: row.etag.clone(),
        sequencer: row.sequencer.clone(),
        // The row does not keep the notification's name; every row answers an object-created event.
        event_name: "ObjectCreated:Put".into(),
        event_time: row.uploaded_at,
        envelope: Envelope::S3,
        message_id: None,
    };
    let segments = match layout.segments_key_for(key) {
        None => None,
        Some(segments_key) => match store.get(bucket, &segments_key, None).await {
            Ok(object) => {
                let size = object.body.len() as u64;
                let batches = redscribe_core::encode::from_parquet(object.body)
                    .map_err(|e| unreadable(format!("segments file {segments_key}: {e}")))?;
                let rows = batches.iter().map(|b| b.num_rows() as i64).sum();
                Some(SegmentsFile { key: segments_key, size, rows })
            }
            Err(e) if e.code == ErrorCode::ObjectNotFound => None,
            Err(e) => return Err(e),
        },
    };
    Ok(ResultFile {
        id: row.id.clone(),
        bucket: bucket.to_string(),
        key: key.to_string(),
        size,
        rows: rows.len() as i64,
        source,
        segments,
    })
}
