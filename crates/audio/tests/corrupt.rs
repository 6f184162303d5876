//! Bad input is classified, never a panic and never "ok".

mod common;

use common::*;
use redscribe_audio::{decode_mono_16k, probe, Source};
use redscribe_core::ErrorCode;

fn code_of(bytes: Vec<u8>) -> ErrorCode {
    match probe(Source::from_bytes(bytes)) {
        Ok(meta) => panic!("accepted as audio: {meta:?}"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e.code()
        }
    }
}

fn valid_wav(seconds: f64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = tone(dir.path(), "t.wav", &["-r", "16000", "-c", "1", "-b", "16", "-t", "wav"], seconds, 440);
    std::fs::read(path).unwrap()
}

fn set_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn hand_built_bad_inputs_get_their_codes() {
    let wav = valid_wav(2.0);
    let short = valid_wav(0.5);
    // sox writes the canonical 44-byte header; the data chunk size is at byte 40.
    assert_eq!(&wav[36..40], b"data");

    let mut lying = wav.clone();
    set_u32(&mut lying, 4, 36 + 64_000 * 10);
    set_u32(&mut lying, 40, 64_000 * 10);
    let mut zero_channels = wav.clone();
    zero_channels[22..24].copy_from_slice(&0u16.to_le_bytes());
    let mut four_ghz = wav.clone();
    set_u32(&mut four_ghz, 24, 4_000_000_000);
    let mut one_hz = wav.clone();
    set_u32(&mut one_hz, 24, 1);

    // A signature followed by garbage reads as a header block of absurd length: either the block runs past the
    // end of the file (truncated) or its fields make no sense (invalid header).
    const GARBAGE_HEADER: &[ErrorCode] = &[ErrorCode::InvalidHeader, ErrorCode::Truncated];
    let cases: Vec<(&str, Vec<u8>, &[ErrorCode])> = vec![
        ("zero bytes", vec![], &[ErrorCode::EmptyObject]),
        ("random bytes", noise_bytes(64 * 1024, 7), &[ErrorCode::NotAudio]),
        ("text named .wav", b"Minutes of the meeting\n- budget approved\n".to_vec(), &[ErrorCode::NotAudio]),
        (
            "PDF named .mp3",
            b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec(),
            &[ErrorCode::NotAudio],
        ),
        ("header only", wav_header(1, 16000, 16, 32_000), &[ErrorCode::Truncated]),
        ("header cut short", wav[..20].to_vec(), &[ErrorCode::Truncated]),
        ("truncated data", wav[..wav.len() / 2].to_vec(), &[ErrorCode::Truncated]),
        // PCM frames are exact: even a short recording cut to an eighth is truncated (a slack meant for MP3/AAC
        // padding once hid this).
        ("short recording cut", short[..short.len() / 8].to_vec(), &[ErrorCode::Truncated]),
        ("header claims 10x the data", lying, &[ErrorCode::Truncated]),
        ("0 channels", zero_channels, &[ErrorCode::InvalidHeader]),
        ("4 GHz sample rate", four_ghz, &[ErrorCode::InvalidHeader]),
        ("1 Hz sample rate", one_hz, &[ErrorCode::InvalidHeader]),
        (
            "RIFF but not WAVE",
            [b"RIFF\x10\x00\x00\x00AVI ".as_slice(), &noise_bytes(64, 1)].concat(),
            &[ErrorCode::NotAudio],
        ),
        ("FLAC magic then garbage", [b"fLaC".as_slice(), &noise_bytes(4096, 3)].concat(), GARBAGE_HEADER),
        ("Ogg magic then garbage", [b"OggS".as_slice(), &noise_bytes(4096, 4)].concat(), GARBAGE_HEADER),
    ];
    for (name, bytes, want) in cases {
        let got = code_of(bytes);
        assert!(want.contains(&got), "{name}: got {got}, want one of {want:?}");
    }
}

#[test]
fn truncated_compressed_files_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone(dir.path(), "t.wav", &["-r", "44100", "-c", "1", "-t", "wav"], 4.0, 440);
    let flac = tone(dir.path(), "t.flac", &["-r", "16000", "-c", "1", "-t", "flac"], 4.0, 440);
    // An MP3 knows its length only from a Xing/Info header, which LAME writes through ffmpeg (sox's
    // files have none, and a cut one is indistinguishable from a shorter recording).
    let mp3 = ffmpeg(dir.path(), &wav, "t.mp3", "libmp3lame");
    let aac = m4a(dir.path(), &wav, "t.m4a");
    for (name, path) in [("flac", flac), ("mp3", mp3), ("m4a", aac)] {
        let bytes = std::fs::read(&path).unwrap();
        let cut = bytes[..bytes.len() / 3].to_vec();
        assert_eq!(code_of(cut), ErrorCode::Truncated, "{name}");
    }
}

#[test]
fn mp3_sync_followed_by_garbage_is_not_audio() {
    // A frame sync at offset 0 names the container mp3, but nothing after it decodes.
    let mut bytes = vec![0xFF, 0xFB, 0x90, 0x64];
    bytes.extend(noise_bytes(8192, 11).into_iter().map(|b| b & 0x7F));
    let code = code_of(bytes);
    assert!(matches!(code, ErrorCode::CorruptAudio | ErrorCode::Truncated | ErrorCode::InvalidHeader), "{code}");
}

/// Every prefix cut and many byte corruptions of every kind of file: the answer is always Ok or a classified
/// error, never a panic or a hang.
#[test]
fn mutations_of_valid_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        tone(dir.path(), "m.wav", &["-r", "8000", "-c", "2", "-b", "16", "-t", "wav"], 0.5, 440),
        tone(dir.path(), "m.flac", &["-r", "8000", "-c", "1", "-t", "flac"], 0.5, 440),
        tone(dir.path(), "m.ogg", &["-r", "8000", "-c", "1", "-t", "vorbis"], 0.5, 440),
        tone(dir.path(), "m.mp3", &["-r", "8000", "-c", "1", "-t", "mp3"], 0.5, 440),
        tone(dir.path(), "m.aiff", &["-r", "8000", "-c", "1", "-t", "aiff"], 0.5, 440),
    ];
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let noise = noise_bytes(4096, bytes.len() as u64);
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for i in 1..24 {
            variants.push(bytes[..bytes.len() * i / 24].to_vec());
        }
        for i in 0..48 {
            let mut v = bytes.clone();
            let at = (noise[i * 2] as usize * 257 + noise[i * 2 + 1] as usize) % v.len();
            for (k, b) in v[at..].iter_mut().take(1 + i % 16).enumerate() {
                *b ^= noise[(i * 31 + k) % noise.len()] | 1;
            }
            variants.push(v);
        }
        for v in variants {
            let outcome = match probe(Source::from_bytes(v.clone())) {
                Ok(_) => "ok".to_string(),
                Err(e) => e.code().to_string(),
            };
            // Decoding must agree that the file is usable or classify it; it must not panic either.
            let _ = decode_mono_16k(Source::from_bytes(v), Default::default(), |_| {});
            *outcomes.entry(outcome).or_default() += 1;
        }
    }
    assert!(outcomes.contains_key("truncated"), "{outcomes:?}");
    assert!(outcomes.values().sum::<usize>() == files.len() * (23 + 48));
}
