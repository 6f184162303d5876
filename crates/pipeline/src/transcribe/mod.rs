//! The transcribe stage, for one object event: read → probe → row → Parquet (+ JSON Lines), or a quarantine
//! record. Without a transcriber, rows are `metadata_only`.
//!
//! Outputs are written before [`TranscribeStage::process`] returns, so a caller that acknowledges the event only
//! after `Ok` never loses one. A transient failure (throttling, 5xx) is returned as an error to retry; a
//! permanent one (not audio, truncated, object gone, …) becomes a `failed` row plus a quarantine record under
//! `rejected/<code>/`, and counts as processed.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use redscribe_audio::AudioMetadata;
use redscribe_core::attributes::Attributes;
use redscribe_core::cost::{CostModel, Usage};
use redscribe_core::emf::Recorder;
use redscribe_core::encode::{to_jsonl, to_parquet};
use redscribe_core::events::ObjectEvent;
use redscribe_core::layout::{FileFormat, Layout};
use redscribe_core::metrics::{Metric, Stage};
use redscribe_core::plan::Planner;
use redscribe_core::ports::{Hints, ObjectHead, ObjectStore, PortError, QualityFlag, Transcriber, Transcription};
use redscribe_core::quarantine::{QuarantineRecord, RecordingRef};
use redscribe_core::record::{results_batch, Status};
use redscribe_core::subtitles::SubtitleFormat;
use redscribe_core::{ErrorCode, Failure};
use tracing::Instrument;

use crate::quarantine::{QuarantineSink, StoreSink};
use crate::row::{result_row, Location};
use crate::spool::Spool;

mod attempts;
mod detail;
mod erase;
mod examine;
mod limits;
mod parts;
mod reprocess;
mod silenced;

pub use attempts::{Attempts, Ended};
pub use detail::DetailFile;
use examine::{examine, Examined};
pub use examine::{failure, transcribe_in_parts, transcribe_recording, Fits, Plan};
pub use limits::{RecordingLimits, TimeBudget, TranscribeConfig};
pub use silenced::silence_stretches;
use silenced::SilencedCopy;

/// A result file ready for the load stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultFile {
    /// The recording's id.
    pub id: String,
    pub bucket: String,
    pub key: String,
    /// Bytes of the Parquet file (the COPY manifest needs it).
    pub size: u64,
    pub rows: i64,
    /// How many of the table's columns it holds: all, unless it was written under an earlier schema (the load
    /// copies those through a stage of their own shape).
    pub columns: usize,
    /// The event it answers: quarantine records name the recording, and the upload time gives the
    /// upload-to-queryable latency once the rows are loaded.
    pub source: ObjectEvent,
    /// The recording's detail files (`transcription_segments`, `transcription_words`), when it was transcribed and
    /// said something.
    pub details: Vec<DetailFile>,
    /// The ETag of the bytes read back (what `load_audit` settles it as); `None` when the stage just wrote it.
    pub etag: Option<String>,
    /// An erasure's file, once the loader deleted its recording's objects: how many object versions went.
    pub erased: Option<usize>,
}

impl ResultFile {
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Where one of its detail files is (in the same bucket).
    pub fn detail_uri(&self, file: &DetailFile) -> String {
        format!("s3://{}/{}", self.bucket, file.key)
    }
}

/// What processing one event produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    /// A `metadata_only` row.
    Written(ResultFile),
    /// A `failed` row and a quarantine record.
    Quarantined { code: ErrorCode, file: ResultFile, record_key: String },
    /// A long recording cut into `parts`, a request written for each: the row comes when the last is heard.
    Split { parts: usize },
    /// One part heard; the row comes with the last.
    Part { part: redscribe_core::parts::Part },
    /// Nothing to do (a part's request that expired with its manifests).
    Skipped,
}

impl Processed {
    /// The result file to load, when this processing wrote one.
    pub fn file(&self) -> Option<&ResultFile> {
        match self {
            Processed::Written(f) | Processed::Quarantined { file: f, .. } => Some(f),
            Processed::Split { .. } | Processed::Part { .. } | Processed::Skipped => None,
        }
    }
}

/// The stage.
pub struct TranscribeStage<S> {
    store: Arc<S>,
    /// Where quarantine records go.
    quarantine: Arc<dyn QuarantineSink>,
    config: TranscribeConfig,
    metrics: Option<Arc<Recorder>>,
    transcriber: Option<Arc<dyn Transcriber>>,
    /// Fault injection: the decoding of a recording whose key contains this panics.
    crash_on: Option<String>,
    /// Fault injection: processing a recording whose key contains this aborts the process.
    abort_on: Option<String>,
    /// What a recording is planned to take: the model's pace, then what this process measured.
    planner: std::sync::Mutex<Planner>,
    /// How each recording's cost is priced, and how many recordings share an invocation's time.
    cost: Option<(CostModel, usize)>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

impl<S: ObjectStore + 'static> TranscribeStage<S> {
    /// Reads and writes through `store`; quarantine records go to the same store until
    /// [`TranscribeStage::with_quarantine`] chooses another sink.
    pub fn new(store: Arc<S>, config: TranscribeConfig) -> TranscribeStage<S> {
        TranscribeStage {
            quarantine: Arc::new(StoreSink::new(store.clone())),
            store,
            metrics: None,
            transcriber: None,
            crash_on: None,
            abort_on: None,
            planner: std::sync::Mutex::new(Planner::new("", config.vcpus, config.expected_rtf)),
            config,
            cost: None,
        }
    }
}

impl<S: ObjectStore> TranscribeStage<S> {
    /// Prices each recording (`cost_usd` in its row, the `EstimatedCost` metric) with `model`, for a function
    /// that hears `concurrent` recordings at once: each is billed its share of the time they run together.
    pub fn with_cost(mut self, model: CostModel, concurrent: usize) -> TranscribeStage<S> {
        self.cost = Some((model, concurrent.max(1)));
        self
    }

    /// Keeps quarantine records (of recordings, and of messages that are not events) in `sink`.
    pub fn with_quarantine(mut self, sink: Arc<dyn QuarantineSink>) -> TranscribeStage<S> {
        self.quarantine = sink;
        self
    }

    /// Where the stage keeps quarantine records.
    pub fn quarantine_sink(&self) -> &dyn QuarantineSink {
        self.quarantine.as_ref()
    }

    /// Records the stage's metrics (counts, per-stage latency) into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Recorder>) -> TranscribeStage<S> {
        self.metrics = Some(metrics);
        self
    }

    /// Transcribes every readable recording with `transcriber` (without one, rows are `metadata_only`).
    pub fn with_transcriber(mut self, transcriber: Arc<dyn Transcriber>) -> TranscribeStage<S> {
        self.planner =
            std::sync::Mutex::new(Planner::new(transcriber.model(), self.config.vcpus, self.config.expected_rtf));
        self.transcriber = Some(transcriber);
        self
    }

    /// Fault injection for the chaos suite: decoding a recording whose key contains `pattern` panics, where a
    /// decoder bug would, so that the crash guard is exercised by the real binary.
    pub fn with_crash_on(mut self, pattern: impl Into<String>) -> TranscribeStage<S> {
        self.crash_on = Some(pattern.into()).filter(|p: &String| !p.is_empty());
        self
    }

    /// Fault injection for the poison tests: processing a recording whose key contains `pattern` aborts the
    /// process (as a native crash, an out-of-memory kill or the function's timeout would), which no guard
    /// catches: its batch-mates must not pay for it.
    pub fn with_abort_on(mut self, pattern: impl Into<String>) -> TranscribeStage<S> {
        self.abort_on = Some(pattern.into()).filter(|p: &String| !p.is_empty());
        self
    }

    /// Where outputs and quarantine records go.
    pub fn layout(&self) -> &Layout {
        &self.config.layout
    }

    /// The object store the stage reads and writes.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Counts a record acknowledged without processing.
    pub fn record_skipped(&self) {
        self.record(Metric::RecordingsSkipped, 1.0, Stage::Receive, None);
    }

    /// Counts a message that was not an event (kept as a quarantine record by [`crate::invoke`]).
    pub fn record_invalid(&self) {
        self.record(Metric::RecordingsQuarantined, 1.0, Stage::Receive, Some(ErrorCode::InvalidEvent));
    }

    fn record(&self, metric: Metric, value: f64, stage: Stage, code: Option<ErrorCode>) {
        if let Some(m) = &self.metrics {
            m.record(metric, value, Some(stage), code);
        }
    }

    /// Processes one object event: read, examine, write. `Err` only for failures worth retrying.
    pub async fn process(&self, event: &ObjectEvent) -> Result<Processed, PortError> {
        self.process_attempt(event, 1, TimeBudget::default()).await
    }

    /// [`TranscribeStage::process`] as the `attempt`-th try of the event (counted from 1: a quarantine record
    /// says how many tries it took), within `budget`: once the header shows how long the recording is, one that
    /// cannot be transcribed before the deadline is left for another delivery (`Err`, transient), and one that
    /// could never be within the function's time is quarantined `too_long`.
    ///
    /// A recording that came in an SQS message has its start and its end marked ([`Attempts`]), so that a
    /// redelivery after the process died knows which recording took it down.
    pub async fn process_attempt(
        &self,
        event: &ObjectEvent,
        attempt: u32,
        budget: TimeBudget,
    ) -> Result<Processed, PortError> {
        if event.message_id.is_none() {
            return self.process_unmarked(event, attempt, budget, attempt > 1).await;
        }
        let marked = Attempts::started(self.store.as_ref(), &self.config.layout, event).await?;
        // A try before this one failed or took the process down: its header may have under-stated its length.
        let tried_before = marked.failed > 0 || marked.unanswered > 1;
        let outcome = self.process_unmarked(event, attempt, budget, tried_before).await;
        marked.ended(self.store.as_ref(), &self.config.layout, event, Ended::of(&outcome)).await;
        outcome
    }

    /// `tried_before`: an earlier try of this recording did not finish, so its length is measured by decoding it,
    /// not taken from its header, to decide whether it is heard in parts.
    async fn process_unmarked(
        &self,
        event: &ObjectEvent,
        attempt: u32,
        budget: TimeBudget,
        tried_before: bool,
    ) -> Result<Processed, PortError> {
        if self.abort_on.as_ref().is_some_and(|p| event.object.key.contains(p.as_str())) {
            tracing::error!(key = %event.object.key, "fault injection: aborting the process");
            std::process::abort();
        }
        if event.is_removal() {
            return self.erase(event).await;
        }
        if self.config.layout.is_part_request(&event.object.key) {
            return self.process_part(event, attempt, budget).await;
        }
        if self.config.layout.is_reprocess_request(&event.object.key) {
            return self.process_reprocess(event, attempt, budget, tried_before).await;
        }
        self.process_recording(event, attempt, budget, tried_before).await
    }

    /// Reads, examines and writes one recording (an upload's, or the version a reprocess request names).
    async fn process_recording(
        &self,
        event: &ObjectEvent,
        attempt: u32,
        budget: TimeBudget,
        tried_before: bool,
    ) -> Result<Processed, PortError> {
        let this_try = Attempt { number: attempt, started: Instant::now(), carried_cost_usd: 0.0 };
        self.record(Metric::RecordingsReceived, 1.0, Stage::Receive, None);
        // The receive stage: from the upload to this attempt (S3's notification, the queue, earlier tries).
        if let Some(uploaded) = event.event_time.filter(|_| event.generation.is_none()) {
            let waited = (Utc::now() - uploaded).num_milliseconds().max(0) as f64;
            self.record(Metric::StageLatency, waited, Stage::Receive, None);
        }
        let mut location = Location::of(event);
        // What the key says, even of a recording that cannot be read.
        location.attributes = Attributes::of_key(self.config.key_pattern.as_ref(), &event.object.key);
        let id = redscribe_core::identity::recording_id(&event.object.bucket, &event.object.key);
        let read = match self.read(event, &id, this_try.started).await {
            Ok((head, recording)) => self.attributes(event, &head).await.map(|a| (head, recording, a)),
            Err(e) => Err(e),
        };
        let (head, recording) = match read {
            Ok((head, recording, attributes)) => {
                location.attributes = attributes;
                (head, recording)
            }
            // Not the recording's fault (a service's bad minute, a missing grant): left for another try.
            Err(e) if !e.code.disposition().blames_the_item() => {
                self.record(Metric::RecordingsFailed, 1.0, Stage::Download, Some(e.code));
                return Err(e);
            }
            Err(e) => {
                return self
                    .write(
                        event,
                        &location,
                        Err(Failure::new(Stage::Download, e.code, e.message)),
                        None,
                        this_try,
                        None,
                    )
                    .await
            }
        };
        if event.generation.is_some()
            && event.object.etag.is_some()
            && head.etag.is_some()
            && head.etag != event.object.etag
        {
            // A reprocess of bytes the key no longer holds: the upload that replaced them has its own row.
            tracing::info!(key = %event.object.key, "not reprocessed: the recording holds other bytes now");
            self.record(Metric::RecordingsSkipped, 1.0, Stage::Receive, None);
            return Ok(Processed::Skipped);
        }
        location.content_type = head.content_type.clone();
        // The row answers the bytes read: their ETag, whatever the event said (a replay or a late event of a key
        // since written again reads what the key holds now; the loader checks the key still holds these).
        location.object.etag = head.etag.clone().or(location.object.etag);
        location.object.size = Some(head.size as i64);
        let poisoned = self.crash_on.as_ref().is_some_and(|p| event.object.key.contains(p.as_str()));
        // The uploader may say what language the recording is in (`x-amz-meta-language`).
        let hints = Hints::from_metadata(&head.metadata);
        let recording =
            match self.split_if_long(event, &location, recording, budget, tried_before, this_try.started).await? {
                Ok(recording) => recording,
                Err(Ok(split)) => return Ok(split),
                Err(Err(failure)) => return self.write(event, &location, Err(failure), None, this_try, None).await,
            };
        // The silenced copy reads the spooled recording again, after the transcriber is done with it.
        let copy = self.redaction(&hints).audio.then(|| match recording.try_clone() {
            Ok(file) => SilencedCopy::Spooled(file),
            Err(_) => SilencedCopy::ReadAgain,
        });
        let (examined, transcript) = self.examine(recording, &id, &hints, poisoned, budget, None).await;
        match examined {
            Ok(metadata) => self.write(event, &location, Ok(metadata), transcript, this_try, copy).await,
            // Not the recording's fault (no time left, a spool that could not be reopened): another try.
            Err(failure) if !failure.code.disposition().blames_the_item() => {
                self.record(Metric::RecordingsFailed, 1.0, failure.stage, Some(failure.code));
                Err(PortError::new(failure.code, failure.message))
            }
            Err(failure) => self.write(event, &location, Err(failure), None, this_try, None).await,
        }
    }

    /// Quarantines a recording without reading it again: a `failed` row with `code` and a quarantine record. What
    /// the driver does with a recording whose processing crashed outside the stage's own guard. For a part's
    /// request, the recording it is part of, with the part named.
    pub async fn quarantine(
        &self,
        event: &ObjectEvent,
        attempt: u32,
        code: ErrorCode,
        message: &str,
    ) -> Result<Processed, PortError> {
        let mut failure = Failure { stage: Stage::Receive, code, message: message.to_string() };
        let attempt = Attempt { number: attempt, started: Instant::now(), carried_cost_usd: 0.0 };
        let mut location = Location::of(event);
        let mut recording = event.clone();
        if self.config.layout.is_part_request(&event.object.key) {
            let request = self.part_request(event).await?;
            failure.message = format!("{}: {message}", request.part.describe());
            location = Location {
                content_type: request.content_type.clone(),
                attributes: request.attributes.clone(),
                ..Location::of(&request.recording)
            };
            recording = ObjectEvent { message_id: event.message_id.clone(), ..request.recording };
        }
        let outcome = self.write(&recording, &location, Err(failure), None, attempt, None).await;
        if outcome.is_ok() && event.message_id.is_some() {
            let marked = Attempts::read(self.store.as_ref(), &self.config.layout, event).await.unwrap_or_default();
            // The start a crash left unanswered (if any) ends here: the recording is done.
            marked.ended(self.store.as_ref(), &self.config.layout, event, Ended::Finished).await;
        }
        outcome
    }

    /// What a recording's key, metadata and tags say it is about. Its tags are read for the version read; an
    /// object gone since (deleted, or another version now) has none, and its row says what the rest says.
    async fn attributes(&self, event: &ObjectEvent, head: &ObjectHead) -> Result<Attributes, PortError> {
        let object = &event.object;
        let version = head.version_id.as_deref().or(object.version_id.as_deref()).filter(|v| *v != "null");
        let tags = match self.store.tags(&object.bucket, &object.key, version).await {
            Ok(tags) => tags,
            Err(e) if e.code == ErrorCode::ObjectNotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Attributes::gather(self.config.key_pattern.as_ref(), &object.key, &head.metadata, &tags))
    }

    /// Step 1: the object, spooled to a temporary file as it arrives (never whole in memory), or why there is
    /// none. An event whose size is 0 or over the limit needs no request to be refused.
    async fn read(
        &self,
        event: &ObjectEvent,
        id: &str,
        started: Instant,
    ) -> Result<(ObjectHead, std::fs::File), PortError> {
        let limit = self.config.limits.max_bytes;
        let got = match event.object.size {
            Some(0) => Err(PortError::new(ErrorCode::EmptyObject, "the object is empty (0 bytes)")),
            Some(size) if size as u64 > limit => Err(PortError::new(
                ErrorCode::TooLarge,
                format!("the object is {size} bytes, over the size limit of {limit} bytes"),
            )),
            _ => {
                // A span per stage (exported as OpenTelemetry spans by the Lambdas), named by the recording. Log
                // lines are written outside them, in the caller's span (which carries the request id).
                let span = tracing::info_span!("download", %id, bucket = %event.object.bucket, key = %event.object.key);
                self.spool(event).instrument(span).await
            }
        };
        self.record(Metric::StageLatency, ms(started), Stage::Download, None);
        got
    }

    async fn spool(&self, event: &ObjectEvent) -> Result<(ObjectHead, std::fs::File), PortError> {
        let dir = self.config.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
        let mut spool = Spool::create(&dir, self.config.limits.max_bytes)?;
        let head = self
            .store
            .get_into(&event.object.bucket, &event.object.key, event.object.version_id.as_deref(), &mut spool)
            .await?;
        Ok((head, spool.finish().await?))
    }

    /// Step 2: probe, decode and transcribe — CPU work, off the async threads. A panic in there (a decoder or
    /// model bug this recording triggers) is caught and becomes the recording's failure, `crashed`, with the
    /// panic's message: never retried, never the end of the process.
    async fn examine(
        &self,
        recording: std::fs::File,
        id: &str,
        hints: &Hints,
        poisoned: bool,
        budget: TimeBudget,
        part: Option<redscribe_core::parts::Part>,
    ) -> (Result<AudioMetadata, Failure>, Option<Transcription>) {
        let decode_started = Instant::now();
        let redact = self.redaction(hints);
        let transcriber = self.transcriber.clone();
        let limits = self.config.limits;
        let planned = self.planner.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let hints = hints.clone();
        let span = if transcriber.is_some() {
            tracing::info_span!("transcribe", %id, audio_s = tracing::field::Empty, rtf = tracing::field::Empty)
        } else {
            tracing::info_span!("decode", %id)
        };
        let joined = tokio::task::spawn_blocking(move || {
            if poisoned {
                panic!("injected decoder crash (--fault-crash-on-key)");
            }
            // A call's two channels are heard one after the other.
            let fits =
                |m: &AudioMetadata, passes: usize| budget.check(planned.needed_s(m.duration_s, passes), m.duration_s);
            let plan = Plan { fits: &fits, deadline: budget.deadline, part };
            examine(&recording, transcriber.as_deref(), &hints, &limits, &plan)
        })
        .instrument(span.clone())
        .await;
        let (examined, mut transcript): Examined = match joined {
            Ok(both) => both,
            Err(e) => (Err(Failure::new(Stage::Decode, ErrorCode::Crashed, crash_message(e))), None),
        };
        // Before anything of the transcript is kept, logged or counted: a part's too (its values never reach the
        // part's stored transcription).
        if let (true, Some(t)) = (redact.pii, transcript.as_mut()) {
            let found = redscribe_core::redact::redact(t);
            self.record(Metric::PiiRedacted, f64::from(found.total()), Stage::Transcribe, None);
        }
        if let Some(t) = transcript.as_ref().filter(|t| t.audio_seconds > 0.0) {
            let rtf = t.decode_seconds / t.audio_seconds;
            span.record("audio_s", t.audio_seconds).record("rtf", rtf);
            self.planner.lock().unwrap_or_else(|p| p.into_inner()).measured(t.audio_seconds, t.decode_seconds);
        }
        drop(span);
        // Decode (probe, decode to 16 kHz) and transcribe latencies apart: the transcriber times itself.
        let transcribe_ms = transcript.as_ref().map_or(0.0, |t| t.decode_seconds * 1000.0);
        self.record(Metric::StageLatency, (ms(decode_started) - transcribe_ms).max(0.0), Stage::Decode, None);
        if let Some(t) = &transcript {
            self.record_transcript(t, transcribe_ms);
        }
        (examined, transcript)
    }

    /// What a recording is redacted of: what the deployment requires and what its metadata adds.
    fn redaction(&self, hints: &Hints) -> redscribe_core::redact::RedactOptions {
        self.config.redact.with(hints.redact)
    }

    /// What the recording costs by the price table: its share of the invocation's time so far and of its request,
    /// the object's read and COPY's of its files, the files written, and its queue message (sent, received and
    /// deleted: an upper bound, since Lambda receives and deletes them in batches).
    /// `detail_files`: the segments, words and attributes files COPY reads with the result file; `said`: the
    /// recording has its two subtitle files written. The reads are the object's and its tags'.
    fn cost_of(&self, started: Instant, detail_files: u32, said: bool, quarantined: bool) -> Option<f64> {
        let (model, concurrent) = self.cost.as_ref()?;
        let files = 1 + detail_files;
        let subtitles = if said { SubtitleFormat::ALL.len() as u32 } else { 0 };
        let usage = Usage {
            lambda_ms: ms(started) / *concurrent as f64,
            requests: 1.0,
            s3_gets: 2 + files,
            s3_puts: files + subtitles + u32::from(self.config.jsonl) + u32::from(quarantined),
            sqs_requests: 3.0,
            ..Usage::default()
        };
        Some(model.cost(usage))
    }

    fn record_transcript(&self, t: &Transcription, transcribe_ms: f64) {
        self.record(Metric::StageLatency, transcribe_ms, Stage::Transcribe, None);
        self.record(Metric::AudioSecondsTranscribed, t.audio_seconds, Stage::Transcribe, None);
        if t.text.is_empty() {
            self.record(Metric::TranscriptsEmpty, 1.0, Stage::Transcribe, None);
        }
        if t.quality_flag == QualityFlag::Repetition {
            self.record(Metric::RepetitionsDetected, 1.0, Stage::Transcribe, None);
        }
        if t.audio_seconds > 0.0 {
            self.record(Metric::RealTimeFactor, t.decode_seconds / t.audio_seconds, Stage::Transcribe, None);
        }
    }

    /// Step 3: the row as Parquet (and JSON Lines), its segments, words, subtitles and silenced copy (`copy`,
    /// when asked for), and for a failure the quarantine record; then the recording's metrics and its one log
    /// line.
    async fn write(
        &self,
        event: &ObjectEvent,
        location: &Location,
        outcome: Result<AudioMetadata, Failure>,
        transcript: Option<Transcription>,
        attempt: Attempt,
        copy: Option<SilencedCopy>,
    ) -> Result<Processed, PortError> {
        let started = attempt.started;
        let write_started = Instant::now();
        let write = tracing::info_span!("write", id = tracing::field::Empty);
        let processed_at = Utc::now();
        let failure = outcome.as_ref().err().cloned();
        let mut row = result_row(location, &outcome, processed_at, started.elapsed().as_millis() as i64);
        write.record("id", row.id.as_str());
        if let (Some(t), Ok(metadata)) = (&transcript, &outcome) {
            self.fill_transcript(&mut row, t);
            self.fill_talk(&mut row, t, metadata.duration_s);
        }
        if location.attributes.key_matched == Some(false) {
            self.record(Metric::KeyPatternMisses, 1.0, Stage::Receive, None);
            tracing::warn!(key = %event.object.key, "the key does not match the key pattern: no attributes from it");
        }
        let said = transcript.as_ref().filter(|t| !t.segments.is_empty() && outcome.is_ok());
        // Segments, and words when they were timed; attributes when there are some.
        let detail_files = said.map_or(0, |t| 1 + u32::from(t.segments.iter().any(|s| !s.words.is_empty())))
            + u32::from(!location.attributes.list.is_empty());
        // A recording heard in parts costs what every part cost.
        let cost = self.cost_of(started, detail_files, said.is_some(), failure.is_some());
        row.cost_usd = cost.map(|c| c + attempt.carried_cost_usd);
        let day = processed_at.date_naive();
        // From the row, not the event: the loader derives it again from the row to check the file's name.
        let version = row.object().version_token();
        let out_bucket = self.config.layout.bucket_for(&event.object.bucket).to_string();
        let layout = &self.config.layout;

        let quarantine = match &failure {
            None => None,
            Some(f) => {
                let key = layout.rejected_key(f.code, day, &row.id, &version);
                let mut record = QuarantineRecord::new(f.code, f.message.clone(), f.stage).of(event);
                record.id = Some(row.id.clone());
                record.attempts = attempt.number;
                record.rejected_at = processed_at;
                self.quarantine.keep(&out_bucket, &key, &record).instrument(write.clone()).await?;
                Some((f.code, key))
            }
        };

        let batch = results_batch(std::slice::from_ref(&row))
            .map_err(|e| PortError::new(ErrorCode::Internal, format!("building the row: {e}")))?;
        if self.config.jsonl {
            let lines = to_jsonl(std::slice::from_ref(&batch))
                .map_err(|e| PortError::new(ErrorCode::Internal, format!("JSON Lines: {e}")))?;
            let key = layout.results_key(day, &row.id, &version, FileFormat::JsonLines);
            self.store.put(&out_bucket, &key, lines, "application/x-ndjson").instrument(write.clone()).await?;
        }
        let outputs = detail::Outputs {
            store: &*self.store,
            layout,
            bucket: &out_bucket,
            row: &row,
            version: &version,
            processed_at,
            roles: &self.config.channel_roles,
        };
        if let Some(t) = said {
            outputs.write_subtitles(t).instrument(write.clone()).await?;
        }
        let details = outputs.write_details(said, &location.attributes).instrument(write.clone()).await?;
        // The event as the row tells it: the ETag of the bytes read when the event did not say (the loader checks
        // the recording still holds them).
        let source = ObjectEvent { object: location.object.clone(), ..event.clone() };
        // Every recording heard, values or none: a deployment that keeps only the silenced copies has one for each.
        if let (Some(copy), Some(t), Ok(_)) = (copy, &transcript, &outcome) {
            let key = layout.redacted_audio_key(day, &row.id, &version);
            self.write_silenced_copy(&source, copy, t, &out_bucket, &key).instrument(write.clone()).await?;
        }
        let file = self.put_result_file(&out_bucket, &row, batch, source, details).instrument(write).await?;
        self.record(Metric::StageLatency, ms(write_started), Stage::Write, None);
        if let Some(cost) = row.cost_usd {
            self.record(Metric::EstimatedCost, cost, Stage::Write, None);
        }
        match &failure {
            None => self.record(Metric::RecordingsProcessed, 1.0, Stage::Write, None),
            Some(f) => self.record(Metric::RecordingsQuarantined, 1.0, f.stage, Some(f.code)),
        }
        // One line per recording: what the Logs Insights queries in dashboards/queries/ read.
        tracing::info!(
            bucket = %event.object.bucket,
            key = %event.object.key,
            id = %row.id,
            status = row.status.as_str(),
            error_code = row.error_code.map(ErrorCode::as_str),
            stage = failure.as_ref().map(|f| f.stage.as_str()),
            processing_ms = started.elapsed().as_millis() as u64,
            audio_s = row.audio.as_ref().map(|a| a.duration_s),
            "processed"
        );
        Ok(match quarantine {
            None => Processed::Written(file),
            Some((code, record_key)) => Processed::Quarantined { code, file, record_key },
        })
    }

    /// Writes a recording's result file — its one row as Parquet under the results prefix (named by the row's id
    /// and version, on the day it was processed), with the recording it answers in the file's metadata (what a
    /// replay needs when the file cannot be read back) — and returns it for the load stage.
    async fn put_result_file(
        &self,
        bucket: &str,
        row: &redscribe_core::record::ResultRow,
        batch: arrow_array::RecordBatch,
        source: ObjectEvent,
        details: Vec<DetailFile>,
    ) -> Result<ResultFile, PortError> {
        let parquet = to_parquet(&[batch]).map_err(|e| PortError::new(ErrorCode::Internal, format!("Parquet: {e}")))?;
        let version = row.object().version_token();
        let key = self.config.layout.results_key(row.processed_at.date_naive(), &row.id, &version, FileFormat::Parquet);
        let about = RecordingRef::from(&source).to_metadata().unwrap_or_default();
        let size = parquet.len() as u64;
        self.store.put_with(bucket, &key, parquet, "application/vnd.apache.parquet", &about).await?;
        Ok(ResultFile {
            id: row.id.clone(),
            bucket: bucket.to_string(),
            key,
            size,
            rows: 1,
            columns: redscribe_core::schema::results_schema().fields().len(),
            details,
            etag: None,
            source,
            erased: None,
        })
    }

    /// Talk time: each named role's (a call heard a channel at a time) and no one's.
    fn fill_talk(&self, row: &mut redscribe_core::record::ResultRow, t: &Transcription, duration_s: f64) {
        let talk = redscribe_core::talk::TalkTime::of(t, duration_s);
        let roles = &self.config.channel_roles;
        row.agent_talk_s = talk.of_role(roles, "agent");
        row.customer_talk_s = talk.of_role(roles, "customer");
        row.non_talk_s = Some(talk.non_talk_s);
    }

    fn fill_transcript(&self, row: &mut redscribe_core::record::ResultRow, t: &Transcription) {
        row.status = Status::Transcribed;
        row.set_text(&t.text);
        row.model = self.transcriber.as_ref().map(|m| m.model().to_string());
        row.language = t.language.clone();
        row.word_count = Some(t.text.split_whitespace().count() as i32);
        row.avg_logprob = t.avg_logprob;
        row.no_speech_prob = t.no_speech_prob;
        row.compression_ratio = t.compression_ratio;
        row.quality_flag = Some(t.quality_flag.as_str().to_string());
        row.language_probability = t.language_probability;
        row.pii_redacted = t.pii_redacted.as_ref().map(|r| r.to_json());
    }
}

/// Which try of an event this is (from 1), and when it started.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    number: u32,
    started: Instant,
    /// What earlier processings of the same recording cost (the other parts of a recording heard in parts).
    carried_cost_usd: f64,
}

/// The message of a task that panicked (its payload, when it is text).
pub fn crash_message(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return format!("the task was cancelled: {e}");
    }
    let payload = e.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    format!("panicked: {text}")
}
