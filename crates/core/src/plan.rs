//! How long a recording will take to transcribe, planned once its header is read: what decides whether it is
//! started in an invocation or left for a later one, and whether it can ever fit one (`too_long`).
//!
//! The plan is the audio's length × the passes over it (a channel counts only when it is heard on its own: a
//! stereo file whose channels carry the same sound is heard once) × a real-time factor (RTF: seconds of compute
//! per second of audio). The RTF comes from what the model measurably needs: [`PACES`], the benchmarks' figures
//! on dense speech at two threads, scaled to the CPU the process has ([`vcpu_factor`]: Lambda gives one vCPU per
//! 1,769 MB), × [`TABLE_SAFETY`]; once this process has measured [`MEASURED_BEFORE_TRUSTED`] recordings of
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

/// The CPU the table's paces were measured with: two threads on two cores.
pub const TABLE_VCPUS: f64 = 2.0;

/// The share of transcription that runs in parallel (Amdahl's law), as `benches/transcribe/run.sh --sizes` fits it
/// from RTF at one and two threads: 0.52–0.84 across models and runs (README, Lambda memory sizes). The plan takes
/// whichever makes the size at hand slower: the higher share below two vCPUs, the lower above.
pub const PARALLEL_SHARES: [f64; 2] = [0.52, 0.84];

/// Lambda's CPU per MB of memory: one vCPU per 1,769 MB (up to six at 10,240 MB).
pub const MB_PER_VCPU: f64 = 1769.0;

/// How much slower than the table's two threads `vcpus` hear a recording (above 1 when fewer): Amdahl's law
/// with the less favourable of [`PARALLEL_SHARES`].
pub fn vcpu_factor(vcpus: f64) -> f64 {
    let vcpus = vcpus.clamp(0.1, 64.0);
    let time = |share: f64, n: f64| (1.0 - share) + share / n;
    PARALLEL_SHARES.iter().map(|&share| time(share, vcpus) / time(share, TABLE_VCPUS)).fold(f64::MIN, f64::max)
}

/// The vCPUs a Lambda function of `memory_mb` gets.
pub fn lambda_vcpus(memory_mb: u32) -> f64 {
    (memory_mb as f64 / MB_PER_VCPU).min(6.0)
}

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

/// The RTF a model is planned with on `vcpus` before this process has measured it: its pace × [`vcpu_factor`] ×
/// [`TABLE_SAFETY`]. The model by its name (`tiny.en`) or as rows record it (`whisper-tiny.en`, its folder's name).
pub fn table_rtf(model: &str, vcpus: f64) -> f64 {
    let name = model.strip_prefix("whisper-").unwrap_or(model);
    PACES.iter().find(|p| p.model == name).map_or(UNKNOWN_MODEL_RTF, |p| p.rtf) * vcpu_factor(vcpus) * TABLE_SAFETY
}

/// What a process has measured of its model, and the RTF it plans with.
#[derive(Debug, Clone, PartialEq)]
pub struct Planner {
    /// The RTF before enough is measured: [`table_rtf`], or the deployment's own (`REDSCRIBE_EXPECTED_RTF`).
    pub before_measured: f64,
    measured: VecDeque<f64>,
}

impl Planner {
    /// A planner for `model` on `vcpus` (`None`: the table's own two), or with an RTF of one's own until
    /// measurements come.
    pub fn new(model: &str, vcpus: Option<f64>, expected_rtf: Option<f64>) -> Planner {
        let table = || table_rtf(model, vcpus.unwrap_or(TABLE_VCPUS));
        Planner { before_measured: expected_rtf.unwrap_or_else(table), measured: VecDeque::new() }
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

/// The longest recording (seconds of audio) one invocation of `budget_s` seconds on `vcpus` takes in `passes`
/// passes at the table's RTF for `model`: what the README and the template state.
pub fn longest_fitting_s(model: &str, vcpus: f64, budget_s: f64, passes: usize) -> f64 {
    budget_s / (table_rtf(model, vcpus) * passes.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_plans_until_three_long_recordings_are_measured_then_their_median() {
        let mut p = Planner::new("whisper-tiny.en", None, None);
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
        let mut p = Planner::new("base", None, None);
        for _ in 0..4 {
            p.measured(600.0, 30.0);
        }
        let before = p.rtf();
        p.measured(600.0, 600.0);
        assert_eq!(p.rtf(), before);
    }

    #[test]
    fn only_the_newest_measurements_are_kept_and_a_deployment_may_set_its_own_rtf() {
        let mut p = Planner::new("base", None, Some(0.5));
        assert_eq!(p.rtf(), 0.5);
        for _ in 0..MEASURED_KEPT {
            p.measured(600.0, 600.0);
        }
        for _ in 0..MEASURED_KEPT {
            p.measured(600.0, 6.0);
        }
        assert!((p.rtf() - 0.015).abs() < 1e-9);
        assert!((Planner::new("mine", None, None).rtf() - UNKNOWN_MODEL_RTF * TABLE_SAFETY).abs() < 1e-9);
    }

    #[test]
    fn what_fits_the_stack_s_invocation() {
        // 900 s less the 30 s margin on the stack's 1,769 MB (one vCPU): tiny.en takes 78 minutes of mono audio,
        // base 39; on two vCPUs (3,538 MB) 2.2 hours and 67 minutes.
        let minutes = |model, mb, passes| longest_fitting_s(model, lambda_vcpus(mb), 870.0, passes) / 60.0;
        let (tiny, base) = (minutes("tiny.en", 1769, 1), minutes("base", 1769, 1));
        assert!((77.5..78.5).contains(&tiny), "{tiny}");
        assert!((38.5..39.5).contains(&base), "{base}");
        assert!((134.0..135.0).contains(&minutes("tiny.en", 3538, 1)));
        assert!((67.0..67.2).contains(&minutes("base", 3538, 1)));
        assert!((minutes("tiny.en", 1769, 2) - tiny / 2.0).abs() < 1e-9);
    }

    #[test]
    fn fewer_vcpus_plan_slower_and_more_plan_faster_but_never_by_the_whole_share() {
        assert!((vcpu_factor(2.0) - 1.0).abs() < 1e-9);
        // One vCPU: the higher share, 1 / (0.16 + 0.42) = 1.72× the table.
        assert!((vcpu_factor(1.0) - 1.0 / 0.58).abs() < 1e-9);
        // Six: the lower share, (0.48 + 0.52 / 6) / 0.74 = 0.77× — not the third that perfect scaling would say.
        assert!((vcpu_factor(6.0) - (0.48 + 0.52 / 6.0) / 0.74).abs() < 1e-9);
        assert!(vcpu_factor(lambda_vcpus(1024)) > vcpu_factor(1.0));
        assert_eq!(lambda_vcpus(10_240), 10_240.0 / 1769.0);
        let one = Planner::new("tiny.en", Some(1.0), None).rtf();
        assert!((one - 0.054 * 2.0 / 0.58).abs() < 1e-9, "{one}");
    }
}
