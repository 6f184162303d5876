//! `redscribe run <file|dir>...`: the whole pipeline once, on the local stand-ins — upload each recording with
//! the S3 SDK, process the upload events with the transcribe stage, load the results with batched COPY through
//! the Data API, and print a summary. Events are acknowledged only after their rows are loaded.

use std::path::{Path, PathBuf};
use std::time::Instant;

use redscribe_core::ports::ObjectStore;

use crate::inspect::expand;
use crate::local::data_dir_or_default;
use crate::pass::{bar, hear_parts, process_journaled, PassArgs};
use crate::target::Target;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Recordings, or folders to walk (hidden entries skipped).
    #[arg(required = true, value_name = "FILE")]
    paths: Vec<PathBuf>,
    /// Data folder of the local stand-ins [default: the user's data directory, e.g. ~/.local/share/redscribe]
    #[arg(long, value_name = "DIR", env = "REDSCRIBE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Bucket to upload into (created when missing).
    #[arg(long, default_value = "recordings")]
    bucket: String,
    /// Key prefix for the uploads; each file keeps its path relative to the folder given.
    #[arg(long, default_value = "in/")]
    prefix: String,
    #[command(flatten)]
    pub pass: PassArgs,
}

fn key_for(prefix: &str, root: &Path, file: &Path) -> String {
    let rel = if root.is_dir() {
        file.strip_prefix(root).unwrap_or(file)
    } else {
        Path::new(file.file_name().unwrap_or_default())
    };
    let rel = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
    format!("{prefix}{rel}")
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let data_dir = data_dir_or_default(args.data_dir.as_ref())?;
        let mut target = Target::local(data_dir.clone()).await?;
        let result = run_on(&mut target, &args).await;
        let documents = target.close().await?;
        result?;
        println!(
            "  metrics:          {documents} EMF document(s) appended to {}",
            data_dir.join("metrics/emf.jsonl").display()
        );
        println!(
            "  warehouse:        {} (DuckDB; query it with `redscribe query` under `redscribe serve`)",
            data_dir.join("warehouse/redscribe.duckdb").display()
        );
        Ok(())
    })
}

/// Uploads, processes and loads; prints the summary. Shared with `demo`.
pub async fn run_on(target: &mut Target, args: &RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    target.ensure_bucket(&args.bucket).await?;
    anyhow::ensure!(target.local.is_some(), "`run` needs the local stand-ins");

    // Upload. Each completed upload journals its event before the response.
    let mut uploads = Vec::new();
    for root in &args.paths {
        for file in expand(std::slice::from_ref(root)) {
            uploads.push((key_for(&args.prefix, root, &file), file));
        }
    }
    let progress = bar(uploads.len() as u64, "upload");
    let mut uploaded = 0usize;
    for (key, file) in &uploads {
        progress.set_message(key.clone());
        match std::fs::read(file) {
            Ok(body) => {
                target.objects.put(&args.bucket, key, body, "application/octet-stream").await?;
                uploaded += 1;
            }
            Err(e) => progress.println(format!("not uploaded {}: {e}", file.display())),
        }
        progress.inc(1);
    }
    progress.finish_with_message("done");

    // Every pending event, raw: this run's, and any an earlier run left unacknowledged; one job per event. A
    // pass that cuts long recordings into parts writes their requests, whose events are the next pass's work.
    let deliveries = target.local.as_mut().map(|s| s.take_pending()).unwrap_or_default();
    let pass = process_journaled(target, &args.bucket, &deliveries, &args.pass).await?;
    let parts = hear_parts(target, &args.bucket, &args.pass, &pass).await?;
    println!("redscribe run: {uploaded} file(s) uploaded, done in {:.1} s", started.elapsed().as_secs_f64());
    for pass in std::iter::once(&pass).chain(&parts) {
        pass.print();
    }
    Ok(())
}

impl RunArgs {
    /// `run` over `paths` with the defaults (what `demo` does).
    pub fn defaults(paths: Vec<PathBuf>) -> RunArgs {
        RunArgs {
            paths,
            data_dir: None,
            bucket: crate::local::DEFAULT_INPUT_BUCKET.into(),
            prefix: "in/".into(),
            pass: PassArgs {
                jsonl: false,
                concurrency: redscribe_core::settings::CLI_CONCURRENCY as u16,
                batch_files: redscribe_core::settings::DEFAULT_LOAD_BATCH_FILES as u32,
                batch_mb: 1024,
                speech: Default::default(),
            },
        }
    }
}
