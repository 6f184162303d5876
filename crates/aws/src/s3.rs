//! The object store port on S3 (`aws-sdk-s3`), with retries on throttling and 5xx.

use std::path::Path;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use redscribe_core::ports::{ByteSink, ListedObject, Metadata, ObjectHead, ObjectStore, PortError, StoredObject};
use redscribe_core::ErrorCode;

use crate::retry::{given_up, RetryPolicy};
use crate::AwsError;

/// The longest a GetObject body may send nothing before the read is given up (and retried).
const BODY_STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// S3 objects.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    retry: RetryPolicy,
}

impl S3Objects {
    /// A client from an SDK configuration; `path_style` for endpoints without virtual-host buckets (the local
    /// stand-in). The SDK's own retries are off: [`RetryPolicy`] and
    /// [`ErrorCode::disposition`](redscribe_core::ErrorCode::disposition) are the one place that decides.
    pub fn from_conf(conf: &aws_config::SdkConfig, path_style: bool) -> S3Objects {
        let conf = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(path_style)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        S3Objects { client: Client::from_conf(conf), retry: RetryPolicy::default() }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> S3Objects {
        self.retry = retry;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl S3Objects {
    /// One attempt of [`ObjectStore::get_into`]: the body goes to the sink chunk by chunk as it arrives.
    async fn read_into(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        sink: &mut dyn ByteSink,
    ) -> Result<ObjectHead, AwsError> {
        let mut out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetObject", e))?;
        let sink_error = |e: PortError| AwsError::Call {
            operation: "GetObject",
            code: e.code,
            service_code: None,
            message: e.message,
        };
        sink.restart().await.map_err(sink_error)?;
        let mut size = 0u64;
        let cut = |message: String| AwsError::Call {
            operation: "GetObject",
            code: ErrorCode::ServiceUnavailable,
            service_code: None,
            message,
        };
        loop {
            // A connection cut mid-body, or one that stops sending, is worth another try.
            let chunk = tokio::time::timeout(BODY_STALL, out.body.try_next())
                .await
                .map_err(|_| cut(format!("the body stalled: no bytes for {} s", BODY_STALL.as_secs())))?
                .map_err(|e| cut(format!("reading the body: {e}")))?;
            let Some(chunk) = chunk else { break };
            size += chunk.len() as u64;
            sink.write(&chunk).await.map_err(sink_error)?;
        }
        Ok(ObjectHead {
            size,
            content_type: out.content_type().map(str::to_string),
            etag: out.e_tag().map(|e| e.trim_matches('"').to_string()),
            version_id: out.version_id().map(str::to_string),
            metadata: out.metadata().cloned().unwrap_or_default().into_iter().collect(),
        })
    }
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn get(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<StoredObject, PortError> {
        let mut body = Vec::new();
        let head = self.get_into(bucket, key, version_id, &mut body).await?;
        Ok(StoredObject {
            body,
            content_type: head.content_type,
            etag: head.etag,
            version_id: head.version_id,
            metadata: head.metadata,
        })
    }

    async fn get_into(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        sink: &mut dyn ByteSink,
    ) -> Result<ObjectHead, PortError> {
        let mut attempt = 0;
        loop {
            let e = match self.read_into(bucket, key, version_id, sink).await {
                Ok(head) => return Ok(head),
                Err(e) => e,
            };
            let Some(wait) = self.retry.wait_after(&e, attempt) else { return Err(given_up(e, attempt).into()) };
            let code = e.code().as_str();
            tracing::warn!(what = "GetObject", attempt, code, error = %e, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn put_with(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<(), PortError> {
        let metadata = (!metadata.is_empty()).then(|| metadata.clone().into_iter().collect());
        self.retry
            .send("PutObject", || {
                self.client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(content_type)
                    .set_metadata(metadata.clone())
                    .body(ByteStream::from(body.clone()))
                    .send()
            })
            .await?;
        Ok(())
    }

    async fn put_file(&self, bucket: &str, key: &str, path: &Path, content_type: &str) -> Result<(), PortError> {
        // One PutObject, streamed from the file (a new stream each try); S3 takes up to 5 GB in one.
        self.retry
            .run("PutObject", || async {
                let body = ByteStream::from_path(path).await.map_err(|e| AwsError::Call {
                    operation: "PutObject",
                    code: ErrorCode::Internal,
                    service_code: None,
                    message: format!("reading {}: {e}", path.display()),
                })?;
                self.client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(content_type)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("PutObject", e))
            })
            .await?;
        Ok(())
    }

    async fn tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, PortError> {
        let out = self
            .retry
            .send("GetObjectTagging", || {
                self.client
                    .get_object_tagging()
                    .bucket(bucket)
                    .key(key)
                    .set_version_id(version_id.map(str::to_string))
                    .send()
            })
            .await?;
        Ok(out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ListedObject>, PortError> {
        let pages = self
            .retry
            .pages(
                "ListObjectsV2",
                |token| {
                    self.client.list_objects_v2().bucket(bucket).prefix(prefix).set_continuation_token(token).send()
                },
                |page| page.next_continuation_token().filter(|_| page.is_truncated() == Some(true)).map(str::to_string),
            )
            .await?;
        let mut found = Vec::new();
        for page in pages {
            found.extend(page.contents().iter().filter_map(listed));
        }
        Ok(found)
    }

    async fn find(&self, bucket: &str, key: &str) -> Result<Option<ListedObject>, PortError> {
        // Every key the prefix matches extends `key`, so `key` itself, if there, is the first one listed.
        let page = self
            .retry
            .send("ListObjectsV2", || self.client.list_objects_v2().bucket(bucket).prefix(key).max_keys(1).send())
            .await?;
        Ok(page.contents().iter().filter_map(listed).find(|o| o.key == key))
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        self.retry.send("DeleteObject", || self.client.delete_object().bucket(bucket).key(key).send()).await?;
        Ok(())
    }

    async fn delete_versions(&self, bucket: &str, prefix: &str) -> Result<usize, PortError> {
        let versions = self.versions_under(bucket, prefix).await?;
        for (key, version_id) in &versions {
            // With the version id (`null` too: the version of an unversioned bucket, or one written before
            // versioning), a delete removes that version for good and adds no marker (authorised as
            // `s3:DeleteObjectVersion`).
            self.retry
                .send("DeleteObject", || {
                    self.client.delete_object().bucket(bucket).key(key).version_id(version_id).send()
                })
                .await?;
        }
        Ok(versions.len())
    }
}

impl S3Objects {
    /// Every version and delete marker under `prefix`, as (key, version id) (`ListObjectVersions`, page by page: a
    /// page is at most 1,000 entries, continued from its key and version-id markers).
    async fn versions_under(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, String)>, PortError> {
        let mut found = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .retry
                .send("ListObjectVersions", || {
                    self.client
                        .list_object_versions()
                        .bucket(bucket)
                        .prefix(prefix)
                        .set_key_marker(key_marker.clone())
                        .set_version_id_marker(version_marker.clone())
                        .send()
                })
                .await?;
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
            for (key, version) in versions.chain(markers) {
                if let Some(key) = key {
                    found.push((key.to_string(), version.unwrap_or("null").to_string()));
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(found);
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
            if key_marker.is_none() {
                return Ok(found);
            }
        }
    }
}

/// An object of a listing as the port gives it (`None` for an entry without a key).
fn listed(object: &aws_sdk_s3::types::Object) -> Option<ListedObject> {
    Some(ListedObject {
        key: object.key()?.to_string(),
        size: object.size().unwrap_or_default(),
        etag: object.e_tag().map(|e| e.trim_matches('"').to_string()),
        last_modified: object
            .last_modified()
            .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
    })
}
