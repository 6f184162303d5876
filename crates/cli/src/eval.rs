//! `redscribe eval <refs.tsv | dir>`: word error rate of Whisper (or of another engine's output) against reference
//! texts. `refs.tsv` holds `file<TAB>reference text` per line, files relative to its folder; a folder means its
//! `refs.tsv`. Prints one JSON line per file and a last line with the rate over the whole set.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use redscribe_whisper::eval::word_errors;
use serde_json::json;

use crate::pass::SpeechArgs;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// `refs.tsv` (`file<TAB>reference`), or a folder holding one.
    #[arg(value_name = "REFS")]
    refs: PathBuf,
    /// Score these transcripts instead of transcribing: JSON lines with `file` and `text` (what `redscribe
    /// transcribe` prints; the benchmark writes faster-whisper's the same way).
    #[arg(long, value_name = "JSONL")]
    hypotheses: Option<PathBuf>,
    #[command(flatten)]
    speech: SpeechArgs,
}

fn read_refs(path: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let tsv = if path.is_dir() { path.join("refs.tsv") } else { path.to_path_buf() };
    let base = tsv.parent().unwrap_or(Path::new("."));
    let text = std::fs::read_to_string(&tsv).with_context(|| format!("reading {}", tsv.display()))?;
    let mut refs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (file, reference) = line
            .split_once('\t')
            .with_context(|| format!("{}:{}: expected file<TAB>reference", tsv.display(), n + 1))?;
        refs.push((base.join(file), reference.to_string()));
    }
    Ok(refs)
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let refs = read_refs(&args.refs)?;
    let given: Option<HashMap<PathBuf, String>> = match &args.hypotheses {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let mut map = HashMap::new();
            for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
                let v: serde_json::Value = serde_json::from_str(line)?;
                if let (Some(f), Some(t)) = (v["file"].as_str(), v["text"].as_str()) {
                    map.insert(PathBuf::from(f), t.to_string());
                }
            }
            Some(map)
        }
    };
    let transcriber = if given.is_none() { args.speech.transcriber(None)? } else { None };
    let stdout = std::io::stdout();
    let (mut errors, mut words) = (0usize, 0usize);
    for (file, reference) in &refs {
        let hypothesis = match (&given, &transcriber) {
            (Some(map), _) => map
                .get(file)
                .or_else(|| file.canonicalize().ok().and_then(|c| map.get(&c)))
                .cloned()
                .with_context(|| format!("no transcript of {} in the hypotheses", file.display()))?,
            (None, Some(t)) => crate::transcribe::transcribe_file(t.as_ref(), file, &Default::default(), None)?.1.text,
            (None, None) => anyhow::bail!("nothing to score: transcription is off and no --hypotheses given"),
        };
        let (e, n) = word_errors(reference, &hypothesis);
        errors += e;
        words += n;
        let line = json!({
            "file": file.display().to_string(), "reference": reference, "hypothesis": hypothesis,
            "errors": e, "words": n, "wer": if n > 0 { e as f64 / n as f64 } else { 0.0 },
        });
        writeln!(stdout.lock(), "{line}")?;
    }
    let wer = if words > 0 { errors as f64 / words as f64 } else { 0.0 };
    writeln!(stdout.lock(), "{}", json!({ "files": refs.len(), "errors": errors, "words": words, "wer": wer }))?;
    Ok(())
}
