//! The transcribe Lambda as a process, against a Lambda Runtime API on loopback (`AWS_LAMBDA_RUNTIME_API`) and the
//! S3 stand-in: real event fixtures in, the answers, the objects it wrote and its EMF lines checked.

use std::time::Duration;

use redscribe_core::ports::ObjectStore;
use redscribe_local::runtime_api::{Answer, RuntimeApi};
use redscribe_local::s3::S3Fault;
use redscribe_testkit::{drain, speech, sqs_records, wait_for, Function, HttpCapture, StandIns, BUCKET};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_redscribe-transcribe");

#[tokio::test(flavor = "multi_thread")]
async fn sqs_and_direct_events_through_the_runtime_api() {
    let mut stand_ins = StandIns::s3().await;
    let store = stand_ins.store().await;
    let hello = speech(stand_ins.dir.path(), "Please call me back about the invoice.");
    store.put(BUCKET, "in/call back.wav", hello, "audio/wav").await.unwrap();
    store.put(BUCKET, "in/notes.wav", b"minutes of the meeting, as text".to_vec(), "audio/wav").await.unwrap();
    // The stand-in's upload events, each as the body of an SQS message (what an SQS trigger delivers).
    let mut records = sqs_records(&drain(&mut stand_ins.events));
    assert_eq!(records.len(), 2);
    records.push(json!({ "messageId": "m-bad", "eventSource": "aws:sqs", "body": "not an event" }));

    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    // An OTLP/HTTP collector on loopback: the function's traces go there.
    let collector = HttpCapture::start("application/x-protobuf", "");
    let mut env = stand_ins.function_env();
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.clone()));
    let function = Function::start(BINARY, "redscribe-transcribe", &api.address(), &env);
    let batch = api.invoke(json!({ "Records": records }));
    let answer = api.outcome(&batch, Duration::from_secs(120)).await.expect("an answer to the SQS batch");
    assert_eq!(answer, Answer::Response(json!({ "batchItemFailures": [] })), "nothing to retry");
    // Its spans were sent before the answer: the collector has them already.
    let spans = exported_spans(&collector);
    let invocation = spans.iter().find(|s| s.name == "invocation").expect("the invocation span");
    assert_eq!(attribute(invocation, "requestId").as_deref(), Some(batch.as_str()));
    assert!(invocation.parent_span_id.is_empty(), "a root: the runtime's own span is not exported");
    for (stage, n) in [("download", 2), ("transcribe", 2), ("write", 2)] {
        let of_stage: Vec<_> = spans.iter().filter(|s| s.name == stage).collect();
        assert_eq!(of_stage.len(), n, "{stage}: {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>());
        for span in of_stage {
            assert_eq!((&span.trace_id, &span.parent_span_id), (&invocation.trace_id, &invocation.span_id));
            assert!(attribute(span, "id").is_some_and(|id| id.len() == 32), "{span:?}");
        }
    }
    let heard = spans.iter().find(|s| s.name == "transcribe" && attribute(s, "audio_s").is_some()).unwrap();
    assert!(attribute(heard, "rtf").is_some(), "{heard:?}");

    // A payload that is no event: acknowledged and kept.
    let garbage = api.invoke(json!({ "hello": "world" }));
    let answer = api.outcome(&garbage, Duration::from_secs(30)).await.unwrap();
    assert_eq!(answer, Answer::Response(json!({ "processed": 0, "quarantined": 0, "skipped": 0, "invalid": 1 })));

    // What it wrote: the transcribed result, the not-audio quarantine record, two invalid-event records.
    let files = |prefix: &str| stand_ins.files(prefix);
    assert_eq!(files("processed/transcription_results").len(), 2, "one row per recording");
    assert_eq!(files("processed/transcription_segments").len(), 1, "segments of the speech");
    assert_eq!(files("rejected/not_audio").len(), 1);
    assert_eq!(files("rejected/invalid_event").len(), 2);

    // EMF on stdout, one flush per invocation, from the catalog, with the function and model dimensions.
    let emf: Vec<Value> = wait_for(|| {
        let docs = function.emf();
        docs.iter().any(|d| d.get("RecordingsQuarantined").is_some()).then_some(docs)
    })
    .await;
    assert!(
        emf.iter().any(|d| d.get("AudioSecondsTranscribed").is_some() && d["Model"] == "whisper-tiny.en"),
        "{emf:?}"
    );
    assert!(emf.iter().all(|d| d["Function"] == "redscribe-transcribe"), "{emf:?}");
    assert_eq!(emf.iter().filter(|d| d.get("ColdStartDuration").is_some()).count(), 1, "once, at the first flush");
    assert!(emf.iter().all(|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Redscribe"), "{emf:?}");
    for doc in &emf {
        redscribe_core::emf::validate(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    }

    // JSON logs: one "processed" line per recording inside the invocation's span, with what the Logs Insights
    // queries in dashboards/queries/ read.
    let logs = function.logs();
    let processed: Vec<&Value> = logs.iter().filter(|l| l["message"] == "processed").collect();
    assert_eq!(processed.len(), 2, "{logs:?}");
    assert!(processed.iter().all(|l| l["span"]["requestId"] == batch.as_str()), "{processed:?}");
    let failed = processed.iter().find(|l| l["status"] == "failed").unwrap();
    assert_eq!((failed["error_code"].as_str(), failed["stage"].as_str()), (Some("not_audio"), Some("decode")));
    // Reads throttled longer than the SDK retries: the function retries the recording itself, and logs why.
    store.put(BUCKET, "in/later.wav", b"not audio either".to_vec(), "audio/wav").await.unwrap();
    let later = sqs_records(&drain(&mut stand_ins.events));
    stand_ins.s3.faults().fail_next_reads(6, S3Fault::SlowDown);
    let retried = api.invoke(json!({ "Records": later }));
    let answer = api.outcome(&retried, Duration::from_secs(120)).await.expect("an answer to the throttled batch");
    assert_eq!(answer, Answer::Response(json!({ "batchItemFailures": [] })), "retried to the end");

    // The shipped Logs Insights queries, run over these lines as CloudWatch Logs would keep them.
    let events = function.log_events();
    let query = |name: &str, replace: &[(&str, &str)]| redscribe_testkit::logs_insights(name, replace, &events);
    let row = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let errors = query("errors-by-stage", &[]);
    // Each of the six throttled reads retried once, then the recording was read: not audio, like notes.wav.
    assert_eq!(
        errors,
        vec![
            row(&[("at", "retry"), ("reason", "throttled"), ("failures", "6")]),
            row(&[("at", "decode"), ("reason", "not_audio"), ("failures", "2")]),
        ]
    );
    let slowest = query("slowest-recordings", &[]);
    let mut keys: Vec<&str> = slowest.iter().map(|r| r["key"].as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["in/call back.wav", "in/later.wav", "in/notes.wav"], "{slowest:?}");
    let ms: Vec<u64> = slowest.iter().map(|r| r["processing_ms"].parse().unwrap()).collect();
    assert!(ms.windows(2).all(|w| w[0] >= w[1]), "slowest first: {ms:?}");
    assert!(slowest.iter().any(|r| r["key"] == "in/call back.wav" && r.contains_key("audio_s")), "{slowest:?}");
    let quarantined = query("quarantined-keys", &[]);
    assert!(quarantined.iter().any(|r| r.get("key").map(String::as_str) == Some("in/notes.wav")), "{quarantined:?}");
    assert!(quarantined.iter().any(|r| r.get("message_id").map(String::as_str) == Some("m-bad")), "{quarantined:?}");
    assert!(quarantined.iter().all(|r| r.contains_key("@timestamp")), "{quarantined:?}");
    // One invocation's story: the placeholder id replaced by the batch's request id.
    let story = query("request-story", &[("00000000-0000-0000-0000-000000000000", batch.as_str())]);
    let processed = story.iter().filter(|r| r.get("message").map(String::as_str) == Some("processed")).count();
    assert_eq!(processed, 2, "{story:?}");
    let times: Vec<&str> = story.iter().map(|r| r["@timestamp"].as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in order: {times:?}");
    assert!(query("request-story", &[("00000000-0000-0000-0000-000000000000", "another")]).is_empty());
    drop(function);
    api.stop().await;
    stand_ins.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_variable_stops_the_function_at_start_with_its_name() {
    let stand_ins = StandIns::s3().await;
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let output = std::process::Command::new(BINARY)
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "redscribe-transcribe")
        .env("REDSCRIBE_CONCURRENCY", "lots")
        .env("AWS_ENDPOINT_URL_S3", stand_ins.s3.endpoint_url())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("REDSCRIBE_CONCURRENCY"), "{stderr}");
    assert!(api.first_poll().is_none(), "it never asked for an event");
    api.stop().await;
    stand_ins.stop().await;
}

/// Every span the collector has received (OTLP/HTTP protobuf, decoded with the OpenTelemetry protocol types).
fn exported_spans(collector: &HttpCapture) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let mut spans = Vec::new();
    for request in collector.requests().into_iter().filter(|r| r.path == "/v1/traces") {
        assert_eq!(request.header("content-type"), Some("application/x-protobuf"));
        let export = ExportTraceServiceRequest::decode(request.body.as_slice()).expect("OTLP protobuf");
        for resource in export.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name").and_then(|a| a.value.clone()));
            assert!(format!("{service:?}").contains("redscribe-transcribe"), "{service:?}");
            spans.extend(resource.scope_spans.into_iter().flat_map(|s| s.spans));
        }
    }
    spans
}

/// A span attribute's value, as text.
fn attribute(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()?.value.clone()).map(|v| match v {
        Value::StringValue(s) => s,
        Value::DoubleValue(d) => d.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::BoolValue(b) => b.to_string(),
        other => format!("{other:?}"),
    })
}

/// A recording that takes the process down (here an abort: what a native crash, an out-of-memory kill or the
/// function's timeout does) costs its batch-mates nothing. SQS is played as it behaves: a batch the process
/// died on comes back whole, each message's `ApproximateReceiveCount` one higher; an answered batch brings back
/// only its `batchItemFailures`. With five recordings in a batch and the poison first, the batch-mates are each
/// transcribed once, on the second receive (the least suspect run first), and the poison is quarantined
/// `retries_exhausted` unprocessed on its fourth — never a batch-mate.
#[tokio::test(flavor = "multi_thread")]
async fn a_recording_that_aborts_the_process_costs_its_batch_mates_nothing() {
    let mut stand_ins = StandIns::s3().await;
    let store = stand_ins.store().await;
    for key in ["in/a-poison.wav", "in/b.wav", "in/c.wav", "in/d.wav", "in/e.wav"] {
        store.put(BUCKET, key, redscribe_testkit::tone_wav(16_000, 0.5), "audio/wav").await.unwrap();
    }
    let mut pending = sqs_records(&drain(&mut stand_ins.events));
    assert_eq!(pending.len(), 5);
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut env = stand_ins.function_env();
    env.push(("REDSCRIBE_FAULT_ABORT_ON", "poison".to_string()));
    // As the stack deploys it: one recording at a time.
    env.push(("REDSCRIBE_CONCURRENCY", "1".to_string()));
    let mut receives = 0;
    let mut died = 0;
    let mut stderr = Vec::new();
    while !pending.is_empty() {
        receives += 1;
        assert!(receives <= 4, "still pending after four receives: {pending:?}");
        for record in &mut pending {
            record["attributes"]["ApproximateReceiveCount"] = receives.to_string().into();
        }
        let mut function = Function::start(BINARY, "redscribe-transcribe", &api.address(), &env);
        stderr.push(function.stderr.clone());
        let batch = api.invoke(json!({ "Records": pending.clone() }));
        tokio::select! {
            answer = api.outcome(&batch, Duration::from_secs(120)) => {
                let Some(Answer::Response(answer)) = answer else { panic!("receive {receives}: {answer:?}") };
                let failed: Vec<&str> = answer["batchItemFailures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["itemIdentifier"].as_str().unwrap())
                    .collect();
                pending.retain(|r| failed.contains(&r["messageId"].as_str().unwrap()));
            }
            status = function.exited(Duration::from_secs(120)) => {
                assert!(status.is_some_and(|s| !s.success()), "receive {receives}: the process ended {status:?}");
                died += 1;
            }
        }
    }
    assert_eq!((receives, died), (4, 3), "the poison took the process down three times, then was quarantined");
    let files = |prefix: &str| stand_ins.files(prefix);
    assert_eq!(files("rejected/").len(), 1, "only the poison: {:?}", files("rejected/"));
    assert_eq!(files("rejected/retries_exhausted/").len(), 1);
    let record = std::fs::read_to_string(&files("rejected/retries_exhausted/")[0]).unwrap();
    assert!(record.contains("a-poison.wav") && record.contains("started 3 times"), "{record}");
    // Each batch-mate transcribed once (one "processed" line each), the poison's failed row beside theirs.
    assert_eq!(files("processed/transcription_results/").len(), 5, "{:?}", files("processed/"));
    let processed: Vec<String> = wait_for(|| {
        let lines: Vec<Value> = stderr
            .iter()
            .flat_map(|l| l.lock().unwrap().clone())
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect();
        let keys: Vec<String> = lines
            .iter()
            .filter(|l| l["message"] == "processed")
            .filter_map(|l| l["key"].as_str().map(str::to_string))
            .collect();
        (keys.len() >= 5).then_some(keys)
    })
    .await;
    let mut processed = processed;
    processed.sort();
    assert_eq!(processed, ["in/a-poison.wav", "in/b.wav", "in/c.wav", "in/d.wav", "in/e.wav"]);
    api.stop().await;
    stand_ins.stop().await;
}
