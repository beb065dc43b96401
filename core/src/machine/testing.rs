//! Test support shared by the machines' tests: fact builders, schedules (permutations with
//! duplicates) and the order-independence property every machine must have.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Debug;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Decision, Effect, Ignored, LedgerKind, PaymentId};
use crate::event::EventId;
use crate::fact::{Fact, FactKind, Links, Subject};
use crate::money::{Currency, Money};

/// `minor` euro cents.
pub(crate) fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

/// A fact of `kind` from event `event` at `at`, about nothing yet (see [`About`]).
pub(crate) fn fact(event: &str, at: i64, kind: FactKind) -> Fact {
    Fact {
        event_id: EventId::new(event),
        occurred_at: at,
        kind,
        subject: Subject::default(),
        links: Links::default(),
    }
}

/// Builders for the Stripe ids a fact concerns.
pub(crate) trait About: Sized {
    fn edit(self, f: impl FnOnce(&mut Subject)) -> Self;
    fn pi(self, id: &str) -> Self {
        self.edit(|s| s.payment_intent = Some(id.into()))
    }
    fn charge(self, id: &str) -> Self {
        self.edit(|s| s.charge = Some(id.into()))
    }
    fn session(self, id: &str) -> Self {
        self.edit(|s| s.checkout_session = Some(id.into()))
    }
    fn invoice(self, id: &str) -> Self {
        self.edit(|s| s.invoice = Some(id.into()))
    }
    fn refund(self, id: &str) -> Self {
        self.edit(|s| s.refund = Some(id.into()))
    }
}

impl About for Fact {
    fn edit(mut self, f: impl FnOnce(&mut Subject)) -> Fact {
        f(&mut self.subject);
        self
    }
}

/// Applies `facts` in order; returns the final state and every effect, checking on the way that
/// an applied decision really changes the state and that `invariant(before, after)` holds.
pub(crate) fn run<S: Clone + PartialEq + Debug + Serialize>(
    initial: &S,
    facts: &[&Fact],
    apply: fn(&S, &Fact) -> Decision<S>,
    invariant: &dyn Fn(&S, &S) -> Result<(), String>,
) -> Result<(S, Vec<Effect>), TestCaseError> {
    let mut state = initial.clone();
    let mut effects = Vec::new();
    for fact in facts {
        let decision = apply(&state, fact);
        // The documents' own JSON writer agrees with serde_json on every decision made here.
        let json = serde_json::to_string(&decision).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(super::document::to_json(&decision), json);
        if let Decision::Applied {
            next,
            effects: more,
        } = decision
        {
            prop_assert_ne!(&next, &state, "applied without a change: {:?}", fact);
            invariant(&state, &next).map_err(|why| {
                TestCaseError::fail(format!("{why}\n{fact:?}\n{state:?}\n{next:?}"))
            })?;
            state = next;
            effects.extend(more);
        }
    }
    Ok((state, effects))
}

/// The sum of the ledger entries per (kind, payment).
pub(crate) fn ledger(effects: &[Effect]) -> BTreeMap<(LedgerKind, PaymentId), i64> {
    let mut totals = BTreeMap::new();
    for effect in effects {
        if let Effect::LedgerEntry {
            kind,
            payment,
            amount,
            ..
        } = effect
        {
            *totals.entry((*kind, payment.clone())).or_insert(0) += amount.minor;
        }
    }
    totals
}

/// The property every machine has: the facts applied in `first` and in `second` order (both
/// permutations with duplicates) end in the same state with the same ledger totals, that state
/// survives a JSON round trip, and every fact applied to it again is ignored. Returns the final
/// state and the effects of the first order.
pub(crate) fn check_order_independence<S>(
    initial: &S,
    facts: &[Fact],
    first: &[usize],
    second: &[usize],
    apply: fn(&S, &Fact) -> Decision<S>,
    invariant: &dyn Fn(&S, &S) -> Result<(), String>,
) -> Result<(S, Vec<Effect>), TestCaseError>
where
    S: Clone + PartialEq + Debug + Serialize + DeserializeOwned,
{
    let pick = |order: &[usize]| order.iter().map(|&i| &facts[i]).collect::<Vec<_>>();
    let (a, effects_a) = run(initial, &pick(first), apply, invariant)?;
    let (b, effects_b) = run(initial, &pick(second), apply, invariant)?;
    prop_assert_eq!(&a, &b, "different final states");
    prop_assert_eq!(
        ledger(&effects_a),
        ledger(&effects_b),
        "different ledger totals"
    );
    for fact in facts {
        let again = apply(&a, fact);
        prop_assert!(
            matches!(again, Decision::Ignored(_)),
            "not idempotent: {:?} gave {:?}",
            fact,
            again
        );
    }
    let json = serde_json::to_string(&a).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let back: S =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&back, &a, "json round trip");
    Ok((a, effects_a))
}

/// Every index of `0..n` once plus up to `n` duplicates, shuffled.
pub(crate) fn schedule(n: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..n.max(1), 0..=n).prop_flat_map(move |duplicates| {
        let mut all: Vec<usize> = (0..n).collect();
        all.extend(duplicates.into_iter().filter(|&i| i < n));
        Just(all).prop_shuffle()
    })
}

/// Facts from `spec` (each with its own event id `evt_{i}`) and two schedules of them.
pub(crate) fn scenario(
    spec: impl Strategy<Value = (i64, FactKind, Subject)> + 'static,
    max: usize,
) -> impl Strategy<Value = (Vec<Fact>, Vec<usize>, Vec<usize>)> {
    proptest::collection::vec(spec, 1..max).prop_flat_map(|specs| {
        let facts: Vec<Fact> = specs
            .into_iter()
            .enumerate()
            .map(|(i, (at, kind, subject))| Fact {
                subject,
                ..fact(&format!("evt_{i}"), at, kind)
            })
            .collect();
        let n = facts.len();
        (Just(facts), schedule(n), schedule(n))
    })
}

/// A small time range, so that facts often share a second.
pub(crate) fn at() -> impl Strategy<Value = i64> {
    0i64..8
}

/// Amounts in steps of 5.00, so that figures often coincide; now and then in dollars.
pub(crate) fn money() -> impl Strategy<Value = Money> {
    (
        0i64..=6,
        prop_oneof![9 => Just(Currency::EUR), 1 => Just(Currency::USD)],
    )
        .prop_map(|(steps, currency)| Money::new(steps * 500, currency))
}

/// A cumulative refund: usually at most the captured amount, sometimes (to be rejected) above.
pub(crate) fn refund_kind() -> impl Strategy<Value = FactKind> {
    (1i64..=4, 0i64..=5).prop_map(|(captured, refunded)| FactKind::Refunded {
        captured: eur(captured * 500),
        refunded: eur(refunded * 500),
    })
}

/// One of a few PaymentIntents, or none.
pub(crate) fn pi() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(Some("pi_1".into())),
        Just(Some("pi_2".into())),
        Just(Some("pi_3".into())),
        Just(None)
    ]
}

/// A failure's code and message, or none.
pub(crate) fn failure() -> impl Strategy<Value = FactKind> {
    (
        money(),
        prop_oneof![
            Just(None),
            Just(Some(String::from("card_declined"))),
            Just(Some(String::from("expired_card")))
        ],
    )
        .prop_map(|(amount, code)| FactKind::PaymentFailed {
            amount,
            message: code.clone(),
            code,
        })
}

/// Asserts `decision` was ignored for `reason`.
pub(crate) fn assert_ignored<S: Debug>(decision: &Decision<S>, reason: Ignored) {
    assert_eq!(decision.ignored(), Some(&reason), "{decision:?}");
}
