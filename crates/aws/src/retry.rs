//! Retries with exponential backoff and full jitter; whether to retry at all is the core's decision.

use std::future::Future;
use std::time::Duration;

use aws_sdk_redshiftdata::config::http::HttpResponse;
use aws_sdk_redshiftdata::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use redscribe_core::retry::Backoff;
use redscribe_core::Disposition;

use crate::AwsError;

/// How often and how long to retry a call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { max_attempts: 8, base: Duration::from_millis(100), cap: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    /// Full jitter: a random wait between zero and the exponential bound.
    pub fn delay(&self, attempt: u32) -> Duration {
        Backoff { base: self.base, cap: self.cap }.delay(attempt)
    }

    /// How long to wait before trying again after `e` failed attempt `attempt` (from 0); `None`: give up.
    pub fn wait_after(&self, e: &AwsError, attempt: u32) -> Option<Duration> {
        (e.code().disposition() == Disposition::Retry && attempt + 1 < self.max_attempts).then(|| self.delay(attempt))
    }

    /// Sends one SDK operation, named once: each attempt's error is classified by [`AwsError::from_sdk`] under
    /// that name, and the call retried as [`RetryPolicy::run`] retries.
    pub async fn send<T, E, F, Fut>(&self, operation: &'static str, mut call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.run(operation, || {
            let sent = call();
            async move { sent.await.map_err(|e| AwsError::from_sdk(operation, e)) }
        })
        .await
    }

    /// Every page of a paginated operation, each page sent (and retried) on its own: `page(token)` sends the
    /// request for the page after `token` (`None`: the first), `next` reads the token of the page after a page
    /// (`None`: it was the last).
    pub async fn pages<P, E, F, Fut>(
        &self,
        operation: &'static str,
        mut page: F,
        next: impl Fn(&P) -> Option<String>,
    ) -> Result<Vec<P>, AwsError>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: Future<Output = Result<P, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut pages = Vec::new();
        let mut token = None;
        loop {
            let got = self.send(operation, || page(token.clone())).await?;
            token = next(&got).filter(|t| !t.is_empty());
            pages.push(got);
            if token.is_none() {
                return Ok(pages);
            }
        }
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts are used up; then the error says so
    /// ([`AwsError::Exhausted`], which a caller takes as "retried already": see [`PortError::exhausted`]).
    ///
    /// [`PortError::exhausted`]: redscribe_core::ports::PortError::exhausted
    pub async fn run<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let mut attempt = 0;
        loop {
            let e = match call().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Some(wait) = self.wait_after(&e, attempt) else { return Err(given_up(e, attempt)) };
            tracing::warn!(what, attempt, code = e.code().as_str(), error = %e, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// The error of a call given up after attempt `attempt` (from 0): marked [`AwsError::Exhausted`] when it was a
/// retryable failure tried more than once, so that no caller multiplies the retries.
pub fn given_up(e: AwsError, attempt: u32) -> AwsError {
    if attempt > 0 && e.code().disposition() == Disposition::Retry {
        AwsError::Exhausted { attempts: attempt + 1, last: Box::new(e) }
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redscribe_core::ports::PortError;
    use redscribe_core::ErrorCode;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn err(code: ErrorCode) -> AwsError {
        AwsError::Call { operation: "op", code, service_code: None, message: "m".into() }
    }

    #[tokio::test]
    async fn retries_only_what_the_core_says_is_retryable() {
        let policy = RetryPolicy { max_attempts: 4, base: Duration::from_millis(1), cap: Duration::from_millis(2) };
        let calls = AtomicU32::new(0);
        let got = policy
            .run("t", || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    Err(err(ErrorCode::Throttled))
                } else {
                    Ok(n)
                }
            })
            .await;
        assert_eq!(got.unwrap(), 2);

        let calls = AtomicU32::new(0);
        let got: Result<(), _> = policy
            .run("t", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err(ErrorCode::LoadRejected))
            })
            .await;
        assert!(got.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a permanent error is not retried");

        let calls = AtomicU32::new(0);
        let got: Result<(), _> = policy
            .run("t", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err(ErrorCode::ServiceUnavailable))
            })
            .await;
        let e = got.unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 4, "gives up after max_attempts");
        assert_eq!(e.code(), ErrorCode::ServiceUnavailable);
        let port = PortError::from(e);
        assert!(port.exhausted && port.message.ends_with("(tried 4 times)"), "{port:?}");
        let once = PortError::from(err(ErrorCode::Throttled));
        assert!(!once.exhausted, "an error that was not retried is not marked");
    }

    #[test]
    fn delays_stay_under_the_cap() {
        let p = RetryPolicy::default();
        for attempt in 0..40 {
            assert!(p.delay(attempt) <= p.cap);
        }
    }
}
