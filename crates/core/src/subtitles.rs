//! Subtitles from a transcript's words, cut by the readability rules subtitle guidelines share: at most two lines
//! of at most 42 characters, at most 7 s on screen, a new cue at a pause, a change of speaker (channel), or the
//! end of a sentence, and a long cue broken after a sentence's or a clause's last word rather than mid-phrase. Written
//! as SubRip (`.srt`) and WebVTT (`.vtt`).

use crate::ports::{TimedText, Word};

/// Characters a line holds at most.
pub const LINE_MAX_CHARS: usize = 42;
/// Lines a cue holds at most.
pub const CUE_MAX_LINES: usize = 2;
/// Seconds a cue stays on screen at most.
pub const CUE_MAX_S: f64 = 7.0;
/// A silence between two words from which they are in different cues (seconds).
pub const PAUSE_S: f64 = 1.0;
/// The shortest a cue is shown (seconds), when the next one leaves room: a one-word cue flashes otherwise.
const CUE_MIN_S: f64 = 0.8;

/// One subtitle: when it shows, on which channel, and its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start_s: f64,
    pub end_s: f64,
    pub channel: u16,
    pub lines: Vec<String>,
}

/// The formats subtitles are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubtitleFormat {
    Srt,
    Vtt,
}

impl SubtitleFormat {
    pub const ALL: [SubtitleFormat; 2] = [SubtitleFormat::Srt, SubtitleFormat::Vtt];

    /// The file extension, without the dot.
    pub const fn extension(self) -> &'static str {
        match self {
            SubtitleFormat::Srt => "srt",
            SubtitleFormat::Vtt => "vtt",
        }
    }

    /// The media type the file is stored with.
    pub const fn content_type(self) -> &'static str {
        match self {
            SubtitleFormat::Srt => "application/x-subrip",
            SubtitleFormat::Vtt => "text/vtt",
        }
    }
}

/// The words of a transcript, each with its segment's channel; a segment without words (timed before words were)
/// is one word of its text.
fn words_of(segments: &[TimedText]) -> Vec<(u16, Word)> {
    segments
        .iter()
        .flat_map(|s| {
            let words = match s.words.is_empty() {
                true => vec![Word { start_s: s.start_s, end_s: s.end_s, text: s.text.clone(), probability: 1.0 }],
                false => s.words.clone(),
            };
            words.into_iter().filter(|w| !w.text.trim().is_empty()).map(move |w| (s.channel, w))
        })
        .collect()
}

fn ends_sentence(word: &str) -> bool {
    word.trim_end_matches(['"', '\'', ')', '”']).ends_with(['.', '?', '!', '。', '？', '！'])
}

fn ends_clause(word: &str) -> bool {
    ends_sentence(word) || word.ends_with([',', ';', ':', '，', '、'])
}

fn chars(words: &[(u16, Word)]) -> usize {
    words.iter().map(|(_, w)| w.text.trim().chars().count()).sum::<usize>() + words.len().saturating_sub(1)
}

/// Whether `words` fit one cue: on at most two lines of 42 characters, and shown for at most 7 s.
fn fits(words: &[(u16, Word)]) -> bool {
    let (Some(first), Some(last)) = (words.first(), words.last()) else { return true };
    last.1.end_s - first.1.start_s <= CUE_MAX_S && lines(words).is_some()
}

/// The words' text on at most [`CUE_MAX_LINES`] lines of at most [`LINE_MAX_CHARS`]: one line when it fits,
/// else two broken where they are most even; `None` when they do not fit.
fn lines(words: &[(u16, Word)]) -> Option<Vec<String>> {
    let texts: Vec<&str> = words.iter().map(|(_, w)| w.text.trim()).collect();
    let joined = |part: &[&str]| part.join(" ");
    if chars(words) <= LINE_MAX_CHARS {
        return Some(vec![joined(&texts)]);
    }
    (1..texts.len())
        .map(|k| (joined(&texts[..k]), joined(&texts[k..])))
        .filter(|(a, b)| a.chars().count() <= LINE_MAX_CHARS && b.chars().count() <= LINE_MAX_CHARS)
        .min_by_key(|(a, b)| a.chars().count().abs_diff(b.chars().count()))
        .map(|(a, b)| vec![a, b])
}

/// Cues of a transcript's segments (in time order, as a transcript keeps them).
pub fn cues(segments: &[TimedText]) -> Vec<Cue> {
    let words = words_of(segments);
    let mut cues = Vec::new();
    let mut from = 0;
    while from < words.len() {
        // The longest run from `from` that stays one speaker, without a pause, and fits a cue.
        let mut to = from + 1;
        while to < words.len()
            && words[to].0 == words[from].0
            && words[to].1.start_s - words[to - 1].1.end_s < PAUSE_S
            && !ends_sentence(&words[to - 1].1.text)
            && fits(&words[from..=to])
        {
            to += 1;
        }
        // A run cut short by the length rules breaks after its last clause, when that leaves a cue half full.
        let cut_by_length = to < words.len() && words[to].0 == words[from].0 && !ends_sentence(&words[to - 1].1.text);
        if cut_by_length && !fits(&words[from..=to]) {
            let half = LINE_MAX_CHARS * CUE_MAX_LINES / 2;
            if let Some(k) = (from + 1..to).rev().find(|&k| ends_clause(&words[k - 1].1.text)) {
                if chars(&words[from..k]) >= half / 2 {
                    to = k;
                }
            }
        }
        let run = &words[from..to];
        let text =
            lines(run).unwrap_or_else(|| vec![run.iter().map(|(_, w)| w.text.trim()).collect::<Vec<_>>().join(" ")]);
        cues.push(Cue { start_s: run[0].1.start_s, end_s: run[run.len() - 1].1.end_s, channel: run[0].0, lines: text });
        from = to;
    }
    // A cue shorter than the shortest shown stays up longer when the next one leaves room.
    for i in 0..cues.len() {
        let room = cues.get(i + 1).map_or(f64::INFINITY, |next| next.start_s);
        let cue = &mut cues[i];
        if cue.end_s - cue.start_s < CUE_MIN_S {
            cue.end_s = (cue.start_s + CUE_MIN_S).min(room).max(cue.end_s);
        }
    }
    cues
}

/// A time as SubRip (`00:01:02,345`) or WebVTT (`00:01:02.345`) writes it.
fn timestamp(seconds: f64, format: SubtitleFormat) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    let separator = match format {
        SubtitleFormat::Srt => ',',
        SubtitleFormat::Vtt => '.',
    };
    format!("{:02}:{:02}:{:02}{separator}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// A cue's line as WebVTT text: `&`, `<` and `>` escaped (its markup characters; an arrow would end the cue).
fn vtt_text(line: &str) -> String {
    line.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The cues as a subtitle file.
pub fn render(cues: &[Cue], format: SubtitleFormat) -> String {
    let mut out = String::new();
    if format == SubtitleFormat::Vtt {
        out.push_str("WEBVTT\n\n");
    }
    for (i, cue) in cues.iter().enumerate() {
        if format == SubtitleFormat::Srt {
            out.push_str(&format!("{}\n", i + 1));
        }
        let (start, end) = (timestamp(cue.start_s, format), timestamp(cue.end_s, format));
        out.push_str(&format!("{start} --> {end}\n"));
        for line in &cue.lines {
            // A blank line would end the cue early; SubRip has no escapes, so an arrow is spelled out.
            let line = match format {
                SubtitleFormat::Srt => line.replace("-->", "->"),
                SubtitleFormat::Vtt => vtt_text(line),
            };
            out.push_str(line.trim());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment of `text` said from `start`, a word every `pace` seconds.
    fn said(start: f64, pace: f64, text: &str, channel: u16) -> TimedText {
        let words: Vec<Word> = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                start_s: start + pace * i as f64,
                end_s: start + pace * i as f64 + pace * 0.8,
                text: w.into(),
                probability: 0.9,
            })
            .collect();
        TimedText {
            start_s: start,
            end_s: words.last().map_or(start, |w| w.end_s),
            text: text.into(),
            avg_logprob: None,
            no_speech_prob: None,
            channel,
            words,
        }
    }

    fn texts(cues: &[Cue]) -> Vec<String> {
        cues.iter().map(|c| c.lines.join(" | ")).collect()
    }

    #[test]
    fn every_cue_keeps_to_two_lines_of_42_characters_and_seven_seconds() {
        let long = "Thank you for calling the billing department of the regional water utility, my name is Sam \
                    and I will be looking after your account today while we check the meter readings, the \
                    payments and the letters we sent you in the spring";
        let cues = cues(&[said(0.0, 0.35, long, 0)]);
        assert!(cues.len() >= 3, "{:?}", texts(&cues));
        for cue in &cues {
            assert!(cue.lines.len() <= CUE_MAX_LINES && cue.lines.iter().all(|l| l.chars().count() <= LINE_MAX_CHARS));
            assert!(cue.end_s - cue.start_s <= CUE_MAX_S, "{cue:?}");
        }
        // Every word once, in order.
        let all: Vec<String> = cues.iter().flat_map(|c| c.lines.clone()).collect();
        assert_eq!(all.join(" "), long.split_whitespace().collect::<Vec<_>>().join(" "));
    }

    #[test]
    fn a_cue_too_long_for_its_clause_breaks_after_the_clause_before() {
        let text = "Your balance is forty dollars, and the next payment will be taken from your account on the first";
        let cues = cues(&[said(0.0, 0.3, text, 0)]);
        assert_eq!(texts(&cues)[0], "Your balance is forty dollars,", "{:?}", texts(&cues));
        assert_eq!(cues.len(), 2, "{:?}", texts(&cues));
    }

    #[test]
    fn a_pause_a_sentence_s_end_and_a_change_of_speaker_start_a_new_cue() {
        let segments = [
            said(0.0, 0.3, "Hello there.", 0),
            said(0.7, 0.3, "How are you?", 0),
            said(5.0, 0.3, "Fine", 1),
            said(5.4, 0.3, "thanks", 0),
            said(9.0, 0.3, "Bye", 0),
        ];
        let cues = cues(&segments);
        assert_eq!(texts(&cues), ["Hello there.", "How are you?", "Fine", "thanks", "Bye"]);
        assert_eq!(cues[2].channel, 1);
        // A one-word cue stays up 0.8 s, unless the next starts sooner.
        assert!((cues[4].end_s - 9.8).abs() < 1e-9, "{:?}", cues[4]);
        assert!((cues[2].end_s - 5.4).abs() < 1e-9, "{:?}", cues[2]);
    }

    #[test]
    fn srt_and_webvtt_write_their_own_times_and_escapes() {
        let cues = vec![
            Cue { start_s: 3.42, end_s: 3661.5, channel: 0, lines: vec!["Fish & chips".into(), "<b> --> x".into()] },
            Cue { start_s: 3662.0, end_s: 3663.0, channel: 0, lines: vec!["Bye.".into()] },
        ];
        let srt = render(&cues, SubtitleFormat::Srt);
        assert!(srt.starts_with("1\n00:00:03,420 --> 01:01:01,500\nFish & chips\n<b> -> x\n\n2\n"), "{srt}");
        let vtt = render(&cues, SubtitleFormat::Vtt);
        assert!(
            vtt.starts_with("WEBVTT\n\n00:00:03.420 --> 01:01:01.500\nFish &amp; chips\n&lt;b&gt; --&gt; x\n\n"),
            "{vtt}"
        );
    }
}
