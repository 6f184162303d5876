//! Errors of the audio crate, each mapped onto one bounded [`ErrorCode`].

use redscribe_core::ErrorCode;

/// Why a recording could not be probed or decoded.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// Zero bytes.
    #[error("the file is empty (0 bytes)")]
    Empty,
    /// Not a recognised audio container.
    #[error("not audio: content looks like {0}")]
    NotAudio(String),
    /// A recognised container with a codec that cannot be decoded.
    #[error("unsupported codec {codec} in a {container} container")]
    UnsupportedCodec { container: String, codec: String },
    /// A container without an audio track.
    #[error("the {container} container has no audio track")]
    NoAudioTrack { container: String },
    /// A header that cannot describe real audio.
    #[error("invalid {container} header: {reason}")]
    InvalidHeader { container: String, reason: String },
    /// Less data than the header declares.
    #[error("truncated {container}: {reason}")]
    Truncated { container: String, reason: String },
    /// Audio data that does not decode.
    #[error("corrupt {container} audio: {reason}")]
    Corrupt { container: String, reason: String },
    /// The recording is longer than the caller allows.
    #[error("recording is {duration_s:.0} s long, over the {limit_s:.0} s limit")]
    TooLong { duration_s: f64, limit_s: f64 },
    /// The bytes could not be read at all.
    #[error("cannot read: {0}")]
    Unreadable(#[from] std::io::Error),
    /// A file this crate writes (a silenced copy) could not be written: the machine's fault, not the recording's.
    #[error("cannot write {what}: {reason}")]
    Write { what: String, reason: String },
}

impl AudioError {
    /// The bounded code this error is reported, stored and counted under.
    pub fn code(&self) -> ErrorCode {
        match self {
            AudioError::Empty => ErrorCode::EmptyObject,
            AudioError::NotAudio(_) => ErrorCode::NotAudio,
            AudioError::UnsupportedCodec { .. } => ErrorCode::UnsupportedCodec,
            AudioError::NoAudioTrack { .. } => ErrorCode::NoAudioTrack,
            AudioError::InvalidHeader { .. } => ErrorCode::InvalidHeader,
            AudioError::Truncated { .. } => ErrorCode::Truncated,
            AudioError::Corrupt { .. } => ErrorCode::CorruptAudio,
            AudioError::TooLong { .. } => ErrorCode::TooLong,
            AudioError::Unreadable(_) => ErrorCode::Unreadable,
            AudioError::Write { .. } => ErrorCode::Internal,
        }
    }
}
