//! What a versioning-enabled bucket does that an unversioned one does not, for the S3 stand-in ("Working with
//! objects in a versioning-enabled bucket", Amazon S3 User Guide): the version an upload replaces, and the object a
//! delete without a version id removes, stay as noncurrent versions ([`super::versions::Noncurrent`]) that a GET or
//! HEAD with their version id reads; such a delete leaves a delete marker; a delete that names a version removes
//! it for good, and when that was the current one the newest noncurrent version (unless it is a marker) becomes
//! current again; `ListObjectVersions` lists them all, newest first within a key.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, S3};

use super::store::{state_error, MapInputRef, NotifyingStore};
use super::versions::Noncurrent;

/// One entry of a version listing: a version of an object, or a delete marker.
enum Listed {
    Version(ObjectVersion),
    Marker(DeleteMarkerEntry),
}

impl Listed {
    fn key(&self) -> &str {
        match self {
            Listed::Version(v) => v.key.as_deref().unwrap_or(""),
            Listed::Marker(m) => m.key.as_deref().unwrap_or(""),
        }
    }

    fn version(&self) -> &str {
        match self {
            Listed::Version(v) => v.version_id.as_deref().unwrap_or("null"),
            Listed::Marker(m) => m.version_id.as_deref().unwrap_or("null"),
        }
    }
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp::from(std::time::SystemTime::from(t))
}

fn to_chrono(t: &Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut text = Vec::new();
    t.format(TimestampFormat::DateTime, &mut text).ok()?;
    chrono::DateTime::parse_from_rfc3339(std::str::from_utf8(&text).ok()?).ok().map(|t| t.to_utc())
}

impl NotifyingStore {
    /// In a versioning-enabled bucket, keeps the object at `key` as it is now as a noncurrent version (a second name
    /// for its bytes, what a HEAD says of it), before a write or a delete replaces it; the version kept, to be
    /// forgotten again if the write is refused.
    pub(super) async fn keep_current(
        &self,
        template: &S3Request<()>,
        bucket: &str,
        key: &str,
    ) -> S3Result<Option<Noncurrent>> {
        if !self.versions.enabled(bucket) || key.ends_with('/') {
            return Ok(None);
        }
        let mut head = template.map_input_ref().map_input(|()| HeadObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            ..Default::default()
        });
        head.method = http::Method::HEAD;
        let Ok(head) = self.inner.head_object(head).await.map(|r| r.output) else { return Ok(None) };
        let (name, path) = self.versions.history_file();
        match std::fs::hard_link(self.root.join(bucket).join(key), &path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(state_error(e)),
        }
        let kept = Noncurrent {
            bucket: bucket.into(),
            key: key.into(),
            version_id: self.versions.current(bucket, key).unwrap_or_else(|| "null".into()),
            marker: false,
            file: Some(name),
            etag: head.e_tag.map(|e| e.value().to_string()),
            size: head.content_length.unwrap_or_default(),
            last_modified: head.last_modified.as_ref().and_then(to_chrono).unwrap_or_else(chrono::Utc::now),
            content_type: head.content_type,
            metadata: head.metadata.map(|m| m.into_iter().collect()),
        };
        self.versions.keep(kept.clone()).map_err(state_error)?;
        Ok(Some(kept))
    }

    /// A write that replaces the object at `key`: the version it replaces kept first
    /// ([`NotifyingStore::keep_current`]), and forgotten again if the write is refused.
    pub(super) async fn replacing<T>(
        &self,
        template: &S3Request<()>,
        bucket: &str,
        key: &str,
        write: impl std::future::Future<Output = S3Result<T>>,
    ) -> S3Result<T> {
        let earlier = self.keep_current(template, bucket, key).await?;
        let written = write.await;
        if let (Err(_), Some(k)) = (&written, earlier) {
            self.versions.remove(&k.bucket, &k.key, &k.version_id).map_err(state_error)?;
        }
        written
    }

    /// A delete marker over `key`, now its current version: its version id.
    pub(super) fn add_marker(&self, bucket: &str, key: &str) -> S3Result<String> {
        let version_id = uuid::Uuid::new_v4().simple().to_string();
        let marker = Noncurrent {
            bucket: bucket.into(),
            key: key.into(),
            version_id: version_id.clone(),
            marker: true,
            file: None,
            etag: None,
            size: 0,
            last_modified: chrono::Utc::now(),
            content_type: None,
            metadata: None,
        };
        self.versions.keep(marker).map_err(state_error)?;
        Ok(version_id)
    }

    /// After the current version of `key` went (or the marker in front of them did): the newest noncurrent version,
    /// unless it is a delete marker, becomes the current object again, its bytes and metadata written back.
    pub(super) async fn promote(&self, template: &S3Request<()>, bucket: &str, key: &str) -> S3Result<()> {
        let Some(newest) = self.versions.newest(bucket, key).filter(|n| !n.marker) else { return Ok(()) };
        let Some(path) = self.versions.bytes_of(&newest) else { return Ok(()) };
        let bytes = tokio::fs::read(&path).await.map_err(state_error)?;
        let mut put = template.map_input_ref().map_input(|()| PutObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            content_length: Some(bytes.len() as i64),
            content_type: newest.content_type.clone(),
            metadata: newest.metadata.clone().map(|m| m.into_iter().collect()),
            body: Some(StreamingBlob::from(s3s::Body::from(bytes::Bytes::from(bytes)))),
            ..Default::default()
        });
        put.method = http::Method::PUT;
        self.inner.put_object(put).await?;
        self.versions.set_current(bucket, key, Some(newest.version_id.clone())).map_err(state_error)?;
        self.versions.remove(bucket, key, &newest.version_id).map_err(state_error)?;
        Ok(())
    }

    /// A GET or HEAD of a noncurrent version: what it was when it was current (a delete marker answers 405, as S3
    /// does). `None` when `version` is not a noncurrent version of `key`.
    pub(super) async fn read_noncurrent(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        with_body: bool,
    ) -> S3Result<Option<GetObjectOutput>> {
        let Some(kept) = self.versions.noncurrent(bucket, key, version) else { return Ok(None) };
        if kept.marker {
            return Err(s3s::s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against a delete marker."
            ));
        }
        let body = match (with_body, self.versions.bytes_of(&kept)) {
            (true, Some(path)) => {
                let bytes = tokio::fs::read(&path).await.map_err(state_error)?;
                Some(StreamingBlob::from(s3s::Body::from(bytes::Bytes::from(bytes))))
            }
            _ => None,
        };
        Ok(Some(GetObjectOutput {
            body,
            content_length: Some(kept.size),
            content_type: kept.content_type,
            e_tag: kept.etag.map(ETag::Strong),
            last_modified: Some(timestamp(kept.last_modified)),
            metadata: kept.metadata.map(|m| m.into_iter().collect()),
            version_id: Some(kept.version_id),
            ..Default::default()
        }))
    }

    /// Every version under the listing's prefix — the current objects, then each key's noncurrent versions and
    /// markers newest first — from its key and version-id markers on, at most `max_keys` (default 1,000).
    pub(super) async fn list_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let template = req.map_input_ref();
        let input = req.input;
        if input.delimiter.is_some() {
            return Err(s3s::s3_error!(NotImplemented, "ListObjectVersions with a delimiter"));
        }
        let bucket = input.bucket.clone();
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut current = Vec::new();
        let mut after = None;
        loop {
            let listing = ListObjectsV2Input {
                bucket: bucket.clone(),
                prefix: Some(prefix.clone()),
                continuation_token: after.clone(),
                ..Default::default()
            };
            let page = self.list_under_prefix(listing).await?;
            current.extend(page.contents.into_iter().flatten());
            match page.next_continuation_token {
                Some(token) => after = Some(token),
                None => break,
            }
        }
        let mut entries: Vec<Listed> = Vec::new();
        let noncurrent = self.versions.noncurrent_under(&bucket, &prefix);
        let mut keys: Vec<String> = current.iter().filter_map(|o| o.key.clone()).collect();
        keys.extend(noncurrent.iter().map(|n| n.key.clone()));
        keys.sort();
        keys.dedup();
        for key in keys {
            let object = current.iter().find(|o| o.key.as_deref() == Some(key.as_str()));
            if let Some(object) = object {
                let e_tag = match &object.e_tag {
                    Some(e) => Some(e.clone()),
                    None => self.etag_of(&template, &bucket, &key).await,
                };
                entries.push(Listed::Version(ObjectVersion {
                    version_id: Some(self.versions.current(&bucket, &key).unwrap_or_else(|| "null".into())),
                    is_latest: Some(true),
                    key: Some(key.clone()),
                    e_tag,
                    last_modified: object.last_modified.clone(),
                    size: object.size,
                    storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
                    ..Default::default()
                }));
            }
            for (i, n) in noncurrent.iter().filter(|n| n.key == key).enumerate() {
                let is_latest = Some(object.is_none() && i == 0);
                entries.push(match n.marker {
                    true => Listed::Marker(DeleteMarkerEntry {
                        is_latest,
                        key: Some(key.clone()),
                        last_modified: Some(timestamp(n.last_modified)),
                        version_id: Some(n.version_id.clone()),
                        ..Default::default()
                    }),
                    false => Listed::Version(ObjectVersion {
                        is_latest,
                        key: Some(key.clone()),
                        e_tag: n.etag.clone().map(ETag::Strong),
                        last_modified: Some(timestamp(n.last_modified)),
                        size: Some(n.size),
                        version_id: Some(n.version_id.clone()),
                        storage_class: Some(ObjectVersionStorageClass::from_static(
                            ObjectVersionStorageClass::STANDARD,
                        )),
                        ..Default::default()
                    }),
                });
            }
        }
        // From the markers on: past the key marker, and within it past the version-id marker.
        if let Some(key_marker) = &input.key_marker {
            let from = match &input.version_id_marker {
                Some(v) => entries.iter().position(|e| e.key() == key_marker && e.version() == v).map(|i| i + 1),
                None => None,
            };
            let from = from
                .unwrap_or_else(|| entries.iter().position(|e| e.key() > key_marker.as_str()).unwrap_or(entries.len()));
            entries.drain(..from);
        }
        let max_keys = input.max_keys.unwrap_or(1000);
        let limit = usize::try_from(max_keys).unwrap_or(1000);
        let truncated = entries.len() > limit;
        entries.truncate(limit);
        let (next_key, next_version) = match (truncated, entries.last()) {
            (true, Some(last)) => (Some(last.key().to_string()), Some(last.version().to_string())),
            _ => (None, None),
        };
        let (mut versions, mut markers) = (Vec::new(), Vec::new());
        for entry in entries {
            match entry {
                Listed::Version(v) => versions.push(v),
                Listed::Marker(m) => markers.push(m),
            }
        }
        Ok(S3Response::new(ListObjectVersionsOutput {
            is_truncated: Some(truncated),
            next_key_marker: next_key,
            next_version_id_marker: next_version,
            versions: (!versions.is_empty()).then_some(versions),
            delete_markers: (!markers.is_empty()).then_some(markers),
            key_marker: input.key_marker,
            version_id_marker: input.version_id_marker,
            max_keys: Some(max_keys),
            name: Some(input.bucket),
            prefix: input.prefix,
            ..Default::default()
        }))
    }
}
