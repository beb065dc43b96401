use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::fact::Subject;
use crate::machine::testing::*;

fn new() -> State {
    State::new(PaymentId::new("pi_1"), Currency::EUR)
}

fn applied(state: &State, fact: &Fact) -> (State, Vec<Effect>) {
    match apply(state, fact) {
        Decision::Applied { next, effects } => (next, effects),
        Decision::Ignored(why) => panic!("ignored ({why}): {fact:?}"),
    }
}

fn through(facts: &[&Fact]) -> State {
    facts
        .iter()
        .fold(new(), |state, fact| applied(&state, fact).0)
}

fn succeeded(event: &str, at: i64, amount: i64) -> Fact {
    fact(
        event,
        at,
        FactKind::PaymentSucceeded {
            amount: eur(amount),
        },
    )
    .pi("pi_1")
}

fn declined(event: &str, at: i64) -> Fact {
    let kind = FactKind::PaymentFailed {
        amount: eur(3000),
        code: Some("card_declined".into()),
        message: None,
    };
    fact(event, at, kind).pi("pi_1")
}

fn refunded(event: &str, at: i64, captured: i64, refunded: i64) -> Fact {
    fact(
        event,
        at,
        FactKind::Refunded {
            captured: eur(captured),
            refunded: eur(refunded),
        },
    )
    .pi("pi_1")
    .charge("ch_1")
}

fn entry(kind: LedgerKind, amount: i64, total: i64) -> Effect {
    Effect::LedgerEntry {
        kind,
        payment: PaymentId::new("pi_1"),
        amount: eur(amount),
        total: eur(total),
    }
}

#[test]
fn kivicare_payment_succeeded_sets_the_payment_completed() {
    let (done, effects) = applied(&new(), &succeeded("evt_1", 10, 3000));
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(
        effects,
        vec![
            Effect::PaymentCompleted {
                payment: PaymentId::new("pi_1"),
                amount: eur(3000)
            },
            entry(LedgerKind::Payment, 3000, 3000)
        ]
    );
}

#[test]
fn bivelio_three_d_secure_then_success() {
    let action = fact(
        "evt_1",
        10,
        FactKind::PaymentRequiresAction {
            amount: eur(3000),
            next_action: None,
        },
    )
    .pi("pi_1");
    let (waiting, effects) = applied(&new(), &action);
    assert_eq!(waiting.status, Status::RequiresAction);
    assert_eq!(effects, vec![Effect::PaymentActionRequired]);
    assert_eq!(
        applied(&waiting, &succeeded("evt_2", 40, 3000)).0.status,
        Status::Succeeded
    );
    // The 3-D Secure report after the success is stale.
    assert_ignored(
        &apply(&through(&[&succeeded("evt_2", 40, 3000)]), &action),
        Ignored::Stale,
    );
}

#[test]
fn a_failure_is_retryable_and_never_undoes_a_success() {
    let (failed, effects) = applied(&new(), &declined("evt_1", 10));
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(
        effects,
        vec![Effect::PaymentFailed {
            code: Some("card_declined".into()),
            message: None
        }]
    );
    let (done, _) = applied(&failed, &succeeded("evt_2", 20, 3000));
    assert_eq!(done.status, Status::Succeeded);
    assert_ignored(&apply(&done, &declined("evt_1", 10)), Ignored::Stale);
    assert_ignored(&apply(&done, &declined("evt_3", 30)), Ignored::Stale);
}

#[test]
fn the_latest_attempt_wins_whatever_the_order() {
    let processing = fact(
        "evt_2",
        20,
        FactKind::PaymentProcessing { amount: eur(3000) },
    )
    .pi("pi_1");
    let in_order = through(&[&declined("evt_1", 10), &processing]);
    let reversed = through(&[&processing]);
    assert_ignored(&apply(&reversed, &declined("evt_1", 10)), Ignored::Stale);
    assert_eq!(in_order.status, Status::Processing);
    assert_eq!(in_order, reversed);
}

#[test]
fn cancellation_ends_attempts_and_a_success_still_counts() {
    let canceled = fact("evt_1", 10, FactKind::PaymentCanceled).pi("pi_1");
    let (gone, effects) = applied(&new(), &canceled);
    assert_eq!(gone.status, Status::Canceled);
    assert_eq!(effects, vec![Effect::PaymentCanceled]);
    assert_ignored(&apply(&gone, &declined("evt_2", 20)), Ignored::Stale);
    assert_eq!(
        applied(&gone, &succeeded("evt_3", 5, 3000)).0.status,
        Status::Succeeded
    );
    assert_ignored(
        &apply(&through(&[&succeeded("evt_3", 5, 3000)]), &canceled),
        Ignored::Stale,
    );
}

#[test]
fn refunds_are_cumulative_and_never_above_the_captured_amount() {
    let done = through(&[&succeeded("evt_1", 10, 3000)]);
    let (partial, effects) = applied(&done, &refunded("evt_2", 20, 3000, 1000));
    assert_eq!(partial.status, Status::PartiallyRefunded);
    assert_eq!(
        effects,
        vec![
            Effect::RefundRecorded {
                payment: PaymentId::new("pi_1"),
                amount: eur(1000),
                total: eur(1000)
            },
            entry(LedgerKind::Refund, 1000, 1000)
        ]
    );
    let (full, _) = applied(&partial, &refunded("evt_3", 30, 3000, 3000));
    assert_eq!(full.status, Status::Refunded);
    assert_ignored(
        &apply(&full, &refunded("evt_2", 20, 3000, 1000)),
        Ignored::Stale,
    );
    assert_eq!(
        apply(&full, &refunded("evt_4", 40, 3000, 3500))
            .ignored()
            .map(ToString::to_string)
            .as_deref(),
        Some("rejected: refunded total 35.00 eur is above the captured amount 30.00 eur")
    );
}

#[test]
fn kivicare_charge_refunded_alone_proves_the_payment() {
    let (refunded, effects) = applied(&new(), &refunded("evt_1", 20, 3000, 3000));
    assert_eq!(refunded.status, Status::Refunded);
    assert!(effects.contains(&Effect::PaymentCompleted {
        payment: PaymentId::new("pi_1"),
        amount: eur(3000)
    }));
    assert_ignored(
        &apply(&refunded, &succeeded("evt_0", 10, 3000)),
        Ignored::Duplicate,
    );
}

#[test]
fn bivelio_verification_charge_refunded_automatically_nets_to_zero() {
    let (charged, _) = applied(&new(), &succeeded("evt_1", 10, 50));
    let (back, _) = applied(&charged, &refunded("evt_2", 11, 50, 50));
    assert_eq!(back.status, Status::Refunded);
    assert_eq!(back.captured - back.net_refunded(), 0);
}

#[test]
fn a_failed_refund_returns_the_money_to_the_merchant() {
    let refund_failed = fact(
        "evt_3",
        30,
        FactKind::RefundFailed {
            amount: eur(1000),
            reason: Some("expired_or_canceled_card".into()),
        },
    )
    .pi("pi_1")
    .refund("re_1");
    let partial = through(&[
        &succeeded("evt_1", 10, 3000),
        &refunded("evt_2", 20, 3000, 1000),
    ]);
    let (back, effects) = applied(&partial, &refund_failed);
    assert_eq!(back.status, Status::Succeeded);
    assert_eq!(
        effects,
        vec![
            Effect::RefundFailed {
                amount: eur(1000),
                reason: Some("expired_or_canceled_card".into())
            },
            entry(LedgerKind::RefundReversal, 1000, 1000),
        ]
    );
    assert_ignored(&apply(&back, &refund_failed), Ignored::Duplicate);
}

#[test]
fn altegio_dispute_opened_then_lost_books_the_loss() {
    let done = through(&[&succeeded("evt_1", 10, 3000)]);
    let opened = fact(
        "evt_2",
        20,
        FactKind::DisputeOpened {
            amount: eur(3000),
            reason: Some("fraudulent".into()),
        },
    )
    .charge("ch_1");
    let (open, effects) = applied(&done, &opened);
    assert_eq!(
        open.dispute.as_ref().map(|d| d.status),
        Some(DisputeStatus::Open)
    );
    assert_eq!(
        effects,
        vec![Effect::DisputeOpened {
            amount: eur(3000),
            reason: Some("fraudulent".into())
        }]
    );

    let lost = fact("evt_3", 30, FactKind::DisputeLost { amount: eur(3000) }).charge("ch_1");
    let (closed, effects) = applied(&open, &lost);
    assert_eq!(
        effects,
        vec![
            Effect::DisputeLost { amount: eur(3000) },
            entry(LedgerKind::DisputeLoss, 3000, 3000)
        ]
    );
    // The dispute only moves forward.
    assert_ignored(&apply(&closed, &opened), Ignored::Stale);
    assert_ignored(
        &apply(
            &closed,
            &fact("evt_4", 40, FactKind::DisputeWon).charge("ch_1"),
        ),
        Ignored::Stale,
    );
}

#[test]
fn altegio_dispute_won() {
    let open = through(&[&fact(
        "evt_1",
        20,
        FactKind::DisputeOpened {
            amount: eur(3000),
            reason: None,
        },
    )
    .charge("ch_1")]);
    let (won, effects) = applied(
        &open,
        &fact("evt_2", 30, FactKind::DisputeWon).charge("ch_1"),
    );
    assert_eq!(
        won.dispute.as_ref().map(|d| d.status),
        Some(DisputeStatus::Won)
    );
    assert_eq!(effects, vec![Effect::DisputeWon]);
}

#[test]
fn an_early_fraud_warning_is_raised_once() {
    let warning = fact(
        "evt_1",
        10,
        FactKind::EarlyFraudWarning {
            fraud_type: Some("stolen_card".into()),
        },
    )
    .charge("ch_1");
    let (flagged, effects) = applied(&new(), &warning);
    assert_eq!(
        effects,
        vec![Effect::FraudWarning {
            fraud_type: Some("stolen_card".into())
        }]
    );
    assert_ignored(&apply(&flagged, &warning), Ignored::Duplicate);
}

#[test]
fn facts_about_other_records_are_not_applicable() {
    let payout = fact(
        "evt_1",
        10,
        FactKind::PayoutPaid {
            amount: eur(3000),
            arrival_date: None,
        },
    );
    assert_ignored(&apply(&new(), &payout), Ignored::NotApplicable);
    let invoice = fact(
        "evt_2",
        10,
        FactKind::InvoicePaid {
            amount_paid: eur(3000),
        },
    )
    .invoice("in_1");
    assert_ignored(&apply(&new(), &invoice), Ignored::NotApplicable);
}

// ---- properties ----

fn spec() -> impl Strategy<Value = (i64, FactKind, Subject)> {
    use FactKind as F;
    let text = || {
        prop_oneof![
            Just(None),
            Just(Some(String::from("a"))),
            Just(Some(String::from("b")))
        ]
    };
    let kind = prop_oneof![
        3 => money().prop_map(|amount| F::PaymentSucceeded { amount }),
        1 => proptest::option::of(money()).prop_map(|amount| F::CheckoutCompletedPaid { amount }),
        1 => Just(F::CheckoutCompletedUnpaid),
        1 => Just(F::CheckoutAsyncPaymentFailed),
        1 => Just(F::CheckoutExpired),
        3 => failure(),
        1 => money().prop_map(|amount| F::PaymentProcessing { amount }),
        1 => money().prop_map(|amount| F::PaymentRequiresAction { amount, next_action: None }),
        1 => Just(F::PaymentCanceled),
        3 => refund_kind(),
        1 => (money(), text()).prop_map(|(amount, reason)| F::RefundFailed { amount, reason }),
        1 => (money(), text()).prop_map(|(amount, reason)| F::DisputeOpened { amount, reason }),
        1 => Just(F::DisputeWon),
        1 => money().prop_map(|amount| F::DisputeLost { amount }),
        1 => text().prop_map(|fraud_type| F::EarlyFraudWarning { fraud_type }),
        1 => Just(F::SubscriptionCanceled),
    ];
    (at(), kind, 1..3u8).prop_map(|(at, kind, n)| {
        let mut subject = Subject {
            payment_intent: Some("pi_1".into()),
            ..Subject::default()
        };
        if let F::RefundFailed { .. } = kind {
            subject.refund = Some(format!("re_{n}"));
        }
        (at, kind, subject)
    })
}

fn collected(status: Status) -> bool {
    matches!(
        status,
        Status::Succeeded | Status::PartiallyRefunded | Status::Refunded
    )
}

fn invariant(before: &State, after: &State) -> Result<(), String> {
    if after.refunded > after.captured {
        return Err(format!(
            "refunded {} above captured {}",
            after.refunded, after.captured
        ));
    }
    if before.succeeded && !after.succeeded || collected(before.status) && !collected(after.status)
    {
        return Err(format!(
            "a success was undone: {:?} to {:?}",
            before.status, after.status
        ));
    }
    if (after.succeeded || after.canceled) && after.attempt.is_some() {
        return Err("an attempt is kept after the outcome".into());
    }
    if before.dispute.as_ref().map(|d| d.status) > after.dispute.as_ref().map(|d| d.status) {
        return Err("the dispute went backwards".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_order_with_duplicates_ends_in_the_same_payment((facts, first, second) in scenario(spec(), 14)) {
        let (last, effects) = check_order_independence(&new(), &facts, &first, &second, apply, &invariant)?;
        let totals = ledger(&effects);
        let total = |kind| totals.get(&(kind, PaymentId::new("pi_1"))).copied().unwrap_or(0);
        prop_assert_eq!(total(LedgerKind::Payment), last.captured);
        prop_assert_eq!(total(LedgerKind::Refund), last.refunded);
        prop_assert_eq!(total(LedgerKind::RefundReversal), last.refund_failures());
        prop_assert_eq!(total(LedgerKind::DisputeLoss), last.dispute.as_ref().map_or(0, |d| d.lost));
    }
}
