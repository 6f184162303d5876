//! `redscribe serve` as a process for the CLI's tests: started on loopback port 0 over a data folder, with the
//! endpoint and the `aws` CLI environment it prints. Each test binary uses some of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `serve`.
pub struct Served {
    pub child: Child,
    /// Its S3 endpoint.
    pub endpoint: String,
    /// `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` and `AWS_PROFILE` of the profile it wrote.
    pub exports: Vec<(String, String)>,
}

/// Starts `redscribe serve` over `data` with `extra` arguments and `env`, and waits for its profile line.
pub fn start_serve(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_redscribe"))
        .args(["serve", "--s3-addr", "127.0.0.1:0", "--data-api-addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .envs(env.iter().copied())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut endpoint, mut exports) = (None, Vec::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(e) = line.trim().strip_prefix("S3 endpoint:") {
            endpoint = Some(e.trim().to_owned());
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
    Served { child, endpoint: endpoint.expect("serve printed its S3 endpoint"), exports }
}
