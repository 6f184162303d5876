//! Which language a recording is in when nobody said: CTranslate2's detection over the encoder's output of windows
//! with speech in them, summed window by window. One window decides when its language is sure
//! ([`LANGUAGE_SURE`]); an unsure one (a greeting, a name, a few words under noise) is not trusted alone, and more
//! of the recording's speech is heard, up to [`LANGUAGE_WINDOWS`] windows, before the language is chosen: the one
//! with the most probability over them all. Batched decoding votes over its first batch (up to its batch size of
//! windows at once); sequential decoding encodes the windows ahead for the vote when the first is unsure.

use ct2rs::sys::{DetectionResult, Device, StorageView};

use crate::mel::{HOP, N_FFT, N_MELS, WINDOW_FRAMES};
use crate::model::Engine;
use crate::transcribe::{DecodeOptions, Stream};
use crate::vad::VoiceActivity;
use crate::WhisperError;

/// Mean probability from which the leading language is taken without hearing more (faster-whisper's
/// `language_detection_threshold` has the same default).
pub(crate) const LANGUAGE_SURE: f64 = 0.5;

/// Windows of speech (30 s each) heard at most before the language is chosen, sure or not.
pub(crate) const LANGUAGE_WINDOWS: usize = 4;

/// The languages' probabilities summed over the windows heard so far.
#[derive(Debug, Default)]
pub(crate) struct LanguageVote {
    sums: Vec<(String, f64)>,
    windows: usize,
}

impl LanguageVote {
    /// Counts each window's probabilities.
    pub fn add(&mut self, windows: &[Vec<DetectionResult>]) {
        for window in windows {
            self.windows += 1;
            for r in window {
                let code = r.language.trim_start_matches("<|").trim_end_matches("|>");
                match self.sums.iter_mut().find(|(l, _)| l == code) {
                    Some((_, sum)) => *sum += f64::from(r.probability),
                    None => self.sums.push((code.to_string(), f64::from(r.probability))),
                }
            }
        }
    }

    /// The language with the most probability, and its mean over the windows heard.
    pub fn leader(&self) -> Option<(String, f64)> {
        let (code, sum) = self.sums.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
        Some((code.clone(), sum / self.windows.max(1) as f64))
    }

    /// Whether to choose now: the leader is sure, or enough windows were heard.
    pub fn settled(&self) -> bool {
        self.windows >= LANGUAGE_WINDOWS || self.leader().is_some_and(|(_, p)| p >= LANGUAGE_SURE)
    }

    pub fn windows(&self) -> usize {
        self.windows
    }
}

/// The error when detection gave no language at all.
pub(crate) fn no_language() -> WhisperError {
    WhisperError::Decode("language detection returned nothing".into())
}

impl Engine {
    /// Adds the detection of the `encoded` windows to `vote`.
    pub(crate) fn vote_language(&self, encoded: &StorageView, vote: &mut LanguageVote) -> Result<(), WhisperError> {
        let results = self.model.detect_language(encoded).map_err(|e| WhisperError::Decode(e.to_string()))?;
        vote.add(&results);
        Ok(())
    }

    /// Sequential decoding's vote after an unsure first window: the windows from frame `from` on that hold speech
    /// are encoded for the vote alone (their turn to be decoded encodes them again) until it is settled, looking
    /// no further than [`LANGUAGE_WINDOWS`] windows ahead, which is all the stream holds meanwhile. `loudest` is
    /// the front end's clamp so far.
    pub(crate) fn vote_ahead(
        &self,
        stream: &mut Stream,
        from: usize,
        loudest: f32,
        options: &DecodeOptions,
        vote: &mut LanguageVote,
    ) -> Result<(), WhisperError> {
        let mut at = from;
        while !vote.settled() && at < from + LANGUAGE_WINDOWS * WINDOW_FRAMES {
            stream.fill_to((at + WINDOW_FRAMES) * HOP + N_FFT / 2);
            let content_frames = stream.total().map_or(usize::MAX, |n| n / HOP);
            if at >= content_frames {
                break;
            }
            let frames = WINDOW_FRAMES.min(content_frames - at);
            if VoiceActivity::measure(stream.slice(at * HOP, (at + frames) * HOP), &options.vad).is_voice(&options.vad)
            {
                let mut clamp = loudest;
                let mut features = self.front_end.window(&|i| stream.sample(i), at, WINDOW_FRAMES, &mut clamp);
                let view = StorageView::new(&[1, N_MELS, WINDOW_FRAMES], &mut features, Device::CPU)
                    .map_err(|e| WhisperError::Decode(e.to_string()))?;
                let encoded = self.model.encode(&view, false).map_err(|e| WhisperError::Decode(e.to_string()))?;
                self.vote_language(&encoded, vote)?;
            }
            at += frames;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(probabilities: &[(&str, f32)]) -> Vec<DetectionResult> {
        probabilities.iter().map(|(l, p)| DetectionResult { language: format!("<|{l}|>"), probability: *p }).collect()
    }

    #[test]
    fn a_sure_window_decides_and_an_unsure_one_waits_for_more_speech() {
        let mut vote = LanguageVote::default();
        vote.add(&[window(&[("es", 0.81), ("pt", 0.1)])]);
        assert!(vote.settled());
        assert_eq!(vote.leader(), Some(("es".into(), 0.81f32 as f64)));

        // Portuguese under a robotic voice: Hungarian leads the first window, unsure.
        let mut vote = LanguageVote::default();
        vote.add(&[window(&[("hu", 0.34), ("pt", 0.30), ("es", 0.2)])]);
        assert!(!vote.settled());
        // Two more windows where Portuguese is clear: it leads the sum.
        vote.add(&[window(&[("pt", 0.7), ("es", 0.2)]), window(&[("pt", 0.6), ("hu", 0.1)])]);
        let (code, p) = vote.leader().unwrap();
        assert_eq!(code, "pt");
        assert!((p - 1.6 / 3.0).abs() < 1e-6, "{p}");
        assert!(vote.settled());
    }

    #[test]
    fn the_vote_ends_after_enough_windows_sure_or_not() {
        let mut vote = LanguageVote::default();
        for _ in 0..LANGUAGE_WINDOWS - 1 {
            vote.add(&[window(&[("nl", 0.3), ("en", 0.29)])]);
            assert!(!vote.settled());
        }
        vote.add(&[window(&[("nl", 0.3), ("en", 0.29)])]);
        assert!(vote.settled());
        assert_eq!(vote.leader().unwrap().0, "nl");
        assert_eq!(vote.windows(), LANGUAGE_WINDOWS);
        assert!(LanguageVote::default().leader().is_none());
    }
}
