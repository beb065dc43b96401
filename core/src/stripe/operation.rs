//! What a host asks of Stripe, and the request each becomes.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Method, Request, RequestError, params};
use crate::money::Money;

mod json;

/// How a Checkout Session is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UiMode {
    /// Stripe's page; the session's `url` is where to send the customer.
    Hosted,
    /// Embedded in the host's page with Stripe.js; the session's `client_secret` mounts it.
    Embedded,
}

/// What a Checkout Session collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutMode {
    /// A one-off payment.
    Payment,
    /// A subscription (its line items must be recurring).
    Subscription,
}

/// A billing interval for recurring prices; quarterly is every 3 months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Every month.
    Monthly,
    /// Every 3 months.
    Quarterly,
    /// Every year.
    Annual,
}

impl Interval {
    fn stripe(self) -> (&'static str, u32) {
        match self {
            Interval::Monthly => ("month", 1),
            Interval::Quarterly => ("month", 3),
            Interval::Annual => ("year", 1),
        }
    }
}

/// Why money goes back, as Stripe names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// The customer asked.
    RequestedByCustomer,
    /// Charged twice.
    Duplicate,
    /// Fraud.
    Fraudulent,
}

/// A line on a Checkout Session: an ad-hoc price for a named product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    /// What the customer sees, e.g. "Dental check-up".
    pub name: String,
    /// The unit price.
    pub amount: Money,
    /// How many (at least 1).
    pub quantity: u32,
    /// For subscriptions: how often.
    #[serde(default)]
    pub interval: Option<Interval>,
}

/// A new PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntentInput {
    /// The amount to collect.
    pub amount: Money,
    /// `cus_…`, to charge a saved payment method.
    #[serde(default)]
    pub customer: Option<String>,
    /// `pm_…` (or a test method such as `pm_card_visa`).
    #[serde(default)]
    pub payment_method: Option<String>,
    /// Confirm at once (needs `payment_method`).
    #[serde(default)]
    pub confirm: bool,
    /// Where the customer returns after 3-D Secure, when confirming at once.
    #[serde(default)]
    pub return_url: Option<String>,
    /// Shown on the customer's statement and in the dashboard.
    #[serde(default)]
    pub description: Option<String>,
    /// `invoice_id`, `appointment_id`, `customer_id`: how the webhook finds the record.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A refund, full (no amount) or partial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundInput {
    /// `pi_…` to refund.
    pub payment_intent: String,
    /// How much; `None` refunds what is left.
    #[serde(default)]
    pub amount: Option<Money>,
    /// What can still be refunded (captured minus refunded), in the payment's minor units.
    pub refundable: i64,
    /// Why.
    #[serde(default)]
    pub reason: Option<RefundReason>,
    /// Host references.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutInput {
    /// Payment or subscription.
    pub mode: CheckoutMode,
    /// Hosted page or embedded.
    pub ui_mode: UiMode,
    /// At least one line.
    pub line_items: Vec<LineItem>,
    /// Hosted: where to go after paying. Embedded: where to return (`return_url`).
    pub success_url: String,
    /// Hosted: where to go when the customer gives up.
    #[serde(default)]
    pub cancel_url: Option<String>,
    /// When the session expires (unix seconds): holds an appointment's slot until then.
    /// Stripe accepts 30 minutes to 24 hours from now.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// `cus_…`
    #[serde(default)]
    pub customer: Option<String>,
    /// The host's own reference for the session.
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// Copied to the session and to its PaymentIntent, so both webhooks find the record.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Form pairs a filter added or changed (words for the customer, extra metadata), checked
    /// by [`super::changes::apply`] when the request is built.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_params: Vec<(String, String)>,
}

/// A subscription to a price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionInput {
    /// `cus_…`
    pub customer: String,
    /// A recurring `price_…`, or the id of a plan made with the older Plans API (sent as the
    /// item's `plan`).
    pub price: String,
    /// `pm_…` to charge; else the customer's default.
    #[serde(default)]
    pub default_payment_method: Option<String>,
    /// Host references.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Something to ask of Stripe. Serialized as `{"op": "create_refund", …}` for hosts that pass it
/// as JSON, and read back from that form by a `Deserialize` written out in [`json`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// `POST /v1/payment_intents`
    CreatePaymentIntent(PaymentIntentInput),
    /// `POST /v1/payment_intents/{id}/confirm`
    ConfirmPaymentIntent {
        /// `pi_…`
        id: String,
        /// `pm_…`
        #[serde(default)]
        payment_method: Option<String>,
        /// Where 3-D Secure returns.
        #[serde(default)]
        return_url: Option<String>,
    },
    /// `GET /v1/payment_intents/{id}`
    RetrievePaymentIntent {
        /// `pi_…`
        id: String,
    },
    /// `POST /v1/payment_intents/{id}/cancel`
    CancelPaymentIntent {
        /// `pi_…`
        id: String,
    },
    /// `POST /v1/refunds`
    CreateRefund(RefundInput),
    /// `POST /v1/customers`
    CreateCustomer {
        /// E-mail.
        #[serde(default)]
        email: Option<String>,
        /// Name.
        #[serde(default)]
        name: Option<String>,
        /// `pm_…` to attach and make the default for the customer's invoices (subscriptions).
        #[serde(default)]
        payment_method: Option<String>,
        /// Host references.
        #[serde(default)]
        metadata: BTreeMap<String, String>,
    },
    /// `POST /v1/prices` with a new product: one-off, or recurring when `interval` is given.
    CreatePrice {
        /// The product's name.
        product_name: String,
        /// The unit amount.
        amount: Money,
        /// For subscriptions.
        #[serde(default)]
        interval: Option<Interval>,
    },
    /// `POST /v1/payment_links` for a price.
    CreatePaymentLink {
        /// `price_…`
        price: String,
        /// How many.
        quantity: u32,
        /// Where to send the customer after paying.
        #[serde(default)]
        redirect_url: Option<String>,
        /// Copied to the link and to each payment it takes.
        #[serde(default)]
        metadata: BTreeMap<String, String>,
        /// Form pairs a filter added or changed, as for a Checkout Session.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        extra_params: Vec<(String, String)>,
    },
    /// `POST /v1/checkout/sessions`
    CreateCheckoutSession(CheckoutInput),
    /// `POST /v1/subscriptions`
    CreateSubscription(SubscriptionInput),
    /// `GET /v1/subscriptions/{id}`
    RetrieveSubscription {
        /// `sub_…`
        id: String,
    },
    /// `POST /v1/subscriptions/{id}`: change the price of its item (Stripe prorates).
    ChangeSubscriptionPrice {
        /// `sub_…`
        id: String,
        /// `si_…`, the item to change.
        item: String,
        /// The new `price_…`.
        price: String,
    },
    /// `POST /v1/subscriptions/{id}` with `cancel_at_period_end`, or `DELETE` to cancel now.
    CancelSubscription {
        /// `sub_…`
        id: String,
        /// True: at the end of the period (revocable); false: now.
        at_period_end: bool,
    },
    /// `GET /v1/account`
    RetrieveAccount,
    /// `GET /v1/balance`
    RetrieveBalance,
    /// `GET /v1/{events|charges|refunds|payouts|balance_transactions}`, one page.
    List {
        /// Which list.
        list: ListKind,
        /// Only objects created at or after this time (unix seconds).
        #[serde(default)]
        created_gte: Option<i64>,
        /// Only the balance transactions paid out by this payout (`po_…`; an automatic payout:
        /// Stripe refuses the filter for manual ones). Valid with
        /// [`ListKind::BalanceTransactions`] alone.
        #[serde(default)]
        payout: Option<String>,
        /// The last id of the previous page.
        #[serde(default)]
        starting_after: Option<String>,
        /// Page size, 1 to 100.
        #[serde(default = "default_limit")]
        limit: u32,
    },
}

fn default_limit() -> u32 {
    100
}

/// Which of Stripe's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// `/v1/events`
    Events,
    /// `/v1/charges`
    Charges,
    /// `/v1/refunds`
    Refunds,
    /// `/v1/payouts`
    Payouts,
    /// `/v1/balance_transactions`
    BalanceTransactions,
}

impl Operation {
    /// The form pairs a filter changed, for the operations a filter may tailor (a Checkout
    /// Session, a Payment Link).
    pub fn extra_params(&self) -> Option<&[(String, String)]> {
        match self {
            Operation::CreateCheckoutSession(c) => Some(&c.extra_params),
            Operation::CreatePaymentLink { extra_params, .. } => Some(extra_params),
            _ => None,
        }
    }

    /// The same operation with `changes` (from [`super::changes::changes_between`]) as its
    /// filtered pairs; other operations are returned unchanged.
    pub fn with_extra_params(mut self, changes: Vec<(String, String)>) -> Operation {
        match &mut self {
            Operation::CreateCheckoutSession(c) => c.extra_params = changes,
            Operation::CreatePaymentLink { extra_params, .. } => *extra_params = changes,
            _ => {}
        }
        self
    }

    /// True for calls that create something: they need an idempotency key.
    pub fn creates(&self) -> bool {
        !matches!(
            self,
            Operation::RetrievePaymentIntent { .. }
                | Operation::RetrieveSubscription { .. }
                | Operation::RetrieveAccount
                | Operation::RetrieveBalance
                | Operation::List { .. }
        )
    }
}

/// Builds the request for `op`. `idempotency_key` is required for creating calls (see
/// [`Operation::creates`]) and ignored for reads.
pub fn build(op: &Operation, idempotency_key: Option<&str>) -> Result<Request, RequestError> {
    let (method, path, body) = route(op)?;
    let idempotency_key = if op.creates() {
        match idempotency_key.map(str::trim) {
            Some(k) if !k.is_empty() && k.len() <= 255 => Some(k.to_string()),
            Some(_) => {
                return Err(RequestError::Invalid {
                    field: "idempotency_key",
                    reason: "must be 1 to 255 characters".into(),
                });
            }
            None => return Err(RequestError::IdempotencyKeyMissing),
        }
    } else {
        None
    };
    let mut params = params::flatten(&body);
    if let Some(extra) = op.extra_params() {
        super::changes::apply(&mut params, extra)?;
    }
    Ok(Request {
        method,
        path,
        params,
        idempotency_key,
    })
}

fn route(op: &Operation) -> Result<(Method, String, Value), RequestError> {
    Ok(match op {
        Operation::CreatePaymentIntent(p) => {
            p.amount.check_chargeable()?;
            if p.confirm && p.payment_method.is_none() {
                return Err(RequestError::Missing("payment_method (to confirm at once)"));
            }
            let mut body = json!({
                "amount": p.amount.minor,
                "currency": p.amount.currency.as_str(),
                "payment_method_types": ["card"],
                "customer": opt_id("customer", &p.customer)?,
                "payment_method": opt_id("payment_method", &p.payment_method)?,
                "description": p.description,
                "metadata": metadata(&p.metadata)?,
            });
            if p.confirm {
                body["confirm"] = json!(true);
                body["return_url"] = json!(p.return_url);
            }
            (Method::Post, "/v1/payment_intents".into(), body)
        }
        Operation::ConfirmPaymentIntent {
            id,
            payment_method,
            return_url,
        } => (
            Method::Post,
            format!("/v1/payment_intents/{}/confirm", id_of("id", id)?),
            json!({"payment_method": opt_id("payment_method", payment_method)?, "return_url": return_url}),
        ),
        Operation::RetrievePaymentIntent { id } => (
            Method::Get,
            format!("/v1/payment_intents/{}", id_of("id", id)?),
            json!({}),
        ),
        Operation::CancelPaymentIntent { id } => (
            Method::Post,
            format!("/v1/payment_intents/{}/cancel", id_of("id", id)?),
            json!({}),
        ),
        Operation::CreateRefund(r) => {
            let amount = match &r.amount {
                Some(amount) => {
                    amount.check_refund(r.refundable)?;
                    Some(amount.minor)
                }
                None if r.refundable <= 0 => {
                    return Err(RequestError::Invalid {
                        field: "amount",
                        reason: "nothing is left to refund on this payment".into(),
                    });
                }
                None => None,
            };
            (
                Method::Post,
                "/v1/refunds".into(),
                json!({
                    "payment_intent": id_of("payment_intent", &r.payment_intent)?,
                    "amount": amount,
                    "reason": r.reason,
                    "metadata": metadata(&r.metadata)?,
                }),
            )
        }
        Operation::CreateCustomer {
            email,
            name,
            payment_method,
            metadata: m,
        } => {
            let pm = opt_id("payment_method", payment_method)?;
            let mut body = json!({"email": email, "name": name, "metadata": metadata(m)?});
            if let Some(pm) = pm {
                body["invoice_settings"] = json!({"default_payment_method": pm});
                body["payment_method"] = json!(pm);
            }
            (Method::Post, "/v1/customers".into(), body)
        }
        Operation::CreatePrice {
            product_name,
            amount,
            interval,
        } => {
            amount.check_chargeable()?;
            let mut body = json!({
                "currency": amount.currency.as_str(),
                "unit_amount": amount.minor,
                "product_data": {"name": non_empty("product_name", product_name)?},
            });
            if let Some(i) = interval {
                let (unit, count) = i.stripe();
                body["recurring"] = json!({"interval": unit, "interval_count": count});
            }
            (Method::Post, "/v1/prices".into(), body)
        }
        Operation::CreatePaymentLink {
            price,
            quantity,
            redirect_url,
            metadata: m,
            extra_params: _,
        } => {
            let mut body = json!({
                "line_items": [{"price": id_of("price", price)?, "quantity": quantity_of(*quantity)?}],
                "metadata": metadata(m)?,
                "payment_intent_data": {"metadata": metadata(m)?},
            });
            if let Some(url) = redirect_url {
                body["after_completion"] = json!({"type": "redirect", "redirect": {"url": url}});
            }
            (Method::Post, "/v1/payment_links".into(), body)
        }
        Operation::CreateCheckoutSession(c) => {
            (Method::Post, "/v1/checkout/sessions".into(), checkout(c)?)
        }
        Operation::CreateSubscription(s) => (
            Method::Post,
            "/v1/subscriptions".into(),
            json!({
                "customer": id_of("customer", &s.customer)?,
                "items": [price_item(None, &s.price)?],
                "default_payment_method": opt_id("default_payment_method", &s.default_payment_method)?,
                "metadata": metadata(&s.metadata)?,
            }),
        ),
        Operation::RetrieveSubscription { id } => (
            Method::Get,
            format!("/v1/subscriptions/{}", id_of("id", id)?),
            json!({}),
        ),
        Operation::ChangeSubscriptionPrice { id, item, price } => (
            Method::Post,
            format!("/v1/subscriptions/{}", id_of("id", id)?),
            json!({"items": [price_item(Some(item), price)?]}),
        ),
        Operation::CancelSubscription {
            id,
            at_period_end: true,
        } => (
            Method::Post,
            format!("/v1/subscriptions/{}", id_of("id", id)?),
            json!({"cancel_at_period_end": true}),
        ),
        Operation::CancelSubscription {
            id,
            at_period_end: false,
        } => (
            Method::Delete,
            format!("/v1/subscriptions/{}", id_of("id", id)?),
            json!({}),
        ),
        Operation::RetrieveAccount => (Method::Get, "/v1/account".into(), json!({})),
        Operation::RetrieveBalance => (Method::Get, "/v1/balance".into(), json!({})),
        Operation::List {
            list,
            created_gte,
            payout,
            starting_after,
            limit,
        } => {
            if !(1..=100).contains(limit) {
                return Err(RequestError::Invalid {
                    field: "limit",
                    reason: "must be 1 to 100".into(),
                });
            }
            if payout.is_some() && *list != ListKind::BalanceTransactions {
                return Err(RequestError::Invalid {
                    field: "payout",
                    reason: "only the balance_transactions list can be filtered by payout".into(),
                });
            }
            let path = match list {
                ListKind::Events => "/v1/events",
                ListKind::Charges => "/v1/charges",
                ListKind::Refunds => "/v1/refunds",
                ListKind::Payouts => "/v1/payouts",
                ListKind::BalanceTransactions => "/v1/balance_transactions",
            };
            let body = json!({
                "limit": limit,
                "starting_after": opt_id("starting_after", starting_after)?,
                "created": created_gte.map(|t| json!({"gte": t})),
                "payout": opt_id("payout", payout)?,
            });
            (Method::Get, path.into(), body)
        }
    })
}

fn checkout(c: &CheckoutInput) -> Result<Value, RequestError> {
    if c.line_items.is_empty() {
        return Err(RequestError::Missing("line_items"));
    }
    let currency = c.line_items[0].amount.currency;
    let mut items = Vec::new();
    for line in &c.line_items {
        line.amount.check_chargeable()?;
        if line.amount.currency != currency {
            return Err(RequestError::Invalid {
                field: "line_items",
                reason: "every line must be in the same currency".into(),
            });
        }
        let recurring = match (c.mode, line.interval) {
            (CheckoutMode::Subscription, Some(i)) => {
                let (unit, count) = i.stripe();
                Some(json!({"interval": unit, "interval_count": count}))
            }
            (CheckoutMode::Subscription, None) => {
                return Err(RequestError::Invalid {
                    field: "line_items",
                    reason: "a subscription's lines need an interval".into(),
                });
            }
            (CheckoutMode::Payment, _) => None,
        };
        items.push(json!({
            "quantity": quantity_of(line.quantity)?,
            "price_data": {
                "currency": line.amount.currency.as_str(),
                "unit_amount": line.amount.minor,
                "product_data": {"name": non_empty("line_items.name", &line.name)?},
                "recurring": recurring,
            },
        }));
    }
    let meta = metadata(&c.metadata)?;
    let mut body = json!({
        "mode": match c.mode { CheckoutMode::Payment => "payment", CheckoutMode::Subscription => "subscription" },
        "line_items": items,
        "customer": opt_id("customer", &c.customer)?,
        "client_reference_id": c.client_reference_id,
        "expires_at": c.expires_at,
        "metadata": meta.clone(),
    });
    match c.mode {
        CheckoutMode::Payment => body["payment_intent_data"] = json!({"metadata": meta}),
        CheckoutMode::Subscription => body["subscription_data"] = json!({"metadata": meta}),
    }
    match c.ui_mode {
        UiMode::Hosted => {
            body["success_url"] = json!(non_empty("success_url", &c.success_url)?);
            body["cancel_url"] = json!(c.cancel_url);
        }
        UiMode::Embedded => {
            body["ui_mode"] = json!("embedded");
            body["return_url"] = json!(non_empty("success_url", &c.success_url)?);
        }
    }
    Ok(body)
}

/// Stripe's limits: 50 keys, keys up to 40 characters, values up to 500, no brackets in keys.
fn metadata(m: &BTreeMap<String, String>) -> Result<Value, RequestError> {
    if m.len() > 50 {
        return Err(RequestError::Invalid {
            field: "metadata",
            reason: "at most 50 keys".into(),
        });
    }
    let mut out = Map::new();
    for (k, v) in m {
        if k.is_empty() || k.chars().count() > 40 || k.contains(['[', ']']) {
            return Err(RequestError::Invalid {
                field: "metadata",
                reason: format!("key {k:?} must be 1 to 40 characters without brackets"),
            });
        }
        if v.chars().count() > 500 {
            return Err(RequestError::Invalid {
                field: "metadata",
                reason: format!("the value of {k:?} is longer than 500 characters"),
            });
        }
        out.insert(k.clone(), Value::String(v.clone()));
    }
    Ok(Value::Object(out))
}

fn id_of(field: &'static str, id: &str) -> Result<String, RequestError> {
    if !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(id.to_string())
    } else {
        Err(RequestError::InvalidId {
            field,
            value: id.chars().take(64).collect(),
        })
    }
}

/// A subscription item for a price (`price_…`), or for a plan of the older Plans API under
/// `plan` (plans have ids of their own choosing; Stripe still takes them there).
fn price_item(item: Option<&str>, price: &str) -> Result<Value, RequestError> {
    let price = id_of("price", price)?;
    let mut it = if price.starts_with("price_") {
        json!({"price": price})
    } else {
        json!({"plan": price})
    };
    if let Some(item) = item {
        it["id"] = json!(id_of("item", item)?);
    }
    Ok(it)
}

fn opt_id(field: &'static str, id: &Option<String>) -> Result<Option<String>, RequestError> {
    id.as_deref().map(|i| id_of(field, i)).transpose()
}

fn non_empty(field: &'static str, text: &str) -> Result<String, RequestError> {
    if text.trim().is_empty() {
        Err(RequestError::Missing(field))
    } else {
        Ok(text.to_string())
    }
}

fn quantity_of(q: u32) -> Result<u32, RequestError> {
    if q == 0 {
        Err(RequestError::Invalid {
            field: "quantity",
            reason: "must be at least 1".into(),
        })
    } else {
        Ok(q)
    }
}
