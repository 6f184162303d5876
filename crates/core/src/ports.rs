//! The ports the pipeline's stages are written against. Adapters implement them with the AWS SDK (`crates/aws`),
//! and the same adapters reach the local stand-ins through configuration, so every stage runs unchanged in tests,
//! on a laptop and in Lambda. Every failure is classified with an [`ErrorCode`], whose
//! [`disposition`](ErrorCode::disposition) is the one place that decides retry or quarantine.

use async_trait::async_trait;

use crate::ErrorCode;

/// A failed call through a port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct PortError {
    pub code: ErrorCode,
    pub message: String,
    /// For a warehouse statement that ran and failed: the query id that `sys_load_error_detail` knows it by.
    pub query_id: Option<i64>,
}

impl PortError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> PortError {
        PortError { code, message: message.into(), query_id: None }
    }
}

/// An object read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// Without quotes.
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// An object found by [`ObjectStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: i64,
    /// Without quotes.
    pub etag: Option<String>,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// S3, as the stages use it.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Reads a whole object (`version_id` pins the version the event announced, when the bucket is versioned).
    async fn get(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<StoredObject, PortError>;
    /// Writes a whole object.
    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError>;
    /// Every object under a prefix, in key order.
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ListedObject>, PortError>;
    /// Removes an object (no error when it is already gone).
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), PortError>;
}

/// The warehouse, as the load stage uses it.
#[async_trait]
pub trait Warehouse: Send + Sync {
    /// Runs the statements as one transaction and waits for it to end. `token` makes a retried submission
    /// idempotent. A statement that fails returns `LoadRejected` with the failing statement's query id.
    async fn run_batch(&self, sqls: &[String], token: &str) -> Result<(), PortError>;
    /// Runs a query and returns its rows as text (`None` for NULL).
    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PortError>;
}

/// A piece of a transcript with its times.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedText {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    pub avg_logprob: Option<f64>,
    pub no_speech_prob: Option<f64>,
}

/// What a transcriber heard in a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    /// The whole text (empty for silence and noise).
    pub text: String,
    pub language: Option<String>,
    pub segments: Vec<TimedText>,
    pub avg_logprob: Option<f64>,
    pub no_speech_prob: Option<f64>,
    /// `ok`, `no_speech`, `repetition` or `low_confidence`.
    pub quality_flag: String,
    /// Seconds of audio transcribed, and seconds it took.
    pub audio_seconds: f64,
    pub decode_seconds: f64,
}

/// Speech to text, as the transcribe stage uses it. CPU-bound and blocking: the stage calls it on a blocking
/// thread, with the recording as 16 kHz mono samples.
pub trait Transcriber: Send + Sync {
    /// The model's name, as rows record it.
    fn model(&self) -> &str;
    fn transcribe(&self, samples: &[f32]) -> Result<Transcription, PortError>;
}
