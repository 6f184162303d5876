//! The load stage as a Lambda function: the table's one writer (reserved concurrency 1). Configuration is read and
//! checked and the AWS clients built once, at start; the schema is brought up to date before the first load. Each
//! invocation — an SQS batch of S3 notifications announcing result files, or a scheduled sweep — goes through
//! `redscribe_pipeline::invoke::load_invocation` (the load stage the CLI runs), bounded by the time it has left,
//! and ends by printing its metrics as CloudWatch Embedded Metric Format lines on stdout.

use std::sync::Arc;
use std::time::Instant;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use redscribe_aws::redshift::{DataApi, WarehouseTarget};
use redscribe_aws::s3::S3Objects;
use redscribe_core::emf::Recorder;
use redscribe_core::metrics::Metric;
use redscribe_pipeline::config::FunctionConfig;
use redscribe_pipeline::invoke::{deadline_from_epoch_ms, load_invocation};
use redscribe_pipeline::quarantine::StoreSink;
use redscribe_pipeline::{LoadConfig, Loader};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let telemetry = Arc::new(redscribe_telemetry::Telemetry::init_lambda("redscribe-load"));
    let config = FunctionConfig::from_env()?;
    let warehouse = config.require_warehouse()?;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "redscribe-load".into());
    let metrics = Arc::new(Recorder::new(&config.metrics_namespace, &function));
    let sdk = redscribe_aws::config::load(None, None).await;
    let store = Arc::new(S3Objects::from_conf(&sdk, config.s3_path_style));
    let target = WarehouseTarget {
        workgroup: warehouse.workgroup.clone(),
        cluster: warehouse.cluster.clone(),
        database: warehouse.database.clone(),
        db_user: warehouse.db_user.clone(),
        secret_arn: warehouse.secret_arn.clone(),
    };
    let data_api = Arc::new(DataApi::from_conf(&sdk, target)?);
    let bucket = config.require_bucket()?;
    let load = LoadConfig {
        tables: warehouse.tables()?,
        auth: warehouse.copy_authorization(),
        layout: config.layout.clone(),
        bucket: bucket.clone(),
        max_isolation_rounds: redscribe_core::settings::ISOLATION_ROUNDS,
        recordings: config.recordings()?,
    };
    // The schema is brought up to date before the first load.
    // Lambda sets the memory; else the stack's.
    let cost = config.cost_model(redscribe_core::settings::LOAD_MEMORY_MB)?;
    let sink = Arc::new(StoreSink::new(store.clone()));
    let loader = Arc::new(
        Loader::new(store, data_api, load)
            .with_quarantine(sink)
            .with_metrics(metrics.clone())
            .with_cost(cost)
            .migrating(),
    );
    let limits = config.load;
    metrics.record(Metric::ColdStartDuration, started.elapsed().as_secs_f64() * 1000.0, None, None);

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (loader, metrics, bucket, telemetry) = (loader.clone(), metrics.clone(), bucket.clone(), telemetry.clone());
        async move {
            let deadline = deadline_from_epoch_ms(event.context.deadline);
            let work = async {
                tracing::info!("invocation");
                load_invocation(&loader, &event.payload, Some(deadline), &limits, &bucket).await
            };
            // Its spans are sent before the answer goes back.
            let result = telemetry.invocation(&event.context.request_id, work).await;
            for document in metrics.drain_now() {
                println!("{document}");
            }
            result.map(|i| i.response).map_err(|e| Error::from(format!("{}: {}", e.code.as_str(), e.message)))
        }
    }))
    .await
}
