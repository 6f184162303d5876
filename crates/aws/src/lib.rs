//! Adapters from redscribe to AWS services; the only crates that link `aws-sdk-*` are adapters like this one.
//!
//! - [`config`]: every SDK configuration, AWS or local, built in one place with the call timeouts.
//! - [`redshift`]: the Redshift Data API client (and the warehouse port): submit statements and batches, poll `DescribeStatement` with
//!   backoff and a deadline, page `GetStatementResult` into typed rows.
//! - [`s3`]: the object store port on S3.
//! - [`logs`]: EMF documents to CloudWatch Logs in the background (batched `PutLogEvents`), outside Lambda.
//! - [`alarms`]: the shipped alarms applied with `PutMetricAlarm` and listed with `DescribeAlarms`.
//! - [`permissions`]: the IAM actions each Lambda function calls, the list a deployment's policies are held to.
//! - [`retry`]: backoff with full jitter, driven by the core's single retry decision
//!   ([`redscribe_core::ErrorCode::disposition`]); each SDK operation sent (named once) and paginated through it.
//! - [`error`]: the crate's error enum, each error classified with an [`redscribe_core::ErrorCode`].

pub mod alarms;
pub mod config;
pub mod error;
pub mod logs;
pub mod permissions;
pub mod redshift;
pub mod retry;
pub mod s3;

pub use error::AwsError;
