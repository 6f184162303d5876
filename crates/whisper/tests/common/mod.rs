//! What the Whisper tests share: speech made by espeak-ng (Debian, scripts/setup.sh) as 16 kHz mono samples.

use std::path::Path;
use std::process::Command;

/// 16 kHz mono samples of `text` spoken by espeak-ng's `voice` (its default voice when `None`), the files under
/// `dir` named after `name`.
pub fn speak(dir: &Path, name: &str, voice: Option<&str>, text: &str) -> Vec<f32> {
    let raw = dir.join(format!("{name}.espeak.wav"));
    let out = dir.join(format!("{name}.f32"));
    let mut espeak = Command::new("espeak-ng");
    if let Some(voice) = voice {
        espeak.args(["-v", voice]);
    }
    let ok = espeak.arg("-w").arg(&raw).arg(text).status().expect("espeak-ng (scripts/setup.sh)");
    assert!(ok.success());
    let ok = Command::new("sox")
        .arg(&raw)
        .args(["-r", "16000", "-c", "1", "-e", "floating-point", "-b", "32", "-t", "raw"])
        .arg(&out)
        .status()
        .expect("sox (scripts/setup.sh)");
    assert!(ok.success());
    std::fs::read(&out).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}
