//! How long a recording will take to transcribe, planned once its header is read: what decides whether it is
//! started in an invocation or left for a later one, and whether it can ever fit one (`too_long`).
//!
//! The plan is the audio's length × the passes over it (a channel counts only when it is heard on its own: a
//! stereo file whose channels carry the same sound is heard once) × a real-time factor (RTF: seconds of compute
//! per second of audio). The RTF comes from what the model measurably needs: [`PACES`], the benchmarks' figures
//! on dense speech, × [`TABLE_SAFETY`]; once this process has measured [`MEASURED_BEFORE_TRUSTED`] recordings of
//! at least [`MIN_MEASURED_AUDIO_S`], the median of its last [`MEASURED_KEPT`] × [`MEASURED_SAFETY`]. A median,
//! so one slow recording moves nothing; long recordings only, since Whisper pads a short clip to a 30 s window
//! and a 5 s clip's RTF is several times a long recording's. The plan only decides where to start: the
//! transcription itself stops at the invocation's deadline whatever the plan said.

use std::collections::VecDeque;

/// What one model measurably needs: RTF at beam 5 on two threads, sequential decoding (the slower of the two) of
/// dense speech (the benchmarks' 150 s conversation), on the 2-core development machine (README, Benchmarks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub model: &'static str,
    pub rtf: f64,
}

/// The shipped models' paces (`benches/transcribe`, conversation set, beam 5, sequential).
pub const PACES: &[Pace] = &[Pace { model: "tiny.en", rtf: 0.054 }, Pace { model: "base", rtf: 0.108 }];

/// RTF for a model not in [`PACES`] (a folder of one's own): twice base's, the largest shipped.
pub const UNKNOWN_MODEL_RTF: f64 = 0.216;

/// The table's figures are from another machine than the one planning: a Lambda vCPU is slower than the
/// development machine's core, and real recordings can be denser than the benchmark's. Twice the table.
pub const TABLE_SAFETY: f64 = 2.0;

/// Measured here, on this machine: the median can still meet a denser recording. One and a half times it.
pub const MEASURED_SAFETY: f64 = 1.5;

/// Recordings shorter than this are not measured: padding to a 30 s window makes their RTF a short clip's.
pub const MIN_MEASURED_AUDIO_S: f64 = 60.0;

/// Measurements kept, the newest.
pub const MEASURED_KEPT: usize = 15;

/// Measurements before their median is used instead of the table.
pub const MEASURED_BEFORE_TRUSTED: usize = 3;

/// The RTF a model is planned with before this process has measured it: its pace × [`TABLE_SAFETY`]. The model
/// by its name (`tiny.en`) or as rows record it (`whisper-tiny.en`, its folder's name).
pub fn table_rtf(model: &str) -> f64 {
    let name = model.strip_prefix("whisper-").unwrap_or(model);
    PACES.iter().find(|p| p.model == name).map_or(UNKNOWN_MODEL_RTF, |p| p.rtf) * TABLE_SAFETY
}

/// What a process has measured of its model, and the RTF it plans with.
#[derive(Debug, Clone, PartialEq)]
pub struct Planner {
    /// The RTF before enough is measured: [`table_rtf`], or the deployment's own (`REDSCRIBE_EXPECTED_RTF`).
    pub before_measured: f64,
    measured: VecDeque<f64>,
}

impl Planner {
    /// A planner for `model`, or with an RTF of one's own until measurements come.
    pub fn new(model: &str, expected_rtf: Option<f64>) -> Planner {
        Planner { before_measured: expected_rtf.unwrap_or_else(|| table_rtf(model)), measured: VecDeque::new() }
    }

    /// Counts a finished transcription: `decode_s` seconds of compute for `audio_s` seconds of audio heard.
    pub fn measured(&mut self, audio_s: f64, decode_s: f64) {
        if audio_s >= MIN_MEASURED_AUDIO_S && decode_s.is_finite() && decode_s >= 0.0 {
            if self.measured.len() == MEASURED_KEPT {
                self.measured.pop_front();
            }
            self.measured.push_back(decode_s / audio_s);
        }
    }

    /// The RTF to plan with now.
    pub fn rtf(&self) -> f64 {
        if self.measured.len() < MEASURED_BEFORE_TRUSTED {
            return self.before_measured;
        }
        let mut sorted: Vec<f64> = self.measured.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 };
        median * MEASURED_SAFETY
    }

    /// Seconds of compute `duration_s` of audio heard in `passes` passes is planned to take.
    pub fn needed_s(&self, duration_s: f64, passes: usize) -> f64 {
        duration_s * passes.max(1) as f64 * self.rtf()
    }
}

/// The longest recording (seconds of audio) one invocation of `budget_s` seconds takes in `passes` passes at the
/// table's RTF for `model`: what the README and the template state.
pub fn longest_fitting_s(model: &str, budget_s: f64, passes: usize) -> f64 {
    budget_s / (table_rtf(model) * passes.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_plans_until_three_long_recordings_are_measured_then_their_median() {
        let mut p = Planner::new("whisper-tiny.en", None);
        assert!((p.rtf() - 0.108).abs() < 1e-9, "as rows name the model");
        // Short clips say nothing of long recordings.
        for _ in 0..10 {
            p.measured(5.0, 4.0);
        }
        assert!((p.rtf() - 0.108).abs() < 1e-9);
        p.measured(600.0, 12.0);
        p.measured(1200.0, 30.0);
        assert!((p.rtf() - 0.108).abs() < 1e-9, "two are not enough");
        p.measured(300.0, 9.0);
        // 0.02, 0.025, 0.03 → 0.025 × 1.5.
        assert!((p.rtf() - 0.0375).abs() < 1e-9, "{}", p.rtf());
    }

    #[test]
    fn one_slow_recording_moves_nothing() {
        let mut p = Planner::new("base", None);
        for _ in 0..4 {
            p.measured(600.0, 30.0);
        }
        let before = p.rtf();
        p.measured(600.0, 600.0);
        assert_eq!(p.rtf(), before);
    }

    #[test]
    fn only_the_newest_measurements_are_kept_and_a_deployment_may_set_its_own_rtf() {
        let mut p = Planner::new("base", Some(0.5));
        assert_eq!(p.rtf(), 0.5);
        for _ in 0..MEASURED_KEPT {
            p.measured(600.0, 600.0);
        }
        for _ in 0..MEASURED_KEPT {
            p.measured(600.0, 6.0);
        }
        assert!((p.rtf() - 0.015).abs() < 1e-9);
        assert!((Planner::new("mine", None).rtf() - UNKNOWN_MODEL_RTF * TABLE_SAFETY).abs() < 1e-9);
    }

    #[test]
    fn what_fits_the_stack_s_invocation() {
        // 900 s less the 30 s margin: tiny.en takes 2.2 hours of mono audio, base 67 minutes.
        let tiny = longest_fitting_s("tiny.en", 870.0, 1) / 60.0;
        let base = longest_fitting_s("base", 870.0, 1) / 60.0;
        assert!((134.0..135.0).contains(&tiny), "{tiny}");
        assert!((67.0..67.2).contains(&base), "{base}");
        assert!((longest_fitting_s("tiny.en", 870.0, 2) / 60.0 - tiny / 2.0).abs() < 1e-9);
    }
}
