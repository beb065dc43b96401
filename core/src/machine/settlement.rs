//! Money received and returned per payment, for a record that several payments can settle (an
//! invoice, an appointment).

use alloc::vec::Vec;

use serde::Serialize;

use super::{Effect, emit, Ignored, LedgerKind, PaymentId, SortedMap};
use crate::money::{Currency, Money};

/// The amounts received and refunded on a record, per payment, in the record's minor units.
///
/// Both maps only grow, each value by maximum: a second event about the same payment (the
/// Checkout Session and its PaymentIntent) does not count twice, a second payment adds, and
/// Stripe's cumulative refund totals are kept at the largest seen. A refund also records the
/// amount captured, so `refunded[p] <= paid[p]` for every payment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Settlement {
    /// Amount received per payment (0 when no fact said how much).
    pub paid: SortedMap<PaymentId, i64>,
    /// Cumulative amount refunded per payment.
    pub refunded: SortedMap<PaymentId, i64>,
}

impl Settlement {
    /// True once any payment is recorded.
    pub fn has_payments(&self) -> bool {
        !self.paid.is_empty()
    }

    /// The total received.
    pub fn paid_total(&self) -> i64 {
        self.paid
            .values()
            .fold(0, |sum, amount| sum.saturating_add(*amount))
    }

    /// The total refunded.
    pub fn refunded_total(&self) -> i64 {
        self.refunded
            .values()
            .fold(0, |sum, amount| sum.saturating_add(*amount))
    }

    /// Received minus refunded.
    #[inline]
    pub fn net(&self) -> i64 {
        self.paid_total().saturating_sub(self.refunded_total())
    }

    /// Joins "`payment` received `amount`". Returns what to call the fact if nothing changed.
    pub(super) fn pay(&mut self, payment: PaymentId, amount: i64) -> Ignored {
        let unchanged = staleness(self.paid.get(&payment), amount);
        raise(&mut self.paid, payment, amount);
        unchanged
    }

    /// Joins "`payment` captured `captured` and has `refunded` refunded in total".
    pub(super) fn refund(&mut self, payment: PaymentId, captured: i64, refunded: i64) -> Ignored {
        let unchanged = staleness(self.refunded.get(&payment), refunded);
        raise(&mut self.paid, payment.clone(), captured);
        if refunded > 0 {
            raise(&mut self.refunded, payment, refunded);
        }
        unchanged
    }

    /// The money effects of going from `old` to `new`: a completed payment for each new payment,
    /// a ledger entry for each increase, a recorded refund for each refund increase.
    pub(super) fn effects(
        old: &Settlement,
        new: &Settlement,
        currency: Currency,
        out: &mut Vec<Effect>,
    ) {
        let money = |minor| Money::new(minor, currency);
        for (payment, &amount) in &new.paid {
            let before = old.paid.get(payment).copied();
            if before.is_none() {
                emit(out, Effect::PaymentCompleted {
                    payment: payment.clone(),
                    amount: money(amount),
                });
            }
            let delta = amount.saturating_sub(before.unwrap_or(0));
            if delta > 0 {
                emit(out, Effect::LedgerEntry {
                    kind: LedgerKind::Payment,
                    payment: payment.clone(),
                    amount: money(delta),
                    total: money(amount),
                });
            }
        }
        for (payment, &total) in &new.refunded {
            let delta = total.saturating_sub(old.refunded.get(payment).copied().unwrap_or(0));
            if delta > 0 {
                emit(out, Effect::RefundRecorded {
                    payment: payment.clone(),
                    amount: money(delta),
                    total: money(total),
                });
                emit(out, Effect::LedgerEntry {
                    kind: LedgerKind::Refund,
                    payment: payment.clone(),
                    amount: money(delta),
                    total: money(total),
                });
            }
        }
    }
}

/// `Stale` if a larger figure is already held, else `Duplicate`.
fn staleness(held: Option<&i64>, amount: i64) -> Ignored {
    match held {
        Some(&held) if held > amount => Ignored::Stale,
        _ => Ignored::Duplicate,
    }
}

/// Joins `amount` into `map[key]` by maximum.
fn raise(map: &mut SortedMap<PaymentId, i64>, key: PaymentId, amount: i64) {
    let held = map.get_or_insert(key, amount);
    *held = (*held).max(amount);
}
