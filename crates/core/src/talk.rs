//! Who spoke, and how long: the basic characteristics of a call that contact centres look at. A two-channel call
//! is heard one channel at a time (one speaker per channel), and a deployment names its channels
//! (`REDSCRIBE_CHANNEL_ROLES=agent,customer`: channel 0 is the agent, channel 1 the customer). Each segment then
//! carries its speaker, and the row the seconds each role was heard speaking (the union of its words' times, so
//! that the pauses inside a sentence do not count) and the seconds no one was (non-talk time).

use crate::ports::Transcription;
use crate::CoreError;

/// The most roles a deployment names (a call has two channels; a conference recorder may keep more).
pub const MAX_ROLES: usize = 8;
/// The longest role name: `transcription_segments.speaker` is `VARCHAR(64)`.
pub const ROLE_MAX_BYTES: usize = 64;

/// The role of each channel, in channel order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelRoles(Vec<String>);

impl ChannelRoles {
    /// Parses `agent,customer`: names of lower-case letters, digits, `_` and `-`, each once. Empty or `off`: none.
    pub fn parse(text: &str) -> Result<ChannelRoles, CoreError> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("off") {
            return Ok(ChannelRoles::default());
        }
        let invalid = |why: String| CoreError::Config(format!("channel roles {text:?}: {why}"));
        let roles: Vec<String> = text.split(',').map(|r| r.trim().to_ascii_lowercase()).collect();
        if roles.len() > MAX_ROLES {
            return Err(invalid(format!("at most {MAX_ROLES} roles")));
        }
        for (i, role) in roles.iter().enumerate() {
            let valid = role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            if role.is_empty() || role.len() > ROLE_MAX_BYTES || !valid {
                return Err(invalid(format!("{role:?} is not a role name (a-z, 0-9, _ and -, at most 64)")));
            }
            if roles[..i].contains(role) {
                return Err(invalid(format!("{role:?} names two channels")));
            }
        }
        Ok(ChannelRoles(roles))
    }

    /// No channel is named.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The role of a channel, when it is named.
    pub fn role(&self, channel: u16) -> Option<&str> {
        self.0.get(usize::from(channel)).map(String::as_str)
    }

    /// As `REDSCRIBE_CHANNEL_ROLES` writes them.
    pub fn to_setting(&self) -> String {
        self.0.join(",")
    }
}

/// How long each channel and no one was heard speaking.
#[derive(Debug, Clone, PartialEq)]
pub struct TalkTime {
    /// Seconds per channel, in channel order (a channel no one spoke on has 0).
    pub by_channel: Vec<f64>,
    /// Seconds of the recording in which no channel's words were heard.
    pub non_talk_s: f64,
}

impl TalkTime {
    /// What a transcript says of a recording of `duration_s` seconds. Each channel's talk is the union of its
    /// words' spans (a segment without words counts whole); non-talk is the recording less the union of every
    /// channel's. A recording heard as one mix has one channel's talk; a call heard a channel at a time has two
    /// at least (one for each side, whether or not it spoke).
    pub fn of(t: &Transcription, duration_s: f64) -> TalkTime {
        let spans = |channel: Option<u16>| {
            let mut spans: Vec<(f64, f64)> = t
                .segments
                .iter()
                .filter(|s| channel.is_none_or(|c| s.channel == c))
                .flat_map(|s| {
                    if s.words.is_empty() {
                        vec![(s.start_s, s.end_s)]
                    } else {
                        s.words.iter().map(|w| (w.start_s, w.end_s)).collect()
                    }
                })
                .map(|(a, b)| (a.clamp(0.0, duration_s), b.clamp(0.0, duration_s)))
                .filter(|(a, b)| b > a)
                .collect();
            union_length(&mut spans)
        };
        let by_channel = if t.channels_apart {
            let heard = t.segments.iter().map(|s| s.channel + 1).max().unwrap_or(0);
            (0..heard.max(2)).map(|c| spans(Some(c))).collect()
        } else {
            vec![spans(None)]
        };
        TalkTime { by_channel, non_talk_s: (duration_s - spans(None)).max(0.0) }
    }

    /// The talk time of the channel `roles` names `role`, when one does (a mix has no roles).
    pub fn of_role(&self, roles: &ChannelRoles, role: &str) -> Option<f64> {
        if self.by_channel.len() < 2 {
            return None;
        }
        let channel = roles.0.iter().position(|r| r == role)?;
        self.by_channel.get(channel).copied()
    }
}

/// The length of the union of `spans` (sorted in place).
fn union_length(spans: &mut [(f64, f64)]) -> f64 {
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for &(start, end) in spans.iter() {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    total + current.map_or(0.0, |(s, e)| e - s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{QualityFlag, TimedText, Word};

    fn segment(channel: u16, words: &[(f64, f64)]) -> TimedText {
        TimedText {
            start_s: words.first().map_or(0.0, |w| w.0),
            end_s: words.last().map_or(0.0, |w| w.1),
            text: "x".into(),
            avg_logprob: None,
            no_speech_prob: None,
            channel,
            words: words
                .iter()
                .map(|&(start_s, end_s)| Word { start_s, end_s, text: "w".into(), probability: 0.9 })
                .collect(),
        }
    }

    fn transcript(segments: Vec<TimedText>) -> Transcription {
        Transcription {
            text: "x".into(),
            language: None,
            language_probability: None,
            segments,
            avg_logprob: None,
            no_speech_prob: None,
            compression_ratio: None,
            quality_flag: QualityFlag::Ok,
            audio_seconds: 10.0,
            decode_seconds: 1.0,
            fallback_seconds: 0.0,
            channels_apart: false,
            pii_redacted: None,
        }
    }

    #[test]
    fn talk_is_the_union_of_words_and_non_talk_the_rest() {
        // Agent 0–2 s (two words with a gap of 0.5 s), customer 1.5–4 s overlapping, then 6 s of silence.
        let mut t = transcript(vec![segment(0, &[(0.0, 0.5), (1.0, 2.0)]), segment(1, &[(1.5, 3.0), (2.9, 4.0)])]);
        t.channels_apart = true;
        let talk = TalkTime::of(&t, 10.0);
        assert_eq!(talk.by_channel.len(), 2);
        assert!((talk.by_channel[0] - 1.5).abs() < 1e-9, "{talk:?}");
        assert!((talk.by_channel[1] - 2.5).abs() < 1e-9, "{talk:?}");
        // Heard: 0–0.5 and 1–4: 3.5 s of 10.
        assert!((talk.non_talk_s - 6.5).abs() < 1e-9, "{talk:?}");
        let roles = ChannelRoles::parse("agent,customer").unwrap();
        assert_eq!(talk.of_role(&roles, "customer"), Some(talk.by_channel[1]));
        assert_eq!(talk.of_role(&roles, "supervisor"), None);
        // The same words as one mix: one channel, no roles.
        t.channels_apart = false;
        let mixed = TalkTime::of(&t, 10.0);
        assert_eq!(mixed.by_channel.len(), 1);
        assert!((mixed.non_talk_s - 6.5).abs() < 1e-9);
        assert_eq!(mixed.of_role(&roles, "agent"), None);
        // Nothing said: the whole recording is non-talk; a segment without words counts whole.
        assert_eq!(TalkTime::of(&transcript(vec![]), 10.0), TalkTime { by_channel: vec![0.0], non_talk_s: 10.0 });
        let mut whole = segment(0, &[]);
        (whole.start_s, whole.end_s) = (2.0, 12.0);
        assert_eq!(TalkTime::of(&transcript(vec![whole]), 10.0).non_talk_s, 2.0, "clamped to the recording");
    }

    #[test]
    fn roles_are_names_each_once() {
        let roles = ChannelRoles::parse(" Agent , customer ").unwrap();
        assert_eq!((roles.role(0), roles.role(1), roles.role(2)), (Some("agent"), Some("customer"), None));
        assert_eq!(roles.to_setting(), "agent,customer");
        assert!(ChannelRoles::parse("off").unwrap().is_empty());
        assert!(ChannelRoles::parse("").unwrap().is_empty());
        for bad in ["agent,agent", "agent,", "a b", "agent;customer", &"x".repeat(65), "a,b,c,d,e,f,g,h,i"] {
            assert!(ChannelRoles::parse(bad).is_err(), "{bad}");
        }
    }
}
