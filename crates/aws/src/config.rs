//! The AWS SDK configuration, built in one place for every client — AWS or the local stand-ins, production or
//! test — so that every call is bounded in time ([`timeouts`]): the standard chain (environment, profiles —
//! including the `services` endpoint sections that `redscribe serve` writes — and roles), with optional
//! overrides ([`Connection`]).

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

/// What overrides the standard chain; `Connection::default()` is the chain as it is (a Lambda's role, a profile).
#[derive(Debug, Clone, Copy, Default)]
pub struct Connection<'a> {
    /// Every service at this endpoint (the stand-ins, moto, an S3-compatible store).
    pub endpoint_url: Option<&'a str>,
    pub region: Option<&'a str>,
    /// An access key pair (the stand-ins' generated one, moto's), instead of the chain's credentials.
    pub credentials: Option<(&'a str, &'a str)>,
}

/// The one builder of SDK configurations: the standard chain with `connection`'s overrides, and [`timeouts`].
pub async fn sdk_config(connection: Connection<'_>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts());
    if let Some(url) = connection.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = connection.region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some((access_key_id, secret_access_key)) = connection.credentials {
        let provider =
            aws_credential_types::Credentials::new(access_key_id, secret_access_key, None, None, "redscribe-static");
        loader = loader.credentials_provider(provider);
    }
    loader.load().await
}

/// [`sdk_config`] with an endpoint and a region of the caller's, if any: what the binaries use.
pub async fn load(endpoint_url: Option<&str>, region: Option<&str>) -> SdkConfig {
    sdk_config(Connection { endpoint_url, region, credentials: None }).await
}

/// [`sdk_config`] for an endpoint on loopback signed with a known key pair: the local stand-ins, moto.
pub async fn local(endpoint_url: &str, region: &str, access_key_id: &str, secret_access_key: &str) -> SdkConfig {
    let credentials = Some((access_key_id, secret_access_key));
    sdk_config(Connection { endpoint_url: Some(endpoint_url), region: Some(region), credentials }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_configuration_is_bounded_in_time() {
        for conf in [load(None, Some("eu-west-1")).await, local("http://127.0.0.1:1", "us-east-1", "a", "b").await] {
            let t = conf.timeout_config().expect("timeouts are set");
            assert_eq!(t.connect_timeout(), Some(Duration::from_secs(5)));
            assert_eq!(t.read_timeout(), Some(Duration::from_secs(30)));
            assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(60)));
            assert_eq!(t.operation_timeout(), Some(Duration::from_secs(120)));
        }
        let local = local("http://127.0.0.1:1", "us-east-1", "a", "b").await;
        assert_eq!(local.endpoint_url(), Some("http://127.0.0.1:1"));
        assert_eq!(local.region().map(|r| r.as_ref()), Some("us-east-1"));
    }
}
