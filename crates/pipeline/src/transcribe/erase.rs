//! A recording deleted (an `ObjectRemoved` event of the recordings prefix): its erasure is a result file whose
//! row is a tombstone (`erased`, the deletion's sequencer, no content and no detail files). The load orders it as
//! any row of the recording: it replaces the recording's row and takes its segments, words and attributes with
//! it, and nothing older of the recording — a late result file, a replayed or backfilled processing — comes back
//! over it, while a later upload of the key (a later sequencer) is a new recording and replaces it
//! (`core::load::load_statements`).

use chrono::Utc;
use redscribe_core::events::ObjectEvent;
use redscribe_core::metrics::{Metric, Stage};
use redscribe_core::ports::{ObjectStore, PortError};
use redscribe_core::record::results_batch;
use redscribe_core::ErrorCode;

use super::{Processed, TranscribeStage};
use crate::row::{erasure_row, Location};

impl<S: ObjectStore> TranscribeStage<S> {
    /// Writes the erasure of the recording `event` says was deleted.
    pub(super) async fn erase(&self, event: &ObjectEvent) -> Result<Processed, PortError> {
        let processed_at = Utc::now();
        let row = erasure_row(&Location::of(event), processed_at);
        let batch = results_batch(std::slice::from_ref(&row))
            .map_err(|e| PortError::new(ErrorCode::Internal, format!("building the erasure: {e}")))?;
        let bucket = self.config.layout.bucket_for(&event.object.bucket).to_string();
        let source = ObjectEvent { object: row.object(), ..event.clone() };
        let file = self.put_result_file(&bucket, &row, batch, source, Vec::new()).await?;
        self.record(Metric::RecordingsProcessed, 1.0, Stage::Write, None);
        tracing::info!(bucket = %event.object.bucket, key = %event.object.key, id = %row.id, status = "erased", "processed");
        Ok(Processed::Written(file))
    }
}
