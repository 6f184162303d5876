//! `redscribe alarms apply` and `redscribe alarms list`: the shipped CloudWatch alarms (`alarms/alarms.json`,
//! compiled in) created or updated with `PutMetricAlarm`, and shown with their state from `DescribeAlarms`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use redscribe_aws::alarms::{apply, Alarms};

#[derive(Debug, clap::Args)]
pub struct AlarmsArgs {
    #[command(subcommand)]
    command: AlarmsCommand,
    /// AWS region; otherwise the AWS configuration decides.
    #[arg(long, global = true, value_name = "REGION")]
    region: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum AlarmsCommand {
    /// Create or update every alarm of the alarms file (the same name replaces the alarm).
    Apply(ApplyArgs),
    /// Show the alarms whose names start with a prefix, with their state.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
struct ApplyArgs {
    /// SNS topic the alarms notify (ALARM and OK).
    #[arg(long, value_name = "ARN", env = "REDSCRIBE_ALARM_TOPIC_ARN")]
    sns_topic_arn: String,
    /// Metric namespace the functions publish to.
    #[arg(long, value_name = "NAME", env = "REDSCRIBE_METRICS_NAMESPACE", default_value = "Redscribe")]
    namespace: String,
    /// Name of the transcribe function.
    #[arg(long, value_name = "NAME", default_value = "redscribe-transcribe")]
    transcribe_function: String,
    /// Name of the load function.
    #[arg(long, value_name = "NAME", default_value = "redscribe-load")]
    load_function: String,
    /// Name of the dead-letter queue of the recordings queue.
    #[arg(long, value_name = "NAME", default_value = "redscribe-recordings-dlq")]
    dlq_name: String,
    /// Name of the dead-letter queue of the results queue (the load function's).
    #[arg(long, value_name = "NAME", default_value = "redscribe-results-dlq")]
    results_dlq_name: String,
    /// Whisper model the transcribe function runs (the `Model` dimension of its RTF metric).
    #[arg(long, value_name = "NAME", default_value = "whisper-tiny.en")]
    model: String,
    /// Any other placeholder of a custom alarms file, as NAME=VALUE.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// An alarms file instead of the shipped one.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print the filled-in PutMetricAlarm inputs (JSON) instead of applying them.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Alarm name prefix.
    #[arg(long, value_name = "PREFIX", default_value = "redscribe-")]
    prefix: String,
}

pub fn run(args: AlarmsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        match args.command {
            AlarmsCommand::Apply(apply_args) => {
                let specs = render(&apply_args)?;
                if apply_args.dry_run {
                    println!("{}", serde_json::to_string_pretty(&specs)?);
                    return Ok(());
                }
                let conf = redscribe_aws::config::load(None, args.region.as_deref()).await;
                let names = apply(&Alarms::from_conf(&conf), &specs).await.context("applying the alarms")?;
                for name in &names {
                    println!("applied {name}");
                }
                println!("{} alarm(s) applied", names.len());
                Ok(())
            }
            AlarmsCommand::List(list) => {
                let conf = redscribe_aws::config::load(None, args.region.as_deref()).await;
                let alarms = Alarms::from_conf(&conf).list(&list.prefix).await.context("listing the alarms")?;
                let mut table = comfy_table::Table::new();
                table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
                table.set_header(["alarm", "state", "metric", "condition", "actions"]);
                for a in &alarms {
                    let condition = match a.threshold {
                        Some(t) => format!("{} {t}", a.comparison),
                        None => a.comparison.clone(),
                    };
                    let actions = if a.actions_enabled { a.actions.join(", ") } else { "disabled".into() };
                    table.add_row([a.name.as_str(), a.state.as_str(), a.metric.as_str(), &condition, &actions]);
                }
                println!("{table}");
                println!("{} alarm(s)", alarms.len());
                Ok(())
            }
        }
    })
}

fn render(args: &ApplyArgs) -> anyhow::Result<Vec<redscribe_core::alarms::AlarmSpec>> {
    let text = match &args.file {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => redscribe_core::alarms::SHIPPED.to_string(),
    };
    let mut values: BTreeMap<String, String> = [
        ("SNS_TOPIC_ARN", &args.sns_topic_arn),
        ("NAMESPACE", &args.namespace),
        ("TRANSCRIBE_FUNCTION", &args.transcribe_function),
        ("LOAD_FUNCTION", &args.load_function),
        ("DLQ_NAME", &args.dlq_name),
        ("RESULTS_DLQ_NAME", &args.results_dlq_name),
        ("MODEL", &args.model),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect();
    for pair in &args.set {
        let (name, value) = pair.split_once('=').with_context(|| format!("--set {pair:?}: expected NAME=VALUE"))?;
        values.insert(name.to_string(), value.to_string());
    }
    Ok(redscribe_core::alarms::render(&text, &values)?)
}
