//! The S3 stand-in's HTTP server, on a loopback address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::store::NotifyingStore;
use super::EventJournal;
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

/// A running S3 stand-in.
pub struct S3Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl S3Server {
    /// Binds and starts serving; returns once the port is open.
    pub async fn start(config: S3ServerConfig, journal: Arc<EventJournal>) -> Result<S3Server, LocalError> {
        if !config.addr.ip().is_loopback() {
            return Err(LocalError::NotLoopback(config.addr));
        }
        std::fs::create_dir_all(&config.root).map_err(LocalError::io(&config.root))?;
        let fs = s3s_fs::FileSystem::new(&config.root).map_err(|e| LocalError::Backend(format!("{e:?}")))?;
        let service = {
            let mut b = S3ServiceBuilder::new(NotifyingStore::new(fs, journal));
            b.set_auth(SimpleAuth::from_single(
                config.credentials.access_key_id.clone(),
                config.credentials.secret_access_key.clone(),
            ));
            b.build()
        };
        let listener = TcpListener::bind(config.addr).await.map_err(LocalError::io(config.root.clone()))?;
        let addr = listener.local_addr().map_err(LocalError::io(config.root.clone()))?;
        let (tx, mut rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            loop {
                let socket = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((socket, _)) => socket,
                        Err(e) => {
                            tracing::warn!(error = %e, "s3: accept failed");
                            continue;
                        }
                    },
                    _ = &mut rx => break,
                };
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            // Let requests in flight finish (an upload's event is journaled before its response).
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown()).await;
        });
        Ok(S3Server { addr, shutdown: Some(tx), task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL to give an S3 client.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for requests in flight.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}
