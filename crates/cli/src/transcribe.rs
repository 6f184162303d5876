//! `redscribe transcribe <file>...`: Whisper on each recording, in process; one JSON line per file with the text,
//! the segments, the quality signals and the timing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use redscribe_audio::AudioMetadata;
use redscribe_core::ports::{Hints, TimedText, Transcriber, Transcription};
use redscribe_core::redact::{redact, RedactOptions};
use redscribe_core::subtitles::{cues, render, SubtitleFormat};
use redscribe_pipeline::transcribe::{transcribe_in_parts, transcribe_recording, Plan, RecordingLimits};
use redscribe_whisper::WhisperTranscriber;

use crate::pass::{LimitsArgs, ModelArgs};
use serde_json::json;

use crate::inspect::expand;

#[derive(Debug, clap::Args)]
pub struct TranscribeArgs {
    /// Recordings, or folders to walk.
    #[arg(required = true, value_name = "FILE")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    limits: LimitsArgs,
    /// Threads for the model (0: one per core, shared by the parts heard at once).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// A recording longer than this many seconds is cut at pauses into parts heard at once and joined, as the
    /// pipeline does; `off` hears it whole
    #[arg(long, value_name = "SECONDS", env = redscribe_core::settings::var::PART_SECONDS, default_value = "off",
          value_parser = crate::pass::parse_part_arg)]
    part_seconds: crate::pass::PartSeconds,
    /// Parts heard at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    part_workers: u16,
    /// Each segment with its words: {"word":"card","start":3.42,"end":3.71,"probability":0.93}, times in seconds
    /// from the start of the recording.
    #[arg(long)]
    words: bool,
    /// `json`: a JSON line per file; `srt` or `vtt`: the file's subtitles (one file only), cut as the pipeline
    /// cuts them (two lines of 42 characters, 7 s, a new cue at a pause, a speaker's turn or a sentence's end).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// `pii`: card numbers, CVVs, expiry dates, bank accounts, SSNs, phone numbers, e-mail addresses and PINs
    /// become tags ([CREDIT_DEBIT_NUMBER]) in the text, the segments, the words and the subtitles; `pii,audio`
    /// also writes a WAV copy of each recording with those values silenced, into --redacted-audio-dir
    #[arg(long, value_name = "pii|pii,audio|off", env = redscribe_core::settings::var::REDACT, default_value = "off")]
    redact: RedactOptions,
    /// Where `--redact pii,audio` writes each recording's silenced copy (`<name>.redacted.wav`).
    #[arg(long, value_name = "DIR")]
    redacted_audio_dir: Option<PathBuf>,
}

/// What `transcribe` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Json,
    Srt,
    Vtt,
}

pub fn run(args: TranscribeArgs) -> anyhow::Result<()> {
    let files = expand(&args.paths);
    let subtitles = match args.format {
        Format::Json => None,
        Format::Srt => Some(SubtitleFormat::Srt),
        Format::Vtt => Some(SubtitleFormat::Vtt),
    };
    // Two subtitle files in one stream would not parse as either.
    if let (Some(format), false) = (subtitles, files.len() == 1) {
        anyhow::bail!(
            "--format {} writes one file's subtitles: give one recording ({} found)",
            format.extension(),
            files.len()
        );
    }
    if args.redact.audio && args.redacted_audio_dir.is_none() {
        anyhow::bail!("--redact pii,audio writes silenced copies: say where with --redacted-audio-dir DIR");
    }
    let (engine, options) = args.model.load(args.threads)?;
    let load_time = engine.load_time;
    let transcriber = WhisperTranscriber { engine, options };
    let stdout = std::io::stdout();
    let mut failed = 0usize;
    for file in files {
        let started = Instant::now();
        let parts = args.part_seconds.0.map(|s| (s, usize::from(args.part_workers)));
        let heard = transcribe_file(&transcriber, &file, &args.limits.limits(), parts).and_then(|(metadata, mut t)| {
            if args.redact.pii {
                redact(&mut t);
            }
            let copy = match (&args.redacted_audio_dir, args.redact.audio) {
                (Some(dir), true) => Some(silenced_copy(&file, &t, dir)?),
                _ => None,
            };
            Ok((metadata, t, copy))
        });
        if let Some(format) = subtitles {
            let (_, t, _) = heard?;
            write!(stdout.lock(), "{}", render(&cues(&t.segments), format))?;
            return Ok(());
        }
        let line = match heard {
            Ok((metadata, t, copy)) => json!({
                "file": file.display().to_string(),
                "text": t.text,
                "language": t.language,
                "language_probability": t.language_probability,
                "duration_s": metadata.duration_s,
                "channels": metadata.channels,
                "segments": t.segments.iter().map(|s| segment_json(s, args.words)).collect::<Vec<_>>(),
                "avg_logprob": t.avg_logprob,
                "no_speech_prob": t.no_speech_prob,
                "compression_ratio": t.compression_ratio,
                "quality_flag": t.quality_flag,
                "pii_redacted": t.pii_redacted.as_ref().map(|r| &r.counts),
                "redacted_audio": copy.map(|p| p.display().to_string()),
                "model": transcriber.model(),
                "timing": {
                    "decode_s": t.decode_seconds,
                    "fallback_s": t.fallback_seconds,
                    "total_s": started.elapsed().as_secs_f64(),
                    "model_load_s": load_time.as_secs_f64(),
                    // Compute per second of audio heard (a call's two channels are heard one after the other).
                    "rtf": if t.audio_seconds > 0.0 { t.decode_seconds / t.audio_seconds } else { 0.0 },
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

/// Writes `file`'s copy with the values redacted from `t` silenced to `dir/<name>.redacted.wav`; its path.
fn silenced_copy(file: &Path, t: &Transcription, dir: &Path) -> anyhow::Result<PathBuf> {
    let name = file.file_stem().map_or_else(|| "recording".into(), |s| s.to_string_lossy().into_owned());
    let out = dir.join(format!("{name}.redacted.wav"));
    let stretches = redscribe_pipeline::transcribe::silence_stretches(t.pii_redacted.as_ref());
    let source = redscribe_audio::Source::open(file)?;
    redscribe_audio::silence::write_silenced(source, &stretches, &out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(out)
}

/// A segment as the JSON line shows it, with its words when asked for.
fn segment_json(s: &TimedText, words: bool) -> serde_json::Value {
    let mut segment = json!({
        "start": s.start_s, "end": s.end_s, "text": s.text, "channel": s.channel,
        "avg_logprob": s.avg_logprob, "no_speech_prob": s.no_speech_prob,
    });
    if words {
        segment["words"] = s
            .words
            .iter()
            .map(|w| json!({ "word": w.text, "start": w.start_s, "end": w.end_s, "probability": w.probability }))
            .collect();
    }
    segment
}

/// A recording file through the same listening the pipeline's transcribe stage does (decode streamed to the
/// transcriber, a call's channels one by one), read from the file as it goes, never whole.
/// With `parts` (a part's seconds, workers), a recording longer than a part is heard in parts joined into one.
pub fn transcribe_file(
    transcriber: &dyn Transcriber,
    file: &Path,
    limits: &RecordingLimits,
    parts: Option<(f64, usize)>,
) -> anyhow::Result<(AudioMetadata, Transcription)> {
    let recording = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let hints = Hints::default();
    let open = || std::fs::File::open(file);
    match parts {
        None => transcribe_recording(&recording, transcriber, &hints, limits, &Plan::UNBOUNDED),
        Some((part_s, workers)) => transcribe_in_parts(&open, transcriber, &hints, limits, part_s, workers),
    }
    .map_err(|f| anyhow::anyhow!("{}: {}", f.code.as_str(), f.message))
}
