//! The Data API stand-in driven by the production SDK (`aws-sdk-redshiftdata`) and the real `aws` CLI, with COPY
//! sources uploaded through the S3 stand-in by `aws-sdk-s3`. Both servers on loopback port 0.

use std::process::Command;
use std::time::Duration;

use aws_sdk_redshiftdata::types::{Field, SqlParameter, StatusString};
use chrono::{TimeZone, Utc};
use redscribe_core::identity::recording_id;
use redscribe_core::load::{audit_lines, load_statements, Batch, BatchFile, CopyAuthorization, Staged, Tables};
use redscribe_core::record::{results_batch, segments_batch, AudioMetadata, ResultRow, SegmentRow, Status};
use redscribe_local::redshift::DataApiConfig;

mod common;
use common::{rs_client, start, start_with, Harness, ROLE};

fn t(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

fn row(key: &str, sequencer: &str, text: &str) -> ResultRow {
    let mut row = ResultRow {
        id: recording_id("recordings", key),
        text: None,
        timestamp: t(1_795_000_000),
        bucket: "recordings".into(),
        object_key: key.into(),
        object_version: None,
        etag: Some("9b2cf535f27731c974343645a3985328".into()),
        sequencer: Some(sequencer.into()),
        size_bytes: Some(227_244),
        content_type: Some("audio/wav".into()),
        audio: Some(AudioMetadata {
            container: "wav".into(),
            codec: "pcm_s16le".into(),
            duration_s: 7.1,
            sample_rate: 16_000,
            channels: 1,
            bit_rate: Some(256_000),
            size_bytes: 227_244,
        }),
        model: None,
        language: None,
        word_count: None,
        avg_logprob: None,
        no_speech_prob: None,
        text_truncated: false,
        status: Status::MetadataOnly,
        error_code: None,
        error_message: None,
        uploaded_at: Some(t(1_794_999_990)),
        processed_at: t(1_795_000_001),
        loaded_at: None,
        processing_ms: Some(12),
        pipeline_version: redscribe_core::PIPELINE_VERSION.into(),
        compression_ratio: None,
        quality_flag: None,
        language_probability: None,
        cost_usd: None,
        pii_redacted: None,
        recorded_at: None,
        call_id: None,
        agent_id: None,
        agent_talk_s: None,
        customer_talk_s: None,
        non_talk_s: None,
        generation: None,
    };
    row.set_text(text);
    row
}

fn parquet(rows: &[ResultRow]) -> Vec<u8> {
    redscribe_core::encode::to_parquet(&[results_batch(rows).unwrap()]).unwrap()
}

fn manifest(entries: &[(&str, usize, bool)]) -> Vec<u8> {
    let entries: Vec<_> = entries
        .iter()
        .map(|(url, len, mandatory)| serde_json::json!({"url": url, "mandatory": mandatory, "meta": {"content_length": len}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({ "entries": entries })).unwrap()
}

/// The loader's statements (from the core crate), for a batch of result files listed in a manifest, with the
/// batch's audit rows written beside the manifest as the loader writes them.
async fn load_batch(h: &Harness, manifest_uri: &str, files: &[&str]) -> Vec<String> {
    let audit_key = format!("{}.audit.jsonl", manifest_uri.trim_start_matches("s3://lake/"));
    let batch = Batch {
        id: format!("batch-{manifest_uri}"),
        results: vec![Staged {
            columns: redscribe_core::schema::results_schema().fields().len(),
            manifest: manifest_uri.into(),
            files: files.iter().map(|f| BatchFile { uri: f.to_string(), rows: 1, ..BatchFile::default() }).collect(),
        }],
        details: Default::default(),
        audit_file: format!("s3://lake/{audit_key}"),
    };
    h.put(&audit_key, audit_lines(&Tables::default(), &batch)).await;
    load_statements(&Tables::default(), &CopyAuthorization::IamRole(ROLE.into()), &batch).unwrap()
}

#[tokio::test]
async fn migrations_apply_through_the_data_api_and_match_the_arrow_schema() {
    let h = start().await;
    h.apply_migrations().await;
    // Every table's columns, in order, are the Arrow schema's (ADD COLUMN appends, as on Redshift).
    for (table, schema) in redscribe_core::schema::tables() {
        let columns = h
            .query(&format!(
                "SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' \
                 ORDER BY ordinal_position"
            ))
            .await;
        let names: Vec<String> = columns
            .iter()
            .map(|r| match &r[0] {
                Field::StringValue(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, expected, "{table}");
    }
    assert_eq!(h.scalar("SELECT COUNT(*) FROM transcription_daily").await, 0);
}

#[tokio::test]
async fn copy_parquet_with_manifest_then_merge_is_idempotent_and_newest_wins() {
    let h = start().await;
    h.apply_migrations().await;
    let hostile = "in/a'; drop table transcription_results; --.wav";
    let first = parquet(&[row("in/one.wav", "0000000000000001", "first"), row(hostile, "0000000000000001", "x")]);
    h.put("processed/transcription_results/a.parquet", first.clone()).await;
    h.put("manifests/m1.json", manifest(&[("s3://lake/processed/transcription_results/a.parquet", first.len(), true)]))
        .await;
    let sqls =
        load_batch(&h, "s3://lake/manifests/m1.json", &["s3://lake/processed/transcription_results/a.parquet"]).await;
    let sqls: Vec<&str> = sqls.iter().map(String::as_str).collect();
    // The same batch delivered three times.
    for _ in 0..3 {
        let id = h.batch(&sqls).await;
        let d = h.wait(&id).await;
        assert_eq!(d.status(), Some(&StatusString::Finished), "{:?}", d.error());
        assert_eq!(d.sub_statements().len(), 12, "no segments, words or attributes: the old ones of these ids go too");
        assert_eq!(d.sub_statements()[1].result_rows(), 2, "COPY loads both rows");
    }
    assert_eq!(h.scalar("SELECT COUNT(*) FROM load_audit WHERE status = 'loaded'").await, 3);
    assert_eq!(h.scalar("SELECT COUNT(*) FROM transcription_results").await, 2);

    // Parquet without a manifest: every key under a prefix, into a table of the same shape.
    h.run_ok("CREATE TABLE results_copy (LIKE transcription_results)").await;
    h.run_ok(&format!(
        "COPY results_copy FROM 's3://lake/processed/transcription_results/' IAM_ROLE '{ROLE}' FORMAT AS PARQUET"
    ))
    .await;
    assert_eq!(h.scalar("SELECT COUNT(*) FROM results_copy").await, 2);
    let keys = h.query("SELECT object_key FROM transcription_results ORDER BY object_key").await;
    assert_eq!(keys[0][0], Field::StringValue(hostile.into()));

    // A newer event updates the row; an older one, loaded after it, does not.
    let newer = parquet(&[row("in/one.wav", "0000000000000003", "newer")]);
    let older = parquet(&[row("in/one.wav", "0000000000000002", "older")]);
    for (name, body) in [("newer", newer), ("older", older)] {
        let key = format!("processed/transcription_results/{name}.parquet");
        h.put(&key, body.clone()).await;
        let m = format!("manifests/{name}.json");
        h.put(&m, manifest(&[(&format!("s3://lake/{key}"), body.len(), true)])).await;
        let sqls = load_batch(&h, &format!("s3://lake/{m}"), &[&format!("s3://lake/{key}")]).await;
        let id = h.batch(&sqls.iter().map(String::as_str).collect::<Vec<_>>()).await;
        assert_eq!(h.wait(&id).await.status(), Some(&StatusString::Finished));
    }
    let text = h.query("SELECT text FROM transcription_results WHERE object_key = 'in/one.wav'").await;
    assert_eq!(text, vec![vec![Field::StringValue("newer".into())]]);
    assert_eq!(h.scalar("SELECT COUNT(*) FROM transcription_results WHERE loaded_at IS NOT NULL").await, 2);

    // Two events for one key in the same batch: the newer one wins, whatever the file order.
    let both = parquet(&[row("in/two.wav", "000000000000000A", "ten"), row("in/two.wav", "0000000000000009", "nine")]);
    h.put("processed/transcription_results/both.parquet", both.clone()).await;
    h.put(
        "manifests/both.json",
        manifest(&[("s3://lake/processed/transcription_results/both.parquet", both.len(), true)]),
    )
    .await;
    let both_uri = "s3://lake/processed/transcription_results/both.parquet";
    let sqls = load_batch(&h, "s3://lake/manifests/both.json", &[both_uri]).await;
    let id = h.batch(&sqls.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(h.wait(&id).await.status(), Some(&StatusString::Finished));
    let text = h.query("SELECT text FROM transcription_results WHERE object_key = 'in/two.wav'").await;
    assert_eq!(text, vec![vec![Field::StringValue("ten".into())]]);
}

#[tokio::test]
async fn copy_json_and_csv_from_a_prefix() {
    let h = start().await;
    h.run_ok("CREATE TABLE people (name VARCHAR(20) NOT NULL, age INTEGER, seen TIMESTAMPTZ)").await;
    h.put(
        "json/part-0.jsonl",
        b"{\"name\":\"ann\",\"age\":31,\"seen\":\"2026-11-23T10:00:00Z\"}\n{\"name\":\"bob\"}\n".to_vec(),
    )
    .await;
    h.put("json/part-1.jsonl", b"{\"age\":7,\"name\":\"cy\",\"extra\":true}\n".to_vec()).await;
    h.run_ok(&format!("COPY people FROM 's3://lake/json/' IAM_ROLE '{ROLE}' FORMAT AS JSON 'auto' TIMEFORMAT 'auto'"))
        .await;
    assert_eq!(h.scalar("SELECT COUNT(*) FROM people").await, 3);
    assert_eq!(h.scalar("SELECT SUM(age) FROM people").await, 38);

    h.put("csv/people.csv", b"name,age,seen\n\"d, e\",40,2026-01-01 00:00:00+00\nfay,,\n".to_vec()).await;
    h.run_ok(&format!("COPY people (name, age, seen) FROM 's3://lake/csv/' IAM_ROLE '{ROLE}' CSV IGNOREHEADER 1"))
        .await;
    assert_eq!(h.scalar("SELECT COUNT(*) FROM people").await, 5);
    let names = h.query("SELECT name FROM people WHERE age = 40").await;
    assert_eq!(names, vec![vec![Field::StringValue("d, e".into())]]);

    // JSON through a manifest (no content_length needed for text formats); an optional missing entry is skipped.
    h.put("more/p.jsonl", b"{\"name\":\"hal\",\"age\":50}\n".to_vec()).await;
    let m = serde_json::json!({"entries": [
        {"url": "s3://lake/more/p.jsonl", "mandatory": true},
        {"url": "s3://lake/more/absent.jsonl", "mandatory": false},
    ]});
    h.put("manifests/json.manifest", serde_json::to_vec(&m).unwrap()).await;
    h.run_ok(&format!("COPY people FROM 's3://lake/manifests/json.manifest' IAM_ROLE '{ROLE}' JSON 'auto' MANIFEST"))
        .await;
    assert_eq!(h.scalar("SELECT age FROM people WHERE name = 'hal'").await, 50);

    // JSONPaths map by position.
    h.put("paths.json", br#"{"jsonpaths": ["$.who", "$.years", "$.when"]}"#.to_vec()).await;
    h.put("other/p.jsonl", b"{\"who\":\"gus\",\"years\":5,\"when\":null}\n".to_vec()).await;
    h.run_ok(&format!("COPY people FROM 's3://lake/other/' IAM_ROLE '{ROLE}' JSON 's3://lake/paths.json'")).await;
    assert_eq!(h.scalar("SELECT age FROM people WHERE name = 'gus'").await, 5);
}

#[tokio::test]
async fn failing_copy_ends_failed_and_leaves_error_detail_rows() {
    let h = start().await;
    h.apply_migrations().await;
    // A segments file into the results table: the column counts differ.
    let segments = redscribe_core::encode::to_parquet(&[segments_batch(&[SegmentRow {
        id: "x".into(),
        object_version: None,
        segment_index: 0,
        start_s: 0.0,
        end_s: 1.0,
        text: "hi".into(),
        avg_logprob: None,
        no_speech_prob: None,
        processed_at: t(1_795_000_000),
        channel: 0,
        speaker: None,
    }])
    .unwrap()])
    .unwrap();
    h.put("bad/segments.parquet", segments).await;
    let id = h
        .execute(&format!(
            "COPY transcription_results FROM 's3://lake/bad/segments.parquet' IAM_ROLE '{ROLE}' FORMAT AS PARQUET"
        ))
        .await;
    let d = h.wait(&id).await;
    assert_eq!(d.status(), Some(&StatusString::Failed));
    assert!(d.error().unwrap().contains("sys_load_error_detail"), "{:?}", d.error());
    let query_id = d.redshift_query_id();
    let detail = h
        .query(&format!(
            "SELECT file_name, error_code, error_message FROM sys_load_error_detail WHERE query_id = {query_id}"
        ))
        .await;
    assert_eq!(detail.len(), 1);
    assert_eq!(detail[0][0], Field::StringValue("s3://lake/bad/segments.parquet".into()));
    assert_eq!(detail[0][1], Field::LongValue(1202));
    assert_eq!(h.scalar("SELECT COUNT(*) FROM transcription_results").await, 0);

    // A mandatory manifest entry that does not exist fails the COPY, with the missing URL recorded.
    h.put("manifests/missing.json", manifest(&[("s3://lake/nope.parquet", 10, true)])).await;
    let id = h
        .execute(&format!(
            "COPY transcription_results FROM 's3://lake/manifests/missing.json' IAM_ROLE '{ROLE}' PARQUET MANIFEST"
        ))
        .await;
    let d = h.wait(&id).await;
    assert_eq!(d.status(), Some(&StatusString::Failed));
    let detail =
        h.query(&format!("SELECT filename FROM stl_load_errors WHERE query = {}", d.redshift_query_id())).await;
    assert_eq!(detail, vec![vec![Field::StringValue("s3://lake/nope.parquet".into())]]);

    // A value longer than its VARCHAR fails as on Redshift (bytes, not characters).
    let mut long = row("in/long.wav", "1", "ok");
    long.content_type = Some("é".repeat(200));
    h.put("long/a.parquet", parquet(&[long])).await;
    let id = h
        .execute(&format!("COPY transcription_results FROM 's3://lake/long/' IAM_ROLE '{ROLE}' FORMAT AS PARQUET"))
        .await;
    let d = h.wait(&id).await;
    assert_eq!(d.status(), Some(&StatusString::Failed), "400 bytes into VARCHAR(255)");
    let code = h
        .query(&format!(
            "SELECT error_code, column_name FROM sys_load_error_detail WHERE query_id = {}",
            d.redshift_query_id()
        ))
        .await;
    assert_eq!(code, vec![vec![Field::LongValue(1204), Field::StringValue("content_type".into())]]);

    // An empty prefix is an error, as on Redshift.
    let id = h.execute(&format!("COPY transcription_results FROM 's3://lake/none/' IAM_ROLE '{ROLE}' PARQUET")).await;
    let d = h.wait(&id).await;
    assert!(d.error().unwrap().contains("does not exist"), "{:?}", d.error());
}

#[tokio::test]
async fn a_failing_batch_rolls_back_every_statement() {
    let h = start().await;
    h.run_ok("CREATE TABLE t (n INTEGER)").await;
    let id = h
        .batch(&["INSERT INTO t VALUES (1)", "INSERT INTO missing_table VALUES (2)", "INSERT INTO t VALUES (3)"])
        .await;
    let d = h.wait(&id).await;
    assert_eq!(d.status(), Some(&StatusString::Failed));
    let statuses: Vec<_> = d.sub_statements().iter().map(|s| s.status().unwrap().as_str().to_string()).collect();
    assert_eq!(statuses, ["FINISHED", "FAILED", "ABORTED"]);
    assert!(d.sub_statements()[1].error().unwrap().starts_with("ERROR:"));
    assert_eq!(h.scalar("SELECT COUNT(*) FROM t").await, 0);
}

#[tokio::test]
async fn twenty_concurrent_statements_all_finish() {
    let h = start().await;
    h.run_ok("CREATE TABLE hits (n INTEGER, who VARCHAR(64))").await;
    let mut ids = Vec::new();
    for n in 0..20 {
        let req =
            h.rs.execute_statement()
                .workgroup_name("local")
                .database("dev")
                .sql("INSERT INTO hits VALUES (:n, :who)")
                .parameters(SqlParameter::builder().name("n").value(n.to_string()).build().unwrap())
                .parameters(SqlParameter::builder().name("who").value("it's \\ :n").build().unwrap());
        ids.push(tokio::spawn(async move { req.send().await.unwrap().id.unwrap() }));
    }
    for id in ids {
        let id = id.await.unwrap();
        let d = h.wait(&id).await;
        assert_eq!(d.status(), Some(&StatusString::Finished), "{:?}", d.error());
        assert_eq!(d.result_rows(), 1);
    }
    assert_eq!(h.scalar("SELECT COUNT(*) FROM hits").await, 20);
    assert_eq!(h.scalar("SELECT SUM(n) FROM hits").await, 190);
    // Redshift string literals take backslash escapes; parameter values are data, taken as they are.
    // Redshift string literals take backslash escapes; parameter values are data, taken as they are.
    assert_eq!(h.scalar("SELECT COUNT(*) FROM hits WHERE who = 'it''s \\\\ :n'").await, 20);
}

#[tokio::test]
async fn results_are_typed_and_paged() {
    let h = start_with(DataApiConfig { page_rows: 1000, ..DataApiConfig::default() }).await;
    let id = h
        .run_ok(
            "SELECT i, i * 0.5 AS half, 'row ' || i AS label, i % 2 = 0 AS even, NULL AS nothing, \
             TIMESTAMPTZ '2026-11-23 10:00:00+00' AS at FROM range(2500) r(i) ORDER BY i",
        )
        .await;
    let first = h.rs.get_statement_result().id(&id).send().await.unwrap();
    assert_eq!(first.total_num_rows(), 2500);
    assert_eq!(first.records().len(), 1000);
    let types: Vec<_> = first.column_metadata().iter().map(|c| c.type_name().unwrap().to_string()).collect();
    assert_eq!(types, ["int8", "numeric", "varchar", "bool", "int4", "timestamptz"]);
    let r = &first.records()[3];
    assert_eq!(r[0], Field::LongValue(3));
    assert_eq!(r[1], Field::StringValue("1.5".into()));
    assert_eq!(r[2], Field::StringValue("row 3".into()));
    assert_eq!(r[3], Field::BooleanValue(false));
    assert_eq!(r[4], Field::IsNull(true));
    assert_eq!(r[5], Field::StringValue("2026-11-23 10:00:00+00".into()));
    assert!(first.next_token().is_some());
    let all = h.query("SELECT i FROM range(2500) r(i)").await;
    assert_eq!(all.len(), 2500);
}

#[tokio::test]
async fn errors_have_the_service_shapes() {
    let h = start().await;
    // Unknown statement id.
    let err = h.rs.describe_statement().id("00000000-0000-0000-0000-000000000000").send().await.unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
    // Neither cluster nor workgroup.
    let err = h.rs.execute_statement().database("dev").sql("select 1").send().await.unwrap_err();
    assert!(err.into_service_error().is_validation_exception());
    // Injected quota fault: the next call fails, the one after succeeds.
    h.api.faults().fail_next_with_active_statements_exceeded(1);
    let err = h.rs.execute_statement().workgroup_name("local").database("dev").sql("select 1").send().await;
    assert!(err.unwrap_err().into_service_error().is_active_statements_exceeded_exception());
    h.run_ok("select 1").await;
    // Results of a statement without a result set.
    let id = h.run_ok("CREATE TABLE x (a INT)").await;
    let err = h.rs.get_statement_result().id(&id).send().await.unwrap_err();
    assert!(err.into_service_error().is_validation_exception());
    // SQL errors end FAILED, with Redshift's prefix; unsupported statements are errors, not silent successes.
    for sql in ["SELECT * FROM nowhere", "UNLOAD ('select 1') TO 's3://lake/u' IAM_ROLE default"] {
        let id = h.execute(sql).await;
        let d = h.wait(&id).await;
        assert_eq!(d.status(), Some(&StatusString::Failed), "{sql}");
        assert!(d.error().unwrap().starts_with("ERROR:"), "{:?}", d.error());
    }
    // Another database does not exist.
    let id = h.rs.execute_statement().workgroup_name("local").database("prod").sql("select 1").send().await.unwrap();
    let d = h.wait(id.id().unwrap()).await;
    assert!(d.error().unwrap().contains("\"prod\" does not exist"));
}

#[tokio::test]
async fn a_running_statement_can_be_cancelled_and_statements_are_listed() {
    let h = start().await;
    let id = h.execute("SELECT COUNT(*) FROM range(100000000000) a(i) WHERE i % 7 = 3").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancelled = h.rs.cancel_statement().id(&id).send().await.unwrap();
    assert_eq!(cancelled.status(), Some(true));
    let d = h.wait(&id).await;
    assert_eq!(d.status(), Some(&StatusString::Aborted));
    // Cancelling a finished statement is a validation error.
    let err = h.rs.cancel_statement().id(&id).send().await.unwrap_err();
    assert!(err.into_service_error().is_validation_exception());

    h.run_ok("SELECT 1").await;
    let listed = h.rs.list_statements().max_results(1).send().await.unwrap();
    assert_eq!(listed.statements().len(), 1);
    assert!(listed.next_token().is_some());
    let aborted = h.rs.list_statements().status(StatusString::Aborted).send().await.unwrap();
    assert_eq!(aborted.statements().iter().map(|s| s.id()).collect::<Vec<_>>(), [id.as_str()]);
}

#[tokio::test]
async fn a_wrong_secret_is_rejected() {
    let h = start().await;
    let intruder = rs_client(&h.api.endpoint_url(), &h.creds.access_key_id, "not-the-secret");
    let err = intruder.execute_statement().workgroup_name("local").database("dev").sql("select 1").send().await;
    let err = err.unwrap_err();
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(403));
    assert_eq!(aws_sdk_redshiftdata::error::ProvideErrorMetadata::code(&err), Some("InvalidSignatureException"));
    let stranger = rs_client(&h.api.endpoint_url(), "AKIDSTRANGER", &h.creds.secret_access_key);
    let err = stranger.list_statements().send().await.unwrap_err();
    assert_eq!(aws_sdk_redshiftdata::error::ProvideErrorMetadata::code(&err), Some("UnrecognizedClientException"));
}

fn aws_cli(h: &Harness, args: &[&str]) -> serde_json::Value {
    let out = Command::new("aws")
        .args(["--endpoint-url", &h.api.endpoint_url(), "--region", "us-east-1", "--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &h.creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &h.creds.secret_access_key)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", h.dir.path().join("no-config"))
        .output()
        .expect("the aws CLI is installed by scripts/setup.sh");
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aws_cli_runs_statements() {
    let h = start().await;
    let _ = &h.s3;
    let started = aws_cli(
        &h,
        &[
            "redshift-data",
            "execute-statement",
            "--database",
            "dev",
            "--workgroup-name",
            "local",
            "--sql",
            "select 41 + 1 as answer, 'forty-two' as words",
        ],
    );
    let id = started["Id"].as_str().unwrap().to_string();
    let mut status = String::new();
    for _ in 0..100 {
        let d = aws_cli(&h, &["redshift-data", "describe-statement", "--id", &id]);
        status = d["Status"].as_str().unwrap().to_string();
        if status == "FINISHED" || status == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "FINISHED");
    let result = aws_cli(&h, &["redshift-data", "get-statement-result", "--id", &id]);
    assert_eq!(result["Records"][0][0]["longValue"], 42);
    assert_eq!(result["Records"][0][1]["stringValue"], "forty-two");
    assert_eq!(result["ColumnMetadata"][0]["name"], "answer");
}

/// The service's documented limits, as the service states them: a statement over 100 KB is refused at the
/// call, a batch of more than 40 statements too, and a result row over 64 KB fails its statement — while the
/// same text read in parts, as `redscribe query` suggests, comes back whole.
#[tokio::test]
async fn the_data_api_limits_are_enforced_as_the_service_enforces_them() {
    use aws_sdk_redshiftdata::error::ProvideErrorMetadata;

    let h = start().await;
    h.apply_migrations().await;
    let long = format!("SELECT 1 /* {} */", "x".repeat(100_000));
    let e = h.rs.execute_statement().workgroup_name("local").database("dev").sql(&long).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ValidationException"), "{e:?}");
    assert_eq!(e.message(), Some("Cannot process query string larger than 100kB"));
    let mut batch = h.rs.batch_execute_statement().workgroup_name("local").database("dev");
    for _ in 0..41 {
        batch = batch.sqls("SELECT 1");
    }
    assert_eq!(batch.send().await.unwrap_err().code(), Some("ValidationException"));
    let e = h.rs.list_statements().max_results(101).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ValidationException"), "{e:?}");

    // A transcript of the most a row may hold: 65,535 bytes.
    let text: String = (0..65_535u32).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let mut r = row("in/long talk.wav", "1", "");
    r.text = Some(text.clone());
    h.put("long/talk.parquet", parquet(&[r.clone()])).await;
    h.run_ok(&format!("COPY transcription_results FROM 's3://lake/long/' IAM_ROLE '{ROLE}' FORMAT AS PARQUET")).await;
    let id = h.execute("SELECT text FROM transcription_results").await;
    let d = h.wait(&id).await;
    assert_eq!(d.status(), Some(&StatusString::Failed));
    assert!(d.error().unwrap().contains("Packet for query is too large"), "{:?}", d.error());

    let parts = h
        .query(&format!(
            "SELECT n, substring(text, (n - 1) * 16000 + 1, 16000) AS part FROM transcription_results, \
             (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) AS parts \
             WHERE id = '{}' AND len(text) > (n - 1) * 16000 ORDER BY n",
            r.id
        ))
        .await;
    assert_eq!(parts.len(), 5);
    let whole: String = parts
        .iter()
        .map(|p| match &p[1] {
            Field::StringValue(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(whole, text);
}

/// A statement has a time limit, as on the service (24 hours there; one second here): past it, it is interrupted
/// and ends `FAILED` with PostgreSQL's statement-timeout error, and the stand-in runs the next statement.
#[tokio::test(flavor = "multi_thread")]
async fn a_statement_past_the_time_limit_is_cancelled_and_fails() {
    let h = start_with(DataApiConfig { statement_timeout: Duration::from_secs(1), ..DataApiConfig::default() }).await;
    let id = h.execute("SELECT SUM(a.range * b.range) FROM range(1000000) a, range(1000000) b").await;
    let d = h.wait(&id).await;
    assert_eq!(d.status(), Some(&StatusString::Failed));
    assert_eq!(d.error(), Some("ERROR: canceling statement due to statement timeout"));
    assert!(d.duration() < 30_000_000_000, "ended soon after the limit: {} ns", d.duration());
    assert_eq!(h.scalar("SELECT 40 + 2").await, 42);
}

/// Loads one file holding `rows` as its own batch (the loader's statements, through the Data API).
async fn load_rows(h: &Harness, name: &str, rows: &[ResultRow]) {
    let key = format!("processed/transcription_results/{name}.parquet");
    let body = parquet(rows);
    h.put(&key, body.clone()).await;
    let m = format!("manifests/{name}.json");
    h.put(&m, manifest(&[(&format!("s3://lake/{key}"), body.len(), true)])).await;
    let sqls = load_batch(h, &format!("s3://lake/{m}"), &[&format!("s3://lake/{key}")]).await;
    let id = h.batch(&sqls.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let d = h.wait(&id).await;
    assert_eq!(d.status(), Some(&StatusString::Finished), "{:?}", d.error());
}

/// Of two processings of the same version (same sequencer), a failure never replaces an answer, and otherwise the
/// later processing wins — whether its file is loaded after the other's, before it, or in the same batch.
#[tokio::test]
async fn a_failure_never_replaces_an_answer_of_the_same_version_and_the_later_processing_wins() {
    let h = start().await;
    h.apply_migrations().await;
    let processing = |key: &str, text: &str, at: i64, failed: bool| {
        let mut r = row(key, "00000000000000AA", text);
        r.processed_at = t(at);
        if failed {
            r.set_error(redscribe_core::ErrorCode::RetriesExhausted, "started 3 times");
        }
        r
    };
    let text_of = |key: &'static str| {
        let h = &h;
        async move { h.query(&format!("SELECT text, status FROM transcription_results WHERE object_key = '{key}'")).await }
    };
    // The answer first, a later failure of the same version after it: the answer stays.
    load_rows(&h, "a1", &[processing("in/a.wav", "answer", 100, false)]).await;
    load_rows(&h, "a2", &[processing("in/a.wav", "", 200, true)]).await;
    assert_eq!(text_of("in/a.wav").await[0][0], Field::StringValue("answer".into()));
    // The failure first, the answer after: the answer replaces it.
    load_rows(&h, "b1", &[processing("in/b.wav", "", 200, true)]).await;
    load_rows(&h, "b2", &[processing("in/b.wav", "answer", 100, false)]).await;
    assert_eq!(text_of("in/b.wav").await[0][0], Field::StringValue("answer".into()));
    // Two answers: the later processing wins, in either order of loading and within one batch.
    load_rows(&h, "c1", &[processing("in/c.wav", "later", 300, false)]).await;
    load_rows(&h, "c2", &[processing("in/c.wav", "earlier", 100, false)]).await;
    assert_eq!(text_of("in/c.wav").await[0][0], Field::StringValue("later".into()));
    let batch = [
        processing("in/d.wav", "", 900, true),
        processing("in/d.wav", "earlier", 100, false),
        processing("in/d.wav", "later", 300, false),
    ];
    load_rows(&h, "d", &batch).await;
    assert_eq!(text_of("in/d.wav").await[0][0], Field::StringValue("later".into()));
    // A newer version still replaces an answer, even with a failure.
    let mut newer = processing("in/a.wav", "", 50, true);
    newer.sequencer = Some("00000000000000BB".into());
    load_rows(&h, "a3", &[newer]).await;
    assert_eq!(text_of("in/a.wav").await[0][1], Field::StringValue("failed".into()));
}
