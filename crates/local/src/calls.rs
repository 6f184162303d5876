//! What a stand-in was asked to do, as the IAM actions AWS authorises each request as: tests compare what a
//! function really called with what its deployed role grants (`redscribe_aws::permissions`). Off until a test
//! turns it on, so a long-running `serve` keeps nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// One request, as the action it is authorised as and what it was on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// e.g. `s3:GetObject`, `redshift-data:DescribeStatement`.
    pub action: String,
    /// S3: the bucket, and the key of an object request.
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// S3: the `prefix` a listing asked for.
    pub prefix: Option<String>,
}

impl Call {
    pub fn action(action: impl Into<String>) -> Call {
        Call { action: action.into(), bucket: None, key: None, prefix: None }
    }
}

/// The calls a stand-in received while recording, in order.
#[derive(Debug, Default)]
pub struct CallLog {
    recording: AtomicBool,
    calls: Mutex<Vec<Call>>,
}

impl CallLog {
    /// Starts recording, from an empty log.
    pub fn start(&self) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.recording.store(true, Ordering::SeqCst);
    }

    /// Stops recording and hands over what was recorded.
    pub fn take(&self) -> Vec<Call> {
        self.recording.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn push(&self, call: impl FnOnce() -> Call) {
        if self.recording.load(Ordering::SeqCst) {
            let call = call();
            self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(call);
        }
    }
}
