//! The S3 stand-in.
//!
//! - [`journal`]: durable event log with acknowledgements; unacknowledged events are re-delivered on restart.
//! - [`store`]: the `s3s::S3` implementation: `s3s-fs` for storage, plus an event for every completed upload.
//! - `lines`: the append-only JSON-lines files under both, torn tails dropped on open.
//! - `versions`: bucket versioning: version ids on uploads, in responses and events; noncurrent versions and
//!   delete markers kept (`versioned`: what a versioning-enabled bucket does on a write, a read, a delete, a listing).
//! - [`tags`]: object tagging (what an upload sets, Put/Get/DeleteObjectTagging), with S3's limits.
//! - [`faults`]: injected throttling (`503 SlowDown`) and `500 InternalError` on the next requests.
//! - [`server`]: the HTTP server on a loopback port.
//! - [`calls`]: each signed request as the IAM action AWS authorises it as (for the call log).

pub mod calls;
pub mod faults;
pub mod journal;
mod lines;
pub mod server;
pub mod store;
pub mod tags;
mod versioned;
mod versions;

pub use faults::{S3Fault, S3Faults};
pub use journal::{drain, Delivery, EventJournal};
pub use server::{S3Server, S3ServerConfig};
