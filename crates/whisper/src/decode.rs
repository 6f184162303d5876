//! One `generate` call over a batch of encoded windows, with the reference implementations' temperature fallback:
//! each window whose output looks like a loop (a compression ratio that blocks said again verbatim make, or a block
//! repeated back to back) or a guess (low average log-probability) is decoded again at the next temperature, the
//! ones still wanting together, until it passes or the temperatures run out (then its most probable attempt is
//! kept). Sampling draws from CTranslate2's generators, seeded once per process ([`crate::model`]), so a file heard
//! twice by the same build reads the same.

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
}

impl Attempt {
    /// The reference rule: the model thinks nobody speaks, and what it wrote it does not believe either.
    pub fn is_silent(&self, options: &DecodeOptions) -> bool {
        self.no_speech_prob > options.no_speech_threshold && self.avg_logprob < options.log_prob_threshold
    }

    /// Whether to keep it rather than try a higher temperature.
    fn passes(&self, options: &DecodeOptions) -> bool {
        self.is_silent(options) || (!self.looping && self.avg_logprob >= options.log_prob_threshold)
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
        Attempt {
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
    /// output of the windows a fallback still needs when they are not all of them (a one-window batch has none).
    /// The time spent past the first temperature is added to `fallback_seconds`.
    pub(crate) fn decode_with_fallback(
        &self,
        encoded: &StorageView<'_>,
        reencode: Option<&Reencode>,
        prompts: &[Vec<&str>],
        options: &DecodeOptions,
        fallback_seconds: &mut f64,
    ) -> Result<Vec<Attempt>, WhisperError> {
        let n = prompts.len();
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
                if attempt.passes(options) {
                    kept[i] = Some(attempt);
                } else if best[i].as_ref().is_none_or(|b| attempt.avg_logprob > b.avg_logprob) {
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
