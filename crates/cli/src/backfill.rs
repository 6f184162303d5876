//! `redscribe backfill s3://bucket/prefix`: process recordings that are already in a bucket, without upload
//! events — a first load of an existing archive, or a load after events were lost. An object whose row already
//! answers its bytes (same key, same ETag) is skipped and counted: transcribing it again would cost and change
//! nothing (its event has no sequencer, and the load keeps the row of the upload's own event); `redscribe
//! reprocess` is what hears history again. Every other object becomes an event without a sequencer.

use std::time::Instant;

use anyhow::Context;
use redscribe_core::events::{ObjectEvent, ObjectVersion};
use redscribe_core::ports::{ObjectStore, Warehouse};
use redscribe_core::sql::{literal, starts_with};
use redscribe_pipeline::driver::Delivery;

use crate::pass::{hear_parts, process_and_load, PassArgs};
use crate::target::{Target, TargetArgs};

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// Where the recordings are: `s3://bucket/prefix` (the prefix may be empty).
    #[arg(value_name = "S3_URI")]
    uri: String,
    #[command(flatten)]
    pass: PassArgs,
    #[command(flatten)]
    target: TargetArgs,
}

/// `s3://bucket[/prefix]` as its bucket and its prefix (empty when there is none): what backfill lists and forget
/// names a recording by.
pub(crate) fn parse_uri(uri: &str) -> anyhow::Result<(String, String)> {
    let rest = uri.strip_prefix("s3://").with_context(|| format!("{uri}: expected s3://bucket/prefix"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    anyhow::ensure!(!bucket.is_empty(), "{uri}: no bucket");
    Ok((bucket.to_string(), prefix.to_string()))
}

pub fn run(args: BackfillArgs) -> anyhow::Result<()> {
    let (bucket, prefix) = parse_uri(&args.uri)?;
    Target::run(&args.target, async |target| backfill(target, &bucket, &prefix, &args.pass).await)
}

async fn backfill(target: &mut Target, bucket: &str, prefix: &str, pass: &PassArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let listed =
        target.objects.list(bucket, prefix).await.with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
    let total = listed.len();
    let (loaded, forgotten) = loaded_versions(target, bucket, prefix).await?;
    let (already, listed): (Vec<_>, Vec<_>) =
        listed.into_iter().partition(|o| o.etag.as_ref().is_some_and(|e| loaded.contains(&(o.key.clone(), e.clone()))));
    let (erased, listed): (Vec<_>, Vec<_>) = listed.into_iter().partition(|o| forgotten.contains(&o.key));
    // One job per object; the driver skips what every front end skips (folder markers, the pipeline's own outputs).
    let deliveries = listed
        .into_iter()
        .map(|o| {
            let object = ObjectVersion { size: Some(o.size), etag: o.etag, ..ObjectVersion::new(bucket, &o.key) };
            Delivery::Objects(vec![ObjectEvent { event_time: o.last_modified, ..ObjectEvent::of(object) }])
        })
        .collect();
    let first = process_and_load(target, bucket, deliveries, pass).await?;
    let parts = hear_parts(target, bucket, pass, &first).await?;
    println!(
        "redscribe backfill: {total} object(s) under s3://{bucket}/{prefix}, done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !erased.is_empty() {
        println!(
            "  forgotten:        {} (erased on request with `redscribe forget`; a new upload is heard from its own event)",
            erased.len()
        );
    }
    if !already.is_empty() {
        println!(
            "  already loaded:   {} (their rows answer these bytes; `redscribe reprocess --prefix {prefix}` hears \
             them again)",
            already.len()
        );
    }
    for pass in std::iter::once(&first).chain(&parts) {
        pass.print();
    }
    Ok(())
}

/// The (key, ETag) of every row under `prefix` of `bucket` (the recordings whose current bytes are loaded), and
/// the keys erased on request (`forget`: a tombstone with a generation, the recording left in place).
async fn loaded_versions(
    target: &Target,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<(std::collections::HashSet<(String, String)>, std::collections::HashSet<String>)> {
    let table = redscribe_core::load::Tables::default().results;
    let mut sql = format!(
        "SELECT \"object_key\", \"etag\", \"status\" = 'erased' AND \"generation\" IS NOT NULL FROM {table} \
         WHERE \"bucket\" = {}",
        literal(bucket)?
    );
    if !prefix.is_empty() {
        sql.push_str(&format!(" AND {}", starts_with("object_key", prefix)?));
    }
    let rows = target.warehouse.query(&sql).await.context("reading which recordings are loaded")?;
    let (mut loaded, mut forgotten) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    for row in rows {
        let mut row = row.into_iter();
        let (Some(key), etag, erased) = (row.next().flatten(), row.next().flatten(), row.next().flatten()) else {
            continue;
        };
        if erased.as_deref() == Some("true") {
            forgotten.insert(key);
        } else if let Some(etag) = etag {
            loaded.insert((key, etag));
        }
    }
    Ok((loaded, forgotten))
}

#[cfg(test)]
mod tests {
    use super::parse_uri;

    #[test]
    fn s3_uris() {
        assert_eq!(parse_uri("s3://b/in/x/").unwrap(), ("b".into(), "in/x/".into()));
        assert_eq!(parse_uri("s3://b").unwrap(), ("b".into(), String::new()));
        assert!(parse_uri("b/in").is_err());
        assert!(parse_uri("s3:///in").is_err());
    }
}
