//! The transcribe Lambda as a process, against a Lambda Runtime API on loopback (`AWS_LAMBDA_RUNTIME_API`) and the
//! S3 stand-in: real event fixtures in, the answers, the objects it wrote and its EMF lines checked.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redscribe_local::runtime_api::{Outcome, RuntimeApi};
use redscribe_local::s3::{EventJournal, S3Server, S3ServerConfig};
use redscribe_local::Credentials;
use serde_json::{json, Value};

struct Function {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_function(api: &RuntimeApi, s3: &S3Server, creds: &Credentials, extra: &[(&str, &str)]) -> Function {
    let mut child = Command::new(env!("CARGO_BIN_EXE_redscribe-transcribe"))
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "redscribe-transcribe")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL_S3", s3.endpoint_url())
        .env("REDSCRIBE_S3_PATH_STYLE", "true")
        .env("S3_BUCKET", "recordings")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the Lambda binary");
    let collect = |pipe: Box<dyn std::io::Read + Send>| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        lines
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    Function { child, stdout, stderr }
}

async fn s3_stand_in(
    dir: &std::path::Path,
    creds: &Credentials,
) -> (S3Server, tokio::sync::mpsc::UnboundedReceiver<redscribe_local::s3::Delivery>) {
    let (journal, events) = EventJournal::open(&dir.join("events"), "us-east-1").unwrap();
    let root = dir.join("s3");
    std::fs::create_dir_all(root.join("recordings")).unwrap();
    let config = S3ServerConfig { addr: "127.0.0.1:0".parse().unwrap(), root, credentials: creds.clone() };
    (S3Server::start(config, Arc::new(journal)).await.unwrap(), events)
}

fn speech(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("hello.wav");
    let ok = Command::new("espeak-ng")
        .arg("-w")
        .arg(&path)
        .arg("Please call me back about the invoice.")
        .status()
        .expect("espeak-ng (scripts/setup.sh)");
    assert!(ok.success());
    std::fs::read(path).unwrap()
}

async fn put(s3: &S3Server, creds: &Credentials, key: &str, body: Vec<u8>) {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(s3.endpoint_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            &creds.access_key_id,
            &creds.secret_access_key,
            None,
            None,
            "test",
        ))
        .load()
        .await;
    let store = redscribe_aws::s3::S3Objects::from_conf(&conf, true);
    use redscribe_core::ports::ObjectStore;
    store.put("recordings", key, body, "audio/wav").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sqs_and_direct_events_through_the_runtime_api() {
    let dir = tempfile::tempdir().unwrap();
    let creds = Credentials::generate();
    let (s3, mut deliveries) = s3_stand_in(dir.path(), &creds).await;
    put(&s3, &creds, "in/call back.wav", speech(dir.path())).await;
    put(&s3, &creds, "in/notes.wav", b"minutes of the meeting, as text".to_vec()).await;
    // The stand-in's upload events, each as the body of an SQS message (what an SQS trigger delivers).
    let mut records = Vec::new();
    while let Ok(d) = deliveries.try_recv() {
        let n = records.len();
        records.push(json!({
            "messageId": format!("m{n}"), "receiptHandle": "r", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:recordings", "awsRegion": "us-east-1",
            "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "body": d.event.to_string(),
        }));
    }
    assert_eq!(records.len(), 2);
    records.push(json!({ "messageId": "m-bad", "eventSource": "aws:sqs", "body": "not an event" }));

    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let function = start_function(&api, &s3, &creds, &[]);
    let batch = api.invoke(json!({ "Records": records }));
    let answer = api.outcome(&batch, Duration::from_secs(120)).await.expect("an answer to the SQS batch");
    assert_eq!(answer, Outcome::Response(json!({ "batchItemFailures": [] })), "nothing to retry");

    // A payload that is no event: acknowledged and kept.
    let garbage = api.invoke(json!({ "hello": "world" }));
    let answer = api.outcome(&garbage, Duration::from_secs(30)).await.unwrap();
    assert_eq!(answer, Outcome::Response(json!({ "processed": 0, "quarantined": 0, "skipped": 0, "invalid": 1 })));

    // What it wrote: the transcribed result, the not-audio quarantine record, two invalid-event records.
    let files = |prefix: &str| -> Vec<String> {
        let root = dir.path().join("s3/recordings").join(prefix);
        walk(&root)
    };
    assert_eq!(files("processed/transcription_results").len(), 2, "one row per recording");
    assert_eq!(files("processed/transcription_segments").len(), 1, "segments of the speech");
    assert_eq!(files("rejected/not_audio").len(), 1);
    assert_eq!(files("rejected/invalid_event").len(), 2);

    // EMF on stdout, one flush per invocation, from the catalog, with the function and model dimensions.
    let stdout = function.stdout.clone();
    let emf: Vec<Value> = wait_for(|| {
        let lines = stdout.lock().unwrap();
        let docs: Vec<Value> = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect();
        (docs.iter().any(|d| d.get("RecordingsQuarantined").is_some())).then_some(docs)
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
    let logs: Vec<Value> =
        function.stderr.lock().unwrap().iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect();
    let processed: Vec<&Value> = logs.iter().filter(|l| l["message"] == "processed").collect();
    assert_eq!(processed.len(), 2, "{logs:?}");
    assert!(processed.iter().all(|l| l["span"]["requestId"] == batch.as_str()), "{processed:?}");
    let failed = processed.iter().find(|l| l["status"] == "failed").unwrap();
    assert_eq!((failed["error_code"].as_str(), failed["stage"].as_str()), (Some("not_audio"), Some("decode")));
    let queries = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo test"))
        .join("../../dashboards/queries");
    for entry in std::fs::read_dir(&queries).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let fields = text.lines().find_map(|l| l.strip_prefix("fields ")).expect("a fields line");
        for field in fields.split(',').map(str::trim).filter(|f| !f.starts_with('@')) {
            assert!(logs.iter().any(|l| l.get(field).is_some()), "{}: no log line has {field}", entry.path().display());
        }
    }
    drop(function);
    api.stop().await;
    s3.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_variable_stops_the_function_at_start_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let creds = Credentials::generate();
    let (s3, _deliveries) = s3_stand_in(dir.path(), &creds).await;
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_redscribe-transcribe"))
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "redscribe-transcribe")
        .env("REDSCRIBE_CONCURRENCY", "lots")
        .env("AWS_ENDPOINT_URL_S3", s3.endpoint_url())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("REDSCRIBE_CONCURRENCY"), "{stderr}");
    assert!(api.first_poll().is_none(), "it never asked for an event");
    api.stop().await;
    s3.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

async fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = check() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out")
}
