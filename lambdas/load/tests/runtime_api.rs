//! The load Lambda as a process, against a Lambda Runtime API on loopback and the S3 and Data API stand-ins: result
//! files written by the transcribe stage are announced through SQS (the stand-in's own S3 notifications) or found
//! by a scheduled sweep, and end as rows; nothing is loaded twice; an invocation short of time leaves its files
//! for the retry.

use std::time::Duration;

use redscribe_core::layout::Layout;
use redscribe_core::ports::{ObjectStore, Warehouse};
use redscribe_local::runtime_api::{Answer, RuntimeApi};
use redscribe_pipeline::{TranscribeConfig, TranscribeStage};
use redscribe_testkit::{drain, sqs_records, tone_wav, Function, StandIns, BUCKET};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_redscribe-load");

fn start_function(api: &RuntimeApi, stand_ins: &StandIns, extra: &[(&str, String)]) -> Function {
    let mut env = stand_ins.function_env();
    env.extend([
        ("REDSHIFT_DB", "dev".to_string()),
        ("REDSHIFT_WORKGROUP", "local".to_string()),
        ("REDSHIFT_IAM_ROLE", "arn:aws:iam::000000000000:role/redscribe-local".to_string()),
    ]);
    env.extend(extra.iter().cloned());
    Function::start(BINARY, "redscribe-load", &api.address(), &env)
}

/// Uploads recordings and runs the transcribe stage (metadata only) on their events, as the transcribe function
/// would; returns the S3 notifications of everything written meanwhile (the recordings and the stage's outputs).
async fn upload_and_process(stand_ins: &mut StandIns, names: &[&str]) -> Vec<redscribe_local::s3::Delivery> {
    let store = stand_ins.store().await;
    for (i, name) in names.iter().enumerate() {
        store.put(BUCKET, name, tone_wav(16_000, 1.0 + i as f32 / 4.0), "audio/wav").await.unwrap();
    }
    let stage = TranscribeStage::new(store, TranscribeConfig::default());
    let uploads = drain(&mut stand_ins.events);
    for delivery in &uploads {
        for object in redscribe_core::events::normalize(&delivery.event, &Layout::default()).unwrap().objects {
            stage.process(&object).await.unwrap();
        }
    }
    let mut all = uploads;
    all.extend(drain(&mut stand_ins.events));
    all
}

async fn count(warehouse: &dyn Warehouse, sql: &str) -> i64 {
    let rows = warehouse.query(sql).await.unwrap();
    rows[0][0].as_deref().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn announced_and_swept_files_become_rows_once() {
    let mut stand_ins = StandIns::start().await;
    let warehouse = stand_ins.warehouse().await;
    let store = stand_ins.store().await;
    let announced = upload_and_process(&mut stand_ins, &["calls/a.wav", "calls/b.wav"]).await;
    // A file under the results prefix that is not a result file, announced like the others.
    let today = chrono::Utc::now().date_naive();
    let bad_key = format!("processed/transcription_results/dt={}/0000-bad.parquet", today.format("%Y-%m-%d"));
    store.put(BUCKET, &bad_key, b"PAR1 but not really".to_vec(), "application/octet-stream").await.unwrap();
    let mut deliveries = announced;
    deliveries.extend(drain(&mut stand_ins.events));
    let mut records = sqs_records(&deliveries);
    records.push(json!({ "messageId": "m-bad", "eventSource": "aws:sqs", "body": "not an event" }));

    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let function = start_function(&api, &stand_ins, &[]);

    // 1. The SQS batch: recordings and segments skipped, two result files loaded, the bad file and the bad message
    //    quarantined; nothing to retry.
    let batch = json!({ "Records": records });
    let first = api.invoke(batch.clone());
    let answer = api.outcome(&first, Duration::from_secs(120)).await.expect("an answer");
    assert_eq!(answer, Answer::Response(json!({ "batchItemFailures": [] })));
    let results = "SELECT COUNT(*) FROM transcription_results";
    let audit_rows = "SELECT COUNT(*) FROM load_audit";
    assert_eq!(count(warehouse.as_ref(), results).await, 2);
    let rows = warehouse
        .query("SELECT object_key, status, loaded_at IS NOT NULL FROM transcription_results ORDER BY object_key")
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            [Some("calls/a.wav".into()), Some("metadata_only".into()), Some("true".into())],
            [Some("calls/b.wav".into()), Some("metadata_only".into()), Some("true".into())],
        ]
    );
    let quarantined = warehouse.query("SELECT file_uri FROM load_audit WHERE status = 'quarantined'").await.unwrap();
    assert_eq!(quarantined, [[Some(format!("s3://{BUCKET}/{bad_key}"))]]);
    assert_eq!(stand_ins.files("rejected/load_rejected").len(), 1);
    assert_eq!(stand_ins.files("rejected/invalid_event").len(), 1);
    let audited = count(warehouse.as_ref(), audit_rows).await;
    assert_eq!(audited, 3, "two loaded, one quarantined");

    // 2. The same batch delivered again (at-least-once): nothing loaded twice, nothing audited twice.
    let again = api.invoke(batch);
    let answer = api.outcome(&again, Duration::from_secs(60)).await.unwrap();
    assert_eq!(answer, Answer::Response(json!({ "batchItemFailures": [] })));
    assert_eq!(count(warehouse.as_ref(), results).await, 2);
    assert_eq!(count(warehouse.as_ref(), audit_rows).await, audited);

    // 3. A recording whose result file was never announced: the scheduled sweep finds it, and only it.
    upload_and_process(&mut stand_ins, &["calls/c.wav"]).await;
    let schedule = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-24T06:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/redscribe-load"], "detail": {}
    });
    let swept = api.invoke(schedule);
    let answer = api.outcome(&swept, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        answer,
        Answer::Response(json!({
            "loaded": 1, "rejected": 0, "superseded": 0, "already_settled": 3, "deferred": 0, "skipped": 0, "invalid": 0
        }))
    );
    assert_eq!(count(warehouse.as_ref(), results).await, 3);

    // 4. Too little time left for a batch (the margin is 30 s, the invocation has 2): the file is left for the
    //    retry, its message named in batchItemFailures.
    let late = upload_and_process(&mut stand_ins, &["calls/d.wav"]).await;
    let hurried = api.invoke_with_timeout(json!({ "Records": sqs_records(&late) }), Duration::from_secs(2));
    let Some(Answer::Response(answer)) = api.outcome(&hurried, Duration::from_secs(60)).await else {
        panic!("an answer")
    };
    let failures: Vec<&str> =
        answer["batchItemFailures"].as_array().unwrap().iter().filter_map(|f| f["itemIdentifier"].as_str()).collect();
    assert_eq!(failures.len(), 1, "{answer}");
    let result_message = sqs_records(&late)
        .into_iter()
        .find(|r| {
            r["body"].as_str().unwrap().contains("transcription_results")
                && r["body"].as_str().unwrap().contains(".parquet")
        })
        .unwrap();
    assert_eq!(failures, [result_message["messageId"].as_str().unwrap()]);
    assert_eq!(count(warehouse.as_ref(), results).await, 3, "not loaded");

    // Metrics: EMF from the load stage, valid, with the function's name; the cold start once.
    let emf: Vec<Value> = redscribe_testkit::wait_for(|| {
        let docs = function.emf();
        docs.iter().any(|d| d.get("RowsLoaded").is_some()).then_some(docs)
    })
    .await;
    for doc in &emf {
        redscribe_core::emf::validate(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    }
    assert!(emf.iter().all(|d| d["Function"] == "redscribe-load"), "{emf:?}");
    assert_eq!(emf.iter().filter(|d| d.get("ColdStartDuration").is_some()).count(), 1);
    for metric in ["CopyDuration", "LoadBatchSize", "LoadBatchBytes", "UploadToQueryableLatency"] {
        assert!(emf.iter().any(|d| d.get(metric).is_some()), "{metric}: {emf:?}");
    }
    let rows_loaded: f64 = emf.iter().filter_map(|d| d["RowsLoaded"].as_f64()).sum();
    assert_eq!(rows_loaded, 3.0, "two announced, one swept");
    assert!(emf.iter().any(|d| d.get("LoadFailures").is_some() && d["ErrorCode"] == "load_rejected"), "{emf:?}");
    // Logs carry the request id of the invocation they belong to.
    let logs = function.logs();
    let loaded: Vec<&Value> = logs.iter().filter(|l| l["message"] == "loaded").collect();
    assert!(!loaded.is_empty() && loaded.iter().all(|l| l["span"]["requestId"].is_string()), "{logs:?}");
    // The shipped errors-by-stage query counts the file the warehouse rejected as a load failure.
    let errors = redscribe_testkit::logs_insights("errors-by-stage", &[], &function.log_events());
    let rejected = errors.iter().find(|r| r["at"] == "load" && r["reason"] == "load_rejected");
    assert_eq!(rejected.map(|r| r["failures"].as_str()), Some("1"), "{errors:?}");
    drop(function);
    api.stop().await;
    stand_ins.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_warehouse_it_stops_at_start_naming_the_variable() {
    let stand_ins = StandIns::s3().await;
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let function = Function::start(BINARY, "redscribe-load", &api.address(), &stand_ins.function_env());
    let stderr = redscribe_testkit::wait_for(|| {
        let lines = function.stderr.lock().unwrap().join("\n");
        lines.contains("REDSHIFT_DB").then_some(lines)
    })
    .await;
    assert!(stderr.contains("needs the warehouse"), "{stderr}");
    assert!(api.first_poll().is_none(), "it never asked for an event");
    drop(function);
    api.stop().await;
    stand_ins.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_trace_collector_costs_the_traces_not_the_answer() {
    let stand_ins = StandIns::s3().await;
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let collector = ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}"));
    let function = start_function(&api, &stand_ins, &[collector]);
    let test_event = json!({ "Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET });
    for _ in 0..2 {
        let id = api.invoke(test_event.clone());
        let answer = api.outcome(&id, Duration::from_secs(60)).await.expect("an answer");
        assert_eq!(
            answer,
            Answer::Response(json!({
                "loaded": 0, "rejected": 0, "superseded": 0, "already_settled": 0, "deferred": 0, "skipped": 1, "invalid": 0
            }))
        );
    }
    drop(function);
    api.stop().await;
    stand_ins.stop().await;
}
