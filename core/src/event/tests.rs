use super::*;
use crate::money::Currency;
use alloc::string::ToString;
use alloc::vec::Vec;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn decode_str(text: &str) -> Result<Event, DecodeError> {
    decode(&VerifiedPayload::from_store(text.as_bytes()))
}

fn fixture_events() -> Vec<(std::string::String, std::string::String)> {
    let mut out: Vec<_> = std::fs::read_dir(fixtures().join("stripe-events/events"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_fixture_event_decodes_with_its_type_and_object() {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("stripe-events/index.json")).unwrap()).unwrap();
    let events = index["events"].as_array().unwrap();
    assert_eq!(events.len(), 35);
    for entry in events {
        let file = entry["file"].as_str().unwrap();
        let text = std::fs::read_to_string(fixtures().join("stripe-events").join(file)).unwrap();
        let event = decode_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(event.event_type.as_str(), entry["type"].as_str().unwrap(), "{file}");
        assert!(event.event_type.is_known(), "{file}");
        assert_eq!(event.object.id(), entry["object_id"].as_str(), "{file}");
        assert!(!matches!(event.object, StripeObject::Other(_)), "{file} decoded as an unknown object");
        assert_eq!(event.api_version.as_deref(), Some("2026-10-28.endive"));
        assert!(!event.livemode);
    }
    assert_eq!(fixture_events().len(), 35);
}

#[test]
fn payment_intent_fields() {
    let (_, text) = fixture_events().into_iter().find(|(f, _)| f == "payment_intent.succeeded.json").unwrap();
    let event = decode_str(&text).unwrap();
    assert_eq!(event.id.as_str(), "evt_3SfQ02TqAb1Cd2Ef3GW");
    assert_eq!(event.created, 1_767_261_603);
    let StripeObject::PaymentIntent(pi) = event.object else { panic!("not a payment intent") };
    assert_eq!(pi.amount, 2000);
    assert_eq!(pi.amount_received, 2000);
    assert_eq!(pi.currency, Currency::parse("usd").unwrap());
    assert_eq!(pi.status, "succeeded");
    assert_eq!(pi.latest_charge.as_deref(), Some("ch_3SfLmNAb1Cd2Ef3G0Xy1Wz2V"));
    assert_eq!(pi.metadata.get("order_id").map(|s| s.as_str()), Some("1001"));
}

#[test]
fn failure_refund_dispute_checkout_subscription_and_payout_fields() {
    let all = fixture_events();
    let get = |name: &str| decode_str(&all.iter().find(|(f, _)| f == name).unwrap().1).unwrap().object;
    let StripeObject::PaymentIntent(pi) = get("payment_intent.payment_failed.json") else { panic!() };
    assert_eq!(pi.last_payment_error.unwrap().code.as_deref(), Some("card_declined"));
    let StripeObject::PaymentIntent(pi) = get("payment_intent.requires_action.json") else { panic!() };
    assert_eq!(pi.next_action.unwrap().kind, "redirect_to_url");
    let StripeObject::Charge(ch) = get("charge.refunded--partial.json") else { panic!() };
    assert_eq!((ch.amount_captured, ch.amount_refunded, ch.refunded), (2000, 500, false));
    let StripeObject::Dispute(d) = get("charge.dispute.closed.json") else { panic!() };
    assert_eq!((d.status.as_str(), d.reason.as_deref()), ("won", Some("fraudulent")));
    let StripeObject::CheckoutSession(s) = get("checkout.session.completed--async-pending.json") else { panic!() };
    assert_eq!(s.payment_status.as_deref(), Some("unpaid"));
    let StripeObject::Subscription(sub) = get("customer.subscription.updated.json") else { panic!() };
    assert!(sub.cancel_at_period_end);
    assert!(sub.current_period_end.is_some(), "period end is read from the items in new API versions");
    let StripeObject::Invoice(inv) = get("invoice.paid.json") else { panic!() };
    assert_eq!(inv.subscription.as_deref(), Some("sub_1SfNbCAb1Cd2Ef3GLw9Ke4Rt"), "read from parent.subscription_details");
    let StripeObject::Payout(po) = get("payout.failed.json") else { panic!() };
    assert_eq!((po.status.as_str(), po.failure_code.as_deref()), ("failed", Some("account_closed")));
    let StripeObject::Refund(r) = get("refund.failed.json") else { panic!() };
    assert_eq!(r.failure_reason.as_deref(), Some("expired_or_canceled_card"));
}

#[test]
fn the_2017_shape_that_localstripe_sends_decodes() {
    let deliveries: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("stripe-vectors/localstripe-deliveries.json")).unwrap(),
    )
    .unwrap();
    for d in deliveries.as_array().unwrap() {
        let event = decode_str(d["payload"].as_str().unwrap()).unwrap();
        assert_eq!(event.event_type.as_str(), d["event_type"].as_str().unwrap());
        assert_eq!(event.api_version.as_deref(), Some("2017-08-15"));
        if let StripeObject::PaymentIntent(pi) = &event.object {
            assert!(pi.latest_charge.is_some(), "the first of `charges` stands in for latest_charge");
        }
    }
}

#[test]
fn the_known_list_matches_the_fixture_and_unknown_types_round_trip() {
    let text = std::fs::read_to_string(fixtures().join("stripe-events/event-types.txt")).unwrap();
    let listed: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(listed.len(), 275);
    let ours: Vec<&str> = KnownEventType::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(listed, ours);
    assert!(ours.windows(2).all(|w| w[0] < w[1]), "ALL must stay sorted for from_wire's binary search");
    for name in listed {
        assert!(EventType::parse(name).is_known(), "{name}");
    }
    let unknown = EventType::parse("payhook.future_thing.happened");
    assert_eq!(unknown, EventType::Unknown("payhook.future_thing.happened".to_string()));
    assert_eq!(unknown.to_string(), "payhook.future_thing.happened");
    let event = decode_str(r#"{"id":"evt_1","object":"event","type":"brand_new.type","created":1,"data":{"object":{"object":"brand_new","id":"bn_1","amount":"not a number"}}}"#).unwrap();
    assert_eq!(event.event_type.as_str(), "brand_new.type");
    assert_eq!(event.object, StripeObject::Other(UnknownObject { object: "brand_new".into(), id: Some("bn_1".into()) }));
}

#[test]
fn thin_events_are_recognised() {
    let text = r#"{"id":"evt_test_65R9Ijk8ah4t","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","created":"2026-01-01T00:00:00.000Z","related_object":{"id":"mtr_1"}}"#;
    assert_eq!(
        decode_str(text).unwrap_err(),
        DecodeError::ThinEventNotification { id: "evt_test_65R9Ijk8ah4t".into(), event_type: "v1.billing.meter.error_report_triggered".into() }
    );
}

#[test]
fn bad_bodies_get_named_errors() {
    let invalid_utf8 = decode(&VerifiedPayload::from_store(b"{\"id\":\"\xff\"}")).unwrap_err();
    assert_eq!(invalid_utf8, DecodeError::InvalidUtf8 { valid_up_to: 7 });
    let cases: &[(&str, &str)] = &[
        ("", "the body is not a valid event: EOF while parsing a value at line 1 column 0"),
        ("not json", "the body is not a valid event: expected ident at line 1 column 2"),
        // An array is refused once serde_json has read its opening bracket (here, and its end).
        ("[]", "the body is not a valid event: invalid type: sequence, expected a JSON object at line 1 column 2"),
        ("7", "the body is not a valid event: invalid type: integer `7`, expected a JSON object at line 1 column 1"),
        ("-1.5e3", "the body is not a valid event: invalid type: floating point number, expected a JSON object at line 1 column 6"),
        ("\"evt\"", "the body is not a valid event: invalid type: string \"evt\", expected a JSON object at line 1 column 5"),
        ("true", "the body is not a valid event: invalid type: boolean `true`, expected a JSON object at line 1 column 4"),
        ("null", "the body is not a valid event: invalid type: null, expected a JSON object at line 1 column 4"),
        (r#"{"object":"charge","id":"ch_1"}"#, "the body is a `charge` object, not an event"),
        (r#"{"object":"event","type":"x","created":1,"data":{"object":{}}}"#, "the event has no `id` field"),
        (r#"{"id":"e","type":"x","created":1}"#, "the event has no `data` field"),
        (r#"{"id":"e","type":"x","created":1,"data":{}}"#, "the event has no `data.object` field"),
        (r#"{"id":"e","type":"payment_intent.succeeded","created":1,"data":{"object":{"object":"payment_intent","id":"pi","amount":-5,"currency":"usd","status":"succeeded"}}}"#, "`data.object.amount` is -5, which is not a valid amount"),
        (r#"{"id":"e","type":"payment_intent.succeeded","created":1,"data":{"object":{"object":"payment_intent","id":"pi","amount":1e30,"currency":"usd","status":"succeeded"}}}"#, "`data.object.amount` is 9223372036854775807, which is not a valid amount"),
        (r#"{"id":"e","type":"payment_intent.succeeded","created":1,"data":{"object":{"object":"payment_intent","id":"pi","amount":99999999999999999999999,"currency":"usd","status":"succeeded"}}}"#, "`data.object.amount` is 9223372036854775807, which is not a valid amount"),
        (r#"{"id":"e","type":"payment_intent.succeeded","created":1,"data":{"object":{"object":"payment_intent","id":"pi","amount":100,"currency":"dollars","status":"succeeded"}}}"#, "`dollars` is not a currency code"),
        (r#"{"id":"e","type":"payment_intent.succeeded","created":1,"data":{"object":{"object":"payment_intent","id":"pi","amount":100,"currency":"usd","status":7}}}"#, "`data.object.status` must be a string"),
        (r#"{"id":"e","type":"payment_intent.succeeded","created":1,"data":{"object":{"object":"payment_intent","id":"pi","currency":"usd","status":"succeeded"}}}"#, "the event has no `data.object.amount` field"),
    ];
    for (body, message) in cases {
        assert_eq!(decode_str(body).unwrap_err().to_string(), *message, "{body}");
    }
}

/// An event whose `data.object` is `object`.
fn with_object(object: &str) -> std::string::String {
    std::format!(r#"{{"id":"e","type":"x","created":1,"data":{{"object":{object}}}}}"#)
}

#[test]
fn a_field_read_twice_is_refused_and_a_field_of_another_type_is_lenient() {
    let invalid = |body: &str| match decode_str(body).unwrap_err() {
        DecodeError::InvalidJson { message, .. } => message,
        other => panic!("{body}: {other:?}"),
    };
    // A field the decoder reads, given twice, at each level: the envelope, the object, a
    // nested record, a list.
    assert_eq!(invalid(r#"{"id":"e","id":"f"}"#), "duplicate field `id`");
    assert_eq!(invalid(&with_object(r#"{"object":"charge","amount":1,"amount":2}"#)), "duplicate field `amount`");
    let twice = with_object(r#"{"object":"payment_intent","last_payment_error":{"code":"a","code":"b"}}"#);
    assert_eq!(invalid(&twice), "duplicate field `code`");
    assert_eq!(invalid(&with_object(r#"{"object":"subscription","items":{"data":[],"data":[]}}"#)), "duplicate field `data`");
    // A list's items are objects: anything else is refused, an array of fields too.
    for (item, message) in [
        ("1", "invalid type: integer `1`, expected a JSON object"),
        ("1.0", "invalid type: floating point number, expected a JSON object"),
        ("18446744073709551615", "invalid type: integer `18446744073709551615`, expected a JSON object"),
        ("false", "invalid type: boolean `false`, expected a JSON object"),
        (r#""si_1""#, r#"invalid type: string "si_1", expected a JSON object"#),
        ("null", "invalid type: null, expected a JSON object"),
        (r#"["si_1",5]"#, "invalid type: sequence, expected a JSON object"),
    ] {
        let body = with_object(&std::format!(r#"{{"object":"subscription","items":{{"data":[{item}]}}}}"#));
        assert_eq!(invalid(&body), message, "{item}");
    }
    for (data, message) in [
        ("{}", "invalid type: map, expected a sequence"),
        ("2.5", "invalid type: floating point number, expected a sequence"),
        (r#""x""#, r#"invalid type: string "x", expected a sequence"#),
        ("null", "invalid type: null, expected a sequence"),
    ] {
        let body = with_object(&std::format!(r#"{{"object":"subscription","items":{{"data":{data}}}}}"#));
        assert_eq!(invalid(&body), message, "{data}");
    }

    // What is not refused: a field the decoder does not read, given twice; a repeated `id` in
    // an expanded reference and a repeated metadata key (the last counts, as in JavaScript);
    // a field of the wrong type in an object kind whose reader does not need it.
    let body = with_object(
        r#"{"object":"customer","id":"cus_1","x":1,"x":2,"customer":{"id":"a","id":"b"},"metadata":{"k":"1","k":"2","n":3},"amount":"ten"}"#,
    );
    let event = decode_str(&body).unwrap();
    assert_eq!(event.object, StripeObject::Other(object::UnknownObject { object: "customer".into(), id: Some("cus_1".into()) }));
    let body = with_object(
        r#"{"object":"payment_intent","id":"pi_1","amount":100,"currency":"usd","status":"succeeded","customer":{"id":"a","id":"b"},"metadata":{"k":"1","k":"2","n":3,"m":"4","m":null}}"#,
    );
    let StripeObject::PaymentIntent(pi) = decode_str(&body).unwrap().object else { panic!("{body}") };
    assert_eq!(pi.customer.as_deref(), Some("b"));
    assert_eq!(pi.metadata, [("k".to_string(), "2".to_string()), ("m".to_string(), "4".to_string())].into_iter().collect());
}

#[test]
fn deep_nesting_is_skipped_without_recursion() {
    // The decoder descends only into the few fixed levels of the event's shape; anything deeper
    // (or any unknown field) is skipped by serde_json without recursion, so no depth can exhaust
    // the stack, natively or inside the component's 64 KiB of stack.
    let depth = 200_000;
    let (open, close) = ("[".repeat(depth), "]".repeat(depth));
    // An array is refused at its first byte, as not an object, before any depth is read.
    assert_eq!(
        decode_str(&std::format!("{open}{close}")).unwrap_err().to_string(),
        "the body is not a valid event: invalid type: sequence, expected a JSON object at line 1 column 1"
    );
    let objects = "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth);
    assert_eq!(decode_str(&objects).unwrap_err(), DecodeError::MissingField { field: "id".into() });
    for field in ["deep", "metadata\":{\"k", "last_payment_error\":{\"code", "amount"] {
        let body = std::format!(r#"{{"id":"e","type":"x","created":1,"data":{{"object":{{"{field}":{open}{close}}}}}}}"#);
        let body = if field == "metadata\":{\"k" || field.starts_with("last_") { body.replacen("]}}}", "]}}}}", 1) } else { body };
        assert_eq!(decode_str(&body).map(|e| e.id), Ok(EventId::new("e")), "{field}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&VerifiedPayload::from_store(&bytes));
        }

        #[test]
        fn decoding_mutated_fixtures_never_panics(index in 0usize..35, cut in 0usize..3000, byte in any::<u8>()) {
            let all = fixture_events();
            let mut body = all[index].1.clone().into_bytes();
            let at = cut.min(body.len().saturating_sub(1));
            body[at] = byte;
            let _ = decode(&VerifiedPayload::from_store(&body));
        }
    }
}
