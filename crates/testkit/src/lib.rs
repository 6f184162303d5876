//! What redscribe's integration tests share, so each test file says only what it checks: the S3 and Data API
//! stand-ins started together on loopback port 0 over a temporary folder, SDK configurations and adapters pointed
//! at them, a Lambda binary run as a process with its output collected, and test audio; [`stack`]: the SAM
//! template deployed into moto and read back.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redscribe_aws::redshift::{DataApi, WarehouseTarget};
use redscribe_aws::s3::S3Objects;
use redscribe_core::ports::{ListedObject, Metadata, ObjectStore, PortError, StoredObject};
use redscribe_local::s3::Delivery;
use redscribe_local::{stand_ins, Credentials, StandInsConfig};

pub mod stack;

/// The cache folder `scripts/setup.sh` installs into: `$REDSCRIBE_CACHE`, else `~/.cache/redscribe`.
pub fn cache_dir() -> PathBuf {
    redscribe_core::settings::cache_dir_from_env()
}

/// An object store whose reads of one key fail with `error`, every time and whatever the retries (a throttled
/// key, a bug one object triggers); everything else goes to `inner`.
pub struct FailingReads {
    pub inner: Arc<S3Objects>,
    pub key: &'static str,
    pub error: PortError,
}

#[async_trait::async_trait]
impl ObjectStore for FailingReads {
    async fn get(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<StoredObject, PortError> {
        if key == self.key {
            return Err(self.error.clone());
        }
        self.inner.get(bucket, key, version_id).await
    }

    async fn put_with(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<(), PortError> {
        self.inner.put_with(bucket, key, body, content_type, metadata).await
    }

    async fn tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, PortError> {
        self.inner.tags(bucket, key, version_id).await
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ListedObject>, PortError> {
        self.inner.list(bucket, prefix).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        self.inner.delete(bucket, key).await
    }

    async fn delete_versions(&self, bucket: &str, prefix: &str) -> Result<usize, PortError> {
        self.inner.delete_versions(bucket, prefix).await
    }
}

/// Runs the real `aws` CLI with `env` (endpoints and credentials) and returns its JSON output (`null` for none).
pub fn aws_with(env: &[(&str, String)], args: &[&str]) -> serde_json::Value {
    let output = Command::new("aws")
        .args(args)
        .args(["--output", "json"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("AWS_PROFILE")
        .output()
        .expect("the aws CLI (scripts/setup.sh)");
    assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    if output.stdout.iter().all(u8::is_ascii_whitespace) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&output.stdout).expect("JSON from the aws CLI")
}

/// The bucket the stand-ins start with.
pub const BUCKET: &str = "recordings";

/// The stand-ins ([`redscribe_local::StandIns`], the bundle the CLI starts too) over a temporary folder, on
/// loopback port 0: S3 (raising an event for every upload) and, when asked for, the Data API.
pub struct StandIns {
    pub dir: tempfile::TempDir,
    services: redscribe_local::StandIns,
}

impl std::ops::Deref for StandIns {
    type Target = redscribe_local::StandIns;

    fn deref(&self) -> &redscribe_local::StandIns {
        &self.services
    }
}

impl std::ops::DerefMut for StandIns {
    fn deref_mut(&mut self) -> &mut redscribe_local::StandIns {
        &mut self.services
    }
}

impl StandIns {
    async fn start_with(data_api: bool) -> StandIns {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut config = StandInsConfig::loopback(dir.path(), BUCKET, Credentials::generate());
        if !data_api {
            config.data_api_addr = None;
        }
        let services = redscribe_local::StandIns::start(config).await.expect("the stand-ins");
        StandIns { dir, services }
    }

    /// The S3 stand-in alone.
    pub async fn s3() -> StandIns {
        StandIns::start_with(false).await
    }

    /// Both stand-ins.
    pub async fn start() -> StandIns {
        StandIns::start_with(true).await
    }

    /// The stand-ins, and the folder they keep their data in (dropped, it is removed).
    pub fn into_parts(self) -> (tempfile::TempDir, redscribe_local::StandIns) {
        (self.dir, self.services)
    }

    /// Files under `prefix` of the bucket (hidden files of the stand-in left out).
    pub fn files(&self, prefix: &str) -> Vec<String> {
        walk(&self.bucket_dir(BUCKET).join(prefix))
    }

    /// An SDK configuration for an endpoint of the stand-ins, signed with their credentials.
    pub async fn sdk_config(&self, endpoint: &str) -> aws_config::SdkConfig {
        let c = &self.credentials;
        redscribe_aws::config::local(endpoint, stand_ins::REGION, &c.access_key_id, &c.secret_access_key).await
    }

    /// The S3 adapter, path-style, against the stand-in.
    pub async fn store(&self) -> Arc<S3Objects> {
        Arc::new(S3Objects::from_conf(&self.sdk_config(&self.s3.endpoint_url()).await, true))
    }

    /// The Data API adapter against the stand-in (the workgroup `local`, database `dev`).
    pub async fn warehouse(&self) -> Arc<DataApi> {
        let api = self.data_api.as_ref().expect("started with StandIns::start");
        let target = WarehouseTarget {
            workgroup: Some("local".into()),
            cluster: None,
            database: "dev".into(),
            db_user: None,
            secret_arn: None,
        };
        let conf = self.sdk_config(&api.endpoint_url()).await;
        Arc::new(
            DataApi::from_conf(&conf, target).expect("a valid target").with_statement_timeout(Duration::from_secs(60)),
        )
    }

    /// What a Lambda function needs in its environment to reach the stand-ins.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", self.credentials.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.credentials.secret_access_key.clone()),
            ("AWS_ENDPOINT_URL_S3", self.s3.endpoint_url()),
            ("REDSCRIBE_S3_PATH_STYLE", "true".to_string()),
            ("S3_BUCKET", BUCKET.to_string()),
        ];
        if let Some(api) = &self.data_api {
            env.push(("AWS_ENDPOINT_URL_REDSHIFT_DATA", api.endpoint_url()));
        }
        env
    }

    pub async fn stop(self) {
        self.services.stop().await;
    }
}

/// A Lambda binary running as a process, its stdout and stderr lines collected as they come. Killed on drop.
pub struct Function {
    child: Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Function {
    /// Starts `binary` against the Runtime API at `runtime_api`, named `name`, with `env` on top of the usual
    /// Lambda variables (and no AWS profile).
    pub fn start(binary: &str, name: &str, runtime_api: &str, env: &[(&str, String)]) -> Function {
        let mut child = Command::new(binary)
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env_remove("AWS_PROFILE")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e}"));
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
            lines
        };
        let stdout = collect(Box::new(child.stdout.take().expect("piped")));
        let stderr = collect(Box::new(child.stderr.take().expect("piped")));
        Function { child, stdout, stderr }
    }

    /// Waits up to `timeout` for the process to end; how it ended, if it did.
    pub async fn exited(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The JSON documents among its stdout lines that are EMF (carry `_aws`).
    pub fn emf(&self) -> Vec<serde_json::Value> {
        parse_lines(&self.stdout).into_iter().filter(|v| v.get("_aws").is_some()).collect()
    }

    /// Its JSON log lines.
    pub fn logs(&self) -> Vec<serde_json::Value> {
        parse_lines(&self.stderr)
    }

    /// Its log lines as the events CloudWatch Logs keeps of them (each stamped with the time in the line, as
    /// Lambda stamps it when the line is written), for running the Logs Insights queries over.
    pub fn log_events(&self) -> Vec<redscribe_local::logs_insights::LogEvent> {
        let stream = format!("{}/[$LATEST]{}", chrono::Utc::now().format("%Y/%m/%d"), self.child.id());
        let mut last_ms = 0;
        let lines = self.stderr.lock().unwrap();
        lines
            .iter()
            .map(|line| {
                let stamped = serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| {
                    chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str()?).ok().map(|t| t.timestamp_millis())
                });
                last_ms = stamped.unwrap_or(last_ms);
                redscribe_local::logs_insights::LogEvent {
                    timestamp_ms: last_ms,
                    message: line.clone(),
                    log_stream: stream.clone(),
                }
            })
            .collect()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the shipped Logs Insights query `dashboards/queries/<name>.logsinsights` over `events` (with `replace`'s
/// pairs substituted in its text first, as a user fills in an id), and returns its rows as field → value maps.
pub fn logs_insights(
    name: &str,
    replace: &[(&str, &str)],
    events: &[redscribe_local::logs_insights::LogEvent],
) -> Vec<std::collections::BTreeMap<String, String>> {
    let path = stack::repo_root().join("dashboards/queries").join(format!("{name}.logsinsights"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (from, to) in replace {
        assert!(text.contains(from), "{name} has no {from}");
        text = text.replace(from, to);
    }
    let query = redscribe_local::logs_insights::Query::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    query.run(events).into_iter().map(|row| row.into_iter().collect()).collect()
}

fn parse_lines(lines: &Mutex<Vec<String>>) -> Vec<serde_json::Value> {
    lines.lock().unwrap().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Files under `dir`, recursively (names starting with `.` left out).
pub fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                out.push(p.display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Polls `check` every 50 ms for up to 10 s.
pub async fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = check() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out")
}

/// The 44-byte header of a 16-bit PCM WAV of `frames` frames, with room for its samples after it.
fn wav_header(rate: u32, channels: u16, frames: usize) -> Vec<u8> {
    let block = 2 * u32::from(channels);
    let data_len = frames as u32 * block;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * block).to_le_bytes());
    out.extend_from_slice(&(block as u16).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out
}

/// A 16-bit PCM mono WAV of a 440 Hz tone.
pub fn tone_wav(rate: u32, seconds: f32) -> Vec<u8> {
    let samples: Vec<i16> = (0..(rate as f32 * seconds) as usize)
        .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 12_000.0) as i16)
        .collect();
    let mut out = wav_header(rate, 1, samples.len());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// A 16-bit PCM stereo WAV: the same 440 Hz tone in both channels (`same`: one sound stored twice), or a 440 Hz
/// tone on the left and a 660 Hz one on the right (a call: a speaker per channel).
pub fn stereo_wav(rate: u32, seconds: f32, same: bool) -> Vec<u8> {
    let tone = |hz: f32, i: usize| ((i as f32 * hz * std::f32::consts::TAU / rate as f32).sin() * 12_000.0) as i16;
    let frames = (rate as f32 * seconds) as usize;
    let mut out = wav_header(rate, 2, frames);
    for i in 0..frames {
        out.extend_from_slice(&tone(440.0, i).to_le_bytes());
        out.extend_from_slice(&tone(if same { 440.0 } else { 660.0 }, i).to_le_bytes());
    }
    out
}

/// About two minutes of `espeak-ng` speech: thirty-six numbered sentences ("Item 1 is the budget report for
/// February, and it is ready."), a pause after each: a long recording to cut into parts, whose first and last
/// words are known.
pub fn long_speech(dir: &Path) -> Vec<u8> {
    let months = ["January", "February", "March", "April", "May", "June", "July", "August"];
    let text: Vec<String> = (1..=36)
        .map(|n| format!("Item {n} is the budget report for {}, and it is ready.", months[n % months.len()]))
        .collect();
    speech(dir, &text.join(" "))
}

/// `minutes` of a recording that is long but cheap to hear: one spoken sentence every `every_s` seconds and
/// silence between, at 8 kHz, in `channels` identical channels, written by sox to `dir/name` (the extension picks
/// the format). Its path.
pub fn sparse_speech(dir: &Path, name: &str, minutes: u32, every_s: u32, channels: u32) -> PathBuf {
    let sentence = dir.join("sentence.wav");
    std::fs::write(&sentence, speech(dir, "Item one is the budget report for March, and it is ready.")).unwrap();
    let out = dir.join(name);
    let made = Command::new("sox")
        .arg(&sentence)
        .args(["-r", "8000", "-c", &channels.to_string(), "-b", "16"])
        .arg(&out)
        .args(["pad", "0", &every_s.to_string(), "trim", "0", &every_s.to_string()])
        .args(["repeat", &(minutes * 60 / every_s - 1).to_string()])
        .status()
        .expect("sox (scripts/setup.sh)");
    assert!(made.success(), "sox could not write {}", out.display());
    out
}

/// Makes a FLAC's STREAMINFO claim `seconds` at `rate` whatever it holds, and zeroes its MD5 ("not computed"), as
/// an encoder that did not know the length when it wrote the header does.
pub fn under_state_flac(flac: &mut [u8], seconds: u64, rate: u64) {
    assert_eq!(&flac[..4], b"fLaC");
    // Total samples: the low 4 bits of byte 21 and bytes 22–25; the MD5 follows them.
    let claimed = seconds * rate;
    flac[21] = (flac[21] & 0xF0) | ((claimed >> 32) as u8 & 0x0F);
    flac[22..26].copy_from_slice(&(claimed as u32).to_be_bytes());
    flac[26..42].fill(0);
}

/// Speech from `espeak-ng` (installed by scripts/setup.sh), as WAV bytes.
pub fn speech(dir: &Path, text: &str) -> Vec<u8> {
    let path = dir.join("speech.wav");
    let ok = Command::new("espeak-ng").arg("-w").arg(&path).arg(text).status().expect("espeak-ng (scripts/setup.sh)");
    assert!(ok.success(), "espeak-ng failed");
    std::fs::read(path).expect("the speech file")
}

/// Each delivery's S3 notification as the body of an SQS message (what an SQS trigger delivers), ids `m0`, `m1`, ….
pub fn sqs_records(deliveries: &[Delivery]) -> Vec<serde_json::Value> {
    deliveries
        .iter()
        .enumerate()
        .map(|(n, d)| {
            serde_json::json!({
                "messageId": format!("m{n}"), "receiptHandle": "r", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:redscribe", "awsRegion": "us-east-1",
                "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "body": d.event.to_string(),
            })
        })
        .collect()
}

/// Every event the S3 stand-in has raised and not yet handed out.
pub use redscribe_local::s3::drain;

/// moto's server mode (PyPI `moto[server]`, installed by scripts/setup.sh) on loopback, port 0: a real protocol
/// endpoint for the AWS services redscribe has no stand-in for (CloudWatch, CloudWatch Logs). Stopped on drop.
pub struct Moto {
    child: Child,
    pub endpoint_url: String,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_program(Path::new("moto_server"))
    }

    /// The same from a given `moto_server` (the deployment tools' has the CloudFormation backend).
    pub fn start_program(program: &Path) -> Moto {
        let mut child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} (scripts/setup.sh installs moto[server]): {e}", program.display()));
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut announced = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !announced {
                    if let Some(url) = line.split("Running on ").nth(1) {
                        let _ = tx.send(url.trim().to_string());
                        announced = true;
                    }
                }
            }
        });
        let endpoint_url = rx.recv_timeout(Duration::from_secs(60)).expect("moto_server announces its address");
        Moto { child, endpoint_url }
    }

    /// The variables that point an AWS SDK or the aws CLI at it (moto takes any credentials).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint_url.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ]
    }

    /// An SDK configuration for it.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        redscribe_aws::config::local(&self.endpoint_url, "us-east-1", "testing", "testing").await
    }

    /// Runs the aws CLI against it; its stdout parsed as JSON.
    pub fn aws(&self, args: &[&str]) -> serde_json::Value {
        let output = Command::new("aws")
            .args(args)
            .args(["--output", "json"])
            .envs(self.env())
            .env_remove("AWS_PROFILE")
            .output()
            .expect("the aws CLI (scripts/setup.sh)");
        assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("JSON from the aws CLI")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP request as an [`HttpCapture`] received it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 endpoint on loopback that keeps every request and answers `200` with a fixed body: what a client
/// sends, seen from the wire (an OTLP collector, a service whose headers matter).
pub struct HttpCapture {
    pub url: String,
    requests: Arc<Mutex<Vec<Captured>>>,
}

impl HttpCapture {
    /// Answers every request with `content_type` and `body`.
    pub fn start(content_type: &'static str, body: &'static str) -> HttpCapture {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let sink = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let Ok(read_half) = stream.try_clone() else { return };
                    let mut reader = BufReader::new(read_half);
                    let mut writer = stream;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut parts = line.split_whitespace();
                        let (method, path) =
                            (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                        let mut headers = Vec::new();
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            let header = line.trim_end();
                            if header.is_empty() {
                                break;
                            }
                            if let Some((name, value)) = header.split_once(':') {
                                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                            }
                        }
                        let length = headers
                            .iter()
                            .find(|(n, _)| n == "content-length")
                            .and_then(|(_, v)| v.parse().ok())
                            .unwrap_or(0usize);
                        let mut body_in = vec![0; length];
                        if reader.read_exact(&mut body_in).is_err() {
                            return;
                        }
                        sink.lock().unwrap().push(Captured { method, path, headers, body: body_in });
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if writer.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        HttpCapture { url, requests }
    }

    /// What it has received so far.
    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }
}
