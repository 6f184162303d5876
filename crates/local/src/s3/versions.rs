//! Bucket versioning for the S3 stand-in: a bucket can be switched to `Enabled` (PutBucketVersioning); every
//! completed upload into it then gets a new version id, returned as `x-amz-version-id`, reported by HEAD/GET and
//! carried in the event notification (`versionId`). As in S3 ("Working with objects in a versioning-enabled
//! bucket"), the version an upload replaces and the object a delete without a version id removes are kept as
//! *noncurrent* versions (their bytes under `history/`, what a HEAD said of them in the log), a delete leaves a
//! delete marker, and only a delete that names a version removes anything for good. State is a JSON-lines log next
//! to the buckets.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::lines;
use crate::LocalError;

/// A version that is not the current one: an object's earlier bytes, or a delete marker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Noncurrent {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    /// A delete marker: no bytes.
    #[serde(default)]
    pub marker: bool,
    /// The file under the history folder holding its bytes.
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub size: i64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// One line of the log. Untagged: each variant is told apart by the fields it requires, the most specific first.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Status { bucket: String, status: String },
    Kept { noncurrent: Noncurrent },
    Removed { bucket: String, key: String, removed: String },
    Version { bucket: String, key: String, version_id: Option<String> },
}

#[derive(Default)]
struct State {
    status: HashMap<String, String>,
    current: HashMap<(String, String), String>,
    /// Oldest first.
    noncurrent: Vec<Noncurrent>,
}

/// Versioning status per bucket, current version per object, and the noncurrent versions.
pub(crate) struct Versions {
    log: Mutex<(File, State)>,
    history: PathBuf,
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("versions lock poisoned")
}

impl Versions {
    /// Opens the log at `path`; noncurrent versions' bytes go to a `history` folder beside it.
    pub(crate) fn open(path: &Path) -> Result<Versions, LocalError> {
        let mut state = State::default();
        // A line torn by a crash belongs to a request that was never answered: dropped (`lines::open`).
        let (lines, file) = lines::open::<Line>(path)?;
        for line in lines {
            match line {
                Line::Status { bucket, status } => {
                    state.status.insert(bucket, status);
                }
                Line::Kept { noncurrent } => state.noncurrent.push(noncurrent),
                Line::Removed { bucket, key, removed } => {
                    state.noncurrent.retain(|n| !(n.bucket == bucket && n.key == key && n.version_id == removed));
                }
                Line::Version { bucket, key, version_id: Some(v) } => {
                    state.current.insert((bucket, key), v);
                }
                Line::Version { bucket, key, version_id: None } => {
                    state.current.remove(&(bucket, key));
                }
            }
        }
        let history = path.with_file_name("history");
        std::fs::create_dir_all(&history).map_err(LocalError::io(&history))?;
        Ok(Versions { log: Mutex::new((file, state)), history })
    }

    /// `Enabled` or `Suspended`; `None` for a bucket that never had versioning.
    pub(crate) fn status(&self, bucket: &str) -> Option<String> {
        self.log.lock().ok()?.1.status.get(bucket).cloned()
    }

    /// Whether uploads into `bucket` get version ids and earlier versions are kept.
    pub(crate) fn enabled(&self, bucket: &str) -> bool {
        self.status(bucket).is_some_and(|s| s == "Enabled")
    }

    pub(crate) fn set_status(&self, bucket: &str, status: &str) -> std::io::Result<()> {
        let mut guard = self.log.lock().map_err(|_| poisoned())?;
        let (file, state) = &mut *guard;
        lines::append(file, &Line::Status { bucket: bucket.into(), status: status.into() })?;
        state.status.insert(bucket.into(), status.into());
        Ok(())
    }

    /// Records a completed upload: a new version id when the bucket's versioning is enabled.
    pub(crate) fn record_upload(&self, bucket: &str, key: &str) -> std::io::Result<Option<String>> {
        let version = self.enabled(bucket).then(|| uuid::Uuid::new_v4().simple().to_string());
        self.set_current(bucket, key, version.clone())?;
        Ok(version)
    }

    /// Forgets a deleted object's version.
    pub(crate) fn record_delete(&self, bucket: &str, key: &str) -> std::io::Result<()> {
        self.set_current(bucket, key, None)
    }

    /// Makes `version` the current version of an object (`None`: there is no current object).
    pub(crate) fn set_current(&self, bucket: &str, key: &str, version: Option<String>) -> std::io::Result<()> {
        let mut guard = self.log.lock().map_err(|_| poisoned())?;
        let (file, state) = &mut *guard;
        let had = state.current.contains_key(&(bucket.to_string(), key.to_string()));
        if version.is_some() || had {
            lines::append(
                file,
                &Line::Version { bucket: bucket.into(), key: key.into(), version_id: version.clone() },
            )?;
        }
        match version {
            Some(v) => state.current.insert((bucket.into(), key.into()), v),
            None => state.current.remove(&(bucket.to_string(), key.to_string())),
        };
        Ok(())
    }

    /// The current version id of an object.
    pub(crate) fn current(&self, bucket: &str, key: &str) -> Option<String> {
        self.log.lock().ok()?.1.current.get(&(bucket.to_string(), key.to_string())).cloned()
    }

    /// Where a new noncurrent version's bytes go (a fresh name under the history folder).
    pub(crate) fn history_file(&self) -> (String, PathBuf) {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let path = self.history.join(&name);
        (name, path)
    }

    /// The path of a noncurrent version's bytes.
    pub(crate) fn bytes_of(&self, noncurrent: &Noncurrent) -> Option<PathBuf> {
        noncurrent.file.as_ref().map(|f| self.history.join(f))
    }

    /// Keeps a version that stopped being current (its bytes already moved to its `file`), or a delete marker.
    pub(crate) fn keep(&self, noncurrent: Noncurrent) -> std::io::Result<()> {
        let mut guard = self.log.lock().map_err(|_| poisoned())?;
        let (file, state) = &mut *guard;
        lines::append(file, &Line::Kept { noncurrent: noncurrent.clone() })?;
        state.noncurrent.push(noncurrent);
        Ok(())
    }

    /// Removes a noncurrent version for good (its bytes too); what it was, if there was one.
    pub(crate) fn remove(&self, bucket: &str, key: &str, version: &str) -> std::io::Result<Option<Noncurrent>> {
        let mut guard = self.log.lock().map_err(|_| poisoned())?;
        let (file, state) = &mut *guard;
        let Some(at) =
            state.noncurrent.iter().position(|n| n.bucket == bucket && n.key == key && n.version_id == version)
        else {
            return Ok(None);
        };
        lines::append(file, &Line::Removed { bucket: bucket.into(), key: key.into(), removed: version.into() })?;
        let removed = state.noncurrent.remove(at);
        if let Some(path) = removed.file.as_ref().map(|f| self.history.join(f)) {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(Some(removed))
    }

    /// One noncurrent version.
    pub(crate) fn noncurrent(&self, bucket: &str, key: &str, version: &str) -> Option<Noncurrent> {
        let guard = self.log.lock().ok()?;
        guard.1.noncurrent.iter().find(|n| n.bucket == bucket && n.key == key && n.version_id == version).cloned()
    }

    /// The noncurrent versions of the objects under `prefix`, by key, newest first within a key.
    pub(crate) fn noncurrent_under(&self, bucket: &str, prefix: &str) -> Vec<Noncurrent> {
        let Ok(guard) = self.log.lock() else { return Vec::new() };
        let mut found: Vec<Noncurrent> = guard
            .1
            .noncurrent
            .iter()
            .rev()
            .filter(|n| n.bucket == bucket && n.key.starts_with(prefix))
            .cloned()
            .collect();
        // A stable sort keeps newest first within a key.
        found.sort_by(|a, b| a.key.cmp(&b.key));
        found
    }

    /// The newest noncurrent version of an object.
    pub(crate) fn newest(&self, bucket: &str, key: &str) -> Option<Noncurrent> {
        let guard = self.log.lock().ok()?;
        guard.1.noncurrent.iter().rev().find(|n| n.bucket == bucket && n.key == key).cloned()
    }
}
