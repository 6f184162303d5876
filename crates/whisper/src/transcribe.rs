//! Long-form decoding, as the reference implementations do it: the recording (plus 30 s of silence) decoded one 30 s
//! window at a time with timestamps on, each window's log-mel computed from the samples around it as they stream
//! in; a window's complete segments are kept and the next window starts where the last complete one ended (a
//! window never starts mid-word because of a blind cut);
//! the previous text is the prompt; a window whose text looks like a loop ([`crate::quality`]) or a guess (low
//! average log-probability) is decoded again at a higher temperature; a window the model judges silent
//! (no-speech probability, with a low log-probability) gives no text.

use std::time::Instant;

use ct2rs::sys::{Device, StorageView};
use redscribe_core::ports::QualityFlag;
use serde::Serialize;

use crate::align::{HeardWindow, Word};
use crate::decode::Attempt;
use crate::language::{no_language, LanguageVote};
use crate::mel::{HOP, N_FFT, N_MELS, SAMPLE_RATE, WINDOW_FRAMES, WINDOW_SAMPLES};
use crate::model::Engine;
use crate::quality::cut_loops;
use crate::vad::{sound_seconds, sound_steps, VadOptions, VoiceActivity};
use crate::WhisperError;

/// Seconds per timestamp token.
const TIME_PRECISION: f64 = 0.02;
/// Seconds per mel frame.
const FRAME_SECONDS: f64 = HOP as f64 / SAMPLE_RATE as f64;

/// How a recording's windows are decoded. Batched is the default: on minutes of speech it took 0.57–0.62x the
/// time of sequential decoding at beam 5 (tiny.en, base), a third of it on a sparse recording, where sequential
/// decoding, whose prompt carries each window's text into the next, wrote one sentence over and over (base: 14.6 %
/// WER against 2.7 %; benches/transcribe); it costs memory for the batch (up to ~1 GB with base at 8 windows), not
/// for the recording's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Decoding {
    /// One 30 s window after the other, each starting where the last complete segment of the one before ended,
    /// the text so far as its prompt: the reference implementations' long-form decoding, for speech whose words
    /// depend on what came before more than speed matters, and the least memory.
    Sequential,
    /// Stretches of speech split at pauses (each at most 30 s) decoded independently, `batch_size` of them per
    /// `generate` call, as faster-whisper's batched pipeline does: no prompt from the previous text.
    #[default]
    Batched,
}

impl std::str::FromStr for Decoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Decoding, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sequential" => Ok(Decoding::Sequential),
            "batched" => Ok(Decoding::Batched),
            other => Err(format!("decoding {other:?}: sequential or batched")),
        }
    }
}

/// Decoding choices (the reference implementations' defaults).
#[derive(Debug, Clone, Serialize)]
pub struct DecodeOptions {
    pub decoding: Decoding,
    /// Stretches per `generate` call when batched: memory grows with it (each holds 30 s of samples, its
    /// spectrogram and its encoder output, a few MB).
    pub batch_size: usize,
    /// Batched: short stretches of speech share a window (up to 30 s, 400 ms apart) instead of each having one.
    pub pack: bool,
    /// Batched: a batch of short windows is encoded with their audio and 4 s after it (at least 15 s) instead of
    /// padded to 30 s; sequential decoding always hears 30 s windows, as the reference implementations do.
    pub trim_windows: bool,
    pub beam_size: usize,
    /// Tried in order until a window's output passes the checks below.
    pub temperatures: Vec<f32>,
    pub compression_ratio_threshold: f64,
    pub log_prob_threshold: f64,
    pub no_speech_threshold: f32,
    pub condition_on_previous_text: bool,
    /// The prompt is dropped after a window needed a temperature above this.
    pub prompt_reset_on_temperature: f32,
    /// The voice-activity check a window must pass to be decoded at all.
    pub vad: VadOptions,
    /// The language spoken (`es`), when known: a multilingual model then skips detection. English-only models
    /// always transcribe English.
    pub language: Option<String>,
    /// When to stop: no window (no batch) starts past it, and the transcription fails with
    /// [`WhisperError::Deadline`].
    #[serde(skip)]
    pub deadline: Option<Instant>,
}

impl DecodeOptions {
    /// [`WhisperError::Deadline`] once the deadline has passed (`heard_s`: how far the recording was heard).
    pub(crate) fn stop_at_deadline(&self, heard_s: f64) -> Result<(), WhisperError> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(WhisperError::Deadline { heard_s }),
            _ => Ok(()),
        }
    }
}

impl Default for DecodeOptions {
    fn default() -> DecodeOptions {
        DecodeOptions {
            decoding: Decoding::default(),
            batch_size: redscribe_core::settings::DEFAULT_BATCH_SIZE,
            pack: true,
            trim_windows: true,
            beam_size: redscribe_core::settings::DEFAULT_BEAM_SIZE,
            temperatures: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            compression_ratio_threshold: 2.4,
            log_prob_threshold: -1.0,
            no_speech_threshold: 0.6,
            condition_on_previous_text: true,
            prompt_reset_on_temperature: 0.5,
            vad: VadOptions::default(),
            language: None,
            deadline: None,
        }
    }
}

/// A time-aligned piece of the transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub avg_logprob: f64,
    pub no_speech_prob: f64,
    pub compression_ratio: f64,
    pub temperature: f32,
    /// Its words, at their times in the recording, within the segment's.
    pub words: Vec<Word>,
}

/// What a recording says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    pub text: String,
    /// The language transcribed (`en`, `es`, …): the hint, else detected on the first window with speech.
    pub language: String,
    /// How sure detection was of it; `None` where nothing was detected (a hint, or an English-only model).
    pub language_probability: Option<f64>,
    pub duration_s: f64,
    pub segments: Vec<Segment>,
    /// Mean over the decoded windows (weighted by their tokens).
    pub avg_logprob: Option<f64>,
    /// Highest over the decoded windows.
    pub no_speech_prob: Option<f64>,
    /// Highest over the decoded windows (as the reference implementations compute it per window).
    pub compression_ratio: f64,
    /// Windows whose kept text still repeats itself as a loop does: every temperature was tried and none did better.
    pub looped_windows: usize,
    /// Windows that needed a temperature above 0.
    pub fallbacks: usize,
    /// Seconds spent decoding windows again at higher temperatures (part of `decode_seconds`).
    pub fallback_seconds: f64,
    /// Windows judged silent.
    pub silent_windows: usize,
    /// Loops cut out of the text (each kept once): a decoder stuck repeating itself, in any language.
    pub loops_cut: usize,
    pub decode_seconds: f64,
}

impl Transcript {
    /// What a user should know about the transcript's quality: `no_speech` (nothing said: silence or noise),
    /// `repetition` (a loop survived the fallbacks: it was cut, or the text still repeats itself), `low_confidence`,
    /// or `ok`. The thresholds are the ones the decoding used to retry a window.
    pub fn quality_flag(&self, options: &DecodeOptions) -> QualityFlag {
        if self.text.is_empty() && self.loops_cut == 0 {
            QualityFlag::NoSpeech
        } else if self.loops_cut > 0 || self.looped_windows > 0 {
            QualityFlag::Repetition
        } else if self.avg_logprob.is_some_and(|l| l < options.log_prob_threshold) {
            QualityFlag::LowConfidence
        } else {
            QualityFlag::Ok
        }
    }
}

/// Seconds between two segments from which a loop is not looked for across them.
const LOOP_PAUSE_S: f64 = 1.0;

/// What the decoded windows add up to, besides their segments.
#[derive(Default)]
pub(crate) struct Tally {
    logprob_sum: f64,
    logprob_tokens: usize,
    no_speech_max: Option<f64>,
    fallbacks: usize,
    compression_max: f64,
    looped: usize,
    pub silent_windows: usize,
    /// Seconds spent on temperature fallbacks.
    pub fallback_seconds: f64,
}

impl Tally {
    /// Counts a decoded window: `false` when it was judged silent (and gives no text).
    pub(crate) fn window(&mut self, attempt: &Attempt, options: &DecodeOptions) -> bool {
        self.no_speech_max = Some(self.no_speech_max.unwrap_or(0.0).max(attempt.no_speech_prob as f64));
        if attempt.is_silent(options) {
            self.silent_windows += 1;
            return false;
        }
        if attempt.temperature > 0.0 {
            self.fallbacks += 1;
        }
        self.looped += attempt.looping as usize;
        self.compression_max = self.compression_max.max(attempt.compression_ratio);
        self.logprob_sum += attempt.avg_logprob * (attempt.tokens.len() + 1) as f64;
        self.logprob_tokens += attempt.tokens.len() + 1;
        true
    }

    /// The transcript of these segments: loops cut out of them (across segments that follow each other without a
    /// pause: a decoder's loop runs on, while the same words said again after a silence are said again), the text
    /// joined.
    pub(crate) fn finish(self, mut segments: Vec<Segment>, heard: Detected, started: Instant) -> Transcript {
        let mut loops_cut = 0;
        let mut from = 0;
        while from < segments.len() {
            let mut to = from + 1;
            while to < segments.len() && segments[to].start - segments[to - 1].end < LOOP_PAUSE_S {
                to += 1;
            }
            let (kept, cut) = cut_loops(&segments[from..to].iter().map(|s| s.text.as_str()).collect::<Vec<_>>());
            for (segment, text) in segments[from..to].iter_mut().zip(kept) {
                if segment.text != text {
                    segment.words = words_kept(std::mem::take(&mut segment.words), &text);
                    segment.text = text;
                }
            }
            loops_cut += cut;
            from = to;
        }
        segments.retain(|s| !s.text.is_empty());
        let text = segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
        Transcript {
            compression_ratio: self.compression_max,
            looped_windows: self.looped,
            text,
            language: heard.language.unwrap_or_else(|| "en".into()),
            language_probability: heard.language_probability,
            duration_s: heard.duration_s,
            segments,
            avg_logprob: (self.logprob_tokens > 0).then(|| self.logprob_sum / self.logprob_tokens as f64),
            no_speech_prob: self.no_speech_max,
            fallbacks: self.fallbacks,
            fallback_seconds: self.fallback_seconds,
            silent_windows: self.silent_windows,
            loops_cut,
            decode_seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// The words still in a segment's text after a loop was cut out of it: each word in turn is kept when the text
/// left goes on with it.
fn words_kept(words: Vec<Word>, text: &str) -> Vec<Word> {
    let mut rest = text;
    let mut kept = Vec::new();
    for word in words {
        let said = word.text.trim();
        if let Some(after) = rest.trim_start().strip_prefix(said).filter(|_| !said.is_empty()) {
            rest = after;
            kept.push(word);
        }
    }
    kept
}

/// The language a recording was heard in, and how long it was.
pub(crate) struct Detected {
    pub language: Option<String>,
    pub language_probability: Option<f64>,
    pub duration_s: f64,
}

/// The recording as it streams in: the samples from `base` on, and whether the source has ended.
pub(crate) struct Stream<'a> {
    chunks: &'a mut dyn Iterator<Item = Vec<f32>>,
    buf: Vec<f32>,
    base: usize,
    ended: bool,
}

impl Stream<'_> {
    pub(crate) fn new(chunks: &mut dyn Iterator<Item = Vec<f32>>) -> Stream<'_> {
        Stream { chunks, buf: Vec::new(), base: 0, ended: false }
    }

    /// Reads until sample `end` is held (or the source ends).
    pub(crate) fn fill_to(&mut self, end: usize) {
        while !self.ended && self.base + self.buf.len() < end {
            match self.chunks.next() {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None => self.ended = true,
            }
        }
    }

    /// Samples in the recording, once the source has ended.
    pub(crate) fn total(&self) -> Option<usize> {
        self.ended.then_some(self.base + self.buf.len())
    }

    /// Forgets samples before `start`.
    pub(crate) fn drop_before(&mut self, start: usize) {
        let k = start.saturating_sub(self.base).min(self.buf.len());
        self.buf.drain(..k);
        self.base += k;
    }

    /// Sample `i`, reflected at the start, zero past the end (the silence Whisper pads with).
    pub(crate) fn sample(&self, i: isize) -> f32 {
        let i = i.unsigned_abs();
        i.checked_sub(self.base).and_then(|j| self.buf.get(j)).copied().unwrap_or(0.0)
    }

    pub(crate) fn slice(&self, from: usize, to: usize) -> &[f32] {
        let from = from.saturating_sub(self.base).min(self.buf.len());
        let to = to.saturating_sub(self.base).clamp(from, self.buf.len());
        &self.buf[from..to]
    }
}

impl Engine {
    /// Whether the model transcribes language `code` (`es`): English-only models speak `en` alone.
    pub fn speaks(&self, code: &str) -> bool {
        let code = code.trim().to_ascii_lowercase();
        if !self.multilingual {
            return code == "en";
        }
        self.vocabulary.tokens.iter().any(|t| *t == format!("<|{code}|>"))
    }

    /// The language to transcribe in before any detection: the hint, checked against the model's languages (an
    /// English-only model speaks `en` alone); without one English for an English-only model, else `None` (detect
    /// it).
    pub(crate) fn language_hint(&self, options: &DecodeOptions) -> Result<Option<String>, WhisperError> {
        let Some(hint) = options.language.as_deref().map(str::trim).filter(|l| !l.is_empty()) else {
            return Ok((!self.multilingual).then(|| "en".into()));
        };
        let hint = hint.to_ascii_lowercase();
        if !self.speaks(&hint) {
            return Err(WhisperError::Language { language: hint, model: self.name.clone() });
        }
        Ok(Some(hint))
    }

    /// Transcribes 16 kHz mono samples.
    pub fn transcribe(&self, samples: &[f32], options: &DecodeOptions) -> Result<Transcript, WhisperError> {
        let mut chunks = samples.chunks(WINDOW_SAMPLES).map(<[f32]>::to_vec);
        self.transcribe_stream(&mut chunks, options)
    }

    /// Transcribes 16 kHz mono samples that arrive in chunks of any size, holding about one 30 s window of them
    /// (and its spectrogram) at a time — `batch_size` of them when batched: memory does not grow with the
    /// recording's length.
    pub fn transcribe_stream(
        &self,
        chunks: &mut dyn Iterator<Item = Vec<f32>>,
        options: &DecodeOptions,
    ) -> Result<Transcript, WhisperError> {
        if options.decoding == Decoding::Batched {
            return self.transcribe_batched(chunks, options);
        }
        let started = Instant::now();
        let mut stream = Stream::new(chunks);
        let mut loudest = f32::MIN;
        let v = &self.vocabulary;
        let mut seek = 0usize;
        let mut prompt_ids: Vec<usize> = Vec::new();
        let mut segments = Vec::new();
        let mut tally = Tally::default();
        let mut language = self.language_hint(options)?;
        let mut language_probability = None;
        loop {
            options.stop_at_deadline(seek as f64 * FRAME_SECONDS)?;
            // Samples before the window (less the STFT's half frame) are done with.
            stream.drop_before((seek * HOP).saturating_sub(N_FFT / 2));
            stream.fill_to((seek + WINDOW_FRAMES) * HOP + N_FFT / 2);
            // Frames with audio in them: `n / HOP`, once the end is known.
            let total = stream.total();
            let content_frames = total.map_or(usize::MAX, |n| n / HOP);
            if seek >= content_frames {
                break;
            }
            let time_offset = seek as f64 * FRAME_SECONDS;
            let window_frames = WINDOW_FRAMES.min(content_frames - seek);
            let duration_s = total.map_or(f64::INFINITY, |n| n as f64 / SAMPLE_RATE as f64);
            // Voice-activity gate: a window whose loudness never moves like speech has nothing to say, and Whisper
            // would invent a word for it ("you", "thank you") with a fair log-probability.
            let window = stream.slice(seek * HOP, (seek + window_frames) * HOP);
            if !VoiceActivity::measure(window, &options.vad).is_voice(&options.vad) {
                tally.silent_windows += 1;
                seek += window_frames;
                continue;
            }
            let mut features = self.front_end.window(&|i| stream.sample(i), seek, WINDOW_FRAMES, &mut loudest);
            let view = StorageView::new(&[1, N_MELS, WINDOW_FRAMES], &mut features, Device::CPU)
                .map_err(|e| WhisperError::Decode(e.to_string()))?;
            let encoded = self.model.encode(&view, false).map_err(|e| WhisperError::Decode(e.to_string()))?;
            // The language, once, from the first window with speech in it (not from leading silence), and the
            // windows after it when that one is unsure.
            if self.multilingual && language.is_none() {
                let mut vote = LanguageVote::default();
                self.vote_language(&encoded, &mut vote)?;
                self.vote_ahead(&mut stream, seek + window_frames, loudest, options, &mut vote)?;
                let (detected, probability) = vote.leader().ok_or_else(no_language)?;
                tracing::debug!(language = %detected, probability, time_offset, windows = vote.windows(), "language detected");
                language = Some(detected);
                language_probability = Some(probability);
            }

            let mut prompt: Vec<&str> = Vec::new();
            if options.condition_on_previous_text && !prompt_ids.is_empty() {
                prompt.push(&v.tokens[v.sot_prev]);
                let keep = prompt_ids.len().saturating_sub(223);
                prompt.extend(prompt_ids[keep..].iter().map(|&t| v.tokens[t].as_str()));
            }
            let language_token = format!("<|{}|>", language.as_deref().unwrap_or("en"));
            let mut start: Vec<&str> = vec![&v.tokens[v.sot]];
            if self.multilingual {
                start.extend([language_token.as_str(), "<|transcribe|>"]);
            }
            prompt.extend(start.iter().copied());

            let sound = sound_steps(stream.slice(seek * HOP, (seek + window_frames) * HOP), &options.vad);
            let sound_s = sound_seconds(&sound);
            let attempt = self
                .decode_with_fallback(&encoded, None, &[prompt], &[sound_s], options, &mut tally.fallback_seconds)?
                .remove(0);
            tracing::debug!(
                seek,
                tokens = attempt.tokens.len(),
                avg_logprob = attempt.avg_logprob,
                no_speech_prob = attempt.no_speech_prob,
                compression_ratio = attempt.compression_ratio,
                temperature = attempt.temperature,
                "window decoded"
            );
            if !tally.window(&attempt, options) {
                seek += window_frames;
                continue;
            }

            let (window_segments, advance) = self.split(&attempt, time_offset, window_frames);
            let mut window_segments: Vec<(Segment, &[usize])> =
                window_segments.into_iter().filter(|(s, _)| !s.text.trim().is_empty()).collect();
            let aligning = Instant::now();
            let code = language.as_deref().unwrap_or("en");
            let heard = HeardWindow { frames: window_frames, sound: &sound, offset_s: time_offset };
            self.time_segments(&encoded, &start, &mut window_segments, heard, code)?;
            tracing::debug!(seconds = aligning.elapsed().as_secs_f64(), "words aligned");
            for (mut s, _) in window_segments {
                s.end = s.end.min(duration_s);
                s.start = s.start.min(s.end);
                for w in &mut s.words {
                    w.end = w.end.min(s.end);
                    w.start = w.start.min(w.end);
                }
                segments.push(s);
            }
            seek += advance.max(1);
            if attempt.temperature > options.prompt_reset_on_temperature {
                prompt_ids.clear();
            } else {
                // Text and timestamps, as the reference implementations prompt: without the timestamps the model
                // drifts out of timestamp mode and repeats the prompt's text into the silence after it.
                prompt_ids.extend(attempt.tokens.iter().copied().filter(|&t| t < v.eot || t >= v.timestamp_begin));
            }
        }
        let duration_s = stream.total().unwrap_or(0) as f64 / SAMPLE_RATE as f64;
        Ok(tally.finish(segments, Detected { language, language_probability, duration_s }, started))
    }

    /// The window's segments, and how many frames to advance: to the end of the last complete segment, or the
    /// whole window when it ended on a timestamp pair (or had no timestamps); text after the last complete segment
    /// is left to the next window, which starts there.
    pub(crate) fn split<'a>(
        &self,
        attempt: &'a Attempt,
        time_offset: f64,
        window_frames: usize,
    ) -> (Vec<(Segment, &'a [usize])>, usize) {
        let ts = self.vocabulary.timestamp_begin;
        let tokens = &attempt.tokens;
        let is_ts = |t: usize| t >= ts;
        let segment = |slice: &'a [usize], start: f64, end: f64| {
            let segment = Segment {
                start,
                end,
                text: self.text(slice).trim().to_string(),
                avg_logprob: attempt.avg_logprob,
                no_speech_prob: attempt.no_speech_prob as f64,
                compression_ratio: attempt.compression_ratio,
                temperature: attempt.temperature,
                words: Vec::new(),
            };
            (segment, slice)
        };
        let single_ending = tokens.len() >= 2 && !is_ts(tokens[tokens.len() - 2]) && is_ts(tokens[tokens.len() - 1]);
        let mut cuts: Vec<usize> = (1..tokens.len()).filter(|&i| is_ts(tokens[i]) && is_ts(tokens[i - 1])).collect();
        if cuts.is_empty() {
            let mut duration = window_frames as f64 * FRAME_SECONDS;
            if let Some(&last) = tokens.iter().rev().find(|&&t| is_ts(t)) {
                if last != ts {
                    duration = (last - ts) as f64 * TIME_PRECISION;
                }
            }
            return (vec![segment(tokens, time_offset, time_offset + duration)], window_frames);
        }
        if single_ending {
            cuts.push(tokens.len());
        }
        let mut segments = Vec::new();
        let mut last = 0usize;
        for &cut in &cuts {
            let slice = &tokens[last..cut];
            if let (Some(&first), Some(&end)) = (slice.first(), slice.last()) {
                let start = time_offset + first.saturating_sub(ts) as f64 * TIME_PRECISION;
                let end = time_offset + end.saturating_sub(ts) as f64 * TIME_PRECISION;
                segments.push(segment(slice, start, end));
            }
            last = cut;
        }
        let advance = if single_ending {
            window_frames
        } else {
            // Timestamps are 20 ms = 2 frames.
            tokens[last - 1].saturating_sub(ts) * 2
        };
        (segments, advance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(start: f64, text: &str) -> Segment {
        Segment {
            start,
            end: start + 2.0,
            text: text.into(),
            avg_logprob: -0.2,
            no_speech_prob: 0.1,
            compression_ratio: 1.2,
            temperature: 0.0,
            words: Vec::new(),
        }
    }

    fn finish(segments: Vec<Segment>) -> Transcript {
        let heard = Detected { language: None, language_probability: None, duration_s: 600.0 };
        Tally::default().finish(segments, heard, Instant::now())
    }

    #[test]
    fn a_loop_is_cut_where_it_runs_on_and_words_said_again_after_a_pause_are_kept() {
        // The same short sentence once a minute: said ten times.
        let minutes: Vec<Segment> = (0..10).map(|m| said(60.0 * m as f64, "Thank you for calling.")).collect();
        let t = finish(minutes);
        assert_eq!((t.segments.len(), t.loops_cut), (10, 0));
        assert_eq!(t.quality_flag(&DecodeOptions::default()), QualityFlag::Ok);
        // The same, segment after segment without a pause: a decoder's loop, kept once and flagged.
        let looped: Vec<Segment> = (0..10).map(|i| said(2.0 * i as f64, "Thank you for calling.")).collect();
        let t = finish(looped);
        assert_eq!((t.text.as_str(), t.loops_cut), ("Thank you for calling.", 1));
        assert_eq!(t.quality_flag(&DecodeOptions::default()), QualityFlag::Repetition);
    }

    #[test]
    fn words_cut_with_a_loop_leave_the_segment_and_the_rest_stay() {
        let word = |text: &str, start: f64| Word { text: text.into(), start, end: start + 0.3, probability: 0.9 };
        let mut looped = said(0.0, "Thank you. Thank you. Thank you. Thank you. Thank you. Thank you. Bye.");
        looped.words = ["Thank", " you.", " Thank", " you.", " Thank", " you.", " Thank", " you.", " Thank", " you."]
            .iter()
            .chain(&[" Thank", " you.", " Bye."])
            .enumerate()
            .map(|(i, w)| word(w, 0.3 * i as f64))
            .collect();
        let t = finish(vec![looped]);
        assert_eq!((t.text.as_str(), t.loops_cut), ("Thank you. Bye.", 1));
        let words: Vec<&str> = t.segments[0].words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words, ["Thank", " you.", " Bye."]);
        assert_eq!(t.segments[0].words[2].start, 0.3 * 12.0);
    }

    #[test]
    fn a_window_that_kept_looping_flags_the_transcript_and_one_that_compresses_well_does_not() {
        let options = DecodeOptions::default();
        let flag = |looping: bool| {
            let attempt = Attempt {
                tokens: vec![1; 40],
                avg_logprob: -0.2,
                no_speech_prob: 0.1,
                compression_ratio: 3.4,
                looping,
                temperature: 0.0,
                text_tokens: 40,
            };
            let mut tally = Tally::default();
            assert!(tally.window(&attempt, &options));
            let heard = Detected { language: None, language_probability: None, duration_s: 30.0 };
            let t = tally.finish(vec![said(0.0, "Item 10 is the budget report for March.")], heard, Instant::now());
            assert_eq!(t.compression_ratio, 3.4);
            t.quality_flag(&options)
        };
        // A list read from a template compresses as well as a loop; only a window that still loops is flagged.
        assert_eq!(flag(false), QualityFlag::Ok);
        assert_eq!(flag(true), QualityFlag::Repetition);
    }
}
