//! Stripe's answers, read tolerantly into typed results; errors into [`ApiError`].

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What Stripe refused, as its error object says. `Display` is a message fit to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} (Stripe {kind}{}, HTTP {status})", code.as_deref().map(|c| alloc::format!(": {c}")).unwrap_or_default())]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// Stripe's `type`: `card_error`, `invalid_request_error`, `api_error`, `idempotency_error`,
    /// `authentication_error`, `rate_limit_error`…
    pub kind: String,
    /// Stripe's `code`, e.g. `card_declined`, `authentication_required`, `amount_too_small`.
    pub code: Option<String>,
    /// For declines: `insufficient_funds`, `lost_card`…
    pub decline_code: Option<String>,
    /// The message.
    pub message: String,
    /// The parameter at fault.
    pub param: Option<String>,
    /// For card errors on a PaymentIntent, its id.
    pub payment_intent: Option<String>,
}

impl ApiError {
    /// A card was declined or needs authentication: tell the customer, do not retry.
    pub fn is_card_error(&self) -> bool {
        self.kind == "card_error"
    }
}

/// The next step of a PaymentIntent that requires action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAction {
    /// Stripe's `type`, e.g. `redirect_to_url`, `use_stripe_sdk`.
    pub kind: String,
    /// For `redirect_to_url`: where to send the customer.
    pub url: Option<String>,
}

/// A PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    /// `pi_…`
    pub id: String,
    /// `requires_payment_method`, `requires_action`, `processing`, `succeeded`, `canceled`…
    pub status: String,
    /// Minor units.
    pub amount: i64,
    /// e.g. `eur`.
    pub currency: String,
    /// For the customer's browser (Stripe.js) only; never log it.
    pub client_secret: Option<String>,
    /// When `requires_action`: what the customer must do (3-D Secure).
    pub next_action: Option<NextAction>,
    /// The latest charge, `ch_…`.
    pub latest_charge: Option<String>,
    /// The last failure's code, e.g. `card_declined`.
    pub last_error_code: Option<String>,
    /// The last failure's message.
    pub last_error_message: Option<String>,
}

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// `re_…`
    pub id: String,
    /// `pending`, `succeeded`, `failed`, `canceled`.
    pub status: String,
    /// Minor units.
    pub amount: i64,
    /// e.g. `eur`.
    pub currency: String,
    /// The PaymentIntent refunded.
    pub payment_intent: Option<String>,
}

/// A Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSession {
    /// `cs_…`
    pub id: String,
    /// Hosted: where to send the customer.
    pub url: Option<String>,
    /// Embedded: what mounts the form in the page (for the browser only; never log it).
    pub client_secret: Option<String>,
    /// `open`, `complete`, `expired`.
    pub status: Option<String>,
    /// `paid`, `unpaid`, `no_payment_required`.
    pub payment_status: Option<String>,
    /// When it expires (unix seconds).
    pub expires_at: Option<i64>,
}

/// Any other object: its type and id, and the JSON as Stripe sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Other {
    /// Stripe's `object`, e.g. `payment_link`, `price`, `customer`, `subscription`, `account`
    /// (the answer's own `object` tag is `other`).
    pub kind: String,
    /// Its id, when it has one.
    pub id: Option<String>,
    /// A hosted URL (payment links).
    pub url: Option<String>,
    /// The object.
    pub raw: Value,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The objects, as Stripe sent them.
    pub data: Vec<Value>,
    /// More after the last one.
    pub has_more: bool,
    /// The id to pass as `starting_after` for the next page.
    pub last_id: Option<String>,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "object", rename_all = "snake_case")]
pub enum Object {
    /// `payment_intent`
    PaymentIntent(PaymentIntent),
    /// `refund`
    Refund(Refund),
    /// `checkout.session`
    #[serde(rename = "checkout.session")]
    CheckoutSession(CheckoutSession),
    /// `list`
    List(Page),
    /// Anything else.
    Other(Other),
}

/// Reads an answer: a 2xx with a JSON object is an [`Object`]; anything else an [`ApiError`]
/// (a body that is not Stripe's error object still gives one, with the status).
#[allow(
    clippy::result_large_err,
    reason = "one answer per Stripe call, and the error is as likely as the object; boxing it would only add an allocation"
)]
pub fn parse(status: u16, body: &str) -> Result<Object, ApiError> {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if !(200..300).contains(&status) || value.get("error").is_some() {
        return Err(error(status, &value));
    }
    let s = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .map(ToString::to_string)
    };
    let i = |k: &str| value.get(k).and_then(Value::as_i64);
    let object = s("object").unwrap_or_default();
    Ok(match object.as_str() {
        "payment_intent" => Object::PaymentIntent(PaymentIntent {
            id: s("id").unwrap_or_default(),
            status: s("status").unwrap_or_default(),
            amount: i("amount").unwrap_or(0),
            currency: s("currency").unwrap_or_default(),
            client_secret: s("client_secret"),
            next_action: value
                .get("next_action")
                .filter(|v| v.is_object())
                .map(|na| NextAction {
                    kind: na
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    url: na
                        .get("redirect_to_url")
                        .and_then(|r| r.get("url"))
                        .and_then(Value::as_str)
                        .map(ToString::to_string),
                }),
            latest_charge: s("latest_charge").or_else(|| {
                value
                    .get("charges")
                    .and_then(|c| c.get("data"))
                    .and_then(|d| d.get(0))
                    .and_then(|c| c.get("id"))
                    .and_then(Value::as_str)
                    .map(ToString::to_string)
            }),
            last_error_code: value
                .get("last_payment_error")
                .and_then(|e| e.get("code"))
                .and_then(Value::as_str)
                .map(ToString::to_string),
            last_error_message: value
                .get("last_payment_error")
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .map(ToString::to_string),
        }),
        "refund" => Object::Refund(Refund {
            id: s("id").unwrap_or_default(),
            status: s("status").unwrap_or_default(),
            amount: i("amount").unwrap_or(0),
            currency: s("currency").unwrap_or_default(),
            payment_intent: s("payment_intent"),
        }),
        "checkout.session" => Object::CheckoutSession(CheckoutSession {
            id: s("id").unwrap_or_default(),
            url: s("url"),
            client_secret: s("client_secret"),
            status: s("status"),
            payment_status: s("payment_status"),
            expires_at: i("expires_at"),
        }),
        "list" => {
            let data: Vec<Value> = value
                .get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let last_id = data
                .last()
                .and_then(|o| o.get("id"))
                .and_then(Value::as_str)
                .map(ToString::to_string);
            Object::List(Page {
                has_more: value
                    .get("has_more")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                last_id,
                data,
            })
        }
        _ => Object::Other(Other {
            kind: object,
            id: s("id"),
            url: s("url"),
            raw: value.clone(),
        }),
    })
}

fn error(status: u16, value: &Value) -> ApiError {
    let e = value.get("error").cloned().unwrap_or(Value::Null);
    let s = |k: &str| e.get(k).and_then(Value::as_str).map(ToString::to_string);
    let kind = s("type").unwrap_or_else(|| {
        if status >= 500 {
            "api_error".into()
        } else {
            "invalid_response".into()
        }
    });
    ApiError {
        status,
        message: s("message").unwrap_or_else(|| {
            alloc::format!("Stripe answered HTTP {status} without an error message")
        }),
        code: s("code"),
        decline_code: s("decline_code"),
        param: s("param"),
        payment_intent: e
            .get("payment_intent")
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .map(ToString::to_string),
        kind,
    }
}
