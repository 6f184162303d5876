//! CloudWatch against a real protocol endpoint on loopback (moto's server mode): `redscribe alarms apply|list`
//! create and show the shipped alarms, checked independently with the aws CLI; EMF documents shipped to CloudWatch
//! Logs arrive whole and in order, in batches within the API's limits; a dead endpoint or a full queue costs
//! documents, never a blocked caller.

use std::process::Command;
use std::time::Duration;

use redscribe_aws::logs::{LogEvent, LogShipper, ShipperConfig, MAX_BATCH_EVENTS};
use redscribe_aws::retry::RetryPolicy;
use redscribe_core::emf::Recorder;
use redscribe_core::metrics::{Metric, Stage};
use redscribe_testkit::{HttpCapture, Moto};

fn redscribe(moto: &Moto, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(args)
        .envs(moto.env())
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(out.status.success(), "redscribe {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn alarms_apply_and_list() {
    let moto = Moto::start();
    let topic = "arn:aws:sns:us-east-1:123456789012:redscribe-alarms";
    let apply = ["alarms", "apply", "--sns-topic-arn", topic, "--transcribe-function", "rs-transcribe-prod"];
    // Twice: applying is idempotent (the same names replace the alarms).
    for _ in 0..2 {
        let applied = redscribe(&moto, &apply);
        assert!(applied.contains("13 alarm(s) applied"), "{applied}");
    }
    let listed = redscribe(&moto, &["alarms", "list"]);
    assert!(listed.contains("13 alarm(s)"), "{listed}");
    for name in [
        "redscribe-lambda-errors",
        "redscribe-load-errors",
        "redscribe-results-dlq-not-empty",
        "redscribe-pipeline-stale",
    ] {
        assert!(listed.contains(name), "{listed}");
    }
    let states = ["OK", "ALARM", "INSUFFICIENT_DATA"];
    let rows: Vec<&str> = listed.lines().filter(|l| l.contains("redscribe-")).collect();
    assert_eq!(rows.len(), 13, "{listed}");
    assert!(rows.iter().all(|r| r.split('┆').nth(1).is_some_and(|s| states.contains(&s.trim()))), "{listed}");

    // What CloudWatch holds, read by the aws CLI: placeholders filled, metric math kept whole.
    let described = moto.aws(&["cloudwatch", "describe-alarms", "--alarm-name-prefix", "redscribe-"]);
    let alarms = described["MetricAlarms"].as_array().unwrap();
    assert_eq!(alarms.len(), 13);
    let text = described.to_string();
    assert!(!text.contains("${"), "{text}");
    let errors = alarms.iter().find(|a| a["AlarmName"] == "redscribe-lambda-errors").unwrap();
    assert_eq!(errors["AlarmActions"], serde_json::json!([topic]));
    assert_eq!(errors["Dimensions"][0]["Value"], "rs-transcribe-prod");
    assert_eq!((errors["Period"].as_i64(), errors["Threshold"].as_f64()), (Some(300), Some(0.0)));
    let rate = alarms.iter().find(|a| a["AlarmName"] == "redscribe-quarantine-rate").unwrap();
    let metrics = rate["Metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 3, "{rate}");
    assert!(metrics.iter().any(|m| m["Expression"] == "FILL(quarantined, 0) / received"), "{rate}");
    // The quarantine total is read under the Function-only dimension set, not by a SEARCH (no alarm takes one).
    assert!(!text.contains("SEARCH("), "{text}");

    // A missing value is refused before any call, naming the placeholder.
    let out = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["alarms", "apply", "--sns-topic-arn", topic, "--file"])
        .arg(write_custom_alarms())
        .envs(moto.env())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("THRESHOLD"), "{}", String::from_utf8_lossy(&out.stderr));
}

fn write_custom_alarms() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("redscribe-alarms-{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"[{"AlarmName": "redscribe-custom", "MetricName": "RowsLoaded", "Namespace": "${NAMESPACE}",
             "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": ${THRESHOLD},
             "ComparisonOperator": "LessThanThreshold"}]"#,
    )
    .unwrap();
    path
}

/// EMF documents as the stages make them: `n` data points, one document per flush of `per_flush`.
fn documents(n: usize, per_flush: usize) -> Vec<serde_json::Value> {
    let recorder = Recorder::new("Redscribe", "redscribe");
    let mut docs = Vec::new();
    for i in 0..n {
        recorder.record(Metric::RowsLoaded, i as f64, Some(Stage::Load), None);
        if (i + 1) % per_flush == 0 {
            docs.extend(recorder.drain_now());
        }
    }
    docs.extend(recorder.drain_now());
    docs
}

fn event(doc: &serde_json::Value) -> LogEvent {
    let event = LogEvent::from_emf(doc);
    assert!(event.timestamp_ms > 0, "stamped with the document's time: {doc}");
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn emf_documents_reach_cloudwatch_logs_in_batches() {
    let moto = Moto::start();
    let docs = documents(12_345, 1);
    let n = docs.len();
    assert!(n > MAX_BATCH_EVENTS, "more than one PutLogEvents call's worth");
    let config = ShipperConfig { flush_interval: Duration::from_millis(200), ..ShipperConfig::emf("/redscribe/test") };
    let stream = config.log_stream.clone();
    let shipper = LogShipper::from_conf(&moto.sdk_config().await, config);
    for doc in &docs {
        assert!(shipper.send(event(doc)));
    }
    let stats = shipper.close(Duration::from_secs(120)).await;
    assert_eq!((stats.sent, stats.dropped), (n as u64, 0));
    assert!(stats.batches >= 2, "{stats:?}");

    // Read back by the aws CLI (it pages through the whole stream).
    let got =
        moto.aws(&["logs", "filter-log-events", "--log-group-name", "/redscribe/test", "--log-stream-names", &stream]);
    let messages: Vec<&str> =
        got["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(messages.len(), n);
    let sent: Vec<String> = docs.iter().map(|d| d.to_string()).collect();
    let mut got_sorted: Vec<&str> = messages.clone();
    got_sorted.sort();
    let mut sent_sorted: Vec<&str> = sent.iter().map(String::as_str).collect();
    sent_sorted.sort();
    assert_eq!(got_sorted, sent_sorted, "every document, whole");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_endpoint_costs_documents_not_time_of_the_caller() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = redscribe_aws::config::local(&format!("http://127.0.0.1:{port}"), "us-east-1", "a", "b").await;
    let retry = RetryPolicy { max_attempts: 2, base: Duration::from_millis(10), cap: Duration::from_millis(20) };
    let shipper = LogShipper::from_conf(&conf, ShipperConfig { retry, ..ShipperConfig::emf("/redscribe/test") });
    let docs = documents(100, 1);
    for doc in &docs {
        assert!(shipper.send(event(doc)), "queued, whatever the endpoint");
    }
    let stats = shipper.close(Duration::from_secs(30)).await;
    assert_eq!((stats.sent, stats.dropped), (0, docs.len() as u64));
}

#[test]
fn a_full_queue_drops_new_documents_instead_of_waiting() {
    // One thread: the shipper's task cannot run while this test sends, so the queue fills exactly.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let moto = Moto::start();
        let config = ShipperConfig { queue: 10, ..ShipperConfig::emf("/redscribe/test") };
        let shipper = LogShipper::from_conf(&moto.sdk_config().await, config);
        let docs = documents(50, 1);
        let accepted = docs.iter().filter(|d| shipper.send(event(d))).count();
        assert_eq!(accepted, 10);
        let stats = shipper.close(Duration::from_secs(60)).await;
        assert_eq!((stats.sent, stats.dropped), (10, 40));
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn emf_batches_carry_the_header_that_makes_cloudwatch_extract_metrics() {
    let endpoint = HttpCapture::start("application/x-amz-json-1.1", "{}");
    let conf = redscribe_aws::config::local(&endpoint.url, "us-east-1", "a", "b").await;
    let shipper = LogShipper::from_conf(&conf, ShipperConfig::emf("/redscribe/test"));
    for doc in documents(3, 1) {
        shipper.send(event(&doc));
    }
    let stats = shipper.close(Duration::from_secs(30)).await;
    assert_eq!(stats.sent, 3);
    let seen = endpoint.requests();
    let operations: Vec<&str> =
        seen.iter().map(|r| r.header("x-amz-target").unwrap_or_default().rsplit('.').next().unwrap()).collect();
    assert_eq!(operations, ["CreateLogGroup", "CreateLogStream", "PutLogEvents"]);
    assert_eq!(seen[2].header("x-amzn-logs-format"), Some("json/emf"), "PutLogEvents is marked EMF");
    assert_eq!(seen[0].header("x-amzn-logs-format"), None, "only PutLogEvents");
}
