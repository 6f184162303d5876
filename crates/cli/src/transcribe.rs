//! `redscribe transcribe <file>...`: Whisper on each recording, in process; one JSON line per file with the text,
//! the segments, the quality signals and the timing.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use redscribe_audio::decode::{decode_mono_16k, DecodeOptions as AudioOptions};
use redscribe_audio::Source;
use redscribe_whisper::{DecodeOptions, Engine};

use crate::once::ModelArgs;
use serde_json::json;

use crate::inspect::expand;

#[derive(Debug, clap::Args)]
pub struct TranscribeArgs {
    /// Recordings, or folders to walk.
    #[arg(required = true, value_name = "FILE")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    /// Threads for the model (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(args: TranscribeArgs) -> anyhow::Result<()> {
    let (engine, options) = args.model.load(args.threads)?;
    let stdout = std::io::stdout();
    let mut failed = 0usize;
    for file in expand(&args.paths) {
        let started = Instant::now();
        let line = match transcribe_file(&engine, &options, &file) {
            Ok(t) => json!({
                "file": file.display().to_string(),
                "text": t.text,
                "language": t.language,
                "duration_s": t.duration_s,
                "segments": t.segments.iter().map(|s| json!({
                    "start": s.start, "end": s.end, "text": s.text,
                    "avg_logprob": s.avg_logprob, "no_speech_prob": s.no_speech_prob,
                })).collect::<Vec<_>>(),
                "avg_logprob": t.avg_logprob,
                "no_speech_prob": t.no_speech_prob,
                "compression_ratio": t.compression_ratio,
                "quality_flag": t.quality_flag(),
                "model": engine.name,
                "timing": {
                    "decode_s": t.decode_seconds,
                    "total_s": started.elapsed().as_secs_f64(),
                    "model_load_s": engine.load_time.as_secs_f64(),
                    "rtf": t.rtf(),
                },
            }),
            Err(e) => {
                failed += 1;
                json!({ "file": file.display().to_string(), "error": format!("{e:#}") })
            }
        };
        writeln!(stdout.lock(), "{line}")?;
    }
    anyhow::ensure!(failed == 0, "{failed} file(s) could not be transcribed");
    Ok(())
}

fn transcribe_file(
    engine: &Engine,
    options: &DecodeOptions,
    file: &std::path::Path,
) -> anyhow::Result<redscribe_whisper::Transcript> {
    engine.transcribe(&read_samples(file)?, options).context("transcribing")
}

/// A recording as 16 kHz mono samples.
fn read_samples(file: &std::path::Path) -> anyhow::Result<Vec<f32>> {
    let mut samples = Vec::new();
    decode_mono_16k(Source::open(file)?, AudioOptions::default(), |chunk| samples.extend_from_slice(chunk))?;
    Ok(samples)
}

/// The text of one file through any transcriber (what `eval` scores).
pub fn transcribe_samples(
    transcriber: &dyn redscribe_core::ports::Transcriber,
    file: &std::path::Path,
) -> anyhow::Result<String> {
    Ok(transcriber.transcribe(&read_samples(file)?).map_err(|e| anyhow::anyhow!("{e}"))?.text)
}
