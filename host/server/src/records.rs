//! The domain records the engine's machines run on: invoices and appointments (the host's own),
//! payments and subscriptions (Stripe's, keyed by Stripe id), and ledger entries.
//!
//! Each record keeps its machine state as the JSON document the engine reads and writes; the
//! columns beside it (status, amounts) are derived from that document whenever it changes, so
//! lists and filters never parse JSON.

use payhook_core::machine::{appointment, invoice, payment, subscription};
use payhook_core::money::Money;
use serde::Serialize;
use serde_json::Value as Json;

use crate::db::{Conn, DbError, Params, Row};
use crate::ids::{is_plausible, new_id};

/// The most metadata one record may carry (as JSON text), as in Stripe's 50 keys × 500 chars.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// An invoice or an appointment, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// `inv_…` or `apt_…`
    pub id: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// The amount due, in minor units.
    pub amount: i64,
    /// e.g. `eur`.
    pub currency: String,
    /// The amount due as a decimal string, e.g. `20.00`.
    pub amount_display: String,
    /// The host's customer reference.
    pub customer: Option<String>,
    /// The engine's status, e.g. `open`, `paid` (invoices), `held`, `confirmed` (appointments).
    pub status: String,
    /// Received, in minor units (not net of refunds).
    pub amount_paid: i64,
    /// Refunded, in minor units.
    pub amount_refunded: i64,
    /// Free-form key/values.
    pub metadata: Json,
    /// The machine state document.
    pub state: Json,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// When the appointment starts (unix seconds), for appointments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    /// The invoice's Payment Link, once made (see [`PaymentLink`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_link: Option<PaymentLink>,
}

/// The Payment Link made for an invoice when it was finalized.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentLink {
    /// `pending` (being made), `created` or `failed`.
    pub status: String,
    /// The link to send the customer, once created.
    pub url: Option<String>,
    /// Why it failed, or the last error while it is retried.
    pub error: Option<String>,
    /// Attempts so far.
    pub attempts: i64,
}

/// What a write expects to find: anything (the caller holds the row's lock), no row yet, or
/// exactly this state (compare-and-set, for decisions made outside the write transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// Write whatever is there.
    Any,
    /// Only when there is no row yet.
    Absent,
    /// Only when the row's state is this one.
    State(&'a str),
}

/// Which of the host's record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// `invoices`
    Invoice,
    /// `appointments`
    Appointment,
}

impl RecordKind {
    fn table(self) -> &'static str {
        match self {
            RecordKind::Invoice => "invoices",
            RecordKind::Appointment => "appointments",
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            RecordKind::Invoice => "inv",
            RecordKind::Appointment => "apt",
        }
    }
    /// `invoice` or `appointment`.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Invoice => "invoice",
            RecordKind::Appointment => "appointment",
        }
    }
}

/// What a new invoice or appointment needs.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// The amount due.
    pub amount: Money,
    /// The host's customer reference.
    pub customer: Option<String>,
    /// Free-form description (invoices).
    pub description: Option<String>,
    /// When the appointment starts (appointments).
    pub starts_at: Option<i64>,
    /// A JSON object of strings.
    pub metadata: Json,
}

/// Why a record was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Metadata must be a JSON object of strings, and small.
    #[error("metadata must be a JSON object of string values of at most {max} bytes in all")]
    InvalidMetadata {
        /// The limit.
        max: usize,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Creates an invoice (open for `amount`) or an appointment (holding its slot), with the state
/// document `state` from the engine.
pub fn create(
    conn: &mut dyn Conn,
    kind: RecordKind,
    tenant_id: &str,
    new: &NewRecord,
    state: &str,
    now: i64,
) -> Result<Record, RecordError> {
    let metadata = check_metadata(&new.metadata)?;
    let id = new_id(kind.prefix());
    let summary = summarize(kind, state);
    match kind {
        RecordKind::Invoice => conn.execute(
            "INSERT INTO invoices (id, tenant_id, amount, currency, customer, description, metadata, state, status, amount_paid, amount_refunded, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                id.as_str().into(),
                tenant_id.into(),
                new.amount.minor.into(),
                new.amount.currency.as_str().into(),
                new.customer.clone().into(),
                new.description.clone().into(),
                metadata.into(),
                state.into(),
                summary.status.into(),
                summary.paid.into(),
                summary.refunded.into(),
                now.into(),
                now.into(),
            ],
        )?,
        RecordKind::Appointment => conn.execute(
            "INSERT INTO appointments (id, tenant_id, amount, currency, customer, starts_at, metadata, state, status, amount_paid, amount_refunded, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                id.as_str().into(),
                tenant_id.into(),
                new.amount.minor.into(),
                new.amount.currency.as_str().into(),
                new.customer.clone().into(),
                new.starts_at.into(),
                metadata.into(),
                state.into(),
                summary.status.into(),
                summary.paid.into(),
                summary.refunded.into(),
                now.into(),
                now.into(),
            ],
        )?,
    };
    get(conn, kind, &id)?
        .ok_or_else(|| DbError::Query(format!("{} {id} vanished after insert", kind.name())).into())
}

/// One invoice or appointment, by id.
pub fn get(conn: &mut dyn Conn, kind: RecordKind, id: &str) -> Result<Option<Record>, DbError> {
    if !is_plausible(id) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {} FROM {} WHERE id = $1",
        columns(kind),
        kind.table()
    );
    Ok(conn.query_opt(&sql, &[id.into()])?.map(|r| record(&r)))
}

/// A tenant's invoices or appointments, newest first, optionally with one status.
pub fn list(
    conn: &mut dyn Conn,
    kind: RecordKind,
    tenant_id: &str,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<Record>, DbError> {
    list_page(conn, kind, tenant_id, status, None, limit)
}

/// A page of a tenant's invoices or appointments, newest first (by `created_at`, then id),
/// optionally with one status: the rows after `before` (the last row of the previous page, see
/// [`PageCursor::of_record`]). At most `limit` rows, 1 to [`MAX_PAGE`].
pub fn list_page(
    conn: &mut dyn Conn,
    kind: RecordKind,
    tenant_id: &str,
    status: Option<&str>,
    before: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<Record>, DbError> {
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT {} FROM {} WHERE tenant_id = {}",
        columns(kind),
        kind.table(),
        p.bind(tenant_id)
    );
    if let Some(status) = status {
        sql.push_str(&format!(" AND status = {}", p.bind(status)));
    }
    page_tail(&mut p, &mut sql, "created_at", before, limit);
    Ok(conn.query(&sql, &p.0)?.iter().map(record).collect())
}

/// The most rows one page may have.
pub const MAX_PAGE: i64 = 1000;

/// Ends a page's query: the rows strictly before `before` in `(time, id)` order, newest first,
/// at most `limit` (1 to [`MAX_PAGE`]). `time` is a column name of ours, never user input.
fn page_tail(
    p: &mut Params,
    sql: &mut String,
    time: &str,
    before: Option<&PageCursor>,
    limit: i64,
) {
    if let Some(c) = before {
        let (at, id) = (p.bind(c.at), p.bind(&c.id));
        sql.push_str(&format!(" AND ({time}, id) < ({at}, {id})"));
    }
    let limit = p.bind(page_limit(limit));
    sql.push_str(&format!(" ORDER BY {time} DESC, id DESC LIMIT {limit}"));
}

fn page_limit(limit: i64) -> i64 {
    limit.clamp(1, MAX_PAGE)
}

/// Where a page read newest first ends: the time its rows are ordered by (unix seconds:
/// `updated_at` for payments and subscriptions, `created_at` for invoices and appointments,
/// `created` for payouts) and the id of its last row, which breaks ties. The next page is the
/// rows strictly before it, so rows that share a time are neither repeated nor skipped.
///
/// Written (and read back with [`str::parse`]) as `"{at}.{id}"`, e.g. `1767225600.pi_3Abc`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PageCursor {
    /// The last row's time, unix seconds.
    pub at: i64,
    /// The last row's id.
    pub id: String,
}

impl PageCursor {
    /// The cursor after `record` in a list of invoices or appointments.
    pub fn of_record(record: &Record) -> PageCursor {
        PageCursor {
            at: record.created_at,
            id: record.id.clone(),
        }
    }

    /// The cursor after `payment` in a list of payments.
    pub fn of_payment(payment: &PaymentRecord) -> PageCursor {
        PageCursor {
            at: payment.updated_at,
            id: payment.id.clone(),
        }
    }

    /// The cursor after `subscription` in a list of subscriptions.
    pub fn of_subscription(subscription: &SubscriptionRecord) -> PageCursor {
        PageCursor {
            at: subscription.updated_at,
            id: subscription.id.clone(),
        }
    }
}

impl std::fmt::Display for PageCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.at, self.id)
    }
}

/// A page cursor that is not `"{at}.{id}"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad page cursor {input:?}: {reason}; use the cursor a page gave, \"{{unix seconds}}.{{id}}\" (e.g. 1767225600.pi_3Abc)"
)]
pub struct CursorError {
    /// What was given (at most 80 characters of it).
    pub input: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl std::str::FromStr for PageCursor {
    type Err = CursorError;

    fn from_str(text: &str) -> Result<PageCursor, CursorError> {
        let bad = |reason| CursorError {
            input: text.chars().take(80).collect(),
            reason,
        };
        let (at, id) = text
            .split_once('.')
            .ok_or_else(|| bad("there is no '.' between the time and the id"))?;
        let digits = at.strip_prefix('-').unwrap_or(at);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the time before the '.' must be whole unix seconds"));
        }
        let at = at
            .parse::<i64>()
            .map_err(|_| bad("the time is too large for unix seconds"))?;
        let id_ok = !id.is_empty()
            && id.len() <= 255
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(bad(
                "the id after the '.' must be 1 to 255 letters, digits, '_' or '-'",
            ));
        }
        Ok(PageCursor {
            at,
            id: id.to_owned(),
        })
    }
}

/// The state document of a tenant's record, for the worker.
pub fn state_for_update(
    conn: &mut dyn Conn,
    kind: RecordKind,
    tenant_id: &str,
    id: &str,
) -> Result<Option<String>, DbError> {
    if !is_plausible(id) {
        return Ok(None);
    }
    let lock = if conn.backend() == crate::db::Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT state FROM {} WHERE id = $1 AND tenant_id = $2{lock}",
        kind.table()
    );
    Ok(conn
        .query_opt(&sql, &[id.into(), tenant_id.into()])?
        .map(|r| r.text(0)))
}

/// Stores a record's next state and the columns derived from it; false when `expected` did not
/// hold (nothing written).
pub fn save_state(
    conn: &mut dyn Conn,
    kind: RecordKind,
    id: &str,
    state: &str,
    expected: Expect<'_>,
    now: i64,
) -> Result<bool, DbError> {
    let s = summarize(kind, state);
    let (guard, old) = match expected {
        Expect::State(old) => (" AND state = $7", Some(old)),
        // A record is made by the host before any event names it: there is always a row.
        Expect::Any | Expect::Absent => ("", None),
    };
    let sql = format!(
        "UPDATE {} SET state = $1, status = $2, amount_paid = $3, amount_refunded = $4, updated_at = $5 WHERE id = $6{guard}",
        kind.table()
    );
    let mut params: Vec<crate::db::Value> = vec![
        state.into(),
        s.status.into(),
        s.paid.into(),
        s.refunded.into(),
        now.into(),
        id.into(),
    ];
    if let Some(old) = old {
        params.push(old.into());
    }
    Ok(conn.execute(&sql, &params)? == 1)
}

fn columns(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Invoice => {
            "id, tenant_id, amount, currency, customer, status, amount_paid, amount_refunded, metadata, state, created_at, updated_at, NULL, \
             payment_link_status, payment_link_url, payment_link_error, payment_link_attempts"
        }
        RecordKind::Appointment => {
            "id, tenant_id, amount, currency, customer, status, amount_paid, amount_refunded, metadata, state, created_at, updated_at, starts_at, \
             NULL, NULL, NULL, 0"
        }
    }
}

fn record(r: &Row) -> Record {
    let currency = r.text(3);
    let amount = r.int(2);
    let amount_display = payhook_core::money::Currency::parse(&currency)
        .map(|c| {
            Money {
                minor: amount,
                currency: c,
            }
            .to_decimal_string()
        })
        .unwrap_or_else(|_| amount.to_string());
    Record {
        id: r.text(0),
        tenant_id: r.text(1),
        amount,
        currency,
        amount_display,
        customer: r.opt_text(4),
        status: r.text(5),
        amount_paid: r.int(6),
        amount_refunded: r.int(7),
        metadata: serde_json::from_str(&r.text(8)).unwrap_or(Json::Null),
        state: serde_json::from_str(&r.text(9)).unwrap_or(Json::Null),
        created_at: r.int(10),
        updated_at: r.int(11),
        starts_at: r.opt_int(12),
        payment_link: r.opt_text(13).map(|status| PaymentLink {
            status,
            url: r.opt_text(14),
            error: r.opt_text(15),
            attempts: r.int(16),
        }),
    }
}

/// The most attempts at making an invoice's Payment Link before it is marked failed.
pub const MAX_LINK_ATTEMPTS: i64 = 8;

/// Asks for a Payment Link for a finalized invoice: the server's link worker makes it.
pub fn want_payment_link(conn: &mut dyn Conn, invoice: &str, now: i64) -> Result<(), DbError> {
    conn.execute(
        "UPDATE invoices SET payment_link_status = 'pending', payment_link_next_at = $1 \
         WHERE id = $2 AND (payment_link_status IS NULL OR payment_link_status = 'failed')",
        &[now.into(), invoice.into()],
    )?;
    Ok(())
}

/// Invoices whose Payment Link is due to be made (or retried): (tenant, invoice, attempts).
pub fn links_due(
    conn: &mut dyn Conn,
    now: i64,
    limit: i64,
) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(conn
        .query(
            "SELECT tenant_id, id, payment_link_attempts FROM invoices \
             WHERE payment_link_status = 'pending' AND payment_link_next_at <= $1 \
             ORDER BY payment_link_next_at LIMIT $2",
            &[now.into(), limit.into()],
        )?
        .iter()
        .map(|r| (r.text(0), r.text(1), r.int(2)))
        .collect())
}

/// Records the outcome of an attempt at an invoice's Payment Link: the URL; or an error that
/// is retried at `retry_at` (None: given up).
pub fn save_link_attempt(
    conn: &mut dyn Conn,
    invoice: &str,
    outcome: Result<&str, (&str, Option<i64>)>,
) -> Result<(), DbError> {
    match outcome {
        Ok(url) => conn.execute(
            "UPDATE invoices SET payment_link_status = 'created', payment_link_url = $1, payment_link_error = NULL, \
             payment_link_attempts = payment_link_attempts + 1, payment_link_next_at = NULL WHERE id = $2",
            &[url.into(), invoice.into()],
        )?,
        Err((error, retry_at)) => conn.execute(
            "UPDATE invoices SET payment_link_status = $1, payment_link_error = $2, \
             payment_link_attempts = payment_link_attempts + 1, payment_link_next_at = $3 WHERE id = $4",
            &[
                if retry_at.is_some() { "pending" } else { "failed" }.into(),
                error.into(),
                retry_at.into(),
                invoice.into(),
            ],
        )?,
    };
    Ok(())
}

fn check_metadata(metadata: &Json) -> Result<String, RecordError> {
    let err = RecordError::InvalidMetadata {
        max: MAX_METADATA_BYTES,
    };
    let object = match metadata {
        Json::Null => return Ok("{}".to_owned()),
        Json::Object(o) => o,
        _ => return Err(err),
    };
    if !object.values().all(Json::is_string) {
        return Err(err);
    }
    let text = metadata.to_string();
    if text.len() > MAX_METADATA_BYTES {
        return Err(err);
    }
    Ok(text)
}

/// The columns derived from a state document.
pub(crate) struct Summary {
    pub status: String,
    pub paid: i64,
    pub refunded: i64,
}

fn status_name<T: Serialize>(status: &T) -> String {
    match serde_json::to_value(status) {
        Ok(Json::String(s)) => s,
        _ => "unknown".to_owned(),
    }
}

pub(crate) fn summarize(kind: RecordKind, state: &str) -> Summary {
    let unknown = Summary {
        status: "unknown".to_owned(),
        paid: 0,
        refunded: 0,
    };
    match kind {
        RecordKind::Invoice => match serde_json::from_str::<invoice::State>(state) {
            Ok(s) => Summary {
                status: status_name(&s.status),
                paid: s.settlement.paid_total(),
                refunded: s.settlement.refunded_total(),
            },
            Err(_) => unknown,
        },
        RecordKind::Appointment => match serde_json::from_str::<appointment::State>(state) {
            Ok(s) => Summary {
                status: status_name(&s.status),
                paid: s.settlement.paid_total(),
                refunded: s.settlement.refunded_total(),
            },
            Err(_) => unknown,
        },
    }
}

/// A payment as Stripe knows it.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentRecord {
    /// `pi_…` (or `ch_…`, `cs_…` when there is no PaymentIntent).
    pub id: String,
    /// e.g. `eur`.
    pub currency: String,
    /// The engine's status, e.g. `succeeded`, `partially_refunded`.
    pub status: String,
    /// Captured, in minor units.
    pub captured: i64,
    /// Refunded (net of failed refunds), in minor units.
    pub refunded: i64,
    /// The dispute's status, if there is one.
    pub dispute_status: Option<String>,
    /// The invoice it settles, if any.
    pub invoice_id: Option<String>,
    /// The appointment it pays, if any.
    pub appointment_id: Option<String>,
    /// The machine state document.
    pub state: Json,
    /// Unix seconds.
    pub updated_at: i64,
    /// When payhook first stored it (unix seconds).
    pub created_at: i64,
}

/// The state of a tenant's payment, for the worker.
pub fn payment_state_for_update(
    conn: &mut dyn Conn,
    tenant_id: &str,
    id: &str,
) -> Result<Option<String>, DbError> {
    let lock = if conn.backend() == crate::db::Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!("SELECT state FROM payments WHERE tenant_id = $1 AND id = $2{lock}");
    Ok(conn
        .query_opt(&sql, &[tenant_id.into(), id.into()])?
        .map(|r| r.text(0)))
}

/// Inserts or updates a payment's state and derived columns.
pub fn save_payment(
    conn: &mut dyn Conn,
    tenant_id: &str,
    id: &str,
    state: &str,
    links: (&Option<String>, &Option<String>),
    expected: Expect<'_>,
    now: i64,
) -> Result<bool, DbError> {
    let Ok(s) = serde_json::from_str::<payment::State>(state) else {
        return Err(DbError::Query(format!(
            "the engine returned a payment state payhook cannot read for {id}"
        )));
    };
    let status = status_name(&s.status);
    let dispute = s.dispute.as_ref().map(|d| status_name(&d.status));
    let (invoice, appointment) = links;
    let (conflict, old) = match expected {
        Expect::Any => (
            "DO UPDATE SET state = excluded.state, status = excluded.status, captured = excluded.captured, \
         refunded = excluded.refunded, dispute_status = excluded.dispute_status, \
         invoice_id = COALESCE(payments.invoice_id, excluded.invoice_id), \
         appointment_id = COALESCE(payments.appointment_id, excluded.appointment_id), updated_at = excluded.updated_at",
            None,
        ),
        Expect::Absent => ("DO NOTHING", None),
        Expect::State(old) => (
            "DO UPDATE SET state = excluded.state, status = excluded.status, captured = excluded.captured, \
         refunded = excluded.refunded, dispute_status = excluded.dispute_status, \
         invoice_id = COALESCE(payments.invoice_id, excluded.invoice_id), \
         appointment_id = COALESCE(payments.appointment_id, excluded.appointment_id), updated_at = excluded.updated_at \
         WHERE payments.state = $13",
            Some(old),
        ),
    };
    let sql = format!(
        "INSERT INTO payments (tenant_id, id, currency, state, status, captured, refunded, dispute_status, invoice_id, appointment_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (tenant_id, id) {conflict}"
    );
    let mut params: Vec<crate::db::Value> = vec![
        tenant_id.into(),
        id.into(),
        s.currency.as_str().into(),
        state.into(),
        status.into(),
        s.captured.into(),
        s.net_refunded().into(),
        dispute.into(),
        invoice.clone().into(),
        appointment.clone().into(),
        now.into(),
        now.into(),
    ];
    if let Some(old) = old {
        params.push(old.into());
    }
    Ok(conn.execute(&sql, &params)? == 1)
}

/// A tenant's payments, most recently changed first, optionally with one status.
pub fn list_payments(
    conn: &mut dyn Conn,
    tenant_id: &str,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<PaymentRecord>, DbError> {
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = {}",
        p.bind(tenant_id)
    );
    if let Some(status) = status {
        sql.push_str(&format!(" AND status = {}", p.bind(status)));
    }
    sql.push_str(&format!(
        " ORDER BY updated_at DESC, id DESC LIMIT {}",
        p.bind(page_limit(limit))
    ));
    Ok(conn.query(&sql, &p.0)?.iter().map(payment).collect())
}

/// The groups the dashboard shows payments in, over the engine's payment statuses (`created`,
/// `requires_action`, `processing`, `failed`, `canceled`, `succeeded`, `partially_refunded`,
/// `refunded`). A payment is in the one group of its status, and in
/// [`Disputed`](PaymentGroup::Disputed) as well while it has a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentGroup {
    /// `succeeded`: collected, nothing refunded.
    Succeeded,
    /// `created`, `requires_action` or `processing`: no outcome yet.
    Pending,
    /// `failed` or `canceled`.
    Failed,
    /// `partially_refunded` or `refunded`.
    Refunded,
    /// Any status, with a dispute (`dispute_status` set).
    Disputed,
}

impl PaymentGroup {
    /// Every group, in the order a dashboard shows them.
    pub const ALL: [PaymentGroup; 5] = [
        PaymentGroup::Succeeded,
        PaymentGroup::Pending,
        PaymentGroup::Failed,
        PaymentGroup::Refunded,
        PaymentGroup::Disputed,
    ];

    /// `succeeded`, `pending`, `failed`, `refunded` or `disputed`.
    pub fn name(self) -> &'static str {
        match self {
            PaymentGroup::Succeeded => "succeeded",
            PaymentGroup::Pending => "pending",
            PaymentGroup::Failed => "failed",
            PaymentGroup::Refunded => "refunded",
            PaymentGroup::Disputed => "disputed",
        }
    }

    /// The group's condition on `payments`. The multi-status groups and disputes repeat, word
    /// for word, the condition of their partial index (schema v6), which is what lets SQLite
    /// read the page from it.
    pub(crate) fn condition(self) -> &'static str {
        match self {
            PaymentGroup::Succeeded => "status = 'succeeded'",
            PaymentGroup::Pending => "status IN ('created', 'requires_action', 'processing')",
            PaymentGroup::Failed => "status IN ('failed', 'canceled')",
            PaymentGroup::Refunded => "status IN ('partially_refunded', 'refunded')",
            PaymentGroup::Disputed => "dispute_status IS NOT NULL",
        }
    }
}

impl std::fmt::Display for PaymentGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`PaymentGroup`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payment group {0:?}; use one of succeeded, pending, failed, refunded, disputed")]
pub struct UnknownGroup(pub String);

impl std::str::FromStr for PaymentGroup {
    type Err = UnknownGroup;

    fn from_str(text: &str) -> Result<PaymentGroup, UnknownGroup> {
        PaymentGroup::ALL
            .into_iter()
            .find(|g| g.name() == text)
            .ok_or_else(|| UnknownGroup(text.chars().take(40).collect()))
    }
}

/// Which payments a page shows.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    /// Only this group (all payments when `None`).
    pub group: Option<PaymentGroup>,
    /// Only payments after this place: the last row of the previous page
    /// ([`PageCursor::of_payment`]).
    pub before: Option<PageCursor>,
    /// At most this many, 1 to [`MAX_PAGE`].
    pub limit: i64,
}

const PAYMENT_COLUMNS: &str = "id, currency, status, captured, refunded, dispute_status, invoice_id, appointment_id, state, updated_at, created_at";

fn payment(r: &Row) -> PaymentRecord {
    PaymentRecord {
        id: r.text(0),
        currency: r.text(1),
        status: r.text(2),
        captured: r.int(3),
        refunded: r.int(4),
        dispute_status: r.opt_text(5),
        invoice_id: r.opt_text(6),
        appointment_id: r.opt_text(7),
        state: serde_json::from_str(&r.text(8)).unwrap_or(Json::Null),
        updated_at: r.int(9),
        created_at: r.int(10),
    }
}

/// A page of a tenant's payments, most recently changed first (by `updated_at`, then id), in
/// one group or all; the next page starts from the last row's [`PageCursor::of_payment`].
pub fn list_payments_page(
    conn: &mut dyn Conn,
    tenant_id: &str,
    filter: &PaymentFilter,
) -> Result<Vec<PaymentRecord>, DbError> {
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = {}",
        p.bind(tenant_id)
    );
    if let Some(group) = filter.group {
        sql.push_str(" AND ");
        sql.push_str(group.condition());
    }
    page_tail(
        &mut p,
        &mut sql,
        "updated_at",
        filter.before.as_ref(),
        filter.limit,
    );
    Ok(conn.query(&sql, &p.0)?.iter().map(payment).collect())
}

/// One of a tenant's payments, by Stripe id.
pub fn get_payment(
    conn: &mut dyn Conn,
    tenant_id: &str,
    id: &str,
) -> Result<Option<PaymentRecord>, DbError> {
    if !is_plausible(id) {
        return Ok(None);
    }
    Ok(conn
        .query_opt(
            &format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = $1 AND id = $2"),
            &[tenant_id.into(), id.into()],
        )?
        .map(|r| payment(&r)))
}

/// A subscription as Stripe knows it.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionRecord {
    /// `sub_…`
    pub id: String,
    /// e.g. `active`, `past_due`.
    pub status: String,
    /// End of the current period (unix seconds).
    pub current_period_end: Option<i64>,
    /// Set to cancel at the end of its period.
    pub cancel_at_period_end: bool,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The state of a tenant's subscription, for the worker.
pub fn subscription_state_for_update(
    conn: &mut dyn Conn,
    tenant_id: &str,
    id: &str,
) -> Result<Option<String>, DbError> {
    let lock = if conn.backend() == crate::db::Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!("SELECT state FROM subscriptions WHERE tenant_id = $1 AND id = $2{lock}");
    Ok(conn
        .query_opt(&sql, &[tenant_id.into(), id.into()])?
        .map(|r| r.text(0)))
}

/// Inserts or updates a subscription's state and derived columns.
pub fn save_subscription(
    conn: &mut dyn Conn,
    tenant_id: &str,
    id: &str,
    state: &str,
    expected: Expect<'_>,
    now: i64,
) -> Result<bool, DbError> {
    let Ok(s) = serde_json::from_str::<subscription::State>(state) else {
        return Err(DbError::Query(format!(
            "the engine returned a subscription state payhook cannot read for {id}"
        )));
    };
    let update = "DO UPDATE SET state = excluded.state, status = excluded.status, \
         current_period_end = excluded.current_period_end, cancel_at_period_end = excluded.cancel_at_period_end, updated_at = excluded.updated_at";
    let (conflict, old) = match expected {
        Expect::Any => (update.to_owned(), None),
        Expect::Absent => ("DO NOTHING".to_owned(), None),
        Expect::State(old) => (
            format!("{update} WHERE subscriptions.state = $9"),
            Some(old),
        ),
    };
    let sql = format!(
        "INSERT INTO subscriptions (tenant_id, id, state, status, current_period_end, cancel_at_period_end, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, id) {conflict}"
    );
    let mut params: Vec<crate::db::Value> = vec![
        tenant_id.into(),
        id.into(),
        state.into(),
        status_name(&s.status).into(),
        s.current_period_end.into(),
        s.cancels_at_period_end().into(),
        now.into(),
        now.into(),
    ];
    if let Some(old) = old {
        params.push(old.into());
    }
    Ok(conn.execute(&sql, &params)? == 1)
}

/// A tenant's subscriptions, most recently changed first, optionally with one status.
pub fn list_subscriptions(
    conn: &mut dyn Conn,
    tenant_id: &str,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<SubscriptionRecord>, DbError> {
    list_subscriptions_page(conn, tenant_id, status, None, limit)
}

/// A page of a tenant's subscriptions, most recently changed first (by `updated_at`, then id),
/// optionally with one status; the next page starts from the last row's
/// [`PageCursor::of_subscription`]. At most `limit` rows, 1 to [`MAX_PAGE`].
pub fn list_subscriptions_page(
    conn: &mut dyn Conn,
    tenant_id: &str,
    status: Option<&str>,
    before: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<SubscriptionRecord>, DbError> {
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT id, status, current_period_end, cancel_at_period_end, updated_at FROM subscriptions \
         WHERE tenant_id = {}",
        p.bind(tenant_id)
    );
    if let Some(status) = status {
        sql.push_str(&format!(" AND status = {}", p.bind(status)));
    }
    page_tail(&mut p, &mut sql, "updated_at", before, limit);
    Ok(conn
        .query(&sql, &p.0)?
        .iter()
        .map(|r| SubscriptionRecord {
            id: r.text(0),
            status: r.text(1),
            current_period_end: r.opt_int(2),
            cancel_at_period_end: r.int(3) != 0,
            updated_at: r.int(4),
        })
        .collect())
}

/// One accounting record.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerEntry {
    /// The payment it moved on.
    pub payment_id: String,
    /// `payment`, `refund`, `refund_reversal` or `dispute_loss`.
    pub kind: String,
    /// Always positive; `kind` gives the direction.
    pub amount: i64,
    /// e.g. `eur`.
    pub currency: String,
    /// The running total of `kind` on the payment after it.
    pub total: i64,
    /// The event that booked it.
    pub event_id: String,
    /// The invoice it belongs to, if any.
    pub invoice_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Books an entry; an entry with the same `(payment, kind, total)` is booked once only.
/// Returns whether it was new.
pub fn book(conn: &mut dyn Conn, tenant_id: &str, entry: &LedgerEntry) -> Result<bool, DbError> {
    let n = conn.execute(
        "INSERT INTO ledger_entries (tenant_id, payment_id, kind, amount, currency, total, event_id, invoice_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, payment_id, kind, total) DO NOTHING",
        &[
            tenant_id.into(),
            entry.payment_id.as_str().into(),
            entry.kind.as_str().into(),
            entry.amount.into(),
            entry.currency.as_str().into(),
            entry.total.into(),
            entry.event_id.as_str().into(),
            entry.invoice_id.clone().into(),
            entry.created_at.into(),
        ],
    )?;
    Ok(n == 1)
}

/// A tenant's ledger, oldest first.
pub fn ledger(
    conn: &mut dyn Conn,
    tenant_id: &str,
    limit: i64,
) -> Result<Vec<LedgerEntry>, DbError> {
    let rows = conn.query(
        "SELECT payment_id, kind, amount, currency, total, event_id, invoice_id, created_at FROM ledger_entries \
         WHERE tenant_id = $1 ORDER BY seq LIMIT $2",
        &[tenant_id.into(), limit.into()],
    )?;
    Ok(rows
        .iter()
        .map(|r| LedgerEntry {
            payment_id: r.text(0),
            kind: r.text(1),
            amount: r.int(2),
            currency: r.text(3),
            total: r.int(4),
            event_id: r.text(5),
            invoice_id: r.opt_text(6),
            created_at: r.int(7),
        })
        .collect())
}
