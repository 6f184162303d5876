//! `redscribe inspect`: probe local recordings and print (and optionally write) their metadata rows.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use redscribe_audio::{probe, AudioError, Source};
use redscribe_core::encode::{to_jsonl, to_parquet};
use redscribe_core::events::ObjectVersion;
use redscribe_core::record::{results_batch, AudioMetadata, ResultRow};
use redscribe_core::ErrorCode;
use redscribe_pipeline::row::{result_row, Location};
use serde::Serialize;

/// Bucket name recorded for local files, whose key is their absolute path.
pub const LOCAL_BUCKET: &str = "local";

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Recordings to inspect; a directory is walked recursively (hidden entries skipped).
    #[arg(required = true, value_name = "FILE")]
    paths: Vec<PathBuf>,
    /// Also write the rows as Parquet, in the column order of transcription_results.
    #[arg(long, value_name = "PATH")]
    parquet: Option<PathBuf>,
    /// Also write the rows as JSON Lines, in the column order of transcription_results.
    #[arg(long, value_name = "PATH")]
    jsonl: Option<PathBuf>,
}

/// One line of `inspect` output.
#[derive(Debug, Serialize)]
struct Line<'a> {
    file: String,
    status: &'static str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a AudioMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<ErrorCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// Expands directories into the files under them, sorted, keeping the order of the arguments.
pub(crate) fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            out.push(dir.to_path_buf()); // reported as unreadable
            return;
        };
        let mut children: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .collect();
        children.sort();
        for child in children {
            if child.is_dir() {
                walk(&child, out);
            } else {
                out.push(child);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn row_for(path: &Path, outcome: &Result<AudioMetadata, AudioError>, started: Instant) -> ResultRow {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let fs_meta = std::fs::metadata(path).ok();
    let location = Location {
        object: ObjectVersion {
            size: fs_meta.as_ref().map(|m| m.len() as i64),
            ..ObjectVersion::new(LOCAL_BUCKET, &absolute.to_string_lossy())
        },
        uploaded_at: fs_meta.and_then(|m| m.modified().ok()).map(DateTime::<Utc>::from),
        content_type: None,
        attributes: Default::default(),
        generation: None,
    };
    let outcome = match outcome {
        Ok(meta) => Ok(meta.clone()),
        Err(e) => Err(redscribe_pipeline::transcribe::failure(e.code(), e.to_string())),
    };
    result_row(&location, &outcome, Utc::now(), started.elapsed().as_millis() as i64)
}

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let files = expand(&args.paths);
    let want_rows = args.parquet.is_some() || args.jsonl.is_some();
    let mut rows = Vec::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for path in &files {
        let started = Instant::now();
        let outcome = Source::open(path).and_then(probe);
        let line = match &outcome {
            Ok(meta) => Line {
                file: path.display().to_string(),
                status: "ok",
                metadata: Some(meta),
                error_code: None,
                message: None,
            },
            Err(e) => Line {
                file: path.display().to_string(),
                status: "rejected",
                metadata: None,
                error_code: Some(e.code()),
                message: Some(e.to_string()),
            },
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
        if want_rows {
            rows.push(row_for(path, &outcome, started));
        }
    }
    out.flush()?;
    if want_rows && !rows.is_empty() {
        let batch = results_batch(&rows)?;
        if let Some(path) = &args.parquet {
            let bytes = to_parquet(std::slice::from_ref(&batch))?;
            std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        if let Some(path) = &args.jsonl {
            let bytes = to_jsonl(std::slice::from_ref(&batch))?;
            std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}
