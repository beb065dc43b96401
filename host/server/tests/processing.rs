//! The worker, on SQLite and PostgreSQL: each event's facts reach the records they name, once,
//! and any order of the same deliveries, with duplicates and replays, ends in the same state.

mod common;

use common::*;
use payhook_core::machine::document::new_appointment;
use payhook_core::money::{Currency, Money};
use payhook_server::connection::Mode;
use payhook_server::db::{Conn, Database, DbConn, Location};
use payhook_server::inbox::{self, NewDelivery};
use payhook_server::metrics::Metrics;
use payhook_server::process;
use payhook_server::records::{self, NewRecord, RecordKind};
use proptest::prelude::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_settles_its_invoice_and_a_refund_books_the_ledger() {
    for db in databases("processing_invoice") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let invoice = s.invoice(&tenant, "20.00").await;
        let meta = json!({"invoice_id": invoice});
        let paid = event(
            PI_SUCCEEDED,
            json!({"id": "pi_inv1", "amount": 2000, "amount_received": 2000, "currency": "eur"}),
            meta.clone(),
        );
        assert_eq!(s.deliver(&tenant, &paid).await.0, 200);
        s.settle(&tenant).await;
        let (_, inv) = s
            .api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
            .await;
        assert_eq!(
            (inv["status"].as_str(), inv["amount_paid"].as_i64()),
            (Some("paid"), Some(2000)),
            "{inv}"
        );
        let refund = event(
            CHARGE_REFUNDED_PARTIAL,
            json!({"payment_intent": "pi_inv1", "amount": 2000, "amount_captured": 2000, "amount_refunded": 500, "currency": "eur"}),
            meta,
        );
        assert_eq!(s.deliver(&tenant, &refund).await.0, 200);
        s.settle(&tenant).await;
        let (_, inv) = s
            .api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
            .await;
        assert_eq!(
            (inv["status"].as_str(), inv["amount_refunded"].as_i64()),
            (Some("partially_refunded"), Some(500)),
            "{inv}"
        );
        let (_, ledger) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/ledger"),
                None,
            )
            .await;
        let entries: Vec<(String, i64)> = ledger
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["amount"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            vec![("payment".to_owned(), 2000), ("refund".to_owned(), 500)]
        );
        let (_, payments) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/payments"),
                None,
            )
            .await;
        assert_eq!(payments[0]["status"], "partially_refunded", "{payments}");
        assert_eq!(payments[0]["invoice_id"], invoice.as_str());
        // Every event is processed once, with its decision visible.
        let (_, events) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/events?status=processed"),
                None,
            )
            .await;
        assert_eq!(events.as_array().unwrap().len(), 2, "{events}");
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["attempts"] == 1)
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_payment_cancels_a_booking_and_an_expired_checkout_releases_another() {
    for db in databases("processing_appointment") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let failed_booking = s.appointment(&tenant, "45.00").await;
        let expired_booking = s.appointment(&tenant, "45.00").await;
        let failed = event(
            PI_FAILED,
            json!({"id": "pi_apt1", "amount": 4500, "currency": "eur"}),
            json!({"appointment_id": failed_booking}),
        );
        let expired = event(
            CHECKOUT_EXPIRED,
            json!({"amount_total": 4500, "currency": "eur"}),
            json!({"appointment_id": expired_booking}),
        );
        assert_eq!(s.deliver(&tenant, &failed).await.0, 200);
        assert_eq!(s.deliver(&tenant, &expired).await.0, 200);
        s.settle(&tenant).await;
        let (_, a) = s
            .api(
                reqwest::Method::GET,
                &format!("/appointments/{failed_booking}"),
                None,
            )
            .await;
        assert_eq!(a["status"], "cancelled", "{a}");
        let (_, b) = s
            .api(
                reqwest::Method::GET,
                &format!("/appointments/{expired_booking}"),
                None,
            )
            .await;
        assert_eq!(b["status"], "expired", "{b}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_no_record_is_ignored_with_the_reason_and_a_missing_invoice_is_reported() {
    for db in databases("processing_missing") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let payout = event(PAYOUT_PAID, json!({}), json!({}));
        let payout_id: Value = serde_json::from_str(&payout).unwrap();
        assert_eq!(s.deliver(&tenant, &payout).await.0, 200);
        let ghost = event(
            PI_SUCCEEDED,
            json!({"currency": "eur"}),
            json!({"invoice_id": "inv_doesnotexist0000"}),
        );
        assert_eq!(s.deliver(&tenant, &ghost).await.0, 200);
        s.settle(&tenant).await;
        let (_, e) = s
            .api(
                reqwest::Method::GET,
                &format!(
                    "/tenants/{tenant}/events/{}",
                    payout_id["id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        assert_eq!(e["status"], "ignored", "{e}");
        assert!(e["reason"].as_str().unwrap().contains("no record"), "{e}");
        // The payment itself is still recorded; the invoice it names is reported missing.
        let ghost_id = serde_json::from_str::<Value>(&ghost).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, e) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/events/{ghost_id}"),
                None,
            )
            .await;
        assert_eq!(e["status"], "processed", "{e}");
        assert!(e["decision"].to_string().contains("not_found"), "{e}");
        // Unknown event ids and tenants are 404s with a message.
        let (status, body) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/events/evt_nope/replay"),
                None,
            )
            .await;
        assert_eq!(status, 404, "{body}");
        s.stop().await;
    }
}

// ---- any order, with duplicates and replays, ends in the same state ----

#[derive(Debug, Clone)]
enum Op {
    Deliver(usize),
    Replay(usize),
    Process,
    /// A batch decided, then changes under it (another batch, a replay of event i), then applied.
    Interleaved(usize),
}

/// One case's records and the events about them (fixed ids and times, so every order sees the
/// same deliveries).
struct Scenario {
    tenant: String,
    invoice: String,
    appointment: String,
    events: Vec<NewDelivery>,
}

fn scenario(conn: &mut DbConn, case: &str) -> Scenario {
    let sealer = payhook_server::seal::Sealer::new(&master_key());
    let input = payhook_server::connection::ConnectionInput {
        name: "Case".into(),
        mode: Mode::Test,
        secret_key: Some(payhook_server::secret::Secret::new(SECRET_KEY)),
        publishable_key: None,
        webhook_secret: Some(payhook_core::secret::WebhookSecret::new(WEBHOOK_SECRET)),
        default_currency: None,
        enabled: true,
    };
    let tenant = payhook_server::tenants::create(conn, &sealer, case, &input, 0)
        .unwrap()
        .id;
    let eur = Currency::parse("eur").unwrap();
    let new = |amount| NewRecord {
        amount: Money {
            minor: amount,
            currency: eur,
        },
        customer: None,
        description: None,
        starts_at: None,
        metadata: Value::Null,
    };
    let invoice = records::create(
        conn,
        RecordKind::Invoice,
        &tenant,
        &new(2000),
        &payhook_core::machine::document::new_invoice(Money {
            minor: 2000,
            currency: eur,
        }),
        0,
    )
    .unwrap()
    .id;
    let appointment = records::create(
        conn,
        RecordKind::Appointment,
        &tenant,
        &new(4500),
        &new_appointment(eur),
        0,
    )
    .unwrap()
    .id;
    let inv = json!({"invoice_id": invoice});
    let apt = json!({"appointment_id": appointment});
    let bodies = [
        (
            "evt_1",
            fixed_event(
                PI_FAILED,
                "evt_1",
                1_000,
                json!({"id": "pi_A", "amount": 2000, "currency": "eur"}),
                inv.clone(),
            ),
        ),
        (
            "evt_2",
            fixed_event(
                PI_SUCCEEDED,
                "evt_2",
                1_100,
                json!({"id": "pi_B", "amount": 2000, "amount_received": 2000, "currency": "eur"}),
                inv.clone(),
            ),
        ),
        (
            "evt_3",
            fixed_event(
                CHARGE_REFUNDED_PARTIAL,
                "evt_3",
                1_200,
                json!({"id": "ch_B", "payment_intent": "pi_B", "amount": 2000, "amount_captured": 2000, "amount_refunded": 500, "currency": "eur"}),
                inv,
            ),
        ),
        (
            "evt_4",
            fixed_event(
                CHECKOUT_EXPIRED,
                "evt_4",
                1_050,
                json!({"id": "cs_C", "amount_total": 4500, "currency": "eur"}),
                apt.clone(),
            ),
        ),
        (
            "evt_5",
            fixed_event(
                PI_SUCCEEDED,
                "evt_5",
                1_000,
                json!({"id": "pi_D", "amount": 4500, "amount_received": 4500, "currency": "eur"}),
                apt.clone(),
            ),
        ),
        (
            "evt_6",
            fixed_event(
                CHARGE_REFUNDED,
                "evt_6",
                1_300,
                json!({"id": "ch_D", "payment_intent": "pi_D", "amount": 4500, "amount_captured": 4500, "amount_refunded": 4500, "currency": "eur"}),
                apt,
            ),
        ),
    ];
    let events = bodies
        .into_iter()
        .map(|(id, body)| {
            let v: Value = serde_json::from_str(&body).unwrap();
            NewDelivery {
                tenant_id: tenant.clone(),
                mode: Mode::Test,
                event_id: id.into(),
                event_type: v["type"].as_str().unwrap().into(),
                livemode: false,
                created: v["created"].as_i64().unwrap(),
                api_version: None,
                body,
            }
        })
        .collect();
    Scenario {
        tenant,
        invoice,
        appointment,
        events,
    }
}

/// Everything the records hold at the end, minus times.
fn outcome(conn: &mut DbConn, s: &Scenario) -> Value {
    let state = |conn: &mut DbConn, kind, id: &str| {
        records::get(conn, kind, id)
            .unwrap()
            .map(|r| (r.status, r.amount_paid, r.amount_refunded, r.state))
    };
    let payments: Vec<Value> = records::list_payments(conn, &s.tenant, None, 100)
        .unwrap()
        .into_iter()
        .map(|p| json!([p.id, p.status, p.captured, p.refunded, p.state]))
        .collect::<Vec<_>>();
    let mut payments = payments;
    payments.sort_by_key(|p| p[0].as_str().unwrap_or_default().to_owned());
    let mut ledger: Vec<Value> = records::ledger(conn, &s.tenant, 100)
        .unwrap()
        .into_iter()
        .map(|e| json!([e.payment_id, e.kind, e.amount, e.total]))
        .collect();
    ledger.sort_by_key(|e| e.to_string());
    json!({
        "invoice": state(conn, RecordKind::Invoice, &s.invoice),
        "appointment": state(conn, RecordKind::Appointment, &s.appointment),
        "payments": payments,
        "ledger": ledger,
    })
}

fn run(conn: &mut DbConn, s: &Scenario, ops: &[Op]) -> Value {
    let metrics = Metrics::new();
    let minute = std::time::Duration::from_secs(60);
    // As the server's processor does: on SQLite, decided without the write lock and applied
    // with compare-and-set; on PostgreSQL, in one locking transaction.
    let process = |conn: &mut DbConn, limit: usize| -> usize {
        if conn.backend() == payhook_server::db::Backend::Sqlite {
            let plan = process::plan_batch(conn, limit).unwrap();
            process::apply_batch(conn, plan, minute, 8, &metrics, &|| false).unwrap()
        } else {
            process::run_batch(conn, limit, minute, 8, &metrics, &|| false).unwrap()
        }
    };
    for op in ops {
        match op {
            Op::Deliver(i) => {
                payhook_server::db::transaction(conn, |tx| {
                    inbox::insert(tx, &s.events[*i % s.events.len()])
                })
                .unwrap();
            }
            Op::Replay(i) => {
                inbox::replay(conn, &s.tenant, &s.events[*i % s.events.len()].event_id).unwrap();
            }
            Op::Process => {
                process(conn, 2);
            }
            Op::Interleaved(i) => {
                // Decided, then the records and events change under the decision (another
                // batch runs, an event is replayed), then applied: what changed is skipped and
                // decided again later, never written over.
                let plan = process::plan_batch(conn, 3).unwrap();
                process::run_batch(conn, 1, minute, 8, &metrics, &|| false).unwrap();
                inbox::replay(conn, &s.tenant, &s.events[*i % s.events.len()].event_id).unwrap();
                process::apply_batch(conn, plan, minute, 8, &metrics, &|| false).unwrap();
            }
        }
    }
    // Whatever the order, every event arrives in the end (Stripe retries until acknowledged).
    for e in &s.events {
        payhook_server::db::transaction(conn, |tx| inbox::insert(tx, e)).unwrap();
    }
    while process(conn, 3) > 0 {}
    let failed = conn.query_opt("SELECT COUNT(*) FROM events WHERE tenant_id = $1 AND status NOT IN ('processed', 'ignored')", &[s.tenant.as_str().into()]).unwrap().unwrap().int(0);
    assert_eq!(failed, 0, "every event is handled");
    outcome(conn, s)
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0usize..6).prop_map(Op::Deliver),
            1 => (0usize..6).prop_map(Op::Replay),
            2 => Just(Op::Process),
            1 => (0usize..6).prop_map(Op::Interleaved),
        ],
        0..24,
    )
}

fn same_state_in_every_order(db: &Database, cases: u32) {
    let mut conn = db.conn().unwrap();
    let reference = {
        let s = scenario(&mut conn, "reference");
        let in_order: Vec<Op> = (0..6).flat_map(|i| [Op::Deliver(i), Op::Process]).collect();
        let out = run(&mut conn, &s, &in_order);
        assert_eq!(out["invoice"][0], "partially_refunded", "{out}");
        assert_eq!(out["appointment"][0], "refunded", "{out}");
        out
    };
    let conn = std::cell::RefCell::new(conn);
    let n = std::cell::Cell::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&ops(), |ops| {
        n.set(n.get() + 1);
        let mut conn = conn.borrow_mut();
        let s = scenario(&mut conn, &format!("case {}", n.get()));
        let out = run(&mut conn, &s, &ops);
        prop_assert_eq!(&out, &reference, "ops {:?}", ops);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn any_order_with_duplicates_and_replays_ends_in_the_same_state_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&payhook_server::db::Location::Sqlite(
        dir.path().join("p.db"),
    ))
    .unwrap();
    same_state_in_every_order(&db, 48);
}

#[test]
fn any_order_with_duplicates_and_replays_ends_in_the_same_state_on_postgres() {
    let Some(pg) = payhook_server::testing::fresh_postgres("processing_proptest") else {
        return;
    };
    let db = Database::open(&pg.location()).unwrap();
    same_state_in_every_order(&db, 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_engine_cannot_read_sends_its_event_to_the_dead_letters_and_a_replay_recovers_it()
 {
    for db in databases("processing_dead_letter") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let invoice = s.invoice(&tenant, "20.00").await;
        s.with_conn(|c| {
            c.execute(
                "UPDATE invoices SET state = $1 WHERE id = $2",
                &["{\"not\": \"a state\"}".into(), invoice.as_str().into()],
            )
            .unwrap()
        });
        let paid = event(
            PI_SUCCEEDED,
            json!({"amount": 2000, "amount_received": 2000, "currency": "eur"}),
            json!({"invoice_id": invoice}),
        );
        let event_id = serde_json::from_str::<Value>(&paid).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(s.deliver(&tenant, &paid).await.0, 200);
        s.settle(&tenant).await;
        let (_, e) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/events/{event_id}"),
                None,
            )
            .await;
        assert_eq!(e["status"], "dead", "{e}");
        assert!(
            e["last_error"]
                .as_str()
                .unwrap()
                .contains(&format!("invoice {invoice}")),
            "{e}"
        );
        // Nothing of the failed event was applied: its savepoint was rolled back.
        assert_eq!(s.count("SELECT COUNT(*) FROM payments", &[]), 0);
        assert_eq!(s.count("SELECT COUNT(*) FROM ledger_entries", &[]), 0);
        let (_, dead) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/events?status=dead"),
                None,
            )
            .await;
        assert_eq!(dead.as_array().unwrap().len(), 1);
        // The operator repairs the record and replays the event.
        let fresh = payhook_core::machine::document::new_invoice(Money {
            minor: 2000,
            currency: Currency::parse("eur").unwrap(),
        });
        s.with_conn(|c| {
            c.execute(
                "UPDATE invoices SET state = $1 WHERE id = $2",
                &[fresh.into(), invoice.as_str().into()],
            )
            .unwrap()
        });
        let (status, _) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/events/{event_id}/replay"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        s.settle(&tenant).await;
        let (_, e) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/events/{event_id}"),
                None,
            )
            .await;
        assert_eq!(
            (e["status"].as_str(), e["attempts"].as_i64()),
            (Some("processed"), Some(1)),
            "{e}"
        );
        let (_, inv) = s
            .api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
            .await;
        assert_eq!(inv["status"], "paid", "{inv}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_events_keep_the_subscription_record() {
    for db in databases("processing_subscription") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let created = event(
            SUBSCRIPTION_CREATED,
            json!({"id": "sub_1", "status": "active"}),
            json!({}),
        );
        let deleted = event(SUBSCRIPTION_DELETED, json!({"id": "sub_1"}), json!({}));
        assert_eq!(s.deliver(&tenant, &created).await.0, 200);
        assert_eq!(s.deliver(&tenant, &deleted).await.0, 200);
        s.settle(&tenant).await;
        let (_, subs) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/subscriptions"),
                None,
            )
            .await;
        assert_eq!(subs[0]["id"], "sub_1", "{subs}");
        assert_eq!(subs[0]["status"], "canceled", "{subs}");
        s.stop().await;
    }
}

#[test]
fn one_insert_with_the_same_event_twice_stores_it_once_and_says_which_was_new() {
    for db in databases("insert_many") {
        let database = Database::open(&db.location).unwrap();
        let mut conn = database.conn().unwrap();
        let s = scenario(&mut conn, "batch");
        let (a, b) = (&s.events[0], &s.events[1]);
        let stored =
            payhook_server::db::transaction(&mut conn, |tx| inbox::insert_many(tx, &[a, b, a]))
                .unwrap();
        assert_eq!(
            stored,
            vec![
                inbox::Stored::New,
                inbox::Stored::New,
                inbox::Stored::Duplicate
            ]
        );
        let again =
            payhook_server::db::transaction(&mut conn, |tx| inbox::insert_many(tx, &[b])).unwrap();
        assert_eq!(again, vec![inbox::Stored::Duplicate]);
        let n = conn
            .query_opt(
                "SELECT COUNT(*) FROM events WHERE tenant_id = $1",
                &[s.tenant.as_str().into()],
            )
            .unwrap()
            .unwrap()
            .int(0);
        assert_eq!(n, 2);
    }
}

#[test]
fn a_decision_whose_record_changed_before_it_was_written_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&Location::Sqlite(dir.path().join("cas.db"))).unwrap();
    let mut conn = db.conn().unwrap();
    let s = scenario(&mut conn, "cas");
    let metrics = Metrics::new();
    let minute = std::time::Duration::from_secs(60);
    // evt_2: pi_B succeeded for the invoice.
    payhook_server::db::transaction(&mut conn, |tx| inbox::insert(tx, &s.events[1])).unwrap();
    let plan = process::plan_batch(&mut conn, 10).unwrap();
    assert_eq!(plan.len(), 1);
    // Someone else writes the invoice between the decision and its write (here: the same
    // state, re-serialized, so only the compare can tell).
    conn.execute(
        "UPDATE invoices SET state = state || ' ' WHERE id = $1",
        &[s.invoice.as_str().into()],
    )
    .unwrap();
    process::apply_batch(&mut conn, plan, minute, 8, &metrics, &|| false).unwrap();
    let status = |conn: &mut DbConn| {
        conn.query_opt(
            "SELECT e.status, i.status FROM events e, invoices i WHERE e.event_id = 'evt_2' AND e.tenant_id = $1 AND i.id = $2",
            &[s.tenant.as_str().into(), s.invoice.as_str().into()],
        )
        .unwrap()
        .map(|r| (r.text(0), r.text(1)))
        .unwrap()
    };
    assert_eq!(
        status(&mut conn),
        ("received".to_owned(), "open".to_owned()),
        "nothing of the stale decision was written"
    );
    assert_eq!(
        conn.query_opt("SELECT COUNT(*) FROM payments", &[])
            .unwrap()
            .unwrap()
            .int(0),
        0,
        "not even the payment, decided in the same event"
    );
    // Decided again on the state as it is now, and written.
    let plan = process::plan_batch(&mut conn, 10).unwrap();
    process::apply_batch(&mut conn, plan, minute, 8, &metrics, &|| false).unwrap();
    assert_eq!(
        status(&mut conn),
        ("processed".to_owned(), "paid".to_owned())
    );
}
