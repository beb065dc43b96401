//! A server on a loopback port over a fresh database, for the integration tests; the same test
//! runs on SQLite and, when `PAYHOOK_TEST_POSTGRES` is set (always under CI), on PostgreSQL.
#![allow(dead_code)]

pub mod sinks;

use std::time::{Duration, Instant};

use payhook_core::secret::WebhookSecret;
use payhook_server::admin_token::AdminToken;
use payhook_server::connection::{ConnectionInput, Mode};
use payhook_server::db::{Conn, Database, Location};
use payhook_server::http::{AppState, app};
use payhook_server::inbox::{Writer, WriterConfig, WriterThread};
use payhook_server::metrics::Metrics;
use payhook_server::seal::{MasterKey, Sealer};
use payhook_server::secret::Secret;
use payhook_server::testing::{TempPostgres, fresh_postgres};
use payhook_server::{engine, ids, tenants};
use serde_json::{Value, json};

pub const SECRET_KEY: &str = "sk_test_51TestSecretKeyDoNotLeak0123456789";
pub const PUBLISHABLE_KEY: &str = "pk_test_51TestPublishableKey0123456789";
pub const WEBHOOK_SECRET: &str = "whsec_TestSigningSecretDoNotLeak0123456789";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// A database to run one test on.
pub struct TestDb {
    pub location: Location,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<TempPostgres>,
}

/// SQLite always; PostgreSQL when configured.
pub fn databases(test: &str) -> Vec<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![TestDb {
        location: Location::Sqlite(dir.path().join("payhook.db")),
        _dir: Some(dir),
        _pg: None,
    }];
    if let Some(pg) = fresh_postgres(test) {
        out.push(TestDb {
            location: pg.location(),
            _dir: None,
            _pg: Some(pg),
        });
    }
    out
}

pub fn master_key() -> MasterKey {
    MasterKey::from_bytes([7u8; 32])
}

/// A running server.
pub struct TestServer {
    pub base: String,
    pub db: Database,
    pub sealer: Sealer,
    pub writer: Writer,
    pub metrics: Metrics,
    thread: Option<WriterThread>,
    server: tokio::task::JoinHandle<()>,
    /// The server's state, for driving its background work (the link worker) from a test.
    #[allow(dead_code)]
    pub state: AppState,
    pub client: reqwest::Client,
}

impl TestServer {
    pub async fn start(location: &Location) -> TestServer {
        Self::start_with(location, WriterConfig::default()).await
    }

    pub async fn start_with(location: &Location, config: WriterConfig) -> TestServer {
        Self::start_full(location, config, "http://127.0.0.1:9").await
    }

    /// A server whose Stripe calls go to `stripe_api_base` (localstripe, a scripted server).
    pub async fn start_full(
        location: &Location,
        config: WriterConfig,
        stripe_api_base: &str,
    ) -> TestServer {
        Self::start_with_filters(location, config, stripe_api_base, |_| None).await
    }

    /// As [`TestServer::start_full`], with the filter points `filters` gives for the database
    /// (plugins' filters, as `payhook serve` gives them).
    pub async fn start_with_filters(
        location: &Location,
        config: WriterConfig,
        stripe_api_base: &str,
        filters: impl FnOnce(&Database) -> Option<std::sync::Arc<dyn payhook_server::hooks::Filters>>,
    ) -> TestServer {
        let db = blocking(|| Database::open(location).unwrap());
        let sealer = Sealer::new(&master_key());
        let metrics = Metrics::new();
        let (writer, thread) = Writer::start(db.clone(), config, metrics.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let state = AppState::new(
            db.clone(),
            Sealer::new(&master_key()),
            writer.clone(),
            metrics.clone(),
            AdminToken::new(ADMIN_TOKEN),
            &base,
            payhook_server::stripe::StripeClient::new(stripe_api_base),
        );
        let state = match filters(&db) {
            Some(f) => state.with_filters(f),
            None => state,
        };
        let served = state.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app(served)).await.unwrap();
        });
        TestServer {
            base,
            db,
            sealer,
            writer,
            metrics,
            thread: Some(thread),
            server,
            state,
            client: {
                payhook_server::stripe::install_tls_provider();
                reqwest::Client::new()
            },
        }
    }

    pub async fn stop(mut self) {
        self.server.abort();
        self.writer.stop();
        if let Some(t) = self.thread.take() {
            tokio::task::spawn_blocking(move || t.join()).await.unwrap();
        }
    }

    /// A tenant with a test connection.
    pub fn tenant(&self) -> String {
        let input = ConnectionInput {
            name: "Smile Dental".into(),
            mode: Mode::Test,
            secret_key: Some(Secret::new(SECRET_KEY)),
            publishable_key: Some(Secret::new(PUBLISHABLE_KEY)),
            webhook_secret: Some(WebhookSecret::new(WEBHOOK_SECRET)),
            default_currency: Some("eur".into()),
            enabled: true,
        };
        blocking(|| {
            let mut conn = self.db.conn().unwrap();
            tenants::create(
                &mut conn,
                &self.sealer,
                "Smile Dental",
                &input,
                ids::now_secs(),
            )
            .unwrap()
            .id
        })
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn invoice(&self, tenant: &str, amount: &str) -> String {
        let (status, body) = self
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/invoices"),
                Some(json!({"amount": amount, "currency": "eur"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn appointment(&self, tenant: &str, amount: &str) -> String {
        let (status, body) = self
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/appointments"),
                Some(json!({"amount": amount, "currency": "eur"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Posts a body signed with `secret` at `timestamp`; returns status and JSON answer.
    pub async fn deliver_signed(
        &self,
        tenant: &str,
        mode: &str,
        body: &str,
        header: Option<String>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/webhooks/stripe/{tenant}/{mode}", self.base))
            .body(body.to_owned());
        if let Some(h) = header {
            request = request.header("Stripe-Signature", h);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn deliver(&self, tenant: &str, body: &str) -> (u16, Value) {
        let header = sign(body, WEBHOOK_SECRET, ids::now_secs());
        self.deliver_signed(tenant, "test", body, Some(header))
            .await
    }

    /// Waits until no event of the tenant is waiting to be processed.
    pub async fn settle(&self, tenant: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let waiting = self.count(
                "SELECT COUNT(*) FROM events WHERE tenant_id = $1 AND status = 'received'",
                &[tenant.into()],
            );
            if waiting == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{waiting} events still waiting after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn count(&self, sql: &str, params: &[payhook_server::db::Value]) -> i64 {
        blocking(|| {
            self.db
                .conn()
                .unwrap()
                .query_opt(sql, params)
                .unwrap()
                .unwrap()
                .int(0)
        })
    }

    /// Runs `f` with a connection; the store is synchronous, so this leaves the async runtime.
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut payhook_server::db::DbConn) -> T) -> T {
        blocking(|| f(&mut self.db.conn().unwrap()))
    }
}

/// Runs blocking database work from a test's async body.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The `Stripe-Signature` header for `body`, by the engine component.
pub fn sign(body: &str, secret: &str, timestamp: i64) -> String {
    engine::with_session(|s| s.sign(body.as_bytes(), &WebhookSecret::new(secret), timestamp))
        .unwrap()
}

/// A sample event from the fixtures with a fresh id, the given object fields changed and
/// metadata set.
pub fn event(sample: &str, changes: Value, metadata: Value) -> String {
    let mut e: Value = serde_json::from_str(sample).unwrap();
    e["id"] = json!(ids::new_id("evt"));
    if let Value::Object(map) = changes {
        for (k, v) in map {
            e["data"]["object"][k] = v;
        }
    }
    e["data"]["object"]["metadata"] = metadata;
    e.to_string()
}

pub const PI_SUCCEEDED: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/payment_intent.succeeded.json");
pub const PI_FAILED: &str = include_str!(
    "../../../../tests/fixtures/stripe-events/events/payment_intent.payment_failed.json"
);
pub const CHARGE_REFUNDED: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/charge.refunded.json");
pub const CHECKOUT_COMPLETED: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/checkout.session.completed.json");
pub const CHECKOUT_EXPIRED: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/checkout.session.expired.json");
pub const PAYOUT_PAID: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/payout.paid.json");
#[allow(dead_code)]
pub const PAYOUT_FAILED: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/payout.failed.json");
pub const CHARGE_REFUNDED_PARTIAL: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/charge.refunded--partial.json");

/// A sample event with a fixed id and `created`, the given object fields changed and metadata
/// set (for tests that replay the same events in many orders).
pub fn fixed_event(
    sample: &str,
    id: &str,
    created: i64,
    changes: Value,
    metadata: Value,
) -> String {
    let mut e: Value = serde_json::from_str(sample).unwrap();
    e["id"] = json!(id);
    e["created"] = json!(created);
    if let Value::Object(map) = changes {
        for (k, v) in map {
            e["data"]["object"][k] = v;
        }
    }
    e["data"]["object"]["metadata"] = metadata;
    e.to_string()
}
pub const SUBSCRIPTION_CREATED: &str = include_str!(
    "../../../../tests/fixtures/stripe-events/events/customer.subscription.created.json"
);
pub const SUBSCRIPTION_DELETED: &str = include_str!(
    "../../../../tests/fixtures/stripe-events/events/customer.subscription.deleted.json"
);
pub const DISPUTE_CREATED: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/charge.dispute.created.json");
pub const INVOICE_PAYMENT_FAILED: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/invoice.payment_failed.json");
pub const INVOICE_PAID: &str =
    include_str!("../../../../tests/fixtures/stripe-events/events/invoice.paid.json");
