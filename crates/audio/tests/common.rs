//! Helpers shared by the audio tests: generating real recordings with sox, ffmpeg and espeak-ng (installed by
//! `scripts/setup.sh`), and hand-building corrupt ones.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs an external tool and panics with a helpful message if it is missing or fails.
pub fn run(tool: &str, args: &[&str]) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}); install the test tools with scripts/setup.sh"));
    assert!(out.status.success(), "{tool} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A sox-generated file in `dir`. `format` are sox output options placed before the file name, `effects` after.
pub fn sox(dir: &Path, name: &str, format: &[&str], effects: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut args: Vec<&str> = vec!["-n"];
    args.extend_from_slice(format);
    let p = path.to_str().unwrap().to_owned();
    args.push(&p);
    args.extend_from_slice(effects);
    run("sox", &args);
    path
}

/// A sine tone of `seconds` at `freq` Hz, with the given sox format options.
pub fn tone(dir: &Path, name: &str, format: &[&str], seconds: f64, freq: u32) -> PathBuf {
    let secs = seconds.to_string();
    let f = freq.to_string();
    sox(dir, name, format, &["synth", &secs, "sine", &f, "vol", "0.5"])
}

/// Speech from espeak-ng, as a 22.05 kHz WAV.
pub fn speech(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    run("espeak-ng", &["-w", path.to_str().unwrap(), text]);
    path
}

/// `input` re-encoded by ffmpeg with `codec` at 64 kb/s into `dir/name` (the container follows the name).
pub fn ffmpeg(dir: &Path, input: &Path, name: &str, codec: &str) -> PathBuf {
    let path = dir.join(name);
    let (i, o) = (input.to_str().unwrap(), path.to_str().unwrap());
    run("ffmpeg", &["-loglevel", "error", "-y", "-i", i, "-c:a", codec, "-b:a", "64k", o]);
    path
}

/// An AAC-in-MP4 file made by ffmpeg from `input`.
pub fn m4a(dir: &Path, input: &Path, name: &str) -> PathBuf {
    ffmpeg(dir, input, name, "aac")
}

/// A canonical 44-byte WAV header.
pub fn wav_header(channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits / 8);
    let byte_rate = rate.wrapping_mul(u32::from(block_align));
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&36u32.wrapping_add(data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&byte_rate.to_le_bytes());
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// Deterministic pseudo-random bytes.
pub fn noise_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
