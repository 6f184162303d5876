//! A copy of a recording with stretches of it silenced: what PII redaction of the audio writes.
//!
//! The recording is decoded packet by packet at its own sample rate and channel count, the samples inside a
//! stretch are zeroed on every channel (what one speaker of a call says can be heard on the other's channel too),
//! and the result is written as 16-bit PCM WAV as it goes: memory is one packet, whatever the length. The copy has
//! as many frames as the decode of the original, so every time in the transcript points at the same moment in it.

use std::path::Path;

use symphonia::core::audio::SampleBuffer;

use crate::probe::{guarded, open, Opened, Packets};
use crate::{AudioError, Source};

/// What [`write_silenced`] wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Silenced {
    pub sample_rate: u32,
    pub channels: u16,
    /// Frames written: the length of the original.
    pub frames: u64,
    /// Frames zeroed.
    pub silenced_frames: u64,
}

/// A stretch to silence, in seconds from the start of the recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stretch {
    pub start_s: f64,
    pub end_s: f64,
}

/// Decodes `source` and writes it to `out` as 16-bit PCM WAV with every frame inside one of `stretches` zeroed.
pub fn write_silenced(source: Source, stretches: &[Stretch], out: &Path) -> Result<Silenced, AudioError> {
    let mut opened = open(source)?;
    let container = opened.container;
    guarded(container, move || run(&mut opened, stretches, out))
}

/// The frame ranges `[from, to)` the stretches cover at `rate`, sorted and merged.
fn frame_ranges(stretches: &[Stretch], rate: u32) -> Vec<(u64, u64)> {
    let at = |s: f64| (s.max(0.0) * f64::from(rate)).round() as u64;
    let mut ranges: Vec<(u64, u64)> =
        stretches.iter().map(|s| (at(s.start_s), at(s.end_s))).filter(|(from, to)| to > from).collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

fn write_error(e: hound::Error) -> AudioError {
    AudioError::Write { what: "the silenced copy".into(), reason: e.to_string() }
}

fn run(o: &mut Opened, stretches: &[Stretch], out: &Path) -> Result<Silenced, AudioError> {
    let rate = o.sample_rate;
    let ranges = frame_ranges(stretches, rate);
    let mut writer: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>> = None;
    let mut samples: Option<SampleBuffer<f32>> = None;
    let (mut frame, mut silenced, mut next_range) = (0u64, 0u64, 0usize);
    let mut channels_out = 0u16;
    let mut first_error: Option<String> = None;
    // A packet the transcriber skipped is skipped here too: the copy stays in step with the times.
    let mut count = Packets::default();
    while let Some((channels, interleaved)) = o.next_interleaved(&mut samples, &mut count, &mut first_error)? {
        let wav = match writer.as_mut() {
            Some(w) => w,
            None => {
                channels_out = u16::try_from(channels).map_err(|_| o.header_error("too many channels"))?;
                let spec = hound::WavSpec {
                    channels: channels_out,
                    sample_rate: rate,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                writer.insert(hound::WavWriter::create(out, spec).map_err(write_error)?)
            }
        };
        if channels != usize::from(channels_out) {
            return Err(o.corrupt(format!("the channel count changes from {channels_out} to {channels}")));
        }
        for f in interleaved.chunks_exact(channels) {
            while next_range < ranges.len() && ranges[next_range].1 <= frame {
                next_range += 1;
            }
            let quiet = ranges.get(next_range).is_some_and(|&(from, to)| from <= frame && frame < to);
            silenced += u64::from(quiet);
            for &s in f {
                // Symphonia reads 16-bit samples as n / 32768: a 16-bit recording's copy is bit-exact.
                let value = if quiet { 0 } else { (s * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16 };
                wav.write_sample(value).map_err(write_error)?;
            }
            frame += 1;
        }
    }
    let Some(writer) = writer else {
        return Err(match first_error {
            Some(e) => o.corrupt(e),
            None => o.truncated("no audio data after the header"),
        });
    };
    writer.finalize().map_err(write_error)?;
    Ok(Silenced { sample_rate: rate, channels: channels_out, frames: frame, silenced_frames: silenced })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stereo WAV of `seconds` at `rate`: a 440 Hz tone on the left, 660 Hz on the right.
    fn stereo(path: &Path, rate: u32, seconds: f64) {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..(seconds * f64::from(rate)) as u64 {
            let t = i as f64 / f64::from(rate);
            for hz in [440.0, 660.0] {
                w.write_sample((0.5 * (std::f64::consts::TAU * hz * t).sin() * 32767.0) as i16).unwrap();
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn the_stretches_are_silent_on_every_channel_and_the_rest_is_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("in.wav"), dir.path().join("out.wav"));
        stereo(&input, 8_000, 3.0);
        let stretches = [Stretch { start_s: 1.0, end_s: 1.5 }, Stretch { start_s: 1.25, end_s: 2.0 }];
        let written = write_silenced(Source::open(&input).unwrap(), &stretches, &output).unwrap();
        assert_eq!(written, Silenced { sample_rate: 8_000, channels: 2, frames: 24_000, silenced_frames: 8_000 });

        let original: Vec<i16> = hound::WavReader::open(&input).unwrap().samples().map(Result::unwrap).collect();
        let mut reader = hound::WavReader::open(&output).unwrap();
        assert_eq!((reader.spec().channels, reader.spec().sample_rate), (2, 8_000));
        let copy: Vec<i16> = reader.samples().map(Result::unwrap).collect();
        assert_eq!(copy.len(), original.len());
        for (i, (a, b)) in original.iter().zip(&copy).enumerate() {
            let frame = i / 2;
            if (8_000..16_000).contains(&frame) {
                assert_eq!(*b, 0, "frame {frame}");
            } else {
                assert_eq!(a, b, "frame {frame}");
            }
        }
    }

    #[test]
    fn stretches_merge_and_outside_the_recording_cost_nothing() {
        let ranges = frame_ranges(
            &[
                Stretch { start_s: 2.0, end_s: 3.0 },
                Stretch { start_s: -1.0, end_s: 0.5 },
                Stretch { start_s: 2.5, end_s: 2.75 },
                Stretch { start_s: 4.0, end_s: 4.0 },
            ],
            100,
        );
        assert_eq!(ranges, [(0, 50), (200, 300)]);
    }

    #[test]
    fn what_is_not_audio_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.wav");
        let e = write_silenced(Source::from_bytes(b"not audio at all, just text".to_vec()), &[], &output).unwrap_err();
        assert!(matches!(e, AudioError::NotAudio(_)), "{e:?}");
        assert!(!output.exists());
    }
}
