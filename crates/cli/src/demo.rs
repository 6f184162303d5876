//! `redscribe demo`: the product in one command — start the stand-ins, upload the sample recordings that the
//! setup step generated, run the pipeline on their upload events, and print the rows of `transcription_results`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use redscribe_core::talk::ChannelRoles;

use crate::local::data_dir_or_default;
use crate::query::print_table;
use crate::run::{run_on, RunArgs};
use crate::target::Target;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Folder of sample recordings (`scripts/setup.sh` generates `samples/` with espeak-ng, sox and ffmpeg).
    #[arg(long, value_name = "DIR", default_value = "samples")]
    samples: PathBuf,
    /// Data folder of the local stand-ins [default: the user's data directory, e.g. ~/.local/share/redscribe]
    #[arg(long, value_name = "DIR", env = "REDSCRIBE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// After the run, serve the dashboard page drawn from it (its address printed) until Ctrl-C [default: when
    /// standard output is a terminal].
    #[arg(long, conflicts_with = "no_dashboard")]
    dashboard: bool,
    /// End after the rows are printed, without serving the dashboard page.
    #[arg(long)]
    no_dashboard: bool,
}

impl DemoArgs {
    /// Whether the demo ends by serving its dashboard: asked for, or someone is watching and did not say no.
    fn serves_dashboard(&self) -> bool {
        use std::io::IsTerminal;
        self.dashboard || (!self.no_dashboard && std::io::stdout().is_terminal())
    }
}

/// What the demo shows of each row.
const ROWS: &str = "SELECT object_key, status, error_code, codec, ROUND(duration_s, 2) AS duration_s, sample_rate, \
                    LEFT(text, 48) AS text FROM transcription_results ORDER BY object_key";

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let has_samples = std::fs::read_dir(&args.samples).map(|mut d| d.next().is_some()).unwrap_or(false);
    if !has_samples {
        anyhow::bail!(
            "no sample recordings in {}: run scripts/setup.sh (it generates them), or pass --samples DIR",
            args.samples.display()
        );
    }
    let data_dir = data_dir_or_default(args.data_dir.as_ref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut target = Target::local(data_dir.clone()).await?;
        let mut run = RunArgs::defaults(vec![args.samples.clone()]);
        // The samples' support call has the agent on its first channel and the customer on its second.
        run.pass.speech.channel_roles = ChannelRoles::parse("agent,customer")?;
        let result = async {
            run_on(&mut target, &run).await?;
            let rows = target.warehouse.query_rows(ROWS, &[], Duration::from_secs(60)).await.context("querying")?;
            println!("\ntranscription_results (through the Data API, {} row(s)):", rows.rows.len());
            print_table(&mut std::io::stdout().lock(), &rows)
        }
        .await;
        // The run's metrics go to the data folder first: the page draws them.
        crate::local::flush_metrics(&data_dir, &target.metrics)?;
        if let Err(e) = result {
            target.close().await?;
            return Err(e);
        }
        println!("Data folder: {}", data_dir.display());
        println!("Keep the services up with `redscribe serve`, then `redscribe query \"select ...\"` or the aws CLI.");
        if args.serves_dashboard() {
            let shutdown = crate::serve::Shutdown::listen();
            let source = crate::dashboard::Source::shipped(&data_dir, target.warehouse.clone())?;
            let page = crate::dashboard::serve(std::sync::Arc::new(source), "127.0.0.1:0".parse()?).await?;
            println!("dashboard: {} (Ctrl-C stops it)", page.url());
            shutdown.requested().await;
            page.stop().await;
        } else {
            println!(
                "The dashboard of this run: `redscribe demo --dashboard`, or `redscribe dashboard --data-dir {}`.",
                data_dir.display()
            );
        }
        target.close().await?;
        Ok(())
    })
}
