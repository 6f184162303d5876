//! Models by name: `--model` (env `REDSCRIBE_MODEL`) picks one of the models the setup step fetched, the row says
//! which was used, and a name no package ships is refused before anything runs; the multilingual model detects the
//! language unless `--language` gives it.

use std::process::Command;

use serde_json::json;

fn transcribe(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .arg("transcribe")
        .args(args)
        .env_remove("REDSCRIBE_MODEL")
        .env_remove("REDSCRIBE_MODEL_DIR")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn row(output: &std::process::Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(String::from_utf8_lossy(&output.stdout).lines().last().unwrap()).unwrap()
}

#[test]
fn a_model_by_name_is_the_one_used_and_an_unknown_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("es.wav");
    let spoken = "Buenos días, quisiera hablar sobre la factura del mes pasado.";
    let made = Command::new("espeak-ng").args(["-v", "es", "-w"]).arg(&wav).arg(spoken).status().unwrap();
    assert!(made.success());
    let wav = wav.to_str().unwrap();

    // The default, tiny.en; base by flag and by environment (scripts/setup.sh --models base, run by the tests).
    assert_eq!(row(&transcribe(&[wav], &[]))["model"], "whisper-tiny.en");
    let base = row(&transcribe(&["--model", "base", wav], &[]));
    assert_eq!(base["model"], "whisper-base");
    assert!(base["text"].as_str().unwrap().contains("factura"), "{base}");
    // Detected, with how sure; or given, and then not detected.
    assert_eq!(base["language"], "es", "{base}");
    assert!(base["language_probability"].as_f64().is_some_and(|p| p > 0.5), "{base}");
    let hinted = row(&transcribe(&["--model", "base", "--language", "es", wav], &[]));
    assert_eq!((&hinted["language"], &hinted["language_probability"]), (&json!("es"), &json!(null)));
    assert_eq!(row(&transcribe(&[wav], &[("REDSCRIBE_MODEL", "base")]))["model"], "whisper-base");

    // A name no package ships: refused, naming the ones there are.
    for refused in [transcribe(&["--model", "small", wav], &[]), transcribe(&[wav], &[("REDSCRIBE_MODEL", "large")])] {
        assert!(!refused.status.success());
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains("tiny.en") && said.contains("base"), "{said}");
        assert!(refused.stdout.is_empty());
    }
}
