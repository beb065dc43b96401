//! Decoding verified webhook payloads into typed events.
//!
//! The envelope (`id`, `type`, `created`, `livemode`, `api_version`, `account`) and the object
//! fields the payment domain needs are read; everything else is skipped without being stored.
//! Shapes from API 2017-08-15 (what localstripe sends) to today's are accepted: where a field
//! moved between versions, both places are read.
//!
//! The event type is an open vocabulary: every documented type is a [`KnownEventType`], and any
//! other text round-trips as [`EventType::Unknown`] — never an error. Thin (v2) event
//! notifications are recognised and reported as [`DecodeError::ThinEventNotification`], since
//! they carry no object and the host must fetch the event from the API.

mod object;
mod raw;

use alloc::string::{String, ToString};
use core::fmt;

pub use object::{
    CheckoutSession, Charge, Dispute, EarlyFraudWarning, Invoice, Metadata, NextAction, PaymentError,
    PaymentIntent, Payout, Refund, StripeObject, Subscription, UnknownObject,
};

use crate::signature::VerifiedPayload;

/// A Stripe event id (`evt_…`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    /// Wraps an id as sent by Stripe.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The id's text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! known_event_types {
    ($($variant:ident => $text:literal,)*) => {
        /// A v1 event type that Stripe documents. See [`EventType`](super::EventType) for the open vocabulary.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(missing_docs)]
        pub enum KnownEventType { $($variant,)* }

        impl KnownEventType {
            /// Every documented type, in Stripe's order.
            pub const ALL: &'static [KnownEventType] = &[$(KnownEventType::$variant,)*];

            /// The type's wire name, e.g. `payment_intent.succeeded`.
            pub const fn as_str(self) -> &'static str {
                match self { $(KnownEventType::$variant => $text,)* }
            }

            /// The documented type with this wire name, if there is one. A binary search over
            /// [`Self::ALL`], which is in byte order (a test checks it): small and fast in wasm,
            /// where a 275-arm string match costs over 20 KB of code.
            pub fn from_wire(text: &str) -> Option<Self> {
                Self::ALL.binary_search_by(|k| k.as_str().cmp(text)).ok().map(|i| Self::ALL[i])
            }
        }
    };
}

mod known;
pub use known::KnownEventType;

/// An event type: one of Stripe's documented types, or any other text, kept as it came.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A documented v1 type.
    Known(KnownEventType),
    /// A type this version of payhook does not know; stored and acknowledged, never rejected.
    Unknown(String),
}

impl EventType {
    /// Classifies a wire name. Never fails.
    pub fn parse(text: &str) -> Self {
        match KnownEventType::from_wire(text) {
            Some(known) => EventType::Known(known),
            None => EventType::Unknown(text.to_string()),
        }
    }

    /// The wire name, exactly as received.
    pub fn as_str(&self) -> &str {
        match self {
            EventType::Known(k) => k.as_str(),
            EventType::Unknown(s) => s,
        }
    }

    /// True for a documented type.
    pub fn is_known(&self) -> bool {
        matches!(self, EventType::Known(_))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded v1 ("snapshot") event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `evt_…`, unique per event; deliveries of the same event share it.
    pub id: EventId,
    /// The event type.
    pub event_type: EventType,
    /// When Stripe created the event (unix seconds); 0 when the body has no `created`.
    pub created: i64,
    /// True for live-mode events.
    pub livemode: bool,
    /// The API version the object was rendered with, when sent.
    pub api_version: Option<String>,
    /// The connected account (`acct_…`) for Connect events.
    pub account: Option<String>,
    /// The domain fields of `data.object`.
    pub object: StripeObject,
}

/// Why a verified body could not be decoded into an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not UTF-8.
    #[error("the body is not valid UTF-8 (first bad byte at offset {valid_up_to})")]
    InvalidUtf8 {
        /// How many leading bytes are valid.
        valid_up_to: usize,
    },
    /// The body is not JSON, or a field has the wrong JSON type.
    #[error("the body is not a valid event: {message} at line {line} column {column}")]
    InvalidJson {
        /// What the JSON parser reported.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The JSON nests deeper than the parser's limit (128 levels).
    #[error("the body nests JSON deeper than 128 levels")]
    NestingTooDeep,
    /// A field the domain needs has the wrong JSON type.
    #[error("`{field}` must be {expected}")]
    WrongType {
        /// The field's path.
        field: String,
        /// The JSON type it must have.
        expected: String,
    },
    /// A field every event has is missing.
    #[error("the event has no `{field}` field")]
    MissingField {
        /// The field's path.
        field: String,
    },
    /// The JSON is an object of another kind (`object` is not `event`).
    #[error("the body is a `{object}` object, not an event")]
    NotAnEvent {
        /// The `object` field's value.
        object: String,
    },
    /// A thin (v2) event notification: it carries no object; fetch the event from the API.
    #[error("`{id}` is a thin event notification ({event_type}); fetch the event from the API")]
    ThinEventNotification {
        /// The event id.
        id: String,
        /// The event type as sent.
        event_type: String,
    },
    /// A currency field is not a three-letter ISO code.
    #[error("`{value}` is not a currency code")]
    InvalidCurrency {
        /// The value received.
        value: String,
    },
    /// An amount field is negative or beyond any amount Stripe can hold.
    #[error("`{field}` is {value}, which is not a valid amount")]
    InvalidAmount {
        /// The field's path, e.g. `data.object.amount`.
        field: String,
        /// The value received.
        value: i64,
    },
}

impl DecodeError {
    /// The error class the official SDKs report for the same input, for conformance checks.
    pub fn sdk_kind(&self) -> &'static str {
        match self {
            DecodeError::ThinEventNotification { .. } => "thin_event_rejected",
            _ => "invalid_json",
        }
    }
}

/// The largest amount accepted in any amount field: twelve digits, Stripe's widest limit.
pub const MAX_AMOUNT: i64 = 999_999_999_999;

/// Decodes a verified payload. See the module docs for what is read.
pub fn decode(payload: &VerifiedPayload<'_>) -> Result<Event, DecodeError> {
    let text = match payload.text() {
        Some(text) => text,
        None => core::str::from_utf8(payload.body()).map_err(|e| DecodeError::InvalidUtf8 { valid_up_to: e.valid_up_to() })?,
    };
    raw::decode_text(text)
}

#[cfg(test)]
mod tests;
