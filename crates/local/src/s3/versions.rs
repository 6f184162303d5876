//! Bucket versioning for the S3 stand-in, current versions only: a bucket can be switched to `Enabled`
//! (PutBucketVersioning); every completed upload into it then gets a new version id, returned as
//! `x-amz-version-id`, reported by HEAD/GET and carried in the event notification (`versionId`). Earlier versions
//! are not kept: asking for one answers `NoSuchVersion`. State is a JSON-lines log next to the buckets.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::lines;
use crate::LocalError;

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Status { bucket: String, status: String },
    Version { bucket: String, key: String, version_id: Option<String> },
}

#[derive(Default)]
struct State {
    status: HashMap<String, String>,
    current: HashMap<(String, String), String>,
}

/// Versioning status per bucket and current version per object.
pub(crate) struct Versions {
    log: Mutex<(File, State)>,
}

impl Versions {
    pub(crate) fn open(path: &Path) -> Result<Versions, LocalError> {
        let mut state = State::default();
        // A line torn by a crash belongs to an upload that was never answered: dropped (`lines::open`).
        let (lines, file) = lines::open::<Line>(path)?;
        for line in lines {
            match line {
                Line::Status { bucket, status } => {
                    state.status.insert(bucket, status);
                }
                Line::Version { bucket, key, version_id: Some(v) } => {
                    state.current.insert((bucket, key), v);
                }
                Line::Version { bucket, key, version_id: None } => {
                    state.current.remove(&(bucket, key));
                }
            }
        }
        Ok(Versions { log: Mutex::new((file, state)) })
    }

    /// `Enabled` or `Suspended`; `None` for a bucket that never had versioning.
    pub(crate) fn status(&self, bucket: &str) -> Option<String> {
        self.log.lock().ok()?.1.status.get(bucket).cloned()
    }

    pub(crate) fn set_status(&self, bucket: &str, status: &str) -> std::io::Result<()> {
        let mut guard = self.log.lock().map_err(|_| std::io::Error::other("versions lock poisoned"))?;
        let (file, state) = &mut *guard;
        lines::append(file, &Line::Status { bucket: bucket.into(), status: status.into() })?;
        state.status.insert(bucket.into(), status.into());
        Ok(())
    }

    /// Records a completed upload: a new version id when the bucket's versioning is enabled.
    pub(crate) fn record_upload(&self, bucket: &str, key: &str) -> std::io::Result<Option<String>> {
        let mut guard = self.log.lock().map_err(|_| std::io::Error::other("versions lock poisoned"))?;
        let (file, state) = &mut *guard;
        let enabled = state.status.get(bucket).is_some_and(|s| s == "Enabled");
        let version = enabled.then(|| uuid::Uuid::new_v4().simple().to_string());
        let had = state.current.contains_key(&(bucket.to_string(), key.to_string()));
        if version.is_some() || had {
            lines::append(
                file,
                &Line::Version { bucket: bucket.into(), key: key.into(), version_id: version.clone() },
            )?;
        }
        match &version {
            Some(v) => state.current.insert((bucket.into(), key.into()), v.clone()),
            None => state.current.remove(&(bucket.to_string(), key.to_string())),
        };
        Ok(version)
    }

    /// Forgets a deleted object's version.
    pub(crate) fn record_delete(&self, bucket: &str, key: &str) -> std::io::Result<()> {
        let mut guard = self.log.lock().map_err(|_| std::io::Error::other("versions lock poisoned"))?;
        let (file, state) = &mut *guard;
        if state.current.remove(&(bucket.to_string(), key.to_string())).is_some() {
            lines::append(file, &Line::Version { bucket: bucket.into(), key: key.into(), version_id: None })?;
        }
        Ok(())
    }

    /// The current version id of an object.
    pub(crate) fn current(&self, bucket: &str, key: &str) -> Option<String> {
        self.log.lock().ok()?.1.current.get(&(bucket.to_string(), key.to_string())).cloned()
    }
}
