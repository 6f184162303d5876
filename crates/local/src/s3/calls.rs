//! The S3 stand-in's requests as IAM actions, for the call log ([`crate::calls`]).
//!
//! The mapping follows the Amazon S3 service authorization reference ("Actions, resources, and condition keys for
//! Amazon S3"): `GetObject` and `HeadObject` need `s3:GetObject`, or `s3:GetObjectVersion` with a `versionId`;
//! `GetObjectTagging` needs `s3:GetObjectTagging`, or `s3:GetObjectVersionTagging` with a `versionId`;
//! `DeleteObject` needs `s3:DeleteObject`, or `s3:DeleteObjectVersion` with a `versionId`; `ListObjects(V2)` needs
//! `s3:ListBucket` on the bucket, `ListObjectVersions` `s3:ListBucketVersions`; every part of a multipart upload needs `s3:PutObject`.

use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;
use s3s::{s3_error, S3Result};

use crate::calls::{Call, CallLog};

/// The IAM action an S3 operation is authorised as.
pub fn action(operation: &str, versioned: bool) -> String {
    match operation {
        "GetObject" | "HeadObject" if versioned => "s3:GetObjectVersion".into(),
        "GetObject" | "HeadObject" => "s3:GetObject".into(),
        "GetObjectTagging" if versioned => "s3:GetObjectVersionTagging".into(),
        "PutObjectTagging" if versioned => "s3:PutObjectVersionTagging".into(),
        "DeleteObjectTagging" if versioned => "s3:DeleteObjectVersionTagging".into(),
        "DeleteObject" if versioned => "s3:DeleteObjectVersion".into(),
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "s3:ListBucket".into(),
        "ListObjectVersions" => "s3:ListBucketVersions".into(),
        "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" | "PutObject" | "CopyObject" => {
            "s3:PutObject".into()
        }
        "AbortMultipartUpload" => "s3:AbortMultipartUpload".into(),
        "DeleteObjects" => "s3:DeleteObject".into(),
        other => format!("s3:{other}"),
    }
}

/// The stand-in's access check: signed requests only (s3s's default), each one written to the log.
pub(crate) struct Recording(pub Arc<CallLog>);

#[async_trait::async_trait]
impl S3Access for Recording {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        }
        self.0.push(|| call(cx));
        Ok(())
    }
}

/// The request as a call: its action, bucket, key and listing prefix.
fn call(cx: &S3AccessContext<'_>) -> Call {
    let query: Vec<(String, String)> = cx
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (k.to_string(), percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    let versioned = query.iter().any(|(k, _)| k == "versionId");
    let prefix = query.iter().find(|(k, _)| k == "prefix").map(|(_, v)| v.clone());
    let (bucket, key) = match cx.s3_path() {
        S3Path::Root => (String::new(), None),
        S3Path::Bucket { bucket } => (bucket.to_string(), None),
        S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
    };
    Call { action: action(cx.s3_op().name(), versioned), bucket: Some(bucket), key, prefix }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_the_actions_s3_authorises_them_as() {
        for (operation, versioned, expected) in [
            ("GetObject", false, "s3:GetObject"),
            ("GetObject", true, "s3:GetObjectVersion"),
            ("HeadObject", true, "s3:GetObjectVersion"),
            ("ListObjectsV2", false, "s3:ListBucket"),
            ("UploadPart", false, "s3:PutObject"),
            ("DeleteObject", false, "s3:DeleteObject"),
            ("DeleteObject", true, "s3:DeleteObjectVersion"),
            ("ListObjectVersions", false, "s3:ListBucketVersions"),
            ("DeleteObjects", false, "s3:DeleteObject"),
            ("GetObjectTagging", false, "s3:GetObjectTagging"),
            ("GetObjectTagging", true, "s3:GetObjectVersionTagging"),
        ] {
            assert_eq!(action(operation, versioned), expected, "{operation}");
        }
    }
}
