//! History import and reconcile against localstripe (started by the test on a loopback port):
//! payouts, charges, refunds and events are imported; import and reconcile running while
//! localstripe delivers the webhooks of the same events store and process each event once; an
//! interrupted import goes on where it stopped; reconcile after downtime stores exactly what is
//! missing and the worker applies it. The refusals (unknown tenant, no, disabled or
//! disconnected connection, Stripe errors) and the linking of payouts to the balance
//! transactions they paid out (localstripe has only manual payouts) run against a scripted
//! Stripe and need nothing.
//!
//! The localstripe tests need `PAYHOOK_LOCALSTRIPE_PYTHON` (see `localstripe.rs`); without it
//! they skip with a notice, except under `CI=true`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use payhook_core::stripe::ListKind;
use payhook_server::connection::Mode;
use payhook_server::ids::now_secs;
use payhook_server::import::{
    self, ImportError, ImportOptions, ImportReport, NoProgress, ReconcileOptions, Source, Start,
};
use payhook_server::inbox::WriterConfig;
use payhook_server::stripe::{StripeClient, StripeError};
use payhook_server::tenants;
use payhook_server::testing::LocalStripe;
use serde_json::{Value, json};

/// A paid payout (localstripe takes `status` on creation).
async fn payout(ls: &LocalStripe, client: &reqwest::Client, amount: &str) -> String {
    let p = ls
        .post(
            client,
            "/v1/payouts",
            &[("amount", amount), ("currency", "eur"), ("status", "paid")],
        )
        .await;
    p["id"].as_str().unwrap().to_owned()
}

/// Every event id localstripe lists.
async fn event_ids(ls: &LocalStripe, client: &reqwest::Client) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = "/v1/events?limit=100".to_owned();
        if let Some(a) = &after {
            path.push_str(&format!("&starting_after={a}"));
        }
        let page = ls.get(client, &path).await;
        let data = page["data"].as_array().unwrap();
        ids.extend(data.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        match (page["has_more"].as_bool(), data.last()) {
            (Some(true), Some(last)) => after = Some(last["id"].as_str().unwrap().to_owned()),
            _ => return ids,
        }
    }
}

fn source(s: &TestServer, tenant: &str, mode: Option<Mode>) -> Result<Source, ImportError> {
    s.with_conn(|c| Source::open(c, &s.sealer, tenant, mode))
}

fn counts(report: &ImportReport) -> BTreeMap<&'static str, (Start, u64, u64, bool)> {
    report
        .lists
        .iter()
        .map(|l| {
            (
                import::list_name(l.list),
                (l.start, l.counts.new, l.counts.present, l.complete),
            )
        })
        .collect()
}

/// The tenant's inbox: event id → (status, attempts), and how many rows.
fn inbox(s: &TestServer, tenant: &str) -> (BTreeMap<String, (String, i64)>, i64) {
    let rows = s.with_conn(|c| {
        use payhook_server::db::Conn;
        c.query(
            "SELECT event_id, status, attempts FROM events WHERE tenant_id = $1",
            &[tenant.into()],
        )
        .unwrap()
    });
    let n = rows.len() as i64;
    (
        rows.iter()
            .map(|r| (r.text(0), (r.text(1), r.int(2))))
            .collect(),
        n,
    )
}

/// Pays an invoice of 20.00 with a PaymentIntent confirmed in localstripe; returns its id.
async fn pay_invoice(s: &TestServer, tenant: &str) -> String {
    let invoice = s.invoice(tenant, "20.00").await;
    let (status, pi) = s
        .api(
            reqwest::Method::POST,
            &format!("/invoices/{invoice}/payment-intents"),
            Some(json!({"payment_method": "pm_card_visa", "confirm": true})),
        )
        .await;
    assert_eq!(
        (status, pi["status"].as_str()),
        (200, Some("succeeded")),
        "{pi}"
    );
    invoice
}

async fn wait_paid(s: &TestServer, invoice: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = s
            .api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
            .await;
        if v["status"] == "paid" {
            return v;
        }
        assert!(Instant::now() < deadline, "{invoice} is not paid: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn since() -> i64 {
    now_secs() - 24 * 3600
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_charges_refunds_and_events_are_imported_and_the_events_processed() {
    for db in databases("import_history") {
        let Some(ls) = LocalStripe::start() else {
            return;
        };
        let s = TestServer::start_full(&db.location, WriterConfig::default(), &ls.base).await;
        let tenant = s.tenant();
        // No webhooks: everything reaches payhook through the import.
        let mut payouts = BTreeSet::new();
        for amount in ["1000", "2500", "4000"] {
            payouts.insert(payout(&ls, &s.client, amount).await);
        }
        let invoice = pay_invoice(&s, &tenant).await;
        let (_, inv) = s
            .api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
            .await;
        assert_eq!(inv["status"], "open", "no webhook yet: {inv}");
        let (_, list) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/payments"),
                None,
            )
            .await;
        assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
        let stripe = StripeClient::new(&ls.base);
        let src = source(&s, &tenant, None).unwrap();
        let report = import::import(
            &s.db,
            &stripe,
            &src,
            &ImportOptions::since(since()),
            &NoProgress,
        )
        .await
        .unwrap();
        assert!(report.complete, "{report:?}");
        let listed = event_ids(&ls, &s.client).await;
        let c = counts(&report);
        assert_eq!(c["payouts"], (Start::Fresh, 3, 0, true), "{report:?}");
        assert_eq!(c["charges"], (Start::Fresh, 1, 0, true), "{report:?}");
        // localstripe's payouts are manual: Stripe keeps no list of what they paid out, so
        // none is asked for, and the report says their transactions are not known.
        assert_eq!(
            report.payout_links,
            Some(import::PayoutLinks {
                manual: 3,
                ..Default::default()
            })
        );
        let shown =
            s.with_conn(|c| payhook_server::reports::payouts(c, &tenant, None, 10).unwrap());
        assert_eq!(
            shown.iter().map(|p| p.id.clone()).collect::<BTreeSet<_>>(),
            payouts
        );
        assert!(
            shown
                .iter()
                .all(|p| !p.transactions_known && p.transactions.is_empty())
        );
        assert_eq!(
            c["events"],
            (Start::Fresh, listed.len() as u64, 0, true),
            "{report:?}"
        );
        // The imported payouts, as stored and through the API.
        let stored = s
            .with_conn(|c| import::list_objects(c, &tenant, ListKind::Payouts, None, 100).unwrap());
        assert_eq!(
            stored.iter().map(|p| p.id.clone()).collect::<BTreeSet<_>>(),
            payouts
        );
        assert!(stored.iter().all(|p| p.status.as_deref() == Some("paid")
            && p.currency.as_deref() == Some("eur")
            && p.data["object"] == "payout"));
        let (status, api) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/payouts?status=paid"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{api}");
        let mut amounts: Vec<i64> = api
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["amount"].as_i64().unwrap())
            .collect();
        amounts.sort();
        assert_eq!(amounts, [1000, 2500, 4000], "{api}");
        // The imported payment_intent.succeeded pays the invoice, once.
        let paid = wait_paid(&s, &invoice).await;
        assert_eq!(paid["amount_paid"], 2000, "{paid}");
        s.settle(&tenant).await;
        let (rows, n) = inbox(&s, &tenant);
        assert_eq!(n as usize, listed.len());
        assert_eq!(rows.keys().cloned().collect::<BTreeSet<_>>(), listed);
        assert!(
            rows.values()
                .all(|(st, a)| (st == "processed" || st == "ignored") && *a == 1),
            "{rows:?}"
        );

        // A refund after the import; the next run asks only for what is new since the last.
        let pi = s.with_conn(|c| {
            use payhook_server::db::Conn;
            c.query_opt(
                "SELECT id FROM payments WHERE tenant_id = $1",
                &[tenant.as_str().into()],
            )
            .unwrap()
            .unwrap()
            .text(0)
        });
        let (status, r) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/payments/{pi}/refunds"),
                Some(json!({"amount": "5.00"})),
            )
            .await;
        assert_eq!(status, 200, "{r}");
        let again = import::import(
            &s.db,
            &stripe,
            &src,
            &ImportOptions::since(since()),
            &NoProgress,
        )
        .await
        .unwrap();
        let c = counts(&again);
        assert!(
            again.lists.iter().all(|l| l.start == Start::Incremental),
            "{again:?}"
        );
        assert_eq!(c["payouts"], (Start::Incremental, 0, 3, true), "{again:?}");
        assert_eq!(c["refunds"], (Start::Incremental, 1, 0, true), "{again:?}");
        let listed = event_ids(&ls, &s.client).await;
        let (rows, n) = inbox(&s, &tenant);
        assert_eq!(n as usize, listed.len(), "{again:?}");
        assert_eq!(rows.keys().cloned().collect::<BTreeSet<_>>(), listed);
        let refunds = s
            .with_conn(|c| import::list_objects(c, &tenant, ListKind::Refunds, None, 100).unwrap());
        assert_eq!(
            refunds
                .iter()
                .map(|r| (r.amount, r.data["payment_intent"].as_str()))
                .collect::<Vec<_>>(),
            [(Some(500), Some(pi.as_str()))]
        );
        s.settle(&tenant).await;
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_reconcile_while_webhooks_arrive_store_and_process_each_event_once() {
    for db in databases("import_concurrent") {
        let Some(ls) = LocalStripe::start() else {
            return;
        };
        let s = TestServer::start_full(&db.location, WriterConfig::default(), &ls.base).await;
        let tenant = s.tenant();
        ls.send_webhooks_to(
            &s.client,
            &format!("{}/webhooks/stripe/{tenant}/test", s.base),
            WEBHOOK_SECRET,
        )
        .await;
        let stripe = StripeClient::new(&ls.base);
        let src = source(&s, &tenant, Some(Mode::Test)).unwrap();
        let options = ImportOptions {
            page_size: 3,
            ..ImportOptions::since(since())
        };
        let reconcile = ReconcileOptions {
            since: Some(since()),
            page_size: 3,
        };
        // Payments and payouts happen while imports and reconciles run; localstripe delivers
        // each event's webhook about a second after it happens, so both paths race.
        let payments = async {
            let mut invoices = Vec::new();
            for i in 0..4 {
                invoices.push(pay_invoice(&s, &tenant).await);
                payout(&ls, &s.client, &format!("{}", 1000 + i)).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            invoices
        };
        let syncing = async {
            // Events stored by import and reconcile (the webhook stored the others).
            let mut inserted = 0;
            for round in 0..8 {
                let r = import::import(&s.db, &stripe, &src, &options, &NoProgress)
                    .await
                    .unwrap();
                assert!(r.complete, "{r:?}");
                inserted += r.lists[0].counts.new as usize;
                let r = import::reconcile(&s.db, &stripe, &src, &reconcile, &NoProgress)
                    .await
                    .unwrap();
                inserted += r.inserted.len();
                if round % 2 == 0 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            inserted
        };
        let (invoices, mut imported) = tokio::join!(payments, syncing);
        // The last webhooks and a last import after them.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let r = import::import(&s.db, &stripe, &src, &options, &NoProgress)
            .await
            .unwrap();
        imported += r.lists[0].counts.new as usize;
        for invoice in &invoices {
            let paid = wait_paid(&s, invoice).await;
            assert_eq!(paid["amount_paid"], 2000, "{paid}");
        }
        s.settle(&tenant).await;
        let listed = event_ids(&ls, &s.client).await;
        let (rows, n) = inbox(&s, &tenant);
        assert_eq!(n as usize, listed.len(), "one row per event");
        // Each event was stored by exactly one path, and the paths did race: webhooks came for
        // events an import had stored already.
        let webhooks = |outcome: &str| -> usize {
            s.metrics
                .render()
                .lines()
                .find(|l| {
                    l.contains("webhook_deliveries")
                        && l.contains(&format!("outcome=\"{outcome}\""))
                })
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .unwrap_or(0)
        };
        assert_eq!(webhooks("stored") + imported, listed.len());
        assert_eq!(webhooks("failed"), 0);
        assert!(
            imported > 0 && webhooks("duplicate") > 0,
            "{}",
            s.metrics.render()
        );
        assert_eq!(rows.keys().cloned().collect::<BTreeSet<_>>(), listed);
        assert!(
            rows.values()
                .all(|(st, a)| (st == "processed" || st == "ignored") && *a == 1),
            "each event processed once: {rows:?}"
        );
        let (_, ledger) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/ledger"),
                None,
            )
            .await;
        assert_eq!(ledger.as_array().map(Vec::len), Some(4), "{ledger}");
        let payouts = s
            .with_conn(|c| import::list_objects(c, &tenant, ListKind::Payouts, None, 100).unwrap());
        assert_eq!(payouts.len(), 4);
        // A final reconcile finds nothing missing.
        let r = import::reconcile(&s.db, &stripe, &src, &reconcile, &NoProgress)
            .await
            .unwrap();
        assert_eq!(
            (r.listed as usize, r.missing.len()),
            (listed.len(), 0),
            "{r:?}"
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_import_goes_on_where_it_stopped() {
    for db in databases("import_resume") {
        let Some(ls) = LocalStripe::start() else {
            return;
        };
        let s = TestServer::start_full(&db.location, WriterConfig::default(), &ls.base).await;
        let tenant = s.tenant();
        for i in 0..5 {
            payout(&ls, &s.client, &format!("{}", 100 * (i + 1))).await;
        }
        let stripe = StripeClient::new(&ls.base);
        let src = source(&s, &tenant, None).unwrap();
        let first = ImportOptions {
            lists: vec![ListKind::Payouts, ListKind::Events],
            page_size: 2,
            max_pages: Some(1),
            ..ImportOptions::since(since())
        };
        // Stopped after one page of each list.
        let r = import::import(&s.db, &stripe, &src, &first, &NoProgress)
            .await
            .unwrap();
        assert!(!r.complete);
        let c = counts(&r);
        assert_eq!(c["payouts"], (Start::Fresh, 2, 0, false), "{r:?}");
        assert_eq!(c["events"], (Start::Fresh, 2, 0, false), "{r:?}");
        // An error part-way (Stripe unreachable) leaves the cursor where it was.
        let down = StripeClient::new("http://127.0.0.1:9").with_max_retries(0);
        let e = import::import(&s.db, &down, &src, &first, &NoProgress)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &e,
                ImportError::Stripe { list: "payouts", source }
                    if matches!(**source, StripeError::Unreachable { .. })
            ),
            "{e:?}"
        );
        // The next run goes on from the cursor: no object twice, none missed.
        let rest = ImportOptions {
            max_pages: None,
            ..first.clone()
        };
        let r = import::import(&s.db, &stripe, &src, &rest, &NoProgress)
            .await
            .unwrap();
        let listed = event_ids(&ls, &s.client).await;
        assert_eq!(listed.len(), 10, "a created and a paid event per payout");
        let c = counts(&r);
        assert_eq!(c["payouts"], (Start::Resumed, 3, 0, true), "{r:?}");
        assert_eq!(c["events"], (Start::Resumed, 8, 0, true), "{r:?}");
        let stored = s
            .with_conn(|c| import::list_objects(c, &tenant, ListKind::Payouts, None, 100).unwrap());
        assert_eq!(stored.len(), 5);
        let (rows, n) = inbox(&s, &tenant);
        assert_eq!(
            (n, rows.keys().cloned().collect::<BTreeSet<_>>()),
            (10, listed)
        );
        // Finished: a further run is incremental and finds nothing new; `restart` pages all.
        let r = import::import(&s.db, &stripe, &src, &rest, &NoProgress)
            .await
            .unwrap();
        assert_eq!(counts(&r)["payouts"], (Start::Incremental, 0, 5, true));
        let r = import::import(
            &s.db,
            &stripe,
            &src,
            &ImportOptions {
                restart: true,
                ..rest.clone()
            },
            &NoProgress,
        )
        .await
        .unwrap();
        assert_eq!(counts(&r)["payouts"], (Start::Fresh, 0, 5, true));
        assert_eq!(counts(&r)["events"], (Start::Fresh, 0, 10, true));
        // An earlier date than the finished run's starts afresh from it.
        let r = import::import(
            &s.db,
            &stripe,
            &src,
            &ImportOptions {
                since: since() - 3600,
                ..rest
            },
            &NoProgress,
        )
        .await
        .unwrap();
        assert_eq!(counts(&r)["payouts"], (Start::Fresh, 0, 5, true));
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_after_downtime_stores_exactly_the_missing_events_and_they_are_applied() {
    for db in databases("reconcile_downtime") {
        let Some(ls) = LocalStripe::start() else {
            return;
        };
        let s = TestServer::start_full(&db.location, WriterConfig::default(), &ls.base).await;
        let tenant = s.tenant();
        let endpoint = format!("{}/webhooks/stripe/{tenant}/test", s.base);
        ls.send_webhooks_to(&s.client, &endpoint, WEBHOOK_SECRET)
            .await;
        let first = pay_invoice(&s, &tenant).await;
        wait_paid(&s, &first).await;
        // Wait for the last webhooks of the first payment.
        let deadline = Instant::now() + Duration::from_secs(10);
        while inbox(&s, &tenant).1 < event_ids(&ls, &s.client).await.len() as i64 {
            assert!(Instant::now() < deadline, "webhooks did not arrive");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let before = event_ids(&ls, &s.client).await;
        // Downtime: deliveries go nowhere while a payment and a payout happen.
        ls.send_webhooks_to(&s.client, "http://127.0.0.1:9/down", WEBHOOK_SECRET)
            .await;
        let second = pay_invoice(&s, &tenant).await;
        payout(&ls, &s.client, "700").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        ls.send_webhooks_to(&s.client, &endpoint, WEBHOOK_SECRET)
            .await;
        let (_, inv) = s
            .api(reqwest::Method::GET, &format!("/invoices/{second}"), None)
            .await;
        assert_eq!(inv["status"], "open", "{inv}");
        let all = event_ids(&ls, &s.client).await;
        let expected: BTreeSet<String> = all.difference(&before).cloned().collect();
        assert!(expected.len() >= 3, "{expected:?}");
        let stripe = StripeClient::new(&ls.base);
        let src = source(&s, &tenant, None).unwrap();
        let r = import::reconcile(
            &s.db,
            &stripe,
            &src,
            &ReconcileOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
        assert!(r.default_since);
        assert_eq!(r.listed as usize, all.len(), "{r:?}");
        assert_eq!(r.present as usize, before.len(), "{r:?}");
        assert_eq!(r.missing.iter().cloned().collect::<BTreeSet<_>>(), expected);
        assert_eq!(r.inserted, r.missing);
        // The worker applies what reconcile stored.
        let paid = wait_paid(&s, &second).await;
        assert_eq!(paid["amount_paid"], 2000, "{paid}");
        s.settle(&tenant).await;
        let (rows, n) = inbox(&s, &tenant);
        assert_eq!(n as usize, all.len());
        assert!(rows.values().all(|(_, a)| *a == 1), "{rows:?}");
        // A second reconcile, from where the first got to, finds nothing missing.
        let r = import::reconcile(
            &s.db,
            &stripe,
            &src,
            &ReconcileOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
        assert_eq!((r.missing.len(), r.inserted.len()), (0, 0), "{r:?}");
        assert!(r.since < r.through);
        s.stop().await;
    }
}

/// A scripted Stripe that refuses every list with `status` and Stripe's error object.
async fn refusing(status: u16, error: Value) -> String {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/v1/{list}",
        get(move || {
            let error = error.clone();
            async move {
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    axum::Json(json!({"error": error})),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_typed_and_say_what_is_wrong() {
    let db = &databases("import_refusals")[0];
    let s = TestServer::start(&db.location).await;
    let tenant = s.tenant();
    let message = |e: ImportError| e.to_string();

    let e = source(&s, "ten_nobody", None).unwrap_err();
    assert!(matches!(e, ImportError::NoTenant(_)), "{e:?}");
    assert!(message(e).contains("ten_nobody"));
    let e = source(&s, &tenant, Some(Mode::Live)).unwrap_err();
    assert!(
        matches!(
            e,
            ImportError::NoConnection {
                mode: Mode::Live,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(message(e).contains("no live connection"));

    s.with_conn(|c| tenants::set_enabled(c, &tenant, Mode::Test, false, now_secs()).unwrap());
    let e = source(&s, &tenant, None).unwrap_err();
    assert!(matches!(e, ImportError::Disabled { .. }), "{e:?}");
    assert!(message(e).contains("payhook tenant enable"));
    s.with_conn(|c| tenants::set_enabled(c, &tenant, Mode::Test, true, now_secs()).unwrap());
    let src = source(&s, &tenant, None).unwrap();

    // Stripe refuses the key: a typed error naming the list, the key nowhere in it.
    let base = refusing(
        401,
        json!({"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****6789"}),
    )
    .await;
    let e = import::import(
        &s.db,
        &StripeClient::new(&base),
        &src,
        &ImportOptions::since(since()),
        &NoProgress,
    )
    .await
    .unwrap_err();
    match &e {
        ImportError::Stripe {
            list: "events",
            source,
        } => assert!(
            matches!(&**source, StripeError::Api(api) if api.status == 401),
            "{source:?}"
        ),
        other => panic!("{other:?}"),
    }
    let text = format!("{e} {e:?}");
    assert!(
        text.contains("Invalid API Key") && !text.contains(SECRET_KEY),
        "{text}"
    );
    // Stripe down: reconcile says so.
    let e = import::reconcile(
        &s.db,
        &StripeClient::new("http://127.0.0.1:9").with_max_retries(0),
        &src,
        &ReconcileOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &e,
            ImportError::Stripe { list: "events", source }
                if matches!(**source, StripeError::Unreachable { .. })
        ),
        "{e:?}"
    );
    // A bad date.
    let e = import::parse_since("2024-02-30", now_secs()).unwrap_err();
    assert!(matches!(e, ImportError::BadDate { .. }), "{e:?}");

    s.with_conn(|c| tenants::disconnect(c, &tenant, Mode::Test, now_secs()).unwrap());
    let e = source(&s, &tenant, Some(Mode::Test)).unwrap_err();
    assert!(matches!(e, ImportError::Disconnected { .. }), "{e:?}");
    let e = source(&s, &tenant, None).unwrap_err();
    assert!(matches!(e, ImportError::NotConnected(_)), "{e:?}");
    s.stop().await;
}

/// A scripted Stripe: three payouts (`po_auto`, an automatic one that paid out three balance
/// transactions; `po_manual`; `po_gone`, which the payout filter does not find), four balance
/// transactions, and no events, charges or refunds. It lists newest first as Stripe does, pages
/// by `limit` and `starting_after`, remembers every balance transactions request's query, and
/// answers the next one that has a `starting_after` with a 500 while `fail` is set.
struct ScriptedStripe {
    base: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    fail: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

async fn scripted_stripe() -> ScriptedStripe {
    use axum::extract::{Path, Query, RawQuery};
    use axum::http::StatusCode;
    use axum::routing::get;
    use std::collections::HashMap;
    use std::sync::atomic::Ordering;
    let now = now_secs();
    let payout = |id: &str, automatic: bool, age: i64| {
        json!({"id": id, "object": "payout", "amount": 4325, "currency": "eur", "status": "paid",
            "automatic": automatic, "created": now - age, "arrival_date": now - age + 172_800})
    };
    let payouts = vec![
        payout("po_gone", true, 10),
        payout("po_manual", false, 50),
        payout("po_auto", true, 100),
    ];
    let txn = |id: &str, kind: &str, amount: i64, fee: i64, source: &str, age: i64| {
        json!({"id": id, "object": "balance_transaction", "type": kind, "amount": amount, "fee": fee,
            "net": amount - fee, "currency": "eur", "source": source, "status": "available",
            "created": now - age})
    };
    let paid_out = vec![
        txn("txn_3", "payout", -4325, 0, "po_auto", 100),
        txn("txn_2", "refund", -500, 0, "re_1", 200),
        txn("txn_1", "charge", 5000, 175, "ch_1", 300),
    ];
    let mut all = vec![txn("txn_other", "charge", 800, 30, "ch_2", 20)];
    all.extend(paid_out.clone());
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (seen, failing) = (requests.clone(), fail.clone());
    let app = axum::Router::new().route(
        "/v1/{list}",
        get(
            move |Path(list): Path<String>,
                  Query(q): Query<HashMap<String, String>>,
                  RawQuery(raw): RawQuery| {
                let (payouts, paid_out, all) = (payouts.clone(), paid_out.clone(), all.clone());
                let (seen, failing) = (seen.clone(), failing.clone());
                async move {
                    let objects = match list.as_str() {
                        "payouts" => payouts,
                        "balance_transactions" => {
                            seen.lock().unwrap().push(raw.unwrap_or_default());
                            if q.contains_key("starting_after") && failing.swap(false, Ordering::SeqCst) {
                                return (
                                    StatusCode::INTERNAL_SERVER_ERROR,
                                    axum::Json(json!({"error": {"type": "api_error", "message": "try again"}})),
                                );
                            }
                            match q.get("payout").map(String::as_str) {
                                None => all,
                                Some("po_auto") => paid_out,
                                Some(other) => {
                                    return (
                                        StatusCode::NOT_FOUND,
                                        axum::Json(json!({"error": {"type": "invalid_request_error",
                                            "code": "resource_missing", "param": "payout",
                                            "message": format!("No such payout: '{other}'")}})),
                                    );
                                }
                            }
                        }
                        _ => vec![],
                    };
                    let start = q
                        .get("starting_after")
                        .and_then(|a| objects.iter().position(|o| o["id"] == a.as_str()))
                        .map_or(0, |i| i + 1);
                    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(10);
                    let page: Vec<Value> = objects.iter().skip(start).take(limit).cloned().collect();
                    let has_more = start + page.len() < objects.len();
                    (
                        StatusCode::OK,
                        axum::Json(json!({"object": "list", "data": page, "has_more": has_more,
                            "url": format!("/v1/{list}")})),
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    ScriptedStripe {
        base,
        requests,
        fail,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_are_linked_to_the_balance_transactions_they_paid_out() {
    use payhook_server::reports;
    use std::sync::atomic::Ordering;
    for db in databases("import_payout_links") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let stripe = scripted_stripe().await;
        let src = source(&s, &tenant, None).unwrap();
        let options = ImportOptions {
            page_size: 2,
            ..ImportOptions::since(since())
        };
        let payout_requests = || -> Vec<String> {
            stripe
                .requests
                .lock()
                .unwrap()
                .iter()
                .filter(|q| q.contains("payout="))
                .cloned()
                .collect()
        };
        // The second page of po_auto's transactions fails: the import stops with a typed
        // error, the first page linked and its cursor kept.
        stripe.fail.store(true, Ordering::SeqCst);
        let flaky = StripeClient::new(&stripe.base).with_max_retries(0);
        let e = import::import(&s.db, &flaky, &src, &options, &NoProgress)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &e,
                ImportError::Stripe {
                    list: "balance_transactions",
                    ..
                }
            ),
            "{e:?}"
        );
        let half = s.with_conn(|c| reports::payouts(c, &tenant, None, 10).unwrap());
        let auto = half.iter().find(|p| p.id == "po_auto").unwrap();
        assert_eq!(
            (auto.transactions.len(), auto.transactions_known),
            (2, false),
            "{half:?}"
        );
        assert_eq!(
            payout_requests(),
            [
                "limit=2&payout=po_auto",
                "limit=2&payout=po_auto&starting_after=txn_2"
            ]
        );

        // The next run goes on from the cursor, marks the manual payout and the one Stripe
        // does not find, and lists every other list as before.
        let stripe_ok = StripeClient::new(&stripe.base);
        let report = import::import(&s.db, &stripe_ok, &src, &options, &NoProgress)
            .await
            .unwrap();
        assert!(report.complete, "{report:?}");
        assert_eq!(
            report.payout_links,
            Some(import::PayoutLinks {
                linked: 1,
                transactions: 1,
                manual: 1,
                refused: 1,
                pages: 1,
            })
        );
        assert_eq!(
            payout_requests()[2..],
            [
                "limit=2&payout=po_auto&starting_after=txn_2",
                "limit=2&payout=po_gone"
            ]
        );
        let payouts = s.with_conn(|c| reports::payouts(c, &tenant, None, 10).unwrap());
        assert_eq!(
            payouts
                .iter()
                .map(|p| (p.id.as_str(), p.transactions_known))
                .collect::<Vec<_>>(),
            [("po_gone", false), ("po_manual", false), ("po_auto", true)]
        );
        let auto = &payouts[2];
        assert_eq!(
            auto.transactions
                .iter()
                .map(|t| (
                    t.id.as_str(),
                    t.kind.as_str(),
                    t.amount,
                    t.fee,
                    t.net,
                    t.source.as_deref()
                ))
                .collect::<Vec<_>>(),
            [
                ("txn_3", "payout", -4325, 0, -4325, Some("po_auto")),
                ("txn_2", "refund", -500, 0, -500, Some("re_1")),
                ("txn_1", "charge", 5000, 175, 4825, Some("ch_1")),
            ]
        );
        assert!(payouts[0].transactions.is_empty() && payouts[1].transactions.is_empty());
        assert!(reports::payouts_csv(&payouts).contains("po_auto,test,paid,4325,43.25,eur,"));
        // Stored once each, the linked ones and the one only the plain list has.
        let stored = s.with_conn(|c| {
            import::list_objects(c, &tenant, ListKind::BalanceTransactions, None, 100).unwrap()
        });
        let mut ids: Vec<&str> = stored.iter().map(|o| o.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["txn_1", "txn_2", "txn_3", "txn_other"]);

        // A further run asks about no payout again; `restart` asks again about the refused one.
        let again = import::import(&s.db, &stripe_ok, &src, &options, &NoProgress)
            .await
            .unwrap();
        assert_eq!(again.payout_links, Some(import::PayoutLinks::default()));
        assert_eq!(payout_requests().len(), 4);
        let restart = ImportOptions {
            restart: true,
            ..options.clone()
        };
        let r = import::import(&s.db, &stripe_ok, &src, &restart, &NoProgress)
            .await
            .unwrap();
        assert_eq!(r.payout_links.map(|l| l.refused), Some(1));
        assert_eq!(payout_requests()[4..], ["limit=2&payout=po_gone"]);
        let links = s.with_conn(|c| {
            use payhook_server::db::Conn;
            c.query_opt(
                "SELECT COUNT(*) FROM payout_transactions WHERE tenant_id = $1",
                &[tenant.as_str().into()],
            )
            .unwrap()
            .unwrap()
            .int(0)
        });
        assert_eq!(links, 3);
        s.stop().await;
    }
}
