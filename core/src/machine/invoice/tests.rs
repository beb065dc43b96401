use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::fact::Subject;
use crate::machine::LedgerKind;
use crate::machine::testing::*;

const DUE: i64 = 5000;

fn open() -> State {
    State::open(eur(DUE))
}

/// Applies `fact` and expects it applied; returns the next state and the effects.
fn applied(state: &State, fact: &Fact) -> (State, Vec<Effect>) {
    match apply(state, fact) {
        Decision::Applied { next, effects } => (next, effects),
        Decision::Ignored(why) => panic!("ignored ({why}): {fact:?}"),
    }
}

fn pi_succeeded(event: &str, at: i64, pi: &str, amount: i64) -> Fact {
    fact(
        event,
        at,
        FactKind::PaymentSucceeded {
            amount: eur(amount),
        },
    )
    .pi(pi)
}

fn session_completed(event: &str, at: i64, session: &str, pi: &str, amount: i64) -> Fact {
    fact(
        event,
        at,
        FactKind::CheckoutCompletedPaid {
            amount: Some(eur(amount)),
        },
    )
    .session(session)
    .pi(pi)
}

fn charge_refunded(event: &str, at: i64, pi: &str, captured: i64, refunded: i64) -> Fact {
    fact(
        event,
        at,
        FactKind::Refunded {
            captured: eur(captured),
            refunded: eur(refunded),
        },
    )
    .pi(pi)
    .charge("ch_1")
}

#[test]
fn fluxrate_checkout_session_completed_marks_the_invoice_paid() {
    let (paid, effects) = applied(
        &open(),
        &session_completed("evt_1", 10, "cs_1", "pi_1", DUE),
    );
    assert_eq!(paid.status, Status::Paid);
    assert_eq!(
        effects,
        vec![
            Effect::PaymentCompleted {
                payment: PaymentId::new("pi_1"),
                amount: eur(DUE)
            },
            Effect::LedgerEntry {
                kind: LedgerKind::Payment,
                payment: PaymentId::new("pi_1"),
                amount: eur(DUE),
                total: eur(DUE)
            },
            Effect::InvoicePaid { amount: eur(DUE) },
        ]
    );
    // The same payment's payment_intent.succeeded adds nothing.
    assert_ignored(
        &apply(&paid, &pi_succeeded("evt_2", 11, "pi_1", DUE)),
        Ignored::Duplicate,
    );
    // A redelivery neither.
    assert_ignored(
        &apply(&paid, &session_completed("evt_1", 10, "cs_1", "pi_1", DUE)),
        Ignored::Duplicate,
    );
}

#[test]
fn fluxrate_payment_intent_succeeded_marks_the_invoice_paid() {
    let (paid, effects) = applied(&open(), &pi_succeeded("evt_1", 10, "pi_1", DUE));
    assert_eq!(paid.status, Status::Paid);
    assert!(effects.contains(&Effect::InvoicePaid { amount: eur(DUE) }));
    assert_ignored(
        &apply(&paid, &session_completed("evt_2", 10, "cs_1", "pi_1", DUE)),
        Ignored::Duplicate,
    );
}

#[test]
fn bivelio_stripe_invoice_paid_settles_the_linked_invoice() {
    let paid_event = fact(
        "evt_1",
        10,
        FactKind::InvoicePaid {
            amount_paid: eur(DUE),
        },
    )
    .invoice("in_1");
    let (paid, effects) = applied(&open(), &paid_event);
    assert_eq!(paid.status, Status::Paid);
    assert_eq!(
        paid.settlement.paid.get(&PaymentId::new("in_1")),
        Some(&DUE)
    );
    assert!(effects.contains(&Effect::InvoicePaid { amount: eur(DUE) }));
}

#[test]
fn two_partial_payments_add_up_and_a_repeated_one_does_not() {
    let (partial, effects) = applied(&open(), &pi_succeeded("evt_1", 10, "pi_1", 2000));
    assert_eq!(partial.status, Status::PartiallyPaid);
    assert!(effects.contains(&Effect::InvoicePartiallyPaid {
        paid: eur(2000),
        remaining: eur(3000)
    }));
    assert_ignored(
        &apply(&partial, &pi_succeeded("evt_1", 10, "pi_1", 2000)),
        Ignored::Duplicate,
    );

    let (paid, effects) = applied(&partial, &pi_succeeded("evt_2", 20, "pi_2", 3000));
    assert_eq!(paid.status, Status::Paid);
    assert!(effects.contains(&Effect::InvoicePaid { amount: eur(5000) }));
    assert_eq!(paid.remaining(), 0);
}

#[test]
fn an_overpayment_is_paid_with_the_excess_reported() {
    let (partial, _) = applied(&open(), &pi_succeeded("evt_1", 10, "pi_1", 3000));
    let (paid, effects) = applied(&partial, &pi_succeeded("evt_2", 20, "pi_2", 3000));
    assert_eq!(paid.status, Status::Paid);
    assert_eq!(paid.excess(), 1000);
    assert!(effects.contains(&Effect::InvoiceOverpaid { excess: eur(1000) }));

    // Refunding the excess keeps the invoice paid.
    let (still_paid, effects) = applied(&paid, &charge_refunded("evt_3", 30, "pi_2", 3000, 1000));
    assert_eq!(still_paid.status, Status::Paid);
    assert!(effects.contains(&Effect::RefundRecorded {
        payment: PaymentId::new("pi_2"),
        amount: eur(1000),
        total: eur(1000)
    }));
}

#[test]
fn partial_then_full_refund_with_cumulative_totals() {
    let (paid, _) = applied(&open(), &pi_succeeded("evt_1", 10, "pi_1", DUE));
    let (partial, effects) = applied(&paid, &charge_refunded("evt_2", 20, "pi_1", DUE, 2000));
    assert_eq!(partial.status, Status::PartiallyRefunded);
    assert!(effects.contains(&Effect::RefundRecorded {
        payment: PaymentId::new("pi_1"),
        amount: eur(2000),
        total: eur(2000)
    }));

    let (refunded, effects) = applied(&partial, &charge_refunded("evt_3", 30, "pi_1", DUE, DUE));
    assert_eq!(refunded.status, Status::Refunded);
    assert!(effects.contains(&Effect::RefundRecorded {
        payment: PaymentId::new("pi_1"),
        amount: eur(3000),
        total: eur(DUE)
    }));
    assert!(effects.contains(&Effect::InvoiceRefunded { amount: eur(DUE) }));

    // The older, smaller total arriving late is stale; the same total again a duplicate.
    assert_ignored(
        &apply(&refunded, &charge_refunded("evt_2", 20, "pi_1", DUE, 2000)),
        Ignored::Stale,
    );
    assert_ignored(
        &apply(&refunded, &charge_refunded("evt_4", 40, "pi_1", DUE, DUE)),
        Ignored::Duplicate,
    );
}

#[test]
fn delayed_sepa_completed_unpaid_does_not_pay_and_async_success_does() {
    let unpaid = fact("evt_1", 10, FactKind::CheckoutCompletedUnpaid)
        .session("cs_1")
        .pi("pi_1");
    let (processing, effects) = applied(&open(), &unpaid);
    assert_eq!(processing.status, Status::Processing);
    assert_eq!(effects, vec![Effect::PaymentProcessing]);
    assert!(!processing.settlement.has_payments());

    let success = fact(
        "evt_2",
        99,
        FactKind::CheckoutAsyncPaymentSucceeded {
            amount: Some(eur(DUE)),
        },
    )
    .session("cs_1")
    .pi("pi_1");
    let (paid, effects) = applied(&processing, &success);
    assert_eq!(paid.status, Status::Paid);
    assert!(effects.contains(&Effect::InvoicePaid { amount: eur(DUE) }));
}

#[test]
fn delayed_sepa_async_failure_leaves_the_invoice_open_with_a_failed_attempt() {
    let unpaid = fact("evt_1", 10, FactKind::CheckoutCompletedUnpaid)
        .session("cs_1")
        .pi("pi_1");
    let (processing, _) = applied(&open(), &unpaid);
    let failed = fact("evt_2", 99, FactKind::CheckoutAsyncPaymentFailed)
        .session("cs_1")
        .pi("pi_1");
    let (failed, effects) = applied(&processing, &failed);
    assert_eq!(failed.status, Status::PaymentFailed);
    assert_eq!(
        effects,
        vec![Effect::PaymentFailed {
            code: None,
            message: None
        }]
    );
    // The processing report arriving again is older: stale.
    assert_ignored(&apply(&failed, &unpaid), Ignored::Stale);
}

#[test]
fn a_failed_attempt_then_a_retry_pays_and_a_late_failure_is_stale() {
    let declined = fact(
        "evt_1",
        10,
        FactKind::PaymentFailed {
            amount: eur(DUE),
            code: Some("card_declined".into()),
            message: Some("declined".into()),
        },
    )
    .pi("pi_1");
    let (failed, effects) = applied(&open(), &declined);
    assert_eq!(failed.status, Status::PaymentFailed);
    assert_eq!(
        effects,
        vec![Effect::PaymentFailed {
            code: Some("card_declined".into()),
            message: Some("declined".into())
        }]
    );

    let (paid, _) = applied(&failed, &pi_succeeded("evt_2", 20, "pi_1", DUE));
    assert_eq!(paid.status, Status::Paid);
    assert_eq!(paid.attempt, None);
    // Paid never goes back: a failure, older or newer, is stale.
    assert_ignored(&apply(&paid, &declined), Ignored::Stale);
    let newer = Fact {
        event_id: crate::event::EventId::new("evt_3"),
        occurred_at: 30,
        ..declined
    };
    assert_ignored(&apply(&paid, &newer), Ignored::Stale);
}

#[test]
fn a_draft_paid_early_becomes_paid_when_finalized() {
    let (draft, effects) = applied(
        &State::draft(Currency::EUR),
        &pi_succeeded("evt_1", 10, "pi_1", DUE),
    );
    assert_eq!(draft.status, Status::Draft);
    assert!(effects.iter().all(|e| matches!(
        e,
        Effect::PaymentCompleted { .. } | Effect::LedgerEntry { .. }
    )));
    let finalized = fact(
        "evt_2",
        5,
        FactKind::InvoiceFinalized {
            amount_due: eur(DUE),
        },
    )
    .invoice("in_1");
    let (paid, effects) = applied(&draft, &finalized);
    assert_eq!(paid.status, Status::Paid);
    assert_eq!(
        effects,
        vec![
            Effect::InvoiceOpened {
                amount_due: eur(DUE)
            },
            Effect::InvoicePaid { amount: eur(DUE) }
        ]
    );
    assert_ignored(&apply(&paid, &finalized), Ignored::Duplicate);
}

#[test]
fn rejections_name_their_condition() {
    let dollars = fact(
        "evt_1",
        10,
        FactKind::PaymentSucceeded {
            amount: Money::new(DUE, Currency::USD),
        },
    )
    .pi("pi_1");
    let decision = apply(&open(), &dollars);
    assert_eq!(
        decision.ignored().map(ToString::to_string).as_deref(),
        Some("rejected: the fact is in usd but the record is in eur")
    );

    let too_much = charge_refunded("evt_2", 10, "pi_1", 5000, 6000);
    assert_eq!(
        apply(&open(), &too_much)
            .ignored()
            .map(ToString::to_string)
            .as_deref(),
        Some("rejected: refunded total 60.00 eur is above the captured amount 50.00 eur")
    );

    let no_amount = fact(
        "evt_3",
        10,
        FactKind::CheckoutCompletedPaid { amount: None },
    )
    .session("cs_1");
    assert_eq!(
        apply(&open(), &no_amount)
            .ignored()
            .map(ToString::to_string)
            .as_deref(),
        Some(
            "rejected: checkout_completed_paid carries no amount, so it cannot settle this record"
        )
    );

    let anonymous = fact("evt_4", 10, FactKind::PaymentSucceeded { amount: eur(DUE) });
    assert_eq!(
        apply(&open(), &anonymous)
            .ignored()
            .map(ToString::to_string)
            .as_deref(),
        Some(
            "rejected: payment_succeeded names no payment_intent, charge, checkout session or invoice"
        )
    );

    let negative = fact("evt_5", 10, FactKind::PaymentSucceeded { amount: eur(-1) }).pi("pi_1");
    assert_eq!(
        apply(&open(), &negative)
            .ignored()
            .map(ToString::to_string)
            .as_deref(),
        Some("rejected: negative amount -0.01 eur")
    );
}

#[test]
fn facts_about_other_records_are_not_applicable() {
    let payout = fact(
        "evt_1",
        10,
        FactKind::PayoutPaid {
            amount: eur(DUE),
            arrival_date: None,
        },
    );
    assert_ignored(&apply(&open(), &payout), Ignored::NotApplicable);
    assert_ignored(
        &apply(&open(), &fact("evt_2", 10, FactKind::SubscriptionCanceled)),
        Ignored::NotApplicable,
    );
    assert_ignored(
        &apply(
            &open(),
            &fact("evt_3", 10, FactKind::CheckoutExpired).session("cs_1"),
        ),
        Ignored::NotApplicable,
    );
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
        1 => money().prop_map(|amount_paid| F::InvoicePaid { amount_paid }),
        3 => refund_kind(),
        2 => failure(),
        1 => money().prop_map(|amount| F::PaymentProcessing { amount }),
        1 => money().prop_map(|amount| F::PaymentRequiresAction { amount, next_action: None }),
        1 => money().prop_map(|amount_due| F::InvoicePaymentFailed { amount_due, next_payment_attempt: None }),
        1 => money().prop_map(|amount_due| F::InvoiceFinalized { amount_due }),
        1 => Just(F::CheckoutExpired),
        1 => Just(F::PayoutFailed { amount: eur(1), code: None, message: None }),
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
            F::InvoicePaid { .. } | F::InvoicePaymentFailed { .. } | F::InvoiceFinalized { .. } => {
                subject.invoice = Some(format!("in_{n}"))
            }
            _ => {}
        }
        (at, kind, subject)
    })
}

fn received(status: Status) -> bool {
    matches!(
        status,
        Status::PartiallyPaid | Status::Paid | Status::PartiallyRefunded | Status::Refunded
    )
}

fn invariant(before: &State, after: &State) -> Result<(), String> {
    if received(before.status) && !received(after.status) {
        return Err(format!(
            "{:?} went back to {:?}",
            before.status, after.status
        ));
    }
    if before.settlement.has_payments()
        && matches!(
            after.status,
            Status::Open | Status::Processing | Status::PaymentFailed
        )
    {
        return Err("money received, yet open again".into());
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
    if after.settlement.has_payments() && after.attempt.is_some() {
        return Err("an attempt is kept after money was received".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_order_with_duplicates_ends_in_the_same_invoice(
        initial in prop_oneof![Just(State::draft(Currency::EUR)), (0i64..=6).prop_map(|k| State::open(eur(k * 1000)))],
        (facts, first, second) in scenario(spec(), 14),
    ) {
        let (last, effects) = check_order_independence(&initial, &facts, &first, &second, apply, &invariant)?;
        // The ledger adds up to exactly what the invoice holds.
        let totals = ledger(&effects);
        for (payment, paid) in &last.settlement.paid {
            prop_assert_eq!(totals.get(&(LedgerKind::Payment, payment.clone())).copied().unwrap_or(0), *paid);
        }
        for (payment, refunded) in &last.settlement.refunded {
            prop_assert_eq!(totals.get(&(LedgerKind::Refund, payment.clone())).copied().unwrap_or(0), *refunded);
        }
        prop_assert_eq!(totals.values().sum::<i64>(), last.settlement.paid_total() + last.settlement.refunded_total());
    }
}
