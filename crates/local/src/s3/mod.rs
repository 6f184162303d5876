//! The S3 stand-in.
//!
//! - [`journal`]: durable event log with acknowledgements; unacknowledged events are re-delivered on restart.
//! - [`store`]: the `s3s::S3` implementation: `s3s-fs` for storage, plus an event for every completed upload.
//! - `versions`: bucket versioning (current versions only): version ids on uploads, in responses and events.
//! - [`server`]: the HTTP server on a loopback port.

pub mod journal;
pub mod server;
pub mod store;
mod versions;

pub use journal::{Delivery, EventJournal};
pub use server::{S3Server, S3ServerConfig};
