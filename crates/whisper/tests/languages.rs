//! The multilingual model (Whisper base, `scripts/setup.sh --models base`): the language is detected on the first
//! window with speech, not on the silence before it, and the recording is transcribed in it; a hint skips
//! detection; a hint the model does not speak is an error; an English-only model says `en` without detecting.

mod common;

use std::path::Path;

use redscribe_whisper::model::named_model_dir;
use redscribe_whisper::{DecodeOptions, Decoding, Engine, EngineConfig};

/// 16 kHz mono samples of `text` spoken by espeak-ng's `voice`, after `silence_s` of silence.
fn speak(dir: &Path, voice: &str, text: &str, silence_s: f32) -> Vec<f32> {
    let mut samples = vec![0.0f32; (silence_s * 16_000.0) as usize];
    samples.extend(common::speak(dir, voice, Some(voice), text));
    samples
}

fn base() -> Engine {
    let config = EngineConfig { threads: 2, ..EngineConfig::new(named_model_dir("base")) };
    Engine::load(&config).expect("Whisper base (scripts/setup.sh --models base)")
}

#[test]
fn the_language_is_detected_on_speech_and_transcribed_in() {
    let engine = base();
    let dir = tempfile::tempdir().unwrap();
    let options = DecodeOptions { beam_size: 1, ..DecodeOptions::default() };
    // Three seconds of silence first: detection must wait for the speech. Both ways of decoding.
    for decoding in [Decoding::Sequential, Decoding::Batched] {
        let options = DecodeOptions { decoding, ..options.clone() };
        for (voice, text, word) in [
            ("es", "Buenos días, quisiera hablar sobre la factura del mes pasado.", "factura"),
            ("de", "Guten Morgen, ich möchte über die Rechnung vom letzten Monat sprechen.", "Morgen"),
        ] {
            let heard = engine.transcribe(&speak(dir.path(), voice, text, 3.0), &options).unwrap();
            assert_eq!(heard.language, voice, "{decoding:?}: {heard:?}");
            let p = heard.language_probability.expect("detected");
            assert!(p > 0.5 && p <= 1.0, "{voice}: {p}");
            assert!(heard.text.contains(word), "{decoding:?} {voice}: {}", heard.text);
            // Batched decoding leaves the silence out: the speech's segment starts where it does.
            if decoding == Decoding::Batched {
                assert!(heard.segments.iter().all(|s| s.start >= 2.8), "{:?}", heard.segments);
            }
        }
    }

    // A hint: no detection, the hint's language.
    let spanish = speak(dir.path(), "es", "Buenos días, quisiera hablar sobre la factura del mes pasado.", 0.5);
    let hinted = DecodeOptions { language: Some("es".into()), ..options.clone() };
    let heard = engine.transcribe(&spanish, &hinted).unwrap();
    assert_eq!((heard.language.as_str(), heard.language_probability), ("es", None));
    assert!(heard.text.contains("factura"), "{}", heard.text);
    // One the model does not speak.
    let unknown = DecodeOptions { language: Some("xx".into()), ..options };
    let error = engine.transcribe(&spanish, &unknown).unwrap_err().to_string();
    assert!(error.contains("xx"), "{error}");
    assert!(engine.speaks("pt") && engine.speaks("ES") && !engine.speaks("xx"));
}

#[test]
fn an_english_only_model_says_english_without_detecting() {
    let engine = Engine::load(&EngineConfig::new(redscribe_whisper::model::default_model_dir()))
        .expect("tiny.en (scripts/setup.sh)");
    let dir = tempfile::tempdir().unwrap();
    let spanish = speak(dir.path(), "es", "Buenos días, quisiera hablar sobre la factura.", 0.5);
    let heard = engine.transcribe(&spanish, &DecodeOptions { beam_size: 1, ..DecodeOptions::default() }).unwrap();
    assert_eq!((heard.language.as_str(), heard.language_probability), ("en", None));
    assert!(engine.speaks("en") && !engine.speaks("es"));
}
