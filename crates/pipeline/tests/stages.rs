//! Both stages end to end against the local stand-ins (S3 and the Data API over DuckDB, loopback port 0), through
//! the production adapters (`aws-sdk-s3`, `aws-sdk-redshiftdata`): uploads raise events, events become rows.

use std::sync::Arc;
use std::time::Duration;

use redscribe_aws::redshift::DataApi;
use redscribe_aws::s3::S3Objects;
use redscribe_core::events::{normalize, ObjectEvent, ObjectVersion};
use redscribe_core::layout::Layout;
use redscribe_core::load::{CopyAuthorization, Tables};
use redscribe_core::ports::{ObjectStore, Warehouse};
use redscribe_core::record::{segments_batch, SegmentRow};
use redscribe_local::redshift::DataApiServer;
use redscribe_local::s3::{Delivery, EventJournal, S3Server};
use redscribe_pipeline::pending::Recordings;
use redscribe_pipeline::{LoadConfig, Loader, Processed, ResultFile, TranscribeConfig, TranscribeStage};
use redscribe_testkit::{tone_wav as wav, StandIns};
use tokio::sync::mpsc::UnboundedReceiver;

struct Harness {
    /// What the `aws` CLI needs to reach the S3 stand-in.
    aws_env: Vec<(&'static str, String)>,
    s3: S3Server,
    api: DataApiServer,
    journal: Arc<EventJournal>,
    events: UnboundedReceiver<Delivery>,
    store: Arc<S3Objects>,
    warehouse: Arc<DataApi>,
    _dir: tempfile::TempDir,
}

async fn start() -> Harness {
    let stand_ins = StandIns::start().await;
    let (store, warehouse) = (stand_ins.store().await, stand_ins.warehouse().await);
    redscribe_pipeline::migrate::migrate(warehouse.as_ref()).await.unwrap();
    let aws_env = stand_ins.function_env();
    let (dir, services) = stand_ins.into_parts();
    let redscribe_local::StandIns { s3, journal, events, data_api, .. } = services;
    Harness { aws_env, s3, api: data_api.expect("both stand-ins"), journal, events, store, warehouse, _dir: dir }
}

impl Harness {
    fn loader(&self) -> Loader<S3Objects, DataApi> {
        self.loader_over(self.store.clone(), self.warehouse.clone())
    }

    /// The load stage over given adapters (e.g. with a quicker retry policy).
    fn loader_over(&self, store: Arc<S3Objects>, warehouse: Arc<DataApi>) -> Loader<S3Objects, DataApi> {
        Loader::new(
            store,
            warehouse,
            LoadConfig {
                tables: Tables::default(),
                auth: CopyAuthorization::IamRole("arn:aws:iam::123456789012:role/loader".into()),
                layout: Layout::default(),
                bucket: "recordings".into(),
                max_isolation_rounds: 3,
                recordings: Recordings::under("recordings", "in/"),
            },
        )
    }

    /// Processes every pending event (each delivered `times` times), acknowledging each after its output is
    /// written; returns the result files.
    async fn process_events(&mut self, times: usize) -> Vec<Processed> {
        let stage = TranscribeStage::new(self.store.clone(), TranscribeConfig::default());
        let layout = Layout::default();
        let mut out = Vec::new();
        while let Ok(delivery) = self.events.try_recv() {
            for _ in 0..times {
                for object in normalize(&delivery.event, &layout).unwrap().objects {
                    out.push(stage.process(&object).await.unwrap());
                }
            }
            self.journal.ack(delivery.seq).unwrap();
        }
        out
    }

    async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.warehouse.query(sql).await.unwrap()
    }

    async fn count(&self, sql: &str) -> i64 {
        self.rows(sql).await[0][0].as_deref().unwrap().parse().unwrap()
    }
}

const HOSTILE: &str = "in/a'; drop table transcription_results; --.wav";

#[tokio::test(flavor = "multi_thread")]
async fn uploads_become_rows_bad_inputs_are_quarantined_and_replays_add_nothing() {
    let mut h = start().await;
    let mut truncated = wav(8000, 1.0);
    truncated.truncate(2000);
    // A header that claims no channels at all.
    let mut lying = wav(8000, 0.5);
    lying[22..24].copy_from_slice(&0u16.to_le_bytes());
    let uploads: Vec<(&str, Vec<u8>)> = vec![
        ("in/call.wav", wav(8000, 0.5)),
        (HOSTILE, wav(16000, 0.25)),
        ("in/weekly call+notes 録音 \\ \"q\".wav", wav(22050, 0.25)),
        ("in/noise.wav", (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect()),
        ("in/notes.mp3", b"these are meeting notes, not audio\n".repeat(40)),
        ("in/cut.wav", truncated),
        ("in/empty.wav", Vec::new()),
        ("in/liar.wav", lying),
    ];
    for (key, body) in &uploads {
        h.store.put("recordings", key, body.clone(), "audio/wav").await.unwrap();
    }

    // Every event delivered three times (at-least-once delivery).
    let processed = h.process_events(3).await;
    assert_eq!(processed.len(), 24);
    let codes: std::collections::BTreeSet<_> = processed
        .iter()
        .filter_map(|p| match p {
            Processed::Quarantined { code, .. } => Some(code.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(codes.into_iter().collect::<Vec<_>>(), ["empty_object", "invalid_header", "not_audio", "truncated"]);
    let files: Vec<ResultFile> = processed.iter().map(|p| p.file().unwrap().clone()).collect();
    let report = h.loader().load(files).await.unwrap();
    assert_eq!(report.batches, 1, "one COPY for the whole batch");
    assert_eq!(report.loaded.len(), 24);

    assert_eq!(h.count("SELECT COUNT(*) FROM transcription_results").await, 8);
    let statuses = h.rows("SELECT object_key, status, error_code FROM transcription_results ORDER BY object_key").await;
    let by_key: std::collections::HashMap<String, (String, Option<String>)> =
        statuses.into_iter().map(|r| (r[0].clone().unwrap(), (r[1].clone().unwrap(), r[2].clone()))).collect();
    assert_eq!(by_key[HOSTILE].0, "metadata_only", "the hostile key loads as data");
    assert_eq!(by_key["in/call.wav"].0, "metadata_only");
    assert_eq!(by_key["in/weekly call+notes 録音 \\ \"q\".wav"].0, "metadata_only");
    assert_eq!(by_key["in/noise.wav"], ("failed".into(), Some("not_audio".into())));
    assert_eq!(by_key["in/notes.mp3"], ("failed".into(), Some("not_audio".into())));
    assert_eq!(by_key["in/cut.wav"], ("failed".into(), Some("truncated".into())));
    assert_eq!(by_key["in/empty.wav"], ("failed".into(), Some("empty_object".into())));
    assert_eq!(by_key["in/liar.wav"], ("failed".into(), Some("invalid_header".into())));
    assert_eq!(h.count("SELECT COUNT(*) FROM transcription_results WHERE sample_rate = 22050").await, 1);
    // Quarantine records are in the bucket, under their reasons.
    let records = std::fs::read_dir(h._dir.path().join("s3/recordings/rejected/not_audio")).unwrap().count();
    assert_eq!(records, 1, "one dt= folder");

    // The same events again, later: still one row per recording.
    for (key, _) in &uploads[..2] {
        let event = ObjectEvent::of(ObjectVersion {
            sequencer: Some("0000000000000000".into()),
            ..ObjectVersion::new("recordings", key)
        });
        let stage = TranscribeStage::new(h.store.clone(), TranscribeConfig::default());
        let stale = stage.process(&event).await.unwrap();
        h.loader().load(vec![stale.file().unwrap().clone()]).await.unwrap();
    }
    assert_eq!(h.count("SELECT COUNT(*) FROM transcription_results").await, 8, "older events change nothing");

    // A re-upload with new content updates the row.
    h.store.put("recordings", "in/call.wav", wav(16000, 1.0), "audio/wav").await.unwrap();
    let files: Vec<ResultFile> = h.process_events(1).await.iter().map(|p| p.file().unwrap().clone()).collect();
    h.loader().load(files).await.unwrap();
    assert_eq!(h.count("SELECT COUNT(*) FROM transcription_results").await, 8);
    let rate = h.rows("SELECT sample_rate FROM transcription_results WHERE object_key = 'in/call.wav'").await;
    assert_eq!(rate[0][0].as_deref(), Some("16000"));
    // 24 files, 2 stale ones, 1 re-upload: one audit row per file COPY read.
    assert_eq!(h.count("SELECT COUNT(*) FROM load_audit WHERE status = 'loaded'").await, 27);
    h.s3.stop().await;
    h.api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_fails_the_copy_is_quarantined_and_the_rest_of_the_batch_loads() {
    let mut h = start().await;
    h.store.put("recordings", "in/good.wav", wav(8000, 0.5), "audio/wav").await.unwrap();
    let mut files: Vec<ResultFile> = h.process_events(1).await.iter().map(|p| p.file().unwrap().clone()).collect();
    // A file with the wrong columns in the batch (as a bug or a foreign writer would leave).
    let bad = redscribe_core::encode::to_parquet(&[segments_batch(&[SegmentRow {
        id: "x".into(),
        object_version: None,
        segment_index: 0,
        start_s: 0.0,
        end_s: 1.0,
        text: "hi".into(),
        avg_logprob: None,
        no_speech_prob: None,
        processed_at: chrono::Utc::now(),
        channel: 0,
        speaker: None,
    }])
    .unwrap()])
    .unwrap();
    let key = "processed/transcription_results/dt=2026-11-23/bad.parquet";
    h.store.put("recordings", key, bad.clone(), "application/vnd.apache.parquet").await.unwrap();
    let _ = h.process_events(1).await; // its event is under an output prefix: skipped by the loop guard
    files.push(ResultFile {
        id: "bad".into(),
        bucket: "recordings".into(),
        key: key.into(),
        size: bad.len() as u64,
        rows: 1,
        columns: redscribe_core::schema::results_schema().fields().len(),
        source: files[0].source.clone(),
        details: Vec::new(),
        etag: None,
        erased: None,
    });

    let report = h.loader().load(files).await.unwrap();
    assert_eq!(report.batches, 2, "the failing batch, then the rest");
    assert_eq!(report.loaded.len(), 1);
    assert_eq!(report.rejected.len(), 1);
    assert!(report.rejected[0].1.contains("Unmatched number of columns"), "{:?}", report.rejected);
    assert_eq!(h.count("SELECT COUNT(*) FROM transcription_results").await, 1);
    let audit = h.rows("SELECT status, file_uri FROM load_audit ORDER BY status").await;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1][0].as_deref(), Some("quarantined"));
    assert!(audit[1][1].as_deref().unwrap().ends_with("bad.parquet"));
    assert!(h._dir.path().join("s3/recordings/rejected/load_rejected").is_dir());
}

/// Result files written before a migration appended columns (left in flight by a deployment) load after it: read
/// back by their shape, copied through stages of their own column count, the later columns NULL. Three shapes in
/// one batch: today's, the 33 columns before `cost_usd`, the original 30 (with a segments file from before
/// `channel`).
#[tokio::test(flavor = "multi_thread")]
async fn result_files_of_earlier_schemas_load_with_the_later_columns_null() {
    use redscribe_core::encode::{from_parquet, to_parquet};
    use redscribe_core::record::{results_batch, results_from_batch};
    use redscribe_core::schema::Detail;
    use redscribe_pipeline::pending::{read_back, Candidate};

    let mut h = start().await;
    let mut written: Vec<ResultFile> = Vec::new();
    for name in ["today", "before-cost", "original"] {
        h.store.put("recordings", &format!("in/{name}.wav"), wav(8000, 0.5), "audio/wav").await.unwrap();
        written.extend(h.process_events(1).await.iter().map(|p| p.file().unwrap().clone()));
    }
    let layout = Layout::default();
    let put = |key: String, body: Vec<u8>| {
        let store = h.store.clone();
        async move { store.put("recordings", &key, body, "application/vnd.apache.parquet").await.unwrap() }
    };
    // Every later column given a value, then cut to each shape.
    let mut processed_at = None;
    for (file, columns) in written.iter().zip([None, Some(33), Some(30)]) {
        let body = h.store.get("recordings", &file.key, None).await.unwrap().body;
        let mut row = results_from_batch(&from_parquet(body).unwrap()[0]).unwrap().remove(0);
        (row.quality_flag, row.cost_usd, row.pii_redacted) = (Some("ok".into()), Some(0.5), Some("{}".into()));
        let mut batch = results_batch(std::slice::from_ref(&row)).unwrap();
        if let Some(columns) = columns {
            batch = batch.project(&(0..columns).collect::<Vec<_>>()).unwrap();
        }
        put(file.key.clone(), to_parquet(&[batch]).unwrap()).await;
        processed_at = Some(row.processed_at);
    }
    // The original schema's segments of the last: nine columns, no channel.
    let original = &written[2];
    let segments = segments_batch(&[SegmentRow {
        id: original.id.clone(),
        object_version: None,
        segment_index: 0,
        start_s: 0.0,
        end_s: 0.5,
        text: "a tone".into(),
        avg_logprob: None,
        no_speech_prob: None,
        processed_at: processed_at.unwrap(),
        channel: 0,
        speaker: None,
    }])
    .unwrap();
    let segments = to_parquet(&[segments.project(&(0..9).collect::<Vec<_>>()).unwrap()]).unwrap();
    put(layout.detail_key_for(Detail::Segments, &original.key).unwrap(), segments).await;
    let _ = h.process_events(1).await; // their events are under output prefixes: skipped

    // Read back as the load function does: each file's shape from its own columns.
    let mut files = Vec::new();
    for file in &written {
        let candidate =
            Candidate { bucket: file.bucket.clone(), key: file.key.clone(), size: None, etag: None, message_id: None };
        files.push(read_back(h.store.as_ref(), &layout, &candidate).await.unwrap());
    }
    let full = redscribe_core::schema::results_schema().fields().len();
    assert_eq!(files.iter().map(|f| f.columns).collect::<Vec<_>>(), [full, 33, 30]);
    assert_eq!(files[2].details.iter().map(|d| d.columns).collect::<Vec<_>>(), [9]);

    let report = h.loader().load(files).await.unwrap();
    assert_eq!((report.loaded.len(), report.rejected.len(), report.batches), (3, 0, 1), "{report:?}");
    let rows = h
        .rows(
            "SELECT object_key, sample_rate, quality_flag, cost_usd, pii_redacted FROM transcription_results \
             ORDER BY object_key",
        )
        .await;
    let rows: Vec<Vec<&str>> =
        rows.iter().map(|r| r.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect()).collect();
    assert_eq!(rows[0], ["in/before-cost.wav", "8000", "ok", "NULL", "NULL"], "33 columns: to language_probability");
    assert_eq!(rows[1], ["in/original.wav", "8000", "NULL", "NULL", "NULL"], "30 columns: the later ones NULL");
    assert_eq!(rows[2], ["in/today.wav", "8000", "ok", "0.5", "{}"]);
    let segments = h.rows("SELECT text, channel IS NULL FROM transcription_segments").await;
    assert_eq!(segments, [[Some("a tone".to_string()), Some("true".to_string())]]);
    assert_eq!(h.count("SELECT COUNT(*) FROM load_audit WHERE status = 'loaded'").await, 4);
    h.s3.stop().await;
    h.api.stop().await;
}

/// Reprocessing orders by (version, generation): a reprocess of the version a row answers replaces it, a late
/// delivery of the upload's own event does not bring the old row back, and an upload that lands while a reprocess
/// is under way keeps its newer row whichever finishes first.
#[tokio::test(flavor = "multi_thread")]
async fn a_reprocess_replaces_its_version_and_never_a_newer_upload() {
    let mut h = start().await;
    let stage = TranscribeStage::new(h.store.clone(), TranscribeConfig::default());
    h.store.put("recordings", "in/call.wav", wav(8000, 0.5), "audio/wav").await.unwrap();
    let upload = {
        let delivery = h.events.try_recv().unwrap();
        normalize(&delivery.event, &Layout::default()).unwrap().objects.remove(0)
    };
    let first = stage.process(&upload).await.unwrap();
    h.loader().load(vec![first.file().unwrap().clone()]).await.unwrap();
    const ROW: &str = "SELECT etag, sequencer, generation, sample_rate FROM transcription_results";
    let stored = h.rows(ROW).await.remove(0);
    assert_eq!(stored[2], None, "an upload's own processing: generation 0");

    // The event a reprocess builds from the row: the row's version, sequencer and ETag, a generation.
    let reprocess = |generation: i64| ObjectEvent {
        generation: Some(generation),
        ..ObjectEvent::of(ObjectVersion {
            etag: stored[0].clone(),
            sequencer: stored[1].clone(),
            ..ObjectVersion::new("recordings", "in/call.wav")
        })
    };
    let again = stage.process(&reprocess(1_000)).await.unwrap();
    h.loader().load(vec![again.file().unwrap().clone()]).await.unwrap();
    assert_eq!(h.rows(ROW).await[0][2].as_deref(), Some("1000"), "the reprocess replaced the row");
    // The upload's event delivered once more, processed after the reprocess: the reprocess's row stays.
    let late = stage.process(&upload).await.unwrap();
    h.loader().load(vec![late.file().unwrap().clone()]).await.unwrap();
    assert_eq!(h.rows(ROW).await[0][2].as_deref(), Some("1000"), "a late delivery of the upload does not undo it");

    // A reprocess heard before a new upload lands, loaded after the upload's row: superseded, not loaded.
    let heard_before = stage.process(&reprocess(2_000)).await.unwrap();
    h.store.put("recordings", "in/call.wav", wav(16000, 0.5), "audio/wav").await.unwrap();
    let newer: Vec<ResultFile> = h.process_events(1).await.iter().map(|p| p.file().unwrap().clone()).collect();
    h.loader().load(newer).await.unwrap();
    let report = h.loader().load(vec![heard_before.file().unwrap().clone()]).await.unwrap();
    assert_eq!((report.loaded.len(), report.superseded.len()), (0, 1), "{report:?}");
    // A reprocess that reaches the key after the new upload: it holds other bytes now, and nothing is heard.
    assert_eq!(stage.process(&reprocess(3_000)).await.unwrap(), Processed::Skipped);
    let now = h.rows(ROW).await.remove(0);
    assert_eq!((now[2].as_deref(), now[3].as_deref()), (None, Some("16000")), "the new upload's row: {now:?}");
    h.s3.stop().await;
    h.api.stop().await;
}

/// An erasure orders against every row of its recording: it replaces the row (a tombstone), the objects of every
/// processing it outranks go first (a failed one's quarantine record too), the recording's older processing loaded
/// after it does not bring the row back, and a later upload replaces the tombstone.
#[tokio::test(flavor = "multi_thread")]
async fn an_erasure_outranks_everything_older_of_its_recording_and_nothing_newer() {
    let mut h = start().await;
    let config = TranscribeConfig { jsonl: true, ..TranscribeConfig::default() };
    let stage = TranscribeStage::new(h.store.clone(), config);
    // A first upload that is not audio (a failed row and a quarantine record), then the recording itself.
    let mut first = Vec::new();
    for body in [b"not audio at all".to_vec(), wav(8000, 0.5)] {
        h.store.put("recordings", "in/call.wav", body, "audio/wav").await.unwrap();
        // The upload's event, after those of the outputs written so far (skipped: the pipeline's own).
        let upload = std::iter::from_fn(|| h.events.try_recv().ok())
            .find_map(|d| normalize(&d.event, &Layout::default()).unwrap().objects.pop())
            .unwrap();
        let processed = stage.process(&upload).await.unwrap();
        h.loader().load(vec![processed.file().unwrap().clone()]).await.unwrap();
        first.push(upload);
    }
    const ROW: &str = "SELECT status, sample_rate FROM transcription_results";
    assert_eq!(h.rows(ROW).await, [[Some("metadata_only".to_string()), Some("8000".to_string())]]);
    let id = redscribe_core::identity::recording_id("recordings", "in/call.wav");
    let of_the_recording = || async {
        let all = h.store.list("recordings", "").await.unwrap();
        all.into_iter().map(|o| o.key).filter(|k| k.contains(&id) && !k.starts_with("in/")).collect::<Vec<_>>()
    };
    let before = of_the_recording().await;
    assert!(before.iter().any(|k| k.starts_with("rejected/not_audio/")), "{before:?}");
    assert_eq!(before.iter().filter(|k| k.ends_with(".jsonl")).count(), 2, "{before:?}");

    // The deletion, ordered right after the upload (S3 sequencers compare as padded hexadecimal).
    let uploaded = first[1].object.sequencer.clone().unwrap();
    let removal = ObjectEvent {
        event_name: "ObjectRemoved:Delete".into(),
        ..ObjectEvent::of(ObjectVersion {
            sequencer: Some(format!("{uploaded}1")),
            ..ObjectVersion::new("recordings", "in/call.wav")
        })
    };
    let erasure = stage.process(&removal).await.unwrap();
    let report = h.loader().load(vec![erasure.file().unwrap().clone()]).await.unwrap();
    assert_eq!(report.loaded.len(), 1, "{report:?}");
    assert_eq!(h.rows(ROW).await, [[Some("erased".to_string()), None]]);
    // Of the recording, only the erasure's own file is left (what the tombstone row holds: id, bucket, key).
    let tombstone = erasure.file().unwrap().key.clone();
    assert_eq!(of_the_recording().await, std::slice::from_ref(&tombstone));
    let audit = h.rows("SELECT file_uri, error_message FROM load_audit WHERE status = 'erased'").await;
    let said = format!("erasure: {} object versions of the recording deleted", before.len());
    assert_eq!(audit, [[Some(format!("s3://recordings/{tombstone}")), Some(said)]]);

    // The upload's event delivered late, heard again: ordered before the erasure, dropped.
    let late = stage.process(&first[1]).await.unwrap();
    h.loader().load(vec![late.file().unwrap().clone()]).await.unwrap();
    assert_eq!(h.rows(ROW).await, [[Some("erased".to_string()), None]], "nothing older comes back");
    // A new upload of the key is a new recording: its erasure, had it come late, would not touch it.
    h.store.put("recordings", "in/call.wav", wav(16000, 0.5), "audio/wav").await.unwrap();
    let again: Vec<ResultFile> = h.process_events(1).await.iter().map(|p| p.file().unwrap().clone()).collect();
    h.loader().load(again.clone()).await.unwrap();
    assert_eq!(h.rows(ROW).await, [[Some("metadata_only".to_string()), Some("16000".to_string())]]);
    let stale = ObjectEvent { generation: Some(1), ..removal };
    let erasure = stage.process(&stale).await.unwrap();
    h.loader().load(vec![erasure.file().unwrap().clone()]).await.unwrap();
    assert!(h.store.find("recordings", &again[0].key).await.unwrap().is_some(), "the newer upload's file stays");
    assert_eq!(h.rows(ROW).await, [[Some("metadata_only".to_string()), Some("16000".to_string())]]);

    // A result file that arrives once its recording is gone is not loaded, and its objects go.
    h.store.put("recordings", "in/gone.wav", wav(8000, 0.5), "audio/wav").await.unwrap();
    let gone: Vec<ResultFile> = h.process_events(1).await.iter().map(|p| p.file().unwrap().clone()).collect();
    h.store.delete("recordings", "in/gone.wav").await.unwrap();
    let report = h.loader().load(gone.clone()).await.unwrap();
    assert_eq!((report.loaded.len(), report.superseded.len()), (0, 1), "{report:?}");
    assert_eq!(h.store.find("recordings", &gone[0].key).await.unwrap(), None);
    h.s3.stop().await;
    h.api.stop().await;
}

/// In a versioning-enabled bucket an erasure removes every version of what it deletes: the result file a reprocess
/// wrote over (same key, a noncurrent version), the delete marker it leaves nothing behind.
#[tokio::test(flavor = "multi_thread")]
async fn an_erasure_in_a_versioned_bucket_removes_every_version() {
    let mut h = start().await;
    let aws_env = h.aws_env.clone();
    let aws = |args: &[&str]| redscribe_testkit::aws_with(&aws_env, args);
    aws(&["s3api", "put-bucket-versioning", "--bucket", "recordings", "--versioning-configuration", "Status=Enabled"]);
    h.store.put("recordings", "in/call.wav", wav(8000, 0.5), "audio/wav").await.unwrap();
    let first: Vec<ResultFile> = h.process_events(1).await.iter().map(|p| p.file().unwrap().clone()).collect();
    h.loader().load(first.clone()).await.unwrap();
    // Heard again the same day (a reprocess): the same result key written over, the first bytes a noncurrent version.
    let stage = TranscribeStage::new(h.store.clone(), TranscribeConfig::default());
    let again = stage.process(&ObjectEvent { generation: Some(1_000), ..first[0].source.clone() }).await.unwrap();
    h.loader().load(vec![again.file().unwrap().clone()]).await.unwrap();
    let id = first[0].id.clone();
    let versions_of_the_recording = || {
        let listed = aws(&["s3api", "list-object-versions", "--bucket", "recordings"]);
        let entries = ["Versions", "DeleteMarkers"].map(|k| listed[k].as_array().cloned().unwrap_or_default());
        let keys = entries.into_iter().flatten().filter_map(|e| e["Key"].as_str().map(str::to_string));
        keys.filter(|k| k.contains(&id) && !k.starts_with("in/")).collect::<Vec<_>>()
    };
    let before = versions_of_the_recording();
    assert_eq!(before.iter().filter(|k| **k == first[0].key).count(), 2, "two versions of the result file: {before:?}");

    // The recording deleted: a delete marker, its event, the erasure.
    h.store.delete("recordings", "in/call.wav").await.unwrap();
    let erasure: Vec<ResultFile> = h.process_events(1).await.iter().filter_map(|p| p.file().cloned()).collect();
    assert_eq!(erasure.len(), 1);
    assert_eq!(erasure[0].source.event_name, "ObjectRemoved:DeleteMarkerCreated");
    h.loader().load(erasure.clone()).await.unwrap();
    assert_eq!(versions_of_the_recording(), [erasure[0].key.clone()], "every version went but the erasure's");
    h.s3.stop().await;
    h.api.stop().await;
}

/// The result retention: a scheduled sweep that purges takes every row processed before the cutoff with its
/// detail (here its attributes), leaves the rest, and records the purge in `load_audit`.
#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_purges_rows_past_the_result_retention_with_their_detail() {
    use redscribe_core::attributes::KeyPattern;
    use redscribe_pipeline::invoke::{load_invocation, LoadLimits};

    let mut h = start().await;
    let config = TranscribeConfig {
        key_pattern: Some(KeyPattern::parse(r"in/(?P<name>[a-z]+)\.wav").unwrap()),
        ..TranscribeConfig::default()
    };
    let stage = TranscribeStage::new(h.store.clone(), config);
    for name in ["old", "recent"] {
        h.store.put("recordings", &format!("in/{name}.wav"), wav(8000, 0.5), "audio/wav").await.unwrap();
        // The upload's event, after the events of what was written before (the stage's own outputs: skipped).
        while let Ok(delivery) = h.events.try_recv() {
            for event in normalize(&delivery.event, &Layout::default()).unwrap().objects {
                let processed = stage.process(&event).await.unwrap();
                h.loader().load(vec![processed.file().unwrap().clone()]).await.unwrap();
            }
        }
    }
    assert_eq!(h.count("SELECT COUNT(*) FROM transcription_attributes").await, 2);
    // One row processed 400 days ago.
    let aged = "UPDATE transcription_results SET processed_at = processed_at - INTERVAL '400 days' \
                WHERE object_key = 'in/old.wav'";
    h.warehouse.run_batch(&[aged.to_string()], "age-one-row").await.unwrap();

    let loader = Arc::new(h.loader());
    let limits = LoadLimits { retention_days: Some(365), ..LoadLimits::default() };
    let payload = serde_json::json!({ "sweep": true, "purge": true });
    let answer = load_invocation(&loader, &payload, None, &limits, "recordings").await.unwrap();
    assert!(answer.response["purged_before"].is_string(), "{}", answer.response);
    let rows = h.rows("SELECT object_key FROM transcription_results").await;
    assert_eq!(rows, [[Some("in/recent.wav".to_string())]]);
    let attributes = h.rows("SELECT value FROM transcription_attributes").await;
    assert_eq!(attributes, [[Some("recent".to_string())]], "the purged row's attributes went with it");
    assert_eq!(h.count("SELECT COUNT(*) FROM load_audit WHERE status = 'purged'").await, 1);
    // Without a retention, a sweep purges nothing.
    let kept = LoadLimits::default();
    let answer = load_invocation(&loader, &payload, None, &kept, "recordings").await.unwrap();
    assert!(answer.response["purged_before"].is_null(), "{}", answer.response);
    h.s3.stop().await;
    h.api.stop().await;
}

/// S3 throttling and 5xx, a Data API that throttles and loses a response after starting a statement: every
/// recording still lands exactly once, and `load_audit` holds one row per file.
#[tokio::test(flavor = "multi_thread")]
async fn injected_faults_lose_nothing_and_double_nothing() {
    use redscribe_aws::retry::RetryPolicy;
    use redscribe_local::s3::S3Fault;

    let mut h = start().await;
    for i in 0..5 {
        h.store.put("recordings", &format!("in/call-{i}.wav"), wav(8000, 0.25), "audio/wav").await.unwrap();
    }
    let mut events = Vec::new();
    while let Ok(delivery) = h.events.try_recv() {
        events.extend(normalize(&delivery.event, &Layout::default()).unwrap().objects);
    }
    assert_eq!(events.len(), 5);
    let quick = RetryPolicy { max_attempts: 4, base: Duration::from_millis(5), cap: Duration::from_millis(20) };
    let store = Arc::new(S3Objects::clone(&h.store).with_retry(quick));
    let stage = TranscribeStage::new(store.clone(), TranscribeConfig::default());
    let faults = h.s3.faults();

    // Throttled reads and failing writes are retried inside the stage.
    faults.fail_next_reads(2, S3Fault::SlowDown);
    faults.fail_next_writes(2, S3Fault::InternalError);
    let mut files = Vec::new();
    for event in &events[..2] {
        files.push(stage.process(event).await.expect("retried past the faults").file().unwrap().clone());
    }
    assert_eq!(faults.pending(), 0, "every injected fault was met");

    // S3 failing for longer than the retries: a transient error for the caller, no output written.
    faults.fail_next_reads(100, S3Fault::InternalError);
    let failed = stage.process(&events[2]).await.expect_err("S3 is down");
    assert_eq!(failed.code, redscribe_core::ErrorCode::ServiceUnavailable);
    assert_eq!(failed.code.disposition(), redscribe_core::Disposition::Retry);
    faults.fail_next_reads(0, S3Fault::InternalError);
    let written = store.list("recordings", "processed/").await.unwrap();
    assert_eq!(written.len(), 2, "nothing written for the failed attempt: {written:?}");
    // Delivered again (the event was not acknowledged), it goes through.
    for event in &events[2..] {
        files.push(stage.process(event).await.unwrap().file().unwrap().clone());
    }

    // The Data API throttles twice, then starts the load but its answer is lost: the retry carries the same
    // ClientToken, so the transaction runs once.
    let api_faults = h.api.faults();
    api_faults.fail_next_with_active_statements_exceeded(2);
    api_faults.lose_next_execute_responses(1);
    let loader = h.loader_over(store.clone(), Arc::new(DataApi::clone(&h.warehouse).with_retry(quick)));
    let report = loader.load(files).await.expect("retried past the faults");
    assert_eq!(report.loaded.len(), 5);
    assert_eq!(report.batches, 1);
    assert_eq!(h.count("SELECT COUNT(*) FROM transcription_results").await, 5);
    assert_eq!(h.count("SELECT COUNT(*) FROM load_audit WHERE status = 'loaded'").await, 5, "the batch ran once");
    assert_eq!(h.count("SELECT COUNT(DISTINCT statement_id) FROM load_audit").await, 1);
    h.s3.stop().await;
    h.api.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_run_once_and_bring_a_warehouse_from_before_the_ledger_up_to_date() {
    use redscribe_core::migrations::MIGRATIONS;
    use redscribe_pipeline::migrate::migrate;
    let h = start().await;
    assert_eq!(migrate(h.warehouse.as_ref()).await.unwrap(), Vec::<u32>::new(), "nothing left to apply");

    // A warehouse set up before the ledger existed: versions 1 and 2 applied, nothing recorded.
    let tables = [
        "schema_migrations",
        "transcription_attributes",
        "transcription_words",
        "transcription_segments",
        "transcription_results",
        "load_audit",
    ];
    for table in tables {
        h.warehouse.run_batch(&[format!("DROP TABLE {table} CASCADE")], &format!("drop-{table}")).await.unwrap();
    }
    for m in &MIGRATIONS[..2] {
        h.warehouse.run_batch(&m.statements(), &format!("old-{}", m.version)).await.unwrap();
    }
    assert_eq!(
        migrate(h.warehouse.as_ref()).await.unwrap(),
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
        "1 and 2 again (idempotent), then 3 to 9"
    );
    assert_eq!(migrate(h.warehouse.as_ref()).await.unwrap(), Vec::<u32>::new());
    let columns = h
        .warehouse
        .query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'transcription_segments' \
             ORDER BY ordinal_position",
        )
        .await
        .unwrap();
    let last: Vec<_> = columns.iter().rev().take(2).map(|c| c[0].as_deref()).collect();
    assert_eq!(last, [Some("speaker"), Some("channel")]);
    let ledger = h.warehouse.query("SELECT version, name FROM schema_migrations ORDER BY version").await.unwrap();
    assert_eq!(ledger.len(), 9, "{ledger:?}");
    assert_eq!(ledger[2], [Some("3".to_string()), Some("quality_and_channel".to_string())]);
    assert_eq!(ledger[3], [Some("4".to_string()), Some("language_probability".to_string())]);
    assert_eq!(ledger[4], [Some("5".to_string()), Some("cost".to_string())]);
    assert_eq!(ledger[5], [Some("6".to_string()), Some("audit_etag".to_string())]);
    assert_eq!(ledger[6], [Some("7".to_string()), Some("words".to_string())]);
    assert_eq!(ledger[7], [Some("8".to_string()), Some("pii_redacted".to_string())]);
    h.s3.stop().await;
    h.api.stop().await;
}

/// An object store whose reads of `key` fail as S3 throttling does, whatever the retries.
fn throttled(h: &Harness, key: &'static str) -> redscribe_testkit::FailingReads {
    let error = redscribe_core::ports::PortError::new(redscribe_core::ErrorCode::Throttled, "SlowDown");
    redscribe_testkit::FailingReads { inner: h.store.clone(), key, error }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sqs_batch_retries_only_transient_failures_and_keeps_what_is_not_an_event() {
    use redscribe_pipeline::driver::DriverConfig;
    use redscribe_pipeline::invoke::transcribe_invocation;
    let options =
        |concurrency| DriverConfig { concurrency, fallback_bucket: "recordings".into(), ..DriverConfig::default() };
    use serde_json::json;
    let mut h = start().await;
    h.store.put("recordings", "in/good.wav", wav(8000, 0.5), "audio/wav").await.unwrap();
    h.store.put("recordings", "in/flaky.wav", wav(8000, 0.5), "audio/wav").await.unwrap();
    h.store.put("recordings", "in/notes.wav", b"meeting notes, not audio".to_vec(), "audio/wav").await.unwrap();
    // The upload events, each in its own SQS message, and a message that is no event at all.
    let mut records = Vec::new();
    while let Ok(delivery) = h.events.try_recv() {
        let key = delivery.event["Records"][0]["s3"]["object"]["key"].as_str().unwrap().to_string();
        records.push(json!({
            "messageId": format!("m-{key}"),
            "eventSource": "aws:sqs",
            "body": delivery.event.to_string(),
        }));
    }
    assert_eq!(records.len(), 3);
    records.push(json!({ "messageId": "m-garbage", "eventSource": "aws:sqs", "body": "hello, not an event" }));
    let payload = json!({ "Records": records });

    let stage = Arc::new(TranscribeStage::new(Arc::new(throttled(&h, "in/flaky.wav")), TranscribeConfig::default()));
    let invocation = transcribe_invocation(stage, &payload, options(4)).await.unwrap();
    // Only the throttled recording's message comes back; the bad recording and the garbage are acknowledged.
    assert_eq!(invocation.response, json!({ "batchItemFailures": [{ "itemIdentifier": "m-in/flaky.wav" }] }));
    assert_eq!((invocation.report.written(), invocation.report.quarantined().values().sum::<usize>()), (1, 1));
    assert_eq!(invocation.report.admitted.invalid, 1);
    let kept = h.store.list("recordings", "rejected/invalid_event/").await.unwrap();
    assert_eq!(kept.len(), 1);
    let record: serde_json::Value =
        serde_json::from_slice(&h.store.get("recordings", &kept[0].key, None).await.unwrap().body).unwrap();
    assert_eq!(record["message_id"], "m-garbage");
    assert_eq!(record["payload"]["body"], "hello, not an event", "the message is kept whole");
    assert_eq!(h.store.list("recordings", "rejected/not_audio/").await.unwrap().len(), 1);

    // A direct S3 invocation with a transient failure fails whole (Lambda retries it); a garbage payload does not.
    let direct = json!({ "Records": [serde_json::from_str::<serde_json::Value>(
        records[0]["body"].as_str().unwrap()).unwrap()["Records"][0].clone()] });
    let flaky_direct =
        direct.to_string().replace(records[0]["messageId"].as_str().unwrap().trim_start_matches("m-"), "in/flaky.wav");
    let stage = Arc::new(TranscribeStage::new(Arc::new(throttled(&h, "in/flaky.wav")), TranscribeConfig::default()));
    let failed = transcribe_invocation(stage.clone(), &serde_json::from_str(&flaky_direct).unwrap(), options(1))
        .await
        .unwrap_err();
    assert_eq!(failed.code, redscribe_core::ErrorCode::Throttled);
    let garbage = transcribe_invocation(stage, &json!({ "hello": 1 }), options(1)).await.unwrap();
    assert_eq!(garbage.response, json!({ "processed": 0, "quarantined": 0, "skipped": 0, "invalid": 1 }));
    assert_eq!(h.store.list("recordings", "rejected/invalid_event/").await.unwrap().len(), 2);
    h.s3.stop().await;
    h.api.stop().await;
}

/// The loader's default batch, 1,000 files, against a stand-in that refuses what the Data API refuses
/// (statements over 100 KB, more than 40 per batch): one transaction, every row and audit row in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_file_batch_loads_in_one_transaction_within_the_data_api_limits() {
    let h = start().await;
    let stage = Arc::new(TranscribeStage::new(h.store.clone(), TranscribeConfig::default()));
    let body = wav(8000, 0.05);
    let mut tasks = tokio::task::JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    for i in 0..1000 {
        let (store, stage, body, limit) = (h.store.clone(), stage.clone(), body.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.unwrap();
            let key = format!("in/batch/call-{i:04}.wav");
            store.put("recordings", &key, body, "audio/wav").await.unwrap();
            let event = ObjectEvent::of(ObjectVersion {
                sequencer: Some(format!("{i:016X}")),
                ..ObjectVersion::new("recordings", &key)
            });
            stage.process(&event).await.unwrap().file().unwrap().clone()
        });
    }
    let files: Vec<ResultFile> = tasks.join_all().await;
    let report = h.loader().load(files).await.unwrap();
    assert_eq!((report.batches, report.loaded.len(), report.rejected.len()), (1, 1000, 0));
    assert_eq!(h.count("SELECT COUNT(*) FROM transcription_results").await, 1000);
    assert_eq!(h.count("SELECT COUNT(DISTINCT file_uri) FROM load_audit WHERE status = 'loaded'").await, 1000);
    assert_eq!(h.count("SELECT COUNT(DISTINCT statement_id) FROM load_audit").await, 1, "one transaction");
    h.s3.stop().await;
    h.api.stop().await;
}

/// Size and duration limits: an event bigger than the limit is refused from its size alone (its object need not
/// even exist), an object that turns out bigger while it is read is refused too, and a recording whose header
/// declares more than the duration limit is refused from the header.
#[tokio::test(flavor = "multi_thread")]
async fn recordings_over_the_limits_are_quarantined_as_early_as_they_show() {
    use redscribe_core::ErrorCode;
    use redscribe_pipeline::transcribe::RecordingLimits;

    let h = start().await;
    let limits = RecordingLimits { max_bytes: 40_000, max_duration_s: 1.0 };
    let stage = TranscribeStage::new(h.store.clone(), TranscribeConfig { limits, ..TranscribeConfig::default() });
    let event = |key: &str, size: Option<i64>| {
        ObjectEvent::of(ObjectVersion { size, sequencer: Some("0A".into()), ..ObjectVersion::new("recordings", key) })
    };
    let code = |p: &Processed| match p {
        Processed::Quarantined { code, .. } => Some(*code),
        _ => None,
    };

    // The key holds a few bytes (the loader loads only answers to recordings that are there); the event says 5 GB.
    h.store.put("recordings", "in/never read.wav", wav(8_000, 0.1), "audio/wav").await.unwrap();
    let unread = stage.process(&event("in/never read.wav", Some(5_000_000_000))).await.unwrap();
    assert_eq!(code(&unread), Some(ErrorCode::TooLarge), "refused from the event, without a GET");

    h.store.put("recordings", "in/big.wav", wav(16_000, 1.5), "audio/wav").await.unwrap();
    let big = stage.process(&event("in/big.wav", None)).await.unwrap();
    assert_eq!(code(&big), Some(ErrorCode::TooLarge), "48 KB read past the 40 KB limit");

    h.store.put("recordings", "in/long.wav", wav(8_000, 2.0), "audio/wav").await.unwrap();
    let long = stage.process(&event("in/long.wav", Some(32_044))).await.unwrap();
    assert_eq!(code(&long), Some(ErrorCode::TooLong));

    h.store.put("recordings", "in/fine.wav", wav(8_000, 0.5), "audio/wav").await.unwrap();
    assert_eq!(code(&stage.process(&event("in/fine.wav", Some(8_044))).await.unwrap()), None);

    let report =
        h.loader().load([unread, big, long].iter().map(|p| p.file().unwrap().clone()).collect()).await.unwrap();
    assert_eq!(report.loaded.len(), 3);
    let rows = h.rows("SELECT object_key, error_code FROM transcription_results ORDER BY object_key").await;
    assert_eq!(
        rows,
        [
            [Some("in/big.wav".to_string()), Some("too_large".to_string())],
            [Some("in/long.wav".to_string()), Some("too_long".to_string())],
            [Some("in/never read.wav".to_string()), Some("too_large".to_string())],
        ]
    );
    h.s3.stop().await;
    h.api.stop().await;
}

/// A `DescribeStatement` that keeps failing says nothing of the statement: the adapter asks again until the
/// statement ends, and never submits it a second time.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_describe_statement_is_asked_again_not_taken_for_a_failed_statement() {
    let h = start().await;
    h.warehouse.run_batch(&["CREATE TABLE once (n INTEGER)".to_string()], "setup").await.unwrap();
    // More failures in a row than the adapter's retry policy has attempts (8).
    h.api.faults().fail_next_describes(12);
    h.warehouse.run_batch(&["INSERT INTO once VALUES (1)".to_string()], "insert-once").await.unwrap();
    assert_eq!(h.count("SELECT COUNT(*) FROM once").await, 1, "the batch ran once");
    h.s3.stop().await;
    h.api.stop().await;
}

/// A load that fails for a reason of the warehouse's own — another writer's serialization conflict, a query
/// monitoring rule's abort, a full disk, a COPY role it may not assume, a table that is gone — blames no file:
/// the batch is tried whole (one statement per attempt, no splitting), every file stays pending under the
/// warehouse's class (transient or blocked, with `LoadsBlocked` for the latter), nothing is quarantined, and
/// once the fault clears all fifty load once.
#[tokio::test(flavor = "multi_thread")]
async fn a_warehouse_failure_that_names_no_file_quarantines_none_of_fifty() {
    use redscribe_core::emf::Recorder;
    use redscribe_core::ErrorCode;

    let h = start().await;
    let stage = Arc::new(TranscribeStage::new(h.store.clone(), TranscribeConfig::default()));
    let mut files = Vec::new();
    for i in 0..50 {
        let key = format!("in/fifty/call-{i:02}.wav");
        h.store.put("recordings", &key, wav(8000, 0.05), "audio/wav").await.unwrap();
        let event = ObjectEvent::of(ObjectVersion {
            sequencer: Some(format!("{i:016X}")),
            ..ObjectVersion::new("recordings", &key)
        });
        files.push(stage.process(&event).await.unwrap().file().unwrap().clone());
    }
    let metrics = Arc::new(Recorder::new("Redscribe", "redscribe-load"));
    let loader = h.loader().with_metrics(metrics.clone());
    let faults = h.api.faults();
    // Spelled as Redshift reports them (see `redscribe_aws::error::statement_code` for the documentation).
    let cases = [
        ("ERROR: 1023 DETAIL: Serializable isolation violation on table - 100412, transactions forming the cycle are: 1201, 1202 (pid:4417)", ErrorCode::ServiceUnavailable),
        ("ERROR: Query (84113) cancelled by WLM abort action of Query Monitoring Rule \"long_copies\".", ErrorCode::ServiceUnavailable),
        ("ERROR: Disk Full", ErrorCode::ServiceUnavailable),
        ("ERROR: User arn:aws:redshift:eu-west-1:123456789012:dbuser:wg/IAMR:loader is not authorized to assume IAM Role arn:aws:iam::123456789012:role/loader", ErrorCode::AccessDenied),
        ("ERROR: S3ServiceException:Access Denied,Status 403,Error AccessDenied,Rid 1,CanRetry 1", ErrorCode::AccessDenied),
        ("ERROR: relation \"public.transcription_results\" does not exist", ErrorCode::NotConfigured),
    ];
    for (error, code) in cases {
        let injected = 100;
        faults.fail_next_batches(injected, error);
        let isolated = loader.load_until(files.clone(), None).await;
        let statements = injected - faults.failed_batches_pending();
        faults.fail_next_batches(0, "");
        assert!(isolated.report.loaded.is_empty() && isolated.report.rejected.is_empty(), "{error}: {isolated:?}");
        assert_eq!(isolated.failed.len(), 50, "{error}: every file stays pending");
        assert!(isolated.failed.iter().all(|(_, e)| e.code == code), "{error}: {:?}", isolated.failed[0].1);
        assert_eq!(statements, 1, "{error}: the batch is tried whole, not split");
        let blocked: f64 = metrics
            .drain_now()
            .iter()
            .filter_map(|doc| doc["LoadsBlocked"].as_f64().filter(|_| doc.get("ErrorCode").is_some()))
            .sum();
        let expected = if code.disposition() == redscribe_core::Disposition::Blocked { 50.0 } else { 0.0 };
        assert_eq!(blocked, expected, "{error}: LoadsBlocked");
    }
    assert!(h.store.list("recordings", "rejected/").await.unwrap().is_empty(), "nothing quarantined");

    let report = loader.load(files).await.unwrap();
    assert_eq!((report.loaded.len(), report.rejected.len()), (50, 0));
    assert_eq!(h.count("SELECT COUNT(*) FROM transcription_results").await, 50);
    assert_eq!(h.count("SELECT COUNT(*) FROM load_audit WHERE status = 'loaded'").await, 50, "each loaded once");
    h.s3.stop().await;
}
