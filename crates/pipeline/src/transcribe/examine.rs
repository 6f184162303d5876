//! Examining one recording file: probe, then decode to 16 kHz mono streamed to the transcriber (a call's channels
//! one by one), with the size, length and time checks on the way. Blocking: the stage runs it off the async
//! threads.

use redscribe_audio::decode::{decode_mono_16k, PcmOptions};
use redscribe_audio::{probe_within, AudioMetadata, Source};
use redscribe_core::metrics::Stage;
use redscribe_core::parts::{join, parts, Loudness, Part};
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

/// Whether there is time to transcribe a recording, from its metadata and the passes it will be heard in (one, or
/// a call's two channels).
pub type Fits<'a> = dyn Fn(&AudioMetadata, usize) -> Result<(), Failure> + 'a;

/// The time a recording is given: whether it fits, asked once its header is read and again once its passes are
/// known, and a wall clock that stops the transcription whatever the header said.
pub struct Plan<'a> {
    pub fits: &'a Fits<'a>,
    /// When the transcription stops: what is not heard by then is left for the next delivery.
    pub deadline: Option<std::time::Instant>,
    /// The one part of the recording to hear (its segments then timed from the part's start).
    pub part: Option<Part>,
}

impl Plan<'_> {
    /// No limit in time (the CLI's `transcribe` of a local file).
    pub const UNBOUNDED: Plan<'static> = Plan { fits: &|_, _| Ok(()), deadline: None, part: None };
}

/// The recording's header, read.
pub(super) fn probe(recording: &std::fs::File, limits: &RecordingLimits) -> Result<AudioMetadata, Failure> {
    probe_within(source(recording)?, Some(limits.max_duration_s)).map_err(|e| failure(e.code(), e.to_string()))
}

/// Where to cut a recording into parts of about `part_s` seconds: one decode of the mix of its channels, its
/// loudness measured on the way ([`Loudness::cuts`]). The metadata's duration is what the decode found, whatever
/// the header said.
pub(super) fn find_parts(
    recording: &std::fs::File,
    limits: &RecordingLimits,
    part_s: f64,
) -> Result<(AudioMetadata, Vec<Part>), Failure> {
    let mut loudness = Loudness::default();
    let options = PcmOptions { max_duration_s: Some(limits.max_duration_s), ..PcmOptions::default() };
    let summary = decode_mono_16k(source(recording)?, options, |chunk| loudness.push(chunk))
        .map_err(|e| failure(e.code(), e.to_string()))?;
    Ok((summary.metadata, parts(&loudness.cuts(part_s))))
}

/// A recording file heard in parts of about `part_s` seconds (when it is longer than one), `workers` parts at
/// once on threads of this process, and the parts joined: what `redscribe transcribe --part-seconds` does with a
/// local file, the same cut and join the pipeline's parts get. A recording that fits one part is heard whole.
/// `open` gives a handle of the file's own to each worker (handles cloned from one share its read position).
pub fn transcribe_in_parts(
    open: &(dyn Fn() -> std::io::Result<std::fs::File> + Sync),
    transcriber: &dyn Transcriber,
    hints: &Hints,
    limits: &RecordingLimits,
    part_s: f64,
    workers: usize,
) -> Result<(AudioMetadata, Transcription), Failure> {
    let opened = || open().map_err(|e| failure(ErrorCode::Unreadable, format!("opening the recording: {e}")));
    let recording = opened()?;
    let header = probe(&recording, limits)?;
    if header.duration_s <= part_s {
        return transcribe_recording(&recording, transcriber, hints, limits, &Plan::UNBOUNDED);
    }
    let (metadata, parts) = find_parts(&recording, limits, part_s)?;
    let next = std::sync::Mutex::new(parts.into_iter());
    let heard = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..workers.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<(), Failure> {
                    let recording = opened()?;
                    loop {
                        let Some(part) = next.lock().unwrap_or_else(|p| p.into_inner()).next() else { return Ok(()) };
                        let plan = Plan { part: Some(part), ..Plan::UNBOUNDED };
                        let (_, t) = transcribe_recording(&recording, transcriber, hints, limits, &plan)
                            .map_err(|f| Failure { message: format!("{}: {}", part.describe(), f.message), ..f })?;
                        heard.lock().unwrap_or_else(|p| p.into_inner()).push((part, t));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| failure(ErrorCode::Crashed, "a part's worker panicked"))?)
    })?;
    let heard = heard.into_inner().unwrap_or_else(|p| p.into_inner());
    let joined = join(heard).ok_or_else(|| failure(ErrorCode::Internal, "no part was heard"))?;
    Ok((metadata, joined))
}

/// Probes the recording and, with a transcriber, decodes it to 16 kHz mono and transcribes it. A recording that
/// probes but cannot be decoded or transcribed is a failure with its own code.
pub(super) fn examine(
    recording: &std::fs::File,
    transcriber: Option<&dyn Transcriber>,
    hints: &Hints,
    limits: &RecordingLimits,
    plan: &Plan,
) -> Examined {
    match transcriber {
        None => {
            let probed = source(recording).and_then(|s| {
                probe_within(s, Some(limits.max_duration_s)).map_err(|e| failure(e.code(), e.to_string()))
            });
            (probed, None)
        }
        Some(t) => match transcribe_recording(recording, t, hints, limits, plan) {
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
/// `plan.fits` is asked, once the header is read, whether there is time to transcribe it in one pass, and again
/// in as many passes as it will be heard in once the channels are compared (a stereo file whose channels carry
/// the same sound costs one); the transcription stops at `plan.deadline` whatever the header said. `hints` (the
/// uploader's language) go to the transcriber for every channel.
pub fn transcribe_recording(
    recording: &std::fs::File,
    transcriber: &dyn Transcriber,
    hints: &Hints,
    limits: &RecordingLimits,
    plan: &Plan,
) -> Result<(AudioMetadata, Transcription), Failure> {
    let max_duration_s = Some(limits.max_duration_s);
    let metadata = probe_within(source(recording)?, max_duration_s).map_err(|e| failure(e.code(), e.to_string()))?;
    // What is heard: the recording, or the one part of it.
    let (from_s, to_s) = plan.part.map_or((0.0, None), |p| (p.start_s, p.end_s));
    let heard_s = to_s.unwrap_or(metadata.duration_s).min(metadata.duration_s) - from_s;
    let planned = AudioMetadata { duration_s: heard_s.max(0.0), ..metadata.clone() };
    (plan.fits)(&planned, 1)?;
    let passes: Vec<Option<usize>> = if metadata.channels == 2 {
        let options = PcmOptions { max_duration_s, from_s, to_s, ..PcmOptions::default() };
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
    (plan.fits)(&planned, passes.len())?;
    let mut heard = Vec::with_capacity(passes.len());
    for channel in passes {
        let options = PcmOptions { channel, max_duration_s, from_s, to_s };
        let mut t = transcribe_streaming(source(recording)?, options, transcriber, hints, plan.deadline)?;
        for s in &mut t.segments {
            s.channel = channel.unwrap_or(0) as u16;
        }
        heard.push(t);
    }
    let apart = heard.len() > 1;
    let mut heard =
        Transcription::merge_channels(heard).ok_or_else(|| failure(ErrorCode::Internal, "nothing heard"))?;
    heard.channels_apart = apart;
    Ok((metadata, heard))
}

/// Inter-channel correlation from which two channels carry the same sound (a stereo mix of one scene, or a mono
/// recording stored twice) rather than one speaker each.
const SAME_SOUND_CORRELATION: f64 = 0.9;

/// Chunks of decoded audio in flight between the decoder and the transcriber (~0.3 s each at 16 kHz): a bound on
/// what the pair holds besides the transcriber's window.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Decodes on one thread while the transcriber listens on this one, the samples passed through a bounded channel:
/// neither holds the whole recording. A decode error wins over what was heard of the recording before it. At
/// `deadline` the transcriber hears no more (it finishes the window it has) and the recording is left for the
/// next delivery: a transient failure, with how far it got.
fn transcribe_streaming(
    source: Source,
    options: PcmOptions,
    transcriber: &dyn Transcriber,
    hints: &Hints,
    deadline: Option<std::time::Instant>,
) -> Result<Transcription, Failure> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<f32>>(CHUNKS_IN_FLIGHT);
    std::thread::scope(|scope| {
        let decoder = scope.spawn(move || {
            // A send fails only when the transcriber has stopped listening; the rest is not needed then.
            decode_mono_16k(source, options, |chunk| {
                let _ = tx.send(chunk.to_vec());
            })
        });
        let mut fed = Until { chunks: rx.iter(), deadline, samples: 0, stopped: false };
        // The transcriber stops too: what it has read may take longer to hear than the time left.
        let heard = transcriber.transcribe(&mut fed, &Hints { deadline, ..hints.clone() });
        let (stopped, fed_s) = (fed.stopped, fed.samples as f64 / 16_000.0);
        // Hang up first: a decoder blocked on a full channel then finishes instead of waiting forever.
        drop(rx);
        let decoded = decoder.join().map_err(|_| failure(ErrorCode::Crashed, "the decoder panicked"))?;
        if stopped {
            let why = format!(
                "stopped at the invocation's deadline after {fed_s:.0} s of audio, more than its header let plan \
                 for; left for the next delivery"
            );
            return Err(failure(ErrorCode::ServiceUnavailable, why));
        }
        decoded.map_err(|e| failure(e.code(), e.to_string()))?;
        heard.map_err(|e| failure(e.code, e.message))
    })
}

/// Decoded audio as the transcriber hears it, until a deadline: past it the stream ends (`stopped`).
struct Until<I> {
    chunks: I,
    deadline: Option<std::time::Instant>,
    /// Samples handed on (16 kHz).
    samples: usize,
    stopped: bool,
}

impl<I: Iterator<Item = Vec<f32>>> Iterator for Until<I> {
    type Item = Vec<f32>;

    fn next(&mut self) -> Option<Vec<f32>> {
        if self.stopped {
            return None;
        }
        // Stopped only with audio left: a recording heard to its end by the deadline is whole.
        let chunk = self.chunks.next()?;
        if self.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            self.stopped = true;
            return None;
        }
        self.samples += chunk.len();
        Some(chunk)
    }
}
