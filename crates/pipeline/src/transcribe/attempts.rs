//! Attempt markers: how often the processing of one recording version started, ended in a transient failure,
//! or finished, kept in S3 beside the manifests (`Layout::attempts_key`).
//!
//! SQS gives a receive count per message, not per recording, and a process that dies (a native crash, out of
//! memory, the function's timeout) returns every message of its batch. The markers say which recording took the
//! process down: a start with no end. On a message's redelivery the driver reads them ([`Attempts::read`]) — a
//! recording already finished is not done twice, one that started `max_receives - 1` times without an end is
//! quarantined `retries_exhausted`, and the rest run, least-suspect first. Markers are written only for
//! recordings that came in an SQS message (nothing else redelivers them): a LIST and two PUTs per recording
//! (and a GET when a marker exists).

use redscribe_core::events::ObjectEvent;
use redscribe_core::identity::recording_id;
use redscribe_core::layout::Layout;
use redscribe_core::ports::{ObjectStore, PortError};
use redscribe_core::ErrorCode;
use serde::{Deserialize, Serialize};

/// How a try of a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A result or a quarantine record was written.
    Finished,
    /// A transient failure: throttling, no time left, a service's bad minute.
    Failed,
    /// A missing grant, role or key: nothing the recording did.
    Blocked,
}

impl Ended {
    /// How a try that returned `outcome` ended.
    pub fn of<T>(outcome: &Result<T, PortError>) -> Ended {
        match outcome {
            Ok(_) => Ended::Finished,
            Err(e) if e.code.disposition() == redscribe_core::Disposition::Blocked => Ended::Blocked,
            Err(_) => Ended::Failed,
        }
    }
}

/// What the markers say of one recording version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    /// Starts with no end: each ended with the process.
    pub unanswered: u32,
    /// Tries that ended in a transient failure (throttling, no time left; not a missing grant).
    pub failed: u32,
    /// A result or a quarantine record was written: the recording is done.
    pub finished: bool,
}

impl Attempts {
    fn key(layout: &Layout, event: &ObjectEvent) -> (String, String) {
        let o = &event.object;
        let id = recording_id(&o.bucket, &o.key);
        (layout.bucket_for(&o.bucket).to_string(), layout.attempts_key(&id, &o.version_token()))
    }

    /// The markers of `event`'s recording version (none yet: all zero).
    pub async fn read<S: ObjectStore + ?Sized>(
        store: &S,
        layout: &Layout,
        event: &ObjectEvent,
    ) -> Result<Attempts, PortError> {
        let (bucket, key) = Attempts::key(layout, event);
        // Listed first: a role without s3:ListBucket gets 403, not 404, for a key that does not exist.
        if store.find(&bucket, &key).await?.is_none() {
            return Ok(Attempts::default());
        }
        match store.get(&bucket, &key, None).await {
            Ok(object) => Ok(serde_json::from_slice(&object.body).unwrap_or_default()),
            Err(e) if e.code == ErrorCode::ObjectNotFound => Ok(Attempts::default()),
            Err(e) => Err(e),
        }
    }

    async fn write<S: ObjectStore + ?Sized>(
        self,
        store: &S,
        layout: &Layout,
        event: &ObjectEvent,
    ) -> Result<(), PortError> {
        let (bucket, key) = Attempts::key(layout, event);
        let body = serde_json::to_vec(&self).map_err(|e| PortError::new(ErrorCode::Internal, e.to_string()))?;
        store.put(&bucket, &key, body, "application/json").await
    }

    /// Counts a start before the recording is read; returns the markers as they now stand.
    pub async fn started<S: ObjectStore + ?Sized>(
        store: &S,
        layout: &Layout,
        event: &ObjectEvent,
    ) -> Result<Attempts, PortError> {
        let mut now = Attempts::read(store, layout, event).await?;
        now.unanswered += 1;
        now.write(store, layout, event).await?;
        Ok(now)
    }

    /// Ends the start counted in `self` as `how`. Best effort: the outcome is already durable (or will be
    /// retried), so a marker that cannot be written is logged, not an error.
    pub async fn ended<S: ObjectStore + ?Sized>(mut self, store: &S, layout: &Layout, event: &ObjectEvent, how: Ended) {
        self.unanswered = self.unanswered.saturating_sub(1);
        match how {
            Ended::Finished => self.finished = true,
            Ended::Failed => self.failed += 1,
            // A missing grant is not the recording's: it counts against nothing.
            Ended::Blocked => {}
        }
        if let Err(e) = self.write(store, layout, event).await {
            tracing::warn!(key = %event.object.key, code = e.code.as_str(), "the attempt marker was not written: {}", e.message);
        }
    }
}
