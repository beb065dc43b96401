//! What a host asks of Stripe, and the request each becomes.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{Method, Request, RequestError};
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

impl RefundReason {
    /// Stripe's name for it, e.g. `requested_by_customer`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::RequestedByCustomer => "requested_by_customer",
            RefundReason::Duplicate => "duplicate",
            RefundReason::Fraudulent => "fraudulent",
        }
    }
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
    pub metadata: crate::event::Metadata,
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
    pub metadata: crate::event::Metadata,
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
    pub metadata: crate::event::Metadata,
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
    pub metadata: crate::event::Metadata,
}

/// Something to ask of Stripe. Serialized as `{"op": "create_refund", …}` for hosts that pass it
/// as JSON, and read back from that form by a `Deserialize` written out in `operation/json.rs`.
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
        metadata: crate::event::Metadata,
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
        metadata: crate::event::Metadata,
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

/// Why [`build_json`] refused.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The text is not an operation (see [`Operation::from_json`]).
    #[error("not a Stripe operation: {0}")]
    Operation(serde_json::Error),
    /// The operation cannot be sent (see [`build`]).
    #[error(transparent)]
    Request(RequestError),
}

/// Reads an operation from its JSON form and builds its request: [`Operation::from_json`],
/// then [`build`]. The operation is dropped here, so a caller that only has the text (the
/// WebAssembly component) carries no code of its own for it (1.1 KB there).
pub fn build_json(text: &str, idempotency_key: Option<&str>) -> Result<Request, BuildError> {
    let op = Operation::from_json(text).map_err(BuildError::Operation)?;
    build(&op, idempotency_key).map_err(BuildError::Request)
}

/// Builds the request for `op`. `idempotency_key` is required for creating calls (see
/// [`Operation::creates`]) and ignored for reads.
pub fn build(op: &Operation, idempotency_key: Option<&str>) -> Result<Request, RequestError> {
    let (method, path, form) = route(op)?;
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
    let mut params = form.into_params();
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

/// A request's form pairs as a route adds them, each name already in Stripe's bracket syntax
/// (`metadata[invoice_id]`, `line_items[0][price_data][currency]`). Absent values add nothing;
/// the pairs are sorted by name at the end, so the order they are added in does not matter.
///
/// Written out rather than built as a JSON value and flattened: that took the component's
/// largest function and a serializer for every type put into a value.
#[derive(Default)]
struct Form(Vec<(String, String)>);

impl Form {
    fn text(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    fn opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(name, value);
        }
    }

    fn number(&mut self, name: &str, n: i64) {
        self.text(name, n.to_string());
    }

    /// `name[key]=value` for each entry of metadata that [`check_metadata`] accepted.
    fn metadata(&mut self, name: &str, m: &crate::event::Metadata) {
        for (k, v) in m {
            self.text(format!("{name}[{k}]"), v.as_str());
        }
    }

    /// `{name}[interval]` and `{name}[interval_count]`.
    fn recurring(&mut self, name: &str, interval: Interval) {
        let (unit, count) = interval.stripe();
        self.text(format!("{name}[interval]"), unit);
        self.number(&format!("{name}[interval_count]"), count.into());
    }

    fn into_params(mut self) -> Vec<(String, String)> {
        super::params::sort(&mut self.0);
        self.0
    }
}

fn route(op: &Operation) -> Result<(Method, String, Form), RequestError> {
    let mut form = Form::default();
    let (method, path) = match op {
        Operation::CreatePaymentIntent(p) => {
            p.amount.check_chargeable()?;
            if p.confirm && p.payment_method.is_none() {
                return Err(RequestError::Missing("payment_method (to confirm at once)"));
            }
            form.number("amount", p.amount.minor);
            form.text("currency", p.amount.currency.as_str());
            form.text("payment_method_types[0]", "card");
            form.opt("customer", opt_id("customer", &p.customer)?);
            form.opt("payment_method", opt_id("payment_method", &p.payment_method)?);
            form.opt("description", p.description.as_deref());
            form.metadata("metadata", check_metadata(&p.metadata)?);
            if p.confirm {
                form.text("confirm", "true");
                form.opt("return_url", p.return_url.as_deref());
            }
            (Method::Post, "/v1/payment_intents".into())
        }
        Operation::ConfirmPaymentIntent {
            id,
            payment_method,
            return_url,
        } => {
            let path = format!("/v1/payment_intents/{}/confirm", id_of("id", id)?);
            form.opt("payment_method", opt_id("payment_method", payment_method)?);
            form.opt("return_url", return_url.as_deref());
            (Method::Post, path)
        }
        Operation::RetrievePaymentIntent { id } => {
            (Method::Get, format!("/v1/payment_intents/{}", id_of("id", id)?))
        }
        Operation::CancelPaymentIntent { id } => {
            (Method::Post, format!("/v1/payment_intents/{}/cancel", id_of("id", id)?))
        }
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
            form.text("payment_intent", id_of("payment_intent", &r.payment_intent)?);
            if let Some(amount) = amount {
                form.number("amount", amount);
            }
            form.opt("reason", r.reason.map(RefundReason::as_str));
            form.metadata("metadata", check_metadata(&r.metadata)?);
            (Method::Post, "/v1/refunds".into())
        }
        Operation::CreateCustomer {
            email,
            name,
            payment_method,
            metadata,
        } => {
            let pm = opt_id("payment_method", payment_method)?;
            form.opt("email", email.as_deref());
            form.opt("name", name.as_deref());
            form.metadata("metadata", check_metadata(metadata)?);
            if let Some(pm) = pm {
                form.text("invoice_settings[default_payment_method]", pm);
                form.text("payment_method", pm);
            }
            (Method::Post, "/v1/customers".into())
        }
        Operation::CreatePrice {
            product_name,
            amount,
            interval,
        } => {
            amount.check_chargeable()?;
            form.text("currency", amount.currency.as_str());
            form.number("unit_amount", amount.minor);
            form.text("product_data[name]", non_empty("product_name", product_name)?);
            if let Some(i) = interval {
                form.recurring("recurring", *i);
            }
            (Method::Post, "/v1/prices".into())
        }
        Operation::CreatePaymentLink {
            price,
            quantity,
            redirect_url,
            metadata,
            extra_params: _,
        } => {
            form.text("line_items[0][price]", id_of("price", price)?);
            form.number("line_items[0][quantity]", quantity_of(*quantity)?.into());
            let metadata = check_metadata(metadata)?;
            form.metadata("metadata", metadata);
            form.metadata("payment_intent_data[metadata]", metadata);
            if let Some(url) = redirect_url {
                form.text("after_completion[type]", "redirect");
                form.text("after_completion[redirect][url]", url.as_str());
            }
            (Method::Post, "/v1/payment_links".into())
        }
        Operation::CreateCheckoutSession(c) => {
            checkout(c, &mut form)?;
            (Method::Post, "/v1/checkout/sessions".into())
        }
        Operation::CreateSubscription(s) => {
            form.text("customer", id_of("customer", &s.customer)?);
            price_item(&mut form, "items[0]", None, &s.price)?;
            form.opt(
                "default_payment_method",
                opt_id("default_payment_method", &s.default_payment_method)?,
            );
            form.metadata("metadata", check_metadata(&s.metadata)?);
            (Method::Post, "/v1/subscriptions".into())
        }
        Operation::RetrieveSubscription { id } => {
            (Method::Get, format!("/v1/subscriptions/{}", id_of("id", id)?))
        }
        Operation::ChangeSubscriptionPrice { id, item, price } => {
            let path = format!("/v1/subscriptions/{}", id_of("id", id)?);
            price_item(&mut form, "items[0]", Some(item), price)?;
            (Method::Post, path)
        }
        Operation::CancelSubscription { id, at_period_end } => {
            let path = format!("/v1/subscriptions/{}", id_of("id", id)?);
            if *at_period_end {
                form.text("cancel_at_period_end", "true");
                (Method::Post, path)
            } else {
                (Method::Delete, path)
            }
        }
        Operation::RetrieveAccount => (Method::Get, "/v1/account".into()),
        Operation::RetrieveBalance => (Method::Get, "/v1/balance".into()),
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
            form.number("limit", (*limit).into());
            form.opt("starting_after", opt_id("starting_after", starting_after)?);
            if let Some(t) = created_gte {
                form.number("created[gte]", *t);
            }
            form.opt("payout", opt_id("payout", payout)?);
            (Method::Get, path.into())
        }
    };
    Ok((method, path, form))
}

fn checkout(c: &CheckoutInput, form: &mut Form) -> Result<(), RequestError> {
    if c.line_items.is_empty() {
        return Err(RequestError::Missing("line_items"));
    }
    let currency = c.line_items[0].amount.currency;
    for (i, line) in c.line_items.iter().enumerate() {
        line.amount.check_chargeable()?;
        if line.amount.currency != currency {
            return Err(RequestError::Invalid {
                field: "line_items",
                reason: "every line must be in the same currency".into(),
            });
        }
        let recurring = match (c.mode, line.interval) {
            (CheckoutMode::Subscription, Some(i)) => Some(i),
            (CheckoutMode::Subscription, None) => {
                return Err(RequestError::Invalid {
                    field: "line_items",
                    reason: "a subscription's lines need an interval".into(),
                });
            }
            (CheckoutMode::Payment, _) => None,
        };
        let item = format!("line_items[{i}]");
        form.number(&format!("{item}[quantity]"), quantity_of(line.quantity)?.into());
        let price = format!("{item}[price_data]");
        form.text(format!("{price}[currency]"), line.amount.currency.as_str());
        form.number(&format!("{price}[unit_amount]"), line.amount.minor);
        form.text(format!("{price}[product_data][name]"), non_empty("line_items.name", &line.name)?);
        if let Some(interval) = recurring {
            form.recurring(&format!("{price}[recurring]"), interval);
        }
    }
    let metadata = check_metadata(&c.metadata)?;
    form.text(
        "mode",
        match c.mode {
            CheckoutMode::Payment => "payment",
            CheckoutMode::Subscription => "subscription",
        },
    );
    form.opt("customer", opt_id("customer", &c.customer)?);
    form.opt("client_reference_id", c.client_reference_id.as_deref());
    if let Some(t) = c.expires_at {
        form.number("expires_at", t);
    }
    form.metadata("metadata", metadata);
    match c.mode {
        CheckoutMode::Payment => form.metadata("payment_intent_data[metadata]", metadata),
        CheckoutMode::Subscription => form.metadata("subscription_data[metadata]", metadata),
    }
    match c.ui_mode {
        UiMode::Hosted => {
            form.text("success_url", non_empty("success_url", &c.success_url)?);
            form.opt("cancel_url", c.cancel_url.as_deref());
        }
        UiMode::Embedded => {
            form.text("ui_mode", "embedded");
            form.text("return_url", non_empty("success_url", &c.success_url)?);
        }
    }
    Ok(())
}

/// Stripe's limits: 50 keys, keys up to 40 characters, values up to 500, no brackets in keys.
fn check_metadata(m: &crate::event::Metadata) -> Result<&crate::event::Metadata, RequestError> {
    if m.len() > 50 {
        return Err(RequestError::Invalid {
            field: "metadata",
            reason: "at most 50 keys".into(),
        });
    }
    for (k, v) in m {
        if k.is_empty() || super::char_count(k) > 40 || k.contains(['[', ']']) {
            return Err(RequestError::Invalid {
                field: "metadata",
                reason: format!("key {} must be 1 to 40 characters without brackets", crate::json::Quoted(k)),
            });
        }
        if super::char_count(v) > 500 {
            return Err(RequestError::Invalid {
                field: "metadata",
                reason: format!("the value of {} is longer than 500 characters", crate::json::Quoted(k)),
            });
        }
    }
    Ok(m)
}

fn id_of<'a>(field: &'static str, id: &'a str) -> Result<&'a str, RequestError> {
    if !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(id)
    } else {
        Err(RequestError::InvalidId {
            field,
            value: id.chars().take(64).collect(),
        })
    }
}

/// A subscription item for a price (`price_…`), or for a plan of the older Plans API under
/// `plan` (plans have ids of their own choosing; Stripe still takes them there), as the pairs
/// of `name`.
fn price_item(form: &mut Form, name: &str, item: Option<&str>, price: &str) -> Result<(), RequestError> {
    let price = id_of("price", price)?;
    let key = if price.starts_with("price_") { "price" } else { "plan" };
    form.text(format!("{name}[{key}]"), price);
    if let Some(item) = item {
        form.text(format!("{name}[id]"), id_of("item", item)?);
    }
    Ok(())
}

fn opt_id<'a>(field: &'static str, id: &'a Option<String>) -> Result<Option<&'a str>, RequestError> {
    id.as_deref().map(|i| id_of(field, i)).transpose()
}

fn non_empty<'a>(field: &'static str, text: &'a str) -> Result<&'a str, RequestError> {
    if text.trim().is_empty() {
        Err(RequestError::Missing(field))
    } else {
        Ok(text)
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
