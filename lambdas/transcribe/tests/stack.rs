//! The transcribe function with exactly the environment `template.yaml` gives it, once the stack is created in
//! moto's CloudFormation (`redscribe_testkit::stack`): its configuration code accepts it, and a recording the
//! deployed notification routes to its queue becomes a result file the notification routes to the load queue.

use std::collections::BTreeSet;
use std::time::Duration;

use redscribe_aws::permissions::{transcribe_grants, Encryption, Scope};
use redscribe_core::ports::ObjectStore;
use redscribe_core::record::{ResultRow, SegmentRow};
use redscribe_local::runtime_api::{Answer, RuntimeApi};
use redscribe_testkit::stack::{delivered_key, needed, Deployed};
use redscribe_testkit::{drain, speech, sqs_records, wait_for, walk, Function, StandIns};
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_redscribe-transcribe");

#[tokio::test(flavor = "multi_thread")]
async fn the_transcribe_function_answers_with_the_environment_the_stack_gives_it() {
    let d = tokio::task::spawn_blocking(|| Deployed::deploy(&[("RedshiftWorkgroup", "wg")])).await.unwrap();
    let mut stand_ins = StandIns::s3().await;
    let bucket = d.create_bucket_in(&stand_ins);
    let store = stand_ins.store().await;
    let hello = speech(stand_ins.dir.path(), "Please call me back about the invoice.");
    store.put(&bucket, "in/calls/call back.wav", hello, "audio/wav").await.unwrap();
    // Outside the input prefix: the deployed notification sends it nowhere.
    store.put(&bucket, "notes/readme.txt", b"not a recording".to_vec(), "text/plain").await.unwrap();
    let uploads = drain(&mut stand_ins.events);
    let routed = d.routed_to("TranscribeQueue", &uploads);
    assert_eq!(routed.iter().map(delivered_key).collect::<Vec<_>>(), ["in/calls/call back.wav"]);

    // Exactly the deployed environment; on top, what Lambda provides (region, credentials) and the stand-in's
    // endpoint in place of S3's. The model: the layer's folder in Lambda, the setup's cache here.
    let env = lambda_env(&d, &stand_ins, &[]);
    assert!(env.iter().any(|(k, v)| k == "REDSCRIBE_FUNCTION_TIMEOUT_S" && v == "900"), "{env:?}");
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    // From here on only the function calls the stand-in: what it records is what its role must allow.
    let s3_calls = stand_ins.s3.calls();
    s3_calls.start();
    let function = Function::start(BINARY, "redscribe-transcribe", &api.address(), &env);
    let batch = api.invoke(json!({ "Records": sqs_records(&routed) }));
    let answer = api.outcome(&batch, Duration::from_secs(120)).await.expect("an answer");
    assert_eq!(answer, Answer::Response(json!({ "batchItemFailures": [] })), "{:?}", function.stderr);

    let allowed: BTreeSet<(String, Scope)> =
        transcribe_grants(Encryption::Managed).into_iter().map(|g| (g.action.into(), g.scope)).collect();
    let made: BTreeSet<(String, Scope)> = s3_calls.take().iter().filter_map(|c| needed(c, &bucket)).collect();
    for call in &made {
        assert!(allowed.contains(call), "the function called {call:?}, which its role does not allow");
    }
    // A versioned bucket's event names the version: the read is GetObjectVersion.
    for part in [("s3:GetObjectVersion", Scope::Recordings), ("s3:PutObject", Scope::Processed)] {
        assert!(made.contains(&(part.0.to_string(), part.1)), "{part:?} in {made:?}");
    }

    let results = walk(&stand_ins.bucket_dir(&bucket).join("processed/transcription_results"));
    assert_eq!(results.len(), 1, "{results:?}");
    // Its result file goes on to the load queue, and nothing it wrote comes back to transcription.
    let written = drain(&mut stand_ins.events);
    let to_load: Vec<String> = d.routed_to("LoadQueue", &written).iter().map(delivered_key).collect();
    assert_eq!(to_load.len(), 1, "{:?}", written.iter().map(delivered_key).collect::<Vec<_>>());
    assert!(to_load[0].starts_with("processed/transcription_results/") && to_load[0].ends_with(".parquet"));
    assert!(d.routed_to("TranscribeQueue", &written).is_empty());
    // The model the layer carries is the one the function named in its metrics.
    let models: Vec<String> = wait_for(|| {
        let models: Vec<String> = function
            .emf()
            .iter()
            .filter_map(|doc| doc.get("Model").and_then(|m| m.as_str()).map(str::to_string))
            .collect();
        (!models.is_empty()).then_some(models)
    })
    .await;
    assert!(models.iter().all(|m| m == "whisper-tiny.en"), "the alarms' Model dimension: {models:?}");
    drop(function);
    stand_ins.stop().await;
}

/// An image the template accepts (`TranscribeImageUri`'s pattern: an ECR URI with a digest or a tag).
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/redscribe-transcribe@sha256:\
                     0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A function's deployed settings that do not depend on how its code is packaged.
fn settings(d: &Deployed, logical_id: &str) -> serde_json::Value {
    let f = d.function(logical_id);
    let transformed = &d.stack["transformed"]["Resources"][logical_id]["Properties"];
    json!({
        "FunctionName": f["FunctionName"], "MemorySize": f["MemorySize"], "Timeout": f["Timeout"],
        "Architectures": f["Architectures"], "Environment": f["Environment"],
        "ReservedConcurrentExecutions": f["ReservedConcurrentExecutions"],
        "Role": transformed["Role"], "EphemeralStorage": transformed["EphemeralStorage"],
        "TracingConfig": transformed["TracingConfig"], "DependsOn": d.stack["transformed"]["Resources"][logical_id]["DependsOn"],
    })
}

/// The alarms by name with their dimensions, the model's left out.
fn alarms(d: &Deployed) -> std::collections::BTreeMap<String, serde_json::Value> {
    let alarms = d.stack["alarms"].as_array().expect("alarms");
    alarms
        .iter()
        .map(|a| {
            let dims: Vec<&serde_json::Value> =
                a["Dimensions"].as_array().into_iter().flatten().filter(|d| d["Name"] != "Model").collect();
            (a["AlarmName"].as_str().unwrap().to_string(), json!({ "dims": dims, "metrics": a["Metrics"] }))
        })
        .collect()
}

#[test]
fn from_an_image_the_function_is_the_layer_form_but_for_its_packaging() {
    let layer = Deployed::deploy(&[("RedshiftWorkgroup", "wg")]);
    let image =
        Deployed::deploy(&[("RedshiftWorkgroup", "wg"), ("TranscribeImageUri", IMAGE), ("WhisperModel", "base")]);
    assert!(image.stack["functions"].get("TranscribeFunction").is_none(), "one transcribe function");
    assert!(image.stack["layers"].as_array().unwrap().is_empty(), "no layer: {}", image.stack["layers"]);
    assert!(!image.stack["stack"]["resources"].to_string().contains("WhisperLayer"));

    // Its code: the image, and nothing of the zip form (CloudFormation refuses a runtime, handler or layers on an
    // image function). moto keeps no package type: read from the properties as CloudFormation resolves them.
    let code = &image.stack["resolved_functions"]["TranscribeImageFunction"];
    assert_eq!(code["PackageType"], "Image");
    assert_eq!(code["Code"], json!({ "ImageUri": IMAGE }));
    assert_eq!(image.function("TranscribeImageFunction")["Environment"]["Variables"]["REDSCRIBE_MODEL"], "base");
    for zip_only in ["Runtime", "Handler", "Layers"] {
        assert!(code.get(zip_only).is_none(), "{zip_only} on an image function");
    }
    // The rest as the layer form has it, the model aside.
    let mut expected = settings(&layer, "TranscribeFunction");
    expected["Environment"]["Variables"]["REDSCRIBE_MODEL"] = json!("base");
    assert_eq!(settings(&image, "TranscribeImageFunction"), expected);
    assert_eq!(layer.function("TranscribeFunction")["Environment"]["Variables"]["REDSCRIBE_MODEL"], "tiny.en");

    // Its queue: the same mapping SAM makes for the layer form.
    let mapping = |d: &Deployed| {
        let arn = d.queue_arn("TranscribeQueue");
        let m =
            d.stack["event_source_mappings"].as_array().unwrap().iter().find(|m| m["EventSourceArn"] == arn).cloned();
        let m = m.expect("a mapping from the recordings queue");
        json!([m["FunctionArn"], m["BatchSize"], m["MaximumBatchingWindowInSeconds"], m["FunctionResponseTypes"]])
    };
    assert_eq!(mapping(&image), mapping(&layer));

    // Every alarm watches the function under the same name; the real-time factor's is the model's.
    assert_eq!(alarms(&image), alarms(&layer));
    let rtf = image.stack["alarms"].as_array().unwrap().iter().find(|a| a["MetricName"] == "RealTimeFactor").unwrap();
    let model = rtf["Dimensions"].as_array().unwrap().iter().find(|d| d["Name"] == "Model").unwrap();
    assert_eq!(model["Value"], "whisper-base");
    assert_eq!(image.stack["stack"]["outputs"]["TranscribeFunction"], "redscribe-transcribe");

    // The function's configuration accepts the environment, and names the model the image carries.
    let env: std::collections::BTreeMap<String, String> =
        image.function_env("TranscribeImageFunction", &[]).into_iter().collect();
    let config = redscribe_pipeline::config::FunctionConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    assert_eq!(config.model.as_deref(), Some("base"));
}

/// A recording longer than a part, under the stack's configuration but a timeout (40 s: 10 s of planned compute)
/// it could never be heard whole in: the function cuts it into parts, the bucket's notification routes each
/// part's request back to the transcribe queue, each part is heard by an invocation of its own, and the last one
/// writes one result file whose segments run in order across the cuts, with its words, subtitles and (the stack's
/// `Redact` set to `pii,audio`) the silenced copy of the whole recording, read again by the invocation that joins.
/// The role allows every call; a part delivered again adds no result file.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_recording_is_heard_in_parts_by_invocations_of_their_own() {
    let d = tokio::task::spawn_blocking(|| Deployed::deploy(&[("RedshiftWorkgroup", "wg")])).await.unwrap();
    let mut stand_ins = StandIns::s3().await;
    let bucket = d.create_bucket_in(&stand_ins);
    let store = stand_ins.store().await;
    let long = redscribe_testkit::long_speech(stand_ins.dir.path());
    store.put(&bucket, "in/lectures/budget.wav", long.clone(), "audio/wav").await.unwrap();
    let routed = d.routed_to("TranscribeQueue", &drain(&mut stand_ins.events));
    assert_eq!(routed.len(), 1);

    let changes =
        [("REDSCRIBE_FUNCTION_TIMEOUT_S", "40"), ("REDSCRIBE_PART_SECONDS", "60"), ("REDSCRIBE_REDACT", "pii,audio")];
    let env = lambda_env(&d, &stand_ins, &changes);
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let s3_calls = stand_ins.s3.calls();
    s3_calls.start();
    let function = Function::start(BINARY, "redscribe-transcribe", &api.address(), &env);
    let no_failures = Answer::Response(json!({ "batchItemFailures": [] }));
    let batch = api.invoke(json!({ "Records": sqs_records(&routed) }));
    assert_eq!(api.outcome(&batch, Duration::from_secs(120)).await.unwrap(), no_failures, "{:?}", function.stderr);

    // The parts' requests, routed by the deployed notification; each heard by an invocation of its own.
    let parts = d.routed_to("TranscribeQueue", &drain(&mut stand_ins.events));
    assert!(parts.len() >= 2, "{:?}", parts.iter().map(delivered_key).collect::<Vec<_>>());
    assert!(parts.iter().all(|p| delivered_key(p).starts_with("manifests/parts/")));
    for part in &parts {
        let invocation = api.invoke(json!({ "Records": sqs_records(std::slice::from_ref(part)) }));
        let answer = api.outcome(&invocation, Duration::from_secs(120)).await.unwrap();
        assert_eq!(answer, no_failures, "{:?}", function.stderr);
    }
    // What the function called (before the test reads anything itself): what its role must allow.
    let allowed: BTreeSet<(String, Scope)> =
        transcribe_grants(Encryption::Managed).into_iter().map(|g| (g.action.into(), g.scope)).collect();
    let made: BTreeSet<(String, Scope)> = s3_calls.take().iter().filter_map(|c| needed(c, &bucket)).collect();
    for call in &made {
        assert!(allowed.contains(call), "the function called {call:?}, which its role does not allow");
    }
    for part in [("s3:PutObject", Scope::Parts), ("s3:GetObject", Scope::Parts), ("s3:ListBucket", Scope::PartsListing)]
    {
        assert!(made.contains(&(part.0.to_string(), part.1)), "{part:?} in {made:?}");
    }

    let files = walk(&stand_ins.bucket_dir(&bucket).join("processed/transcription_results"));
    assert_eq!(files.len(), 1, "{files:?}");
    let (row, segments) = results(store.as_ref(), &bucket).await.remove(0);
    assert_eq!(row.status, redscribe_core::record::Status::Transcribed, "{:?}", row.error_message);
    let said = row.text.clone().unwrap_or_default();
    assert!(said.contains("Item 1 ") && said.contains("36"), "{said}");
    let duration = row.audio.as_ref().unwrap().duration_s;
    for pair in segments.windows(2) {
        assert!(pair[1].start_s >= pair[0].end_s - 0.01, "segments overlap: {:?} {:?}", pair[0], pair[1]);
    }
    let last = segments.last().unwrap();
    assert!(last.end_s <= duration + 0.01 && last.end_s > duration - 15.0, "{} of {duration} s", last.end_s);
    // Nothing in the lecture is a value; the row says redaction ran.
    assert_eq!(row.pii_redacted.as_deref(), Some("{}"));

    // Its words, at the recording's times: each inside its segment, in time order across the cuts.
    let words = words_of(store.as_ref(), &bucket).await;
    assert!(words.len() >= said.split_whitespace().count(), "{} words for {said}", words.len());
    for w in &words {
        let s = &segments[w.segment_index as usize];
        assert!(w.start_s >= s.start_s - 0.01 && w.end_s <= s.end_s + 0.01, "{w:?} outside {s:?}");
    }
    for pair in words.windows(2) {
        assert!(pair[1].start_s >= pair[0].start_s - 0.01, "{:?} before {:?}", pair[1], pair[0]);
    }
    // Its subtitles, both formats.
    let subtitles = walk(&stand_ins.bucket_dir(&bucket).join("processed/subtitles"));
    let mut kinds: Vec<&str> = subtitles.iter().filter_map(|p| p.rsplit_once('.').map(|(_, e)| e)).collect();
    kinds.sort();
    assert_eq!(kinds, ["srt", "vtt"], "{subtitles:?}");
    // The silenced copy: the whole recording (nothing silenced in it), frame for frame.
    let copies = walk(&stand_ins.bucket_dir(&bucket).join("processed/redacted-audio"));
    assert_eq!(copies.len(), 1, "{copies:?}");
    let original = hound::WavReader::new(std::io::Cursor::new(long)).unwrap();
    let copy = hound::WavReader::new(std::io::Cursor::new(std::fs::read(&copies[0]).unwrap())).unwrap();
    assert_eq!(
        (copy.spec().channels, copy.spec().sample_rate),
        (original.spec().channels, original.spec().sample_rate)
    );
    let samples = |r: hound::WavReader<_>| r.into_samples::<i16>().map(Result::unwrap).collect::<Vec<i16>>();
    assert!(samples(copy) == samples(original), "the copy differs from the recording");

    // A part delivered again: its transcription is there; still one result file.
    let again = api.invoke(json!({ "Records": sqs_records(&parts[..1]) }));
    assert_eq!(api.outcome(&again, Duration::from_secs(120)).await.unwrap(), no_failures);
    assert_eq!(walk(&stand_ins.bucket_dir(&bucket).join("processed/transcription_results")).len(), 1);
    drop(function);
    stand_ins.stop().await;
}

/// The transcribe function's environment as the stack deploys it, with `changes` made to it, and on top what
/// Lambda provides (region, credentials) and the stand-in's endpoint in place of S3's.
fn lambda_env(d: &Deployed, stand_ins: &StandIns, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let local = stand_ins.function_env().into_iter().filter(|(k, _)| *k != "S3_BUCKET").collect::<Vec<_>>();
    let mut env = d.function_env("TranscribeFunction", &local);
    for (name, value) in changes {
        let set = env.iter_mut().find(|(k, _)| k == name).unwrap_or_else(|| panic!("the stack sets no {name}"));
        set.1 = value.to_string();
    }
    env
}

/// The words of the one recording the function wrote, in order.
async fn words_of(store: &impl ObjectStore, bucket: &str) -> Vec<redscribe_core::record::WordRow> {
    use redscribe_core::encode::from_parquet;
    let files = store.list(bucket, "processed/transcription_words/").await.unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let body = store.get(bucket, &files[0].key, None).await.unwrap().body;
    let mut words = redscribe_core::record::words_from_batch(&from_parquet(body).unwrap()[0]).unwrap();
    words.sort_by_key(|w| (w.segment_index, w.word_index));
    words
}

/// Each result file the function wrote: its row and segments.
async fn results(store: &impl ObjectStore, bucket: &str) -> Vec<(ResultRow, Vec<SegmentRow>)> {
    use redscribe_core::encode::from_parquet;
    use redscribe_core::record::{results_from_batch, segments_from_batch};

    let mut found = Vec::new();
    for file in store.list(bucket, "processed/transcription_results/").await.unwrap() {
        let body = store.get(bucket, &file.key, None).await.unwrap().body;
        let row = results_from_batch(&from_parquet(body).unwrap()[0]).unwrap().remove(0);
        let segments_key = file.key.replace("transcription_results", "transcription_segments");
        let body = store.get(bucket, &segments_key, None).await.unwrap().body;
        found.push((row, segments_from_batch(&from_parquet(body).unwrap()[0]).unwrap()));
    }
    found
}

/// What fits is planned from the model's measured pace, not from a short clip's: under the stack's configuration
/// (a timeout of 900 s and no `REDSCRIBE_EXPECTED_RTF`) with parts turned off, so that the plan alone decides, a
/// spoken "Yes." (whose real-time factor is high: Whisper pads it to 30 s) and then 75 minutes of mono and 70 of
/// stereo whose channels carry the same sound are heard whole. The plan is tiny.en's pace on the stack's one vCPU
/// (0.186: 75 minutes take 837 of the 870 s). The stereo file fits because it is heard once: two passes would need
/// more than the function's time (0.186 × 4,200 s × 2 > 870 s); before, the clip's pace made both `too_long`.
#[tokio::test(flavor = "multi_thread")]
async fn the_plan_lets_long_recordings_through_whatever_a_short_clip_measured() {
    let d = tokio::task::spawn_blocking(|| Deployed::deploy(&[("RedshiftWorkgroup", "wg")])).await.unwrap();
    let mut stand_ins = StandIns::s3().await;
    let bucket = d.create_bucket_in(&stand_ins);
    let store = stand_ins.store().await;
    let dir = stand_ins.dir.path().to_path_buf();
    store.put(&bucket, "in/yes.wav", speech(&dir, "Yes."), "audio/wav").await.unwrap();
    let clip = d.routed_to("TranscribeQueue", &drain(&mut stand_ins.events));
    for (key, minutes, channels) in [("in/lecture.wav", 75, 1), ("in/hearing.wav", 70, 2)] {
        let made = redscribe_testkit::sparse_speech(&dir, "long.wav", minutes, 300, channels);
        store.put(&bucket, key, std::fs::read(&made).unwrap(), "audio/wav").await.unwrap();
    }
    let long = d.routed_to("TranscribeQueue", &drain(&mut stand_ins.events));
    assert_eq!((clip.len(), long.len()), (1, 2));

    let env = lambda_env(&d, &stand_ins, &[("REDSCRIBE_PART_SECONDS", "off")]);
    assert!(env.iter().any(|(k, v)| k == "REDSCRIBE_FUNCTION_TIMEOUT_S" && v == "900"), "{env:?}");
    assert!(!env.iter().any(|(k, _)| k == "REDSCRIBE_EXPECTED_RTF"), "{env:?}");
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let function = Function::start(BINARY, "redscribe-transcribe", &api.address(), &env);
    let no_failures = Answer::Response(json!({ "batchItemFailures": [] }));
    for batch in [clip, long] {
        let invocation = api.invoke_with_timeout(json!({ "Records": sqs_records(&batch) }), Duration::from_secs(900));
        let answer = api.outcome(&invocation, Duration::from_secs(900)).await.expect("an answer");
        assert_eq!(answer, no_failures, "{:?}", function.stderr);
    }

    assert!(walk(&stand_ins.bucket_dir(&bucket).join("rejected")).is_empty(), "nothing quarantined");
    let heard = results(store.as_ref(), &bucket).await;
    assert_eq!(heard.len(), 3);
    let of = |key: &str| heard.iter().find(|(row, _)| row.object_key == key).expect(key);
    for (key, minutes, channels) in [("in/lecture.wav", 75.0, 1), ("in/hearing.wav", 70.0, 2)] {
        let (row, segments) = of(key);
        assert_eq!(row.status, redscribe_core::record::Status::Transcribed, "{key}: {:?}", row.error_message);
        let audio = row.audio.as_ref().unwrap();
        assert!((audio.duration_s - minutes * 60.0).abs() < 1.0 && audio.channels == channels, "{key}: {audio:?}");
        // A sentence every five minutes, heard once, at its time (in a segment or two: the model may write it as
        // two sentences, the second starting a few seconds in).
        let mut heard_at = vec![String::new(); (minutes / 5.0) as usize];
        for segment in segments {
            let n = (segment.start_s / 300.0).round() as usize;
            let heard = heard_at.get_mut(n).unwrap_or_else(|| panic!("{key}: past the end: {segment:?}"));
            let within = if heard.is_empty() { 2.0 } else { 5.0 };
            assert!((segment.start_s - n as f64 * 300.0).abs() < within && segment.channel == 0, "{segment:?}");
            *heard += &segment.text.to_lowercase();
        }
        assert!(heard_at.iter().all(|t| t.matches("march").count() == 1), "{key}: {segments:?}");
    }
    drop(function);
    stand_ins.stop().await;
}

/// A FLAC whose header says 10 s but holds 20 minutes, under the stack's configuration: the plan lets it start,
/// the wall clock stops it and the function answers before its invocation's deadline, naming the message for
/// another delivery; on that delivery its attempt markers say a try did not finish, so the function measures what
/// the recording holds by decoding it and cuts it into parts, which become one row of 20 minutes.
#[tokio::test(flavor = "multi_thread")]
async fn a_header_that_under_states_the_length_answers_before_the_deadline_and_is_finished_in_parts() {
    let d = tokio::task::spawn_blocking(|| Deployed::deploy(&[("RedshiftWorkgroup", "wg")])).await.unwrap();
    let mut stand_ins = StandIns::s3().await;
    let bucket = d.create_bucket_in(&stand_ins);
    let store = stand_ins.store().await;
    let made = redscribe_testkit::sparse_speech(stand_ins.dir.path(), "liar.flac", 20, 20, 1);
    let mut flac = std::fs::read(made).unwrap();
    redscribe_testkit::under_state_flac(&mut flac, 10, 8_000);
    store.put(&bucket, "in/liar.flac", flac, "audio/flac").await.unwrap();
    let routed = d.routed_to("TranscribeQueue", &drain(&mut stand_ins.events));
    assert_eq!(routed.len(), 1);

    let env = lambda_env(&d, &stand_ins, &[]);
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let api = RuntimeApi::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let function = Function::start(BINARY, "redscribe-transcribe", &api.address(), &env);
    // 33 s to the deadline: 3 s of work past the 30 s margin, where the header's 10 s need about one. An answer
    // after the deadline would be Lambda's "Task timed out" (the Runtime API stand-in enforces it).
    let records = json!({ "Records": sqs_records(&routed) });
    let first = api.invoke_with_timeout(records.clone(), Duration::from_secs(33));
    let answer = api.outcome(&first, Duration::from_secs(300)).await.expect("an answer");
    assert_eq!(answer, Answer::Response(json!({ "batchItemFailures": [{ "itemIdentifier": "m0" }] })));
    assert!(store.list(&bucket, "processed/").await.unwrap().is_empty(), "nothing written");

    let no_failures = Answer::Response(json!({ "batchItemFailures": [] }));
    let again = api.invoke_with_timeout(records, Duration::from_secs(900));
    assert_eq!(api.outcome(&again, Duration::from_secs(300)).await.unwrap(), no_failures, "{:?}", function.stderr);
    let parts = d.routed_to("TranscribeQueue", &drain(&mut stand_ins.events));
    assert_eq!(parts.len(), 2, "20 minutes in parts of 10: {:?}", parts.iter().map(delivered_key).collect::<Vec<_>>());
    // Each part with the stack's timeout, as Lambda gives it.
    for part in &parts {
        let records = json!({ "Records": sqs_records(std::slice::from_ref(part)) });
        let invocation = api.invoke_with_timeout(records, Duration::from_secs(900));
        assert_eq!(api.outcome(&invocation, Duration::from_secs(900)).await.unwrap(), no_failures);
    }

    assert!(walk(&stand_ins.bucket_dir(&bucket).join("rejected")).is_empty(), "nothing quarantined");
    let heard = results(store.as_ref(), &bucket).await;
    assert_eq!(heard.len(), 1);
    let (row, segments) = &heard[0];
    assert_eq!(row.status, redscribe_core::record::Status::Transcribed, "{:?}", row.error_message);
    assert!((row.audio.as_ref().unwrap().duration_s - 1200.0).abs() < 1.0, "{:?}", row.audio);
    // A sentence every 20 s, each heard (the one cut between the parts too), in order, at its time.
    for n in 0..60 {
        let said = n as f64 * 20.0;
        assert!(segments.iter().any(|s| s.start_s < said + 3.0 && s.end_s > said), "nothing at {said} s: {segments:?}");
    }
    for pair in segments.windows(2) {
        assert!(pair[1].start_s >= pair[0].end_s - 0.01, "segments overlap: {:?} {:?}", pair[0], pair[1]);
    }
    drop(function);
    stand_ins.stop().await;
}
