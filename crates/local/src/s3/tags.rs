//! Object tagging for the S3 stand-in: the tags an upload sets (`x-amz-tagging`), `PutObjectTagging`,
//! `GetObjectTagging` and `DeleteObjectTagging`, kept for each current object in a JSON-lines log next to the
//! buckets, and gone with the object. The limits are S3's ("Categorizing your objects using tags", Amazon S3 User
//! Guide): at most 10 tags on an object, keys of at most 128 Unicode characters and values of at most 256, each key
//! once, no key starting `aws:`, and only letters, digits, spaces and `+ - = . _ : / @`; anything else is refused
//! `InvalidTag`, 400.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::lines;
use crate::LocalError;

/// The most tags an object may have.
pub const MAX_TAGS: usize = 10;
/// The longest tag key, in Unicode characters.
pub const KEY_MAX_CHARS: usize = 128;
/// The longest tag value, in Unicode characters.
pub const VALUE_MAX_CHARS: usize = 256;

/// One object's tags, in the order they were given.
pub type TagList = Vec<(String, String)>;

#[derive(Serialize, Deserialize)]
struct Line {
    bucket: String,
    key: String,
    tags: TagList,
}

/// Each tagged object's tags, by bucket and key.
type ByObject = HashMap<(String, String), TagList>;

/// The tags of every object that has some.
pub(crate) struct Tags {
    log: Mutex<(File, ByObject)>,
}

impl Tags {
    pub(crate) fn open(path: &Path) -> Result<Tags, LocalError> {
        let (lines, file) = lines::open::<Line>(path)?;
        let mut state = HashMap::new();
        for line in lines {
            if line.tags.is_empty() {
                state.remove(&(line.bucket, line.key));
            } else {
                state.insert((line.bucket, line.key), line.tags);
            }
        }
        Ok(Tags { log: Mutex::new((file, state)) })
    }

    /// Sets an object's tags (none: removes them).
    pub(crate) fn set(&self, bucket: &str, key: &str, tags: TagList) -> std::io::Result<()> {
        let mut guard = self.log.lock().map_err(|_| std::io::Error::other("tags lock poisoned"))?;
        let (file, state) = &mut *guard;
        let id = (bucket.to_string(), key.to_string());
        if tags.is_empty() && !state.contains_key(&id) {
            return Ok(());
        }
        lines::append(file, &Line { bucket: bucket.into(), key: key.into(), tags: tags.clone() })?;
        if tags.is_empty() {
            state.remove(&id);
        } else {
            state.insert(id, tags);
        }
        Ok(())
    }

    /// An object's tags (none when it has none).
    pub(crate) fn get(&self, bucket: &str, key: &str) -> TagList {
        let guard = self.log.lock();
        guard.ok().and_then(|g| g.1.get(&(bucket.to_string(), key.to_string())).cloned()).unwrap_or_default()
    }
}

/// The tags of an `x-amz-tagging` header: URL query parameters (`Key1=Value1&Key2=Value2`), percent-encoded.
pub fn parse_header(header: &str) -> Result<TagList, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.".to_string())
    };
    let mut tags = Vec::new();
    for pair in header.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push((decode(k)?, decode(v)?));
    }
    Ok(tags)
}

/// Refuses a tag set S3 would refuse, with S3's message.
pub fn check(tags: &TagList) -> Result<(), String> {
    if tags.len() > MAX_TAGS {
        return Err("Object tags cannot be greater than 10".into());
    }
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c);
    for (i, (key, value)) in tags.iter().enumerate() {
        if key.is_empty() || key.chars().count() > KEY_MAX_CHARS {
            return Err("The TagKey you have provided is too long, max 128".into());
        }
        if value.chars().count() > VALUE_MAX_CHARS {
            return Err("The TagValue you have provided is too long, max 256".into());
        }
        if !key.chars().all(allowed) || !value.chars().all(allowed) {
            return Err("The TagKey or TagValue you have provided is invalid".into());
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err("Your TagKey cannot be prefixed with aws:".into());
        }
        if tags[..i].iter().any(|(k, _)| k == key) {
            return Err("Cannot provide multiple Tags with the same key".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_url_query_parameters() {
        let tags = parse_header("tier=gold&campaign=winter%202026&empty=").unwrap();
        assert_eq!(
            tags,
            [
                ("tier".into(), "gold".into()),
                ("campaign".into(), "winter 2026".into()),
                ("empty".into(), String::new())
            ]
        );
        assert!(check(&tags).is_ok());
    }

    #[test]
    fn what_s3_refuses_is_refused() {
        let many: TagList = (0..11).map(|i| (format!("k{i}"), "v".to_string())).collect();
        assert!(check(&many).unwrap_err().contains("greater than 10"));
        assert!(check(&vec![("k".repeat(129), "v".into())]).unwrap_err().contains("max 128"));
        assert!(check(&vec![("k".into(), "é".repeat(257))]).unwrap_err().contains("max 256"));
        assert!(check(&vec![("k".into(), "é".repeat(256))]).is_ok(), "characters, not bytes");
        assert!(check(&vec![("aws:x".into(), "v".into())]).unwrap_err().contains("aws:"));
        assert!(check(&vec![("k".into(), "a".into()), ("k".into(), "b".into())]).unwrap_err().contains("same key"));
        assert!(check(&vec![("k".into(), "a;drop".into())]).unwrap_err().contains("invalid"));
    }

    #[test]
    fn tags_outlive_a_restart_and_go_with_their_object() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tags.jsonl");
        let tags = Tags::open(&path).unwrap();
        tags.set("b", "in/a.wav", vec![("tier".into(), "gold".into())]).unwrap();
        tags.set("b", "in/b.wav", vec![("tier".into(), "silver".into())]).unwrap();
        tags.set("b", "in/b.wav", Vec::new()).unwrap();
        drop(tags);
        let tags = Tags::open(&path).unwrap();
        assert_eq!(tags.get("b", "in/a.wav"), [("tier".to_string(), "gold".to_string())]);
        assert!(tags.get("b", "in/b.wav").is_empty());
    }
}
