//! A subscription (BiVelio's monthly, quarterly and annual plans) and its dunning.
//!
//! The state is a join of monotone parts: `canceled` only turns on and ends everything else;
//! the latest status report wins by [`Stamp`], whether it comes from the subscription itself
//! (`customer.subscription.*`) or from one of its invoices (`invoice.payment_failed` means past
//! due, `invoice.paid` means active again); `cancel_at_period_end` is the latest setting; and
//! `current_period_end` only moves forward. Within one second, invoice outcomes rank after
//! subscription updates, a payment after a failure.
//!
//! Entering past due (or unpaid) emits [`Effect::NotifyPaymentFailed`], as does each further
//! failed retry; coming back to active emits [`Effect::NotifyPaymentRecovered`].

use alloc::string::ToString;
use alloc::vec::Vec;

use serde::Serialize;

use super::{Decision, Effect, emit, Ignored, RejectReason, Stamp, Step, conclude, skip};
use crate::fact::{Fact, FactKind};

/// A subscription record. Store it as JSON; feed it back to [`apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Derived from the other fields.
    pub status: Status,
    /// The latest status report, until canceled.
    pub latest: Option<Report>,
    /// The subscription ended (terminal).
    pub canceled: bool,
    /// The latest `cancel_at_period_end` setting, until canceled.
    pub cancel_at_period_end: Option<Setting>,
    /// End of the current period (unix seconds), the latest seen.
    pub current_period_end: Option<i64>,
}

/// A report of the subscription's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// When.
    pub at: Stamp,
    /// The status reported (never `Canceled`: that sets [`State::canceled`]).
    pub status: Status,
    /// When Stripe will retry a failed invoice, if the report is such a failure.
    pub retry_at: Option<i64>,
}

/// The latest value of a setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// When it was reported.
    pub at: Stamp,
    /// Its value.
    pub value: bool,
}

/// Where a subscription stands: Stripe's statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created; the first invoice is not paid yet.
    Incomplete,
    /// In its trial.
    Trialing,
    /// Paid up.
    Active,
    /// The latest invoice failed; Stripe is retrying.
    PastDue,
    /// Retries are exhausted; the invoice stays open.
    Unpaid,
    /// Paused (a trial ended without a payment method).
    Paused,
    /// Ended (also `incomplete_expired`). Terminal.
    Canceled,
}

crate::named::named_enum!(Status {
    Incomplete = "incomplete",
    Trialing = "trialing",
    Active = "active",
    PastDue = "past_due",
    Unpaid = "unpaid",
    Paused = "paused",
    Canceled = "canceled",
});

impl Status {
    /// Parses Stripe's status text.
    pub fn parse(status: &str) -> Result<Status, RejectReason> {
        Ok(match status {
            "incomplete" => Status::Incomplete,
            "trialing" => Status::Trialing,
            "active" => Status::Active,
            "past_due" => Status::PastDue,
            "unpaid" => Status::Unpaid,
            "paused" => Status::Paused,
            "canceled" | "incomplete_expired" => Status::Canceled,
            other => {
                return Err(RejectReason::UnknownSubscriptionStatus {
                    status: other.to_string(),
                });
            }
        })
    }

    /// True while a payment is overdue.
    pub fn in_dunning(self) -> bool {
        match self {
            Status::PastDue | Status::Unpaid => true,
            Status::Incomplete
            | Status::Trialing
            | Status::Active
            | Status::Paused
            | Status::Canceled => false,
        }
    }
}

/// The statuses before the end.
macro_rules! live {
    () => {
        Status::Incomplete
            | Status::Trialing
            | Status::Active
            | Status::PastDue
            | Status::Unpaid
            | Status::Paused
    };
}

// Ranks within a second, in the order things happen: the subscription is created, updated and
// marked past due; an invoice fails, then an invoice is paid.
const RANK_CREATED: u8 = 0;
const RANK_UPDATED: u8 = 1;
const RANK_PAST_DUE: u8 = 2;
const RANK_INVOICE_FAILED: u8 = 3;
const RANK_INVOICE_PAID: u8 = 4;

impl State {
    /// A new subscription record, before any fact (`Incomplete`).
    pub fn new() -> State {
        State {
            status: Status::Incomplete,
            latest: None,
            canceled: false,
            cancel_at_period_end: None,
            current_period_end: None,
        }
    }

    /// True when set to cancel at the end of the current period.
    pub fn cancels_at_period_end(&self) -> bool {
        self.cancel_at_period_end
            .as_ref()
            .is_some_and(|setting| setting.value)
    }

    /// Normalizes (the end makes reports and settings irrelevant) and derives the status.
    fn settled(mut self) -> State {
        if self.canceled {
            self.latest = None;
            self.cancel_at_period_end = None;
        }
        self.status = match (&self.latest, self.canceled) {
            (_, true) => Status::Canceled,
            (Some(report), false) => report.status,
            (None, false) => Status::Incomplete,
        };
        self
    }
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

/// What one fact reports about the subscription.
struct Reported {
    rank: u8,
    status: Status,
    current_period_end: Option<i64>,
    cancel_at_period_end: Option<bool>,
    retry_at: Option<i64>,
}

impl Reported {
    fn new(rank: u8, status: Status, current_period_end: Option<i64>) -> Reported {
        Reported {
            rank,
            status,
            current_period_end,
            cancel_at_period_end: None,
            retry_at: None,
        }
    }
}

/// Applies one fact to a subscription. Total: every (status, fact) pair has an answer.
pub fn apply(state: &State, fact: &Fact) -> Decision<State> {
    conclude(state, step(state, fact), effects)
}

/// The transition table.
fn step(state: &State, fact: &Fact) -> Result<Step<State>, RejectReason> {
    use FactKind as F;
    let report = |reported| Ok(report(state, fact, reported));
    match (state.status, &fact.kind) {
        // The subscription's own reports; after the end they can only move the period end.
        (
            live!() | Status::Canceled,
            F::SubscriptionCreated {
                status,
                current_period_end: end,
            },
        ) => report(Reported::new(RANK_CREATED, Status::parse(status)?, *end)),
        (
            live!() | Status::Canceled,
            F::SubscriptionUpdated {
                status,
                current_period_end: end,
                cancel_at_period_end: at_end,
            },
        ) => report(Reported {
            cancel_at_period_end: Some(*at_end),
            ..Reported::new(RANK_UPDATED, Status::parse(status)?, *end)
        }),
        (
            live!() | Status::Canceled,
            F::SubscriptionPastDue {
                current_period_end: end,
            },
        ) => report(Reported::new(RANK_PAST_DUE, Status::PastDue, *end)),
        (live!() | Status::Canceled, F::SubscriptionCanceled) => Ok(cancel(state)),

        // Its invoices drive dunning: a failure means past due, a payment means active again.
        (
            live!(),
            F::InvoicePaymentFailed {
                next_payment_attempt: retry_at,
                ..
            },
        ) => report(Reported {
            retry_at: *retry_at,
            ..Reported::new(RANK_INVOICE_FAILED, Status::PastDue, None)
        }),
        // A zero invoice (a trial's first) says nothing about payment.
        (live!(), F::InvoicePaid { amount_paid }) if amount_paid.minor == 0 => {
            skip(Ignored::NotApplicable)
        }
        (live!(), F::InvoicePaid { .. }) => {
            report(Reported::new(RANK_INVOICE_PAID, Status::Active, None))
        }
        (Status::Canceled, F::InvoicePaymentFailed { .. } | F::InvoicePaid { .. }) => {
            skip(Ignored::Stale)
        }

        (
            live!() | Status::Canceled,
            F::PaymentSucceeded { .. }
            | F::PaymentFailed { .. }
            | F::PaymentProcessing { .. }
            | F::PaymentRequiresAction { .. }
            | F::PaymentCanceled
            | F::CheckoutCompletedPaid { .. }
            | F::CheckoutCompletedUnpaid
            | F::CheckoutAsyncPaymentSucceeded { .. }
            | F::CheckoutAsyncPaymentFailed
            | F::CheckoutExpired
            | F::Refunded { .. }
            | F::RefundFailed { .. }
            | F::DisputeOpened { .. }
            | F::DisputeWon
            | F::DisputeLost { .. }
            | F::EarlyFraudWarning { .. }
            | F::InvoiceFinalized { .. }
            | F::PayoutPaid { .. }
            | F::PayoutFailed { .. },
        ) => skip(Ignored::NotApplicable),
    }
}

/// Joins a report: the end, or the latest status; the latest setting; the latest period end.
fn report(state: &State, fact: &Fact, reported: Reported) -> Step<State> {
    let at = Stamp::of(fact, reported.rank);
    let mut next = state.clone();
    let unchanged = if reported.status == Status::Canceled {
        next.canceled = true;
        Ignored::Duplicate
    } else {
        let held = next.latest.as_ref().map(|report| &report.at);
        let unchanged = if held == Some(&at) {
            Ignored::Duplicate
        } else {
            Ignored::Stale
        };
        if held.is_none_or(|held| *held < at) {
            next.latest = Some(Report {
                at: at.clone(),
                status: reported.status,
                retry_at: reported.retry_at,
            });
        }
        unchanged
    };
    if let Some(value) = reported.cancel_at_period_end
        && next
            .cancel_at_period_end
            .as_ref()
            .is_none_or(|held| held.at < at)
    {
        next.cancel_at_period_end = Some(Setting { at, value });
    }
    if let Some(end) = reported.current_period_end {
        next.current_period_end = Some(next.current_period_end.map_or(end, |held| held.max(end)));
    }
    Step::Merged {
        next: next.settled(),
        unchanged,
    }
}

fn cancel(state: &State) -> Step<State> {
    let mut next = state.clone();
    next.canceled = true;
    Step::Merged {
        next: next.settled(),
        unchanged: Ignored::Duplicate,
    }
}

/// The effects of going from `old` to `new`.
fn effects(old: &State, new: &State) -> Vec<Effect> {
    let mut out = Vec::new();
    if old.status != new.status {
        emit(&mut out, Effect::SubscriptionStatusChanged {
            from: old.status,
            to: new.status,
        });
    }
    let retry_at = new.latest.as_ref().and_then(|report| report.retry_at);
    let new_failure = new.latest != old.latest
        && new
            .latest
            .as_ref()
            .is_some_and(|report| report.at.rank == RANK_INVOICE_FAILED);
    match (old.status.in_dunning(), new.status.in_dunning()) {
        (false, true) => emit(&mut out, Effect::NotifyPaymentFailed { retry_at }),
        (true, true) if new_failure => emit(&mut out, Effect::NotifyPaymentFailed { retry_at }),
        (true, false) if new.status == Status::Active || new.status == Status::Trialing => {
            emit(&mut out, Effect::NotifyPaymentRecovered)
        }
        (true | false, true | false) => {}
    }
    if new.canceled {
        return out;
    }
    match (old.cancels_at_period_end(), new.cancels_at_period_end()) {
        (false, true) => emit(&mut out, Effect::SubscriptionCancellationScheduled {
            at: new.current_period_end,
        }),
        (true, false) => emit(&mut out, Effect::SubscriptionCancellationRevoked),
        (true, true) | (false, false) => {}
    }
    if let Some(end) = new.current_period_end
        && old.current_period_end.is_none_or(|before| before < end)
    {
        emit(&mut out, Effect::SubscriptionPeriodEnd {
            current_period_end: end,
        });
    }
    out
}

#[cfg(test)]
mod tests;
