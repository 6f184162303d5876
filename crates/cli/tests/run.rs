//! `redscribe run` as a user runs it: recordings and non-recordings in, rows out in the warehouse file — read
//! back with DuckDB's own Python client — and a second run of the same files adds nothing.

use std::path::Path;
use std::process::Command;

use redscribe_testkit::tone_wav as wav;

mod common;
use common::{duckdb, run_local};

fn run(data: &Path, input: &Path) -> String {
    run_local(data, input, &["--no-transcribe"])
}

/// A subtitle file as the standard parsers read it (pysrt for SubRip, webvtt-py for WebVTT): each cue's start and
/// end in seconds and its lines.
fn parsed_subtitles(file: &Path) -> Vec<(f64, f64, Vec<String>)> {
    const READ: &str = r#"
import json, sys
path = sys.argv[1]
if path.endswith(".srt"):
    import pysrt
    cues = [(c.start.ordinal / 1000, c.end.ordinal / 1000, c.text.split("\n")) for c in pysrt.open(path)]
else:
    import webvtt
    cues = [(c.start_in_seconds + int(c.start.split(".")[1]) / 1000, c.end_in_seconds + int(c.end.split(".")[1]) / 1000,
             c.text.split("\n")) for c in webvtt.read(path)]
print(json.dumps(cues))
"#;
    let out = Command::new("python3").args(["-c", READ]).arg(file).output().expect("python3 (scripts/setup.sh)");
    assert!(out.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn recordings_become_rows_and_a_second_run_adds_none() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir_all(input.join("calls")).unwrap();
    std::fs::write(input.join("calls/monday call.wav"), wav(8000, 1.0)).unwrap();
    std::fs::write(input.join("calls/it's \"quoted\" + 録音.wav"), wav(16000, 0.5)).unwrap();
    std::fs::write(input.join("notes.mp3"), b"minutes of the meeting, not audio\n".repeat(20)).unwrap();
    let mut cut = wav(8000, 1.0);
    cut.truncate(3000);
    std::fs::write(input.join("cut.wav"), cut).unwrap();
    let data = dir.path().join("data");

    let summary = run(&data, &input);
    assert!(summary.contains("processed:        4 (2 read, 2 rejected)"), "{summary}");
    assert!(summary.contains("rejected not_audio: 1") && summary.contains("rejected truncated: 1"), "{summary}");
    assert!(summary.contains("rows loaded:      4"), "{summary}");
    assert!(summary.contains("COPY statements:  1"), "{summary}");

    let db = data.join("warehouse/redscribe.duckdb");
    let rows = duckdb(
        &db,
        "select object_key, status, error_code, sample_rate from public.transcription_results order by object_key",
    );
    assert_eq!(
        rows,
        "[('in/calls/it\\'s \"quoted\" + 録音.wav', 'metadata_only', None, 16000), \
         ('in/calls/monday call.wav', 'metadata_only', None, 8000), ('in/cut.wav', 'failed', 'truncated', None), \
         ('in/notes.mp3', 'failed', 'not_audio', None)]"
    );

    // Every stage's metrics, as CloudWatch EMF documents (the ones the Lambdas print).
    let emf: Vec<serde_json::Value> = std::fs::read_to_string(data.join("metrics/emf.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |name: &str, code: Option<&str>| {
        emf.iter()
            .filter(|d| d.get(name).is_some() && code.is_none_or(|c| d["ErrorCode"] == c))
            .map(|d| match &d[name] {
                serde_json::Value::Array(values) => values.iter().map(|v| v.as_f64().unwrap()).sum::<f64>(),
                v => v.as_f64().unwrap(),
            })
            .sum::<f64>()
    };
    assert_eq!(find("RecordingsReceived", None), 4.0);
    assert_eq!(find("RecordingsProcessed", None), 2.0);
    assert_eq!(find("RecordingsQuarantined", Some("not_audio")), 1.0);
    assert_eq!(find("RecordingsQuarantined", Some("truncated")), 1.0);
    assert_eq!(find("RowsLoaded", None), 4.0);
    assert!(emf.iter().all(|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Redscribe"));

    // The same files again: the rows are updated in place, not duplicated.
    let summary = run(&data, &input);
    assert!(summary.contains("rows loaded:      4"), "{summary}");
    assert_eq!(duckdb(&db, "select count(*), count(distinct id) from public.transcription_results"), "[(4, 4)]");

    // The two rejected recordings have quarantine records that replay can act on.
    let out = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["replay", "--dry-run", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(listed.contains("2 record(s) would be replayed"), "{listed}");
    assert!(listed.contains("not_audio\ts3://recordings/in/notes.mp3"), "{listed}");
    assert!(listed.contains("truncated\ts3://recordings/in/cut.wav"), "{listed}");
}

/// `redscribe demo` on the samples `scripts/make-samples.sh` generates (as the setup step does): every sample is a
/// row, printed through the Data API, with the bad ones failed under their own codes.
#[test]
fn demo_loads_and_prints_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples");
    let script = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo runs tests with CARGO_MANIFEST_DIR"))
        .join("../../scripts/make-samples.sh");
    let made = Command::new("bash").arg(&script).arg(&samples).output().unwrap();
    assert!(made.status.success(), "make-samples: {}", String::from_utf8_lossy(&made.stderr));
    let demo_started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["demo", "--samples"])
        .arg(&samples)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let demo_ms = demo_started.elapsed().as_secs_f64() * 1000.0;
    assert!(out.status.success(), "redscribe demo: {}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("(13 rows)"), "{printed}");
    let row = |key: &str| printed.lines().find(|l| l.contains(key)).unwrap_or_else(|| panic!("{key}: {printed}"));
    for good in ["in/call-0042.wav", "in/phone-ulaw.wav", "in/meeting.flac", "in/podcast.mp3", "in/voice memo.m4a"] {
        assert!(row(good).contains("transcribed"), "{}", row(good));
    }
    // Whisper heard the speech: the text column shows the start of the transcript.
    for spoken in ["in/call-0042.wav", "in/phone-ulaw.wav", "in/meeting.flac"] {
        assert!(row(spoken).to_lowercase().contains("thank you for calling"), "{}", row(spoken));
    }
    // Its time-aligned segments were loaded in the same transaction, joined to the row by id.
    let db = dir.path().join("data/warehouse/redscribe.duckdb");
    let segments = duckdb(
        &db,
        "select count(*) > 0, bool_and(s.end_s > s.start_s), lower(string_agg(s.text, ' ' order by s.segment_index))          like '%warehouse%' from public.transcription_segments s join public.transcription_results r using (id)          where r.object_key = 'in/call-0042.wav'",
    );
    assert_eq!(segments, "[(True, True, True)]");
    let music = duckdb(&db, "select text, model from public.transcription_results where object_key = 'in/music.aiff'");
    assert_eq!(music, "[('', 'whisper-tiny.en')]", "a tone is no speech: an empty transcript, not an invented one");
    let quality = duckdb(
        &db,
        "select object_key, quality_flag, compression_ratio between 0.5 and 2.4 from public.transcription_results \
         where object_key in ('in/call-0042.wav', 'in/music.aiff', 'in/notes.mp3') order by object_key",
    );
    assert_eq!(
        quality,
        "[('in/call-0042.wav', 'ok', True), ('in/music.aiff', 'no_speech', None), ('in/notes.mp3', None, None)]"
    );
    // The stereo call is transcribed one channel at a time: the agent on 0, then the caller on 1.
    let call = duckdb(
        &db,
        "select s.channel, lower(string_agg(s.text, ' ' order by s.segment_index)) from \
         public.transcription_segments s join public.transcription_results r using (id) \
         where r.object_key = 'in/support-call.wav' group by s.channel order by min(s.start_s)",
    );
    assert!(call.starts_with("[(0, 'thank you for calling"), "{call}");
    assert!(call.contains("(1, 'my invoice"), "{call}");
    assert!(call.contains("wrong amount"), "{call}");
    // The demo names the call's channels (agent, customer): each segment's speaker, and the talk time of each
    // side and of no one, which with any overlap cover the call.
    let speakers = duckdb(
        &db,
        "select s.channel, min(s.speaker), max(s.speaker) from public.transcription_segments s \
         join public.transcription_results r using (id) where r.object_key = 'in/support-call.wav' \
         group by s.channel order by s.channel",
    );
    assert_eq!(speakers, "[(0, 'agent', 'agent'), (1, 'customer', 'customer')]");
    let talk = duckdb(
        &db,
        "select object_key, agent_talk_s > 1, customer_talk_s > 1, non_talk_s > 0, \
         agent_talk_s + customer_talk_s + non_talk_s >= duration_s - 0.01, non_talk_s < duration_s \
         from public.transcription_results where object_key in ('in/support-call.wav', 'in/call-0042.wav') \
         order by object_key",
    );
    assert_eq!(
        talk,
        "[('in/call-0042.wav', None, None, True, None, True), ('in/support-call.wav', True, True, True, True, True)]",
        "a mono call has no sides, only its non-talk time"
    );
    // And each word with its times, loaded in the same transaction: as many as the row counts, each inside its
    // segment, on the segment's channel, the caller's words on channel 1.
    let words = duckdb(
        &db,
        "select count(*) = max(r.word_count), bool_and(w.start_s >= s.start_s and w.end_s <= s.end_s          and w.end_s >= w.start_s and w.channel = s.channel), bool_or(w.channel = 1 and lower(w.word) = 'invoice')          from public.transcription_words w join public.transcription_segments s using (id, segment_index)          join public.transcription_results r using (id) where r.object_key = 'in/support-call.wav'",
    );
    assert_eq!(words, "[(True, True, True)]");
    // Subtitles beside the results, in both formats, that the standard parsers read: the same cues, each at most two
    // lines of 42 characters and 7 s, and together the transcript's words in order.
    let support =
        duckdb(&db, "select id, word_count from public.transcription_results where object_key = 'in/support-call.wav'");
    let (id, word_count) = support.trim_start_matches("[('").trim_end_matches(")]").split_once("', ").unwrap();
    let subtitles = dir.path().join("data/s3/recordings/processed/subtitles");
    let day = std::fs::read_dir(&subtitles).unwrap().next().unwrap().unwrap().path();
    let named = |ext: &str| {
        let found = std::fs::read_dir(&day).unwrap().map(|e| e.unwrap().path()).find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with(id) && name.ends_with(ext)
        });
        found.unwrap_or_else(|| panic!("no {ext} of {id} in {}", day.display()))
    };
    let (srt, vtt) = (parsed_subtitles(&named(".srt")), parsed_subtitles(&named(".vtt")));
    assert_eq!(srt, vtt);
    assert!(srt.len() >= 3, "{srt:?}");
    for (start, end, lines) in &srt {
        assert!(start < end && end - start <= 7.0 + 1e-9, "{start}–{end}: {lines:?}");
        assert!(lines.len() <= 2 && lines.iter().all(|l| l.chars().count() <= 42), "{lines:?}");
    }
    let cued: usize =
        srt.iter().map(|(_, _, lines)| lines.iter().map(|l| l.split_whitespace().count()).sum::<usize>()).sum();
    assert_eq!(cued.to_string(), word_count, "the cues hold every word of the transcript: {srt:?}");
    assert!(srt.windows(2).all(|w| w[0].0 <= w[1].0), "cues in time order: {srt:?}");

    // Transcription metrics carry the model as a dimension.
    let emf: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("data/metrics/emf.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let total = |name: &str| -> f64 {
        emf.iter()
            .filter(|d| d["Model"] == "whisper-tiny.en")
            .filter_map(|d| d.get(name))
            .map(|v| match v {
                serde_json::Value::Array(values) => values.iter().map(|x| x.as_f64().unwrap()).sum(),
                v => v.as_f64().unwrap(),
            })
            .sum()
    };
    assert!(total("AudioSecondsTranscribed") > 30.0, "{emf:?}");
    assert!(total("TranscriptsEmpty") >= 2.0, "music and silence: {emf:?}");
    assert!(total("ModelLoadTime") > 0.0);
    stage_values_agree(&emf, &db, demo_ms);
    costs_agree(&emf, &db);
    assert!(row("in/empty.wav").contains("empty_object"), "{}", row("in/empty.wav"));
    assert!(row("in/notes.mp3").contains("not_audio"), "{}", row("in/notes.mp3"));
    assert!(row("in/invoice.wav").contains("not_audio"), "{}", row("in/invoice.wav"));
    assert!(row("in/header-only.wav").contains("truncated"), "{}", row("in/header-only.wav"));
}

/// Every value of `metric` in the EMF documents (each document holds one value or an array of them), in the order
/// recorded, from the documents whose `Stage` is `stage` (any, for `None`).
fn values(emf: &[serde_json::Value], metric: &str, stage: Option<&str>) -> Vec<f64> {
    emf.iter()
        .filter(|d| stage.is_none_or(|s| d["Stage"] == s))
        .filter_map(|d| d.get(metric))
        .flat_map(|v| match v {
            serde_json::Value::Array(values) => values.iter().map(|x| x.as_f64().unwrap()).collect(),
            v => vec![v.as_f64().unwrap()],
        })
        .collect()
}

/// The values of the latencies and real-time factors, checked against each other and against the rows: what a
/// dashboard draws from them must add up.
fn stage_values_agree(emf: &[serde_json::Value], db: &Path, demo_ms: f64) {
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    // Real-time factor: each recording's transcription time over its audio. RTF and the audio seconds share their
    // dimensions, so a document holds them pair by pair.
    let mut rtf_weighted = 0.0;
    let mut rtfs = 0;
    for doc in emf.iter().filter(|d| d.get("RealTimeFactor").is_some()) {
        let rtf = values(std::slice::from_ref(doc), "RealTimeFactor", None);
        let audio: Vec<f64> = values(std::slice::from_ref(doc), "AudioSecondsTranscribed", None)
            .into_iter()
            .filter(|a| *a > 0.0)
            .collect();
        assert_eq!(rtf.len(), audio.len(), "{doc}");
        assert!(rtf.iter().all(|r| *r > 0.0), "{rtf:?}");
        rtf_weighted += rtf.iter().zip(&audio).map(|(r, a)| r * a * 1000.0).sum::<f64>();
        rtfs += rtf.len();
    }
    let transcribe = values(emf, "StageLatency", Some("transcribe"));
    let transcribed: usize =
        duckdb(db, "select count(*) from public.transcription_results where status = 'transcribed' and duration_s > 0")
            .trim_matches(|c| "[(,)]".contains(c))
            .parse()
            .unwrap();
    assert_eq!((rtfs, transcribe.len()), (transcribed, transcribed), "one of each per transcribed recording");
    let relative = (rtf_weighted - sum(&transcribe)).abs() / sum(&transcribe);
    assert!(relative < 1e-9, "RTF x audio = transcription time: {rtf_weighted} vs {} ms", sum(&transcribe));

    // Receive: from the upload to the attempt, one per recording received, within the run.
    let received = sum(&values(emf, "RecordingsReceived", None)) as usize;
    let receive = values(emf, "StageLatency", Some("receive"));
    assert_eq!(receive.len(), received);
    assert!(receive.iter().all(|ms| (0.0..=demo_ms).contains(ms)), "{receive:?} within {demo_ms} ms");

    // A recording's download, decode and transcription fit in its processing time (each row's, whole ms).
    let per_recording = sum(&values(emf, "StageLatency", Some("download")))
        + sum(&values(emf, "StageLatency", Some("decode")))
        + sum(&transcribe);
    let got = duckdb(db, "select sum(processing_ms), count(*) from public.transcription_results");
    let (processing, rows) = got.trim_matches(|c| "[()]".contains(c)).split_once(", ").unwrap();
    // A row's processing time is whole milliseconds, rounded down: up to 1 ms a row.
    let processing = processing.parse::<f64>().unwrap() + rows.parse::<f64>().unwrap();
    assert!(per_recording > 0.0 && per_recording <= processing, "{per_recording} of {processing} ms");

    // Load: one latency per batch, each at least its transaction's.
    let load = values(emf, "StageLatency", Some("load"));
    let copies = values(emf, "CopyDuration", None);
    assert!(!load.is_empty() && load.len() == copies.len(), "{load:?} {copies:?}");
    for (whole, copy) in load.iter().zip(&copies) {
        assert!(whole >= copy, "a batch's load {whole} ms includes its COPY {copy} ms");
    }
}

/// Every row is priced; the daily cost view adds the rows up by model; the `EstimatedCost` metric holds one value
/// per row and one per load batch, the rows' ones equal to their `cost_usd`.
fn costs_agree(emf: &[serde_json::Value], db: &Path) {
    let priced = duckdb(db, "select count(*) = count(cost_usd), min(cost_usd) > 0 from public.transcription_results");
    assert_eq!(priced, "[(True, True)]");
    let view = duckdb(
        db,
        "select v.model, v.recordings = r.n, abs(v.cost_usd - r.cost) < 1e-12, \
         v.cost_per_audio_minute is null or abs(v.cost_per_audio_minute * v.audio_minutes - v.cost_usd) < 1e-12 \
         from public.transcription_cost_daily v join (select coalesce(model, 'none') as model, count(*) as n, \
         sum(cost_usd) as cost from public.transcription_results group by 1) r using (model) order by v.model",
    );
    assert_eq!(view, "[('none', True, True, True), ('whisper-tiny.en', True, True, True)]", "{view}");
    let minute = duckdb(
        db,
        "select cost_per_audio_minute > 0 from public.transcription_cost_daily where model = 'whisper-tiny.en'",
    );
    assert_eq!(minute, "[(True,)]");

    let metric = values(emf, "EstimatedCost", None);
    let rows: f64 = duckdb(db, "select sum(cost_usd) from public.transcription_results")
        .trim_matches(|c| "[(,)]".contains(c))
        .parse()
        .unwrap();
    let batches = values(emf, "CopyDuration", None).len();
    let recordings = 13;
    assert_eq!(metric.len(), recordings + batches, "{metric:?}");
    // What the metric holds beyond the rows is the load batches' cost.
    let loads: f64 = metric.iter().sum::<f64>() - rows;
    assert!(loads > 0.0, "the load batches' cost: {loads}, the rows': {rows}");
}

/// A journal event that is no S3 event (a hand-edited journal, a tool of one's own appending to it) is what an SQS
/// message that is no event is to the transcribe function: kept under `rejected/invalid_event/`, counted, and
/// acknowledged — not skipped silently, not retried at every run.
#[test]
fn a_journal_event_that_is_no_event_is_kept_counted_and_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("call.wav"), wav(8000, 0.5)).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("events")).unwrap();
    std::fs::write(data.join("events/events.jsonl"), "{\"seq\":1,\"event\":{\"hello\":\"not an event\"}}\n").unwrap();

    let summary = run(&data, &input);
    assert!(summary.contains("processed:        1 (1 read, 0 rejected)"), "{summary}");
    assert!(summary.contains("not events:       1"), "{summary}");
    let kept: Vec<_> = std::fs::read_dir(data.join("s3/recordings/rejected/invalid_event"))
        .unwrap()
        .flat_map(|day| std::fs::read_dir(day.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        // The stand-in keeps an object's metadata in hidden files beside it.
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["payload"], serde_json::json!({"hello": "not an event"}), "the event is kept whole");
    let acks = std::fs::read_to_string(data.join("events/acks.jsonl")).unwrap();
    assert!(acks.lines().any(|l| l == "{\"ack\":1}"), "{acks}");

    // Acknowledged: the next run does not see it again.
    let summary = run(&data, &input);
    assert!(!summary.contains("not events"), "{summary}");
}

/// A recording longer than a part, through `redscribe run` with the model: cut into parts at pauses, the parts
/// heard at once through the same driver (their requests' events are the next pass's work), one transcribed row
/// whose segments run in order from the first words to the last.
#[test]
fn a_long_recording_runs_in_parts_and_becomes_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("lecture.wav"), redscribe_testkit::long_speech(dir.path())).unwrap();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["run", "--part-seconds", "60", "--data-dir"])
        .arg(&data)
        .arg(&input)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "redscribe run: {}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(summary.contains("in parts:         1 recording(s) cut"), "{summary}");

    let db = data.join("warehouse/redscribe.duckdb");
    let row = duckdb(&db, "select count(*), min(status), min(text) from public.transcription_results");
    assert!(row.starts_with("[(1, 'transcribed', '"), "{row}");
    assert!(row.contains("Item 1 ") && row.contains("36"), "{row}");
    let order = duckdb(
        &db,
        "select count(*) filter (where start_s < prev_end - 0.01) from (select start_s, \
         lag(end_s, 1, 0) over (order by start_s) as prev_end from public.transcription_segments)",
    );
    assert_eq!(order, "[(0,)]", "segments overlap across the cuts");
}

/// `redscribe transcribe --part-seconds` on a local file: the same cut and join as the pipeline's parts, two heard
/// at once, the same recording and words as heard whole, the segments in order.
#[test]
fn a_local_file_is_transcribed_in_parts_as_it_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lecture.wav");
    std::fs::write(&file, redscribe_testkit::long_speech(dir.path())).unwrap();
    let transcribe = |extra: &[&str]| -> serde_json::Value {
        let out =
            Command::new(env!("CARGO_BIN_EXE_redscribe")).arg("transcribe").args(extra).arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap()
    };
    let whole = transcribe(&[]);
    let parts = transcribe(&["--part-seconds", "60", "--part-workers", "2", "--words"]);
    assert_eq!(whole["duration_s"], parts["duration_s"]);
    let words = |v: &serde_json::Value| v["text"].as_str().unwrap().split_whitespace().count() as f64;
    let text = parts["text"].as_str().unwrap();
    assert!(text.contains("Item 1 ") && text.contains("36"), "{text}");
    assert!((words(&parts) / words(&whole) - 1.0).abs() < 0.05, "{} words against {}", words(&parts), words(&whole));
    let segments = parts["segments"].as_array().unwrap();
    for pair in segments.windows(2) {
        assert!(pair[1]["start"].as_f64() >= Some(pair[0]["end"].as_f64().unwrap() - 0.01), "{pair:?}");
    }
    let last = segments.last().unwrap()["end"].as_f64().unwrap();
    assert!(last > parts["duration_s"].as_f64().unwrap() - 15.0, "the parts reach the end: {last}");
    // With --words each segment carries its words at the recording's times (not the part's), inside the segment,
    // in order across the cuts; without it, none are printed.
    assert!(whole["segments"][0].get("words").is_none());
    let mut previous = 0.0;
    for s in segments {
        let words = s["words"].as_array().unwrap();
        let said: Vec<&str> = words.iter().map(|w| w["word"].as_str().unwrap()).collect();
        assert_eq!(said.join(" "), s["text"].as_str().unwrap().split_whitespace().collect::<Vec<_>>().join(" "));
        for w in words {
            let (start, end) = (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap());
            assert!(
                start >= s["start"].as_f64().unwrap() - 1e-6 && end <= s["end"].as_f64().unwrap() + 1e-6,
                "{w} in {s}"
            );
            assert!(start >= previous - 1e-6 && (0.0..=1.0).contains(&w["probability"].as_f64().unwrap()), "{w}");
            previous = start;
        }
    }
    assert!(previous > 120.0, "words past the second cut: {previous}");
    // --format srt prints the file's subtitles, which pysrt reads: cues through to the end, two lines at most.
    let out = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["transcribe", "--format", "srt"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let srt = dir.path().join("lecture.srt");
    std::fs::write(&srt, &out.stdout).unwrap();
    let cues = parsed_subtitles(&srt);
    assert!(cues.len() > 20 && cues.last().unwrap().1 > last - 15.0, "{cues:?}");
    assert!(cues.iter().all(|(_, _, lines)| lines.len() <= 2), "{cues:?}");
    // One recording's subtitles per stream: two are refused.
    let two = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["transcribe", "--format", "vtt"])
        .args([&file, &file])
        .output()
        .unwrap();
    assert!(!two.status.success() && String::from_utf8_lossy(&two.stderr).contains("one recording"));
}
