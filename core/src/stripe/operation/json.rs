//! An [`Operation`] read from its JSON form (`{"op": "create_refund", …}`), the form that
//! [`Operation`]'s `Serialize` writes and that hosts pass to the component.
//!
//! Written out rather than derived: serde's derive for an internally tagged enum buffers the
//! object and instantiates a deserializer for every variant, which made it the largest function
//! in the WebAssembly component (73 KB, plus as much again in per-variant helpers). Here the
//! JSON is read into a [`Value`] once, and each field is taken by one of a few small functions.
//!
//! What it accepts is what the derive accepted: the fields that `Serialize` writes, any of them
//! with a default left out, `null` for an absent optional field, and unknown fields ignored.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::{Map, Value};

use super::{
    CheckoutInput, CheckoutMode, Interval, LineItem, ListKind, Operation, PaymentIntentInput,
    RefundInput, RefundReason, SubscriptionInput, UiMode, default_limit,
};
use crate::json::Quoted;
use crate::money::{Currency, Money};

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> core::result::Result<Self, D::Error> {
        from_value(&Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl Operation {
    /// Reads an operation from JSON text, as `serde_json::from_str::<Operation>` does and with
    /// the same errors, but through `serde_json::from_str::<Value>`'s own reader: a build that
    /// also reads Stripe's answers into a [`Value`] then carries one JSON reader, not two.
    pub fn from_json(text: &str) -> serde_json::Result<Operation> {
        let mut json = serde_json::Deserializer::from_str(text);
        let value = Value::deserialize(&mut json)?;
        let operation = from_value(&value).map_err(serde_json::Error::custom)?;
        json.end()?;
        Ok(operation)
    }
}

/// Every `op`, as `Serialize` names it.
const OPS: &[&str] = &[
    "create_payment_intent",
    "confirm_payment_intent",
    "retrieve_payment_intent",
    "cancel_payment_intent",
    "create_refund",
    "create_customer",
    "create_price",
    "create_payment_link",
    "create_checkout_session",
    "create_subscription",
    "retrieve_subscription",
    "change_subscription_price",
    "cancel_subscription",
    "retrieve_account",
    "retrieve_balance",
    "list",
];

/// Why an operation's JSON was refused: a sentence naming the field.
type Result<T> = core::result::Result<T, String>;

fn from_value(value: &Value) -> Result<Operation> {
    let map = match value {
        Value::Object(map) => map,
        other => return Err(format!("expected an object with an `op`, found {}", kind(other))),
    };
    let error = Cell::new(None);
    let f = Fields { map, path: String::new(), error: &error };
    let op = f.str("op");
    let operation = match op.as_str() {
        "create_payment_intent" => Operation::CreatePaymentIntent(PaymentIntentInput {
            amount: f.money("amount"),
            customer: f.opt_str("customer"),
            payment_method: f.opt_str("payment_method"),
            confirm: f.bool_or("confirm", false),
            return_url: f.opt_str("return_url"),
            description: f.opt_str("description"),
            metadata: f.metadata(),
        }),
        "confirm_payment_intent" => Operation::ConfirmPaymentIntent {
            id: f.str("id"),
            payment_method: f.opt_str("payment_method"),
            return_url: f.opt_str("return_url"),
        },
        "retrieve_payment_intent" => Operation::RetrievePaymentIntent { id: f.str("id") },
        "cancel_payment_intent" => Operation::CancelPaymentIntent { id: f.str("id") },
        "create_refund" => Operation::CreateRefund(RefundInput {
            payment_intent: f.str("payment_intent"),
            amount: f.opt_money("amount"),
            refundable: f.i64("refundable"),
            reason: f.opt_choice("reason", REFUND_REASONS),
            metadata: f.metadata(),
        }),
        "create_customer" => Operation::CreateCustomer {
            email: f.opt_str("email"),
            name: f.opt_str("name"),
            payment_method: f.opt_str("payment_method"),
            metadata: f.metadata(),
        },
        "create_price" => Operation::CreatePrice {
            product_name: f.str("product_name"),
            amount: f.money("amount"),
            interval: f.opt_choice("interval", INTERVALS),
        },
        "create_payment_link" => Operation::CreatePaymentLink {
            price: f.str("price"),
            quantity: f.u32("quantity"),
            redirect_url: f.opt_str("redirect_url"),
            metadata: f.metadata(),
            extra_params: f.extra_params(),
        },
        "create_checkout_session" => Operation::CreateCheckoutSession(CheckoutInput {
            mode: f.choice("mode", CHECKOUT_MODES),
            ui_mode: f.choice("ui_mode", UI_MODES),
            line_items: f.line_items(),
            success_url: f.str("success_url"),
            cancel_url: f.opt_str("cancel_url"),
            expires_at: f.opt_i64("expires_at"),
            customer: f.opt_str("customer"),
            client_reference_id: f.opt_str("client_reference_id"),
            metadata: f.metadata(),
            extra_params: f.extra_params(),
        }),
        "create_subscription" => Operation::CreateSubscription(SubscriptionInput {
            customer: f.str("customer"),
            price: f.str("price"),
            default_payment_method: f.opt_str("default_payment_method"),
            metadata: f.metadata(),
        }),
        "retrieve_subscription" => Operation::RetrieveSubscription { id: f.str("id") },
        "change_subscription_price" => Operation::ChangeSubscriptionPrice {
            id: f.str("id"),
            item: f.str("item"),
            price: f.str("price"),
        },
        "cancel_subscription" => Operation::CancelSubscription {
            id: f.str("id"),
            at_period_end: f.bool("at_period_end"),
        },
        "retrieve_account" => Operation::RetrieveAccount,
        "retrieve_balance" => Operation::RetrieveBalance,
        "list" => Operation::List {
            list: f.choice("list", LISTS),
            created_gte: f.opt_i64("created_gte"),
            payout: f.opt_str("payout"),
            starting_after: f.opt_str("starting_after"),
            limit: f.u32_or("limit", default_limit()),
        },
        other => {
            return Err(error.take().unwrap_or_else(|| format!("unknown op {}, expected one of {}", Quoted(other), OPS.join(", "))));
        }
    };
    // The first field refused, if any: the operation read so far (with stand-ins from that field
    // on) is dropped.
    match error.take() {
        Some(message) => Err(message),
        None => Ok(operation),
    }
}

const REFUND_REASONS: &[(&str, RefundReason)] = &[
    ("requested_by_customer", RefundReason::RequestedByCustomer),
    ("duplicate", RefundReason::Duplicate),
    ("fraudulent", RefundReason::Fraudulent),
];
const INTERVALS: &[(&str, Interval)] =
    &[("monthly", Interval::Monthly), ("quarterly", Interval::Quarterly), ("annual", Interval::Annual)];
const CHECKOUT_MODES: &[(&str, CheckoutMode)] =
    &[("payment", CheckoutMode::Payment), ("subscription", CheckoutMode::Subscription)];
const UI_MODES: &[(&str, UiMode)] = &[("hosted", UiMode::Hosted), ("embedded", UiMode::Embedded)];
const LISTS: &[(&str, ListKind)] = &[
    ("events", ListKind::Events),
    ("charges", ListKind::Charges),
    ("refunds", ListKind::Refunds),
    ("payouts", ListKind::Payouts),
    ("balance_transactions", ListKind::BalanceTransactions),
];

/// The JSON type of `v`, for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An object's fields, read one at a time (borrowed: taking them out of the map would bring
/// the B-tree's removal code into the component, 6 KB); `path` prefixes field names in errors
/// (`line_items[].`).
///
/// A field that cannot be read records why in `error`, unless an earlier one did, and reads as a
/// stand-in value, so that [`from_value`] builds the operation without returning early and
/// refuses it at the end with the first field's error. Returning at each field instead made a
/// path dropping the fields read so far for every field of every operation (the largest part of
/// `stripe.build`'s code in the WebAssembly component).
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
    error: &'a Cell<Option<String>>,
}

impl<'a> Fields<'a> {
    /// Records `message`, unless an earlier field was refused.
    fn fail(&self, message: String) {
        let first = self.error.take().unwrap_or(message);
        self.error.set(Some(first));
    }

    fn missing(&self, key: &str) {
        self.fail(format!("missing field `{}{key}`", self.path));
    }

    fn wrong(&self, key: &str, expected: &str, found: &Value) {
        self.fail(format!("field `{}{key}`: expected {expected}, found {}", self.path, kind(found)));
    }

    /// The field, unless absent or `null`.
    fn present(&self, key: &str) -> Option<&'a Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn str(&self, key: &str) -> String {
        self.opt_str(key).unwrap_or_else(|| {
            self.missing(key);
            String::new()
        })
    }

    fn opt_str(&self, key: &str) -> Option<String> {
        match self.present(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.wrong(key, "a string", other);
                None
            }
        }
    }

    fn opt_i64(&self, key: &str) -> Option<i64> {
        let v = self.present(key)?;
        let n = v.as_i64();
        if n.is_none() {
            self.wrong(key, "a whole number", v);
        }
        n
    }

    fn i64(&self, key: &str) -> i64 {
        self.opt_i64(key).unwrap_or_else(|| {
            self.missing(key);
            0
        })
    }

    fn u32(&self, key: &str) -> u32 {
        let n = self.i64(key);
        u32::try_from(n).unwrap_or_else(|_| {
            self.fail(format!("field `{}{key}`: {n} is not a count (0 to {})", self.path, u32::MAX));
            0
        })
    }

    fn bool(&self, key: &str) -> bool {
        match self.present(key) {
            None => self.missing(key),
            Some(Value::Bool(b)) => return *b,
            Some(other) => self.wrong(key, "true or false", other),
        }
        false
    }

    fn bool_or(&self, key: &str, default: bool) -> bool {
        match self.map.get(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.wrong(key, "true or false", other);
                default
            }
        }
    }

    /// A count that may be left out (not `null`) for `default`.
    fn u32_or(&self, key: &str, default: u32) -> u32 {
        match self.map.get(key) {
            None => default,
            Some(Value::Null) => {
                self.wrong(key, "a count", &Value::Null);
                default
            }
            Some(_) => self.u32(key),
        }
    }

    fn opt_choice<T: Copy>(&self, key: &str, choices: &[(&str, T)]) -> Option<T> {
        let name = self.opt_str(key)?;
        let found = choices.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        if found.is_none() {
            let names: Vec<_> = choices.iter().map(|(n, _)| *n).collect();
            self.fail(format!("field `{}{key}`: unknown value {}, expected one of {}", self.path, Quoted(&name), names.join(", ")));
        }
        found
    }

    /// One of `choices` (the first as the stand-in).
    fn choice<T: Copy>(&self, key: &str, choices: &[(&str, T)]) -> T {
        self.opt_choice(key, choices).unwrap_or_else(|| {
            self.missing(key);
            choices[0].1
        })
    }

    fn opt_money(&self, key: &str) -> Option<Money> {
        let v = self.present(key)?;
        let Value::Object(map) = v else {
            self.wrong(key, "an object with `minor` and `currency`", v);
            return None;
        };
        let m = Fields { map, path: format!("{}{key}.", self.path), error: self.error };
        let minor = m.i64("minor");
        let code = m.str("currency");
        match Currency::parse(&code) {
            Ok(currency) => Some(Money::new(minor, currency)),
            Err(e) => {
                m.fail(format!("field `{}currency`: {e}", m.path));
                None
            }
        }
    }

    /// An amount (zero euros as the stand-in).
    fn money(&self, key: &str) -> Money {
        self.opt_money(key).unwrap_or_else(|| {
            self.missing(key);
            Money::new(0, Currency::EUR)
        })
    }

    /// `metadata`: an object of strings; absent is empty.
    fn metadata(&self) -> crate::event::Metadata {
        // Inserted one by one: collecting into a map sorts the pairs first, and that sort is
        // 6 KB of code in the component.
        let mut metadata = crate::event::Metadata::new();
        match self.map.get("metadata") {
            None => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) => drop(metadata.insert(k.clone(), s.clone())),
                        _ => self.fail(format!("field `{}metadata.{k}`: expected a string, found {}", self.path, kind(v))),
                    }
                }
            }
            Some(v) => self.wrong("metadata", "an object of strings", v),
        }
        metadata
    }

    /// `extra_params`: `[["key", "value"], …]`; absent is none.
    fn extra_params(&self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        match self.map.get("extra_params") {
            None => {}
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::Array(pair) => match pair.as_slice() {
                            [Value::String(k), Value::String(v)] => params.push((k.clone(), v.clone())),
                            _ => self.fail(String::from("field `extra_params`: each item must be a pair of strings")),
                        },
                        other => self.fail(format!("field `extra_params`: expected pairs of strings, found {}", kind(other))),
                    }
                }
            }
            Some(v) => self.wrong("extra_params", "an array of pairs", v),
        }
        params
    }

    /// A Checkout Session's `line_items`.
    fn line_items(&self) -> Vec<LineItem> {
        let mut lines = Vec::new();
        match self.present("line_items") {
            None => self.missing("line_items"),
            Some(Value::Array(items)) => {
                for item in items {
                    let Value::Object(map) = item else {
                        self.fail(format!("field `line_items`: expected objects, found {}", kind(item)));
                        continue;
                    };
                    let line = Fields { map, path: String::from("line_items[]."), error: self.error };
                    lines.push(LineItem {
                        name: line.str("name"),
                        amount: line.money("amount"),
                        quantity: line.u32("quantity"),
                        interval: line.opt_choice("interval", INTERVALS),
                    });
                }
            }
            Some(v) => self.wrong("line_items", "an array", v),
        }
        lines
    }
}

#[cfg(test)]
mod tests;
