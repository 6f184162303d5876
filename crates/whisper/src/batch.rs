//! Batched decoding, as faster-whisper's batched pipeline does it: the recording split into stretches of speech at
//! the pauses the voice-activity measure finds (leading and trailing quiet left out), stretches packed one after
//! the other into windows of at most 30 s, and `batch_size` windows encoded and decoded together, one `generate`
//! call per batch, each with only the start of transcript as its prompt and no timestamp tokens (a tenth of the
//! tokens, and windows heard again where the model closed a segment early). The windows' words are then timed from
//! the model's attention (`align`) and a segment runs to a sentence's end or its stretch's, from its first
//! word to its last. Memory: one batch of windows (their samples, spectrograms and encoder output) at a time.
//!
//! Packing ([`DecodeOptions::pack`]): a stretch ends at its first pause of 1.5 s (at least a second in), keeping
//! 200 ms of quiet each side, so packed stretches are 400 ms apart and the silence of a sparse recording is not
//! decoded; without such a pause it runs up to 30 s, to its last pause of 300 ms. Without packing every stretch
//! runs so and is a window of its own. A packed window whose output loops, needed a fallback temperature, or was not
//! heard apart (a stretch before its last word's left without a word) is heard again a stretch per window: packing
//! must not cost accuracy.
//!
//! Trimming ([`DecodeOptions::trim_windows`]): a batch whose windows hold less than 26 s of audio is encoded with
//! their audio and 4 s after it, at least 15 s ([`encoder_frames`]), not padded to 30 s; CTranslate2's encoder
//! takes any length up to 30 s, and its cost grows faster than the length (attention is quadratic in it). So that
//! a short window in a recording of full ones (the last words before a long pause) is trimmed too, short windows
//! wait for each other and make batches of their own.

use std::time::Instant;

use ct2rs::sys::{Device, StorageView};

use crate::align::{fit_to_sound, ToAlign, Word, SENTENCE_END};
use crate::decode::Attempt;
use crate::language::{no_language, LanguageVote};
use crate::mel::{HOP, N_MELS, SAMPLE_RATE, WINDOW_FRAMES, WINDOW_SAMPLES};
use crate::model::Engine;
use crate::transcribe::{DecodeOptions, Detected, Segment, Stream, Tally, Transcript};
use crate::vad::{first_pause_end, sound_seconds, sound_steps, speech_start, stretch_end, VoiceActivity};
use crate::WhisperError;

/// A stretch of speech: its first sample in the recording, and its samples.
struct Stretch {
    start: usize,
    samples: Vec<f32>,
}

/// Where a stretch sits in a window: its first sample there and in the recording, and its length.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Placed {
    at: usize,
    start: usize,
    len: usize,
}

/// What the model hears at once: stretches one after the other, at most 30 s in all.
#[derive(Default)]
struct Window {
    samples: Vec<f32>,
    placed: Vec<Placed>,
}

impl Window {
    fn of(stretch: Stretch) -> Window {
        let mut window = Window::default();
        window.push(stretch);
        window
    }

    fn push(&mut self, stretch: Stretch) {
        let at = self.samples.len();
        self.placed.push(Placed { at, start: stretch.start, len: stretch.samples.len() });
        self.samples.extend(stretch.samples);
    }

    fn is_empty(&self) -> bool {
        self.placed.is_empty()
    }

    /// Sample `i` of the window, reflected at its start, zero past its end (the silence Whisper pads with).
    fn sample(&self, i: isize) -> f32 {
        self.samples.get(i.unsigned_abs()).copied().unwrap_or(0.0)
    }

    /// Mel frames with audio in them.
    fn frames(&self) -> usize {
        (self.samples.len() / HOP).clamp(1, WINDOW_FRAMES)
    }

    /// The stretch a time of the window (seconds) falls in: the last one past them all.
    fn stretch_of(&self, t: f64) -> usize {
        let x = (t.max(0.0) * SAMPLE_RATE as f64).round() as usize;
        self.placed.partition_point(|p| p.at <= x).saturating_sub(1)
    }

    /// A time of the window (seconds) as a time of the recording, within stretch `k`: the time a word of that
    /// stretch begins or ends (the alignment ends a stretch's last word where the next stretch's first begins).
    fn in_stretch(&self, k: usize, t: f64) -> f64 {
        let p = self.placed[k];
        let x = (t.max(0.0) * SAMPLE_RATE as f64).round() as usize;
        (p.start + x.saturating_sub(p.at).min(p.len)) as f64 / SAMPLE_RATE as f64
    }

    /// Whether the model heard the packed stretches apart: none of the stretches before its last word's was left
    /// without a word (the model merged or dropped what it said, as when the same sentence said minutes apart is
    /// written once). `stretches` are the words' stretches, in order.
    fn heard_apart(&self, stretches: &[usize]) -> bool {
        let mut heard = vec![false; self.placed.len()];
        for &k in stretches {
            heard[k] = true;
        }
        let last = stretches.last().copied().unwrap_or(0);
        heard[..=last.min(heard.len() - 1)].iter().all(|&h| h)
    }

    /// The window's samples from `from` on, as the stretches of the recording they are.
    fn rest_from(&self, from: usize) -> Vec<Stretch> {
        let mut rest = Vec::new();
        for p in self.placed.iter().filter(|p| p.at + p.len > from) {
            let first = from.max(p.at);
            rest.push(Stretch { start: p.start + first - p.at, samples: self.samples[first..p.at + p.len].to_vec() });
        }
        rest
    }

    /// Where the window begins in the recording (seconds).
    fn offset_s(&self) -> f64 {
        self.placed.first().map_or(0.0, |p| p.start as f64 / SAMPLE_RATE as f64)
    }
}

/// Frames of quiet a trimmed window is encoded with after its audio (4 s).
const TRIM_MARGIN_FRAMES: usize = 400;
/// The shortest a trimmed window is encoded (15 s).
const TRIM_MIN_FRAMES: usize = 1500;

/// The frames a batch whose longest window holds `content` frames of audio is encoded with when trimmed: its audio
/// and 4 s after it, at least 15 s, at most the full window (and even: the encoder's second convolution halves the
/// frames). Measured (benches/transcribe, English set by four speakers, 824 words, tiny.en and base at beams 1 and
/// 5): with no floor the four word error rates summed the same as 30 s windows' (43.4 against 43.6 points) but base
/// at beam 5, the default, lost 0.7 point; with the 15 s floor they sum to 43.6 and base at beam 5 reads the
/// same (6.8 %), in 0.67× the time; a 1 s margin broke the transcripts (44 % WER). On the multilingual set (17 s
/// windows) base read 3 points better trimmed, in 0.63× the time.
fn encoder_frames(content: usize) -> usize {
    (content + TRIM_MARGIN_FRAMES).max(TRIM_MIN_FRAMES).next_multiple_of(2).min(WINDOW_FRAMES)
}

/// Encodes windows of `features` (`[n, 80, frames]`, band-major per window) picked by index.
fn encode(
    engine: &Engine,
    features: &[f32],
    picked: &[usize],
    frames: usize,
) -> Result<StorageView<'static>, WhisperError> {
    let window = N_MELS * frames;
    let mut data: Vec<f32> =
        picked.iter().flat_map(|&i| features[i * window..(i + 1) * window].iter().copied()).collect();
    let view = StorageView::new(&[picked.len(), N_MELS, frames], &mut data, Device::CPU)
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
        let mut plan = Batches::default();
        loop {
            options.stop_at_deadline(plan.position as f64 / SAMPLE_RATE as f64)?;
            let batch = plan.next(&mut stream, options, &mut tally);
            if batch.is_empty() {
                break;
            }
            let frames = match options.trim_windows {
                true => encoder_frames(batch.iter().map(Window::frames).max().unwrap_or(0)),
                false => WINDOW_FRAMES,
            };
            let front = Instant::now();
            let mut features = Vec::with_capacity(batch.len() * N_MELS * frames);
            for window in &batch {
                // Each window clamped against its own loudest moment, as it is decoded on its own (the frames past
                // `frames` are silence: they would not move it).
                let mut loudest = f32::MIN;
                features.extend(self.front_end.window(&|i| window.sample(i), 0, frames, &mut loudest));
            }
            let encoding = Instant::now();
            let all: Vec<usize> = (0..batch.len()).collect();
            let encoded = encode(self, &features, &all, frames)?;
            tracing::debug!(
                front_end_s = (encoding - front).as_secs_f64(),
                encode_s = encoding.elapsed().as_secs_f64(),
                windows = batch.len(),
                frames,
                "batch encoded"
            );
            // The language, once, from the first batch: the one its windows together are surest of (up to the batch
            // size of windows of speech, so more than sequential's first window).
            if self.multilingual && language.is_none() {
                let mut vote = LanguageVote::default();
                self.vote_language(&encoded, &mut vote)?;
                let (detected, probability) = vote.leader().ok_or_else(no_language)?;
                tracing::debug!(language = %detected, probability, stretches = batch.len(), "language detected");
                language = Some(detected);
                language_probability = Some(probability);
            }
            let v = &self.vocabulary;
            let code = language.as_deref().unwrap_or("en");
            let language_token = format!("<|{code}|>");
            let mut start: Vec<&str> = vec![&v.tokens[v.sot]];
            if self.multilingual {
                start.extend([language_token.as_str(), "<|transcribe|>"]);
            }
            let mut prompt = start.clone();
            prompt.push(&v.tokens[v.no_timestamps]);
            let prompts = vec![prompt; batch.len()];
            let reencode = |picked: &[usize]| encode(self, &features, picked, frames);
            let sounds: Vec<Vec<bool>> = batch.iter().map(|w| sound_steps(&w.samples, &options.vad)).collect();
            let sound_s: Vec<f64> = sounds.iter().map(|s| sound_seconds(s)).collect();
            let decoding = Instant::now();
            let attempts = self.decode_with_fallback(
                &encoded,
                Some(&reencode),
                &prompts,
                &sound_s,
                options,
                &mut tally.fallback_seconds,
            )?;
            tracing::debug!(seconds = decoding.elapsed().as_secs_f64(), "batch decoded");
            let aligning = Instant::now();
            let to_align: Vec<ToAlign> =
                batch.iter().zip(&attempts).map(|(w, a)| ToAlign { tokens: &a.tokens, frames: w.frames() }).collect();
            let words = self.words(&encoded, &start, &to_align, code)?;
            tracing::debug!(seconds = aligning.elapsed().as_secs_f64(), windows = batch.len(), "words aligned");
            for (((window, attempt), mut words), sound) in batch.iter().zip(attempts).zip(words).zip(&sounds) {
                fit_to_sound(&mut words, sound);
                let (found, rest) = self.place(window, &attempt, &words, options, &mut tally);
                segments.extend(found);
                plan.carried.extend(rest);
            }
        }
        segments.sort_by(|a, b| a.start.total_cmp(&b.start));
        let duration_s = stream.total().unwrap_or(0) as f64 / SAMPLE_RATE as f64;
        Ok(tally.finish(segments, Detected { language, language_probability, duration_s }, started))
    }

    /// A decoded window's segments, at their times in the recording, and the stretches to decode again: what the
    /// model stopped short of, or all of a packed window it could not hear apart.
    fn place(
        &self,
        window: &Window,
        attempt: &Attempt,
        words: &[Word],
        options: &DecodeOptions,
        tally: &mut Tally,
    ) -> (Vec<Segment>, Vec<Stretch>) {
        tracing::debug!(
            start_s = window.offset_s(),
            seconds = window.samples.len() as f64 / SAMPLE_RATE as f64,
            stretches = window.placed.len(),
            tokens = attempt.tokens.len(),
            avg_logprob = attempt.avg_logprob,
            no_speech_prob = attempt.no_speech_prob,
            temperature = attempt.temperature,
            // Never the text: a transcript may hold what redaction takes out after it (crate::redact in core).
            "window decoded"
        );
        // Each word is in the stretch its middle falls in.
        let stretches: Vec<usize> = words.iter().map(|w| window.stretch_of((w.start + w.end) / 2.0)).collect();
        // A window judged silent at the first temperature is silence; one that took sampling to be judged so (or
        // to pass) is not to be trusted when it packs stretches: ten copies of one sentence came out "silent".
        let troubled = attempt.looping
            || attempt.temperature > 0.0
            || (!attempt.is_silent(options) && !window.heard_apart(&stretches));
        if window.placed.len() > 1 && troubled {
            // Stretches the model could not hear together (the same sentence said again minutes later reads as a
            // loop once packed, or is written once for two stretches): each is heard again in a window of its own.
            tracing::debug!(
                stretches = window.placed.len(),
                looping = attempt.looping,
                temperature = attempt.temperature,
                words = ?words.iter().zip(&stretches).map(|(w, k)| (w.start, w.end, *k)).collect::<Vec<_>>(),
                "packed window heard again unpacked"
            );
            return (Vec::new(), window.rest_from(0));
        }
        if !tally.window(attempt, options) {
            return (Vec::new(), Vec::new());
        }
        // The model stopped before speech that follows: the rest is decoded again (as sequential decoding would
        // start its next window there).
        let rest = rest_of(window, words.last().map(|w| w.end), options);
        let found = segments_of(window, attempt, words, &stretches);
        (found.into_iter().filter(|s| !s.text.is_empty()).collect(), rest)
    }
}

/// A decoded window's segments, at their times in the recording: its words (each in stretch `stretches[i]`), a
/// segment ending where a sentence does or where its stretch ends (a packed window's stretches were said apart),
/// from its first word's start to its last word's end.
fn segments_of(window: &Window, attempt: &Attempt, words: &[Word], stretches: &[usize]) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut from = 0;
    for (i, word) in words.iter().enumerate() {
        let sentence_ends = word.text.trim_end().chars().last().is_some_and(|c| SENTENCE_END.contains(c));
        if sentence_ends || stretches.get(i + 1) != Some(&stretches[i]) {
            let said = &words[from..=i];
            let k = stretches[i];
            let start = window.in_stretch(k, said[0].start);
            segments.push(Segment {
                start,
                end: window.in_stretch(k, word.end).max(start),
                text: said.iter().map(|w| w.text.as_str()).collect::<String>().trim().to_string(),
                avg_logprob: attempt.avg_logprob,
                no_speech_prob: attempt.no_speech_prob as f64,
                compression_ratio: attempt.compression_ratio,
                temperature: attempt.temperature,
                words: said
                    .iter()
                    .map(|w| Word {
                        start: window.in_stretch(k, w.start),
                        end: window.in_stretch(k, w.end),
                        ..w.clone()
                    })
                    .collect(),
            });
            from = i + 1;
        }
    }
    segments
}

/// What is left of a window after its last word ends (at `covered_end`, seconds of the window), when it holds
/// speech: a model that stops early (it sometimes ends a window short of speech near its end) has not heard it.
fn rest_of(window: &Window, covered_end: Option<f64>, options: &DecodeOptions) -> Vec<Stretch> {
    let Some(covered_end) = covered_end else { return Vec::new() };
    let covered = (covered_end.max(0.0) * SAMPLE_RATE as f64) as usize;
    let Some(rest) = window.samples.get(covered..).filter(|r| covered > 0 && !r.is_empty()) else {
        return Vec::new();
    };
    // Word times fall a little early: the last word's release, and the pause after it, are no speech left over.
    let Some(start) = speech_start(rest, &options.vad) else { return Vec::new() };
    let sound = stretch_end(&rest[start..], true, rest.len(), &options.vad);
    if sound >= MIN_REST && VoiceActivity::measure(rest, &options.vad).is_voice(&options.vad) {
        window.rest_from(covered)
    } else {
        Vec::new()
    }
}

/// Samples of sound (2 s) that what the model left of a window must hold to be decoded again: a sentence it
/// skipped, not the end of the last word it wrote (measured: a 1 s bar sent an Italian recording's last word back,
/// which the model then wrote twice, and took twice the time).
const MIN_REST: usize = 2 * SAMPLE_RATE;

/// Short windows wait for each other (at most a batch of them): encoded together they are trimmed
/// ([`encoder_frames`]), where one in a batch of full windows is encoded as 30 s. A window is short when trimming
/// would encode it in two thirds of the window or less (16 s of audio or less).
fn is_short(window: &Window, options: &DecodeOptions) -> bool {
    options.trim_windows && encoder_frames(window.frames()) <= WINDOW_FRAMES * 2 / 3
}

/// How the recording is cut into batches of windows, as it is heard.
#[derive(Default)]
struct Batches {
    /// The first sample not yet cut into stretches.
    position: usize,
    /// Stretches to hear again, each in a window of its own: what the model stopped short of, and the stretches of
    /// a packed window it could not hear apart.
    carried: Vec<Stretch>,
    /// Short windows waiting for a batch of their own ([`is_short`]).
    short: Vec<Window>,
}

impl Batches {
    /// The next batch of up to `batch_size` windows (empty at the end): a batch of short windows once there are
    /// enough of them (or nothing else is left), else the stretches carried over, then those from `position` on,
    /// moving `position` past them; with packing, as many stretches in a window as fit in 30 s.
    fn next(&mut self, stream: &mut Stream, options: &DecodeOptions, tally: &mut Tally) -> Vec<Window> {
        let size = options.batch_size.max(1);
        if self.short.len() >= size {
            return self.short.drain(..size).collect();
        }
        let mut batch = Vec::new();
        // What the model stopped short of is a window of its own: packed with later speech, a segment could run
        // from it across the stretches decoded in between.
        while batch.len() < size && !self.carried.is_empty() {
            let window = Window::of(self.carried.remove(0));
            self.close(window, &mut batch, options);
        }
        let mut window = Window::default();
        while batch.len() < size && self.short.len() < size {
            let Some(stretch) = next_stretch(stream, &mut self.position, options, tally) else { break };
            if !window.is_empty() && (!options.pack || window.samples.len() + stretch.samples.len() > WINDOW_SAMPLES) {
                self.close(std::mem::take(&mut window), &mut batch, options);
                if batch.len() == size || self.short.len() == size {
                    // For the next batch, which finds it again from its start (the stream still holds it).
                    self.position = stretch.start;
                    break;
                }
            }
            window.push(stretch);
        }
        if !window.is_empty() {
            self.close(window, &mut batch, options);
        }
        if batch.is_empty() {
            let n = self.short.len().min(size);
            return self.short.drain(..n).collect();
        }
        batch
    }

    /// A window complete: into the batch, or with the short ones.
    fn close(&mut self, window: Window, batch: &mut Vec<Window>, options: &DecodeOptions) {
        match is_short(&window, options) {
            true => self.short.push(window),
            false => batch.push(window),
        }
    }
}

/// The next stretch of speech from `position` on, moving `position` past it; stretches the voice-activity check
/// finds empty are counted silent and left out. `None` at the end of the recording.
fn next_stretch(
    stream: &mut Stream,
    position: &mut usize,
    options: &DecodeOptions,
    tally: &mut Tally,
) -> Option<Stretch> {
    loop {
        stream.drop_before(*position);
        stream.fill_to(*position + WINDOW_SAMPLES);
        let ahead = stream.slice(*position, *position + WINDOW_SAMPLES);
        if ahead.is_empty() {
            return None;
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
        let end = if options.pack {
            first_pause_end(ahead, ended, WINDOW_SAMPLES, &options.vad)
        } else {
            stretch_end(ahead, ended, WINDOW_SAMPLES, &options.vad)
        };
        let end = end.max(1).min(ahead.len());
        let stretch = Stretch { start: *position, samples: ahead[..end].to_vec() };
        *position += end;
        if VoiceActivity::measure(&stretch.samples, &options.vad).is_voice(&options.vad) {
            return Some(stretch);
        }
        tally.silent_windows += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(s: f64) -> usize {
        (s * SAMPLE_RATE as f64) as usize
    }

    #[test]
    fn a_short_window_is_encoded_with_its_audio_and_a_margin_at_least_fifteen_seconds() {
        // 3 s of audio: the 15 s floor. 17.3 s: 21.3 s. 27 s and more: the whole 30 s window.
        assert_eq!(encoder_frames(300), 1500);
        assert_eq!(encoder_frames(1730), 2130);
        assert_eq!(encoder_frames(1731), 2132);
        assert_eq!(encoder_frames(2700), WINDOW_FRAMES);
        assert_eq!(encoder_frames(WINDOW_FRAMES), WINDOW_FRAMES);
        assert_eq!(encoder_frames(0), 1500);
    }

    /// Two stretches packed: 1 s said at 0 s, 2 s said at 10 s.
    fn packed() -> Window {
        let mut window = Window::of(Stretch { start: 0, samples: vec![0.1; seconds(1.0)] });
        window.push(Stretch { start: seconds(10.0), samples: vec![0.2; seconds(2.0)] });
        window
    }

    #[test]
    fn a_time_of_a_packed_window_is_placed_in_the_stretch_it_falls_in() {
        let w = packed();
        assert_eq!(w.placed[1], Placed { at: seconds(1.0), start: seconds(10.0), len: seconds(2.0) });
        assert_eq!((w.stretch_of(0.3), w.in_stretch(0, 0.3)), (0, 0.3));
        assert_eq!((w.stretch_of(2.0), w.in_stretch(1, 2.0)), (1, 11.0));
        // A time past its stretch is that stretch's end, or start: a word ends where the next one begins.
        assert_eq!(w.in_stretch(0, 1.3), 1.0);
        assert_eq!(w.in_stretch(1, 0.8), 10.0);
        // Past the audio: the end of the last stretch.
        assert_eq!((w.stretch_of(29.0), w.in_stretch(1, 29.0)), (1, 12.0));
        assert_eq!(w.offset_s(), 0.0);
    }

    #[test]
    fn a_packed_window_is_heard_apart_when_no_stretch_before_its_last_word_s_is_skipped() {
        let w = packed();
        assert!(w.heard_apart(&[0, 0, 1]));
        // Trailing stretches without a word are what the model stopped short of (heard again as the rest).
        assert!(w.heard_apart(&[0]));
        // The first stretch skipped.
        assert!(!w.heard_apart(&[1, 1]));
        // Nothing written for stretches of speech (a window the model judged silent is not asked).
        assert!(!w.heard_apart(&[]));
    }

    fn word(text: &str, start: f64, end: f64) -> Word {
        Word { text: text.into(), start, end, probability: 0.9 }
    }

    #[test]
    fn a_window_s_words_make_a_segment_per_sentence_and_per_stretch() {
        let attempt = Attempt {
            tokens: vec![],
            avg_logprob: -0.2,
            no_speech_prob: 0.1,
            compression_ratio: 1.2,
            looping: false,
            temperature: 0.0,
            text_tokens: 0,
        };
        // The first stretch (1 s) holds two sentences; the second (2 s, said at 10 s) one without a full stop,
        // whose first word the alignment starts a little early.
        let words = [
            word(" Yes.", 0.0, 0.3),
            word(" Go", 0.4, 0.6),
            word(" on.", 0.6, 0.9),
            word(" And", 0.95, 1.5),
            word(" then", 1.6, 2.5),
        ];
        let w = packed();
        let stretches: Vec<usize> = words.iter().map(|x| w.stretch_of((x.start + x.end) / 2.0)).collect();
        assert_eq!(stretches, [0, 0, 0, 1, 1]);
        let segments = segments_of(&w, &attempt, &words, &stretches);
        let as_said: Vec<(f64, f64, &str)> = segments.iter().map(|s| (s.start, s.end, s.text.as_str())).collect();
        assert_eq!(as_said, [(0.0, 0.3, "Yes."), (0.4, 0.9, "Go on."), (10.0, 11.5, "And then")]);
        // Words of two stretches without a full stop between them still part there.
        let words = [word(" one", 0.2, 0.6), word(" two", 1.2, 1.6)];
        let segments = segments_of(&w, &attempt, &words, &[0, 1]);
        assert_eq!(segments.iter().map(|s| s.start).collect::<Vec<_>>(), [0.2, 10.2]);
        assert!(segments_of(&w, &attempt, &[], &[]).is_empty());
    }

    #[test]
    fn what_follows_a_time_of_a_packed_window_is_the_stretches_it_was() {
        let rest = packed().rest_from(seconds(0.5));
        let as_said: Vec<(usize, usize)> = rest.iter().map(|s| (s.start, s.samples.len())).collect();
        assert_eq!(as_said, [(seconds(0.5), seconds(0.5)), (seconds(10.0), seconds(2.0))]);
        let rest = packed().rest_from(seconds(1.5));
        assert_eq!((rest[0].start, rest[0].samples[0]), (seconds(10.5), 0.2));
    }
}
