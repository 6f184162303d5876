//! `redscribe forget`: erase recordings from the warehouse on request, without deleting them — a data subject's
//! erasure, an agent's calls. Each selected recording gets the erasure a deletion gets (`transcribe::erase`): a
//! result file whose row is a tombstone, of the row's own version and sequencer and a `generation` (the time of
//! the request), so that it outranks every processing of that version; the load replaces the row and takes its
//! segments, words and attributes with it. Locally the files are loaded at once; with `--aws` their creation
//! announces them to the load function like any result file.

use anyhow::Context;
use chrono::Utc;
use redscribe_core::events::ObjectEvent;
use redscribe_core::identity::recording_id;
use redscribe_core::reprocess::{event_of, DateOf, Selection};
use redscribe_pipeline::{Processed, TranscribeConfig};

use crate::reprocess::{ids_meeting, selected_rows};
use crate::target::{Target, TargetArgs};

#[derive(Debug, clap::Args)]
pub struct ForgetArgs {
    /// A recording by its location: `s3://bucket/key` (repeatable).
    #[arg(long, value_name = "S3_URI")]
    key: Vec<String>,
    /// A recording by its id (repeatable).
    #[arg(long, value_name = "ID")]
    id: Vec<String>,
    /// Recordings whose row meets this condition on transcription_results, e.g. "agent_id = '042'".
    #[arg(long = "where", value_name = "CONDITION")]
    condition: Option<String>,
    /// Say what would be forgotten, and do nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn run(args: ForgetArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.key.is_empty() || !args.id.is_empty() || args.condition.is_some(),
        "say what to forget: --key s3://bucket/key, --id ID or --where CONDITION"
    );
    Target::run(&args.target, async |target| forget(target, &args).await)
}

/// The ids the arguments name.
async fn chosen(target: &Target, args: &ForgetArgs) -> anyhow::Result<Vec<String>> {
    let mut ids = args.id.clone();
    for uri in &args.key {
        let (bucket, key) = crate::backfill::parse_uri(uri)?;
        anyhow::ensure!(!key.is_empty(), "{uri}: expected s3://bucket/key");
        ids.push(recording_id(&bucket, &key));
    }
    if let Some(condition) = &args.condition {
        ids.extend(ids_meeting(target, condition).await?);
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

async fn forget(target: &mut Target, args: &ForgetArgs) -> anyhow::Result<()> {
    let generation = Utc::now().timestamp_millis();
    let everything = Selection { since: None, until: None, date_of: DateOf::Processing, prefix: None };
    let ids = chosen(target, args).await?;
    let mut events: Vec<ObjectEvent> = Vec::new();
    for row in selected_rows(target, &everything, Some(&ids)).await? {
        let (_, recording) = event_of(&row, generation).map_err(anyhow::Error::msg)?;
        // The row's own version: its sequencer, with the request's generation; nothing of its bytes.
        let object = redscribe_core::events::ObjectVersion { etag: None, size: None, ..recording.object };
        events.push(ObjectEvent {
            event_name: "ObjectRemoved:Delete".into(),
            generation: Some(generation),
            ..ObjectEvent::of(object)
        });
    }
    println!("redscribe forget: {} recording(s) to erase from the warehouse", events.len());
    if args.dry_run || events.is_empty() {
        for e in events.iter().take(20) {
            println!("  s3://{}/{}", e.object.bucket, e.object.key);
        }
        return Ok(());
    }
    let stage = target.stage(TranscribeConfig::default(), None);
    let mut files = Vec::new();
    for event in &events {
        match stage.process(event).await.context("writing an erasure")? {
            Processed::Written(file) => files.push(file),
            other => anyhow::bail!("an erasure wrote {other:?}"),
        }
    }
    if target.local.is_none() {
        println!("  {} erasure(s) written under the results prefix; the load function loads them", files.len());
        return Ok(());
    }
    let bucket = files[0].bucket.clone();
    let report = target.loader(&bucket).load(files).await.context("loading the erasures")?;
    println!("  erased: {} (rejected {})", report.loaded.len(), report.rejected.len());
    Ok(())
}
