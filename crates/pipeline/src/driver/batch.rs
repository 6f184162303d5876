//! Batches of result files: a batch closes at whichever bound it reaches first — files, bytes — or when its
//! oldest file has waited long enough.

use std::time::{Duration, Instant};

use crate::transcribe::ResultFile;

/// How big one load may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Result files per COPY.
    pub files: usize,
    /// Bytes of result files per COPY.
    pub bytes: u64,
}

impl Default for BatchLimits {
    fn default() -> BatchLimits {
        use redscribe_core::settings::{DEFAULT_LOAD_BATCH_BYTES, DEFAULT_LOAD_BATCH_FILES};
        BatchLimits { files: DEFAULT_LOAD_BATCH_FILES, bytes: DEFAULT_LOAD_BATCH_BYTES }
    }
}

impl BatchLimits {
    /// Splits files, in order, into batches within the limits (a file larger than the byte bound is a batch of
    /// its own).
    pub fn batches(&self, files: Vec<ResultFile>) -> Vec<Vec<ResultFile>> {
        let mut batches: Vec<Vec<ResultFile>> = Vec::new();
        let mut bytes = 0u64;
        for file in files {
            let full = batches.last().is_none_or(|b| b.len() >= self.files.max(1) || bytes + file.size > self.bytes);
            if full {
                batches.push(Vec::new());
                bytes = 0;
            }
            bytes += file.size;
            batches.last_mut().expect("a batch is open").push(file);
        }
        batches
    }
}

/// A file waiting for its load, and whose it is.
#[derive(Debug, Clone)]
pub(super) struct Waiting {
    pub job: u64,
    pub attempt: u32,
    pub file: ResultFile,
}

/// The files waiting to be loaded, oldest first.
#[derive(Debug, Default)]
pub(super) struct OpenBatch {
    files: Vec<Waiting>,
    bytes: u64,
    since: Option<Instant>,
}

impl OpenBatch {
    pub fn push(&mut self, waiting: Waiting) {
        self.bytes += waiting.file.size;
        self.since.get_or_insert_with(Instant::now);
        self.files.push(waiting);
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Whether a batch should go now: a bound is reached, its oldest file has waited `age`, or nothing more is
    /// coming (`flush`).
    pub fn due(&self, limits: &BatchLimits, age: Duration, flush: bool) -> bool {
        !self.files.is_empty()
            && (flush
                || self.files.len() >= limits.files.max(1)
                || self.bytes >= limits.bytes
                || self.since.is_some_and(|t| t.elapsed() >= age))
    }

    /// When the open batch becomes due by age.
    pub fn due_at(&self, age: Duration) -> Option<Instant> {
        self.since.and_then(|t| t.checked_add(age))
    }

    /// The first batch within `limits`, oldest files first; the rest stay open.
    pub fn take(&mut self, limits: &BatchLimits) -> Vec<Waiting> {
        let mut bytes = 0u64;
        let mut n = 0;
        for w in &self.files {
            if n > 0 && (n >= limits.files.max(1) || bytes + w.file.size > limits.bytes) {
                break;
            }
            bytes += w.file.size;
            n += 1;
        }
        let rest = self.files.split_off(n);
        let taken = std::mem::replace(&mut self.files, rest);
        self.bytes -= bytes;
        self.since = if self.files.is_empty() { None } else { Some(Instant::now()) };
        taken
    }

    /// Everything still open.
    pub fn drain(&mut self) -> Vec<Waiting> {
        self.bytes = 0;
        self.since = None;
        std::mem::take(&mut self.files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redscribe_core::events::ObjectEvent;

    fn file(size: u64) -> ResultFile {
        ResultFile {
            id: "x".into(),
            bucket: "b".into(),
            key: format!("k{size}"),
            size,
            rows: 1,
            columns: redscribe_core::schema::results_schema().fields().len(),
            source: ObjectEvent::created("b", "in/x.wav"),
            details: Vec::new(),
            etag: None,
            erased: None,
        }
    }

    fn sizes(batches: Vec<Vec<ResultFile>>) -> Vec<Vec<u64>> {
        batches.into_iter().map(|b| b.into_iter().map(|f| f.size).collect()).collect()
    }

    #[test]
    fn batches_close_at_the_first_bound_reached() {
        let by_count = BatchLimits { files: 2, bytes: 1000 };
        assert_eq!(sizes(by_count.batches((1..=5).map(file).collect())), [vec![1, 2], vec![3, 4], vec![5]]);
        let by_bytes = BatchLimits { files: 100, bytes: 10 };
        assert_eq!(
            sizes(by_bytes.batches(vec![6, 4, 1, 20, 3].into_iter().map(file).collect())),
            [vec![6, 4], vec![1], vec![20], vec![3]]
        );
        assert!(BatchLimits::default().batches(Vec::new()).is_empty());
    }

    #[test]
    fn the_open_batch_is_due_by_count_bytes_age_or_flush_and_gives_its_oldest_first() {
        let limits = BatchLimits { files: 3, bytes: 10 };
        let mut open = OpenBatch::default();
        let age = Duration::from_secs(3600);
        assert!(!open.due(&limits, age, true), "an empty batch is never due");
        for (job, size) in [(1, 2), (2, 2)] {
            open.push(Waiting { job, attempt: 0, file: file(size) });
        }
        assert!(!open.due(&limits, age, false));
        assert!(open.due(&limits, age, true));
        assert!(open.due(&limits, Duration::ZERO, false), "old enough");
        open.push(Waiting { job: 3, attempt: 0, file: file(7) });
        assert!(open.due(&limits, age, false), "11 bytes ≥ 10");
        let taken: Vec<u64> = open.take(&limits).iter().map(|w| w.job).collect();
        assert_eq!(taken, [1, 2], "the third would pass the byte bound");
        assert_eq!(open.drain().iter().map(|w| w.job).collect::<Vec<_>>(), [3]);
        assert!(open.is_empty());
    }
}
