//! Memory does not grow with a recording's length: `redscribe transcribe` on a 10-minute recording peaks within a
//! few MB of the same on a 1-minute one. Measured (peak RSS of the process, from the kernel), not timed.
//!
//! The recordings are FLAC, so the file held in memory stays small (as an MP3 or M4A from S3 would) and what is
//! measured is decoding and transcribing. Holding the decoded samples and the spectrogram of the whole recording,
//! as the engine once did, costs 5.8 MB per minute: 52 MB more for the 10-minute one.
//! This test binary starts no other process than these, so the peaks are theirs.

use std::path::{Path, PathBuf};
use std::process::Command;

const SENTENCE: &str = "The quarterly report is due on Friday afternoon.";

fn run(program: &str, args: &[&std::ffi::OsStr]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `minutes` minutes, each the sentence and then silence, as 16 kHz mono FLAC.
fn recording(dir: &Path, minutes: usize) -> PathBuf {
    let speech = dir.join("speech.wav");
    if !speech.exists() {
        run("espeak-ng", &["-w".as_ref(), speech.as_os_str(), SENTENCE.as_ref()]);
    }
    let minute = dir.join("minute.wav");
    if !minute.exists() {
        // The sentence, padded with silence to exactly 60 s.
        run(
            "sox",
            &[
                speech.as_os_str(),
                "-r".as_ref(),
                "16000".as_ref(),
                minute.as_os_str(),
                "pad".as_ref(),
                "0".as_ref(),
                "60".as_ref(),
                "trim".as_ref(),
                "0".as_ref(),
                "60".as_ref(),
            ],
        );
    }
    let out = dir.join(format!("{minutes}min.flac"));
    let mut args: Vec<&std::ffi::OsStr> = vec![minute.as_os_str(); minutes];
    args.push(out.as_os_str());
    run("sox", &args);
    out
}

/// Runs `redscribe transcribe` on one file; returns its JSON line and its peak RSS in MB.
fn transcribe(file: &Path) -> (serde_json::Value, f64) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import resource, subprocess, sys\n\
             r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)\n\
             sys.stdout.buffer.write(r.stdout)\n\
             print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n\
             sys.exit(r.returncode)",
            env!("CARGO_BIN_EXE_redscribe"),
            "transcribe",
            "--beam-size",
            "1",
        ])
        .arg(file)
        .output()
        .expect("python3 (scripts/setup.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "redscribe transcribe: {stderr}");
    let peak_kb: f64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).expect("peak RSS");
    (serde_json::from_slice(&out.stdout).unwrap(), peak_kb / 1024.0)
}

#[test]
fn a_ten_minute_recording_peaks_where_a_one_minute_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let (short, long) = (recording(dir.path(), 1), recording(dir.path(), 10));
    let (one, one_mb) = transcribe(&short);
    let (ten, ten_mb) = transcribe(&long);
    eprintln!("peak RSS: 1 minute {one_mb:.1} MB, 10 minutes {ten_mb:.1} MB");

    // Everything was heard: the sentence once a minute, at its minute.
    assert!((ten["duration_s"].as_f64().unwrap() - 600.0).abs() < 0.1, "{ten}");
    let text = ten["text"].as_str().unwrap().to_lowercase();
    assert!(text.matches("quarterly report").count() >= 9, "{text}");
    assert!(one["text"].as_str().unwrap().to_lowercase().contains("quarterly report"), "{one}");
    let starts: Vec<f64> = ten["segments"].as_array().unwrap().iter().map(|s| s["start"].as_f64().unwrap()).collect();
    assert!(starts.iter().any(|&s| s >= 539.9), "{starts:?}");

    assert!(ten_mb - one_mb < 20.0, "peak RSS grew from {one_mb:.1} MB to {ten_mb:.1} MB with the recording's length");
}
