//! Monotonic state machines for the host's records: an [`invoice`] settled by payments, an
//! [`appointment`] held for a payment, one [`payment`], and a [`subscription`].
//!
//! Stripe delivers every event at least once and in no particular order, so each machine is
//! built for the order not to matter. A state is a *join-semilattice*: the join of the facts
//! applied so far. Amounts are the largest figure seen per payment (Stripe's refund totals are
//! cumulative), flags and sets only grow, an outcome that settles a record (a payment
//! succeeded, a subscription canceled) dominates everything that could precede it, and where two
//! passing statuses compete the one with the later [`Stamp`] wins (`occurred_at`, then a rank per
//! kind of fact, then the event id). The status is derived from those parts. Hence:
//!
//! - the same set of facts, applied in any order with any repeats, ends in the same state;
//! - a fact whose information is already in the state is `Ignored(Duplicate)`, one that newer
//!   information has superseded is `Ignored(Stale)`; neither changes anything;
//! - effects are computed from the difference between the old and the new state, so a repeat
//!   yields none, and ledger entries add up to the same totals in every order.
//!
//! Each machine's `apply(state, fact)` is total and never panics. A fact that does not concern
//! the kind of record is `Ignored(NotApplicable)`; one that contradicts it is
//! `Ignored(Rejected(reason))`. A rejection depends only on the fact and on what the record was
//! created with (its currency), never on what arrived before, so it cannot break the above.
//!
//! Routing is the host's job: it applies a fact to the records the fact names
//! ([`Links`](crate::fact::Links) for its own records, [`Subject`] for Stripe's objects). A host
//! that runs several machines over the same money (say a payment and the invoice it settles)
//! books [`Effect::LedgerEntry`] from one of them, or deduplicates on `(payment, kind, total)`.

pub mod appointment;
pub mod document;
mod effect;
pub mod invoice;
pub mod payment;
mod read;
mod settlement;
pub mod subscription;

#[cfg(test)]
mod testing;

pub use effect::{CancelReason, Effect, LedgerKind};
pub use settlement::Settlement;
pub use crate::sorted_map::SortedMap;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::event::EventId;
use crate::fact::{Fact, Subject};
use crate::money::{Currency, Money};

/// What applying a fact to a record decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision<S> {
    /// The fact changed the record: store `next`, then perform `effects` (in order).
    Applied {
        /// The record's new state.
        next: S,
        /// What the host must do, as data.
        effects: Vec<Effect>,
    },
    /// The fact changed nothing; the state stays as it was.
    Ignored(Ignored),
}

impl<S> Decision<S> {
    /// The new state, if the fact was applied.
    pub fn next(&self) -> Option<&S> {
        match self {
            Decision::Applied { next, .. } => Some(next),
            Decision::Ignored(_) => None,
        }
    }

    /// The effects to perform (none when ignored).
    pub fn effects(&self) -> &[Effect] {
        match self {
            Decision::Applied { effects, .. } => effects,
            Decision::Ignored(_) => &[],
        }
    }

    /// Why the fact was ignored, if it was.
    pub fn ignored(&self) -> Option<&Ignored> {
        match self {
            Decision::Applied { .. } => None,
            Decision::Ignored(reason) => Some(reason),
        }
    }
}

/// Why a fact left a record unchanged. None of these is an error to retry: the delivery is
/// handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    /// Newer information already superseded the fact (a failure after the payment succeeded, a
    /// refund total lower than one already seen).
    #[error("stale: newer information already superseded this fact")]
    Stale,
    /// The same information is already in the state (a redelivery, or a second event saying the
    /// same thing).
    #[error("duplicate: the record already holds this information")]
    Duplicate,
    /// The fact does not concern this kind of record (a payout given to an invoice).
    #[error("not applicable: this fact does not concern this kind of record")]
    NotApplicable,
    /// The fact contradicts the record.
    #[error("rejected: {0}")]
    Rejected(RejectReason),
}

impl From<RejectReason> for Ignored {
    fn from(reason: RejectReason) -> Ignored {
        Ignored::Rejected(reason)
    }
}

/// Why a fact is inconsistent with a record. Each variant names its condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "condition", rename_all = "snake_case")]
pub enum RejectReason {
    /// An amount is in another currency than the record.
    #[error("the fact is in {got} but the record is in {expected}")]
    CurrencyMismatch {
        /// The record's currency.
        expected: Currency,
        /// The fact's currency.
        got: Currency,
    },
    /// An amount is below zero.
    #[error("negative amount {amount}")]
    NegativeAmount {
        /// The amount.
        amount: Money,
    },
    /// A refund total is above the amount captured on the same charge.
    #[error("refunded total {refunded} is above the captured amount {captured}")]
    RefundAboveCaptured {
        /// The amount captured.
        captured: Money,
        /// The cumulative amount refunded.
        refunded: Money,
    },
    /// The fact settles money on the record but does not say how much.
    #[error("{fact} carries no amount, so it cannot settle this record")]
    MissingAmount {
        /// The fact's name ([`FactKind::name`](crate::fact::FactKind::name)).
        fact: String,
    },
    /// The fact names no payment (no PaymentIntent, charge, Checkout Session or invoice id).
    #[error("{fact} names no payment_intent, charge, checkout session or invoice")]
    MissingPaymentId {
        /// The fact's name.
        fact: String,
    },
    /// A subscription status that Stripe does not document.
    #[error("unknown subscription status {}", crate::json::Quoted(.status))]
    UnknownSubscriptionStatus {
        /// The status as received.
        status: String,
    },
}

/// When a fact happened, totally ordered: `occurred_at`, then a rank that orders kinds of fact
/// of the same second the way they happen (a failure after the `requires_action` it ends), then
/// the event id. Distinct events never tie, so "the later stamp wins" is deterministic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Stamp {
    /// The event's `created` time (unix seconds).
    pub at: i64,
    /// Orders kinds of fact that share a second.
    pub rank: u8,
    /// The event.
    pub event: EventId,
}

impl Stamp {
    /// The stamp of `fact`, with the machine's rank for its kind.
    pub fn of(fact: &Fact, rank: u8) -> Stamp {
        Stamp {
            at: fact.occurred_at,
            rank,
            event: fact.event_id.clone(),
        }
    }
}

/// Which payment an amount belongs to: the PaymentIntent id, else the charge id, else the
/// Checkout Session id, else Stripe's invoice id. Two facts about one payment share it, so their
/// amounts are merged rather than added.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentId(String);

impl PaymentId {
    /// Wraps an id (`pi_…`, `ch_…`, `cs_…`, `in_…`, or the host's own).
    pub fn new(id: impl Into<String>) -> PaymentId {
        PaymentId(id.into())
    }

    /// The payment a fact concerns, by the precedence above.
    pub fn of(subject: &Subject) -> Option<PaymentId> {
        [
            &subject.payment_intent,
            &subject.charge,
            &subject.checkout_session,
            &subject.invoice,
        ]
        .into_iter()
        .flatten()
        .find(|id| !id.is_empty())
        .map(|id| PaymentId(id.clone()))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The latest attempt to pay that has not (yet) produced an outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// When it was reported.
    pub at: Stamp,
    /// Where it stands.
    pub kind: AttemptKind,
}

/// Where an unfinished payment attempt stands. Stored as `{"kind": "failed", "code": …,
/// "message": …}`, and read back in one pass by the state reader (`machine::read`) (serde's derive for an internally
/// tagged enum buffers the object first). As with the derive, `code` and `message` may be left
/// out (`None`) and are ignored for the other kinds; unlike it, they must be strings or `null`
/// whatever the kind (payhook writes them only for a failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptKind {
    /// The customer must act (3-D Secure).
    RequiresAction,
    /// A delayed method (SEPA, ACH…) is processing.
    Processing,
    /// The attempt failed; the customer may retry.
    Failed {
        /// Stripe's failure code, e.g. `card_declined`.
        code: Option<String>,
        /// Stripe's failure message.
        message: Option<String>,
    },
}

impl AttemptKind {
    /// The rank of this kind within a second: action, then processing, then failure.
    fn rank(&self) -> u8 {
        match self {
            AttemptKind::RequiresAction => 0,
            AttemptKind::Processing => 1,
            AttemptKind::Failed { .. } => 2,
        }
    }

    /// A failure with Stripe's code and message.
    fn failed(code: &Option<String>, message: &Option<String>) -> AttemptKind {
        AttemptKind::Failed {
            code: code.clone(),
            message: message.clone(),
        }
    }
}

/// The kinds of [`AttemptKind`], as stored in its `kind` field.
#[derive(Clone, Copy)]
enum AttemptTag {
    RequiresAction,
    Processing,
    Failed,
}

crate::named::named_enum!(AttemptTag {
    RequiresAction = "requires_action",
    Processing = "processing",
    Failed = "failed",
});

/// Keeps the later of the attempt in `slot` and the one `fact` reports. Returns what to call the
/// fact should the state end up unchanged: `Duplicate` if `slot` already holds it, else `Stale`.
fn merge_attempt(slot: &mut Option<Attempt>, fact: &Fact, kind: AttemptKind) -> Ignored {
    let at = Stamp::of(fact, kind.rank());
    let unchanged = if slot.as_ref().is_some_and(|current| current.at == at) {
        Ignored::Duplicate
    } else {
        Ignored::Stale
    };
    if slot.as_ref().is_none_or(|current| current.at < at) {
        *slot = Some(Attempt { at, kind });
    }
    unchanged
}

/// One step of a machine before the comparison with the old state.
enum Step<S> {
    /// The join of the state and the fact, and what to call the fact if that equals the state.
    Merged {
        /// The joined (and normalized) state.
        next: S,
        /// `Duplicate` or `Stale`.
        unchanged: Ignored,
    },
    /// The fact does not take part in the join.
    Skip(Ignored),
}

/// Turns a step into a decision: a rejection or a skip is ignored, an unchanged state is
/// ignored as the step says, a changed one is applied with the effects of the difference.
fn conclude<S: PartialEq>(
    old: &S,
    step: Result<Step<S>, RejectReason>,
    effects: fn(&S, &S) -> Vec<Effect>,
) -> Decision<S> {
    match step {
        Err(reason) => Decision::Ignored(Ignored::Rejected(reason)),
        Ok(Step::Skip(reason)) => Decision::Ignored(reason),
        Ok(Step::Merged { next, unchanged }) if next == *old => Decision::Ignored(unchanged),
        Ok(Step::Merged { next, .. }) => Decision::Applied {
            effects: effects(old, &next),
            next,
        },
    }
}

/// A merged step.
fn merged<S>(next: S, unchanged: Ignored) -> Result<Step<S>, RejectReason> {
    Ok(Step::Merged { next, unchanged })
}

/// Appends `effect` to `out`. Out of line: pushing a large enum at each of a machine's forty
/// places that raise an effect repeated the capacity check and the copy at every one.
#[inline(never)]
fn emit(out: &mut Vec<Effect>, effect: Effect) {
    out.push(effect);
}

/// A skipped step.
fn skip<S>(reason: Ignored) -> Result<Step<S>, RejectReason> {
    Ok(Step::Skip(reason))
}

/// The minor units of `money` if it is a non-negative amount in `currency`.
fn minor_in(currency: Currency, money: Money) -> Result<i64, RejectReason> {
    if money.currency != currency {
        Err(RejectReason::CurrencyMismatch {
            expected: currency,
            got: money.currency,
        })
    } else if money.minor < 0 {
        Err(RejectReason::NegativeAmount { amount: money })
    } else {
        Ok(money.minor)
    }
}

/// Like [`minor_in`], with 0 for an absent amount.
fn minor_or_zero(currency: Currency, money: Option<Money>) -> Result<i64, RejectReason> {
    money.map_or(Ok(0), |money| minor_in(currency, money))
}

/// Checks a cumulative refund: both amounts in `currency`, not negative, refunded ≤ captured.
fn refund_in(
    currency: Currency,
    captured: Money,
    refunded: Money,
) -> Result<(i64, i64), RejectReason> {
    let (c, r) = (minor_in(currency, captured)?, minor_in(currency, refunded)?);
    if r > c {
        return Err(RejectReason::RefundAboveCaptured { captured, refunded });
    }
    Ok((c, r))
}

/// The payment a fact concerns, or the rejection for a money fact that names none.
fn payment_of(fact: &Fact) -> Result<PaymentId, RejectReason> {
    PaymentId::of(&fact.subject).ok_or_else(|| RejectReason::MissingPaymentId {
        fact: fact.kind.name().into(),
    })
}

#[cfg(test)]
mod tests;
