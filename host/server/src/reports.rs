//! The dashboard's reports: revenue per day from the ledger, payouts with the balance
//! transactions they paid out, and the reconciliation of invoices against payments; each as
//! rows to show and as CSV to download.
//!
//! Every query is read through an index of schema v6 and returns a bounded number of rows: a
//! report never scans a table, however many events and payments a tenant has. Lists are paged
//! newest first with a [`PageCursor`], like the record pages in [`crate::records`].
//!
//! Amounts are integers in the currency's minor unit, as Stripe's API counts them; the CSV
//! files carry each amount twice, in minor units and as a decimal in the currency's units
//! (`12.50` EUR, `1250` JPY, `1.250` KWD). Every CSV cell that a spreadsheet would run as a
//! formula (one starting with `=`, `+`, `-`, `@`, a tab or a carriage return, other than a
//! plain number) is written with a leading `'`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use payhook_core::money::{Currency, Money};
use serde::Serialize;
use serde_json::Value as Json;

use crate::db::{Conn, DbError, Params, Row};
use crate::import::format_time;
use crate::records::{MAX_PAGE, PageCursor};

/// Seconds in a (UTC) day: the ledger is bucketed into days by `created_at / 86400`.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// What the ledger booked on one UTC day in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayRevenue {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// e.g. `eur`.
    pub currency: String,
    /// Money received: the `payment` entries, in minor units.
    pub gross: i64,
    /// Money that went back: `refund` entries, less `refund_reversal` entries (refunds that
    /// failed, so the money came back), plus `dispute_loss` entries (taken back by a lost
    /// dispute), in minor units.
    pub refunded: i64,
    /// Of `refunded`, what lost disputes took.
    pub disputed: i64,
    /// `gross - refunded`.
    pub net: i64,
    /// How many `payment` entries were booked (one per settled payment).
    pub payments: i64,
}

/// The revenue per UTC day and currency of the ledger entries created from `since_secs`
/// (included) to `until_secs` (excluded), days ascending and, within a day, currencies
/// ascending. Days without entries are left out.
///
/// Days are computed in SQL as `created_at / 86400` (integer division, the same on SQLite and
/// PostgreSQL) and written as dates here. A `payment` entry adds to `gross`; a `refund` adds to
/// `refunded`, a `refund_reversal` takes from it, and a `dispute_loss` adds to it (and to
/// `disputed`): money lost to a dispute left the merchant like a refund. A reversal booked on
/// a later day than its refund makes that day's `refunded` negative, which is what happened
/// that day.
pub fn revenue_per_day(
    conn: &mut dyn Conn,
    tenant_id: &str,
    since_secs: i64,
    until_secs: i64,
) -> Result<Vec<DayRevenue>, DbError> {
    let (sql, params) = revenue_query(tenant_id, since_secs, until_secs);
    let rows = conn.query(&sql, &params)?;
    Ok(fold_revenue(&rows))
}

fn revenue_query(tenant_id: &str, since: i64, until: i64) -> (String, Vec<crate::db::Value>) {
    let mut p = Params::default();
    let sql = format!(
        "SELECT created_at / {SECONDS_PER_DAY}, currency, kind, CAST(SUM(amount) AS BIGINT), COUNT(*) \
         FROM ledger_entries WHERE tenant_id = {} AND created_at >= {} AND created_at < {} \
         GROUP BY created_at / {SECONDS_PER_DAY}, currency, kind",
        p.bind(tenant_id),
        p.bind(since),
        p.bind(until)
    );
    (sql, p.0)
}

/// Rows of (day number, currency, kind, sum, count) into days.
fn fold_revenue(rows: &[Row]) -> Vec<DayRevenue> {
    let mut days: BTreeMap<(i64, String), DayRevenue> = BTreeMap::new();
    for r in rows {
        let (day, currency, kind, sum, count) =
            (r.int(0), r.text(1), r.text(2), r.int(3), r.int(4));
        let d = days
            .entry((day, currency.clone()))
            .or_insert_with(|| DayRevenue {
                day: date(day * SECONDS_PER_DAY),
                currency,
                gross: 0,
                refunded: 0,
                disputed: 0,
                net: 0,
                payments: 0,
            });
        match kind.as_str() {
            "payment" => {
                d.gross += sum;
                d.payments += count;
            }
            "refund" => d.refunded += sum,
            "refund_reversal" => d.refunded -= sum,
            "dispute_loss" => {
                d.refunded += sum;
                d.disputed += sum;
            }
            _ => {}
        }
    }
    days.into_values()
        .map(|mut d| {
            d.net = d.gross - d.refunded;
            d
        })
        .collect()
}

/// `YYYY-MM-DD` of unix seconds (UTC).
fn date(secs: i64) -> String {
    format_time(secs)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A payout, with the balance transactions it paid out when Stripe said which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayoutView {
    /// `po_…`
    pub id: String,
    /// The connection's mode it was imported from, `test` or `live`.
    pub mode: String,
    /// Stripe's status: `paid`, `pending`, `in_transit`, `canceled` or `failed`.
    pub status: Option<String>,
    /// Minor units.
    pub amount: Option<i64>,
    /// e.g. `eur`.
    pub currency: Option<String>,
    /// When it is expected in the bank (unix seconds).
    pub arrival_date: Option<i64>,
    /// Stripe's `created` (unix seconds).
    pub created: i64,
    /// The balance transactions it paid out, newest first (empty when not known).
    pub transactions: Vec<TransactionView>,
    /// Whether `transactions` is the whole list: false for a payout not linked yet (import
    /// links them), a manual payout (Stripe does not say) or one Stripe refused to list.
    pub transactions_known: bool,
}

/// A balance transaction, as Stripe lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransactionView {
    /// `txn_…`
    pub id: String,
    /// Stripe's `type`: `charge`, `refund`, `payout`, `adjustment`, `stripe_fee`…
    pub kind: String,
    /// Gross, in minor units (negative for money going out).
    pub amount: i64,
    /// Stripe's fees, in minor units.
    pub fee: i64,
    /// `amount - fee`, in minor units.
    pub net: i64,
    /// e.g. `eur`.
    pub currency: String,
    /// The object it came from (`ch_…`, `re_…`, `po_…`), if any.
    pub source: Option<String>,
    /// Stripe's `created` (unix seconds).
    pub created: i64,
}

/// A page of a tenant's imported payouts (every mode), newest first (by `created`, then id),
/// each with its balance transactions: after `before` (see [`PageCursor::of_payout`]), at most
/// `limit` (1 to [`MAX_PAGE`]). Two queries whatever the page's size: one for the payouts, one
/// for all their transactions.
pub fn payouts(
    conn: &mut dyn Conn,
    tenant_id: &str,
    before: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<PayoutView>, DbError> {
    let (sql, params) = payouts_query(tenant_id, before, limit);
    let mut out: Vec<PayoutView> = conn
        .query(&sql, &params)?
        .iter()
        .map(|r| {
            let data: PayoutFields = serde_json::from_str(&r.text(6)).unwrap_or_default();
            PayoutView {
                id: r.text(0),
                mode: r.text(1),
                status: r.opt_text(2),
                amount: r.opt_int(3),
                currency: r.opt_text(4),
                arrival_date: data.arrival_date,
                created: r.int(5),
                transactions: Vec::new(),
                transactions_known: r.opt_text(7).as_deref() == Some("linked"),
            }
        })
        .collect();
    if out.is_empty() {
        return Ok(out);
    }
    let ids: Vec<&str> = out.iter().map(|p| p.id.as_str()).collect();
    let (sql, params) = transactions_query(tenant_id, &ids);
    let mut by_payout: HashMap<(String, String), Vec<TransactionView>> = HashMap::new();
    for r in conn.query(&sql, &params)? {
        let data: TransactionFields = serde_json::from_str(&r.text(6)).unwrap_or_default();
        let amount = r.opt_int(3).or(data.amount).unwrap_or(0);
        let fee = data.fee.unwrap_or(0);
        let source = match data.source {
            Some(Json::String(s)) => Some(s),
            Some(Json::Object(o)) => o.get("id").and_then(Json::as_str).map(str::to_owned),
            _ => None,
        };
        by_payout
            .entry((r.text(1), r.text(0)))
            .or_default()
            .push(TransactionView {
                id: r.text(2),
                kind: data.kind.unwrap_or_default(),
                amount,
                fee,
                net: data.net.unwrap_or(amount - fee),
                currency: r.opt_text(4).unwrap_or_default(),
                source,
                created: r.int(5),
            });
    }
    for p in &mut out {
        if let Some(mut t) = by_payout.remove(&(p.mode.clone(), p.id.clone())) {
            t.sort_by(|a, b| (b.created, &b.id).cmp(&(a.created, &a.id)));
            p.transactions = t;
        }
    }
    Ok(out)
}

/// What a page reads of a stored payout's JSON (the rest is skipped, not built).
#[derive(Default, serde::Deserialize)]
struct PayoutFields {
    arrival_date: Option<i64>,
}

/// What a page reads of a stored balance transaction's JSON.
#[derive(Default, serde::Deserialize)]
struct TransactionFields {
    #[serde(rename = "type")]
    kind: Option<String>,
    amount: Option<i64>,
    fee: Option<i64>,
    net: Option<i64>,
    /// An id, or the object when it was expanded.
    source: Option<Json>,
}

impl PageCursor {
    /// The cursor after `payout` in a list of payouts.
    pub fn of_payout(payout: &PayoutView) -> PageCursor {
        PageCursor {
            at: payout.created,
            id: payout.id.clone(),
        }
    }
}

fn payouts_query(
    tenant_id: &str,
    before: Option<&PageCursor>,
    limit: i64,
) -> (String, Vec<crate::db::Value>) {
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT o.id, o.mode, o.status, o.amount, o.currency, o.created, o.data, l.status \
         FROM stripe_objects o LEFT JOIN payout_links l \
         ON l.tenant_id = o.tenant_id AND l.payout_id = o.id AND l.mode = o.mode \
         WHERE o.tenant_id = {} AND o.kind = 'payout'",
        p.bind(tenant_id)
    );
    if let Some(c) = before {
        sql.push_str(&format!(
            " AND (o.created, o.id) < ({}, {})",
            p.bind(c.at),
            p.bind(&c.id)
        ));
    }
    sql.push_str(&format!(
        " ORDER BY o.created DESC, o.id DESC LIMIT {}",
        p.bind(limit.clamp(1, MAX_PAGE))
    ));
    (sql, p.0)
}

fn transactions_query(tenant_id: &str, payouts: &[&str]) -> (String, Vec<crate::db::Value>) {
    let mut p = Params::default();
    let tenant = p.bind(tenant_id);
    let ids: Vec<String> = payouts.iter().map(|id| p.bind(*id)).collect();
    let sql = format!(
        "SELECT t.payout_id, t.mode, b.id, b.amount, b.currency, b.created, b.data \
         FROM payout_transactions t JOIN stripe_objects b \
         ON b.tenant_id = t.tenant_id AND b.mode = t.mode AND b.kind = 'balance_transaction' AND b.id = t.transaction_id \
         WHERE t.tenant_id = {tenant} AND t.payout_id IN ({})",
        ids.join(", ")
    );
    (sql, p.0)
}

/// A finalized invoice (any status but `draft`) that no collected payment is linked to (a
/// declined or pending payment collected nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceGap {
    /// `inv_…`
    pub invoice_id: String,
    /// The engine's status: `open`, `payment_failed` and `processing` are waiting for a
    /// payment; `partially_paid`, `paid`, `partially_refunded` and `refunded` say money came,
    /// and no payment here shows it.
    pub status: String,
    /// e.g. `eur`.
    pub currency: String,
    /// The amount due, in minor units.
    pub amount: i64,
    /// Received, as the invoice records it, in minor units.
    pub amount_paid: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// A collected payment (`succeeded`, `partially_refunded` or `refunded`) linked to neither an
/// invoice nor an appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentGap {
    /// `pi_…`
    pub payment_id: String,
    /// The engine's status.
    pub status: String,
    /// e.g. `eur`.
    pub currency: String,
    /// Captured, in minor units.
    pub captured: i64,
    /// Refunded, in minor units.
    pub refunded: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// An invoice whose amounts disagree with the payments linked to it.
///
/// Of the payments linked to the invoice, those in the invoice's currency give `captured` (the
/// sum of what they captured) and `refunded` (the sum of what was refunded of them, net of
/// failed refunds); `net` is `captured - refunded`. The invoice is listed when
///
/// - `amount_paid` (what the invoice records as received, not net of refunds) is not
///   `captured` ([`paid_differs`](AmountDiff::paid_differs)): the invoice and its payments
///   disagree about the money received; or
/// - `amount` (the amount due) is not `net` ([`net_differs`](AmountDiff::net_differs)): the
///   payments, net of refunds, do not settle the invoice exactly (underpaid, overpaid, or
///   refunded); or
/// - a linked payment collected money in another currency (`other_currency_payments`), which
///   no sum here can compare.
///
/// An invoice whose payments collected nothing (and that records nothing received) is not
/// listed here but under [`Reconciliation::invoices_without_payment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AmountDiff {
    /// `inv_…`
    pub invoice_id: String,
    /// The engine's status.
    pub status: String,
    /// The invoice's currency, which every sum here is in.
    pub currency: String,
    /// The amount due, in minor units.
    pub amount: i64,
    /// Received, as the invoice records it, in minor units.
    pub amount_paid: i64,
    /// Captured by its payments in `currency`, in minor units.
    pub captured: i64,
    /// Refunded of its payments in `currency`, in minor units.
    pub refunded: i64,
    /// `captured - refunded`.
    pub net: i64,
    /// How many payments are linked to it (in any currency).
    pub payments: i64,
    /// How many of them collected money in another currency than the invoice's.
    pub other_currency_payments: i64,
    /// `amount_paid != captured`.
    pub paid_differs: bool,
    /// `amount != net`.
    pub net_differs: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// Where invoices and payments do not match up: three sections, each newest first and at most
/// `limit_per_section` long (1 to [`MAX_PAGE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// Finalized invoices with no collected payment linked.
    pub invoices_without_payment: Vec<InvoiceGap>,
    /// Collected payments linked to no invoice and no appointment.
    pub payments_without_invoice: Vec<PaymentGap>,
    /// Invoices whose amounts differ from their payments' ([`AmountDiff`] says how).
    pub amounts_differ: Vec<AmountDiff>,
}

/// Compares a tenant's invoices with its payments (see [`Reconciliation`]).
///
/// Each section is one query through an index: invoices newest first from `(tenant,
/// created_at, id)`, each looked up among payments by `(tenant, invoice_id)`; unlinked
/// collected payments from their partial index; the sums per invoice from the covering
/// `(tenant, invoice_id, currency, captured, refunded)` index of payments.
pub fn reconciliation(
    conn: &mut dyn Conn,
    tenant_id: &str,
    limit_per_section: i64,
) -> Result<Reconciliation, DbError> {
    let limit = limit_per_section.clamp(1, MAX_PAGE);
    let (sql, params) = invoices_without_payment_query(tenant_id, limit);
    let invoices_without_payment = conn
        .query(&sql, &params)?
        .iter()
        .map(|r| InvoiceGap {
            invoice_id: r.text(0),
            status: r.text(1),
            currency: r.text(2),
            amount: r.int(3),
            amount_paid: r.int(4),
            created_at: r.int(5),
        })
        .collect();
    let (sql, params) = payments_without_invoice_query(tenant_id, limit);
    let payments_without_invoice = conn
        .query(&sql, &params)?
        .iter()
        .map(|r| PaymentGap {
            payment_id: r.text(0),
            status: r.text(1),
            currency: r.text(2),
            captured: r.int(3),
            refunded: r.int(4),
            updated_at: r.int(5),
        })
        .collect();
    let (sql, params) = amounts_differ_query(tenant_id, limit);
    let amounts_differ = conn
        .query(&sql, &params)?
        .iter()
        .map(|r| {
            let (amount, amount_paid, captured, refunded) =
                (r.int(3), r.int(4), r.int(5), r.int(6));
            AmountDiff {
                invoice_id: r.text(0),
                status: r.text(1),
                currency: r.text(2),
                amount,
                amount_paid,
                captured,
                refunded,
                net: captured - refunded,
                payments: r.int(7),
                other_currency_payments: r.int(8),
                paid_differs: amount_paid != captured,
                net_differs: amount != captured - refunded,
                created_at: r.int(9),
            }
        })
        .collect();
    Ok(Reconciliation {
        invoices_without_payment,
        payments_without_invoice,
        amounts_differ,
    })
}

/// `draft` is the only invoice status before it is finalized (core's `invoice::Status`). A
/// payment that collected nothing (declined, canceled, still pending) is no payment here: the
/// invoice is still waiting for its money.
fn invoices_without_payment_query(tenant_id: &str, limit: i64) -> (String, Vec<crate::db::Value>) {
    let mut p = Params::default();
    let sql = format!(
        "SELECT i.id, i.status, i.currency, i.amount, i.amount_paid, i.created_at FROM invoices i \
         WHERE i.tenant_id = {} AND i.status <> 'draft' \
         AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.tenant_id = i.tenant_id AND p.invoice_id = i.id AND p.captured > 0) \
         ORDER BY i.created_at DESC, i.id DESC LIMIT {}",
        p.bind(tenant_id),
        p.bind(limit)
    );
    (sql, p.0)
}

/// The condition is the partial index `payments_unlinked`'s, word for word.
fn payments_without_invoice_query(tenant_id: &str, limit: i64) -> (String, Vec<crate::db::Value>) {
    let mut p = Params::default();
    let sql = format!(
        "SELECT id, status, currency, captured, refunded, updated_at FROM payments \
         WHERE tenant_id = {} AND invoice_id IS NULL AND appointment_id IS NULL \
         AND status IN ('succeeded', 'partially_refunded', 'refunded') \
         ORDER BY updated_at DESC, id DESC LIMIT {}",
        p.bind(tenant_id),
        p.bind(limit)
    );
    (sql, p.0)
}

/// Grouped by the payments' `invoice_id`, which the covering index is in order of, so the sums
/// come off it without a sort; the invoice's columns are one value per group (hence `MAX`).
fn amounts_differ_query(tenant_id: &str, limit: i64) -> (String, Vec<crate::db::Value>) {
    let mut p = Params::default();
    let sql = format!(
        "SELECT id, status, currency, amount, amount_paid, captured, refunded, payments, others, created_at FROM (\
           SELECT p.invoice_id AS id, MAX(i.status) AS status, MAX(i.currency) AS currency, \
             MAX(i.amount) AS amount, MAX(i.amount_paid) AS amount_paid, MAX(i.created_at) AS created_at, \
             CAST(SUM(CASE WHEN p.currency = i.currency THEN p.captured ELSE 0 END) AS BIGINT) AS captured, \
             CAST(SUM(CASE WHEN p.currency = i.currency THEN p.refunded ELSE 0 END) AS BIGINT) AS refunded, \
             COUNT(*) AS payments, \
             CAST(SUM(CASE WHEN p.currency <> i.currency AND p.captured > 0 THEN 1 ELSE 0 END) AS BIGINT) AS others \
           FROM payments p JOIN invoices i ON i.id = p.invoice_id AND i.tenant_id = p.tenant_id \
           WHERE p.tenant_id = {} AND p.invoice_id IS NOT NULL \
           GROUP BY p.invoice_id\
         ) sums \
         WHERE (captured > 0 OR amount_paid > 0 OR others > 0) \
           AND (amount_paid <> captured OR amount <> captured - refunded OR others > 0) \
         ORDER BY created_at DESC, id DESC LIMIT {}",
        p.bind(tenant_id),
        p.bind(limit)
    );
    (sql, p.0)
}

/// `minor` as a decimal in `currency`'s units (`1250` EUR → `12.50`, JPY → `1250`, KWD →
/// `1.250`); the minor units themselves for a code that is not a currency.
pub fn decimal(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => Money::new(minor, c).to_decimal_string(),
        Err(_) => minor.to_string(),
    }
}

/// A cell a spreadsheet would take for a formula, with a `'` in front; any other cell as it is.
/// Plain numbers (`-12.50`, `+3`) are left alone: they are numbers, not formulas.
fn neutralise(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// An optional sign, digits, and optionally a `.` and more digits.
fn is_plain_number(cell: &str) -> bool {
    let body = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

/// Writes a header and rows as CSV (RFC 4180: quoted where needed, CRLF line ends), every
/// cell neutralised. Writing to memory cannot fail; should the writer ever report an error,
/// the rows written before it are returned.
fn write_csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut ok = w.write_record(header).is_ok();
    for row in rows {
        if !ok {
            break;
        }
        ok = w
            .write_record(row.iter().map(|c| neutralise(c).into_owned()))
            .is_ok();
    }
    let bytes = w
        .into_inner()
        .unwrap_or_else(|e| e.into_inner().get_ref().clone());
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`revenue_per_day`]'s rows as CSV, one line per day and currency.
pub fn revenue_csv(days: &[DayRevenue]) -> String {
    let rows: Vec<Vec<String>> = days
        .iter()
        .map(|d| {
            let c = d.currency.as_str();
            vec![
                d.day.clone(),
                d.currency.clone(),
                d.payments.to_string(),
                d.gross.to_string(),
                decimal(d.gross, c),
                d.refunded.to_string(),
                decimal(d.refunded, c),
                d.disputed.to_string(),
                decimal(d.disputed, c),
                d.net.to_string(),
                decimal(d.net, c),
            ]
        })
        .collect();
    write_csv(
        &[
            "day",
            "currency",
            "payments",
            "gross_minor",
            "gross",
            "refunded_minor",
            "refunded",
            "disputed_minor",
            "disputed",
            "net_minor",
            "net",
        ],
        &rows,
    )
}

/// [`payouts`]' rows as CSV: one line per balance transaction, the payout's columns repeated
/// on each; a payout without known transactions gets one line with the transaction columns
/// empty.
pub fn payouts_csv(payouts: &[PayoutView]) -> String {
    let mut rows = Vec::new();
    for p in payouts {
        let currency = p.currency.clone().unwrap_or_default();
        let payout = vec![
            p.id.clone(),
            p.mode.clone(),
            p.status.clone().unwrap_or_default(),
            p.amount.map(|a| a.to_string()).unwrap_or_default(),
            p.amount.map(|a| decimal(a, &currency)).unwrap_or_default(),
            currency.clone(),
            format_time(p.created),
            p.arrival_date.map(date).unwrap_or_default(),
            p.transactions_known.to_string(),
        ];
        if p.transactions.is_empty() {
            let mut row = payout.clone();
            row.extend(std::iter::repeat_n(String::new(), 11));
            rows.push(row);
        }
        for t in &p.transactions {
            let c = t.currency.as_str();
            let mut row = payout.clone();
            row.extend([
                t.id.clone(),
                t.kind.clone(),
                t.currency.clone(),
                t.amount.to_string(),
                decimal(t.amount, c),
                t.fee.to_string(),
                decimal(t.fee, c),
                t.net.to_string(),
                decimal(t.net, c),
                t.source.clone().unwrap_or_default(),
                format_time(t.created),
            ]);
            rows.push(row);
        }
    }
    write_csv(
        &[
            "payout_id",
            "mode",
            "payout_status",
            "payout_amount_minor",
            "payout_amount",
            "payout_currency",
            "payout_created",
            "arrival_date",
            "transactions_known",
            "transaction_id",
            "transaction_type",
            "transaction_currency",
            "amount_minor",
            "amount",
            "fee_minor",
            "fee",
            "net_minor",
            "net",
            "source",
            "transaction_created",
        ],
        &rows,
    )
}

/// [`reconciliation`]'s sections as one CSV, a `section` column saying which
/// (`invoice_without_payment`, `payment_without_invoice`, `amounts_differ`); columns a section
/// has no value for are empty.
pub fn reconciliation_csv(r: &Reconciliation) -> String {
    let money = |minor: i64, currency: &str| [minor.to_string(), decimal(minor, currency)];
    let empty = || [String::new(), String::new()];
    let mut rows = Vec::new();
    for g in &r.invoices_without_payment {
        let mut row = vec![
            "invoice_without_payment".to_owned(),
            g.invoice_id.clone(),
            g.status.clone(),
            g.currency.clone(),
        ];
        row.extend(money(g.amount, &g.currency));
        row.extend(money(g.amount_paid, &g.currency));
        row.extend(empty());
        row.extend(empty());
        row.extend(empty());
        row.extend([String::new(), String::new(), format_time(g.created_at)]);
        rows.push(row);
    }
    for g in &r.payments_without_invoice {
        let mut row = vec![
            "payment_without_invoice".to_owned(),
            g.payment_id.clone(),
            g.status.clone(),
            g.currency.clone(),
        ];
        row.extend(empty());
        row.extend(empty());
        row.extend(money(g.captured, &g.currency));
        row.extend(money(g.refunded, &g.currency));
        row.extend(money(g.captured - g.refunded, &g.currency));
        row.extend([String::new(), String::new(), format_time(g.updated_at)]);
        rows.push(row);
    }
    for d in &r.amounts_differ {
        let mut row = vec![
            "amounts_differ".to_owned(),
            d.invoice_id.clone(),
            d.status.clone(),
            d.currency.clone(),
        ];
        row.extend(money(d.amount, &d.currency));
        row.extend(money(d.amount_paid, &d.currency));
        row.extend(money(d.captured, &d.currency));
        row.extend(money(d.refunded, &d.currency));
        row.extend(money(d.net, &d.currency));
        let mut why = Vec::new();
        if d.paid_differs {
            why.push("amount_paid differs from captured");
        }
        if d.net_differs {
            why.push("amount differs from net");
        }
        if d.other_currency_payments > 0 {
            why.push("payment in another currency");
        }
        row.extend([
            d.other_currency_payments.to_string(),
            why.join("; "),
            format_time(d.created_at),
        ]);
        rows.push(row);
    }
    write_csv(
        &[
            "section",
            "id",
            "status",
            "currency",
            "amount_minor",
            "amount",
            "amount_paid_minor",
            "amount_paid",
            "captured_minor",
            "captured",
            "refunded_minor",
            "refunded",
            "net_minor",
            "net",
            "other_currency_payments",
            "difference",
            "at",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        for (cell, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("-", "'-"),
            ("-12.50", "-12.50"),
            ("-1250", "-1250"),
            ("+3", "+3"),
            ("12.", "12."),
            ("pi_123", "pi_123"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), shown, "{cell:?}");
        }
        assert_eq!(neutralise("-.5"), "'-.5");
    }

    #[test]
    fn decimals_follow_the_currency() {
        assert_eq!(decimal(1250, "eur"), "12.50");
        assert_eq!(decimal(-5, "usd"), "-0.05");
        assert_eq!(decimal(1250, "jpy"), "1250");
        assert_eq!(decimal(1250, "kwd"), "1.250");
        assert_eq!(decimal(1250, "not a currency"), "1250");
    }

    #[test]
    fn the_finalized_invoice_statuses_are_all_but_draft() {
        use payhook_core::machine::invoice::Status;
        // The reconciliation names `draft` in SQL; it must stay the engine's name for it.
        assert_eq!(serde_json::to_value(Status::Draft).unwrap(), "draft");
    }

    #[test]
    fn ledger_kinds_fold_into_days() {
        use crate::db::Value;
        let row = |day: i64, currency: &str, kind: &str, sum: i64, n: i64| {
            Row(vec![
                Value::Int(day),
                currency.into(),
                kind.into(),
                Value::Int(sum),
                Value::Int(n),
            ])
        };
        let days = fold_revenue(&[
            // 20454 days after 1970-01-01 is 2026-01-01.
            row(20_455, "eur", "payment", 5000, 2),
            row(20_455, "eur", "refund", 1000, 1),
            row(20_455, "eur", "refund_reversal", 400, 1),
            row(20_455, "eur", "dispute_loss", 300, 1),
            row(20_455, "eur", "something_new", 999, 1),
            row(20_454, "jpy", "payment", 700, 1),
        ]);
        assert_eq!(
            days,
            [
                DayRevenue {
                    day: "2026-01-01".into(),
                    currency: "jpy".into(),
                    gross: 700,
                    refunded: 0,
                    disputed: 0,
                    net: 700,
                    payments: 1,
                },
                DayRevenue {
                    day: "2026-01-02".into(),
                    currency: "eur".into(),
                    gross: 5000,
                    refunded: 900,
                    disputed: 300,
                    net: 4100,
                    payments: 2,
                },
            ]
        );
    }

    #[test]
    fn cursors_read_back_and_bad_ones_say_what_is_wrong() {
        let c = PageCursor {
            at: 1_767_225_600,
            id: "pi_3Abc".into(),
        };
        assert_eq!(c.to_string(), "1767225600.pi_3Abc");
        assert_eq!("1767225600.pi_3Abc".parse::<PageCursor>().unwrap(), c);
        // The id may itself hold no dot, but the time may be negative.
        assert_eq!("-5.x".parse::<PageCursor>().unwrap().at, -5);
        for (bad, why) in [
            ("", "no '.'"),
            ("1767225600", "no '.'"),
            ("abc.pi_1", "whole unix seconds"),
            ("1.5.pi_1", "the id"),
            (".pi_1", "whole unix seconds"),
            ("99999999999999999999.pi_1", "too large"),
            ("1767225600.", "the id"),
            ("1767225600.pi 1", "the id"),
        ] {
            let e = bad.parse::<PageCursor>().unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains("bad page cursor"),
                "{bad:?}: {e}"
            );
        }
    }
}
