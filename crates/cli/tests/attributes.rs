//! Recordings as business data: the real `aws` CLI uploads to `redscribe serve` with keys that match the
//! deployment's key pattern, keys that do not, a hostile key, user metadata and object tags; each recording's
//! attributes land in `transcription_attributes` beside its row, the well-known ones in the row's columns, and a
//! new upload of a key replaces them all.

mod common;

use common::{aws, aws_fails, query_while, redscribe, start_serve, stop};

const PATTERN: &str =
    r"in/(?P<queue>[^/]+)/(?P<recorded_at>\d{8}T\d{6})_agent-(?P<agent_id>[^_]+)_(?P<call_id>[0-9a-f-]{36})\.wav";
const CALL: &str = "3f2c8a52-9a1e-4c1b-8d3e-0c2f5b7a9d10";
const OTHER_CALL: &str = "0b1d7c3e-5f2a-4e8b-9c6d-1a2b3c4d5e6f";

#[test]
fn keys_metadata_and_tags_become_attributes_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("call.wav");
    std::fs::write(&wav, redscribe_testkit::tone_wav(8000, 0.5)).unwrap();
    let wav = wav.to_str().unwrap();
    let served = start_serve(&dir.path().join("data"), &["--no-transcribe"], &[("REDSCRIBE_KEY_PATTERN", PATTERN)]);

    let matching = format!("in/sales/20261201T091500_agent-042_{CALL}.wav");
    let hostile = format!("in/support/20261202T100000_agent-O'Brien; drop table x; --é_{OTHER_CALL}.wav");
    let unmatched = "in/misc/voicemail.wav";
    let put = |key: &str, extra: &[&str]| {
        let mut args = vec!["s3api", "put-object", "--bucket", "recordings", "--key", key, "--body", wav];
        args.extend_from_slice(extra);
        aws(&served, &args);
    };
    put(&matching, &["--metadata", "campaign=winter", "--tagging", "tier=gold"]);
    // The uploader's metadata wins over the key for a typed column.
    put(&hostile, &["--metadata", "agent_id=777"]);
    put(unmatched, &["--tagging", "campaign=spring&tier=silver&retention=7%20years"]);
    // S3's limits on tags hold here: eleven are refused, and nothing is uploaded.
    let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    let refused = aws_fails(
        &served,
        &[
            "s3api",
            "put-object",
            "--bucket",
            "recordings",
            "--key",
            "in/x/y.wav",
            "--body",
            wav,
            "--tagging",
            &eleven.join("&"),
        ],
    );
    assert!(refused.contains("InvalidTag"), "{refused}");

    let rows = query_while(
        &served,
        "select object_key, recorded_at, call_id, agent_id from transcription_results order by object_key",
        |csv| csv.lines().count() > 3,
    );
    let rows: Vec<&str> = rows.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[0].starts_with("in/misc/voicemail.wav,,,"), "no pattern match, no typed columns: {rows:?}");
    assert!(rows[1].contains("2026-12-01") && rows[1].contains("09:15:00"), "{}", rows[1]);
    assert!(rows[1].ends_with(&format!(",{CALL},042")), "{}", rows[1]);
    assert!(rows[2].contains("2026-12-02") && rows[2].ends_with(&format!(",{OTHER_CALL},777")), "{}", rows[2]);

    let attributes = redscribe(
        &served,
        &[
            "query",
            "--format",
            "csv",
            "select r.object_key, a.source, a.name, a.value from transcription_results r \
             join transcription_attributes a on a.id = r.id order by 1, 2, 3",
        ],
    );
    let expected = [
        "in/misc/voicemail.wav,tag,campaign,spring".to_string(),
        "in/misc/voicemail.wav,tag,retention,7 years".into(),
        "in/misc/voicemail.wav,tag,tier,silver".into(),
        format!("{matching},key,agent_id,042"),
        format!("{matching},key,call_id,{CALL}"),
        format!("{matching},key,queue,sales"),
        format!("{matching},key,recorded_at,20261201T091500"),
        format!("{matching},metadata,campaign,winter"),
        format!("{matching},tag,tier,gold"),
    ];
    let got: Vec<&str> = attributes.lines().skip(1).collect();
    assert_eq!(got[..expected.len()], expected, "{attributes}");
    // The hostile key's agent is kept as written, quote, semicolon and all.
    let hostile_rows: Vec<&&str> = got[expected.len()..].iter().collect();
    assert_eq!(hostile_rows.len(), 5, "{attributes}");
    assert!(hostile_rows.iter().any(|r| r.ends_with(",key,agent_id,O'Brien; drop table x; --é")), "{hostile_rows:?}");
    assert!(hostile_rows.iter().any(|r| r.ends_with(",metadata,agent_id,777")), "{hostile_rows:?}");

    // The join users write: a row with its agent.
    let joined = redscribe(
        &served,
        &[
            "query",
            "--format",
            "csv",
            "select r.object_key, a.value as agent from transcription_results r \
             join transcription_attributes a on a.id = r.id and a.name = 'agent_id' and a.source = 'key' \
             where r.call_id = '3f2c8a52-9a1e-4c1b-8d3e-0c2f5b7a9d10'",
        ],
    );
    assert_eq!(joined.lines().nth(1), Some(format!("{matching},042").as_str()), "{joined}");

    // A new upload of the key is a new recording: its attributes replace the old (no tag, no metadata now).
    put(&matching, &[]);
    let sql = format!(
        "select a.source, a.name from transcription_attributes a join transcription_results r on a.id = r.id \
         where r.object_key = '{matching}' order by 1, 2"
    );
    let now = query_while(&served, &sql, |csv| !csv.contains("tag,tier"));
    stop(served);
    assert_eq!(
        now.lines().skip(1).collect::<Vec<_>>(),
        ["key,agent_id", "key,call_id", "key,queue", "key,recorded_at"],
        "{now}"
    );
}

/// Deleting a recording erases it: its row becomes a tombstone (`erased`, nothing of its content), its segments,
/// words and attributes go in the same load, every object the pipeline wrote of it goes (its quarantine record too,
/// so a replay has nothing to bring back), and a new upload of the key is a new recording.
#[test]
fn a_deleted_recording_is_erased_from_the_warehouse_and_can_come_again() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("call.wav");
    std::fs::write(&wav, redscribe_testkit::speech(dir.path(), "Thank you for calling. Your invoice is ready."))
        .unwrap();
    let wav = wav.to_str().unwrap();
    let broken = dir.path().join("broken.wav");
    std::fs::write(&broken, b"not a recording at all").unwrap();
    let served = start_serve(&dir.path().join("data"), &[], &[("REDSCRIBE_KEY_PATTERN", r"in/(?P<queue>[^/]+)/.*")]);
    let key = "s3://recordings/in/sales/call.wav";
    let sql = "select r.status, r.text is null as no_text, \
               (select count(*) from transcription_segments s where s.id = r.id) as segments, \
               (select count(*) from transcription_words w where w.id = r.id) as words, \
               (select count(*) from transcription_attributes a where a.id = r.id) as attributes \
               from transcription_results r";
    // A first upload that is not audio (quarantined), then the recording itself.
    aws(&served, &["s3", "cp", broken.to_str().unwrap(), key]);
    query_while(&served, sql, |csv| csv.contains("failed"));
    aws(&served, &["s3", "cp", wav, key, "--metadata", "campaign=winter"]);
    let heard = query_while(&served, sql, |csv| csv.contains("transcribed"));
    let counts: Vec<&str> = heard.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(counts[..2], ["transcribed", "false"], "{heard}");
    assert!(counts[2..].iter().all(|n| *n != "0"), "segments, words and attributes first: {heard}");
    let id = redscribe(&served, &["query", "--format", "csv", "select id from transcription_results"]);
    let id = id.lines().nth(1).unwrap().to_string();
    // What the pipeline keeps of the recording, outside the recordings' prefix.
    let kept = || -> Vec<String> {
        let listing = aws(&served, &["s3", "ls", "--recursive", "s3://recordings/"]);
        let keys = listing.lines().filter_map(|l| l.split_whitespace().nth(3).map(str::to_string));
        keys.filter(|k| k.contains(&id) && !k.starts_with("in/")).collect()
    };
    let before = kept();
    for prefix in ["processed/transcription_results/", "processed/transcription_words/", "rejected/not_audio/"] {
        assert!(before.iter().any(|k| k.starts_with(prefix)), "{prefix} in {before:?}");
    }
    let replayable = ["replay", "--dry-run", "--aws", "--s3-path-style"];
    assert!(redscribe(&served, &replayable).contains("1 record(s) would be replayed"));

    aws(&served, &["s3", "rm", key]);
    let erased = query_while(&served, sql, |csv| csv.contains("erased"));
    assert_eq!(erased, "status,no_text,segments,words,attributes\nerased,true,0,0,0\n");
    let tombstone = redscribe(
        &served,
        &[
            "query",
            "--format",
            "csv",
            "select uploaded_at is null, model is null, duration_s is null from transcription_results",
        ],
    );
    assert_eq!(tombstone.lines().nth(1), Some("true,true,true"), "{tombstone}");
    // Of the recording, only the erasure's own result file is left (what the tombstone row holds); its quarantine
    // record went with the rest, so a replay brings nothing back.
    let after = kept();
    assert_eq!(after.len(), 1, "{after:?} of {before:?}");
    assert!(after[0].starts_with("processed/transcription_results/"), "{after:?}");
    assert!(!before.contains(&after[0]), "the erasure's file is a file of its own: {after:?}");
    assert!(redscribe(&served, &replayable).contains("0 record(s) would be replayed"));
    let audit = redscribe(
        &served,
        &["query", "--format", "csv", "select error_message from load_audit where status = 'erased'"],
    );
    assert!(audit.contains(&format!("erasure: {} object versions of the recording deleted", before.len())), "{audit}");

    // The key uploaded again is a new recording: heard and loaded over the tombstone.
    aws(&served, &["s3", "cp", wav, key]);
    let again = query_while(&served, sql, |csv| csv.contains("transcribed"));
    stop(served);
    assert!(again.lines().nth(1).unwrap().starts_with("transcribed,false,"), "{again}");
    assert!(again.trim_end().ends_with(",1"), "the new upload's attributes (its key's), not the old metadata: {again}");
}
