//! The loopback HTTP server both stand-ins run on: bind, serve connections until told to stop, then let requests
//! in flight finish.

use std::net::SocketAddr;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::LocalError;

/// How long requests in flight may take to finish at stop.
const DRAIN: Duration = Duration::from_secs(10);

/// A running server.
pub(crate) struct Served {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Served {
    /// Binds `addr` (loopback only; port 0 picks a free port) and serves `service` on every connection.
    pub(crate) async fn start<S, B>(addr: SocketAddr, name: &'static str, service: S) -> Result<Served, LocalError>
    where
        S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if !addr.ip().is_loopback() {
            return Err(LocalError::NotLoopback(addr));
        }
        let listener = TcpListener::bind(addr).await.map_err(|source| LocalError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| LocalError::Bind { addr, source })?;
        let (tx, mut rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            loop {
                let socket = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((socket, _)) => socket,
                        Err(e) => {
                            tracing::warn!(server = name, error = %e, "accept failed");
                            continue;
                        }
                    },
                    _ = &mut rx => break,
                };
                // Without it, a small response waits for the client's delayed ACK: ~40 ms per request (measured).
                if let Err(e) = socket.set_nodelay(true) {
                    tracing::debug!(server = name, error = %e, "TCP_NODELAY not set");
                }
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
        });
        Ok(Served { addr, shutdown: Some(tx), task })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for requests in flight.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}
