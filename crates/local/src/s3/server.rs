//! The S3 stand-in's HTTP server, on a loopback address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

use super::calls::Recording;
use super::faults::{S3Faults, WithFaults};
use super::store::NotifyingStore;
use super::tags::Tags;
use super::versions::Versions;
use super::EventJournal;
use crate::calls::CallLog;
use crate::http::Served;
use crate::{Credentials, LocalError};

/// How to run the S3 stand-in.
#[derive(Debug, Clone)]
pub struct S3ServerConfig {
    /// Loopback address; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Folder holding one sub-folder per bucket.
    pub root: PathBuf,
    /// The key pair requests must be signed with (SigV4).
    pub credentials: Credentials,
}

/// Where the stand-in keeps its own state for the objects folder `root`: a folder beside it (`<root>-state`).
pub fn state_dir(root: &std::path::Path) -> PathBuf {
    let name = root.file_name().map_or_else(|| "s3".into(), |n| n.to_string_lossy().into_owned());
    root.with_file_name(format!("{name}-state"))
}

/// A running S3 stand-in.
pub struct S3Server {
    served: Served,
    faults: Arc<S3Faults>,
    calls: Arc<CallLog>,
}

impl S3Server {
    /// Binds and starts serving; returns once the port is open.
    pub async fn start(config: S3ServerConfig, journal: Arc<EventJournal>) -> Result<S3Server, LocalError> {
        if !config.addr.ip().is_loopback() {
            return Err(LocalError::NotLoopback(config.addr));
        }
        std::fs::create_dir_all(&config.root).map_err(LocalError::io(&config.root))?;
        let fs = s3s_fs::FileSystem::new(&config.root).map_err(|e| LocalError::Backend(format!("{e:?}")))?;
        let calls = Arc::new(CallLog::default());
        let service = {
            // The stand-in's own state lives outside the objects folder, which the Data API stand-in's DuckDB
            // may read (COPY): a statement cannot reach it.
            let state = state_dir(&config.root);
            std::fs::create_dir_all(&state).map_err(LocalError::io(&state))?;
            let versions_file = state.join("versions.jsonl");
            let earlier = config.root.join(".redscribe-versions.jsonl");
            if earlier.exists() && !versions_file.exists() {
                std::fs::rename(&earlier, &versions_file).map_err(LocalError::io(&earlier))?;
            }
            let versions = Versions::open(&versions_file)?;
            let tags = Tags::open(&state.join("tags.jsonl"))?;
            let store = NotifyingStore::new(fs, config.root.clone(), state, journal, versions, tags);
            let mut b = S3ServiceBuilder::new(store);
            b.set_auth(SimpleAuth::from_single(
                config.credentials.access_key_id.clone(),
                config.credentials.secret_access_key.clone(),
            ));
            b.set_access(Recording(calls.clone()));
            b.build()
        };
        let faults = Arc::new(S3Faults::default());
        let service = WithFaults { inner: service, faults: faults.clone() };
        // An upload's event is journaled before its response, so draining at stop loses none.
        let served = Served::start(config.addr, "s3", service).await?;
        Ok(S3Server { served, faults, calls })
    }

    /// The fault switch (throttling and 5xx on the next requests).
    pub fn faults(&self) -> Arc<S3Faults> {
        self.faults.clone()
    }

    /// The requests as IAM actions, while recording ([`CallLog::start`]).
    pub fn calls(&self) -> Arc<CallLog> {
        self.calls.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// The endpoint URL to give an S3 client.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Stops accepting connections and waits for requests in flight.
    pub async fn stop(self) {
        self.served.stop().await
    }
}
