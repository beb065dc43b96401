//! The Stripe objects the payment domain reads, with only the fields it needs.

use alloc::string::String;

use super::raw::{Field, IdRef, RawObject};
use super::{DecodeError, MAX_AMOUNT};
use crate::money::Currency;

/// An object's `metadata`: string keys to string values, as Stripe stores them.
pub type Metadata = crate::SortedMap<String, String>;

/// The `data.object` of an event, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeObject {
    /// `payment_intent`
    PaymentIntent(PaymentIntent),
    /// `charge`
    Charge(Charge),
    /// `refund`
    Refund(Refund),
    /// `dispute`
    Dispute(Dispute),
    /// `checkout.session`
    CheckoutSession(CheckoutSession),
    /// `invoice`
    Invoice(Invoice),
    /// `subscription`
    Subscription(Subscription),
    /// `payout`
    Payout(Payout),
    /// `radar.early_fraud_warning`
    EarlyFraudWarning(EarlyFraudWarning),
    /// Any other kind; only its name and id are kept.
    Other(UnknownObject),
}

/// An object of a kind the domain does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownObject {
    /// The `object` field, e.g. `customer`; empty when absent.
    pub object: String,
    /// The `id` field, when present.
    pub id: Option<String>,
}

/// Why a payment attempt failed (`last_payment_error`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentError {
    /// `code`, e.g. `card_declined`.
    pub code: Option<String>,
    /// `decline_code`, e.g. `generic_decline`.
    pub decline_code: Option<String>,
    /// The message Stripe shows.
    pub message: Option<String>,
}

/// What the customer must do next (`next_action`), e.g. 3-D Secure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextAction {
    /// `type`, e.g. `redirect_to_url` or `use_stripe_sdk`.
    pub kind: String,
    /// Where to send the customer, for `redirect_to_url`.
    pub redirect_url: Option<String>,
}

/// A PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    /// `pi_…`
    pub id: String,
    /// The amount to collect, in minor units.
    pub amount: i64,
    /// The amount collected so far.
    pub amount_received: i64,
    /// The currency.
    pub currency: Currency,
    /// `status`, e.g. `succeeded`.
    pub status: String,
    /// `cus_…`
    pub customer: Option<String>,
    /// The latest charge (`latest_charge`, or the first of `charges` before API 2022-11-15).
    pub latest_charge: Option<String>,
    /// Why the last attempt failed.
    pub last_payment_error: Option<PaymentError>,
    /// What the customer must do next.
    pub next_action: Option<NextAction>,
    /// `metadata`
    pub metadata: Metadata,
}

/// A Charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// `ch_…`
    pub id: String,
    /// The amount charged.
    pub amount: i64,
    /// The amount captured (`amount_captured`; before it existed, `amount` when `captured`).
    pub amount_captured: i64,
    /// The total refunded so far.
    pub amount_refunded: i64,
    /// True once fully refunded.
    pub refunded: bool,
    /// The currency.
    pub currency: Currency,
    /// `status`: `succeeded`, `pending` or `failed`.
    pub status: String,
    /// `pi_…`
    pub payment_intent: Option<String>,
    /// `cus_…`
    pub customer: Option<String>,
    /// `failure_code`
    pub failure_code: Option<String>,
    /// `failure_message`
    pub failure_message: Option<String>,
    /// `metadata`
    pub metadata: Metadata,
}

/// A Refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// `re_…`
    pub id: String,
    /// The amount refunded.
    pub amount: i64,
    /// The currency.
    pub currency: Currency,
    /// `status`: `pending`, `succeeded`, `failed`, `canceled`, `requires_action`.
    pub status: String,
    /// `ch_…`
    pub charge: Option<String>,
    /// `pi_…`
    pub payment_intent: Option<String>,
    /// `reason`
    pub reason: Option<String>,
    /// `failure_reason`
    pub failure_reason: Option<String>,
    /// `metadata`
    pub metadata: Metadata,
}

/// A Dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    /// `dp_…` (or `du_…`)
    pub id: String,
    /// The disputed amount.
    pub amount: i64,
    /// The currency.
    pub currency: Currency,
    /// `status`, e.g. `needs_response`, `won`, `lost`.
    pub status: String,
    /// `reason`, e.g. `fraudulent`.
    pub reason: Option<String>,
    /// `ch_…`
    pub charge: Option<String>,
    /// `pi_…`
    pub payment_intent: Option<String>,
    /// `metadata`
    pub metadata: Metadata,
}

/// A Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// `cs_…`
    pub id: String,
    /// `status`: `open`, `complete`, `expired`.
    pub status: Option<String>,
    /// `payment_status`: `paid`, `unpaid`, `no_payment_required`.
    pub payment_status: Option<String>,
    /// `mode`: `payment`, `subscription`, `setup`.
    pub mode: Option<String>,
    /// The total, when known.
    pub amount_total: Option<i64>,
    /// The currency, when known.
    pub currency: Option<Currency>,
    /// `pi_…`
    pub payment_intent: Option<String>,
    /// `in_…`
    pub invoice: Option<String>,
    /// `sub_…`
    pub subscription: Option<String>,
    /// `cus_…`
    pub customer: Option<String>,
    /// `plink_…`
    pub payment_link: Option<String>,
    /// `client_reference_id`
    pub client_reference_id: Option<String>,
    /// When an open session expires.
    pub expires_at: Option<i64>,
    /// `metadata`
    pub metadata: Metadata,
}

/// An Invoice (Stripe's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// `in_…`
    pub id: String,
    /// `status`: `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: Option<String>,
    /// `amount_due`
    pub amount_due: i64,
    /// `amount_paid`
    pub amount_paid: i64,
    /// The currency.
    pub currency: Currency,
    /// `cus_…`
    pub customer: Option<String>,
    /// `sub_…` (top-level before API 2025-03-31, `parent.subscription_details` after).
    pub subscription: Option<String>,
    /// `billing_reason`
    pub billing_reason: Option<String>,
    /// When Stripe will retry a failed payment.
    pub next_payment_attempt: Option<i64>,
    /// `metadata`
    pub metadata: Metadata,
}

/// A Subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `sub_…`
    pub id: String,
    /// `status`, e.g. `active`, `past_due`, `canceled`.
    pub status: String,
    /// `cus_…`
    pub customer: Option<String>,
    /// True when set to cancel at the end of the period.
    pub cancel_at_period_end: bool,
    /// End of the current period (top-level before API 2025-03-31, per item after).
    pub current_period_end: Option<i64>,
    /// `in_…`
    pub latest_invoice: Option<String>,
    /// `metadata`
    pub metadata: Metadata,
}

/// A Payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    /// `po_…`
    pub id: String,
    /// The amount paid out.
    pub amount: i64,
    /// The currency.
    pub currency: Currency,
    /// `status`: `paid`, `pending`, `in_transit`, `canceled`, `failed`.
    pub status: String,
    /// When it arrives (or arrived) at the bank.
    pub arrival_date: Option<i64>,
    /// `failure_code`
    pub failure_code: Option<String>,
    /// `failure_message`
    pub failure_message: Option<String>,
    /// `metadata`
    pub metadata: Metadata,
}

/// A Radar early fraud warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlyFraudWarning {
    /// `issfr_…`
    pub id: String,
    /// `ch_…`
    pub charge: Option<String>,
    /// `pi_…`
    pub payment_intent: Option<String>,
    /// `fraud_type`, e.g. `made_with_stolen_card`.
    pub fraud_type: Option<String>,
}

impl StripeObject {
    /// The object's `id`, for every kind.
    pub fn id(&self) -> Option<&str> {
        Some(match self {
            StripeObject::PaymentIntent(o) => &o.id,
            StripeObject::Charge(o) => &o.id,
            StripeObject::Refund(o) => &o.id,
            StripeObject::Dispute(o) => &o.id,
            StripeObject::CheckoutSession(o) => &o.id,
            StripeObject::Invoice(o) => &o.id,
            StripeObject::Subscription(o) => &o.id,
            StripeObject::Payout(o) => &o.id,
            StripeObject::EarlyFraudWarning(o) => &o.id,
            StripeObject::Other(o) => return o.id.as_deref(),
        })
    }

    /// The object's `metadata`, for the kinds that carry it.
    pub fn metadata(&self) -> Option<&Metadata> {
        match self {
            StripeObject::PaymentIntent(o) => Some(&o.metadata),
            StripeObject::Charge(o) => Some(&o.metadata),
            StripeObject::Refund(o) => Some(&o.metadata),
            StripeObject::Dispute(o) => Some(&o.metadata),
            StripeObject::CheckoutSession(o) => Some(&o.metadata),
            StripeObject::Invoice(o) => Some(&o.metadata),
            StripeObject::Subscription(o) => Some(&o.metadata),
            StripeObject::Payout(o) => Some(&o.metadata),
            StripeObject::EarlyFraudWarning(_) | StripeObject::Other(_) => None,
        }
    }

    pub(super) fn from_raw(raw: RawObject) -> Result<Self, DecodeError> {
        let kind = raw.object.clone().ok().unwrap_or_default();
        let mut r = Reader { raw };
        Ok(match kind.as_str() {
            "payment_intent" => StripeObject::PaymentIntent(PaymentIntent {
                id: r.id()?,
                amount: r.amount("data.object.amount", |o| &o.amount)?,
                amount_received: r.amount_or_zero("data.object.amount_received", |o| &o.amount_received)?,
                currency: r.currency()?,
                status: r.required("data.object.status", |o| &mut o.status)?,
                customer: r.id_ref(|o| &mut o.customer),
                latest_charge: r
                    .id_ref(|o| &mut o.latest_charge)
                    .or_else(|| r.raw.charges.as_ref().ok().and_then(|l| l.items().first()).and_then(|c| c.id.clone().ok())),
                last_payment_error: core::mem::take(&mut r.raw.last_payment_error).ok().map(|e| PaymentError {
                    code: e.code.ok(),
                    decline_code: e.decline_code.ok(),
                    message: e.message.ok(),
                }),
                next_action: core::mem::take(&mut r.raw.next_action).ok().map(|a| NextAction {
                    kind: a.kind.ok().unwrap_or_default(),
                    redirect_url: a.redirect_to_url.ok().and_then(|u| u.url.ok()),
                }),
                metadata: r.metadata(),
            }),
            "charge" => {
                let amount = r.amount("data.object.amount", |o| &o.amount)?;
                let captured = r.raw.captured.as_ref().ok().copied().unwrap_or(false);
                let amount_captured = match r.raw.amount_captured {
                    Field::Absent | Field::Null => if captured { amount } else { 0 },
                    _ => r.amount("data.object.amount_captured", |o| &o.amount_captured)?,
                };
                StripeObject::Charge(Charge {
                    id: r.id()?,
                    amount,
                    amount_captured,
                    amount_refunded: r.amount_or_zero("data.object.amount_refunded", |o| &o.amount_refunded)?,
                    refunded: r.raw.refunded.as_ref().ok().copied().unwrap_or(false),
                    currency: r.currency()?,
                    status: r.required("data.object.status", |o| &mut o.status)?,
                    payment_intent: r.id_ref(|o| &mut o.payment_intent),
                    customer: r.id_ref(|o| &mut o.customer),
                    failure_code: r.text(|o| &mut o.failure_code),
                    failure_message: r.text(|o| &mut o.failure_message),
                    metadata: r.metadata(),
                })
            }
            "refund" => StripeObject::Refund(Refund {
                id: r.id()?,
                amount: r.amount("data.object.amount", |o| &o.amount)?,
                currency: r.currency()?,
                status: r.text(|o| &mut o.status).unwrap_or_default(),
                charge: r.id_ref(|o| &mut o.charge),
                payment_intent: r.id_ref(|o| &mut o.payment_intent),
                reason: r.text(|o| &mut o.reason),
                failure_reason: r.text(|o| &mut o.failure_reason),
                metadata: r.metadata(),
            }),
            "dispute" => StripeObject::Dispute(Dispute {
                id: r.id()?,
                amount: r.amount("data.object.amount", |o| &o.amount)?,
                currency: r.currency()?,
                status: r.required("data.object.status", |o| &mut o.status)?,
                reason: r.text(|o| &mut o.reason),
                charge: r.id_ref(|o| &mut o.charge),
                payment_intent: r.id_ref(|o| &mut o.payment_intent),
                metadata: r.metadata(),
            }),
            "checkout.session" => StripeObject::CheckoutSession(CheckoutSession {
                id: r.id()?,
                status: r.text(|o| &mut o.status),
                payment_status: r.text(|o| &mut o.payment_status),
                mode: r.text(|o| &mut o.mode),
                amount_total: r.optional_amount("data.object.amount_total", |o| &o.amount_total)?,
                currency: r.optional_currency()?,
                payment_intent: r.id_ref(|o| &mut o.payment_intent),
                invoice: r.id_ref(|o| &mut o.invoice),
                subscription: r.id_ref(|o| &mut o.subscription),
                customer: r.id_ref(|o| &mut o.customer),
                payment_link: r.id_ref(|o| &mut o.payment_link),
                client_reference_id: r.text(|o| &mut o.client_reference_id),
                expires_at: r.raw.expires_at.as_ref().ok().copied(),
                metadata: r.metadata(),
            }),
            "invoice" => StripeObject::Invoice(Invoice {
                id: r.id()?,
                status: r.text(|o| &mut o.status),
                amount_due: r.amount_or_zero("data.object.amount_due", |o| &o.amount_due)?,
                amount_paid: r.amount_or_zero("data.object.amount_paid", |o| &o.amount_paid)?,
                currency: r.currency()?,
                customer: r.id_ref(|o| &mut o.customer),
                subscription: r.id_ref(|o| &mut o.subscription).or_else(|| {
                    core::mem::take(&mut r.raw.parent)
                        .ok()
                        .and_then(|p| p.subscription_details.ok())
                        .and_then(|d| d.subscription.ok())
                        .map(|IdRef(id)| id)
                }),
                billing_reason: r.text(|o| &mut o.billing_reason),
                next_payment_attempt: r.raw.next_payment_attempt.as_ref().ok().copied(),
                metadata: r.metadata(),
            }),
            "subscription" => StripeObject::Subscription(Subscription {
                id: r.id()?,
                status: r.required("data.object.status", |o| &mut o.status)?,
                customer: r.id_ref(|o| &mut o.customer),
                cancel_at_period_end: r.raw.cancel_at_period_end.as_ref().ok().copied().unwrap_or(false),
                current_period_end: r.raw.current_period_end.as_ref().ok().copied().or_else(|| {
                    r.raw.items.as_ref().ok().and_then(|l| l.items().iter().filter_map(|i| i.current_period_end.as_ref().ok().copied()).max())
                }),
                latest_invoice: r.id_ref(|o| &mut o.latest_invoice),
                metadata: r.metadata(),
            }),
            "payout" => StripeObject::Payout(Payout {
                id: r.id()?,
                amount: r.amount("data.object.amount", |o| &o.amount)?,
                currency: r.currency()?,
                status: r.required("data.object.status", |o| &mut o.status)?,
                arrival_date: r.raw.arrival_date.as_ref().ok().copied(),
                failure_code: r.text(|o| &mut o.failure_code),
                failure_message: r.text(|o| &mut o.failure_message),
                metadata: r.metadata(),
            }),
            "radar.early_fraud_warning" => StripeObject::EarlyFraudWarning(EarlyFraudWarning {
                id: r.id()?,
                charge: r.id_ref(|o| &mut o.charge),
                payment_intent: r.id_ref(|o| &mut o.payment_intent),
                fraud_type: r.text(|o| &mut o.fraud_type),
            }),
            _ => StripeObject::Other(UnknownObject { object: kind, id: r.raw.id.ok() }),
        })
    }
}

/// Takes fields out of a raw object, turning wrong types in fields the domain needs into errors.
struct Reader {
    raw: RawObject,
}

impl Reader {
    fn id(&mut self) -> Result<String, DecodeError> {
        self.required("data.object.id", |o| &mut o.id)
    }

    fn required(&mut self, field: &'static str, get: impl FnOnce(&mut RawObject) -> &mut Field<String>) -> Result<String, DecodeError> {
        match core::mem::take(get(&mut self.raw)) {
            Field::Value(v) => Ok(v),
            Field::Invalid => Err(DecodeError::WrongType { field: field.into(), expected: "a string".into() }),
            Field::Absent | Field::Null => Err(DecodeError::MissingField { field: field.into() }),
        }
    }

    fn text(&mut self, get: impl FnOnce(&mut RawObject) -> &mut Field<String>) -> Option<String> {
        core::mem::take(get(&mut self.raw)).ok()
    }

    fn id_ref(&mut self, get: impl FnOnce(&mut RawObject) -> &mut Field<IdRef>) -> Option<String> {
        core::mem::take(get(&mut self.raw)).ok().map(|IdRef(id)| id)
    }

    fn metadata(&mut self) -> Metadata {
        core::mem::take(&mut self.raw.metadata).ok().unwrap_or_default()
    }

    fn optional_amount(&self, field: &'static str, get: impl FnOnce(&RawObject) -> &Field<i64>) -> Result<Option<i64>, DecodeError> {
        match get(&self.raw) {
            Field::Value(v) if (0..=MAX_AMOUNT).contains(v) => Ok(Some(*v)),
            Field::Value(v) => Err(DecodeError::InvalidAmount { field: field.into(), value: *v }),
            // A number beyond i64, a fraction or a string: not an amount Stripe could send.
            Field::Invalid => Err(DecodeError::InvalidAmount { field: field.into(), value: i64::MAX }),
            Field::Absent | Field::Null => Ok(None),
        }
    }

    fn amount(&self, field: &'static str, get: impl FnOnce(&RawObject) -> &Field<i64>) -> Result<i64, DecodeError> {
        self.optional_amount(field, get)?.ok_or_else(|| DecodeError::MissingField { field: field.into() })
    }

    fn amount_or_zero(&self, field: &'static str, get: impl FnOnce(&RawObject) -> &Field<i64>) -> Result<i64, DecodeError> {
        Ok(self.optional_amount(field, get)?.unwrap_or(0))
    }

    fn optional_currency(&mut self) -> Result<Option<Currency>, DecodeError> {
        match core::mem::take(&mut self.raw.currency) {
            Field::Value(code) => Currency::parse(&code)
                .map(Some)
                .map_err(|_| DecodeError::InvalidCurrency { value: code }),
            Field::Invalid => Err(DecodeError::InvalidCurrency { value: String::new() }),
            Field::Absent | Field::Null => Ok(None),
        }
    }

    fn currency(&mut self) -> Result<Currency, DecodeError> {
        self.optional_currency()?.ok_or_else(|| DecodeError::MissingField { field: "data.object.currency".into() })
    }
}
