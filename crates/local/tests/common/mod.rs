//! Helpers shared by the stand-ins' integration tests.

use redscribe_local::Credentials;

/// An `aws-sdk-s3` client for the S3 stand-in (path-style addressing, the given key pair).
pub fn s3_client(endpoint: &str, creds: &Credentials) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            &creds.access_key_id,
            &creds.secret_access_key,
            None,
            None,
            "test",
        ))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
