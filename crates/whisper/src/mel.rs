//! Whisper's log-mel front end, computed here: the model directory of the PyPI package has no
//! `preprocessor_config.json`, so nothing else would compute it, and it decides what the encoder sees.
//!
//! 16 kHz mono in; a periodic Hann window of 400 samples (25 ms) every 160 samples (10 ms), centred, with the
//! signal reflected at both ends; the power spectrum through 80 Slaney-scale mel filters (area-normalised, as
//! librosa builds them); `log10` clamped at 1e-10; everything below the loudest value minus 8 raised to it; then
//! `(x + 4) / 4`. The last STFT frame is dropped, so `n` samples give `n / 160` frames.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Samples per second the model expects.
pub const SAMPLE_RATE: usize = 16_000;
/// FFT size (25 ms).
pub const N_FFT: usize = 400;
/// Samples between frames (10 ms).
pub const HOP: usize = 160;
/// Mel bands.
pub const N_MELS: usize = 80;
/// Frames of one 30 s window, what the encoder takes.
pub const WINDOW_FRAMES: usize = 3000;
/// Samples of one 30 s window.
pub const WINDOW_SAMPLES: usize = WINDOW_FRAMES * HOP;

/// A log-mel spectrogram, band-major: `data[band * frames + frame]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mel {
    pub frames: usize,
    pub data: Vec<f32>,
}

impl Mel {
    /// Frames `start..start + WINDOW_FRAMES` as the encoder's `[80, 3000]` input, zero-padded past the end (the
    /// padding frames of a signal padded with silence are not zero; callers pad the signal, see [`log_mel`]).
    pub fn window(&self, start: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; N_MELS * WINDOW_FRAMES];
        let take = self.frames.saturating_sub(start).min(WINDOW_FRAMES);
        for band in 0..N_MELS {
            let src = &self.data[band * self.frames + start..band * self.frames + start + take];
            out[band * WINDOW_FRAMES..band * WINDOW_FRAMES + take].copy_from_slice(src);
        }
        out
    }
}

// The Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4).
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// The `[N_MELS][N_FFT / 2 + 1]` filter bank: triangles on the Slaney mel scale from 0 Hz to Nyquist, each
/// scaled by `2 / (upper − lower edge in Hz)` so every filter has the same area.
pub fn mel_filters() -> Vec<[f32; N_FFT / 2 + 1]> {
    let bins = N_FFT / 2 + 1;
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let fft_freqs: Vec<f64> = (0..bins).map(|i| i as f64 * nyquist / (bins - 1) as f64).collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(nyquist));
    let edges: Vec<f64> = (0..N_MELS + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64)).collect();
    (0..N_MELS)
        .map(|m| {
            let mut row = [0.0f32; N_FFT / 2 + 1];
            let norm = 2.0 / (edges[m + 2] - edges[m]);
            for (k, f) in fft_freqs.iter().enumerate() {
                let rising = (f - edges[m]) / (edges[m + 1] - edges[m]);
                let falling = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
                row[k] = (rising.min(falling).max(0.0) * norm) as f32;
            }
            row
        })
        .collect()
}

/// Computes log-mel spectrograms; holds the FFT plan and the filters.
pub struct MelFrontEnd {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    filters: Vec<[f32; N_FFT / 2 + 1]>,
}

impl Default for MelFrontEnd {
    fn default() -> MelFrontEnd {
        MelFrontEnd::new()
    }
}

impl MelFrontEnd {
    pub fn new() -> MelFrontEnd {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        // Periodic Hann: the window of an N+1-point Hann without its last point.
        let window = (0..N_FFT)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        MelFrontEnd { fft, window, filters: mel_filters() }
    }

    /// The log-mel spectrogram of `samples` (16 kHz mono) followed by `padding` samples of silence: Whisper pads
    /// with 30 s so that the last window is complete. Clamped against the loudest value of the whole recording.
    pub fn log_mel(&self, samples: &[f32], padding: usize) -> Mel {
        let n = samples.len() + padding;
        let frames = n / HOP;
        let at = |i: usize| if i < samples.len() { samples[i] } else { 0.0 };
        // Reflect padding of N_FFT / 2 on both sides of the (silence-padded) signal.
        let sample = |i: isize| -> f32 {
            let i = if i < 0 {
                (-i) as usize
            } else if i as usize >= n {
                (2 * (n - 1)).saturating_sub(i as usize)
            } else {
                i as usize
            };
            at(i.min(n.saturating_sub(1)))
        };
        let mut data = self.log_power(&sample, 0, frames);
        let max = data.iter().copied().fold(f32::MIN, f32::max);
        clamp_and_scale(&mut data, max);
        Mel { frames, data }
    }

    /// The encoder's `[80, frames]` input (at most `[80, 3000]`) for the window whose first frame is `first`,
    /// computed from the samples around it alone: `sample(i)` is sample `i` of the recording (negative `i` reflected at its start by the
    /// caller, zero past its end). Values are clamped against `max`, the loudest value seen so far in the
    /// recording, which this raises: a recording is transcribed without holding its whole spectrogram. Where the
    /// loudest moment comes after a window, that window keeps a little more of its quiet parts than a clamp against
    /// the whole recording would (only values more than 80 dB below the peak differ).
    pub fn window(&self, sample: &dyn Fn(isize) -> f32, first: usize, frames: usize, max: &mut f32) -> Vec<f32> {
        let mut data = self.log_power(sample, first, frames.min(WINDOW_FRAMES));
        *max = data.iter().copied().fold(*max, f32::max);
        clamp_and_scale(&mut data, *max);
        data
    }

    /// `log10` of the mel power of `frames` frames from `first`, band-major. Frame `f` is centred on sample
    /// `f * HOP`.
    fn log_power(&self, sample: &dyn Fn(isize) -> f32, first: usize, frames: usize) -> Vec<f32> {
        let half = (N_FFT / 2) as isize;
        let mut power = vec![0.0f32; N_MELS * frames];
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut bins = [0.0f32; N_FFT / 2 + 1];
        for frame in 0..frames {
            let start = ((first + frame) * HOP) as isize - half;
            for (k, x) in input.iter_mut().enumerate() {
                *x = sample(start + k as isize) * self.window[k];
            }
            if self.fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).is_err() {
                continue;
            }
            for (b, c) in bins.iter_mut().zip(&spectrum) {
                *b = c.norm_sqr();
            }
            for (band, filter) in self.filters.iter().enumerate() {
                let e: f32 = filter.iter().zip(&bins).map(|(w, p)| w * p).sum();
                power[band * frames + frame] = e.max(1e-10).log10();
            }
        }
        power
    }
}

/// Whisper's dynamic range and scaling: everything below `max - 8` raised to it, then `(x + 4) / 4`.
fn clamp_and_scale(data: &mut [f32], max: f32) {
    for v in data.iter_mut() {
        *v = (v.max(max - 8.0) + 4.0) / 4.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_and_filters_match_librosa_slaney() {
        // librosa.hz_to_mel(1000) == 15, hz_to_mel(8000) == 45.2452..., and back.
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-9);
        assert!((hz_to_mel(8000.0) - 45.245_640_471_924_965).abs() < 1e-9);
        for hz in [0.0, 440.0, 1000.0, 3000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        let filters = mel_filters();
        assert_eq!(filters.len(), N_MELS);
        // Every filter is a triangle: non-zero on a contiguous run of bins, with a single peak.
        for (m, f) in filters.iter().enumerate() {
            let nz: Vec<usize> = (0..f.len()).filter(|&k| f[k] > 0.0).collect();
            assert!(!nz.is_empty(), "filter {m} is empty");
            assert_eq!(nz.len(), nz[nz.len() - 1] - nz[0] + 1, "filter {m} has gaps");
        }
    }

    #[test]
    fn frames_padding_and_range() {
        let fe = MelFrontEnd::new();
        let tone: Vec<f32> = (0..16_000).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin()).collect();
        let mel = fe.log_mel(&tone, WINDOW_SAMPLES);
        assert_eq!(mel.frames, (16_000 + WINDOW_SAMPLES) / HOP);
        let max = mel.data.iter().cloned().fold(f32::MIN, f32::max);
        let min = mel.data.iter().cloned().fold(f32::MAX, f32::min);
        assert!((max - min - 2.0).abs() < 1e-4, "dynamic range is clamped to 8 log10 units: {min}..{max}");
        // The 440 Hz band is the loudest during the tone.
        let band_of = |hz: f64| {
            (0..N_MELS)
                .max_by(|&a, &b| {
                    mel_filters()[a][(hz / 40.0) as usize].total_cmp(&mel_filters()[b][(hz / 40.0) as usize])
                })
                .unwrap()
        };
        let loud = (0..N_MELS)
            .max_by(|&a, &b| mel.data[a * mel.frames + 50].total_cmp(&mel.data[b * mel.frames + 50]))
            .unwrap();
        assert_eq!(loud, band_of(440.0));
        assert_eq!(mel.window(0).len(), N_MELS * WINDOW_FRAMES);
    }

    #[test]
    fn a_window_computed_alone_equals_the_whole_spectrogram_in_it() {
        let fe = MelFrontEnd::new();
        // 70 s of a fading chirp: three windows and the last, ending in the silence Whisper pads with.
        let n = 70 * SAMPLE_RATE;
        let signal: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                (1.0 - t / 80.0) * (std::f32::consts::TAU * (200.0 + 20.0 * t) * t).sin()
            })
            .collect();
        let whole = fe.log_mel(&signal, WINDOW_SAMPLES);
        let sample = |i: isize| -> f32 {
            let i = i.unsigned_abs();
            signal.get(i).copied().unwrap_or(0.0)
        };
        // Against the same maximum (the whole recording's, unscaled), every frame is the same.
        let global = whole.data.iter().copied().fold(f32::MIN, f32::max) * 4.0 - 4.0;
        let mut running = f32::MIN;
        for first in [0, 2_345, 5_000, n / HOP - 10] {
            let mut max = global;
            let alone = fe.window(&sample, first, WINDOW_FRAMES, &mut max);
            let reference = whole.window(first);
            let worst = alone.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "window at {first}: {worst}");
            fe.window(&sample, first, WINDOW_FRAMES, &mut running);
            assert!(running <= global + 1e-6);
        }
        // A window cut short (a trimmed batch's) is the full window's first frames, band by band.
        let (first, frames) = (n / HOP - 10, 1_500);
        let (mut full_max, mut short_max) = (f32::MIN, f32::MIN);
        let full = fe.window(&sample, first, WINDOW_FRAMES, &mut full_max);
        let short = fe.window(&sample, first, frames, &mut short_max);
        assert_eq!(short.len(), N_MELS * frames);
        assert_eq!(short_max, full_max);
        for band in 0..N_MELS {
            assert_eq!(
                short[band * frames..(band + 1) * frames],
                full[band * WINDOW_FRAMES..][..frames],
                "band {band}"
            );
        }
    }
}
