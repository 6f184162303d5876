//! Chaos: `redscribe serve` is killed with SIGKILL at random moments while the real `aws` CLI uploads recordings,
//! restarted each time (sometimes over journal files whose last line was torn on purpose, once into a storm of
//! refused Data API statements longer than the adapter's retry budget), with one recording whose processing
//! crashes. At the end every upload the client saw succeed is exactly one row, the crashed one quarantined, every
//! event acknowledged, and the process stops cleanly.
//!
//! The test suite runs a short version. `benches/chaos/run.sh` runs the same code at scale (the environment
//! variables `REDSCRIBE_CHAOS_UPLOADS` and `REDSCRIBE_CHAOS_KILLS`) and prints the figures the README reports.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redscribe_testkit::tone_wav;

mod common;
use common::{start_serve, Served};

fn start(data: &Path, env: &[(&str, &str)]) -> Served {
    let args = ["--no-transcribe", "--batch-age-ms", "200", "--fault-crash-on-key", "poison"];
    start_serve(data, &args, env)
}

fn aws(exports: &[(String, String)], args: &[&str]) -> Result<String, String> {
    let out = Command::new("aws")
        .args(args)
        .envs(exports.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .map_err(|e| format!("cannot run the aws CLI ({e}); install it with scripts/setup.sh"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs a query through `aws redshift-data` and returns its records.
fn query(exports: &[(String, String)], sql: &str) -> serde_json::Value {
    let run = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&aws(exports, args).unwrap()).unwrap() };
    let id =
        run(&["redshift-data", "execute-statement", "--database", "dev", "--workgroup-name", "local", "--sql", sql])
            ["Id"]
            .as_str()
            .unwrap()
            .to_string();
    for _ in 0..600 {
        let d = run(&["redshift-data", "describe-statement", "--id", &id]);
        match d["Status"].as_str().unwrap() {
            "FINISHED" => return run(&["redshift-data", "get-statement-result", "--id", &id])["Records"].clone(),
            "FAILED" | "ABORTED" => panic!("{sql}: {d}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    panic!("{sql} did not finish")
}

/// Events journaled and not acknowledged.
fn unacknowledged(data: &Path) -> usize {
    let read = |name: &str| std::fs::read_to_string(data.join("events").join(name)).unwrap_or_default();
    let seqs = |text: String, field: &str| -> BTreeSet<u64> {
        text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?[field].as_u64()).collect()
    };
    let events = seqs(read("events.jsonl"), "seq");
    let acks = seqs(read("acks.jsonl"), "ack");
    events.difference(&acks).count()
}

/// Appends half a record to a log, as a crash in the middle of an append leaves it.
fn tear(path: &Path) {
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(path) {
        f.write_all(br#"{"seq":999999,"event":{"Records":[{"eventSource":"aws:s"#).unwrap();
    }
}

fn scale(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn kill_9_at_random_moments_loses_nothing_and_doubles_nothing() {
    let uploads = scale("REDSCRIBE_CHAOS_UPLOADS", 14);
    let kills = scale("REDSCRIBE_CHAOS_KILLS", 4);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let wav = dir.path().join("call.wav");
    std::fs::write(&wav, tone_wav(16_000, 0.5)).unwrap();
    let poison = dir.path().join("poison.wav");
    std::fs::write(&poison, tone_wav(16_000, 0.75)).unwrap();

    let served = Arc::new(Mutex::new(start(&data, &[])));
    let exports = served.lock().unwrap().exports.clone();
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    // The client: uploads one key after another; a failed upload is tried again until it succeeds (the profile
    // names the endpoint of whichever serve is running: it is rewritten at every start).
    let uploader = {
        let (exports, done, wav, poison) = (exports.clone(), done.clone(), wav.clone(), poison.clone());
        std::thread::spawn(move || {
            let mut succeeded = BTreeSet::new();
            let mut failures = 0usize;
            for i in 0..uploads {
                let (file, key): (&PathBuf, String) = if i == uploads / 2 {
                    (&poison, "in/poison.wav".into())
                } else {
                    (&wav, format!("in/chaos-{i:04}.wav"))
                };
                let target = format!("s3://recordings/{key}");
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    match aws(&exports, &["s3", "cp", "--only-show-errors", file.to_str().unwrap(), &target]) {
                        Ok(_) => break,
                        Err(e) => {
                            failures += 1;
                            assert!(Instant::now() < deadline, "{key} never uploaded: {e}");
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                }
                succeeded.insert(key);
            }
            done.store(true, Ordering::SeqCst);
            (succeeded, failures)
        })
    };

    // The chaos: SIGKILL at random moments, torn journal tails, a storm of refused statements.
    let mut killed = 0;
    while killed < kills && !done.load(Ordering::SeqCst) {
        // Spread over the uploads (an `aws s3 cp` takes about half a second here).
        let spread = (uploads as u64 * 500 / kills.max(1) as u64).max(1500);
        std::thread::sleep(Duration::from_millis(fastrand::u64(300..spread)));
        let mut s = served.lock().unwrap();
        s.child.kill().unwrap();
        s.child.wait().unwrap();
        killed += 1;
        if killed % 2 == 0 {
            tear(&data.join("events").join("events.jsonl"));
            tear(&data.join("events").join("acks.jsonl"));
            tear(&data.join("s3-state").join("versions.jsonl"));
        }
        // Once: 40 refused statements, more than the adapter's own 8 attempts per call.
        let storm: &[(&str, &str)] =
            if killed == 2 { &[("REDSCRIBE_FAULT_ACTIVE_STATEMENTS_EXCEEDED", "40")] } else { &[] };
        *s = start(&data, storm);
    }
    let (succeeded, failed_attempts) = uploader.join().unwrap();

    // Everything journaled is acknowledged once its row is loaded.
    let wait = Instant::now();
    while unacknowledged(&data) > 0 {
        assert!(wait.elapsed() < Duration::from_secs(180), "{} event(s) never acknowledged", unacknowledged(&data));
        std::thread::sleep(Duration::from_millis(200));
    }
    let exports = served.lock().unwrap().exports.clone();
    let field = |r: &serde_json::Value, i: usize| r[i]["longValue"].as_i64().unwrap();
    let counts =
        query(&exports, "SELECT COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT object_key) FROM transcription_results");
    let (rows, ids, keys) = (field(&counts[0], 0), field(&counts[0], 1), field(&counts[0], 2));
    let loaded: BTreeSet<String> = query(&exports, "SELECT object_key FROM transcription_results")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0]["stringValue"].as_str().unwrap().to_string())
        .collect();
    let lost = succeeded.difference(&loaded).count();
    let crashed = query(&exports, "SELECT error_code FROM transcription_results WHERE object_key = 'in/poison.wav'");

    let mut s = Arc::try_unwrap(served).ok().unwrap().into_inner().unwrap();
    let pid = s.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = s.child.wait().unwrap();

    println!(
        "chaos: {} uploads succeeded ({failed_attempts} attempts refused while serve was down), {killed} kill -9, \
         {rows} rows, {lost} lost, {} doubled, in {:.0} s",
        succeeded.len(),
        rows - ids,
        started.elapsed().as_secs_f64()
    );
    assert!(killed >= 1, "serve was killed");
    assert_eq!(
        lost,
        0,
        "every upload that succeeded is a row: missing {:?}",
        succeeded.difference(&loaded).collect::<Vec<_>>()
    );
    assert_eq!(
        (rows, ids, keys),
        (succeeded.len() as i64, succeeded.len() as i64, succeeded.len() as i64),
        "one row each"
    );
    assert_eq!(crashed[0][0]["stringValue"], "crashed", "the poisoned recording is quarantined, not retried forever");
    assert!(status.success(), "serve stops cleanly at the end: {status}");
}

/// The largest sequencer among the journaled events of a key (upper-case hex, as S3 writes them).
fn largest_sequencer(data: &Path, bucket: &str, key: &str) -> String {
    std::fs::read_to_string(data.join("events").join("events.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|d| d["event"]["Records"][0]["s3"].clone())
        .filter(|s3| s3["bucket"]["name"] == bucket && s3["object"]["key"] == key)
        .map(|s3| s3["object"].clone())
        .map(|o| o["sequencer"].as_str().unwrap().to_string())
        .max()
        .unwrap()
}

#[test]
fn twenty_writers_of_one_key_leave_the_row_of_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = start(&data, &[]);
    let e = served.exports.clone();
    aws(&e, &["s3api", "create-bucket", "--bucket", "versioned"]).unwrap();
    let enable = ["s3api", "put-bucket-versioning", "--bucket", "versioned", "--versioning-configuration"];
    aws(&e, &[&enable[..], &["Status=Enabled"]].concat()).unwrap();
    let files: Vec<PathBuf> = (0..20)
        .map(|i| {
            let path = dir.path().join(format!("take-{i}.wav"));
            std::fs::write(&path, tone_wav(16_000, 0.25 + i as f32 * 0.01)).unwrap();
            path
        })
        .collect();
    for bucket in ["recordings", "versioned"] {
        let target = format!("s3://{bucket}/in/same.wav");
        let writers: Vec<_> = files
            .iter()
            .map(|f| {
                let (e, f, target) = (e.clone(), f.clone(), target.clone());
                std::thread::spawn(move || aws(&e, &["s3", "cp", "--only-show-errors", f.to_str().unwrap(), &target]))
            })
            .collect();
        for w in writers {
            w.join().unwrap().unwrap();
        }
        // The same bytes again, the same day: a new event, the same content.
        let head: serde_json::Value = serde_json::from_str(
            &aws(&e, &["s3api", "head-object", "--bucket", bucket, "--key", "in/same.wav"]).unwrap(),
        )
        .unwrap();
        let current = dir.path().join("current.wav");
        aws(&e, &["s3", "cp", "--only-show-errors", &target, current.to_str().unwrap()]).unwrap();
        aws(&e, &["s3", "cp", "--only-show-errors", current.to_str().unwrap(), &target]).unwrap();
        let wait = Instant::now();
        while unacknowledged(&data) > 0 {
            assert!(wait.elapsed() < Duration::from_secs(120), "events never acknowledged");
            std::thread::sleep(Duration::from_millis(200));
        }
        let after: serde_json::Value = serde_json::from_str(
            &aws(&e, &["s3api", "head-object", "--bucket", bucket, "--key", "in/same.wav"]).unwrap(),
        )
        .unwrap();
        assert_eq!(after["ETag"], head["ETag"], "identical bytes, identical ETag");
        let rows = query(
            &e,
            &format!(
                "SELECT etag, object_version, sequencer, size_bytes FROM transcription_results \
                 WHERE bucket = '{bucket}' AND object_key = 'in/same.wav'"
            ),
        );
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 1, "{bucket}: one row for one key");
        let text = |i: usize| rows[0][i]["stringValue"].as_str().map(str::to_string);
        assert_eq!(text(0).as_deref(), after["ETag"].as_str().map(|t| t.trim_matches('"')), "{bucket}: the final ETag");
        assert_eq!(text(1), after["VersionId"].as_str().map(str::to_string), "{bucket}: the final version");
        assert_eq!(
            text(2).unwrap(),
            largest_sequencer(&data, bucket, "in/same.wav").to_string(),
            "{bucket}: the largest sequencer"
        );
        assert_eq!(rows[0][3]["longValue"], after["ContentLength"], "{bucket}: the final size");
    }
    let mut s = served;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
}

/// A long recording heard in parts by `serve`, killed with SIGKILL once some of its parts are heard: after the
/// restart the parts' requests come back from the journal, a part heard before the kill is not heard again, and
/// the recording is one transcribed row.
#[test]
fn kill_9_between_the_parts_of_a_long_recording_leaves_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let wav = dir.path().join("lecture.wav");
    std::fs::write(&wav, redscribe_testkit::long_speech(dir.path())).unwrap();
    // One part at a time: the kill lands after the first part is heard and before the last.
    let args = ["--part-seconds", "60", "--concurrency", "1", "--batch-age-ms", "200"];
    let mut served = start_serve(&data, &args, &[]);
    aws(&served.exports, &["s3", "cp", "--only-show-errors", wav.to_str().unwrap(), "s3://recordings/in/lecture.wav"])
        .unwrap();
    let heard = || -> Vec<(String, std::time::SystemTime)> {
        let files = redscribe_testkit::walk(&data.join("s3/recordings/manifests/parts"));
        let files = files.into_iter().filter(|f| f.ends_with(".heard.json"));
        files.map(|f| (f.clone(), std::fs::metadata(&f).unwrap().modified().unwrap())).collect()
    };
    let wait = Instant::now();
    while heard().is_empty() {
        assert!(wait.elapsed() < Duration::from_secs(120), "no part was heard");
        std::thread::sleep(Duration::from_millis(50));
    }
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let before = heard();
    let requests = redscribe_testkit::walk(&data.join("s3/recordings/manifests/parts"));
    let parts = requests.iter().filter(|f| f.ends_with(".part.json")).count();
    assert!(parts >= 2 && before.len() < parts, "{before:?} of {parts}: the kill came too late to test anything");

    let mut served = start_serve(&data, &args, &[]);
    let wait = Instant::now();
    while unacknowledged(&data) > 0 {
        assert!(wait.elapsed() < Duration::from_secs(300), "{} event(s) never acknowledged", unacknowledged(&data));
        std::thread::sleep(Duration::from_millis(200));
    }
    let rows = query(&served.exports, "SELECT status, COUNT(*) FROM transcription_results GROUP BY status");
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!((rows[0][0]["stringValue"].as_str(), rows[0][1]["longValue"].as_i64()), (Some("transcribed"), Some(1)));
    let after = heard();
    assert_eq!(after.len(), parts, "every part heard");
    for (file, when) in &before {
        assert!(after.contains(&(file.clone(), *when)), "{file} was heard again after the restart");
    }
    served.child.kill().unwrap();
    served.child.wait().unwrap();
}
