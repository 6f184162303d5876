//! The Data API stand-in's HTTP endpoint: AWS JSON 1.1 (`POST /`, `X-Amz-Target: RedshiftData.<Operation>`),
//! every request SigV4-checked.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};

use super::engine::LocalWarehouse;
use super::protocol::ApiError;
use super::service::{DataApiConfig, DataApiService, Faults};
use super::sigv4;
use crate::http::Served;
use crate::{Credentials, LocalError};

/// Largest request body accepted (a batch of 40 long statements fits easily).
const MAX_BODY: usize = 8 << 20;
const TARGET_PREFIX: &str = "RedshiftData.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// How to run the Data API stand-in.
#[derive(Debug, Clone)]
pub struct DataApiServerConfig {
    /// Loopback address; port 0 picks a free port.
    pub addr: SocketAddr,
    /// The DuckDB database file.
    pub database_file: PathBuf,
    /// The S3 stand-in's folder (one sub-folder per bucket), which COPY reads.
    pub objects: PathBuf,
    /// The key pair requests must be signed with (SigV4).
    pub credentials: Credentials,
    pub api: DataApiConfig,
}

/// A running Data API stand-in.
pub struct DataApiServer {
    served: Served,
    faults: Arc<Faults>,
    calls: Arc<crate::calls::CallLog>,
}

impl DataApiServer {
    /// Opens the warehouse, binds and starts serving.
    pub async fn start(config: DataApiServerConfig) -> Result<DataApiServer, LocalError> {
        if !config.addr.ip().is_loopback() {
            return Err(LocalError::NotLoopback(config.addr));
        }
        let warehouse = {
            let (file, objects) = (config.database_file.clone(), config.objects.clone());
            tokio::task::spawn_blocking(move || LocalWarehouse::open(&file, objects))
                .await
                .map_err(|e| LocalError::Engine(e.to_string()))??
        };
        let api = Arc::new(DataApiService::new(Arc::new(warehouse), config.api.clone()));
        let faults = api.faults();
        let calls = api.calls();
        let credentials = Arc::new(config.credentials.clone());
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let api = api.clone();
            let credentials = credentials.clone();
            async move { Ok::<_, Infallible>(handle(&api, &credentials, request).await) }
        });
        let served = Served::start(config.addr, "redshift-data", service).await?;
        Ok(DataApiServer { served, faults, calls })
    }

    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// The endpoint URL to give a Data API client.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Switches faults on for tests.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }

    /// The operations called, as IAM actions (`redshift-data:<Operation>`), while recording.
    pub fn calls(&self) -> Arc<crate::calls::CallLog> {
        self.calls.clone()
    }

    /// Stops accepting connections and waits for requests in flight.
    pub async fn stop(self) {
        self.served.stop().await
    }
}

async fn handle(
    api: &Arc<DataApiService>,
    credentials: &Credentials,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let result = async {
        let (parts, body) = request.into_parts();
        if parts.method != http::Method::POST {
            return Err(ApiError::protocol(405, "UnknownOperationException", "Only POST is supported."));
        }
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| ApiError::protocol(413, "SerializationException", format!("request body: {e}")))?
            .to_bytes();
        let uri = format!(
            "http://{}{}",
            parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost"),
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        );
        sigv4::verify(credentials, parts.method.as_str(), &uri, &parts.headers, &body)?;
        let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let operation = target.strip_prefix(TARGET_PREFIX).ok_or_else(|| {
            ApiError::protocol(400, "UnknownOperationException", format!("Unknown target '{target}'"))
        })?;
        let output = api.call(operation, &body).await;
        if let Err(e) = &output {
            tracing::debug!(operation, code = e.code, message = %e.message, "data api: error");
        }
        output
    }
    .await;
    let (status, body) = match result {
        Ok(value) => (StatusCode::OK, value),
        Err(e) => (StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), e.body()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = http::HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    if status != StatusCode::OK {
        if let Some(code) = body.get("__type").and_then(|c| c.as_str()) {
            if let Ok(v) = http::HeaderValue::from_str(code) {
                headers.insert("x-amzn-errortype", v);
            }
        }
    }
    response
}
