//! The dashboard page on loopback: what Grafana would show of the shipped dashboard, for a laptop without one.
//! `GET /` is the page (`dashboard/page.html`: lays the panels out by their `gridPos` and draws them with uPlot),
//! `GET /uPlot.iife.min.js` and `/uPlot.min.css` the charting library from the folder it was installed in
//! (`scripts/setup.sh`, from npm), and `GET /api/panels` the panels with their data, as the caller computes them
//! on each request (the CLI: CloudWatch queries over the EMF documents, SQL through the Data API stand-in).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

pub mod query;

use crate::http::Served;
use crate::LocalError;

/// The page.
const PAGE: &str = include_str!("dashboard/page.html");

/// What answers `GET /api/panels`.
pub type Panels = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Value> + Send>> + Send + Sync>;

/// A running dashboard page.
pub struct DashboardServer {
    served: Served,
}

impl DashboardServer {
    /// Binds `addr` (loopback; port 0 picks a free one); uPlot's files are read from `uplot_dir` (its `dist/`).
    pub async fn start(addr: SocketAddr, uplot_dir: PathBuf, panels: Panels) -> Result<DashboardServer, LocalError> {
        let uplot_dir = Arc::new(uplot_dir);
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let (panels, uplot_dir) = (panels.clone(), uplot_dir.clone());
            async move { Ok::<_, Infallible>(handle(&request, &panels, &uplot_dir).await) }
        });
        let served = Served::start(addr, "dashboard", service).await?;
        Ok(DashboardServer { served })
    }

    /// The page's address, `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.served.addr())
    }

    pub async fn stop(self) {
        self.served.stop().await;
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

async fn handle(request: &Request<hyper::body::Incoming>, panels: &Panels, uplot_dir: &Path) -> Response<Full<Bytes>> {
    if request.method() != http::Method::GET {
        return respond(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
    }
    let asset = |name: &str, content_type: &'static str| match std::fs::read(uplot_dir.join(name)) {
        Ok(bytes) => respond(StatusCode::OK, content_type, bytes),
        Err(e) => respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("{}: {e} (scripts/setup.sh installs uPlot)\n", uplot_dir.join(name).display()),
        ),
    };
    match request.uri().path() {
        "/" => respond(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/uPlot.iife.min.js" => asset("uPlot.iife.min.js", "text/javascript"),
        "/uPlot.min.css" => asset("uPlot.min.css", "text/css"),
        "/api/panels" => respond(StatusCode::OK, "application/json", panels().await.to_string()),
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}
