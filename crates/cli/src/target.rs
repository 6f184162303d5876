//! Where a pipeline command runs: the local stand-ins over a data folder (the default), or AWS — or anything that
//! speaks its APIs, such as `redscribe serve` through its generated profile — with `--aws`. The stages and the
//! adapters are the same either way; only configuration differs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use redscribe_aws::logs::{LogEvent, LogShipper, ShipperConfig};
use redscribe_aws::redshift::DataApi;
use redscribe_aws::s3::S3Objects;
use redscribe_core::cost::{Arch, CostModel, Prices};
use redscribe_core::emf::Recorder;
use redscribe_core::layout::Layout;
use redscribe_core::load::{CopyAuthorization, Tables};
use redscribe_core::ports::Transcriber;
use redscribe_local::redshift::DataApiConfig;
use redscribe_local::StandIns;
use redscribe_pipeline::pending::Recordings;
use redscribe_pipeline::quarantine::{QuarantineSink, StoreSink};
use redscribe_pipeline::{LoadConfig, Loader, TranscribeConfig, TranscribeStage};

use crate::local::{data_dir_or_default, flush_metrics, recorder, LOCAL_COPY_ROLE};
use crate::query::WarehouseArgs;

#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// Use the AWS configuration (profile, environment, `AWS_ENDPOINT_URL_*`) and the warehouse options below
    /// instead of starting the local stand-ins.
    #[arg(long)]
    aws: bool,
    /// Data folder of the local stand-ins [default: the user's data directory, e.g. ~/.local/share/redscribe]
    #[arg(long, value_name = "DIR", env = "REDSCRIBE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// With --aws: the IAM role COPY reads S3 with [default: the warehouse's default role].
    #[arg(long, value_name = "ARN", env = "REDSHIFT_IAM_ROLE")]
    copy_role: Option<String>,
    /// With --aws: address buckets in the path (`http://host/bucket/key`), for S3-compatible endpoints.
    #[arg(long, env = redscribe_core::settings::var::S3_PATH_STYLE)]
    s3_path_style: bool,
    /// With --aws: the CloudWatch Logs group the metrics (EMF documents) go to; CloudWatch extracts the metrics
    /// the dashboards and alarms read.
    #[arg(long, value_name = "GROUP", env = "REDSCRIBE_METRICS_LOG_GROUP", default_value = "/redscribe/metrics")]
    metrics_log_group: String,
    /// With --aws: keep the metrics to yourself (no CloudWatch Logs).
    #[arg(long)]
    no_cloudwatch_metrics: bool,
    /// A price table of one's own (JSON, as pricing/aws-us-east-1.json) for the rows' cost_usd and the
    /// EstimatedCost metric [default: the shipped us-east-1 table].
    #[arg(long, value_name = "FILE", env = redscribe_core::settings::var::PRICES)]
    prices: Option<PathBuf>,
    #[command(flatten)]
    warehouse: WarehouseArgs,
}

/// The adapters and the services behind them, open.
pub struct Target {
    pub objects: Arc<S3Objects>,
    pub warehouse: Arc<DataApi>,
    pub auth: CopyAuthorization,
    pub layout: Layout,
    pub metrics: Arc<Recorder>,
    /// The stand-ins, when running locally.
    pub local: Option<StandIns>,
    /// Where EMF documents go (locally: `metrics/emf.jsonl` under the data folder).
    pub data_dir: Option<PathBuf>,
    /// With --aws: EMF documents to CloudWatch Logs, in the background.
    pub shipper: Option<LogShipper>,
    /// What the work is priced by, as the stack's functions would be billed for it.
    pub prices: Prices,
}

impl Target {
    /// What each one-shot command does: opens a target from `args` in a runtime of its own, runs `work` on it, and
    /// closes it (metrics written out, stand-ins stopped) whatever the work's outcome.
    pub fn run(args: &TargetArgs, work: impl AsyncFnOnce(&mut Target) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        runtime.block_on(async {
            let mut target = Target::open(args).await?;
            let result = work(&mut target).await;
            target.close().await?;
            result
        })
    }

    pub async fn open(args: &TargetArgs) -> anyhow::Result<Target> {
        let prices = match &args.prices {
            None => Prices::shipped(),
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                Prices::from_json(&text).with_context(|| format!("the price table {}", path.display()))?
            }
        };
        let mut target = Target::open_services(args).await?;
        target.prices = prices;
        Ok(target)
    }

    async fn open_services(args: &TargetArgs) -> anyhow::Result<Target> {
        if args.aws {
            let conf = redscribe_aws::config::load(None, args.warehouse.region.as_deref()).await;
            let objects = Arc::new(S3Objects::from_conf(&conf, args.s3_path_style));
            let warehouse = Arc::new(args.warehouse.connect().await?);
            let auth = match &args.copy_role {
                Some(arn) => CopyAuthorization::IamRole(arn.clone()),
                None => CopyAuthorization::DefaultRole,
            };
            let shipper = (!args.no_cloudwatch_metrics)
                .then(|| LogShipper::from_conf(&conf, ShipperConfig::emf(&args.metrics_log_group)));
            return Ok(Target {
                objects,
                warehouse,
                auth,
                layout: Layout::default(),
                metrics: recorder(),
                local: None,
                data_dir: None,
                shipper,
                prices: Prices::shipped(),
            });
        }
        let data_dir = data_dir_or_default(args.data_dir.as_ref())?;
        Target::local(data_dir).await
    }

    /// The stand-ins over `data_dir`, on free loopback ports, migrated.
    pub async fn local(data_dir: PathBuf) -> anyhow::Result<Target> {
        let loopback: SocketAddr = "127.0.0.1:0".parse()?;
        Target::local_on(data_dir, loopback, loopback, DataApiConfig::default()).await
    }

    /// The stand-ins over `data_dir` on the given addresses, migrated.
    pub async fn local_on(
        data_dir: PathBuf,
        s3_addr: SocketAddr,
        data_api_addr: SocketAddr,
        api: DataApiConfig,
    ) -> anyhow::Result<Target> {
        let services = crate::local::start(&data_dir, s3_addr, data_api_addr, api).await?;
        let objects = Arc::new(crate::local::objects(&services).await);
        let warehouse = Arc::new(crate::local::warehouse(&services).await?);
        redscribe_pipeline::migrate::migrate(warehouse.as_ref()).await.context("migrating the warehouse")?;
        Ok(Target {
            objects,
            warehouse,
            auth: CopyAuthorization::IamRole(LOCAL_COPY_ROLE.into()),
            layout: Layout::default(),
            metrics: recorder(),
            local: Some(services),
            data_dir: Some(data_dir),
            shipper: None,
            prices: Prices::shipped(),
        })
    }

    /// Creates the bucket when it is missing.
    pub async fn ensure_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        let client = self.objects.client();
        if client.head_bucket().bucket(bucket).send().await.is_err() {
            client.create_bucket().bucket(bucket).send().await.with_context(|| format!("creating bucket {bucket}"))?;
        }
        Ok(())
    }

    /// The transcribe stage with `config` (its layout the target's).
    pub fn stage(
        &self,
        config: TranscribeConfig,
        transcriber: Option<Arc<dyn Transcriber>>,
    ) -> TranscribeStage<S3Objects> {
        let config = TranscribeConfig { layout: self.layout.clone(), ..config };
        let cost = CostModel {
            prices: self.prices.clone(),
            memory_mb: redscribe_core::settings::TRANSCRIBE_MEMORY_MB,
            arch: Arch::X86_64,
        };
        let stage = TranscribeStage::new(self.objects.clone(), config)
            .with_quarantine(self.quarantine())
            .with_metrics(self.metrics.clone())
            .with_cost(cost, 1);
        match transcriber {
            Some(t) => stage.with_transcriber(t),
            None => stage,
        }
    }

    /// The load stage: manifests and quarantine records in `bucket`, up to five rounds of isolating files the
    /// warehouse refuses.
    pub fn loader(&self, bucket: &str) -> Loader<S3Objects, DataApi> {
        let config = LoadConfig {
            tables: Tables::default(),
            auth: self.auth.clone(),
            layout: self.layout.clone(),
            bucket: bucket.to_string(),
            max_isolation_rounds: redscribe_core::settings::ISOLATION_ROUNDS,
            // The CLI transcribes what it is pointed at, in any bucket.
            recordings: Recordings::default(),
        };
        let cost = CostModel {
            prices: self.prices.clone(),
            memory_mb: redscribe_core::settings::LOAD_MEMORY_MB,
            arch: Arch::X86_64,
        };
        Loader::new(self.objects.clone(), self.warehouse.clone(), config)
            .with_quarantine(self.quarantine())
            .with_metrics(self.metrics.clone())
            .with_cost(cost)
    }

    /// Where quarantine records go: the object store's `rejected/` prefix, where `replay` finds them.
    fn quarantine(&self) -> Arc<dyn QuarantineSink> {
        Arc::new(StoreSink::new(self.objects.clone()))
    }

    /// Writes the metrics out (to the data folder, or to CloudWatch Logs) and stops the stand-ins; returns how
    /// many EMF documents were written.
    pub async fn close(self) -> anyhow::Result<usize> {
        let written = match (&self.data_dir, &self.shipper) {
            (Some(dir), _) => flush_metrics(dir, &self.metrics)?,
            (None, Some(shipper)) => {
                let docs = self.metrics.drain_now();
                for doc in &docs {
                    shipper.send(LogEvent::from_emf(doc));
                }
                docs.len()
            }
            (None, None) => 0,
        };
        if let Some(shipper) = self.shipper {
            // Bounded: metrics never hold the command up for long.
            let stats = shipper.close(std::time::Duration::from_secs(20)).await;
            if stats.dropped > 0 {
                eprintln!("metrics: {} of {} EMF document(s) not sent to CloudWatch Logs", stats.dropped, written);
            }
        }
        if let Some(services) = self.local {
            tokio::time::timeout(std::time::Duration::from_secs(15), services.stop()).await.ok();
        }
        Ok(written)
    }
}
