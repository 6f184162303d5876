//! A recording deleted (an `ObjectRemoved` event of the recordings prefix): its erasure is a result file whose
//! row is a tombstone (`erased`, the deletion's sequencer, no content and no detail files). The load orders it as
//! any row of the recording: it replaces the recording's row and takes its segments, words and attributes with
//! it, and nothing older of the recording — a late result file, a replayed or backfilled processing — comes back
//! over it, while a later upload of the key (a later sequencer) is a new recording and replaces it
//! (`core::load::load_statements`).

use chrono::Utc;
use redscribe_core::encode::to_parquet;
use redscribe_core::events::ObjectEvent;
use redscribe_core::layout::FileFormat;
use redscribe_core::metrics::{Metric, Stage};
use redscribe_core::ports::{ObjectStore, PortError};
use redscribe_core::quarantine::RecordingRef;
use redscribe_core::record::results_batch;
use redscribe_core::ErrorCode;

use super::{Processed, ResultFile, TranscribeStage};
use crate::row::{erasure_row, Location};

impl<S: ObjectStore> TranscribeStage<S> {
    /// Writes the erasure of the recording `event` says was deleted.
    pub(super) async fn erase(&self, event: &ObjectEvent) -> Result<Processed, PortError> {
        let processed_at = Utc::now();
        let row = erasure_row(&Location::of(event), processed_at);
        let batch = results_batch(std::slice::from_ref(&row))
            .map_err(|e| PortError::new(ErrorCode::Internal, format!("building the erasure: {e}")))?;
        let parquet = to_parquet(&[batch]).map_err(|e| PortError::new(ErrorCode::Internal, format!("Parquet: {e}")))?;
        let layout = &self.config.layout;
        let bucket = layout.bucket_for(&event.object.bucket).to_string();
        let version = row.object().version_token();
        let key = layout.results_key(processed_at.date_naive(), &row.id, &version, FileFormat::Parquet);
        let source = ObjectEvent { object: row.object(), ..event.clone() };
        let about = RecordingRef::from(&source).to_metadata().unwrap_or_default();
        let size = parquet.len() as u64;
        self.store.put_with(&bucket, &key, parquet, "application/vnd.apache.parquet", &about).await?;
        self.record(Metric::RecordingsProcessed, 1.0, Stage::Write, None);
        tracing::info!(bucket = %event.object.bucket, key = %event.object.key, id = %row.id, status = "erased", "processed");
        Ok(Processed::Written(ResultFile {
            id: row.id.clone(),
            bucket,
            key,
            size,
            rows: 1,
            columns: redscribe_core::schema::results_schema().fields().len(),
            source,
            details: Vec::new(),
            etag: None,
        }))
    }
}
