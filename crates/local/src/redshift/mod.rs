//! A Redshift Data API endpoint over an embedded DuckDB warehouse.
//!
//! - [`server`]: the HTTP endpoint (AWS JSON 1.1, SigV4-checked) that `aws-sdk-redshiftdata` and
//!   `aws redshift-data` talk to through `endpoint_url`.
//! - [`service`]: the operations — statements run asynchronously, batches in one transaction, results paged,
//!   `ActiveStatementsExceededException` injectable.
//! - [`dialect`]: Redshift SQL parsed with `sqlparser` and rewritten for DuckDB, `COPY` planned.
//! - [`engine`]: the DuckDB database file, `COPY` from the S3 stand-in's objects, `sys_load_error_detail`.

pub mod dialect;
pub mod engine;
pub mod protocol;
pub mod server;
pub mod service;
mod sigv4;

pub use server::{DataApiServer, DataApiServerConfig};
pub use service::{DataApiConfig, Faults, DATABASE};
