use super::*;
use crate::event::decode;
use crate::signature::VerifiedPayload;
use std::path::PathBuf;

fn event(name: &str) -> Event {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/stripe-events/events").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    decode(&VerifiedPayload::from_store(text.as_bytes())).unwrap()
}

fn kinds(name: &str) -> Vec<&'static str> {
    facts(&event(name)).iter().map(|f| f.kind.name()).collect()
}

#[test]
fn every_fixture_maps_to_the_expected_facts() {
    let table: &[(&str, &[&str])] = &[
        ("payment_intent.succeeded.json", &["payment_succeeded"]),
        ("payment_intent.payment_failed.json", &["payment_failed"]),
        ("payment_intent.processing.json", &["payment_processing"]),
        ("payment_intent.requires_action.json", &["payment_requires_action"]),
        ("payment_intent.canceled.json", &["payment_canceled"]),
        ("payment_intent.amount_capturable_updated.json", &[]),
        ("charge.succeeded.json", &[]),
        ("charge.failed.json", &[]),
        ("charge.captured.json", &[]),
        ("charge.refunded.json", &["refunded"]),
        ("charge.refunded--partial.json", &["refunded"]),
        ("refund.created.json", &[]),
        ("refund.updated.json", &[]),
        ("charge.refund.updated.json", &[]),
        ("refund.failed.json", &["refund_failed"]),
        ("charge.dispute.created.json", &["dispute_opened"]),
        ("charge.dispute.updated.json", &[]),
        ("charge.dispute.funds_withdrawn.json", &[]),
        ("charge.dispute.funds_reinstated.json", &[]),
        ("charge.dispute.closed.json", &["dispute_won"]),
        ("radar.early_fraud_warning.created.json", &["early_fraud_warning"]),
        ("checkout.session.completed.json", &["checkout_completed_paid"]),
        ("checkout.session.completed--async-pending.json", &["checkout_completed_unpaid"]),
        ("checkout.session.async_payment_succeeded.json", &["checkout_async_payment_succeeded"]),
        ("checkout.session.async_payment_failed.json", &["checkout_async_payment_failed"]),
        ("checkout.session.expired.json", &["checkout_expired"]),
        ("customer.subscription.created.json", &["subscription_created"]),
        ("customer.subscription.updated.json", &["subscription_updated"]),
        ("customer.subscription.deleted.json", &["subscription_canceled"]),
        ("invoice.finalized.json", &["invoice_finalized"]),
        ("invoice.paid.json", &["invoice_paid"]),
        ("invoice.payment_succeeded.json", &["invoice_paid"]),
        ("invoice.payment_failed.json", &["invoice_payment_failed"]),
        ("payout.paid.json", &["payout_paid"]),
        ("payout.failed.json", &["payout_failed"]),
    ];
    assert_eq!(table.len(), 35, "one row per fixture");
    for (file, expected) in table {
        assert_eq!(kinds(file), *expected, "{file}");
    }
}

#[test]
fn facts_carry_amounts_subjects_and_provenance() {
    let e = event("payment_intent.succeeded.json");
    let f = &facts(&e)[0];
    assert_eq!(f.event_id, e.id);
    assert_eq!(f.occurred_at, e.created);
    assert_eq!(f.kind, FactKind::PaymentSucceeded { amount: Money::new(2000, Currency::parse("usd").unwrap()) });
    assert_eq!(f.subject.payment_intent.as_deref(), Some("pi_3SfLmNAb1Cd2Ef3G0Xy1Wz2V"));
    assert_eq!(f.subject.charge.as_deref(), Some("ch_3SfLmNAb1Cd2Ef3G0Xy1Wz2V"));

    let partial = &facts(&event("charge.refunded--partial.json"))[0];
    let usd = Currency::parse("usd").unwrap();
    assert_eq!(partial.kind, FactKind::Refunded { captured: Money::new(2000, usd), refunded: Money::new(500, usd) });
}

#[test]
fn metadata_links_name_the_hosts_records() {
    let body = r#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":5,"data":{"object":{"object":"payment_intent","id":"pi_1","amount":2000,"amount_received":2000,"currency":"eur","status":"succeeded","metadata":{"invoice_id":"inv_42","booking_id":"appt_7","customer_id":"c_9"}}}}"#;
    let e = decode(&VerifiedPayload::from_store(body.as_bytes())).unwrap();
    let f = &facts(&e)[0];
    assert_eq!(f.links.invoice_id.as_deref(), Some("inv_42"));
    assert_eq!(f.links.appointment_id.as_deref(), Some("appt_7"));
    assert_eq!(f.links.customer_id.as_deref(), Some("c_9"));
}

#[test]
fn unknown_types_establish_nothing() {
    let body = r#"{"id":"evt_1","object":"event","type":"something.new","created":5,"data":{"object":{"object":"payment_intent","id":"pi_1","amount":1,"currency":"eur","status":"succeeded"}}}"#;
    let e = decode(&VerifiedPayload::from_store(body.as_bytes())).unwrap();
    assert!(facts(&e).is_empty());
}
