//! The webhook inbox: deliveries stored before they are acknowledged, then processed.
//!
//! Every delivery that verified is handed to the [`Writer`]'s store thread, which owns one
//! database connection. It stores whatever deliveries are waiting with one statement in one
//! transaction (group commit: one `fsync` for many deliveries, never a weaker `synchronous`) and
//! answers each only after the commit. A processor thread with a connection of its own runs the
//! [worker](crate::process) in short transactions; on SQLite the two take turns at the write
//! lock through an in-process gate, and the processor stands aside whenever deliveries are
//! waiting, so processing never holds up an acknowledgement for long.
//!
//! A delivery is unique per `(tenant, event id)`: a duplicate is acknowledged and not stored
//! again. An event whose `livemode` differs from its connection's mode is stored as `ignored`
//! with the reason, and never applied.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value as Json;
use tokio::sync::oneshot;

use crate::connection::Mode;
use crate::db::{Backend, Conn, Database, DbConn, DbError, Params, Row, transaction};
use crate::ids::{is_plausible, now_millis};
use crate::metrics::Metrics;
use crate::process;

/// The most deliveries stored in one transaction.
pub const MAX_BATCH: usize = 512;
/// How many deliveries may wait for the writer before new ones are refused with a 503.
pub const QUEUE_CAPACITY: usize = 16 * 1024;
/// On SQLite, the processor waits for the store thread to have been idle this long before it
/// takes the write lock: under a burst of deliveries, acknowledging comes first.
pub const QUIET_BEFORE_PROCESSING: Duration = Duration::from_micros(500);
/// ... but never waits longer than this for a turn; then it processes at least one event.
pub const MAX_PROCESSING_WAIT: Duration = Duration::from_secs(1);
/// On SQLite, while deliveries are waiting, a processing turn applies at least this many events
/// (within the processing budget) before it hands the write lock back: one commit, one `fsync`,
/// for many events rather than one each. With [`REST_UNDER_LOAD`], 4–13% more acks with 64
/// senders than when a turn yielded after one event (`BENCHMARKS.md`).
pub const MIN_EVENTS_PER_TURN_UNDER_LOAD: usize = 32;
/// ... and after such a turn the processor rests this long, so that the store thread's next
/// batches find the disk free.
pub const REST_UNDER_LOAD: Duration = Duration::from_millis(4);
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

/// The store and processor threads, to join on shutdown.
pub struct WriterThread(Vec<JoinHandle<()>>);

impl WriterThread {
    /// Waits for the threads to finish their current batch and stop.
    pub fn join(self) {
        for h in self.0 {
            let _ = h.join();
        }
    }
}

/// How the writer runs.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Whether to process events (a node may only receive).
    pub process: bool,
    /// The most events one processing transaction takes.
    pub process_batch: usize,
    /// How long one processing transaction may go on taking events before it commits, so
    /// that it never holds SQLite's write lock long.
    pub process_budget: Duration,
    /// How many attempts an event gets before it is dead.
    pub max_attempts: i64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            process: true,
            process_batch: 64,
            process_budget: Duration::from_millis(4),
            max_attempts: process::MAX_ATTEMPTS,
        }
    }
}

/// What the store thread and the processor share: SQLite takes one writer at a time, so the two
/// take turns through `lock` (instead of SQLite's busy-wait, which sleeps in steps of
/// milliseconds), and the processor stands aside while deliveries wait to be stored: the ack
/// path comes first.
struct Gate {
    sqlite: bool,
    /// When the gate was made; times below are microseconds since.
    epoch: Instant,
    /// When the store thread last finished a batch.
    last_store_end: AtomicU64,
    lock: Mutex<()>,
    stores_waiting: AtomicUsize,
    work: Mutex<bool>,
    wake: Condvar,
    stop: AtomicBool,
}

impl Gate {
    fn notify(&self) {
        if let Ok(mut w) = self.work.lock() {
            *w = true;
        }
        self.wake.notify_one();
    }

    /// Holds the write turn on SQLite (nothing to hold on PostgreSQL).
    fn turn(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        self.sqlite.then(|| {
            self.lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }
}

impl Writer {
    /// Starts the store thread, and the processor thread when `config.process`, on `db`.
    pub fn start(db: Database, config: WriterConfig, metrics: Metrics) -> (Writer, WriterThread) {
        let (jobs, rx) = mpsc::sync_channel(QUEUE_CAPACITY);
        let gate = Arc::new(Gate {
            sqlite: db.backend() == Backend::Sqlite,
            lock: Mutex::new(()),
            stores_waiting: AtomicUsize::new(0),
            epoch: Instant::now(),
            last_store_end: AtomicU64::new(0),
            work: Mutex::new(true),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let mut handles = Vec::new();
        if config.process {
            let (db, gate, metrics, config) =
                (db.clone(), gate.clone(), metrics.clone(), config.clone());
            handles.push(
                std::thread::Builder::new()
                    .name("payhook-processor".into())
                    .spawn(move || process_loop(db, gate, config, metrics))
                    .expect("cannot start the processor thread"),
            );
        }
        handles.push(
            std::thread::Builder::new()
                .name("payhook-writer".into())
                .spawn(move || store_loop(db, rx, gate, metrics))
                .expect("cannot start the writer thread"),
        );
        (Writer { jobs }, WriterThread(handles))
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

    /// Tells the processor there is work (a replay).
    pub fn wake(&self) {
        let _ = self.jobs.try_send(Job::Wake);
    }

    /// Asks both threads to stop after their current batch.
    pub fn stop(&self) {
        let _ = self.jobs.send(Job::Stop);
    }
}

fn store_loop(db: Database, rx: mpsc::Receiver<Job>, gate: Arc<Gate>, metrics: Metrics) {
    let mut conn: Option<DbConn> = None;
    loop {
        let mut batch = Vec::new();
        let mut stop = false;
        match rx.recv() {
            Ok(Job::Store(d, reply)) => batch.push((d, reply)),
            Ok(Job::Wake) => gate.notify(),
            Ok(Job::Stop) | Err(_) => stop = true,
        }
        while !stop && !batch.is_empty() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Job::Store(d, reply)) => batch.push((d, reply)),
                Ok(Job::Wake) => gate.notify(),
                Ok(Job::Stop) => stop = true,
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let started = Instant::now();
            let n = batch.len();
            gate.stores_waiting.fetch_add(1, Ordering::SeqCst);
            let turn = gate.turn();
            gate.stores_waiting.fetch_sub(1, Ordering::SeqCst);
            let stored = with_conn(&db, &mut conn, |c| store_batch(c, &batch));
            drop(turn);
            gate.last_store_end
                .store(gate.epoch.elapsed().as_micros() as u64, Ordering::SeqCst);
            metrics.observe_batch(n, started.elapsed());
            match stored {
                Ok(results) => {
                    if results.iter().any(|r| matches!(r, Ok(Stored::New))) {
                        gate.notify();
                    }
                    for ((_, reply), result) in batch.into_iter().zip(results) {
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
            gate.stop.store(true, Ordering::SeqCst);
            gate.notify();
            break;
        }
    }
}

fn process_loop(db: Database, gate: Arc<Gate>, config: WriterConfig, metrics: Metrics) {
    let mut conn: Option<DbConn> = None;
    let mut backoff = Duration::ZERO;
    while !gate.stop.load(Ordering::SeqCst) {
        // Wait for work (or look for work nobody announced: retries that fell due, replays from
        // the CLI, events stored by other nodes).
        {
            let mut work = gate
                .work
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !*work || !backoff.is_zero() {
                let wait = if backoff.is_zero() {
                    IDLE_POLL
                } else {
                    backoff
                };
                work = gate
                    .wake
                    .wait_timeout(work, wait)
                    .map(|(w, _)| w)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            *work = false;
        }
        if gate.stop.load(Ordering::SeqCst) {
            break;
        }
        loop {
            // On SQLite the engine's work is done first, without the write lock (reading the
            // committed states); the writes then take a short turn, each applied only if
            // nothing changed in between. PostgreSQL decides and writes in one transaction,
            // with the rows locked.
            let plan = if gate.sqlite {
                match with_conn(&db, &mut conn, |c| {
                    process::plan_batch(c, config.process_batch)
                }) {
                    Ok(plan) if plan.is_empty() => break,
                    Ok(plan) => Some(plan),
                    Err(e) => {
                        tracing::warn!(error = %e, "reading events to process failed; retrying");
                        backoff =
                            (backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(5));
                        break;
                    }
                }
            } else {
                None
            };
            // Deliveries go first: on SQLite the processor takes its turn only when the store
            // thread has been quiet for a moment, or when it has waited so long that a single
            // event must get through (a trickle that keeps the oldest event moving).
            let wanted = Instant::now();
            while gate.sqlite && wanted.elapsed() < MAX_PROCESSING_WAIT {
                let quiet = (gate.epoch.elapsed().as_micros() as u64)
                    .saturating_sub(gate.last_store_end.load(Ordering::SeqCst));
                if gate.stores_waiting.load(Ordering::SeqCst) == 0
                    && quiet >= QUIET_BEFORE_PROCESSING.as_micros() as u64
                {
                    break;
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            let turn = gate.turn();
            // Asked before each event after the first. On SQLite, waiting deliveries end the
            // turn only once it has applied its minimum.
            let asked = std::cell::Cell::new(0usize);
            let interrupt = || {
                asked.set(asked.get() + 1);
                (!gate.sqlite || asked.get() >= MIN_EVENTS_PER_TURN_UNDER_LOAD)
                    && gate.stores_waiting.load(Ordering::SeqCst) > 0
            };
            let done = with_conn(&db, &mut conn, |c| match plan {
                Some(plan) => process::apply_batch(
                    c,
                    plan,
                    config.process_budget,
                    config.max_attempts,
                    &metrics,
                    &interrupt,
                ),
                None => process::run_batch(
                    c,
                    config.process_batch,
                    config.process_budget,
                    config.max_attempts,
                    &metrics,
                    &interrupt,
                ),
            });
            drop(turn);
            if gate.sqlite && gate.stores_waiting.load(Ordering::SeqCst) > 0 {
                std::thread::sleep(REST_UNDER_LOAD);
            }
            match done {
                Ok(n) if n > 0 && !gate.stop.load(Ordering::SeqCst) => {
                    backoff = Duration::ZERO;
                    continue;
                }
                Ok(_) => backoff = Duration::ZERO,
                Err(e) => {
                    tracing::warn!(error = %e, "processing events failed; retrying");
                    backoff =
                        (backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(5));
                }
            }
            break;
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
    let deliveries: Vec<&NewDelivery> = batch.iter().map(|(d, _)| d).collect();
    let all = transaction(conn, |tx| insert_many(tx, &deliveries));
    match all {
        Ok(stored) => Ok(stored.into_iter().map(Ok).collect()),
        Err(e) if e.is_transient() || batch.len() == 1 => Err(e),
        Err(_) => Ok(batch
            .iter()
            .map(|(d, _)| transaction(conn, |tx| insert(tx, d)))
            .collect()),
    }
}

/// The most rows in one INSERT (12 parameters each, well within both databases' limits).
const ROWS_PER_INSERT: usize = 256;

/// Stores one delivery in the current transaction.
pub fn insert(conn: &mut dyn Conn, d: &NewDelivery) -> Result<Stored, DbError> {
    Ok(insert_many(conn, &[d])?.pop().unwrap_or(Stored::Duplicate))
}

/// Stores deliveries in the current transaction, a few hundred per statement (one round trip
/// to PostgreSQL instead of one per delivery); returns, in order, which were new. Of two equal
/// deliveries in one call, the first is new and the second a duplicate.
pub fn insert_many(
    conn: &mut dyn Conn,
    deliveries: &[&NewDelivery],
) -> Result<Vec<Stored>, DbError> {
    let now = now_millis();
    let mut out = Vec::with_capacity(deliveries.len());
    for chunk in deliveries.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO events (tenant_id, mode, event_id, type, livemode, created, api_version, body, received_at, status, reason, attempts, next_attempt_at) VALUES ",
        );
        let mut params = Vec::with_capacity(chunk.len() * 12);
        for (i, d) in chunk.iter().enumerate() {
            let n = i * 12;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 0, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6,
                n + 7,
                n + 8,
                n + 9,
                n + 10,
                n + 11,
                n + 12
            ));
            let (status, reason) = initial_status(d);
            params.extend([
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
            ]);
        }
        sql.push_str(" ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING tenant_id, event_id");
        let mut inserted: std::collections::HashSet<(String, String)> = conn
            .query(&sql, &params)?
            .iter()
            .map(|r| (r.text(0), r.text(1)))
            .collect();
        for d in chunk {
            let new = inserted.remove(&(d.tenant_id.clone(), d.event_id.clone()));
            out.push(if new { Stored::New } else { Stored::Duplicate });
        }
    }
    Ok(out)
}

/// `received`, or `ignored` with the reason when the event's `livemode` is not the endpoint's.
fn initial_status(d: &NewDelivery) -> (&'static str, Option<String>) {
    if d.livemode != (d.mode == Mode::Live) {
        let reason = format!(
            "livemode mismatch: a {} event was sent to the {} endpoint; it is stored and not applied",
            if d.livemode { "live" } else { "test" },
            d.mode
        );
        (status::IGNORED, Some(reason))
    } else {
        (status::RECEIVED, None)
    }
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

/// A tenant's events, newest first. Each filter that is set adds its own condition (and none
/// is there when it is not), so the page is read from the index for it: `(tenant, status,
/// seq)`, `(tenant, type, seq)` or `(tenant, seq)`.
pub fn list(
    conn: &mut dyn Conn,
    tenant_id: &str,
    filter: &EventFilter,
) -> Result<Vec<EventView>, DbError> {
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT {VIEW_COLUMNS} FROM events WHERE tenant_id = {}",
        p.bind(tenant_id)
    );
    if let Some(status) = &filter.status {
        sql.push_str(&format!(" AND status = {}", p.bind(status)));
    }
    if let Some(event_type) = &filter.event_type {
        sql.push_str(&format!(" AND type = {}", p.bind(event_type)));
    }
    if let Some(before) = filter.before {
        sql.push_str(&format!(" AND seq < {}", p.bind(before)));
    }
    sql.push_str(&format!(
        " ORDER BY seq DESC LIMIT {}",
        p.bind(filter.limit.clamp(1, 500))
    ));
    let rows = conn.query(&sql, &p.0)?;
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
