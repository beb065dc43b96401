//! The router without a socket: authentication, the OpenAPI document against the routes,
//! health and metrics.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::admin_token::AdminToken;
use crate::db::Location;
use crate::inbox::{Writer, WriterConfig};
use crate::seal::{MasterKey, Sealer};

const TOKEN: &str = "router-test-token-0123456789";

fn state(dir: &tempfile::TempDir) -> (AppState, crate::inbox::WriterThread) {
    let db = Database::open(&Location::Sqlite(dir.path().join("r.db"))).unwrap();
    let metrics = Metrics::new();
    let (writer, thread) = Writer::start(
        db.clone(),
        WriterConfig {
            process: false,
            ..WriterConfig::default()
        },
        metrics.clone(),
    );
    let sealer = Sealer::new(&MasterKey::from_bytes([1; 32]));
    (
        AppState::new(
            db,
            sealer,
            writer,
            metrics,
            AdminToken::new(TOKEN),
            "http://127.0.0.1:8080/",
            crate::stripe::StripeClient::new("http://127.0.0.1:9"),
        ),
        thread,
    )
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Body,
) -> (StatusCode, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn api_operations() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| ["get", "post"].contains(&m.as_str()))
        {
            out.push((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_refuses_a_request_without_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _thread) = state(&dir);
    let app = app(state);
    let ops = api_operations();
    assert!(ops.len() >= 20, "the document lists the API: {ops:?}");
    for (method, path) in ops
        .iter()
        .filter(|(_, p)| p.starts_with("/api/v1/") && p != "/api/v1/openapi.json")
    {
        let uri = path
            .replace("{id}", "ten_0000000000000000")
            .replace("{mode}", "test")
            .replace("{event_id}", "evt_1");
        for token in [None, Some("wrong-token"), Some("")] {
            let (status, body) = call(&app, method, &uri, token, Body::empty()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {token:?}: {body}"
            );
            assert!(body.contains("\"unauthorized\""), "{body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_exists_and_the_document_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _thread) = state(&dir);
    let app = app(state);
    for (method, path) in api_operations() {
        let uri = path
            .replace("{id}", "ten_0000000000000000")
            .replace("{tenant}", "ten_0000000000000000")
            .replace("{mode}", "test")
            .replace("{event_id}", "evt_1");
        let (status, body) = call(&app, &method, &uri, Some(TOKEN), Body::from("{}")).await;
        assert!(
            !body.contains("no such route"),
            "{method} {path} is documented but not routed: {status} {body}"
        );
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    let (status, body) = call(&app, "GET", "/api/v1/openapi.json", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_that_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _thread) = state(&dir);
    let app = app(state);
    let cases = [
        ("POST", "/api/v1/tenants", "not json", "invalid_json"),
        (
            "POST",
            "/api/v1/tenants",
            r#"{"name":"A","mode":"staging","secret_key":"sk_test_x"}"#,
            "invalid_mode",
        ),
        (
            "POST",
            "/api/v1/tenants",
            r#"{"name":"A","mode":"test"}"#,
            "gateway_not_configured",
        ),
        (
            "POST",
            "/api/v1/tenants",
            r#"{"name":"A","mode":"test","secret_key":"sk_live_51abcdefghijklmnopqrstuvwxyz"}"#,
            "invalid_connection",
        ),
        (
            "GET",
            "/api/v1/tenants/ten_0000000000000000/invoices?limit=abc",
            "",
            "invalid_query",
        ),
        (
            "GET",
            "/api/v1/tenants/ten_0000000000000000/events?status=lost",
            "",
            "invalid_status",
        ),
        (
            "GET",
            "/api/v1/tenants/ten_0000000000000000/payments",
            "",
            "not_found",
        ),
        ("GET", "/api/v1/invoices/inv_nope", "", "not_found"),
    ];
    for (method, uri, body, code) in cases {
        let (status, answer) = call(&app, method, uri, Some(TOKEN), Body::from(body)).await;
        let v: Value =
            serde_json::from_str(&answer).unwrap_or_else(|_| panic!("{uri}: not JSON: {answer}"));
        assert_eq!(
            v["error"]["code"], code,
            "{method} {uri} {body}: {status} {answer}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (status, answer) = call(
        &app,
        "POST",
        "/api/v1/tenants",
        Some(TOKEN),
        Body::from(r#"{"name":"A","mode":"test"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer.contains("Stripe gateway is not properly configured"),
        "{answer}"
    );
    // A webhook body over 1 MiB is refused with the same JSON shape.
    let big = vec![b'x'; MAX_WEBHOOK_BODY + 1];
    let (status, answer) = call(
        &app,
        "POST",
        "/webhooks/stripe/ten_0000000000000000/test",
        None,
        Body::from(big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer.contains("\"too_large\""), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_answer_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _thread) = state(&dir);
    let app = app(state);
    let (status, body) = call(&app, "GET", "/healthz", None, Body::empty()).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"status":"ok"}"#)
    );
    let (status, body) = call(&app, "GET", "/metrics", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("payhook_inbox_batch_size"), "{body}");
}
