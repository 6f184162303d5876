//! History heard again: recordings run with tiny.en, then `redscribe reprocess` of a window (a day and a key
//! prefix) with base — every row in the window says `whisper-base`, nothing outside changes — and a `backfill` of
//! what is loaded adds nothing and says why.

mod common;

use common::{duckdb, redscribe_in, run_local};

const SAID: &str = "Thank you for calling. Your invoice for March is ready.";

#[test]
fn a_reprocess_moves_a_window_of_history_to_another_model() {
    let dir = tempfile::tempdir().unwrap();
    let (input, data) = (dir.path().join("input"), dir.path().join("data"));
    for folder in ["sales", "support"] {
        std::fs::create_dir_all(input.join(folder)).unwrap();
        std::fs::write(input.join(folder).join("call.wav"), redscribe_testkit::speech(dir.path(), SAID)).unwrap();
    }
    run_local(&data, &input, &["--model", "tiny.en"]);
    let db = data.join("warehouse/redscribe.duckdb");
    let models = "select object_key, model, generation is not null, uploaded_at is not null, text <> '' \
                  from public.transcription_results order by object_key";
    assert_eq!(
        duckdb(&db, models),
        "[('in/sales/call.wav', 'whisper-tiny.en', False, True, True), \
         ('in/support/call.wav', 'whisper-tiny.en', False, True, True)]"
    );
    let segments_before = duckdb(&db, "select count(*) from public.transcription_segments");

    let today = chrono::Utc::now().date_naive().to_string();
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    // Nothing was uploaded tomorrow; the window is whole days, both ends included.
    let none = redscribe_in(&data, &["reprocess", "--since", &tomorrow, "--model", "base"]);
    assert!(none.contains("0 recording(s) selected"), "{none}");
    // A condition of one's own, looked at first.
    let dry =
        redscribe_in(&data, &["reprocess", "--where", "object_key like '%support%'", "--dry-run", "--model", "base"]);
    assert!(dry.contains("1 recording(s) selected") && dry.contains("s3://recordings/in/support/call.wav"), "{dry}");

    let printed = redscribe_in(
        &data,
        &["reprocess", "--since", &today, "--until", &today, "--prefix", "in/sales/", "--model", "base"],
    );
    assert!(printed.contains("1 recording(s) selected"), "{printed}");
    assert!(printed.contains("rows loaded:      1"), "{printed}");
    assert_eq!(
        duckdb(&db, models),
        "[('in/sales/call.wav', 'whisper-base', True, True, True), \
         ('in/support/call.wav', 'whisper-tiny.en', False, True, True)]",
        "the window says whisper-base, the rest is untouched, the upload time is kept"
    );
    // The detail of the reprocessed row was replaced, not added to.
    assert_eq!(duckdb(&db, "select count(*) from public.transcription_segments"), segments_before);
    let words = duckdb(
        &db,
        "select count(distinct w.processed_at) = 1, min(w.processed_at) = min(r.processed_at) \
         from public.transcription_words w join public.transcription_results r using (id) \
         where r.object_key = 'in/sales/call.wav'",
    );
    assert_eq!(words, "[(True, True)]");

    // A backfill of what is loaded transcribes nothing and says why.
    let backfill = redscribe_in(&data, &["backfill", "--model", "tiny.en", "s3://recordings/in/"]);
    assert!(backfill.contains("already loaded:   2"), "{backfill}");
    assert!(backfill.contains("processed:        0"), "{backfill}");
    assert_eq!(duckdb(&db, models).matches("whisper-base").count(), 1, "the backfill changed nothing");
}

/// With `--aws`, a reprocess queues its requests by writing them: the bucket's notification hands each to the
/// transcribe function (here `serve`, which hears what its journal announces, as the function hears its queue),
/// which hears them with the model it runs, and leaves a request for another.
#[test]
fn with_aws_the_requests_are_heard_by_the_deployment_with_its_own_model() {
    use common::{aws, query_until, query_while, redscribe as served_redscribe, start_serve, stop};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let wav = dir.path().join("call.wav");
    std::fs::write(&wav, redscribe_testkit::speech(dir.path(), SAID)).unwrap();
    let served = start_serve(&data, &[], &[]);
    aws(&served, &["s3", "cp", wav.to_str().unwrap(), "s3://recordings/in/call.wav"]);
    let sql = "select model, generation is not null as again from transcription_results";
    assert_eq!(query_until(&served, sql, 1), "model,again\nwhisper-tiny.en,false\n");
    let reprocess = |model: &str| {
        let args = ["reprocess", "--aws", "--s3-path-style", "--no-cloudwatch-metrics", "--prefix", "in/"];
        served_redscribe(&served, &[&args[..], &["--model", model]].concat())
    };
    // A request for a model the deployment does not run is left (logged, counted as skipped).
    let queued = reprocess("base");
    assert!(queued.contains("queued under s3://recordings/manifests/reprocess/"), "{queued}");
    assert!(queued.contains("must be base"), "{queued}");
    // One for its own model is heard, and the row says so.
    reprocess("tiny.en");
    let now = query_while(&served, sql, |csv| csv.contains("true"));
    let requests = aws(&served, &["s3", "ls", "--recursive", "s3://recordings/manifests/reprocess/"]);
    // Result files loaded: the upload's and the tiny.en reprocess's; the request for base (queued first) none.
    let loads = "select count(*) as n from load_audit where table_name = 'transcription_results' and status = 'loaded'";
    let loaded = served_redscribe(&served, &["query", "--format", "csv", loads]);
    stop(served);
    assert_eq!(now, "model,again\nwhisper-tiny.en,true\n");
    assert_eq!(requests.lines().filter(|l| l.ends_with(".reprocess.json")).count(), 2, "{requests}");
    assert_eq!(loaded, "n\n2\n");
}

/// `forget` erases on request, the recording left in place: the row becomes a tombstone and its attributes go,
/// the rest is untouched, and a backfill of the bucket neither hears it again nor brings it back.
#[test]
fn a_forgotten_recording_stays_forgotten_through_a_backfill() {
    let dir = tempfile::tempdir().unwrap();
    let (input, data) = (dir.path().join("input"), dir.path().join("data"));
    std::fs::create_dir_all(&input).unwrap();
    for name in ["alice", "bob"] {
        std::fs::write(input.join(format!("{name}.wav")), redscribe_testkit::tone_wav(8000, 0.5)).unwrap();
    }
    run_local(&data, &input, &["--no-transcribe", "--key-pattern", r"in/(?P<caller>[a-z]+)\.wav"]);
    let db = data.join("warehouse/redscribe.duckdb");
    let state = "select r.object_key, r.status, count(a.id) from public.transcription_results r \
                 left join public.transcription_attributes a using (id) group by 1, 2 order by 1";
    assert_eq!(duckdb(&db, state), "[('in/alice.wav', 'metadata_only', 1), ('in/bob.wav', 'metadata_only', 1)]");

    let dry = redscribe_in(&data, &["forget", "--key", "s3://recordings/in/bob.wav", "--dry-run"]);
    assert!(dry.contains("1 recording(s) to erase") && dry.contains("s3://recordings/in/bob.wav"), "{dry}");
    let forgot = redscribe_in(&data, &["forget", "--where", "object_key = 'in/alice.wav'"]);
    assert!(forgot.contains("erased: 1"), "{forgot}");
    assert_eq!(duckdb(&db, state), "[('in/alice.wav', 'erased', 0), ('in/bob.wav', 'metadata_only', 1)]");

    let backfill = redscribe_in(&data, &["backfill", "--no-transcribe", "s3://recordings/in/"]);
    assert!(backfill.contains("forgotten:        1"), "{backfill}");
    assert!(backfill.contains("already loaded:   1"), "{backfill}");
    assert_eq!(duckdb(&db, state), "[('in/alice.wav', 'erased', 0), ('in/bob.wav', 'metadata_only', 1)]");
}
