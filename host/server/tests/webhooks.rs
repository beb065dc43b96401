//! The webhook endpoint on SQLite and PostgreSQL: verify first, store before the 200, each
//! delivery once.

mod common;

use common::*;
use payhook_server::ids::now_secs;
use serde_json::json;

const REFUSED: &str = "the webhook delivery could not be verified for this endpoint";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_endpoints_bad_signatures_and_stale_timestamps_get_the_same_400_and_store_nothing()
{
    for db in databases("webhook_400") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let body = event(PI_SUCCEEDED, json!({}), json!({}));
        let now = now_secs();
        let cases: Vec<(&str, String, &str, Option<String>)> = vec![
            (
                "unknown tenant",
                "ten_0000000000000000".into(),
                "test",
                Some(sign(&body, WEBHOOK_SECRET, now)),
            ),
            (
                "tenant id that is not an id",
                "ten_x%27%3B%20DROP%20TABLE%20events".into(),
                "test",
                Some(sign(&body, WEBHOOK_SECRET, now)),
            ),
            (
                "mode without a connection",
                tenant.clone(),
                "live",
                Some(sign(&body, WEBHOOK_SECRET, now)),
            ),
            (
                "unknown mode",
                tenant.clone(),
                "staging",
                Some(sign(&body, WEBHOOK_SECRET, now)),
            ),
            (
                "wrong secret",
                tenant.clone(),
                "test",
                Some(sign(&body, "whsec_SomeoneElsesSecret000000000000", now)),
            ),
            ("no header", tenant.clone(), "test", None),
            (
                "garbage header",
                tenant.clone(),
                "test",
                Some("t=abc,v1=xyz".into()),
            ),
            (
                "expired timestamp",
                tenant.clone(),
                "test",
                Some(sign(&body, WEBHOOK_SECRET, now - 400)),
            ),
            (
                "timestamp from the future",
                tenant.clone(),
                "test",
                Some(sign(&body, WEBHOOK_SECRET, now + 400)),
            ),
        ];
        let mut answers = Vec::new();
        for (name, t, mode, header) in cases {
            let (status, answer) = s.deliver_signed(&t, mode, &body, header).await;
            assert_eq!(status, 400, "{name}: {answer}");
            assert_eq!(answer["error"]["message"], REFUSED, "{name}");
            answers.push(answer);
        }
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "every refusal reads the same: {answers:?}"
        );
        // A body that is not UTF-8 is refused the same way.
        let response = s
            .client
            .post(format!("{}/webhooks/stripe/{tenant}/test", s.base))
            .header("Stripe-Signature", sign("x", WEBHOOK_SECRET, now))
            .body(vec![0xff, 0xfe, 0x00])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(
            s.count("SELECT COUNT(*) FROM events", &[]),
            0,
            "{:?}",
            db.location
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_delivery_gets_200_and_no_second_row() {
    for db in databases("webhook_duplicate") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let body = event(PI_SUCCEEDED, json!({}), json!({}));
        let (first, a) = s.deliver(&tenant, &body).await;
        let (second, b) = s.deliver(&tenant, &body).await;
        assert_eq!((first, second), (200, 200), "{a} {b}");
        assert_eq!(a, json!({"received": true, "duplicate": false}));
        assert_eq!(b, json!({"received": true, "duplicate": true}));
        assert_eq!(s.count("SELECT COUNT(*) FROM events", &[]), 1);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_secret_keeps_verifying_and_a_disconnected_endpoint_refuses() {
    for db in databases("webhook_roll") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let (status, view) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/test/roll-webhook-secret"),
                Some(json!({"webhook_secret": "whsec_TheNewSigningSecret0000000000000"})),
            )
            .await;
        assert_eq!(status, 200, "{view}");
        let secrets = &view["connections"][0]["webhook_secrets"];
        assert_eq!(secrets.as_array().unwrap().len(), 2, "{view}");
        assert!(secrets[1]["expires_at"].as_i64().unwrap() > now_secs() + 23 * 3600);
        for secret in [WEBHOOK_SECRET, "whsec_TheNewSigningSecret0000000000000"] {
            let body = event(PI_SUCCEEDED, json!({}), json!({}));
            let (status, answer) = s
                .deliver_signed(
                    &tenant,
                    "test",
                    &body,
                    Some(sign(&body, secret, now_secs())),
                )
                .await;
            assert_eq!(status, 200, "{secret}: {answer}");
        }
        let (status, _) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/test/disconnect"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        let body = event(PI_SUCCEEDED, json!({}), json!({}));
        let (status, answer) = s.deliver(&tenant, &body).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["message"], REFUSED);
        // History is kept.
        assert_eq!(s.count("SELECT COUNT(*) FROM events", &[]), 2);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_one_mib_gets_413_and_is_not_stored() {
    let db = &databases("webhook_413")[0];
    let s = TestServer::start(&db.location).await;
    let tenant = s.tenant();
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(1 << 20));
    let (status, _) = s
        .deliver_signed(
            &tenant,
            "test",
            &body,
            Some(format!("t={},v1={}", now_secs(), "0".repeat(64))),
        )
        .await;
    assert_eq!(status, 413);
    assert_eq!(s.count("SELECT COUNT(*) FROM events", &[]), 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_body_that_is_not_an_event_is_refused_with_the_reason() {
    let db = &databases("webhook_not_event")[0];
    let s = TestServer::start(&db.location).await;
    let tenant = s.tenant();
    let (status, answer) = s.deliver(&tenant, "{\"hello\": \"world\"}").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "not_an_event", "{answer}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_types_are_stored_and_acknowledged_and_livemode_mismatches_are_flagged_not_applied()
{
    for db in databases("webhook_unknown_livemode") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let invoice = s.invoice(&tenant, "20.00").await;
        let mut unknown: serde_json::Value =
            serde_json::from_str(&event(PI_SUCCEEDED, json!({}), json!({}))).unwrap();
        unknown["type"] = json!("future_thing.happened");
        let unknown_id = unknown["id"].as_str().unwrap().to_owned();
        let (status, _) = s.deliver(&tenant, &unknown.to_string()).await;
        assert_eq!(status, 200);
        let mut live: serde_json::Value = serde_json::from_str(&event(
            PI_SUCCEEDED,
            json!({"amount": 2000, "amount_received": 2000, "currency": "eur"}),
            json!({"invoice_id": invoice}),
        ))
        .unwrap();
        live["livemode"] = json!(true);
        let live_id = live["id"].as_str().unwrap().to_owned();
        let (status, _) = s.deliver(&tenant, &live.to_string()).await;
        assert_eq!(status, 200);
        s.settle(&tenant).await;
        let (_, e) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/events/{unknown_id}"),
                None,
            )
            .await;
        assert_eq!(e["status"], "ignored", "{e}");
        assert!(
            e["reason"]
                .as_str()
                .unwrap()
                .contains("future_thing.happened"),
            "{e}"
        );
        let (_, e) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/events/{live_id}"),
                None,
            )
            .await;
        assert_eq!(e["status"], "ignored", "{e}");
        assert!(
            e["reason"].as_str().unwrap().contains("livemode mismatch"),
            "{e}"
        );
        // Replaying it changes nothing: a mismatched event is never applied.
        let (status, _) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/events/{live_id}/replay"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        s.settle(&tenant).await;
        let (_, inv) = s
            .api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
            .await;
        assert_eq!(inv["status"], "open", "{inv}");
        assert_eq!(inv["amount_paid"], 0);
        s.stop().await;
    }
}
