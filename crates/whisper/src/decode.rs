//! One `generate` call over a batch of encoded windows, with the reference implementations' temperature fallback:
//! each window whose output looks like a loop (a compression ratio that blocks said again verbatim make, or a block
//! repeated back to back) or a guess (low average log-probability) is decoded again at the next temperature, the
//! ones still wanting together, until it passes or the temperatures run out (then its most probable attempt is
//! kept). A sampled attempt must also say about as much as the window holds of sound: sampling can draw the end
//! of the text after a sentence, and a window whose first sentence is all that was kept loses the rest
//! ([`Attempt::cut_short`]).
//!
//! Sampling draws from CTranslate2's generator of the thread that decodes, seeded once per process
//! ([`crate::model`]) and never again: a process hears the same recordings in the same order the same way, but a
//! window that needs a sampled fallback can read differently when other recordings were heard before it (the same
//! holds for the reference implementations). Windows that pass at temperature 0 — nearly all — read the same
//! whatever came before.

use ct2rs::sys::{StorageView, WhisperGenerationResult, WhisperOptions};

use crate::model::Engine;
use crate::quality::{compression_ratio, has_loop, looks_looped};
use crate::transcribe::DecodeOptions;
use crate::WhisperError;

/// One window's decoded tokens and what they say of themselves.
pub(crate) struct Attempt {
    pub tokens: Vec<usize>,
    pub avg_logprob: f64,
    pub no_speech_prob: f32,
    pub compression_ratio: f64,
    /// The text repeats itself ([`crate::quality::repeats_itself`]) or holds a loop ([`has_loop`]).
    pub looping: bool,
    pub temperature: f32,
    /// Text tokens (timestamps and special tokens left out).
    pub text_tokens: usize,
}

/// Text tokens a sampled attempt must hold per second of sound in its window (speech runs at 2–5 tokens a
/// second of sound in the languages measured; a slow read-out of digits at about 2).
const MIN_TOKENS_PER_SOUND_SECOND: f64 = 1.0;

impl Attempt {
    /// The reference rule: the model thinks nobody speaks, and what it wrote it does not believe either.
    pub fn is_silent(&self, options: &DecodeOptions) -> bool {
        self.no_speech_prob > options.no_speech_threshold && self.avg_logprob < options.log_prob_threshold
    }

    /// Whether to keep it rather than try a higher temperature (`sound_s`: seconds of sound in its window).
    fn passes(&self, options: &DecodeOptions, sound_s: f64) -> bool {
        self.is_silent(options)
            || (!self.looping && self.avg_logprob >= options.log_prob_threshold && !self.cut_short(sound_s))
    }

    /// A sampled attempt that says far less than its window holds of sound: an end of text drawn after a
    /// sentence, the rest of the window left unsaid (only a drawn attempt: at temperature 0 the model's own end
    /// of text is kept, as the reference implementations keep it).
    fn cut_short(&self, sound_s: f64) -> bool {
        self.temperature > 0.0 && (self.text_tokens as f64) < MIN_TOKENS_PER_SOUND_SECOND * sound_s
    }

    /// Whether it is a better last resort than `other` when none passed: one not cut short, then the more
    /// probable.
    fn beats(&self, other: &Attempt, sound_s: f64) -> bool {
        let (whole, other_whole) = (!self.cut_short(sound_s), !other.cut_short(sound_s));
        (whole && !other_whole) || (whole == other_whole && self.avg_logprob > other.avg_logprob)
    }
}

/// CTranslate2's options for one temperature: beam search (or greedy) at 0, sampling above.
fn ct2_options(temperature: f32, options: &DecodeOptions) -> WhisperOptions {
    let greedy = temperature == 0.0;
    WhisperOptions {
        beam_size: if greedy { options.beam_size } else { 1 },
        sampling_topk: if greedy { 1 } else { 0 },
        sampling_temperature: if greedy { 1.0 } else { temperature },
        return_scores: true,
        return_no_speech_prob: true,
        ..WhisperOptions::default()
    }
}

/// A re-encoding of some items of a batch (by index), for a fallback that needs fewer than all of them.
pub(crate) type Reencode<'a> = dyn Fn(&[usize]) -> Result<StorageView<'static>, WhisperError> + 'a;

impl Engine {
    fn attempt(&self, result: WhisperGenerationResult, temperature: f32, options: &DecodeOptions) -> Attempt {
        let tokens = result.sequences_ids.into_iter().next().unwrap_or_default();
        let score = result.scores.first().copied().unwrap_or(0.0) as f64;
        // CTranslate2's score is the sum of log-probabilities over the length (length penalty 1).
        let avg_logprob = score * tokens.len() as f64 / (tokens.len() + 1) as f64;
        let text = self.text(&tokens);
        let ratio = compression_ratio(&text);
        let text_tokens = tokens.iter().filter(|&&t| t < self.vocabulary.eot).count();
        Attempt {
            text_tokens,
            // A loop the compression ratio misses (a short window, a script zlib packs less well) is one too.
            looping: looks_looped(ratio, &text, options.compression_ratio_threshold) || has_loop(&text),
            tokens,
            avg_logprob,
            no_speech_prob: result.no_speech_prob,
            compression_ratio: ratio,
            temperature,
        }
    }

    /// Decodes the `encoded` windows, one prompt each, with temperature fallback; `reencode` gives the encoder
    /// output of the windows a fallback still needs when they are not all of them (a one-window batch has none);
    /// `sound_s`: each window's seconds of sound. The time spent past the first temperature is added to
    /// `fallback_seconds`.
    pub(crate) fn decode_with_fallback(
        &self,
        encoded: &StorageView<'_>,
        reencode: Option<&Reencode>,
        prompts: &[Vec<&str>],
        sound_s: &[f64],
        options: &DecodeOptions,
        fallback_seconds: &mut f64,
    ) -> Result<Vec<Attempt>, WhisperError> {
        let n = prompts.len();
        debug_assert_eq!(sound_s.len(), n);
        let mut kept: Vec<Option<Attempt>> = (0..n).map(|_| None).collect();
        let mut best: Vec<Option<Attempt>> = (0..n).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..n).collect();
        for (round, &temperature) in options.temperatures.iter().enumerate() {
            if pending.is_empty() {
                break;
            }
            let started = std::time::Instant::now();
            let subset;
            let features = match reencode {
                Some(reencode) if pending.len() < n => {
                    subset = reencode(&pending)?;
                    &subset
                }
                _ => encoded,
            };
            let asked: Vec<Vec<&str>> = pending.iter().map(|&i| prompts[i].clone()).collect();
            let results = self
                .model
                .generate(features, &asked, &ct2_options(temperature, options))
                .map_err(|e| WhisperError::Decode(e.to_string()))?;
            if results.len() != pending.len() {
                return Err(WhisperError::Decode(format!("{} results for {} windows", results.len(), pending.len())));
            }
            for (&i, result) in pending.iter().zip(results) {
                let attempt = self.attempt(result, temperature, options);
                let sound = sound_s.get(i).copied().unwrap_or(0.0);
                if attempt.cut_short(sound) {
                    tracing::debug!(
                        window = i,
                        tokens = attempt.text_tokens,
                        sound,
                        temperature,
                        "sampled attempt cut short"
                    );
                }
                if attempt.passes(options, sound) {
                    kept[i] = Some(attempt);
                } else if best[i].as_ref().is_none_or(|b| attempt.beats(b, sound)) {
                    best[i] = Some(attempt);
                }
            }
            pending.retain(|&i| kept[i].is_none());
            if round > 0 {
                *fallback_seconds += started.elapsed().as_secs_f64();
            }
        }
        kept.into_iter()
            .zip(best)
            .map(|(k, b)| k.or(b).ok_or_else(|| WhisperError::Decode("no temperatures to decode with".into())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(temperature: f32, text_tokens: usize, avg_logprob: f64) -> Attempt {
        Attempt {
            tokens: vec![0; text_tokens],
            avg_logprob,
            no_speech_prob: 0.1,
            compression_ratio: 1.5,
            looping: false,
            temperature,
            text_tokens,
        }
    }

    #[test]
    fn a_sampled_attempt_that_says_far_less_than_its_sound_is_not_kept() {
        let options = DecodeOptions::default();
        // 20 s of sound: "Thank you for calling." (6 tokens) drawn at 0.2 stopped after its first sentence; the
        // same from beam search is the model's own end; a whole drawn attempt passes.
        assert!(!attempt(0.2, 6, -0.3).passes(&options, 20.0));
        assert!(attempt(0.0, 6, -0.3).passes(&options, 20.0));
        assert!(attempt(0.2, 40, -0.3).passes(&options, 20.0));
        // Nothing passed: a whole attempt is kept over a more probable one cut short, then the more probable.
        assert!(attempt(0.4, 40, -1.5).beats(&attempt(0.2, 6, -0.9), 20.0));
        assert!(!attempt(0.2, 6, -0.9).beats(&attempt(0.4, 40, -1.5), 20.0));
        assert!(attempt(0.2, 6, -0.9).beats(&attempt(0.4, 5, -1.5), 20.0));
    }
}
