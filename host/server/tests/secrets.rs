//! Secrets never leave sealed storage: not in a dump of the database, not in the logs, not in
//! API answers, not in `Debug`.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use payhook_server::db::{Conn, Location};
use serde_json::json;

const NEW_KEY: &str = "sk_test_51RotatedKeyMustNotLeakEither9876";
const NEW_SIGNING: &str = "whsec_RolledSigningSecretMustNotLeak98765";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn secrets() -> [&'static str; 5] {
    [
        SECRET_KEY,
        WEBHOOK_SECRET,
        NEW_KEY,
        NEW_SIGNING,
        ADMIN_TOKEN,
    ]
}

/// Every byte the database holds, as text: the SQLite files themselves (main file and WAL), or
/// every row of every table for PostgreSQL.
fn dump(s: &TestServer, location: &Location) -> String {
    match location {
        Location::Sqlite(path) => {
            let dir = path.parent().unwrap();
            let mut all = Vec::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let p = entry.unwrap().path();
                if p.file_name().unwrap().to_string_lossy().starts_with("payhook.db") {
                    all.extend(std::fs::read(&p).unwrap());
                }
            }
            assert!(all.len() > 4096, "the dump read the database");
            String::from_utf8_lossy(&all).into_owned()
        }
        Location::Postgres(_) => s.with_conn(|c| {
            let tables = c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", &[]).unwrap();
            let mut out = String::new();
            for t in tables {
                for row in c.query(&format!("SELECT row_to_json(t)::text FROM {} t", t.text(0)), &[]).unwrap() {
                    out.push_str(&row.text(0));
                    out.push('\n');
                }
            }
            assert!(out.contains("connections") || out.contains("ten_"), "the dump read the tables");
            out
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_a_database_dump_the_logs_or_an_api_answer() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    for db in databases("secrets_absent") {
        let s = TestServer::start(&db.location).await;
        let mut answers = String::new();
        // Through the API, as a user would.
        let (status, created) = s
            .api(
                reqwest::Method::POST,
                "/tenants",
                Some(json!({"name": "Clinic", "mode": "test", "secret_key": SECRET_KEY, "publishable_key": PUBLISHABLE_KEY, "webhook_secret": WEBHOOK_SECRET, "currency": "eur"})),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        answers.push_str(&created.to_string());
        let tenant = created["id"].as_str().unwrap().to_owned();
        for (path, body) in [
            (
                format!("/tenants/{tenant}/test/rotate-key"),
                json!({"secret_key": NEW_KEY}),
            ),
            (
                format!("/tenants/{tenant}/test/roll-webhook-secret"),
                json!({"webhook_secret": NEW_SIGNING}),
            ),
            // Refused: a live key in test mode. The message may show the masked key only.
            (
                format!("/tenants/{tenant}/test/rotate-key"),
                json!({"secret_key": "sk_live_51ThisLiveKeyIsSecretToo0000000"}),
            ),
        ] {
            let (_, answer) = s.api(reqwest::Method::POST, &path, Some(body)).await;
            answers.push_str(&answer.to_string());
        }
        assert!(
            answers.contains("sk_test_…6789") || answers.contains("sk_test_…"),
            "keys are shown masked: {answers}"
        );
        // Deliveries, good and bad, processed and refused.
        let invoice = s.invoice(&tenant, "20.00").await;
        let good = event(
            PI_SUCCEEDED,
            json!({"amount": 2000, "amount_received": 2000, "currency": "eur"}),
            json!({"invoice_id": invoice}),
        );
        let header = sign(&good, NEW_SIGNING, payhook_server::ids::now_secs());
        assert_eq!(
            s.deliver_signed(&tenant, "test", &good, Some(header))
                .await
                .0,
            200
        );
        let bad = event(PI_SUCCEEDED, json!({}), json!({}));
        assert_eq!(
            s.deliver_signed(
                &tenant,
                "test",
                &bad,
                Some(sign(&bad, "whsec_wrong0000000000000000000000", 1))
            )
            .await
            .0,
            400
        );
        s.settle(&tenant).await;
        for path in [
            format!("/tenants/{tenant}"),
            "/tenants".to_owned(),
            format!("/tenants/{tenant}/events"),
        ] {
            answers.push_str(&s.api(reqwest::Method::GET, &path, None).await.1.to_string());
        }
        let unauthorized = s
            .client
            .get(format!("{}/api/v1/tenants", s.base))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        answers.push_str(&unauthorized);
        answers.push_str(
            &s.client
                .get(format!("{}/metrics", s.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );

        let dumped = dump(&s, &db.location);
        for secret in secrets() {
            assert!(
                !dumped.contains(secret),
                "{:?}: the database holds {secret} in plain text",
                db.location
            );
            assert!(!answers.contains(secret), "an API answer shows {secret}");
        }
        // The sealed values are there, and they are not the secrets.
        assert!(dumped.contains("v1."), "sealed values are stored");
        s.stop().await;
    }
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    for secret in secrets() {
        assert!(!logs.contains(secret), "the logs show {secret}");
    }
}
