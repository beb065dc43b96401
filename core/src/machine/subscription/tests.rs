use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::fact::Subject;
use crate::machine::testing::*;

fn applied(state: &State, fact: &Fact) -> (State, Vec<Effect>) {
    match apply(state, fact) {
        Decision::Applied { next, effects } => (next, effects),
        Decision::Ignored(why) => panic!("ignored ({why}): {fact:?}"),
    }
}

fn through(facts: &[&Fact]) -> State {
    facts
        .iter()
        .fold(State::new(), |state, fact| applied(&state, fact).0)
}

fn created(event: &str, at: i64, status: &str, period_end: i64) -> Fact {
    fact(
        event,
        at,
        FactKind::SubscriptionCreated {
            status: status.into(),
            current_period_end: Some(period_end),
        },
    )
}

fn updated(
    event: &str,
    at: i64,
    status: &str,
    period_end: i64,
    cancel_at_period_end: bool,
) -> Fact {
    let kind = FactKind::SubscriptionUpdated {
        status: status.into(),
        current_period_end: Some(period_end),
        cancel_at_period_end,
    };
    fact(event, at, kind)
}

fn invoice_failed(event: &str, at: i64, retry_at: Option<i64>) -> Fact {
    fact(
        event,
        at,
        FactKind::InvoicePaymentFailed {
            amount_due: eur(1900),
            next_payment_attempt: retry_at,
        },
    )
    .invoice("in_1")
}

fn invoice_paid(event: &str, at: i64, amount: i64) -> Fact {
    fact(
        event,
        at,
        FactKind::InvoicePaid {
            amount_paid: eur(amount),
        },
    )
    .invoice("in_1")
}

#[test]
fn bivelio_past_due_then_recovered() {
    let (active, effects) = applied(&State::new(), &created("evt_1", 1, "active", 100));
    assert_eq!(
        effects,
        vec![
            Effect::SubscriptionStatusChanged {
                from: Status::Incomplete,
                to: Status::Active
            },
            Effect::SubscriptionPeriodEnd {
                current_period_end: 100
            },
        ]
    );
    let (past_due, effects) = applied(&active, &invoice_failed("evt_2", 10, Some(500)));
    assert_eq!(past_due.status, Status::PastDue);
    assert_eq!(
        effects,
        vec![
            Effect::SubscriptionStatusChanged {
                from: Status::Active,
                to: Status::PastDue
            },
            Effect::NotifyPaymentFailed {
                retry_at: Some(500)
            },
        ]
    );
    // Stripe's own past_due update of the same second ranks before the invoice failure.
    let marked = fact(
        "evt_3",
        10,
        FactKind::SubscriptionPastDue {
            current_period_end: Some(100),
        },
    );
    assert_ignored(&apply(&past_due, &marked), Ignored::Stale);

    let (recovered, effects) = applied(&past_due, &invoice_paid("evt_4", 20, 1900));
    assert_eq!(recovered.status, Status::Active);
    assert_eq!(
        effects,
        vec![
            Effect::SubscriptionStatusChanged {
                from: Status::PastDue,
                to: Status::Active
            },
            Effect::NotifyPaymentRecovered
        ]
    );
    // The failure delivered after the recovery is stale, and the state is the same.
    let reversed = through(&[
        &created("evt_1", 1, "active", 100),
        &invoice_paid("evt_4", 20, 1900),
    ]);
    assert_ignored(
        &apply(&reversed, &invoice_failed("evt_2", 10, Some(500))),
        Ignored::Stale,
    );
    assert_ignored(&apply(&reversed, &marked), Ignored::Stale);
    assert_eq!(reversed, recovered);
}

#[test]
fn each_failed_retry_notifies_again() {
    let past_due = through(&[
        &created("evt_1", 1, "active", 100),
        &invoice_failed("evt_2", 10, Some(15)),
    ]);
    let (still, effects) = applied(&past_due, &invoice_failed("evt_3", 15, Some(25)));
    assert_eq!(still.status, Status::PastDue);
    assert_eq!(
        effects,
        vec![Effect::NotifyPaymentFailed { retry_at: Some(25) }]
    );
    let (unpaid, effects) = applied(&still, &updated("evt_4", 30, "unpaid", 100, false));
    assert_eq!(unpaid.status, Status::Unpaid);
    assert_eq!(
        effects,
        vec![Effect::SubscriptionStatusChanged {
            from: Status::PastDue,
            to: Status::Unpaid
        }]
    );
}

#[test]
fn cancellation_at_period_end_is_scheduled_and_revoked_by_the_latest_setting() {
    let active = through(&[&created("evt_1", 1, "active", 100)]);
    let (scheduled, effects) = applied(&active, &updated("evt_2", 10, "active", 100, true));
    assert!(scheduled.cancels_at_period_end());
    assert_eq!(
        effects,
        vec![Effect::SubscriptionCancellationScheduled { at: Some(100) }]
    );
    let (revoked, effects) = applied(&scheduled, &updated("evt_3", 20, "active", 100, false));
    assert!(!revoked.cancels_at_period_end());
    assert_eq!(effects, vec![Effect::SubscriptionCancellationRevoked]);
    assert_ignored(
        &apply(&revoked, &updated("evt_2", 10, "active", 100, true)),
        Ignored::Stale,
    );
}

#[test]
fn a_renewal_moves_the_period_end_forward_only() {
    let active = through(&[&created("evt_1", 1, "active", 100)]);
    let (renewed, effects) = applied(&active, &updated("evt_2", 100, "active", 200, false));
    assert_eq!(
        effects,
        vec![Effect::SubscriptionPeriodEnd {
            current_period_end: 200
        }]
    );
    assert_eq!(renewed.current_period_end, Some(200));
    assert_ignored(
        &apply(&renewed, &updated("evt_0", 0, "active", 100, false)),
        Ignored::Stale,
    );
}

#[test]
fn canceled_is_terminal() {
    let active = through(&[&created("evt_1", 1, "active", 100)]);
    let (ended, effects) = applied(&active, &fact("evt_2", 50, FactKind::SubscriptionCanceled));
    assert_eq!(ended.status, Status::Canceled);
    assert_eq!(
        effects,
        vec![Effect::SubscriptionStatusChanged {
            from: Status::Active,
            to: Status::Canceled
        }]
    );
    assert_ignored(
        &apply(&ended, &updated("evt_3", 60, "active", 100, false)),
        Ignored::Stale,
    );
    assert_ignored(
        &apply(&ended, &invoice_paid("evt_4", 70, 1900)),
        Ignored::Stale,
    );
    assert_ignored(
        &apply(&ended, &updated("evt_5", 80, "canceled", 100, false)),
        Ignored::Duplicate,
    );
    let expired = through(&[&created("evt_1", 1, "incomplete_expired", 100)]);
    assert_eq!(expired.status, Status::Canceled);

    // Ending a subscription that was set to cancel at period end revokes nothing.
    let scheduled = through(&[
        &created("evt_1", 1, "active", 100),
        &updated("evt_6", 10, "active", 100, true),
    ]);
    let (ended, effects) = applied(
        &scheduled,
        &fact("evt_7", 100, FactKind::SubscriptionCanceled),
    );
    assert!(!ended.cancels_at_period_end());
    assert_eq!(ended.cancel_at_period_end, None);
    assert_eq!(
        effects,
        vec![Effect::SubscriptionStatusChanged {
            from: Status::Active,
            to: Status::Canceled
        }]
    );
}

#[test]
fn a_trial_converts_when_its_first_real_invoice_is_paid() {
    let trial = through(&[&created("evt_1", 1, "trialing", 100)]);
    assert_eq!(trial.status, Status::Trialing);
    // The trial's zero invoice, even a second later, says nothing about payment.
    assert_ignored(
        &apply(&trial, &invoice_paid("evt_2", 2, 0)),
        Ignored::NotApplicable,
    );
    let (active, effects) = applied(&trial, &invoice_paid("evt_3", 100, 1900));
    assert_eq!(active.status, Status::Active);
    assert_eq!(
        effects,
        vec![Effect::SubscriptionStatusChanged {
            from: Status::Trialing,
            to: Status::Active
        }]
    );
}

#[test]
fn an_unknown_status_is_rejected_with_its_text() {
    let odd = created("evt_1", 1, "weird", 100);
    assert_eq!(
        apply(&State::new(), &odd)
            .ignored()
            .map(ToString::to_string)
            .as_deref(),
        Some("rejected: unknown subscription status \"weird\"")
    );
    let payment = fact("evt_2", 1, FactKind::PaymentSucceeded { amount: eur(1) }).pi("pi_1");
    assert_ignored(&apply(&State::new(), &payment), Ignored::NotApplicable);
}

// ---- properties ----

fn spec() -> impl Strategy<Value = (i64, FactKind, Subject)> {
    use FactKind as F;
    let status = || {
        prop_oneof![
            4 => Just("active"),
            2 => Just("trialing"),
            2 => Just("past_due"),
            1 => Just("unpaid"),
            1 => Just("incomplete"),
            1 => Just("paused"),
            1 => Just("canceled"),
            1 => Just("incomplete_expired"),
            1 => Just("weird"),
        ]
    };
    let period = || proptest::option::of(0i64..4).prop_map(|end| end.map(|k| 100 * k));
    let kind = prop_oneof![
        1 => (status(), period()).prop_map(|(s, current_period_end)| F::SubscriptionCreated { status: s.into(), current_period_end }),
        4 => (status(), period(), any::<bool>()).prop_map(|(s, current_period_end, cancel_at_period_end)| {
            F::SubscriptionUpdated { status: s.into(), current_period_end, cancel_at_period_end }
        }),
        2 => period().prop_map(|current_period_end| F::SubscriptionPastDue { current_period_end }),
        1 => Just(F::SubscriptionCanceled),
        3 => money().prop_map(|amount_paid| F::InvoicePaid { amount_paid }),
        3 => (money(), proptest::option::of(0i64..9)).prop_map(|(amount_due, next_payment_attempt)| {
            F::InvoicePaymentFailed { amount_due, next_payment_attempt }
        }),
        1 => money().prop_map(|amount_due| F::InvoiceFinalized { amount_due }),
        1 => money().prop_map(|amount| F::PaymentSucceeded { amount }),
    ];
    (at(), kind).prop_map(|(at, kind)| {
        (
            at,
            kind,
            Subject {
                subscription: Some("sub_1".into()),
                ..Subject::default()
            },
        )
    })
}

fn invariant(before: &State, after: &State) -> Result<(), String> {
    if before.status == Status::Canceled && after.status != Status::Canceled {
        return Err(format!("canceled came back as {:?}", after.status));
    }
    if after
        .latest
        .as_ref()
        .is_some_and(|report| report.status == Status::Canceled)
    {
        return Err("a canceled report kept as the latest".into());
    }
    if before.current_period_end > after.current_period_end {
        return Err("the period end went backwards".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_order_with_duplicates_ends_in_the_same_subscription((facts, first, second) in scenario(spec(), 14)) {
        let (last, effects) = check_order_independence(&State::new(), &facts, &first, &second, apply, &invariant)?;
        prop_assert!(ledger(&effects).is_empty());
        // Dunning notifications pair up: the last one agrees with where the subscription ended.
        let last_notice = effects.iter().rev().find(|e| matches!(e, Effect::NotifyPaymentFailed { .. } | Effect::NotifyPaymentRecovered));
        if last.status.in_dunning() {
            prop_assert!(matches!(last_notice, Some(Effect::NotifyPaymentFailed { .. })), "{:?}", effects);
        }
    }
}
