//! The host side of talking to Stripe: the engine builds each request and reads each answer;
//! this module sends it, with the secret key, and retries as the engine's policy says.
//!
//! Every creating call carries an idempotency key that the caller made and stored before the
//! first attempt; a retry reuses it with the byte-identical form the engine built, so Stripe
//! creates one object however many attempts it takes.

use std::time::Duration;

use payhook_core::stripe::Operation;
use payhook_core::stripe::response::{ApiError, Object};
use payhook_core::stripe::retry::{DEFAULT_MAX_RETRIES, Outcome};
use payhook_runtime::RuntimeError;

use crate::engine;
use crate::secret::Secret;

/// Stripe's API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call to Stripe did not give an object.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// The engine refused the operation before any call (an amount below the minimum, a refund
    /// above what is refundable, a bad id); nothing was sent.
    #[error("{message}")]
    Refused {
        /// `amount`, `invalid-id`, `missing`, `invalid`, `idempotency-key-missing`.
        code: String,
        /// What is wrong.
        message: String,
    },
    /// Stripe answered with an error (a declined card, an invalid request…).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// No answer after every attempt.
    #[error("Stripe could not be reached after {attempts} attempts: {last}")]
    Unreachable {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// The account's rate ceiling is reached and the wait would be too long; nothing was sent.
    #[error(transparent)]
    OverCeiling(#[from] crate::rate::OverCeiling),
    /// The engine failed.
    #[error("engine: {0}")]
    Engine(#[from] RuntimeError),
}

/// Sends the engine's requests to Stripe (or to a fake, for tests).
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    api_base: String,
    max_retries: u32,
    ceiling: crate::rate::RateCeiling,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.api_base)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl StripeClient {
    /// A client for `api_base` (e.g. [`DEFAULT_API_BASE`], or a localstripe URL). HTTPS uses
    /// rustls, with ring as its crypto provider, and the system's root certificates.
    pub fn new(api_base: &str) -> StripeClient {
        install_tls_provider();
        StripeClient {
            http: reqwest::Client::new(),
            api_base: api_base.trim_end_matches('/').to_owned(),
            max_retries: DEFAULT_MAX_RETRIES,
            ceiling: crate::rate::RateCeiling::default(),
        }
    }

    /// With another rate ceiling (requests a second per account) than Stripe's own limits.
    pub fn with_ceiling(mut self, ceiling: crate::rate::RateCeiling) -> StripeClient {
        self.ceiling = ceiling;
        self
    }

    /// With `n` retries after the first attempt.
    pub fn with_max_retries(mut self, n: u32) -> StripeClient {
        self.max_retries = n;
        self
    }

    /// Performs `operation` with `secret_key`; `idempotency_key` must be given (and stored by
    /// the caller beforehand) for creating calls.
    pub async fn call(
        &self,
        secret_key: &Secret,
        operation: &Operation,
        idempotency_key: Option<&str>,
    ) -> Result<Object, StripeError> {
        let request = engine::with_session(|s| s.stripe_build(operation, idempotency_key))?
            .map_err(|e| StripeError::Refused {
                code: e.code,
                message: e.message,
            })?;
        let url = format!("{}{}", self.api_base, request.path);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.ceiling.acquire(secret_key.expose()).await?;
            let mut builder = match request.method.as_str() {
                "POST" => self
                    .http
                    .post(&url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(request.form.clone()),
                "DELETE" => self.http.delete(with_query(&url, &request.form)),
                _ => self.http.get(with_query(&url, &request.form)),
            };
            builder = builder
                .bearer_auth(secret_key.expose())
                .header("Stripe-Version", &request.api_version)
                .timeout(ATTEMPT_TIMEOUT);
            if let Some(key) = &request.idempotency_key {
                builder = builder.header("Idempotency-Key", key);
            }
            let (outcome, answer) = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let header = |name: &str| {
                        response
                            .headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let should_retry = header("stripe-should-retry").map(|v| v == "true");
                    let retry_after_secs =
                        header("retry-after").and_then(|v| v.trim().parse::<f64>().ok());
                    let body = response.text().await.unwrap_or_default();
                    (
                        Outcome::Status {
                            status,
                            should_retry,
                            retry_after_secs,
                        },
                        Some((status, body)),
                    )
                }
                Err(e) => {
                    tracing::warn!(path = %request.path, attempt, error = %e, "Stripe did not answer");
                    (Outcome::ConnectionError, None)
                }
            };
            let jitter = jitter();
            let delay = engine::with_session(|s| {
                s.stripe_next_delay_ms(attempt, self.max_retries, outcome, jitter)
            })?;
            match (delay, answer) {
                (Some(ms), _) => {
                    tracing::info!(path = %request.path, attempt, retry_in_ms = ms, "retrying a Stripe call");
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                (None, Some((status, body))) => {
                    return Ok(engine::with_session(|s| s.stripe_parse(status, &body))??);
                }
                (None, None) => {
                    return Err(StripeError::Unreachable {
                        attempts: attempt,
                        last: "connection failed".into(),
                    });
                }
            }
        }
    }
}

/// Installs ring as the process's rustls crypto provider (once; a provider installed before is
/// kept). Every HTTP client in a process that links this crate needs one: call this before
/// building a `reqwest::Client` of your own.
pub fn install_tls_provider() {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| drop(rustls::crypto::ring::default_provider().install_default()));
}

fn with_query(url: &str, form: &str) -> String {
    if form.is_empty() {
        url.to_owned()
    } else {
        format!("{url}?{form}")
    }
}

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    match getrandom::fill(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// A new idempotency key: to be stored with the operation before its first attempt.
pub fn new_idempotency_key() -> String {
    crate::ids::new_id("payhook")
}
