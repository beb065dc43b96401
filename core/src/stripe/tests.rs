use crate::event::Metadata;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::response::{Object, parse};
use super::retry::{Outcome, next_delay_ms};
use super::*;
use crate::money::{Currency, Money};

fn eur(minor: i64) -> Money {
    Money {
        minor,
        currency: Currency::parse("eur").unwrap(),
    }
}

/// A PaymentIntent of `amount` with every other field at its default.
pub(crate) fn bare_payment_intent(amount: Money) -> Operation {
    Operation::CreatePaymentIntent(PaymentIntentInput {
        amount,
        customer: None,
        payment_method: None,
        confirm: false,
        return_url: None,
        description: None,
        metadata: Metadata::new(),
    })
}

fn meta(pairs: &[(&str, &str)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pairs(r: &Request) -> Vec<(&str, &str)> {
    r.params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn a_payment_intent_is_form_encoded_in_bracket_syntax_and_sorted() {
    let op = Operation::CreatePaymentIntent(PaymentIntentInput {
        amount: eur(2000),
        customer: None,
        payment_method: Some("pm_card_visa".into()),
        confirm: true,
        return_url: Some("https://clinic.example/back?a=1&b=2".into()),
        description: Some("Check-up & cleaning".into()),
        metadata: meta(&[("invoice_id", "inv_1"), ("appointment_id", "apt 2")]),
    });
    let r = build(&op, Some("key-1")).unwrap();
    assert_eq!(
        (r.method, r.path.as_str(), r.idempotency_key.as_deref()),
        (Method::Post, "/v1/payment_intents", Some("key-1"))
    );
    assert_eq!(
        pairs(&r),
        vec![
            ("amount", "2000"),
            ("confirm", "true"),
            ("currency", "eur"),
            ("description", "Check-up & cleaning"),
            ("metadata[appointment_id]", "apt 2"),
            ("metadata[invoice_id]", "inv_1"),
            ("payment_method", "pm_card_visa"),
            ("payment_method_types[0]", "card"),
            ("return_url", "https://clinic.example/back?a=1&b=2"),
        ]
    );
    assert_eq!(
        r.form(),
        "amount=2000&confirm=true&currency=eur&description=Check-up%20%26%20cleaning&metadata%5Bappointment_id%5D=apt%202&\
         metadata%5Binvoice_id%5D=inv_1&payment_method=pm_card_visa&payment_method_types%5B0%5D=card&\
         return_url=https%3A%2F%2Fclinic.example%2Fback%3Fa%3D1%26b%3D2"
    );
    // A retry of the same operation is byte-identical.
    assert_eq!(build(&op, Some("key-1")).unwrap().form(), r.form());
}

#[test]
fn amounts_are_checked_before_any_call() {
    let small = bare_payment_intent(eur(49));
    let err = build(&small, Some("k")).unwrap_err().to_string();
    assert!(err.contains("0.50"), "{err}");
    let jpy = Money {
        minor: 5000,
        currency: Currency::parse("jpy").unwrap(),
    };
    let ok = Operation::CreatePrice {
        product_name: "Cut".into(),
        amount: jpy,
        interval: None,
    };
    assert!(
        pairs(&build(&ok, Some("k")).unwrap()).contains(&("unit_amount", "5000")),
        "JPY is not multiplied by 100"
    );
    let kwd = Money {
        minor: 1005,
        currency: Currency::parse("kwd").unwrap(),
    };
    assert!(
        build(
            &Operation::CreatePrice {
                product_name: "X".into(),
                amount: kwd,
                interval: None
            },
            Some("k")
        )
        .is_err(),
        "three-decimal amounts end in 0"
    );
}

#[test]
fn every_refund_reason_is_sent_by_the_name_it_has_in_json() {
    // The form's name (`RefundReason::as_str`) and the JSON name (serde's derive, which is
    // also what a host's operation is read with) are written separately; they must agree.
    for reason in [RefundReason::RequestedByCustomer, RefundReason::Duplicate, RefundReason::Fraudulent] {
        let name = serde_json::to_value(reason).unwrap();
        assert_eq!(name, reason.as_str());
        let op: Operation = serde_json::from_value(serde_json::json!({
            "op": "create_refund", "payment_intent": "pi_1", "refundable": 5, "reason": name,
        }))
        .unwrap();
        let request = build(&op, Some("k")).unwrap();
        assert!(pairs(&request).contains(&("reason", reason.as_str())), "{reason:?}");
    }
}

#[test]
fn refunds_never_exceed_what_is_refundable() {
    let refund = |amount: Option<i64>, refundable| {
        build(
            &Operation::CreateRefund(RefundInput {
                payment_intent: "pi_1".into(),
                amount: amount.map(eur),
                refundable,
                reason: Some(RefundReason::RequestedByCustomer),
                metadata: Metadata::new(),
            }),
            Some("k"),
        )
    };
    assert!(refund(Some(2001), 2000).is_err());
    assert!(refund(None, 0).is_err(), "nothing left");
    let r = refund(Some(500), 2000).unwrap();
    assert_eq!(
        pairs(&r),
        vec![
            ("amount", "500"),
            ("payment_intent", "pi_1"),
            ("reason", "requested_by_customer")
        ]
    );
    assert!(
        !pairs(&refund(None, 2000).unwrap())
            .iter()
            .any(|(k, _)| *k == "amount"),
        "a full refund names no amount"
    );
}

#[test]
fn ids_that_would_change_the_path_are_refused() {
    let err = build(
        &Operation::RetrievePaymentIntent {
            id: "pi_1/../../v1/charges".into(),
        },
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, RequestError::InvalidId { field: "id", .. }),
        "{err}"
    );
    assert!(
        build(
            &Operation::CancelSubscription {
                id: "sub_1?x=1".into(),
                at_period_end: false
            },
            Some("k")
        )
        .is_err()
    );
}

#[test]
fn creating_calls_need_an_idempotency_key_and_reads_carry_none() {
    let op = Operation::CreateCustomer {
        email: Some("a@b.example".into()),
        name: None,
        payment_method: None,
        metadata: Metadata::new(),
    };
    assert_eq!(
        build(&op, None).unwrap_err(),
        RequestError::IdempotencyKeyMissing
    );
    assert!(build(&op, Some("  ")).is_err());
    let read = build(&Operation::RetrieveBalance, Some("ignored")).unwrap();
    assert_eq!((read.method, read.idempotency_key), (Method::Get, None));
}

#[test]
fn checkout_sessions_hold_a_slot_and_carry_metadata_to_the_payment() {
    let op = Operation::CreateCheckoutSession(CheckoutInput {
        mode: CheckoutMode::Payment,
        ui_mode: UiMode::Embedded,
        line_items: vec![LineItem {
            name: "Consultation".into(),
            amount: eur(4500),
            quantity: 1,
            interval: None,
        }],
        success_url: "https://clinic.example/done?session_id={CHECKOUT_SESSION_ID}".into(),
        cancel_url: None,
        expires_at: Some(1_800_000_000),
        customer: None,
        client_reference_id: Some("apt_1".into()),
        metadata: meta(&[("appointment_id", "apt_1")]),
        extra_params: Vec::new(),
    });
    let r = build(&op, Some("k")).unwrap();
    let p = pairs(&r);
    for expected in [
        ("ui_mode", "embedded"),
        (
            "return_url",
            "https://clinic.example/done?session_id={CHECKOUT_SESSION_ID}",
        ),
        ("expires_at", "1800000000"),
        ("line_items[0][price_data][unit_amount]", "4500"),
        (
            "line_items[0][price_data][product_data][name]",
            "Consultation",
        ),
        ("payment_intent_data[metadata][appointment_id]", "apt_1"),
        ("metadata[appointment_id]", "apt_1"),
        ("mode", "payment"),
    ] {
        assert!(p.contains(&expected), "{expected:?} in {p:?}");
    }
    assert!(
        !p.iter().any(|(k, _)| *k == "success_url"),
        "embedded sessions take return_url"
    );
}

#[test]
fn quarterly_is_every_three_months() {
    let r = build(
        &Operation::CreatePrice {
            product_name: "Plan".into(),
            amount: eur(9900),
            interval: Some(Interval::Quarterly),
        },
        Some("k"),
    )
    .unwrap();
    let p = pairs(&r);
    assert!(
        p.contains(&("recurring[interval]", "month"))
            && p.contains(&("recurring[interval_count]", "3")),
        "{p:?}"
    );
}

#[test]
fn responses_from_stripe_fixtures_parse_into_typed_objects() {
    let pi = include_str!("../../../tests/fixtures/stripe-events/objects/payment_intent.json");
    match parse(200, pi).unwrap() {
        Object::PaymentIntent(p) => assert!(
            p.id.starts_with("pi_") && p.amount > 0 && !p.currency.is_empty(),
            "{p:?}"
        ),
        other => panic!("{other:?}"),
    }
    let cs = include_str!("../../../tests/fixtures/stripe-events/objects/checkout.session.json");
    assert!(
        matches!(parse(200, cs).unwrap(), Object::CheckoutSession(s) if s.id.starts_with("cs_"))
    );
    let re = include_str!("../../../tests/fixtures/stripe-events/objects/refund.json");
    assert!(matches!(parse(200, re).unwrap(), Object::Refund(r) if r.id.starts_with("re_")));
}

/// The project's Stripe API object fixtures.
const OBJECTS: [&str; 10] = [
    include_str!("../../../tests/fixtures/stripe-events/objects/balance_transaction.json"),
    include_str!("../../../tests/fixtures/stripe-events/objects/charge.json"),
    include_str!("../../../tests/fixtures/stripe-events/objects/checkout.session.json"),
    include_str!("../../../tests/fixtures/stripe-events/objects/dispute.json"),
    include_str!("../../../tests/fixtures/stripe-events/objects/invoice.json"),
    include_str!("../../../tests/fixtures/stripe-events/objects/payment_intent.json"),
    include_str!("../../../tests/fixtures/stripe-events/objects/payout.json"),
    include_str!("../../../tests/fixtures/stripe-events/objects/radar.early_fraud_warning.json"),
    include_str!("../../../tests/fixtures/stripe-events/objects/refund.json"),
    include_str!("../../../tests/fixtures/stripe-events/objects/subscription.json"),
];

/// A page of a list holding two of the fixtures.
fn page() -> std::string::String {
    alloc::format!(r#"{{"object":"list","has_more":true,"data":[{},{}]}}"#, OBJECTS[1], OBJECTS[9])
}

/// Another object, with floats.
const COUPON: &str = r#"{"object":"coupon","id":"co_1","percent_off":12.5,"amount_off":null,"times":[1e300,-0.0,0.1]}"#;

#[test]
fn answers_are_written_back_as_serde_json_writes_them() {
    let list = page();
    for body in OBJECTS.iter().copied().chain([list.as_str(), COUPON]) {
        let answer = parse(200, body).unwrap();
        assert_eq!(crate::json::to_string(&answer).unwrap(), serde_json::to_string(&answer).unwrap(), "{body}");
    }
}

/// `parse_as_json` hands back what `parse` reads: the same JSON text for the typed objects, and
/// for a list or another object the same values, written as Stripe wrote them.
fn written_as_parsed(status: u16, body: &str) {
    use super::response::parse_as_json;
    match (parse(status, body), parse_as_json(status, body)) {
        (Ok(object), Ok(text)) => {
            let read: Object = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(read, object, "{body}");
            if !matches!(object, Object::List(_) | Object::Other(_)) {
                assert_eq!(text, crate::json::to_string(&object).unwrap(), "{body}");
            }
        }
        (Err(parsed), Err(written)) => assert_eq!(parsed, written, "{body}"),
        (parsed, written) => panic!("{body}: {parsed:?} but {written:?}"),
    }
}

/// `json` with a space, a tab and a line break after each `{`, `[`, `,` and `:` outside strings.
fn spaced(json: &str) -> std::string::String {
    let (mut out, mut in_string, mut escaped) = (std::string::String::new(), false, false);
    for c in json.chars() {
        out.push(c);
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '{' | '[' | ',' | ':' if !in_string => out.push_str(" \t\r\n"),
            _ => {}
        }
    }
    alloc::format!("\n {out} \t")
}

#[test]
fn answers_are_handed_back_with_stripes_own_text() {
    let list = page();
    let cases = [
        (200, list.as_str()),
        (200, COUPON),
        // Lists: `data` escaped, given twice (the last counts, whatever it is), nested in items
        // and other fields, strings holding brackets, quotes and backslashes, empty, not an array.
        (200, r#"{"object":"list","d\u0061ta":[{"id":"a"},2.5e-3],"has_more":false}"#),
        (200, r#"{"object":"list","data":[{"id":"a"}],"data":[{"id":"b","data":[1]},{"id":"c"}]}"#),
        (200, r#"{"object":"list","data":[{"id":"a"}],"data":{"x":[1]}}"#),
        (200, r#"{"object":"list","data":[{"id":"a"}],"data":null}"#),
        (200, r#"{"meta":{"data":[9]},"object":"list","x":"]}\"\\","data":["[{\"", {"id":"q\"]}"}, [[]], -1.5E+2, true, null],"has_more":true}"#),
        (200, r#"{"object":"list","data":[]}"#),
        (200, r#"{"object":"list","data":"[1,2]"}"#),
        (200, r#"{"object":"list","dat":[1],"datas":[2]}"#),
        (200, r#"{"object":"list","data":[{"id":"\u00e9\ud83d\ude00"}],"has_more":"yes"}"#),
        // Other objects and bodies: not JSON, not an object, an array, `null`.
        (200, r#"{"object":"price","id":"price_1","unit_amount_decimal":"12.5","tiers":[{"up_to":null,"flat":0.75}]}"#),
        (200, "not json"),
        (200, ""),
        (201, "[1,2.5]"),
        (200, "null"),
        (200, "7.25"),
        (200, r#""text""#),
        (204, "{}"),
        // Errors, as before.
        (402, r#"{"error":{"type":"card_error","code":"card_declined","message":"Declined."}}"#),
        (200, r#"{"error":"x","object":"refund"}"#),
        (503, "<html>"),
    ];
    for body in OBJECTS {
        written_as_parsed(200, body);
        written_as_parsed(200, &spaced(body));
    }
    for (status, body) in cases {
        written_as_parsed(status, body);
        written_as_parsed(status, &spaced(body));
    }
    // The text handed back is Stripe's, digits and all.
    let text = super::response::parse_as_json(200, r#"{"object":"list","data":[ 1.50 , {"id" : "x"} ]}"#).unwrap();
    assert_eq!(text, r#"{"object":"list","data":[1.50,{"id" : "x"}],"has_more":false,"last_id":"x"}"#);
    let text = super::response::parse_as_json(200, " {\"object\":\"coupon\",\"percent_off\":1E2}\n").unwrap();
    assert_eq!(text, r#"{"object":"other","kind":"coupon","id":null,"url":null,"raw":{"object":"coupon","percent_off":1E2}}"#);
    let text = super::response::parse_as_json(200, "{]").unwrap();
    assert_eq!(text, r#"{"object":"other","kind":"","id":null,"url":null,"raw":null}"#);
}

mod written {
    use alloc::string::String;

    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// Any JSON value: floats, escapes and `data` keys at any depth.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            "[a-z\"\\\\\\[\\]{},: \u{e9}\u{1F600}\n]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec((prop_oneof![Just(String::from("data")), Just(String::from("id")), "[a-z\"\\\\]{0,3}"], inner), 0..4)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn a_list_or_another_object_is_the_value_stripe_sent(
            data in prop_oneof![3 => prop::collection::vec(value(), 0..5).prop_map(Value::from), 1 => value()],
            extra in value(),
            has_more in any::<Option<bool>>(),
            kind in prop_oneof![Just("list"), Just("coupon")],
            spaced in any::<bool>(),
        ) {
            let mut body = json!({"object": kind, "extra": extra, "data": data});
            if let Some(has_more) = has_more {
                body["has_more"] = has_more.into();
            }
            let body = serde_json::to_string(&body).unwrap();
            let body = if spaced { super::spaced(&body) } else { body };
            super::written_as_parsed(200, &body);
        }
    }
}

#[test]
fn a_payment_intents_nested_fields_are_read() {
    let requires_action = r#"{"object":"payment_intent","id":"pi_1","status":"requires_action","amount":2000,"currency":"eur",
        "next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.example/3ds"}},
        "last_payment_error":{"code":"authentication_required","message":"Authenticate."},
        "charges":{"object":"list","data":[{"id":"ch_old"},{"id":"ch_2"}]}}"#;
    let Object::PaymentIntent(p) = parse(200, requires_action).unwrap() else { panic!("not a payment intent") };
    assert_eq!(
        p.next_action,
        Some(response::NextAction { kind: "redirect_to_url".into(), url: Some("https://hooks.example/3ds".into()) })
    );
    // API versions before 2022-11-15 list the charges; later ones name the latest.
    assert_eq!(p.latest_charge.as_deref(), Some("ch_old"));
    assert_eq!(p.last_error_code.as_deref(), Some("authentication_required"));
    assert_eq!(p.last_error_message.as_deref(), Some("Authenticate."));
    let newer = requires_action.replace(r#""charges""#, r#""latest_charge":"ch_new","charges""#);
    let Object::PaymentIntent(p) = parse(200, &newer).unwrap() else { panic!("not a payment intent") };
    assert_eq!(p.latest_charge.as_deref(), Some("ch_new"));
    // Fields of the wrong shape are left out, not errors.
    let odd = r#"{"object":"payment_intent","id":"pi_1","next_action":{"type":"use_stripe_sdk","redirect_to_url":"x"},
        "last_payment_error":"declined","charges":{"data":{"0":{"id":"ch_1"}}}}"#;
    let Object::PaymentIntent(p) = parse(200, odd).unwrap() else { panic!("not a payment intent") };
    assert_eq!(p.next_action, Some(response::NextAction { kind: "use_stripe_sdk".into(), url: None }));
    assert_eq!((p.latest_charge, p.last_error_code, p.last_error_message), (None, None, None));
}

#[test]
fn stripe_errors_become_typed_errors_with_their_message() {
    let declined = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","payment_intent":{"id":"pi_9"}}}"#;
    let e = parse(402, declined).unwrap_err();
    assert!(e.is_card_error());
    assert_eq!(
        (
            e.code.as_deref(),
            e.decline_code.as_deref(),
            e.payment_intent.as_deref()
        ),
        (
            Some("card_declined"),
            Some("insufficient_funds"),
            Some("pi_9")
        )
    );
    assert_eq!(
        e.to_string(),
        "Your card has insufficient funds. (Stripe card_error: card_declined, HTTP 402)"
    );
    let gateway = parse(502, "<html>bad gateway</html>").unwrap_err();
    assert_eq!((gateway.kind.as_str(), gateway.status), ("api_error", 502));
}

#[test]
fn retries_follow_the_sdks() {
    let status = |s, should: Option<bool>, after: Option<f64>| Outcome::Status {
        status: s,
        should_retry: should,
        retry_after_secs: after,
    };
    assert!(next_delay_ms(1, 2, Outcome::ConnectionError, 0.0).is_some());
    for s in [409, 429, 500, 503] {
        assert!(
            next_delay_ms(1, 2, status(s, None, None), 0.5).is_some(),
            "{s}"
        );
    }
    for s in [400, 401, 402, 404] {
        assert_eq!(next_delay_ms(1, 2, status(s, None, None), 0.5), None, "{s}");
    }
    assert_eq!(
        next_delay_ms(1, 2, status(500, Some(false), None), 0.5),
        None,
        "Stripe-Should-Retry: false wins"
    );
    assert!(
        next_delay_ms(1, 2, status(400, Some(true), None), 0.5).is_some(),
        "Stripe-Should-Retry: true wins"
    );
    assert_eq!(
        next_delay_ms(3, 2, Outcome::ConnectionError, 0.5),
        None,
        "bounded"
    );
    // Doubling from 0.5 s, capped at 5 s, with jitter between half and all of it.
    assert_eq!(
        next_delay_ms(1, 9, Outcome::ConnectionError, 0.0),
        Some(500)
    );
    assert_eq!(
        next_delay_ms(2, 9, Outcome::ConnectionError, 1.0),
        Some(1000)
    );
    assert_eq!(
        next_delay_ms(9, 9, Outcome::ConnectionError, 1.0),
        Some(5000)
    );
    assert_eq!(
        next_delay_ms(1, 2, status(429, None, Some(3.0)), 0.0),
        Some(3000),
        "Retry-After honoured"
    );
    assert_eq!(
        next_delay_ms(1, 2, status(429, None, Some(600.0)), 0.0),
        Some(500),
        "an unreasonable Retry-After is not"
    );
}

#[test]
fn every_kind_of_answer_round_trips_through_json_with_stripes_object_names() {
    for body in [
        r#"{"object":"payment_intent","id":"pi_1","status":"succeeded","amount":1,"currency":"eur"}"#,
        r#"{"object":"refund","id":"re_1","status":"succeeded","amount":1,"currency":"eur"}"#,
        r#"{"object":"checkout.session","id":"cs_1","url":"https://checkout.stripe.com/x"}"#,
        r#"{"object":"list","data":[{"id":"ch_1"}],"has_more":true}"#,
        r#"{"object":"payment_link","id":"plink_1","url":"https://buy.stripe.com/x"}"#,
    ] {
        let object = parse(200, body).unwrap();
        let json = serde_json::to_string(&object).unwrap();
        let back: Object = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(back, object, "{json}");
    }
    let session =
        serde_json::to_value(parse(200, r#"{"object":"checkout.session","id":"cs_1"}"#).unwrap())
            .unwrap();
    assert_eq!(session["object"], "checkout.session");
    let link =
        serde_json::to_value(parse(200, r#"{"object":"payment_link","id":"plink_1"}"#).unwrap())
            .unwrap();
    assert_eq!(
        (link["object"].as_str(), link["kind"].as_str()),
        (Some("other"), Some("payment_link"))
    );
}

#[test]
fn subscriptions_take_a_price_or_a_plan_and_customers_a_default_payment_method() {
    let sub = |price: &str| {
        build(
            &Operation::CreateSubscription(SubscriptionInput {
                customer: "cus_1".into(),
                price: price.into(),
                default_payment_method: None,
                metadata: [("invoice_id".to_string(), "inv_1".to_string())].into(),
            }),
            Some("k"),
        )
        .unwrap()
    };
    let with_price = sub("price_1");
    assert_eq!(
        pairs(&with_price),
        [
            ("customer", "cus_1"),
            ("items[0][price]", "price_1"),
            ("metadata[invoice_id]", "inv_1"),
        ]
    );
    assert!(
        pairs(&sub("gold-monthly".replace('-', "_").as_str()))
            .contains(&("items[0][plan]", "gold_monthly")),
        "a plan id goes under plan"
    );
    let change = build(
        &Operation::ChangeSubscriptionPrice {
            id: "sub_1".into(),
            item: "si_1".into(),
            price: "price_2".into(),
        },
        Some("k"),
    )
    .unwrap();
    assert_eq!(
        (change.path.as_str(), pairs(&change)),
        (
            "/v1/subscriptions/sub_1",
            vec![("items[0][id]", "si_1"), ("items[0][price]", "price_2")]
        )
    );
    let read = build(
        &Operation::RetrieveSubscription { id: "sub_1".into() },
        None,
    )
    .unwrap();
    assert_eq!(
        (read.method, read.path.as_str()),
        (Method::Get, "/v1/subscriptions/sub_1")
    );
    let customer = build(
        &Operation::CreateCustomer {
            email: Some("a@b.example".into()),
            name: None,
            payment_method: Some("pm_card_visa".into()),
            metadata: Metadata::new(),
        },
        Some("k"),
    )
    .unwrap();
    assert_eq!(
        pairs(&customer),
        [
            ("email", "a@b.example"),
            ("invoice_settings[default_payment_method]", "pm_card_visa"),
            ("payment_method", "pm_card_visa"),
        ]
    );
}

#[test]
fn lists_page_with_a_date_filter_and_a_cursor() {
    let list = |created_gte, starting_after: Option<&str>, limit| Operation::List {
        list: ListKind::Payouts,
        created_gte,
        payout: None,
        starting_after: starting_after.map(Into::into),
        limit,
    };
    let r = build(&list(Some(1_700_000_000), Some("po_1"), 100), None).unwrap();
    assert_eq!(
        (r.method, r.path.as_str(), r.idempotency_key.as_deref()),
        (Method::Get, "/v1/payouts", None)
    );
    assert_eq!(
        pairs(&r),
        vec![
            ("created[gte]", "1700000000"),
            ("limit", "100"),
            ("starting_after", "po_1")
        ]
    );
    let r = build(&list(None, None, 1), None).unwrap();
    assert_eq!(pairs(&r), vec![("limit", "1")]);
    // From JSON, as other hosts pass it: the filter and the cursor are optional, the page 100.
    let op: Operation =
        serde_json::from_str(r#"{"op":"list","list":"balance_transactions"}"#).unwrap();
    let r = build(&op, None).unwrap();
    assert_eq!(
        (r.path.as_str(), pairs(&r)),
        ("/v1/balance_transactions", vec![("limit", "100")])
    );
    for bad in [0, 101] {
        assert!(build(&list(None, None, bad), None).is_err(), "{bad}");
    }
    assert!(matches!(
        build(&list(None, Some("po_1/../x"), 10), None),
        Err(RequestError::InvalidId { .. })
    ));
}

#[test]
fn balance_transactions_are_listed_by_payout() {
    let list = |list, payout: &str| Operation::List {
        list,
        created_gte: None,
        payout: Some(payout.into()),
        starting_after: Some("txn_9".into()),
        limit: 50,
    };
    let r = build(&list(ListKind::BalanceTransactions, "po_1Abc"), None).unwrap();
    assert_eq!(
        (r.method, r.path.as_str(), r.idempotency_key.as_deref()),
        (Method::Get, "/v1/balance_transactions", None)
    );
    assert_eq!(
        pairs(&r),
        vec![
            ("limit", "50"),
            ("payout", "po_1Abc"),
            ("starting_after", "txn_9")
        ]
    );
    // From JSON, as other hosts pass it.
    let op: Operation = serde_json::from_str(
        r#"{"op":"list","list":"balance_transactions","payout":"po_2","limit":10}"#,
    )
    .unwrap();
    assert_eq!(
        pairs(&build(&op, None).unwrap()),
        vec![("limit", "10"), ("payout", "po_2")]
    );
    // An id that is not one, and the filter on a list that does not take it.
    assert!(matches!(
        build(&list(ListKind::BalanceTransactions, "po_1&limit=1"), None),
        Err(RequestError::InvalidId {
            field: "payout",
            ..
        })
    ));
    assert!(matches!(
        build(&list(ListKind::BalanceTransactions, ""), None),
        Err(RequestError::InvalidId {
            field: "payout",
            ..
        })
    ));
    for other in [ListKind::Payouts, ListKind::Charges, ListKind::Events] {
        assert!(matches!(
            build(&list(other, "po_1"), None),
            Err(RequestError::Invalid {
                field: "payout",
                ..
            })
        ));
    }
}

#[test]
fn a_filters_changes_are_sent_and_a_stored_change_is_checked_again() {
    let input = CheckoutInput {
        mode: CheckoutMode::Payment,
        ui_mode: UiMode::Hosted,
        line_items: vec![LineItem {
            name: "Appointment apt_1".into(),
            amount: eur(4500),
            quantity: 1,
            interval: None,
        }],
        success_url: "https://salon.example/done".into(),
        cancel_url: None,
        expires_at: None,
        customer: None,
        client_reference_id: Some("apt_1".into()),
        metadata: meta(&[("appointment_id", "apt_1")]),
        extra_params: Vec::new(),
    };
    let op = Operation::CreateCheckoutSession(input.clone());
    let base = build(&op, Some("k")).unwrap().params;
    let mut answer = base.clone();
    answer.push(("metadata[source]".into(), "salon".into()));
    answer.retain(|(k, _)| k != "line_items[0][price_data][product_data][name]");
    answer.push((
        "line_items[0][price_data][product_data][name]".into(),
        "Haircut".into(),
    ));
    let changes = super::changes::changes_between(&base, &answer).unwrap();
    let tailored = op.clone().with_extra_params(changes);
    // Stored as JSON and read back, as a host keeps its calls.
    let stored: Operation =
        serde_json::from_str(&serde_json::to_string(&tailored).unwrap()).unwrap();
    let sent = build(&stored, Some("k")).unwrap();
    let p = pairs(&sent);
    assert!(p.contains(&("metadata[source]", "salon")));
    assert!(p.contains(&("line_items[0][price_data][product_data][name]", "Haircut")));
    assert!(p.contains(&("line_items[0][price_data][unit_amount]", "4500")));
    // An operation without changes serializes as it did before filters existed.
    assert!(!serde_json::to_string(&op).unwrap().contains("extra_params"));
    // A change to the amount written straight into a stored operation is refused at build.
    let forged = op.with_extra_params(vec![(
        "line_items[0][price_data][unit_amount]".into(),
        "1".into(),
    )]);
    let err = build(&forged, Some("k")).unwrap_err().to_string();
    assert!(
        err.contains("changes line_items[0][price_data][unit_amount]"),
        "{err}"
    );
}

proptest::proptest! {
    /// The form's heap sort orders pairs as the slice's sort does: by name, then value, with
    /// repeated names and repeated pairs.
    #[test]
    fn form_pairs_sort_as_the_slice_sort_does(
        pairs in proptest::collection::vec(("[ab]{0,3}", "[xy]{0,2}"), 0..40),
    ) {
        let mut heap_sorted = pairs.clone();
        params::sort(&mut heap_sorted);
        let mut expected = pairs;
        expected.sort();
        proptest::prop_assert_eq!(heap_sorted, expected);
    }

    /// Stripe's length limits count characters: `char_count` counts as `chars().count()` does,
    /// for any text (any scalar value, so every UTF-8 sequence length).
    #[test]
    fn characters_are_counted_as_chars_counts_them(
        text in proptest::prelude::any::<alloc::string::String>(),
    ) {
        proptest::prop_assert_eq!(char_count(&text), text.chars().count());
    }

    /// A value's `raw` text loses JSON's four whitespace characters around it and nothing else:
    /// not a form feed, not a no-break space, not whitespace inside.
    #[test]
    fn only_json_whitespace_is_trimmed_from_a_raw_value(
        text in "[ \t\n\r\x0c\u{a0}a{}\"]{0,12}",
    ) {
        proptest::prop_assert_eq!(
            response::trim_json_space(&text),
            text.trim_matches([' ', '\t', '\n', '\r'])
        );
    }
}

#[test]
fn from_json_reads_and_refuses_as_serde_json_does() {
    let fixtures = include_str!("../../../tests/fixtures/stripe-operations.jsonl");
    let nested = "[".repeat(200);
    let cases = fixtures.lines().chain([
        "",
        "not json",
        "[]",
        "7",
        r#"{"op":"bogus"}"#,
        r#"{"op":"retrieve_payment_intent"}"#,
        r#"{"op":"retrieve_payment_intent","id":7}"#,
        r#"{"op":"retrieve_payment_intent","id":"pi_1"} x"#,
        // The operation is read before what follows it is looked at, as `from_str` does.
        r#"{"op":"bogus"} x"#,
        nested.as_str(),
    ]);
    let mut read = 0;
    for text in cases {
        let own = Operation::from_json(text).map_err(|e| e.to_string());
        let serde = serde_json::from_str::<Operation>(text).map_err(|e| e.to_string());
        assert_eq!(own, serde, "{text}");
        read += usize::from(own.is_ok());
    }
    assert!(read >= 16, "every fixture reads: {read}");
    let err = Operation::from_json(r#"{"op":"bogus"} x"#).unwrap_err().to_string();
    assert!(err.starts_with("unknown op \"bogus\""), "{err}");
    let err = Operation::from_json(r#"{"op":"retrieve_payment_intent","id":"pi_1"} x"#).unwrap_err().to_string();
    assert_eq!(err, "trailing characters at line 1 column 46");
}

/// `build_json` is `Operation::from_json` then `build`, with each refusal kept apart.
#[test]
fn build_json_reads_then_builds_and_names_which_step_refused() {
    let op = bare_payment_intent(Money::new(2000, Currency::EUR));
    let text = serde_json::to_string(&op).unwrap();
    assert_eq!(build_json(&text, Some("k")).unwrap(), build(&op, Some("k")).unwrap());
    let err = build_json("{\"op\":", Some("k")).unwrap_err();
    assert!(matches!(err, BuildError::Operation(_)), "{err:?}");
    assert!(err.to_string().starts_with("not a Stripe operation: EOF while parsing"), "{err}");
    let err = build_json(&text, None).unwrap_err();
    assert!(matches!(err, BuildError::Request(RequestError::IdempotencyKeyMissing)), "{err:?}");
    assert_eq!(err.to_string(), RequestError::IdempotencyKeyMissing.to_string());
}
