//! Talking to Stripe's API, as data: the engine builds every request (method, path, form
//! parameters in Stripe's bracket syntax, idempotency key, API version) and reads every
//! response into typed results; the host performs the HTTP.
//!
//! - [`Operation`]: what a host wants done (create a PaymentIntent, refund, open a Checkout
//!   Session…), checked before any call: amounts against the currency's minimum charge and digit
//!   limits, refunds against what is refundable.
//! - [`build`]: an operation to a [`Request`]. Parameters are sorted, so a retry with the same
//!   operation and idempotency key sends byte-identical parameters.
//! - [`response`]: a status and body to a typed object or a typed [`response::ApiError`].
//! - [`retry`]: whether and when to try again, as the official SDKs decide it.
//!
//! # What this module does *not* do
//!
//! No HTTP, no clock, no randomness: the host sends the request, measures time and passes the
//! jitter in. Idempotency keys are made and persisted by the host before the first attempt.

pub mod changes;
mod operation;
pub mod params;
pub mod response;
pub mod retry;

#[cfg(test)]
mod tests;

pub use operation::{
    CheckoutInput, CheckoutMode, Interval, LineItem, ListKind, Operation, PaymentIntentInput,
    RefundInput, RefundReason, SubscriptionInput, UiMode, BuildError, build, build_json,
};

use alloc::string::String;
use alloc::vec::Vec;

/// How many characters (Unicode scalar values) `text` has, as Stripe counts its length limits:
/// the bytes that start one, that is every byte but UTF-8's continuation bytes. The same count as
/// `text.chars().count()`, in 0.2 KB less of the WebAssembly component than the standard
/// library's general-purpose counter.
fn char_count(text: &str) -> usize {
    text.bytes().filter(|b| b & 0xC0 != 0x80).count()
}

/// The API version payhook speaks, sent as `Stripe-Version` on every request. Responses and
/// events are read tolerantly, so older versions' shapes are understood too.
pub const API_VERSION: &str = "2026-10-28.endive";

/// An HTTP method Stripe's API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Reads.
    Get,
    /// Creates and updates.
    Post,
    /// Deletes (cancels a subscription at once).
    Delete,
}

impl Method {
    /// `GET`, `POST` or `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One request to Stripe, ready to send to `{api_base}{path}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, e.g. `/v1/payment_intents`; ids in it are checked to be plain.
    pub path: String,
    /// Form parameters in bracket syntax (`metadata[invoice_id]`), sorted by name: the body of a
    /// POST, the query of a GET.
    pub params: Vec<(String, String)>,
    /// The `Idempotency-Key` header, on every creating call.
    pub idempotency_key: Option<String>,
}

impl Request {
    /// The parameters as `application/x-www-form-urlencoded` text.
    pub fn form(&self) -> String {
        params::encode(&self.params)
    }
}

/// Why an operation was refused before any call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// An amount Stripe would refuse.
    #[error(transparent)]
    Amount(#[from] crate::money::MoneyError),
    /// A Stripe id that is not one (it would change the request's path).
    #[error("{field} {} is not a Stripe id (letters, digits and underscores only)", crate::json::Quoted(.value))]
    InvalidId {
        /// Which id.
        field: &'static str,
        /// What was given (at most 64 characters of it).
        value: String,
    },
    /// A required value is missing or empty.
    #[error("{0} is required")]
    Missing(&'static str),
    /// A value is not acceptable; the message says why.
    #[error("{field}: {reason}")]
    Invalid {
        /// Which value.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A creating call needs an idempotency key.
    #[error("an idempotency key is required for a creating call (make it, store it, then call)")]
    IdempotencyKeyMissing,
}
