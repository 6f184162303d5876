//! The catalog of metrics (DESIGN 2.6). Dashboards and alarms may reference only names listed here.
//!
//! Rules: event-style names; dimensions are low-cardinality only ([`Dimension`]: stage, error code, function) —
//! never a key, an id or a bucket; one data point per recording or per batch, never per sample or per segment.

/// Default CloudWatch namespace.
pub const DEFAULT_NAMESPACE: &str = "Redscribe";

/// CloudWatch units used by the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Milliseconds,
    Bytes,
    /// Dimensionless ratio (CloudWatch `None`).
    None,
}

impl Unit {
    /// The unit as CloudWatch spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::None => "None",
        }
    }
}

/// Dimensions a metric may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// A [`Stage`].
    Stage,
    /// An [`crate::ErrorCode`].
    ErrorCode,
    /// The Lambda function name (or `redscribe` for the CLI).
    Function,
    /// The transcription model (`none` when transcription is off).
    Model,
}

impl Dimension {
    /// The dimension name as it appears in CloudWatch.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dimension::Stage => "Stage",
            Dimension::ErrorCode => "ErrorCode",
            Dimension::Function => "Function",
            Dimension::Model => "Model",
        }
    }
}

/// Pipeline stages, the values of the `Stage` dimension (and of a quarantine record's `stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Receive,
    Download,
    Decode,
    Transcribe,
    Write,
    Load,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 6] =
        [Stage::Receive, Stage::Download, Stage::Decode, Stage::Transcribe, Stage::Write, Stage::Load];

    /// The dimension value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Receive => "receive",
            Stage::Download => "download",
            Stage::Decode => "decode",
            Stage::Transcribe => "transcribe",
            Stage::Write => "write",
            Stage::Load => "load",
        }
    }
}

/// Every metric redscribe emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    RecordingsReceived,
    RecordingsSkipped,
    RecordingsProcessed,
    RecordingsQuarantined,
    RecordingsFailed,
    AudioSecondsTranscribed,
    RealTimeFactor,
    StageLatency,
    UploadToQueryableLatency,
    RowsLoaded,
    CopyDuration,
    LoadBatchSize,
    LoadBatchBytes,
    LoadFailures,
    LoadsBlocked,
    TranscriptsEmpty,
    RepetitionsDetected,
    PiiRedacted,
    KeyPatternMisses,
    ModelLoadTime,
    ColdStartDuration,
    EstimatedCost,
}

impl Metric {
    /// Every metric in the catalog.
    pub const ALL: [Metric; 22] = [
        Metric::RecordingsReceived,
        Metric::RecordingsSkipped,
        Metric::RecordingsProcessed,
        Metric::RecordingsQuarantined,
        Metric::RecordingsFailed,
        Metric::AudioSecondsTranscribed,
        Metric::RealTimeFactor,
        Metric::StageLatency,
        Metric::UploadToQueryableLatency,
        Metric::RowsLoaded,
        Metric::CopyDuration,
        Metric::LoadBatchSize,
        Metric::LoadBatchBytes,
        Metric::LoadFailures,
        Metric::LoadsBlocked,
        Metric::TranscriptsEmpty,
        Metric::RepetitionsDetected,
        Metric::PiiRedacted,
        Metric::KeyPatternMisses,
        Metric::ModelLoadTime,
        Metric::ColdStartDuration,
        Metric::EstimatedCost,
    ];

    /// The metric name in CloudWatch.
    pub const fn name(self) -> &'static str {
        match self {
            Metric::RecordingsReceived => "RecordingsReceived",
            Metric::RecordingsSkipped => "RecordingsSkipped",
            Metric::RecordingsProcessed => "RecordingsProcessed",
            Metric::RecordingsQuarantined => "RecordingsQuarantined",
            Metric::RecordingsFailed => "RecordingsFailed",
            Metric::AudioSecondsTranscribed => "AudioSecondsTranscribed",
            Metric::RealTimeFactor => "RealTimeFactor",
            Metric::StageLatency => "StageLatency",
            Metric::UploadToQueryableLatency => "UploadToQueryableLatency",
            Metric::RowsLoaded => "RowsLoaded",
            Metric::CopyDuration => "CopyDuration",
            Metric::LoadBatchSize => "LoadBatchSize",
            Metric::LoadBatchBytes => "LoadBatchBytes",
            Metric::LoadFailures => "LoadFailures",
            Metric::LoadsBlocked => "LoadsBlocked",
            Metric::TranscriptsEmpty => "TranscriptsEmpty",
            Metric::RepetitionsDetected => "RepetitionsDetected",
            Metric::PiiRedacted => "PiiRedacted",
            Metric::KeyPatternMisses => "KeyPatternMisses",
            Metric::ModelLoadTime => "ModelLoadTime",
            Metric::ColdStartDuration => "ColdStartDuration",
            Metric::EstimatedCost => "EstimatedCost",
        }
    }

    /// The unit of its values.
    pub const fn unit(self) -> Unit {
        match self {
            Metric::RecordingsReceived
            | Metric::RecordingsSkipped
            | Metric::RecordingsProcessed
            | Metric::RecordingsQuarantined
            | Metric::RecordingsFailed
            | Metric::RowsLoaded
            | Metric::LoadBatchSize
            | Metric::LoadFailures
            | Metric::LoadsBlocked
            | Metric::TranscriptsEmpty
            | Metric::RepetitionsDetected
            | Metric::PiiRedacted
            | Metric::KeyPatternMisses => Unit::Count,
            Metric::AudioSecondsTranscribed | Metric::UploadToQueryableLatency => Unit::Seconds,
            Metric::StageLatency | Metric::CopyDuration | Metric::ModelLoadTime | Metric::ColdStartDuration => {
                Unit::Milliseconds
            }
            Metric::LoadBatchBytes => Unit::Bytes,
            Metric::RealTimeFactor | Metric::EstimatedCost => Unit::None,
        }
    }

    /// The dimensions it is published with (each data point carries all of them).
    pub const fn dimensions(self) -> &'static [Dimension] {
        match self {
            Metric::RecordingsQuarantined | Metric::RecordingsFailed | Metric::LoadFailures | Metric::LoadsBlocked => {
                &[Dimension::Function, Dimension::Stage, Dimension::ErrorCode]
            }
            Metric::RecordingsReceived
            | Metric::RecordingsSkipped
            | Metric::RecordingsProcessed
            | Metric::StageLatency => &[Dimension::Function, Dimension::Stage],
            Metric::KeyPatternMisses => &[Dimension::Function],
            Metric::AudioSecondsTranscribed
            | Metric::RealTimeFactor
            | Metric::TranscriptsEmpty
            | Metric::RepetitionsDetected
            | Metric::PiiRedacted
            | Metric::ModelLoadTime
            | Metric::EstimatedCost => &[Dimension::Function, Dimension::Model],
            Metric::UploadToQueryableLatency
            | Metric::RowsLoaded
            | Metric::CopyDuration
            | Metric::LoadBatchSize
            | Metric::LoadBatchBytes
            | Metric::ColdStartDuration => &[Dimension::Function],
        }
    }

    /// Every dimension set it is published under: [`Metric::dimensions`], and for the counts by error code (the
    /// failure counts) also `Function` alone, the total over stages and codes that an alarm can read (CloudWatch
    /// alarms cannot sum a SEARCH over the finer sets).
    pub fn dimension_sets(self) -> Vec<&'static [Dimension]> {
        if self.dimensions().contains(&Dimension::ErrorCode) {
            vec![self.dimensions(), &[Dimension::Function]]
        } else {
            vec![self.dimensions()]
        }
    }

    /// One line saying what it measures.
    pub const fn description(self) -> &'static str {
        match self {
            Metric::RecordingsReceived => "Object-created events accepted for processing",
            Metric::RecordingsSkipped => {
                "Records acknowledged without processing (test events, folders, loop guard, duplicates)"
            }
            Metric::RecordingsProcessed => "Recordings that produced a result row",
            Metric::RecordingsQuarantined => "Recordings rejected permanently, with a quarantine record",
            Metric::RecordingsFailed => "Transient failures left for retry",
            Metric::AudioSecondsTranscribed => "Seconds of audio transcribed",
            Metric::RealTimeFactor => "Transcription wall time divided by audio duration",
            Metric::StageLatency => {
                "Wall time of one stage for one recording or load batch (receive: from the upload to the attempt)"
            }
            Metric::UploadToQueryableLatency => "From the object's upload to its row being queryable",
            Metric::RowsLoaded => "Rows merged into transcription_results",
            Metric::CopyDuration => "Wall time of one load transaction",
            Metric::LoadBatchSize => "Files in one load batch",
            Metric::LoadBatchBytes => "Bytes of result files in one load batch",
            Metric::LoadFailures => "Load transactions or files that failed",
            Metric::LoadsBlocked => {
                "Files left pending because the warehouse refused the load for want of a grant, a role or a table"
            }
            Metric::TranscriptsEmpty => "Recordings transcribed to no text (silence, noise, no speech)",
            Metric::RepetitionsDetected => "Transcripts still flagged as repetition loops after temperature fallback",
            Metric::PiiRedacted => "Values (card numbers, e-mail addresses, …) redacted from transcripts",
            Metric::KeyPatternMisses => "Recordings whose key the deployment's key pattern did not match",
            Metric::ModelLoadTime => "Time to load the transcription model",
            Metric::ColdStartDuration => "A Lambda's initialisation: process start to ready for its first event",
            Metric::EstimatedCost => {
                "USD by the price table: Lambda time at the function's memory, requests, S3 and SQS calls (one per recording or load batch)"
            }
        }
    }

    /// Looks a metric up by its CloudWatch name.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The `q`th percentile (0–100) of `values` as CloudWatch computes it, by nearest rank: the smallest value with at
/// least `q` % of the values at or below it. `None` for no values. Sorts `values`.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q / 100.0 * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_resolvable() {
        let mut seen = std::collections::HashSet::new();
        for m in Metric::ALL {
            assert!(seen.insert(m.name()), "duplicate {}", m.name());
            assert_eq!(Metric::from_name(m.name()), Some(m));
            assert!(m.name().chars().all(|c| c.is_ascii_alphanumeric()));
            assert!(m.dimensions().contains(&Dimension::Function));
            assert!(!m.description().is_empty());
        }
        assert_eq!(Metric::from_name("recordings_received"), None);
    }

    #[test]
    fn units_are_cloudwatch_units() {
        assert_eq!(Metric::StageLatency.unit().as_str(), "Milliseconds");
        assert_eq!(Metric::RealTimeFactor.unit().as_str(), "None");
        assert_eq!(Metric::AudioSecondsTranscribed.unit().as_str(), "Seconds");
        assert_eq!(Metric::LoadBatchBytes.unit().as_str(), "Bytes");
    }
}
