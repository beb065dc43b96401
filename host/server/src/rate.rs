//! The per-account rate ceiling on calls to Stripe.
//!
//! Stripe allows about 100 requests a second in live mode and 25 in test mode per account, and
//! answers 429 above that. payhook stays under the ceiling itself, with a token bucket per
//! secret key (one per tenant and mode), so one busy tenant's import cannot spend another's
//! allowance or push Stripe into refusing. A call over the ceiling waits for its turn; it is
//! refused only when the wait would be longer than [`RateCeiling::max_wait`].

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests a second allowed with a live key, as Stripe's own limit.
pub const LIVE_PER_SECOND: u32 = 100;
/// Requests a second allowed with a test key, as Stripe's own limit.
pub const TEST_PER_SECOND: u32 = 25;

/// Token buckets keyed by a hash of the secret key (the key itself is never kept here).
#[derive(Clone)]
pub struct RateCeiling {
    inner: Arc<Mutex<HashMap<u64, Bucket>>>,
    hasher: std::collections::hash_map::RandomState,
    live: u32,
    test: u32,
    max_wait: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A call would wait longer than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "this account's Stripe rate ceiling ({per_second} requests a second) is reached; try again in {retry_in_ms} ms"
)]
pub struct OverCeiling {
    /// The ceiling.
    pub per_second: u32,
    /// When a call would be allowed.
    pub retry_in_ms: u64,
}

impl Default for RateCeiling {
    fn default() -> Self {
        RateCeiling::new(LIVE_PER_SECOND, TEST_PER_SECOND)
    }
}

impl RateCeiling {
    /// `live` and `test` requests a second (each at least 1), waiting at most 10 s for a turn.
    pub fn new(live: u32, test: u32) -> RateCeiling {
        RateCeiling {
            inner: Arc::default(),
            hasher: Default::default(),
            live: live.max(1),
            test: test.max(1),
            max_wait: Duration::from_secs(10),
        }
    }

    /// With a different longest wait.
    pub fn with_max_wait(mut self, d: Duration) -> RateCeiling {
        self.max_wait = d;
        self
    }

    /// The longest a call waits for its turn.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    fn per_second(secret_key: &str) -> fn(&RateCeiling) -> u32 {
        if secret_key.contains("_test_") {
            |c| c.test
        } else {
            |c| c.live
        }
    }

    /// Takes a turn for `secret_key` at `now`: how long to wait before calling, or
    /// [`OverCeiling`] when that is longer than the longest wait. A turn taken is reserved
    /// (the bucket may go below zero), so callers that wait are served in order.
    pub fn reserve(&self, secret_key: &str, now: Instant) -> Result<Duration, OverCeiling> {
        let rate = f64::from(Self::per_second(secret_key)(self));
        let key = self.hasher.hash_one(secret_key);
        let mut buckets = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        let tokens = (b.tokens + elapsed * rate).min(rate);
        let wait = if tokens >= 1.0 {
            0.0
        } else {
            (1.0 - tokens) / rate
        };
        let wait = Duration::from_secs_f64(wait);
        if wait > self.max_wait {
            return Err(OverCeiling {
                per_second: rate as u32,
                retry_in_ms: (wait - self.max_wait).as_millis() as u64 + 1,
            });
        }
        b.tokens = tokens - 1.0;
        b.at = now;
        Ok(wait)
    }

    /// Waits for a turn for `secret_key`.
    pub async fn acquire(&self, secret_key: &str) -> Result<(), OverCeiling> {
        let wait = self.reserve(secret_key, Instant::now())?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_up_to_the_ceiling_passes_then_calls_are_spaced() {
        let c = RateCeiling::new(100, 4);
        let t0 = Instant::now();
        for _ in 0..4 {
            assert_eq!(c.reserve("sk_test_a", t0), Ok(Duration::ZERO));
        }
        // The fifth waits a quarter second, the sixth half a second.
        let w5 = c.reserve("sk_test_a", t0).unwrap();
        let w6 = c.reserve("sk_test_a", t0).unwrap();
        assert!((w5.as_secs_f64() - 0.25).abs() < 1e-6, "{w5:?}");
        assert!((w6.as_secs_f64() - 0.5).abs() < 1e-6, "{w6:?}");
        // Another account is not slowed by this one, and live keys have their own ceiling.
        assert_eq!(c.reserve("sk_test_b", t0), Ok(Duration::ZERO));
        for _ in 0..100 {
            assert_eq!(c.reserve("sk_live_a", t0), Ok(Duration::ZERO));
        }
        assert!(c.reserve("sk_live_a", t0).unwrap() > Duration::ZERO);
        // Tokens come back with time.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(c.reserve("sk_test_a", later), Ok(Duration::ZERO));
    }

    #[test]
    fn a_wait_longer_than_allowed_is_refused_and_reserves_nothing() {
        let c = RateCeiling::new(1, 1).with_max_wait(Duration::from_millis(1500));
        let t0 = Instant::now();
        assert_eq!(c.reserve("sk_live_x", t0), Ok(Duration::ZERO));
        assert_eq!(c.reserve("sk_live_x", t0), Ok(Duration::from_secs(1)));
        let err = c.reserve("sk_live_x", t0).unwrap_err();
        assert_eq!(err.per_second, 1);
        assert!(err.retry_in_ms > 0 && err.retry_in_ms <= 501, "{err:?}");
        assert!(err.to_string().contains("1 requests a second"), "{err}");
        // The refusal took no turn: one second later the next call waits one second, not two.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(c.reserve("sk_live_x", t1), Ok(Duration::from_secs(1)));
    }
}
