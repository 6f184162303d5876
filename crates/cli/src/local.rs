//! The local stand-ins as the CLI runs them (`serve`, `run`): S3 and the Data API over one data folder, with the
//! SDK clients of the pipeline pointed at them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use redscribe_aws::redshift::{DataApi, WarehouseTarget};
use redscribe_aws::s3::S3Objects;
use redscribe_local::redshift::{DataApiConfig, DataApiServer, DataApiServerConfig, DATABASE};
use redscribe_local::s3::{Delivery, EventJournal, S3Server, S3ServerConfig};
use redscribe_local::Credentials;
use tokio::sync::mpsc::UnboundedReceiver;

/// Input bucket created at start when missing.
pub const DEFAULT_INPUT_BUCKET: &str = "recordings";
/// Region the stand-ins report.
pub const LOCAL_REGION: &str = "us-east-1";
/// The role named in COPY; the local warehouse reads the stand-in's objects whatever it is.
pub const LOCAL_COPY_ROLE: &str = "arn:aws:iam::000000000000:role/redscribe-local";
/// Workgroup name the pipeline uses locally (the warehouse answers to any).
pub const LOCAL_WORKGROUP: &str = "local";

pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    dirs::data_dir().map(|d| d.join("redscribe")).context("no user data directory; pass --data-dir")
}

/// The data folder given (`--data-dir`), else the default one.
pub fn data_dir_or_default(given: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    given.cloned().map_or_else(default_data_dir, Ok)
}

/// Both stand-ins, running.
pub struct LocalServices {
    pub s3: S3Server,
    pub data_api: DataApiServer,
    pub journal: Arc<EventJournal>,
    /// Upload events not yet taken (`serve` follows them; `run` takes what is pending).
    pub events: std::sync::Mutex<UnboundedReceiver<Delivery>>,
    pub credentials: Credentials,
    pub warehouse_file: PathBuf,
}

impl LocalServices {
    pub async fn start(
        data_dir: &Path,
        s3_addr: SocketAddr,
        data_api_addr: SocketAddr,
        api: DataApiConfig,
    ) -> anyhow::Result<LocalServices> {
        let credentials = Credentials::from_env_or_generate();
        let (journal, events) = EventJournal::open(&data_dir.join("events"), LOCAL_REGION)?;
        let journal = Arc::new(journal);
        let s3_root = data_dir.join("s3");
        let input_bucket = s3_root.join(DEFAULT_INPUT_BUCKET);
        std::fs::create_dir_all(&input_bucket).with_context(|| format!("creating {}", input_bucket.display()))?;
        let config = S3ServerConfig { addr: s3_addr, root: s3_root.clone(), credentials: credentials.clone() };
        let s3 = S3Server::start(config, journal.clone()).await?;
        let warehouse_file = data_dir.join("warehouse").join("redscribe.duckdb");
        let data_api = DataApiServer::start(DataApiServerConfig {
            addr: data_api_addr,
            database_file: warehouse_file.clone(),
            objects: s3_root,
            credentials: credentials.clone(),
            api,
        })
        .await
        .with_context(|| {
            format!("starting the Data API stand-in on {} (is `redscribe serve` using it?)", warehouse_file.display())
        })?;
        Ok(LocalServices { s3, data_api, journal, events: std::sync::Mutex::new(events), credentials, warehouse_file })
    }

    async fn sdk_config(&self, endpoint: &str) -> aws_config::SdkConfig {
        let c = &self.credentials;
        let provider = aws_credential_types::Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            None,
            None,
            "redscribe-local",
        );
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(LOCAL_REGION))
            .credentials_provider(provider)
            .load()
            .await
    }

    /// The pipeline's S3 adapter, pointed at the local endpoint.
    pub async fn objects(&self) -> S3Objects {
        S3Objects::from_conf(&self.sdk_config(&self.s3.endpoint_url()).await, true)
    }

    /// The pipeline's Data API adapter, pointed at the local endpoint.
    pub async fn warehouse(&self) -> anyhow::Result<DataApi> {
        let target = WarehouseTarget {
            workgroup: Some(LOCAL_WORKGROUP.into()),
            cluster: None,
            database: DATABASE.into(),
            db_user: None,
            secret_arn: None,
        };
        Ok(DataApi::from_conf(&self.sdk_config(&self.data_api.endpoint_url()).await, target)?
            .with_statement_timeout(Duration::from_secs(600)))
    }

    /// Creates the tables and views, and applies what migrations are missing.
    pub async fn migrate(&self, warehouse: &DataApi) -> anyhow::Result<()> {
        redscribe_pipeline::migrate::migrate(warehouse).await.context("migrating the warehouse")?;
        Ok(())
    }

    /// Every event delivered so far and not yet taken.
    pub fn take_pending(&self) -> Vec<Delivery> {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let mut pending = Vec::new();
        while let Ok(d) = events.try_recv() {
            pending.push(d);
        }
        pending
    }

    pub async fn stop(self) {
        self.s3.stop().await;
        self.data_api.stop().await;
    }
}

/// Appends the recorder's EMF documents, one per line, to `metrics/emf.jsonl` under the data folder (the same
/// documents the Lambdas print to CloudWatch).
pub fn flush_metrics(data_dir: &Path, recorder: &redscribe_core::emf::Recorder) -> anyhow::Result<usize> {
    use std::io::Write;
    let docs = recorder.drain_now();
    if docs.is_empty() {
        return Ok(0);
    }
    let dir = data_dir.join("metrics");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("emf.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut text = String::new();
    for doc in &docs {
        text.push_str(&doc.to_string());
        text.push('\n');
    }
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(docs.len())
}

/// The recorder of the CLI's metrics (`Function` = `redscribe`).
pub fn recorder() -> Arc<redscribe_core::emf::Recorder> {
    Arc::new(redscribe_core::emf::Recorder::new(redscribe_core::metrics::DEFAULT_NAMESPACE, "redscribe"))
}
