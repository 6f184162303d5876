//! One pass of the pipeline over a list of deliveries, with progress bars and a summary: what `run`,
//! `backfill`, `replay` and `demo` share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use redscribe_core::attributes::KeyPattern;
use redscribe_core::emf::Recorder;
use redscribe_core::events::ObjectEvent;
use redscribe_core::layout::Layout;
use redscribe_core::metrics::Metric;
use redscribe_core::ports::{PortError, Transcriber};
use redscribe_core::settings::{self, var};
use redscribe_core::talk::ChannelRoles;
use redscribe_pipeline::driver::{
    Admitted, BatchLimits, Delivery, Driver, DriverConfig, Job, Listener, Report, Retries, Settled,
};
use redscribe_pipeline::transcribe::RecordingLimits;
use redscribe_pipeline::TranscribeConfig;
use redscribe_pipeline::{LoadReport, Processed};
use redscribe_whisper::{DecodeOptions, Engine, EngineConfig, ModelChoice, WhisperTranscriber};

use crate::target::Target;

/// A setting's range (`core::settings`) as clap's integer parsers take it.
fn wide(range: std::ops::RangeInclusive<usize>) -> std::ops::RangeInclusive<i64> {
    *range.start() as i64..=*range.end() as i64
}

/// How a pass runs.
#[derive(Debug, Clone, clap::Args)]
pub struct PassArgs {
    /// Also write each result as JSON Lines beside its Parquet file.
    #[arg(long)]
    pub jsonl: bool,
    /// Recordings processed at once.
    #[arg(long, default_value_t = settings::CLI_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(wide(settings::CLI_CONCURRENCY_RANGE)))]
    pub concurrency: u16,
    /// Most result files per load (one COPY each).
    #[arg(long, default_value_t = settings::DEFAULT_LOAD_BATCH_FILES as u32, value_parser = clap::value_parser!(u32).range(wide(settings::LOAD_BATCH_FILES_RANGE)))]
    pub batch_files: u32,
    /// Most megabytes of result files per load.
    #[arg(long, value_name = "MB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_mb: u64,
    #[command(flatten)]
    pub speech: SpeechArgs,
}

/// Which model, and how it decodes (shared by the pipeline commands, `transcribe` and `eval`).
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Whisper model by name, from the setup step's cache (`scripts/setup.sh --models base` fetches base;
    /// `$REDSCRIBE_CACHE/models`, else `~/.cache/redscribe/models`)
    #[arg(long, value_name = "NAME", env = var::MODEL, default_value = settings::DEFAULT_MODEL,
          value_parser = clap::builder::PossibleValuesParser::new(redscribe_whisper::MODEL_NAMES))]
    pub model: String,
    /// CTranslate2 Whisper model folder, instead of a model by name
    #[arg(long, value_name = "DIR", env = var::MODEL_DIR)]
    pub model_dir: Option<std::path::PathBuf>,
    /// The language spoken (e.g. `es`): a multilingual model skips detection [default: detected per recording]
    #[arg(long, value_name = "CODE", env = var::LANGUAGE)]
    pub language: Option<String>,
    /// Beam size of the decoder (1: greedy, fastest).
    #[arg(long, env = var::BEAM_SIZE, default_value_t = settings::DEFAULT_BEAM_SIZE as u16,
          value_parser = clap::value_parser!(u16).range(wide(settings::BEAM_SIZE_RANGE)))]
    pub beam_size: u16,
    /// `batched`: stretches of speech split at pauses, decoded `--batch-size` at a time (faster on long
    /// recordings, memory for the batch); `sequential`: 30 s windows one after the other, the text so far as the
    /// prompt (least memory)
    #[arg(long, value_name = "HOW", env = var::DECODE, default_value = "batched",
          value_parser = ["sequential", "batched"])]
    pub decode: String,
    /// Stretches of speech per batch, with `--decode batched`
    #[arg(long, value_name = "N", env = var::BATCH_SIZE, default_value_t = settings::DEFAULT_BATCH_SIZE as u16,
          value_parser = clap::value_parser!(u16).range(wide(settings::BATCH_SIZE_RANGE)))]
    pub batch_size: u16,
    /// With `--decode batched`: short stretches of speech share a 30 s window, 400 ms apart (`false`: a window
    /// each, up to its last pause)
    #[arg(long, value_name = "BOOL", env = var::PACK, default_value_t = true, action = clap::ArgAction::Set)]
    pub pack: bool,
    /// With `--decode batched`: windows with under 26 s of audio are encoded with it and 4 s after it, at least
    /// 15 s (`false`: padded to 30 s, as faster-whisper does)
    #[arg(long, value_name = "BOOL", env = var::TRIM_WINDOWS, default_value_t = true, action = clap::ArgAction::Set)]
    pub trim_windows: bool,
}

impl Default for ModelArgs {
    fn default() -> ModelArgs {
        ModelArgs {
            model: settings::DEFAULT_MODEL.into(),
            model_dir: None,
            language: None,
            beam_size: settings::DEFAULT_BEAM_SIZE as u16,
            decode: "batched".into(),
            batch_size: settings::DEFAULT_BATCH_SIZE as u16,
            pack: true,
            trim_windows: true,
        }
    }
}

impl ModelArgs {
    /// Loads the model (`threads` 0: one per core); a missing or broken model is an error here, before any
    /// recording.
    pub fn load(&self, threads: usize) -> anyhow::Result<(Engine, DecodeOptions)> {
        // The one resolver, as the transcribe function uses it (nothing bundled here: the cache).
        let choice = ModelChoice { name: Some(self.model.clone()), dir: self.model_dir.clone() };
        let dir = choice.resolve(&[], &settings::cache_dir_from_env())?;
        let config = EngineConfig { threads, ..EngineConfig::new(dir) };
        let engine = Engine::load(&config)?;
        let options = DecodeOptions {
            beam_size: usize::from(self.beam_size.max(1)),
            language: self.language.clone(),
            decoding: self.decode.parse().map_err(anyhow::Error::msg)?,
            batch_size: usize::from(self.batch_size),
            pack: self.pack,
            trim_windows: self.trim_windows,
            ..DecodeOptions::default()
        };
        Ok((engine, options))
    }
}

/// Whether and how recordings are transcribed.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SpeechArgs {
    /// Audio metadata only: no transcription (rows are `metadata_only`).
    #[arg(long)]
    pub no_transcribe: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub limits: LimitsArgs,
    /// A recording longer than this many seconds is cut at pauses into parts heard at once (as many as
    /// --concurrency) and joined into one row; `off` hears every recording whole
    #[arg(long, value_name = "SECONDS", env = var::PART_SECONDS, default_value = "600", value_parser = parse_part_arg)]
    pub part_seconds: PartSeconds,
    /// Redact every transcript: `pii` (card numbers, CVVs, expiry dates, bank accounts, SSNs, phone numbers,
    /// e-mail addresses and PINs become [CREDIT_DEBIT_NUMBER]-style tags), `pii,audio` (and a WAV copy of each
    /// recording with the values silenced, under processed/redacted-audio/), or `off`; a recording's
    /// `x-amz-meta-redact` can add to it
    #[arg(long, value_name = "pii|pii,audio|off", env = var::REDACT, default_value = "off")]
    pub redact: redscribe_core::redact::RedactOptions,
    /// A regular expression over each recording's whole key whose named groups become its attributes
    /// (transcription_attributes; recorded_at, call_id and agent_id also columns of the row), e.g.
    /// 'in/(?P<queue>[^/]+)/(?P<recorded_at>\d{8}T\d{6})_agent-(?P<agent_id>[^_]+)_.*\.wav'. A key that does not
    /// match is processed all the same (the KeyPatternMisses metric counts it)
    #[arg(long, value_name = "REGEX", env = var::KEY_PATTERN, value_parser = parse_key_pattern)]
    pub key_pattern: Option<KeyPattern>,
    /// The role of each channel of a two-channel call, in channel order (`agent,customer`): each segment's
    /// speaker, and the row's agent_talk_s and customer_talk_s
    #[arg(long, value_name = "ROLE,ROLE", env = var::CHANNEL_ROLES, default_value = "", value_parser = parse_roles)]
    pub channel_roles: ChannelRoles,
}

impl SpeechArgs {
    /// The transcribe stage's settings these arguments give (its layout is the target's).
    pub fn stage_config(&self, jsonl: bool) -> TranscribeConfig {
        TranscribeConfig {
            jsonl,
            limits: self.limits.limits(),
            part_s: self.part_seconds.0,
            redact: self.redact,
            key_pattern: self.key_pattern.clone(),
            channel_roles: self.channel_roles.clone(),
            ..TranscribeConfig::default()
        }
    }
}

fn parse_key_pattern(text: &str) -> Result<KeyPattern, String> {
    KeyPattern::parse(text).map_err(|e| e.to_string())
}

fn parse_roles(text: &str) -> Result<ChannelRoles, String> {
    ChannelRoles::parse(text).map_err(|e| e.to_string())
}

/// `--part-seconds`: a length, or none (recordings heard whole).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartSeconds(pub Option<f64>);

impl Default for PartSeconds {
    fn default() -> PartSeconds {
        PartSeconds(Some(redscribe_core::parts::DEFAULT_PART_SECONDS))
    }
}

pub fn parse_part_arg(text: &str) -> Result<PartSeconds, String> {
    settings::parse_part_seconds(text).map(PartSeconds)
}

/// What a recording may be; past it, it is quarantined (`too_large`, `too_long`).
#[derive(Debug, Clone, clap::Args)]
pub struct LimitsArgs {
    /// Largest object read, in bytes; a bigger one is refused from its event's size, unread [default: 2 GiB]
    #[arg(long, value_name = "BYTES", env = var::MAX_OBJECT_BYTES, default_value_t = settings::DEFAULT_MAX_OBJECT_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_object_bytes: u64,
    /// Longest recording, in seconds; a longer one is refused from its header or as soon as decoding passes it
    /// [default: 4 hours]
    #[arg(long, value_name = "SECONDS", env = var::MAX_DURATION_S, default_value_t = settings::DEFAULT_MAX_DURATION_S,
          value_parser = settings::parse_seconds)]
    pub max_duration: f64,
}

impl Default for LimitsArgs {
    fn default() -> LimitsArgs {
        LimitsArgs {
            max_object_bytes: settings::DEFAULT_MAX_OBJECT_BYTES,
            max_duration: settings::DEFAULT_MAX_DURATION_S,
        }
    }
}

impl LimitsArgs {
    pub fn limits(&self) -> RecordingLimits {
        RecordingLimits { max_bytes: self.max_object_bytes, max_duration_s: self.max_duration }
    }
}

impl SpeechArgs {
    /// The transcriber, loaded once. Its name becomes the `Model` dimension of `metrics`, and its load time a
    /// `ModelLoadTime` point.
    pub fn transcriber(&self, metrics: Option<&Recorder>) -> anyhow::Result<Option<Arc<dyn Transcriber>>> {
        if self.no_transcribe {
            return Ok(None);
        }
        let (engine, options) = self.model.load(0)?;
        if let Some(m) = metrics {
            m.set_model(&engine.name);
            m.record(Metric::ModelLoadTime, engine.load_time.as_secs_f64() * 1000.0, None, None);
        }
        Ok(Some(Arc::new(WhisperTranscriber { engine, options })))
    }
}

impl PassArgs {
    pub fn limits(&self) -> BatchLimits {
        BatchLimits { files: self.batch_files as usize, bytes: self.batch_mb << 20 }
    }
}

pub fn bar(len: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what);
    bar
}

/// What a pass did: the driver's one report, by job (the index of the delivery given).
pub struct Pass {
    pub report: Report<usize>,
}

impl Pass {
    /// Jobs still failing transiently: to be tried again.
    pub fn retry_later(&self) -> usize {
        let jobs: std::collections::BTreeSet<usize> = self.report.to_retry().map(|(job, _, _)| *job).collect();
        jobs.len()
    }

    /// Whether job `i` is settled for good (loaded, or quarantined): its event can be acknowledged.
    pub fn done(&self, i: usize) -> bool {
        self.report.done(&i)
    }

    /// Prints the summary lines shared by every command (after the command's own first line).
    pub fn print(&self) {
        let processed = self.report.files().count();
        let rejected = self.report.quarantined();
        let rejected_total: usize = rejected.values().sum();
        println!("  processed:        {processed} ({} read, {rejected_total} rejected)", processed - rejected_total);
        for (code, n) in &rejected {
            println!("    rejected {}: {n}", code.as_str());
        }
        let (split, parts) = self.report.parted();
        if split + parts > 0 {
            println!("  in parts:         {split} recording(s) cut, {parts} more part(s) heard");
        }
        let admitted = &self.report.admitted;
        if admitted.skipped > 0 {
            println!("  skipped:          {} (test events, folder markers, own outputs, duplicates)", admitted.skipped);
        }
        if admitted.invalid > 0 {
            println!("  not events:       {} (kept under rejected/invalid_event/)", admitted.invalid);
        }
        let retry = self.retry_later();
        if retry > 0 {
            println!("  to retry:         {retry} (transient failures; kept for the next attempt)");
        }
        let load = &self.report.load;
        let rows: i64 = load.loaded.iter().map(|f| f.rows).sum();
        println!("  rows loaded:      {rows} into transcription_results");
        println!("  COPY statements:  {}", load.batches);
        if !load.rejected.is_empty() {
            println!("  load rejected:    {} file(s), see load_audit and rejected/load_rejected/", load.rejected.len());
        }
        if !load.superseded.is_empty() {
            println!(
                "  not loaded:       {} file(s) whose recording is gone or holds newer bytes",
                load.superseded.len()
            );
        }
    }
}

/// A pass's listener: progress bars over the pass's report.
struct Progress {
    process: ProgressBar,
    load: ProgressBar,
    report: Report<usize>,
}

impl Listener<usize> for Progress {
    fn admitted(&mut self, counts: &Admitted) {
        self.process.inc_length(counts.recordings as u64);
        self.report.admitted(counts);
    }

    fn processed(&mut self, event: &ObjectEvent, outcome: &Result<Processed, PortError>) {
        match outcome {
            Err(e) => self
                .process
                .println(format!("s3://{}/{}: {e} (will be tried again)", event.object.bucket, event.object.key)),
            Ok(_) => {
                self.process.inc(1);
                self.load.inc_length(1);
            }
        }
        self.report.processed(event, outcome);
    }

    fn loaded(&mut self, report: &LoadReport) {
        self.load.inc((report.loaded.len() + report.rejected.len() + report.superseded.len()) as u64);
        self.report.loaded(report);
    }

    fn settled(&mut self, job: usize, message: Option<String>, settled: Settled) {
        self.report.settled(job, message, settled);
    }
}

/// The parts of the long recordings `first` cut, heard in passes of their own through the same driver: locally
/// the journal holds their requests' events (in AWS the bucket's notification sends them to the function). Each
/// such event is acknowledged once its part is settled; one still failing stays for the next `run` or `serve`.
pub async fn hear_parts(target: &mut Target, bucket: &str, args: &PassArgs, first: &Pass) -> anyhow::Result<Vec<Pass>> {
    let mut passes: Vec<Pass> = Vec::new();
    while passes.last().unwrap_or(first).report.parted().0 > 0 {
        let deliveries = take_requests(target, Layout::is_part_request);
        if deliveries.is_empty() {
            break;
        }
        passes.push(process_journaled(target, bucket, &deliveries, args).await?);
    }
    Ok(passes)
}

/// The local journal's pending events that announce a request of the kind `is_request` names (a part's, a
/// reprocess's), taken from the journal's queue; none when the target is not local.
pub fn take_requests(target: &mut Target, is_request: fn(&Layout, &str) -> bool) -> Vec<redscribe_local::s3::Delivery> {
    let layout = target.layout.clone();
    let Some(local) = target.local.as_mut() else { return Vec::new() };
    let announces = |event: &serde_json::Value| {
        redscribe_core::events::normalize(event, &layout)
            .is_ok_and(|n| n.objects.iter().any(|o| is_request(&layout, &o.object.key)))
    };
    local.take_pending().into_iter().filter(|d| announces(&d.event)).collect()
}

/// [`process_and_load`] of the local journal's events, one job each, each acknowledged once it is settled: an
/// event still failing stays in the journal for the next `run` or `serve`.
pub async fn process_journaled(
    target: &Target,
    bucket: &str,
    deliveries: &[redscribe_local::s3::Delivery],
    args: &PassArgs,
) -> anyhow::Result<Pass> {
    let jobs = deliveries.iter().map(|d| Delivery::Notification(d.event.clone())).collect();
    let pass = process_and_load(target, bucket, jobs, args).await?;
    if let Some(local) = &target.local {
        for (i, d) in deliveries.iter().enumerate() {
            if pass.done(i) {
                local.journal.ack(d.seq)?;
            }
        }
    }
    Ok(pass)
}

/// Admits, processes and loads the deliveries with the target's transcribe stage and load stage (manifests and
/// quarantine records in `bucket`), on the one driver; transient failures are retried a few times within the
/// pass. Job `i` of the report is the `i`-th delivery given.
pub async fn process_and_load(
    target: &Target,
    bucket: &str,
    deliveries: Vec<Delivery>,
    args: &PassArgs,
) -> anyhow::Result<Pass> {
    let mut progress = Progress { process: bar(0, "process"), load: bar(0, "load"), report: Report::default() };
    let transcriber = args.speech.transcriber(Some(&target.metrics))?;
    let speech = &args.speech;
    let stage = target.stage(speech.stage_config(args.jsonl), transcriber);
    let config = DriverConfig {
        concurrency: usize::from(args.concurrency),
        batch: args.limits(),
        // A pass loads when its batch is full or its input is done.
        batch_age: Duration::from_secs(24 * 3600),
        retries: Retries::BRIEF,
        fallback_bucket: bucket.to_string(),
        ..DriverConfig::default()
    };
    let jobs = deliveries.into_iter().enumerate().map(|(token, delivery)| Job { token, delivery }).collect();
    let started = Instant::now();
    let driver = Driver::new(Arc::new(stage), Arc::new(target.loader(bucket)), config);
    driver.run_all(jobs, &mut progress).await;
    progress.process.finish_with_message("done");
    progress.load.finish_with_message(format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(Pass { report: progress.report })
}
