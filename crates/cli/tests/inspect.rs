//! `redscribe inspect` end to end: real recordings and bad files in, JSON lines out, Parquet and JSON Lines files
//! read back by independent readers (pyarrow and DuckDB, installed by scripts/setup.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

use redscribe_core::schema::results_schema;
use serde_json::Value;

fn redscribe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redscribe"))
}

fn tool(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} ({e}); install the test tools with scripts/setup.sh"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A folder with three good recordings (one with a misleading name) and three bad files.
fn samples(dir: &Path) -> Vec<PathBuf> {
    let p = |name: &str| dir.join(name);
    let s = |path: &Path| path.to_str().unwrap().to_owned();
    tool("espeak-ng", &["-w", &s(&p("call.wav")), "Thank you for calling. How can I help?"]);
    tool("sox", &["-n", "-r", "44100", "-c", "2", &s(&p("music.flac")), "synth", "1.5", "sine", "440"]);
    tool(
        "sox",
        &[
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-t",
            "mp3",
            &s(&p("it's a \"voice\" memo.ogg")),
            "synth",
            "1",
            "sine",
            "300",
        ],
    );
    std::fs::write(p("notes.mp3"), "Not audio at all, just notes.\n").unwrap();
    std::fs::write(p("empty.wav"), b"").unwrap();
    std::fs::write(p("report.wav"), b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n").unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

fn lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn inspect_prints_one_classified_line_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = samples(dir.path());
    let out = redscribe().arg("inspect").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = lines(&out.stdout);
    assert_eq!(lines.len(), files.len());
    let by_name = |name: &str| {
        lines.iter().find(|l| l["file"].as_str().unwrap().ends_with(name)).unwrap_or_else(|| panic!("{name}"))
    };

    let call = by_name("call.wav");
    assert_eq!(call["status"], "ok");
    assert_eq!(call["container"], "wav");
    assert_eq!(call["codec"], "pcm_s16le");
    assert_eq!(call["sample_rate"], 22050);
    assert_eq!(call["channels"], 1);
    assert_eq!(call["bit_rate"], 352_800);
    assert_eq!(call["size_bytes"], std::fs::metadata(dir.path().join("call.wav")).unwrap().len());
    assert!(call["duration_s"].as_f64().unwrap() > 1.0);
    let keys: Vec<&str> = call.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["file", "status", "container", "codec", "duration_s", "sample_rate", "channels", "bit_rate", "size_bytes"]
    {
        assert!(keys.contains(&k), "missing {k}");
    }

    let flac = by_name("music.flac");
    assert_eq!((flac["container"].as_str(), flac["channels"].as_u64()), (Some("flac"), Some(2)));
    assert_eq!(flac["duration_s"], 1.5);
    let memo = by_name("memo.ogg");
    assert_eq!((memo["status"].as_str(), memo["container"].as_str()), (Some("ok"), Some("mp3")));

    for (name, code) in [("notes.mp3", "not_audio"), ("empty.wav", "empty_object"), ("report.wav", "not_audio")] {
        let l = by_name(name);
        assert_eq!(l["status"], "rejected", "{name}");
        assert_eq!(l["error_code"], code, "{name}");
        assert!(!l["message"].as_str().unwrap().is_empty(), "{name}");
        assert!(l.get("container").is_none(), "{name}");
    }
    assert!(by_name("report.wav")["message"].as_str().unwrap().contains("PDF"));
}

#[test]
fn missing_files_are_classified_and_usage_errors_fail() {
    let out = redscribe().args(["inspect", "/no/such/recording.wav"]).output().unwrap();
    assert!(out.status.success());
    let lines = lines(&out.stdout);
    assert_eq!(lines[0]["error_code"], "unreadable");

    let usage = redscribe().arg("inspect").output().unwrap();
    assert_eq!(usage.status.code(), Some(2), "no files is a usage error");
    let bad_flag = redscribe().args(["inspect", "--no-such-flag", "x.wav"]).output().unwrap();
    assert_eq!(bad_flag.status.code(), Some(2));
}

#[test]
fn parquet_and_jsonl_outputs_are_readable_by_other_tools_in_table_order() {
    let dir = tempfile::tempdir().unwrap();
    let files = samples(dir.path());
    let parquet = dir.path().join("out.parquet");
    let jsonl = dir.path().join("out.jsonl");
    let out = redscribe()
        .arg("inspect")
        .arg("--parquet")
        .arg(&parquet)
        .arg("--jsonl")
        .arg(&jsonl)
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = lines(&out.stdout);
    let columns: Vec<String> = results_schema().fields().iter().map(|f| f.name().clone()).collect();

    // pyarrow: schema order and every row.
    let script = r#"
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(json.dumps({"columns": t.column_names, "rows": t.to_pylist()}, default=str))
"#;
    let read: Value = serde_json::from_str(&tool("python3", &["-c", script, parquet.to_str().unwrap()])).unwrap();
    let got_columns: Vec<&str> = read["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(got_columns, columns);
    let rows = read["rows"].as_array().unwrap();
    assert_eq!(rows.len(), printed.len());
    for (row, line) in rows.iter().zip(&printed) {
        let file = Path::new(line["file"].as_str().unwrap());
        assert_eq!(row["object_key"], std::path::absolute(file).unwrap().to_str().unwrap());
        assert_eq!(row["bucket"], "local");
        assert_eq!(row["id"].as_str().unwrap().len(), 32);
        if line["status"] == "ok" {
            assert_eq!(row["status"], "metadata_only");
            for k in ["container", "codec", "duration_s", "sample_rate", "channels", "bit_rate"] {
                assert_eq!(row[k], line[k], "{k}");
            }
            assert!(row["error_code"].is_null());
        } else {
            assert_eq!(row["status"], "failed");
            assert_eq!(row["error_code"], line["error_code"]);
            assert_eq!(row["error_message"], line["message"]);
        }
    }

    // DuckDB: the same file answers SQL, and the JSON Lines file holds the same rows.
    let sql = format!(
        "select status, count(*) as n from read_parquet('{}') group by status order by status",
        parquet.display()
    );
    let script = r#"
import json, sys, duckdb
print(json.dumps(duckdb.sql(sys.argv[1]).fetchall()))
"#;
    let counts: Value = serde_json::from_str(&tool("python3", &["-c", script, &sql])).unwrap();
    assert_eq!(counts, serde_json::json!([["failed", 3], ["metadata_only", 3]]));
    let sql = format!("select count(*), count(distinct id) from read_json_auto('{}')", jsonl.display());
    let counts: Value = serde_json::from_str(&tool("python3", &["-c", script, &sql])).unwrap();
    assert_eq!(counts, serde_json::json!([[6, 6]]));
    let first_jsonl: serde_json::Map<String, Value> =
        serde_json::from_str(std::fs::read_to_string(&jsonl).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first_jsonl["id"], rows[0]["id"]);
}
