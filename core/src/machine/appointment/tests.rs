use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::fact::Subject;
use crate::machine::testing::*;
use crate::machine::{LedgerKind, PaymentId};

const PRICE: i64 = 3000;

fn held() -> State {
    State::new(Currency::EUR)
}

fn applied(state: &State, fact: &Fact) -> (State, Vec<Effect>) {
    match apply(state, fact) {
        Decision::Applied { next, effects } => (next, effects),
        Decision::Ignored(why) => panic!("ignored ({why}): {fact:?}"),
    }
}

/// Applies `facts` in order, expecting each to be applied; returns the final state.
fn through(facts: &[&Fact]) -> State {
    facts
        .iter()
        .fold(held(), |state, fact| applied(&state, fact).0)
}

fn succeeded(event: &str, at: i64, pi: &str) -> Fact {
    fact(event, at, FactKind::PaymentSucceeded { amount: eur(PRICE) }).pi(pi)
}

fn failed(event: &str, at: i64, pi: &str) -> Fact {
    let kind = FactKind::PaymentFailed {
        amount: eur(PRICE),
        code: Some("card_declined".into()),
        message: Some("Your card was declined.".into()),
    };
    fact(event, at, kind).pi(pi)
}

fn expired(event: &str, at: i64, session: &str) -> Fact {
    fact(event, at, FactKind::CheckoutExpired).session(session)
}

fn refunded(event: &str, at: i64, pi: &str, amount: i64) -> Fact {
    fact(
        event,
        at,
        FactKind::Refunded {
            captured: eur(PRICE),
            refunded: eur(amount),
        },
    )
    .pi(pi)
    .charge("ch_1")
}

#[test]
fn kivicare_payment_intent_succeeded_confirms_and_completes_the_payment() {
    let (confirmed, effects) = applied(&held(), &succeeded("evt_1", 10, "pi_1"));
    assert_eq!(confirmed.status, Status::Confirmed);
    assert_eq!(
        effects,
        vec![
            Effect::PaymentCompleted {
                payment: PaymentId::new("pi_1"),
                amount: eur(PRICE)
            },
            Effect::LedgerEntry {
                kind: LedgerKind::Payment,
                payment: PaymentId::new("pi_1"),
                amount: eur(PRICE),
                total: eur(PRICE)
            },
            Effect::AppointmentConfirmed,
        ]
    );
    assert_ignored(
        &apply(&confirmed, &succeeded("evt_1", 10, "pi_1")),
        Ignored::Duplicate,
    );
}

#[test]
fn kivicare_checkout_session_completed_finalizes_the_booking() {
    let completed = fact(
        "evt_1",
        10,
        FactKind::CheckoutCompletedPaid {
            amount: Some(eur(PRICE)),
        },
    )
    .session("cs_1")
    .pi("pi_1");
    let (confirmed, effects) = applied(&held(), &completed);
    assert_eq!(confirmed.status, Status::Confirmed);
    assert!(effects.contains(&Effect::AppointmentConfirmed));
    // Its payment_intent.succeeded is the same payment.
    assert_ignored(
        &apply(&confirmed, &succeeded("evt_2", 10, "pi_1")),
        Ignored::Duplicate,
    );
}

#[test]
fn kivicare_payment_failed_cancels_and_releases_the_slot() {
    let (cancelled, effects) = applied(&held(), &failed("evt_1", 10, "pi_1"));
    assert_eq!(cancelled.status, Status::Cancelled);
    assert_eq!(
        effects,
        vec![
            Effect::AppointmentCancelled {
                reason: CancelReason::PaymentFailed
            },
            Effect::SlotReleased,
            Effect::PaymentFailed {
                code: Some("card_declined".into()),
                message: Some("Your card was declined.".into())
            },
        ]
    );
}

#[test]
fn kivicare_charge_refunded_marks_the_booking_refunded() {
    let confirmed = through(&[&succeeded("evt_1", 10, "pi_1")]);
    let (refunded, effects) = applied(&confirmed, &refunded("evt_2", 20, "pi_1", PRICE));
    assert_eq!(refunded.status, Status::Refunded);
    assert_eq!(
        effects,
        vec![
            Effect::RefundRecorded {
                payment: PaymentId::new("pi_1"),
                amount: eur(PRICE),
                total: eur(PRICE)
            },
            Effect::LedgerEntry {
                kind: LedgerKind::Refund,
                payment: PaymentId::new("pi_1"),
                amount: eur(PRICE),
                total: eur(PRICE)
            },
            Effect::AppointmentRefunded,
        ]
    );
}

#[test]
fn altegio_cancellation_fee_is_a_partial_refund_of_a_confirmed_booking() {
    let confirmed = through(&[&succeeded("evt_1", 10, "pi_1")]);
    let (kept, effects) = applied(&confirmed, &refunded("evt_2", 20, "pi_1", 2500));
    assert_eq!(kept.status, Status::Confirmed);
    assert_eq!(
        effects[0],
        Effect::RefundRecorded {
            payment: PaymentId::new("pi_1"),
            amount: eur(2500),
            total: eur(2500)
        }
    );
}

#[test]
fn checkout_expired_releases_the_slot() {
    let (gone, effects) = applied(&held(), &expired("evt_1", 10, "cs_1"));
    assert_eq!(gone.status, Status::Expired);
    assert_eq!(
        effects,
        vec![
            Effect::AppointmentCancelled {
                reason: CancelReason::CheckoutExpired
            },
            Effect::SlotReleased
        ]
    );
}

#[test]
fn a_payment_after_the_slot_expired_is_a_visible_conflict_in_either_order() {
    let (gone, _) = applied(&held(), &expired("evt_1", 10, "cs_1"));
    let (conflict, effects) = applied(&gone, &succeeded("evt_2", 20, "pi_2"));
    assert_eq!(conflict.status, Status::PaidAfterRelease);
    assert!(effects.contains(&Effect::PaidAfterSlotReleased {
        amount: eur(PRICE),
        released_by: CancelReason::CheckoutExpired
    }));
    assert!(!effects.contains(&Effect::AppointmentConfirmed));

    // Delivered the other way round, the same facts end in the same state.
    let reversed = through(&[
        &succeeded("evt_2", 20, "pi_2"),
        &expired("evt_1", 10, "cs_1"),
    ]);
    assert_eq!(reversed, conflict);

    // The host refunds by policy; the conflict ends as Refunded.
    let (resolved, effects) = applied(&conflict, &refunded("evt_3", 30, "pi_2", PRICE));
    assert_eq!(resolved.status, Status::Refunded);
    assert!(effects.contains(&Effect::AppointmentRefunded));
}

#[test]
fn an_expiry_after_the_payment_is_stale() {
    let confirmed = through(&[&succeeded("evt_1", 10, "pi_1")]);
    assert_ignored(
        &apply(&confirmed, &expired("evt_2", 20, "cs_old")),
        Ignored::Stale,
    );
}

#[test]
fn a_failure_never_cancels_a_confirmed_booking() {
    let confirmed = through(&[&succeeded("evt_2", 20, "pi_1")]);
    assert_ignored(
        &apply(&confirmed, &failed("evt_1", 10, "pi_1")),
        Ignored::Stale,
    );
    assert_ignored(
        &apply(&confirmed, &failed("evt_3", 30, "pi_9")),
        Ignored::Stale,
    );
    let canceled = fact("evt_4", 5, FactKind::PaymentCanceled).pi("pi_1");
    assert_ignored(&apply(&confirmed, &canceled), Ignored::Stale);
}

#[test]
fn a_retry_that_succeeds_after_a_failure_confirms_and_asks_for_a_slot_check() {
    let (cancelled, _) = applied(&held(), &failed("evt_1", 10, "pi_1"));
    let (confirmed, effects) = applied(&cancelled, &succeeded("evt_2", 20, "pi_1"));
    assert_eq!(confirmed.status, Status::Confirmed);
    assert!(effects.contains(&Effect::AppointmentConfirmed));
    assert!(effects.contains(&Effect::PaidAfterSlotReleased {
        amount: eur(PRICE),
        released_by: CancelReason::PaymentFailed
    }));
    // The success first and the stale failure later: the same state, and no slot was released.
    let (reversed, effects) = applied(&held(), &succeeded("evt_2", 20, "pi_1"));
    assert_ignored(
        &apply(&reversed, &failed("evt_1", 10, "pi_1")),
        Ignored::Stale,
    );
    assert_eq!(reversed, confirmed);
    assert!(!effects.contains(&Effect::SlotReleased));
}

#[test]
fn delayed_payment_holds_the_slot_then_confirms_or_cancels() {
    let unpaid = fact("evt_1", 10, FactKind::CheckoutCompletedUnpaid)
        .session("cs_1")
        .pi("pi_1");
    let (waiting, effects) = applied(&held(), &unpaid);
    assert_eq!(waiting.status, Status::AwaitingPayment);
    assert_eq!(effects, vec![Effect::AppointmentAwaitingPayment]);

    let success = fact(
        "evt_2",
        99,
        FactKind::CheckoutAsyncPaymentSucceeded {
            amount: Some(eur(PRICE)),
        },
    )
    .session("cs_1")
    .pi("pi_1");
    assert_eq!(applied(&waiting, &success).0.status, Status::Confirmed);

    let failure = fact("evt_3", 99, FactKind::CheckoutAsyncPaymentFailed)
        .session("cs_1")
        .pi("pi_1");
    let (cancelled, effects) = applied(&waiting, &failure);
    assert_eq!(cancelled.status, Status::Cancelled);
    assert!(effects.contains(&Effect::SlotReleased));
    assert_ignored(&apply(&cancelled, &unpaid), Ignored::Stale);
}

#[test]
fn rejections_and_other_records() {
    let dollars = fact(
        "evt_1",
        10,
        FactKind::PaymentSucceeded {
            amount: Money::new(PRICE, Currency::USD),
        },
    )
    .pi("pi_1");
    assert_eq!(
        apply(&held(), &dollars)
            .ignored()
            .map(ToString::to_string)
            .as_deref(),
        Some("rejected: the fact is in usd but the record is in eur")
    );
    let dispute = fact(
        "evt_2",
        10,
        FactKind::DisputeOpened {
            amount: eur(PRICE),
            reason: None,
        },
    )
    .pi("pi_1");
    assert_ignored(&apply(&held(), &dispute), Ignored::NotApplicable);
    let action = fact(
        "evt_3",
        10,
        FactKind::PaymentRequiresAction {
            amount: eur(PRICE),
            next_action: None,
        },
    )
    .pi("pi_1");
    assert_ignored(&apply(&held(), &action), Ignored::NotApplicable);
}

// ---- properties ----

fn spec() -> impl Strategy<Value = (i64, FactKind, Subject)> {
    use FactKind as F;
    let kind = prop_oneof![
        3 => money().prop_map(|amount| F::PaymentSucceeded { amount }),
        2 => proptest::option::of(money()).prop_map(|amount| F::CheckoutCompletedPaid { amount }),
        1 => Just(F::CheckoutCompletedUnpaid),
        1 => proptest::option::of(money()).prop_map(|amount| F::CheckoutAsyncPaymentSucceeded { amount }),
        1 => Just(F::CheckoutAsyncPaymentFailed),
        2 => refund_kind(),
        3 => failure(),
        1 => Just(F::PaymentCanceled),
        3 => Just(F::CheckoutExpired),
        1 => money().prop_map(|amount| F::PaymentProcessing { amount }),
        1 => money().prop_map(|amount| F::PaymentRequiresAction { amount, next_action: None }),
        1 => money().prop_map(|amount| F::DisputeOpened { amount, reason: None }),
    ];
    (at(), kind, pi(), 1..3u8).prop_map(|(at, kind, pi, n)| {
        let mut subject = Subject {
            payment_intent: pi,
            ..Subject::default()
        };
        match &kind {
            F::CheckoutCompletedPaid { .. }
            | F::CheckoutCompletedUnpaid
            | F::CheckoutAsyncPaymentSucceeded { .. }
            | F::CheckoutAsyncPaymentFailed
            | F::CheckoutExpired => subject.checkout_session = Some(format!("cs_{n}")),
            F::Refunded { .. } => subject.charge = Some(format!("ch_{n}")),
            _ => {}
        }
        (at, kind, subject)
    })
}

fn paid(status: Status) -> bool {
    matches!(
        status,
        Status::Confirmed | Status::PaidAfterRelease | Status::Refunded
    )
}

fn invariant(before: &State, after: &State) -> Result<(), String> {
    if paid(before.status) && !paid(after.status) {
        return Err(format!(
            "paid booking went from {:?} to {:?}",
            before.status, after.status
        ));
    }
    if paid(after.status) != after.paid_at.is_some() {
        return Err("status disagrees with the payment".into());
    }
    if after.status == Status::Confirmed && (after.failure.is_some() || after.expired_at.is_some())
    {
        return Err("confirmed with a release kept".into());
    }
    if let (Some(expired), Some(paid)) = (&after.expired_at, &after.paid_at)
        && expired > paid
    {
        return Err("an expiry after the payment counts as a conflict".into());
    }
    for (payment, refunded) in &after.settlement.refunded {
        if after
            .settlement
            .paid
            .get(payment)
            .is_none_or(|paid| refunded > paid)
        {
            return Err(format!("{payment} refunded {refunded} above what it paid"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_order_with_duplicates_ends_in_the_same_booking((facts, first, second) in scenario(spec(), 14)) {
        let (last, effects) = check_order_independence(&held(), &facts, &first, &second, apply, &invariant)?;
        let totals = ledger(&effects);
        for (payment, amount) in &last.settlement.paid {
            prop_assert_eq!(totals.get(&(LedgerKind::Payment, payment.clone())).copied().unwrap_or(0), *amount);
        }
        for (payment, amount) in &last.settlement.refunded {
            prop_assert_eq!(totals.get(&(LedgerKind::Refund, payment.clone())).copied().unwrap_or(0), *amount);
        }
        // A slot is never released silently under a paid booking: whenever the effects released
        // a slot and the booking ends paid, a conflict effect was emitted after the release.
        let released = effects.iter().rposition(|e| *e == Effect::SlotReleased);
        let flagged = effects.iter().rposition(|e| matches!(e, Effect::PaidAfterSlotReleased { .. }));
        if paid(last.status) && last.status != Status::Refunded && let Some(released) = released {
            prop_assert!(flagged.is_some_and(|flagged| flagged > released), "slot released under a paid booking: {:?}", effects);
        }
    }
}
