//! The Stripe client against a scripted local server: 429, 500 and a connection dropped after
//! the request was sent are retried with the same idempotency key and the same bytes, and
//! exactly one object is created per operation; other errors are not retried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use payhook_core::money::{Currency, Money};
use payhook_core::stripe::response::Object;
use payhook_core::stripe::{Operation, RefundInput};
use payhook_server::secret::Secret;
use payhook_server::stripe::{StripeClient, StripeError, new_idempotency_key};

#[derive(Default)]
struct Script {
    /// What to do on each attempt, in order; `ok` once they run out.
    plan: Vec<&'static str>,
    attempts: Vec<(Option<String>, String, Option<String>)>,
    created: HashMap<String, String>,
}

type Shared = Arc<Mutex<Script>>;

async fn refunds(State(script): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let step = {
        let mut s = script.lock().unwrap();
        s.attempts.push((key.clone(), body.clone(), auth));
        let step = if s.plan.is_empty() {
            "ok"
        } else {
            s.plan.remove(0)
        };
        // Like Stripe, the object is created once per idempotency key, even when the answer is lost.
        if step == "ok" || step == "drop" {
            let n = s.created.len();
            s.created
                .entry(key.clone().unwrap_or_default())
                .or_insert_with(|| format!("re_{n}"));
        }
        step
    };
    match step {
        "429" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], r#"{"error":{"type":"rate_limit_error","message":"slow down"}}"#).into_response(),
        "500" => (StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":{"type":"api_error","message":"oops"}}"#).into_response(),
        "drop" => panic!("scripted: the connection drops after the request was processed"),
        "402" => (StatusCode::PAYMENT_REQUIRED, r#"{"error":{"type":"card_error","code":"card_declined","message":"Your card was declined."}}"#).into_response(),
        _ => {
            let id = script.lock().unwrap().created[&key.unwrap_or_default()].clone();
            (StatusCode::OK, format!(r#"{{"object":"refund","id":"{id}","status":"succeeded","amount":500,"currency":"eur","payment_intent":"pi_1"}}"#)).into_response()
        }
    }
}

async fn scripted(plan: Vec<&'static str>) -> (String, Shared) {
    let script: Shared = Arc::new(Mutex::new(Script {
        plan,
        ..Script::default()
    }));
    let app = Router::new()
        .route("/v1/refunds", post(refunds))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, script)
}

fn refund() -> Operation {
    Operation::CreateRefund(RefundInput {
        payment_intent: "pi_1".into(),
        amount: Some(Money {
            minor: 500,
            currency: Currency::parse("eur").unwrap(),
        }),
        refundable: 2000,
        reason: None,
        metadata: Default::default(),
    })
}

const KEY: &str = "sk_test_51ScriptedServerKey000000000000";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_server_errors_and_dropped_connections_are_retried_and_create_one_object() {
    let (base, script) = scripted(vec!["429", "500", "drop"]).await;
    let client = StripeClient::new(&base).with_max_retries(3);
    let key = new_idempotency_key();
    let object = client
        .call(&Secret::new(KEY), &refund(), Some(&key))
        .await
        .unwrap();
    let Object::Refund(r) = object else {
        panic!("{object:?}")
    };
    assert_eq!((r.id.as_str(), r.amount), ("re_0", 500));
    let s = script.lock().unwrap();
    assert_eq!(s.attempts.len(), 4, "three failures, then the answer");
    assert_eq!(s.created.len(), 1, "exactly one refund created");
    let first = &s.attempts[0];
    assert!(
        s.attempts.iter().all(|a| a == first),
        "every attempt sends the same key, bytes and credentials: {:?}",
        s.attempts
    );
    assert_eq!(first.0.as_deref(), Some(key.as_str()));
    assert_eq!(first.1, "amount=500&payment_intent=pi_1");
    assert_eq!(first.2.as_deref(), Some(format!("Bearer {KEY}").as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_is_not_retried_and_comes_back_typed() {
    let (base, script) = scripted(vec!["402"]).await;
    let err = StripeClient::new(&base)
        .call(&Secret::new(KEY), &refund(), Some("k1"))
        .await
        .unwrap_err();
    let StripeError::Api(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((e.status, e.code.as_deref()), (402, Some("card_declined")));
    assert_eq!(
        err.to_string(),
        "Your card was declined. (Stripe card_error: card_declined, HTTP 402)"
    );
    assert_eq!(script.lock().unwrap().attempts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded() {
    let (base, script) = scripted(vec!["500", "500", "500", "500"]).await;
    let err = StripeClient::new(&base)
        .with_max_retries(2)
        .call(&Secret::new(KEY), &refund(), Some("k2"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StripeError::Api(e) if e.status == 500),
        "{err:?}"
    );
    assert_eq!(script.lock().unwrap().attempts.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_operations_send_nothing() {
    let (base, script) = scripted(vec![]).await;
    let client = StripeClient::new(&base);
    let too_much = Operation::CreateRefund(RefundInput {
        payment_intent: "pi_1".into(),
        amount: Some(Money {
            minor: 2500,
            currency: Currency::parse("eur").unwrap(),
        }),
        refundable: 2000,
        reason: None,
        metadata: Default::default(),
    });
    let err = client
        .call(&Secret::new(KEY), &too_much, Some("k3"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StripeError::Refused { code, .. } if code == "amount"),
        "{err:?}"
    );
    let err = client
        .call(&Secret::new(KEY), &refund(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StripeError::Refused { code, .. } if code == "idempotency-key-missing"),
        "{err:?}"
    );
    assert!(script.lock().unwrap().attempts.is_empty());
    // Nothing listens here: the connection error is retried, then reported.
    let gone = StripeClient::new("http://127.0.0.1:9").with_max_retries(1);
    let err = gone
        .call(&Secret::new(KEY), &refund(), Some("k4"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StripeError::Unreachable { attempts: 2, .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_api_base_speaks_tls() {
    // A listener that reads the first byte a client sends: 0x16 opens a TLS handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::thread::spawn(move || {
        use std::io::Read;
        let (mut socket, _) = listener.accept().unwrap();
        let mut first = [0u8; 1];
        socket.read_exact(&mut first).unwrap();
        first[0]
    });
    let client = StripeClient::new(&format!("https://127.0.0.1:{port}")).with_max_retries(0);
    let err = client
        .call(&Secret::new(KEY), &refund(), Some("k5"))
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::Unreachable { .. }), "{err:?}");
    assert_eq!(
        seen.join().unwrap(),
        0x16,
        "the client opened a TLS handshake"
    );
}
