//! A long recording heard in parts, each by an invocation of its own (DESIGN: recordings of any length).
//!
//! A recording longer than a part (`TranscribeConfig::part_s`) is not heard where it arrives: it is decoded once
//! to find where to cut it (`core::parts`), and a request object per part is written under
//! `manifests/parts/<id>-<version>/` ([`Layout::part_request_key`]). Each request's creation is an event like an
//! upload's — an S3 notification on the transcribe queue in AWS, a journal entry locally — so the parts are heard
//! concurrently, by as many invocations (or driver tasks) as there is room for, each with its own attempt markers,
//! retries and deadline. A heard part's transcription waits beside its request; the part that finds every part
//! heard joins them (`core::parts::join`) and writes the recording's one row through the stage's usual write.
//!
//! Everything is keyed by the recording version: a request delivered twice finds its part heard and does nothing
//! new; a recording delivered again is cut the same way into the same requests; a process killed between parts
//! leaves requests whose events are delivered again. A part whose hearing fails for good fails the recording: a
//! `failed` row and one quarantine record (its key is the recording version's), naming the part.

use std::time::Instant;

use redscribe_core::events::ObjectEvent;
use redscribe_core::identity::recording_id;
use redscribe_core::layout::Layout;
use redscribe_core::metrics::{Metric, Stage};
use redscribe_core::parts::{join, Part, PartHeard, PartRequest, MIN_PART_SECONDS};
use redscribe_core::ports::{Hints, ObjectStore, PortError};
use redscribe_core::record::AudioMetadata;
use redscribe_core::{ErrorCode, Failure};

use super::{Attempt, Processed, SilencedCopy, TimeBudget, TranscribeStage};
use crate::row::Location;

/// The share of one invocation's time (at the planned pace) a part may take at most: a cut lands up to
/// `core::parts::SEARCH_S` past its boundary, and a part decodes the recording up to its start before hearing it.
const PART_FILL: f64 = 0.8;

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, PortError> {
    serde_json::to_vec(value).map_err(|e| PortError::new(ErrorCode::Internal, format!("JSON: {e}")))
}

pub(super) async fn read_json<S: ObjectStore + ?Sized, T: serde::de::DeserializeOwned>(
    store: &S,
    bucket: &str,
    key: &str,
) -> Result<T, PortError> {
    let object = store.get(bucket, key, None).await?;
    serde_json::from_slice(&object.body)
        .map_err(|e| PortError::new(ErrorCode::Internal, format!("s3://{bucket}/{key}: not what redscribe wrote: {e}")))
}

/// What [`TranscribeStage::split_if_long`] made of a recording: heard here, or cut (or found unreadable).
pub(super) type Whole = Result<std::fs::File, Result<Processed, Failure>>;

impl<S: ObjectStore> TranscribeStage<S> {
    /// A recording longer than a part is cut into parts here; any other is handed back to be heard whole. Its
    /// length is its header's, or, when an earlier try did not finish (`tried_before`: a header can under-state
    /// it, and the deadline stopped it), what decoding it finds. A part is at most what one invocation's time
    /// takes at the planned pace ([`PART_FILL`] of it), however long the configured part. `started`: when this
    /// processing began, for what cutting costs.
    pub(super) async fn split_if_long(
        &self,
        event: &ObjectEvent,
        location: &Location,
        recording: std::fs::File,
        budget: TimeBudget,
        tried_before: bool,
        started: Instant,
    ) -> Result<Whole, PortError> {
        let Some(configured) = self.config.part_s.filter(|_| self.transcriber.is_some()) else {
            return Ok(Ok(recording));
        };
        let limits = self.config.limits;
        let (recording, probed) = tokio::task::spawn_blocking(move || {
            let probed = super::examine::probe(&recording, &limits);
            (recording, probed)
        })
        .await
        .map_err(|e| PortError::new(ErrorCode::Crashed, super::crash_message(e)))?;
        // Unreadable: refused whole, as any recording.
        let Ok(metadata) = probed else { return Ok(Ok(recording)) };
        let rtf = self.planner.lock().unwrap_or_else(|p| p.into_inner()).rtf();
        let passes = f64::from(metadata.channels.clamp(1, 2));
        let fitting = budget.total.map(|t| t.as_secs_f64() / (rtf * passes) * PART_FILL);
        let part_s = fitting.map_or(configured, |f| configured.min(f)).max(MIN_PART_SECONDS);
        if metadata.duration_s > part_s || tried_before {
            return self.split(event, location, recording, part_s, started).await;
        }
        Ok(Ok(recording))
    }

    /// The request a part's request object holds.
    pub(super) async fn part_request(&self, event: &ObjectEvent) -> Result<PartRequest, PortError> {
        read_json(self.store.as_ref(), &event.object.bucket, &event.object.key).await
    }

    /// Cuts a spooled recording into parts and writes a request for each; the row comes when the last is heard.
    /// One that decodes to a single part is handed back, to be heard whole.
    async fn split(
        &self,
        event: &ObjectEvent,
        location: &Location,
        recording: std::fs::File,
        part_s: f64,
        started: Instant,
    ) -> Result<Whole, PortError> {
        let limits = self.config.limits;
        let (recording, found) = tokio::task::spawn_blocking(move || {
            let found = super::examine::find_parts(&recording, &limits, part_s);
            (recording, found)
        })
        .await
        .map_err(|e| PortError::new(ErrorCode::Crashed, super::crash_message(e)))?;
        let (metadata, parts) = match found {
            Ok(found) if found.1.len() > 1 => found,
            Ok(_) => return Ok(Ok(recording)),
            Err(failure) => return Ok(Err(Err(failure))),
        };
        let id = recording_id(&location.object.bucket, &location.object.key);
        let version = location.object.version_token();
        let bucket = self.config.layout.bucket_for(&location.object.bucket).to_string();
        let recording = ObjectEvent { object: location.object.clone(), ..event.clone() };
        let split_cost_usd = self.cost_of(started, 0, false, false);
        for part in &parts {
            let request = PartRequest {
                recording: recording.clone(),
                part: *part,
                metadata: metadata.clone(),
                content_type: location.content_type.clone(),
                split_cost_usd,
                attributes: location.attributes.clone(),
            };
            let key = self.config.layout.part_request_key(&id, &version, part.index);
            self.store.put(&bucket, &key, to_json(&request)?, "application/json").await?;
        }
        tracing::info!(%id, parts = parts.len(), duration_s = metadata.duration_s, "recording cut into parts");
        Ok(Err(Ok(Processed::Split { parts: parts.len() })))
    }

    /// Hears the part a request object names (`event` is the request's creation); the last part heard writes
    /// the recording's row.
    pub(super) async fn process_part(
        &self,
        event: &ObjectEvent,
        attempt: u32,
        budget: TimeBudget,
    ) -> Result<Processed, PortError> {
        let started = Instant::now();
        let request = match self.part_request(event).await {
            Ok(request) => request,
            // Gone with its expired manifests: the recording was settled long ago.
            Err(e) if e.code == ErrorCode::ObjectNotFound => return Ok(Processed::Skipped),
            Err(e) => return Err(e),
        };
        let (recording, part) = (&request.recording, request.part);
        let location = Location {
            object: recording.object.clone(),
            content_type: request.content_type.clone(),
            uploaded_at: recording.event_time,
            attributes: request.attributes.clone(),
            generation: recording.generation,
        };
        let id = recording_id(&recording.object.bucket, &recording.object.key);
        let version = location.object.version_token();
        let bucket = event.object.bucket.clone();
        let layout: &Layout = &self.config.layout;
        let heard_key = layout.part_heard_key(&id, &version, part.index);
        let this_try = Attempt { number: attempt, started, carried_cost_usd: 0.0 };
        if self.store.find(&bucket, &heard_key).await?.is_none() {
            match self.hear_part(recording, &location, part, budget).await? {
                Ok(heard) => self.store.put(&bucket, &heard_key, to_json(&heard)?, "application/json").await?,
                Err(failure) => {
                    let failure = Failure { message: format!("{}: {}", part.describe(), failure.message), ..failure };
                    return self.write(recording, &location, Err(failure), None, this_try, None).await;
                }
            }
        }
        self.join_if_heard(recording, &location, &request, this_try).await
    }

    /// One part of the recording, read and heard: its transcription (timed from the part's start) with what it
    /// cost, or the recording's failure.
    async fn hear_part(
        &self,
        recording: &ObjectEvent,
        location: &Location,
        part: Part,
        budget: TimeBudget,
    ) -> Result<Result<PartHeard, Failure>, PortError> {
        let started = Instant::now();
        let id = recording_id(&recording.object.bucket, &recording.object.key);
        let (head, file) = match self.read(recording, &id, started).await {
            Ok(read) => read,
            Err(e) if !e.code.disposition().blames_the_item() => return Err(e),
            Err(e) => return Ok(Err(Failure::new(Stage::Download, e.code, e.message))),
        };
        if head.etag.is_some() && head.etag != location.object.etag {
            // The key holds other bytes now (an unversioned bucket written again): their own upload is heard.
            let why = format!("{}: the recording now holds other bytes", part.describe());
            return Ok(Err(Failure::new(Stage::Download, ErrorCode::ObjectNotFound, why)));
        }
        let hints = Hints::from_metadata(&head.metadata);
        let (examined, transcript) = self.examine(file, &id, &hints, false, budget, Some(part)).await;
        Ok(match (examined, transcript) {
            (Ok(_), Some(transcription)) => Ok(PartHeard {
                part,
                transcription,
                cost_usd: self.cost_of(started, 0, false, false),
                silence_audio: self.redaction(&hints).audio,
            }),
            (Err(failure), _) if !failure.code.disposition().blames_the_item() => {
                return Err(PortError::new(failure.code, failure.message))
            }
            (Err(failure), _) => Err(failure),
            (Ok(_), None) => Err(Failure::new(Stage::Transcribe, ErrorCode::Internal, "no transcriber for a part")),
        })
    }

    /// When every part of the recording is heard, the row: the parts joined, the metadata of the whole decode.
    async fn join_if_heard(
        &self,
        recording: &ObjectEvent,
        location: &Location,
        request: &PartRequest,
        this_try: Attempt,
    ) -> Result<Processed, PortError> {
        let part = request.part;
        let id = recording_id(&recording.object.bucket, &recording.object.key);
        let version = location.object.version_token();
        let bucket = self.config.layout.bucket_for(&recording.object.bucket).to_string();
        let layout = &self.config.layout;
        let heard_keys: Vec<String> = (0..part.count).map(|i| layout.part_heard_key(&id, &version, i)).collect();
        let listed = self.store.list(&bucket, &layout.parts_prefix(&id, &version)).await?;
        if !heard_keys.iter().all(|k| listed.iter().any(|o| &o.key == k)) {
            return Ok(Processed::Part { part });
        }
        let mut heard = Vec::with_capacity(part.count);
        for key in &heard_keys {
            heard.push(read_json::<_, PartHeard>(self.store.as_ref(), &bucket, key).await?);
        }
        let others: f64 = heard.iter().filter(|h| h.part.index != part.index).filter_map(|h| h.cost_usd).sum();
        let carried = others + request.split_cost_usd.unwrap_or(0.0);
        let copy = heard.iter().any(|h| h.silence_audio).then_some(SilencedCopy::ReadAgain);
        let mut joined = join(heard.into_iter().map(|h| (h.part, h.transcription)).collect())
            .ok_or_else(|| PortError::new(ErrorCode::Internal, "no part to join"))?;
        // Each part was redacted before it was kept; the joined words are redacted once more, so that a value
        // said across a cut (digits next to a part's tag, or a number whose cue word was in the part before) is
        // caught whole.
        if joined.pii_redacted.is_some() {
            let found = redscribe_core::redact::redact(&mut joined);
            self.record(Metric::PiiRedacted, f64::from(found.total()), Stage::Transcribe, None);
        }
        tracing::info!(%id, parts = part.count, audio_s = joined.audio_seconds, "parts joined");
        let metadata: AudioMetadata = request.metadata.clone();
        let this_try = Attempt { carried_cost_usd: carried, ..this_try };
        self.write(recording, location, Ok(metadata), Some(joined), this_try, copy).await
    }
}
