//! How long to wait before trying again: exponential backoff with full jitter (a random wait between zero and
//! `base · 2^attempt`, capped). The adapters' per-call retries and the driver's per-recording retries both wait
//! this way; whether a failure is retried at all is [`crate::ErrorCode::disposition`]'s decision.

use std::time::Duration;

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The bound of the first wait.
    pub base: Duration,
    /// The largest bound any wait has.
    pub cap: Duration,
}

impl Backoff {
    /// The bound of the wait after `attempt` failures (0: the first retry).
    pub fn bound(&self, attempt: u32) -> Duration {
        self.base.saturating_mul(1u32 << attempt.min(16)).min(self.cap)
    }

    /// A random wait between zero and [`Backoff::bound`]: many clients failing together do not retry together.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.bound(attempt).mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_stay_under_their_bound() {
        let b = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(2) };
        let bounds: Vec<u64> = (0..7).map(|a| b.bound(a).as_millis() as u64).collect();
        assert_eq!(bounds, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(b.bound(u32::MAX), b.cap, "no overflow however many attempts");
        for attempt in 0..10 {
            assert!(b.delay(attempt) <= b.bound(attempt));
        }
        let distinct: std::collections::HashSet<u128> = (0..32).map(|_| b.delay(5).as_nanos()).collect();
        assert!(distinct.len() > 1, "jittered");
    }
}
