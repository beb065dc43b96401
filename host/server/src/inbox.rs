//! The webhook inbox: deliveries stored before they are acknowledged, then processed.
//!
//! Every delivery that verified is handed to the [`Writer`], a thread that owns one database
//! connection. It stores whatever deliveries are waiting in one transaction (group commit: one
//! `fsync` for many deliveries, never a weaker `synchronous`) and answers each only after the
//! commit. Between batches it runs the [worker](crate::process), so on SQLite every write goes
//! through one connection and nothing waits on a lock.
//!
//! A delivery is unique per `(tenant, event id)`: a duplicate is acknowledged and not stored
//! again. An event whose `livemode` differs from its connection's mode is stored as `ignored`
//! with the reason, and never applied.

use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value as Json;
use tokio::sync::oneshot;

use crate::connection::Mode;
use crate::db::{Conn, Database, DbConn, DbError, Row, transaction};
use crate::ids::{is_plausible, now_millis};
use crate::metrics::Metrics;
use crate::process;

/// The most deliveries stored in one transaction.
pub const MAX_BATCH: usize = 512;
/// How many deliveries may wait for the writer before new ones are refused with a 503.
pub const QUEUE_CAPACITY: usize = 16 * 1024;
/// How often an idle writer looks for work it was not told about (replays from the CLI,
/// retries that fell due, events stored by other nodes).
pub const IDLE_POLL: Duration = Duration::from_millis(200);

/// An event's processing status.
pub mod status {
    /// Stored, waiting to be processed.
    pub const RECEIVED: &str = "received";
    /// Applied to at least one record.
    pub const PROCESSED: &str = "processed";
    /// Handled, changing nothing; `reason` says why.
    pub const IGNORED: &str = "ignored";
    /// Processing failed; it will be retried (`last_error`, `next_attempt_at`).
    pub const FAILED: &str = "failed";
    /// Processing failed too often; it waits for a replay.
    pub const DEAD: &str = "dead";
    /// Every status.
    pub const ALL: [&str; 5] = [RECEIVED, PROCESSED, IGNORED, FAILED, DEAD];
}

/// A verified delivery, ready to store.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The tenant it was posted to.
    pub tenant_id: String,
    /// The mode of the endpoint it was posted to.
    pub mode: Mode,
    /// `evt_…`
    pub event_id: String,
    /// The event type, as sent.
    pub event_type: String,
    /// The event's `livemode`.
    pub livemode: bool,
    /// The event's `created` (unix seconds).
    pub created: i64,
    /// The event's API version.
    pub api_version: Option<String>,
    /// The raw body, exactly as received.
    pub body: String,
}

/// What storing a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// It is stored now.
    New,
    /// It was stored before; nothing changed.
    Duplicate,
}

/// Why a delivery was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// Too many deliveries are waiting already.
    #[error("the inbox is full; try again")]
    Overloaded,
    /// The writer has stopped (the server is shutting down).
    #[error("the inbox is closed")]
    Closed,
    /// The database did not take the write.
    #[error("the database did not store the delivery: {0}")]
    Database(String),
}

enum Job {
    Store(NewDelivery, oneshot::Sender<Result<Stored, IngestError>>),
    Wake,
    Stop,
}

/// The handle to the writer thread. Cloning it is cheap; the thread stops when [`Writer::stop`]
/// is called.
#[derive(Clone)]
pub struct Writer {
    jobs: SyncSender<Job>,
}

/// The writer thread, to join on shutdown.
pub struct WriterThread(Option<JoinHandle<()>>);

impl WriterThread {
    /// Waits for the thread to finish its current batch and stop.
    pub fn join(mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

/// How the writer runs.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Whether to process events (a node may only receive).
    pub process: bool,
    /// How many events one processing transaction takes.
    pub process_batch: usize,
    /// How many attempts an event gets before it is dead.
    pub max_attempts: i64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            process: true,
            process_batch: 32,
            max_attempts: process::MAX_ATTEMPTS,
        }
    }
}

impl Writer {
    /// Starts the writer thread on `db`.
    pub fn start(db: Database, config: WriterConfig, metrics: Metrics) -> (Writer, WriterThread) {
        let (jobs, rx) = mpsc::sync_channel(QUEUE_CAPACITY);
        let handle = std::thread::Builder::new()
            .name("payhook-writer".into())
            .spawn(move || run(db, rx, config, metrics))
            .expect("cannot start the writer thread");
        (Writer { jobs }, WriterThread(Some(handle)))
    }

    /// Stores a delivery; resolves once it is committed (or refused).
    pub async fn store(&self, delivery: NewDelivery) -> Result<Stored, IngestError> {
        let (tx, rx) = oneshot::channel();
        match self.jobs.try_send(Job::Store(delivery, tx)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(IngestError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(IngestError::Closed),
        }
        rx.await.unwrap_or(Err(IngestError::Closed))
    }

    /// Tells the writer there is work to process (a replay).
    pub fn wake(&self) {
        let _ = self.jobs.try_send(Job::Wake);
    }

    /// Asks the writer to stop after its current batch.
    pub fn stop(&self) {
        let _ = self.jobs.send(Job::Stop);
    }
}

fn run(db: Database, rx: mpsc::Receiver<Job>, config: WriterConfig, metrics: Metrics) {
    let mut conn: Option<DbConn> = None;
    let mut work_pending = true;
    let mut backoff = Duration::ZERO;
    loop {
        let wait = if work_pending && backoff.is_zero() {
            Duration::ZERO
        } else {
            backoff.max(IDLE_POLL.min(if backoff.is_zero() {
                IDLE_POLL
            } else {
                backoff
            }))
        };
        let mut batch = Vec::new();
        let mut stop = false;
        match rx.recv_timeout(wait) {
            Ok(Job::Store(d, reply)) => batch.push((d, reply)),
            Ok(Job::Wake) | Err(RecvTimeoutError::Timeout) => work_pending = true,
            Ok(Job::Stop) | Err(RecvTimeoutError::Disconnected) => stop = true,
        }
        while !stop && !batch.is_empty() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Job::Store(d, reply)) => batch.push((d, reply)),
                Ok(Job::Wake) => work_pending = true,
                Ok(Job::Stop) => stop = true,
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let started = Instant::now();
            let n = batch.len();
            let stored = with_conn(&db, &mut conn, |c| store_batch(c, &batch));
            metrics.observe_batch(n, started.elapsed());
            match stored {
                Ok(results) => {
                    for ((_, reply), result) in batch.into_iter().zip(results) {
                        if matches!(result, Ok(Stored::New)) {
                            work_pending = true;
                        }
                        metrics.count_delivery(&result);
                        let _ =
                            reply.send(result.map_err(|e| IngestError::Database(e.to_string())));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, deliveries = n, "storing deliveries failed");
                    for (_, reply) in batch {
                        metrics.count_delivery(&Err(e.to_string()));
                        let _ = reply.send(Err(IngestError::Database(e.to_string())));
                    }
                }
            }
        }
        if stop {
            break;
        }
        if config.process && work_pending {
            match with_conn(&db, &mut conn, |c| {
                process::run_batch(c, config.process_batch, config.max_attempts, &metrics)
            }) {
                Ok(n) => {
                    work_pending = n >= config.process_batch;
                    backoff = Duration::ZERO;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "processing events failed; retrying");
                    backoff =
                        (backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(5));
                }
            }
        } else if !config.process {
            work_pending = false;
        }
    }
}

/// Runs `f` on the writer's connection, (re)connecting as needed; a connection that failed is
/// dropped so the next call starts afresh.
fn with_conn<T>(
    db: &Database,
    conn: &mut Option<DbConn>,
    f: impl FnOnce(&mut DbConn) -> Result<T, DbError>,
) -> Result<T, DbError> {
    if conn.is_none() {
        *conn = Some(db.conn()?);
    }
    let Some(c) = conn.as_mut() else {
        return Err(DbError::Unavailable("no connection".into()));
    };
    let out = f(c);
    if out.as_ref().is_err_and(DbError::is_transient) {
        *conn = None;
    }
    out
}

type Pending = (NewDelivery, oneshot::Sender<Result<Stored, IngestError>>);

/// Stores a batch in one transaction. If the batch fails for a reason other than the database
/// being unavailable, each delivery is tried on its own so that one bad row cannot refuse the
/// others.
fn store_batch(
    conn: &mut dyn Conn,
    batch: &[Pending],
) -> Result<Vec<Result<Stored, DbError>>, DbError> {
    let all = transaction(conn, |tx| {
        batch
            .iter()
            .map(|(d, _)| insert(tx, d))
            .collect::<Result<Vec<_>, DbError>>()
    });
    match all {
        Ok(stored) => Ok(stored.into_iter().map(Ok).collect()),
        Err(e) if e.is_transient() || batch.len() == 1 => Err(e),
        Err(_) => Ok(batch
            .iter()
            .map(|(d, _)| transaction(conn, |tx| insert(tx, d)))
            .collect()),
    }
}

/// Stores one delivery in the current transaction (the writer batches these).
pub fn insert(conn: &mut dyn Conn, d: &NewDelivery) -> Result<Stored, DbError> {
    let now = now_millis();
    let mismatch = d.livemode != (d.mode == Mode::Live);
    let (status, reason) = if mismatch {
        let reason = format!(
            "livemode mismatch: a {} event was sent to the {} endpoint; it is stored and not applied",
            if d.livemode { "live" } else { "test" },
            d.mode
        );
        (status::IGNORED, Some(reason))
    } else {
        (status::RECEIVED, None)
    };
    let n = conn.execute(
        "INSERT INTO events (tenant_id, mode, event_id, type, livemode, created, api_version, body, received_at, status, reason, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12) ON CONFLICT (tenant_id, event_id) DO NOTHING",
        &[
            d.tenant_id.as_str().into(),
            d.mode.as_str().into(),
            d.event_id.as_str().into(),
            d.event_type.as_str().into(),
            d.livemode.into(),
            d.created.into(),
            d.api_version.clone().into(),
            d.body.as_str().into(),
            now.into(),
            status.into(),
            reason.into(),
            now.into(),
        ],
    )?;
    Ok(if n == 1 {
        Stored::New
    } else {
        Stored::Duplicate
    })
}

/// A stored event, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    /// `evt_…`
    pub event_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// The endpoint's mode.
    pub mode: String,
    /// e.g. `payment_intent.succeeded`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event's `livemode`.
    pub livemode: bool,
    /// `received`, `processed`, `ignored`, `failed` or `dead`.
    pub status: String,
    /// Why it was ignored.
    pub reason: Option<String>,
    /// Processing attempts so far.
    pub attempts: i64,
    /// The last processing error.
    pub last_error: Option<String>,
    /// When it was stored (unix milliseconds).
    pub received_at: i64,
    /// When it was processed (unix milliseconds).
    pub processed_at: Option<i64>,
    /// When it is retried next (unix milliseconds), while failed.
    pub next_attempt_at: Option<i64>,
    /// The event's `created` (unix seconds).
    pub created: i64,
    /// Its place in the inbox, for paging (`before`).
    pub seq: i64,
    /// The raw body (only when one event is shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Json>,
    /// What processing decided, per record (only when one event is shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Json>,
}

const VIEW_COLUMNS: &str = "event_id, tenant_id, mode, type, livemode, status, reason, attempts, last_error, received_at, processed_at, next_attempt_at, created, seq";

fn view(r: &Row) -> EventView {
    let status = r.text(5);
    EventView {
        event_id: r.text(0),
        tenant_id: r.text(1),
        mode: r.text(2),
        event_type: r.text(3),
        livemode: r.int(4) != 0,
        next_attempt_at: (status == status::FAILED).then(|| r.int(11)),
        status,
        reason: r.opt_text(6),
        attempts: r.int(7),
        last_error: r.opt_text(8),
        received_at: r.int(9),
        processed_at: r.opt_int(10),
        created: r.int(12),
        seq: r.int(13),
        payload: None,
        decision: None,
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this type.
    pub event_type: Option<String>,
    /// Only events before this `seq` (the next page, newest first).
    pub before: Option<i64>,
    /// At most this many (1–500).
    pub limit: i64,
}

/// A tenant's events, newest first.
pub fn list(
    conn: &mut dyn Conn,
    tenant_id: &str,
    filter: &EventFilter,
) -> Result<Vec<EventView>, DbError> {
    let status = filter.status.clone().unwrap_or_default();
    let event_type = filter.event_type.clone().unwrap_or_default();
    let sql = format!(
        "SELECT {VIEW_COLUMNS} FROM events WHERE tenant_id = $1 AND ($2 = '' OR status = $3) AND ($4 = '' OR type = $5) \
         AND seq < $6 ORDER BY seq DESC LIMIT $7"
    );
    let rows = conn.query(
        &sql,
        &[
            tenant_id.into(),
            status.as_str().into(),
            status.as_str().into(),
            event_type.as_str().into(),
            event_type.as_str().into(),
            filter.before.unwrap_or(i64::MAX).into(),
            filter.limit.clamp(1, 500).into(),
        ],
    )?;
    Ok(rows.iter().map(view).collect())
}

/// One event with its payload and decision.
pub fn show(
    conn: &mut dyn Conn,
    tenant_id: &str,
    event_id: &str,
) -> Result<Option<EventView>, DbError> {
    if !is_plausible(event_id) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {VIEW_COLUMNS}, body, decision FROM events WHERE tenant_id = $1 AND event_id = $2"
    );
    Ok(conn
        .query_opt(&sql, &[tenant_id.into(), event_id.into()])?
        .map(|r| {
            let mut v = view(&r);
            v.payload = serde_json::from_str(&r.text(14)).ok();
            v.decision = r.opt_text(15).and_then(|d| serde_json::from_str(&d).ok());
            v
        }))
}

/// Finds an event by id in any tenant (for the CLI's `events show ID`).
pub fn find_tenant(conn: &mut dyn Conn, event_id: &str) -> Result<Vec<String>, DbError> {
    if !is_plausible(event_id) {
        return Ok(Vec::new());
    }
    Ok(conn
        .query(
            "SELECT tenant_id FROM events WHERE event_id = $1",
            &[event_id.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect())
}

/// Puts an event back in the queue: processed again from its stored body, with fresh attempts.
/// Safe for any event: the machines ignore what a record already holds. Returns false when
/// there is no such event. An event stored with a livemode mismatch stays ignored.
pub fn replay(conn: &mut dyn Conn, tenant_id: &str, event_id: &str) -> Result<bool, DbError> {
    if !is_plausible(event_id) {
        return Ok(false);
    }
    let exists = conn.query_opt(
        "SELECT livemode, mode FROM events WHERE tenant_id = $1 AND event_id = $2",
        &[tenant_id.into(), event_id.into()],
    )?;
    let Some(row) = exists else { return Ok(false) };
    let mismatch = (row.int(0) != 0) != (row.text(1) == "live");
    if mismatch {
        return Ok(true);
    }
    conn.execute(
        "UPDATE events SET status = $1, reason = NULL, attempts = 0, last_error = NULL, next_attempt_at = $2 WHERE tenant_id = $3 AND event_id = $4",
        &[status::RECEIVED.into(), now_millis().into(), tenant_id.into(), event_id.into()],
    )?;
    Ok(true)
}

/// How many events a tenant has per status.
pub fn counts(conn: &mut dyn Conn, tenant_id: Option<&str>) -> Result<Vec<(String, i64)>, DbError> {
    let rows = match tenant_id {
        Some(t) => conn.query("SELECT status, COUNT(*) FROM events WHERE tenant_id = $1 GROUP BY status ORDER BY status", &[t.into()])?,
        None => conn.query("SELECT status, COUNT(*) FROM events GROUP BY status ORDER BY status", &[])?,
    };
    Ok(rows.iter().map(|r| (r.text(0), r.int(1))).collect())
}
