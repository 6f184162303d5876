//! The S3 implementation of the stand-in: `s3s-fs` stores the objects; every completed upload (PutObject,
//! CompleteMultipartUpload, CopyObject) is recorded in the [`EventJournal`] before the response is sent, with
//! its version id when the bucket's versioning is enabled ([`super::versions`]).

use std::path::PathBuf;
use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, S3};

use redscribe_core::events::encode_key;

use super::journal::{EventJournal, ObjectCreated};
use super::tags::{self, TagList, Tags};
use super::versions::Versions;

/// The ETag of an object with no bytes (the MD5 of nothing).
const EMPTY_ETAG: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// Turns shared by all keys ([`NotifyingStore::turn`]).
const TURNS: usize = 256;

/// `s3s-fs` plus versioning and event notifications.
pub struct NotifyingStore {
    pub(super) inner: s3s_fs::FileSystem,
    /// Completed uploads of one key take their turn ([`NotifyingStore::turn`]).
    turns: Vec<tokio::sync::Mutex<()>>,
    /// The folder `inner` keeps its buckets in.
    pub(super) root: PathBuf,
    /// The stand-in's own state, outside `root` ([`super::server::state_dir`]).
    state: PathBuf,
    journal: Arc<EventJournal>,
    pub(super) versions: Versions,
    tags: Tags,
    /// The tags a multipart upload was created with, set when it completes.
    pending_tags: std::sync::Mutex<std::collections::HashMap<String, TagList>>,
}

pub(super) fn state_error(e: std::io::Error) -> s3s::S3Error {
    tracing::error!(error = %e, "cannot record object state");
    s3s::s3_error!(InternalError, "cannot record object state")
}

impl NotifyingStore {
    pub(crate) fn new(
        inner: s3s_fs::FileSystem,
        root: PathBuf,
        state: PathBuf,
        journal: Arc<EventJournal>,
        versions: Versions,
        tags: Tags,
    ) -> NotifyingStore {
        NotifyingStore {
            inner,
            root,
            state,
            journal,
            versions,
            tags,
            pending_tags: Default::default(),
            turns: (0..TURNS).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// The turn of a key: an upload holds it from writing the object to journaling its event, so of many
    /// concurrent uploads of one key the last to land is the one whose event has the largest sequencer (and
    /// carries the ETag and version a HEAD then answers), as S3 orders them. Keys share a bounded set of turns by
    /// hash, so memory stays flat however many keys there are.
    async fn turn(&self, bucket: &str, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (bucket, key).hash(&mut h);
        self.turns[(h.finish() % TURNS as u64) as usize].lock().await
    }

    /// Makes a completed upload's bytes durable before its event is journaled: the object file, the folder its
    /// name was renamed into, and the root, where `s3s-fs` keeps the object's metadata. Without this a crash
    /// after the response could leave an event (and a row to come) for an object whose bytes never reached the
    /// disk.
    async fn sync_object(&self, bucket: &str, key: &str) -> S3Result<()> {
        let path = self.root.join(bucket).join(key);
        if !path.starts_with(&self.root) {
            return Err(s3s::s3_error!(InvalidArgument, "the key leaves the bucket"));
        }
        let root = self.root.clone();
        let synced = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&path)?.sync_all()?;
            let mut dir = path.parent();
            // Every folder from the object's up to the root: new folders are entries of their parents.
            while let Some(d) = dir.filter(|d| d.starts_with(&root)) {
                std::fs::File::open(d)?.sync_all()?;
                dir = d.parent();
            }
            Ok(())
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()));
        synced.and_then(|r| r).map_err(state_error)
    }

    /// The object file of `bucket`/`key` as it is now, kept by a second name (a hard link: no copy) until the
    /// write that replaces it is known to have been accepted.
    fn keep_aside(&self, bucket: &str, key: &str) -> std::io::Result<Kept> {
        let path = self.root.join(bucket).join(key);
        let aside = self.state.join(format!("aside-{}", uuid::Uuid::new_v4()));
        let kept = match std::fs::hard_link(&path, &aside) {
            Ok(()) => Some(aside),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            // A folder marker is a folder: nothing to keep.
            Err(_) if path.is_dir() => None,
            Err(e) => return Err(e),
        };
        Ok(Kept { path, kept })
    }

    /// The ETag of an object, as a HEAD answers it (a folder marker's is the MD5 of nothing).
    pub(super) async fn etag_of(&self, template: &S3Request<()>, bucket: &str, key: &str) -> Option<ETag> {
        if key.ends_with('/') {
            return Some(ETag::Strong(EMPTY_ETAG.into()));
        }
        let mut head = template.map_input_ref().map_input(|()| HeadObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            ..Default::default()
        });
        head.method = http::Method::HEAD;
        self.inner.head_object(head).await.ok()?.output.e_tag
    }

    /// ListObjectsV2 without a delimiter, walking only the folder the prefix lies in (keys are paths here). Amazon
    /// S3 lists a prefix from its index whatever else the bucket holds; `s3s-fs` walks the whole bucket and
    /// filters, so the loader's listing of each recording's key cost a backfill the square of its size (a listing
    /// took 1.75 ms in a bucket of 100 objects, 3.82 ms in one of 1,100). The output is `s3s-fs`'s: keys in order,
    /// those after the continuation token or start-after, at most `max_keys` (default 1,000), the last key given
    /// as the next token when more remain.
    pub(super) async fn list_under_prefix(&self, input: ListObjectsV2Input) -> S3Result<ListObjectsV2Output> {
        let bucket_root = self.root.join(&input.bucket);
        if !bucket_root.starts_with(&self.root) || !bucket_root.is_dir() {
            return Err(s3s::s3_error!(NoSuchBucket));
        }
        let prefix = input.prefix.as_deref().unwrap_or("").trim_start_matches('/').to_string();
        let folder = bucket_root.join(prefix.rfind('/').map_or("", |end| &prefix[..end]));
        if !folder.starts_with(&bucket_root) {
            return Err(s3s::s3_error!(InvalidArgument, "the prefix leaves the bucket"));
        }
        let wanted = prefix.clone();
        let mut objects = tokio::task::spawn_blocking(move || files_under(&bucket_root, &folder, &wanted))
            .await
            .map_err(|e| s3s::s3_error!(InternalError, "listing: {e}"))?
            .map_err(state_error)?;
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        let after = match (input.continuation_token.as_deref(), input.start_after.as_deref()) {
            (Some(token), Some(start)) => Some(token.max(start)),
            (token, start) => token.or(start),
        };
        if let Some(after) = after {
            objects.retain(|o| o.key.as_deref().unwrap_or("") > after);
        }
        let max_keys = input.max_keys.unwrap_or(1000);
        let limit = usize::try_from(max_keys).unwrap_or(1000);
        let is_truncated = limit > 0 && objects.len() > limit;
        objects.truncate(limit);
        let next_continuation_token = if is_truncated { objects.last().and_then(|o| o.key.clone()) } else { None };
        Ok(ListObjectsV2Output {
            key_count: Some(objects.len() as i32),
            max_keys: Some(max_keys),
            is_truncated: Some(is_truncated),
            contents: (!objects.is_empty()).then_some(objects),
            continuation_token: input.continuation_token,
            next_continuation_token,
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        })
    }

    /// Refuses a request for a version other than the current one (a noncurrent version is read before this:
    /// `versioned`).
    fn check_version(&self, bucket: &str, key: &str, wanted: &mut Option<String>) -> S3Result<Option<String>> {
        let current = self.versions.current(bucket, key);
        if let Some(v) = wanted.take() {
            if current.as_deref() != Some(v.as_str()) && !(v == "null" && current.is_none()) {
                return Err(s3s::s3_error!(NoSuchVersion, "The specified version does not exist."));
            }
        }
        Ok(current)
    }

    /// The object a tagging request names exists (and is the version asked for): its current version id.
    async fn tagged_object<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        wanted: &mut Option<String>,
    ) -> S3Result<Option<String>> {
        check_key(key)?;
        let version = self.check_version(bucket, key, wanted)?;
        if self.etag_of(&req.map_input_ref(), bucket, key).await.is_none() {
            return Err(s3s::s3_error!(NoSuchKey, "The specified key does not exist."));
        }
        Ok(version)
    }

    /// Reads back what was stored and records its event. Failing to record fails the request: the client retries
    /// the upload rather than the event being lost.
    async fn announce(
        &self,
        envelope: S3Request<()>,
        event_name: &'static str,
        bucket: String,
        key: String,
    ) -> S3Result<Option<String>> {
        // A folder marker (`in/folder/`, no body) is kept by `s3s-fs` as a folder, which it cannot HEAD: it is
        // empty, and its ETag is the MD5 of nothing, as S3 gives it.
        let (size, etag) = if key.ends_with('/') {
            (0, EMPTY_ETAG.to_string())
        } else {
            let mut head = envelope.map_input(|()| HeadObjectInput {
                bucket: bucket.clone(),
                key: key.clone(),
                ..Default::default()
            });
            head.method = http::Method::HEAD;
            let out = self.inner.head_object(head).await?.output;
            (
                out.content_length.unwrap_or_default(),
                out.e_tag.as_ref().map(|e| e.value().to_owned()).unwrap_or_default(),
            )
        };
        self.sync_object(&bucket, &key).await?;
        let version_id = self.versions.record_upload(&bucket, &key).map_err(state_error)?;
        let created = ObjectCreated {
            event_name,
            bucket,
            key,
            size,
            etag,
            version_id: version_id.clone(),
            time: chrono::Utc::now(),
        };
        self.journal.record(&created).map_err(|e| {
            tracing::error!(error = %e, "cannot record the upload's event");
            s3s::s3_error!(InternalError, "cannot record the event notification")
        })?;
        Ok(version_id)
    }

    /// One object deleted, as S3 does it: without a version id, the object goes — in a versioning-enabled bucket
    /// it stays as a noncurrent version behind a new delete marker; with one, that version goes for good (the
    /// newest noncurrent version becoming current again when it was the current one, or the marker in front of it).
    /// A version that is not there removes nothing.
    pub(super) async fn delete_one(
        &self,
        template: &S3Request<()>,
        bucket: &str,
        key: &str,
        version: Option<String>,
    ) -> S3Result<DeleteObjectOutput> {
        let existed = self.etag_of(template, bucket, key).await.is_some();
        let _turn = self.turn(bucket, key).await;
        let current = self.versions.current(bucket, key);
        let is_current = |v: &str| existed && current.as_deref().unwrap_or("null") == v;
        match version {
            Some(v) if !is_current(&v) => {
                let Some(removed) = self.versions.remove(bucket, key, &v).map_err(state_error)? else {
                    return Ok(DeleteObjectOutput::default());
                };
                if removed.marker && !existed {
                    // The marker in front: what it hid is current again.
                    self.promote(template, bucket, key).await?;
                } else if !removed.marker {
                    self.announce_removal(bucket, key, "ObjectRemoved:Delete", Some(v.clone()))?;
                }
                return Ok(DeleteObjectOutput {
                    delete_marker: removed.marker.then_some(true),
                    version_id: Some(v),
                    ..Default::default()
                });
            }
            _ => {}
        }
        if !existed {
            return Ok(DeleteObjectOutput::default());
        }
        let marker = version.is_none() && self.versions.enabled(bucket);
        if marker {
            self.keep_current(template, bucket, key).await?;
        }
        let delete = template.map_input_ref().map_input(|()| DeleteObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            ..Default::default()
        });
        self.inner.delete_object(delete).await?;
        self.versions.record_delete(bucket, key).map_err(state_error)?;
        self.tags.set(bucket, key, Vec::new()).map_err(state_error)?;
        if marker {
            let id = self.add_marker(bucket, key)?;
            self.announce_removal(bucket, key, "ObjectRemoved:DeleteMarkerCreated", Some(id.clone()))?;
            return Ok(DeleteObjectOutput { delete_marker: Some(true), version_id: Some(id), ..Default::default() });
        }
        self.announce_removal(bucket, key, "ObjectRemoved:Delete", version.clone())?;
        if version.is_some() {
            self.promote(template, bucket, key).await?;
        }
        Ok(DeleteObjectOutput { version_id: version, ..Default::default() })
    }

    /// Records the event of an object deleted (S3's event types, "Amazon S3 Event Notifications"):
    /// `ObjectRemoved:Delete` when it is gone for good (`version_id`: the version a request named), or
    /// `ObjectRemoved:DeleteMarkerCreated` with the marker's version id when a versioned bucket keeps it behind
    /// one. S3's removal events carry no size and no ETag.
    fn announce_removal(
        &self,
        bucket: &str,
        key: &str,
        event_name: &'static str,
        version_id: Option<String>,
    ) -> S3Result<()> {
        let version_id = version_id.filter(|v| v != "null");
        let removed = ObjectCreated {
            event_name,
            bucket: bucket.into(),
            key: key.into(),
            size: 0,
            etag: String::new(),
            version_id,
            time: chrono::Utc::now(),
        };
        self.journal.record(&removed).map_err(|e| {
            tracing::error!(error = %e, "cannot record the deletion's event");
            s3s::s3_error!(InternalError, "cannot record the event notification")
        })?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl S3 for NotifyingStore {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.inner.create_bucket(req).await
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.inner.delete_bucket(req).await
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.inner.head_bucket(req).await
    }

    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        self.inner.list_buckets(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.inner.get_bucket_location(req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let bucket = req.input.bucket.clone();
        let status = req.input.versioning_configuration.status.clone();
        self.inner
            .head_bucket(req.map_input(|_| HeadBucketInput { bucket: bucket.clone(), ..Default::default() }))
            .await?;
        match status.as_ref().map(|s| s.as_str()) {
            Some(s @ (BucketVersioningStatus::ENABLED | BucketVersioningStatus::SUSPENDED)) => {
                self.versions.set_status(&bucket, s).map_err(state_error)?;
            }
            _ => return Err(s3s::s3_error!(MalformedXML, "Status must be Enabled or Suspended")),
        }
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let bucket = req.input.bucket.clone();
        self.inner
            .head_bucket(req.map_input(|_| HeadBucketInput { bucket: bucket.clone(), ..Default::default() }))
            .await?;
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: self.versions.status(&bucket).map(BucketVersioningStatus::from),
            ..Default::default()
        }))
    }

    async fn get_object(&self, mut req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        check_key(&req.input.key)?;
        if let Some(v) = &req.input.version_id {
            if let Some(out) = self.read_noncurrent(&req.input.bucket, &req.input.key, v, true).await? {
                return Ok(S3Response::new(out));
            }
        }
        let version = self.check_version(&req.input.bucket, &req.input.key, &mut req.input.version_id)?;
        let mut resp = self.inner.get_object(req).await?;
        resp.output.version_id = version;
        Ok(resp)
    }

    async fn head_object(&self, mut req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        check_key(&req.input.key)?;
        if let Some(v) = &req.input.version_id {
            if let Some(out) = self.read_noncurrent(&req.input.bucket, &req.input.key, v, false).await? {
                return Ok(S3Response::new(HeadObjectOutput {
                    content_length: out.content_length,
                    content_type: out.content_type,
                    e_tag: out.e_tag,
                    last_modified: out.last_modified,
                    metadata: out.metadata,
                    version_id: out.version_id,
                    ..Default::default()
                }));
            }
        }
        let version = self.check_version(&req.input.bucket, &req.input.key, &mut req.input.version_id)?;
        let mut resp = self.inner.head_object(req).await?;
        resp.output.version_id = version;
        Ok(resp)
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let mut resp = self.inner.list_objects(req).await?;
        let o = &mut resp.output;
        if wants_url_encoding(&o.encoding_type) {
            encode_listing(&mut o.contents, &mut o.common_prefixes);
            for field in [&mut o.prefix, &mut o.delimiter, &mut o.marker, &mut o.next_marker] {
                encode_field(field);
            }
        }
        Ok(resp)
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let template = req.map_input_ref();
        let bucket = req.input.bucket.clone();
        let mut resp = match req.input.delimiter {
            None => S3Response::new(self.list_under_prefix(req.input).await?),
            Some(_) => self.inner.list_objects_v2(req).await?,
        };
        // S3 gives every listed object its ETag; `s3s-fs` leaves it out.
        for object in resp.output.contents.iter_mut().flatten() {
            if let (None, Some(key)) = (&object.e_tag, &object.key) {
                object.e_tag = self.etag_of(&template, &bucket, key).await;
            }
        }
        let o = &mut resp.output;
        if wants_url_encoding(&o.encoding_type) {
            encode_listing(&mut o.contents, &mut o.common_prefixes);
            for field in [&mut o.prefix, &mut o.delimiter, &mut o.start_after] {
                encode_field(field);
            }
        }
        Ok(resp)
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        check_key(&req.input.key)?;
        let template = req.map_input_ref();
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        Ok(S3Response::new(self.delete_one(&template, &bucket, &key, req.input.version_id.clone()).await?))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        self.list_versions(req).await
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        for object in &req.input.delete.objects {
            check_key(&object.key)?;
        }
        let template = req.map_input_ref();
        let bucket = req.input.bucket.clone();
        let mut deleted = Vec::new();
        for object in req.input.delete.objects {
            let out = self.delete_one(&template, &bucket, &object.key, object.version_id.clone()).await?;
            deleted.push(DeletedObject {
                key: Some(object.key),
                version_id: object.version_id,
                delete_marker: out.delete_marker,
                delete_marker_version_id: out.delete_marker.filter(|m| *m).and(out.version_id),
            });
        }
        let quiet = req.input.delete.quiet == Some(true);
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!quiet && !deleted.is_empty()).then_some(deleted),
            ..Default::default()
        }))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        check_key(&req.input.key)?;
        check_metadata(&req.input.metadata)?;
        let tags = header_tags(&req.input.tagging)?;
        let template = req.map_input_ref();
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let _turn = self.turn(&bucket, &key).await;
        // `s3s-fs` moves the new bytes into place before it checks them against Content-MD5 or a checksum: the
        // object's current bytes are kept aside, and put back if the upload is refused, as S3 leaves them.
        let kept = self.keep_aside(&bucket, &key).map_err(state_error)?;
        let mut resp = match self.replacing(&template, &bucket, &key, self.inner.put_object(req)).await {
            Ok(resp) => {
                kept.drop_quietly();
                resp
            }
            Err(e) => {
                kept.restore().map_err(state_error)?;
                return Err(e);
            }
        };
        // A new object has the upload's tags, or none.
        self.tags.set(&bucket, &key, tags).map_err(state_error)?;
        resp.output.version_id = self.announce(template, "ObjectCreated:Put", bucket, key).await?;
        Ok(resp)
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        check_key(&req.input.key)?;
        if let CopySource::Bucket { key, .. } = &req.input.copy_source {
            check_key(key)?;
        }
        check_metadata(&req.input.metadata)?;
        // The copy keeps the source's tags unless the request replaces them (`x-amz-tagging-directive`).
        let replace = req.input.tagging_directive.as_ref().is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
        let tags = match (&req.input.copy_source, replace) {
            (_, true) => header_tags(&req.input.tagging)?,
            (CopySource::Bucket { bucket, key, .. }, false) => self.tags.get(bucket, key),
            (_, false) => Vec::new(),
        };
        let template = req.map_input_ref();
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let _turn = self.turn(&bucket, &key).await;
        let mut resp = self.replacing(&template, &bucket, &key, self.inner.copy_object(req)).await?;
        self.tags.set(&bucket, &key, tags).map_err(state_error)?;
        resp.output.version_id = self.announce(template, "ObjectCreated:Copy", bucket, key).await?;
        Ok(resp)
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        check_key(&req.input.key)?;
        check_metadata(&req.input.metadata)?;
        let tags = header_tags(&req.input.tagging)?;
        let resp = self.inner.create_multipart_upload(req).await?;
        if let (Some(id), false) = (&resp.output.upload_id, tags.is_empty()) {
            self.pending_tags.lock().map_err(|_| state_error(std::io::Error::other("lock")))?.insert(id.clone(), tags);
        }
        Ok(resp)
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        check_key(&req.input.key)?;
        self.inner.upload_part(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        check_key(&req.input.key)?;
        if let CopySource::Bucket { key, .. } = &req.input.copy_source {
            check_key(key)?;
        }
        self.inner.upload_part_copy(req).await
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        check_key(&req.input.key)?;
        self.inner.list_parts(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        check_key(&req.input.key)?;
        let template = req.map_input_ref();
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let upload_id = req.input.upload_id.clone();
        let _turn = self.turn(&bucket, &key).await;
        let mut resp = self.replacing(&template, &bucket, &key, self.inner.complete_multipart_upload(req)).await?;
        let tags = self.pending_tags.lock().ok().and_then(|mut p| p.remove(&upload_id)).unwrap_or_default();
        self.tags.set(&bucket, &key, tags).map_err(state_error)?;
        resp.output.version_id = self.announce(template, "ObjectCreated:CompleteMultipartUpload", bucket, key).await?;
        Ok(resp)
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let version_id = self.tagged_object(&req, &bucket, &key, &mut req.input.version_id.clone()).await?;
        let tag_set = self
            .tags
            .get(&bucket, &key)
            .into_iter()
            .map(|(key, value)| Tag { key: Some(key), value: Some(value) })
            .collect();
        Ok(S3Response::new(GetObjectTaggingOutput { tag_set, version_id }))
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let version_id = self.tagged_object(&req, &bucket, &key, &mut req.input.version_id.clone()).await?;
        let tags: TagList = req
            .input
            .tagging
            .tag_set
            .iter()
            .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()))
            .collect();
        tags::check(&tags).map_err(|m| s3s::s3_error!(InvalidTag, "{m}"))?;
        self.tags.set(&bucket, &key, tags).map_err(state_error)?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let version_id = self.tagged_object(&req, &bucket, &key, &mut req.input.version_id.clone()).await?;
        self.tags.set(&bucket, &key, Vec::new()).map_err(state_error)?;
        Ok(S3Response::new(DeleteObjectTaggingOutput { version_id }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        check_key(&req.input.key)?;
        self.inner.abort_multipart_upload(req).await
    }
}

/// An object file's bytes from before a write ([`NotifyingStore::keep_aside`]).
struct Kept {
    path: PathBuf,
    /// Its second name; `None`: there was no object.
    kept: Option<PathBuf>,
}

impl Kept {
    /// The write was refused: the object is what it was (or, if there was none, there is none).
    fn restore(self) -> std::io::Result<()> {
        match &self.kept {
            Some(aside) => std::fs::rename(aside, &self.path),
            None => match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound && !self.path.is_dir() => Err(e),
                _ => Ok(()),
            },
        }
    }

    /// The write was accepted: the old bytes go.
    fn drop_quietly(self) {
        if let Some(aside) = &self.kept {
            let _ = std::fs::remove_file(aside);
        }
    }
}

/// The objects (files) under `folder` whose keys (their paths under `bucket_root`, joined by '/') start with
/// `prefix`: key, last modified and size, as `s3s-fs` lists them. A folder that does not exist holds none; only
/// the matching files are stat'ed.
fn files_under(bucket_root: &std::path::Path, folder: &std::path::Path, prefix: &str) -> std::io::Result<Vec<Object>> {
    let mut found = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(dir) = folders.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let Ok(relative) = path.strip_prefix(bucket_root) else { continue };
            let Some(parts) = relative.iter().map(|p| p.to_str()).collect::<Option<Vec<_>>>() else { continue };
            let key = parts.join("/");
            if entry.file_type()?.is_dir() {
                // Only into folders that can hold a key with the prefix (no stat of anything else).
                let inside = format!("{key}/");
                if inside.starts_with(prefix) || prefix.starts_with(&inside) {
                    folders.push(path);
                }
                continue;
            }
            if !key.starts_with(prefix) {
                continue;
            }
            let metadata = entry.metadata()?;
            found.push(Object {
                key: Some(key),
                last_modified: Some(Timestamp::from(metadata.modified()?)),
                size: Some(metadata.len() as i64),
                ..Default::default()
            });
        }
    }
    Ok(found)
}

/// Refuses a key that would leave its bucket's folder, before anything touches the disk: S3's keys are opaque
/// strings, but this stand-in keeps each object as a file named by its key, so `.` and `..` segments, a leading
/// `/`, an empty segment (`//`) and NUL are refused with 400 `InvalidArgument`. A trailing `/` (a folder marker,
/// as the console creates) is a key like any other.
fn check_key(key: &str) -> S3Result<()> {
    let body = key.strip_suffix('/').unwrap_or(key);
    let bad = key.contains('\0')
        || key.starts_with('/')
        || body.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if bad && !key.is_empty() {
        return Err(s3s::s3_error!(
            InvalidArgument,
            "This endpoint keeps objects as files: a key may not hold '.' or '..' segments, a leading '/', '//' or NUL"
        ));
    }
    Ok(())
}

/// The tags an upload's `x-amz-tagging` header sets, refused as S3 refuses them (`InvalidTag`, 400).
fn header_tags(header: &Option<String>) -> S3Result<TagList> {
    let tags = match header {
        None => return Ok(Vec::new()),
        Some(h) => tags::parse_header(h).map_err(|m| s3s::s3_error!(InvalidArgument, "{m}"))?,
    };
    tags::check(&tags).map_err(|m| s3s::s3_error!(InvalidTag, "{m}"))?;
    Ok(tags)
}

/// Refuses user-defined metadata over S3's 2 KB, as S3 does: "Within the PUT request header, the user-defined
/// metadata is limited to 2 KB in size", counted as the UTF-8 bytes of each key and value (Amazon S3 User Guide,
/// "Working with object metadata"); error `MetadataTooLarge`, 400.
fn check_metadata(metadata: &Option<Metadata>) -> S3Result<()> {
    let size: usize = metadata.iter().flatten().map(|(k, v)| k.len() + v.len()).sum();
    if size > redscribe_core::ports::METADATA_MAX_BYTES {
        return Err(s3s::s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size ({size} bytes; the limit is 2048)."
        ));
    }
    Ok(())
}

/// `EncodingType=url` (what the `aws` CLI always asks for): S3 then URL-encodes keys and prefixes in the
/// listing, and clients decode them. `s3s-fs` echoes the parameter without encoding, which turns a `+` in a key
/// into a space on the client; the encoding is applied here.
fn wants_url_encoding(encoding: &Option<EncodingType>) -> bool {
    encoding.as_ref().is_some_and(|e| e.as_str() == EncodingType::URL)
}

fn encode_field(field: &mut Option<String>) {
    if let Some(v) = field.as_mut() {
        *v = encode_key(v);
    }
}

fn encode_listing(contents: &mut Option<ObjectList>, prefixes: &mut Option<CommonPrefixList>) {
    for object in contents.iter_mut().flatten() {
        encode_field(&mut object.key);
    }
    for prefix in prefixes.iter_mut().flatten() {
        encode_field(&mut prefix.prefix);
    }
}

/// A request's envelope without its input, to build follow-up requests after the input has been consumed.
pub(super) trait MapInputRef {
    fn map_input_ref(&self) -> S3Request<()>;
}

impl<T> MapInputRef for S3Request<T> {
    fn map_input_ref(&self) -> S3Request<()> {
        S3Request {
            input: (),
            method: self.method.clone(),
            uri: self.uri.clone(),
            headers: Default::default(),
            extensions: Default::default(),
            credentials: self.credentials.clone(),
            region: self.region.clone(),
            service: self.service.clone(),
            trailing_headers: None,
        }
    }
}
