//! Streaming decode to 16 kHz mono `f32`, the input Whisper expects.
//!
//! Packets are decoded one at a time, down-mixed to mono and resampled with `rubato`'s FFT resampler in fixed
//! input chunks; each output chunk is handed to the caller and dropped. Memory is bounded by one packet plus one
//! resampler chunk, whatever the length of the recording.

use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::SampleBuffer;

use crate::probe::{frame_slack, guarded, open, Opened, Packets};
use crate::{AudioError, AudioMetadata, Source};

/// Sample rate of decoded output.
pub const TARGET_SAMPLE_RATE: u32 = 16_000;
/// Input frames per resampler call.
const CHUNK_FRAMES: usize = 4096;

/// What a decode produced.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeSummary {
    /// Metadata of the source (duration from the frames actually decoded).
    pub metadata: AudioMetadata,
    /// Samples handed to the sink, at [`TARGET_SAMPLE_RATE`].
    pub output_samples: u64,
    /// Packets that failed to decode and were skipped.
    pub skipped_packets: u64,
    /// For two-channel audio, how alike the channels are: their normalised cross-correlation at lag 0 (1: the same
    /// sound, near 0: unrelated, as in a call with one speaker per channel); 1 when either channel is silent.
    pub channel_correlation: Option<f64>,
}

/// Options for [`decode_mono_16k`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PcmOptions {
    /// Reject recordings longer than this many seconds (checked against the header and while decoding).
    pub max_duration_s: Option<f64>,
    /// Keep only this channel (0-based; a stereo call has one speaker per channel) instead of the mix of all.
    pub channel: Option<usize>,
    /// Only the output from this second on (a part of a long recording: what comes before it is decoded and
    /// dropped)…
    pub from_s: f64,
    /// …and up to this second, where decoding stops (`None`: to the end).
    pub to_s: Option<f64>,
}

/// Decodes `source` to 16 kHz mono (the mix of its channels, or the one [`PcmOptions::channel`] names), calling
/// `sink` with consecutive chunks of samples in `[-1, 1]`.
pub fn decode_mono_16k(
    source: Source,
    options: PcmOptions,
    mut sink: impl FnMut(&[f32]),
) -> Result<DecodeSummary, AudioError> {
    let mut opened = open(source)?;
    let container = opened.container;
    guarded(container, move || run(&mut opened, options, &mut sink))
}

/// Down-mixes, resamples and forwards audio to the sink.
struct Pipeline<'a> {
    resampler: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    /// Output frames still to drop: the resampler's delay.
    delay_left: usize,
    input_frames: u64,
    /// Samples of output so far, handed on or not: the position in the recording at 16 kHz.
    output_samples: u64,
    /// The output samples handed on: `[first, last)`.
    first: u64,
    last: Option<u64>,
    sink: &'a mut dyn FnMut(&[f32]),
}

impl Pipeline<'_> {
    fn emit(&mut self, samples: &[f32]) {
        let skip = self.delay_left.min(samples.len());
        self.delay_left -= skip;
        self.forward(&samples[skip..]);
    }

    /// Hands on the part of `out` inside `[first, last)`.
    fn forward(&mut self, out: &[f32]) {
        let at = self.output_samples;
        self.output_samples += out.len() as u64;
        let from = self.first.saturating_sub(at).min(out.len() as u64) as usize;
        let to = self.last.map_or(out.len(), |l| l.saturating_sub(at).min(out.len() as u64) as usize);
        if from < to {
            (self.sink)(&out[from..to]);
        }
    }

    /// Whether everything asked for has been handed on.
    fn done(&self) -> bool {
        self.last.is_some_and(|l| self.output_samples >= l)
    }

    fn push(&mut self, mono: &[f32]) -> Result<(), AudioError> {
        self.input_frames += mono.len() as u64;
        let Some(resampler) = self.resampler.as_mut() else {
            self.emit(mono);
            return Ok(());
        };
        self.pending.extend_from_slice(mono);
        let mut out = Vec::new();
        while self.pending.len() >= resampler.input_frames_next() {
            let n = resampler.input_frames_next();
            let chunk = resampler.process(&[&self.pending[..n]], None).map_err(resample_error)?;
            self.pending.drain(..n);
            out.extend_from_slice(&chunk[0]);
        }
        self.emit(&out);
        Ok(())
    }

    fn finish(&mut self, sample_rate: u32) -> Result<(), AudioError> {
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(());
        };
        let expected =
            (self.input_frames as f64 * f64::from(TARGET_SAMPLE_RATE) / f64::from(sample_rate)).round() as u64;
        let mut tail = Vec::new();
        if !self.pending.is_empty() {
            let chunk = resampler.process_partial(Some(&[&self.pending[..]]), None).map_err(resample_error)?;
            tail.extend_from_slice(&chunk[0]);
            self.pending.clear();
        }
        // Flush the resampler's delay line until every expected sample is out.
        let mut guard = 0;
        while self.output_samples + (tail.len().saturating_sub(self.delay_left)) as u64 <= expected && guard < 8 {
            let chunk = resampler.process_partial(None::<&[&[f32]]>, None).map_err(resample_error)?;
            tail.extend_from_slice(&chunk[0]);
            guard += 1;
        }
        let skip = self.delay_left.min(tail.len());
        let wanted = expected.saturating_sub(self.output_samples) as usize;
        let end = (skip + wanted).min(tail.len());
        self.delay_left = 0;
        self.forward(&tail[skip..end]);
        Ok(())
    }
}

fn resample_error(e: impl std::fmt::Display) -> AudioError {
    AudioError::Corrupt { container: "resampler".into(), reason: e.to_string() }
}

fn run(o: &mut Opened, options: PcmOptions, sink: &mut dyn FnMut(&[f32])) -> Result<DecodeSummary, AudioError> {
    let rate = o.sample_rate;
    if let (Some(limit), Some(frames)) = (options.max_duration_s, o.declared_frames) {
        let duration_s = frames as f64 / f64::from(rate);
        if duration_s > limit {
            return Err(AudioError::TooLong { duration_s, limit_s: limit });
        }
    }
    let resampler = if rate == TARGET_SAMPLE_RATE {
        None
    } else {
        let r = FftFixedIn::<f32>::new(rate as usize, TARGET_SAMPLE_RATE as usize, CHUNK_FRAMES, 2, 1)
            .map_err(|e| o.header_error(format!("cannot resample from {rate} Hz: {e}")))?;
        Some(r)
    };
    let delay_left = resampler.as_ref().map_or(0, |r| r.output_delay());
    let at = |s: f64| (s.max(0.0) * f64::from(TARGET_SAMPLE_RATE)).round() as u64;
    let (first, last) = (at(options.from_s), options.to_s.map(at));
    let mut pipe =
        Pipeline { resampler, pending: Vec::new(), delay_left, input_frames: 0, output_samples: 0, first, last, sink };

    let mut samples: Option<SampleBuffer<f32>> = None;
    let mut mono: Vec<f32> = Vec::new();
    let mut likeness = Likeness::default();
    let mut count = Packets::default();
    let mut first_error: Option<String> = None;
    while let Some((channels, interleaved)) = o.next_interleaved(&mut samples, &mut count, &mut first_error)? {
        if channels == 2 {
            likeness.add(interleaved);
        }
        mono.clear();
        match options.channel {
            None => mono.extend(interleaved.chunks_exact(channels).map(|f| f.iter().sum::<f32>() / channels as f32)),
            Some(c) if c < channels => mono.extend(interleaved.chunks_exact(channels).map(|f| f[c])),
            Some(c) => return Err(o.header_error(format!("no channel {c}: the audio has {channels}"))),
        }
        pipe.push(&mono)?;
        if let Some(limit) = options.max_duration_s {
            let duration_s = pipe.input_frames as f64 / f64::from(rate);
            if duration_s > limit {
                return Err(AudioError::TooLong { duration_s, limit_s: limit });
            }
        }
        if pipe.done() {
            // A part ends here: the rest of the recording is another part's.
            return Ok(DecodeSummary {
                metadata: o.metadata(pipe.input_frames),
                output_samples: pipe.output_samples,
                skipped_packets: count.skipped,
                channel_correlation: likeness.correlation(),
            });
        }
    }
    if count.decoded == 0 {
        return Err(match first_error {
            Some(e) => o.corrupt(e),
            None => o.truncated("no audio data after the header"),
        });
    }
    if count.skipped > count.decoded {
        let Packets { decoded, skipped } = count;
        return Err(o.corrupt(format!("{skipped} of {} packets fail to decode", skipped + decoded)));
    }
    if let Some(declared) = o.declared_frames {
        if pipe.input_frames + frame_slack(declared, rate, &o.codec) < declared {
            return Err(o.truncated(format!(
                "the header declares {:.2} s of audio but the data holds {:.2} s",
                declared as f64 / f64::from(rate),
                pipe.input_frames as f64 / f64::from(rate)
            )));
        }
    }
    pipe.finish(rate)?;
    Ok(DecodeSummary {
        metadata: o.metadata(pipe.input_frames),
        output_samples: pipe.output_samples,
        skipped_packets: count.skipped,
        channel_correlation: likeness.correlation(),
    })
}

/// Running sums for the correlation of two interleaved channels.
#[derive(Default)]
struct Likeness {
    lr: f64,
    ll: f64,
    rr: f64,
    frames: u64,
}

impl Likeness {
    fn add(&mut self, interleaved: &[f32]) {
        for frame in interleaved.chunks_exact(2) {
            let (l, r) = (f64::from(frame[0]), f64::from(frame[1]));
            self.lr += l * r;
            self.ll += l * l;
            self.rr += r * r;
        }
        self.frames += (interleaved.len() / 2) as u64;
    }

    fn correlation(&self) -> Option<f64> {
        if self.frames == 0 {
            return None;
        }
        // Below about -90 dBFS a channel counts as silent: nothing to tell apart.
        let quiet = 1e-9 * self.frames as f64;
        if self.ll < quiet || self.rr < quiet {
            return Some(1.0);
        }
        Some(self.lr / (self.ll * self.rr).sqrt())
    }
}
