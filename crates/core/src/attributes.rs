//! What a recording is about besides its sound, so that its row joins to the rest of the business: the call,
//! the agent, the queue, the campaign. Three sources, each kept with its name:
//!
//! - the object key, read with a deployment's [`KeyPattern`] (a regular expression whose named groups are the
//!   attributes: contact-centre platforms write keys such as `in/sales/20261201T091500_agent-042_<uuid>.wav`);
//! - the uploader's user metadata (`x-amz-meta-*`);
//! - the object's S3 tags (`GetObjectTagging`).
//!
//! They land in `transcription_attributes` (one row per name and source, loaded with the recording's row), and
//! the well-known names ([`KNOWN`]) also in typed columns of the row, where the uploader's word (metadata) wins
//! over a tag, and a tag over the key.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use regex::Regex;

use crate::ports::Metadata;
use crate::record::truncate_utf8;
use crate::CoreError;

/// Where an attribute came from: `transcription_attributes.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A named group of the deployment's key pattern.
    Key,
    /// The uploader's user metadata (`x-amz-meta-<name>`).
    Metadata,
    /// An S3 object tag.
    Tag,
}

impl Source {
    /// The stable spelling stored in the table.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Key => "key",
            Source::Metadata => "metadata",
            Source::Tag => "tag",
        }
    }

    /// Which source's value a typed column takes when several name it: the uploader's metadata, then a tag,
    /// then the key.
    const fn rank(self) -> u8 {
        match self {
            Source::Metadata => 0,
            Source::Tag => 1,
            Source::Key => 2,
        }
    }
}

/// One attribute of a recording.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attribute {
    pub name: String,
    pub value: String,
    pub source: Source,
}

/// The longest attribute name stored: `VARCHAR(512)`, bytes of UTF-8 (an S3 tag key is up to 128 characters).
pub const NAME_MAX_BYTES: usize = 512;
/// The longest attribute value stored: `VARCHAR(1024)` (an object key is at most 1,024 bytes); a longer one is cut
/// at a character boundary.
pub const VALUE_MAX_BYTES: usize = 1024;
/// The longest value of a typed text column (`call_id`, `agent_id`): `VARCHAR(256)`.
pub const KNOWN_MAX_BYTES: usize = 256;

/// Names that are also typed columns of `transcription_results`.
pub const KNOWN: [&str; 3] = ["recorded_at", "call_id", "agent_id"];

impl Attribute {
    /// An attribute as stored: name and value cut to their columns.
    pub fn new(source: Source, name: &str, value: &str) -> Attribute {
        Attribute {
            name: truncate_utf8(name, NAME_MAX_BYTES).0.to_string(),
            value: truncate_utf8(value, VALUE_MAX_BYTES).0.to_string(),
            source,
        }
    }
}

/// A deployment's key pattern (`REDSCRIBE_KEY_PATTERN`): a regular expression over the whole decoded key, whose
/// named groups are attributes. A group that does not take part in a match adds nothing.
#[derive(Debug, Clone)]
pub struct KeyPattern {
    regex: Regex,
    text: String,
}

impl PartialEq for KeyPattern {
    fn eq(&self, other: &KeyPattern) -> bool {
        self.text == other.text
    }
}

impl KeyPattern {
    /// Parses a pattern; it must name at least one group. It is anchored at both ends (a key matches it whole).
    pub fn parse(pattern: &str) -> Result<KeyPattern, CoreError> {
        let invalid = |why: String| CoreError::Config(format!("key pattern {pattern:?}: {why}"));
        let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| invalid(e.to_string()))?;
        if regex.capture_names().flatten().next().is_none() {
            return Err(invalid("it names no group; write (?P<name>…) for each attribute".into()));
        }
        Ok(KeyPattern { regex, text: pattern.to_string() })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The attributes a key gives, or `None` when the key does not match.
    pub fn attributes(&self, key: &str) -> Option<Vec<Attribute>> {
        let captures = self.regex.captures(key)?;
        Some(
            self.regex
                .capture_names()
                .flatten()
                .filter_map(|name| Some(Attribute::new(Source::Key, name, captures.name(name)?.as_str())))
                .collect(),
        )
    }
}

/// A recording's attributes, and whether its key matched the deployment's pattern (`None`: no pattern).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attributes {
    pub list: Vec<Attribute>,
    #[serde(default)]
    pub key_matched: Option<bool>,
}

impl Attributes {
    /// Everything a recording's key, metadata and tags say, in that order (each source's names sorted, as S3
    /// hands them).
    pub fn gather(
        pattern: Option<&KeyPattern>,
        key: &str,
        metadata: &Metadata,
        tags: &[(String, String)],
    ) -> Attributes {
        let mut out = Attributes::of_key(pattern, key);
        out.list.extend(metadata.iter().map(|(k, v)| Attribute::new(Source::Metadata, k, v)));
        let mut tags: Vec<&(String, String)> = tags.iter().collect();
        tags.sort();
        out.list.extend(tags.into_iter().map(|(k, v)| Attribute::new(Source::Tag, k, v)));
        out
    }

    /// What the key alone says (a recording that could not be read has no metadata or tags).
    pub fn of_key(pattern: Option<&KeyPattern>, key: &str) -> Attributes {
        match pattern.map(|p| p.attributes(key)) {
            None => Attributes::default(),
            Some(None) => Attributes { list: Vec::new(), key_matched: Some(false) },
            Some(Some(list)) => Attributes { list, key_matched: Some(true) },
        }
    }

    /// The value a typed column takes for `name`: the uploader's metadata, else a tag, else the key. An empty
    /// value counts as none.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case(name) && !a.value.trim().is_empty())
            .min_by_key(|a| a.source.rank())
            .map(|a| a.value.trim())
    }

    /// `recorded_at`, read as a time ([`parse_time`]); `None` when no source names it or none can be read.
    pub fn recorded_at(&self) -> Option<DateTime<Utc>> {
        self.value("recorded_at").and_then(parse_time)
    }

    /// A typed text column's value, cut to its width.
    pub fn known_text(&self, name: &str) -> Option<String> {
        self.value(name).map(|v| truncate_utf8(v, KNOWN_MAX_BYTES).0.to_string())
    }
}

/// A time as recordings' keys and metadata write them, UTC unless an offset is given: RFC 3339
/// (`2026-12-01T09:15:00Z`, `…+01:00`), ISO 8601 basic (`20261201T091500`, with `Z` or not), `2026-12-01 09:15:00`,
/// `2026-12-01T09:15:00`, a date (`2026-12-01`, `20261201`: its midnight), or Unix seconds or milliseconds.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = text.strip_suffix('Z').unwrap_or(text);
    for format in
        ["%Y%m%dT%H%M%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
    {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(t.and_utc());
        }
    }
    for format in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(naive, format) {
            return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        }
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = text.parse().ok()?;
        return match text.len() {
            10 => DateTime::from_timestamp(n, 0),
            13 => DateTime::from_timestamp_millis(n),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATTERN: &str =
        r"in/(?P<queue>[^/]+)/(?P<recorded_at>\d{8}T\d{6})_agent-(?P<agent_id>[^_]+)_(?P<call_id>[0-9a-f-]{36})\.wav";
    const KEY: &str = "in/sales/20261201T091500_agent-042_3f2c8a52-9a1e-4c1b-8d3e-0c2f5b7a9d10.wav";

    fn names(a: &Attributes) -> Vec<(&str, &str, &str)> {
        a.list.iter().map(|a| (a.source.as_str(), a.name.as_str(), a.value.as_str())).collect()
    }

    #[test]
    fn a_key_pattern_names_its_groups() {
        let pattern = KeyPattern::parse(PATTERN).unwrap();
        let a = Attributes::of_key(Some(&pattern), KEY);
        assert_eq!(a.key_matched, Some(true));
        assert_eq!(
            names(&a),
            [
                ("key", "queue", "sales"),
                ("key", "recorded_at", "20261201T091500"),
                ("key", "agent_id", "042"),
                ("key", "call_id", "3f2c8a52-9a1e-4c1b-8d3e-0c2f5b7a9d10"),
            ]
        );
        assert_eq!(a.recorded_at().unwrap().to_rfc3339(), "2026-12-01T09:15:00+00:00");
        // Anchored: a key with more around it does not match.
        let b = Attributes::of_key(Some(&pattern), &format!("x/{KEY}"));
        assert_eq!((b.key_matched, b.list.len()), (Some(false), 0));
        assert_eq!(Attributes::of_key(None, KEY), Attributes::default());
    }

    #[test]
    fn a_pattern_without_names_or_that_does_not_parse_is_refused() {
        assert!(KeyPattern::parse(r"in/.*\.wav").unwrap_err().to_string().contains("names no group"));
        assert!(KeyPattern::parse(r"in/(?P<x>[").is_err());
        // An optional group that does not take part adds nothing.
        let p = KeyPattern::parse(r"in/(?P<queue>[a-z]+)(?:-(?P<site>[a-z]+))?/.*").unwrap();
        assert_eq!(names(&Attributes::of_key(Some(&p), "in/sales/x.wav")), [("key", "queue", "sales")]);
    }

    #[test]
    fn metadata_wins_over_a_tag_and_a_tag_over_the_key() {
        let pattern = KeyPattern::parse(PATTERN).unwrap();
        let metadata = Metadata::from([("campaign".into(), "winter".into()), ("agent_id".into(), "7".into())]);
        let tags = [("tier".to_string(), "gold".to_string()), ("agent_id".to_string(), "8".to_string())];
        let a = Attributes::gather(Some(&pattern), KEY, &metadata, &tags);
        assert_eq!(a.list.len(), 4 + 2 + 2);
        assert_eq!(a.value("agent_id"), Some("7"));
        assert_eq!(a.value("call_id"), Some("3f2c8a52-9a1e-4c1b-8d3e-0c2f5b7a9d10"));
        assert_eq!(a.value("tier"), Some("gold"));
        let a = Attributes::gather(Some(&pattern), KEY, &Metadata::new(), &tags);
        assert_eq!(a.value("agent_id"), Some("8"));
        assert_eq!(
            a.list.iter().filter(|x| x.source == Source::Tag).map(|x| x.name.as_str()).collect::<Vec<_>>(),
            ["agent_id", "tier"]
        );
    }

    #[test]
    fn values_are_cut_to_their_columns() {
        let long = "é".repeat(600); // 1,200 bytes
        let a = Attribute::new(Source::Metadata, &long, &long);
        assert!(a.name.len() <= NAME_MAX_BYTES && a.value.len() <= VALUE_MAX_BYTES);
        assert_eq!(a.value.chars().count() * 2, a.value.len());
        let attrs =
            Attributes { list: vec![Attribute::new(Source::Tag, "call_id", &"x".repeat(300))], key_matched: None };
        assert_eq!(attrs.known_text("call_id").unwrap().len(), KNOWN_MAX_BYTES);
    }

    #[test]
    fn times_in_the_usual_spellings() {
        let utc = |s: &str| parse_time(s).map(|t| t.to_rfc3339());
        let nine = Some("2026-12-01T09:15:00+00:00".to_string());
        for s in [
            "2026-12-01T09:15:00Z",
            "2026-12-01T10:15:00+01:00",
            "20261201T091500",
            "20261201T091500Z",
            "2026-12-01 09:15:00",
            "2026-12-01T09:15:00",
            "1796116500",
            "1796116500000",
        ] {
            assert_eq!(utc(s), nine, "{s}");
        }
        assert_eq!(utc("2026-12-01"), Some("2026-12-01T00:00:00+00:00".into()));
        assert_eq!(utc("20261201"), Some("2026-12-01T00:00:00+00:00".into()));
        for s in ["", "yesterday", "2026-13-01", "12345", "20261301T000000"] {
            assert_eq!(utc(s), None, "{s}");
        }
    }
}
