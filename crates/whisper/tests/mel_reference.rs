//! The log-mel front end against an independent implementation: faster-whisper's `FeatureExtractor` (NumPy, from
//! PyPI; `scripts/setup.sh` installs it), on the same signal, same padding. The filters and every value of the
//! spectrogram must agree.

use std::path::Path;
use std::process::Command;

use redscribe_whisper::mel::{mel_filters, MelFrontEnd, N_MELS};

const REFERENCE: &str = r#"
import sys, numpy as np
from faster_whisper.feature_extractor import FeatureExtractor
fe = FeatureExtractor(feature_size=80)
audio = np.fromfile(sys.argv[1], dtype=np.float32)
padding = int(sys.argv[2])
fe.mel_filters.astype(np.float32).tofile(sys.argv[3])
fe(audio, padding=padding).astype(np.float32).tofile(sys.argv[4])
"#;

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

#[test]
fn log_mel_matches_faster_whisper() {
    // A chirp over a quiet noise floor, 3.3 s: every band gets energy, and the length is not a multiple of a hop.
    let mut state = 12345u32;
    let samples: Vec<f32> = (0..52_800)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = i as f32 / 16_000.0;
            0.5 * (std::f32::consts::TAU * (100.0 + 1200.0 * t) * t).sin() + 0.01 * noise
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (audio, filters_out, mel_out) =
        (dir.path().join("a.f32"), dir.path().join("filters.f32"), dir.path().join("mel.f32"));
    std::fs::write(&audio, samples.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let padding = 16_000usize;
    let out = Command::new("python3")
        .args(["-c", REFERENCE])
        .arg(&audio)
        .arg(padding.to_string())
        .arg(&filters_out)
        .arg(&mel_out)
        .output()
        .expect("python3 with faster-whisper (scripts/setup.sh installs it)");
    assert!(out.status.success(), "reference failed: {}", String::from_utf8_lossy(&out.stderr));

    let reference_filters = read_f32(&filters_out);
    let ours: Vec<f32> = mel_filters().iter().flat_map(|row| row.iter().copied()).collect();
    assert_eq!(ours.len(), reference_filters.len());
    let worst = ours.iter().zip(&reference_filters).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "filters differ by up to {worst}");

    let mel = MelFrontEnd::new().log_mel(&samples, padding);
    let reference = read_f32(&mel_out);
    assert_eq!(reference.len() % N_MELS, 0);
    let frames = reference.len() / N_MELS;
    assert_eq!(mel.frames, frames, "frame count");
    let worst = mel.data.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "log-mel values differ by up to {worst}");
}
