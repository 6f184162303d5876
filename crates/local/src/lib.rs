//! Embedded stand-ins for the AWS services redscribe uses, so the production SDK code runs on a laptop and in
//! tests. Servers bind to loopback only.
//!
//! - [`credentials`]: the access key pair the stand-ins accept (from the environment, or generated).
//! - [`s3`]: an S3 endpoint on `s3s`/`s3s-fs` over a folder, SigV4-checked, raising an S3 event notification for
//!   every completed upload into a durable [`s3::EventJournal`] (at-least-once, re-delivered until acknowledged).
//! - [`redshift`]: a Redshift Data API endpoint (AWS JSON 1.1, SigV4-checked) over an embedded DuckDB database
//!   file, speaking enough Redshift SQL for the loader: DDL, `COPY` from the S3 stand-in, `MERGE`, transactions.
//! - [`stand_ins`]: the S3 and Data API stand-ins started together over one data folder: the bundle the CLI and
//!   the tests start.
//! - [`runtime_api`]: a Lambda Runtime API, so the Lambda binaries run as processes in tests and benchmarks.
//! - [`dashboard`]: the dashboard page on loopback, and ([`dashboard::query`]) the shipped Grafana dashboard's
//!   panels and queries answered over EMF documents, as CloudWatch would answer them.
//! - [`logs_insights`]: the CloudWatch Logs Insights queries of `dashboards/queries/`, parsed and run over JSON log
//!   lines as CloudWatch runs them (the Lambdas' tests run the shipped queries over what the functions logged).
//! - [`calls`]: what the S3 and Data API stand-ins were asked to do, as IAM actions, when a test records it.
//! - `http`: the loopback HTTP server every stand-in runs on (bind, serve, stop after requests in flight).
//! - [`error`]: the crate's error enum.

pub mod calls;
pub mod credentials;
pub mod dashboard;
pub mod error;
mod http;
pub mod logs_insights;
pub mod redshift;
pub mod runtime_api;
pub mod s3;
pub mod stand_ins;

pub use credentials::Credentials;
pub use error::LocalError;
pub use stand_ins::{StandIns, StandInsConfig};
