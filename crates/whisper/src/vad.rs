//! Voice-activity check: is there anything in a stretch of audio that could be speech?
//!
//! Whisper invents words for audio without speech ("you", "thank you") and its own no-speech probability sits right
//! at its threshold for steady sounds (a tone gave no-speech 0.81 with an average log-probability of -0.99 against
//! the reference rule's -1.0). So a window is only decoded when its loudness *moves* the way speech does: syllables
//! make the short-time energy rise and fall by 10–30 dB several times a second, while silence, hum, tones and
//! stationary noise stay within a few dB of their own average.
//!
//! The measure: the energy of 30 ms frames every 10 ms in dB (floored at the silence floor), lightly smoothed,
//! minus its own 250 ms moving average — the envelope's syllable-rate part. A window counts as voice-active when
//! enough frames stray more than `modulation_db` from that average. Measured on generated audio (frames of 10 ms
//! above 5 dB): an espeak sentence 265 of 585, the same at -5 dB SNR in white noise 11, a lone "yes" in 30 s of
//! silence 22; a steady two-tone chord 0, 30 s of white, pink noise or 50 Hz hum 0, brown noise 8. What passes
//! still meets the model's no-speech rule; this check only keeps clearly empty windows away from the decoder.

use crate::mel::SAMPLE_RATE;

/// Samples per 10 ms step.
const STEP: usize = SAMPLE_RATE / 100;
/// Steps per analysis frame (30 ms).
const FRAME_STEPS: usize = 3;
/// Steps of the moving average the envelope is compared with (250 ms).
const AVERAGE_STEPS: usize = 25;

/// When a stretch of audio counts as voice-active.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct VadOptions {
    /// RMS of a 30 ms frame (full scale 1.0) below which it counts as silence. 0.003 is about -50 dBFS.
    pub energy_floor: f32,
    /// How far (dB) the envelope must stray from its 250 ms average for a frame to count as modulated.
    pub modulation_db: f32,
    /// Modulated 10 ms frames a stretch needs to be voice-active.
    pub min_modulated_frames: usize,
}

impl Default for VadOptions {
    fn default() -> VadOptions {
        VadOptions { energy_floor: 0.003, modulation_db: 5.0, min_modulated_frames: 10 }
    }
}

/// What the check saw in a stretch of audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceActivity {
    /// 30 ms frames louder than the floor.
    pub loud_frames: usize,
    /// 10 ms steps whose envelope strays more than `modulation_db` from its 250 ms average.
    pub modulated_frames: usize,
}

impl VoiceActivity {
    /// Measures 16 kHz mono `samples`.
    pub fn measure(samples: &[f32], options: &VadOptions) -> VoiceActivity {
        let steps: Vec<f32> = samples.chunks(STEP).map(|c| c.iter().map(|x| x * x).sum::<f32>()).collect();
        if steps.len() < FRAME_STEPS {
            return VoiceActivity { loud_frames: 0, modulated_frames: 0 };
        }
        let floor_db = 20.0 * options.energy_floor.max(1e-6).log10();
        let mut loud_frames = 0;
        let envelope: Vec<f32> = steps
            .windows(FRAME_STEPS)
            .map(|w| {
                let mean_square = w.iter().sum::<f32>() / (FRAME_STEPS * STEP) as f32;
                let db = 10.0 * mean_square.max(1e-12).log10();
                if db > floor_db {
                    loud_frames += 1;
                }
                db.max(floor_db)
            })
            .collect();
        let smooth = centred_mean(&envelope, 3);
        let average = centred_mean(&envelope, AVERAGE_STEPS);
        let modulated_frames =
            smooth.iter().zip(&average).filter(|(s, a)| (*s - *a).abs() > options.modulation_db).count();
        VoiceActivity { loud_frames, modulated_frames }
    }

    /// Whether the stretch may hold speech.
    pub fn is_voice(&self, options: &VadOptions) -> bool {
        self.loud_frames > 0 && self.modulated_frames >= options.min_modulated_frames
    }
}

/// Mean over `width` values centred on each one, the ends repeated outward.
fn centred_mean(values: &[f32], width: usize) -> Vec<f32> {
    let half = width / 2;
    let at = |i: isize| values[i.clamp(0, values.len() as isize - 1) as usize];
    let mut sum: f32 = (-(half as isize)..=half as isize).map(at).sum();
    let n = (2 * half + 1) as f32;
    let mut out = Vec::with_capacity(values.len());
    for i in 0..values.len() as isize {
        out.push(sum / n);
        sum += at(i + half as isize + 1) - at(i - half as isize);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f32, hz: f32, amplitude: f32) -> Vec<f32> {
        let n = (seconds * SAMPLE_RATE as f32) as usize;
        (0..n).map(|i| amplitude * (2.0 * std::f32::consts::PI * hz * i as f32 / SAMPLE_RATE as f32).sin()).collect()
    }

    #[test]
    fn steady_sounds_and_silence_are_not_voice() {
        let o = VadOptions::default();
        let silence = VoiceActivity::measure(&vec![0.0; SAMPLE_RATE * 30], &o);
        assert_eq!(silence, VoiceActivity { loud_frames: 0, modulated_frames: 0 });
        let chord: Vec<f32> = tone(30.0, 220.0, 0.2).iter().zip(tone(30.0, 330.0, 0.2)).map(|(a, b)| a + b).collect();
        let steady = VoiceActivity::measure(&chord, &o);
        assert!(steady.loud_frames > 2900 && steady.modulated_frames == 0, "{steady:?}");
        assert!(!steady.is_voice(&o));
    }

    #[test]
    fn syllable_rate_loudness_changes_are_voice() {
        let o = VadOptions::default();
        // 4 "syllables" a second: 150 ms of a 200 Hz buzz, 100 ms of near-silence, for two seconds.
        let mut syllables = Vec::new();
        for _ in 0..8 {
            syllables.extend(tone(0.15, 200.0, 0.3));
            syllables.extend(vec![0.0005; SAMPLE_RATE / 10]);
        }
        let active = VoiceActivity::measure(&syllables, &o);
        assert!(active.is_voice(&o), "{active:?}");
        // The same buzz, steady, is not.
        assert!(!VoiceActivity::measure(&tone(2.0, 200.0, 0.3), &o).is_voice(&o));
    }

    #[test]
    fn centred_mean_repeats_the_ends() {
        assert_eq!(centred_mean(&[0.0, 3.0, 6.0], 3), vec![1.0, 3.0, 5.0]);
        assert_eq!(centred_mean(&[2.0], 25), vec![2.0]);
    }
}
