//! Words and their times from the model's own attention, as the reference implementations find them: CTranslate2's
//! `align` runs the decoder once over a window's text and follows the cross-attention of the model's alignment heads
//! (listed in its `config.json`) through dynamic time warping, giving each token the 20 ms encoder frame where it
//! begins. Tokens are grouped into words (a token that starts with a space, or is punctuation, begins one; scripts
//! written without spaces split at each character), punctuation is attached to its word, and a word at a sentence's
//! edge that the warping stretched over a pause is clamped.
//!
//! Batched decoding writes no timestamp tokens (as faster-whisper's batched pipeline does: they are a tenth of the
//! tokens and the decoder's time); its segments are placed by their words instead.

use ct2rs::sys::StorageView;

use crate::model::Engine;
use crate::transcribe::Segment;
use crate::vad::STEP_SECONDS;
use crate::WhisperError;

/// Encoder frames per second: the encoder halves the spectrogram's 100 frames a second.
const FRAMES_PER_SECOND: f64 = 50.0;

/// The median filter the reference implementations smooth the attention with.
const MEDIAN_FILTER_WIDTH: i64 = 7;

/// Languages written without spaces between words: a word is a character.
const UNSPACED: [&str; 6] = ["zh", "ja", "th", "lo", "my", "yue"];

/// Punctuation that belongs to the word after it, and to the word before it.
const PREPENDED: &str = "\"'“¿([{-";
const APPENDED: &str = "\"'.。,，!！?？:：”)]}、";

/// How far past its sound a word may reach (s): releases and breaths are quiet.
const SOUND_MARGIN_S: f64 = 0.04;

/// Marks that end a sentence.
pub(crate) const SENTENCE_END: &str = ".。!！?？";

/// A word: its text (with the space before it, as the model wrote it), its times in seconds (of the window while
/// it is aligned, of the recording in a [`crate::Segment`]), and the model's mean probability over its tokens.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Word {
    pub text: String,
    pub start: f64,
    pub end: f64,
    pub probability: f32,
}

/// A sequential window as its words are timed: the spectrogram frames with audio in them, which 10 ms steps of it
/// hold sound ([`crate::vad::sound_steps`]), and where it starts in the recording (s).
pub(crate) struct HeardWindow<'a> {
    pub frames: usize,
    pub sound: &'a [bool],
    pub offset_s: f64,
}

/// One window to align: its text tokens (no special tokens), and the spectrogram frames with audio in them.
pub(crate) struct ToAlign<'a> {
    pub tokens: &'a [usize],
    pub frames: usize,
}

impl Engine {
    /// The words of each window of a batch: `encoded` is the batch's encoder output, `start` the start of transcript
    /// (`<|startoftranscript|>`, and on a multilingual model the language and task) every window was decoded with.
    pub(crate) fn words(
        &self,
        encoded: &StorageView<'_>,
        start: &[&str],
        windows: &[ToAlign<'_>],
        language: &str,
    ) -> Result<Vec<Vec<Word>>, WhisperError> {
        let start: Vec<usize> = start
            .iter()
            .map(|t| self.token_id(t).ok_or_else(|| WhisperError::Decode(format!("no token {t}"))))
            .collect::<Result<_, _>>()?;
        // CTranslate2 aligns every window of the encoder output; one without text is given a token to align,
        // and has no words.
        let text: Vec<Vec<usize>> = windows
            .iter()
            .map(|w| w.tokens.iter().copied().filter(|&t| t < self.vocabulary.eot).collect::<Vec<_>>())
            .collect();
        let asked: Vec<Vec<usize>> = text.iter().map(|t| if t.is_empty() { vec![0] } else { t.clone() }).collect();
        let frames: Vec<usize> = windows.iter().map(|w| w.frames).collect();
        let aligned = self
            .model
            .align(encoded, &start, &asked, &frames, MEDIAN_FILTER_WIDTH)
            .map_err(|e| WhisperError::Decode(format!("align: {e}")))?;
        let mut words = Vec::with_capacity(windows.len());
        for (tokens, result) in text.iter().zip(aligned) {
            // Where the warping path first reaches each token (the end of text too): the token's start.
            let mut begins = Vec::with_capacity(tokens.len() + 1);
            for step in &result.alignments {
                if begins.len() as i64 == step.token_x {
                    begins.push(step.frame_x as f64 / FRAMES_PER_SECOND);
                }
            }
            let timed = if tokens.is_empty() {
                Vec::new()
            } else {
                self.timed_words(tokens, &begins, &result.text_token_probs, language)
            };
            words.push(timed);
        }
        Ok(words)
    }

    /// Sequential decoding's words: the text of a window's kept segments (each with its tokens) aligned at once,
    /// timestamps left out, each word given to the segment its first letter is in and moved to the recording's
    /// time (`offset_s`: where the window starts); a segment then runs from its first word's start to its last
    /// word's end, as the reference implementations place segments when they time words.
    pub(crate) fn time_segments(
        &self,
        encoded: &StorageView<'_>,
        start: &[&str],
        segments: &mut [(Segment, &[usize])],
        window: HeardWindow<'_>,
        language: &str,
    ) -> Result<(), WhisperError> {
        let HeardWindow { frames, sound, offset_s } = window;
        if segments.is_empty() {
            return Ok(());
        }
        let text: Vec<usize> = segments.iter().flat_map(|(_, t)| t.iter().copied()).collect();
        let Some(mut words) = self.words(encoded, start, &[ToAlign { tokens: &text, frames }], language)?.pop() else {
            return Ok(());
        };
        fit_to_sound(&mut words, sound);
        // Where each segment's text ends in the window's, in bytes.
        let mut ends = Vec::with_capacity(segments.len());
        let mut total = 0;
        for (_, tokens) in segments.iter() {
            let tokens: Vec<usize> = tokens.iter().copied().filter(|&t| t < self.vocabulary.eot).collect();
            total += self.text(&tokens).len();
            ends.push(total);
        }
        let mut at = 0;
        for word in words {
            let first = at + (word.text.len() - word.text.trim_start().len());
            at += word.text.len();
            let k = ends.partition_point(|&end| end <= first).min(segments.len() - 1);
            segments[k].0.words.push(Word { start: word.start + offset_s, end: word.end + offset_s, ..word });
        }
        for (segment, _) in segments.iter_mut() {
            if let (Some(first), Some(last)) = (segment.words.first(), segment.words.last()) {
                (segment.start, segment.end) = (first.start, last.end.max(first.start));
            }
        }
        Ok(())
    }

    fn token_id(&self, token: &str) -> Option<usize> {
        self.tokenizer.token_to_id(token).map(|id| id as usize)
    }

    /// Words of `tokens` at the times their first tokens begin (`begins` has one more: the end of text).
    fn timed_words(&self, tokens: &[usize], begins: &[f64], probabilities: &[f32], language: &str) -> Vec<Word> {
        let groups = self.word_tokens(tokens, language);
        let mut words = Vec::with_capacity(groups.len());
        let mut first = 0;
        for (text, n) in groups {
            let (start, end) = (begins.get(first), begins.get(first + n).or(begins.last()));
            let (Some(&start), Some(&end)) = (start, end) else { break };
            let probs = &probabilities[first.min(probabilities.len())..(first + n).min(probabilities.len())];
            let probability = if probs.is_empty() { 0.0 } else { probs.iter().sum::<f32>() / probs.len() as f32 };
            words.push(Word { text, start, end: end.max(start), probability });
            first += n;
        }
        clamp_sentence_edges(&mut words);
        attach_punctuation(words)
    }

    /// `tokens` grouped into words: (text, how many tokens).
    fn word_tokens(&self, tokens: &[usize], language: &str) -> Vec<(String, usize)> {
        let pieces = self.characters(tokens);
        if UNSPACED.contains(&language) {
            return pieces;
        }
        let mut words: Vec<(String, usize)> = Vec::new();
        for (piece, n) in pieces {
            let punctuation = piece.trim().chars().all(|c| c.is_ascii_punctuation());
            match words.last_mut() {
                Some(last) if !piece.starts_with(' ') && !punctuation => {
                    last.0.push_str(&piece);
                    last.1 += n;
                }
                _ => words.push((piece, n)),
            }
        }
        words
    }

    /// `tokens` in pieces of whole characters: a character the byte-level vocabulary spreads over several tokens
    /// is one piece of them all.
    fn characters(&self, tokens: &[usize]) -> Vec<(String, usize)> {
        let mut pieces = Vec::new();
        let mut from = 0;
        for to in 1..=tokens.len() {
            let piece = self.text(&tokens[from..to]);
            if !piece.contains('\u{FFFD}') || to == tokens.len() {
                pieces.push((piece, to - from));
                from = to;
            }
        }
        pieces
    }
}

/// Words fitted to the audio they were heard in (`sound`: which 10 ms steps of it hold sound, from the time the
/// words are measured from). The warping path runs words through pauses and starts a word late when the word
/// before took its first frames: a word's end is pulled back to its last sound and its start up to its first
/// (with [`SOUND_MARGIN_S`]); then a word takes in the sound just before it (or after it) that no word covers and a
/// quiet step parts from the word beside — the first word after a pause then starts where its sound does.
pub(crate) fn fit_to_sound(words: &mut [Word], sound: &[bool]) {
    let step = |t: f64| ((t / STEP_SECONDS).max(0.0) as usize).min(sound.len());
    let time = |s: usize| s as f64 * STEP_SECONDS;
    for word in words.iter_mut() {
        let (from, to) = (step(word.start), step(word.end + STEP_SECONDS - 1e-9));
        let heard = &sound[from..to.max(from)];
        let (Some(first), Some(last)) = (heard.iter().position(|&s| s), heard.iter().rposition(|&s| s)) else {
            continue;
        };
        let start = (time(from + first) - SOUND_MARGIN_S).max(word.start);
        let end = (time(from + last + 1) + SOUND_MARGIN_S).min(word.end);
        if start < end {
            (word.start, word.end) = (start, end);
        }
    }
    for i in 0..words.len() {
        // Sound right before the word, back to a quiet step after the previous word's end.
        let floor = if i == 0 { 0.0 } else { words[i - 1].end };
        let from = step(words[i].start);
        let mut s = from;
        while s > step(floor) && s > 0 && sound[s - 1] {
            s -= 1;
        }
        if s < from && s > step(floor) {
            words[i].start = (time(s) - SOUND_MARGIN_S).max(floor);
        }
        // Sound right after it, up to a quiet step before the next word's start.
        let ceiling = words.get(i + 1).map_or(time(sound.len()), |w| w.start);
        let to = step(words[i].end);
        let mut e = to;
        while e < step(ceiling) && e < sound.len() && sound[e] {
            e += 1;
        }
        if e > to && e < step(ceiling) {
            words[i].end = (time(e) + SOUND_MARGIN_S).min(ceiling);
        }
    }
}

/// A word at a sentence's edge that lasts more than twice the median word (at most 1.4 s) took in the pause beside
/// it: the sentence's last mark ends that long after it starts, and a sentence's first word starts that long before
/// it ends.
fn clamp_sentence_edges(words: &mut [Word]) {
    let mut durations: Vec<f64> = words.iter().map(|w| w.end - w.start).filter(|&d| d > 0.0).collect();
    if durations.is_empty() {
        return;
    }
    durations.sort_by(f64::total_cmp);
    let longest = 2.0 * durations[durations.len() / 2].min(0.7);
    let ends_sentence = |w: &Word| SENTENCE_END.contains(w.text.trim()) && !w.text.trim().is_empty();
    for i in 1..words.len() {
        if words[i].end - words[i].start > longest {
            if ends_sentence(&words[i]) {
                words[i].end = words[i].start + longest;
            } else if ends_sentence(&words[i - 1]) {
                words[i].start = words[i].end - longest;
            }
        }
    }
}

/// Opening punctuation joined to the word after it, closing punctuation to the word before it (keeping that word's
/// times); words left empty dropped.
fn attach_punctuation(mut words: Vec<Word>) -> Vec<Word> {
    for i in (0..words.len().saturating_sub(1)).rev() {
        let mark = words[i].text.trim().to_string();
        if words[i].text.starts_with(' ') && !mark.is_empty() && PREPENDED.contains(mark.as_str()) {
            let text = std::mem::take(&mut words[i].text);
            words[i + 1].text.insert_str(0, &text);
        }
    }
    let mut kept: Vec<Word> = Vec::with_capacity(words.len());
    for word in words {
        match kept.last_mut() {
            Some(last)
                if !last.text.ends_with(' ') && !word.text.is_empty() && APPENDED.contains(word.text.as_str()) =>
            {
                last.text.push_str(&word.text);
            }
            _ if word.text.is_empty() => {}
            _ => kept.push(word),
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start: f64, end: f64) -> Word {
        Word { text: text.into(), start, end, probability: 0.9 }
    }

    #[test]
    fn punctuation_joins_the_word_it_belongs_to() {
        let words = vec![
            word(" Hello", 0.0, 0.4),
            word(",", 0.4, 0.5),
            word(" (", 0.5, 0.6),
            word("world", 0.6, 1.0),
            word(".", 1.0, 1.1),
        ];
        let joined = attach_punctuation(words);
        let texts: Vec<&str> = joined.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, [" Hello,", " (world."]);
        // A word keeps its own times: the marks' are dropped.
        assert_eq!((joined[0].start, joined[0].end), (0.0, 0.4));
        assert_eq!((joined[1].start, joined[1].end), (0.6, 1.0));
    }

    #[test]
    fn words_fit_their_sound_and_the_first_after_a_pause_starts_where_its_sound_does() {
        // Sound from 0.5 to 1.5 s and from 3.0 to 4.0 s (10 ms steps).
        let sound: Vec<bool> = (0..500).map(|s| (50..150).contains(&s) || (300..400).contains(&s)).collect();
        let mut words = vec![
            // Ran on into the pause after it.
            word(" One.", 0.5, 2.6),
            // Started late: the warping gave its first frames to the word before.
            word(" Two", 3.4, 3.4),
            word(" three", 3.4, 4.0),
        ];
        fit_to_sound(&mut words, &sound);
        let near = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(near(words[0].start, 0.5) && near(words[0].end, 1.54), "{:?}", words[0]);
        assert!(near(words[1].start, 2.96) && near(words[1].end, 3.4), "{:?}", words[1]);
        assert!(near(words[2].start, 3.4) && near(words[2].end, 4.0), "{:?}", words[2]);
    }

    #[test]
    fn a_sentence_s_edges_do_not_take_the_pause_beside_them() {
        let mut words = vec![
            word(" One", 0.0, 0.3),
            word(" two", 0.3, 0.6),
            word(".", 0.6, 3.0),
            word(" Three", 3.0, 6.0),
            word(" four", 6.0, 6.3),
        ];
        clamp_sentence_edges(&mut words);
        // The median word lasts 0.3 s: at most 0.6 s at an edge.
        assert!((words[2].end - 1.2).abs() < 1e-9, "{:?}", words[2]);
        assert!((words[3].start - 5.4).abs() < 1e-9, "{:?}", words[3]);
        assert_eq!((words[1].start, words[1].end), (0.3, 0.6));
    }
}
