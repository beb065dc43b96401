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

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::{Map, Value};

use super::{
    CheckoutInput, CheckoutMode, Interval, LineItem, ListKind, Operation, PaymentIntentInput,
    RefundInput, RefundReason, SubscriptionInput, UiMode, default_limit,
};
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
    let f = match value {
        Value::Object(map) => Fields { map, path: String::new() },
        other => return Err(format!("expected an object with an `op`, found {}", kind(other))),
    };
    let op = f.str("op")?;
    Ok(match op.as_str() {
        "create_payment_intent" => Operation::CreatePaymentIntent(PaymentIntentInput {
            amount: f.money("amount")?,
            customer: f.opt_str("customer")?,
            payment_method: f.opt_str("payment_method")?,
            confirm: f.bool_or("confirm", false)?,
            return_url: f.opt_str("return_url")?,
            description: f.opt_str("description")?,
            metadata: f.metadata()?,
        }),
        "confirm_payment_intent" => Operation::ConfirmPaymentIntent {
            id: f.str("id")?,
            payment_method: f.opt_str("payment_method")?,
            return_url: f.opt_str("return_url")?,
        },
        "retrieve_payment_intent" => Operation::RetrievePaymentIntent { id: f.str("id")? },
        "cancel_payment_intent" => Operation::CancelPaymentIntent { id: f.str("id")? },
        "create_refund" => Operation::CreateRefund(RefundInput {
            payment_intent: f.str("payment_intent")?,
            amount: f.opt_money("amount")?,
            refundable: f.i64("refundable")?,
            reason: f.opt_choice("reason", REFUND_REASONS)?,
            metadata: f.metadata()?,
        }),
        "create_customer" => Operation::CreateCustomer {
            email: f.opt_str("email")?,
            name: f.opt_str("name")?,
            payment_method: f.opt_str("payment_method")?,
            metadata: f.metadata()?,
        },
        "create_price" => Operation::CreatePrice {
            product_name: f.str("product_name")?,
            amount: f.money("amount")?,
            interval: f.opt_choice("interval", INTERVALS)?,
        },
        "create_payment_link" => Operation::CreatePaymentLink {
            price: f.str("price")?,
            quantity: f.u32("quantity")?,
            redirect_url: f.opt_str("redirect_url")?,
            metadata: f.metadata()?,
            extra_params: f.extra_params()?,
        },
        "create_checkout_session" => Operation::CreateCheckoutSession(CheckoutInput {
            mode: f.choice("mode", CHECKOUT_MODES)?,
            ui_mode: f.choice("ui_mode", UI_MODES)?,
            line_items: f.line_items()?,
            success_url: f.str("success_url")?,
            cancel_url: f.opt_str("cancel_url")?,
            expires_at: f.opt_i64("expires_at")?,
            customer: f.opt_str("customer")?,
            client_reference_id: f.opt_str("client_reference_id")?,
            metadata: f.metadata()?,
            extra_params: f.extra_params()?,
        }),
        "create_subscription" => Operation::CreateSubscription(SubscriptionInput {
            customer: f.str("customer")?,
            price: f.str("price")?,
            default_payment_method: f.opt_str("default_payment_method")?,
            metadata: f.metadata()?,
        }),
        "retrieve_subscription" => Operation::RetrieveSubscription { id: f.str("id")? },
        "change_subscription_price" => Operation::ChangeSubscriptionPrice {
            id: f.str("id")?,
            item: f.str("item")?,
            price: f.str("price")?,
        },
        "cancel_subscription" => Operation::CancelSubscription {
            id: f.str("id")?,
            at_period_end: f.bool("at_period_end")?,
        },
        "retrieve_account" => Operation::RetrieveAccount,
        "retrieve_balance" => Operation::RetrieveBalance,
        "list" => Operation::List {
            list: f.choice("list", LISTS)?,
            created_gte: f.opt_i64("created_gte")?,
            payout: f.opt_str("payout")?,
            starting_after: f.opt_str("starting_after")?,
            limit: f.u32_or("limit", default_limit())?,
        },
        other => return Err(format!("unknown op {other:?}, expected one of {}", OPS.join(", "))),
    })
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
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    fn missing(&self, key: &str) -> String {
        format!("missing field `{}{key}`", self.path)
    }

    fn wrong(&self, key: &str, expected: &str, found: &Value) -> String {
        format!("field `{}{key}`: expected {expected}, found {}", self.path, kind(found))
    }

    /// The field, unless absent or `null`.
    fn present(&self, key: &str) -> Option<&'a Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn str(&self, key: &str) -> Result<String> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    fn opt_i64(&self, key: &str) -> Result<Option<i64>> {
        match self.present(key) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| self.wrong(key, "a whole number", v)),
        }
    }

    fn i64(&self, key: &str) -> Result<i64> {
        self.opt_i64(key)?.ok_or_else(|| self.missing(key))
    }

    fn u32(&self, key: &str) -> Result<u32> {
        let n = self.i64(key)?;
        u32::try_from(n).map_err(|_| format!("field `{}{key}`: {n} is not a count (0 to {})", self.path, u32::MAX))
    }

    fn bool(&self, key: &str) -> Result<bool> {
        match self.present(key) {
            None => Err(self.missing(key)),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.wrong(key, "true or false", other)),
        }
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.map.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.wrong(key, "true or false", other)),
        }
    }

    /// A count that may be left out (not `null`) for `default`.
    fn u32_or(&self, key: &str, default: u32) -> Result<u32> {
        match self.map.get(key) {
            None => Ok(default),
            Some(Value::Null) => Err(self.wrong(key, "a count", &Value::Null)),
            Some(_) => self.u32(key),
        }
    }

    fn opt_choice<T: Copy>(&self, key: &str, choices: &[(&str, T)]) -> Result<Option<T>> {
        let Some(name) = self.opt_str(key)? else { return Ok(None) };
        match choices.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(Some(*v)),
            None => {
                let names: Vec<_> = choices.iter().map(|(n, _)| *n).collect();
                Err(format!("field `{}{key}`: unknown value {name:?}, expected one of {}", self.path, names.join(", ")))
            }
        }
    }

    fn choice<T: Copy>(&self, key: &str, choices: &[(&str, T)]) -> Result<T> {
        self.opt_choice(key, choices)?.ok_or_else(|| self.missing(key))
    }

    fn opt_money(&self, key: &str) -> Result<Option<Money>> {
        let Some(v) = self.present(key) else { return Ok(None) };
        let Value::Object(map) = v else { return Err(self.wrong(key, "an object with `minor` and `currency`", v)) };
        let m = Fields { map, path: format!("{}{key}.", self.path) };
        let minor = m.i64("minor")?;
        let code = m.str("currency")?;
        let currency = Currency::parse(&code).map_err(|e| format!("field `{}currency`: {e}", m.path))?;
        Ok(Some(Money::new(minor, currency)))
    }

    fn money(&self, key: &str) -> Result<Money> {
        self.opt_money(key)?.ok_or_else(|| self.missing(key))
    }

    /// `metadata`: an object of strings; absent is empty.
    fn metadata(&self) -> Result<BTreeMap<String, String>> {
        let Some(v) = self.map.get("metadata") else { return Ok(BTreeMap::new()) };
        let Value::Object(map) = v else { return Err(self.wrong("metadata", "an object of strings", v)) };
        // Inserted one by one: collecting into a map sorts the pairs first, and that sort is
        // 6 KB of code in the component.
        let mut metadata = BTreeMap::new();
        for (k, v) in map {
            let Value::String(s) = v else {
                return Err(format!("field `{}metadata.{k}`: expected a string, found {}", self.path, kind(v)));
            };
            metadata.insert(k.clone(), s.clone());
        }
        Ok(metadata)
    }

    /// `extra_params`: `[["key", "value"], …]`; absent is none.
    fn extra_params(&self) -> Result<Vec<(String, String)>> {
        let Some(v) = self.map.get("extra_params") else { return Ok(Vec::new()) };
        let Value::Array(items) = v else { return Err(self.wrong("extra_params", "an array of pairs", v)) };
        items
            .iter()
            .map(|item| match item {
                Value::Array(pair) => match pair.as_slice() {
                    [Value::String(k), Value::String(v)] => Ok((k.clone(), v.clone())),
                    _ => Err(String::from("field `extra_params`: each item must be a pair of strings")),
                },
                other => Err(format!("field `extra_params`: expected pairs of strings, found {}", kind(other))),
            })
            .collect()
    }

    /// A Checkout Session's `line_items`.
    fn line_items(&self) -> Result<Vec<LineItem>> {
        let Some(v) = self.present("line_items") else { return Err(self.missing("line_items")) };
        let Value::Array(items) = v else { return Err(self.wrong("line_items", "an array", v)) };
        items
            .iter()
            .map(|item| {
                let Value::Object(map) = item else {
                    return Err(format!("field `line_items`: expected objects, found {}", kind(item)));
                };
                let line = Fields { map, path: String::from("line_items[].") };
                Ok(LineItem {
                    name: line.str("name")?,
                    amount: line.money("amount")?,
                    quantity: line.u32("quantity")?,
                    interval: line.opt_choice("interval", INTERVALS)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
