//! How redscribe's Lambda functions report.
//!
//! - Logs: JSON lines on stderr, every field at the top level, with the fields of the span they happen in
//!   (`span.requestId` of the invocation); stdout is left to the CloudWatch Embedded Metric Format documents.
//! - Traces: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set — e.g. to the
//!   AWS Distro for OpenTelemetry collector extension at `http://localhost:4318` — every invocation is a trace:
//!   an `invocation` span with a child per stage (`download`, `decode` or `transcribe`, `write`; `load` per COPY),
//!   sent over OTLP/HTTP (protobuf) by a batch processor and flushed before the invocation's answer goes back, so
//!   nothing waits in a frozen execution environment. Only redscribe's own spans are exported.

use std::future::Future;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The reporting of one process; keep it for the process's life.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// Whether the environment names an OTLP endpoint for traces.
fn otlp_configured() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
}

impl Telemetry {
    /// Installs the JSON log subscriber (`RUST_LOG` filters; `info` by default) and, when an OTLP endpoint is
    /// configured, the span exporter. `service` names the process in its traces (`service.name`, unless
    /// `OTEL_SERVICE_NAME` says otherwise).
    pub fn init_lambda(service: &str) -> Telemetry {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let logs = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter(filter);
        let (provider, trouble) = match otlp_configured().then(|| provider(service)) {
            None => (None, None),
            Some(Ok(p)) => (Some(p), None),
            Some(Err(e)) => (None, Some(e)),
        };
        let traces = provider.as_ref().map(|p| {
            tracing_opentelemetry::layer()
                .with_tracer(p.tracer("redscribe"))
                .with_filter(Targets::new().with_target("redscribe", LevelFilter::INFO))
        });
        tracing_subscriber::registry().with(logs).with(traces).init();
        if let Some(e) = trouble {
            tracing::warn!(error = %e, "traces off: the OTLP exporter cannot be built");
        }
        Telemetry { provider }
    }

    /// Runs one invocation inside its `invocation` span (with the request id, as `span.requestId` in the logs
    /// and `faas.invocation_id` in the trace), then sends its spans before returning.
    pub async fn invocation<F: Future>(&self, request_id: &str, work: F) -> F::Output {
        let span = tracing::info_span!(
            target: "redscribe::invocation",
            "invocation",
            requestId = %request_id,
            faas.invocation_id = %request_id,
        );
        let output = work.instrument(span).await;
        self.flush();
        output
    }

    /// Sends every finished span now (a no-op without an exporter).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let flush = || {
                if let Err(e) = provider.force_flush() {
                    tracing::warn!(error = %e, "traces not flushed");
                }
            };
            // The exporter blocks: tell a multi-threaded runtime to move other tasks off this thread meanwhile.
            match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(flush),
                _ => flush(),
            }
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// How long one export may take unless `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT` says: the flush waits for it before
/// every answer, so an unreachable collector must cost little (the library's default is 10 s).
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn provider(service: &str) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::WithExportConfig;
    // Endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_* variables.
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http();
    if ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"].iter().all(|v| std::env::var(v).is_err()) {
        builder = builder.with_timeout(EXPORT_TIMEOUT);
    }
    let exporter = builder.build()?;
    let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_string());
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(name).build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}
