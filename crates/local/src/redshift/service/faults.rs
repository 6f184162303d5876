//! Faults a test (or `redscribe serve`) can switch on while the stand-in runs: refused statements, lost
//! responses, slow and failing batches — the ways the Data API and the warehouse fail under load.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Faults a test (or `redscribe serve`) can switch on while the stand-in runs.
#[derive(Debug, Default)]
pub struct Faults {
    active_statements_exceeded: AtomicUsize,
    lost_responses: AtomicUsize,
    failed_describes: AtomicUsize,
    /// Statements to hold before they run, and for how long (milliseconds).
    slow_statements: AtomicUsize,
    slow_ms: std::sync::atomic::AtomicU64,
    /// Batches to end FAILED with the warehouse's error text, without running.
    failed_batches: AtomicUsize,
    failed_batch_error: std::sync::Mutex<String>,
}

impl Faults {
    /// The next `n` execute calls fail with `ActiveStatementsExceededException`.
    pub fn fail_next_with_active_statements_exceeded(&self, n: usize) {
        self.active_statements_exceeded.store(n, Ordering::SeqCst);
    }

    /// The next `n` execute calls start their statement, then answer `500 InternalServerException` as if the
    /// response were lost: a client that retries without its `ClientToken` runs the statement twice.
    pub fn lose_next_execute_responses(&self, n: usize) {
        self.lost_responses.store(n, Ordering::SeqCst);
    }

    /// The next `n` `DescribeStatement` calls answer `500 InternalServerException` while the statement runs on:
    /// a client that takes that for the statement's failure submits the batch again beside the first.
    pub fn fail_next_describes(&self, n: usize) {
        self.failed_describes.store(n, Ordering::SeqCst);
    }

    /// The next `n` batches (`BatchExecuteStatement`: a load) wait `delay` before they run, as STARTED (a busy
    /// warehouse, a long COPY); a cancel ends the wait.
    pub fn slow_next_batches(&self, n: usize, delay: std::time::Duration) {
        self.slow_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
        self.slow_statements.store(n, Ordering::SeqCst);
    }

    /// The next `n` batches (`BatchExecuteStatement`: a load) end `FAILED` with `error` as the warehouse's message,
    /// nothing committed: what Redshift answers to a serialization conflict (`ERROR: 1023 …`), a query monitoring
    /// rule's abort, a full disk, a COPY role it may not assume or a table that does not exist. The text is the
    /// test's, spelled as Redshift spells it.
    pub fn fail_next_batches(&self, n: usize, error: &str) {
        *self.failed_batch_error.lock().unwrap_or_else(|p| p.into_inner()) = error.to_string();
        self.failed_batches.store(n, Ordering::SeqCst);
    }

    /// Injected batch failures still to come.
    pub fn failed_batches_pending(&self) -> usize {
        self.failed_batches.load(Ordering::SeqCst)
    }

    pub(super) fn take_failed_batch(&self) -> Option<String> {
        let taken = self.failed_batches.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        taken.ok().map(|_| self.failed_batch_error.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    pub(super) fn take_slow_statement(&self) -> Option<std::time::Duration> {
        let taken = self.slow_statements.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        taken.ok().map(|_| std::time::Duration::from_millis(self.slow_ms.load(Ordering::SeqCst)))
    }

    pub(super) fn take_failed_describe(&self) -> bool {
        self.failed_describes.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    pub(super) fn take_active_statements_exceeded(&self) -> bool {
        self.active_statements_exceeded.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    pub(super) fn take_lost_response(&self) -> bool {
        self.lost_responses.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }
}
