//! One payment: a PaymentIntent, or a charge made without one (the legacy Charges API).
//!
//! The state is a join of monotone parts: `succeeded` and `canceled` only turn on (a success
//! dominates a cancellation, and both end the attempts), the latest unfinished attempt wins by
//! [`Stamp`](super::Stamp), `captured` and the cumulative `refunded` are the largest figures
//! seen (a refund fact whose total is above its own captured amount is rejected, so
//! `refunded <= captured` always), failed refunds are kept per refund, the dispute only moves
//! forward (open → won → lost) and the fraud warning only turns on.
//!
//! A failed refund leaves the money with the merchant: it is recorded as a
//! [`LedgerKind::RefundReversal`] and subtracted from `refunded` when deriving the status.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

use super::{
    Attempt, AttemptKind, Decision, Effect, emit, Ignored, LedgerKind, PaymentId, RejectReason, SortedMap, Step,
    conclude, merge_attempt, merged, minor_in, minor_or_zero, refund_in, skip,
};
use crate::fact::{Fact, FactKind};
use crate::money::{Currency, Money};

/// A payment record. Store it as JSON; feed it back to [`apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// The payment's id (`pi_…` or `ch_…`), used in ledger entries.
    pub id: PaymentId,
    /// Derived from the other fields.
    pub status: Status,
    /// The payment's currency; money in another is rejected.
    pub currency: Currency,
    /// The latest unfinished attempt, until the payment succeeds or is canceled.
    pub attempt: Option<Attempt>,
    /// The money was collected.
    pub succeeded: bool,
    /// The payment was canceled (and never succeeded).
    pub canceled: bool,
    /// The amount captured, in minor units.
    pub captured: i64,
    /// The cumulative amount refunded, in minor units; never above `captured`.
    pub refunded: i64,
    /// Refunds that failed, by refund id.
    pub failed_refunds: SortedMap<String, FailedRefund>,
    /// The dispute, if the customer opened one.
    pub dispute: Option<Dispute>,
    /// Radar's early fraud warning, if any.
    pub fraud_warning: Option<FraudWarning>,
}

/// A refund that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedRefund {
    /// Its amount, in minor units.
    pub amount: i64,
    /// Stripe's `failure_reason`.
    pub reason: Option<String>,
}

/// A dispute on the payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dispute {
    /// Where it stands.
    pub status: DisputeStatus,
    /// The disputed amount, in minor units.
    pub amount: i64,
    /// Stripe's reason, e.g. `fraudulent`.
    pub reason: Option<String>,
    /// The amount lost, in minor units (0 unless lost).
    pub lost: i64,
}

/// Where a dispute stands; it only moves forward, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// Opened; evidence is due.
    Open,
    /// Closed in the merchant's favour.
    Won,
    /// Closed in the customer's favour.
    Lost,
}

crate::named::named_enum!(DisputeStatus {
    Open = "open",
    Won = "won",
    Lost = "lost",
});

/// Radar's early fraud warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FraudWarning {
    /// Stripe's `fraud_type`.
    pub fraud_type: Option<String>,
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing reported yet.
    Created,
    /// The customer must authenticate (3-D Secure).
    RequiresAction,
    /// A delayed method is processing.
    Processing,
    /// The latest attempt failed; the customer may retry.
    Failed,
    /// Canceled; no money moved.
    Canceled,
    /// Collected.
    Succeeded,
    /// Collected, and part of it refunded.
    PartiallyRefunded,
    /// Collected, and all of it refunded.
    Refunded,
}

crate::named::named_enum!(Status {
    Created = "created",
    RequiresAction = "requires_action",
    Processing = "processing",
    Failed = "failed",
    Canceled = "canceled",
    Succeeded = "succeeded",
    PartiallyRefunded = "partially_refunded",
    Refunded = "refunded",
});

/// The statuses before an outcome.
macro_rules! live {
    () => {
        Status::Created | Status::RequiresAction | Status::Processing | Status::Failed
    };
}
/// The statuses after the money was collected.
macro_rules! collected {
    () => {
        Status::Succeeded | Status::PartiallyRefunded | Status::Refunded
    };
}

impl State {
    /// A new payment `id` in `currency`, before any fact.
    pub fn new(id: PaymentId, currency: Currency) -> State {
        State {
            id,
            status: Status::Created,
            currency,
            attempt: None,
            succeeded: false,
            canceled: false,
            captured: 0,
            refunded: 0,
            failed_refunds: SortedMap::new(),
            dispute: None,
            fraud_warning: None,
        }
    }

    /// The total of the failed refunds.
    pub fn refund_failures(&self) -> i64 {
        self.failed_refunds
            .values()
            .fold(0, |sum, refund| sum.saturating_add(refund.amount))
    }

    /// The amount refunded and not reversed by a failure.
    pub fn net_refunded(&self) -> i64 {
        self.refunded.saturating_sub(self.refund_failures()).max(0)
    }

    /// Normalizes (an outcome ends the attempts; a success overrides a cancellation) and
    /// derives the status.
    fn settled(mut self) -> State {
        if self.succeeded {
            self.canceled = false;
        }
        if self.succeeded || self.canceled {
            self.attempt = None;
        }
        let refunded = self.net_refunded();
        self.status = if self.succeeded {
            if refunded == 0 {
                Status::Succeeded
            } else if refunded >= self.captured {
                Status::Refunded
            } else {
                Status::PartiallyRefunded
            }
        } else if self.canceled {
            Status::Canceled
        } else {
            match self.attempt.as_ref().map(|attempt| &attempt.kind) {
                None => Status::Created,
                Some(AttemptKind::RequiresAction) => Status::RequiresAction,
                Some(AttemptKind::Processing) => Status::Processing,
                Some(AttemptKind::Failed { .. }) => Status::Failed,
            }
        };
        self
    }
}

/// Applies one fact to a payment. Total: every (status, fact) pair has an answer.
pub fn apply(state: &State, fact: &Fact) -> Decision<State> {
    use FactKind as F;
    let step = match (state.status, &fact.kind) {
        // A success counts in every status, even after a cancellation: money moved.
        (live!() | Status::Canceled | collected!(), F::PaymentSucceeded { amount }) => {
            succeed(state, Some(*amount))
        }
        (
            live!() | Status::Canceled | collected!(),
            F::CheckoutCompletedPaid { amount } | F::CheckoutAsyncPaymentSucceeded { amount },
        ) => succeed(state, *amount),
        (live!() | Status::Canceled | collected!(), F::Refunded { captured, refunded }) => {
            refund(state, *captured, *refunded)
        }
        (live!() | Status::Canceled | collected!(), F::RefundFailed { amount, reason }) => {
            refund_failed(state, fact, *amount, reason)
        }
        (live!() | Status::Canceled | collected!(), F::DisputeOpened { amount, reason }) => {
            dispute(state, DisputeStatus::Open, Some(*amount), reason)
        }
        (live!() | Status::Canceled | collected!(), F::DisputeWon) => {
            dispute(state, DisputeStatus::Won, None, &None)
        }
        (live!() | Status::Canceled | collected!(), F::DisputeLost { amount }) => {
            dispute(state, DisputeStatus::Lost, Some(*amount), &None)
        }
        (live!() | Status::Canceled | collected!(), F::EarlyFraudWarning { fraud_type }) => {
            fraud(state, fraud_type)
        }

        // Before an outcome, the latest attempt decides the status.
        (live!(), F::PaymentRequiresAction { .. }) => {
            attempt(state, fact, AttemptKind::RequiresAction)
        }
        (live!(), F::PaymentProcessing { .. } | F::CheckoutCompletedUnpaid) => {
            attempt(state, fact, AttemptKind::Processing)
        }
        (live!(), F::PaymentFailed { code, message, .. }) => {
            attempt(state, fact, AttemptKind::failed(code, message))
        }
        (live!(), F::CheckoutAsyncPaymentFailed) => {
            attempt(state, fact, AttemptKind::failed(&None, &None))
        }
        (live!() | Status::Canceled, F::PaymentCanceled | F::CheckoutExpired) => cancel(state),
        // After an outcome they are superseded.
        (
            Status::Canceled | collected!(),
            F::PaymentRequiresAction { .. }
            | F::PaymentProcessing { .. }
            | F::CheckoutCompletedUnpaid
            | F::PaymentFailed { .. }
            | F::CheckoutAsyncPaymentFailed,
        ) => skip(Ignored::Stale),
        (collected!(), F::PaymentCanceled | F::CheckoutExpired) => skip(Ignored::Stale),

        (
            live!() | Status::Canceled | collected!(),
            F::SubscriptionCreated { .. }
            | F::SubscriptionUpdated { .. }
            | F::SubscriptionPastDue { .. }
            | F::SubscriptionCanceled
            | F::InvoiceFinalized { .. }
            | F::InvoicePaid { .. }
            | F::InvoicePaymentFailed { .. }
            | F::PayoutPaid { .. }
            | F::PayoutFailed { .. },
        ) => skip(Ignored::NotApplicable),
    };
    conclude(state, step, effects)
}

fn succeed(state: &State, amount: Option<Money>) -> Result<Step<State>, RejectReason> {
    let captured = minor_or_zero(state.currency, amount)?;
    let unchanged = if state.captured > captured {
        Ignored::Stale
    } else {
        Ignored::Duplicate
    };
    let mut next = state.clone();
    next.succeeded = true;
    next.captured = next.captured.max(captured);
    merged(next.settled(), unchanged)
}

/// A refund total: the larger figures win; a captured amount also proves the success.
fn refund(state: &State, captured: Money, refunded: Money) -> Result<Step<State>, RejectReason> {
    let (captured, refunded) = refund_in(state.currency, captured, refunded)?;
    let unchanged = if state.refunded > refunded {
        Ignored::Stale
    } else {
        Ignored::Duplicate
    };
    let mut next = state.clone();
    next.succeeded |= captured > 0;
    next.captured = next.captured.max(captured);
    next.refunded = next.refunded.max(refunded);
    merged(next.settled(), unchanged)
}

fn refund_failed(
    state: &State,
    fact: &Fact,
    amount: Money,
    reason: &Option<String>,
) -> Result<Step<State>, RejectReason> {
    let amount = minor_in(state.currency, amount)?;
    let key = fact
        .subject
        .refund
        .clone()
        .unwrap_or_else(|| fact.event_id.to_string());
    let mut next = state.clone();
    let held = next.failed_refunds.get_or_insert(key, FailedRefund {
        amount,
        reason: reason.clone(),
    });
    let unchanged = if held.amount > amount {
        Ignored::Stale
    } else {
        Ignored::Duplicate
    };
    held.amount = held.amount.max(amount);
    held.reason = held.reason.clone().max(reason.clone());
    merged(next.settled(), unchanged)
}

fn dispute(
    state: &State,
    status: DisputeStatus,
    amount: Option<Money>,
    reason: &Option<String>,
) -> Result<Step<State>, RejectReason> {
    let amount = minor_or_zero(state.currency, amount)?;
    let unchanged = match &state.dispute {
        Some(held) if held.status > status => Ignored::Stale,
        Some(_) | None => Ignored::Duplicate,
    };
    let mut next = state.clone();
    let held = next.dispute.get_or_insert(Dispute {
        status,
        amount,
        reason: None,
        lost: 0,
    });
    held.status = held.status.max(status);
    held.amount = held.amount.max(amount);
    held.reason = held.reason.clone().max(reason.clone());
    if status == DisputeStatus::Lost {
        held.lost = held.lost.max(amount);
    }
    merged(next.settled(), unchanged)
}

fn fraud(state: &State, fraud_type: &Option<String>) -> Result<Step<State>, RejectReason> {
    let mut next = state.clone();
    let held = next
        .fraud_warning
        .get_or_insert(FraudWarning { fraud_type: None });
    held.fraud_type = held.fraud_type.clone().max(fraud_type.clone());
    merged(next.settled(), Ignored::Duplicate)
}

fn attempt(state: &State, fact: &Fact, kind: AttemptKind) -> Result<Step<State>, RejectReason> {
    let mut next = state.clone();
    let unchanged = merge_attempt(&mut next.attempt, fact, kind);
    merged(next.settled(), unchanged)
}

fn cancel(state: &State) -> Result<Step<State>, RejectReason> {
    let mut next = state.clone();
    next.canceled = true;
    merged(next.settled(), Ignored::Duplicate)
}

/// The effects of going from `old` to `new`.
fn effects(old: &State, new: &State) -> Vec<Effect> {
    let money = |minor| Money::new(minor, new.currency);
    let ledger = |kind, amount: i64, total| Effect::LedgerEntry {
        kind,
        payment: new.id.clone(),
        amount: money(amount),
        total: money(total),
    };
    let mut out = Vec::new();
    if new.succeeded && !old.succeeded {
        emit(&mut out, Effect::PaymentCompleted {
            payment: new.id.clone(),
            amount: money(new.captured),
        });
    }
    if new.captured > old.captured {
        emit(&mut out, ledger(
            LedgerKind::Payment,
            new.captured.saturating_sub(old.captured),
            new.captured,
        ));
    }
    if new.refunded > old.refunded {
        let delta = new.refunded.saturating_sub(old.refunded);
        emit(&mut out, Effect::RefundRecorded {
            payment: new.id.clone(),
            amount: money(delta),
            total: money(new.refunded),
        });
        emit(&mut out, ledger(LedgerKind::Refund, delta, new.refunded));
    }
    for (key, refund) in &new.failed_refunds {
        let before = old.failed_refunds.get(key);
        if before.is_none() {
            emit(&mut out, Effect::RefundFailed {
                amount: money(refund.amount),
                reason: refund.reason.clone(),
            });
        }
        let delta = refund
            .amount
            .saturating_sub(before.map_or(0, |before| before.amount));
        if delta > 0 {
            emit(&mut out, ledger(
                LedgerKind::RefundReversal,
                delta,
                new.refund_failures(),
            ));
        }
    }
    if new.attempt != old.attempt
        && let Some(attempt) = &new.attempt
    {
        emit(&mut out, match &attempt.kind {
            AttemptKind::RequiresAction => Effect::PaymentActionRequired,
            AttemptKind::Processing => Effect::PaymentProcessing,
            AttemptKind::Failed { code, message } => Effect::PaymentFailed {
                code: code.clone(),
                message: message.clone(),
            },
        });
    }
    if new.status == Status::Canceled && old.status != Status::Canceled {
        emit(&mut out, Effect::PaymentCanceled);
    }
    dispute_effects(old.dispute.as_ref(), new.dispute.as_ref(), new, &mut out);
    if let (None, Some(warning)) = (&old.fraud_warning, &new.fraud_warning) {
        emit(&mut out, Effect::FraudWarning {
            fraud_type: warning.fraud_type.clone(),
        });
    }
    out
}

fn dispute_effects(
    old: Option<&Dispute>,
    new: Option<&Dispute>,
    state: &State,
    out: &mut Vec<Effect>,
) {
    let Some(new) = new else { return };
    let money = |minor| Money::new(minor, state.currency);
    if old.is_none() {
        emit(out, Effect::DisputeOpened {
            amount: money(new.amount),
            reason: new.reason.clone(),
        });
    }
    if old.map(|old| old.status) != Some(new.status) {
        match new.status {
            DisputeStatus::Open => {}
            DisputeStatus::Won => emit(out, Effect::DisputeWon),
            DisputeStatus::Lost => emit(out, Effect::DisputeLost {
                amount: money(new.lost),
            }),
        }
    }
    let lost_before = old.map_or(0, |old| old.lost);
    if new.lost > lost_before {
        emit(out, Effect::LedgerEntry {
            kind: LedgerKind::DisputeLoss,
            payment: state.id.clone(),
            amount: money(new.lost.saturating_sub(lost_before)),
            total: money(new.lost),
        });
    }
}

#[cfg(test)]
mod tests;
