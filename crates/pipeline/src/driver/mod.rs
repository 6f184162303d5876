//! The one driver of the stages, for every front end: deliveries in → admit (normalise, skip, keep what is not
//! an event, the receive-count policy, `load_audit` dedupe and read-back) → process with bounded concurrency →
//! batch by count, bytes and age → load → acknowledge. The front ends — `run`, `demo`, `backfill` and `replay` (a
//! one-shot summary), `serve` (journal acknowledgements) and the two Lambdas (SQS `batchItemFailures`) — differ
//! only in where [`Job`]s come from and what their [`Listener`] does with each unit's [`Settled`] outcome; every
//! one can collect the same [`Report`].
//!
//! What the driver guarantees, once, for all of them:
//! - a delivery goes in raw ([`Delivery`]) and is admitted here, the same way whoever sent it: skipped records
//!   counted (`RecordingsSkipped`), what is not an event kept under `rejected/invalid_event/`, an SQS message
//!   received too often quarantined `retries_exhausted`, result files `load_audit` already settled dropped;
//! - a transient failure (throttling, 5xx) of an admission, a recording or a load is retried with jittered
//!   exponential backoff ([`Retries`]), while everything else goes on; when the attempts are used up (or the
//!   deadline is near) the unit is settled [`Settled::Retry`], for its front end to deliver again;
//! - a load that fails for good costs only the file to blame: the loader's one isolation layer
//!   ([`Loader::load_until`]) quarantines it (a record and a `load_audit` row) and loads the rest, so one bad file
//!   never holds back the others;
//! - a crash while processing one recording is caught and the recording quarantined as `crashed`;
//! - a unit (an SQS message, or a whole delivery) is acknowledged only when every item in it is settled: loaded,
//!   or quarantined.
//!
//! - `admit`: a delivery turned into units of work (and what needs none: skipped, invalid, already loaded).
//! - `batch`: the batch limits and the open batch.
//! - `report`: the one summary every front end reads.
//! - `run`: the event loop.

mod admit;
mod batch;
mod report;
mod run;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redscribe_core::events::ObjectEvent;
use redscribe_core::ports::{PortError, Warehouse};
use redscribe_core::retry::Backoff;
use serde_json::Value;

use crate::load::{LoadReport, Loader};
use crate::pending::Candidate;
use crate::transcribe::{Processed, ResultFile, TranscribeStage};

pub use admit::{is_sqs_batch, Admitted};
pub use batch::BatchLimits;
pub use report::{Outcome, Report};

/// One thing to settle: a recording to process (and load, when the driver has a loader), or a result file the
/// transcribe stage already wrote, to load.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Recording(ObjectEvent),
    Result(ResultFile),
}

/// What a front end hands the driver, as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// A notification payload: an S3 event, an SQS batch (each message its own unit), SNS in SQS, an EventBridge
    /// event, a journal entry. A driver with a transcribe stage reads recordings from it; a loading-only driver,
    /// result files announced by the results prefix's notifications.
    Notification(Value),
    /// Objects listed or named rather than announced (`backfill`'s listing, `replay`'s records): the same skip
    /// rules apply.
    Objects(Vec<ObjectEvent>),
    /// Result files found by a sweep, to load unless `load_audit` already settled them.
    Results(Vec<Candidate>),
}

/// What a front end acknowledges: a journal entry, a Lambda invocation, a listed object, … `token` is how it knows
/// it again. Within a job, each SQS message is settled on its own ([`Listener::settled`]).
#[derive(Debug, Clone)]
pub struct Job<T> {
    pub token: T,
    pub delivery: Delivery,
}

/// How a unit of a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// Every item is loaded or quarantined (or, without a loader, written): acknowledge it.
    Done,
    /// Some item still fails transiently after its attempts, or there was no time left: deliver it again.
    Retry(PortError),
}

/// What a front end hears while the driver runs. Only `settled` is required.
pub trait Listener<T> {
    /// A delivery was admitted: what needed no work.
    fn admitted(&mut self, _counts: &Admitted) {}
    /// A recording was processed (`Err`: a transient failure; it may be retried).
    fn processed(&mut self, _event: &ObjectEvent, _outcome: &Result<Processed, PortError>) {}
    /// A batch was loaded (files loaded, files quarantined by the warehouse).
    fn loaded(&mut self, _report: &LoadReport) {}
    /// A unit of job `token` is settled: the SQS message `message`, or (`None`) the job's records that came in no
    /// message. It will not be mentioned again.
    fn settled(&mut self, token: T, message: Option<String>, settled: Settled);
}

/// How often a failing item is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    pub backoff: Backoff,
    /// Attempts in all, the first included; `None`: until it succeeds (a long-lived `serve`).
    pub attempts: Option<u32>,
}

impl Retries {
    /// A few attempts within seconds: a one-shot command or a Lambda invocation, whose caller retries later.
    /// A failure the adapter already retried to exhaustion ([`PortError::exhausted`]) is not tried again here.
    pub const BRIEF: Retries = Retries {
        backoff: Backoff { base: Duration::from_millis(200), cap: Duration::from_secs(2) },
        attempts: Some(4),
    };
    /// Until it succeeds, at most 30 s apart: a long-lived process outlasts any throttling storm.
    pub const FOREVER: Retries =
        Retries { backoff: Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(30) }, attempts: None };
}

/// How the driver runs.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverConfig {
    /// Recordings processed at once.
    pub concurrency: usize,
    pub batch: BatchLimits,
    /// Longest a processed file waits for its batch to fill (input that has ended never waits).
    pub batch_age: Duration,
    pub retries: Retries,
    /// When the invocation must have answered (Lambda): past it less the margin no recording starts, no batch
    /// starts and no retry waits; a recording that would not be transcribed before it is left for the next
    /// delivery ([`crate::transcribe::TimeBudget`]).
    pub deadline: Option<Instant>,
    /// The whole time any invocation has (the function's timeout): a recording that needs more is `too_long`.
    pub time_limit: Option<Duration>,
    /// No batch starts with less time left than this, or than 1.5× the longest batch so far.
    pub margin: Duration,
    /// An SQS message received this many times (`ApproximateReceiveCount`) is quarantined `retries_exhausted`
    /// unprocessed: keep it below the queue's `maxReceiveCount`, so it never reaches the dead-letter queue.
    pub max_receives: u32,
    /// Receives the quarantine records of messages that name no bucket (the layout's output bucket wins).
    pub fallback_bucket: String,
    /// Result files read back at once.
    pub read_concurrency: usize,
}

impl Default for DriverConfig {
    fn default() -> DriverConfig {
        DriverConfig {
            concurrency: redscribe_core::settings::CLI_CONCURRENCY,
            batch: BatchLimits::default(),
            batch_age: Duration::from_secs(1),
            retries: Retries::BRIEF,
            deadline: None,
            time_limit: None,
            margin: Duration::from_secs(30),
            max_receives: redscribe_core::settings::DEFAULT_MAX_RECEIVES,
            fallback_bucket: String::new(),
            read_concurrency: 8,
        }
    }
}

/// The driver: a transcribe stage, a loader, or both.
pub struct Driver<S, W> {
    stage: Option<Arc<TranscribeStage<S>>>,
    loader: Option<Arc<Loader<S, W>>>,
    config: DriverConfig,
}

impl<S, W> Clone for Driver<S, W> {
    fn clone(&self) -> Driver<S, W> {
        Driver { stage: self.stage.clone(), loader: self.loader.clone(), config: self.config.clone() }
    }
}

impl<S, W> Driver<S, W> {
    /// Processes recordings and loads their results.
    pub fn new(stage: Arc<TranscribeStage<S>>, loader: Arc<Loader<S, W>>, config: DriverConfig) -> Driver<S, W> {
        Driver { stage: Some(stage), loader: Some(loader), config }
    }

    /// Loads result files (the load function).
    pub fn loading(loader: Arc<Loader<S, W>>, config: DriverConfig) -> Driver<S, W> {
        Driver { stage: None, loader: Some(loader), config }
    }
}

impl<S> Driver<S, NoWarehouse> {
    /// Processes recordings only (the transcribe function): a job is settled once its results are written.
    pub fn transcribing(stage: Arc<TranscribeStage<S>>, config: DriverConfig) -> Driver<S, NoWarehouse> {
        Driver { stage: Some(stage), loader: None, config }
    }
}

/// The warehouse of a driver that loads nothing: it has no value, so no call can reach it.
pub enum NoWarehouse {}

#[async_trait]
impl Warehouse for NoWarehouse {
    async fn run_batch(&self, _sqls: &[String], _token: &str) -> Result<(), PortError> {
        match *self {}
    }

    async fn query(&self, _sql: &str) -> Result<Vec<Vec<Option<String>>>, PortError> {
        match *self {}
    }
}
