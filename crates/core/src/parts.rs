//! A long recording heard in parts: where it is cut (at pauses near evenly spaced boundaries, never inside a
//! word), and how the parts' transcriptions become the recording's one (segments at the recording's times, no gap
//! or overlap at a cut, the language of the parts that speak, time and audio summed).
//!
//! Pure: the stage measures the recording's loudness while it decodes it ([`Loudness`]) and hands the parts'
//! transcriptions to [`join`].

use crate::ports::{QualityFlag, Transcription};

/// Seconds of audio a part holds by default (`REDSCRIBE_PART_SECONDS`). Ten minutes: a part of a two-channel call
/// with base fits one invocation at the planned pace (600 s × 2 passes × 0.216 = 260 s of the 870), a 4-hour
/// recording is 24 parts (three waves of the stack's reserved concurrency of 10), and what each part costs besides
/// hearing (reading the object, decoding up to its start, the model's load in a cold invocation: seconds) stays
/// small beside the minutes of audio it hears.
pub const DEFAULT_PART_SECONDS: f64 = 600.0;

/// The shortest part length accepted: under a minute the parts' overheads and their cuts would dominate.
pub const MIN_PART_SECONDS: f64 = 60.0;

/// How far from a boundary a pause is looked for, each way.
pub const SEARCH_S: f64 = 15.0;

/// Samples per second of the audio measured (the decoder's 16 kHz).
const RATE: f64 = 16_000.0;

/// Loudness is measured per hop of 50 ms.
pub const HOP_S: f64 = 0.05;
const HOP: usize = 800;

/// A pause is judged over 300 ms: the loudest hop within ±150 ms of a point is how loud the point is, so a cut
/// lands in a pause at least that long where one exists, not in the short dip between two syllables.
const PAUSE_HOPS: usize = 3;

/// The loudness of a recording, hop by hop (RMS of each 50 ms), measured as its 16 kHz samples go by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loudness {
    rms: Vec<f32>,
    /// Sum of squares and count of the hop being filled.
    partial: (f64, usize),
}

impl Loudness {
    /// The next samples.
    pub fn push(&mut self, samples: &[f32]) {
        for &s in samples {
            self.partial.0 += f64::from(s) * f64::from(s);
            self.partial.1 += 1;
            if self.partial.1 == HOP {
                self.rms.push((self.partial.0 / HOP as f64).sqrt() as f32);
                self.partial = (0.0, 0);
            }
        }
    }

    /// Seconds measured.
    pub fn seconds(&self) -> f64 {
        (self.rms.len() * HOP + self.partial.1) as f64 / RATE
    }

    /// Where to cut a recording into parts of about `part_s` seconds: `parts − 1` cut points (seconds, ascending),
    /// one near each of the evenly spaced boundaries `k × length / parts`, at the middle of the quietest stretch
    /// of 300 ms within [`SEARCH_S`] of it (the nearest one when several are as quiet). None for a recording that
    /// fits one part.
    pub fn cuts(&self, part_s: f64) -> Vec<f64> {
        let length = self.seconds();
        let parts = (length / part_s.max(MIN_PART_SECONDS)).ceil().max(1.0) as usize;
        let hops = self.rms.len();
        // How loud each hop's neighbourhood is, in whole decibels: within a decibel is as quiet.
        let around = |i: usize| {
            let from = i.saturating_sub(PAUSE_HOPS / 2);
            let to = (i + PAUSE_HOPS / 2).min(hops.saturating_sub(1));
            let loudest = self.rms[from..=to].iter().copied().fold(0.0f32, f32::max);
            (20.0 * (loudest + 1e-6).log10()).round() as i32
        };
        let mut cuts = Vec::with_capacity(parts.saturating_sub(1));
        let mut after = 0usize;
        for k in 1..parts {
            let boundary = length * k as f64 / parts as f64;
            let centre = ((boundary / HOP_S) as usize).min(hops.saturating_sub(1));
            let reach = (SEARCH_S / HOP_S) as usize;
            let (from, to) =
                (centre.saturating_sub(reach).max(after + 1), (centre + reach).min(hops.saturating_sub(1)));
            let best = (from..=to).min_by_key(|&i| (around(i), i.abs_diff(centre)));
            let hop = best.unwrap_or(centre);
            after = hop;
            cuts.push((hop as f64 + 0.5) * HOP_S);
        }
        cuts
    }
}

/// One part of a recording: which of how many, and the stretch of the recording it hears (seconds).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Part {
    /// From 0.
    pub index: usize,
    pub count: usize,
    pub start_s: f64,
    /// `None` for the last part: to the recording's end.
    pub end_s: Option<f64>,
}

/// The request to hear one part of a recording, as its request object holds it: the recording's event (what its
/// row and quarantine record name) and the stretch to hear.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartRequest {
    pub recording: crate::events::ObjectEvent,
    pub part: Part,
    /// What the decode that cut the recording found (its duration the decoded one), for the recording's row.
    pub metadata: crate::record::AudioMetadata,
    /// The recording's declared content type.
    pub content_type: Option<String>,
    /// What cutting the recording cost (reading and decoding it whole), the same in every part's request and
    /// counted once in the row's cost.
    #[serde(default)]
    pub split_cost_usd: Option<f64>,
    /// What the recording's key, metadata and tags said when it was cut (its row's attributes).
    #[serde(default)]
    pub attributes: crate::attributes::Attributes,
}

/// What one part was heard to say, kept until every part is heard.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartHeard {
    pub part: Part,
    /// Segments timed from the part's start.
    pub transcription: Transcription,
    /// What hearing it cost (the row's `cost_usd` is every part's).
    pub cost_usd: Option<f64>,
    /// The recording asked for a silenced copy of its audio (`pii,audio`): the join writes it.
    #[serde(default)]
    pub silence_audio: bool,
}

impl Part {
    /// How it is named in logs and quarantine records: `part 3 of 18 (1200.4–1800.9 s)`.
    pub fn describe(&self) -> String {
        let end = self.end_s.map_or_else(|| "end".to_string(), |e| format!("{e:.1} s"));
        format!("part {} of {} ({:.1} s–{end})", self.index + 1, self.count, self.start_s)
    }

    /// Seconds it holds, when it is not the last.
    pub fn seconds(&self) -> Option<f64> {
        self.end_s.map(|e| e - self.start_s)
    }
}

/// The parts `cuts` make of a recording.
pub fn parts(cuts: &[f64]) -> Vec<Part> {
    let count = cuts.len() + 1;
    (0..count)
        .map(|index| Part {
            index,
            count,
            start_s: if index == 0 { 0.0 } else { cuts[index - 1] },
            end_s: cuts.get(index).copied(),
        })
        .collect()
}

/// The recording's transcription from its parts' (in any order; each with its segments timed from the part's
/// start): segments moved to the recording's time and kept inside their part (no overlap at a cut), text read in
/// time order, the language of the parts that say something (the one spoken longest; its surest detection),
/// the most telling quality verdict, audio and compute summed.
pub fn join(mut heard: Vec<(Part, Transcription)>) -> Option<Transcription> {
    heard.sort_by_key(|(p, _)| p.index);
    let mut spoken: Vec<(String, f64, Option<f64>)> = Vec::new();
    for (part, t) in &mut heard {
        for s in &mut t.segments {
            s.shift(part.start_s, part.end_s);
        }
        if let Some(redacted) = &mut t.pii_redacted {
            redacted.shift(part.start_s);
        }
        if let (Some(language), false) = (&t.language, t.quality_flag == QualityFlag::NoSpeech) {
            let said: f64 = t.segments.iter().map(|s| s.end_s - s.start_s).sum();
            match spoken.iter_mut().find(|(l, _, _)| l == language) {
                Some(entry) => {
                    entry.1 += said;
                    entry.2 = match (entry.2, t.language_probability) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => spoken.push((language.clone(), said, t.language_probability)),
            }
        }
    }
    let stretches: Vec<Transcription> = heard.into_iter().map(|(_, t)| t).collect();
    let first_language = stretches.iter().find_map(|t| t.language.clone());
    // The merge a call's channels get: segments in time order, the text read in that order, sums.
    let mut joined = Transcription::merge_channels(stretches)?;
    match spoken.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        Some((language, _, probability)) => {
            joined.language = Some(language);
            joined.language_probability = probability;
        }
        // Nothing said anywhere: the first part's verdict stands.
        None => joined.language = joined.language.or(first_language),
    }
    Some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{TimedText, Word};

    /// `seconds` of audio, loud except for the pauses (start, length) given.
    fn loudness(seconds: f64, pauses: &[(f64, f64)]) -> Loudness {
        let mut l = Loudness::default();
        let n = (seconds * RATE) as usize;
        let samples: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / RATE;
                let quiet = pauses.iter().any(|(at, len)| t >= *at && t < at + len);
                if quiet {
                    0.0
                } else {
                    // Ten cycles a hop: every hop as loud as the next.
                    0.3 * (std::f32::consts::TAU * 10.0 * (i % 800) as f32 / 800.0).sin()
                }
            })
            .collect();
        for chunk in samples.chunks(4_000) {
            l.push(chunk);
        }
        l
    }

    #[test]
    fn cuts_land_in_the_pause_nearest_each_boundary() {
        // 30 minutes in parts of 10: boundaries at 600 and 1200 s; pauses 7 s before the first and 12 s after the
        // second, and one too far away to count.
        let l = loudness(1800.0, &[(593.0, 0.5), (1212.0, 0.4), (640.0, 2.0)]);
        let cuts = l.cuts(600.0);
        assert_eq!(cuts.len(), 2);
        assert!((593.0..593.5).contains(&cuts[0]), "{cuts:?}");
        assert!((1212.0..1212.4).contains(&cuts[1]), "{cuts:?}");
    }

    #[test]
    fn a_short_dip_loses_to_a_real_pause_and_no_pause_cuts_at_the_boundary() {
        // A 100 ms dip right at the boundary, a 400 ms pause 10 s away: the pause.
        let l = loudness(1200.0, &[(600.0, 0.1), (610.0, 0.4)]);
        let cuts = l.cuts(600.0);
        assert!((610.0..610.4).contains(&cuts[0]), "{cuts:?}");
        // Speech without a pause anywhere: at the boundary.
        let cuts = loudness(1200.0, &[]).cuts(600.0);
        assert!((cuts[0] - 600.0).abs() < 0.1, "{cuts:?}");
        // A recording that fits one part is not cut; one a little longer is cut in two even halves.
        assert!(loudness(600.0, &[]).cuts(600.0).is_empty());
        let cuts = loudness(700.0, &[]).cuts(600.0);
        assert!((cuts[0] - 350.0).abs() < 0.1, "{cuts:?}");
    }

    fn heard(segments: &[(f64, f64, &str)], language: &str, flag: QualityFlag) -> Transcription {
        Transcription {
            text: segments.iter().map(|s| s.2).collect::<Vec<_>>().join(" "),
            language: Some(language.into()),
            language_probability: Some(0.5),
            segments: segments
                .iter()
                .map(|&(start_s, end_s, text)| TimedText {
                    start_s,
                    end_s,
                    text: text.into(),
                    avg_logprob: Some(-0.3),
                    no_speech_prob: Some(0.1),
                    channel: 0,
                    // One word a segment, its last second.
                    words: vec![Word { start_s: end_s - 1.0, end_s, text: text.into(), probability: 0.9 }],
                })
                .collect(),
            avg_logprob: Some(-0.3),
            no_speech_prob: Some(0.1),
            compression_ratio: Some(1.2),
            quality_flag: flag,
            audio_seconds: 600.0,
            decode_seconds: 20.0,
            fallback_seconds: 0.0,
            channels_apart: false,
            pii_redacted: None,
        }
    }

    #[test]
    fn parts_join_in_time_at_the_recording_s_times_without_overlap() {
        let p = parts(&[593.25, 1212.25]);
        assert_eq!((p[0].start_s, p[0].end_s, p[2].start_s, p[2].end_s), (0.0, Some(593.25), 1212.25, None));
        // Handed over out of order; the second part's last segment runs past its cut.
        let joined = join(vec![
            (p[2], heard(&[(1.0, 4.0, "three")], "en", QualityFlag::Ok)),
            (p[0], heard(&[(0.5, 3.0, "one")], "en", QualityFlag::Ok)),
            (p[1], heard(&[(2.0, 5.0, "two"), (610.0, 625.0, "and a half")], "en", QualityFlag::LowConfidence)),
        ])
        .unwrap();
        assert_eq!(joined.text, "one two and a half three");
        let times: Vec<(f64, f64)> = joined.segments.iter().map(|s| (s.start_s, s.end_s)).collect();
        assert_eq!(times, [(0.5, 3.0), (595.25, 598.25), (1203.25, 1212.25), (1213.25, 1216.25)]);
        // Words move with their segments, and are kept inside their part too.
        let words: Vec<(f64, f64)> =
            joined.segments.iter().flat_map(|s| &s.words).map(|w| (w.start_s, w.end_s)).collect();
        assert_eq!(words, [(2.0, 3.0), (597.25, 598.25), (1212.25, 1212.25), (1215.25, 1216.25)]);
        assert_eq!(joined.quality_flag, QualityFlag::LowConfidence);
        assert_eq!((joined.audio_seconds, joined.decode_seconds), (1800.0, 60.0));
    }

    #[test]
    fn the_language_is_the_one_spoken_longest_by_parts_that_speak() {
        let p = parts(&[600.0, 1200.0]);
        let joined = join(vec![
            (p[0], Transcription { language_probability: Some(0.99), ..heard(&[], "nn", QualityFlag::NoSpeech) }),
            (p[1], heard(&[(0.0, 100.0, "hola")], "es", QualityFlag::Ok)),
            (p[2], heard(&[(0.0, 10.0, "hello")], "en", QualityFlag::Ok)),
        ])
        .unwrap();
        assert_eq!(joined.language.as_deref(), Some("es"));
        assert_eq!(joined.language_probability, Some(0.5));
        // Silence throughout: the first part's word.
        let silent = join(vec![(p[0], heard(&[], "en", QualityFlag::NoSpeech))]).unwrap();
        assert_eq!((silent.language.as_deref(), silent.quality_flag), (Some("en"), QualityFlag::NoSpeech));
    }

    #[test]
    fn what_each_part_redacted_is_counted_once_at_the_recording_s_times() {
        use crate::redact::{Pii, Redacted, Said};
        let p = parts(&[600.0]);
        let redacted = |start_s: f64| Redacted {
            counts: [(Pii::Phone, 1)].into(),
            said: vec![Said { pii: Pii::Phone, channel: 0, start_s, end_s: start_s + 2.0 }],
        };
        let mut first = heard(&[(0.0, 10.0, "call [PHONE]")], "en", QualityFlag::Ok);
        first.pii_redacted = Some(redacted(3.0));
        let mut second = heard(&[(0.0, 10.0, "or [PHONE]")], "en", QualityFlag::Ok);
        second.pii_redacted = Some(redacted(4.0));
        let joined = join(vec![(p[0], first), (p[1], second)]).unwrap().pii_redacted.unwrap();
        assert_eq!(joined.to_json(), r#"{"PHONE":2}"#);
        let times: Vec<(f64, f64)> = joined.said.iter().map(|s| (s.start_s, s.end_s)).collect();
        assert_eq!(times, [(3.0, 5.0), (604.0, 606.0)]);
    }
}
