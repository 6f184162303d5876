//! Driving the stages over many recordings at once, as the CLI's `run`, `backfill` and `replay` do: every event
//! processed with bounded concurrency, then the results loaded in batches of at most a given number of files.

use std::sync::Arc;

use redscribe_core::events::ObjectEvent;
use redscribe_core::ports::{ObjectStore, PortError, Warehouse};
use redscribe_core::ErrorCode;

use crate::load::{LoadReport, Loader};
use crate::transcribe::{Processed, ResultFile, TranscribeStage};

/// What processing one event gave: a result (written, or quarantined), or a transient failure to retry.
pub type Outcome = (ObjectEvent, Result<Processed, PortError>);

/// Processes `events`, at most `concurrency` at a time; `done` sees each outcome as it comes (for progress). The
/// outcomes come back in completion order. A task that panics is reported as an `internal` failure of its event,
/// never as a crash of the caller.
pub async fn process_all<S: ObjectStore + 'static>(
    stage: Arc<TranscribeStage<S>>,
    events: Vec<ObjectEvent>,
    concurrency: usize,
    mut done: impl FnMut(&Outcome),
) -> Vec<Outcome> {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    for event in events {
        let (stage, limit, task_event) = (stage.clone(), limit.clone(), event.clone());
        let handle = tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = stage.process(&task_event).await;
            (task_event, result)
        });
        ids.insert(handle.id(), event);
    }
    let mut outcomes = Vec::with_capacity(ids.len());
    while let Some(joined) = tasks.join_next_with_id().await {
        let outcome = match joined {
            Ok((_, outcome)) => outcome,
            Err(e) => {
                let event = ids.remove(&e.id()).expect("every task is known");
                (event, Err(PortError::new(ErrorCode::Internal, format!("processing task failed: {e}"))))
            }
        };
        done(&outcome);
        outcomes.push(outcome);
    }
    outcomes
}

impl<S: ObjectStore, W: Warehouse> Loader<S, W> {
    /// Loads `files` in batches of at most `batch_files` (one COPY each, more when bad files are isolated);
    /// `done` hears how many files each batch settled. Stops at the first batch that fails: what is loaded
    /// stays loaded, and loading the same files again adds nothing.
    pub async fn load_in_batches(
        &self,
        files: Vec<ResultFile>,
        batch_files: usize,
        mut done: impl FnMut(usize),
    ) -> Result<LoadReport, PortError> {
        let mut report = LoadReport::default();
        for chunk in files.chunks(batch_files.max(1)) {
            let batch = self.load(chunk.to_vec()).await?;
            report.loaded.extend(batch.loaded);
            report.rejected.extend(batch.rejected);
            report.batches += batch.batches;
            done(chunk.len());
        }
        Ok(report)
    }
}
