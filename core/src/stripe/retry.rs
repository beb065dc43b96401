//! Whether to try a request again, and when, as Stripe's official SDKs decide it: connection
//! errors, 409, 429 and 5xx are retried; other statuses are not; `Stripe-Should-Retry` overrides
//! both ways; the delay doubles from 0.5 s up to 5 s with jitter, and a `Retry-After` of at most
//! 60 s is honoured. The host passes the jitter, so this stays pure.

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// No answer: the connection failed or was cut (the request may have been processed; the
    /// idempotency key makes the retry safe).
    ConnectionError,
    /// An HTTP answer.
    Status {
        /// The status.
        status: u16,
        /// The `Stripe-Should-Retry` header, if present.
        should_retry: Option<bool>,
        /// The `Retry-After` header in seconds, if present.
        retry_after_secs: Option<f64>,
    },
}

/// The first retry's base delay.
pub const INITIAL_DELAY_MS: u64 = 500;
/// The longest base delay.
pub const MAX_DELAY_MS: u64 = 5_000;
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER_MS: u64 = 60_000;
/// Retries after the first attempt, by default.
pub const DEFAULT_MAX_RETRIES: u32 = 2;

/// After attempt number `attempt` (1 for the first) ended with `outcome`: the delay before the
/// next attempt in milliseconds, or `None` to stop. `jitter` in `[0, 1)` spreads retries.
pub fn next_delay_ms(attempt: u32, max_retries: u32, outcome: Outcome, jitter: f64) -> Option<u64> {
    if attempt > max_retries || !should_retry(outcome) {
        return None;
    }
    let exp = attempt.saturating_sub(1).min(16);
    let base = INITIAL_DELAY_MS.saturating_mul(1 << exp).min(MAX_DELAY_MS) as f64;
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut delay = (base * 0.5 * (1.0 + jitter)).max(INITIAL_DELAY_MS as f64) as u64;
    if let Outcome::Status {
        retry_after_secs: Some(secs),
        ..
    } = outcome
        && secs.is_finite()
        && secs >= 0.0
    {
        let asked = (secs * 1000.0) as u64;
        if asked <= MAX_RETRY_AFTER_MS {
            delay = delay.max(asked);
        }
    }
    Some(delay)
}

fn should_retry(outcome: Outcome) -> bool {
    match outcome {
        Outcome::ConnectionError => true,
        Outcome::Status {
            should_retry: Some(answer),
            ..
        } => answer,
        Outcome::Status { status, .. } => status == 409 || status == 429 || status >= 500,
    }
}
