//! `redscribe backfill s3://bucket/prefix`: process recordings that are already in a bucket, without upload
//! events — a first load of an existing archive, or a load after events were lost. Each object becomes an event
//! without a sequencer, which orders before every real event: a backfill never overwrites a row that an upload
//! event produced.

use std::time::Instant;

use anyhow::Context;
use redscribe_core::events::{ObjectEvent, ObjectVersion};
use redscribe_core::ports::ObjectStore;
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

fn parse_uri(uri: &str) -> anyhow::Result<(String, String)> {
    let rest = uri.strip_prefix("s3://").with_context(|| format!("{uri}: expected s3://bucket/prefix"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    anyhow::ensure!(!bucket.is_empty(), "{uri}: no bucket");
    Ok((bucket.to_string(), prefix.to_string()))
}

pub fn run(args: BackfillArgs) -> anyhow::Result<()> {
    let (bucket, prefix) = parse_uri(&args.uri)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut target = Target::open(&args.target).await?;
        let result = backfill(&mut target, &bucket, &prefix, &args.pass).await;
        target.close().await?;
        result
    })
}

async fn backfill(target: &mut Target, bucket: &str, prefix: &str, pass: &PassArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let listed =
        target.objects.list(bucket, prefix).await.with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
    let total = listed.len();
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
    for pass in std::iter::once(&first).chain(&parts) {
        pass.print();
    }
    Ok(())
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
