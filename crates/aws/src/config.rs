//! The AWS SDK configuration: the standard chain (environment, profiles — including the `services` endpoint
//! sections that `redscribe serve` writes — and roles), with optional overrides from flags.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Loads the SDK configuration; `endpoint_url` and `region` override what the chain finds.
pub async fn load(endpoint_url: Option<&str>, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    loader.load().await
}
