use alloc::string::ToString;
use alloc::vec;

use serde_json::json;

use super::testing::{About, eur, fact};
use super::*;
use crate::fact::FactKind;

#[test]
fn a_payment_is_keyed_by_payment_intent_then_charge_then_session_then_invoice() {
    let all = fact("evt_1", 1, FactKind::CheckoutExpired)
        .invoice("in_1")
        .session("cs_1")
        .charge("ch_1")
        .pi("pi_1");
    assert_eq!(PaymentId::of(&all.subject), Some(PaymentId::new("pi_1")));
    let no_pi = fact("evt_1", 1, FactKind::CheckoutExpired)
        .invoice("in_1")
        .session("cs_1")
        .charge("ch_1");
    assert_eq!(PaymentId::of(&no_pi.subject), Some(PaymentId::new("ch_1")));
    let session = fact("evt_1", 1, FactKind::CheckoutExpired)
        .invoice("in_1")
        .session("cs_1");
    assert_eq!(
        PaymentId::of(&session.subject),
        Some(PaymentId::new("cs_1"))
    );
    let invoice = fact("evt_1", 1, FactKind::CheckoutExpired).invoice("in_1");
    assert_eq!(
        PaymentId::of(&invoice.subject),
        Some(PaymentId::new("in_1"))
    );
    let empty = fact("evt_1", 1, FactKind::CheckoutExpired).pi("");
    assert_eq!(PaymentId::of(&empty.subject), None);
}

#[test]
fn stamps_order_by_time_then_rank_then_event() {
    let a = Stamp::of(&fact("evt_b", 10, FactKind::CheckoutExpired), 0);
    let b = Stamp::of(&fact("evt_a", 10, FactKind::CheckoutExpired), 1);
    let c = Stamp::of(&fact("evt_a", 11, FactKind::CheckoutExpired), 0);
    let d = Stamp::of(&fact("evt_c", 10, FactKind::CheckoutExpired), 0);
    assert!(a < b && b < c && a < d && d < b);
}

#[test]
fn ignored_reasons_read_as_lowercase_sentences() {
    assert_eq!(
        Ignored::Stale.to_string(),
        "stale: newer information already superseded this fact"
    );
    assert_eq!(
        Ignored::Duplicate.to_string(),
        "duplicate: the record already holds this information"
    );
    assert_eq!(
        Ignored::NotApplicable.to_string(),
        "not applicable: this fact does not concern this kind of record"
    );
    let mismatch = RejectReason::CurrencyMismatch {
        expected: Currency::EUR,
        got: Currency::JPY,
    };
    assert_eq!(
        Ignored::from(mismatch).to_string(),
        "rejected: the fact is in jpy but the record is in eur"
    );
}

#[test]
fn decisions_serialize_for_hosts() {
    let state = invoice::State::open(eur(5000));
    let paid = fact(
        "evt_1",
        10,
        FactKind::PaymentSucceeded { amount: eur(5000) },
    )
    .pi("pi_1");
    let decision = invoice::apply(&state, &paid);
    let value = serde_json::to_value(&decision).unwrap();
    assert_eq!(value["applied"]["next"]["status"], json!("paid"));
    assert_eq!(
        value["applied"]["effects"][2],
        json!({"effect": "invoice_paid", "amount": {"minor": 5000, "currency": "eur"}})
    );
    assert_eq!(
        value["applied"]["effects"][1],
        json!({
            "effect": "ledger_entry",
            "kind": "payment",
            "payment": "pi_1",
            "amount": {"minor": 5000, "currency": "eur"},
            "total": {"minor": 5000, "currency": "eur"},
        })
    );
    let back: Decision<invoice::State> = serde_json::from_value(value).unwrap();
    assert_eq!(back, decision);

    let duplicate: Decision<invoice::State> = Decision::Ignored(Ignored::Duplicate);
    assert_eq!(
        serde_json::to_value(&duplicate).unwrap(),
        json!({"ignored": "duplicate"})
    );
    let rejected: Decision<invoice::State> = Decision::Ignored(
        RejectReason::CurrencyMismatch {
            expected: Currency::EUR,
            got: Currency::USD,
        }
        .into(),
    );
    assert_eq!(
        serde_json::to_value(&rejected).unwrap(),
        json!({"ignored": {"rejected": {
            "condition": "currency_mismatch", "expected": "eur", "got": "usd"
        }}})
    );
}

#[test]
fn every_effect_round_trips_through_json() {
    let effects = vec![
        Effect::PaymentFailed {
            code: Some("card_declined".into()),
            message: None,
        },
        Effect::AppointmentCancelled {
            reason: CancelReason::CheckoutExpired,
        },
        Effect::PaidAfterSlotReleased {
            amount: eur(1),
            released_by: CancelReason::Refunded,
        },
        Effect::SubscriptionStatusChanged {
            from: subscription::Status::PastDue,
            to: subscription::Status::Active,
        },
        Effect::NotifyPaymentRecovered,
        Effect::SlotReleased,
    ];
    for effect in effects {
        let text = serde_json::to_string(&effect).unwrap();
        assert_eq!(
            serde_json::from_str::<Effect>(&text).unwrap(),
            effect,
            "{text}"
        );
    }
}

#[test]
fn the_decision_accessors() {
    let decision: Decision<u8> = Decision::Applied {
        next: 1,
        effects: vec![Effect::SlotReleased],
    };
    assert_eq!(
        (decision.next(), decision.effects(), decision.ignored()),
        (Some(&1), &[Effect::SlotReleased][..], None)
    );
    let ignored: Decision<u8> = Decision::Ignored(Ignored::Stale);
    assert_eq!(
        (ignored.next(), ignored.effects(), ignored.ignored()),
        (None, &[][..], Some(&Ignored::Stale))
    );
}

#[test]
fn attempt_kinds_keep_their_stored_form_and_read_back() {
    let kinds = [
        AttemptKind::RequiresAction,
        AttemptKind::Processing,
        AttemptKind::Failed { code: Some("card_declined".into()), message: Some("Declined \"now\"".into()) },
        AttemptKind::Failed { code: None, message: None },
    ];
    let stored = [
        json!({"kind": "requires_action"}),
        json!({"kind": "processing"}),
        json!({"kind": "failed", "code": "card_declined", "message": "Declined \"now\""}),
        json!({"kind": "failed", "code": null, "message": null}),
    ];
    for (kind, stored) in kinds.iter().zip(&stored) {
        assert_eq!(&serde_json::to_value(kind).unwrap(), stored);
        let text = serde_json::to_string(kind).unwrap();
        assert_eq!(&serde_json::from_str::<AttemptKind>(&text).unwrap(), kind, "{text}");
    }
    // Left-out optional fields, fields in any order, and unknown fields, as the derive read them.
    let read = |text: &str| serde_json::from_str::<AttemptKind>(text);
    assert_eq!(read(r#"{"kind":"failed"}"#).unwrap(), AttemptKind::Failed { code: None, message: None });
    assert_eq!(
        read(r#"{"message":"m","extra":[1,{}],"kind":"failed"}"#).unwrap(),
        AttemptKind::Failed { code: None, message: Some("m".into()) }
    );
    assert_eq!(read(r#"{"kind":"processing","message":"ignored"}"#).unwrap(), AttemptKind::Processing);
    // What is refused, and how it is said.
    let err = read(r#"{"kind":"paid"}"#).unwrap_err().to_string();
    assert!(err.starts_with("unknown variant `paid`, expected one of `requires_action`, `processing`, `failed`"), "{err}");
    let err = read(r#"{"code":"x"}"#).unwrap_err().to_string();
    assert!(err.starts_with("missing field `kind`"), "{err}");
    let err = read(r#"{"kind":"failed","code":5}"#).unwrap_err().to_string();
    assert!(err.starts_with("invalid type: integer `5`, expected a string"), "{err}");
    let err = read(r#"{"kind":"failed","kind":"failed"}"#).unwrap_err().to_string();
    assert!(err.starts_with("duplicate field `kind`"), "{err}");
}

/// Each enum read by its name (`named::named_enum!`) reads every name its derived `Serialize`
/// writes, and nothing else.
#[test]
fn named_enum_round_trips() {
    fn check<T>(named: &[(T, &str)])
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + core::fmt::Debug,
    {
        let names: alloc::vec::Vec<alloc::string::String> =
            named.iter().map(|(_, name)| alloc::format!("`{name}`")).collect();
        for (value, name) in named {
            assert_eq!(serde_json::to_string(value).unwrap(), alloc::format!("\"{name}\""));
            assert_eq!(&serde_json::from_str::<T>(&alloc::format!("\"{name}\"")).unwrap(), value);
            // Escapes are read as the string they stand for.
            let escaped = alloc::format!("\"\\u{:04x}{}\"", name.as_bytes()[0], &name[1..]);
            assert_eq!(&serde_json::from_str::<T>(&escaped).unwrap(), value, "{escaped}");
        }
        let err = serde_json::from_str::<T>("\"Nope\"").unwrap_err().to_string();
        let expected = alloc::format!("unknown variant `Nope`, expected one of {}", names.join(", "));
        assert!(err.starts_with(&expected), "{err}");
        // Only a string names a variant: not serde's `{"name": null}` form of a unit variant.
        for (text, what) in [("7", "integer `7`"), ("null", "null"), ("[]", "sequence"), ("{}", "map")] {
            let err = serde_json::from_str::<T>(text).unwrap_err().to_string();
            let expected = alloc::format!("invalid type: {what}, expected a variant name");
            assert!(err.starts_with(&expected), "{text}: {err}");
        }
        let map = alloc::format!("{{\"{}\":null}}", named[0].1);
        assert!(serde_json::from_str::<T>(&map).is_err(), "{map}");
    }
    check(invoice::Status::NAMED);
    check(payment::Status::NAMED);
    check(payment::DisputeStatus::NAMED);
    check(appointment::Status::NAMED);
    check(subscription::Status::NAMED);
    check(CancelReason::NAMED);
    // The attempt's tag has no `Serialize` of its own: `AttemptKind` writes it.
    let kinds = [AttemptKind::RequiresAction, AttemptKind::Processing, AttemptKind::failed(&None, &None)];
    assert_eq!(AttemptTag::NAMED.len(), kinds.len());
    for (kind, (_, name)) in kinds.iter().zip(AttemptTag::NAMED) {
        assert_eq!(serde_json::to_value(kind).unwrap()["kind"], *name);
    }
}
