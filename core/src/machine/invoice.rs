//! The host's invoice, settled by the payments whose metadata names it: Fluxrate puts
//! `invoice_id` on the Payment Link of every finalized invoice, BiVelio on the links it e-mails.
//!
//! Payments are kept per payment ([`PaymentId`]: PaymentIntent, else charge, else Checkout
//! Session, else Stripe invoice), so the `checkout.session.completed` and the
//! `payment_intent.succeeded` of one payment count once while two payments add up. The status
//! is derived from the amount due and the net received:
//!
//! | received (net of refunds) | refunds | status |
//! | --- | --- | --- |
//! | nothing yet, amount due unknown | | `Draft` |
//! | nothing yet | | `Open`, `Processing` or `PaymentFailed` (the latest attempt decides) |
//! | at least the amount due | any | `Paid` (possibly overpaid: [`State::excess`]) |
//! | less than the amount due | none | `PartiallyPaid` |
//! | less than the amount due, above zero | some | `PartiallyRefunded` |
//! | zero | some | `Refunded` |
//!
//! A payment is never undone, so an invoice that received money never goes back to `Open`; once
//! anything is received, attempts no longer matter and a late failure is `Stale`. A Checkout
//! Session completed *unpaid* (a delayed method such as SEPA) only makes it `Processing`; the
//! session's async success pays it.

use alloc::vec::Vec;

use serde::Serialize;

use super::{
    Attempt, AttemptKind, Decision, Effect, emit, Ignored, PaymentId, RejectReason, Settlement, Step,
    conclude, merge_attempt, merged, minor_in, payment_of, refund_in, skip,
};
use crate::fact::{Fact, FactKind};
use crate::money::{Currency, Money};

/// An invoice record. Store it as JSON; feed it back to [`apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Derived from the other fields.
    pub status: Status,
    /// The invoice's currency; money in another is rejected.
    pub currency: Currency,
    /// The amount due in minor units; `None` while a draft.
    pub amount_due: Option<i64>,
    /// Received and refunded per payment.
    pub settlement: Settlement,
    /// The latest unfinished attempt, while nothing is received.
    pub attempt: Option<Attempt>,
}

/// Where an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No amount due yet.
    Draft,
    /// Payable; nothing received.
    Open,
    /// A delayed payment is processing; nothing received yet.
    Processing,
    /// Open, and the latest attempt to pay it failed.
    PaymentFailed,
    /// Part of the amount due is received.
    PartiallyPaid,
    /// The amount due is received (net of refunds), perhaps more.
    Paid,
    /// Something was refunded and less than the amount due remains received.
    PartiallyRefunded,
    /// Everything received was refunded.
    Refunded,
}

crate::named::named_enum!(Status {
    Draft = "draft",
    Open = "open",
    Processing = "processing",
    PaymentFailed = "payment_failed",
    PartiallyPaid = "partially_paid",
    Paid = "paid",
    PartiallyRefunded = "partially_refunded",
    Refunded = "refunded",
});

/// The statuses in which nothing is received yet.
macro_rules! unpaid {
    () => {
        Status::Draft | Status::Open | Status::Processing | Status::PaymentFailed
    };
}
/// The statuses in which money was received.
macro_rules! received {
    () => {
        Status::PartiallyPaid | Status::Paid | Status::PartiallyRefunded | Status::Refunded
    };
}

impl State {
    /// A finalized invoice of `amount_due`, open for payment.
    pub fn open(amount_due: Money) -> State {
        State::new(amount_due.currency, Some(amount_due.minor))
    }

    /// A draft in `currency`: no amount due until Stripe finalizes it
    /// ([`FactKind::InvoiceFinalized`]).
    pub fn draft(currency: Currency) -> State {
        State::new(currency, None)
    }

    fn new(currency: Currency, amount_due: Option<i64>) -> State {
        State {
            status: Status::Draft,
            currency,
            amount_due,
            settlement: Settlement::default(),
            attempt: None,
        }
        .settled()
    }

    /// The amount received above the amount due (0 if none, or while a draft).
    pub fn excess(&self) -> i64 {
        self.amount_due.map_or(0, |due| {
            self.settlement.paid_total().saturating_sub(due).max(0)
        })
    }

    /// What is still to be received (0 once paid).
    pub fn remaining(&self) -> i64 {
        self.amount_due
            .map_or(0, |due| due.saturating_sub(self.settlement.net()).max(0))
    }

    /// Normalizes (attempts stop mattering once money is received) and derives the status.
    fn settled(mut self) -> State {
        let money = &self.settlement;
        if money.has_payments() {
            self.attempt = None;
        }
        let (net, refunded) = (money.net(), money.refunded_total());
        self.status = match self.amount_due {
            None => Status::Draft,
            Some(_) if !money.has_payments() => match self.attempt.as_ref().map(|a| &a.kind) {
                None | Some(AttemptKind::RequiresAction) => Status::Open,
                Some(AttemptKind::Processing) => Status::Processing,
                Some(AttemptKind::Failed { .. }) => Status::PaymentFailed,
            },
            Some(due) if net >= due => Status::Paid,
            Some(_) if refunded == 0 => Status::PartiallyPaid,
            Some(_) if net > 0 => Status::PartiallyRefunded,
            Some(_) => Status::Refunded,
        };
        self
    }
}

/// Applies one fact to an invoice. Total: every (status, fact) pair has an answer.
pub fn apply(state: &State, fact: &Fact) -> Decision<State> {
    use FactKind as F;
    let step = match (state.status, &fact.kind) {
        // Money in. Recorded in every status: a payment is never undone.
        (
            unpaid!() | received!(),
            F::PaymentSucceeded { amount }
            | F::InvoicePaid {
                amount_paid: amount,
            },
        ) => pay(state, fact, Some(*amount)),
        (
            unpaid!() | received!(),
            F::CheckoutCompletedPaid { amount } | F::CheckoutAsyncPaymentSucceeded { amount },
        ) => pay(state, fact, *amount),
        (unpaid!() | received!(), F::Refunded { captured, refunded }) => {
            refund(state, fact, *captured, *refunded)
        }
        (unpaid!() | received!(), F::InvoiceFinalized { amount_due }) => {
            finalize(state, *amount_due)
        }

        // While nothing is received, the latest attempt decides Open, Processing or PaymentFailed.
        (unpaid!(), F::PaymentRequiresAction { .. }) => {
            attempt(state, fact, AttemptKind::RequiresAction)
        }
        (unpaid!(), F::PaymentProcessing { .. } | F::CheckoutCompletedUnpaid) => {
            attempt(state, fact, AttemptKind::Processing)
        }
        (unpaid!(), F::PaymentFailed { code, message, .. }) => {
            attempt(state, fact, AttemptKind::failed(code, message))
        }
        (unpaid!(), F::CheckoutAsyncPaymentFailed | F::InvoicePaymentFailed { .. }) => {
            attempt(state, fact, AttemptKind::failed(&None, &None))
        }
        // Once money is received, an attempt's outcome is superseded.
        (
            received!(),
            F::PaymentRequiresAction { .. }
            | F::PaymentProcessing { .. }
            | F::CheckoutCompletedUnpaid
            | F::PaymentFailed { .. }
            | F::CheckoutAsyncPaymentFailed
            | F::InvoicePaymentFailed { .. },
        ) => skip(Ignored::Stale),

        // An abandoned attempt leaves the invoice payable; the rest belongs to other records.
        (
            unpaid!() | received!(),
            F::PaymentCanceled
            | F::CheckoutExpired
            | F::RefundFailed { .. }
            | F::DisputeOpened { .. }
            | F::DisputeWon
            | F::DisputeLost { .. }
            | F::EarlyFraudWarning { .. }
            | F::SubscriptionCreated { .. }
            | F::SubscriptionUpdated { .. }
            | F::SubscriptionPastDue { .. }
            | F::SubscriptionCanceled
            | F::PayoutPaid { .. }
            | F::PayoutFailed { .. },
        ) => skip(Ignored::NotApplicable),
    };
    conclude(state, step, effects)
}

fn pay(state: &State, fact: &Fact, amount: Option<Money>) -> Result<Step<State>, RejectReason> {
    let amount = amount.ok_or_else(|| RejectReason::MissingAmount {
        fact: fact.kind.name().into(),
    })?;
    let minor = minor_in(state.currency, amount)?;
    let payment: PaymentId = payment_of(fact)?;
    let mut next = state.clone();
    let unchanged = next.settlement.pay(payment, minor);
    merged(next.settled(), unchanged)
}

fn refund(
    state: &State,
    fact: &Fact,
    captured: Money,
    refunded: Money,
) -> Result<Step<State>, RejectReason> {
    let (captured, refunded) = refund_in(state.currency, captured, refunded)?;
    let payment = payment_of(fact)?;
    let mut next = state.clone();
    let unchanged = next.settlement.refund(payment, captured, refunded);
    merged(next.settled(), unchanged)
}

/// Stripe finalized the invoice: the amount due is known. Joined by maximum (Stripe finalizes
/// an invoice once; a larger figure is reported as [`Effect::InvoiceAmountDueChanged`]).
fn finalize(state: &State, amount_due: Money) -> Result<Step<State>, RejectReason> {
    let due = minor_in(state.currency, amount_due)?;
    let unchanged = if state.amount_due == Some(due) {
        Ignored::Duplicate
    } else {
        Ignored::Stale
    };
    let mut next = state.clone();
    next.amount_due = Some(next.amount_due.map_or(due, |held| held.max(due)));
    merged(next.settled(), unchanged)
}

fn attempt(state: &State, fact: &Fact, kind: AttemptKind) -> Result<Step<State>, RejectReason> {
    let mut next = state.clone();
    let unchanged = merge_attempt(&mut next.attempt, fact, kind);
    merged(next.settled(), unchanged)
}

/// The effects of going from `old` to `new`.
fn effects(old: &State, new: &State) -> Vec<Effect> {
    let money = |minor| Money::new(minor, new.currency);
    let mut out = Vec::new();
    Settlement::effects(&old.settlement, &new.settlement, new.currency, &mut out);
    match (old.amount_due, new.amount_due) {
        (None, Some(due)) => emit(&mut out, Effect::InvoiceOpened {
            amount_due: money(due),
        }),
        (Some(from), Some(to)) if from != to => emit(&mut out, Effect::InvoiceAmountDueChanged {
            from: money(from),
            to: money(to),
        }),
        (None | Some(_), None | Some(_)) => {}
    }
    let entered = old.status != new.status;
    let paid = new.settlement.paid_total();
    match new.status {
        Status::Draft | Status::Open | Status::PartiallyRefunded => {}
        Status::Processing if entered => emit(&mut out, Effect::PaymentProcessing),
        Status::Processing => {}
        Status::PaymentFailed => {
            if let Some(Attempt {
                kind: AttemptKind::Failed { code, message },
                ..
            }) = &new.attempt
                && old.attempt != new.attempt
            {
                emit(&mut out, Effect::PaymentFailed {
                    code: code.clone(),
                    message: message.clone(),
                });
            }
        }
        Status::PartiallyPaid if entered || old.settlement.paid_total() != paid => {
            emit(&mut out, Effect::InvoicePartiallyPaid {
                paid: money(paid),
                remaining: money(new.remaining()),
            })
        }
        Status::PartiallyPaid => {}
        Status::Paid if entered => emit(&mut out, Effect::InvoicePaid {
            amount: money(paid),
        }),
        Status::Paid => {}
        Status::Refunded if entered => emit(&mut out, Effect::InvoiceRefunded {
            amount: money(new.settlement.refunded_total()),
        }),
        Status::Refunded => {}
    }
    if new.excess() > old.excess() {
        emit(&mut out, Effect::InvoiceOverpaid {
            excess: money(new.excess()),
        });
    }
    out
}

#[cfg(test)]
mod tests;
