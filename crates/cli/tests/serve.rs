//! `redscribe serve` as a user runs it: a process on loopback port 0, the real `aws` CLI using the profile it
//! writes for S3 and the Redshift Data API, one journaled event per upload, a clean stop on SIGTERM, and objects,
//! events and warehouse rows that survive a restart.

use std::path::Path;

use redscribe_testkit::tone_wav as wav;

mod common;
use common::{aws, dashboard_panels, query_until, redscribe, start_serve, stop, Served};

fn start(data: &Path) -> Served {
    start_with(data, &[])
}

fn start_with(data: &Path, extra: &[&str]) -> Served {
    start_serve(data, extra, &[])
}

fn journal_lines(data: &Path, file: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join("events").join(file))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs SQL through `aws redshift-data` with the generated profile and returns the records of its result.
fn sql(served: &Served, query: &str, with_result: bool) -> serde_json::Value {
    let started: serde_json::Value = serde_json::from_str(&aws(
        served,
        &["redshift-data", "execute-statement", "--database", "dev", "--workgroup-name", "local", "--sql", query],
    ))
    .unwrap();
    let id = started["Id"].as_str().unwrap();
    for _ in 0..200 {
        let d: serde_json::Value =
            serde_json::from_str(&aws(served, &["redshift-data", "describe-statement", "--id", id])).unwrap();
        match d["Status"].as_str().unwrap() {
            "FINISHED" if !with_result => return serde_json::Value::Null,
            "FINISHED" => {
                let r = aws(served, &["redshift-data", "get-statement-result", "--id", id]);
                return serde_json::from_str::<serde_json::Value>(&r).unwrap()["Records"].clone();
            }
            "FAILED" | "ABORTED" => panic!("{query}: {d}"),
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
    panic!("{query} did not finish")
}

#[test]
fn warehouse_rows_written_through_the_data_api_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start(&data);
    sql(&served, "CREATE TABLE notes (id INTEGER, body VARCHAR(100))", false);
    sql(&served, "INSERT INTO notes VALUES (1, 'kept across restarts')", false);
    stop(served);
    assert!(data.join("warehouse").join("redscribe.duckdb").is_file());

    let served = start(&data);
    let records = sql(&served, "SELECT id, body FROM notes", true);
    assert_eq!(records[0][0]["longValue"], 1);
    assert_eq!(records[0][1]["stringValue"], "kept across restarts");

    // `redscribe query` finds the local Data API through the same generated profile.
    let json = redscribe(&served, &["query", "--format", "json", "SELECT id, body, NULL AS none FROM notes"]);
    assert_eq!(json.trim(), r#"{"body":"kept across restarts","id":1,"none":null}"#);
    let csv = redscribe(&served, &["query", "--format", "csv", "SELECT 'a,b' AS x, 2 AS y"]);
    assert_eq!(csv, "x,y\n\"a,b\",2\n");
    let table = redscribe(&served, &["query", "SELECT body FROM notes"]);
    assert!(table.contains("kept across restarts") && table.contains("(1 row)"), "{table}");
    stop(served);
}

#[test]
fn an_upload_through_the_generated_profile_becomes_a_row_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start(&data);
    assert!(served.endpoint.starts_with("http://127.0.0.1:"), "{}", served.endpoint);
    assert!(served.exports.iter().any(|(k, _)| k == "AWS_PROFILE"));

    let file = dir.path().join("call.wav");
    std::fs::write(&file, b"RIFF\x24\x00\x00\x00WAVE").unwrap();
    aws(&served, &["s3", "cp", file.to_str().unwrap(), "s3://recordings/in/weekly call+notes.wav"]);
    let listing = aws(&served, &["s3", "ls", "s3://recordings/in/"]);
    assert!(listing.contains("weekly call+notes.wav"), "{listing}");

    // The pipeline picks the upload up: within seconds it is a row (a header without audio: failed, truncated).
    let rows = query_until(&served, "select object_key, status, error_code from transcription_results", 1);
    assert_eq!(rows, "object_key,status,error_code\nin/weekly call+notes.wav,failed,truncated\n");
    // The events of the pipeline's own writes (the last one, the manifest, lands just before the load) are
    // acknowledged as they arrive.
    for _ in 0..50 {
        if journal_lines(&data, "acks.jsonl").len() == journal_lines(&data, "events.jsonl").len() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The page serve prints draws the row: the failure is in the daily view's panel as it happens.
    assert!(served.dashboard.starts_with("http://127.0.0.1:"), "{}", served.dashboard);
    let panels = dashboard_panels(&served);
    let failures =
        panels["panels"].as_array().unwrap().iter().find(|p| p["title"] == "Failures per day by code (warehouse)");
    let rows = &failures.expect("the failures panel")["table"]["rows"];
    assert!(rows.as_array().unwrap().iter().any(|r| r.to_string().contains("\"truncated\"")), "{rows}");
    stop(served);

    // The pipeline's own outputs in the bucket raise events too (as on S3); the loop guard skips them.
    let events = journal_lines(&data, "events.jsonl");
    let inputs: Vec<_> = events
        .iter()
        .map(|e| &e["event"]["Records"][0])
        .filter(|r| r["s3"]["object"]["key"].as_str().unwrap().starts_with("in/"))
        .collect();
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0]["eventName"], "ObjectCreated:Put");
    assert_eq!(inputs[0]["s3"]["object"]["key"], "in/weekly+call%2Bnotes.wav");
    assert_eq!(journal_lines(&data, "acks.jsonl").len(), events.len(), "every event acknowledged once handled");

    // The object and the row are still there after a restart, with new credentials, and no event is raised again.
    let served = start(&data);
    let listing = aws(&served, &["s3", "ls", "s3://recordings/in/"]);
    assert!(listing.contains("weekly call+notes.wav"), "{listing}");
    let count = redscribe(&served, &["query", "--format", "csv", "select count(*) as n from transcription_results"]);
    assert_eq!(count, "n\n1\n");
    stop(served);
    assert_eq!(journal_lines(&data, "events.jsonl").len(), events.len(), "a restart raises no new event");
}

/// `backfill` and `replay` with `--aws`, pointed at `serve --no-pipeline` by nothing but the generated profile:
/// the configuration-only path to a real account.
#[test]
fn backfill_and_replay_reach_the_stand_ins_through_aws_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut served = start_with(&data, &["--no-pipeline"]);
    // The metrics of --aws commands go to CloudWatch Logs: here, moto's.
    let moto = redscribe_testkit::Moto::start();
    served.exports.push(("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS".into(), moto.endpoint_url.clone()));
    let files = dir.path().join("archive");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("a.wav"), wav(8000, 0.5)).unwrap();
    std::fs::write(files.join("b's.wav"), wav(16000, 0.25)).unwrap();
    let mut cut = wav(8000, 1.0);
    cut.truncate(3000);
    std::fs::write(files.join("cut.wav"), &cut).unwrap();
    aws(&served, &["s3", "cp", "--recursive", files.to_str().unwrap(), "s3://recordings/archive/"]);
    let count = |served: &Served| {
        redscribe(served, &["query", "--format", "csv", "select count(*) as n from transcription_results"])
    };
    assert_eq!(count(&served), "n\n0\n", "--no-pipeline leaves uploads alone");

    // Metadata only: this test is about where the stages run, not what Whisper hears (the demo test is).
    let aws_args = ["--aws", "--s3-path-style", "--no-transcribe"];
    let summary = redscribe(&served, &[&["backfill"], &aws_args[..], &["s3://recordings/archive/"]].concat());
    assert!(summary.contains("processed:        3 (2 read, 1 rejected)"), "{summary}");
    assert!(summary.contains("COPY statements:  1"), "{summary}");
    assert_eq!(count(&served), "n\n3\n");
    // Its metrics reached CloudWatch Logs as EMF documents, read back with the aws CLI.
    let events = moto.aws(&["logs", "filter-log-events", "--log-group-name", "/redscribe/metrics"]);
    let docs: Vec<serde_json::Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(e["message"].as_str().unwrap()).unwrap())
        .collect();
    assert!(docs.iter().any(|d| d["RowsLoaded"] == 3.0), "{docs:?}");
    for doc in &docs {
        redscribe_core::emf::validate(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    }

    let listed = redscribe(&served, &[&["replay", "--dry-run"], &aws_args[..]].concat());
    assert!(listed.contains("truncated\ts3://recordings/archive/cut.wav"), "{listed}");
    assert!(listed.contains("1 record(s) would be replayed"), "{listed}");
    // Replayed three times while still broken: the same row, the same record.
    for _ in 0..3 {
        let replayed = redscribe(&served, &[&["replay", "--reason", "truncated"], &aws_args[..]].concat());
        assert!(replayed.contains("rejected truncated: 1"), "{replayed}");
    }
    assert_eq!(count(&served), "n\n3\n");
    let listed = redscribe(&served, &[&["replay", "--dry-run"], &aws_args[..]].concat());
    assert!(listed.contains("1 record(s) would be replayed"), "{listed}");

    // The object is fixed (the "fix" replay exists for): the row is updated in place and the record goes.
    std::fs::write(files.join("cut.wav"), wav(8000, 1.0)).unwrap();
    aws(&served, &["s3", "cp", files.join("cut.wav").to_str().unwrap(), "s3://recordings/archive/cut.wav"]);
    let replayed = redscribe(&served, &[&["replay"], &aws_args[..]].concat());
    assert!(replayed.contains("processed:        1 (1 read, 0 rejected)"), "{replayed}");
    assert!(replayed.contains("records settled:  1"), "{replayed}");
    let rows = redscribe(
        &served,
        &["query", "--format", "csv", "select status, count(*) as n from transcription_results group by 1"],
    );
    assert_eq!(rows, "status,n\nmetadata_only,3\n");
    let listed = redscribe(&served, &[&["replay", "--dry-run"], &aws_args[..]].concat());
    assert!(listed.contains("0 record(s) would be replayed"), "{listed}");
    stop(served);
}

/// The stand-ins never take a real AWS key from the environment, never print their secret, and keep their data
/// folder to its owner; their own pair comes from `REDSCRIBE_LOCAL_*` when set.
#[test]
fn serve_never_takes_the_environments_aws_keys_nor_prints_its_secret() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (real_id, real_secret) = ("AKIAREALACCOUNTKEY01", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYREALSECRET");
    let aws_env = [("AWS_ACCESS_KEY_ID", real_id), ("AWS_SECRET_ACCESS_KEY", real_secret)];
    let served = common::start_serve(&data, &[], &aws_env);
    let printed = served.printed.join("\n");
    let credentials_file = data.join("aws/credentials");
    let profile = std::fs::read_to_string(&credentials_file).unwrap();
    assert!(!profile.contains(real_id) && !profile.contains(real_secret), "{profile}");
    assert!(!printed.contains(real_secret) && !printed.contains(real_id), "{printed}");
    let secret = profile.lines().find_map(|l| l.strip_prefix("aws_secret_access_key = ")).unwrap().to_string();
    assert!(!printed.contains(&secret), "the secret is printed: {printed}");
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&credentials_file).unwrap().permissions().mode() & 0o777, 0o600);
    // The profile works (the aws CLI reads it), and a restart keeps the pair: configured clients go on working.
    assert!(aws(&served, &["s3", "ls"]).contains("recordings"));
    stop(served);
    let again = common::start_serve(&data, &[], &aws_env);
    assert_eq!(std::fs::read_to_string(&credentials_file).unwrap(), profile);
    stop(again);

    // A pair of the stand-ins' own, chosen by the user.
    let other = dir.path().join("other");
    let own = [
        ("REDSCRIBE_LOCAL_ACCESS_KEY_ID", "AKLOCALCHOSEN0000001"),
        ("REDSCRIBE_LOCAL_SECRET_ACCESS_KEY", "chosen-secret"),
    ];
    let served = common::start_serve(&other, &[], &own);
    let profile = std::fs::read_to_string(other.join("aws/credentials")).unwrap();
    assert!(profile.contains("AKLOCALCHOSEN0000001") && profile.contains("chosen-secret"), "{profile}");
    assert!(!served.printed.join("\n").contains("chosen-secret"));
    assert!(aws(&served, &["s3", "ls"]).contains("recordings"));
    stop(served);
}
