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
        _ => SESSION.to_owned(),
    }
}

async fn scripted() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/{object}", post(stripe))
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
