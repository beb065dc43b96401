//! The worker: stored events through the engine, decisions into records, exactly once.
//!
//! A batch of due events is taken in one transaction (on PostgreSQL with `FOR UPDATE SKIP
//! LOCKED`, so several nodes never take the same event). Each event runs in a savepoint: its
//! facts are applied to the records they name by the engine component's machines, the new
//! states and ledger entries are written, and the event is marked `processed` (or `ignored`,
//! with the reason) in the same transaction. An event that fails rolls back to its savepoint
//! alone and is marked `failed` with the error and a retry time (exponential backoff with
//! jitter); after [`MAX_ATTEMPTS`] it is `dead` and waits for a replay.
//!
//! Routing, per fact: the payment it concerns (by PaymentIntent, charge, Checkout Session or
//! Stripe invoice id), the host's invoice and appointment named in metadata (`invoice_id`,
//! `appointment_id`), and the subscription. Ledger entries are booked from the payment machine
//! only, once per `(payment, kind, total)`.

use std::time::{Duration, Instant};

use payhook_core::fact::{Fact, FactKind};
use payhook_core::machine::document::MachineKind;
use payhook_core::machine::{Decision, Effect, Ignored, PaymentId};
use payhook_core::money::{Currency, Money};
use payhook_runtime::RuntimeError;
use serde_json::{Value as Json, json};

use crate::db::{Backend, Conn, DbError, savepoint, transaction};
use crate::engine;
use crate::ids::{now_millis, now_secs};
use crate::inbox::status;
use crate::metrics::Metrics;
use crate::notifications;
use crate::records::{self, LedgerEntry, RecordKind};

/// How many times an event is tried before it is dead.
pub const MAX_ATTEMPTS: i64 = 8;
/// The first retry comes after about this long; each further one waits twice as long.
pub const FIRST_RETRY_MS: i64 = 1_000;
/// No retry waits longer than this.
pub const MAX_RETRY_MS: i64 = 60 * 60 * 1000;

/// Why processing an event failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The engine component trapped or timed out.
    #[error("engine: {0}")]
    Engine(#[from] RuntimeError),
    /// The stored body no longer decodes (it did when it arrived).
    #[error("the stored event does not decode: {0}")]
    Decode(String),
    /// A record's state document is not one the engine accepts.
    #[error("{0}")]
    InvalidState(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ProcessError {
    /// Errors that will not go away by trying again.
    fn is_permanent(&self) -> bool {
        matches!(
            self,
            ProcessError::Decode(_) | ProcessError::InvalidState(_)
        )
    }
}

/// What processing one event decided.
struct Outcome {
    applied: bool,
    reason: Option<String>,
    decisions: Vec<Json>,
}

/// Processes due events, up to `limit`, until `budget` has passed or until `interrupt` says so
/// (both checked between events, after the first), in one transaction; returns how many it
/// took.
pub fn run_batch(
    conn: &mut dyn Conn,
    limit: usize,
    budget: Duration,
    max_attempts: i64,
    metrics: &Metrics,
    interrupt: &dyn Fn() -> bool,
) -> Result<usize, DbError> {
    let now = now_millis();
    let started = Instant::now();
    transaction(conn, |tx| {
        let lock = if tx.backend() == Backend::Postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        // New events in the order they arrived (an index range, however long the backlog), then
        // failed ones whose retry is due.
        let mut rows = tx.query(
            &format!("SELECT seq, tenant_id, event_id, body, attempts FROM events WHERE status = 'received' ORDER BY seq LIMIT $1{lock}"),
            &[(limit as i64).into()],
        )?;
        if rows.len() < limit {
            rows.extend(tx.query(
                &format!(
                    "SELECT seq, tenant_id, event_id, body, attempts FROM events \
                     WHERE status = 'failed' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2{lock}"
                ),
                &[now.into(), ((limit - rows.len()) as i64).into()],
            )?);
        }
        let mut taken = 0;
        for r in &rows {
            if taken > 0 && (started.elapsed() >= budget || interrupt()) {
                break;
            }
            taken += 1;
            let (seq, tenant, event_id, body) = (r.int(0), r.text(1), r.text(2), r.text(3));
            let attempts = r.int(4) + 1;
            let now_s = now_secs();
            match savepoint(tx, |sp| {
                process_event(
                    &mut Direct {
                        conn: sp,
                        now: now_s,
                    },
                    &tenant,
                    &event_id,
                    &body,
                    now_s,
                )
            }) {
                Ok(outcome) => {
                    let status = if outcome.applied {
                        status::PROCESSED
                    } else {
                        status::IGNORED
                    };
                    metrics.count_processed(status);
                    tx.execute(
                        "UPDATE events SET status = $1, reason = $2, decision = $3, attempts = $4, last_error = NULL, processed_at = $5 WHERE seq = $6",
                        &[
                            status.into(),
                            outcome.reason.into(),
                            Json::Array(outcome.decisions).to_string().into(),
                            attempts.into(),
                            now_millis().into(),
                            seq.into(),
                        ],
                    )?;
                }
                // The database itself is failing: give the whole batch back untouched.
                Err(ProcessError::Db(e)) if e.is_transient() => return Err(e),
                Err(e) => {
                    let dead = e.is_permanent() || attempts >= max_attempts;
                    let status = if dead { status::DEAD } else { status::FAILED };
                    metrics.count_processed(status);
                    tracing::warn!(tenant = %tenant, event = %event_id, attempts, error = %e, status, "processing an event failed");
                    tx.execute(
                        "UPDATE events SET status = $1, attempts = $2, last_error = $3, next_attempt_at = $4 WHERE seq = $5",
                        &[status.into(), attempts.into(), e.to_string().into(), (now + retry_delay_ms(attempts)).into(), seq.into()],
                    )?;
                }
            }
        }
        Ok(taken)
    })
}

/// Events to process, decided outside the write transaction by [`plan_batch`]; applied by
/// [`apply_batch`].
pub struct Plan {
    events: Vec<Planned>,
}

impl Plan {
    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when there was nothing to do.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

struct Planned {
    seq: i64,
    tenant: String,
    event_id: String,
    /// The event's status and attempts when it was decided: applied only if they still hold.
    status: String,
    attempts: i64,
    result: Result<(Outcome, Vec<Write>), ProcessError>,
}

const DUE_EVENTS: &str = "SELECT seq, tenant_id, event_id, body, attempts, status FROM events \
     WHERE status = 'received' ORDER BY seq LIMIT $1";
const DUE_RETRIES: &str = "SELECT seq, tenant_id, event_id, body, attempts, status FROM events \
     WHERE status = 'failed' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2";

/// Decides up to `limit` due events without taking the write lock (SQLite, where one writer
/// at a time may write): the engine's work (decoding, the machines) is done here, against the
/// committed states, and each event's writes are kept with the state they were decided from.
/// [`apply_batch`] then writes them in a short transaction, each only if nothing changed the
/// records or the event in between (else the event is left for the next round).
pub fn plan_batch(conn: &mut dyn Conn, limit: usize) -> Result<Plan, DbError> {
    let now = now_millis();
    let mut rows = conn.query(DUE_EVENTS, &[(limit as i64).into()])?;
    if rows.len() < limit {
        rows.extend(conn.query(
            DUE_RETRIES,
            &[now.into(), ((limit - rows.len()) as i64).into()],
        )?);
    }
    let mut decided = std::collections::HashMap::new();
    let mut events = Vec::with_capacity(rows.len());
    let now_s = now_secs();
    for r in &rows {
        let (seq, tenant, event_id, body) = (r.int(0), r.text(1), r.text(2), r.text(3));
        let before = decided.clone();
        let mut planner = Planner {
            conn: &mut *conn,
            decided: &mut decided,
            writes: Vec::new(),
        };
        let result = process_event(&mut planner, &tenant, &event_id, &body, now_s);
        let writes = planner.writes;
        let result = match result {
            Ok(outcome) => Ok((outcome, writes)),
            Err(ProcessError::Db(e)) if e.is_transient() => return Err(e),
            Err(e) => {
                // Nothing of a failed event is written: later events see the states before it.
                decided = before;
                Err(e)
            }
        };
        events.push(Planned {
            seq,
            tenant,
            event_id,
            status: r.text(5),
            attempts: r.int(4),
            result,
        });
    }
    Ok(Plan { events })
}

/// Why a planned event was not applied.
enum Skip {
    /// The event or a record changed since it was decided.
    Changed,
    Db(DbError),
}

impl From<DbError> for Skip {
    fn from(e: DbError) -> Self {
        Skip::Db(e)
    }
}

/// Writes a [`Plan`] in one transaction, until `budget` has passed or `interrupt` says so
/// (checked between events, after the first); returns how many events it went through. An event
/// whose records (or itself) changed since it was decided is skipped and decided again in the
/// next round.
pub fn apply_batch(
    conn: &mut dyn Conn,
    plan: Plan,
    budget: Duration,
    max_attempts: i64,
    metrics: &Metrics,
    interrupt: &dyn Fn() -> bool,
) -> Result<usize, DbError> {
    let started = Instant::now();
    let now = now_millis();
    let now_s = now_secs();
    transaction(conn, |tx| {
        let mut applied = 0;
        for p in &plan.events {
            if applied > 0 && (started.elapsed() >= budget || interrupt()) {
                break;
            }
            let attempts = p.attempts + 1;
            let claim = "WHERE seq = $1 AND status = $2 AND attempts = $3";
            let done = savepoint(tx, |sp| -> Result<&'static str, Skip> {
                let (status, n) = match &p.result {
                    Ok((outcome, writes)) => {
                        let status = if outcome.applied {
                            status::PROCESSED
                        } else {
                            status::IGNORED
                        };
                        let n = sp.execute(
                            &format!("UPDATE events SET status = $4, reason = $5, decision = $6, attempts = $7, last_error = NULL, processed_at = $8 {claim}"),
                            &[
                                p.seq.into(),
                                p.status.as_str().into(),
                                p.attempts.into(),
                                status.into(),
                                outcome.reason.clone().into(),
                                Json::Array(outcome.decisions.clone()).to_string().into(),
                                attempts.into(),
                                now.into(),
                            ],
                        )?;
                        if n == 1 {
                            for w in writes {
                                if !apply_write(sp, w, true, now_s)? {
                                    return Err(Skip::Changed);
                                }
                            }
                        }
                        (status, n)
                    }
                    Err(e) => {
                        let dead = e.is_permanent() || attempts >= max_attempts;
                        let status = if dead { status::DEAD } else { status::FAILED };
                        tracing::warn!(tenant = %p.tenant, event = %p.event_id, attempts, error = %e, status, "processing an event failed");
                        let n = sp.execute(
                            &format!("UPDATE events SET status = $4, attempts = $5, last_error = $6, next_attempt_at = $7 {claim}"),
                            &[
                                p.seq.into(),
                                p.status.as_str().into(),
                                p.attempts.into(),
                                status.into(),
                                attempts.into(),
                                e.to_string().into(),
                                (now + retry_delay_ms(attempts)).into(),
                            ],
                        )?;
                        (status, n)
                    }
                };
                if n == 1 {
                    Ok(status)
                } else {
                    Err(Skip::Changed)
                }
            });
            applied += 1;
            match done {
                Ok(status) => metrics.count_processed(status),
                Err(Skip::Changed) => {
                    tracing::debug!(event = %p.event_id, "decided on states that changed since; deciding again");
                }
                Err(Skip::Db(e)) => return Err(e),
            }
        }
        Ok(applied)
    })
}

/// The wait before attempt `attempts + 1`: doubling from [`FIRST_RETRY_MS`], capped at
/// [`MAX_RETRY_MS`], with up to 25% random jitter so that a burst of failures does not retry in
/// lockstep.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 30) - 1;
    let base = FIRST_RETRY_MS.saturating_mul(1 << exp).min(MAX_RETRY_MS);
    let mut b = [0u8; 2];
    let jitter = match getrandom::fill(&mut b) {
        Ok(()) => i64::from(u16::from_le_bytes(b)) * (base / 4) / i64::from(u16::MAX),
        Err(_) => 0,
    };
    base + jitter
}

/// Where processing reads record states and sends what it decided to write: straight to the
/// transaction that holds the rows' locks ([`Direct`]), or into a [`Plan`] decided outside the
/// write transaction and applied later with compare-and-set ([`Planner`]).
trait States {
    fn state(&mut self, key: &Key) -> Result<Option<String>, DbError>;
    fn write(&mut self, write: Write) -> Result<(), DbError>;
}

/// A record whose state a machine keeps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Record(RecordKind, String, String),
    Payment(String, String),
    Subscription(String, String),
}

/// One write a decision asks for.
#[derive(Debug)]
enum Write {
    /// A record's next state; `expected` is the state it was decided from (None: no row).
    State {
        key: Key,
        expected: Option<String>,
        next: String,
        links: (Option<String>, Option<String>),
    },
    Ledger(String, LedgerEntry),
    Notify {
        tenant: String,
        event_id: String,
        kind: &'static str,
        subject: String,
        effect: Json,
    },
    /// An action for the tenant's plugins (see [`crate::plugins`]).
    Action(crate::plugins::NewAction),
}

/// Applies `write`; with `check`, only if the record still has the state it was decided from.
/// Returns false when that did not hold (nothing written).
fn apply_write(conn: &mut dyn Conn, w: &Write, check: bool, now: i64) -> Result<bool, DbError> {
    match w {
        Write::State {
            key,
            expected,
            next,
            links,
        } => {
            let expect = match (check, expected) {
                (false, _) => records::Expect::Any,
                (true, None) => records::Expect::Absent,
                (true, Some(old)) => records::Expect::State(old),
            };
            match key {
                Key::Record(kind, _, id) => records::save_state(conn, *kind, id, next, expect, now),
                Key::Payment(tenant, id) => {
                    records::save_payment(conn, tenant, id, next, (&links.0, &links.1), expect, now)
                }
                Key::Subscription(tenant, id) => {
                    records::save_subscription(conn, tenant, id, next, expect, now)
                }
            }
        }
        Write::Ledger(tenant, entry) => records::book(conn, tenant, entry).map(|_| true),
        Write::Notify {
            tenant,
            event_id,
            kind,
            subject,
            effect,
        } => {
            notifications::record(conn, tenant, event_id, kind, subject, effect, now).map(|_| true)
        }
        Write::Action(action) => crate::plugins::write_action(conn, action, now).map(|_| true),
    }
}

/// Reads with the rows locked (PostgreSQL `FOR UPDATE`; SQLite's single writer) and writes at
/// once, in the caller's transaction.
struct Direct<'a> {
    conn: &'a mut dyn Conn,
    now: i64,
}

fn read_state(conn: &mut dyn Conn, key: &Key) -> Result<Option<String>, DbError> {
    match key {
        Key::Record(kind, tenant, id) => records::state_for_update(conn, *kind, tenant, id),
        Key::Payment(tenant, id) => records::payment_state_for_update(conn, tenant, id),
        Key::Subscription(tenant, id) => records::subscription_state_for_update(conn, tenant, id),
    }
}

impl States for Direct<'_> {
    fn state(&mut self, key: &Key) -> Result<Option<String>, DbError> {
        read_state(self.conn, key)
    }
    fn write(&mut self, write: Write) -> Result<(), DbError> {
        apply_write(self.conn, &write, false, self.now).map(drop)
    }
}

/// Decides without the write lock: reads committed states (and the states this batch has
/// already decided), and collects the writes with the state each was decided from.
struct Planner<'a> {
    conn: &'a mut dyn Conn,
    decided: &'a mut std::collections::HashMap<Key, Option<String>>,
    writes: Vec<Write>,
}

impl States for Planner<'_> {
    fn state(&mut self, key: &Key) -> Result<Option<String>, DbError> {
        if let Some(s) = self.decided.get(key) {
            return Ok(s.clone());
        }
        let s = read_state(self.conn, key)?;
        self.decided.insert(key.clone(), s.clone());
        Ok(s)
    }
    fn write(&mut self, write: Write) -> Result<(), DbError> {
        if let Write::State { key, next, .. } = &write {
            self.decided.insert(key.clone(), Some(next.clone()));
        }
        self.writes.push(write);
        Ok(())
    }
}

fn process_event(
    store: &mut dyn States,
    tenant: &str,
    event_id: &str,
    body: &str,
    now: i64,
) -> Result<Outcome, ProcessError> {
    let decoded = engine::with_session(|s| s.decode_stored(body.as_bytes()))?
        .map_err(|e| ProcessError::Decode(e.to_string()))?;
    if decoded.facts.is_empty() {
        let reason = format!(
            "a {} event establishes no payment fact",
            decoded.event.event_type.as_str()
        );
        return Ok(Outcome {
            applied: false,
            reason: Some(reason),
            decisions: Vec::new(),
        });
    }
    let mut outcome = Outcome {
        applied: false,
        reason: None,
        decisions: Vec::new(),
    };
    for fact in &decoded.facts {
        apply_fact(store, tenant, event_id, fact, now, &mut outcome)?;
    }
    if !outcome.applied && outcome.reason.is_none() {
        outcome.reason = Some(summarize_ignored(&outcome.decisions));
    }
    Ok(outcome)
}

fn apply_fact(
    store: &mut dyn States,
    tenant: &str,
    event_id: &str,
    fact: &Fact,
    now: i64,
    out: &mut Outcome,
) -> Result<(), ProcessError> {
    let links = &fact.links;
    let both = (links.invoice_id.clone(), links.appointment_id.clone());
    let mut record_currency = None;
    for (kind, id) in [
        (RecordKind::Invoice, &links.invoice_id),
        (RecordKind::Appointment, &links.appointment_id),
    ] {
        let Some(id) = id else { continue };
        let key = Key::Record(kind, tenant.to_owned(), id.clone());
        let Some(state) = store.state(&key)? else {
            out.decisions.push(json!({"fact": fact.kind.name(), "record": format!("{} {id}", kind.name()), "not_found": true}));
            continue;
        };
        record_currency = record_currency.or_else(|| state_currency(&state));
        let machine = if kind == RecordKind::Invoice {
            MachineKind::Invoice
        } else {
            MachineKind::Appointment
        };
        if let Some((next, _)) =
            decide(fact, machine, &state, &format!("{} {id}", kind.name()), out)?
        {
            store.write(Write::State {
                key,
                expected: Some(state),
                next,
                links: (None, None),
            })?;
            plugin_action(store, tenant, event_id, fact, kind.name(), id, out)?;
        }
    }
    if let Some(payment) = PaymentId::of(&fact.subject) {
        let id = payment.as_str();
        let key = Key::Payment(tenant.to_owned(), id.to_owned());
        let current = store.state(&key)?;
        let state = match &current {
            Some(state) => Some(state.clone()),
            None => fact_currency(&fact.kind)
                .or(record_currency)
                .map(|currency| payhook_core::machine::document::new_payment(id, currency)),
        };
        if let Some(state) = state {
            let label = format!("payment {id}");
            if let Some((next, effects)) = decide(fact, MachineKind::Payment, &state, &label, out)?
            {
                store.write(Write::State {
                    key,
                    expected: current,
                    next,
                    links: both.clone(),
                })?;
                book_ledger(store, tenant, fact, &effects, now)?;
                // A payment for an invoice or an appointment reaches plugins through that record.
                if both.0.is_none() && both.1.is_none() {
                    plugin_action(store, tenant, event_id, fact, "payment", id, out)?;
                }
            }
        }
    }
    if let Some(sub) = &fact.subject.subscription {
        let key = Key::Subscription(tenant.to_owned(), sub.clone());
        let current = store.state(&key)?;
        let state = current
            .clone()
            .unwrap_or_else(payhook_core::machine::document::new_subscription);
        let label = format!("subscription {sub}");
        if let Some((next, effects)) = decide(fact, MachineKind::Subscription, &state, &label, out)?
        {
            store.write(Write::State {
                key,
                expected: current,
                next,
                links: (None, None),
            })?;
            plugin_action(store, tenant, event_id, fact, "subscription", sub, out)?;
            for effect in &effects {
                let kind = match effect {
                    Effect::NotifyPaymentFailed { .. } => "payment_failed",
                    Effect::NotifyPaymentRecovered => "payment_recovered",
                    _ => continue,
                };
                store.write(Write::Notify {
                    tenant: tenant.to_owned(),
                    event_id: event_id.to_owned(),
                    kind,
                    subject: label.clone(),
                    effect: serde_json::to_value(effect).unwrap_or(Json::Null),
                })?;
            }
        }
    }
    // A payout has no record of its own: the event changes none (it stays `ignored`, with the
    // reason), and the tenant's plugins hear of it (an accounting plugin books the transfer to
    // the bank, or tells the owner it failed).
    if let Some(payout) = &fact.subject.payout {
        let now_is = match &fact.kind {
            FactKind::PayoutPaid {
                amount,
                arrival_date,
            } => {
                json!({"payout": payout, "status": "paid", "amount": amount.minor, "currency": amount.currency.as_str(), "arrival_date": arrival_date})
            }
            FactKind::PayoutFailed {
                amount,
                code,
                message,
            } => {
                json!({"payout": payout, "status": "failed", "amount": amount.minor, "currency": amount.currency.as_str(), "failure_code": code, "failure_message": message})
            }
            _ => Json::Null,
        };
        if let Some(hook) = crate::plugins::hook_of(&fact.kind).filter(|_| !now_is.is_null()) {
            let record = format!("payout {payout}");
            store.write(Write::Action(crate::plugins::NewAction {
                tenant: tenant.to_owned(),
                event_id: event_id.to_owned(),
                hook,
                subject_kind: "payout",
                subject_id: payout.clone(),
                amount: fact_money(&fact.kind).map(|m| (m.minor, m.currency.as_str().to_owned())),
                // Shaped as the machines' decisions are: the payout as it is now, no effects.
                decision: json!({"fact": fact.kind.name(), "record": record, "decision": {"applied": {"next": now_is, "effects": []}}}),
            }))?;
            out.decisions.push(json!({"fact": fact.kind.name(), "record": record, "decision": {"ignored": "no record changes for a payout; the tenant's plugins are told of it"}}));
        }
    }
    Ok(())
}

/// Runs the machine in the engine component; records the decision; returns the next state
/// when the fact changed the record.
fn decide(
    fact: &Fact,
    machine: MachineKind,
    state: &str,
    label: &str,
    out: &mut Outcome,
) -> Result<Option<(String, Vec<Effect>)>, ProcessError> {
    let document = engine::with_session(|s| s.apply(machine, state, fact))?
        .map_err(|e| ProcessError::InvalidState(format!("{label}: {e}")))?;
    let unreadable = |e: serde_json::Error| {
        ProcessError::InvalidState(format!(
            "{label}: the engine's decision does not parse: {e}"
        ))
    };
    // Parsed once: the typed decision for the host, the JSON as it is for the event's record.
    let value: Json = serde_json::from_str(&document).map_err(unreadable)?;
    let decision =
        <Decision<Json> as serde::Deserialize>::deserialize(&value).map_err(unreadable)?;
    let applied = match decision {
        Decision::Applied { next, effects } => Some((next.to_string(), effects)),
        Decision::Ignored(Ignored::NotApplicable) => return Ok(None),
        Decision::Ignored(_) => None,
    };
    out.applied |= applied.is_some();
    out.decisions
        .push(json!({"fact": fact.kind.name(), "record": label, "decision": value}));
    Ok(applied)
}

/// Writes the action plugins are told about when `fact` changed a record: the hook, the record,
/// the amount and the engine's decision (the last one `decide` recorded).
fn plugin_action(
    store: &mut dyn States,
    tenant: &str,
    event_id: &str,
    fact: &Fact,
    subject_kind: &'static str,
    subject_id: &str,
    out: &Outcome,
) -> Result<(), ProcessError> {
    // Stripe's invoice events change a subscription too (a failed renewal, a recovery): for
    // the subscription's plugins that is a subscription change.
    let renewal = matches!(
        fact.kind,
        FactKind::InvoicePaid { .. } | FactKind::InvoicePaymentFailed { .. }
    );
    let hook = match crate::plugins::hook_of(&fact.kind) {
        _ if renewal && subject_kind == "subscription" => {
            payhook_plugins::Hook::SubscriptionChanged
        }
        Some(hook) => hook,
        None => return Ok(()),
    };
    store.write(Write::Action(crate::plugins::NewAction {
        tenant: tenant.to_owned(),
        event_id: event_id.to_owned(),
        hook,
        subject_kind,
        subject_id: subject_id.to_owned(),
        amount: fact_money(&fact.kind).map(|m| (m.minor, m.currency.as_str().to_owned())),
        decision: out.decisions.last().cloned().unwrap_or(Json::Null),
    }))?;
    Ok(())
}

/// Books the ledger entries among a payment decision's effects.
fn book_ledger(
    store: &mut dyn States,
    tenant: &str,
    fact: &Fact,
    effects: &[Effect],
    now: i64,
) -> Result<(), ProcessError> {
    for effect in effects {
        if let Effect::LedgerEntry {
            kind,
            payment,
            amount,
            total,
        } = effect
        {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|k| k.as_str().map(str::to_owned))
                .unwrap_or_default();
            store.write(Write::Ledger(
                tenant.to_owned(),
                LedgerEntry {
                    payment_id: payment.as_str().to_owned(),
                    kind,
                    amount: amount.minor,
                    currency: amount.currency.as_str().to_owned(),
                    total: total.minor,
                    event_id: fact.event_id.as_str().to_owned(),
                    invoice_id: fact.links.invoice_id.clone(),
                    created_at: now,
                },
            ))?;
        }
    }
    Ok(())
}

fn summarize_ignored(decisions: &[Json]) -> String {
    if decisions.is_empty() {
        return "no record of this tenant matches the event (no known invoice, appointment, payment or subscription)".to_owned();
    }
    let parts: Vec<String> = decisions
        .iter()
        .map(|d| {
            let record = d["record"].as_str().unwrap_or("record");
            if d["not_found"].as_bool() == Some(true) {
                format!("{record}: not found")
            } else {
                let why = d["decision"]["ignored"].clone();
                let why = why
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| why.to_string());
                format!("{record}: {why}")
            }
        })
        .collect();
    parts.join("; ")
}

fn state_currency(state: &str) -> Option<Currency> {
    serde_json::from_str::<Json>(state)
        .ok()?
        .get("currency")?
        .as_str()
        .and_then(|c| Currency::parse(c).ok())
}

fn fact_currency(kind: &FactKind) -> Option<Currency> {
    fact_money(kind).map(|m| m.currency)
}

/// The amount a fact moved, if it names one.
fn fact_money(kind: &FactKind) -> Option<Money> {
    let money: Option<&Money> = match kind {
        FactKind::PaymentSucceeded { amount }
        | FactKind::PaymentFailed { amount, .. }
        | FactKind::PaymentProcessing { amount }
        | FactKind::PaymentRequiresAction { amount, .. }
        | FactKind::RefundFailed { amount, .. }
        | FactKind::DisputeOpened { amount, .. }
        | FactKind::DisputeLost { amount }
        | FactKind::PayoutPaid { amount, .. }
        | FactKind::PayoutFailed { amount, .. } => Some(amount),
        FactKind::CheckoutCompletedPaid { amount }
        | FactKind::CheckoutAsyncPaymentSucceeded { amount } => amount.as_ref(),
        FactKind::Refunded { captured, .. } => Some(captured),
        FactKind::InvoiceFinalized { amount_due }
        | FactKind::InvoicePaymentFailed { amount_due, .. } => Some(amount_due),
        FactKind::InvoicePaid { amount_paid } => Some(amount_paid),
        FactKind::PaymentCanceled
        | FactKind::CheckoutCompletedUnpaid
        | FactKind::CheckoutAsyncPaymentFailed
        | FactKind::CheckoutExpired
        | FactKind::DisputeWon
        | FactKind::EarlyFraudWarning { .. }
        | FactKind::SubscriptionCreated { .. }
        | FactKind::SubscriptionUpdated { .. }
        | FactKind::SubscriptionPastDue { .. }
        | FactKind::SubscriptionCanceled => None,
    };
    money.copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_bounded_jitter() {
        for attempts in 1..=20 {
            let d = retry_delay_ms(attempts);
            let base = (FIRST_RETRY_MS << (attempts - 1).min(30)).min(MAX_RETRY_MS);
            assert!(d >= base && d <= base + base / 4, "attempt {attempts}: {d}");
        }
        assert!(retry_delay_ms(30) <= MAX_RETRY_MS + MAX_RETRY_MS / 4);
    }
}
