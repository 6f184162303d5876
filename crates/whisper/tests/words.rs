//! Words and their times, against known truth: sentences spoken by espeak-ng with silences of known lengths between
//! them, so that where each sentence's sound starts and stops is measured on the samples themselves. Both
//! decodings must put each sentence's first word's start and last word's end within 0.2 s of it, keep every word
//! inside its segment and in order, and give each segment exactly the words of its text.

mod common;

use redscribe_whisper::{DecodeOptions, Decoding, Engine, EngineConfig, Transcript};

const SENTENCES: &str = include_str!("../../../tests/fixtures/speech/sentences.txt");

/// Seconds of silence after each sentence: a breath, a pause, a long pause (a window of its own when batched).
const PAUSES: [f64; 3] = [0.7, 2.0, 5.0];

/// Where the samples are louder than espeak-ng's lead-in and tail: (first, last) sound, in seconds.
fn sound(samples: &[f32]) -> (f64, f64) {
    let loud = |x: &f32| x.abs() > 0.02;
    let first = samples.iter().position(loud).expect("speech");
    let last = samples.iter().rposition(loud).expect("speech");
    (first as f64 / 16_000.0, (last + 1) as f64 / 16_000.0)
}

fn words_of(t: &Transcript) -> Vec<&redscribe_whisper::Word> {
    t.segments.iter().flat_map(|s| &s.words).collect()
}

#[test]
fn each_sentence_s_first_and_last_words_are_where_its_sound_starts_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let sentences: Vec<&str> = SENTENCES.lines().filter(|l| !l.trim().is_empty()).take(6).collect();
    let (mut samples, mut truth) = (Vec::new(), Vec::new());
    for (i, s) in sentences.iter().enumerate() {
        let spoken = common::speak(dir.path(), &format!("s{i}"), None, s);
        let at = samples.len() as f64 / 16_000.0;
        let (first, last) = sound(&spoken);
        truth.push((at + first, at + last));
        samples.extend(spoken);
        samples.extend(vec![0.0; (PAUSES[i % PAUSES.len()] * 16_000.0) as usize]);
    }
    let engine = Engine::load(&EngineConfig::new(redscribe_whisper::model::default_model_dir())).unwrap();
    for decoding in [Decoding::Sequential, Decoding::Batched] {
        let t = engine.transcribe(&samples, &DecodeOptions { decoding, ..DecodeOptions::default() }).unwrap();
        let words = words_of(&t);
        assert!(words.len() >= 60, "{decoding:?}: {} words in {:?}", words.len(), t.text);
        for s in &t.segments {
            // A segment runs from its first word to its last, and its text is its words.
            let (first, last) = (s.words.first().unwrap(), s.words.last().unwrap());
            assert!((s.start - first.start).abs() < 1e-6 && (s.end - last.end).abs() < 1e-6, "{decoding:?}: {s:?}");
            // Each word keeps the space before it as the model wrote it ("%" follows "12" without one).
            let said: String = s.words.iter().map(|w| w.text.as_str()).collect();
            assert_eq!(said.trim(), s.text, "{decoding:?}");
        }
        for pair in words.windows(2) {
            assert!(pair[0].start <= pair[1].start + 1e-6, "{decoding:?}: out of order: {pair:?}");
        }
        for w in &words {
            assert!(w.start <= w.end && w.probability > 0.0 && w.probability <= 1.0, "{decoding:?}: {w:?}");
        }
        for (i, &(start, end)) in truth.iter().enumerate() {
            let said: Vec<_> = words
                .iter()
                .filter(|w| (w.start + w.end) / 2.0 > start - 0.3 && (w.start + w.end) / 2.0 < end + 0.3)
                .collect();
            let (first, last) = (said.first().unwrap(), said.last().unwrap());
            let how = format!("{decoding:?}, sentence {i} sounds {start:.2}–{end:.2} s: {said:?}");
            assert!((first.start - start).abs() <= 0.2, "first word: {how}");
            assert!((last.end - end).abs() <= 0.2, "last word: {how}");
        }
    }
}
