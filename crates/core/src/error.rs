//! The crate's error type and the bounded set of error codes that rows, quarantine records and metrics use.

use serde::{Deserialize, Serialize};

/// Errors raised by the pure contracts of this crate.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The payload is not any event envelope redscribe accepts.
    #[error("unrecognised event: {0}")]
    UnrecognisedEvent(String),
    /// The payload is JSON of the wrong shape.
    #[error("malformed event JSON: {0}")]
    EventJson(#[from] serde_json::Error),
    /// An SQL identifier taken from configuration is not acceptable.
    #[error("invalid SQL identifier {name:?}: {reason}")]
    InvalidIdentifier { name: String, reason: &'static str },
    /// A string cannot be written as an SQL literal.
    #[error("value cannot be written as an SQL literal: {0}")]
    InvalidLiteral(&'static str),
    /// An output prefix from configuration is not acceptable.
    #[error("invalid output prefix {prefix:?}: {reason}")]
    InvalidPrefix { prefix: String, reason: &'static str },
    /// Building or reading an Arrow batch failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Encoding or decoding Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A batch does not have the columns this crate expects.
    #[error("batch does not match the {table} schema: {reason}")]
    SchemaMismatch { table: &'static str, reason: String },
    /// A load that cannot be written as the warehouse would take it.
    #[error("load: {0}")]
    Load(String),
    /// An alarms file that cannot be applied as it stands.
    #[error("alarms: {0}")]
    Alarms(String),
    /// A setting that cannot be used as given (a key pattern that does not parse or names nothing).
    #[error("{0}")]
    Config(String),
    /// A price table that cannot price anything.
    #[error("prices: {0}")]
    Prices(String),
}

/// Why a recording failed, and at which stage: what a `failed` row's error columns, a quarantine record and the
/// `ErrorCode` metric say of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub stage: crate::metrics::Stage,
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    pub fn new(stage: crate::metrics::Stage, code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure { stage, code, message: message.into() }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.code.as_str(), self.stage.as_str(), self.message)
    }
}

/// What the pipeline does with a recording whose processing failed with a given code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Transient: leave the event unacknowledged so it is delivered again.
    Retry,
    /// Permanent: write a quarantine record and acknowledge the event; retrying cannot help.
    Quarantine,
    /// Not the recording's or the file's fault, and no retry within seconds fixes it: a grant, a role, a key or a
    /// table is missing. The work stays pending (unacknowledged, nothing quarantined) until an operator fixes the
    /// configuration; the `LoadsBlocked` metric and its alarm say so.
    Blocked,
}

impl Disposition {
    /// Whether the item itself is to blame (quarantined) rather than left pending for a later try.
    pub const fn blames_the_item(self) -> bool {
        matches!(self, Disposition::Quarantine)
    }
}

/// Bounded, stable error codes. They appear in `transcription_results.error_code`, in the `rejected/<code>/`
/// prefix, in the `ErrorCode` metric dimension and in the CLI's JSON output, so they never change spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The object has no bytes.
    EmptyObject,
    /// The content is not a recognised audio container (text, PDF, random bytes, …).
    NotAudio,
    /// A recognised container whose codec cannot be decoded.
    UnsupportedCodec,
    /// The container holds no audio track.
    NoAudioTrack,
    /// Header values that cannot describe real audio (0 channels, absurd sample rate, …).
    InvalidHeader,
    /// Less audio data than the header declares, or none at all.
    Truncated,
    /// The audio data cannot be decoded.
    CorruptAudio,
    /// The recording is longer than the configured limit.
    TooLong,
    /// Tried as often as the pipeline tries anything and never answered: an SQS message received that many
    /// times (the earlier tries ended without an answer — a crash of the process, a timeout, memory — or failed
    /// transiently), or an internal error that repeats. Quarantined instead of reaching the dead-letter queue
    /// or being retried forever.
    RetriesExhausted,
    /// The object is larger than the configured limit: refused from the event's size, without a read, or when
    /// the read passes the limit.
    TooLarge,
    /// The local file or object could not be read (permissions, not a regular file).
    Unreadable,
    /// The object disappeared between the event and the read.
    ObjectNotFound,
    /// The pipeline's role may not read the object or write its outputs, the warehouse's COPY role may not read
    /// them, or a KMS key refuses: a grant is missing. Blocked, not quarantined.
    AccessDenied,
    /// Something the pipeline is configured to use does not exist or is refused as configured: a table or schema,
    /// an IAM role, a workgroup or cluster, a database. Blocked, not quarantined.
    NotConfigured,
    /// A service asked us to slow down.
    Throttled,
    /// A service call failed in a way that may succeed later (5xx, connection reset, timeout).
    ServiceUnavailable,
    /// The speech model failed on audio that decoded fine.
    TranscriptionFailed,
    /// The recording's language hint (`x-amz-meta-language`) names a language the model does not speak (an
    /// English-only model and anything but `en`, or a code Whisper does not know).
    UnsupportedLanguage,
    /// Processing the recording crashed (a panic in the decoder, the transcriber or the stage): a bug that this
    /// recording triggers every time. Quarantined with the panic's message, for a fix and a replay.
    Crashed,
    /// The warehouse rejected the load of this file.
    LoadRejected,
    /// A service refused a call with a client error (4xx) no known code names; the message carries the HTTP
    /// status and what the service said.
    ServiceRejected,
    /// An invocation payload or queue message that is not an event redscribe understands.
    InvalidEvent,
    /// A bug: an invariant of the pipeline did not hold.
    Internal,
}

impl ErrorCode {
    /// Every code, in a stable order (used by dashboards, alarms and tests).
    pub const ALL: [ErrorCode; 23] = [
        ErrorCode::EmptyObject,
        ErrorCode::NotAudio,
        ErrorCode::UnsupportedCodec,
        ErrorCode::NoAudioTrack,
        ErrorCode::InvalidHeader,
        ErrorCode::Truncated,
        ErrorCode::CorruptAudio,
        ErrorCode::TooLong,
        ErrorCode::TooLarge,
        ErrorCode::RetriesExhausted,
        ErrorCode::Unreadable,
        ErrorCode::ObjectNotFound,
        ErrorCode::AccessDenied,
        ErrorCode::NotConfigured,
        ErrorCode::Throttled,
        ErrorCode::ServiceUnavailable,
        ErrorCode::TranscriptionFailed,
        ErrorCode::UnsupportedLanguage,
        ErrorCode::Crashed,
        ErrorCode::LoadRejected,
        ErrorCode::ServiceRejected,
        ErrorCode::InvalidEvent,
        ErrorCode::Internal,
    ];

    /// The stable snake_case spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::EmptyObject => "empty_object",
            ErrorCode::NotAudio => "not_audio",
            ErrorCode::UnsupportedCodec => "unsupported_codec",
            ErrorCode::NoAudioTrack => "no_audio_track",
            ErrorCode::InvalidHeader => "invalid_header",
            ErrorCode::Truncated => "truncated",
            ErrorCode::CorruptAudio => "corrupt_audio",
            ErrorCode::TooLong => "too_long",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RetriesExhausted => "retries_exhausted",
            ErrorCode::Unreadable => "unreadable",
            ErrorCode::ObjectNotFound => "object_not_found",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::NotConfigured => "not_configured",
            ErrorCode::Throttled => "throttled",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::TranscriptionFailed => "transcription_failed",
            ErrorCode::UnsupportedLanguage => "unsupported_language",
            ErrorCode::Crashed => "crashed",
            ErrorCode::LoadRejected => "load_rejected",
            ErrorCode::ServiceRejected => "service_rejected",
            ErrorCode::InvalidEvent => "invalid_event",
            ErrorCode::Internal => "internal",
        }
    }

    /// Parses the snake_case spelling.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The one place that decides whether a failure is retried or quarantined.
    pub const fn disposition(self) -> Disposition {
        match self {
            ErrorCode::Throttled | ErrorCode::ServiceUnavailable | ErrorCode::Internal => Disposition::Retry,
            ErrorCode::AccessDenied | ErrorCode::NotConfigured => Disposition::Blocked,
            ErrorCode::EmptyObject
            | ErrorCode::NotAudio
            | ErrorCode::UnsupportedCodec
            | ErrorCode::NoAudioTrack
            | ErrorCode::InvalidHeader
            | ErrorCode::Truncated
            | ErrorCode::CorruptAudio
            | ErrorCode::TooLong
            | ErrorCode::TooLarge
            | ErrorCode::RetriesExhausted
            | ErrorCode::Unreadable
            | ErrorCode::ObjectNotFound
            | ErrorCode::TranscriptionFailed
            | ErrorCode::UnsupportedLanguage
            | ErrorCode::Crashed
            | ErrorCode::LoadRejected
            | ErrorCode::ServiceRejected
            | ErrorCode::InvalidEvent => Disposition::Quarantine,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_spelling_and_serde() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!(code.as_str().len() <= 64, "error_code column is VARCHAR(64)");
        }
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn only_transient_codes_are_retried() {
        let retried: Vec<_> = ErrorCode::ALL.into_iter().filter(|c| c.disposition() == Disposition::Retry).collect();
        assert_eq!(retried, [ErrorCode::Throttled, ErrorCode::ServiceUnavailable, ErrorCode::Internal]);
        let blocked: Vec<_> = ErrorCode::ALL.into_iter().filter(|c| c.disposition() == Disposition::Blocked).collect();
        assert_eq!(blocked, [ErrorCode::AccessDenied, ErrorCode::NotConfigured]);
    }
}
