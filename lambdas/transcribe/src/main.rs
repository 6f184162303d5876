//! The transcribe stage as a Lambda function. Configuration is read and checked, the AWS clients built and the
//! Whisper model loaded once, at start; each invocation then goes through `redscribe_pipeline::invoke` (the same
//! stage the CLI runs) and ends by printing its metrics as CloudWatch Embedded Metric Format lines on stdout.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use redscribe_aws::s3::S3Objects;
use redscribe_core::emf::Recorder;
use redscribe_core::metrics::Metric;
use redscribe_core::{plan, settings};
use redscribe_pipeline::config::FunctionConfig;
use redscribe_pipeline::driver::DriverConfig;
use redscribe_pipeline::invoke::{deadline_from_epoch_ms, transcribe_invocation};
use redscribe_pipeline::quarantine::StoreSink;
use redscribe_pipeline::{TranscribeConfig, TranscribeStage};
use redscribe_whisper::{DecodeOptions, Engine, EngineConfig, ModelChoice, WhisperTranscriber};
use serde_json::Value;

/// Where the Whisper layer (`scripts/package.sh`) puts its model: `whisper-<name>` in here.
const LAYER_MODELS: &str = "/opt/models";

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = std::time::Instant::now();
    // JSON logs on stderr (stdout is for EMF), and spans over OTLP when an endpoint is configured.
    let telemetry = Arc::new(redscribe_telemetry::Telemetry::init_lambda("redscribe-transcribe"));

    let config = FunctionConfig::from_env()?;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "redscribe-transcribe".into());
    let metrics = Arc::new(Recorder::new(&config.metrics_namespace, &function));
    let sdk = redscribe_aws::config::load(None, None).await;
    let store = Arc::new(S3Objects::from_conf(&sdk, config.s3_path_style));
    let settings = TranscribeConfig {
        layout: config.layout.clone(),
        jsonl: config.jsonl,
        limits: config.limits,
        spool_dir: None,
        expected_rtf: config.expected_rtf,
        // Lambda's CPU follows its memory: the plan scales the model's pace to it.
        vcpus: Some(plan::lambda_vcpus(config.memory_mb.unwrap_or(settings::TRANSCRIBE_MEMORY_MB))),
        part_s: config.part_s,
        redact: config.redact,
        key_pattern: config.key_pattern.clone(),
        channel_roles: config.channel_roles.clone(),
    };
    // Lambda sets the memory; else the stack's.
    let cost = config.cost_model(settings::TRANSCRIBE_MEMORY_MB)?;
    // Quarantine records go to the bucket's rejected/ prefix, where replay finds them.
    let sink = Arc::new(StoreSink::new(store.clone()));
    let mut stage = TranscribeStage::new(store, settings)
        .with_quarantine(sink)
        .with_metrics(metrics.clone())
        .with_cost(cost, config.concurrency);
    if let Some(pattern) = &config.fault_abort_on {
        stage = stage.with_abort_on(pattern);
    }
    if config.transcribe {
        // The one resolver, as the CLI uses it: a folder given, else the named model in the layer (or the
        // image's /opt/models), else in the cache.
        let choice = ModelChoice { name: config.model.clone(), dir: config.model_dir.clone() };
        let dir = choice.resolve(&[std::path::Path::new(LAYER_MODELS)], &settings::cache_dir_from_env())?;
        let engine_config = EngineConfig::new(dir);
        let engine = Engine::load(&engine_config)?;
        if let Some(language) = config.language.as_deref().filter(|l| !engine.speaks(l)) {
            return Err(format!("REDSCRIBE_LANGUAGE={language}: {} does not transcribe it", engine.name).into());
        }
        metrics.set_model(&engine.name);
        metrics.record(Metric::ModelLoadTime, engine.load_time.as_secs_f64() * 1000.0, None, None);
        let decoding = match config.decode.as_deref() {
            Some(how) => how.parse().map_err(|e: String| format!("REDSCRIBE_DECODE={how}: {e}"))?,
            None => redscribe_whisper::Decoding::default(),
        };
        let options = DecodeOptions {
            beam_size: config.beam_size,
            language: config.language.clone(),
            decoding,
            batch_size: config.batch_size,
            ..DecodeOptions::default()
        };
        stage = stage.with_transcriber(Arc::new(WhisperTranscriber { engine, options }));
    }
    let stage = Arc::new(stage);
    // Goes out with the first invocation's metrics.
    metrics.record(Metric::ColdStartDuration, started.elapsed().as_secs_f64() * 1000.0, None, None);
    let driver = DriverConfig {
        concurrency: config.concurrency,
        fallback_bucket: config.bucket.clone().unwrap_or_default(),
        max_receives: config.max_receives,
        time_limit: config.function_timeout,
        ..DriverConfig::default()
    };

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (stage, metrics, telemetry) = (stage.clone(), metrics.clone(), telemetry.clone());
        let driver = DriverConfig { deadline: Some(deadline_from_epoch_ms(event.context.deadline)), ..driver.clone() };
        async move {
            let work = async {
                tracing::info!("invocation");
                transcribe_invocation(stage, &event.payload, driver).await
            };
            // Its spans are sent before the answer goes back.
            let result = telemetry.invocation(&event.context.request_id, work).await;
            // Metrics go out with every invocation, answered or failed (EMF: no API call on the hot path).
            for document in metrics.drain_now() {
                println!("{document}");
            }
            result.map(|i| i.response).map_err(|e| Error::from(format!("{}: {}", e.code.as_str(), e.message)))
        }
    }))
    .await
}
