//! `redscribe eval`: word error rate over a folder with `refs.tsv`, of Whisper itself (speech from espeak-ng) and
//! of transcripts given as JSON lines.

use std::process::Command;

fn eval(args: &[&std::ffi::OsStr]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_redscribe")).arg("eval").args(args).output().unwrap();
    assert!(out.status.success(), "redscribe eval: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn word_error_rate_of_whisper_and_of_given_transcripts() {
    let dir = tempfile::tempdir().unwrap();
    let sentences = [
        ("a.wav", "Please send the signed contract to the legal team by Thursday."),
        ("b.wav", "The train to the airport leaves every twenty minutes."),
    ];
    let mut refs = String::from("# file\treference\n");
    for (file, text) in sentences {
        let status = Command::new("espeak-ng").arg("-w").arg(dir.path().join(file)).arg(text).status().unwrap();
        assert!(status.success());
        refs.push_str(&format!("{file}\t{text}\n"));
    }
    std::fs::write(dir.path().join("refs.tsv"), refs).unwrap();

    let lines = eval(&[dir.path().as_os_str()]);
    assert_eq!(lines.len(), 3);
    let summary = &lines[2];
    assert_eq!(summary["files"], 2);
    assert_eq!(summary["words"], 20);
    assert!(summary["wer"].as_f64().unwrap() < 0.2, "{lines:?}");

    // Another engine's output: one substitution and one deletion in 20 words.
    let hyps = dir.path().join("other.jsonl");
    let a = dir.path().join("a.wav");
    let b = dir.path().join("b.wav");
    std::fs::write(
        &hyps,
        format!(
            "{}\n{}\n",
            serde_json::json!({"file": a, "text": "please send the signed contract to the legal team by tuesday"}),
            serde_json::json!({"file": b, "text": "The train to the airport leaves every 20 minutes"}),
        )
        .replace("every 20 minutes", "20 minutes"),
    )
    .unwrap();
    let lines = eval(&[dir.path().join("refs.tsv").as_os_str(), "--hypotheses".as_ref(), hyps.as_os_str()]);
    assert_eq!(lines[0]["errors"], 1);
    assert_eq!(lines[1]["errors"], 1);
    assert!((lines[2]["wer"].as_f64().unwrap() - 0.1).abs() < 1e-9, "{lines:?}");
}
