//! Audio for redscribe: probing, metadata and streaming decode to 16 kHz mono `f32`, on `symphonia` and
//! `rubato`. Bad input always comes back as a classified [`AudioError`], never a panic.
//!
//! - [`source`]: where the bytes come from (a file or a buffer) and its size.
//! - [`sniff`]: the container named from the content's leading bytes, never from a file extension.
//! - [`probe`]: opens a recording, checks its header against its data, and returns [`AudioMetadata`].
//! - [`decode`]: streams the audio out as 16 kHz mono chunks, so memory stays bounded for hour-long files.
//! - [`silence`]: a copy of a recording as WAV with stretches of it silenced (PII redaction of the audio).
//! - [`error`]: the crate's error enum and its mapping onto the core error codes.

pub mod decode;
pub mod error;
pub mod probe;
pub mod silence;
pub mod sniff;
pub mod source;

pub use decode::{decode_mono_16k, DecodeSummary, TARGET_SAMPLE_RATE};
pub use error::AudioError;
pub use probe::{probe, probe_within};
pub use redscribe_core::record::AudioMetadata;
pub use source::Source;
