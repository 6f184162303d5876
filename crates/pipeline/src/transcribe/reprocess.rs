//! A reprocess request (`redscribe reprocess`): an object under `manifests/reprocess/` whose creation comes back
//! as an event like an upload's, and names a recording version to hear again with the generation of its
//! reprocess. The transcriber must be the model the reprocess is for: one of another model leaves it, so that
//! history is never heard again with the model it was to move away from.

use redscribe_core::events::ObjectEvent;
use redscribe_core::metrics::{Metric, Stage};
use redscribe_core::ports::{ObjectStore, PortError};
use redscribe_core::reprocess::{same_model, ReprocessRequest};
use redscribe_core::ErrorCode;

use super::parts::read_json;
use super::{Processed, TimeBudget, TranscribeStage};

impl<S: ObjectStore> TranscribeStage<S> {
    /// Hears the recording version a reprocess request names (`event` is the request's creation).
    pub(super) async fn process_reprocess(
        &self,
        event: &ObjectEvent,
        attempt: u32,
        budget: TimeBudget,
        tried_before: bool,
    ) -> Result<Processed, PortError> {
        let (bucket, key) = (&event.object.bucket, &event.object.key);
        let request: ReprocessRequest = match read_json(self.store.as_ref(), bucket, key).await {
            Ok(request) => request,
            // Gone with its expired manifests, or not a request redscribe wrote: nothing to hear.
            Err(e) if matches!(e.code, ErrorCode::ObjectNotFound | ErrorCode::Internal) => {
                tracing::warn!(%key, error = %e.message, "reprocess request left");
                self.record(Metric::RecordingsSkipped, 1.0, Stage::Receive, None);
                return Ok(Processed::Skipped);
            }
            Err(e) => return Err(e),
        };
        let ours = self.transcriber.as_ref().map(|t| t.model().to_string());
        let fits = match (&request.model, &ours) {
            (Some(wanted), Some(ours)) => same_model(wanted, ours),
            (None, _) => true,
            (Some(_), None) => false,
        };
        if !fits {
            let (wanted, ours) = (request.model.unwrap_or_default(), ours.unwrap_or_else(|| "none".into()));
            tracing::error!(
                %key,
                wanted = %wanted,
                ours = %ours,
                "reprocess request for another model: deploy that model first, then reprocess"
            );
            self.record(Metric::RecordingsSkipped, 1.0, Stage::Receive, None);
            return Ok(Processed::Skipped);
        }
        let recording = ObjectEvent { message_id: event.message_id.clone(), ..request.recording };
        if recording.generation.is_none()
            || self.config.layout.is_output(&recording.object.bucket, &recording.object.key)
        {
            tracing::warn!(%key, "reprocess request without a generation, or of the pipeline's own output: left");
            self.record(Metric::RecordingsSkipped, 1.0, Stage::Receive, None);
            return Ok(Processed::Skipped);
        }
        self.process_recording(&recording, attempt, budget, tried_before).await
    }
}
