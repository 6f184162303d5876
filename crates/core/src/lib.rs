//! Pure contracts of redscribe. Nothing here performs I/O or links an AWS SDK; every other crate builds on it.
//!
//! - [`attributes`]: what a recording is about besides its sound (its key's named groups, user metadata, S3 tags),
//!   and the well-known names that are typed columns (`recorded_at`, `call_id`, `agent_id`).
//! - [`events`]: S3 / SQS / SNS→SQS / EventBridge envelopes normalised into [`events::ObjectEvent`]s, with
//!   a reason for everything that is skipped.
//! - [`identity`]: the deterministic recording id, version tokens and S3 `sequencer` ordering.
//! - [`layout`]: where results, segments, manifests and quarantine records live in S3.
//! - [`schema`]: the one Arrow schema of each warehouse table (column order is the Parquet `COPY` contract).
//! - [`record`]: typed rows (results, segments, load audit) and their conversion to and from Arrow batches.
//! - [`redact`]: PII redaction of a transcript (cards, CVVs, expiry dates, bank accounts, SSNs, phone numbers,
//!   e-mail addresses, PINs), in digits and in words, tagged as Amazon Transcribe names the types.
//! - [`encode`]: Arrow batches to Parquet and JSON Lines bytes, and Parquet bytes back to batches.
//! - [`sql`]: SQL string literals and validated identifiers for the statements the loader sends.
//! - [`load`]: the statements of one load transaction (stage, COPY, de-duplicate, MERGE, audit) and its manifest.
//! - [`migrations`]: the numbered DDL of `sql/migrations/` and the ledger that runs each once.
//! - [`metrics`]: the catalog of metric names, units and dimensions.
//! - [`alarms`]: the shipped CloudWatch alarms as typed `PutMetricAlarm` inputs, placeholders filled.
//! - [`parts`]: a long recording's parts: cuts at pauses near even boundaries, and the parts' transcriptions
//!   joined into the recording's.
//! - [`reprocess`]: what a reprocess selects, and the request that hears a recording version again.
//! - [`plan`]: how long a recording will take to transcribe (a table of each model's pace, refined by the
//!   median of what the process measured), before it is started.
//! - [`cost`]: the price table and what a recording's or a batch's use of AWS costs by it.
//! - [`emf`]: data points recorded by the stages, drained as CloudWatch Embedded Metric Format documents.
//! - [`ports`]: the object store and warehouse traits the pipeline's stages are written against.
//! - [`quarantine`]: the one quarantine record type, as stored under `rejected/<reason>/` and read by replay.
//! - [`subtitles`]: SubRip and WebVTT cues from a transcript's words, cut by the usual readability rules.
//! - [`talk`]: channel roles (`agent,customer`) and the talk and non-talk time of a call.
//! - [`settings`]: each shared setting once: its environment variable, default (a named constant) and range.
//! - [`retry`]: exponential backoff with full jitter, for every retry the pipeline makes.
//! - [`error`]: the crate's error enum and the bounded [`error::ErrorCode`] set with its retry decision.

pub mod alarms;
pub mod attributes;
pub mod cost;
pub mod emf;
pub mod encode;
pub mod error;
pub mod events;
pub mod identity;
pub mod layout;
pub mod load;
pub mod metrics;
pub mod migrations;
pub mod parts;
pub mod plan;
pub mod ports;
pub mod quarantine;
pub mod record;
pub mod redact;
pub mod reprocess;
pub mod retry;
pub mod schema;
pub mod settings;
pub mod sql;
pub mod subtitles;
pub mod talk;

pub use error::{CoreError, Disposition, ErrorCode, Failure};

/// Version of the pipeline that produced a row; stored in `transcription_results.pipeline_version`.
pub const PIPELINE_VERSION: &str = env!("CARGO_PKG_VERSION");
