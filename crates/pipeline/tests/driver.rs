//! The one driver against the real stand-ins (S3 and the Data API over DuckDB on loopback, through the production
//! adapters), with faults injected where the services fail: throttled reads longer than the adapter's own retry
//! budget, a storm of `ActiveStatementsExceededException`, a recording the transcriber panics on, and a result
//! file whose load fails without the error tables naming it. Every job must end `Done`, with one row per
//! recording and each failure quarantined where the design says.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use redscribe_aws::redshift::DataApi;
use redscribe_aws::retry::RetryPolicy;
use redscribe_aws::s3::S3Objects;
use redscribe_core::events::{normalize, ObjectEvent};
use redscribe_core::layout::Layout;
use redscribe_core::load::{CopyAuthorization, Tables};
use redscribe_core::ports::{Hints, ObjectStore, PortError, Transcriber, Transcription, Warehouse};
use redscribe_core::retry::Backoff;
use redscribe_core::ErrorCode;
use redscribe_local::s3::S3Fault;
use redscribe_pipeline::driver::{Delivery, Driver, DriverConfig, Job, Listener, Retries, Settled};
use redscribe_pipeline::pending::Recordings;
use redscribe_pipeline::{LoadConfig, LoadReport, Loader, Processed, TranscribeConfig, TranscribeStage};
use redscribe_testkit::{drain, tone_wav, StandIns};

/// Samples of the recording the transcriber cannot survive (about 1.5 s at 16 kHz; its neighbours are 0.25 s away).
const POISON_SAMPLES: std::ops::Range<usize> = 22_000..26_000;

/// A transcriber with a bug one recording triggers: it panics on a recording of exactly 1.5 s, and hears
/// nothing in every other (the driver's handling is under test here, not speech).
struct Fragile;

impl Transcriber for Fragile {
    fn model(&self) -> &str {
        "fragile"
    }

    fn transcribe(&self, audio: &mut dyn Iterator<Item = Vec<f32>>, _: &Hints) -> Result<Transcription, PortError> {
        let samples: usize = audio.map(|c| c.len()).sum();
        if POISON_SAMPLES.contains(&samples) {
            panic!("index out of bounds: the len is {samples} but the index is {}", samples + 1);
        }
        Ok(Transcription {
            text: String::new(),
            language: Some("en".into()),
            language_probability: None,
            segments: Vec::new(),
            avg_logprob: None,
            no_speech_prob: None,
            compression_ratio: None,
            quality_flag: redscribe_core::ports::QualityFlag::NoSpeech,
            audio_seconds: samples as f64 / 16_000.0,
            decode_seconds: 0.0,
            fallback_seconds: 0.0,
            channels_apart: false,
            pii_redacted: None,
        })
    }
}

/// The real warehouse, except that a COPY whose manifest lists `poisoned` fails for good with no file named in
/// `sys_load_error_detail` (as a MERGE that breaks on one file's rows would).
struct Refusing {
    inner: Arc<DataApi>,
    store: Arc<S3Objects>,
    poisoned: String,
}

#[async_trait::async_trait]
impl Warehouse for Refusing {
    async fn run_batch(&self, sqls: &[String], token: &str) -> Result<(), PortError> {
        for sql in sqls.iter().filter(|s| s.starts_with("COPY")) {
            let Some(manifest) = sql.split('\'').nth(1).and_then(|u| u.strip_prefix("s3://")) else { continue };
            let (bucket, key) = manifest.split_once('/').unwrap();
            let body = self.store.get(bucket, key, None).await?.body;
            if String::from_utf8_lossy(&body).contains(&self.poisoned) {
                return Err(PortError::new(ErrorCode::LoadRejected, "ERROR: MERGE failed on a row of this batch"));
            }
        }
        self.inner.run_batch(sqls, token).await
    }

    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PortError> {
        self.inner.query(sql).await
    }
}

#[derive(Default)]
struct Collected {
    settled: BTreeMap<u64, Settled>,
    transient: usize,
    report: LoadReport,
}

impl Listener<u64> for Collected {
    fn processed(&mut self, _event: &ObjectEvent, outcome: &Result<Processed, PortError>) {
        self.transient += usize::from(outcome.is_err());
    }

    fn loaded(&mut self, report: &LoadReport) {
        self.report.add(report);
    }

    fn settled(&mut self, token: u64, _message: Option<String>, settled: Settled) {
        assert!(self.settled.insert(token, settled).is_none(), "job {token} settled twice");
    }
}

/// Uploads half a second of tone at `key` and returns the event of the upload.
async fn upload(stand_ins: &mut StandIns, store: &S3Objects, key: &str) -> ObjectEvent {
    upload_body(stand_ins, store, key, tone_wav(16_000, 0.5)).await
}

/// Uploads `body` at `key` and returns the event of the upload.
async fn upload_body(stand_ins: &mut StandIns, store: &S3Objects, key: &str, body: Vec<u8>) -> ObjectEvent {
    store.put("recordings", key, body, "audio/wav").await.unwrap();
    normalize(&drain(&mut stand_ins.events)[0].event, &Layout::default()).unwrap().objects.remove(0)
}

/// The load stage into `recordings`, with the default layout and tables.
fn loader<W: Warehouse>(store: Arc<S3Objects>, warehouse: Arc<W>) -> Loader<S3Objects, W> {
    let config = LoadConfig {
        tables: Tables::default(),
        auth: CopyAuthorization::IamRole("arn:aws:iam::123456789012:role/loader".into()),
        layout: Layout::default(),
        bucket: "recordings".into(),
        max_isolation_rounds: 3,
        recordings: Recordings::under("recordings", "in/"),
    };
    Loader::new(store, warehouse, config)
}

fn quick() -> RetryPolicy {
    RetryPolicy { max_attempts: 2, base: Duration::from_millis(1), cap: Duration::from_millis(5) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_are_retried_isolated_or_quarantined_and_every_job_settles() {
    let mut stand_ins = StandIns::start().await;
    // Adapters that give up quickly, so the faults outlast their own retries and reach the driver.
    let store = Arc::new(
        S3Objects::from_conf(&stand_ins.sdk_config(&stand_ins.s3.endpoint_url()).await, true).with_retry(quick()),
    );
    let data_api = Arc::new(Arc::try_unwrap(stand_ins.warehouse().await).ok().unwrap().with_retry(quick()));
    redscribe_pipeline::migrate::migrate(data_api.as_ref()).await.unwrap();

    let mut keys = Vec::new();
    for (i, seconds) in [0.5f32, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0].into_iter().enumerate() {
        let key =
            if seconds == 2.0 { "in/refused by the warehouse.wav".to_string() } else { format!("in/call-{i}.wav") };
        store.put("recordings", &key, tone_wav(16_000, seconds), "audio/wav").await.unwrap();
        keys.push(key);
    }
    let jobs: Vec<Job<u64>> = drain(&mut stand_ins.events)
        .into_iter()
        .map(|d| Job { token: d.seq, delivery: Delivery::Notification(d.event) })
        .collect();
    assert_eq!(jobs.len(), 7);

    let refused_id = redscribe_core::identity::recording_id("recordings", "in/refused by the warehouse.wav");
    let warehouse = Arc::new(Refusing { inner: data_api.clone(), store: store.clone(), poisoned: refused_id.clone() });
    let stage = TranscribeStage::new(store.clone(), TranscribeConfig::default()).with_transcriber(Arc::new(Fragile));
    let loader = loader(store.clone(), warehouse);
    // Reads throttled longer than the adapter retries, then a storm of refused statements.
    stand_ins.s3.faults().fail_next_reads(6, S3Fault::SlowDown);
    stand_ins.data_api.as_ref().unwrap().faults().fail_next_with_active_statements_exceeded(5);
    let config = DriverConfig {
        concurrency: 3,
        batch_age: Duration::from_millis(50),
        retries: Retries {
            backoff: Backoff { base: Duration::from_millis(5), cap: Duration::from_millis(50) },
            attempts: None,
        },
        ..DriverConfig::default()
    };
    let mut collected = Collected::default();
    let totals = Driver::new(Arc::new(stage), Arc::new(loader), config).run_all(jobs, &mut collected).await;

    assert_eq!(collected.settled.len(), 7, "every job is settled");
    assert!(collected.settled.values().all(|s| *s == Settled::Done), "{:?}", collected.settled);
    assert!(
        collected.transient > 0 && totals.retried > 0,
        "the throttled reads were retried by the driver: {totals:?}"
    );

    let rows = |sql: String| {
        let data_api = data_api.clone();
        async move { data_api.query(&sql).await.unwrap() }
    };
    let counts = rows("SELECT COUNT(*), COUNT(DISTINCT id) FROM transcription_results".into()).await;
    assert_eq!(
        counts,
        vec![vec![Some("6".into()), Some("6".into())]],
        "six rows; the refused file's row is not loaded"
    );
    let crashed = rows(
        "SELECT object_key, status, error_code, error_message FROM transcription_results WHERE status = 'failed'"
            .into(),
    )
    .await;
    assert_eq!(crashed.len(), 1, "{crashed:?}");
    assert_eq!(crashed[0][0].as_deref(), Some("in/call-4.wav"));
    assert_eq!(crashed[0][2].as_deref(), Some("crashed"));
    assert!(crashed[0][3].as_deref().unwrap_or_default().contains("index out of bounds"), "{crashed:?}");
    assert_eq!(stand_ins.files("rejected/crashed/").len(), 1, "{:?}", stand_ins.files("rejected/"));

    assert_eq!(collected.report.rejected.len(), 1);
    assert_eq!(collected.report.rejected[0].0.id, refused_id);
    let audit = rows("SELECT file_uri, status FROM load_audit WHERE status = 'quarantined'".into()).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0][0].as_deref().unwrap().contains(&refused_id));
    assert_eq!(stand_ins.files("rejected/load_rejected/").len(), 1);
    let loaded = rows("SELECT COUNT(*) FROM load_audit WHERE status = 'loaded'".into()).await;
    assert_eq!(loaded, vec![vec![Some("6".into())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_file_planted_under_the_results_prefix_is_quarantined_not_loaded() {
    use redscribe_core::encode::{from_parquet, to_parquet};
    use redscribe_core::record::{results_batch, results_from_batch};
    use redscribe_pipeline::invoke::{load_invocation, LoadLimits};

    let mut stand_ins = StandIns::start().await;
    let (store, warehouse) = (stand_ins.store().await, stand_ins.warehouse().await);
    let event = upload(&mut stand_ins, &store, "in/real.wav").await;
    let stage = TranscribeStage::new(store.clone(), TranscribeConfig::default());
    let real = stage.process(&event).await.unwrap().file().unwrap().clone();
    let loader = Arc::new(loader(store.clone(), warehouse.clone()).migrating());
    let (sweep, limits) = (serde_json::json!({"sweep": true}), LoadLimits::default());
    let swept = load_invocation(&loader, &sweep, None, &limits, "recordings").await.unwrap();
    assert_eq!(swept.report.load.loaded.len(), 1);

    // Someone writes a file of their own beside it: the real recording's id, with other words, under another name.
    let body = store.get("recordings", &real.key, None).await.unwrap().body;
    let mut row = results_from_batch(&from_parquet(body).unwrap()[0]).unwrap().remove(0);
    row.status = redscribe_core::record::Status::Transcribed;
    row.set_text("words nobody said");
    let planted_key = real.key.replace(&real.id, "0000000000000000000000000000beef");
    let planted = to_parquet(&[results_batch(&[row.clone()]).unwrap()]).unwrap();
    store.put("recordings", &planted_key, planted, "application/vnd.apache.parquet").await.unwrap();
    // And one under the right name that claims another object than the one its id names.
    row.object_key = "in/elsewhere.wav".into();
    let claimed = to_parquet(&[results_batch(&[row]).unwrap()]).unwrap();
    let claimed_key = real.key.replace(".parquet", "-x.parquet");
    store.put("recordings", &claimed_key, claimed, "application/vnd.apache.parquet").await.unwrap();

    let swept = load_invocation(&loader, &sweep, None, &limits, "recordings").await.unwrap();
    assert_eq!(
        (swept.report.admitted.unreadable, swept.report.load.loaded.len(), swept.report.admitted.already_settled),
        (2, 0, 1),
        "{:?}",
        swept.response
    );
    let text = warehouse.query("SELECT status, text FROM transcription_results").await.unwrap();
    assert_eq!(text, vec![vec![Some("metadata_only".into()), None]], "the real row is untouched");
    let records = store.list("recordings", "rejected/load_rejected/").await.unwrap();
    assert_eq!(records.len(), 2);
    let record = String::from_utf8(store.get("recordings", &records[0].key, None).await.unwrap().body).unwrap();
    assert!(record.contains("not a result file the stage wrote"), "{record}");
}

/// A result file forged under the right name cannot pin a recording's row: with a maximal sequencer and the
/// recording's real ETag it loads (the bucket policy is what keeps such writers out), but the next upload's row
/// replaces it whatever the sequencers say; one that claims bytes the recording no longer holds is not loaded, and
/// one that answers a key outside the recordings is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_result_file_with_a_maximal_sequencer_pins_nothing() {
    use redscribe_core::encode::{from_parquet, to_parquet};
    use redscribe_core::identity::{recording_id, version_token};
    use redscribe_core::record::{results_batch, results_from_batch, ResultRow};
    use redscribe_pipeline::invoke::{load_invocation, LoadLimits};

    let mut stand_ins = StandIns::start().await;
    let (store, warehouse) = (stand_ins.store().await, stand_ins.warehouse().await);
    let stage = TranscribeStage::new(store.clone(), TranscribeConfig::default());
    let first =
        stage.process(&upload(&mut stand_ins, &store, "in/real.wav").await).await.unwrap().file().unwrap().clone();
    let loader = Arc::new(loader(store.clone(), warehouse.clone()).migrating());
    let (sweep, limits) = (serde_json::json!({"sweep": true}), LoadLimits::default());
    let sweep_once = || async { load_invocation(&loader, &sweep, None, &limits, "recordings").await.unwrap().report };
    assert_eq!(sweep_once().await.load.loaded.len(), 1);

    // A file as the stage would name it, with the words and claims of its writer's choosing.
    let body = store.get("recordings", &first.key, None).await.unwrap().body;
    let real_row = results_from_batch(&from_parquet(body).unwrap()[0]).unwrap().remove(0);
    let forge = |mut row: ResultRow, words: &'static str| {
        let store = store.clone();
        let dir = first.key.rsplit_once('/').unwrap().0.to_string();
        async move {
            row.id = recording_id(&row.bucket, &row.object_key);
            row.sequencer = Some("F".repeat(64));
            row.status = redscribe_core::record::Status::Transcribed;
            row.set_text(words);
            let version = version_token(row.object_version.as_deref(), row.etag.as_deref(), row.sequencer.as_deref());
            let key = format!("{dir}/{}-{version}.parquet", row.id);
            let body = to_parquet(&[results_batch(&[row]).unwrap()]).unwrap();
            store.put("recordings", &key, body, "application/vnd.apache.parquet").await.unwrap();
        }
    };
    let text = || async {
        let rows = warehouse.query("SELECT text FROM transcription_results WHERE object_key = 'in/real.wav'");
        rows.await.unwrap().remove(0).remove(0)
    };

    forge(real_row.clone(), "words nobody said").await;
    let swept = sweep_once().await;
    assert_eq!(swept.load.loaded.len(), 1, "it names the recording's bytes: {:?}", swept.load);
    assert_eq!(text().await.as_deref(), Some("words nobody said"));

    // The next upload's row replaces it, although its sequencer is far below the forged one.
    store.put("recordings", "in/real.wav", tone_wav(16_000, 0.75), "audio/wav").await.unwrap();
    let uploads = drain(&mut stand_ins.events).into_iter();
    let mut events = uploads.flat_map(|d| normalize(&d.event, &Layout::default()).unwrap().objects);
    let event = events.rfind(|e| e.object.key == "in/real.wav").unwrap();
    assert!(event.object.sequencer.as_deref() < Some("F".repeat(64).as_str()));
    stage.process(&event).await.unwrap();
    assert_eq!(sweep_once().await.load.loaded.len(), 1);
    assert_eq!(text().await, None, "the new upload's row (metadata only) is the row");

    // Bytes the recording no longer holds: settled, not loaded.
    forge(real_row.clone(), "an old recording's words").await;
    let swept = sweep_once().await;
    assert_eq!((swept.load.loaded.len(), swept.load.superseded.len()), (0, 1), "{:?}", swept.load);
    assert!(swept.load.superseded[0].1.contains("now holds other bytes"), "{:?}", swept.load.superseded);
    assert_eq!(text().await, None);

    // A key outside the deployment's recordings: refused, quarantined.
    store.put("recordings", "outside/real.wav", tone_wav(16_000, 0.5), "audio/wav").await.unwrap();
    let listed = store.find("recordings", "outside/real.wav").await.unwrap().unwrap();
    forge(ResultRow { object_key: "outside/real.wav".into(), etag: listed.etag, ..real_row }, "elsewhere").await;
    let swept = sweep_once().await;
    assert_eq!((swept.load.loaded.len(), swept.load.rejected.len()), (0, 1), "{:?}", swept.load);
    assert!(swept.load.rejected[0].1.contains("not under the recordings of this deployment"));
    assert_eq!(warehouse.query("SELECT COUNT(*) FROM transcription_results").await.unwrap(), [[Some("1".into())]]);
    assert_eq!(store.list("recordings", "rejected/load_rejected/").await.unwrap().len(), 1);
}

/// A file under the results prefix larger than any result file the stage writes is quarantined, never held whole:
/// refused from the size its listing (or announcement) gives without a read, and when no size is known, by a read
/// that stops as it passes the bound. The real result beside it loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_file_over_the_bound_is_quarantined_without_being_held() {
    use redscribe_pipeline::invoke::{load_invocation, LoadLimits};
    use redscribe_pipeline::pending::{read_back, Candidate, RESULT_FILE_MAX_BYTES};

    let mut stand_ins = StandIns::start().await;
    let (store, warehouse) = (stand_ins.store().await, stand_ins.warehouse().await);
    let event = upload(&mut stand_ins, &store, "in/real.wav").await;
    let real = TranscribeStage::new(store.clone(), TranscribeConfig::default()).process(&event).await.unwrap();
    let big_key = real.file().unwrap().key.replace(".parquet", "-big.parquet");
    let big = vec![0u8; RESULT_FILE_MAX_BYTES as usize + 1];
    store.put("recordings", &big_key, big, "application/vnd.apache.parquet").await.unwrap();

    // Without a size: the read stops at the bound.
    let unsized_ =
        Candidate { bucket: "recordings".into(), key: big_key.clone(), size: None, etag: None, message_id: None };
    let e = read_back(store.as_ref(), &Layout::default(), &unsized_).await.unwrap_err().error;
    assert_eq!(e.code, ErrorCode::LoadRejected);
    assert!(e.message.contains(&format!("larger than the bound of {RESULT_FILE_MAX_BYTES} bytes")), "{e:?}");

    // A sweep knows the size from the listing: quarantined without a read, the real file loaded.
    let loader = Arc::new(loader(store.clone(), warehouse.clone()).migrating());
    let (sweep, limits) = (serde_json::json!({"sweep": true}), LoadLimits::default());
    stand_ins.s3.calls().start();
    let swept = load_invocation(&loader, &sweep, None, &limits, "recordings").await.unwrap();
    let gets: Vec<_> = stand_ins.s3.calls().take().into_iter().filter(|c| c.action == "s3:GetObject").collect();
    assert_eq!((swept.report.load.loaded.len(), swept.report.admitted.unreadable), (1, 1), "{:?}", swept.response);
    assert!(!gets.iter().any(|c| c.key.as_deref() == Some(big_key.as_str())), "the big file was read: {gets:?}");
    let records = store.list("recordings", "rejected/load_rejected/").await.unwrap();
    assert_eq!(records.len(), 1);
    let record = String::from_utf8(store.get("recordings", &records[0].key, None).await.unwrap().body).unwrap();
    assert!(record.contains("over the bound"), "{record}");
}

/// The same version of a recording processed again the same day writes the same key with new bytes: the table
/// follows the file — the new bytes are loaded (their ETag is not the settled one's), and the row is theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_file_written_again_is_loaded_again_and_the_table_follows_it() {
    use redscribe_core::encode::from_parquet;
    use redscribe_core::record::results_from_batch;
    use redscribe_pipeline::invoke::{load_invocation, LoadLimits};

    let mut stand_ins = StandIns::start().await;
    let (store, warehouse) = (stand_ins.store().await, stand_ins.warehouse().await);
    let event = upload(&mut stand_ins, &store, "in/again.wav").await;
    let stage = TranscribeStage::new(store.clone(), TranscribeConfig::default());
    let loader = Arc::new(loader(store.clone(), warehouse.clone()).migrating());
    let (sweep, limits) = (serde_json::json!({"sweep": true}), LoadLimits::default());
    let processed_at = |key: &str| {
        let store = store.clone();
        let key = key.to_string();
        async move {
            let body = store.get("recordings", &key, None).await.unwrap().body;
            results_from_batch(&from_parquet(body).unwrap()[0]).unwrap()[0].processed_at.timestamp_micros()
        }
    };
    let stored = || {
        let warehouse = warehouse.clone();
        async move {
            let rows = warehouse.query("SELECT processed_at FROM transcription_results").await.unwrap();
            assert_eq!(rows.len(), 1);
            rows[0][0].clone().unwrap()
        }
    };

    let first = stage.process(&event).await.unwrap().file().unwrap().clone();
    let swept = load_invocation(&loader, &sweep, None, &limits, "recordings").await.unwrap();
    assert_eq!(swept.report.load.loaded.len(), 1);
    let before = stored().await;
    let first_processed = processed_at(&first.key).await;

    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = stage.process(&event).await.unwrap().file().unwrap().clone();
    assert_eq!(first.key, second.key, "the same name");
    assert!(processed_at(&second.key).await > first_processed, "written over with a later processing");
    let swept = load_invocation(&loader, &sweep, None, &limits, "recordings").await.unwrap();
    assert_eq!(
        (swept.report.load.loaded.len(), swept.report.admitted.already_settled),
        (1, 0),
        "the new bytes are loaded: {:?}",
        swept.response
    );
    assert_ne!(stored().await, before, "the row is the new processing's");
    let audit = warehouse
        .query("SELECT COUNT(DISTINCT file_etag) FROM load_audit WHERE status = 'loaded' AND table_name = 'transcription_results'")
        .await
        .unwrap();
    assert_eq!(audit, vec![vec![Some("2".to_string())]]);
    // And swept once more, nothing is loaded again.
    let swept = load_invocation(&loader, &sweep, None, &limits, "recordings").await.unwrap();
    assert_eq!((swept.report.load.loaded.len(), swept.report.admitted.already_settled), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_file_no_reader_can_open_still_names_its_recording_and_replays() {
    use redscribe_pipeline::invoke::{load_invocation, LoadLimits};
    use redscribe_pipeline::replay::{find_quarantined, settle};

    let mut stand_ins = StandIns::start().await;
    let (store, warehouse) = (stand_ins.store().await, stand_ins.warehouse().await);
    let event = upload(&mut stand_ins, &store, "in/real.wav").await;
    let layout = Layout::default();
    let stage = TranscribeStage::new(store.clone(), TranscribeConfig::default());
    let real = stage.process(&event).await.unwrap().file().unwrap().clone();

    // The file is cut short after it was written (a torn copy, a bug in a tool that rewrote it); what the stage
    // wrote about the recording on the object stays.
    let written = store.get("recordings", &real.key, None).await.unwrap();
    assert_eq!(written.metadata.get("recording-key").map(String::as_str), Some("in/real.wav"));
    let cut = written.body[..written.body.len() / 2].to_vec();
    store.put_with("recordings", &real.key, cut, "application/vnd.apache.parquet", &written.metadata).await.unwrap();

    let loader = Arc::new(loader(store.clone(), warehouse.clone()).migrating());
    let (sweep, limits) = (serde_json::json!({"sweep": true}), LoadLimits::default());
    let swept = load_invocation(&loader, &sweep, None, &limits, "recordings").await.unwrap();
    assert_eq!((swept.report.admitted.unreadable, swept.report.load.loaded.len()), (1, 0), "{:?}", swept.response);

    // Replay finds the recording through the record: the very event the file answered.
    let (found, unreadable) = find_quarantined(store.as_ref(), "recordings", &layout, None).await.unwrap();
    assert!(unreadable.is_empty(), "{unreadable:?}");
    let [record] = found.try_into().unwrap();
    assert_eq!(record.reason, "load_rejected");
    assert_eq!(
        (
            &record.recording.object.bucket,
            &record.recording.object.key,
            &record.recording.object.sequencer,
            &record.recording.object.etag
        ),
        (&event.object.bucket, &event.object.key, &event.object.sequencer, &event.object.etag)
    );
    let replayed = stage.process(&record.recording).await.unwrap();
    let report = loader.load(vec![replayed.file().unwrap().clone()]).await.unwrap();
    assert_eq!(report.loaded.len(), 1);
    settle(store.as_ref(), "recordings", &record, &replayed).await.unwrap();
    let rows = warehouse.query("SELECT object_key, status FROM transcription_results").await.unwrap();
    assert_eq!(rows, vec![vec![Some("in/real.wav".into()), Some("metadata_only".into())]]);
    assert!(store.list("recordings", "rejected/").await.unwrap().is_empty(), "the record is settled");
}

/// A transcriber that takes `rtf` seconds of (pretended) compute per second of audio it hears, and `chunk_ms` of
/// real time per chunk of audio; "base" for the plan's table (0.108 × 2).
struct Paced {
    rtf: f64,
    chunk_ms: u64,
}

impl Transcriber for Paced {
    fn model(&self) -> &str {
        "base"
    }

    fn transcribe(&self, audio: &mut dyn Iterator<Item = Vec<f32>>, _: &Hints) -> Result<Transcription, PortError> {
        let mut samples = 0;
        for chunk in audio {
            samples += chunk.len();
            std::thread::sleep(Duration::from_millis(self.chunk_ms));
        }
        let audio_seconds = samples as f64 / 16_000.0;
        Ok(Transcription {
            audio_seconds,
            decode_seconds: audio_seconds * self.rtf,
            fallback_seconds: 0.0,
            channels_apart: false,
            pii_redacted: None,
            ..Fragile.transcribe(&mut std::iter::empty(), &Hints::default())?
        })
    }
}

/// A transcriber that hears a segment per 10 s of audio (the last one shorter), each saying how many samples it
/// heard before it: the segments of what it heard tile it exactly.
struct Tiling;

impl Transcriber for Tiling {
    fn model(&self) -> &str {
        "tiling"
    }

    fn transcribe(&self, audio: &mut dyn Iterator<Item = Vec<f32>>, _: &Hints) -> Result<Transcription, PortError> {
        let samples: usize = audio.map(|c| c.len()).sum();
        let heard = samples as f64 / 16_000.0;
        let segments: Vec<redscribe_core::ports::TimedText> = (0..(heard / 10.0).ceil() as usize)
            .map(|i| redscribe_core::ports::TimedText {
                start_s: i as f64 * 10.0,
                end_s: ((i + 1) as f64 * 10.0).min(heard),
                text: format!("w{i}"),
                avg_logprob: Some(-0.2),
                no_speech_prob: Some(0.01),
                channel: 0,
                words: Vec::new(),
            })
            .collect();
        let text = segments.iter().map(|s| s.text.clone()).collect::<Vec<_>>().join(" ");
        Ok(Transcription {
            text,
            segments,
            quality_flag: redscribe_core::ports::QualityFlag::Ok,
            avg_logprob: Some(-0.2),
            ..Paced { rtf: 0.01, chunk_ms: 0 }
                .transcribe(&mut std::iter::once(vec![0.0; samples]), &Hints::default())?
        })
    }
}

/// `seconds` of a 440 Hz tone at 8 kHz with a second of silence every 45 s: pauses to cut at.
fn tone_with_pauses(seconds: f32) -> Vec<u8> {
    let mut wav = tone_wav(8_000, seconds);
    for pause in 1..=(seconds / 45.0) as usize {
        let from = 44 + pause * 45 * 8_000 * 2;
        let to = (from + 8_000 * 2).min(wav.len());
        wav[from..to].fill(0);
    }
    wav
}

/// A recording longer than a part is cut into parts at pauses, each part's request heard on its own (here in
/// reverse order), and the last part heard writes one row: segments at the recording's times, continuous across
/// the cuts, the text joined in order, audio summed. A part heard again adds no row; a part that takes the
/// process down quarantines the recording once, naming the part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_recording_is_heard_in_parts_and_becomes_one_continuous_row() {
    let mut stand_ins = StandIns::start().await;
    let (store, warehouse) = (stand_ins.store().await, stand_ins.warehouse().await);
    let config = TranscribeConfig { part_s: Some(60.0), ..TranscribeConfig::default() };
    let stage = TranscribeStage::new(store.clone(), config)
        .with_transcriber(Arc::new(Tiling))
        .with_cost(redscribe_core::cost::CostModel::shipped(3_008), 1);
    let event = upload_body(&mut stand_ins, &store, "in/lecture.wav", tone_with_pauses(200.0)).await;
    let parts = match stage.process(&event).await.unwrap() {
        Processed::Split { parts } => parts,
        other => panic!("{other:?}"),
    };
    assert_eq!(parts, 4, "200 s in parts of at most 60 s");
    // The requests are objects whose events are the parts' work (each an event like an upload's).
    let requests: Vec<ObjectEvent> = drain(&mut stand_ins.events)
        .iter()
        .flat_map(|d| normalize(&d.event, &Layout::default()).unwrap().objects)
        .collect();
    assert_eq!(requests.len(), 4, "{requests:?}");
    let mut written = Vec::new();
    for request in requests.iter().rev() {
        match stage.process(request).await.unwrap() {
            Processed::Part { .. } => {}
            Processed::Written(file) => written.push(file),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(written.len(), 1, "the last part heard writes the row");
    let loader = loader(store.clone(), warehouse.clone()).migrating();
    loader.ensure_schema(None).await.unwrap();
    assert_eq!(loader.load(written.clone()).await.unwrap().loaded.len(), 1);

    let row =
        warehouse.query("SELECT status, duration_s, word_count, cost_usd FROM transcription_results").await.unwrap();
    assert_eq!(row.len(), 1);
    assert_eq!(row[0][0].as_deref(), Some("transcribed"));
    // Its cost: cutting it, every part heard, and the join.
    let cost: f64 = row[0][3].as_deref().unwrap().parse().unwrap();
    let mut spent = 0.0;
    for request in &requests {
        let body = store.get("recordings", &request.object.key, None).await.unwrap().body;
        let request: redscribe_core::parts::PartRequest = serde_json::from_slice(&body).unwrap();
        spent = request.split_cost_usd.expect("what cutting cost");
    }
    for heard in store.list("recordings", "manifests/parts/").await.unwrap() {
        if heard.key.ends_with(".heard.json") {
            let body = store.get("recordings", &heard.key, None).await.unwrap().body;
            let heard: redscribe_core::parts::PartHeard = serde_json::from_slice(&body).unwrap();
            spent += heard.cost_usd.expect("what a part cost");
        }
    }
    assert!(cost >= spent && spent > 0.0, "the row's {cost} USD against {spent} USD spent before the join");
    let duration: f64 = row[0][1].as_deref().unwrap().parse().unwrap();
    assert!((duration - 200.0).abs() < 0.1, "{duration}");
    let segments = warehouse
        .query("SELECT start_s, end_s FROM transcription_segments ORDER BY start_s")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r[0].as_deref().unwrap().parse::<f64>().unwrap(), r[1].as_deref().unwrap().parse::<f64>().unwrap()))
        .collect::<Vec<_>>();
    assert!((segments[0].0 - 0.0).abs() < 1e-6 && (segments.last().unwrap().1 - 200.0).abs() < 0.1, "{segments:?}");
    for pair in segments.windows(2) {
        assert!((pair[1].0 - pair[0].1).abs() < 0.01, "a gap or an overlap: {pair:?}");
    }
    // The cuts are in the pauses (every 45 s, a second long).
    let cuts: Vec<f64> = segments.windows(2).filter(|p| p[0].1 - p[0].0 < 9.99).map(|p| p[0].1).collect();
    assert_eq!(cuts.len(), 3, "{segments:?}");
    for cut in &cuts {
        let into_pause = cut % 45.0;
        assert!(into_pause < 1.0, "a cut at {cut} s is not in a pause");
    }

    // A part heard again: no new row.
    let again = stage.process(&requests[1]).await.unwrap();
    if let Some(file) = again.file() {
        loader.load(vec![file.clone()]).await.unwrap();
    }
    assert_eq!(warehouse.query("SELECT COUNT(*) FROM transcription_results").await.unwrap(), [[Some("1".into())]]);

    // A part that takes the process down, again and again: the recording is quarantined once, the part named.
    let quarantined = stage.quarantine(&requests[2], 4, ErrorCode::RetriesExhausted, "the process died").await.unwrap();
    let Processed::Quarantined { file, record_key, .. } = quarantined else { panic!("{quarantined:?}") };
    assert_eq!(file.id, written[0].id, "the recording's row, not the request's");
    let record = String::from_utf8(store.get("recordings", &record_key, None).await.unwrap().body).unwrap();
    assert!(record.contains("part 3 of 4") && record.contains("in/lecture.wav"), "{record}");
}

/// The plan counts a recording's passes once its channels are compared, and what the process measured of short
/// clips does not lower what fits: with 10 s of an invocation's time (the function's), base's table pace (0.216)
/// fits 30 s of audio heard once but not twice. Before, a 5-second clip measured at RTF 10 made every later
/// recording `too_long`, and a stereo file counted two passes whatever its channels held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_counts_the_passes_heard_and_no_short_clip_lowers_what_fits() {
    use redscribe_pipeline::transcribe::TimeBudget;

    let stand_ins = StandIns::start().await;
    let store = stand_ins.store().await;
    let stage = TranscribeStage::new(store.clone(), TranscribeConfig::default())
        .with_transcriber(Arc::new(Paced { rtf: 10.0, chunk_ms: 0 }));
    let budget = || TimeBudget {
        deadline: Some(std::time::Instant::now() + Duration::from_secs(60)),
        total: Some(Duration::from_secs(10)),
    };
    let outcome = |processed: Result<Processed, PortError>| match processed {
        Ok(Processed::Written(_)) => "written".to_string(),
        Ok(Processed::Quarantined { code, .. }) => code.as_str().to_string(),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("retry: {}", e.message),
    };
    let uploads = [
        ("in/clip.wav", tone_wav(16_000, 5.0)),
        ("in/same.wav", redscribe_testkit::stereo_wav(8_000, 30.0, true)),
        ("in/call.wav", redscribe_testkit::stereo_wav(8_000, 30.0, false)),
    ];
    let mut heard = Vec::new();
    for (key, body) in uploads {
        store.put("recordings", key, body, "audio/wav").await.unwrap();
        let event = ObjectEvent::of(redscribe_core::events::ObjectVersion::new("recordings", key));
        heard.push(outcome(stage.process_attempt(&event, 1, budget()).await));
    }
    assert_eq!(heard[0], "written", "5 s at the table's pace: 1.1 s");
    assert_eq!(heard[1], "written", "one pass of 30 s: 6.5 s, however slow the clip was");
    assert_eq!(heard[2], "too_long", "two passes of 30 s: 13 s");
}

/// The transcription stops at the invocation's deadline whatever the header let the plan expect: a recording
/// that goes slower than planned is left for the next delivery (a transient failure that says how far it got),
/// before the deadline, not at the function's timeout with its batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_slower_than_planned_stops_at_the_deadline_and_is_left_for_later() {
    use redscribe_pipeline::transcribe::TimeBudget;

    let stand_ins = StandIns::start().await;
    let store = stand_ins.store().await;
    // Planned at 0.01 (0.3 s for 30 s of audio); it takes 200 ms per chunk of ~0.26 s, about 23 s in all.
    let config = TranscribeConfig { expected_rtf: Some(0.01), ..TranscribeConfig::default() };
    let stage =
        TranscribeStage::new(store.clone(), config).with_transcriber(Arc::new(Paced { rtf: 0.01, chunk_ms: 200 }));
    store.put("recordings", "in/slow.wav", tone_wav(16_000, 30.0), "audio/wav").await.unwrap();
    let event = ObjectEvent::of(redscribe_core::events::ObjectVersion::new("recordings", "in/slow.wav"));
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let budget = TimeBudget { deadline: Some(deadline), total: Some(Duration::from_secs(870)) };
    let e = stage.process_attempt(&event, 1, budget).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceUnavailable, "{e:?}");
    assert!(e.message.contains("stopped at the invocation's deadline after"), "{}", e.message);
    // It heard what came before the deadline, not the whole recording.
    let fed: f64 = e.message.split("after ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(fed < 30.0, "{}", e.message);
    assert!(stand_ins.files("processed/").is_empty() && stand_ins.files("rejected/").is_empty(), "nothing written");
}

/// A FLAC whose header says 10 s but holds 20 minutes (its STREAMINFO's total samples under-stated): the plan lets
/// it start, the wall clock stops it at the deadline (its message goes back), and on its next delivery the attempt
/// markers say a try did not finish, so its length is measured by decoding it and it is cut into parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_that_under_states_the_length_is_stopped_then_cut_by_what_the_recording_holds() {
    use redscribe_pipeline::transcribe::TimeBudget;

    let stand_ins = StandIns::start().await;
    let store = stand_ins.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("liar.flac");
    let made = std::process::Command::new("sox")
        .args(["-n", "-r", "8000", "-c", "1", "-t", "flac"])
        .arg(&path)
        .args(["synth", "1200", "sine", "440", "vol", "0.5"])
        .status()
        .expect("sox (scripts/setup.sh)");
    assert!(made.success());
    let mut flac = std::fs::read(&path).unwrap();
    redscribe_testkit::under_state_flac(&mut flac, 10, 8_000);
    let header = redscribe_audio::probe(redscribe_audio::Source::from_bytes(flac.clone())).unwrap();
    assert!((header.duration_s - 10.0).abs() < 0.01, "the header says {} s", header.duration_s);
    store.put("recordings", "in/liar.flac", flac, "audio/flac").await.unwrap();

    let config = TranscribeConfig { part_s: Some(600.0), expected_rtf: Some(0.01), ..TranscribeConfig::default() };
    let stage =
        TranscribeStage::new(store.clone(), config).with_transcriber(Arc::new(Paced { rtf: 0.01, chunk_ms: 5 }));
    let object = redscribe_core::events::ObjectVersion::new("recordings", "in/liar.flac");
    let event = ObjectEvent { message_id: Some("m1".into()), ..ObjectEvent::of(object) };
    let budget = |seconds| TimeBudget {
        deadline: Some(std::time::Instant::now() + Duration::from_secs(seconds)),
        total: Some(Duration::from_secs(870)),
    };
    let e = stage.process_attempt(&event, 1, budget(2)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceUnavailable, "{e:?}");
    assert!(e.message.contains("stopped at the invocation's deadline"), "{}", e.message);

    match stage.process_attempt(&event, 1, budget(120)).await.unwrap() {
        Processed::Split { parts } => assert_eq!(parts, 2, "20 minutes in parts of 10"),
        other => panic!("{other:?}"),
    }
    let requests = store.list("recordings", "manifests/parts/").await.unwrap();
    let request = store.get("recordings", &requests[0].key, None).await.unwrap().body;
    let request: redscribe_core::parts::PartRequest = serde_json::from_slice(&request).unwrap();
    assert!((request.metadata.duration_s - 1200.0).abs() < 1.0, "the decoded length: {}", request.metadata.duration_s);
}

/// The transcribe function's time: before transcribing, the stage estimates what a recording needs (its length
/// × the compute per second of audio) and leaves for the next delivery what cannot end before the deadline,
/// quarantines `too_long` what could never end within the function's time, and a message SQS has delivered
/// `max_receives` times is quarantined `retries_exhausted` without being processed — the rest of the batch goes
/// on, and only the message left for later is named in `batchItemFailures`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invocations_time_and_repeated_receives_decide_what_is_left_and_what_is_quarantined() {
    use redscribe_pipeline::invoke::transcribe_invocation;

    let mut stand_ins = StandIns::start().await;
    let store = stand_ins.store().await;
    for (key, seconds) in
        [("in/short.wav", 0.25f32), ("in/long.wav", 2.0), ("in/hours.wav", 6.0), ("in/poison.wav", 0.25)]
    {
        store.put("recordings", key, tone_wav(16_000, seconds), "audio/wav").await.unwrap();
    }
    let deliveries = drain(&mut stand_ins.events);
    let mut records = redscribe_testkit::sqs_records(&deliveries);
    assert_eq!(records.len(), 4);
    // The poisoned recording's message has come back three times already, each time after its processing took
    // the process down: this is its fourth receive.
    records[3]["attributes"]["ApproximateReceiveCount"] = "4".into();
    let poison = normalize(&deliveries[3].event, &Layout::default()).unwrap().objects.remove(0);
    for _ in 0..3 {
        redscribe_pipeline::transcribe::Attempts::started(store.as_ref(), &Layout::default(), &poison).await.unwrap();
    }
    let message = |i: usize| records[i]["messageId"].as_str().unwrap().to_string();

    // Ten seconds of compute per second of audio: 0.25 s needs 2.5 s, 2 s needs 20 s, 6 s needs 60 s.
    let config = TranscribeConfig { expected_rtf: Some(10.0), ..TranscribeConfig::default() };
    let stage = Arc::new(TranscribeStage::new(store.clone(), config).with_transcriber(Arc::new(Fragile)));
    let config = DriverConfig {
        concurrency: 2,
        fallback_bucket: "recordings".into(),
        // 10 s left after the 30 s margin; 50 s in any invocation.
        deadline: Some(std::time::Instant::now() + Duration::from_secs(40)),
        time_limit: Some(Duration::from_secs(80)),
        ..DriverConfig::default()
    };
    let payload = serde_json::json!({ "Records": records });
    let invocation = transcribe_invocation(stage, &payload, config).await.unwrap();

    assert_eq!(invocation.response, serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": message(1) }] }));
    let outcome = |key: &str| {
        let (_, result) = invocation.report.outcomes().find(|(e, _)| e.object.key == key).expect("an outcome");
        match result {
            Ok(Processed::Written(_)) => "written".to_string(),
            Ok(Processed::Quarantined { code, .. }) => code.as_str().to_string(),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("retry: {}", e.message),
        }
    };
    assert_eq!(outcome("in/short.wav"), "written");
    assert!(outcome("in/long.wav").starts_with("retry: not enough time left"), "{}", outcome("in/long.wav"));
    assert_eq!(outcome("in/hours.wav"), "too_long");
    assert_eq!(outcome("in/poison.wav"), "retries_exhausted");
    let records = stand_ins.files("rejected/retries_exhausted/");
    assert_eq!(records.len(), 1, "{records:?}");
}

/// An internal error that repeats is not retried forever, even by a driver that never gives up (`serve`): after
/// a few tries the recording is quarantined `retries_exhausted` and its job settles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_that_repeats_ends_in_quarantine_not_in_a_loop() {
    let mut stand_ins = StandIns::start().await;
    let store = stand_ins.store().await;
    let event = upload(&mut stand_ins, &store, "in/bug.wav").await;
    // A bug this one object triggers: reading it fails with an internal error, every time.
    let error = PortError::new(ErrorCode::Internal, "unexpected state in the reader");
    let buggy = redscribe_testkit::FailingReads { inner: store, key: "in/bug.wav", error };
    let stage = TranscribeStage::new(Arc::new(buggy), TranscribeConfig::default());
    let config = DriverConfig {
        retries: Retries {
            backoff: Backoff { base: Duration::from_millis(5), cap: Duration::from_millis(20) },
            attempts: None,
        },
        ..DriverConfig::default()
    };
    let mut collected = Collected::default();
    let jobs = vec![Job { token: 1u64, delivery: Delivery::Objects(vec![event]) }];
    Driver::transcribing(Arc::new(stage), config).run_all(jobs, &mut collected).await;
    assert_eq!(collected.settled.get(&1), Some(&Settled::Done));
    let records = stand_ins.files("rejected/retries_exhausted/");
    assert_eq!(records.len(), 1, "{:?}", stand_ins.files("rejected/"));
    let record = std::fs::read_to_string(&records[0]).unwrap();
    assert!(record.contains("an internal error, 4 times: unexpected state in the reader"), "{record}");
}

/// Retries are layered once: a throttled read the adapter has already retried until its attempts ran out is handed
/// back by a driver that tries only a few times (a Lambda's SQS redelivers it), not tried again by each of the
/// driver's own attempts (which made 8 × 4 = 32 GETs of one recording); a driver that never gives up (`serve`)
/// still waits and tries again, and gets it read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_adapter_retried_to_exhaustion_is_not_retried_again_by_a_brief_driver() {
    let mut stand_ins = StandIns::start().await;
    let attempts = 3;
    let adapter = RetryPolicy { max_attempts: attempts, base: Duration::from_millis(1), cap: Duration::from_millis(5) };
    let store = Arc::new(
        S3Objects::from_conf(&stand_ins.sdk_config(&stand_ins.s3.endpoint_url()).await, true).with_retry(adapter),
    );
    let event = upload(&mut stand_ins, &store, "in/throttled.wav").await;
    let faults = stand_ins.s3.faults();
    let run = |retries: Retries, event: ObjectEvent| {
        let stage =
            TranscribeStage::new(store.clone(), TranscribeConfig::default()).with_transcriber(Arc::new(Fragile));
        let config = DriverConfig { retries, ..DriverConfig::default() };
        async move {
            let mut collected = Collected::default();
            let jobs = vec![Job { token: 1u64, delivery: Delivery::Objects(vec![event]) }];
            Driver::transcribing(Arc::new(stage), config).run_all(jobs, &mut collected).await;
            collected.settled.remove(&1).expect("settled")
        }
    };

    let pending = 100;
    faults.fail_next_reads(pending, S3Fault::SlowDown);
    let brief = Retries {
        backoff: Backoff { base: Duration::from_millis(1), cap: Duration::from_millis(5) },
        ..Retries::BRIEF
    };
    let settled = run(brief, event.clone()).await;
    let Settled::Retry(e) = settled else { panic!("a throttled read is handed back: {settled:?}") };
    assert!(e.exhausted && e.code == ErrorCode::Throttled, "{e:?}");
    assert_eq!(pending - faults.pending(), attempts as usize, "the adapter's attempts, and no more");

    faults.fail_next_reads(2 * attempts as usize, S3Fault::SlowDown);
    let forever = Retries { attempts: None, ..brief };
    assert_eq!(run(forever, event).await, Settled::Done, "a driver that never gives up outlasts the throttling");
    assert_eq!(faults.pending(), 0);
}

/// A recording S3 will not hand over because a grant or the bucket's KMS key is wrong is not the recording's
/// fault: it is not quarantined and gets no failed row; its job is handed back at once (a grant is not fixed in
/// seconds), and once the grant is fixed it is transcribed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_the_role_may_not_read_is_blocked_not_quarantined() {
    let mut stand_ins = StandIns::start().await;
    let store = stand_ins.store().await;
    // As the transcribe function has it, from an SQS message: its tries are marked.
    let event = ObjectEvent { message_id: Some("m-1".into()), ..upload(&mut stand_ins, &store, "in/locked.wav").await };
    let faults = stand_ins.s3.faults();
    let run = |event: ObjectEvent| {
        let stage =
            TranscribeStage::new(store.clone(), TranscribeConfig::default()).with_transcriber(Arc::new(Fragile));
        async move {
            let mut collected = Collected::default();
            let jobs = vec![Job { token: 1u64, delivery: Delivery::Objects(vec![event]) }];
            Driver::transcribing(Arc::new(stage), DriverConfig::default()).run_all(jobs, &mut collected).await;
            collected.settled.remove(&1).expect("settled")
        }
    };
    for (fault, code) in
        [(S3Fault::AccessDenied, ErrorCode::AccessDenied), (S3Fault::KmsDisabled, ErrorCode::AccessDenied)]
    {
        faults.fail_next_reads(100, fault);
        let settled = run(event.clone()).await;
        let Settled::Retry(e) = settled else { panic!("{fault:?}: handed back, not settled: {settled:?}") };
        assert_eq!(e.code, code, "{fault:?}: {e:?}");
        assert_eq!(100 - faults.pending(), 1, "{fault:?}: read once, not retried");
        faults.fail_next_reads(0, fault);
    }
    assert!(stand_ins.files("rejected/").is_empty(), "nothing quarantined: {:?}", stand_ins.files("rejected/"));
    assert!(stand_ins.files("processed/").is_empty(), "no failed row");
    // Blocked tries count against nothing: a later receive does not take the recording for a poison.
    let marks = redscribe_pipeline::transcribe::Attempts::read(store.as_ref(), &Layout::default(), &event).await;
    assert_eq!(marks.unwrap(), Default::default());
    assert_eq!(run(event.clone()).await, Settled::Done);
    let marks = redscribe_pipeline::transcribe::Attempts::read(store.as_ref(), &Layout::default(), &event).await;
    assert!(marks.unwrap().finished);
    assert_eq!(stand_ins.files("processed/transcription_results/").len(), 1);
}

/// The real warehouse, except that its first load is cancelled at a deadline and not seen to end: it may still
/// commit. Counts the loads submitted.
struct InDoubt {
    inner: Arc<DataApi>,
    loads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Warehouse for InDoubt {
    async fn run_batch(&self, sqls: &[String], token: &str) -> Result<(), PortError> {
        if self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            let e = redscribe_aws::AwsError::Deadline { id: "s-1".into(), seconds: 3, ended: false };
            return Err(e.into());
        }
        self.inner.run_batch(sqls, token).await
    }

    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PortError> {
        self.inner.query(sql).await
    }
}

/// A load whose statement was cancelled but not seen to end may still commit: even a driver that never gives up
/// submits nothing more for those files — the job goes back, and a later delivery finds what the statement did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_in_doubt_is_never_followed_by_a_second_submission() {
    let mut stand_ins = StandIns::start().await;
    let (store, data_api) = (stand_ins.store().await, stand_ins.warehouse().await);
    redscribe_pipeline::migrate::migrate(data_api.as_ref()).await.unwrap();
    let event = upload(&mut stand_ins, &store, "in/call.wav").await;
    let warehouse = Arc::new(InDoubt { inner: data_api, loads: Default::default() });
    let stage = TranscribeStage::new(store.clone(), TranscribeConfig::default()).with_transcriber(Arc::new(Fragile));
    let config = DriverConfig {
        batch_age: Duration::from_millis(10),
        retries: Retries {
            backoff: Backoff { base: Duration::from_millis(1), cap: Duration::from_millis(5) },
            attempts: None,
        },
        ..DriverConfig::default()
    };
    let mut collected = Collected::default();
    let jobs = vec![Job { token: 1u64, delivery: Delivery::Objects(vec![event]) }];
    Driver::new(Arc::new(stage), Arc::new(loader(store, warehouse.clone())), config)
        .run_all(jobs, &mut collected)
        .await;
    let Some(Settled::Retry(e)) = collected.settled.get(&1) else { panic!("{:?}", collected.settled) };
    assert!(e.in_doubt, "{e:?}");
    assert_eq!(warehouse.loads.load(std::sync::atomic::Ordering::SeqCst), 1, "submitted once");
}

/// The real warehouse, counting the calls made without a deadline.
struct Clocked {
    inner: Arc<DataApi>,
    unbounded: std::sync::Mutex<Vec<String>>,
}

impl Clocked {
    fn note(&self, deadline: Option<std::time::Instant>, sql: &str) {
        if deadline.is_none() {
            self.unbounded.lock().unwrap().push(sql.chars().take(60).collect());
        }
    }
}

#[async_trait::async_trait]
impl Warehouse for Clocked {
    async fn run_batch(&self, sqls: &[String], token: &str) -> Result<(), PortError> {
        self.run_batch_until(sqls, token, None).await
    }

    async fn run_batch_until(
        &self,
        sqls: &[String],
        token: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<(), PortError> {
        self.note(deadline, &sqls[0]);
        self.inner.run_batch_until(sqls, token, deadline).await
    }

    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PortError> {
        self.query_until(sql, None).await
    }

    async fn query_until(
        &self,
        sql: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<Vec<Vec<Option<String>>>, PortError> {
        self.note(deadline, sql);
        self.inner.query_until(sql, deadline).await
    }
}

/// Every warehouse call of a load invocation ends by its deadline — the migrations, the `load_audit` dedupe, the
/// load, the quarantine of a file that is no result file — not only the load's own statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_warehouse_call_of_a_load_invocation_carries_its_deadline() {
    use redscribe_pipeline::invoke::{load_invocation, LoadLimits};

    let mut stand_ins = StandIns::start().await;
    let (store, data_api) = (stand_ins.store().await, stand_ins.warehouse().await);
    let event = upload(&mut stand_ins, &store, "in/real.wav").await;
    let real = TranscribeStage::new(store.clone(), TranscribeConfig::default()).process(&event).await.unwrap();
    let planted = real.file().unwrap().key.replace(".parquet", "-planted.parquet");
    store.put("recordings", &planted, b"not parquet".to_vec(), "application/octet-stream").await.unwrap();
    let warehouse = Arc::new(Clocked { inner: data_api, unbounded: Default::default() });
    let loader = Arc::new(loader(store.clone(), warehouse.clone()).migrating());
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    let (sweep, limits) = (serde_json::json!({"sweep": true}), LoadLimits::default());
    let swept = load_invocation(&loader, &sweep, Some(deadline), &limits, "recordings").await.unwrap();
    assert_eq!((swept.report.load.loaded.len(), swept.report.admitted.unreadable), (1, 1), "{:?}", swept.response);
    let unbounded = warehouse.unbounded.lock().unwrap().clone();
    assert!(unbounded.is_empty(), "calls without the invocation's deadline: {unbounded:?}");
}

/// The load function's statements end with its invocation: a statement still running at the invocation's
/// deadline (less the time to cancel it) is cancelled and seen to end; its file is loaded by a later try if time
/// is left, else left for the next invocation; nothing the invocation started is still running when it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_statement_outlives_the_load_invocation_that_started_it() {
    use redscribe_pipeline::invoke::{load_invocation, LoadLimits};

    let mut stand_ins = StandIns::start().await;
    let (store, warehouse) = (stand_ins.store().await, stand_ins.warehouse().await);
    let event = upload(&mut stand_ins, &store, "in/call.wav").await;
    TranscribeStage::new(store.clone(), TranscribeConfig::default()).process(&event).await.unwrap();
    let loader = Arc::new(loader(store.clone(), warehouse.clone()).migrating());
    loader.ensure_schema(None).await.unwrap();

    // A warehouse so busy that the load's statement would take a minute.
    stand_ins.data_api.as_ref().unwrap().faults().slow_next_batches(1, Duration::from_secs(60));
    let limits = LoadLimits { margin: Duration::ZERO, ..LoadLimits::default() };
    // 18 s left: the statement may run until 3 s from now (15 s are kept to cancel it and answer).
    let deadline = std::time::Instant::now() + Duration::from_secs(18);
    let sweep = serde_json::json!({"sweep": true});
    let swept = load_invocation(&loader, &sweep, Some(deadline), &limits, "recordings").await.unwrap();
    assert!(std::time::Instant::now() < deadline, "answered before the deadline");
    let listed = warehouse.client().list_statements().send().await.unwrap();
    let statuses: Vec<&str> = listed.statements().iter().map(|s| s.status().map_or("", |s| s.as_str())).collect();
    // Loaded by a later try within the time, or left for the next invocation: never both, never lost.
    let loaded = swept.report.load.loaded.len();
    assert_eq!(loaded + redscribe_pipeline::invoke::deferred(&swept.report), 1, "{:?} {statuses:?}", swept.response);

    assert!(statuses.contains(&"ABORTED"), "{statuses:?}");
    assert!(!statuses.iter().any(|s| *s == "SUBMITTED" || *s == "STARTED"), "still running: {statuses:?}");
    let rows = warehouse.query("SELECT COUNT(*) FROM transcription_results").await.unwrap();
    assert_eq!(rows, vec![vec![Some(loaded.to_string())]]);
}
