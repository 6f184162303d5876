//! Errors of the stand-ins.

use std::path::PathBuf;

/// Why a stand-in could not start or do its work.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// Servers listen on loopback only.
    #[error("refusing to listen on {0}: the local stand-ins bind to loopback addresses only")]
    NotLoopback(std::net::SocketAddr),
    /// A file of the data folder could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A line of the event journal is not valid.
    #[error("event journal {path} line {line}: {reason}")]
    Journal { path: PathBuf, line: usize, reason: String },
    /// The S3 file-system backend refused to start.
    #[error("s3 backend: {0}")]
    Backend(String),
    /// A server could not bind its address.
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    /// The embedded SQL engine could not open or prepare its database.
    #[error("warehouse: {0}")]
    Engine(String),
    /// A dashboard that cannot be read as Grafana's.
    #[error("dashboard: {0}")]
    Dashboard(String),
    /// A Logs Insights query outside the syntax `logs_insights` reads.
    #[error("logs insights: {0}")]
    LogsInsights(String),
    /// The event subscriber is gone.
    #[error("event subscriber closed")]
    SubscriberClosed,
}

impl LocalError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LocalError {
        let path = path.into();
        move |source| LocalError::Io { path, source }
    }
}
