//! Driving the stages over many recordings at once, as the CLI's `run`, `backfill` and `replay` do: every event
//! processed with bounded concurrency, then the results loaded in batches of at most a given number of files.

use std::sync::Arc;

use tracing::Instrument;

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
        // Each task logs inside the caller's span (in a Lambda, the invocation's, with its request id).
        let handle = tasks.spawn(
            async move {
                let _permit = limit.acquire_owned().await;
                let result = stage.process(&task_event).await;
                (task_event, result)
            }
            .instrument(tracing::Span::current()),
        );
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

/// How big one load may get: a batch closes at whichever bound it reaches first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Result files per COPY.
    pub files: usize,
    /// Bytes of result files per COPY.
    pub bytes: u64,
}

impl Default for BatchLimits {
    fn default() -> BatchLimits {
        BatchLimits { files: 1000, bytes: 1 << 30 }
    }
}

impl BatchLimits {
    /// Splits files, in order, into batches within the limits (a file larger than the byte bound is a batch of
    /// its own).
    pub fn batches(&self, files: Vec<ResultFile>) -> Vec<Vec<ResultFile>> {
        let mut batches: Vec<Vec<ResultFile>> = Vec::new();
        let mut bytes = 0u64;
        for file in files {
            let full = batches.last().is_none_or(|b| b.len() >= self.files.max(1) || bytes + file.size > self.bytes);
            if full {
                batches.push(Vec::new());
                bytes = 0;
            }
            bytes += file.size;
            batches.last_mut().expect("a batch is open").push(file);
        }
        batches
    }
}

impl<S: ObjectStore, W: Warehouse> Loader<S, W> {
    /// Loads `files` in batches within `limits` (one COPY each, more when bad files are isolated); `done` hears
    /// how many files each batch settled. Stops at the first batch that fails: what is loaded stays loaded, and
    /// loading the same files again adds nothing.
    pub async fn load_in_batches(
        &self,
        files: Vec<ResultFile>,
        limits: BatchLimits,
        mut done: impl FnMut(usize),
    ) -> Result<LoadReport, PortError> {
        let mut report = LoadReport::default();
        for batch in limits.batches(files) {
            let n = batch.len();
            let loaded = self.load(batch).await?;
            report.loaded.extend(loaded.loaded);
            report.rejected.extend(loaded.rejected);
            report.batches += loaded.batches;
            done(n);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redscribe_core::events::Envelope;

    fn file(size: u64) -> ResultFile {
        ResultFile {
            id: "x".into(),
            bucket: "b".into(),
            key: "k".into(),
            size,
            rows: 1,
            source: ObjectEvent {
                bucket: "b".into(),
                key: "in/x.wav".into(),
                size: None,
                version_id: None,
                etag: None,
                sequencer: None,
                event_name: "ObjectCreated:Put".into(),
                event_time: None,
                envelope: Envelope::S3,
                message_id: None,
            },
            segments: None,
        }
    }

    #[test]
    fn batches_close_at_the_first_bound_reached() {
        let sizes = |batches: Vec<Vec<ResultFile>>| -> Vec<Vec<u64>> {
            batches.into_iter().map(|b| b.into_iter().map(|f| f.size).collect()).collect()
        };
        let by_count = BatchLimits { files: 2, bytes: 1000 };
        assert_eq!(sizes(by_count.batches((1..=5).map(file).collect())), [vec![1, 2], vec![3, 4], vec![5]]);
        let by_bytes = BatchLimits { files: 100, bytes: 10 };
        assert_eq!(
            sizes(by_bytes.batches(vec![6, 4, 1, 20, 3].into_iter().map(file).collect())),
            [vec![6, 4], vec![1], vec![20], vec![3]]
        );
        assert!(BatchLimits::default().batches(Vec::new()).is_empty());
    }
}
