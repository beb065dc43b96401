//! Checkout Sessions and Payment Links through the API, against a scripted Stripe that answers
//! with Stripe's own object fixtures (localstripe has neither): the parameters sent, the answer
//! returned, and a repeated request answered from the stored call.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as AxPath, State};
use axum::http::HeaderMap;
use axum::routing::post;
use common::*;
use payhook_server::inbox::WriterConfig;
use serde_json::{Value, json};

const SESSION: &str =
    include_str!("../../../tests/fixtures/stripe-events/objects/checkout.session.json");
const SUBSCRIPTION: &str =
    include_str!("../../../tests/fixtures/stripe-events/objects/subscription.json");

type Seen = Arc<Mutex<Vec<(String, Option<String>, String)>>>;

async fn stripe(
    State(seen): State<Seen>,
    AxPath(object): AxPath<String>,
    headers: HeaderMap,
    body: String,
) -> String {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    seen.lock().unwrap().push((object.clone(), key, body));
    match object.as_str() {
        "prices" => r#"{"object":"price","id":"price_123","unit_amount":2000,"currency":"eur"}"#.to_owned(),
        "payment_links" => r#"{"object":"payment_link","id":"plink_123","url":"https://buy.stripe.com/test_123","active":true}"#.to_owned(),
        "customers" => r#"{"object":"customer","id":"cus_123","email":"ana@example.com"}"#.to_owned(),
        "subscriptions" => SUBSCRIPTION.to_owned(),
        _ => SESSION.to_owned(),
    }
}

/// Reads: the account and its balance; a revoked key is refused as Stripe refuses it.
async fn read(
    State(seen): State<Seen>,
    AxPath(object): AxPath<String>,
    headers: HeaderMap,
) -> (axum::http::StatusCode, String) {
    seen.lock()
        .unwrap()
        .push((format!("GET {object}"), None, String::new()));
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth.contains("Revoked") {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_live_****oked"}}"#.to_owned(),
        );
    }
    let body = match object.as_str() {
        "account" => r#"{"object":"account","id":"acct_1Live","charges_enabled":true}"#,
        _ => r#"{"object":"balance","available":[{"amount":0,"currency":"eur"}],"livemode":true}"#,
    };
    (axum::http::StatusCode::OK, body.to_owned())
}

async fn scripted() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/{object}", post(stripe).get(read))
        .route("/v1/checkout/{object}", post(stripe))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn params(form: &str) -> Vec<(String, String)> {
    form.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let decode = |s: &str| {
                let bytes = s.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' {
                        out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                String::from_utf8(out).unwrap()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_checkout_session_holds_the_slot_and_names_the_appointment() {
    let (base, seen) = scripted().await;
    let db = &databases("checkout_session")[0];
    let s = TestServer::start_full(&db.location, WriterConfig::default(), &base).await;
    let tenant = s.tenant();
    let booking = s.appointment(&tenant, "45.00").await;
    let before = payhook_server::ids::now_secs();
    let body = json!({"ui_mode": "embedded", "success_url": "https://clinic.example/done", "expires_in_minutes": 30});
    let request = s
        .client
        .post(format!(
            "{}/api/v1/appointments/{booking}/checkout-sessions",
            s.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .header("Idempotency-Key", "booking-42")
        .json(&body);
    let answer: Value = request.send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["object"], "checkout.session", "{answer}");
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (object, key, form) = &calls[0];
    assert_eq!(object, "sessions");
    assert!(key.is_some(), "an idempotency key is sent");
    let p = params(form);
    assert_eq!(param(&p, "ui_mode"), Some("embedded"));
    assert_eq!(param(&p, "return_url"), Some("https://clinic.example/done"));
    assert_eq!(
        param(&p, "metadata[appointment_id]"),
        Some(booking.as_str())
    );
    assert_eq!(
        param(&p, "payment_intent_data[metadata][appointment_id]"),
        Some(booking.as_str())
    );
    assert_eq!(
        param(&p, "line_items[0][price_data][unit_amount]"),
        Some("4500")
    );
    assert_eq!(
        param(&p, "line_items[0][price_data][currency]"),
        Some("eur")
    );
    let expires: i64 = param(&p, "expires_at").unwrap().parse().unwrap();
    assert!(
        (before + 30 * 60..=before + 32 * 60).contains(&expires),
        "{expires} vs {before}"
    );
    // The same request again is answered from the stored call: Stripe is not asked twice.
    let again: Value = s
        .client
        .post(format!(
            "{}/api/v1/appointments/{booking}/checkout-sessions",
            s.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .header("Idempotency-Key", "booking-42")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, answer);
    assert_eq!(seen.lock().unwrap().len(), 1);
    // Stripe keeps a session open 30 minutes to 24 hours.
    let (status, e) = s
        .api(
            reqwest::Method::POST,
            &format!("/appointments/{booking}/checkout-sessions"),
            Some(json!({"success_url": "https://x.example", "expires_in_minutes": 10})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid_expiry")),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_link_for_an_invoice_carries_the_invoice_id_to_its_payments() {
    let (base, seen) = scripted().await;
    let db = &databases("payment_link")[0];
    let s = TestServer::start_full(&db.location, WriterConfig::default(), &base).await;
    let tenant = s.tenant();
    let invoice = s.invoice(&tenant, "20.00").await;
    let (status, link) = s
        .api(
            reqwest::Method::POST,
            &format!("/invoices/{invoice}/payment-links"),
            Some(json!({"redirect_url": "https://books.example/thanks"})),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["url"], "https://buy.stripe.com/test_123", "{link}");
    let calls = seen.lock().unwrap().clone();
    let objects: Vec<&str> = calls.iter().map(|(o, _, _)| o.as_str()).collect();
    assert_eq!(objects, ["prices", "payment_links"]);
    let price = params(&calls[0].2);
    assert_eq!(param(&price, "unit_amount"), Some("2000"));
    assert_eq!(param(&price, "currency"), Some("eur"));
    assert_eq!(
        param(&price, "product_data[name]"),
        Some(format!("Invoice {invoice}").as_str())
    );
    let link_params = params(&calls[1].2);
    assert_eq!(
        param(&link_params, "line_items[0][price]"),
        Some("price_123")
    );
    assert_eq!(
        param(&link_params, "metadata[invoice_id]"),
        Some(invoice.as_str())
    );
    assert_eq!(
        param(&link_params, "payment_intent_data[metadata][invoice_id]"),
        Some(invoice.as_str())
    );
    assert_eq!(
        param(&link_params, "after_completion[redirect][url]"),
        Some("https://books.example/thanks")
    );
    assert!(calls.iter().all(|(_, key, _)| key.is_some()));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalized_invoice_gets_its_payment_link_from_the_link_worker() {
    let (base, seen) = scripted().await;
    let db = &databases("auto_link")[0];
    let s = TestServer::start_full(&db.location, WriterConfig::default(), &base).await;
    let tenant = s.tenant();
    let invoice = s.invoice(&tenant, "20.00").await;
    let (_, created) = s
        .api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
        .await;
    assert_eq!(created["payment_link"]["status"], "pending", "{created}");
    // One that asked for none is left alone.
    let (status, plain) = s
        .api(
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/invoices"),
            Some(json!({"amount": "9.00", "payment_link": false})),
        )
        .await;
    assert_eq!(status, 201, "{plain}");
    assert!(plain.get("payment_link").is_none(), "{plain}");
    assert_eq!(payhook_server::http::link_round(&s.state).await.unwrap(), 1);
    let (_, done) = s
        .api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
        .await;
    assert_eq!(
        (
            done["payment_link"]["status"].as_str(),
            done["payment_link"]["url"].as_str()
        ),
        (Some("created"), Some("https://buy.stripe.com/test_123")),
        "{done}"
    );
    let objects: Vec<String> = seen.lock().unwrap().iter().map(|c| c.0.clone()).collect();
    assert_eq!(objects, ["prices", "payment_links"]);
    // Nothing is due any more: the next round asks Stripe for nothing.
    assert_eq!(payhook_server::http::link_round(&s.state).await.unwrap(), 0);
    assert_eq!(seen.lock().unwrap().len(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_link_that_cannot_be_made_yet_is_retried_later_and_says_why() {
    // Stripe unreachable (nothing listens on the discard port).
    let db = &databases("auto_link_down")[0];
    let s = TestServer::start(&db.location).await;
    let tenant = s.tenant();
    let invoice = s.invoice(&tenant, "20.00").await;
    assert_eq!(payhook_server::http::link_round(&s.state).await.unwrap(), 1);
    let (_, inv) = s
        .api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
        .await;
    let link = &inv["payment_link"];
    assert_eq!(
        (link["status"].as_str(), link["attempts"].as_i64()),
        (Some("pending"), Some(1)),
        "{inv}"
    );
    assert!(
        link["error"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{inv}"
    );
    // Not due again at once: the retry waits.
    assert_eq!(payhook_server::http::link_round(&s.state).await.unwrap(), 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarterly_subscription_makes_its_customer_and_price_first() {
    let (base, seen) = scripted().await;
    let db = &databases("subscription_create")[0];
    let s = TestServer::start_full(&db.location, WriterConfig::default(), &base).await;
    let tenant = s.tenant();
    let body = json!({
        "email": "ana@example.com",
        "payment_method": "pm_card_visa",
        "amount": "29.00",
        "interval": "quarterly",
        "product_name": "Bookkeeping, quarterly",
        "metadata": {"plan": "q"}
    });
    let post = || {
        s.client
            .post(format!("{}/api/v1/tenants/{tenant}/subscriptions", s.base))
            .bearer_auth(ADMIN_TOKEN)
            .header("Idempotency-Key", "signup-7")
            .json(&body)
    };
    let answer: Value = post().send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (answer["object"].as_str(), answer["kind"].as_str()),
        (Some("other"), Some("subscription")),
        "{answer}"
    );
    let calls = seen.lock().unwrap().clone();
    let objects: Vec<&str> = calls.iter().map(|(o, _, _)| o.as_str()).collect();
    assert_eq!(objects, ["customers", "prices", "subscriptions"]);
    let customer = params(&calls[0].2);
    assert_eq!(
        param(&customer, "invoice_settings[default_payment_method]"),
        Some("pm_card_visa")
    );
    let price = params(&calls[1].2);
    assert_eq!(
        (
            param(&price, "unit_amount"),
            param(&price, "recurring[interval]"),
            param(&price, "recurring[interval_count]")
        ),
        (Some("2900"), Some("month"), Some("3"))
    );
    let sub = params(&calls[2].2);
    assert_eq!(
        (
            param(&sub, "customer"),
            param(&sub, "items[0][price]"),
            param(&sub, "metadata[plan]")
        ),
        (Some("cus_123"), Some("price_123"), Some("q"))
    );
    // The same request again creates nothing more.
    let again: Value = post().send().await.unwrap().json().await.unwrap();
    assert_eq!(again, answer);
    assert_eq!(seen.lock().unwrap().len(), 3);
    // What is missing or contradictory is refused before any call.
    for (body, code) in [
        (json!({"price": "price_1"}), "customer_missing"),
        (json!({"email": "a@b.example"}), "price_missing"),
        (
            json!({"email": "a@b.example", "price": "price_1", "amount": "5.00", "interval": "monthly"}),
            "price_conflict",
        ),
        (
            json!({"email": "a@b.example", "amount": "0.10", "interval": "monthly"}),
            "invalid_amount",
        ),
        (
            json!({"email": "a@b.example", "amount": "5.00", "interval": "weekly"}),
            "invalid_json",
        ),
    ] {
        let (status, e) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/subscriptions"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {e}"
        );
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "no call for a refused request"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_connection_check_only_reads_and_names_a_refused_key() {
    let (base, seen) = scripted().await;
    let db = &databases("live_check")[0];
    let s = TestServer::start_full(&db.location, WriterConfig::default(), &base).await;
    let tenant = s.tenant();
    let (status, t) = s
        .api(
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/connections"),
            Some(json!({
                "mode": "live",
                "connection_name": "Smile Dental live",
                "secret_key": "sk_live_51LiveSecretKeyDoNotLeak0123456789",
                "publishable_key": "pk_live_51LivePublishableKey0123456789",
                "webhook_secret": "whsec_LiveSigningSecretDoNotLeak0123456789",
                "currency": "eur"
            })),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    let (status, report) = s
        .api(
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/live/check"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["account", "balance"]);
    assert!(
        report["steps"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("acct_1Live"),
        "{report}"
    );
    let seen_now: Vec<String> = seen.lock().unwrap().iter().map(|c| c.0.clone()).collect();
    assert_eq!(
        seen_now,
        ["GET account", "GET balance"],
        "never a charge in live mode"
    );
    // A key Stripe refuses: the check says the gateway is not configured, and why.
    let (status, _) = s
        .api(
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/live/rotate-key"),
            Some(json!({"secret_key": "sk_live_51RevokedKeyRevokedKey0123456789"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, report) = s
        .api(
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/live/check"),
            None,
        )
        .await;
    assert_eq!(report["ok"], false, "{report}");
    let detail = report["steps"][0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("Stripe gateway is not properly configured: Invalid API Key"),
        "{report}"
    );
    assert!(
        !report.to_string().contains("RevokedKeyRevoked"),
        "no key in the report"
    );
    // An unknown mode is refused.
    let (status, e) = s
        .api(
            reqwest::Method::POST,
            &format!("/tenants/{tenant}/prod/check"),
            None,
        )
        .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid_mode")),
        "{e}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_link_for_a_booking_names_the_appointment() {
    let (base, seen) = scripted().await;
    let db = &databases("booking_link")[0];
    let s = TestServer::start_full(&db.location, WriterConfig::default(), &base).await;
    let tenant = s.tenant();
    let visit = s.appointment(&tenant, "35.00").await;
    let (status, link) = s
        .api(
            reqwest::Method::POST,
            &format!("/appointments/{visit}/payment-links"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["url"], "https://buy.stripe.com/test_123", "{link}");
    let calls = seen.lock().unwrap().clone();
    let price = params(&calls[0].2);
    assert_eq!(
        (
            param(&price, "unit_amount"),
            param(&price, "product_data[name]")
        ),
        (Some("3500"), Some(format!("Appointment {visit}").as_str()))
    );
    let link_params = params(&calls[1].2);
    assert_eq!(
        param(
            &link_params,
            "payment_intent_data[metadata][appointment_id]"
        ),
        Some(visit.as_str())
    );
    s.stop().await;
}

fn install(dir: &std::path::Path, name: &str, wasm: &str) {
    std::fs::copy(wasm, dir.join(format!("{name}.wasm"))).unwrap();
    std::fs::write(
        dir.join(format!("{name}.json")),
        json!({"name": name, "version": "0.1.0", "description": "test"}).to_string(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_params_filters_add_words_and_may_refuse_but_never_change_the_amount() {
    use payhook_server::plugins::{self, PluginFilters, Plugins};
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "salon", payhook_plugins::built::SALON);
    install(dir.path(), "hostile", payhook_plugins::built::HOSTILE);
    let installed = Arc::new(Plugins::load_dir(dir.path()).unwrap());
    for db in databases("checkout_filters") {
        let (base, seen) = scripted().await;
        let p = installed.clone();
        let s =
            TestServer::start_with_filters(&db.location, WriterConfig::default(), &base, |db| {
                Some(Arc::new(PluginFilters::new(db.clone(), p)))
            })
            .await;
        let (tenant, plain) = (s.tenant(), s.tenant());
        s.with_conn(|c| {
            for name in ["salon", "hostile"] {
                plugins::set_enabled(
                    c,
                    &tenant,
                    name,
                    true,
                    None,
                    payhook_server::ids::now_secs(),
                )
                .unwrap();
            }
        });
        let checkout = |visit: &str, key: &str| {
            s.client
                .post(format!(
                    "{}/api/v1/appointments/{visit}/checkout-sessions",
                    s.base
                ))
                .bearer_auth(ADMIN_TOKEN)
                .header("Idempotency-Key", key)
                .json(&json!({"success_url": "https://salon.example/done"}))
                .send()
        };

        // The salon's tag is sent; the hostile plugin's cent and its other site are not.
        let visit = s.appointment(&tenant, "45.00").await;
        let answer = checkout(&visit, "visit-1").await.unwrap();
        assert_eq!(answer.status(), 200);
        let form = params(&seen.lock().unwrap()[0].2);
        assert_eq!(param(&form, "metadata[source]"), Some("salon"), "{form:?}");
        assert_eq!(param(&form, "metadata[hostile]"), None, "{form:?}");
        assert_eq!(
            param(&form, "line_items[0][price_data][unit_amount]"),
            Some("4500")
        );
        assert_eq!(
            param(&form, "success_url"),
            Some("https://salon.example/done")
        );
        assert_eq!(
            param(&form, "metadata[appointment_id]"),
            Some(visit.as_str())
        );
        // A retry, a second later (its expiry counted afresh), is answered from the stored
        // call, filtered as it was first.
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        assert_eq!(checkout(&visit, "visit-1").await.unwrap().status(), 200);
        assert_eq!(seen.lock().unwrap().len(), 1);

        // A Payment Link's form goes through the same filters.
        let (status, link) = s
            .api(
                reqwest::Method::POST,
                &format!("/appointments/{visit}/payment-links"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 200, "{link}");
        let link_form = params(&seen.lock().unwrap().last().unwrap().2);
        assert_eq!(
            param(&link_form, "metadata[source]"),
            Some("salon"),
            "{link_form:?}"
        );
        assert_eq!(param(&link_form, "line_items[0][price]"), Some("price_123"));

        // A plugin's own refusal is the answer, in its words; nothing is stored or sent.
        s.with_conn(|c| {
            plugins::kv_set(
                c,
                &tenant,
                "hostile",
                "refuse-checkout",
                "bookings are closed until 2 January",
            )
            .unwrap()
        });
        let sent = seen.lock().unwrap().len();
        let refused = checkout(&visit, "visit-2").await.unwrap();
        assert_eq!(refused.status(), 400);
        let e: Value = refused.json().await.unwrap();
        assert_eq!(e["error"]["code"], "refused_by_plugin", "{e}");
        assert_eq!(
            e["error"]["message"],
            "the hostile plugin refused this checkout session: bookings are closed until 2 January"
        );
        assert_eq!(seen.lock().unwrap().len(), sent);
        let stored: i64 = s.with_conn(|c| {
            use payhook_server::db::Conn;
            c.query_opt(
                "SELECT COUNT(*) FROM stripe_calls WHERE purpose LIKE '%visit-2'",
                &[],
            )
            .unwrap()
            .unwrap()
            .int(0)
        });
        assert_eq!(stored, 0);

        // Plugins that cannot be read: the checkout waits (503, try again) rather than going
        // out without the salon's filter; nothing is stored or sent.
        let visit = s.appointment(&tenant, "45.00").await;
        s.with_conn(|c| {
            use payhook_server::db::Conn;
            c.execute("DELETE FROM plugin_kv WHERE plugin = 'hostile'", &[])
                .unwrap();
            c.execute(
                "ALTER TABLE plugin_tenants RENAME TO unreadable_for_the_test",
                &[],
            )
            .unwrap();
        });
        let sent = seen.lock().unwrap().len();
        let held = checkout(&visit, "visit-3").await.unwrap();
        assert_eq!(held.status(), 503);
        let e: Value = held.json().await.unwrap();
        assert_eq!(e["error"]["code"], "unavailable", "{e}");
        assert_eq!(
            e["error"]["message"],
            "the tenant's plugins could not be read, so the checkout-params filters did not run; \
             nothing was done, try again"
        );
        assert_eq!(seen.lock().unwrap().len(), sent);
        s.with_conn(|c| {
            use payhook_server::db::Conn;
            c.execute(
                "ALTER TABLE unreadable_for_the_test RENAME TO plugin_tenants",
                &[],
            )
            .unwrap();
        });
        // The same request once they can be read: filtered and sent.
        assert_eq!(checkout(&visit, "visit-3").await.unwrap().status(), 200);
        let form = params(&seen.lock().unwrap().last().unwrap().2);
        assert_eq!(param(&form, "metadata[source]"), Some("salon"), "{form:?}");

        // A tenant without plugins: payhook's form as it is.
        let other = s.appointment(&plain, "45.00").await;
        assert_eq!(checkout(&other, "other-1").await.unwrap().status(), 200);
        let form = params(&seen.lock().unwrap().last().unwrap().2);
        assert_eq!(param(&form, "metadata[source]"), None, "{form:?}");
        s.stop().await;
    }
}
