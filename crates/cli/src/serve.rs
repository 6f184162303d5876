//! `redscribe serve`: run the local stand-ins on loopback until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::time::Duration;

use anyhow::Context;
use redscribe_aws::s3::S3Objects;
use redscribe_core::events::ObjectEvent;
use redscribe_core::ports::PortError;
use redscribe_local::redshift::{DataApiConfig, DATABASE};
use redscribe_local::s3::{Delivery, EventJournal};
use redscribe_local::{Credentials, StandIns};
use redscribe_pipeline::driver::{self, Driver, DriverConfig, Job, Listener, Retries, Settled};
use redscribe_pipeline::{LoadReport, Processed, TranscribeStage};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::local::{data_dir_or_default, flush_metrics, DEFAULT_INPUT_BUCKET, LOCAL_REGION};
use crate::pass::SpeechArgs;
use crate::target::Target;

/// Name of the profile written for the `aws` CLI.
pub const PROFILE: &str = "redscribe-local";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Folder for objects, the event journal and the generated AWS profile
    /// [default: the user's data directory, e.g. ~/.local/share/redscribe]
    #[arg(long, value_name = "DIR", env = "REDSCRIBE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address of the S3 endpoint (loopback only; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    s3_addr: SocketAddr,
    /// Address of the Redshift Data API endpoint (loopback only; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9001")]
    data_api_addr: SocketAddr,
    /// Address of the dashboard page (loopback only; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    dashboard_addr: SocketAddr,
    /// Statements submitted or running at once before the Data API answers ActiveStatementsExceededException.
    #[arg(long, value_name = "N", default_value_t = DataApiConfig::default().max_active_statements)]
    max_active_statements: usize,
    /// Fault injection: the first N execute calls fail with ActiveStatementsExceededException.
    #[arg(long, value_name = "N", default_value_t = 0, env = "REDSCRIBE_FAULT_ACTIVE_STATEMENTS_EXCEEDED")]
    fail_active_statements_exceeded: usize,
    /// Fault injection: processing a recording whose key contains PATTERN crashes (a panic where the decoder
    /// runs); the recording must end quarantined as `crashed` while `serve` goes on.
    #[arg(long, value_name = "PATTERN", env = "REDSCRIBE_FAULT_CRASH_ON_KEY")]
    fault_crash_on_key: Option<String>,
    /// Longest wait, in milliseconds, before processed uploads are loaded (one COPY per batch).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    batch_age_ms: u64,
    /// Recordings (and parts of long ones) heard at once.
    #[arg(long, default_value_t = redscribe_core::settings::CLI_CONCURRENCY as u16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Run only the stand-ins: upload events stay in the journal (for a later `run` or `serve`), and other
    /// code — `redscribe backfill --aws`, a benchmark, your own — can drive the endpoints.
    #[arg(long)]
    no_pipeline: bool,
    #[command(flatten)]
    speech: SpeechArgs,
}

/// Writes an AWS CLI config and credentials file with a profile pointing at the stand-ins (service-specific
/// endpoints, which the aws CLI and every AWS SDK read from a `services` section).
fn write_profile(dir: &Path, creds: &Credentials, s3: &str, data_api: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = dir.join("config");
    let credentials = dir.join("credentials");
    std::fs::write(
        &config,
        format!(
            "[profile {PROFILE}]\nregion = {LOCAL_REGION}\nservices = {PROFILE}\n\n[services {PROFILE}]\n\
             s3 =\n  endpoint_url = {s3}\n\
             # The aws CLI spells the Data API's key redshift_data, the AWS SDK for Rust redshift-data.\n\
             redshift_data =\n  endpoint_url = {data_api}\nredshift-data =\n  endpoint_url = {data_api}\n"
        ),
    )
    .with_context(|| format!("writing {}", config.display()))?;
    let secret = format!(
        "[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        creds.access_key_id, creds.secret_access_key
    );
    write_private(&credentials, secret.as_bytes()).with_context(|| format!("writing {}", credentials.display()))?;
    Ok((config, credentials))
}

/// Writes a file only its owner may read (mode 0600, also when it was there before with a wider mode).
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // `mode` applies to a new file only: narrow an existing one before the secret goes in.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    options.open(path)?.write_all(contents)
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::listen();
    let data_dir = data_dir_or_default(args.data_dir.as_ref())?;
    let api = DataApiConfig { max_active_statements: args.max_active_statements, ..DataApiConfig::default() };
    let mut target = Target::local_on(data_dir.clone(), args.s3_addr, args.data_api_addr, api).await?;
    let services = target.local.take().context("local services")?;
    let warehouse_file = services.warehouse_file();
    let StandIns { s3, data_api, journal, events, credentials: creds, .. } = services;
    let data_api = data_api.context("the Data API stand-in")?;
    if args.fail_active_statements_exceeded > 0 {
        data_api.faults().fail_next_with_active_statements_exceeded(args.fail_active_statements_exceeded);
    }
    let endpoint = s3.endpoint_url();
    let data_api_endpoint = data_api.endpoint_url();
    let (config_file, credentials_file) =
        write_profile(&crate::local::profile_dir(&data_dir), &creds, &endpoint, &data_api_endpoint)?;

    let source = crate::dashboard::Source::shipped(&data_dir, target.warehouse.clone())?;
    let dashboard = crate::dashboard::serve(Arc::new(source), args.dashboard_addr).await?;

    // The model loads before the endpoints are announced: once they are, uploads are transcribed.
    let transcriber = if args.no_pipeline { None } else { args.speech.transcriber(Some(&target.metrics))? };

    println!("redscribe local services (data: {})", data_dir.display());
    println!("  S3 endpoint:        {endpoint}");
    println!("  Data API endpoint:  {data_api_endpoint}");
    println!("  warehouse:          {} (database {DATABASE}, any workgroup or cluster name)", warehouse_file.display());
    // The secret is not printed: it is in the profile's credentials file, readable by its owner only.
    println!("  access key:         {} (secret in {})", creds.access_key_id, credentials_file.display());
    println!("  input bucket:       s3://{DEFAULT_INPUT_BUCKET}/");
    println!("  dashboard:          {}", dashboard.url());
    println!("Use them from the aws CLI with the generated profile:");
    println!(
        "  export AWS_CONFIG_FILE={} AWS_SHARED_CREDENTIALS_FILE={} AWS_PROFILE={PROFILE}",
        config_file.display(),
        credentials_file.display()
    );
    println!("  aws s3 cp call.wav s3://{DEFAULT_INPUT_BUCKET}/in/call.wav");
    println!("  aws redshift-data execute-statement --database {DATABASE} --workgroup-name local --sql \"select 1\"");
    println!("or with any SDK: region {LOCAL_REGION}, S3 path-style addressing, and the endpoints above");
    println!("(AWS_ENDPOINT_URL_S3={endpoint} AWS_ENDPOINT_URL_REDSHIFT_DATA={data_api_endpoint}).");
    let pending = journal.unacknowledged().len();
    if pending > 0 {
        println!("{pending} upload event(s) from an earlier run are waiting for the pipeline.");
    }

    // The pipeline on every upload: transcribe each event, load in batches, acknowledge after the load.
    let pipeline = if args.no_pipeline {
        println!("The pipeline is off (--no-pipeline): upload events stay in the journal for a later run.");
        None
    } else {
        let batch_age = Duration::from_millis(args.batch_age_ms);
        let speech = &args.speech;
        let mut stage = target.stage(speech.stage_config(false), transcriber);
        if let Some(pattern) = &args.fault_crash_on_key {
            stage = stage.with_crash_on(pattern);
        }
        let stage = Arc::new(stage);
        let bucket = DEFAULT_INPUT_BUCKET.to_string();
        let concurrency = usize::from(args.concurrency);
        Some(tokio::spawn(follow(events, journal, target, stage, bucket, batch_age, concurrency)))
    };
    shutdown.requested().await;
    eprintln!("redscribe: stopping (requests in flight finish first)");
    dashboard.stop().await;
    s3.stop().await;
    data_api.stop().await;
    if let Some(pipeline) = pipeline {
        pipeline.abort();
    }
    Ok(())
}

/// Ctrl-C or SIGTERM, listened for from the moment it is created: a signal that arrives while the model is still
/// loading is not lost, and does not kill the process before it stops its servers.
pub struct Shutdown {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Shutdown {
    pub fn listen() -> Shutdown {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Shutdown { signals: signal(SignalKind::terminate()).ok().zip(signal(SignalKind::interrupt()).ok()) }
        }
        #[cfg(not(unix))]
        Shutdown {}
    }

    pub async fn requested(self) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.signals {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Processes every delivered event and loads the results in batches (bounded by age and count), on the one
/// driver: each journal event goes in raw, is admitted there like any other delivery, a transient failure is
/// retried with backoff while everything else goes on, and the event is acknowledged in the journal once
/// everything it announced is loaded or quarantined.
async fn follow(
    mut deliveries: UnboundedReceiver<Delivery>,
    journal: Arc<EventJournal>,
    target: Target,
    stage: Arc<TranscribeStage<S3Objects>>,
    bucket: String,
    batch_age: Duration,
    concurrency: usize,
) {
    let (jobs, input) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(delivery) = deliveries.recv().await {
            let job = Job { token: delivery.seq, delivery: driver::Delivery::Notification(delivery.event) };
            if jobs.send(job).is_err() {
                break;
            }
        }
    });
    let config = DriverConfig {
        batch_age,
        concurrency,
        retries: Retries::FOREVER,
        fallback_bucket: bucket.clone(),
        ..DriverConfig::default()
    };
    let mut listener =
        Acknowledge { journal, data_dir: target.data_dir.clone().unwrap_or_default(), metrics: target.metrics.clone() };
    let driver = Driver::new(stage, Arc::new(target.loader(&bucket)), config);
    driver.run(input, &mut listener).await;
}

/// What `serve` does with what the driver hears: a line per recording and per load, the metrics written after
/// each load, and journal acknowledgements.
struct Acknowledge {
    journal: Arc<EventJournal>,
    data_dir: PathBuf,
    metrics: Arc<redscribe_core::emf::Recorder>,
}

impl Listener<u64> for Acknowledge {
    fn processed(&mut self, event: &ObjectEvent, outcome: &Result<Processed, PortError>) {
        let status = match outcome {
            Ok(Processed::Written(f)) if !f.details.is_empty() => "transcribed".to_string(),
            Ok(Processed::Written(_)) => "read".to_string(),
            Ok(Processed::Quarantined { code, .. }) => format!("failed, {code}"),
            Ok(Processed::Split { parts }) => format!("cut into {parts} parts"),
            Ok(Processed::Part { part }) => format!("{} heard", part.describe()),
            Ok(Processed::Skipped) => "nothing to do".to_string(),
            Err(e) => format!("{e}; will retry"),
        };
        eprintln!("s3://{}/{} processed ({status})", event.object.bucket, event.object.key);
    }

    fn loaded(&mut self, report: &LoadReport) {
        let rejected = if report.rejected.is_empty() {
            String::new()
        } else {
            format!(", {} rejected by the warehouse", report.rejected.len())
        };
        let superseded = if report.superseded.is_empty() {
            String::new()
        } else {
            format!(", {} not loaded (the recording is gone or holds newer bytes)", report.superseded.len())
        };
        eprintln!(
            "loaded {} file(s) with {} COPY statement(s){rejected}{superseded}",
            report.loaded.len(),
            report.batches
        );
        if let Err(e) = flush_metrics(&self.data_dir, &self.metrics) {
            eprintln!("metrics: {e:#}");
        }
    }

    fn settled(&mut self, seq: u64, _message: Option<String>, settled: Settled) {
        match settled {
            Settled::Done => {
                if let Err(e) = self.journal.ack(seq) {
                    eprintln!("event {seq}: cannot record the acknowledgement: {e}");
                }
            }
            // Retries::FOREVER never gives up; kept for a restart if it ever does.
            Settled::Retry(e) => eprintln!("event {seq}: {e}; kept for the next start"),
        }
    }
}
