//! The local stand-ins as the CLI runs them (`serve`, `run`): S3 and the Data API over one data folder, with the
//! SDK clients of the pipeline pointed at them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use redscribe_aws::redshift::{DataApi, WarehouseTarget};
use redscribe_aws::s3::S3Objects;
use redscribe_local::redshift::{DataApiConfig, DATABASE};
use redscribe_local::{Credentials, StandIns, StandInsConfig};

/// Input bucket created at start when missing.
pub const DEFAULT_INPUT_BUCKET: &str = "recordings";
/// Region the stand-ins report.
pub const LOCAL_REGION: &str = redscribe_local::stand_ins::REGION;
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

/// The stand-ins over the data folder, as every local command starts them ([`redscribe_local::StandIns`], the
/// bundle the tests start too), with the input bucket created.
pub async fn start(
    data_dir: &Path,
    s3_addr: SocketAddr,
    data_api_addr: SocketAddr,
    api: DataApiConfig,
) -> anyhow::Result<StandIns> {
    create_private_dir(data_dir)?;
    let credentials = Credentials::for_stand_ins(&profile_dir(data_dir).join("credentials"));
    let mut config = StandInsConfig::loopback(data_dir, DEFAULT_INPUT_BUCKET, credentials);
    config.s3_addr = s3_addr;
    config.data_api_addr = Some(data_api_addr);
    config.api = api;
    let warehouse_file = redscribe_local::stand_ins::warehouse_file(data_dir);
    StandIns::start(config).await.with_context(|| {
        format!("starting the stand-ins over {} (is `redscribe serve` using it?)", warehouse_file.display())
    })
}

/// Where `serve` writes the AWS profile of the stand-ins (config and credentials files).
pub fn profile_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("aws")
}

/// Creates the data folder readable by its owner only (mode 0700; an existing one is narrowed): it holds the
/// stand-ins' key pair, the objects and the warehouse.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    }
    Ok(())
}

/// An SDK configuration for an endpoint of the stand-ins, signed with their key pair.
async fn sdk_config(services: &StandIns, endpoint: &str) -> aws_config::SdkConfig {
    let c = &services.credentials;
    redscribe_aws::config::local(endpoint, LOCAL_REGION, &c.access_key_id, &c.secret_access_key).await
}

/// The pipeline's S3 adapter, pointed at the local endpoint.
pub async fn objects(services: &StandIns) -> S3Objects {
    S3Objects::from_conf(&sdk_config(services, &services.s3.endpoint_url()).await, true)
}

/// The pipeline's Data API adapter, pointed at the local endpoint.
pub async fn warehouse(services: &StandIns) -> anyhow::Result<DataApi> {
    let api = services.data_api.as_ref().context("the Data API stand-in is not running")?;
    let target = WarehouseTarget {
        workgroup: Some(LOCAL_WORKGROUP.into()),
        cluster: None,
        database: DATABASE.into(),
        db_user: None,
        secret_arn: None,
    };
    Ok(DataApi::from_conf(&sdk_config(services, &api.endpoint_url()).await, target)?
        .with_statement_timeout(Duration::from_secs(600)))
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
