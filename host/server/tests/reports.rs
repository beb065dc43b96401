//! The dashboard's data layer on SQLite and (when `PAYHOOK_TEST_POSTGRES` is set, always under
//! CI) PostgreSQL: revenue per day, reconciliation, payouts with their transactions, keyset
//! pages that show every row exactly once, the payment groups, the CSV files; and, on SQLite,
//! the query plan of every dashboard query, which must read each large table through an index.

use std::collections::BTreeSet;

use payhook_server::connection::Mode;
use payhook_server::db::{Backend, Conn, Database, DbConn, DbError, Location, Row, Value};
use payhook_server::inbox::{self, EventFilter, NewDelivery};
use payhook_server::records::{
    self, LedgerEntry, PageCursor, PaymentFilter, PaymentGroup, RecordKind,
};
use payhook_server::reports::{
    self, AmountDiff, DayRevenue, InvoiceGap, PaymentGap, PayoutView, Reconciliation,
    TransactionView,
};
use payhook_server::testing::{TempPostgres, fresh_postgres};

const T: &str = "ten_reports";
const OTHER: &str = "ten_other";
/// 2026-01-01 00:00:00 UTC.
const DAY1: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

struct TestDb {
    db: Database,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<TempPostgres>,
}

/// A migrated SQLite database, and a PostgreSQL one when configured; each with two tenants.
fn databases(test: &str) -> Vec<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![TestDb {
        db: Database::open(&Location::Sqlite(dir.path().join("t.db"))).unwrap(),
        _dir: Some(dir),
        _pg: None,
    }];
    if let Some(pg) = fresh_postgres(test) {
        out.push(TestDb {
            db: Database::open(&pg.location()).unwrap(),
            _dir: None,
            _pg: Some(pg),
        });
    }
    for t in &out {
        let mut c = t.db.conn().unwrap();
        for tenant in [T, OTHER] {
            c.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, 0)",
                &[tenant.into(), tenant.into()],
            )
            .unwrap();
        }
    }
    out
}

fn begin(c: &mut DbConn) {
    let sql = match c.backend() {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    c.batch(sql).unwrap();
}

struct Pay<'a> {
    id: &'a str,
    status: &'a str,
    currency: &'a str,
    captured: i64,
    refunded: i64,
    dispute: Option<&'a str>,
    invoice: Option<&'a str>,
    appointment: Option<&'a str>,
    updated_at: i64,
}

impl Default for Pay<'_> {
    fn default() -> Self {
        Pay {
            id: "pi_x",
            status: "succeeded",
            currency: "eur",
            captured: 0,
            refunded: 0,
            dispute: None,
            invoice: None,
            appointment: None,
            updated_at: DAY1,
        }
    }
}

fn payment(c: &mut dyn Conn, tenant: &str, p: Pay<'_>) {
    c.execute(
        "INSERT INTO payments (tenant_id, id, currency, state, status, captured, refunded, dispute_status, invoice_id, appointment_id, created_at, updated_at) \
         VALUES ($1, $2, $3, '{}', $4, $5, $6, $7, $8, $9, $10, $10)",
        &[
            tenant.into(),
            p.id.into(),
            p.currency.into(),
            p.status.into(),
            p.captured.into(),
            p.refunded.into(),
            p.dispute.into(),
            p.invoice.into(),
            p.appointment.into(),
            p.updated_at.into(),
        ],
    )
    .unwrap();
}

#[allow(clippy::too_many_arguments)]
fn invoice(
    c: &mut dyn Conn,
    tenant: &str,
    id: &str,
    status: &str,
    amount: i64,
    currency: &str,
    amount_paid: i64,
    created_at: i64,
) {
    c.execute(
        "INSERT INTO invoices (id, tenant_id, amount, currency, metadata, state, status, amount_paid, amount_refunded, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, '{}', '{}', $5, $6, 0, $7, $7)",
        &[
            id.into(),
            tenant.into(),
            amount.into(),
            currency.into(),
            status.into(),
            amount_paid.into(),
            created_at.into(),
        ],
    )
    .unwrap();
}

#[allow(clippy::too_many_arguments)]
fn book(
    c: &mut dyn Conn,
    tenant: &str,
    payment: &str,
    kind: &str,
    amount: i64,
    currency: &str,
    total: i64,
    at: i64,
) {
    let entry = LedgerEntry {
        payment_id: payment.into(),
        kind: kind.into(),
        amount,
        currency: currency.into(),
        total,
        event_id: format!("evt_{payment}_{kind}_{total}"),
        invoice_id: None,
        created_at: at,
    };
    assert!(records::book(c, tenant, &entry).unwrap());
}

#[allow(clippy::too_many_arguments)]
fn object(
    c: &mut dyn Conn,
    tenant: &str,
    kind: &str,
    id: &str,
    created: i64,
    status: Option<&str>,
    amount: i64,
    data: serde_json::Value,
) {
    c.execute(
        "INSERT INTO stripe_objects (tenant_id, mode, kind, id, created, status, amount, currency, data, imported_at, updated_at) \
         VALUES ($1, 'test', $2, $3, $4, $5, $6, 'eur', $7, 0, 0)",
        &[
            tenant.into(),
            kind.into(),
            id.into(),
            created.into(),
            status.into(),
            amount.into(),
            data.to_string().into(),
        ],
    )
    .unwrap();
}

fn link(c: &mut dyn Conn, tenant: &str, payout: &str, status: &str, transactions: &[&str]) {
    c.execute(
        "INSERT INTO payout_links (tenant_id, mode, payout_id, status, updated_at) VALUES ($1, 'test', $2, $3, 0)",
        &[tenant.into(), payout.into(), status.into()],
    )
    .unwrap();
    for t in transactions {
        c.execute(
            "INSERT INTO payout_transactions (tenant_id, mode, payout_id, transaction_id) VALUES ($1, 'test', $2, $3)",
            &[tenant.into(), payout.into(), (*t).into()],
        )
        .unwrap();
    }
}

fn txn(
    id: &str,
    kind: &str,
    amount: i64,
    fee: i64,
    source: &str,
    created: i64,
) -> serde_json::Value {
    serde_json::json!({
        "id": id, "object": "balance_transaction", "type": kind, "amount": amount, "fee": fee,
        "net": amount - fee, "currency": "eur", "source": source, "created": created,
    })
}

fn day(
    day: &str,
    currency: &str,
    gross: i64,
    refunded: i64,
    disputed: i64,
    payments: i64,
) -> DayRevenue {
    DayRevenue {
        day: day.into(),
        currency: currency.into(),
        gross,
        refunded,
        disputed,
        net: gross - refunded,
        payments,
    }
}

#[test]
fn revenue_per_day_sums_payments_and_refunds_per_day_and_currency() {
    for t in databases("reports_revenue") {
        let c = &mut t.db.conn().unwrap();
        // Day 1: two eur payments, one usd payment, a partial refund.
        book(c, T, "pi_1", "payment", 5000, "eur", 5000, DAY1 + 10);
        book(c, T, "pi_2", "payment", 2000, "eur", 2000, DAY1 + 3600);
        book(c, T, "pi_3", "payment", 1000, "usd", 1000, DAY1 + DAY - 1);
        book(c, T, "pi_1", "refund", 500, "eur", 500, DAY1 + 7200);
        // Day 2: the rest of pi_1 refunded, then a refund that failed came back; a jpy
        // payment; the usd payment lost to a dispute.
        book(c, T, "pi_1", "refund", 1500, "eur", 2000, DAY1 + DAY);
        book(
            c,
            T,
            "pi_1",
            "refund_reversal",
            500,
            "eur",
            500,
            DAY1 + DAY + 60,
        );
        book(c, T, "pi_4", "payment", 700, "jpy", 700, DAY1 + DAY + 120);
        book(
            c,
            T,
            "pi_3",
            "dispute_loss",
            1000,
            "usd",
            1000,
            DAY1 + DAY + 180,
        );
        // Outside the window, and another tenant's.
        book(c, T, "pi_5", "payment", 999, "eur", 999, DAY1 - 1);
        book(c, T, "pi_6", "payment", 999, "eur", 999, DAY1 + 2 * DAY);
        book(c, OTHER, "pi_7", "payment", 999, "eur", 999, DAY1 + 5);

        let days = reports::revenue_per_day(c, T, DAY1, DAY1 + 2 * DAY).unwrap();
        assert_eq!(
            days,
            [
                day("2026-01-01", "eur", 7000, 500, 0, 2),
                day("2026-01-01", "usd", 1000, 0, 0, 1),
                day("2026-01-02", "eur", 0, 1000, 0, 0),
                day("2026-01-02", "jpy", 700, 0, 0, 1),
                day("2026-01-02", "usd", 0, 1000, 1000, 0),
            ]
        );
        // The window is [since, until): the second day alone, and nothing at all.
        let second = reports::revenue_per_day(c, T, DAY1 + DAY, DAY1 + 2 * DAY).unwrap();
        assert_eq!(second, days[2..]);
        assert!(
            reports::revenue_per_day(c, T, DAY1 + 3 * DAY, DAY1 + 4 * DAY)
                .unwrap()
                .is_empty()
        );

        let csv = reports::revenue_csv(&days);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "day,currency,payments,gross_minor,gross,refunded_minor,refunded,disputed_minor,disputed,net_minor,net"
        );
        assert_eq!(
            lines[1],
            "2026-01-01,eur,2,7000,70.00,500,5.00,0,0.00,6500,65.00"
        );
        assert_eq!(
            lines[3],
            "2026-01-02,eur,0,0,0.00,1000,10.00,0,0.00,-1000,-10.00"
        );
        assert_eq!(lines[4], "2026-01-02,jpy,1,700,700,0,0,0,0,700,700");
        assert_eq!(
            lines[5],
            "2026-01-02,usd,0,0,0.00,1000,10.00,1000,10.00,-1000,-10.00"
        );
        assert_eq!((lines.len(), lines[6]), (7, ""), "{csv}");
    }
}

#[test]
fn reconciliation_finds_each_kind_of_gap() {
    for t in databases("reports_reconciliation") {
        let c = &mut t.db.conn().unwrap();
        let at = |n: i64| DAY1 + n * 60;
        // Finalized without a payment (newest first), and a draft that is not listed.
        invoice(c, T, "inv_open", "open", 2000, "eur", 0, at(1));
        invoice(c, T, "inv_paidnopay", "paid", 3000, "eur", 3000, at(2));
        invoice(c, T, "inv_draft", "draft", 2000, "eur", 0, at(3));
        // Settled exactly: not listed.
        invoice(c, T, "inv_ok", "paid", 2000, "eur", 2000, at(4));
        payment(
            c,
            T,
            Pay {
                id: "pi_ok",
                captured: 2000,
                invoice: Some("inv_ok"),
                ..Pay::default()
            },
        );
        // Two payments settle one invoice exactly: not listed.
        invoice(c, T, "inv_split", "paid", 2000, "eur", 2000, at(5));
        payment(
            c,
            T,
            Pay {
                id: "pi_split1",
                captured: 1200,
                invoice: Some("inv_split"),
                ..Pay::default()
            },
        );
        payment(
            c,
            T,
            Pay {
                id: "pi_split2",
                captured: 800,
                invoice: Some("inv_split"),
                ..Pay::default()
            },
        );
        // The invoice says 2000 came; its payment captured 1500.
        invoice(c, T, "inv_short", "paid", 2000, "eur", 2000, at(6));
        payment(
            c,
            T,
            Pay {
                id: "pi_short",
                captured: 1500,
                invoice: Some("inv_short"),
                ..Pay::default()
            },
        );
        // Paid in full, then partly refunded: the payments net 1500 against 2000 due.
        invoice(
            c,
            T,
            "inv_refunded",
            "partially_refunded",
            2000,
            "eur",
            2000,
            at(7),
        );
        payment(
            c,
            T,
            Pay {
                id: "pi_refunded",
                status: "partially_refunded",
                captured: 2000,
                refunded: 500,
                invoice: Some("inv_refunded"),
                ..Pay::default()
            },
        );
        // A payment in another currency.
        invoice(c, T, "inv_usd", "paid", 2000, "eur", 2000, at(8));
        payment(
            c,
            T,
            Pay {
                id: "pi_eur",
                captured: 2000,
                invoice: Some("inv_usd"),
                ..Pay::default()
            },
        );
        payment(
            c,
            T,
            Pay {
                id: "pi_usd",
                currency: "usd",
                captured: 100,
                invoice: Some("inv_usd"),
                ..Pay::default()
            },
        );
        // Collected payments linked to nothing; one failed and one for an appointment are not.
        payment(
            c,
            T,
            Pay {
                id: "pi_lone1",
                captured: 900,
                updated_at: at(1),
                ..Pay::default()
            },
        );
        payment(
            c,
            T,
            Pay {
                id: "pi_lone2",
                status: "refunded",
                captured: 400,
                refunded: 400,
                updated_at: at(2),
                ..Pay::default()
            },
        );
        payment(
            c,
            T,
            Pay {
                id: "pi_failed",
                status: "failed",
                updated_at: at(3),
                ..Pay::default()
            },
        );
        payment(
            c,
            T,
            Pay {
                id: "pi_apt",
                captured: 500,
                appointment: Some("apt_1"),
                updated_at: at(4),
                ..Pay::default()
            },
        );
        // A declined card: a payment is linked, but it collected nothing, so the invoice is still
        // without payment (and its amounts do not "differ").
        invoice(
            c,
            T,
            "inv_declined",
            "payment_failed",
            2000,
            "eur",
            0,
            at(10),
        );
        payment(
            c,
            T,
            Pay {
                id: "pi_declined",
                status: "failed",
                captured: 0,
                invoice: Some("inv_declined"),
                ..Pay::default()
            },
        );
        // Another tenant's gaps are not this one's.
        invoice(c, OTHER, "inv_other", "open", 100, "eur", 0, at(9));
        payment(
            c,
            OTHER,
            Pay {
                id: "pi_other",
                captured: 100,
                ..Pay::default()
            },
        );

        let r = reports::reconciliation(c, T, 100).unwrap();
        let gap = |id: &str, status: &str, amount, paid, n| InvoiceGap {
            invoice_id: id.into(),
            status: status.into(),
            currency: "eur".into(),
            amount,
            amount_paid: paid,
            created_at: at(n),
        };
        assert_eq!(
            r.invoices_without_payment,
            [
                gap("inv_declined", "payment_failed", 2000, 0, 10),
                gap("inv_paidnopay", "paid", 3000, 3000, 2),
                gap("inv_open", "open", 2000, 0, 1)
            ]
        );
        let lone = |id: &str, status: &str, captured, refunded, n| PaymentGap {
            payment_id: id.into(),
            status: status.into(),
            currency: "eur".into(),
            captured,
            refunded,
            updated_at: at(n),
        };
        assert_eq!(
            r.payments_without_invoice,
            [
                lone("pi_lone2", "refunded", 400, 400, 2),
                lone("pi_lone1", "succeeded", 900, 0, 1)
            ]
        );
        let diff = |id: &str, status: &str, paid, captured, refunded, payments, others, n| {
            let amount = 2000;
            AmountDiff {
                invoice_id: id.into(),
                status: status.into(),
                currency: "eur".into(),
                amount,
                amount_paid: paid,
                captured,
                refunded,
                net: captured - refunded,
                payments,
                other_currency_payments: others,
                paid_differs: paid != captured,
                net_differs: amount != captured - refunded,
                created_at: at(n),
            }
        };
        assert_eq!(
            r.amounts_differ,
            [
                diff("inv_usd", "paid", 2000, 2000, 0, 2, 1, 8),
                diff(
                    "inv_refunded",
                    "partially_refunded",
                    2000,
                    2000,
                    500,
                    1,
                    0,
                    7
                ),
                diff("inv_short", "paid", 2000, 1500, 0, 1, 0, 6),
            ]
        );
        assert!(r.amounts_differ[2].paid_differs && r.amounts_differ[2].net_differs);
        assert!(!r.amounts_differ[1].paid_differs && r.amounts_differ[1].net_differs);
        // Each section is bounded.
        let one = reports::reconciliation(c, T, 1).unwrap();
        assert_eq!(
            (
                one.invoices_without_payment.len(),
                one.payments_without_invoice.len(),
                one.amounts_differ.len()
            ),
            (1, 1, 1)
        );
        assert_eq!(one.amounts_differ[0].invoice_id, "inv_usd");

        let csv = reports::reconciliation_csv(&r);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(
            lines[0].starts_with("section,id,status,currency,amount_minor,amount,"),
            "{csv}"
        );
        assert_eq!(
            lines[2],
            "invoice_without_payment,inv_paidnopay,paid,eur,3000,30.00,3000,30.00,,,,,,,,,2026-01-01 00:02:00 UTC"
        );
        assert_eq!(
            lines[4],
            "payment_without_invoice,pi_lone2,refunded,eur,,,,,400,4.00,400,4.00,0,0.00,,,2026-01-01 00:02:00 UTC"
        );
        assert_eq!(
            lines[8],
            "amounts_differ,inv_short,paid,eur,2000,20.00,2000,20.00,1500,15.00,0,0.00,1500,15.00,0,\
             amount_paid differs from captured; amount differs from net,2026-01-01 00:06:00 UTC"
        );
        assert_eq!(lines.len(), 2 + 3 + 2 + 3, "{csv}");
    }
}

#[test]
fn payouts_come_with_the_transactions_they_paid_out() {
    for t in databases("reports_payouts") {
        let c = &mut t.db.conn().unwrap();
        let payout = |id: &str, created: i64, amount: i64| {
            serde_json::json!({"id": id, "object": "payout", "amount": amount, "currency": "eur",
                "status": "paid", "created": created, "arrival_date": created + 2 * DAY, "automatic": true})
        };
        object(
            c,
            T,
            "payout",
            "po_1",
            DAY1,
            Some("paid"),
            4700,
            payout("po_1", DAY1, 4700),
        );
        object(
            c,
            T,
            "payout",
            "po_2",
            DAY1 + 10,
            Some("paid"),
            900,
            payout("po_2", DAY1 + 10, 900),
        );
        object(
            c,
            T,
            "payout",
            "po_3",
            DAY1 + 20,
            Some("pending"),
            100,
            payout("po_3", DAY1 + 20, 100),
        );
        for (id, kind, amount, fee, source, created) in [
            ("txn_a", "charge", 5000, 175, "ch_a", DAY1 - 300),
            ("txn_b", "refund", -500, 0, "re_b", DAY1 - 200),
            ("txn_c", "payout", -4325, 0, "po_1", DAY1),
            ("txn_d", "charge", 999, 0, "ch_d", DAY1 - 100),
        ] {
            object(
                c,
                T,
                "balance_transaction",
                id,
                created,
                None,
                amount,
                txn(id, kind, amount, fee, source, created),
            );
        }
        link(c, T, "po_1", "linked", &["txn_a", "txn_b", "txn_c"]);
        link(c, T, "po_2", "manual", &[]);
        // Another tenant's payout and links are not listed.
        object(
            c,
            OTHER,
            "payout",
            "po_9",
            DAY1 + 30,
            Some("paid"),
            1,
            payout("po_9", DAY1 + 30, 1),
        );

        let all = reports::payouts(c, T, None, 10).unwrap();
        assert_eq!(
            all.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["po_3", "po_2", "po_1"]
        );
        let po1 = &all[2];
        assert_eq!(
            (
                po1.status.as_deref(),
                po1.amount,
                po1.currency.as_deref(),
                po1.arrival_date,
                po1.transactions_known
            ),
            (
                Some("paid"),
                Some(4700),
                Some("eur"),
                Some(DAY1 + 2 * DAY),
                true
            )
        );
        assert_eq!(
            po1.transactions,
            [
                TransactionView {
                    id: "txn_c".into(),
                    kind: "payout".into(),
                    amount: -4325,
                    fee: 0,
                    net: -4325,
                    currency: "eur".into(),
                    source: Some("po_1".into()),
                    created: DAY1,
                },
                TransactionView {
                    id: "txn_b".into(),
                    kind: "refund".into(),
                    amount: -500,
                    fee: 0,
                    net: -500,
                    currency: "eur".into(),
                    source: Some("re_b".into()),
                    created: DAY1 - 200,
                },
                TransactionView {
                    id: "txn_a".into(),
                    kind: "charge".into(),
                    amount: 5000,
                    fee: 175,
                    net: 4825,
                    currency: "eur".into(),
                    source: Some("ch_a".into()),
                    created: DAY1 - 300,
                },
            ]
        );
        assert!(
            all[0].transactions.is_empty() && !all[0].transactions_known,
            "not linked yet"
        );
        assert!(
            all[1].transactions.is_empty() && !all[1].transactions_known,
            "manual"
        );
        // Paged.
        let first = reports::payouts(c, T, None, 2).unwrap();
        let cursor = PageCursor::of_payout(&first[1]);
        let rest = reports::payouts(c, T, Some(&cursor), 2).unwrap();
        assert_eq!(
            first
                .iter()
                .chain(&rest)
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>(),
            ["po_3", "po_2", "po_1"]
        );
        assert_eq!(rest[0].transactions.len(), 3);

        let csv = reports::payouts_csv(&all);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "payout_id,mode,payout_status,payout_amount_minor,payout_amount,payout_currency,payout_created,arrival_date,\
             transactions_known,transaction_id,transaction_type,transaction_currency,amount_minor,amount,fee_minor,fee,\
             net_minor,net,source,transaction_created"
        );
        assert_eq!(
            lines[1],
            "po_3,test,pending,100,1.00,eur,2026-01-01 00:00:20 UTC,2026-01-03,false,,,,,,,,,,,"
        );
        assert_eq!(
            lines[5],
            "po_1,test,paid,4700,47.00,eur,2026-01-01 00:00:00 UTC,2026-01-03,true,txn_a,charge,eur,5000,50.00,175,1.75,4825,48.25,ch_a,2025-12-31 23:55:00 UTC"
        );
        assert_eq!(lines.len(), 1 + 1 + 1 + 3 + 1, "{csv}");
    }
}

/// Walks every page of a list; returns the ids in the order shown.
fn walk<T>(
    mut page: impl FnMut(Option<&PageCursor>) -> Vec<T>,
    cursor: impl Fn(&T) -> PageCursor,
    id: impl Fn(&T) -> String,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<PageCursor> = None;
    loop {
        let rows = page(after.as_ref());
        let Some(last) = rows.last() else { return out };
        after = Some(cursor(last));
        out.extend(rows.iter().map(&id));
        assert!(out.len() < 10_000, "the walk does not end");
    }
}

/// Every id exactly once, newest first with the larger id first among equal times.
fn assert_walk(walked: &[String], mut expected: Vec<(i64, String)>) {
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let unique: BTreeSet<&String> = walked.iter().collect();
    assert_eq!(unique.len(), walked.len(), "a row was shown twice");
    assert_eq!(walked, expected);
}

#[test]
fn pages_show_every_row_exactly_once_across_ties() {
    for t in databases("reports_pages") {
        let c = &mut t.db.conn().unwrap();
        begin(c);
        let mut payments = Vec::new();
        let mut invoices = Vec::new();
        let mut subscriptions = Vec::new();
        for i in 0..53i64 {
            // Five rows share each time: a page boundary falls inside ties.
            let at = DAY1 + i / 5;
            let id = format!("pi_{:02}", (i * 37) % 53);
            payment(
                c,
                T,
                Pay {
                    id: &id,
                    updated_at: at,
                    ..Pay::default()
                },
            );
            payments.push((at, id));
            let id = format!("inv_{:02}", (i * 17) % 53);
            invoice(c, T, &id, "open", 100, "eur", 0, at);
            invoices.push((at, id));
            let id = format!("sub_{:02}", (i * 11) % 53);
            c.execute(
                "INSERT INTO subscriptions (tenant_id, id, state, status, cancel_at_period_end, created_at, updated_at) \
                 VALUES ($1, $2, '{}', 'active', 0, $3, $3)",
                &[T.into(), id.as_str().into(), at.into()],
            )
            .unwrap();
            subscriptions.push((at, id));
        }
        payment(
            c,
            OTHER,
            Pay {
                id: "pi_zz",
                updated_at: DAY1 + 5,
                ..Pay::default()
            },
        );
        c.batch("COMMIT").unwrap();

        for limit in [1, 4, 5, 7, 100] {
            let walked = walk(
                |before| {
                    let filter = PaymentFilter {
                        group: None,
                        before: before.cloned(),
                        limit,
                    };
                    records::list_payments_page(c, T, &filter).unwrap()
                },
                PageCursor::of_payment,
                |p| p.id.clone(),
            );
            assert_walk(&walked, payments.clone());
            let walked = walk(
                |before| {
                    records::list_page(c, RecordKind::Invoice, T, Some("open"), before, limit)
                        .unwrap()
                },
                PageCursor::of_record,
                |r| r.id.clone(),
            );
            assert_walk(&walked, invoices.clone());
            let walked = walk(
                |before| records::list_subscriptions_page(c, T, None, before, limit).unwrap(),
                PageCursor::of_subscription,
                |s| s.id.clone(),
            );
            assert_walk(&walked, subscriptions.clone());
        }
        // A cursor read back from its text goes on the same way.
        let first = records::list_payments_page(
            c,
            T,
            &PaymentFilter {
                group: None,
                before: None,
                limit: 6,
            },
        )
        .unwrap();
        let text = PageCursor::of_payment(&first[5]).to_string();
        let next = records::list_payments_page(
            c,
            T,
            &PaymentFilter {
                group: None,
                before: Some(text.parse().unwrap()),
                limit: 1,
            },
        )
        .unwrap();
        assert_eq!(next[0].id, assert_order(&payments)[6]);
        // The old list without a cursor is the first page.
        let old = records::list_payments(c, T, Some("succeeded"), 3).unwrap();
        assert_eq!(
            old.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
            assert_order(&payments)[..3]
        );
        assert!(
            records::list_subscriptions(c, T, Some("canceled"), 10)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            records::list(c, RecordKind::Invoice, T, None, 100)
                .unwrap()
                .len(),
            53
        );
        // One payment, by id, in its tenant only.
        let p = records::get_payment(c, T, "pi_07").unwrap().unwrap();
        assert_eq!((p.id.as_str(), p.status.as_str()), ("pi_07", "succeeded"));
        assert!(records::get_payment(c, OTHER, "pi_07").unwrap().is_none());
        assert!(
            records::get_payment(c, T, "pi_07' OR '1'='1")
                .unwrap()
                .is_none()
        );
    }
}

fn assert_order(rows: &[(i64, String)]) -> Vec<String> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| b.cmp(a));
    rows.into_iter().map(|(_, id)| id).collect()
}

fn delivery(id: &str, kind: &str) -> NewDelivery {
    NewDelivery {
        tenant_id: T.into(),
        mode: Mode::Test,
        event_id: id.into(),
        event_type: kind.into(),
        livemode: false,
        created: DAY1,
        api_version: None,
        body: "{}".into(),
    }
}

#[test]
fn event_pages_filter_by_status_and_type_and_go_on_from_seq() {
    for t in databases("reports_events") {
        let c = &mut t.db.conn().unwrap();
        let kinds = ["payment_intent.succeeded", "charge.refunded", "payout.paid"];
        let all: Vec<NewDelivery> = (0..30)
            .map(|i| delivery(&format!("evt_{i:02}"), kinds[i % 3]))
            .collect();
        begin(c);
        inbox::insert_many(c, &all.iter().collect::<Vec<_>>()).unwrap();
        c.execute(
            "UPDATE events SET status = 'dead' WHERE event_id IN ('evt_04', 'evt_07', 'evt_10', 'evt_11')",
            &[],
        )
        .unwrap();
        c.batch("COMMIT").unwrap();
        let list = |c: &mut DbConn, status: Option<&str>, kind: Option<&str>| {
            let mut ids = Vec::new();
            let mut before = None;
            loop {
                let filter = EventFilter {
                    status: status.map(Into::into),
                    event_type: kind.map(Into::into),
                    before,
                    limit: 4,
                };
                let page = inbox::list(c, T, &filter).unwrap();
                let Some(last) = page.last() else { return ids };
                before = Some(last.seq);
                ids.extend(page.iter().map(|e| e.event_id.clone()));
            }
        };
        let expected = |keep: &dyn Fn(usize) -> bool| -> Vec<String> {
            (0..30)
                .rev()
                .filter(|i| keep(*i))
                .map(|i| format!("evt_{i:02}"))
                .collect()
        };
        let dead = |i: usize| [4, 7, 10, 11].contains(&i);
        assert_eq!(list(c, None, None), expected(&|_| true));
        assert_eq!(list(c, Some("dead"), None), expected(&dead));
        assert_eq!(
            list(c, None, Some("charge.refunded")),
            expected(&|i| i % 3 == 1)
        );
        assert_eq!(
            list(c, Some("dead"), Some("charge.refunded")),
            expected(&|i| i % 3 == 1 && dead(i))
        );
        assert!(list(c, Some("received"), Some("nothing.such")).is_empty());
    }
}

#[test]
fn each_payment_group_holds_its_statuses() {
    for t in databases("reports_groups") {
        let c = &mut t.db.conn().unwrap();
        let statuses = [
            "created",
            "requires_action",
            "processing",
            "failed",
            "canceled",
            "succeeded",
            "partially_refunded",
            "refunded",
        ];
        for (i, status) in statuses.iter().enumerate() {
            let id = format!("pi_{status}");
            payment(
                c,
                T,
                Pay {
                    id: &id,
                    status,
                    updated_at: DAY1 + i as i64,
                    ..Pay::default()
                },
            );
            // A disputed payment of the same status.
            let id = format!("pi_{status}_disputed");
            payment(
                c,
                T,
                Pay {
                    id: &id,
                    status,
                    dispute: Some("needs_response"),
                    updated_at: DAY1 + i as i64,
                    ..Pay::default()
                },
            );
        }
        payment(
            c,
            OTHER,
            Pay {
                id: "pi_other",
                dispute: Some("lost"),
                ..Pay::default()
            },
        );
        let group = |c: &mut DbConn, g: PaymentGroup| -> BTreeSet<String> {
            let filter = PaymentFilter {
                group: Some(g),
                before: None,
                limit: 100,
            };
            records::list_payments_page(c, T, &filter)
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .collect()
        };
        let with = |names: &[&str]| -> BTreeSet<String> {
            names
                .iter()
                .flat_map(|s| [format!("pi_{s}"), format!("pi_{s}_disputed")])
                .collect()
        };
        assert_eq!(group(c, PaymentGroup::Succeeded), with(&["succeeded"]));
        assert_eq!(
            group(c, PaymentGroup::Pending),
            with(&["created", "requires_action", "processing"])
        );
        assert_eq!(
            group(c, PaymentGroup::Failed),
            with(&["failed", "canceled"])
        );
        assert_eq!(
            group(c, PaymentGroup::Refunded),
            with(&["partially_refunded", "refunded"])
        );
        assert_eq!(
            group(c, PaymentGroup::Disputed),
            statuses
                .iter()
                .map(|s| format!("pi_{s}_disputed"))
                .collect()
        );
        // Every status is in exactly one of the status groups.
        let mut seen = BTreeSet::new();
        for g in &PaymentGroup::ALL[..4] {
            for id in group(c, *g) {
                assert!(seen.insert(id));
            }
        }
        assert_eq!(seen.len(), 2 * statuses.len());
        // Names read back; an unknown one lists the valid names.
        for g in PaymentGroup::ALL {
            assert_eq!(g.name().parse::<PaymentGroup>().unwrap(), g);
        }
        let e = "paid".parse::<PaymentGroup>().unwrap_err().to_string();
        assert!(
            e.contains("\"paid\"") && e.contains("succeeded, pending, failed, refunded, disputed"),
            "{e}"
        );
    }
}

#[test]
fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
    let payout = PayoutView {
        id: "po_1".into(),
        mode: "test".into(),
        status: Some("=cmd|' /C calc'!A0".into()),
        amount: Some(-1250),
        currency: Some("eur".into()),
        arrival_date: None,
        created: DAY1,
        transactions: vec![TransactionView {
            id: "txn_1".into(),
            kind: "@SUM(A1)".into(),
            amount: -1250,
            fee: 0,
            net: -1250,
            currency: "kwd".into(),
            source: Some("+HYPERLINK(\"http://example.invalid\",\"x\")".into()),
            created: DAY1,
        }],
        transactions_known: true,
    };
    let csv = reports::payouts_csv(&[payout]);
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[2], "'=cmd|' /C calc'!A0");
    assert_eq!(&row[10], "'@SUM(A1)");
    assert_eq!(&row[18], "'+HYPERLINK(\"http://example.invalid\",\"x\")");
    // Negative amounts are numbers, not formulas; kwd has three decimals.
    assert_eq!((&row[3], &row[4]), ("-1250", "-12.50"));
    assert_eq!((&row[12], &row[13]), ("-1250", "-1.250"));
    let r = Reconciliation {
        invoices_without_payment: vec![InvoiceGap {
            invoice_id: "-1+1".into(),
            status: "open".into(),
            currency: "jpy".into(),
            amount: 1250,
            amount_paid: 0,
            created_at: DAY1,
        }],
        payments_without_invoice: vec![],
        amounts_differ: vec![],
    };
    let csv = reports::reconciliation_csv(&r);
    assert!(
        csv.contains("\r\ninvoice_without_payment,'-1+1,open,jpy,1250,1250,0,0,"),
        "{csv}"
    );
}

/// A connection that remembers every query run through it.
struct Recording<'a> {
    inner: &'a mut dyn Conn,
    seen: Vec<(String, Vec<Value>)>,
}

impl Conn for Recording<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.inner.execute(sql, params)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        self.seen.push((sql.to_owned(), params.to_vec()));
        self.inner.query(sql, params)
    }
    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.inner.batch(sql)
    }
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
}

/// Fills a SQLite database with enough of everything for the planner to have a choice.
fn seed_for_plans(c: &mut DbConn) {
    begin(c);
    let kinds = [
        "payment_intent.succeeded",
        "charge.refunded",
        "payout.paid",
        "invoice.paid",
    ];
    let deliveries: Vec<NewDelivery> = (0..4000)
        .map(|i| {
            let mut d = delivery(&format!("evt_{i:05}"), kinds[i % 4]);
            if i % 2 == 1 {
                d.tenant_id = OTHER.into();
            }
            d
        })
        .collect();
    inbox::insert_many(c, &deliveries.iter().collect::<Vec<_>>()).unwrap();
    c.execute(
        "UPDATE events SET status = 'processed' WHERE seq % 50 <> 0",
        &[],
    )
    .unwrap();
    let statuses = [
        "succeeded",
        "succeeded",
        "succeeded",
        "created",
        "failed",
        "canceled",
        "refunded",
        "partially_refunded",
        "processing",
    ];
    for i in 0..3000i64 {
        let tenant = if i % 3 == 0 { OTHER } else { T };
        let inv = format!("inv_{i:05}");
        let pi = format!("pi_{i:05}");
        invoice(
            c,
            tenant,
            &inv,
            if i % 7 == 0 { "open" } else { "paid" },
            2000,
            "eur",
            2000,
            DAY1 + i,
        );
        let linked = i % 11 != 0;
        payment(
            c,
            tenant,
            Pay {
                id: &pi,
                status: statuses[i as usize % statuses.len()],
                captured: 2000,
                dispute: (i % 97 == 0).then_some("lost"),
                invoice: linked.then_some(inv.as_str()),
                updated_at: DAY1 + i,
                ..Pay::default()
            },
        );
        book(c, tenant, &pi, "payment", 2000, "eur", 2000, DAY1 + i * 60);
        c.execute(
            "INSERT INTO subscriptions (tenant_id, id, state, status, cancel_at_period_end, created_at, updated_at) \
             VALUES ($1, $2, '{}', $3, 0, $4, $4)",
            &[tenant.into(), format!("sub_{i:05}").into(), if i % 5 == 0 { "past_due" } else { "active" }.into(), i.into()],
        )
        .unwrap();
        let po = format!("po_{i:05}");
        object(
            c,
            tenant,
            "payout",
            &po,
            DAY1 + i,
            Some("paid"),
            100,
            serde_json::json!({"id": po}),
        );
        let tx = format!("txn_{i:05}");
        object(
            c,
            tenant,
            "balance_transaction",
            &tx,
            DAY1 + i,
            None,
            100,
            txn(&tx, "charge", 100, 3, "ch_1", DAY1 + i),
        );
        link(c, tenant, &po, "linked", &[&tx]);
    }
    c.batch("COMMIT").unwrap();
}

/// Runs every dashboard query through a recording connection; returns (what, SQL, params,
/// whether it reads a page and must need no sort).
fn dashboard_queries(c: &mut DbConn) -> Vec<(String, String, Vec<Value>, bool)> {
    let mut out = Vec::new();
    let mut run = |what: &str, page: bool, f: &mut dyn FnMut(&mut dyn Conn)| {
        let mut rec = Recording {
            inner: &mut *c,
            seen: Vec::new(),
        };
        f(&mut rec);
        assert!(!rec.seen.is_empty(), "{what} ran no query");
        for (i, (sql, params)) in rec.seen.into_iter().enumerate() {
            out.push((format!("{what} #{i}"), sql, params, page));
        }
    };
    let cursor = PageCursor {
        at: DAY1 + 1500,
        id: "x_01500".into(),
    };
    for status in [None, Some("dead")] {
        for kind in [None, Some("charge.refunded")] {
            for before in [None, Some(2000)] {
                let filter = EventFilter {
                    status: status.map(Into::into),
                    event_type: kind.map(Into::into),
                    before,
                    limit: 50,
                };
                run(&format!("events {filter:?}"), true, &mut |c| {
                    inbox::list(c, T, &filter).unwrap();
                });
            }
        }
    }
    let groups = std::iter::once(None).chain(PaymentGroup::ALL.map(Some));
    for group in groups {
        for before in [None, Some(cursor.clone())] {
            let filter = PaymentFilter {
                group,
                before,
                limit: 50,
            };
            run(&format!("payments {filter:?}"), true, &mut |c| {
                records::list_payments_page(c, T, &filter).unwrap();
            });
        }
    }
    run("payments by status", true, &mut |c| {
        records::list_payments(c, T, Some("processing"), 50).unwrap();
    });
    run("one payment", true, &mut |c| {
        records::get_payment(c, T, "pi_00001").unwrap();
    });
    for status in [None, Some("past_due")] {
        for before in [None, Some(&cursor)] {
            run(
                &format!("subscriptions {status:?} {before:?}"),
                true,
                &mut |c| {
                    records::list_subscriptions_page(c, T, status, before, 50).unwrap();
                },
            );
        }
    }
    for kind in [RecordKind::Invoice, RecordKind::Appointment] {
        for status in [None, Some("open")] {
            for before in [None, Some(&cursor)] {
                run(&format!("{kind:?} {status:?} {before:?}"), true, &mut |c| {
                    records::list_page(c, kind, T, status, before, 50).unwrap();
                });
            }
        }
    }
    run("revenue over 90 days", false, &mut |c| {
        reports::revenue_per_day(c, T, DAY1, DAY1 + 90 * DAY).unwrap();
    });
    for before in [None, Some(&cursor)] {
        run(&format!("payouts {before:?}"), true, &mut |c| {
            let p = reports::payouts(c, T, before, 50).unwrap();
            assert!(!p.is_empty());
        });
    }
    run("reconciliation", false, &mut |c| {
        reports::reconciliation(c, T, 50).unwrap();
    });
    out
}

/// What is wrong with the plan of a query: a table read whole (`SCAN` without an index, or
/// through an index SQLite builds for the query), or, for a page, rows sorted after reading
/// (a page must come off an index in order, so that it reads no more rows than it shows).
fn plan_problems(
    c: &mut DbConn,
    what: &str,
    sql: &str,
    params: &[Value],
    page: bool,
) -> Vec<String> {
    let plan: Vec<String> = c
        .query(&format!("EXPLAIN QUERY PLAN {sql}"), params)
        .unwrap()
        .iter()
        .map(|r| r.text(3))
        .collect();
    // Subqueries the plan names (materialised or run as co-routines) are read whole, as they
    // should be; a table is not.
    let derived: Vec<&str> = plan
        .iter()
        .filter_map(|l| {
            l.strip_prefix("MATERIALIZE ")
                .or_else(|| l.strip_prefix("CO-ROUTINE "))
        })
        .collect();
    let mut problems = Vec::new();
    for line in &plan {
        let whole = match line.strip_prefix("SCAN ") {
            Some(rest) => {
                let name = rest.split(' ').next().unwrap_or_default();
                let indexed = line.contains("USING INDEX") || line.contains("USING COVERING INDEX");
                !indexed && !derived.contains(&name) && !name.starts_with('(')
            }
            None => false,
        };
        if whole || line.contains("AUTOMATIC") {
            problems.push(format!("{what}: {line}\n  {sql}\n  {plan:?}"));
        }
    }
    if page && plan.iter().any(|l| l.contains("TEMP B-TREE")) {
        problems.push(format!(
            "{what}: a page that is sorted\n  {sql}\n  {plan:?}"
        ));
    }
    problems
}

#[test]
fn every_dashboard_query_reads_the_large_tables_through_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&Location::Sqlite(dir.path().join("plans.db"))).unwrap();
    let c = &mut db.conn().unwrap();
    for tenant in [T, OTHER] {
        c.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, 0)",
            &[tenant.into()],
        )
        .unwrap();
    }
    seed_for_plans(c);
    // The check itself sees a whole table read, and a sorted page.
    let bad = plan_problems(
        c,
        "scan",
        "SELECT id FROM payments WHERE captured > $1",
        &[0.into()],
        false,
    );
    assert_eq!(bad.len(), 1, "{bad:?}");
    let sorted = "SELECT id FROM payments WHERE tenant_id = $1 ORDER BY captured LIMIT 5";
    assert_eq!(
        plan_problems(c, "sorted", sorted, &[T.into()], true).len(),
        1
    );
    assert!(plan_problems(c, "sorted", sorted, &[T.into()], false).is_empty());
    // As a fresh database plans, and again once ANALYZE has given the planner statistics.
    for analyzed in [false, true] {
        if analyzed {
            c.batch("ANALYZE").unwrap();
        }
        let queries = dashboard_queries(c);
        let failures: Vec<String> = queries
            .iter()
            .flat_map(|(what, sql, params, page)| plan_problems(c, what, sql, params, *page))
            .collect();
        assert!(queries.len() > 40, "{}", queries.len());
        assert!(
            failures.is_empty(),
            "analyzed: {analyzed}\n{}",
            failures.join("\n")
        );
    }
}
