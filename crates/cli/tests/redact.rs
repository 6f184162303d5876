//! PII redaction end to end: a call that reads out a card number, a phone number and an e-mail address, through
//! `redscribe run --redact pii` (the local pipeline, with the model): the row, its segments, its words and its
//! subtitles carry tags, `pii_redacted` counts them, and no file the pipeline wrote — results, parts, manifests,
//! metrics, the warehouse — holds the values. Without `--redact` the same call keeps them (so the search below can
//! find them when they are there). An uploader asks for redaction in the object's metadata (`x-amz-meta-redact`,
//! put with the real `aws` CLI), and cannot turn off what the deployment requires. With `pii,audio` a WAV copy of
//! the call is written with the values silenced: as long as the call, and heard again it says none of them.

use std::path::Path;

/// tiny.en writes the card as "4,111.", the phone number as "5 5 5 0 1 9." and the address as
/// "jain.do.example.com.": what the rules meet in practice.
const CALL: &str = "Thank you for calling. My card number is 4111 1111 1111 1111. \
                    You can reach me on five five five, zero one nine nine. \
                    My email is jane dot doe at example dot com. Goodbye.";

/// The call in its pieces, the values apart (said by espeak-ng one piece at a time and joined, so that where each
/// value is in the audio is known to the sample).
const PIECES: [(&str, bool); 7] = [
    ("Thank you for calling. My card number is", false),
    ("4111 1111 1111 1111.", true),
    ("You can reach me on", false),
    ("five five five, zero one nine nine.", true),
    ("My email is", false),
    ("jane dot doe at example dot com.", true),
    ("Goodbye.", false),
];

/// The call as one WAV, and the frames each value fills (less espeak-ng's quiet lead-in and tail of 50 ms).
fn pieced_call(dir: &Path) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mut samples: Vec<i16> = Vec::new();
    let mut values = Vec::new();
    let mut spec = None;
    for (text, is_value) in PIECES {
        let wav = redscribe_testkit::speech(dir, text);
        let reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
        let rate = reader.spec().sample_rate as usize;
        spec = Some(reader.spec());
        let piece: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
        if is_value {
            values.push(samples.len() + rate / 20..samples.len() + piece.len() - rate / 20);
        }
        samples.extend(piece);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec.unwrap()).unwrap();
    samples.iter().for_each(|&s| writer.write_sample(s).unwrap());
    writer.finalize().unwrap();
    (out.into_inner(), values)
}

/// What of the values a transcript of the call may hold, as the model writes them.
const VALUES: [&str; 7] = ["4,111", "4111", "1111", "5 5 5", "555", "jain", "example"];

mod common;
use common::{aws, duckdb, query_until, run_local as run, start_serve, stop};

/// Files under `dir` (the recordings themselves left out) whose bytes hold `needle` as a word: not inside a run of
/// letters and digits, where an ETag, a sequencer or a base64 name holds "555" by chance.
fn holding(dir: &Path, needle: &str) -> Vec<String> {
    let apart = |b: Option<&u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric());
    files_under(dir)
        .into_iter()
        .filter(|path| path.extension().is_none_or(|e| e != "wav"))
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap();
            bytes.windows(needle.len()).enumerate().any(|(i, w)| {
                w.eq_ignore_ascii_case(needle.as_bytes())
                    && apart(i.checked_sub(1).and_then(|k| bytes.get(k)))
                    && apart(bytes.get(i + needle.len()))
            })
        })
        .map(|path| path.display().to_string())
        .collect()
}

#[test]
fn a_redacted_call_keeps_its_values_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let (call, values) = pieced_call(dir.path());
    std::fs::write(input.join("call.wav"), call).unwrap();

    // Not redacted: the values are in the table, and the search finds them in the files.
    let plain = dir.path().join("plain");
    run(&plain, &input, &[]);
    let text = duckdb(
        &plain.join("warehouse/redscribe.duckdb"),
        "select text, pii_redacted from public.transcription_results",
    );
    assert!(text.contains("111") && text.contains("None)"), "{text}");
    assert!(VALUES.iter().any(|v| !holding(&plain, v).is_empty()));

    let data = dir.path().join("redacted");
    run(&data, &input, &["--redact", "pii,audio"]);
    let db = data.join("warehouse/redscribe.duckdb");
    let row = duckdb(&db, "select text, pii_redacted from public.transcription_results");
    assert!(row.contains("[CREDIT_DEBIT_NUMBER]") && row.contains("[PHONE]") && row.contains("[EMAIL]"), "{row}");
    assert!(row.contains(r#""CREDIT_DEBIT_NUMBER":1"#) && row.contains(r#""EMAIL":1"#), "{row}");
    let words =
        duckdb(&db, "select string_agg(word, ' ' order by segment_index, word_index) from public.transcription_words");
    assert!(words.contains("[CREDIT_DEBIT_NUMBER]") && words.contains("[EMAIL]"), "{words}");
    let segments =
        duckdb(&db, "select string_agg(text, ' ' order by segment_index) from public.transcription_segments");
    assert!(segments.contains("[CREDIT_DEBIT_NUMBER]"), "{segments}");
    for value in VALUES {
        assert_eq!(holding(&data, value), Vec::<String>::new(), "{value} was written");
    }
    // The subtitles carry the tags too.
    let vtt: Vec<String> = std::fs::read_dir(data.join("s3/recordings/processed/subtitles"))
        .unwrap()
        .flat_map(|day| std::fs::read_dir(day.unwrap().path()).unwrap())
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert!(vtt.iter().all(|v| v.contains("[CREDIT_DEBIT_NUMBER]")), "{vtt:?}");

    // The silenced copy: one, as long as the call and in its format, and heard again it says none of the values
    // and all of the rest.
    let copies = files_under(&data.join("s3/recordings/processed/redacted-audio"));
    assert_eq!(copies.len(), 1, "{copies:?}");
    let (original, copy) = (wav_shape(&input.join("call.wav")), wav_shape(&copies[0]));
    assert_eq!(copy, original);
    // Where each value was said, the copy is silent, to the sample; the greeting before them is the call's.
    let samples: Vec<i16> = hound::WavReader::open(&copies[0]).unwrap().into_samples().map(Result::unwrap).collect();
    for range in &values {
        let heard = samples[range.clone()].iter().filter(|&&s| s != 0).count();
        assert_eq!(heard, 0, "{heard} samples of the value at frames {range:?} are not silenced");
    }
    let greeting = &samples[..values[0].start / 2];
    assert!(greeting.iter().filter(|&&s| s != 0).count() > greeting.len() / 2, "the greeting was silenced too");
    let heard = transcribe(&copies[0]);
    for value in VALUES {
        assert!(!heard.contains(value), "{value} is still heard in the silenced copy: {heard}");
    }
    for kept in ["calling", "card", "reach"] {
        assert!(heard.to_lowercase().contains(kept), "{kept} was silenced too: {heard}");
    }
}

/// Every file under `dir`, however deep.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// A WAV file's (channels, sample rate, frames), read by Python's own `wave` module.
fn wav_shape(path: &Path) -> (u32, u32, u64) {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, wave\nw = wave.open(sys.argv[1])\nprint(w.getnchannels(), w.getframerate(), w.getnframes())",
        ])
        .arg(path)
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let n: Vec<u64> = text.split_whitespace().map(|v| v.parse().unwrap()).collect();
    (n[0] as u32, n[1] as u32, n[2])
}

/// What `redscribe transcribe` hears in a file, unredacted.
fn transcribe(path: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redscribe")).arg("transcribe").arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    line["text"].as_str().unwrap().to_string()
}

/// Each row as (key, what `pii_redacted` says, whether the text holds a tag, whether it holds a digit).
fn verdicts(csv: &str) -> Vec<(String, String, bool, bool)> {
    let mut rows = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    rows.records()
        .map(|r| {
            let r = r.unwrap();
            let text = &r[2];
            (r[0].to_string(), r[1].to_string(), text.contains("]"), text.chars().any(|c| c.is_ascii_digit()))
        })
        .collect()
}

#[test]
fn an_upload_can_ask_for_redaction_and_cannot_turn_off_what_the_deployment_requires() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("call.wav");
    std::fs::write(&wav, redscribe_testkit::speech(dir.path(), CALL)).unwrap();
    let wav = wav.to_str().unwrap();
    let sql = "select object_key, pii_redacted, text from transcription_results order by object_key";

    // The deployment does not redact; one upload asks for it.
    let served = start_serve(&dir.path().join("open"), &[], &[]);
    // One after the other: two recordings heard at once by one engine have come out cut short (the note of
    // session 14; under investigation), which this test is not about.
    // JSON: the CLI's shorthand (`redact=pii,audio`) reads the comma as a list.
    aws(&served, &["s3", "cp", wav, "s3://recordings/in/asked.wav", "--metadata", r#"{"redact":"pii,audio"}"#]);
    query_until(&served, sql, 1);
    aws(&served, &["s3", "cp", wav, "s3://recordings/in/plain.wav"]);
    let rows = query_until(&served, sql, 2);
    // The one that asked for it has a silenced copy; the other none.
    let copies = aws(&served, &["s3", "ls", "--recursive", "s3://recordings/processed/redacted-audio/"]);
    stop(served);
    assert_eq!(copies.lines().count(), 1, "{copies}");
    assert!(copies.trim_end().ends_with(".wav"), "{copies}");
    let seen = verdicts(&rows);
    assert_eq!(seen.len(), 2, "{rows}");
    let (asked, plain) = (&seen[0], &seen[1]);
    assert!(asked.0 == "in/asked.wav" && asked.1.contains("\"PHONE\"") && asked.2 && !asked.3, "{rows}");
    assert!(plain.0 == "in/plain.wav" && plain.1.is_empty() && !plain.2 && plain.3, "{rows}");

    // The deployment redacts; an upload that says off is redacted all the same.
    let served = start_serve(&dir.path().join("closed"), &[], &[("REDSCRIBE_REDACT", "pii")]);
    aws(&served, &["s3", "cp", wav, "s3://recordings/in/off.wav", "--metadata", "redact=off"]);
    let rows = query_until(&served, sql, 1);
    stop(served);
    let off = &verdicts(&rows)[0];
    assert!(off.0 == "in/off.wav" && off.1.contains("\"PHONE\"") && off.2 && !off.3, "{rows}");
}
