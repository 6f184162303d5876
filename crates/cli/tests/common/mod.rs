//! `redscribe serve` as a process for the CLI's tests: started on loopback port 0 over a data folder, with the
//! endpoint and the `aws` CLI environment it prints; `redscribe run` over a folder, and the warehouse it leaves read
//! with DuckDB's own Python package. Each test binary uses some of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `serve`.
pub struct Served {
    pub child: Child,
    /// Its S3 endpoint.
    pub endpoint: String,
    /// The address of its dashboard page.
    pub dashboard: String,
    /// `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` and `AWS_PROFILE` of the profile it wrote.
    pub exports: Vec<(String, String)>,
    /// What it printed, up to its profile line.
    pub printed: Vec<String>,
}

/// Starts `redscribe serve` over `data` with `extra` arguments and `env`, and waits for its profile line.
pub fn start_serve(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["serve", "--s3-addr", "127.0.0.1:0", "--data-api-addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut endpoint, mut dashboard, mut exports, mut printed) = (None, None, Vec::new(), Vec::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push(line.clone());
        if let Some(e) = line.trim().strip_prefix("S3 endpoint:") {
            endpoint = Some(e.trim().to_owned());
        }
        if let Some(url) = line.trim().strip_prefix("dashboard:") {
            dashboard = Some(url.trim().to_owned());
        }
        if let Some(vars) = line.trim().strip_prefix("export ") {
            exports = vars
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served {
        child,
        endpoint: endpoint.expect("serve printed its S3 endpoint"),
        dashboard: dashboard.expect("serve printed its dashboard's address"),
        exports,
        printed,
    }
}

/// Runs the real `aws` CLI with the served profile.
fn aws_output(served: &Served, args: &[&str]) -> std::process::Output {
    Command::new("aws")
        .args(args)
        .envs(served.exports.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the aws CLI ({e}); install it with scripts/setup.sh"))
}

/// Runs the real `aws` CLI with the served profile and returns its stdout.
pub fn aws(served: &Served, args: &[&str]) -> String {
    let out = aws_output(served, args);
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the real `aws` CLI for a call expected to fail, and returns its error.
pub fn aws_fails(served: &Served, args: &[&str]) -> String {
    let out = aws_output(served, args);
    assert!(!out.status.success(), "aws {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stops `serve` with SIGTERM and checks that it exits cleanly.
pub fn stop(mut served: Served) {
    let pid = served.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = served.child.wait().unwrap();
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");
}

/// The data of every panel of the served dashboard, as its page fetches it (with curl).
pub fn dashboard_panels(served: &Served) -> serde_json::Value {
    let out = Command::new("curl").args(["-sSf", &format!("{}api/panels", served.dashboard)]).output().unwrap();
    assert!(out.status.success(), "{}: {}", served.dashboard, String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs the `redscribe` binary with the served profile and returns its stdout.
pub fn redscribe(served: &Served, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(args)
        .envs(served.exports.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL_REDSHIFT_DATA")
        .output()
        .unwrap();
    assert!(out.status.success(), "redscribe {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Polls `sql` through `redscribe query` (CSV) until it returns at least `rows` rows, and returns the CSV.
pub fn query_until(served: &Served, sql: &str, rows: usize) -> String {
    query_while(served, sql, |csv| csv.lines().count() > rows)
}

/// Polls `sql` through `redscribe query` (CSV) until `done` holds of it (a minute at most); the last CSV.
pub fn query_while(served: &Served, sql: &str, done: impl Fn(&str) -> bool) -> String {
    let mut csv = String::new();
    for _ in 0..600 {
        csv = redscribe(served, &["query", "--format", "csv", sql]);
        if done(&csv) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    csv
}

/// `redscribe run` over `input` into the data folder `data`, with `extra` arguments, without AWS credentials; what
/// it printed.
pub fn run_local(data: &Path, input: &Path, extra: &[&str]) -> String {
    let input = input.to_str().expect("a UTF-8 path");
    redscribe_in(data, &[&["run"], extra, &[input]].concat())
}

/// Runs the `redscribe` binary over the local stand-ins' data folder `data`, without AWS credentials; what it
/// printed.
pub fn redscribe_in(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "redscribe {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Rows of `sql` over the DuckDB file `db`, as Python prints them, read by DuckDB's own package (an independent
/// reader of what the Data API stand-in wrote).
pub fn duckdb(db: &Path, sql: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, duckdb; print(duckdb.connect(sys.argv[1], read_only=True).sql(sys.argv[2]).fetchall())",
        ])
        .arg(db)
        .arg(sql)
        .output()
        .expect("python3 with duckdb (scripts/setup.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
