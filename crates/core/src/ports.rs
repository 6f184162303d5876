//! The ports the pipeline's stages are written against. Adapters implement them with the AWS SDK (`crates/aws`),
//! and the same adapters reach the local stand-ins through configuration, so every stage runs unchanged in tests,
//! on a laptop and in Lambda. Every failure is classified with an [`ErrorCode`], whose
//! [`disposition`](ErrorCode::disposition) is the one place that decides retry or quarantine.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::ErrorCode;

/// An object's user-defined metadata (`x-amz-meta-*` headers): names in lower case without the prefix.
pub type Metadata = BTreeMap<String, String>;

/// The most user-defined metadata S3 keeps on an object: 2 KB, counted as the UTF-8 bytes of every name and
/// value ("Working with object metadata", Amazon S3 User Guide). A larger PUT fails with `MetadataTooLarge`.
pub const METADATA_MAX_BYTES: usize = 2048;

/// The size S3 counts for `metadata` against [`METADATA_MAX_BYTES`].
pub fn metadata_size(metadata: &Metadata) -> usize {
    metadata.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// A failed call through a port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct PortError {
    pub code: ErrorCode,
    pub message: String,
    /// For a warehouse statement that ran and failed: the query id that `sys_load_error_detail` knows it by.
    pub query_id: Option<i64>,
    /// The adapter already retried the call, with backoff, until its attempts were used up. A caller that would
    /// only try a few times more hands the work back instead: retries are layered once, not multiplied.
    pub exhausted: bool,
    /// A statement of the call may still commit (it was cancelled at a deadline and not seen to end): submitting
    /// its work again now could commit it twice, so nothing is — a later delivery finds what it did in
    /// `load_audit`.
    pub in_doubt: bool,
}

impl PortError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> PortError {
        PortError { code, message: message.into(), query_id: None, exhausted: false, in_doubt: false }
    }
}

/// An object read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// Without quotes.
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// User-defined metadata.
    pub metadata: Metadata,
}

/// What a read says of an object besides its bytes ([`ObjectStore::get_into`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectHead {
    /// Bytes read.
    pub size: u64,
    pub content_type: Option<String>,
    /// Without quotes.
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub metadata: Metadata,
}

/// Where [`ObjectStore::get_into`] puts an object's bytes as they arrive (a spool file, a buffer).
#[async_trait]
pub trait ByteSink: Send {
    /// Drops what was written: a read that failed midway is tried again from the start.
    async fn restart(&mut self) -> Result<(), PortError>;
    /// The next bytes. An error (e.g. the sink is full) ends the read with it, and is not retried unless its code
    /// says so.
    async fn write(&mut self, chunk: &[u8]) -> Result<(), PortError>;
}

/// A sink in memory: for objects small enough to hold (result files, records).
#[async_trait]
impl ByteSink for Vec<u8> {
    async fn restart(&mut self) -> Result<(), PortError> {
        self.clear();
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), PortError> {
        self.extend_from_slice(chunk);
        Ok(())
    }
}

/// A sink in memory that refuses to hold more than `max` bytes: the read ends with `load_rejected` as soon as the
/// object passes it, so an object of any size costs at most `max` bytes of memory.
#[derive(Debug, Default)]
pub struct BoundedBuffer {
    pub body: Vec<u8>,
    pub max: u64,
}

#[async_trait]
impl ByteSink for BoundedBuffer {
    async fn restart(&mut self) -> Result<(), PortError> {
        self.body.clear();
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), PortError> {
        if (self.body.len() + chunk.len()) as u64 > self.max {
            return Err(PortError::new(
                ErrorCode::LoadRejected,
                format!("larger than the bound of {} bytes", self.max),
            ));
        }
        self.body.extend_from_slice(chunk);
        Ok(())
    }
}

/// An object found by [`ObjectStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: i64,
    /// Without quotes.
    pub etag: Option<String>,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// S3, as the stages use it.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Reads a whole object (`version_id` pins the version the event announced, when the bucket is versioned).
    async fn get(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<StoredObject, PortError>;
    /// Reads an object into `sink` as it arrives, never holding all of it: what the transcribe stage reads
    /// recordings with. The default reads it whole with [`ObjectStore::get`] (for stores that hold objects in
    /// memory anyway).
    async fn get_into(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        sink: &mut dyn ByteSink,
    ) -> Result<ObjectHead, PortError> {
        let object = self.get(bucket, key, version_id).await?;
        sink.restart().await?;
        sink.write(&object.body).await?;
        Ok(ObjectHead {
            size: object.body.len() as u64,
            content_type: object.content_type,
            etag: object.etag,
            version_id: object.version_id,
            metadata: object.metadata,
        })
    }
    /// Writes a whole object with user-defined metadata (at most [`METADATA_MAX_BYTES`]).
    async fn put_with(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<(), PortError>;
    /// Writes a whole object.
    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        self.put_with(bucket, key, body, content_type, &Metadata::new()).await
    }
    /// Writes a local file as an object, streamed from disk (a silenced copy of a recording can be as large as
    /// the recording decoded). The default reads it whole and [`ObjectStore::put`]s it (for stores that hold
    /// objects in memory anyway).
    async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> Result<(), PortError> {
        let body = std::fs::read(path)
            .map_err(|e| PortError::new(ErrorCode::Internal, format!("reading {}: {e}", path.display())))?;
        self.put(bucket, key, body, content_type).await
    }
    /// An object's tags (`GetObjectTagging`; `version_id` pins the version read), as S3 keeps them: at most 10,
    /// each key unique.
    async fn tags(&self, bucket: &str, key: &str, version_id: Option<&str>)
        -> Result<Vec<(String, String)>, PortError>;
    /// Every object under a prefix, in key order.
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ListedObject>, PortError>;
    /// The object at `key` as a listing shows it (its size and its current bytes' ETag), or `None` when there is
    /// none. A listing, not a HEAD: it needs only `s3:ListBucket` under the key's prefix, where S3 answers a HEAD or
    /// GET of a missing key 403 to a role without that grant, and a role that may list recordings cannot read them.
    /// The default lists the key as a prefix; an adapter asks for one key (the key itself sorts first).
    async fn find(&self, bucket: &str, key: &str) -> Result<Option<ListedObject>, PortError> {
        Ok(self.list(bucket, key).await?.into_iter().find(|o| o.key == key))
    }
    /// Removes an object (no error when it is already gone).
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), PortError>;
    /// Removes every version of every object under `prefix`, delete markers included: what erasing takes in a
    /// versioned bucket, where a delete without a version id only hides the object behind a marker. How many
    /// versions it removed. The default deletes the objects a listing shows (a store without versions).
    async fn delete_versions(&self, bucket: &str, prefix: &str) -> Result<usize, PortError> {
        let listed = self.list(bucket, prefix).await?;
        for object in &listed {
            self.delete(bucket, &object.key).await?;
        }
        Ok(listed.len())
    }
}

/// The warehouse, as the load stage uses it.
#[async_trait]
pub trait Warehouse: Send + Sync {
    /// Runs the statements as one transaction and waits for it to end. `token` makes a retried submission
    /// idempotent. A statement that fails returns `LoadRejected` with the failing statement's query id.
    async fn run_batch(&self, sqls: &[String], token: &str) -> Result<(), PortError>;
    /// [`Warehouse::run_batch`] that must end by `deadline`: a statement still running then is cancelled (the
    /// caller's invocation ends, and no statement of it may outlive it). The default has no clock of its own.
    async fn run_batch_until(
        &self,
        sqls: &[String],
        token: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<(), PortError> {
        let _ = deadline;
        self.run_batch(sqls, token).await
    }
    /// Runs a query and returns its rows as text (`None` for NULL).
    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PortError>;
    /// [`Warehouse::query`] that must end by `deadline`, as [`Warehouse::run_batch_until`].
    async fn query_until(
        &self,
        sql: &str,
        deadline: Option<std::time::Instant>,
    ) -> Result<Vec<Vec<Option<String>>>, PortError> {
        let _ = deadline;
        self.query(sql).await
    }
}

/// A piece of a transcript with its times.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimedText {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    pub avg_logprob: Option<f64>,
    pub no_speech_prob: Option<f64>,
    /// The audio channel it was heard on; 0 for a mono recording or a mix.
    pub channel: u16,
    /// Its words in order, each within the segment's times.
    #[serde(default)]
    pub words: Vec<Word>,
}

/// A word as heard: its text (with the punctuation that belongs to it, without the space before it), its times
/// in seconds from the start of the recording, and the model's probability of it (the mean over its tokens).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Word {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    pub probability: f64,
}

impl TimedText {
    /// The segment and its words moved by `offset_s` seconds and kept before `end_s` (a part's end, so that
    /// parts joined do not overlap at a cut).
    pub fn shift(&mut self, offset_s: f64, end_s: Option<f64>) {
        let place = |start: &mut f64, end: &mut f64| {
            *start += offset_s;
            *end += offset_s;
            if let Some(limit) = end_s {
                *start = start.min(limit);
                *end = end.min(limit);
            }
            *end = end.max(*start);
        };
        place(&mut self.start_s, &mut self.end_s);
        for w in &mut self.words {
            place(&mut w.start_s, &mut w.end_s);
        }
    }
}

/// What a transcriber heard in a recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Transcription {
    /// The whole text (empty for silence and noise).
    pub text: String,
    pub language: Option<String>,
    /// How sure language detection was (`None`: the language was given, or the model speaks one language).
    pub language_probability: Option<f64>,
    pub segments: Vec<TimedText>,
    pub avg_logprob: Option<f64>,
    pub no_speech_prob: Option<f64>,
    /// Gzip compression ratio of the text: above ~2.4 it repeats itself.
    pub compression_ratio: Option<f64>,
    pub quality_flag: QualityFlag,
    /// Seconds of audio transcribed, and seconds it took.
    pub audio_seconds: f64,
    pub decode_seconds: f64,
    /// Of `decode_seconds`, the time spent decoding windows again at a higher temperature (their first output
    /// looped or was a guess).
    #[serde(default)]
    pub fallback_seconds: f64,
    /// What PII redaction took out, when it ran ([`crate::redact`]); `None`: it was not asked for.
    #[serde(default)]
    pub pii_redacted: Option<crate::redact::Redacted>,
    /// Its channels were heard one at a time (a call, one speaker per channel): each segment's `channel` is the
    /// speaker's, and channel roles name them. `false` for a mix of the channels.
    #[serde(default)]
    pub channels_apart: bool,
}

/// What a user should know about a transcript's quality, as the row's `quality_flag` says it. Ordered by how much
/// it tells: a recording's channels merged keep the most telling one (a loop anywhere, else a guess anywhere, else
/// speech anywhere, else no speech).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityFlag {
    /// Nothing said: silence or noise.
    NoSpeech,
    Ok,
    /// The decoder was unsure (a low average log-probability).
    LowConfidence,
    /// A loop survived the fallbacks: it was cut, or the text still repeats itself.
    Repetition,
}

impl QualityFlag {
    /// The stable spelling, as the row stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            QualityFlag::NoSpeech => "no_speech",
            QualityFlag::Ok => "ok",
            QualityFlag::LowConfidence => "low_confidence",
            QualityFlag::Repetition => "repetition",
        }
    }
}

/// The channel whose language detection was surest (the first with a language when none was detected).
fn sure(channels: &[Transcription]) -> Option<&Transcription> {
    let detected = channels.iter().filter(|t| t.language_probability.is_some());
    detected
        .max_by(|a, b| a.language_probability.unwrap_or(0.0).total_cmp(&b.language_probability.unwrap_or(0.0)))
        .or_else(|| channels.iter().find(|t| t.language.is_some()))
}

impl Transcription {
    /// One transcription of a recording whose channels were transcribed one by one (a call, one speaker per
    /// channel): segments in time order with their channel, the text read in that order, and the verdict of the
    /// most telling channel (a loop anywhere, else a guess anywhere, else speech anywhere, else no speech).
    pub fn merge_channels(mut channels: Vec<Transcription>) -> Option<Transcription> {
        if channels.len() <= 1 {
            return channels.pop();
        }
        let mut segments: Vec<TimedText> = channels.iter().flat_map(|t| t.segments.iter().cloned()).collect();
        segments.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.channel.cmp(&b.channel)));
        let text = segments.iter().map(|s| s.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ");
        let flag = channels.iter().map(|t| t.quality_flag).max().unwrap_or(QualityFlag::NoSpeech);
        // Each channel's average log-probability, weighted by its segments.
        let (sum, n) = channels
            .iter()
            .filter_map(|t| Some((t.avg_logprob?, t.segments.len().max(1) as f64)))
            .fold((0.0, 0.0), |(s, n), (lp, w)| (s + lp * w, n + w));
        let max = |f: fn(&Transcription) -> Option<f64>| channels.iter().filter_map(f).reduce(f64::max);
        Some(Transcription {
            text,
            // Each channel detects its own; the row keeps the surest one's.
            language: sure(&channels).and_then(|t| t.language.clone()),
            language_probability: sure(&channels).and_then(|t| t.language_probability),
            avg_logprob: (n > 0.0).then(|| sum / n),
            no_speech_prob: max(|t| t.no_speech_prob),
            compression_ratio: max(|t| t.compression_ratio),
            quality_flag: flag,
            audio_seconds: channels.iter().map(|t| t.audio_seconds).sum(),
            decode_seconds: channels.iter().map(|t| t.decode_seconds).sum(),
            fallback_seconds: channels.iter().map(|t| t.fallback_seconds).sum(),
            // Parts joined are apart when any part was (the pipeline marks a call's channel passes).
            channels_apart: channels.iter().any(|t| t.channels_apart),
            pii_redacted: crate::redact::Redacted::sum(channels.iter().map(|t| t.pii_redacted.as_ref())),
            segments,
        })
    }
}

/// The user-defined metadata name (`x-amz-meta-language`) that tells the language a recording is spoken in.
pub const LANGUAGE_METADATA: &str = "language";

/// What is known of a recording before it is heard, from whoever uploaded it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// The language spoken, as a lower-case ISO 639-1 code (`es`): detection is skipped.
    pub language: Option<String>,
    /// When hearing must stop (the invocation's deadline less its margin): a transcriber starts no window past it
    /// and fails with [`ErrorCode::ServiceUnavailable`], the recording left for another delivery.
    pub deadline: Option<std::time::Instant>,
    /// What the uploader asked to redact (`x-amz-meta-redact`), on top of what the deployment requires.
    pub redact: crate::redact::RedactOptions,
}

impl Hints {
    /// The hints an object's metadata gives: `x-amz-meta-language` as `es`, `es-MX`, `pt_BR` or `PT` (the
    /// language's code; a region is dropped: Whisper speaks languages, not locales). Empty or `auto` is no hint.
    pub fn from_metadata(metadata: &Metadata) -> Hints {
        Hints {
            language: metadata.get(LANGUAGE_METADATA).and_then(|l| language_code(l)),
            deadline: None,
            redact: crate::redact::RedactOptions::default().with_metadata(metadata),
        }
    }
}

/// The language part of a language tag, lower-cased (`pt-BR` → `pt`); `None` for an empty tag or `auto`.
pub fn language_code(tag: &str) -> Option<String> {
    let code = tag.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    (!code.is_empty() && code != "auto").then_some(code)
}

/// Speech to text, as the transcribe stage uses it. CPU-bound and blocking: the stage calls it on a blocking
/// thread, with the recording (or one channel of it) as 16 kHz mono samples in chunks of any size, as they are
/// decoded; a transcriber holds what it needs of them, not the whole recording.
pub trait Transcriber: Send + Sync {
    /// The model's name, as rows record it.
    fn model(&self) -> &str;
    /// A hinted language the model does not speak fails with [`ErrorCode::UnsupportedLanguage`].
    fn transcribe(&self, audio: &mut dyn Iterator<Item = Vec<f32>>, hints: &Hints) -> Result<Transcription, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(channel: u16, parts: &[(f64, &str)], flag: QualityFlag) -> Transcription {
        let segments: Vec<TimedText> = parts
            .iter()
            .map(|&(start_s, text)| TimedText {
                start_s,
                end_s: start_s + 1.0,
                text: text.into(),
                avg_logprob: Some(-0.2),
                no_speech_prob: Some(0.1),
                channel,
                words: Vec::new(),
            })
            .collect();
        Transcription {
            text: parts.iter().map(|p| p.1).collect::<Vec<_>>().join(" "),
            language: Some("en".into()),
            language_probability: None,
            avg_logprob: (!segments.is_empty()).then_some(-0.2 - f64::from(channel)),
            no_speech_prob: Some(0.1 * f64::from(channel + 1)),
            compression_ratio: (!segments.is_empty()).then_some(1.0 + f64::from(channel)),
            quality_flag: flag,
            audio_seconds: 10.0,
            decode_seconds: 1.0,
            fallback_seconds: 0.0,
            channels_apart: false,
            pii_redacted: None,
            segments,
        }
    }

    #[test]
    fn channels_interleave_in_time_and_keep_their_number() {
        let agent = heard(0, &[(0.0, "Thank you for calling."), (4.0, "Let me check.")], QualityFlag::Ok);
        let caller = heard(1, &[(2.0, "My order is late.")], QualityFlag::Ok);
        let t = Transcription::merge_channels(vec![agent, caller]).unwrap();
        assert_eq!(t.text, "Thank you for calling. My order is late. Let me check.");
        assert_eq!(t.segments.iter().map(|s| s.channel).collect::<Vec<_>>(), [0, 1, 0]);
        assert_eq!((t.audio_seconds, t.decode_seconds), (20.0, 2.0));
        assert_eq!(t.compression_ratio, Some(2.0));
        assert!((t.avg_logprob.unwrap() - (-0.2 * 2.0 - 1.2) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_language_hint_is_the_code_of_the_tag() {
        let hint = |v: &str| Hints::from_metadata(&Metadata::from([(LANGUAGE_METADATA.to_string(), v.to_string())]));
        assert_eq!(hint("es").language.as_deref(), Some("es"));
        assert_eq!(hint(" pt-BR ").language.as_deref(), Some("pt"));
        assert_eq!(hint("ZH_tw").language.as_deref(), Some("zh"));
        assert_eq!(hint("auto").language, None);
        assert_eq!(hint("").language, None);
        assert_eq!(Hints::from_metadata(&Metadata::new()), Hints::default());
    }

    #[test]
    fn the_most_telling_verdict_wins() {
        use QualityFlag::*;
        let flag = |a, b| Transcription::merge_channels(vec![heard(0, &[], a), heard(1, &[], b)]).unwrap().quality_flag;
        assert_eq!(flag(Ok, NoSpeech), Ok);
        assert_eq!(flag(NoSpeech, NoSpeech), NoSpeech);
        assert_eq!(flag(Ok, LowConfidence), LowConfidence);
        assert_eq!(flag(LowConfidence, Repetition), Repetition);
        assert_eq!(Repetition.as_str(), "repetition");
        let one = heard(0, &[(0.0, "Hello.")], Ok);
        assert_eq!(Transcription::merge_channels(vec![one.clone()]), Some(one));
        assert_eq!(Transcription::merge_channels(Vec::new()), None);
    }
}
