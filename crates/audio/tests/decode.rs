//! Decoding to 16 kHz mono: right length, right pitch, right level, streamed in bounded chunks.

mod common;

use common::*;
use redscribe_audio::decode::PcmOptions;
use redscribe_audio::{decode_mono_16k, Source, TARGET_SAMPLE_RATE};
use redscribe_core::ErrorCode;

struct Decoded {
    samples: Vec<f32>,
    largest_chunk: usize,
    chunks: usize,
}

fn decode(path: &std::path::Path) -> (Decoded, redscribe_audio::DecodeSummary) {
    let mut d = Decoded { samples: Vec::new(), largest_chunk: 0, chunks: 0 };
    let summary = decode_mono_16k(Source::open(path).unwrap(), PcmOptions::default(), |chunk| {
        d.largest_chunk = d.largest_chunk.max(chunk.len());
        d.chunks += 1;
        d.samples.extend_from_slice(chunk);
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(summary.output_samples as usize, d.samples.len());
    (d, summary)
}

/// Frequency of a pure tone from its rising zero crossings, ignoring the resampler's edges.
fn frequency(samples: &[f32]) -> f64 {
    let middle = &samples[samples.len() / 10..samples.len() * 9 / 10];
    let crossings = middle.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    crossings as f64 / (middle.len() as f64 / f64::from(TARGET_SAMPLE_RATE))
}

fn rms(samples: &[f32]) -> f64 {
    (samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len() as f64).sqrt()
}

#[test]
fn tones_keep_their_length_pitch_and_level_at_every_input_rate() {
    let dir = tempfile::tempdir().unwrap();
    for (rate, channels, kind) in [
        (16000, 1, "wav"),
        (8000, 1, "wav"),
        (22050, 1, "flac"),
        (44100, 2, "wav"),
        (48000, 2, "flac"),
        (44100, 2, "mp3"),
    ] {
        let name = format!("t{rate}x{channels}.{kind}");
        let r = rate.to_string();
        let c = channels.to_string();
        let path = tone(dir.path(), &name, &["-r", &r, "-c", &c, "-t", kind], 3.0, 440);
        let (d, summary) = decode(&path);
        let expected = 3 * TARGET_SAMPLE_RATE as usize;
        let tolerance = if kind == "mp3" { expected / 20 } else { 2 };
        assert!(d.samples.len().abs_diff(expected) <= tolerance, "{name}: {} samples", d.samples.len());
        let f = frequency(&d.samples);
        assert!((f - 440.0).abs() < 3.0, "{name}: {f} Hz");
        // sox "vol 0.5" sine: RMS = 0.5 / sqrt(2); stereo channels are identical so the down-mix keeps it.
        let level = rms(&d.samples[d.samples.len() / 10..d.samples.len() * 9 / 10]);
        assert!((level - 0.5 / 2f64.sqrt()).abs() < 0.02, "{name}: rms {level}");
        assert!(d.samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0), "{name}");
        assert_eq!(summary.metadata.sample_rate, rate, "{name}");
        assert_eq!(summary.skipped_packets, 0, "{name}");
    }
}

#[test]
fn speech_decodes_to_audible_16k_mono() {
    let dir = tempfile::tempdir().unwrap();
    let path = speech(dir.path(), "speech.wav", "The quarterly numbers are in, and the pipeline works.");
    let (d, summary) = decode(&path);
    let seconds = d.samples.len() as f64 / f64::from(TARGET_SAMPLE_RATE);
    assert!((seconds - summary.metadata.duration_s).abs() < 0.01, "{seconds} vs {}", summary.metadata.duration_s);
    assert!(rms(&d.samples) > 0.02, "speech is audible: rms {}", rms(&d.samples));
    let silent = sox(dir.path(), "silence.wav", &["-r", "44100", "-c", "1", "-t", "wav"], &["trim", "0", "2"]);
    let (s, _) = decode(&silent);
    assert_eq!(s.samples.len(), 32_000);
    assert!(rms(&s.samples) < 1e-6);
}

#[test]
fn long_recordings_stream_in_bounded_chunks() {
    let dir = tempfile::tempdir().unwrap();
    // Two minutes of 48 kHz stereo (23 MB of f32 samples) come out in chunks of a few thousand samples.
    let path = tone(dir.path(), "long.flac", &["-r", "48000", "-c", "2", "-t", "flac"], 120.0, 440);
    let mut total = 0usize;
    let mut largest = 0usize;
    let summary = decode_mono_16k(Source::open(&path).unwrap(), PcmOptions::default(), |chunk| {
        total += chunk.len();
        largest = largest.max(chunk.len());
    })
    .unwrap();
    assert_eq!(total, 120 * TARGET_SAMPLE_RATE as usize);
    assert_eq!(summary.output_samples as usize, total);
    assert!(largest <= 16_384, "largest chunk {largest} samples");
}

#[test]
fn the_duration_limit_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let path = tone(dir.path(), "t.wav", &["-r", "16000", "-c", "1", "-t", "wav"], 5.0, 440);
    let err = decode_mono_16k(
        Source::open(&path).unwrap(),
        PcmOptions { max_duration_s: Some(2.0), ..PcmOptions::default() },
        |_| {},
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooLong);
    // Without a declared length (an MP3 with no Xing header), the limit is enforced while decoding.
    let mp3 = tone(dir.path(), "t.mp3", &["-r", "16000", "-c", "1", "-t", "mp3"], 5.0, 440);
    let err = decode_mono_16k(
        Source::open(&mp3).unwrap(),
        PcmOptions { max_duration_s: Some(2.0), ..PcmOptions::default() },
        |_| {},
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooLong);
}

#[test]
fn one_channel_of_a_stereo_call_can_be_taken_alone() {
    let dir = tempfile::tempdir().unwrap();
    // Left: a 440 Hz tone; right: silence (8 kHz, as telephony records it).
    let path = sox(
        dir.path(),
        "call.wav",
        &["-r", "8000", "-c", "2"],
        &["synth", "2", "sine", "440", "sine", "0", "vol", "0.5"],
    );
    let take = |channel: Option<usize>| {
        let mut samples = Vec::new();
        let options = PcmOptions { channel, ..PcmOptions::default() };
        decode_mono_16k(Source::open(&path).unwrap(), options, |c| samples.extend_from_slice(c)).map(|_| samples)
    };
    let (left, right, mix) = (take(Some(0)).unwrap(), take(Some(1)).unwrap(), take(None).unwrap());
    // A silent side tells nothing apart.
    let summary = decode_mono_16k(Source::open(&path).unwrap(), PcmOptions::default(), |_| {}).unwrap();
    assert_eq!(summary.channel_correlation, Some(1.0));
    assert_eq!(left.len(), 2 * TARGET_SAMPLE_RATE as usize);
    assert!((frequency(&left) - 440.0).abs() < 3.0);
    assert!((rms(&left) - 0.5 / 2f64.sqrt()).abs() < 0.02, "{}", rms(&left));
    assert!(rms(&right) < 1e-3, "{}", rms(&right));
    // The mix halves the tone.
    assert!((rms(&mix) - 0.25 / 2f64.sqrt()).abs() < 0.02, "{}", rms(&mix));
    let err = take(Some(2)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidHeader, "{err}");
}

#[test]
fn channel_correlation_tells_a_call_from_a_stereo_mix() {
    let dir = tempfile::tempdir().unwrap();
    let correlation = |name: &str, effects: &[&str]| {
        let path = sox(dir.path(), name, &["-r", "8000", "-c", "2"], effects);
        decode_mono_16k(Source::open(&path).unwrap(), PcmOptions::default(), |_| {}).unwrap().channel_correlation
    };
    // The same tone on both sides; two different tones; one channel of mono audio is None.
    let same = correlation("same.wav", &["synth", "2", "sine", "440", "vol", "0.5"]).unwrap();
    let apart = correlation("apart.wav", &["synth", "2", "sine", "300", "sine", "1250", "vol", "0.5"]).unwrap();
    assert!(same > 0.99, "{same}");
    assert!(apart.abs() < 0.1, "{apart}");
    let mono = tone(dir.path(), "mono.wav", &["-r", "8000", "-c", "1"], 1.0, 440);
    let summary = decode_mono_16k(Source::open(&mono).unwrap(), PcmOptions::default(), |_| {}).unwrap();
    assert_eq!(summary.channel_correlation, None);
}

/// A part of a recording decodes to exactly the samples the whole decode has there, at 8 kHz (resampled) and
/// 16 kHz, and decoding stops where the part ends.
#[test]
fn a_part_is_the_same_samples_as_the_whole_decode_has_there() {
    let dir = tempfile::tempdir().unwrap();
    for rate in ["8000", "16000"] {
        let path = tone(dir.path(), &format!("t{rate}.flac"), &["-r", rate, "-c", "1", "-t", "flac"], 10.0, 440);
        let (whole, _) = decode(&path);
        let mut part = Vec::new();
        let options = PcmOptions { from_s: 3.0, to_s: Some(7.0), ..PcmOptions::default() };
        let summary = decode_mono_16k(Source::open(&path).unwrap(), options, |c| part.extend_from_slice(c)).unwrap();
        assert_eq!(part.len(), 4 * TARGET_SAMPLE_RATE as usize, "{rate}");
        assert_eq!(part[..], whole.samples[48_000..112_000], "{rate}");
        // It stopped there: what it passed by is less than the whole recording.
        assert!(summary.output_samples < whole.samples.len() as u64, "{rate}: {}", summary.output_samples);
        // The last part runs to the end.
        let mut last = Vec::new();
        let options = PcmOptions { from_s: 7.0, ..PcmOptions::default() };
        decode_mono_16k(Source::open(&path).unwrap(), options, |c| last.extend_from_slice(c)).unwrap();
        assert_eq!(last[..], whole.samples[112_000..], "{rate}");
    }
}
