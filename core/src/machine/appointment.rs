//! A booking that holds a slot until it is paid: KiviCare's appointments (Checkout in embedded
//! mode during booking), Altegio's service bookings (payment links).
//!
//! The slot is held from the start. A payment confirms the booking; a failed or canceled
//! payment cancels it and releases the slot (as KiviCare specifies); an expired Checkout Session
//! releases it too. The state is a join of monotone parts, so the order of arrival does not
//! matter:
//!
//! - `paid_at`: the earliest payment. A payment dominates every failure, older or newer: a
//!   booking that was paid is never cancelled by a failure, whatever the order of delivery.
//! - `expired_at`: the earliest expiry. An expiry *before* the first payment means the payment
//!   came in after the slot was given up: the visible conflict state `PaidAfterRelease`, whose
//!   effect tells the host to keep the booking if the slot is still free and otherwise refund
//!   or flag it by policy. It is never silently double-booked. An expiry after the first payment
//!   is stale.
//! - `failure`: the latest failure, while unpaid and unexpired; `awaiting`: a delayed payment is
//!   processing (Checkout completed unpaid), while nothing else happened.
//! - refunds: when everything received is refunded the booking is `Refunded`.
//!
//! When a payment follows a release the host already acted on (a failure, then a retry that
//! succeeded; a full refund, then a new payment), the booking is `Confirmed` but the effects
//! also say [`Effect::PaidAfterSlotReleased`], because the host may have freed the slot in
//! between.

use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;

use super::{
    CancelReason, Decision, Effect, emit, Ignored, RejectReason, Settlement, Stamp, Step, conclude,
    merged, minor_or_zero, payment_of, refund_in, skip,
};
use crate::fact::{Fact, FactKind};
use crate::money::{Currency, Money};

/// An appointment record. Store it as JSON; feed it back to [`apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Derived from the other fields.
    pub status: Status,
    /// The booking's currency; money in another is rejected.
    pub currency: Currency,
    /// Received and refunded per payment.
    pub settlement: Settlement,
    /// The earliest payment.
    pub paid_at: Option<Stamp>,
    /// The earliest expiry of a Checkout Session for the booking; once paid, kept only if it
    /// came before the first payment (the conflict).
    pub expired_at: Option<Stamp>,
    /// The latest failed or canceled payment, while unpaid and unexpired.
    pub failure: Option<Failure>,
    /// A delayed payment is processing, while nothing else happened.
    pub awaiting: bool,
}

/// A failed or canceled payment for the booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// When.
    pub at: Stamp,
    /// `PaymentFailed` or `PaymentCanceled`.
    pub reason: CancelReason,
    /// Stripe's failure code.
    pub code: Option<String>,
    /// Stripe's failure message.
    pub message: Option<String>,
}

/// Where a booking stands. At most one of them, so never both Confirmed and Cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The slot is held; no payment yet.
    Held,
    /// The slot is held while a delayed payment processes.
    AwaitingPayment,
    /// Paid.
    Confirmed,
    /// The payment failed or was canceled; the slot is released.
    Cancelled,
    /// The Checkout Session expired unpaid; the slot is released.
    Expired,
    /// Paid after the slot was released by an expiry: the host must resolve it.
    PaidAfterRelease,
    /// Everything paid was refunded.
    Refunded,
}

crate::named::named_enum!(Status {
    Held = "held",
    AwaitingPayment = "awaiting_payment",
    Confirmed = "confirmed",
    Cancelled = "cancelled",
    Expired = "expired",
    PaidAfterRelease = "paid_after_release",
    Refunded = "refunded",
});

/// The statuses that hold the slot with nothing paid.
macro_rules! holding {
    () => {
        Status::Held | Status::AwaitingPayment
    };
}
/// The statuses in which the slot was released and nothing is paid.
macro_rules! released {
    () => {
        Status::Cancelled | Status::Expired
    };
}
/// The statuses in which money was received.
macro_rules! paid {
    () => {
        Status::Confirmed | Status::PaidAfterRelease | Status::Refunded
    };
}

// Ranks within a second: an expiry before a payment (so a tie is a visible conflict, never a
// silent one), and a cancellation after the failure that preceded it.
const RANK_EXPIRY: u8 = 0;
const RANK_PAYMENT: u8 = 1;
const RANK_FAILED: u8 = 0;
const RANK_CANCELED: u8 = 1;

impl State {
    /// A new booking holding its slot, to be paid in `currency`.
    pub fn new(currency: Currency) -> State {
        State {
            status: Status::Held,
            currency,
            settlement: Settlement::default(),
            paid_at: None,
            expired_at: None,
            failure: None,
            awaiting: false,
        }
    }

    /// Normalizes (a payment makes failures and later expiries irrelevant; a release makes a
    /// pending payment irrelevant) and derives the status.
    fn settled(mut self) -> State {
        if let Some(paid_at) = &self.paid_at {
            self.failure = None;
            self.awaiting = false;
            if self
                .expired_at
                .as_ref()
                .is_some_and(|expired_at| expired_at > paid_at)
            {
                self.expired_at = None;
            }
        } else if self.expired_at.is_some() || self.failure.is_some() {
            self.awaiting = false;
            if self.expired_at.is_some() {
                self.failure = None;
            }
        }
        let money = &self.settlement;
        self.status = if self.paid_at.is_some() {
            let refunded = money.refunded_total();
            if refunded > 0 && refunded >= money.paid_total() {
                Status::Refunded
            } else if self.expired_at.is_some() {
                Status::PaidAfterRelease
            } else {
                Status::Confirmed
            }
        } else if self.expired_at.is_some() {
            Status::Expired
        } else if self.failure.is_some() {
            Status::Cancelled
        } else if self.awaiting {
            Status::AwaitingPayment
        } else {
            Status::Held
        };
        self
    }
}

/// Applies one fact to a booking. Total: every (status, fact) pair has an answer.
pub fn apply(state: &State, fact: &Fact) -> Decision<State> {
    use FactKind as F;
    let step = match (state.status, &fact.kind) {
        // A payment confirms in every status (a late one after an expiry is the visible conflict).
        (holding!() | released!() | paid!(), F::PaymentSucceeded { amount }) => {
            pay(state, fact, Some(*amount))
        }
        (
            holding!() | released!() | paid!(),
            F::CheckoutCompletedPaid { amount } | F::CheckoutAsyncPaymentSucceeded { amount },
        ) => pay(state, fact, *amount),
        (holding!() | released!() | paid!(), F::Refunded { captured, refunded }) => {
            refund(state, fact, *captured, *refunded)
        }
        // An expiry releases an unpaid slot; one before the first payment is the conflict.
        (holding!() | released!() | paid!(), F::CheckoutExpired) => expire(state, fact),

        // Failures cancel while unpaid and unexpired; the latest one is kept.
        (holding!() | Status::Cancelled, F::PaymentFailed { code, message, .. }) => fail(
            state,
            fact,
            RANK_FAILED,
            CancelReason::PaymentFailed,
            code,
            message,
        ),
        (holding!() | Status::Cancelled, F::CheckoutAsyncPaymentFailed) => fail(
            state,
            fact,
            RANK_FAILED,
            CancelReason::PaymentFailed,
            &None,
            &None,
        ),
        (holding!() | Status::Cancelled, F::PaymentCanceled) => fail(
            state,
            fact,
            RANK_CANCELED,
            CancelReason::PaymentCanceled,
            &None,
            &None,
        ),
        (holding!(), F::PaymentProcessing { .. } | F::CheckoutCompletedUnpaid) => wait(state),
        // Superseded: the slot was released or the booking paid.
        (Status::Cancelled, F::PaymentProcessing { .. } | F::CheckoutCompletedUnpaid) => {
            skip(Ignored::Stale)
        }
        (
            Status::Expired | paid!(),
            F::PaymentFailed { .. }
            | F::CheckoutAsyncPaymentFailed
            | F::PaymentCanceled
            | F::PaymentProcessing { .. }
            | F::CheckoutCompletedUnpaid,
        ) => skip(Ignored::Stale),

        // The payment record follows actions, refund failures, disputes and fraud warnings.
        (
            holding!() | released!() | paid!(),
            F::PaymentRequiresAction { .. }
            | F::RefundFailed { .. }
            | F::DisputeOpened { .. }
            | F::DisputeWon
            | F::DisputeLost { .. }
            | F::EarlyFraudWarning { .. }
            | F::SubscriptionCreated { .. }
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

/// A payment: the amount is recorded when the fact has one (a booking is confirmed without).
fn pay(state: &State, fact: &Fact, amount: Option<Money>) -> Result<Step<State>, RejectReason> {
    let minor = minor_or_zero(state.currency, amount)?;
    let payment = payment_of(fact)?;
    let mut next = state.clone();
    let at = Stamp::of(fact, RANK_PAYMENT);
    let unchanged = next.settlement.pay(payment, minor);
    if next.paid_at.as_ref().is_none_or(|held| *held > at) {
        next.paid_at = Some(at);
    }
    merged(next.settled(), unchanged)
}

/// A refund of a captured payment also proves the payment.
fn refund(
    state: &State,
    fact: &Fact,
    captured: Money,
    refunded: Money,
) -> Result<Step<State>, RejectReason> {
    let (captured, refunded) = refund_in(state.currency, captured, refunded)?;
    if captured == 0 {
        return skip(Ignored::NotApplicable);
    }
    let payment = payment_of(fact)?;
    let mut next = state.clone();
    let unchanged = next.settlement.refund(payment, captured, refunded);
    let at = Stamp::of(fact, RANK_PAYMENT);
    if next.paid_at.as_ref().is_none_or(|held| *held > at) {
        next.paid_at = Some(at);
    }
    merged(next.settled(), unchanged)
}

fn expire(state: &State, fact: &Fact) -> Result<Step<State>, RejectReason> {
    let at = Stamp::of(fact, RANK_EXPIRY);
    let unchanged = if state.expired_at.as_ref() == Some(&at) {
        Ignored::Duplicate
    } else {
        Ignored::Stale
    };
    let mut next = state.clone();
    if next.expired_at.as_ref().is_none_or(|held| *held > at) {
        next.expired_at = Some(at);
    }
    merged(next.settled(), unchanged)
}

fn fail(
    state: &State,
    fact: &Fact,
    rank: u8,
    reason: CancelReason,
    code: &Option<String>,
    message: &Option<String>,
) -> Result<Step<State>, RejectReason> {
    let at = Stamp::of(fact, rank);
    let held = state.failure.as_ref().map(|failure| &failure.at);
    let unchanged = if held == Some(&at) {
        Ignored::Duplicate
    } else {
        Ignored::Stale
    };
    let mut next = state.clone();
    if held.is_none_or(|held| *held < at) {
        next.failure = Some(Failure {
            at,
            reason,
            code: code.clone(),
            message: message.clone(),
        });
    }
    merged(next.settled(), unchanged)
}

fn wait(state: &State) -> Result<Step<State>, RejectReason> {
    let mut next = state.clone();
    next.awaiting = true;
    merged(next.settled(), Ignored::Duplicate)
}

/// What released (or may have released) the slot of a booking in `state`.
fn release_of(state: &State) -> CancelReason {
    match (&state.status, &state.failure) {
        (Status::Cancelled, Some(failure)) => failure.reason,
        (Status::Cancelled, None) => CancelReason::PaymentFailed,
        (Status::Refunded, _) => CancelReason::Refunded,
        (holding!() | Status::Expired | Status::Confirmed | Status::PaidAfterRelease, _) => {
            CancelReason::CheckoutExpired
        }
    }
}

/// The effects of going from `old` to `new`.
fn effects(old: &State, new: &State) -> Vec<Effect> {
    let mut out = Vec::new();
    Settlement::effects(&old.settlement, &new.settlement, new.currency, &mut out);
    let paid = Money::new(new.settlement.paid_total(), new.currency);
    let conflict = |released_by| Effect::PaidAfterSlotReleased {
        amount: paid,
        released_by,
    };
    match (new.status, old.status) {
        (Status::Held, holding!() | released!() | paid!()) => {}
        (Status::AwaitingPayment, holding!() | released!() | paid!()) => {
            if old.status != Status::AwaitingPayment {
                emit(&mut out, Effect::AppointmentAwaitingPayment);
            }
        }
        (Status::Confirmed, Status::Confirmed) => {}
        (Status::Confirmed, holding!() | Status::PaidAfterRelease) => {
            emit(&mut out, Effect::AppointmentConfirmed)
        }
        // Paid again after the slot was (or may have been) freed: confirm, and have it checked.
        (Status::Confirmed, released!() | Status::Refunded) => {
            emit(&mut out, Effect::AppointmentConfirmed);
            emit(&mut out, conflict(release_of(old)));
        }
        (Status::PaidAfterRelease, Status::PaidAfterRelease) => {}
        (Status::PaidAfterRelease, holding!() | released!() | Status::Confirmed) => {
            emit(&mut out, conflict(CancelReason::CheckoutExpired))
        }
        (Status::PaidAfterRelease, Status::Refunded) => emit(&mut out, conflict(CancelReason::Refunded)),
        (Status::Cancelled | Status::Expired, holding!()) => {
            emit(&mut out, Effect::AppointmentCancelled {
                reason: release_of(new),
            });
            emit(&mut out, Effect::SlotReleased);
        }
        (Status::Cancelled | Status::Expired, released!() | paid!()) => {}
        (Status::Refunded, Status::Refunded) => {}
        (
            Status::Refunded,
            holding!() | released!() | Status::Confirmed | Status::PaidAfterRelease,
        ) => emit(&mut out, Effect::AppointmentRefunded),
    }
    if let Some(Failure {
        reason: CancelReason::PaymentFailed,
        code,
        message,
        ..
    }) = &new.failure
        && old.failure != new.failure
    {
        emit(&mut out, Effect::PaymentFailed {
            code: code.clone(),
            message: message.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests;
