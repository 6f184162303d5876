//! The AWS SDK configuration: the standard chain (environment, profiles — including the `services` endpoint
//! sections that `redscribe serve` writes — and roles), with optional overrides from flags.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Every call is bounded in time: no request waits on a dead endpoint, and a stalled read ends. The SDK leaves
/// all of these unset (no timeout) except a 3.1 s connect timeout; a call that times out is retried by the
/// adapters' own [`crate::retry::RetryPolicy`] (a timeout is `service_unavailable`).
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        // From the request to the first byte of its response.
        .read_timeout(Duration::from_secs(30))
        // One attempt, up to its response (a streamed body that stalls is ended by `S3Objects::get_into`).
        .operation_attempt_timeout(Duration::from_secs(60))
        .operation_timeout(Duration::from_secs(120))
        .build()
}

/// Loads the SDK configuration; `endpoint_url` and `region` override what the chain finds.
pub async fn load(endpoint_url: Option<&str>, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    loader.load().await
}
