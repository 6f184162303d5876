//! Where quarantine records go: a small sink trait, injected into the stages where the binaries are wired
//! ([`crate::TranscribeStage::with_quarantine`], [`crate::Loader::with_quarantine`]). [`StoreSink`] keeps them in
//! an [`ObjectStore`] (S3, the stand-in) under the layout's `rejected/<reason>/…` keys, where `replay` finds them;
//! [`MemorySink`] in memory for tests; [`LoggingSink`] only logs them, for dry runs. Records are the core's one
//! [`QuarantineRecord`] type; [`crate::replay`] reads them back through the same type.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use redscribe_core::ports::{ObjectStore, PortError};
use redscribe_core::quarantine::QuarantineRecord;

/// Keeps quarantine records.
#[async_trait]
pub trait QuarantineSink: Send + Sync {
    /// Stores `record` at `key` of `bucket`, replacing what was there (a record written twice is one record).
    async fn keep(&self, bucket: &str, key: &str, record: &QuarantineRecord) -> Result<(), PortError>;
}

/// Records kept as JSON objects in an object store: the production sink.
pub struct StoreSink<S: ?Sized> {
    store: Arc<S>,
}

impl<S: ?Sized> StoreSink<S> {
    pub fn new(store: Arc<S>) -> StoreSink<S> {
        StoreSink { store }
    }
}

#[async_trait]
impl<S: ObjectStore + ?Sized> QuarantineSink for StoreSink<S> {
    async fn keep(&self, bucket: &str, key: &str, record: &QuarantineRecord) -> Result<(), PortError> {
        self.store.put(bucket, key, record.to_json(), "application/json").await
    }
}

/// Records logged (a warning with the key, code and message) and kept nowhere: a dry run's sink.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoggingSink;

#[async_trait]
impl QuarantineSink for LoggingSink {
    async fn keep(&self, bucket: &str, key: &str, record: &QuarantineRecord) -> Result<(), PortError> {
        tracing::warn!(bucket, key, code = record.reason.as_str(), "quarantine record (not kept): {}", record.message);
        Ok(())
    }
}

/// Records kept in memory, in the order they came.
#[derive(Debug, Default)]
pub struct MemorySink {
    kept: Mutex<Vec<(String, String, QuarantineRecord)>>,
}

impl MemorySink {
    /// What was kept: bucket, key, record.
    pub fn kept(&self) -> Vec<(String, String, QuarantineRecord)> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl QuarantineSink for MemorySink {
    async fn keep(&self, bucket: &str, key: &str, record: &QuarantineRecord) -> Result<(), PortError> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|(b, k, _)| (b.as_str(), k.as_str()) != (bucket, key));
        kept.push((bucket.to_string(), key.to_string(), record.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redscribe_core::metrics::Stage;
    use redscribe_core::ErrorCode;

    #[tokio::test]
    async fn a_record_kept_twice_at_one_key_is_one_record() {
        let sink = MemorySink::default();
        let first = QuarantineRecord::new(ErrorCode::NotAudio, "text", Stage::Decode);
        let second = QuarantineRecord { attempts: 2, ..first.clone() };
        sink.keep("b", "rejected/not_audio/x.json", &first).await.unwrap();
        sink.keep("b", "rejected/not_audio/x.json", &second).await.unwrap();
        sink.keep("b", "rejected/not_audio/y.json", &first).await.unwrap();
        let kept = sink.kept();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept.iter().find(|k| k.1.ends_with("x.json")).unwrap().2.attempts, 2);
        assert!(LoggingSink.keep("b", "rejected/not_audio/x.json", &first).await.is_ok());
    }
}
