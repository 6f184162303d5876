//! Every front end hands the one driver its deliveries raw, and the driver alone decides what they are: the same
//! deliveries — a good recording, a record to skip, a message that is no event, a message received too often —
//! end the same way (outcomes, quarantine records, metrics) whether they come as the transcribe function's SQS
//! batch, as journal events one job each (`serve`, `run`), or, for what is listed rather than announced, as
//! `backfill`'s objects. Only the acknowledgement differs: `batchItemFailures` or journal acks.

use std::collections::BTreeMap;
use std::sync::Arc;

use redscribe_aws::s3::S3Objects;
use redscribe_core::emf::Recorder;
use redscribe_core::events::{normalize, ObjectEvent, ObjectVersion};
use redscribe_core::layout::Layout;
use redscribe_core::ports::ObjectStore;
use redscribe_pipeline::driver::{Delivery, Driver, DriverConfig, Job, Report, Settled};
use redscribe_pipeline::invoke::transcribe_invocation;
use redscribe_pipeline::transcribe::Attempts;
use redscribe_pipeline::{Processed, TranscribeConfig, TranscribeStage};
use redscribe_testkit::{drain, sqs_records, tone_wav, StandIns};
use serde_json::{json, Value};

/// What a run ended with, in a form two front ends can be compared by.
#[derive(Debug, PartialEq)]
struct Ending {
    /// Each recording's key and how it ended (`written`, or its quarantine code).
    outcomes: BTreeMap<String, String>,
    /// Quarantine records kept, by reason folder.
    records: BTreeMap<String, usize>,
    /// Count metrics: (name, stage, error code) → sum.
    counts: BTreeMap<(String, String, String), f64>,
}

fn ending<T>(report: &Report<T>, store_files: Vec<String>, metrics: &Recorder) -> Ending {
    let outcomes = report
        .outcomes()
        .map(|(event, outcome)| {
            let how = match outcome {
                Ok(Processed::Written(_)) => "written".to_string(),
                Ok(Processed::Quarantined { code, .. }) => code.as_str().to_string(),
                Ok(other) => format!("{other:?}"),
                Err(e) => format!("retry {}", e.code.as_str()),
            };
            (event.object.key.clone(), how)
        })
        .collect();
    let mut records = BTreeMap::new();
    for file in store_files {
        let reason = file.split('/').nth(1).unwrap_or_default().to_string();
        *records.entry(reason).or_default() += 1;
    }
    let mut counts = BTreeMap::new();
    for doc in metrics.drain_now() {
        let dimension = |name: &str| doc[name].as_str().unwrap_or("-").to_string();
        for name in ["RecordingsReceived", "RecordingsSkipped", "RecordingsProcessed", "RecordingsQuarantined"] {
            let sum = match &doc[name] {
                Value::Number(n) => n.as_f64().unwrap(),
                Value::Array(values) => values.iter().filter_map(Value::as_f64).sum(),
                _ => continue,
            };
            *counts.entry((name.to_string(), dimension("Stage"), dimension("ErrorCode"))).or_default() += sum;
        }
    }
    Ending { outcomes, records, counts }
}

/// A fresh bucket with two recordings, and the four messages of the test: the good recording's upload, an
/// `s3:TestEvent`, a message that is no event, and the second recording's upload received for the fourth time,
/// its processing having taken the process down on each of the three before (its attempt markers say so).
async fn setup() -> (StandIns, Arc<S3Objects>, Vec<Value>) {
    let mut stand_ins = StandIns::start().await;
    let store = stand_ins.store().await;
    for key in ["in/good.wav", "in/poison.wav"] {
        store.put("recordings", key, tone_wav(16_000, 0.5), "audio/wav").await.unwrap();
    }
    let deliveries = drain(&mut stand_ins.events);
    let mut records = sqs_records(&deliveries);
    assert_eq!(records.len(), 2);
    records[1]["attributes"]["ApproximateReceiveCount"] = "4".into();
    let poison = normalize(&deliveries[1].event, &Layout::default()).unwrap().objects.remove(0);
    for _ in 0..3 {
        Attempts::started(store.as_ref(), &Layout::default(), &poison).await.unwrap();
    }
    let mut test_event = records[0].clone();
    test_event["messageId"] = "m-test".into();
    test_event["body"] =
        json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "recordings"}).to_string().into();
    let mut garbage = records[0].clone();
    garbage["messageId"] = "m-garbage".into();
    garbage["body"] = json!({"hello": "not an event"}).to_string().into();
    (stand_ins, store, vec![records[0].clone(), test_event, garbage, records[1].clone()])
}

fn stage(store: Arc<S3Objects>, metrics: Arc<Recorder>) -> Arc<TranscribeStage<S3Objects>> {
    Arc::new(TranscribeStage::new(store, TranscribeConfig::default()).with_metrics(metrics))
}

fn rejected(stand_ins: &StandIns) -> Vec<String> {
    stand_ins.files("rejected/").into_iter().map(|f| f[f.find("rejected/").unwrap()..].to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_deliveries_end_the_same_through_every_front_end() {
    // The transcribe function: one SQS batch, answered with batchItemFailures.
    let (lambda_ins, store, messages) = setup().await;
    let metrics = Arc::new(Recorder::new("Redscribe", "redscribe"));
    let payload = json!({ "Records": messages });
    let config = DriverConfig { concurrency: 2, fallback_bucket: "recordings".into(), ..DriverConfig::default() };
    let invocation = transcribe_invocation(stage(store, metrics.clone()), &payload, config).await.unwrap();
    assert_eq!(invocation.response, json!({ "batchItemFailures": [] }), "every message is settled for good");
    let by_lambda = ending(&invocation.report, rejected(&lambda_ins), &metrics);

    // `serve` and `run`: each message's payload its own journal job, acknowledged one by one.
    let (journal_ins, store, messages) = setup().await;
    let metrics = Arc::new(Recorder::new("Redscribe", "redscribe"));
    let jobs: Vec<Job<u64>> = messages
        .iter()
        .enumerate()
        .map(|(seq, m)| Job { token: seq as u64, delivery: Delivery::Notification(json!({ "Records": [m] })) })
        .collect();
    let config = DriverConfig { fallback_bucket: "recordings".into(), ..DriverConfig::default() };
    let mut report = Report::default();
    Driver::transcribing(stage(store, metrics.clone()), config).run_all(jobs, &mut report).await;
    for seq in 0..4u64 {
        assert!(report.done(&seq), "journal event {seq} is acknowledged: {:?}", report.settled);
    }
    let by_journal = ending(&report, rejected(&journal_ins), &metrics);

    assert_eq!(by_lambda, by_journal);
    let expected: BTreeMap<String, String> =
        [("in/good.wav", "written"), ("in/poison.wav", "retries_exhausted")].map(|(k, v)| (k.into(), v.into())).into();
    assert_eq!(by_lambda.outcomes, expected);
    let records: BTreeMap<String, usize> =
        [("invalid_event".to_string(), 1), ("retries_exhausted".to_string(), 1)].into();
    assert_eq!(by_lambda.records, records);
    let count = |name: &str, stage: &str, code: &str| {
        by_lambda.counts.get(&(name.to_string(), stage.to_string(), code.to_string())).copied().unwrap_or(0.0)
    };
    assert_eq!(count("RecordingsSkipped", "receive", "-"), 1.0, "{:?}", by_lambda.counts);
    assert_eq!(count("RecordingsQuarantined", "receive", "invalid_event"), 1.0, "{:?}", by_lambda.counts);
    assert_eq!(count("RecordingsQuarantined", "receive", "retries_exhausted"), 1.0, "{:?}", by_lambda.counts);
    assert_eq!(count("RecordingsProcessed", "write", "-"), 1.0, "{:?}", by_lambda.counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_objects_are_skipped_and_counted_as_announced_ones_are() {
    // `backfill`: what a listing finds, each object a job; the pipeline's own outputs and folder markers are
    // skipped by the driver's rules, with the metric, as in an announcement.
    let (stand_ins, store, messages) = setup().await;
    let metrics = Arc::new(Recorder::new("Redscribe", "redscribe"));
    let announced: Vec<ObjectEvent> =
        normalize(&json!({ "Records": [messages[0]] }), &Layout::default()).unwrap().objects;
    let listed = |key: &str| {
        let object = ObjectVersion { key: key.into(), ..announced[0].object.clone() };
        ObjectEvent { object, message_id: None, ..announced[0].clone() }
    };
    let objects = [
        listed("in/good.wav"),
        listed("in/notes/"),
        listed("processed/transcription_results/dt=2026-12-04/x-y.parquet"),
    ];
    let jobs: Vec<Job<usize>> =
        objects.into_iter().enumerate().map(|(i, o)| Job { token: i, delivery: Delivery::Objects(vec![o]) }).collect();
    let mut report = Report::default();
    Driver::transcribing(stage(store, metrics.clone()), DriverConfig::default()).run_all(jobs, &mut report).await;
    assert!((0..3).all(|i| report.done(&i)), "{:?}", report.settled);
    assert_eq!(report.admitted.skipped, 2);
    let ended = ending(&report, rejected(&stand_ins), &metrics);
    assert_eq!(ended.outcomes.get("in/good.wav").map(String::as_str), Some("written"));
    assert_eq!(ended.counts.get(&("RecordingsSkipped".into(), "receive".into(), "-".into())), Some(&2.0));
    assert!(report.settled.iter().all(|(_, _, s)| *s == Settled::Done));
}
