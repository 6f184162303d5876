//! Identity of a recording: a deterministic id from its location, a file-name-safe version token, and the
//! ordering of S3 `sequencer` values.

use std::cmp::Ordering;

use sha2::{Digest, Sha256};

/// Length of a recording id: 32 lowercase hex characters (128 bits of SHA-256), inside `VARCHAR(50)`.
pub const ID_LEN: usize = 32;

/// The deterministic id of the recording at `bucket/key` (the decoded key).
///
/// The same location always yields the same id, so a re-upload of the same key updates its row instead of
/// adding one.
pub fn recording_id(bucket: &str, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(bucket.as_bytes());
    hasher.update(b"/");
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut id = hex::encode(digest);
    id.truncate(ID_LEN);
    id
}

/// Longest version token used in an output file name.
pub const VERSION_TOKEN_MAX: usize = 64;

/// A token naming one version of an object in output file names: the version id when the bucket is
/// versioned, else the ETag, else the sequencer, else `"unversioned"`. Characters outside `[A-Za-z0-9._-]`
/// become `_`, so the token is safe in any S3 key or local path.
pub fn version_token(version_id: Option<&str>, etag: Option<&str>, sequencer: Option<&str>) -> String {
    let raw = [version_id, etag, sequencer]
        .into_iter()
        .flatten()
        .map(|s| s.trim_matches('"'))
        .find(|s| !s.is_empty() && *s != "null")
        .unwrap_or("unversioned");
    raw.chars()
        .take(VERSION_TOKEN_MAX)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect()
}

/// An S3 event `sequencer`: a hexadecimal string that orders events for the same key.
///
/// S3 documents that sequencers of different lengths are compared after padding the shorter one with zeros on
/// the right; comparison is case-insensitive.
#[derive(Debug, Clone, Eq)]
pub struct Sequencer(String);

impl Sequencer {
    /// Wraps a sequencer value as found in an event.
    pub fn new(raw: &str) -> Sequencer {
        Sequencer(raw.trim().to_ascii_uppercase())
    }

    /// The normalised (upper-case) text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Ord for Sequencer {
    fn cmp(&self, other: &Self) -> Ordering {
        let width = self.0.len().max(other.0.len());
        let pad = |s: &str| format!("{s:0<width$}");
        pad(&self.0).cmp(&pad(&other.0))
    }
}

impl PartialOrd for Sequencer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Sequencer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_distinct_and_fit_varchar_50() {
        let cases = [
            ("recordings", "calls/2026/call-0042.wav"),
            ("recordings", "calls/2026/call-0042.WAV"),
            ("other", "calls/2026/call-0042.wav"),
            ("recordings", "a'; drop table x; --.wav"),
            ("recordings", "ünïcödé/録音.flac"),
            ("recordings", &"k".repeat(1024)),
        ];
        let ids: Vec<String> = cases.iter().map(|(b, k)| recording_id(b, k)).collect();
        for ((bucket, key), id) in cases.iter().zip(&ids) {
            assert_eq!(id, &recording_id(bucket, key));
            assert_eq!(id.len(), ID_LEN);
            assert!(id.len() <= 50);
            assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        // "a/b" + "c" and "a" + "b/c" are different locations with the same joined text; S3 bucket names
        // cannot contain '/', so the join is unambiguous.
        assert_eq!(recording_id("a", "b/c"), recording_id("a", "b/c"));
    }

    #[test]
    fn version_token_prefers_version_then_etag_then_sequencer() {
        assert_eq!(
            version_token(Some("3HL4kqtJvjVBH40Nrjfkd"), Some("\"abc\""), Some("00F1")),
            "3HL4kqtJvjVBH40Nrjfkd"
        );
        assert_eq!(
            version_token(None, Some("\"d41d8cd98f00b204e9800998ecf8427e\""), None),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(version_token(Some(""), Some("\"0a1b-12\""), None), "0a1b-12");
        assert_eq!(version_token(Some("null"), None, Some("0055AED6DCD90281E5")), "0055AED6DCD90281E5");
        assert_eq!(version_token(None, None, None), "unversioned");
        assert_eq!(version_token(Some("a/b+c=d"), None, None), "a_b_c_d");
        assert_eq!(version_token(Some(&"v".repeat(300)), None, None).len(), VERSION_TOKEN_MAX);
    }

    #[test]
    fn sequencers_order_after_right_padding() {
        let cases = [
            ("0055AED6DCD90281E5", "0055AED6DCD90281E6", Ordering::Less),
            ("0055aed6dcd90281e5", "0055AED6DCD90281E5", Ordering::Equal),
            ("0055AED6DCD90281E5", "0055AED6DCD90281E500", Ordering::Equal),
            ("0055AED6DCD90281E5", "0055AED6DCD90281E501", Ordering::Less),
            ("0056", "0055AED6DCD90281E5", Ordering::Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(Sequencer::new(a).cmp(&Sequencer::new(b)), want, "{a} vs {b}");
        }
    }
}
