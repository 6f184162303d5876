//! The stand-ins started together over one data folder — the S3 endpoint with its event journal, and the Data API
//! endpoint over a DuckDB file that reads the S3 folder — the one bundle the CLI (`serve`, `run`, `demo`, …) and the
//! tests both start. The folder's layout: `events/` (the journal), `s3/<bucket>/` (objects),
//! `warehouse/redscribe.duckdb` (the warehouse).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::redshift::{DataApiConfig, DataApiServer, DataApiServerConfig};
use crate::s3::{Delivery, EventJournal, S3Server, S3ServerConfig};
use crate::{Credentials, LocalError};

/// The region the stand-ins report.
pub const REGION: &str = "us-east-1";

/// How to start the stand-ins.
#[derive(Debug, Clone)]
pub struct StandInsConfig {
    /// The data folder.
    pub root: PathBuf,
    /// Buckets created at start when missing.
    pub buckets: Vec<String>,
    /// The S3 endpoint's address (loopback; port 0 picks a free port).
    pub s3_addr: SocketAddr,
    /// The Data API endpoint's address, `None`: S3 alone.
    pub data_api_addr: Option<SocketAddr>,
    pub api: DataApiConfig,
    /// The key pair requests must be signed with.
    pub credentials: Credentials,
}

impl StandInsConfig {
    /// Both stand-ins over `root` on free loopback ports, with `credentials`, creating `bucket`.
    pub fn loopback(root: &Path, bucket: &str, credentials: Credentials) -> StandInsConfig {
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        StandInsConfig {
            root: root.to_path_buf(),
            buckets: vec![bucket.to_string()],
            s3_addr: any_port,
            data_api_addr: Some(any_port),
            api: DataApiConfig::default(),
            credentials,
        }
    }
}

/// The stand-ins, running.
pub struct StandIns {
    pub root: PathBuf,
    pub credentials: Credentials,
    pub s3: S3Server,
    pub journal: Arc<EventJournal>,
    /// Upload events not yet taken, in the order the uploads completed.
    pub events: UnboundedReceiver<Delivery>,
    pub data_api: Option<DataApiServer>,
}

impl StandIns {
    pub async fn start(config: StandInsConfig) -> Result<StandIns, LocalError> {
        let StandInsConfig { root, buckets, s3_addr, data_api_addr, api, credentials } = config;
        let (journal, events) = EventJournal::open(&root.join("events"), REGION)?;
        let journal = Arc::new(journal);
        let objects = root.join("s3");
        for bucket in &buckets {
            let folder = objects.join(bucket);
            std::fs::create_dir_all(&folder).map_err(LocalError::io(&folder))?;
        }
        let s3_config = S3ServerConfig { addr: s3_addr, root: objects.clone(), credentials: credentials.clone() };
        let s3 = S3Server::start(s3_config, journal.clone()).await?;
        let data_api = match data_api_addr {
            None => None,
            Some(addr) => {
                let database_file = warehouse_file(&root);
                let config =
                    DataApiServerConfig { addr, database_file, objects, credentials: credentials.clone(), api };
                match DataApiServer::start(config).await {
                    Ok(server) => Some(server),
                    Err(e) => {
                        s3.stop().await;
                        return Err(e);
                    }
                }
            }
        };
        Ok(StandIns { root, credentials, s3, journal, events, data_api })
    }

    /// The warehouse's database file.
    pub fn warehouse_file(&self) -> PathBuf {
        warehouse_file(&self.root)
    }

    /// The folder behind a bucket.
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join("s3").join(bucket)
    }

    /// Every upload event delivered so far and not yet taken.
    pub fn take_pending(&mut self) -> Vec<Delivery> {
        crate::s3::drain(&mut self.events)
    }

    pub async fn stop(self) {
        if let Some(api) = self.data_api {
            api.stop().await;
        }
        self.s3.stop().await;
    }
}

/// The warehouse's database file of the stand-ins over the data folder `root`.
pub fn warehouse_file(root: &Path) -> PathBuf {
    root.join("warehouse").join("redscribe.duckdb")
}
