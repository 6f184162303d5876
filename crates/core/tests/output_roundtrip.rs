//! Writers are tested by writing, reading back with a real reader and comparing.

use chrono::{DateTime, TimeZone, Utc};
use redscribe_core::encode::{from_parquet, to_jsonl, to_parquet};
use redscribe_core::identity::recording_id;
use redscribe_core::record::{
    load_audit_batch, results_batch, results_from_batch, segments_batch, segments_from_batch, words_batch,
    words_from_batch, AudioMetadata, LoadAuditRow, ResultRow, SegmentRow, Status, WordRow, TEXT_MAX_BYTES,
    WORD_MAX_BYTES,
};
use redscribe_core::schema::{load_audit_schema, results_schema, segments_schema, words_schema};
use redscribe_core::ErrorCode;
use serde_json::Value;

fn t(secs: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, micros * 1000).unwrap()
}

fn rows() -> Vec<ResultRow> {
    let base = ResultRow {
        id: recording_id("recordings", "calls/call 0042.wav"),
        text: None,
        timestamp: t(1_795_000_000, 123_456),
        bucket: "recordings".into(),
        object_key: "calls/call 0042.wav".into(),
        object_version: Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY".into()),
        etag: Some("9b2cf535f27731c974343645a3985328".into()),
        sequencer: Some("0055AED6DCD90281E5".into()),
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
        model: Some("whisper-tiny.en".into()),
        language: Some("en".into()),
        word_count: Some(12),
        avg_logprob: Some(-0.21),
        no_speech_prob: Some(0.01),
        text_truncated: false,
        status: Status::Transcribed,
        error_code: None,
        error_message: None,
        uploaded_at: Some(t(1_794_999_990, 0)),
        processed_at: t(1_795_000_000, 999_999),
        loaded_at: None,
        processing_ms: Some(1532),
        pipeline_version: redscribe_core::PIPELINE_VERSION.into(),
        compression_ratio: Some(1.3),
        quality_flag: Some("ok".into()),
        language_probability: Some(0.97),
        cost_usd: Some(0.000_12),
        pii_redacted: Some(r#"{"EMAIL":1}"#.into()),
        recorded_at: Some(Utc.with_ymd_and_hms(2026, 12, 1, 9, 15, 0).unwrap()),
        call_id: Some("3f2c8a52-9a1e-4c1b-8d3e-0c2f5b7a9d10".into()),
        agent_id: Some("042".into()),
        agent_talk_s: Some(61.5),
        customer_talk_s: Some(48.25),
        non_talk_s: Some(12.0),
        generation: Some(1_796_116_500_000),
    };
    let mut transcribed = base.clone();
    transcribed.set_text("Hello, it's a \"quoted\" test — 録音 über alles.\nSecond line\t\\ backslash.");

    let mut long = base.clone();
    long.id = recording_id("recordings", "long.wav");
    long.object_key = "long.wav".into();
    long.set_text(&"話".repeat(30_000));

    let mut failed = base.clone();
    failed.id = recording_id("recordings", "a'; drop table x; --.wav");
    failed.object_key = "a'; drop table x; --.wav".into();
    failed.audio = None;
    failed.model = None;
    failed.language = None;
    failed.word_count = None;
    failed.avg_logprob = None;
    failed.no_speech_prob = None;
    failed.object_version = None;
    failed.uploaded_at = None;
    failed.set_error(ErrorCode::NotAudio, &"not audio: %PDF-1.7 ".repeat(200));

    let mut metadata_only = base;
    metadata_only.id = recording_id("recordings", "silence.flac");
    metadata_only.object_key = "silence.flac".into();
    metadata_only.status = Status::MetadataOnly;
    metadata_only.model = None;
    metadata_only.audio.as_mut().unwrap().bit_rate = None;
    vec![transcribed, long, failed, metadata_only]
}

#[test]
fn results_survive_a_parquet_round_trip() {
    let rows = rows();
    assert!(rows[1].text_truncated);
    assert!(rows[1].text.as_ref().unwrap().len() <= TEXT_MAX_BYTES);
    assert_eq!(rows[2].error_message.as_ref().unwrap().len(), 1024);

    let batch = results_batch(&rows).unwrap();
    let bytes = to_parquet(&[batch]).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    let back = from_parquet(bytes).unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].schema(), results_schema(), "schema, including column order, survives");
    assert_eq!(results_from_batch(&back[0]).unwrap(), rows);
}

#[test]
fn parquet_files_are_snappy_compressed() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let bytes = to_parquet(&[results_batch(&rows()).unwrap()]).unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 4);
    for col in meta.row_group(0).columns() {
        assert_eq!(col.compression(), parquet::basic::Compression::SNAPPY, "{}", col.column_path());
    }
}

#[test]
fn jsonl_has_one_object_per_row_in_column_order() {
    let rows = rows();
    let bytes = to_jsonl(&[results_batch(&rows).unwrap()]).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), rows.len());
    let column_order: Vec<String> = results_schema().fields().iter().map(|f| f.name().clone()).collect();
    for (line, row) in lines.iter().zip(&rows) {
        let v: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        // Keys appear in table order (nulls omitted).
        let positions: Vec<usize> = column_order
            .iter()
            .filter(|c| v.contains_key(*c))
            .map(|c| line.find(&format!("\"{c}\":")).unwrap_or_else(|| panic!("{c} not in {line}")))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "keys out of table order: {line}");
        assert!(v.keys().all(|k| column_order.contains(k)));
        assert_eq!(v["id"], row.id.as_str());
        assert_eq!(v["object_key"], row.object_key.as_str());
        assert_eq!(v.get("text").and_then(Value::as_str), row.text.as_deref());
        assert_eq!(v["status"], row.status.as_str());
        assert_eq!(v.get("error_code").and_then(Value::as_str), row.error_code.map(|c| c.as_str()));
        assert_eq!(v["text_truncated"], row.text_truncated);
        let processed = v["processed_at"].as_str().unwrap();
        assert_eq!(DateTime::parse_from_rfc3339(processed).unwrap(), row.processed_at, "{processed}");
    }
}

#[test]
fn segments_and_audit_batches_match_their_schemas() {
    let seg = SegmentRow {
        id: recording_id("b", "k"),
        object_version: None,
        segment_index: 0,
        start_s: 0.0,
        end_s: 2.5,
        text: "hello".into(),
        avg_logprob: Some(-0.3),
        no_speech_prob: None,
        processed_at: t(1_795_000_000, 0),
        channel: 1,
        speaker: Some("customer".into()),
    };
    let rows = [seg.clone(), SegmentRow { segment_index: 1, object_version: Some("v2".into()), ..seg }];
    let batch = segments_batch(&rows).unwrap();
    let back = from_parquet(to_parquet(&[batch]).unwrap()).unwrap();
    assert_eq!(back[0].schema(), segments_schema());
    assert_eq!(segments_from_batch(&back[0]).unwrap(), rows, "read back as written");

    let audit = LoadAuditRow {
        file_uri: "s3://b/processed/transcription_results/dt=2026-11-23/x-v.parquet".into(),
        manifest_uri: Some("s3://b/manifests/dt=2026-11-23/b1.manifest".into()),
        table_name: "transcription_results".into(),
        statement_id: Some("d9b6c0c9-0747-4bf4-b142-e8883122f766".into()),
        rows_loaded: Some(1),
        status: "loaded".into(),
        error_message: None,
        loaded_at: t(1_795_000_100, 0),
        file_etag: Some("9b2cf535f27731c974343645a3985328".into()),
    };
    let back = from_parquet(to_parquet(&[load_audit_batch(&[audit]).unwrap()]).unwrap()).unwrap();
    assert_eq!(back[0].schema(), load_audit_schema());
}

#[test]
fn words_read_back_as_written_and_a_run_without_spaces_is_cut_at_a_character() {
    let word = WordRow {
        id: recording_id("b", "k"),
        object_version: Some("v1".into()),
        channel: 1,
        segment_index: 3,
        word_index: 0,
        start_s: 12.34,
        end_s: 12.71,
        word: "card,".into(),
        probability: Some(0.93),
        processed_at: t(1_795_000_000, 5),
    };
    let long = "語".repeat(100);
    let rows = [word.clone(), WordRow { word_index: 1, word: long.clone(), probability: None, ..word }];
    let back = from_parquet(to_parquet(&[words_batch(&rows).unwrap()]).unwrap()).unwrap();
    assert_eq!(back[0].schema(), words_schema());
    let read = words_from_batch(&back[0]).unwrap();
    assert_eq!(read[0], rows[0], "read back as written");
    // 300 bytes of three-byte characters: 85 of them fit.
    assert_eq!((read[1].word.len(), read[1].word.chars().count()), (255, 85));
    assert!(long.starts_with(&read[1].word) && read[1].word.len() <= WORD_MAX_BYTES);
}

#[test]
fn empty_input_is_an_error_not_an_empty_file() {
    assert!(to_parquet(&[]).is_err());
}
