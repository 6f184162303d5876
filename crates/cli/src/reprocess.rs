//! `redscribe reprocess`: hear recordings already in the table again — with a better model, or after a fix — and
//! replace their rows, segments, words and attributes. It selects rows by date (of upload or of processing,
//! whole UTC days, both ends included), key prefix, or a condition of one's own (`--where`, run as a `SELECT` of
//! ids of its own), and writes one request per recording version under `manifests/reprocess/<generation>/`
//! (`redscribe_core::reprocess`). Locally the requests are heard at once by this process with the model given;
//! with `--aws` their creation queues them for the transcribe function (which scales out as it does for uploads)
//! and it hears them with the model it is deployed with, which `--model` must name.

use std::time::Instant;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use redscribe_core::events::ObjectEvent;
use redscribe_core::layout::Layout;
use redscribe_core::load::Tables;
use redscribe_core::ports::{ObjectStore, Warehouse};
use redscribe_core::reprocess::{event_of, ids_where, DateOf, ReprocessRequest, Selection};

use crate::pass::{hear_parts, process_journaled, take_requests, PassArgs};
use crate::target::{Target, TargetArgs};

/// Ids sent in one selection statement (far below the Data API's 100 KB a statement).
const IDS_PER_STATEMENT: usize = 500;

/// Which date `--since` and `--until` are of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum By {
    /// When the recording was uploaded (`uploaded_at`).
    Uploaded,
    /// When its row was processed (`processed_at`).
    Processed,
}

#[derive(Debug, clap::Args)]
pub struct ReprocessArgs {
    /// First day of the range, included (UTC, YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    since: Option<NaiveDate>,
    /// Last day of the range, included (UTC, YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    until: Option<NaiveDate>,
    /// Which date the range is of: when the recording was uploaded, or when its row was processed.
    #[arg(long, value_enum, default_value = "uploaded")]
    by: By,
    /// Only recordings whose key starts with this.
    #[arg(long, value_name = "KEY_PREFIX")]
    prefix: Option<String>,
    /// Only recordings whose row meets this condition on transcription_results (run as its own SELECT of ids),
    /// e.g. "agent_id = '042'" or "model = 'whisper-tiny.en'".
    #[arg(long = "where", value_name = "CONDITION")]
    condition: Option<String>,
    /// Say what would be heard again, and do nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    pass: PassArgs,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn run(args: ReprocessArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.since.is_some() || args.until.is_some() || args.prefix.is_some() || args.condition.is_some(),
        "say what to reprocess: --since/--until, --prefix or --where (all history: --prefix '')"
    );
    anyhow::ensure!(!args.pass.speech.no_transcribe, "a reprocess transcribes again: name the model with --model");
    if let (Some(since), Some(until)) = (args.since, args.until) {
        anyhow::ensure!(since <= until, "--since {since} is after --until {until}");
    }
    Target::run(&args.target, async |target| reprocess(target, &args).await)
}

/// The recording versions the arguments select: (id, the event that hears its version again).
async fn select(target: &Target, args: &ReprocessArgs, generation: i64) -> anyhow::Result<Vec<(String, ObjectEvent)>> {
    let selection = Selection {
        since: args.since,
        until: args.until,
        date_of: match args.by {
            By::Uploaded => DateOf::Upload,
            By::Processed => DateOf::Processing,
        },
        prefix: args.prefix.clone(),
    };
    let ids = match &args.condition {
        None => None,
        Some(condition) => Some(ids_meeting(target, condition).await?),
    };
    let rows = selected_rows(target, &selection, ids.as_deref()).await?;
    rows.into_iter().map(|row| event_of(&row, generation).map_err(anyhow::Error::msg)).collect()
}

/// The ids of the rows a condition of one's own names (`--where`), by a `SELECT` of its own.
pub(crate) async fn ids_meeting(target: &Target, condition: &str) -> anyhow::Result<Vec<String>> {
    let sql = ids_where(&Tables::default().results, condition)?;
    let rows = target.warehouse.query(&sql).await.context("running --where")?;
    Ok(rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect())
}

/// The rows `selection` names, among `ids` when given (sent a few hundred at a time).
pub(crate) async fn selected_rows(
    target: &Target,
    selection: &Selection,
    ids: Option<&[String]>,
) -> anyhow::Result<Vec<Vec<Option<String>>>> {
    let table = Tables::default().results;
    let warehouse = target.warehouse.as_ref();
    let Some(ids) = ids else {
        return warehouse.query(&selection.query(&table, None)?).await.context("selecting rows");
    };
    let mut rows = Vec::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        rows.extend(warehouse.query(&selection.query(&table, Some(chunk))?).await.context("selecting rows")?);
    }
    Ok(rows)
}

async fn reprocess(target: &mut Target, args: &ReprocessArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let generation = Utc::now().timestamp_millis();
    let selected = select(target, args, generation).await?;
    let model = args.pass.speech.model.model.clone();
    println!("redscribe reprocess: {} recording(s) selected, generation {generation}, model {model}", selected.len());
    if args.dry_run || selected.is_empty() {
        for (_, event) in selected.iter().take(20) {
            println!("  s3://{}/{}", event.object.bucket, event.object.key);
        }
        return Ok(());
    }
    let layout = target.layout.clone();
    let mut buckets = std::collections::BTreeSet::new();
    for (id, event) in &selected {
        let bucket = layout.bucket_for(&event.object.bucket).to_string();
        let key = layout.reprocess_request_key(generation, id, &event.object.version_token());
        let request = ReprocessRequest { recording: event.clone(), model: Some(model.clone()) };
        let body = serde_json::to_vec(&request)?;
        target.objects.put(&bucket, &key, body, "application/json").await.with_context(|| format!("writing {key}"))?;
        buckets.insert(bucket);
    }
    let folder = layout.reprocess_prefix();
    if target.local.is_none() {
        for bucket in &buckets {
            println!("  queued under s3://{bucket}/{folder}{generation}/ for the transcribe function");
        }
        println!(
            "  it hears them with the model it is deployed with, which must be {model} (a request for another \
             model is left, logged and counted in RecordingsSkipped)"
        );
        return Ok(());
    }
    // Locally: the requests' creation events, heard now by this process with the model given.
    let bucket = buckets.into_iter().next().unwrap_or_default();
    let deliveries = take_requests(target, Layout::is_reprocess_request);
    let first = process_journaled(target, &bucket, &deliveries, &args.pass).await?;
    let parts = hear_parts(target, &bucket, &args.pass, &first).await?;
    println!("  heard again in {:.1} s", started.elapsed().as_secs_f64());
    for pass in std::iter::once(&first).chain(&parts) {
        pass.print();
    }
    Ok(())
}
