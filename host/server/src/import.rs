//! History import and gap detection: what `payhook import` and `payhook reconcile` run.
//!
//! **Import** pages Stripe's Events, Charges, Refunds, Payouts and Balance Transactions lists
//! from a date on. Events go into the webhook [inbox](crate::inbox) with the same statement the
//! webhook endpoint uses (unique per tenant and event id), so an event that arrives both ways is
//! stored once and processed once. The other objects are upserted into `stripe_objects`. Each
//! page is stored in one transaction together with the list's cursor, so an interrupted run goes
//! on where it stopped, and a finished one is followed by runs that ask only for what is newer.
//!
//! After the payouts, each automatic payout not linked yet has its balance transactions listed
//! (`GET /v1/balance_transactions?payout=…`): they are upserted into `stripe_objects` and linked
//! to it in `payout_transactions`, a page at a time with the payout's cursor in `payout_links`,
//! so this too goes on where it stopped, and a linked payout is not asked about again. Stripe
//! keeps no such list for manual payouts; those are marked `manual`.
//!
//! **Reconcile** lists Stripe's events from a date on and stores the ones the inbox lacks.
//!
//! The engine builds every request and reads every answer; this module only decides what to
//! ask. Stripe lists newest first and filters every list by `created`; fakes may list oldest
//! first and take the filter on the events list alone (localstripe refuses it, or fails, on the
//! others). So `created[gte]` is sent for events only (and dropped if refused), every list is
//! filtered here as well, and a list that comes newest first stops at the first page that
//! reaches past the date. Paging follows `starting_after`, which is stable in either order.

use std::sync::Arc;

use payhook_core::stripe::response::{ApiError, Object, Page};
use payhook_core::stripe::{ListKind, Operation};
use serde::Serialize;
use serde_json::Value as Json;

use crate::connection::Mode;
use crate::db::{Conn, Database, DbConn, DbError, Params, Value, transaction};
use crate::ids::{is_plausible, now_secs};
use crate::inbox::{self, NewDelivery, Stored};
use crate::seal::Sealer;
use crate::secret::Secret;
use crate::stripe::{StripeClient, StripeError};
use crate::tenants::{self, TenantError};

/// Every list `import` pages, in order.
pub const LISTS: [ListKind; 5] = [
    ListKind::Events,
    ListKind::Charges,
    ListKind::Refunds,
    ListKind::Payouts,
    ListKind::BalanceTransactions,
];
/// Objects per page (Stripe's most).
pub const PAGE_SIZE: u32 = 100;
/// After a finished import, the next run asks for what was created from this long before the
/// newest object it saw (objects created in the same second, a clock a little off).
pub const INCREMENTAL_MARGIN_SECS: i64 = 10 * 60;
/// Reconcile starts this long before the time its previous run had compared up to.
pub const RECONCILE_MARGIN_SECS: i64 = 10 * 60;
/// A first reconcile starts this long before the newest stored event (Stripe retries a
/// delivery for up to three days; anything older that is missing is not coming any more).
pub const FIRST_RECONCILE_WINDOW_SECS: i64 = 3 * 24 * 60 * 60;

/// Why an import or a reconcile did not run (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No such tenant.
    #[error("no tenant {0:?}")]
    NoTenant(String),
    /// The tenant has no connection in that mode.
    #[error("tenant {tenant:?} has no {mode} connection")]
    NoConnection {
        /// The tenant.
        tenant: String,
        /// The mode asked for.
        mode: Mode,
    },
    /// The tenant has no connected Stripe account at all.
    #[error("tenant {0:?} has no connected Stripe account; connect one first")]
    NotConnected(String),
    /// The tenant has both connections and no mode was given.
    #[error("tenant {0:?} has a test and a live connection; say which with --mode")]
    ModeRequired(String),
    /// The connection was disconnected: its key is gone.
    #[error(
        "the {mode} connection of tenant {tenant:?} was disconnected; connect it again to import"
    )]
    Disconnected {
        /// The tenant.
        tenant: String,
        /// The mode.
        mode: Mode,
    },
    /// The connection is disabled.
    #[error(
        "the {mode} connection of tenant {tenant:?} is disabled; enable it (payhook tenant enable) to import"
    )]
    Disabled {
        /// The tenant.
        tenant: String,
        /// The mode.
        mode: Mode,
    },
    /// A date that is not `YYYY-MM-DD` or unix seconds, or not a sensible one.
    #[error("bad date {input:?}: {reason}")]
    BadDate {
        /// What was given.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// Stripe refused a page, or could not be reached.
    #[error("listing {list} from Stripe failed: {source}")]
    Stripe {
        /// `events`, `charges`…
        list: &'static str,
        /// Stripe's error (boxed: it carries Stripe's whole error object).
        #[source]
        source: Box<StripeError>,
    },
    /// Stripe answered a list request with something that is not a list.
    #[error("Stripe answered the {list} list with a {object} instead of a list")]
    NotAList {
        /// The list asked for.
        list: &'static str,
        /// What came back.
        object: String,
    },
    /// The connection's key would not open, or another tenant error.
    #[error(transparent)]
    Tenant(TenantError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A database task did not finish.
    #[error("a database task failed: {0}")]
    Task(String),
}

/// The name of a list, as in its URL and in reports.
pub fn list_name(list: ListKind) -> &'static str {
    match list {
        ListKind::Events => "events",
        ListKind::Charges => "charges",
        ListKind::Refunds => "refunds",
        ListKind::Payouts => "payouts",
        ListKind::BalanceTransactions => "balance_transactions",
    }
}

/// The `kind` stored in `stripe_objects` for a list's objects (Stripe's object name).
fn object_kind(list: ListKind) -> &'static str {
    match list {
        ListKind::Events => "event",
        ListKind::Charges => "charge",
        ListKind::Refunds => "refund",
        ListKind::Payouts => "payout",
        ListKind::BalanceTransactions => "balance_transaction",
    }
}

/// A tenant's connection, opened for listing: which tenant and mode, and the secret key (which
/// never prints).
#[derive(Clone)]
pub struct Source {
    /// The tenant.
    pub tenant: String,
    /// The connection's mode.
    pub mode: Mode,
    secret: Secret,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("tenant", &self.tenant)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// Opens the connection of `tenant` in `mode` (or its only connection), refusing an unknown
    /// tenant, a missing, disconnected or disabled connection.
    pub fn open(
        conn: &mut dyn Conn,
        sealer: &Sealer,
        tenant: &str,
        mode: Option<Mode>,
    ) -> Result<Source, ImportError> {
        let view = tenants::show(conn, tenant)
            .map_err(ImportError::Tenant)?
            .ok_or_else(|| ImportError::NoTenant(tenant.to_owned()))?;
        let mode = match mode {
            Some(m) => m,
            None => {
                let usable: Vec<Mode> = view
                    .connections
                    .iter()
                    .filter(|c| c.disconnected_at.is_none())
                    .map(|c| c.mode)
                    .collect();
                match usable.as_slice() {
                    [one] => *one,
                    [] => return Err(ImportError::NotConnected(tenant.to_owned())),
                    _ => return Err(ImportError::ModeRequired(tenant.to_owned())),
                }
            }
        };
        let (tenant, view) = (tenant.to_owned(), view);
        let Some(c) = view.connections.iter().find(|c| c.mode == mode) else {
            return Err(ImportError::NoConnection { tenant, mode });
        };
        if c.disconnected_at.is_some() {
            return Err(ImportError::Disconnected { tenant, mode });
        }
        if !c.enabled {
            return Err(ImportError::Disabled { tenant, mode });
        }
        let connection = tenants::load(conn, sealer, &tenant, mode).map_err(|e| match e {
            TenantError::NotFound { id, mode } => ImportError::NoConnection { tenant: id, mode },
            TenantError::Disconnected { id, mode } => {
                ImportError::Disconnected { tenant: id, mode }
            }
            other => ImportError::Tenant(other),
        })?;
        Ok(Source {
            secret: connection.secret_key().clone(),
            tenant,
            mode,
        })
    }
}

/// Reads a date: `YYYY-MM-DD` (midnight UTC) or unix seconds. Refuses dates before 1970 or
/// after `now`.
pub fn parse_since(input: &str, now: i64) -> Result<i64, ImportError> {
    let bad = |reason: &str| ImportError::BadDate {
        input: input.chars().take(64).collect(),
        reason: reason.to_owned(),
    };
    let text = input.trim();
    let secs = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>()
            .map_err(|_| bad("too large for unix seconds"))?
    } else {
        let parts: Vec<&str> = text.split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(bad("give YYYY-MM-DD or unix seconds"));
        };
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
            return Err(bad("give YYYY-MM-DD or unix seconds"));
        }
        let (y, m, d): (i64, i64, i64) = (
            y.parse().unwrap_or(0),
            m.parse().unwrap_or(0),
            d.parse().unwrap_or(0),
        );
        if !(1..=12).contains(&m) {
            return Err(bad("the month must be 01 to 12"));
        }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if d < 1 || d > month_days[(m - 1) as usize] {
            return Err(bad("no such day in that month"));
        }
        if y < 1970 {
            return Err(bad("before 1970"));
        }
        days_from_civil(y, m, d) * 86_400
    };
    if secs > now {
        return Err(bad("it is in the future"));
    }
    Ok(secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the usual era-based computation).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`, for reports.
pub fn format_time(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // The inverse of `days_from_civil`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Objects created at or after this (unix seconds).
    pub since: i64,
    /// Which lists ([`LISTS`] by default).
    pub lists: Vec<ListKind>,
    /// Objects per page, 1 to 100.
    pub page_size: u32,
    /// Stop each list after this many pages (it goes on from there next time).
    pub max_pages: Option<u32>,
    /// Ignore the stored cursors and page everything from `since` again.
    pub restart: bool,
}

impl ImportOptions {
    /// Every list from `since`, in full pages.
    pub fn since(since: i64) -> ImportOptions {
        ImportOptions {
            since,
            lists: LISTS.to_vec(),
            page_size: PAGE_SIZE,
            max_pages: None,
            restart: false,
        }
    }
}

/// How a list's run began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// From `since`, with no cursor (or `restart`).
    Fresh,
    /// An unfinished run, going on from its cursor.
    Resumed,
    /// After a finished run: only what was created since its newest object (less a margin).
    Incremental,
}

/// What happened to one list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Objects Stripe listed at or after the date.
    pub fetched: u64,
    /// Of these, stored now.
    pub new: u64,
    /// Of these, stored before (objects are updated; events are left as they are).
    pub present: u64,
    /// Listed but older than the date (when the server does not filter), or events without
    /// an id, type or date.
    pub skipped: u64,
}

/// One list's import.
#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    /// `events`, `charges`, `refunds`, `payouts`, `balance_transactions`.
    pub list: ListKind,
    /// How the run began.
    pub start: Start,
    /// The `created` filter of this run (unix seconds).
    pub since: i64,
    /// Pages fetched in this run.
    pub pages: u32,
    /// What this run found.
    #[serde(flatten)]
    pub counts: Counts,
    /// Whether Stripe was asked to filter by date, and did (events only; the other lists are
    /// filtered here).
    pub server_filter: bool,
    /// Whether the list was paged to its end (false when stopped by `max_pages`).
    pub complete: bool,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The tenant.
    pub tenant: String,
    /// The connection's mode.
    pub mode: Mode,
    /// The date asked for (unix seconds).
    pub since: i64,
    /// Per list, in order.
    pub lists: Vec<ListReport>,
    /// What linking payouts to their balance transactions did (when payouts were imported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_links: Option<PayoutLinks>,
    /// Whether every list was paged to its end.
    pub complete: bool,
}

/// What linking payouts to the balance transactions they paid out did, in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PayoutLinks {
    /// Payouts whose balance transactions are now all stored and linked.
    pub linked: u64,
    /// Links between a payout and a balance transaction stored now.
    pub transactions: u64,
    /// Manual payouts: Stripe does not say which balance transactions they paid out.
    pub manual: u64,
    /// Payouts whose balance transactions Stripe would not list (why is kept with the payout).
    pub refused: u64,
    /// Pages of balance transactions fetched.
    pub pages: u32,
}

/// Told as pages are stored (the CLI's progress bar).
pub trait Progress: Send + Sync {
    /// A page of `list` is stored; `counts` so far in this run.
    fn page(&self, list: ListKind, counts: &Counts);
    /// `list` is done (or stopped).
    fn finished(&self, report: &ListReport);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn page(&self, _: ListKind, _: &Counts) {}
    fn finished(&self, _: &ListReport) {}
}

/// Runs `f` on a connection of `db`, off the async runtime.
async fn blocking<T: Send + 'static>(
    db: &Database,
    f: impl FnOnce(&mut DbConn) -> Result<T, ImportError> + Send + 'static,
) -> Result<T, ImportError> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.conn()?;
        f(&mut conn)
    })
    .await
    .map_err(|e| ImportError::Task(e.to_string()))?
}

/// The stored state of a list's import.
#[derive(Debug, Clone)]
struct Cursor {
    since: i64,
    run_since: i64,
    starting_after: Option<String>,
    high_water: Option<i64>,
}

/// Decides how a list's run begins and records it: fresh, resumed or incremental.
fn begin(
    conn: &mut dyn Conn,
    source: &Source,
    list: ListKind,
    since: i64,
    restart: bool,
) -> Result<(Start, Cursor), DbError> {
    transaction(conn, |tx| {
        let row = tx.query_opt(
            "SELECT since, run_since, starting_after, high_water, done FROM import_cursors \
             WHERE tenant_id = $1 AND mode = $2 AND list = $3",
            &[
                source.tenant.as_str().into(),
                source.mode.as_str().into(),
                list_name(list).into(),
            ],
        )?;
        let (start, cursor) = match row {
            Some(r) if !restart && since >= r.int(0) => {
                let stored = Cursor {
                    since: r.int(0),
                    run_since: r.int(1),
                    starting_after: r.opt_text(2),
                    high_water: r.opt_int(3),
                };
                if r.int(4) == 0 {
                    (Start::Resumed, stored)
                } else {
                    let run_since = stored
                        .high_water
                        .map_or(since, |hw| since.max(hw - INCREMENTAL_MARGIN_SECS));
                    (
                        Start::Incremental,
                        Cursor {
                            run_since,
                            starting_after: None,
                            ..stored
                        },
                    )
                }
            }
            _ => (
                Start::Fresh,
                Cursor {
                    since,
                    run_since: since,
                    starting_after: None,
                    high_water: None,
                },
            ),
        };
        tx.execute(
            "INSERT INTO import_cursors (tenant_id, mode, list, since, run_since, starting_after, high_water, done, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) \
             ON CONFLICT (tenant_id, mode, list) DO UPDATE SET since = excluded.since, run_since = excluded.run_since, \
             starting_after = excluded.starting_after, high_water = excluded.high_water, done = 0, updated_at = excluded.updated_at",
            &[
                source.tenant.as_str().into(),
                source.mode.as_str().into(),
                list_name(list).into(),
                cursor.since.into(),
                cursor.run_since.into(),
                cursor.starting_after.clone().into(),
                cursor.high_water.into(),
                now_secs().into(),
            ],
        )?;
        Ok((start, cursor))
    })
}

/// True when Stripe's refusal is about the `created` filter (fakes that do not take it); a
/// missing object named by `starting_after` is not.
fn filter_refused(e: &ApiError) -> bool {
    e.status == 400
        && e.kind == "invalid_request_error"
        && e.code.as_deref() != Some("resource_missing")
        && e.param.as_deref().is_none_or(|p| p.starts_with("created"))
}

/// Fetches one page of `list`; with `filter`, asks Stripe to filter by `created`.
async fn fetch(
    stripe: &StripeClient,
    source: &Source,
    list: ListKind,
    since: i64,
    filter: &mut bool,
    starting_after: Option<String>,
    limit: u32,
) -> Result<Page, ImportError> {
    loop {
        let op = Operation::List {
            list,
            created_gte: filter.then_some(since),
            payout: None,
            starting_after: starting_after.clone(),
            limit,
        };
        match stripe.call(&source.secret, &op, None).await {
            Ok(Object::List(page)) => return Ok(page),
            Ok(other) => {
                return Err(ImportError::NotAList {
                    list: list_name(list),
                    object: object_name(&other),
                });
            }
            Err(StripeError::Api(e)) if *filter && filter_refused(&e) => {
                tracing::debug!(list = list_name(list), refused = %e, "the server does not filter this list by date; paging all of it");
                *filter = false;
            }
            Err(source) => {
                return Err(ImportError::Stripe {
                    list: list_name(list),
                    source: Box::new(source),
                });
            }
        }
    }
}

/// The `object` of an answer, for an error.
fn object_name(o: &Object) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.get("object").and_then(Json::as_str).map(str::to_owned))
        .unwrap_or_default()
}

/// True when a page comes newest first (strictly: a list in store order never does) and its
/// oldest object is older than `since`: the pages after it hold only older objects.
fn past(page: &Page, since: i64) -> bool {
    match (
        page.data.first().and_then(created),
        page.data.last().and_then(created),
    ) {
        (Some(first), Some(last)) => first > last && last < since,
        _ => false,
    }
}

fn created(o: &Json) -> Option<i64> {
    o.get("created").and_then(Json::as_i64)
}

/// An event from a list, as the inbox stores a webhook delivery; `None` without an id, a type
/// or a date.
fn delivery(source: &Source, event: &Json) -> Option<NewDelivery> {
    let s = |k: &str| event.get(k).and_then(Json::as_str);
    let id = s("id").filter(|id| is_plausible(id))?;
    Some(NewDelivery {
        tenant_id: source.tenant.clone(),
        mode: source.mode,
        event_id: id.to_owned(),
        event_type: s("type")?.to_owned(),
        livemode: event
            .get("livemode")
            .and_then(Json::as_bool)
            .unwrap_or(source.mode == Mode::Live),
        created: created(event)?,
        api_version: s("api_version").map(str::to_owned),
        body: event.to_string(),
    })
}

/// Stores events through the inbox, oldest first; returns (new, present, skipped) and what was
/// stored new.
fn store_events(
    conn: &mut dyn Conn,
    source: &Source,
    events: &[Json],
) -> Result<(Counts, Vec<String>), DbError> {
    let mut counts = Counts::default();
    let mut deliveries: Vec<NewDelivery> = Vec::with_capacity(events.len());
    for e in events {
        match delivery(source, e) {
            Some(d) => deliveries.push(d),
            None => counts.skipped += 1,
        }
    }
    deliveries.sort_by_key(|d| d.created);
    let refs: Vec<&NewDelivery> = deliveries.iter().collect();
    let stored = inbox::insert_many(conn, &refs)?;
    let mut new_ids = Vec::new();
    for (d, s) in deliveries.iter().zip(stored) {
        match s {
            Stored::New => {
                counts.new += 1;
                new_ids.push(d.event_id.clone());
            }
            Stored::Duplicate => counts.present += 1,
        }
    }
    Ok((counts, new_ids))
}

/// Upserts objects of `kind`; returns how many were new and how many present.
fn store_objects(
    conn: &mut dyn Conn,
    source: &Source,
    kind: &str,
    objects: &[Json],
) -> Result<Counts, DbError> {
    let mut counts = Counts::default();
    let now = now_secs();
    for o in objects {
        let (Some(id), Some(created)) = (o.get("id").and_then(Json::as_str), created(o)) else {
            counts.skipped += 1;
            continue;
        };
        let key: [Value; 4] = [
            source.tenant.as_str().into(),
            source.mode.as_str().into(),
            kind.into(),
            id.into(),
        ];
        let present = conn
            .query_opt(
                "SELECT 1 FROM stripe_objects WHERE tenant_id = $1 AND mode = $2 AND kind = $3 AND id = $4",
                &key,
            )?
            .is_some();
        let mut params = key.to_vec();
        params.extend([
            created.into(),
            o.get("status").and_then(Json::as_str).into(),
            o.get("amount").and_then(Json::as_i64).into(),
            o.get("currency").and_then(Json::as_str).into(),
            o.to_string().into(),
            now.into(),
        ]);
        conn.execute(
            "INSERT INTO stripe_objects (tenant_id, mode, kind, id, created, status, amount, currency, data, imported_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (tenant_id, mode, kind, id) DO UPDATE SET created = excluded.created, status = excluded.status, \
             amount = excluded.amount, currency = excluded.currency, data = excluded.data, updated_at = excluded.updated_at",
            &params,
        )?;
        if present {
            counts.present += 1;
        } else {
            counts.new += 1;
        }
    }
    Ok(counts)
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.fetched += other.fetched;
        self.new += other.new;
        self.present += other.present;
        self.skipped += other.skipped;
    }
}

/// Imports `source`'s history: every list of `options` from `options.since`, through the inbox
/// for events. Safe to run while webhooks arrive, and again after an interruption.
pub async fn import(
    db: &Database,
    stripe: &StripeClient,
    source: &Source,
    options: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    let mut reports = Vec::new();
    let mut payout_links = None;
    for &list in &options.lists {
        let report = import_list(db, stripe, source, list, options, progress).await?;
        progress.finished(&report);
        reports.push(report);
        if list == ListKind::Payouts {
            payout_links = Some(link_payouts(db, stripe, source, options).await?);
        }
    }
    Ok(ImportReport {
        tenant: source.tenant.clone(),
        mode: source.mode,
        since: options.since,
        complete: reports.iter().all(|r| r.complete),
        lists: reports,
        payout_links,
    })
}

async fn import_list(
    db: &Database,
    stripe: &StripeClient,
    source: &Source,
    list: ListKind,
    options: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ListReport, ImportError> {
    let (s, since, restart) = (Arc::new(source.clone()), options.since, options.restart);
    let (start, cursor) = {
        let s = s.clone();
        blocking(db, move |c| Ok(begin(c, &s, list, since, restart)?)).await?
    };
    let mut report = ListReport {
        list,
        start,
        since: cursor.run_since,
        pages: 0,
        counts: Counts::default(),
        server_filter: list == ListKind::Events,
        complete: false,
    };
    let mut starting_after = cursor.starting_after.clone();
    let mut high_water = cursor.high_water;
    loop {
        if options.max_pages.is_some_and(|max| report.pages >= max) {
            return Ok(report);
        }
        let page = fetch(
            stripe,
            source,
            list,
            cursor.run_since,
            &mut report.server_filter,
            starting_after.clone(),
            options.page_size,
        )
        .await?;
        report.pages += 1;
        let done = !page.has_more || page.last_id.is_none() || past(&page, cursor.run_since);
        let (wanted, older): (Vec<Json>, Vec<Json>) = page
            .data
            .into_iter()
            .partition(|o| created(o).is_none_or(|c| c >= cursor.run_since));
        high_water = wanted.iter().filter_map(created).chain(high_water).max();
        let next = page.last_id.clone();
        let s = s.clone();
        let mut counts = blocking(db, move |c| {
            Ok(transaction(c, |tx| {
                let counts = if list == ListKind::Events {
                    store_events(tx, &s, &wanted)?.0
                } else {
                    store_objects(tx, &s, object_kind(list), &wanted)?
                };
                tx.execute(
                    "UPDATE import_cursors SET starting_after = $1, high_water = $2, done = $3, updated_at = $4 \
                     WHERE tenant_id = $5 AND mode = $6 AND list = $7",
                    &[
                        next.into(),
                        high_water.into(),
                        done.into(),
                        now_secs().into(),
                        s.tenant.as_str().into(),
                        s.mode.as_str().into(),
                        list_name(list).into(),
                    ],
                )?;
                Ok::<_, DbError>(Counts {
                    fetched: wanted.len() as u64,
                    ..counts
                })
            })?)
        })
        .await?;
        counts.fetched -= counts.skipped;
        counts.skipped += older.len() as u64;
        report.counts.add(&counts);
        progress.page(list, &report.counts);
        if done {
            report.complete = true;
            return Ok(report);
        }
        starting_after = page.last_id;
    }
}

/// The status of a payout in `payout_links`.
mod link {
    /// Its balance transactions are being listed; the next page starts after `starting_after`.
    pub const LINKING: &str = "linking";
    /// Every balance transaction it paid out is stored and linked.
    pub const LINKED: &str = "linked";
    /// A manual payout: Stripe keeps no list of what it paid out.
    pub const MANUAL: &str = "manual";
    /// Stripe refused to list its balance transactions; `error` says why.
    pub const REFUSED: &str = "refused";
}

/// Links each of `source`'s imported payouts that is not linked yet to the balance
/// transactions it paid out. Each page is stored in one transaction with the payout's cursor; a
/// payout Stripe will not list (a 400 or 404 for that payout) is marked refused and the others
/// go on, while any other failure stops the import (and the next run goes on from the cursor).
/// With `restart`, refused payouts are asked about again.
async fn link_payouts(
    db: &Database,
    stripe: &StripeClient,
    source: &Source,
    options: &ImportOptions,
) -> Result<PayoutLinks, ImportError> {
    const LIST: &str = "balance_transactions";
    let s = Arc::new(source.clone());
    let restart = options.restart;
    let pending = {
        let s = s.clone();
        blocking(db, move |c| Ok(unlinked_payouts(c, &s, restart)?)).await?
    };
    let mut report = PayoutLinks::default();
    for (payout, mut starting_after, automatic) in pending {
        if !automatic {
            let (s, payout) = (s.clone(), payout.clone());
            blocking(db, move |c| {
                Ok(mark_payout(c, &s, &payout, link::MANUAL, None, None)?)
            })
            .await?;
            report.manual += 1;
            continue;
        }
        loop {
            let op = Operation::List {
                list: ListKind::BalanceTransactions,
                created_gte: None,
                payout: Some(payout.clone()),
                starting_after: starting_after.clone(),
                limit: options.page_size,
            };
            let page = match stripe.call(&source.secret, &op, None).await {
                Ok(Object::List(page)) => page,
                Ok(other) => {
                    return Err(ImportError::NotAList {
                        list: LIST,
                        object: object_name(&other),
                    });
                }
                Err(e) => match payout_refusal(&e) {
                    Some(why) => {
                        let (s, payout) = (s.clone(), payout.clone());
                        blocking(db, move |c| {
                            Ok(mark_payout(
                                c,
                                &s,
                                &payout,
                                link::REFUSED,
                                None,
                                Some(&why),
                            )?)
                        })
                        .await?;
                        report.refused += 1;
                        break;
                    }
                    None => {
                        return Err(ImportError::Stripe {
                            list: LIST,
                            source: Box::new(e),
                        });
                    }
                },
            };
            report.pages += 1;
            let done = !page.has_more || page.last_id.is_none();
            let next = page.last_id.clone();
            let (s, payout_id) = (s.clone(), payout.clone());
            let cursor = next.clone();
            report.transactions += blocking(db, move |c| {
                Ok(transaction(c, |tx| {
                    store_objects(tx, &s, object_kind(ListKind::BalanceTransactions), &page.data)?;
                    let mut new = 0;
                    for id in page.data.iter().filter_map(|o| o.get("id").and_then(Json::as_str)) {
                        new += tx.execute(
                            "INSERT INTO payout_transactions (tenant_id, mode, payout_id, transaction_id) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (tenant_id, payout_id, mode, transaction_id) DO NOTHING",
                            &[
                                s.tenant.as_str().into(),
                                s.mode.as_str().into(),
                                payout_id.as_str().into(),
                                id.into(),
                            ],
                        )?;
                    }
                    let status = if done { link::LINKED } else { link::LINKING };
                    mark_payout(tx, &s, &payout_id, status, cursor.as_deref(), None)?;
                    Ok::<_, DbError>(new)
                })?)
            })
            .await?;
            if done {
                report.linked += 1;
                break;
            }
            starting_after = next;
        }
    }
    Ok(report)
}

/// The imported payouts still to link, oldest first: (id, the cursor of an unfinished listing,
/// whether it is automatic). A payout without `automatic` is taken for one.
fn unlinked_payouts(
    conn: &mut dyn Conn,
    source: &Source,
    restart: bool,
) -> Result<Vec<(String, Option<String>, bool)>, DbError> {
    let rows = conn.query(
        "SELECT o.id, o.data, l.status, l.starting_after FROM stripe_objects o \
         LEFT JOIN payout_links l ON l.tenant_id = o.tenant_id AND l.payout_id = o.id AND l.mode = o.mode \
         WHERE o.tenant_id = $1 AND o.mode = $2 AND o.kind = $3 ORDER BY o.created, o.id",
        &[
            source.tenant.as_str().into(),
            source.mode.as_str().into(),
            object_kind(ListKind::Payouts).into(),
        ],
    )?;
    Ok(rows
        .iter()
        .filter(|r| match r.opt_text(2).as_deref() {
            None | Some(link::LINKING) => true,
            Some(link::REFUSED) => restart,
            Some(_) => false,
        })
        .map(|r| {
            let automatic = serde_json::from_str::<Json>(&r.text(1))
                .ok()
                .and_then(|d| d.get("automatic").and_then(Json::as_bool))
                .unwrap_or(true);
            let cursor = r
                .opt_text(3)
                .filter(|_| r.opt_text(2).as_deref() == Some(link::LINKING));
            (r.text(0), cursor, automatic)
        })
        .collect())
}

/// Records how far linking a payout got.
fn mark_payout(
    conn: &mut dyn Conn,
    source: &Source,
    payout: &str,
    status: &str,
    starting_after: Option<&str>,
    error: Option<&str>,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO payout_links (tenant_id, mode, payout_id, status, starting_after, error, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, payout_id, mode) DO UPDATE SET \
         status = excluded.status, starting_after = excluded.starting_after, error = excluded.error, updated_at = excluded.updated_at",
        &[
            source.tenant.as_str().into(),
            source.mode.as_str().into(),
            payout.into(),
            status.into(),
            starting_after.into(),
            error.into(),
            now_secs().into(),
        ],
    )?;
    Ok(())
}

/// Why Stripe (or the engine) will not list one payout's balance transactions, when that is
/// about the payout (a filter Stripe refuses for it, a payout it does not know), not about the
/// key, the limits or the network.
fn payout_refusal(e: &StripeError) -> Option<String> {
    match e {
        StripeError::Api(api)
            if api.kind == "invalid_request_error" && matches!(api.status, 400 | 404) =>
        {
            Some(api.message.chars().take(500).collect())
        }
        StripeError::Refused { message, .. } => Some(message.chars().take(500).collect()),
        _ => None,
    }
}

/// What to reconcile.
#[derive(Debug, Clone)]
pub struct ReconcileOptions {
    /// Compare events created at or after this (unix seconds); by default from where the last
    /// reconcile got to (less [`RECONCILE_MARGIN_SECS`]), or for a first one
    /// [`FIRST_RECONCILE_WINDOW_SECS`] before the newest stored event.
    pub since: Option<i64>,
    /// Events per page, 1 to 100.
    pub page_size: u32,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions {
            since: None,
            page_size: PAGE_SIZE,
        }
    }
}

/// What a reconcile found.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcileReport {
    /// The tenant.
    pub tenant: String,
    /// The connection's mode.
    pub mode: Mode,
    /// Events compared were created at or after this (unix seconds).
    pub since: i64,
    /// ... and before this: when the listing began.
    pub through: i64,
    /// Whether `since` was the default.
    pub default_since: bool,
    /// Events Stripe listed.
    pub listed: u64,
    /// Of these, already in the inbox.
    pub present: u64,
    /// Of these, not in the inbox when compared.
    pub missing: Vec<String>,
    /// The missing events now stored (a missing event whose webhook arrived in the meantime is
    /// not among them).
    pub inserted: Vec<String>,
}

/// Where a reconcile starts by default.
fn default_since(conn: &mut dyn Conn, source: &Source, now: i64) -> Result<i64, DbError> {
    let key = [source.tenant.as_str().into(), source.mode.as_str().into()];
    if let Some(r) = conn.query_opt(
        "SELECT through FROM reconcile_marks WHERE tenant_id = $1 AND mode = $2",
        &key,
    )? {
        return Ok(r.int(0) - RECONCILE_MARGIN_SECS);
    }
    let newest = conn
        .query_opt(
            "SELECT MAX(created) FROM events WHERE tenant_id = $1 AND mode = $2",
            &key,
        )?
        .and_then(|r| r.opt_int(0))
        .unwrap_or(now)
        .min(now);
    Ok(newest - FIRST_RECONCILE_WINDOW_SECS)
}

/// Compares Stripe's events list with the inbox and stores what is missing (the worker then
/// processes it). Safe while webhooks arrive: the inbox stores each event once.
pub async fn reconcile(
    db: &Database,
    stripe: &StripeClient,
    source: &Source,
    options: &ReconcileOptions,
    progress: &dyn Progress,
) -> Result<ReconcileReport, ImportError> {
    let through = now_secs();
    let s = Arc::new(source.clone());
    let since = match options.since {
        Some(since) => since,
        None => {
            let s = s.clone();
            blocking(db, move |c| Ok(default_since(c, &s, through)?)).await?
        }
    };
    let mut report = ReconcileReport {
        tenant: source.tenant.clone(),
        mode: source.mode,
        since,
        through,
        default_since: options.since.is_none(),
        listed: 0,
        present: 0,
        missing: Vec::new(),
        inserted: Vec::new(),
    };
    let mut counts = Counts::default();
    let mut filter = true;
    let mut starting_after = None;
    loop {
        let page = fetch(
            stripe,
            source,
            ListKind::Events,
            since,
            &mut filter,
            starting_after.take(),
            options.page_size,
        )
        .await?;
        let events: Vec<Json> = page
            .data
            .into_iter()
            .filter(|e| created(e).is_some_and(|c| c >= since))
            .collect();
        let s = s.clone();
        let (listed, missing, inserted) = blocking(db, move |c| {
            let ids: Vec<&str> = events
                .iter()
                .filter_map(|e| e.get("id").and_then(Json::as_str))
                .collect();
            let present = present_events(c, &s.tenant, &ids)?;
            let missing: Vec<Json> = events
                .iter()
                .filter(|e| {
                    e.get("id")
                        .and_then(Json::as_str)
                        .is_some_and(|id| !present.contains(id))
                })
                .cloned()
                .collect();
            let missing_ids: Vec<String> = missing
                .iter()
                .filter_map(|e| e.get("id").and_then(Json::as_str).map(str::to_owned))
                .collect();
            let (_, inserted) = transaction(c, |tx| store_events(tx, &s, &missing))?;
            Ok((events.len() as u64, missing_ids, inserted))
        })
        .await?;
        report.listed += listed;
        report.present += listed - missing.len() as u64;
        counts.fetched += listed;
        counts.new += inserted.len() as u64;
        counts.present += listed - inserted.len() as u64;
        report.missing.extend(missing);
        report.inserted.extend(inserted);
        progress.page(ListKind::Events, &counts);
        match page.last_id {
            Some(last) if page.has_more => starting_after = Some(last),
            _ => break,
        }
    }
    let s = s.clone();
    blocking(db, move |c| {
        Ok(c.execute(
            "INSERT INTO reconcile_marks (tenant_id, mode, through, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, mode) DO UPDATE SET through = excluded.through, updated_at = excluded.updated_at",
            &[
                s.tenant.as_str().into(),
                s.mode.as_str().into(),
                through.into(),
                now_secs().into(),
            ],
        )?)
    })
    .await?;
    progress.finished(&ListReport {
        list: ListKind::Events,
        start: Start::Fresh,
        since,
        pages: 0,
        counts,
        server_filter: filter,
        complete: true,
    });
    Ok(report)
}

/// Which of `ids` the tenant's inbox holds.
fn present_events(
    conn: &mut dyn Conn,
    tenant: &str,
    ids: &[&str],
) -> Result<std::collections::HashSet<String>, DbError> {
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(200) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT event_id FROM events WHERE tenant_id = $1 AND event_id IN ({})",
            placeholders.join(", ")
        );
        let mut params: Vec<Value> = vec![tenant.into()];
        params.extend(chunk.iter().map(|id| Value::from(*id)));
        out.extend(conn.query(&sql, &params)?.iter().map(|r| r.text(0)));
    }
    Ok(out)
}

/// An imported object, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct StoredObject {
    /// Stripe's id (`po_…`, `ch_…`, `re_…`, `txn_…`).
    pub id: String,
    /// The connection's mode.
    pub mode: String,
    /// Stripe's `created` (unix seconds).
    pub created: i64,
    /// Stripe's `status`, when it has one.
    pub status: Option<String>,
    /// Minor units.
    pub amount: Option<i64>,
    /// e.g. `eur`.
    pub currency: Option<String>,
    /// The object as Stripe sent it.
    pub data: Json,
}

/// A tenant's imported objects of one list (not events), newest first.
pub fn list_objects(
    conn: &mut dyn Conn,
    tenant: &str,
    list: ListKind,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredObject>, DbError> {
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT id, mode, created, status, amount, currency, data FROM stripe_objects \
         WHERE tenant_id = {} AND kind = {}",
        p.bind(tenant),
        p.bind(object_kind(list))
    );
    if let Some(status) = status {
        sql.push_str(&format!(" AND status = {}", p.bind(status)));
    }
    sql.push_str(&format!(
        " ORDER BY created DESC, id DESC LIMIT {}",
        p.bind(limit)
    ));
    let rows = conn.query(&sql, &p.0)?;
    Ok(rows
        .iter()
        .map(|r| StoredObject {
            id: r.text(0),
            mode: r.text(1),
            created: r.int(2),
            status: r.opt_text(3),
            amount: r.opt_int(4),
            currency: r.opt_text(5),
            data: serde_json::from_str(&r.text(6)).unwrap_or(Json::Null),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn dates_are_days_or_unix_seconds() {
        assert_eq!(parse_since("1970-01-01", NOW).unwrap(), 0);
        assert_eq!(parse_since("2024-02-29", NOW).unwrap(), 1_709_164_800);
        assert_eq!(parse_since("2026-01-01", NOW).unwrap(), 1_767_225_600);
        assert_eq!(parse_since(" 1700000000 ", NOW).unwrap(), 1_700_000_000);
        for (bad, why) in [
            ("", "YYYY-MM-DD"),
            ("yesterday", "YYYY-MM-DD"),
            ("2024-1-01", "YYYY-MM-DD"),
            ("2024-13-01", "month"),
            ("2023-02-29", "no such day"),
            ("2024-04-31", "no such day"),
            ("1969-12-31", "before 1970"),
            ("2100-01-01", "future"),
            ("99999999999999999999", "too large"),
            ("-5", "YYYY-MM-DD"),
        ] {
            match parse_since(bad, NOW) {
                Err(e @ ImportError::BadDate { .. }) => {
                    assert!(e.to_string().contains(why), "{bad:?}: {e}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn times_read_back_as_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_709_164_800 + 3723), "2024-02-29 01:02:03 UTC");
        for day in ["2000-02-29", "2026-12-31", "2100-03-01"] {
            let secs = parse_since(day, i64::MAX).unwrap();
            assert_eq!(format_time(secs), format!("{day} 00:00:00 UTC"));
        }
    }

    #[test]
    fn only_a_refused_date_filter_pages_the_whole_list() {
        let e = |status, kind: &str, code: Option<&str>, param: Option<&str>| ApiError {
            status,
            kind: kind.into(),
            code: code.map(Into::into),
            decline_code: None,
            message: "Unexpected created".into(),
            param: param.map(Into::into),
            payment_intent: None,
        };
        assert!(filter_refused(&e(400, "invalid_request_error", None, None)));
        assert!(filter_refused(&e(
            400,
            "invalid_request_error",
            None,
            Some("created[gte]")
        )));
        assert!(!filter_refused(&e(
            400,
            "invalid_request_error",
            Some("resource_missing"),
            Some("starting_after")
        )));
        assert!(!filter_refused(&e(
            400,
            "invalid_request_error",
            None,
            Some("starting_after")
        )));
        assert!(!filter_refused(&e(401, "authentication_error", None, None)));
    }

    #[test]
    fn a_source_never_prints_its_key() {
        let s = Source {
            tenant: "ten_1".into(),
            mode: Mode::Test,
            secret: Secret::new("sk_test_51DoNotPrintMe0123456789"),
        };
        assert!(!format!("{s:?}").contains("DoNotPrint"));
    }
}
