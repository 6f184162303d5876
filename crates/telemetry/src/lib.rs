//! How redscribe's Lambda functions report. Logs are JSON lines on stderr with every field at the top level and the
//! fields of the spans they happen in (`span.requestId` from the Lambda runtime's invocation span, `bucket`, `key`,
//! `id` from a recording's); stdout is left to the CloudWatch Embedded Metric Format documents.

/// Installs the JSON log subscriber (`RUST_LOG` filters; `info` by default).
pub fn init_lambda() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
