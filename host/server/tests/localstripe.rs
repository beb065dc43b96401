//! End to end against localstripe, a fake Stripe started by the test on a loopback port:
//! payhook creates and confirms PaymentIntents, localstripe charges the test card and delivers
//! the signed webhook to the running server, and the invoice or appointment changes state.
//! Refunds go through the API with their amounts reserved.
//!
//! Needs `PAYHOOK_LOCALSTRIPE_PYTHON`: a Python with `localstripe==1.15.10` installed (`.ci/run`
//! makes one). Without it the tests skip with a notice, except under `CI=true`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use payhook_server::inbox::WriterConfig;
use payhook_server::testing::LocalStripe;
use serde_json::{Value, json};

/// Attaches `pm` to the customer and makes it the default for its invoices, as the customer
/// would in Stripe's own pages.
async fn make_default(ls: &LocalStripe, client: &reqwest::Client, customer: &str, pm: &str) {
    let attach = format!("/v1/payment_methods/{pm}/attach");
    ls.post(client, &attach, &[("customer", customer)]).await;
    let update = format!("/v1/customers/{customer}");
    ls.post(
        client,
        &update,
        &[("invoice_settings[default_payment_method]", pm)],
    )
    .await;
}

/// A card PaymentMethod (test numbers only), made directly in the fake.
async fn card(ls: &LocalStripe, client: &reqwest::Client, number: &str) -> String {
    let r = ls
        .post(
            client,
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    r["id"].as_str().unwrap().to_owned()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    payhook_core::stripe::params::encode(&owned)
}

async fn wait_for(s: &TestServer, path: &str, field: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = s.api(reqwest::Method::GET, path, None).await;
        if v[field] == want {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: {field} is not {want:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_intent_confirmed_in_localstripe_pays_the_invoice_through_its_webhook_and_refunds_are_reserved()
 {
    let Some(ls) = LocalStripe::start() else {
        return;
    };
    for db in databases("localstripe_invoice") {
        let s = TestServer::start_full(&db.location, WriterConfig::default(), &ls.base).await;
        let tenant = s.tenant();
        ls.send_webhooks_to(
            &s.client,
            &format!("{}/webhooks/stripe/{tenant}/test", s.base),
            WEBHOOK_SECRET,
        )
        .await;
        let invoice = s.invoice(&tenant, "20.00").await;
        let (status, pi) = s
            .api(
                reqwest::Method::POST,
                &format!("/invoices/{invoice}/payment-intents"),
                Some(json!({"payment_method": "pm_card_visa", "confirm": true})),
            )
            .await;
        assert_eq!(status, 200, "{pi}");
        assert_eq!(
            (
                pi["object"].as_str(),
                pi["status"].as_str(),
                pi["amount"].as_i64()
            ),
            (Some("payment_intent"), Some("succeeded"), Some(2000)),
            "{pi}"
        );
        // localstripe's signed payment_intent.succeeded reaches the server and pays the invoice.
        let paid = wait_for(&s, &format!("/invoices/{invoice}"), "status", "paid").await;
        assert_eq!(paid["amount_paid"], 2000);
        // A paid invoice takes no second payment; confirming needs a payment method.
        let (status, again) = s
            .api(
                reqwest::Method::POST,
                &format!("/invoices/{invoice}/payment-intents"),
                Some(json!({"payment_method": "pm_card_visa", "confirm": true})),
            )
            .await;
        assert_eq!(status, 409, "{again}");
        let other = s.invoice(&tenant, "20.00").await;
        let (status, e) = s
            .api(
                reqwest::Method::POST,
                &format!("/invoices/{other}/payment-intents"),
                Some(json!({"confirm": true})),
            )
            .await;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (400, Some("payment_method_missing")),
            "{e}"
        );
        let payment = pi["id"].as_str().unwrap().to_owned();
        // A partial refund, then one that asks for more than is left: refused before any call.
        let refunds = format!("/tenants/{tenant}/payments/{payment}/refunds");
        let (status, r) = s
            .api(
                reqwest::Method::POST,
                &refunds,
                Some(json!({"amount": "5.00"})),
            )
            .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            (
                r["object"].as_str(),
                r["amount"].as_i64(),
                r["status"].as_str()
            ),
            (Some("refund"), Some(500), Some("succeeded")),
            "{r}"
        );
        let (status, r) = s
            .api(
                reqwest::Method::POST,
                &refunds,
                Some(json!({"amount": "15.01"})),
            )
            .await;
        assert_eq!(status, 400, "{r}");
        assert!(
            r["error"]["message"].as_str().unwrap().contains("15.00"),
            "says what is refundable: {r}"
        );
        // Two refunds of 10.00 asked at once: only one fits in the 15.00 left.
        let (a, b) = tokio::join!(
            s.api(
                reqwest::Method::POST,
                &refunds,
                Some(json!({"amount": "10.00"}))
            ),
            s.api(
                reqwest::Method::POST,
                &refunds,
                Some(json!({"amount": "10.00"}))
            ),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [200, 400], "{a:?} {b:?}");
        // The rest, in full.
        let (status, r) = s
            .api(reqwest::Method::POST, &refunds, Some(json!({})))
            .await;
        assert_eq!((status, r["amount"].as_i64()), (200, Some(500)), "{r}");
        let (status, r) = s
            .api(reqwest::Method::POST, &refunds, Some(json!({})))
            .await;
        assert_eq!(
            (status, r["error"]["code"].as_str()),
            (400, Some("nothing_to_refund")),
            "{r}"
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_d_secure_and_declines_through_localstripe() {
    let Some(ls) = LocalStripe::start() else {
        return;
    };
    let db = &databases("localstripe_3ds")[0];
    let s = TestServer::start_full(&db.location, WriterConfig::default(), &ls.base).await;
    let tenant = s.tenant();
    ls.send_webhooks_to(
        &s.client,
        &format!("{}/webhooks/stripe/{tenant}/test", s.base),
        WEBHOOK_SECRET,
    )
    .await;
    // 3-D Secure: the intent requires action; the customer authenticates; the webhook confirms.
    let booking = s.appointment(&tenant, "45.00").await;
    let card = card(&ls, &s.client, "4000002500003155").await;
    let (status, pi) = s
        .api(
            reqwest::Method::POST,
            &format!("/appointments/{booking}/payment-intents"),
            Some(json!({"payment_method": card, "confirm": true})),
        )
        .await;
    assert_eq!(status, 200, "{pi}");
    assert_eq!(pi["status"], "requires_action", "{pi}");
    let (_, held) = s
        .api(
            reqwest::Method::GET,
            &format!("/appointments/{booking}"),
            None,
        )
        .await;
    assert_eq!(
        held["status"], "held",
        "not confirmed before the customer authenticates: {held}"
    );
    let r = s
        .client
        .post(format!(
            "{}/v1/payment_intents/{}/_authenticate",
            ls.base,
            pi["id"].as_str().unwrap()
        ))
        .basic_auth(SECRET_KEY, Some(""))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("client_secret", pi["client_secret"].as_str().unwrap()),
            ("success", "true"),
        ]))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    wait_for(
        &s,
        &format!("/appointments/{booking}"),
        "status",
        "confirmed",
    )
    .await;

    // A late cancellation: the salon keeps 10 % and refunds the rest.
    let refunds = format!(
        "/tenants/{tenant}/payments/{}/refunds",
        pi["id"].as_str().unwrap()
    );
    for (body, code) in [
        (
            json!({"amount": "5.00", "cancellation_fee": {"percent": "10"}}),
            "fee_conflict",
        ),
        (
            json!({"cancellation_fee": {"percent": "150"}}),
            "invalid_fee",
        ),
        (
            json!({"cancellation_fee": {"percent": "10", "amount": "1.00"}}),
            "invalid_fee",
        ),
        (
            json!({"cancellation_fee": {"amount": "45.00"}}),
            "nothing_to_refund",
        ),
        (
            json!({"cancellation_fee": {"amount": "1.001"}}),
            "invalid_amount",
        ),
    ] {
        let (status, e) = s
            .api(reqwest::Method::POST, &refunds, Some(body.clone()))
            .await;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {e}"
        );
    }
    let (status, r) = s
        .api(
            reqwest::Method::POST,
            &refunds,
            Some(json!({"cancellation_fee": {"percent": "10"}})),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["amount"].as_i64(), r["cancellation_fee"].as_str()),
        (Some(4050), Some("4.50")),
        "{r}"
    );
    // The fee stays refundable: the salon may still give it back.
    let (status, r) = s
        .api(reqwest::Method::POST, &refunds, Some(json!({})))
        .await;
    assert_eq!((status, r["amount"].as_i64()), (200, Some(450)), "{r}");

    // A declined card: Stripe's error comes back typed, and the webhook fails the invoice.
    let invoice = s.invoice(&tenant, "20.00").await;
    let (status, e) = s
        .api(
            reqwest::Method::POST,
            &format!("/invoices/{invoice}/payment-intents"),
            Some(json!({"payment_method": "pm_card_chargeCustomerFail", "confirm": true})),
        )
        .await;
    assert_eq!(status, 402, "{e}");
    assert_eq!(e["error"]["stripe"]["code"], "card_declined", "{e}");
    wait_for(
        &s,
        &format!("/invoices/{invoice}"),
        "status",
        "payment_failed",
    )
    .await;
    s.stop().await;
}

/// Polls a tenant list until the item with `id` has `field` = `want`.
async fn wait_in_list(s: &TestServer, path: &str, id: &str, field: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = s.api(reqwest::Method::GET, path, None).await;
        if let Some(item) = v
            .as_array()
            .and_then(|a| a.iter().find(|i| i["id"] == id))
            .filter(|i| i[field] == want)
        {
            return item.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{path}: {id} {field} is not {want:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn notifications(s: &TestServer, tenant: &str) -> Vec<(String, String)> {
    let (_, v) = s
        .api(
            reqwest::Method::GET,
            &format!("/tenants/{tenant}/notifications"),
            None,
        )
        .await;
    let mut out: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.reverse();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_goes_past_due_when_a_renewal_fails_and_recovers_with_notifications() {
    let Some(ls) = LocalStripe::start() else {
        return;
    };
    for (n, db) in databases("localstripe_subscription").iter().enumerate() {
        let s = TestServer::start_full(&db.location, WriterConfig::default(), &ls.base).await;
        let tenant = s.tenant();
        let hook = format!("{}/webhooks/stripe/{tenant}/test", s.base);
        ls.send_webhooks_to(&s.client, &hook, WEBHOOK_SECRET).await;
        // localstripe has Plans but no Prices: the plans stand in for recurring prices.
        let monthly = format!("care_monthly_{n}");
        let annual = format!("care_annual_{n}");
        for (id, interval, amount) in [(&monthly, "month", "1500"), (&annual, "year", "15000")] {
            ls.post(
                &s.client,
                "/v1/plans",
                &[
                    ("id", id),
                    ("amount", amount),
                    ("currency", "eur"),
                    ("interval", interval),
                    ("product[name]", "Care plan"),
                ],
            )
            .await;
        }
        let visa = card(&ls, &s.client, "4242424242424242").await;
        let (status, sub) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/subscriptions"),
                Some(json!({"email": "ana@example.com", "payment_method": visa, "price": monthly, "metadata": {"member": "m-1"}})),
            )
            .await;
        assert_eq!(status, 200, "{sub}");
        assert_eq!(sub["raw"]["status"], "active", "{sub}");
        let id = sub["id"].as_str().unwrap().to_owned();
        let customer = sub["raw"]["customer"]
            .as_str()
            .or(sub["customer"].as_str())
            .unwrap()
            .to_owned();
        let subs = format!("/tenants/{tenant}/subscriptions");
        wait_in_list(&s, &subs, &id, "status", "active").await;

        // The renewal: the customer's card now needs 3-D Secure and the authentication fails.
        let strict = card(&ls, &s.client, "4000002500003155").await;
        make_default(&ls, &s.client, &customer, &strict).await;
        ls.post(
            &s.client,
            "/v1/invoiceitems",
            &[
                ("customer", &customer),
                ("amount", "1500"),
                ("currency", "eur"),
            ],
        )
        .await;
        let invoice = ls
            .post(
                &s.client,
                "/v1/invoices",
                &[("customer", &customer), ("subscription", &id)],
            )
            .await;
        let invoice = invoice["id"].as_str().unwrap().to_owned();
        let paid = ls
            .post(&s.client, &format!("/v1/invoices/{invoice}/pay"), &[])
            .await;
        let pi = paid["payment_intent"].as_str().unwrap().to_owned();
        let intent: Value = ls
            .get(&s.client, &format!("/v1/payment_intents/{pi}"))
            .await;
        ls.post(
            &s.client,
            &format!("/v1/payment_intents/{pi}/_authenticate"),
            &[
                ("client_secret", intent["client_secret"].as_str().unwrap()),
                ("success", "false"),
            ],
        )
        .await;
        wait_in_list(&s, &subs, &id, "status", "past_due").await;
        let label = format!("subscription {id}");
        assert_eq!(
            notifications(&s, &tenant).await,
            [("payment_failed".to_owned(), label.clone())]
        );

        // Recovery: a working card, and Stripe's retry of the open invoice succeeds.
        let good = card(&ls, &s.client, "4242424242424242").await;
        make_default(&ls, &s.client, &customer, &good).await;
        ls.post(&s.client, &format!("/v1/invoices/{invoice}/pay"), &[])
            .await;
        wait_in_list(&s, &subs, &id, "status", "active").await;
        assert_eq!(
            notifications(&s, &tenant).await,
            [
                ("payment_failed".to_owned(), label.clone()),
                ("payment_recovered".to_owned(), label.clone())
            ]
        );

        // Change the plan, then cancel: at the period's end, then at once.
        let (status, changed) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/subscriptions/{id}/price"),
                Some(json!({"price": annual})),
            )
            .await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!(changed["raw"]["plan"]["id"], annual.as_str(), "{changed}");
        let (status, later) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/subscriptions/{id}/cancel"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 200, "{later}");
        assert_eq!(later["raw"]["cancel_at_period_end"], true, "{later}");
        let (status, now) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/subscriptions/{id}/cancel"),
                Some(json!({"at_period_end": false})),
            )
            .await;
        assert_eq!(status, 200, "{now}");
        wait_in_list(&s, &subs, &id, "status", "canceled").await;
        // A replayed or duplicated event notifies nobody twice.
        assert_eq!(notifications(&s, &tenant).await.len(), 2);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_connection_check_charges_fifty_cents_and_refunds_them() {
    let Some(ls) = LocalStripe::start() else {
        return;
    };
    let db = &databases("localstripe_check")[0];
    let s = TestServer::start_full(&db.location, WriterConfig::default(), &ls.base).await;
    let tenant = s.tenant();
    let (status, report) = s
        .api(
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/test/check"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let steps: Vec<(&str, bool)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [("balance", true), ("charge", true), ("refund", true)],
        "{report}"
    );
    // The charge is there in Stripe, refunded in full.
    let pi = report["steps"][1]["detail"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let intent: Value = ls
        .get(&s.client, &format!("/v1/payment_intents/{pi}"))
        .await;
    assert_eq!(
        (intent["amount"].as_i64(), intent["currency"].as_str()),
        (Some(50), Some("eur")),
        "{intent}"
    );
    let refunds: Value = ls
        .get(&s.client, &format!("/v1/refunds?payment_intent={pi}"))
        .await;
    let amounts: Vec<i64> = refunds["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [50], "refunded in full, once: {refunds}");
    s.stop().await;
}
