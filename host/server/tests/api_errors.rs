//! Bad input through the API, each refused with a clear, typed error: amounts Stripe would not
//! take (refused before any call), and Stripe's own refusals (a declined card, authentication
//! required, an invalid request), against a scripted Stripe.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::*;
use payhook_server::inbox::WriterConfig;
use serde_json::json;

type Calls = Arc<Mutex<Vec<String>>>;

/// Answers a PaymentIntent creation by its payment method, as Stripe does for its test ones.
async fn payment_intents(State(calls): State<Calls>, body: String) -> Response {
    calls.lock().unwrap().push(body.clone());
    let (status, answer) = if body.contains("currency=xyz") {
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":{"type":"invalid_request_error","param":"currency","message":"Invalid currency: xyz. Stripe currently supports these currencies: usd, eur, ..."}}"#,
        )
    } else if body.contains("payment_method=pm_card_authenticationRequired") {
        (
            StatusCode::PAYMENT_REQUIRED,
            r#"{"error":{"type":"card_error","code":"authentication_required","decline_code":"authentication_required","message":"Your card was declined. This transaction requires authentication.","payment_intent":{"id":"pi_auth"}}}"#,
        )
    } else if body.contains("payment_method=pm_card_chargeDeclined") {
        (
            StatusCode::PAYMENT_REQUIRED,
            r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}}"#,
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"payment_method","message":"No such PaymentMethod: 'pm_nope'"}}"#,
        )
    };
    (status, answer).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_amounts_are_refused_before_any_call_and_stripe_refusals_come_back_typed() {
    let calls: Calls = Arc::default();
    let app = Router::new()
        .route("/v1/payment_intents", post(payment_intents))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let db = &databases("api_errors")[0];
    let s = TestServer::start_full(&db.location, WriterConfig::default(), &base).await;
    let tenant = s.tenant();
    let invoices = format!("/tenants/{tenant}/invoices");

    // Amounts the engine refuses, each saying why.
    for (amount, currency, code, says) in [
        ("0.49", "eur", "invalid_amount", "0.50"),
        ("49", "jpy", "invalid_amount", "50"),
        ("20.001", "eur", "invalid_amount", "at most 2"),
        ("12.345", "kwd", "invalid_amount", "0"),
        ("20.00", "euro", "invalid_amount", "three-letter"),
        ("-5", "eur", "invalid_amount", "-5"),
    ] {
        let (status, e) = s
            .api(
                reqwest::Method::POST,
                &invoices,
                Some(json!({"amount": amount, "currency": currency})),
            )
            .await;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (400, Some(code)),
            "{amount} {currency}: {e}"
        );
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{amount} {currency}: {message}");
    }

    // Stripe's refusals: typed, with Stripe's codes, and the right HTTP status.
    for (method, status, code, decline) in [
        (
            "pm_card_authenticationRequired",
            402,
            "authentication_required",
            Some("authentication_required"),
        ),
        (
            "pm_card_chargeDeclined",
            402,
            "card_declined",
            Some("generic_decline"),
        ),
        ("pm_nope", 400, "resource_missing", None),
    ] {
        let invoice = s.invoice(&tenant, "20.00").await;
        let (got, e) = s
            .api(
                reqwest::Method::POST,
                &format!("/invoices/{invoice}/payment-intents"),
                Some(json!({"payment_method": method})),
            )
            .await;
        assert_eq!(got, status, "{method}: {e}");
        assert_eq!(e["error"]["code"], "stripe_error", "{e}");
        assert_eq!(e["error"]["stripe"]["code"].as_str(), Some(code), "{e}");
        assert_eq!(
            e["error"]["stripe"]["decline_code"].as_str(),
            decline,
            "{e}"
        );
        assert!(!e["error"]["message"].as_str().unwrap().is_empty(), "{e}");
        if method == "pm_nope" {
            assert_eq!(e["error"]["stripe"]["param"], "payment_method", "{e}");
        }
    }
    // A well-formed code that Stripe does not support is Stripe's to refuse (its list changes);
    // the refusal names the parameter.
    let (status, inv) = s
        .api(
            reqwest::Method::POST,
            &invoices,
            Some(json!({"amount": "20.00", "currency": "xyz", "payment_link": false})),
        )
        .await;
    assert_eq!(status, 201, "{inv}");
    let (status, e) = s
        .api(
            reqwest::Method::POST,
            &format!("/invoices/{}/payment-intents", inv["id"].as_str().unwrap()),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["stripe"]["param"].as_str()),
        (400, Some("currency")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid currency: xyz"),
        "{e}"
    );
    // Nothing was sent for the refused amounts: four invoices, four calls.
    assert_eq!(calls.lock().unwrap().len(), 4);
    // No secret key in any answer.
    s.stop().await;
}
