//! Examining one recording file: probe, then decode to 16 kHz mono streamed to the transcriber (a call's channels
//! one by one), with the size, length and time checks on the way. Blocking: the stage runs it off the async
//! threads.

use redscribe_audio::decode::{decode_mono_16k, PcmOptions};
use redscribe_audio::{probe_within, AudioMetadata, Source};
use redscribe_core::metrics::Stage;
use redscribe_core::ports::{Hints, Transcriber, Transcription};
use redscribe_core::{ErrorCode, Failure};

use super::RecordingLimits;

/// What the blocking part of processing found.
pub(super) type Examined = (Result<AudioMetadata, Failure>, Option<Transcription>);

/// A failure of hearing a recording: the transcriber's own codes at the transcribe stage, everything else (the
/// file, its header, its audio) at the decode stage.
pub fn failure(code: ErrorCode, message: impl Into<String>) -> Failure {
    let stage = match code {
        ErrorCode::TranscriptionFailed | ErrorCode::UnsupportedLanguage => Stage::Transcribe,
        _ => Stage::Decode,
    };
    Failure::new(stage, code, message)
}

/// Whether there is time to transcribe a recording, from its metadata.
pub type Fits<'a> = dyn Fn(&AudioMetadata) -> Result<(), Failure> + 'a;

/// Probes the recording and, with a transcriber, decodes it to 16 kHz mono and transcribes it. A recording that
/// probes but cannot be decoded or transcribed is a failure with its own code.
pub(super) fn examine(
    recording: &std::fs::File,
    transcriber: Option<&dyn Transcriber>,
    hints: &Hints,
    limits: &RecordingLimits,
    fits: &Fits,
) -> Examined {
    match transcriber {
        None => {
            let probed = source(recording).and_then(|s| {
                probe_within(s, Some(limits.max_duration_s)).map_err(|e| failure(e.code(), e.to_string()))
            });
            (probed, None)
        }
        Some(t) => match transcribe_recording(recording, t, hints, limits, fits) {
            Ok((metadata, heard)) => (Ok(metadata), Some(heard)),
            Err(e) => (Err(e), None),
        },
    }
}

/// The recording from its start: each pass over it reads its own handle of the one file.
fn source(recording: &std::fs::File) -> Result<Source, Failure> {
    let file =
        recording.try_clone().map_err(|e| failure(ErrorCode::Internal, format!("reopening the spool file: {e}")))?;
    Source::from_file(file).map_err(|e| failure(e.code(), e.to_string()))
}

/// Probes, decodes and transcribes one recording file, streaming the decoded samples to the transcriber: no pass
/// holds the recording in memory. A two-channel recording whose channels differ is a call, one speaker per
/// channel: each channel is heard alone and the two merged in time order ([`Transcription::merge_channels`]).
/// `fits` is asked, once the header is read, whether there is time to transcribe it; `hints` (the uploader's
/// language) go to the transcriber for every channel.
pub fn transcribe_recording(
    recording: &std::fs::File,
    transcriber: &dyn Transcriber,
    hints: &Hints,
    limits: &RecordingLimits,
    fits: &Fits,
) -> Result<(AudioMetadata, Transcription), Failure> {
    let max_duration_s = Some(limits.max_duration_s);
    let metadata = probe_within(source(recording)?, max_duration_s).map_err(|e| failure(e.code(), e.to_string()))?;
    fits(&metadata)?;
    let passes: Vec<Option<usize>> = if metadata.channels == 2 {
        let options = PcmOptions { max_duration_s, ..PcmOptions::default() };
        let summary =
            decode_mono_16k(source(recording)?, options, |_| {}).map_err(|e| failure(e.code(), e.to_string()))?;
        if summary.channel_correlation.is_some_and(|c| c < SAME_SOUND_CORRELATION) {
            vec![Some(0), Some(1)]
        } else {
            vec![None]
        }
    } else {
        vec![None]
    };
    let mut heard = Vec::with_capacity(passes.len());
    for channel in passes {
        let options = PcmOptions { channel, max_duration_s };
        let mut t = transcribe_streaming(source(recording)?, options, transcriber, hints)?;
        for s in &mut t.segments {
            s.channel = channel.unwrap_or(0) as u16;
        }
        heard.push(t);
    }
    let heard = Transcription::merge_channels(heard).ok_or_else(|| failure(ErrorCode::Internal, "nothing heard"))?;
    Ok((metadata, heard))
}

/// Inter-channel correlation from which two channels carry the same sound (a stereo mix of one scene, or a mono
/// recording stored twice) rather than one speaker each.
const SAME_SOUND_CORRELATION: f64 = 0.9;

/// Chunks of decoded audio in flight between the decoder and the transcriber (~0.3 s each at 16 kHz): a bound on
/// what the pair holds besides the transcriber's window.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Decodes on one thread while the transcriber listens on this one, the samples passed through a bounded channel:
/// neither holds the whole recording. A decode error wins over what was heard of the recording before it.
fn transcribe_streaming(
    source: Source,
    options: PcmOptions,
    transcriber: &dyn Transcriber,
    hints: &Hints,
) -> Result<Transcription, Failure> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<f32>>(CHUNKS_IN_FLIGHT);
    std::thread::scope(|scope| {
        let decoder = scope.spawn(move || {
            // A send fails only when the transcriber has stopped listening; the rest is not needed then.
            decode_mono_16k(source, options, |chunk| {
                let _ = tx.send(chunk.to_vec());
            })
        });
        let heard = transcriber.transcribe(&mut rx.iter(), hints);
        // Hang up first: a decoder blocked on a full channel then finishes instead of waiting forever.
        drop(rx);
        let decoded = decoder.join().map_err(|_| failure(ErrorCode::Crashed, "the decoder panicked"))?;
        decoded.map_err(|e| failure(e.code(), e.to_string()))?;
        heard.map_err(|e| failure(e.code, e.message))
    })
}
