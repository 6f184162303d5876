//! `redscribe`: the command-line tool. Thin: parse arguments, run one command, map errors to exit codes.

mod alarms;
mod backfill;
mod dashboard;
mod demo;
mod eval;
mod forget;
mod inspect;
mod local;
mod pass;
mod query;
mod replay;
mod reprocess;
mod run;
mod serve;
mod target;
mod transcribe;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Turn audio recordings into rows of a warehouse table.
#[derive(Debug, Parser)]
#[command(name = "redscribe", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr: human-readable text, or one JSON object per event (filter with RUST_LOG, default
    /// `warn`; e.g. RUST_LOG=info shows every processed recording with its bucket, key and id).
    #[arg(long, global = true, value_enum, default_value = "text", env = "REDSCRIBE_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole product on the sample recordings: stand-ins up, samples uploaded, rows loaded and printed.
    Demo(demo::DemoArgs),
    /// Word error rate against reference texts (refs.tsv: file<TAB>reference), of Whisper or of given transcripts.
    Eval(eval::EvalArgs),
    /// Print the audio metadata of recordings (or why each is rejected), one JSON line per file.
    Inspect(inspect::InspectArgs),
    /// Upload recordings to the local stand-ins and run the whole pipeline on them once.
    Run(run::RunArgs),
    /// Process recordings already in a bucket (no upload events needed), locally or with --aws.
    Backfill(backfill::BackfillArgs),
    /// Erase recordings from the warehouse (their rows become tombstones; segments, words and attributes go),
    /// by s3:// key, id or condition; locally, or through the load function with --aws.
    Forget(forget::ForgetArgs),
    /// Hear recordings already in the table again (a better model, a fix), by date, key prefix or condition;
    /// locally, or queued for the transcribe function with --aws.
    Reprocess(reprocess::ReprocessArgs),
    /// Process quarantined recordings again after a fix (from their records under rejected/).
    Replay(replay::ReplayArgs),
    /// Run SQL through the Redshift Data API (local or AWS) and print the rows.
    Query(query::QueryArgs),
    /// Transcribe recordings with Whisper, in process: one JSON line per file (text, segments, quality, timing).
    Transcribe(transcribe::TranscribeArgs),
    /// Run the local stand-ins (S3 and the Redshift Data API) on loopback until Ctrl-C or SIGTERM.
    Serve(serve::ServeArgs),
    /// The shipped Grafana dashboard drawn from a local run, on a page on loopback (or --check: what each panel has).
    Dashboard(dashboard::DashboardArgs),
    /// Create or update the shipped CloudWatch alarms (apply), or show them with their state (list).
    Alarms(alarms::AlarmsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Alarms(args) => alarms::run(args),
        Command::Backfill(args) => backfill::run(args),
        Command::Dashboard(args) => dashboard::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Forget(args) => forget::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Reprocess(args) => reprocess::run(args),
        Command::Query(args) => query::run(args),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Transcribe(args) => transcribe::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redscribe: {e:#}");
            ExitCode::FAILURE
        }
    }
}
