//! What an event establishes about a payment: zero or more [`Fact`]s.
//!
//! Facts are the engine's vocabulary between Stripe and the state machines. Each carries the
//! event it came from (`event_id`, `occurred_at`), the Stripe ids it concerns ([`Subject`]) and
//! the host's own record ids found in metadata ([`Links`]), so a host can route it to an
//! invoice, an appointment, a payment or a subscription.

use alloc::string::String;
use alloc::vec::Vec;

use crate::event::{Event, EventId, KnownEventType as K, Metadata, NextAction, StripeObject};
use crate::money::{Currency, Money};

/// One thing an event establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    /// The event that established it.
    pub event_id: EventId,
    /// The event's `created` time (unix seconds); orders facts of the same kind.
    pub occurred_at: i64,
    /// What happened.
    pub kind: FactKind,
    /// The Stripe objects concerned.
    pub subject: Subject,
    /// The host's records named in the object's metadata.
    pub links: Links,
}

/// The Stripe ids a fact concerns; any may be absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subject {
    /// `pi_…`
    pub payment_intent: Option<String>,
    /// `ch_…`
    pub charge: Option<String>,
    /// `cs_…`
    pub checkout_session: Option<String>,
    /// Stripe's `in_…`
    pub invoice: Option<String>,
    /// `sub_…`
    pub subscription: Option<String>,
    /// `cus_…`
    pub customer: Option<String>,
    /// `re_…`
    pub refund: Option<String>,
    /// `dp_…`
    pub dispute: Option<String>,
    /// `po_…`
    pub payout: Option<String>,
}

/// The host's own record ids, read from the object's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Links {
    /// `metadata.invoice_id`: the host's invoice this payment settles.
    pub invoice_id: Option<String>,
    /// `metadata.appointment_id` (or `booking_id`): the booking this payment holds.
    pub appointment_id: Option<String>,
    /// `metadata.customer_id`: the host's customer.
    pub customer_id: Option<String>,
}

/// What happened, with the figures that matter for it. Amounts are in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactKind {
    /// The payment was collected.
    PaymentSucceeded {
        /// The amount received.
        amount: Money,
    },
    /// An attempt failed; the customer may retry.
    PaymentFailed {
        /// The amount that was attempted.
        amount: Money,
        /// Stripe's failure code, e.g. `card_declined`.
        code: Option<String>,
        /// Stripe's failure message.
        message: Option<String>,
    },
    /// A delayed payment method is processing.
    PaymentProcessing {
        /// The amount in flight.
        amount: Money,
    },
    /// The customer must act (3-D Secure).
    PaymentRequiresAction {
        /// The amount awaiting action.
        amount: Money,
        /// What to do next.
        next_action: Option<NextAction>,
    },
    /// The PaymentIntent was canceled; no money will move.
    PaymentCanceled,
    /// A Checkout Session completed with the money collected.
    CheckoutCompletedPaid {
        /// The total, when the session has one.
        amount: Option<Money>,
    },
    /// A Checkout Session completed but a delayed method has not paid yet: do not confirm yet.
    CheckoutCompletedUnpaid,
    /// The delayed payment of a completed session succeeded.
    CheckoutAsyncPaymentSucceeded {
        /// The total, when the session has one.
        amount: Option<Money>,
    },
    /// The delayed payment of a completed session failed.
    CheckoutAsyncPaymentFailed,
    /// The session expired unpaid; a held slot may be released.
    CheckoutExpired,
    /// A charge was refunded, in full or in part. `refunded` is the cumulative total.
    Refunded {
        /// The amount captured on the charge.
        captured: Money,
        /// The total refunded so far (cumulative).
        refunded: Money,
    },
    /// A refund failed; the money stays with the merchant.
    RefundFailed {
        /// The refund's amount.
        amount: Money,
        /// `failure_reason`
        reason: Option<String>,
    },
    /// A dispute was opened on a charge.
    DisputeOpened {
        /// The disputed amount.
        amount: Money,
        /// The dispute reason, e.g. `fraudulent`.
        reason: Option<String>,
    },
    /// A dispute closed in the merchant's favour.
    DisputeWon,
    /// A dispute closed in the customer's favour.
    DisputeLost {
        /// The amount lost.
        amount: Money,
    },
    /// Radar warned that the charge is likely fraudulent.
    EarlyFraudWarning {
        /// `fraud_type`
        fraud_type: Option<String>,
    },
    /// A subscription was created.
    SubscriptionCreated {
        /// Its status.
        status: String,
        /// End of its current period.
        current_period_end: Option<i64>,
    },
    /// A subscription changed (plan, status, cancellation at period end).
    SubscriptionUpdated {
        /// Its status.
        status: String,
        /// End of its current period.
        current_period_end: Option<i64>,
        /// True when set to cancel at the period's end.
        cancel_at_period_end: bool,
    },
    /// A subscription's payment failed and it is past due.
    SubscriptionPastDue {
        /// End of its current period.
        current_period_end: Option<i64>,
    },
    /// A subscription ended.
    SubscriptionCanceled,
    /// A Stripe invoice was finalized and can be paid.
    InvoiceFinalized {
        /// The amount due.
        amount_due: Money,
    },
    /// A Stripe invoice was paid.
    InvoicePaid {
        /// The amount paid.
        amount_paid: Money,
    },
    /// A Stripe invoice's payment failed; Stripe may retry.
    InvoicePaymentFailed {
        /// The amount due.
        amount_due: Money,
        /// When Stripe will retry, if it will.
        next_payment_attempt: Option<i64>,
    },
    /// A payout reached the bank.
    PayoutPaid {
        /// The amount paid out.
        amount: Money,
        /// When it arrived.
        arrival_date: Option<i64>,
    },
    /// A payout failed.
    PayoutFailed {
        /// The amount.
        amount: Money,
        /// `failure_code`
        code: Option<String>,
        /// `failure_message`
        message: Option<String>,
    },
}

impl FactKind {
    /// A stable snake_case name, e.g. `payment_succeeded`, for logs and hosts.
    pub fn name(&self) -> &'static str {
        match self {
            FactKind::PaymentSucceeded { .. } => "payment_succeeded",
            FactKind::PaymentFailed { .. } => "payment_failed",
            FactKind::PaymentProcessing { .. } => "payment_processing",
            FactKind::PaymentRequiresAction { .. } => "payment_requires_action",
            FactKind::PaymentCanceled => "payment_canceled",
            FactKind::CheckoutCompletedPaid { .. } => "checkout_completed_paid",
            FactKind::CheckoutCompletedUnpaid => "checkout_completed_unpaid",
            FactKind::CheckoutAsyncPaymentSucceeded { .. } => "checkout_async_payment_succeeded",
            FactKind::CheckoutAsyncPaymentFailed => "checkout_async_payment_failed",
            FactKind::CheckoutExpired => "checkout_expired",
            FactKind::Refunded { .. } => "refunded",
            FactKind::RefundFailed { .. } => "refund_failed",
            FactKind::DisputeOpened { .. } => "dispute_opened",
            FactKind::DisputeWon => "dispute_won",
            FactKind::DisputeLost { .. } => "dispute_lost",
            FactKind::EarlyFraudWarning { .. } => "early_fraud_warning",
            FactKind::SubscriptionCreated { .. } => "subscription_created",
            FactKind::SubscriptionUpdated { .. } => "subscription_updated",
            FactKind::SubscriptionPastDue { .. } => "subscription_past_due",
            FactKind::SubscriptionCanceled => "subscription_canceled",
            FactKind::InvoiceFinalized { .. } => "invoice_finalized",
            FactKind::InvoicePaid { .. } => "invoice_paid",
            FactKind::InvoicePaymentFailed { .. } => "invoice_payment_failed",
            FactKind::PayoutPaid { .. } => "payout_paid",
            FactKind::PayoutFailed { .. } => "payout_failed",
        }
    }
}

/// The facts an event establishes; many events establish none (they are still stored).
pub fn facts(event: &Event) -> Vec<Fact> {
    let Some(kind) = fact_kind(event) else { return Vec::new() };
    alloc::vec![Fact {
        event_id: event.id.clone(),
        occurred_at: event.created,
        kind,
        subject: subject(&event.object),
        links: event.object.metadata().map(links).unwrap_or_default(),
    }]
}

fn fact_kind(event: &Event) -> Option<FactKind> {
    let crate::event::EventType::Known(ty) = &event.event_type else { return None };
    let money = |minor: i64, currency: Currency| Money::new(minor, currency);
    Some(match (&event.object, ty) {
        (StripeObject::PaymentIntent(pi), K::PaymentIntentSucceeded) => FactKind::PaymentSucceeded {
            amount: money(if pi.amount_received > 0 { pi.amount_received } else { pi.amount }, pi.currency),
        },
        (StripeObject::PaymentIntent(pi), K::PaymentIntentPaymentFailed) => {
            let error = pi.last_payment_error.clone().unwrap_or_default();
            FactKind::PaymentFailed { amount: money(pi.amount, pi.currency), code: error.code, message: error.message }
        }
        (StripeObject::PaymentIntent(pi), K::PaymentIntentProcessing) => {
            FactKind::PaymentProcessing { amount: money(pi.amount, pi.currency) }
        }
        (StripeObject::PaymentIntent(pi), K::PaymentIntentRequiresAction) => FactKind::PaymentRequiresAction {
            amount: money(pi.amount, pi.currency),
            next_action: pi.next_action.clone(),
        },
        (StripeObject::PaymentIntent(_), K::PaymentIntentCanceled) => FactKind::PaymentCanceled,
        // A charge made without a PaymentIntent (the legacy Charges API) is its own payment.
        (StripeObject::Charge(ch), K::ChargeSucceeded) if ch.payment_intent.is_none() => {
            FactKind::PaymentSucceeded { amount: money(ch.amount_captured.max(ch.amount), ch.currency) }
        }
        (StripeObject::Charge(ch), K::ChargeFailed) if ch.payment_intent.is_none() => FactKind::PaymentFailed {
            amount: money(ch.amount, ch.currency),
            code: ch.failure_code.clone(),
            message: ch.failure_message.clone(),
        },
        (StripeObject::Charge(ch), K::ChargeRefunded) => FactKind::Refunded {
            captured: money(ch.amount_captured, ch.currency),
            refunded: money(ch.amount_refunded, ch.currency),
        },
        (StripeObject::Refund(r), K::RefundFailed | K::ChargeRefundUpdated | K::RefundUpdated) if r.status == "failed" => {
            FactKind::RefundFailed { amount: money(r.amount, r.currency), reason: r.failure_reason.clone() }
        }
        (StripeObject::Dispute(d), K::ChargeDisputeCreated) => {
            FactKind::DisputeOpened { amount: money(d.amount, d.currency), reason: d.reason.clone() }
        }
        (StripeObject::Dispute(d), K::ChargeDisputeClosed) => match d.status.as_str() {
            "won" | "warning_closed" => FactKind::DisputeWon,
            "lost" => FactKind::DisputeLost { amount: money(d.amount, d.currency) },
            _ => return None,
        },
        (StripeObject::EarlyFraudWarning(w), K::RadarEarlyFraudWarningCreated) => {
            FactKind::EarlyFraudWarning { fraud_type: w.fraud_type.clone() }
        }
        (StripeObject::CheckoutSession(s), K::CheckoutSessionCompleted) => match s.payment_status.as_deref() {
            Some("unpaid") => FactKind::CheckoutCompletedUnpaid,
            _ => FactKind::CheckoutCompletedPaid { amount: session_amount(s) },
        },
        (StripeObject::CheckoutSession(s), K::CheckoutSessionAsyncPaymentSucceeded) => {
            FactKind::CheckoutAsyncPaymentSucceeded { amount: session_amount(s) }
        }
        (StripeObject::CheckoutSession(_), K::CheckoutSessionAsyncPaymentFailed) => FactKind::CheckoutAsyncPaymentFailed,
        (StripeObject::CheckoutSession(_), K::CheckoutSessionExpired) => FactKind::CheckoutExpired,
        (StripeObject::Subscription(s), K::CustomerSubscriptionCreated) => FactKind::SubscriptionCreated {
            status: s.status.clone(),
            current_period_end: s.current_period_end,
        },
        (StripeObject::Subscription(s), K::CustomerSubscriptionUpdated) if s.status == "past_due" => {
            FactKind::SubscriptionPastDue { current_period_end: s.current_period_end }
        }
        (StripeObject::Subscription(s), K::CustomerSubscriptionUpdated) => FactKind::SubscriptionUpdated {
            status: s.status.clone(),
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
        },
        (StripeObject::Subscription(_), K::CustomerSubscriptionDeleted) => FactKind::SubscriptionCanceled,
        (StripeObject::Invoice(i), K::InvoiceFinalized) => FactKind::InvoiceFinalized { amount_due: money(i.amount_due, i.currency) },
        (StripeObject::Invoice(i), K::InvoicePaid | K::InvoicePaymentSucceeded) => {
            FactKind::InvoicePaid { amount_paid: money(i.amount_paid, i.currency) }
        }
        (StripeObject::Invoice(i), K::InvoicePaymentFailed) => FactKind::InvoicePaymentFailed {
            amount_due: money(i.amount_due, i.currency),
            next_payment_attempt: i.next_payment_attempt,
        },
        (StripeObject::Payout(p), K::PayoutPaid) => {
            FactKind::PayoutPaid { amount: money(p.amount, p.currency), arrival_date: p.arrival_date }
        }
        (StripeObject::Payout(p), K::PayoutFailed) => FactKind::PayoutFailed {
            amount: money(p.amount, p.currency),
            code: p.failure_code.clone(),
            message: p.failure_message.clone(),
        },
        _ => return None,
    })
}

fn session_amount(s: &crate::event::CheckoutSession) -> Option<Money> {
    Some(Money::new(s.amount_total?, s.currency?))
}

fn subject(object: &StripeObject) -> Subject {
    let mut s = Subject::default();
    match object {
        StripeObject::PaymentIntent(o) => {
            s.payment_intent = Some(o.id.clone());
            s.charge = o.latest_charge.clone();
            s.customer = o.customer.clone();
        }
        StripeObject::Charge(o) => {
            s.charge = Some(o.id.clone());
            s.payment_intent = o.payment_intent.clone();
            s.customer = o.customer.clone();
        }
        StripeObject::Refund(o) => {
            s.refund = Some(o.id.clone());
            s.charge = o.charge.clone();
            s.payment_intent = o.payment_intent.clone();
        }
        StripeObject::Dispute(o) => {
            s.dispute = Some(o.id.clone());
            s.charge = o.charge.clone();
            s.payment_intent = o.payment_intent.clone();
        }
        StripeObject::CheckoutSession(o) => {
            s.checkout_session = Some(o.id.clone());
            s.payment_intent = o.payment_intent.clone();
            s.invoice = o.invoice.clone();
            s.subscription = o.subscription.clone();
            s.customer = o.customer.clone();
        }
        StripeObject::Invoice(o) => {
            s.invoice = Some(o.id.clone());
            s.subscription = o.subscription.clone();
            s.customer = o.customer.clone();
        }
        StripeObject::Subscription(o) => {
            s.subscription = Some(o.id.clone());
            s.customer = o.customer.clone();
        }
        StripeObject::Payout(o) => s.payout = Some(o.id.clone()),
        StripeObject::EarlyFraudWarning(o) => {
            s.charge = o.charge.clone();
            s.payment_intent = o.payment_intent.clone();
        }
        StripeObject::Other(_) => {}
    }
    s
}

fn links(metadata: &Metadata) -> Links {
    let get = |key: &str| metadata.get(key).filter(|v| !v.is_empty()).cloned();
    Links {
        invoice_id: get("invoice_id"),
        appointment_id: get("appointment_id").or_else(|| get("booking_id")),
        customer_id: get("customer_id"),
    }
}

#[cfg(test)]
mod tests;
