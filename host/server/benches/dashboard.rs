//! The dashboard's queries on a SQLite file the size the issue names: one tenant (of four) with
//! 100,000 events and 50,000 payments, 30,000 invoices, the ledger of its payments over 180
//! days, 5,000 subscriptions and 1,000 payouts of 40 balance transactions each. Each page and
//! report is read as the dashboard reads it; none may grow with the tenant's history.
//! Run: `cargo bench -p payhook-server --bench dashboard`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use payhook_server::connection::Mode;
use payhook_server::db::{Backend, Conn, Database, DbConn, Location, Value};
use payhook_server::inbox::{self, EventFilter, NewDelivery};
use payhook_server::records::{
    self, LedgerEntry, PageCursor, PaymentFilter, PaymentGroup, RecordKind,
};
use payhook_server::reports;

const TENANT: &str = "ten_dashboard";
const OTHERS: [&str; 3] = ["ten_other1", "ten_other2", "ten_other3"];
/// 2026-01-01 00:00:00 UTC; everything happens in the 180 days before.
const NOW: i64 = 1_767_225_600;
const DAY: i64 = 86_400;
const EVENTS: usize = 100_000;
const PAYMENTS: i64 = 50_000;
const INVOICES: i64 = 30_000;
const PAYOUTS: i64 = 1_000;
const PER_PAYOUT: i64 = 40;

const EVENT_TYPES: [&str; 8] = [
    "payment_intent.succeeded",
    "payment_intent.created",
    "charge.succeeded",
    "charge.updated",
    "charge.refunded",
    "invoice.paid",
    "customer.subscription.updated",
    "payout.paid",
];
const STATUSES: [&str; 20] = [
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "succeeded",
    "partially_refunded",
    "refunded",
    "created",
    "processing",
    "failed",
    "canceled",
];

fn begin(c: &mut DbConn) {
    c.batch("BEGIN IMMEDIATE").unwrap();
}

fn commit(c: &mut DbConn) {
    c.batch("COMMIT").unwrap();
}

fn events(c: &mut DbConn, tenant: &str, n: usize) {
    let all: Vec<NewDelivery> = (0..n)
        .map(|i| NewDelivery {
            tenant_id: tenant.into(),
            mode: Mode::Test,
            event_id: format!("evt_{tenant}_{i:06}"),
            event_type: EVENT_TYPES[i % EVENT_TYPES.len()].into(),
            livemode: false,
            created: NOW - 180 * DAY + i as i64 * 150,
            api_version: Some("2025-09-30.clover".into()),
            body: format!(r#"{{"id":"evt_{tenant}_{i:06}","object":"event","data":{{"object":{{"id":"pi_{i}"}}}}}}"#),
        })
        .collect();
    begin(c);
    for chunk in all.chunks(5_000) {
        inbox::insert_many(c, &chunk.iter().collect::<Vec<_>>()).unwrap();
    }
    commit(c);
}

/// Payments, most with an invoice, their ledger entries, and the invoices.
fn payments(c: &mut DbConn, tenant: &str, n: i64, invoices: i64) {
    begin(c);
    for i in 0..invoices {
        let status = match i % 50 {
            0 => "draft",
            1..=5 => "open",
            _ => "paid",
        };
        let paid = if status == "paid" { 2000 } else { 0 };
        c.execute(
            "INSERT INTO invoices (id, tenant_id, amount, currency, metadata, state, status, amount_paid, amount_refunded, created_at, updated_at) \
             VALUES ($1, $2, 2000, 'eur', '{}', '{}', $3, $4, 0, $5, $5)",
            &[
                format!("inv_{tenant}_{i:06}").into(),
                tenant.into(),
                status.into(),
                paid.into(),
                (NOW - 180 * DAY + i * 500).into(),
            ],
        )
        .unwrap();
    }
    for i in 0..n {
        let status = STATUSES[i as usize % STATUSES.len()];
        let collected = matches!(status, "succeeded" | "partially_refunded" | "refunded");
        let captured = if collected { 2000 } else { 0 };
        let refunded = match status {
            "refunded" => 2000,
            "partially_refunded" => 500,
            _ => 0,
        };
        // Most payments pay an invoice (a few of which disagree), some an appointment, a few
        // nothing.
        let (invoice, appointment) = match i % 10 {
            0..=5 if i < invoices => (Some(format!("inv_{tenant}_{i:06}")), None),
            6..=8 => (None, Some(format!("apt_{tenant}_{i:06}"))),
            _ => (None, None),
        };
        let captured = if invoice.is_some() && i % 997 == 0 {
            1500
        } else {
            captured
        };
        // Ten payments change in the same second: pages fall inside ties.
        let updated = NOW - 180 * DAY + (i / 10) * 3100;
        let id = format!("pi_{tenant}_{i:06}");
        c.execute(
            "INSERT INTO payments (tenant_id, id, currency, state, status, captured, refunded, dispute_status, invoice_id, appointment_id, created_at, updated_at) \
             VALUES ($1, $2, 'eur', '{}', $3, $4, $5, $6, $7, $8, $9, $9)",
            &[
                tenant.into(),
                id.as_str().into(),
                status.into(),
                captured.into(),
                refunded.into(),
                (i % 211 == 0).then_some("needs_response").into(),
                invoice.clone().into(),
                appointment.into(),
                updated.into(),
            ],
        )
        .unwrap();
        let mut book = |kind: &str, amount: i64| {
            let entry = LedgerEntry {
                payment_id: id.clone(),
                kind: kind.into(),
                amount,
                currency: if i % 7 == 0 { "usd" } else { "eur" }.into(),
                total: amount,
                event_id: format!("evt_{id}_{kind}"),
                invoice_id: invoice.clone(),
                created_at: updated,
            };
            records::book(c, tenant, &entry).unwrap();
        };
        if collected {
            book("payment", captured);
        }
        if refunded > 0 {
            book("refund", refunded);
        }
    }
    for i in 0..n / 10 {
        c.execute(
            "INSERT INTO subscriptions (tenant_id, id, state, status, cancel_at_period_end, created_at, updated_at) \
             VALUES ($1, $2, '{}', $3, 0, $4, $4)",
            &[
                tenant.into(),
                format!("sub_{tenant}_{i:06}").into(),
                if i % 20 == 0 { "past_due" } else { "active" }.into(),
                (NOW - 180 * DAY + i * 3000).into(),
            ],
        )
        .unwrap();
    }
    commit(c);
}

fn object(
    c: &mut DbConn,
    tenant: &str,
    kind: &str,
    id: &str,
    created: i64,
    amount: i64,
    data: String,
) {
    c.execute(
        "INSERT INTO stripe_objects (tenant_id, mode, kind, id, created, status, amount, currency, data, imported_at, updated_at) \
         VALUES ($1, 'test', $2, $3, $4, 'paid', $5, 'eur', $6, $4, $4)",
        &[tenant.into(), kind.into(), id.into(), created.into(), amount.into(), data.into()],
    )
    .unwrap();
}

fn payouts(c: &mut DbConn, tenant: &str, n: i64) {
    begin(c);
    for p in 0..n {
        let created = NOW - 180 * DAY + p * 15_000;
        let po = format!("po_{tenant}_{p:05}");
        let data = format!(
            r#"{{"id":"{po}","object":"payout","amount":{},"currency":"eur","status":"paid","automatic":{},"created":{created},"arrival_date":{}}}"#,
            PER_PAYOUT * 1900,
            p % 10 != 0,
            created + 2 * DAY
        );
        object(c, tenant, "payout", &po, created, PER_PAYOUT * 1900, data);
        let linked = p % 10 != 0;
        c.execute(
            "INSERT INTO payout_links (tenant_id, mode, payout_id, status, updated_at) VALUES ($1, 'test', $2, $3, 0)",
            &[tenant.into(), po.as_str().into(), if linked { "linked" } else { "manual" }.into()],
        )
        .unwrap();
        if !linked {
            continue;
        }
        for t in 0..PER_PAYOUT {
            let txn = format!("txn_{tenant}_{p:05}_{t:02}");
            let data = format!(
                r#"{{"id":"{txn}","object":"balance_transaction","type":"charge","amount":2000,"fee":100,"net":1900,"currency":"eur","source":"ch_{p}_{t}","status":"available","created":{}}}"#,
                created - t * 60
            );
            object(
                c,
                tenant,
                "balance_transaction",
                &txn,
                created - t * 60,
                2000,
                data,
            );
            c.execute(
                "INSERT INTO payout_transactions (tenant_id, mode, payout_id, transaction_id) VALUES ($1, 'test', $2, $3)",
                &[tenant.into(), po.as_str().into(), txn.into()],
            )
            .unwrap();
        }
    }
    commit(c);
}

/// The database, seeded once per run in a temporary directory.
fn seed() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&Location::Sqlite(dir.path().join("dashboard.db"))).unwrap();
    let c = &mut db.conn().unwrap();
    assert_eq!(c.backend(), Backend::Sqlite);
    let started = Instant::now();
    for t in std::iter::once(TENANT).chain(OTHERS) {
        c.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, 0)",
            &[t.into()],
        )
        .unwrap();
    }
    events(c, TENANT, EVENTS);
    payments(c, TENANT, PAYMENTS, INVOICES);
    payouts(c, TENANT, PAYOUTS);
    for t in OTHERS {
        events(c, t, EVENTS / 10);
        payments(c, t, PAYMENTS / 10, INVOICES / 10);
        payouts(c, t, PAYOUTS / 10);
    }
    // A rare status: one event in a thousand is dead.
    c.execute(
        "UPDATE events SET status = CASE WHEN seq % 1000 = 0 THEN 'dead' ELSE 'processed' END",
        &[],
    )
    .unwrap();
    c.batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    let size = std::fs::metadata(dir.path().join("dashboard.db")).map_or(0, |m| m.len());
    eprintln!(
        "seeded {} MB in {:.1} s",
        size / 1_000_000,
        started.elapsed().as_secs_f64()
    );
    (dir, db)
}

fn dashboard(c: &mut Criterion) {
    let (_dir, db) = seed();
    let conn = &mut db.conn().unwrap();
    let count =
        |conn: &mut DbConn, sql: &str, p: &[Value]| conn.query_opt(sql, p).unwrap().unwrap().int(0);
    let tenant_events = count(
        conn,
        "SELECT COUNT(*) FROM events WHERE tenant_id = $1",
        &[TENANT.into()],
    );
    let tenant_payments = count(
        conn,
        "SELECT COUNT(*) FROM payments WHERE tenant_id = $1",
        &[TENANT.into()],
    );
    assert_eq!((tenant_events, tenant_payments), (EVENTS as i64, PAYMENTS));
    let middle_seq = count(
        conn,
        "SELECT seq FROM events WHERE tenant_id = $1 ORDER BY seq LIMIT 1 OFFSET 50000",
        &[TENANT.into()],
    );
    let middle = {
        let r = conn
            .query_opt(
                "SELECT updated_at, id FROM payments WHERE tenant_id = $1 ORDER BY updated_at, id LIMIT 1 OFFSET 25000",
                &[TENANT.into()],
            )
            .unwrap()
            .unwrap();
        PageCursor {
            at: r.int(0),
            id: r.text(1),
        }
    };

    let mut g = c.benchmark_group("dashboard");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let events = |filter: EventFilter| {
        move |conn: &mut DbConn| {
            let page = inbox::list(conn, TENANT, &filter).unwrap();
            assert!(!page.is_empty());
            page
        }
    };
    let mut bench = |name: &str, mut f: Box<dyn FnMut(&mut DbConn) -> usize + '_>| {
        g.bench_function(name, |b| b.iter(|| black_box(f(conn))));
    };
    let first = events(EventFilter {
        limit: 50,
        ..EventFilter::default()
    });
    bench("events/first page", Box::new(move |c| first(c).len()));
    let dead = events(EventFilter {
        status: Some("dead".into()),
        limit: 50,
        ..EventFilter::default()
    });
    bench(
        "events/rare status (1 in 1000)",
        Box::new(move |c| dead(c).len()),
    );
    let kind = events(EventFilter {
        event_type: Some("charge.refunded".into()),
        limit: 50,
        ..EventFilter::default()
    });
    bench("events/by type", Box::new(move |c| kind(c).len()));
    let deep = events(EventFilter {
        before: Some(middle_seq),
        limit: 50,
        ..EventFilter::default()
    });
    bench(
        "events/deep page (middle)",
        Box::new(move |c| deep(c).len()),
    );
    for group in std::iter::once(None).chain(PaymentGroup::ALL.map(Some)) {
        let name = format!("payments/{}", group.map_or("all", PaymentGroup::name));
        let filter = PaymentFilter {
            group,
            before: None,
            limit: 50,
        };
        bench(
            &name,
            Box::new(move |c| {
                let page = records::list_payments_page(c, TENANT, &filter).unwrap();
                assert!(!page.is_empty());
                page.len()
            }),
        );
    }
    let filter = PaymentFilter {
        group: None,
        before: Some(middle.clone()),
        limit: 50,
    };
    bench(
        "payments/deep page (middle)",
        Box::new(move |c| {
            records::list_payments_page(c, TENANT, &filter)
                .unwrap()
                .len()
        }),
    );
    bench(
        "subscriptions/first page",
        Box::new(|c| {
            records::list_subscriptions_page(c, TENANT, None, None, 50)
                .unwrap()
                .len()
        }),
    );
    bench(
        "invoices/open, first page",
        Box::new(|c| {
            records::list_page(c, RecordKind::Invoice, TENANT, Some("open"), None, 50)
                .unwrap()
                .len()
        }),
    );
    bench(
        "revenue per day/90 days",
        Box::new(|c| {
            let days = reports::revenue_per_day(c, TENANT, NOW - 90 * DAY, NOW).unwrap();
            assert!(days.len() >= 90);
            days.len()
        }),
    );
    bench(
        "reconciliation/50 per section",
        Box::new(|c| {
            let r = reports::reconciliation(c, TENANT, 50).unwrap();
            assert!(!r.payments_without_invoice.is_empty() && !r.amounts_differ.is_empty());
            r.invoices_without_payment.len()
                + r.payments_without_invoice.len()
                + r.amounts_differ.len()
        }),
    );
    bench(
        "payouts/page of 50 with transactions",
        Box::new(|c| {
            let p = reports::payouts(c, TENANT, None, 50).unwrap();
            assert!(
                p.iter().map(|p| p.transactions.len()).sum::<usize>() >= 45 * PER_PAYOUT as usize
            );
            p.len()
        }),
    );
    bench(
        "payouts/csv of a page of 50",
        Box::new(|c| reports::payouts_csv(&reports::payouts(c, TENANT, None, 50).unwrap()).len()),
    );
    g.finish();
    pages(c, &db, middle_seq, &middle);
}

/// The same pages as a browser gets them: through the router, with the login check, the query
/// on a blocking thread and the HTML rendered.
fn pages(c: &mut Criterion, db: &Database, middle_seq: i64, middle: &PageCursor) {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    const TOKEN: &str = "dashboard-bench-admin-token-0123";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let metrics = payhook_server::metrics::Metrics::new();
    let (writer, _thread) = payhook_server::inbox::Writer::start(
        db.clone(),
        payhook_server::inbox::WriterConfig {
            process: false,
            ..Default::default()
        },
        metrics.clone(),
    );
    let state = payhook_server::http::AppState::new(
        db.clone(),
        payhook_server::seal::Sealer::new(&payhook_server::seal::MasterKey::from_bytes([7; 32])),
        writer,
        metrics,
        payhook_server::admin_token::AdminToken::new(TOKEN),
        "http://127.0.0.1:8080",
        payhook_server::stripe::StripeClient::new("http://127.0.0.1:9"),
    );
    let app = payhook_server::http::app(state);
    let send = |request: Request<Body>| {
        let app = app.clone();
        rt.block_on(async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, headers, body)
        })
    };
    // Log in as a browser does.
    let (_, headers, body) = send(Request::get("/login").body(Body::empty()).unwrap());
    let login_cookie = headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = String::from_utf8_lossy(&body);
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = html[at..].split('"').next().unwrap().to_owned();
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("token", TOKEN), ("csrf", csrf.as_str())])
        .finish();
    let (status, headers, _) = send(
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &login_cookie)
            .body(Body::from(form))
            .unwrap(),
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("payhook_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let mut g = c.benchmark_group("pages");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let paths = [
        ("events", format!("/t/{TENANT}/events")),
        (
            "events by a rare status",
            format!("/t/{TENANT}/events?status=dead"),
        ),
        (
            "events from the middle",
            format!("/t/{TENANT}/events?before={middle_seq}"),
        ),
        (
            "an event",
            format!("/t/{TENANT}/events/evt_{TENANT}_{:06}", EVENTS / 2),
        ),
        ("payments", format!("/t/{TENANT}/payments")),
        (
            "payments disputed",
            format!("/t/{TENANT}/payments?status=disputed"),
        ),
        (
            "payments from the middle",
            format!("/t/{TENANT}/payments?before={middle}"),
        ),
        ("invoices", format!("/t/{TENANT}/invoices")),
        (
            "subscriptions",
            format!("/t/{TENANT}/subscriptions?status=past_due"),
        ),
        (
            "revenue, 90 days",
            format!("/t/{TENANT}/reports?days=90&end=2026-01-01"),
        ),
        ("payouts", format!("/t/{TENANT}/reports/payouts")),
        (
            "reconciliation",
            format!("/t/{TENANT}/reports/reconciliation"),
        ),
        (
            "reconciliation.csv",
            format!("/t/{TENANT}/reports/reconciliation.csv"),
        ),
    ];
    for (name, path) in paths {
        let request = || {
            Request::get(path.as_str())
                .header(header::COOKIE, &session)
                .body(Body::empty())
                .unwrap()
        };
        let (status, _, body) = send(request());
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        if name.starts_with("revenue") {
            let html = String::from_utf8_lossy(&body);
            assert!(
                html.contains("class=\"chart\""),
                "the report has data to chart"
            );
        }
        g.bench_function(name, |b| b.iter(|| black_box(send(request()).2.len())));
    }
    g.finish();
}

criterion_group!(benches, dashboard);
criterion_main!(benches);
