//! One definition of each setting the binaries share: the environment variable it is read from, its default as a
//! named constant and the values it may take. The Lambdas' configuration (`redscribe_pipeline::config`) and the
//! CLI's flags (clap, `env = …`) both read from here, so a variable means the same thing everywhere.
//!
//! Where a default differs by front end on purpose, both constants are here and say why.

use std::ops::RangeInclusive;
use std::path::PathBuf;

/// Environment variables, by the name users and the stack set.
pub mod var {
    /// The cache folder `scripts/setup.sh` installs models and native libraries into.
    pub const CACHE: &str = "REDSCRIBE_CACHE";
    pub const MODEL: &str = "REDSCRIBE_MODEL";
    pub const MODEL_DIR: &str = "REDSCRIBE_MODEL_DIR";
    pub const LANGUAGE: &str = "REDSCRIBE_LANGUAGE";
    pub const DECODE: &str = "REDSCRIBE_DECODE";
    pub const BEAM_SIZE: &str = "REDSCRIBE_BEAM_SIZE";
    pub const BATCH_SIZE: &str = "REDSCRIBE_BATCH_SIZE";
    pub const PACK: &str = "REDSCRIBE_PACK";
    pub const TRIM_WINDOWS: &str = "REDSCRIBE_TRIM_WINDOWS";
    /// What every transcript is redacted of: `pii` or `off` (`redscribe_core::redact`).
    pub const REDACT: &str = "REDSCRIBE_REDACT";
    /// A regular expression over recordings' keys whose named groups are attributes (`redscribe_core::attributes`).
    pub const KEY_PATTERN: &str = "REDSCRIBE_KEY_PATTERN";
    /// The role of each channel of a call (`agent,customer`: `redscribe_core::talk`).
    pub const CHANNEL_ROLES: &str = "REDSCRIBE_CHANNEL_ROLES";
    /// Days rows are kept after they were processed (the load function's scheduled purge; `0`: for good).
    pub const RESULT_RETENTION_DAYS: &str = "REDSCRIBE_RESULT_RETENTION_DAYS";
    pub const CONCURRENCY: &str = "REDSCRIBE_CONCURRENCY";
    pub const MAX_OBJECT_BYTES: &str = "REDSCRIBE_MAX_OBJECT_BYTES";
    pub const MAX_DURATION_S: &str = "REDSCRIBE_MAX_DURATION_S";
    pub const S3_PATH_STYLE: &str = "REDSCRIBE_S3_PATH_STYLE";
    pub const PRICES: &str = "REDSCRIBE_PRICES";
    pub const LOAD_BATCH_FILES: &str = "REDSCRIBE_LOAD_BATCH_FILES";
    pub const MAX_RECEIVES: &str = "REDSCRIBE_MAX_RECEIVES";
    /// Where recordings are uploaded in the bucket (the stack's `InputPrefix`): the load function loads only
    /// result files that answer a recording under it.
    pub const INPUT_PREFIX: &str = "REDSCRIBE_INPUT_PREFIX";
    /// Recordings longer than this many seconds are heard in parts (`0` or `off`: whole).
    pub const PART_SECONDS: &str = "REDSCRIBE_PART_SECONDS";
    /// The longest recording in hours, as the stack's `MaxAudioHours` hands it (`REDSCRIBE_MAX_DURATION_S` wins).
    pub const MAX_AUDIO_HOURS: &str = "REDSCRIBE_MAX_AUDIO_HOURS";
    /// Fault injection for tests: processing a recording whose key contains this aborts the process.
    pub const FAULT_ABORT_ON: &str = "REDSCRIBE_FAULT_ABORT_ON";
}

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "tiny.en";
/// Beam size of the decoder (1: greedy).
pub const DEFAULT_BEAM_SIZE: usize = 5;
pub const BEAM_SIZE_RANGE: RangeInclusive<usize> = 1..=16;
/// Stretches of speech decoded per batch (batched decoding).
pub const DEFAULT_BATCH_SIZE: usize = 8;
pub const BATCH_SIZE_RANGE: RangeInclusive<usize> = 1..=64;
/// Recordings of one Lambda invocation processed at once: the function has two vCPUs at its stack memory, and
/// each recording's decoding uses all the threads it is given.
pub const LAMBDA_CONCURRENCY: usize = 2;
/// Recordings a CLI pass processes at once: a laptop runs many short files, whose reads and probes overlap.
pub const CLI_CONCURRENCY: usize = 4;
pub const CONCURRENCY_RANGE: RangeInclusive<usize> = 1..=64;
/// A laptop or a large instance may run many more recordings at once than a function's two vCPUs.
pub const CLI_CONCURRENCY_RANGE: RangeInclusive<usize> = 1..=256;
/// Largest object read (the transcribe function's ephemeral storage must hold it).
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 2 << 30;
/// Longest recording, in seconds (Amazon Transcribe's limit, 4 hours).
pub const DEFAULT_MAX_DURATION_S: f64 = 4.0 * 3600.0;
/// Result files per COPY.
pub const DEFAULT_LOAD_BATCH_FILES: usize = 1000;
pub const LOAD_BATCH_FILES_RANGE: RangeInclusive<usize> = 1..=100_000;
/// Bytes of result files per COPY.
pub const DEFAULT_LOAD_BATCH_BYTES: u64 = 1 << 30;
/// Rounds of taking out the files `sys_load_error_detail` names before a batch is split instead.
pub const ISOLATION_ROUNDS: usize = 5;
/// An SQS message received this often is quarantined `retries_exhausted` unprocessed (three tries, quarantined
/// on the fourth receive; the stack's queue hands it to the dead-letter queue on the fifth).
pub const DEFAULT_MAX_RECEIVES: u32 = 4;
/// The memory `template.yaml` gives each function, in MB: what the functions price their work at when Lambda
/// does not say (and what the CLI prices a recording at, as if the deployed function had processed it).
pub const TRANSCRIBE_MEMORY_MB: u32 = 1769;
pub const LOAD_MEMORY_MB: u32 = 512;

/// The cache folder `scripts/setup.sh` installs into: `$REDSCRIBE_CACHE`, else `$HOME/.cache/redscribe`. `var`
/// looks a variable up (`std::env::var` in the binaries, a map in tests).
pub fn cache_dir(var: impl Fn(&str) -> Option<String>) -> PathBuf {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    match set(var::CACHE) {
        Some(dir) => PathBuf::from(dir),
        None => set("HOME").map(PathBuf::from).unwrap_or_default().join(".cache/redscribe"),
    }
}

/// [`cache_dir`] of the process environment.
pub fn cache_dir_from_env() -> PathBuf {
    cache_dir(|name| std::env::var(name).ok())
}

/// A duration in seconds as a setting takes it: a finite number above zero.
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!("{text:?}: expected a number of seconds above 0")),
    }
}

/// A part length (`REDSCRIBE_PART_SECONDS`, `--part-seconds`): seconds of at least
/// [`crate::parts::MIN_PART_SECONDS`], or `0` / `off` for recordings heard whole.
pub fn parse_part_seconds(text: &str) -> Result<Option<f64>, String> {
    match text.trim() {
        "0" | "off" => Ok(None),
        t => match parse_seconds(t) {
            Ok(s) if s >= crate::parts::MIN_PART_SECONDS => Ok(Some(s)),
            Ok(s) => Err(format!("{s} s: a part holds at least {} s", crate::parts::MIN_PART_SECONDS)),
            Err(e) => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_redscribe_cache_else_under_home() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(cache_dir(vars(&[("HOME", "/home/u")])), PathBuf::from("/home/u/.cache/redscribe"));
        assert_eq!(cache_dir(vars(&[("HOME", "/home/u"), ("REDSCRIBE_CACHE", "/c")])), PathBuf::from("/c"));
        assert_eq!(
            cache_dir(vars(&[("HOME", "/home/u"), ("REDSCRIBE_CACHE", " ")])),
            PathBuf::from("/home/u/.cache/redscribe")
        );
    }

    #[test]
    fn seconds_are_positive_and_fractions_allowed() {
        assert_eq!(parse_seconds("14400"), Ok(14400.0));
        assert_eq!(parse_seconds("0.5"), Ok(0.5));
        for bad in ["0", "-1", "NaN", "inf", "four hours"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
