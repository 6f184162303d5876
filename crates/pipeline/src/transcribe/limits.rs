//! What the transcribe stage takes in: its outputs' layout, the size and length a recording may have, and the
//! time one invocation gives it.

use std::path::PathBuf;
use std::time::Instant;

use redscribe_core::layout::Layout;
use redscribe_core::metrics::Stage;
use redscribe_core::{ErrorCode, Failure};

/// How the stage writes its outputs, and what it takes in.
#[derive(Debug, Clone, Default)]
pub struct TranscribeConfig {
    pub layout: Layout,
    /// Also write each row as JSON Lines beside the Parquet file.
    pub jsonl: bool,
    pub limits: RecordingLimits,
    /// Where recordings are spooled while they are heard (default: the system's temporary folder).
    pub spool_dir: Option<PathBuf>,
    /// Seconds of compute a second of audio is expected to take before enough has been measured, instead of the
    /// model's figure in `redscribe_core::plan` (`REDSCRIBE_EXPECTED_RTF`): with the deadline, what decides whether
    /// a recording is started.
    pub expected_rtf: Option<f64>,
    /// The CPU this process has, in vCPUs (a Lambda function's memory / 1,769 MB): what the model's figure is
    /// scaled to (`redscribe_core::plan::vcpu_factor`). `None`: the figure's own two.
    pub vcpus: Option<f64>,
    /// Recordings longer than this many seconds of audio are cut into parts heard apart (`REDSCRIBE_PART_SECONDS`;
    /// `None`: every recording heard whole). See `transcribe::parts`.
    pub part_s: Option<f64>,
    /// What every recording is redacted of (`REDSCRIBE_REDACT`); a recording's metadata can add to it.
    pub redact: redscribe_core::redact::RedactOptions,
    /// The named groups of recordings' keys that become attributes (`REDSCRIBE_KEY_PATTERN`).
    pub key_pattern: Option<redscribe_core::attributes::KeyPattern>,
    /// The role of each channel of a call heard one channel at a time (`REDSCRIBE_CHANNEL_ROLES`).
    pub channel_roles: redscribe_core::talk::ChannelRoles,
}

/// The time one invocation gives its recordings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeBudget {
    /// When the work must be done (the invocation's deadline less its margin).
    pub deadline: Option<Instant>,
    /// The most any invocation has (the function's timeout less the margin): a recording that needs more can
    /// never finish, however often it is delivered.
    pub total: Option<std::time::Duration>,
}

impl TimeBudget {
    /// Whether `needed_s` seconds of compute fit: `Err` with a transient failure (no time left now) or a
    /// permanent one (it never fits: `too_long`).
    pub(super) fn check(&self, needed_s: f64, duration_s: f64) -> Result<(), Failure> {
        if let Some(total) = self.total.filter(|t| needed_s > t.as_secs_f64()) {
            return Err(Failure::new(
                Stage::Decode,
                ErrorCode::TooLong,
                format!(
                    "{duration_s:.0} s of audio needs about {needed_s:.0} s to transcribe, more than the function's \
                     {:.0} s: it can never finish in one invocation (raise the function's timeout, or lower \
                     --max-duration to refuse such recordings at the header)",
                    total.as_secs_f64()
                ),
            ));
        }
        if let Some(left) = self.deadline.map(|d| d.saturating_duration_since(Instant::now())) {
            if needed_s > left.as_secs_f64() {
                return Err(Failure::new(
                    Stage::Decode,
                    ErrorCode::ServiceUnavailable,
                    format!(
                        "not enough time left in this invocation: about {needed_s:.0} s needed, {:.0} s left; left \
                         for the next delivery",
                        left.as_secs_f64()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// What a recording may be: bigger or longer is quarantined (`too_large`, `too_long`), as early as it shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordingLimits {
    /// Bytes of the object (default 2 GiB): refused from the event's size without a read, or when the read
    /// passes it. The spool folder must hold this much (a Lambda's ephemeral storage).
    pub max_bytes: u64,
    /// Seconds of audio (default 4 hours): refused from the header, or when decoding passes it.
    pub max_duration_s: f64,
}

impl Default for RecordingLimits {
    fn default() -> RecordingLimits {
        use redscribe_core::settings::{DEFAULT_MAX_DURATION_S, DEFAULT_MAX_OBJECT_BYTES};
        RecordingLimits { max_bytes: DEFAULT_MAX_OBJECT_BYTES, max_duration_s: DEFAULT_MAX_DURATION_S }
    }
}
