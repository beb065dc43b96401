//! Stripe's answers, read tolerantly into typed results; errors into [`ApiError`].

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json;

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
    let value = read(status, body)?;
    let object = text(&value, "object").unwrap_or_default();
    Ok(match object.as_str() {
        "payment_intent" => Object::PaymentIntent(payment_intent(&value)),
        "refund" => Object::Refund(refund(&value)),
        "checkout.session" => Object::CheckoutSession(checkout_session(&value)),
        "list" => {
            let data: Vec<Value> = value
                .get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            Object::List(Page {
                has_more: has_more(&value),
                last_id: last_id(&data),
                data,
            })
        }
        _ => Object::Other(Other {
            kind: object,
            id: text(&value, "id"),
            url: text(&value, "url"),
            raw: value,
        }),
    })
}

/// Reads an answer as [`parse`] does and writes the [`Object`] as JSON: the text
/// [`crate::json::to_string`] writes for it, except that a list's items and another object's
/// `raw` are the text Stripe sent (so the same JSON values, but Stripe's spacing, key order
/// and digits). The component hands answers back this way, so that it never writes a
/// `serde_json::Value` again: a float in one would need serde_json's float formatter, whose
/// tables are 17 KB of the component (BENCHMARKS.md, eleventh run).
#[allow(clippy::result_large_err, reason = "as for `parse`")]
pub fn parse_as_json(status: u16, body: &str) -> Result<String, ApiError> {
    let value = read(status, body)?;
    let object = text(&value, "object").unwrap_or_default();
    Ok(match object.as_str() {
        "payment_intent" => tagged("payment_intent", &payment_intent(&value)),
        "refund" => tagged("refund", &refund(&value)),
        "checkout.session" => tagged("checkout.session", &checkout_session(&value)),
        "list" => {
            let data = value.get("data").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
            let items = if data.is_empty() { Vec::new() } else { list_items(body) };
            // The body is not shown: an answer may hold a client secret.
            debug_assert_eq!(items.len(), data.len(), "the list's items found in its text");
            let mut out = String::from(r#"{"object":"list","data":["#);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(item);
            }
            out.push_str(if has_more(&value) { r#"],"has_more":true,"last_id":"# } else { r#"],"has_more":false,"last_id":"# });
            json::push_text(&mut out, last_id(data).as_deref());
            out.push('}');
            out
        }
        _ => {
            let mut out = String::from(r#"{"object":"other","kind":"#);
            json::push_text(&mut out, Some(&object));
            out.push_str(r#","id":"#);
            json::push_text(&mut out, text(&value, "id").as_deref());
            out.push_str(r#","url":"#);
            json::push_text(&mut out, text(&value, "url").as_deref());
            out.push_str(r#","raw":"#);
            // The body is the JSON value read, with JSON's whitespace around it; when it was not
            // JSON at all, the value is `null`.
            out.push_str(if value.is_null() { "null" } else { trim_json_space(body) });
            out.push('}');
            out
        }
    })
}

/// The body read as JSON, `null` when it is not; an [`ApiError`] unless the status is a success
/// and the body no error object.
#[allow(clippy::result_large_err, reason = "as for `parse`")]
fn read(status: u16, body: &str) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if !(200..300).contains(&status) || value.get("error").is_some() {
        return Err(error(status, &value));
    }
    Ok(value)
}

/// `value[key]`, when it is a string.
fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(ToString::to_string)
}

/// `value[key]`, when it is a whole number within `i64`.
fn whole(value: &Value, key: &str) -> Option<i64> {
    value.get(key).and_then(Value::as_i64)
}

fn payment_intent(value: &Value) -> PaymentIntent {
    let s = |k: &str| text(value, k);
    PaymentIntent {
        id: s("id").unwrap_or_default(),
        status: s("status").unwrap_or_default(),
        amount: whole(value, "amount").unwrap_or(0),
        currency: s("currency").unwrap_or_default(),
        client_secret: s("client_secret"),
        next_action: value
            .get("next_action")
            .filter(|v| v.is_object())
            .map(|na| NextAction {
                kind: text(na, "type").unwrap_or_default(),
                url: na.get("redirect_to_url").and_then(|r| text(r, "url")),
            }),
        latest_charge: s("latest_charge").or_else(|| {
            value
                .get("charges")
                .and_then(|c| c.get("data"))
                .and_then(|d| d.get(0))
                .and_then(|c| text(c, "id"))
        }),
        last_error_code: value.get("last_payment_error").and_then(|e| text(e, "code")),
        last_error_message: value.get("last_payment_error").and_then(|e| text(e, "message")),
    }
}

fn refund(value: &Value) -> Refund {
    let s = |k: &str| text(value, k);
    Refund {
        id: s("id").unwrap_or_default(),
        status: s("status").unwrap_or_default(),
        amount: whole(value, "amount").unwrap_or(0),
        currency: s("currency").unwrap_or_default(),
        payment_intent: s("payment_intent"),
    }
}

fn checkout_session(value: &Value) -> CheckoutSession {
    let s = |k: &str| text(value, k);
    CheckoutSession {
        id: s("id").unwrap_or_default(),
        url: s("url"),
        client_secret: s("client_secret"),
        status: s("status"),
        payment_status: s("payment_status"),
        expires_at: whole(value, "expires_at"),
    }
}

/// A list's `has_more`.
fn has_more(list: &Value) -> bool {
    list.get("has_more").and_then(Value::as_bool).unwrap_or(false)
}

/// The id of a list's last item, to ask for the page after it.
fn last_id(data: &[Value]) -> Option<String> {
    data.last().and_then(|item| text(item, "id"))
}

/// `fields`, a struct written as a JSON object, with the tag `object` first, as the derived
/// `Serialize` of [`Object`] writes its variants.
fn tagged<T: Serialize>(object: &str, fields: &T) -> String {
    // None of the tagged structs holds a value the writer refuses.
    let fields = json::to_string(fields).unwrap_or_default();
    let mut out = String::with_capacity(fields.len() + 32);
    out.push_str(r#"{"object":"#);
    json::push_text(&mut out, Some(object));
    match fields.strip_prefix('{') {
        Some("}") | None => out.push('}'),
        Some(rest) => {
            out.push(',');
            out.push_str(rest);
        }
    }
    out
}

/// The four characters JSON allows around a value.
fn is_json_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// `text` without the JSON whitespace around it. By bytes: 0.2 KB less of the WebAssembly
/// component than `str::trim_matches` with a character predicate.
pub(super) fn trim_json_space(text: &str) -> &str {
    let bytes = text.as_bytes();
    let start = skip_space(bytes, 0);
    let end = bytes.iter().rposition(|&c| !is_json_space(c)).map_or(start, |last| last + 1);
    // Both ends are next to ASCII bytes, so on character boundaries.
    text.get(start..end).unwrap_or_default()
}

/// The text of each item of the array under the top-level object's `data` key, in `body`, which
/// serde_json has read as a JSON object (a key given twice counts by its last value, as in a
/// `Value`); empty when `data` is not an array. Values are passed over by counting brackets
/// outside strings, so no depth of nesting is descended into.
fn list_items(body: &str) -> Vec<&str> {
    let b = body.as_bytes();
    let mut items = Vec::new();
    let mut at = skip_space(b, 0);
    if b.get(at) != Some(&b'{') {
        return items;
    }
    at += 1;
    loop {
        at = skip_space(b, at);
        if b.get(at) != Some(&b'"') {
            // `}`: the object's end.
            return items;
        }
        let key_end = end_of_value(b, at);
        let key = &body[at..key_end];
        // The colon, then the value.
        let start = skip_space(b, skip_space(b, key_end) + 1);
        let end = end_of_value(b, start);
        if is_data(key) {
            items = if b.get(start) == Some(&b'[') { array_items(body, start) } else { Vec::new() };
        }
        at = skip_space(b, end);
        if b.get(at) != Some(&b',') {
            return items;
        }
        at += 1;
    }
}

/// Whether a key, as written in JSON with its quotes, is `data`, however escaped.
fn is_data(key: &str) -> bool {
    key == r#""data""#
        // Read as a `Value`, not a `String`: a `String` read from serde_json's parser brings its
        // own refusal of other types, and with it the float formatter.
        || (key.contains('\\') && matches!(serde_json::from_str::<Value>(key), Ok(Value::String(k)) if k == "data"))
}

/// The text of each item of the JSON array at `open`, its `[`.
fn array_items(body: &str, open: usize) -> Vec<&str> {
    let b = body.as_bytes();
    let mut items = Vec::new();
    let mut at = skip_space(b, open + 1);
    if b.get(at) == Some(&b']') {
        return items;
    }
    loop {
        let end = end_of_value(b, at);
        items.push(&body[at..end]);
        at = skip_space(b, end);
        if b.get(at) != Some(&b',') {
            return items;
        }
        at = skip_space(b, at + 1);
    }
}

/// Where the JSON value starting at `at` ends (the index after it).
fn end_of_value(b: &[u8], mut at: usize) -> usize {
    let mut depth = 0usize;
    while let Some(&byte) = b.get(at) {
        match byte {
            b'"' => {
                at = end_of_string(b, at);
                if depth == 0 {
                    return at;
                }
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' if depth <= 1 => return at + usize::from(depth == 1),
            b']' | b'}' => depth -= 1,
            b',' if depth == 0 => return at,
            c if depth == 0 && is_json_space(c) => return at,
            _ => {}
        }
        at += 1;
    }
    at
}

/// Where the JSON string whose opening quote is at `at` ends (the index after its closing quote).
fn end_of_string(b: &[u8], mut at: usize) -> usize {
    at += 1;
    while let Some(&byte) = b.get(at) {
        match byte {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    at
}

/// The first index from `at` that is not JSON whitespace.
fn skip_space(b: &[u8], mut at: usize) -> usize {
    while b.get(at).is_some_and(|&c| is_json_space(c)) {
        at += 1;
    }
    at
}

fn error(status: u16, value: &Value) -> ApiError {
    const NONE: &Value = &Value::Null;
    let e = value.get("error").unwrap_or(NONE);
    let s = |k: &str| text(e, k);
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
        payment_intent: e.get("payment_intent").and_then(|p| text(p, "id")),
        kind,
    }
}
