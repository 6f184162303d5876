//! Batched decoding, as faster-whisper's batched pipeline does it: the recording split into stretches of speech at
//! the pauses the voice-activity measure finds (each at most 30 s, leading and trailing quiet left out), and
//! `batch_size` of them encoded and decoded together, one `generate` call per batch, each with only the start of
//! transcript as its prompt. Timestamps stay on: a stretch's segments are placed by its offset in the recording.
//! Memory: one batch of stretches (their samples, spectrograms and encoder output) at a time.

use std::time::Instant;

use ct2rs::sys::{Device, StorageView};

use crate::decode::Attempt;
use crate::mel::{HOP, N_MELS, SAMPLE_RATE, WINDOW_FRAMES, WINDOW_SAMPLES};
use crate::model::Engine;
use crate::transcribe::{DecodeOptions, Detected, Segment, Stream, Tally, Transcript};
use crate::vad::{speech_start, stretch_end, VoiceActivity};
use crate::WhisperError;

/// A stretch of speech: its first sample in the recording, and its samples.
struct Stretch {
    start: usize,
    samples: Vec<f32>,
}

impl Stretch {
    /// Sample `i` of the stretch, reflected at its start, zero past its end (the silence Whisper pads with).
    fn sample(&self, i: isize) -> f32 {
        self.samples.get(i.unsigned_abs()).copied().unwrap_or(0.0)
    }

    fn offset_s(&self) -> f64 {
        self.start as f64 / SAMPLE_RATE as f64
    }

    /// Mel frames with audio in them.
    fn frames(&self) -> usize {
        (self.samples.len() / HOP).clamp(1, WINDOW_FRAMES)
    }
}

/// Encodes windows of `features` (`[n, 80, 3000]`, band-major per window) picked by index.
fn encode(engine: &Engine, features: &[f32], picked: &[usize]) -> Result<StorageView<'static>, WhisperError> {
    let window = N_MELS * WINDOW_FRAMES;
    let mut data: Vec<f32> =
        picked.iter().flat_map(|&i| features[i * window..(i + 1) * window].iter().copied()).collect();
    let view = StorageView::new(&[picked.len(), N_MELS, WINDOW_FRAMES], &mut data, Device::CPU)
        .map_err(|e| WhisperError::Decode(e.to_string()))?;
    engine.model.encode(&view, false).map_err(|e| WhisperError::Decode(e.to_string()))
}

impl Engine {
    /// [`Engine::transcribe_stream`] with [`crate::Decoding::Batched`].
    pub(crate) fn transcribe_batched(
        &self,
        chunks: &mut dyn Iterator<Item = Vec<f32>>,
        options: &DecodeOptions,
    ) -> Result<Transcript, WhisperError> {
        let started = Instant::now();
        let mut stream = Stream::new(chunks);
        let mut tally = Tally::default();
        let mut segments = Vec::new();
        let mut language = self.language_hint(options)?;
        let mut language_probability = None;
        let mut position = 0usize;
        // Ends of stretches the model stopped short of: decoded again, in the next batch.
        let mut carried = Vec::new();
        loop {
            let batch = next_batch(&mut stream, &mut position, &mut carried, options, &mut tally);
            if batch.is_empty() {
                break;
            }
            let mut features = Vec::with_capacity(batch.len() * N_MELS * WINDOW_FRAMES);
            for stretch in &batch {
                // Each stretch clamped against its own loudest moment, as it is decoded on its own.
                let mut loudest = f32::MIN;
                features.extend(self.front_end.window(&|i| stretch.sample(i), 0, &mut loudest));
            }
            let all: Vec<usize> = (0..batch.len()).collect();
            let encoded = encode(self, &features, &all)?;
            // The language, once, from the first batch: the one its stretches together are surest of.
            if self.multilingual && language.is_none() {
                let (detected, probability) = self.detect_language(&encoded)?;
                tracing::debug!(language = %detected, probability, stretches = batch.len(), "language detected");
                language = Some(detected);
                language_probability = Some(probability);
            }
            let v = &self.vocabulary;
            let language_token = format!("<|{}|>", language.as_deref().unwrap_or("en"));
            let mut prompt: Vec<&str> = vec![&v.tokens[v.sot]];
            if self.multilingual {
                prompt.extend([language_token.as_str(), "<|transcribe|>"]);
            }
            let prompts = vec![prompt; batch.len()];
            let reencode = |picked: &[usize]| encode(self, &features, picked);
            let attempts = self.decode_with_fallback(&encoded, Some(&reencode), &prompts, options)?;
            for (stretch, attempt) in batch.iter().zip(attempts) {
                self.place(stretch, &attempt, options, &mut tally, &mut segments, &mut carried);
            }
        }
        segments.sort_by(|a, b| a.start.total_cmp(&b.start));
        let duration_s = stream.total().unwrap_or(0) as f64 / SAMPLE_RATE as f64;
        Ok(tally.finish(segments, Detected { language, language_probability, duration_s }, started))
    }

    /// A decoded stretch's segments into `segments`, placed by its offset; what the model stopped short of into
    /// `carried`, to be decoded again.
    fn place(
        &self,
        stretch: &Stretch,
        attempt: &Attempt,
        options: &DecodeOptions,
        tally: &mut Tally,
        segments: &mut Vec<Segment>,
        carried: &mut Vec<Stretch>,
    ) {
        tracing::debug!(
            start_s = stretch.offset_s(),
            seconds = stretch.samples.len() as f64 / SAMPLE_RATE as f64,
            tokens = attempt.tokens.len(),
            avg_logprob = attempt.avg_logprob,
            no_speech_prob = attempt.no_speech_prob,
            temperature = attempt.temperature,
            text = %self.text(&attempt.tokens),
            "stretch decoded"
        );
        if !tally.window(attempt, options) {
            return;
        }
        let end_s = (stretch.start + stretch.samples.len()) as f64 / SAMPLE_RATE as f64;
        let (mut found, _) = self.split(attempt, stretch.offset_s(), stretch.frames(), false);
        match rest_of(stretch, found.last().map(|s| s.end), options) {
            // The model closed its last segment before speech that follows: the rest is a stretch of its
            // own (as sequential decoding would start its next window there).
            Some(rest) => carried.push(rest),
            None => found = self.split(attempt, stretch.offset_s(), stretch.frames(), true).0,
        }
        for s in &mut found {
            s.end = s.end.min(end_s);
            s.start = s.start.min(s.end);
        }
        segments.extend(found.into_iter().filter(|s| !s.text.trim().is_empty()));
    }
}

/// What is left of a stretch after its decoded segments end (at `covered_end`, seconds in the recording), when it
/// holds speech: a model that closes its last segment early (it often ends a window short of speech near its end)
/// has not heard it.
fn rest_of(stretch: &Stretch, covered_end: Option<f64>, options: &DecodeOptions) -> Option<Stretch> {
    let covered = ((covered_end? - stretch.offset_s()).max(0.0) * SAMPLE_RATE as f64) as usize;
    let rest = stretch.samples.get(covered..).filter(|r| covered > 0 && !r.is_empty())?;
    // Timestamps fall a little early: the last word's release, and the pause after it, are no speech left over.
    let start = speech_start(rest, &options.vad)?;
    let sound = stretch_end(&rest[start..], true, rest.len(), &options.vad);
    (sound >= MIN_REST && VoiceActivity::measure(rest, &options.vad).is_voice(&options.vad))
        .then(|| Stretch { start: stretch.start + covered, samples: rest.to_vec() })
}

/// Samples of sound (2 s) that what the model left of a stretch must hold to be decoded again: a sentence it
/// skipped, not the end of the last word it wrote (measured: a 1 s bar sent an Italian recording's last word back,
/// which the model then wrote twice, and took twice the time).
const MIN_REST: usize = 2 * SAMPLE_RATE;

/// The next `batch_size` stretches of speech: those `carried` over first, then from `position` on (fewer at the
/// end of the recording), moving `position` past them; stretches the voice-activity check finds empty are
/// counted silent and left out.
fn next_batch(
    stream: &mut Stream,
    position: &mut usize,
    carried: &mut Vec<Stretch>,
    options: &DecodeOptions,
    tally: &mut Tally,
) -> Vec<Stretch> {
    let take = carried.len().min(options.batch_size.max(1));
    let mut batch: Vec<Stretch> = carried.drain(..take).collect();
    while batch.len() < options.batch_size.max(1) {
        stream.drop_before(*position);
        stream.fill_to(*position + WINDOW_SAMPLES);
        let ahead = stream.slice(*position, *position + WINDOW_SAMPLES);
        if ahead.is_empty() {
            break;
        }
        let Some(start) = speech_start(ahead, &options.vad) else {
            // Quiet all through: nothing to decode here.
            *position += ahead.len();
            tally.silent_windows += 1;
            continue;
        };
        *position += start;
        stream.drop_before(*position);
        stream.fill_to(*position + WINDOW_SAMPLES);
        let ended = stream.total().is_some_and(|n| n <= *position + WINDOW_SAMPLES);
        let ahead = stream.slice(*position, *position + WINDOW_SAMPLES);
        let end = stretch_end(ahead, ended, WINDOW_SAMPLES, &options.vad).max(1).min(ahead.len());
        let samples = ahead[..end].to_vec();
        let stretch = Stretch { start: *position, samples };
        *position += end;
        if VoiceActivity::measure(&stretch.samples, &options.vad).is_voice(&options.vad) {
            batch.push(stretch);
        } else {
            tally.silent_windows += 1;
        }
    }
    batch
}
