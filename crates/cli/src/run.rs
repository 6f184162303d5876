//! `redscribe run <file|dir>...`: the whole pipeline once, on the local stand-ins — upload each recording with
//! the S3 SDK, process the upload events with the transcribe stage, load the results with batched COPY through
//! the Data API, and print a summary. Events are acknowledged only after their rows are loaded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use redscribe_core::events::normalize;
use redscribe_core::layout::Layout;
use redscribe_core::ports::ObjectStore;
use redscribe_local::redshift::DataApiConfig;
use redscribe_pipeline::{Processed, TranscribeConfig, TranscribeStage};

use crate::inspect::expand;
use crate::local::{default_data_dir, flush_metrics, loader, recorder, LocalServices};

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
    /// Also write each result as JSON Lines beside its Parquet file.
    #[arg(long)]
    jsonl: bool,
    /// Recordings processed at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Most result files per load (one COPY each).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_files: u32,
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

fn bar(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what);
    bar
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => default_data_dir()?,
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse()?;
    let mut services = LocalServices::start(&data_dir, loopback, loopback, DataApiConfig::default()).await?;
    let objects = Arc::new(services.objects().await);
    let warehouse = Arc::new(services.warehouse().await?);
    services.migrate(&warehouse).await?;
    if objects.client().head_bucket().bucket(&args.bucket).send().await.is_err() {
        objects.client().create_bucket().bucket(&args.bucket).send().await.context("creating the bucket")?;
    }

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
                objects.put(&args.bucket, key, body, "application/octet-stream").await?;
                uploaded += 1;
            }
            Err(e) => progress.println(format!("not uploaded {}: {e}", file.display())),
        }
        progress.inc(1);
    }
    progress.finish_with_message("done");

    // Process every pending event (this run's, and any an earlier run left unacknowledged).
    let layout = Layout::default();
    let mut deliveries = Vec::new();
    while let Ok(d) = services.events.try_recv() {
        deliveries.push(d);
    }
    let mut objects_to_process = Vec::new();
    let mut skipped = 0usize;
    for d in &deliveries {
        match normalize(&d.event, &layout) {
            Ok(n) => {
                skipped += n.skipped.len();
                objects_to_process.extend(n.objects);
            }
            Err(e) => {
                tracing::warn!(seq = d.seq, error = %e, "unreadable event");
                skipped += 1;
            }
        }
    }
    let metrics = recorder();
    let stage = Arc::new(
        TranscribeStage::new(objects.clone(), TranscribeConfig { layout: layout.clone(), jsonl: args.jsonl })
            .with_metrics(metrics.clone()),
    );
    let progress = bar(objects_to_process.len() as u64, "process");
    let limit = Arc::new(tokio::sync::Semaphore::new(usize::from(args.concurrency)));
    let mut tasks = tokio::task::JoinSet::new();
    for object in objects_to_process {
        let (stage, limit) = (stage.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = stage.process(&object).await;
            (object, result)
        });
    }
    let mut files = Vec::new();
    let mut rejected: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut retry_later = 0usize;
    while let Some(joined) = tasks.join_next().await {
        let (object, result) = joined.context("a processing task panicked")?;
        match result {
            Ok(processed) => {
                if let Processed::Quarantined { code, .. } = &processed {
                    *rejected.entry(code.as_str()).or_default() += 1;
                }
                files.push(processed.file().clone());
            }
            Err(e) => {
                retry_later += 1;
                progress.println(format!("s3://{}/{}: {e} (kept for the next run)", object.bucket, object.key));
            }
        }
        progress.inc(1);
    }
    progress.finish_with_message("done");

    // Load, in batches of at most --batch-files files.
    let loader = loader(objects.clone(), warehouse.clone(), args.bucket.clone(), metrics.clone());
    let progress = bar(files.len() as u64, "load");
    let (mut loaded_rows, mut copies, mut load_rejected) = (0i64, 0usize, 0usize);
    for chunk in files.chunks(args.batch_files as usize) {
        let report = loader.load(chunk.to_vec()).await.context("loading")?;
        loaded_rows += report.loaded.iter().map(|f| f.rows).sum::<i64>();
        copies += report.batches;
        load_rejected += report.rejected.len();
        progress.inc(chunk.len() as u64);
    }
    progress.finish_with_message("done");
    if retry_later == 0 {
        for d in &deliveries {
            services.journal.ack(d.seq)?;
        }
    }

    let processed = files.len();
    println!("redscribe run: {uploaded} file(s) uploaded, done in {:.1} s", started.elapsed().as_secs_f64());
    println!(
        "  processed:        {processed} ({} with metadata, {} rejected)",
        processed - rejected.values().sum::<usize>(),
        rejected.values().sum::<usize>()
    );
    for (code, n) in &rejected {
        println!("    rejected {code}: {n}");
    }
    if skipped > 0 {
        println!("  skipped events:   {skipped} (test events, folder markers, empty objects, own outputs)");
    }
    if retry_later > 0 {
        println!("  to retry:         {retry_later} (transient failures; events kept for the next run)");
    }
    println!("  rows loaded:      {loaded_rows} into transcription_results");
    println!("  COPY statements:  {copies}");
    if load_rejected > 0 {
        println!("  load rejected:    {load_rejected} file(s), see load_audit and rejected/load_rejected/");
    }
    let documents = flush_metrics(&data_dir, &metrics)?;
    println!(
        "  metrics:          {documents} EMF document(s) appended to {}",
        data_dir.join("metrics/emf.jsonl").display()
    );
    println!(
        "  warehouse:        {} (DuckDB; query it with `redscribe query` under `redscribe serve`)",
        services.warehouse_file.display()
    );
    tokio::time::timeout(Duration::from_secs(15), services.stop()).await.ok();
    Ok(())
}
