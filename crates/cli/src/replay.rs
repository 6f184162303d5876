//! `redscribe replay`: quarantined recordings processed again after a fix. Each record under `rejected/` becomes
//! the event it came from (same version, same sequencer), so the recording's row is updated in place — replaying
//! three times adds no rows. A record is removed once its recording is processed and loaded again.

use std::collections::BTreeMap;
use std::time::Instant;

use redscribe_core::ErrorCode;
use redscribe_pipeline::driver::Delivery;
use redscribe_pipeline::replay::{find_quarantined, settle, Quarantined};

use crate::pass::{hear_parts, process_and_load, PassArgs};
use crate::target::{Target, TargetArgs};

fn parse_code(s: &str) -> Result<ErrorCode, String> {
    ErrorCode::parse(s).ok_or_else(|| {
        let known: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        format!("unknown reason {s:?}; one of: {}", known.join(", "))
    })
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Only the records of this reason (an error code, e.g. `truncated`, `load_rejected`).
    #[arg(long, value_name = "CODE", value_parser = parse_code)]
    reason: Option<ErrorCode>,
    /// List what would be replayed and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Bucket holding the quarantine records (the output bucket).
    #[arg(long, default_value = "recordings")]
    bucket: String,
    #[command(flatten)]
    pass: PassArgs,
    #[command(flatten)]
    target: TargetArgs,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    Target::run(&args.target, async |target| replay(target, &args).await)
}

async fn replay(target: &mut Target, args: &ReplayArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (records, unreadable) = find_quarantined(&*target.objects, &args.bucket, &target.layout, args.reason).await?;
    for u in &unreadable {
        eprintln!("s3://{}/{}: not replayable: {}", args.bucket, u.record_key, u.why);
    }
    // Records, and the recordings each names still to be done (a kept message may announce several).
    let mut pending: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        let named = pending.entry(r.record_key.as_str()).or_default();
        if *named == 0 {
            *by_reason.entry(r.reason.as_str()).or_default() += 1;
        }
        *named += 1;
    }
    if args.dry_run {
        for r in &records {
            println!("{}\ts3://{}/{}\t{}", r.reason, r.recording.object.bucket, r.recording.object.key, r.record_key);
        }
        println!("redscribe replay --dry-run: {} record(s) would be replayed, nothing changed", pending.len());
        for (reason, n) in &by_reason {
            println!("  {reason}: {n}");
        }
        return Ok(());
    }

    // One event per recording version, however many records name it.
    let mut groups: BTreeMap<(String, String, Option<String>), Vec<&Quarantined>> = BTreeMap::new();
    for r in &records {
        let e = &r.recording;
        groups.entry((e.object.bucket.clone(), e.object.key.clone(), e.object.version_id.clone())).or_default().push(r);
    }
    let events = groups.values().map(|rs| Delivery::Objects(vec![rs[0].recording.clone()])).collect();
    let pass = process_and_load(target, &args.bucket, events, &args.pass).await?;

    // Loaded (or quarantined anew, with the record that now stands for it): the old records go — a record once
    // every recording it names is done; one still failing keeps it.
    let records_read = pending.len();
    let mut settled = 0usize;
    for (i, (key, group)) in groups.iter().enumerate() {
        if !pass.done(i) {
            continue;
        }
        let processed = pass.report.outcomes().find_map(|(event, result)| {
            let same = (&event.object.bucket, &event.object.key, &event.object.version_id) == (&key.0, &key.1, &key.2);
            result.as_ref().ok().filter(|_| same)
        });
        let Some(processed) = processed else { continue };
        for record in group {
            let left = pending.get_mut(record.record_key.as_str()).expect("every record is counted");
            *left -= 1;
            if *left == 0 {
                settle(&*target.objects, &args.bucket, record, processed).await?;
                settled += 1;
            }
        }
    }
    println!(
        "redscribe replay: {} record(s) of {} recording(s), done in {:.1} s",
        records_read,
        groups.len(),
        started.elapsed().as_secs_f64()
    );
    let parts = hear_parts(target, &args.bucket, &args.pass, &pass).await?;
    for pass in std::iter::once(&pass).chain(&parts) {
        pass.print();
    }
    if !unreadable.is_empty() {
        println!("  not replayable:   {} record(s), named above", unreadable.len());
    }
    println!("  records settled:  {settled} (removed, or replaced by the new record of a recording still rejected)");
    Ok(())
}
