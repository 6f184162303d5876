//! The pipeline's two stages, generic over the core's ports ([`redscribe_core::ports`]): the same code runs in the
//! CLI against the local stand-ins and in the Lambdas against AWS.
//!
//! - [`transcribe`]: one object event → read the object, probe the audio, build the row, write Parquet (and
//!   JSON Lines on request) under the output prefix, or a quarantine record with the reason.
//! - [`load`]: result files → a manifest → one `BatchExecuteStatement` (stage, COPY, de-duplicate, MERGE, audit);
//!   the one isolation layer: a file the warehouse names in `sys_load_error_detail` is quarantined and the rest
//!   loaded, a failure that names none is split until the file to blame stands alone.
//! - `erasure`: the load side of an erasure: the objects of the processings a tombstone outranks, deleted before
//!   it loads.
//! - [`migrate`]: the warehouse schema brought up to date, each migration once.
//! - [`row`]: the `transcription_results` row of a recording.
//! - [`config`]: the Lambdas' typed configuration from environment variables.
//! - [`invoke`]: the two Lambda front ends: a payload handed to the driver, its report turned into the function's
//!   answer (`batchItemFailures` for SQS); a scheduled sweep lists the results prefixes.
//! - [`pending`]: result files the load stage has yet to load, read back from S3.
//! - [`driver`]: the one driver every front end runs: admit (normalise, skip, keep what is not an event) →
//!   process (bounded concurrency, retries with backoff, crashes caught) → batch by count, bytes and age → load
//!   → acknowledge; one [`driver::Report`] for every front end.
//! - [`quarantine`]: the sink quarantine records are kept in, injected where the binaries are wired (an object
//!   store, memory, or a log).
//! - [`replay`]: quarantine records back into the events they came from.
//! - [`spool`]: where the transcribe stage keeps a recording while it examines it.

pub mod config;
pub mod driver;
mod erasure;
pub mod invoke;
pub mod load;
pub mod migrate;
pub mod pending;
pub mod quarantine;
pub mod replay;
pub mod row;
pub mod spool;
pub mod transcribe;

pub use load::{Isolated, LoadConfig, LoadReport, Loader};
pub use transcribe::{DetailFile, Processed, ResultFile, TranscribeConfig, TranscribeStage};

/// Writes `value` as pretty-printed JSON: COPY manifests.
pub(crate) async fn put_json<S: redscribe_core::ports::ObjectStore + ?Sized>(
    store: &S,
    bucket: &str,
    key: &str,
    value: &serde_json::Value,
) -> Result<(), redscribe_core::ports::PortError> {
    let body = serde_json::to_vec_pretty(value)
        .map_err(|e| redscribe_core::ports::PortError::new(redscribe_core::ErrorCode::Internal, e.to_string()))?;
    store.put(bucket, key, body, "application/json").await
}
