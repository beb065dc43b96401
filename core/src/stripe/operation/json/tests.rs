use super::*;
use crate::event::Metadata;
use crate::stripe::tests::bare_payment_intent;
use alloc::string::ToString;
use alloc::vec;

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

fn meta() -> Metadata {
    [("invoice_id".to_string(), "inv_1".to_string())].into_iter().collect()
}

fn pairs() -> Vec<(String, String)> {
    vec![("custom_text[submit][message]".into(), "Thanks".into())]
}

fn parse(json: &str) -> Result<Operation> {
    serde_json::from_str::<Operation>(json).map_err(|e| e.to_string())
}

/// One operation of every kind with every field set, and one with every field that may be left
/// out left out.
fn every_operation() -> Vec<Operation> {
    let line = |interval| LineItem { name: "Check-up".into(), amount: eur(4500), quantity: 2, interval };
    let checkout = |mode, ui_mode, extra_params| CheckoutInput {
        mode,
        ui_mode,
        line_items: vec![line(Some(Interval::Quarterly)), line(None)],
        success_url: "https://example.com/ok".into(),
        cancel_url: Some("https://example.com/no".into()),
        expires_at: Some(1_767_261_603),
        customer: Some("cus_1".into()),
        client_reference_id: Some("ref-1".into()),
        metadata: meta(),
        extra_params,
    };
    vec![
        Operation::CreatePaymentIntent(PaymentIntentInput {
            amount: eur(2000),
            customer: Some("cus_1".into()),
            payment_method: Some("pm_card_visa".into()),
            confirm: true,
            return_url: Some("https://example.com/back".into()),
            description: Some("Invoice 7".into()),
            metadata: meta(),
        }),
        bare_payment_intent(Money::new(500, Currency::JPY)),
        Operation::ConfirmPaymentIntent { id: "pi_1".into(), payment_method: Some("pm_1".into()), return_url: None },
        Operation::RetrievePaymentIntent { id: "pi_1".into() },
        Operation::CancelPaymentIntent { id: "pi_1".into() },
        Operation::CreateRefund(RefundInput {
            payment_intent: "pi_1".into(),
            amount: Some(eur(500)),
            refundable: 2000,
            reason: Some(RefundReason::RequestedByCustomer),
            metadata: meta(),
        }),
        Operation::CreateRefund(RefundInput {
            payment_intent: "pi_1".into(),
            amount: None,
            refundable: -1,
            reason: None,
            metadata: Metadata::new(),
        }),
        Operation::CreateCustomer {
            email: Some("a@example.com".into()),
            name: Some("Ada".into()),
            payment_method: Some("pm_1".into()),
            metadata: meta(),
        },
        Operation::CreateCustomer { email: None, name: None, payment_method: None, metadata: Metadata::new() },
        Operation::CreatePrice { product_name: "Plan".into(), amount: eur(9900), interval: Some(Interval::Annual) },
        Operation::CreatePrice { product_name: "Once".into(), amount: Money::new(5120, Currency::KWD), interval: None },
        Operation::CreatePaymentLink {
            price: "price_1".into(),
            quantity: 1,
            redirect_url: Some("https://example.com/done".into()),
            metadata: meta(),
            extra_params: pairs(),
        },
        Operation::CreatePaymentLink {
            price: "price_1".into(),
            quantity: u32::MAX,
            redirect_url: None,
            metadata: Metadata::new(),
            extra_params: Vec::new(),
        },
        Operation::CreateCheckoutSession(checkout(CheckoutMode::Subscription, UiMode::Embedded, pairs())),
        Operation::CreateCheckoutSession(checkout(CheckoutMode::Payment, UiMode::Hosted, Vec::new())),
        Operation::CreateSubscription(SubscriptionInput {
            customer: "cus_1".into(),
            price: "price_1".into(),
            default_payment_method: Some("pm_1".into()),
            metadata: meta(),
        }),
        Operation::RetrieveSubscription { id: "sub_1".into() },
        Operation::ChangeSubscriptionPrice { id: "sub_1".into(), item: "si_1".into(), price: "price_2".into() },
        Operation::CancelSubscription { id: "sub_1".into(), at_period_end: true },
        Operation::CancelSubscription { id: "sub_1".into(), at_period_end: false },
        Operation::RetrieveAccount,
        Operation::RetrieveBalance,
        Operation::List {
            list: ListKind::BalanceTransactions,
            created_gte: Some(1_700_000_000),
            payout: Some("po_1".into()),
            starting_after: Some("txn_1".into()),
            limit: 10,
        },
        Operation::List { list: ListKind::Events, created_gte: None, payout: None, starting_after: None, limit: 100 },
        Operation::List { list: ListKind::Charges, created_gte: None, payout: None, starting_after: None, limit: 1 },
        Operation::List { list: ListKind::Refunds, created_gte: None, payout: None, starting_after: None, limit: 1 },
        Operation::List { list: ListKind::Payouts, created_gte: None, payout: None, starting_after: None, limit: 1 },
    ]
}

#[test]
fn every_operation_reads_back_what_serialize_wrote() {
    let ops = every_operation();
    let mut seen: Vec<String> = Vec::new();
    for op in &ops {
        let json = serde_json::to_string(op).unwrap();
        assert_eq!(parse(&json).as_ref(), Ok(op), "{json}");
        let name = serde_json::from_str::<Value>(&json).unwrap()["op"].as_str().unwrap().to_string();
        seen.push(name);
    }
    // Every op this module knows is written by Serialize, and the other way round.
    for op in OPS {
        assert!(seen.iter().any(|s| s == op), "{op} is not covered");
    }
    for name in &seen {
        assert!(OPS.contains(&name.as_str()), "{name} is not in OPS");
    }
}

#[test]
fn fields_with_defaults_may_be_left_out_or_null_when_optional() {
    assert_eq!(
        parse(r#"{"op":"create_payment_intent","amount":{"minor":2000,"currency":"eur"}}"#),
        Ok(bare_payment_intent(eur(2000)))
    );
    assert_eq!(
        parse(r#"{"op":"list","list":"events","payout":null,"unknown":[1,2]}"#),
        Ok(Operation::List { list: ListKind::Events, created_gte: None, payout: None, starting_after: None, limit: 100 })
    );
    assert_eq!(parse(r#"{"op":"retrieve_balance","extra":true}"#), Ok(Operation::RetrieveBalance));
}

#[test]
fn bad_operations_are_refused_with_the_field_and_what_was_wrong() {
    let cases = [
        (r#"[]"#, "expected an object with an `op`, found an array"),
        (r#"{}"#, "missing field `op`"),
        (r#"{"op":7}"#, "field `op`: expected a string, found a number"),
        (r#"{"op":"delete_everything"}"#, "unknown op \"delete_everything\", expected one of create_payment_intent,"),
        (r#"{"op":"retrieve_payment_intent"}"#, "missing field `id`"),
        (r#"{"op":"retrieve_payment_intent","id":null}"#, "missing field `id`"),
        (r#"{"op":"create_payment_intent","amount":2000}"#, "field `amount`: expected an object with `minor` and `currency`, found a number"),
        (r#"{"op":"create_payment_intent","amount":{"minor":1.5,"currency":"eur"}}"#, "field `amount.minor`: expected a whole number, found a number"),
        (r#"{"op":"create_payment_intent","amount":{"minor":100}}"#, "missing field `amount.currency`"),
        (r#"{"op":"create_payment_intent","amount":{"minor":100,"currency":"euro"}}"#, "field `amount.currency`: "),
        (r#"{"op":"create_payment_intent","amount":{"minor":1,"currency":"eur"},"confirm":"yes"}"#, "field `confirm`: expected true or false, found a string"),
        (r#"{"op":"create_payment_intent","amount":{"minor":1,"currency":"eur"},"confirm":null}"#, "field `confirm`: expected true or false, found null"),
        (r#"{"op":"create_customer","metadata":{"n":1}}"#, "field `metadata.n`: expected a string, found a number"),
        (r#"{"op":"create_customer","metadata":null}"#, "field `metadata`: expected an object of strings, found null"),
        (r#"{"op":"create_refund","payment_intent":"pi_1","refundable":5,"reason":"bored"}"#, "field `reason`: unknown value \"bored\", expected one of requested_by_customer, duplicate, fraudulent"),
        (r#"{"op":"create_refund","payment_intent":"pi_1"}"#, "missing field `refundable`"),
        (r#"{"op":"create_payment_link","price":"price_1","quantity":-1}"#, "field `quantity`: -1 is not a count"),
        (r#"{"op":"create_payment_link","price":"price_1","quantity":4294967296}"#, "field `quantity`: 4294967296 is not a count"),
        (r#"{"op":"create_payment_link","price":"price_1","quantity":1,"extra_params":[["a"]]}"#, "field `extra_params`: each item must be a pair of strings"),
        (r#"{"op":"create_payment_link","price":"price_1","quantity":1,"extra_params":{"a":"b"}}"#, "field `extra_params`: expected an array of pairs, found an object"),
        (r#"{"op":"create_checkout_session","mode":"payment","ui_mode":"hosted","success_url":"u"}"#, "missing field `line_items`"),
        (r#"{"op":"create_checkout_session","mode":"payment","ui_mode":"hosted","success_url":"u","line_items":[{"name":"x","quantity":1}]}"#, "missing field `line_items[].amount`"),
        (r#"{"op":"create_checkout_session","mode":"payment","ui_mode":"hosted","success_url":"u","line_items":[{"name":"x","quantity":1,"amount":{"minor":1,"currency":"??"}}]}"#, "field `line_items[].amount.currency`: "),
        (r#"{"op":"create_checkout_session","mode":"gift","ui_mode":"hosted","success_url":"u","line_items":[]}"#, "field `mode`: unknown value \"gift\""),
        (r#"{"op":"cancel_subscription","id":"sub_1"}"#, "missing field `at_period_end`"),
        (r#"{"op":"list","list":"events","limit":null}"#, "field `limit`: expected a count, found null"),
        (r#"{"op":"list","list":"invoices"}"#, "field `list`: unknown value \"invoices\", expected one of events, charges, refunds, payouts, balance_transactions"),
    ];
    for (json, expected) in cases {
        let err = parse(json).unwrap_err();
        assert!(err.starts_with(expected), "{json}: {err}");
    }
}

/// `tests/fixtures/stripe-operations.jsonl` is [`every_operation`] as JSON, one per line: the
/// runtime's differential test changes them and builds them in both engines.
/// `PAYHOOK_BLESS=1 cargo test -p payhook-core operations_fixture` rewrites it.
#[test]
fn the_operations_fixture_is_every_operation() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/stripe-operations.jsonl");
    let want: String = every_operation().iter().map(|op| serde_json::to_string(op).unwrap() + "\n").collect();
    if std::env::var_os("PAYHOOK_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).expect("the fixture; run with PAYHOOK_BLESS=1 to write it");
    assert_eq!(have, want, "run with PAYHOOK_BLESS=1 to rewrite the fixture");
}
