//! Every supported container and codec, generated at test time by real encoders, probes to the right metadata
//! whatever the file is called.

mod common;

use common::*;
use redscribe_audio::{probe, Source};

struct Case {
    /// File name: the extension is deliberately wrong for some, to prove sniffing ignores it.
    name: &'static str,
    format: &'static [&'static str],
    container: &'static str,
    codec: &'static str,
    rate: u32,
    channels: u16,
    /// Exact bit rate for PCM.
    bit_rate: Option<u64>,
}

const SECONDS: f64 = 2.0;

const CASES: &[Case] = &[
    Case {
        name: "s16.wav",
        format: &["-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-t", "wav"],
        container: "wav",
        codec: "pcm_s16le",
        rate: 16000,
        channels: 1,
        bit_rate: Some(256_000),
    },
    Case {
        name: "u8.wav",
        format: &["-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned", "-t", "wav"],
        container: "wav",
        codec: "pcm_u8",
        rate: 8000,
        channels: 1,
        bit_rate: Some(64_000),
    },
    Case {
        name: "s24.wav",
        format: &["-r", "48000", "-c", "2", "-b", "24", "-e", "signed", "-t", "wav"],
        container: "wav",
        codec: "pcm_s24le",
        rate: 48000,
        channels: 2,
        bit_rate: Some(2_304_000),
    },
    Case {
        name: "s32.wav",
        format: &["-r", "44100", "-c", "1", "-b", "32", "-e", "signed", "-t", "wav"],
        container: "wav",
        codec: "pcm_s32le",
        rate: 44100,
        channels: 1,
        bit_rate: Some(1_411_200),
    },
    Case {
        name: "f32.wav",
        format: &["-r", "22050", "-c", "1", "-b", "32", "-e", "floating-point", "-t", "wav"],
        container: "wav",
        codec: "pcm_f32le",
        rate: 22050,
        channels: 1,
        bit_rate: Some(705_600),
    },
    Case {
        name: "ulaw.mp3",
        format: &["-r", "8000", "-c", "1", "-e", "u-law", "-t", "wav"],
        container: "wav",
        codec: "pcm_mulaw",
        rate: 8000,
        channels: 1,
        bit_rate: Some(64_000),
    },
    Case {
        name: "alaw.wav",
        format: &["-r", "8000", "-c", "1", "-e", "a-law", "-t", "wav"],
        container: "wav",
        codec: "pcm_alaw",
        rate: 8000,
        channels: 1,
        bit_rate: Some(64_000),
    },
    Case {
        name: "lossless.wav",
        format: &["-r", "44100", "-c", "2", "-b", "16", "-t", "flac"],
        container: "flac",
        codec: "flac",
        rate: 44100,
        channels: 2,
        bit_rate: None,
    },
    Case {
        name: "vorbis.ogg",
        format: &["-r", "44100", "-c", "2", "-t", "vorbis"],
        container: "ogg",
        codec: "vorbis",
        rate: 44100,
        channels: 2,
        bit_rate: None,
    },
    Case {
        name: "apple.aiff",
        format: &["-r", "22050", "-c", "1", "-b", "16", "-t", "aiff"],
        container: "aiff",
        codec: "pcm_s16be",
        rate: 22050,
        channels: 1,
        bit_rate: Some(352_800),
    },
    Case {
        name: "lame.flac",
        format: &["-r", "44100", "-c", "1", "-t", "mp3"],
        container: "mp3",
        codec: "mp3",
        rate: 44100,
        channels: 1,
        bit_rate: None,
    },
    Case {
        name: "voip.mp3",
        format: &["-r", "16000", "-c", "1", "-t", "mp3"],
        container: "mp3",
        codec: "mp3",
        rate: 16000,
        channels: 1,
        bit_rate: None,
    },
];

#[test]
fn every_format_probes_to_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    for case in CASES {
        let path = tone(dir.path(), case.name, case.format, SECONDS, 440);
        let size = std::fs::metadata(&path).unwrap().len();
        let meta = probe(Source::open(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(meta.container, case.container, "{}", case.name);
        assert_eq!(meta.codec, case.codec, "{}", case.name);
        assert_eq!(meta.sample_rate, case.rate, "{}", case.name);
        assert_eq!(meta.channels, case.channels, "{}", case.name);
        assert_eq!(meta.size_bytes, size, "{}", case.name);
        // Lossy encoders pad to whole frames; PCM and FLAC are exact.
        let tolerance = if case.bit_rate.is_some() || case.codec == "flac" { 0.001 } else { 0.1 };
        assert!((meta.duration_s - SECONDS).abs() <= tolerance, "{}: duration {}", case.name, meta.duration_s);
        match case.bit_rate {
            Some(exact) => assert_eq!(meta.bit_rate, Some(exact), "{}", case.name),
            None => {
                let avg = meta.bit_rate.unwrap();
                let from_size = (size as f64 * 8.0 / meta.duration_s) as u64;
                assert!(avg.abs_diff(from_size) <= from_size / 500, "{}: bit rate {avg} vs {from_size}", case.name);
                assert!(avg > 8_000 && avg < 1_500_000, "{}: bit rate {avg}", case.name);
            }
        }
    }
}

#[test]
fn aac_in_mp4_probes() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone(dir.path(), "src.wav", &["-r", "44100", "-c", "2", "-t", "wav"], 3.0, 330);
    let path = m4a(dir.path(), &wav, "meeting.m4a");
    let renamed = dir.path().join("meeting.wav");
    std::fs::rename(&path, &renamed).unwrap();
    let meta = probe(Source::open(&renamed).unwrap()).unwrap();
    assert_eq!((meta.container.as_str(), meta.codec.as_str()), ("mp4", "aac"));
    assert_eq!((meta.sample_rate, meta.channels), (44100, 2));
    assert!((meta.duration_s - 3.0).abs() < 0.1, "{}", meta.duration_s);
}

#[test]
fn silence_noise_and_speech_are_valid_audio() {
    let dir = tempfile::tempdir().unwrap();
    let silence = sox(dir.path(), "silence.wav", &["-r", "16000", "-c", "1", "-t", "wav"], &["trim", "0", "3"]);
    let noise = sox(dir.path(), "noise.flac", &["-r", "16000", "-c", "1", "-t", "flac"], &["synth", "3", "whitenoise"]);
    let voice = speech(dir.path(), "voice.wav", "Hello from the redscribe test suite.");
    for path in [silence, noise] {
        let meta = probe(Source::open(&path).unwrap()).unwrap();
        assert!((meta.duration_s - 3.0).abs() < 0.001, "{}: {}", path.display(), meta.duration_s);
    }
    let meta = probe(Source::open(&voice).unwrap()).unwrap();
    assert_eq!(meta.sample_rate, 22050);
    assert!(meta.duration_s > 1.0 && meta.duration_s < 5.0, "{}", meta.duration_s);
}

#[test]
fn bytes_and_files_give_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = tone(dir.path(), "a.flac", &["-r", "16000", "-c", "1", "-t", "flac"], 1.5, 440);
    let from_file = probe(Source::open(&path).unwrap()).unwrap();
    let from_bytes = probe(Source::from_bytes(std::fs::read(&path).unwrap())).unwrap();
    assert_eq!(from_file, from_bytes);
}
