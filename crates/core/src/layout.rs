//! Where the pipeline writes in S3 (DESIGN 2.4). Every prefix is configurable; the defaults are:
//!
//! ```text
//! processed/transcription_results/dt=YYYY-MM-DD/<id>-<version>.parquet   (and .jsonl)
//! processed/transcription_segments/dt=YYYY-MM-DD/<id>-<version>.parquet
//! processed/transcription_words/dt=YYYY-MM-DD/<id>-<version>.parquet
//! processed/subtitles/dt=YYYY-MM-DD/<id>-<version>.srt                  (and .vtt)
//! processed/redacted-audio/dt=YYYY-MM-DD/<id>-<version>.wav             (with --redact pii,audio)
//! manifests/dt=YYYY-MM-DD/<batch>.manifest
//! rejected/<error_code>/dt=YYYY-MM-DD/<id>-<version>.json
//! ```

use chrono::NaiveDate;

use crate::schema::Detail;
use crate::subtitles::SubtitleFormat;
use crate::{CoreError, ErrorCode};

/// Default prefix of result files.
pub const DEFAULT_RESULTS_PREFIX: &str = "processed/transcription_results/";
/// Default prefix of segment files.
pub const DEFAULT_SEGMENTS_PREFIX: &str = "processed/transcription_segments/";
/// Default prefix of word files.
pub const DEFAULT_WORDS_PREFIX: &str = "processed/transcription_words/";
/// Where each recording's attributes (`transcription_attributes`) go.
pub const DEFAULT_ATTRIBUTES_PREFIX: &str = "processed/transcription_attributes/";
/// Default prefix of subtitle files.
pub const DEFAULT_SUBTITLES_PREFIX: &str = "processed/subtitles/";
/// Default prefix of the silenced copies of recordings (PII redaction of the audio).
pub const DEFAULT_REDACTED_AUDIO_PREFIX: &str = "processed/redacted-audio/";
/// Default prefix of COPY manifests.
pub const DEFAULT_MANIFESTS_PREFIX: &str = "manifests/";
/// Default prefix of quarantine records.
pub const DEFAULT_REJECTED_PREFIX: &str = "rejected/";

/// Kind of a result file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Parquet,
    JsonLines,
}

impl FileFormat {
    /// File extension without the dot.
    pub const fn extension(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::JsonLines => "jsonl",
        }
    }
}

/// The output layout: one bucket (or the source bucket) and its prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Bucket outputs go to; `None` means the bucket the recording came from.
    pub output_bucket: Option<String>,
    results_prefix: String,
    segments_prefix: String,
    words_prefix: String,
    attributes_prefix: String,
    subtitles_prefix: String,
    redacted_audio_prefix: String,
    manifests_prefix: String,
    rejected_prefix: String,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            output_bucket: None,
            results_prefix: DEFAULT_RESULTS_PREFIX.into(),
            segments_prefix: DEFAULT_SEGMENTS_PREFIX.into(),
            words_prefix: DEFAULT_WORDS_PREFIX.into(),
            attributes_prefix: DEFAULT_ATTRIBUTES_PREFIX.into(),
            subtitles_prefix: DEFAULT_SUBTITLES_PREFIX.into(),
            redacted_audio_prefix: DEFAULT_REDACTED_AUDIO_PREFIX.into(),
            manifests_prefix: DEFAULT_MANIFESTS_PREFIX.into(),
            rejected_prefix: DEFAULT_REJECTED_PREFIX.into(),
        }
    }
}

/// Normalises a configured prefix: no leading `/`, exactly one trailing `/`, not empty.
fn normalise_prefix(prefix: &str) -> Result<String, CoreError> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Err(CoreError::InvalidPrefix {
            prefix: prefix.into(),
            reason: "an empty prefix would make every key an output key",
        });
    }
    if trimmed.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return Err(CoreError::InvalidPrefix { prefix: prefix.into(), reason: "empty, '.' or '..' path segment" });
    }
    Ok(format!("{trimmed}/"))
}

impl Layout {
    /// A layout with custom prefixes (subtitles and redacted audio go to the defaults'); each is validated and normalised to end in
    /// `/`.
    pub fn new(
        output_bucket: Option<String>,
        results_prefix: &str,
        segments_prefix: &str,
        words_prefix: &str,
        manifests_prefix: &str,
        rejected_prefix: &str,
    ) -> Result<Layout, CoreError> {
        Ok(Layout {
            output_bucket,
            results_prefix: normalise_prefix(results_prefix)?,
            segments_prefix: normalise_prefix(segments_prefix)?,
            words_prefix: normalise_prefix(words_prefix)?,
            attributes_prefix: DEFAULT_ATTRIBUTES_PREFIX.into(),
            subtitles_prefix: DEFAULT_SUBTITLES_PREFIX.into(),
            redacted_audio_prefix: DEFAULT_REDACTED_AUDIO_PREFIX.into(),
            manifests_prefix: normalise_prefix(manifests_prefix)?,
            rejected_prefix: normalise_prefix(rejected_prefix)?,
        })
    }

    /// The bucket outputs for a recording in `source_bucket` go to.
    pub fn bucket_for<'a>(&'a self, source_bucket: &'a str) -> &'a str {
        self.output_bucket.as_deref().unwrap_or(source_bucket)
    }

    /// All output prefixes; keys under them are never processed as recordings (loop guard).
    pub fn output_prefixes(&self) -> [&str; 8] {
        [
            &self.results_prefix,
            &self.segments_prefix,
            &self.words_prefix,
            &self.attributes_prefix,
            &self.subtitles_prefix,
            &self.redacted_audio_prefix,
            &self.manifests_prefix,
            &self.rejected_prefix,
        ]
    }

    /// Whether `bucket/key` is one of the pipeline's own outputs.
    pub fn is_output(&self, bucket: &str, key: &str) -> bool {
        let in_output_bucket = self.output_bucket.as_deref().is_none_or(|b| b == bucket);
        in_output_bucket && self.output_prefixes().iter().any(|p| key.starts_with(p))
    }

    /// Prefix of results for one day (what a manifest or a COPY of a whole day points at).
    pub fn results_day_prefix(&self, day: NaiveDate) -> String {
        format!("{}dt={}/", self.results_prefix, day.format("%Y-%m-%d"))
    }

    /// Whether `bucket/key` is a Parquet result file: what the load stage loads (JSON Lines copies are not).
    pub fn is_results_file(&self, bucket: &str, key: &str) -> bool {
        self.output_bucket.as_deref().is_none_or(|b| b == bucket)
            && key.starts_with(&self.results_prefix)
            && key.ends_with(&format!(".{}", FileFormat::Parquet.extension()))
    }

    fn detail_prefix(&self, detail: Detail) -> &str {
        match detail {
            Detail::Segments => &self.segments_prefix,
            Detail::Words => &self.words_prefix,
            Detail::Attributes => &self.attributes_prefix,
        }
    }

    /// Key of the detail file (segments, words) that goes with a Parquet result file (same day, id and version),
    /// whether or not one was written.
    pub fn detail_key_for(&self, detail: Detail, results_key: &str) -> Option<String> {
        let rest = results_key.strip_prefix(&self.results_prefix)?;
        rest.ends_with(&format!(".{}", FileFormat::Parquet.extension()))
            .then(|| format!("{}{rest}", self.detail_prefix(detail)))
    }

    /// Every object of one processing of a recording version, from its Parquet result file's key (the day, id and
    /// version it names), as key prefixes in the result file's bucket: its detail files, subtitles and silenced copy
    /// (`<prefix>dt=<day>/<id>-<version>.`), its quarantine record when the row failed with `code`, its parts and
    /// attempt marker, and last its result and JSON Lines files — what erasing the recording deletes, in an order
    /// that a deletion cut short can take up again from the result file. `None` for a key that is not a result file.
    pub fn outputs_of(&self, results_key: &str, code: Option<ErrorCode>) -> Option<Vec<String>> {
        let rest = results_key.strip_prefix(&self.results_prefix)?;
        let (day, name) = rest.strip_prefix("dt=")?.split_once('/')?;
        let stem = name.strip_suffix(&format!(".{}", FileFormat::Parquet.extension()))?;
        if day.len() != 10 || stem.contains('/') || !stem.contains('-') {
            return None;
        }
        let mut prefixes: Vec<String> = Detail::ALL
            .iter()
            .map(|d| self.detail_prefix(*d))
            .chain([self.subtitles_prefix.as_str(), self.redacted_audio_prefix.as_str()])
            .map(|p| format!("{p}dt={day}/{stem}."))
            .collect();
        if let Some(code) = code {
            prefixes.push(format!("{}{}/dt={day}/{stem}.", self.rejected_prefix, code.as_str()));
        }
        prefixes.push(format!("{}parts/{stem}/", self.manifests_prefix));
        prefixes.push(format!("{}attempts/{stem}.", self.manifests_prefix));
        prefixes.push(format!("{}dt={day}/{stem}.", self.results_prefix));
        Some(prefixes)
    }

    /// Key of the result file of one version of one recording.
    pub fn results_key(&self, day: NaiveDate, id: &str, version: &str, format: FileFormat) -> String {
        format!("{}{id}-{version}.{}", self.results_day_prefix(day), format.extension())
    }

    /// Key of a detail file (segments, words) of one version of one recording.
    pub fn detail_key(&self, detail: Detail, day: NaiveDate, id: &str, version: &str) -> String {
        format!("{}dt={}/{id}-{version}.parquet", self.detail_prefix(detail), day.format("%Y-%m-%d"))
    }

    /// Key of a subtitle file of one version of one recording.
    pub fn subtitles_key(&self, day: NaiveDate, id: &str, version: &str, format: SubtitleFormat) -> String {
        format!("{}dt={}/{id}-{version}.{}", self.subtitles_prefix, day.format("%Y-%m-%d"), format.extension())
    }

    /// Key of the silenced copy of one version of one recording.
    pub fn redacted_audio_key(&self, day: NaiveDate, id: &str, version: &str) -> String {
        format!("{}dt={}/{id}-{version}.wav", self.redacted_audio_prefix, day.format("%Y-%m-%d"))
    }

    /// Key of a COPY manifest for one load batch.
    pub fn manifest_key(&self, day: NaiveDate, batch_id: &str) -> String {
        format!("{}dt={}/{batch_id}.manifest", self.manifests_prefix, day.format("%Y-%m-%d"))
    }

    /// The `load_audit` rows of a batch, beside its manifest (a key no other object's key extends: COPY reads
    /// a prefix).
    pub fn audit_rows_key(&self, day: NaiveDate, batch_id: &str) -> String {
        format!("{}dt={}/{batch_id}.audit.jsonl", self.manifests_prefix, day.format("%Y-%m-%d"))
    }

    /// Prefix of the quarantine records, of one reason or of all.
    pub fn rejected_prefix(&self, code: Option<ErrorCode>) -> String {
        match code {
            Some(code) => format!("{}{}/", self.rejected_prefix, code.as_str()),
            None => self.rejected_prefix.clone(),
        }
    }

    /// Key of the quarantine record of one version of one recording.
    pub fn rejected_key(&self, code: ErrorCode, day: NaiveDate, id: &str, version: &str) -> String {
        format!("{}{}/dt={}/{id}-{version}.json", self.rejected_prefix, code.as_str(), day.format("%Y-%m-%d"))
    }

    /// The attempt marker of one recording version (how often its processing started and ended), beside the
    /// manifests: transient state, expired with them, never a recording (an output prefix).
    pub fn attempts_key(&self, id: &str, version: &str) -> String {
        format!("{}attempts/{id}-{version}.json", self.manifests_prefix)
    }

    /// Where a long recording version's parts wait: each part's request and, once heard, its transcription.
    pub fn parts_prefix(&self, id: &str, version: &str) -> String {
        format!("{}parts/{id}-{version}/", self.manifests_prefix)
    }

    /// The request to hear part `index` of a recording version: an object whose creation is the part's event (a
    /// message on the transcribe queue like an upload's).
    pub fn part_request_key(&self, id: &str, version: &str, index: usize) -> String {
        format!("{}{index:04}{PART_REQUEST_SUFFIX}", self.parts_prefix(id, version))
    }

    /// What part `index` of a recording version was heard to say.
    pub fn part_heard_key(&self, id: &str, version: &str, index: usize) -> String {
        format!("{}{index:04}{PART_HEARD_SUFFIX}", self.parts_prefix(id, version))
    }

    /// Whether `key` is a part's request (processed like a recording, though under the output prefixes).
    pub fn is_part_request(&self, key: &str) -> bool {
        key.strip_prefix(&self.manifests_prefix)
            .and_then(|k| k.strip_prefix("parts/"))
            .is_some_and(|k| k.ends_with(PART_REQUEST_SUFFIX) && k.matches('/').count() == 1)
    }

    /// Where a reprocess's requests go: one folder per reprocess (its generation).
    pub fn reprocess_prefix(&self) -> String {
        format!("{}reprocess/", self.manifests_prefix)
    }

    /// The request to hear one recording version again, in the reprocess of `generation`: an object whose creation
    /// is its event (a message on the transcribe queue like an upload's, so a reprocess scales out as uploads do).
    pub fn reprocess_request_key(&self, generation: i64, id: &str, version: &str) -> String {
        format!("{}{generation}/{id}-{version}{REPROCESS_REQUEST_SUFFIX}", self.reprocess_prefix())
    }

    /// Whether `key` is a reprocess request (which the loop guard lets through to the transcribe stage).
    pub fn is_reprocess_request(&self, key: &str) -> bool {
        key.strip_prefix(&self.reprocess_prefix())
            .is_some_and(|k| k.ends_with(REPROCESS_REQUEST_SUFFIX) && k.matches('/').count() == 1)
    }

    /// Whether `key` is a request the transcribe stage hears (a part's, a reprocess's).
    pub fn is_request(&self, key: &str) -> bool {
        self.is_part_request(key) || self.is_reprocess_request(key)
    }
}

/// How a part's request object's key ends (what the bucket's notification of parts filters on).
pub const PART_REQUEST_SUFFIX: &str = ".part.json";
/// How a reprocess request object's key ends (what the bucket's notification of reprocess requests filters on).
pub const REPROCESS_REQUEST_SUFFIX: &str = ".reprocess.json";
/// How a heard part's key ends.
pub const PART_HEARD_SUFFIX: &str = ".heard.json";

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn default_keys_follow_the_design() {
        let l = Layout::default();
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            l.results_key(day(), id, "v1", FileFormat::Parquet),
            "processed/transcription_results/dt=2026-11-23/0123456789abcdef0123456789abcdef-v1.parquet"
        );
        assert_eq!(
            l.results_key(day(), id, "v1", FileFormat::JsonLines),
            "processed/transcription_results/dt=2026-11-23/0123456789abcdef0123456789abcdef-v1.jsonl"
        );
        assert_eq!(
            l.detail_key(Detail::Segments, day(), id, "v1"),
            "processed/transcription_segments/dt=2026-11-23/0123456789abcdef0123456789abcdef-v1.parquet"
        );
        assert_eq!(
            l.detail_key(Detail::Words, day(), id, "v1"),
            "processed/transcription_words/dt=2026-11-23/0123456789abcdef0123456789abcdef-v1.parquet"
        );
        assert_eq!(
            l.subtitles_key(day(), id, "v1", SubtitleFormat::Vtt),
            "processed/subtitles/dt=2026-11-23/0123456789abcdef0123456789abcdef-v1.vtt"
        );
        assert_eq!(
            l.redacted_audio_key(day(), id, "v1"),
            "processed/redacted-audio/dt=2026-11-23/0123456789abcdef0123456789abcdef-v1.wav"
        );
        assert_eq!(l.manifest_key(day(), "b-7"), "manifests/dt=2026-11-23/b-7.manifest");
        assert_eq!(
            l.rejected_key(ErrorCode::NotAudio, day(), id, "v1"),
            "rejected/not_audio/dt=2026-11-23/0123456789abcdef0123456789abcdef-v1.json"
        );
    }

    #[test]
    fn a_processing_s_outputs_are_found_from_its_result_file() {
        let l = Layout::default();
        let id = "0123456789abcdef0123456789abcdef";
        let key = l.results_key(day(), id, "v1", FileFormat::Parquet);
        let outputs = l.outputs_of(&key, Some(ErrorCode::NotAudio)).unwrap();
        let version = |k: &str| outputs.iter().filter(|p| k.starts_with(p.as_str())).count();
        for key in [
            l.results_key(day(), id, "v1", FileFormat::JsonLines),
            l.detail_key(Detail::Segments, day(), id, "v1"),
            l.detail_key(Detail::Words, day(), id, "v1"),
            l.detail_key(Detail::Attributes, day(), id, "v1"),
            l.subtitles_key(day(), id, "v1", SubtitleFormat::Srt),
            l.subtitles_key(day(), id, "v1", SubtitleFormat::Vtt),
            l.redacted_audio_key(day(), id, "v1"),
            l.rejected_key(ErrorCode::NotAudio, day(), id, "v1"),
            l.part_request_key(id, "v1", 3),
            l.part_heard_key(id, "v1", 3),
            l.attempts_key(id, "v1"),
            key.clone(),
        ] {
            assert_eq!(version(&key), 1, "{key}");
        }
        // Nothing of another version, another recording, another day or another reason.
        for key in [
            l.results_key(day(), id, "v2", FileFormat::Parquet),
            l.detail_key(Detail::Segments, day(), id, "v1-2"),
            l.results_key(day().succ_opt().unwrap(), id, "v1", FileFormat::Parquet),
            l.rejected_key(ErrorCode::RetriesExhausted, day(), id, "v1"),
            l.attempts_key("fedcba9876543210fedcba9876543210", "v1"),
        ] {
            assert_eq!(version(&key), 0, "{key}");
        }
        assert!(outputs.last().unwrap().starts_with("processed/transcription_results/"), "the result file last");
        assert_eq!(l.outputs_of("processed/transcription_segments/dt=2026-11-23/x-v1.parquet", None), None);
        assert_eq!(l.outputs_of("processed/transcription_results/dt=2026-11-23/x-v1.jsonl", None), None);
    }

    #[test]
    fn every_output_key_is_guarded_against_reprocessing() {
        let l = Layout::default();
        let id = "x";
        for key in [
            l.results_key(day(), id, "v", FileFormat::Parquet),
            l.results_key(day(), id, "v", FileFormat::JsonLines),
            l.detail_key(Detail::Segments, day(), id, "v"),
            l.detail_key(Detail::Words, day(), id, "v"),
            l.subtitles_key(day(), id, "v", SubtitleFormat::Srt),
            l.subtitles_key(day(), id, "v", SubtitleFormat::Vtt),
            l.redacted_audio_key(day(), id, "v"),
            l.manifest_key(day(), "b"),
            l.rejected_key(ErrorCode::Truncated, day(), id, "v"),
        ] {
            assert!(l.is_output("bucket", &key), "{key}");
        }
        assert!(!l.is_output("bucket", "recordings/call.wav"));
        assert!(!l.is_output("bucket", "processed-audio/call.wav"));
    }

    #[test]
    fn result_files_and_their_segments() {
        let l = Layout::default();
        let parquet = l.results_key(day(), "x", "v", FileFormat::Parquet);
        assert!(l.is_results_file("b", &parquet));
        assert!(!l.is_results_file("b", &l.results_key(day(), "x", "v", FileFormat::JsonLines)));
        assert!(!l.is_results_file("b", "calls/x.parquet"));
        for detail in Detail::ALL {
            assert!(!l.is_results_file("b", &l.detail_key(detail, day(), "x", "v")));
            assert_eq!(l.detail_key_for(detail, &parquet), Some(l.detail_key(detail, day(), "x", "v")));
            assert_eq!(l.detail_key_for(detail, "calls/x.parquet"), None);
        }
        let elsewhere = Layout::new(Some("out".into()), "res", "seg", "words", "man", "rej").unwrap();
        assert!(elsewhere.is_results_file("out", "res/dt=2026-11-23/x-v.parquet"));
        assert!(!elsewhere.is_results_file("in", "res/dt=2026-11-23/x-v.parquet"));
    }

    #[test]
    fn a_separate_output_bucket_guards_only_itself() {
        let l = Layout::new(Some("out".into()), "/res", "seg/", "/w/", "man", "rej//").unwrap();
        assert_eq!(
            l.output_prefixes(),
            [
                "res/",
                "seg/",
                "w/",
                "processed/transcription_attributes/",
                "processed/subtitles/",
                "processed/redacted-audio/",
                "man/",
                "rej/"
            ]
        );
        assert!(l.is_output("out", "res/dt=2026-11-23/a.parquet"));
        assert!(!l.is_output("in", "res/dt=2026-11-23/a.parquet"));
        assert_eq!(l.bucket_for("in"), "out");
        assert_eq!(Layout::default().bucket_for("in"), "in");
    }

    #[test]
    fn bad_prefixes_are_rejected() {
        for bad in ["", "/", "a//b", "a/../b", "./x"] {
            assert!(Layout::new(None, bad, "s", "w", "m", "r").is_err(), "{bad:?}");
        }
    }
}
