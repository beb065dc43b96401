//! The schema, created or brought up to date at start-up. One list of migrations; each is
//! written for both backends where their dialects differ (row ids).

use super::{Backend, Conn, DbError, transaction};

/// The newest schema version this build knows.
pub const VERSION: i64 = 7;

/// Tables every version has; `{SEQ}` is the backend's auto-incrementing row id.
const V1: &str = r#"
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
-- One Stripe connection per tenant and mode. Every secret column holds a sealed value
-- (v1.<nonce>.<ciphertext>, AES-256-GCM, tenant and field as associated data); the *_hint
-- columns hold the masked form shown to people.
CREATE TABLE connections (
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    mode             TEXT NOT NULL,
    name             TEXT NOT NULL,
    secret_key       TEXT,
    secret_key_hint  TEXT,
    publishable_key  TEXT,
    publishable_key_hint TEXT,
    webhook_secrets  TEXT NOT NULL,
    default_currency TEXT,
    enabled          BIGINT NOT NULL,
    disconnected_at  BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, mode)
);
-- The webhook inbox: every delivery that got a 2xx, exactly once per (tenant, event id).
CREATE TABLE events (
    seq             {SEQ},
    tenant_id       TEXT NOT NULL,
    mode            TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    type            TEXT NOT NULL,
    livemode        BIGINT NOT NULL,
    created         BIGINT NOT NULL,
    api_version     TEXT,
    body            TEXT NOT NULL,
    received_at     BIGINT NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    processed_at    BIGINT,
    decision        TEXT,
    UNIQUE (tenant_id, event_id)
);
CREATE INDEX events_due ON events (status, next_attempt_at);
CREATE INDEX events_by_tenant ON events (tenant_id, seq);
CREATE TABLE invoices (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    customer        TEXT,
    description     TEXT,
    metadata        TEXT NOT NULL,
    state           TEXT NOT NULL,
    status          TEXT NOT NULL,
    amount_paid     BIGINT NOT NULL,
    amount_refunded BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX invoices_by_tenant ON invoices (tenant_id, created_at);
CREATE TABLE appointments (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    customer        TEXT,
    starts_at       BIGINT,
    metadata        TEXT NOT NULL,
    state           TEXT NOT NULL,
    status          TEXT NOT NULL,
    amount_paid     BIGINT NOT NULL,
    amount_refunded BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX appointments_by_tenant ON appointments (tenant_id, created_at);
-- Payments as Stripe knows them (a PaymentIntent, or a charge or Checkout Session without one).
CREATE TABLE payments (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    currency        TEXT NOT NULL,
    state           TEXT NOT NULL,
    status          TEXT NOT NULL,
    captured        BIGINT NOT NULL,
    refunded        BIGINT NOT NULL,
    dispute_status  TEXT,
    invoice_id      TEXT,
    appointment_id  TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE subscriptions (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    state           TEXT NOT NULL,
    status          TEXT NOT NULL,
    current_period_end BIGINT,
    cancel_at_period_end BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- The accounting record: one entry per settled payment or refund, never twice.
CREATE TABLE ledger_entries (
    seq             {SEQ},
    tenant_id       TEXT NOT NULL,
    payment_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    total           BIGINT NOT NULL,
    event_id        TEXT NOT NULL,
    invoice_id      TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, payment_id, kind, total)
);
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"#;

/// Calls to Stripe: each stored with its idempotency key before the first attempt, so a retry
/// (or a restart) reuses the key and Stripe creates one object.
const V2: &str = r#"
CREATE TABLE stripe_calls (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    mode            TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    operation       TEXT NOT NULL,
    payment_id      TEXT,
    amount          BIGINT,
    status          TEXT NOT NULL,
    result          TEXT,
    error           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, purpose)
);
CREATE INDEX stripe_calls_by_payment ON stripe_calls (tenant_id, payment_id, status);
"#;

/// New events in arrival order, for the worker: an index range however long the backlog.
const V3: &str = "CREATE INDEX events_received ON events (status, seq);";

/// The notification outbox, and the Payment Link made for each invoice.
const V4: &str = r#"
CREATE TABLE notifications (
    seq             {SEQ},
    tenant_id       TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    status          TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, event_id, kind, subject)
);
CREATE INDEX notifications_by_tenant ON notifications (tenant_id, seq);
ALTER TABLE invoices ADD COLUMN payment_link_status TEXT;
ALTER TABLE invoices ADD COLUMN payment_link_url TEXT;
ALTER TABLE invoices ADD COLUMN payment_link_error TEXT;
ALTER TABLE invoices ADD COLUMN payment_link_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN payment_link_next_at BIGINT;
CREATE INDEX invoices_links_due ON invoices (payment_link_status, payment_link_next_at);
"#;

/// History imported from Stripe's lists (charges, refunds, payouts, balance transactions; events
/// go to the inbox), the cursor of each list's import, and how far reconcile has compared.
const V5: &str = r#"
CREATE TABLE stripe_objects (
    tenant_id   TEXT NOT NULL,
    mode        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    created     BIGINT NOT NULL,
    status      TEXT,
    amount      BIGINT,
    currency    TEXT,
    data        TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, mode, kind, id)
);
CREATE INDEX stripe_objects_by_created ON stripe_objects (tenant_id, kind, created);
-- One per (tenant, mode, list): everything created from `since` up to `high_water` is imported
-- once `done`; an unfinished run goes on from `starting_after` with the filter `run_since`.
CREATE TABLE import_cursors (
    tenant_id      TEXT NOT NULL,
    mode           TEXT NOT NULL,
    list           TEXT NOT NULL,
    since          BIGINT NOT NULL,
    run_since      BIGINT NOT NULL,
    starting_after TEXT,
    high_water     BIGINT,
    done           BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, mode, list)
);
-- Reconcile compared Stripe's events created before `through` with the inbox.
CREATE TABLE reconcile_marks (
    tenant_id  TEXT NOT NULL,
    mode       TEXT NOT NULL,
    through    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, mode)
);
"#;

/// The dashboard's pages and reports: an index for every filter of every page, in the order the
/// page is read (newest first, the id breaking ties, for keyset pagination), so that no page reads
/// more rows than it shows. The payment groups spanning several statuses, disputed payments and
/// payments linked to nothing get partial indexes (rows enter only the one they belong to); the
/// queries repeat each index's condition word for word, which is what lets SQLite use it.
/// Indexes that a new one starts with are dropped. And which balance transactions each payout
/// paid out, as Stripe lists them, with how far that listing got per payout.
const V6: &str = r#"
CREATE INDEX events_by_status ON events (tenant_id, status, seq);
CREATE INDEX events_by_type ON events (tenant_id, type, seq);
CREATE INDEX payments_by_updated ON payments (tenant_id, updated_at, id);
CREATE INDEX payments_by_status ON payments (tenant_id, status, updated_at, id);
CREATE INDEX payments_pending ON payments (tenant_id, updated_at, id)
    WHERE status IN ('created', 'requires_action', 'processing');
CREATE INDEX payments_failed ON payments (tenant_id, updated_at, id)
    WHERE status IN ('failed', 'canceled');
CREATE INDEX payments_refunded ON payments (tenant_id, updated_at, id)
    WHERE status IN ('partially_refunded', 'refunded');
CREATE INDEX payments_disputed ON payments (tenant_id, updated_at, id)
    WHERE dispute_status IS NOT NULL;
CREATE INDEX payments_unlinked ON payments (tenant_id, updated_at, id)
    WHERE invoice_id IS NULL AND appointment_id IS NULL;
CREATE INDEX payments_by_invoice ON payments (tenant_id, invoice_id, currency, captured, refunded);
CREATE INDEX subscriptions_by_updated ON subscriptions (tenant_id, updated_at, id);
CREATE INDEX subscriptions_by_status ON subscriptions (tenant_id, status, updated_at, id);
DROP INDEX invoices_by_tenant;
CREATE INDEX invoices_by_created ON invoices (tenant_id, created_at, id);
CREATE INDEX invoices_by_status ON invoices (tenant_id, status, created_at, id);
DROP INDEX appointments_by_tenant;
CREATE INDEX appointments_by_created ON appointments (tenant_id, created_at, id);
CREATE INDEX appointments_by_status ON appointments (tenant_id, status, created_at, id);
CREATE INDEX ledger_by_day ON ledger_entries (tenant_id, created_at, kind, currency, amount);
DROP INDEX stripe_objects_by_created;
CREATE INDEX stripe_objects_by_created ON stripe_objects (tenant_id, kind, created, id);
-- The balance transactions a payout paid out (both also in stripe_objects).
CREATE TABLE payout_transactions (
    tenant_id      TEXT NOT NULL,
    mode           TEXT NOT NULL,
    payout_id      TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, payout_id, mode, transaction_id)
);
-- Per payout, how far listing its balance transactions got: `linking` (going on from
-- `starting_after`), `linked` (all stored), `manual` (a manual payout: Stripe does not say which
-- transactions it paid out) or `refused` (Stripe refused the filter; `error` says why).
CREATE TABLE payout_links (
    tenant_id      TEXT NOT NULL,
    mode           TEXT NOT NULL,
    payout_id      TEXT NOT NULL,
    status         TEXT NOT NULL,
    starting_after TEXT,
    error          TEXT,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, payout_id, mode)
);
"#;

/// Plugins: which are enabled per tenant (and why one was disabled), the actions the worker
/// tells them about (written in the event's transaction), each plugin's call for an action with
/// its attempts, and what the calls asked for: statuses, ledger entries, callbacks, key-values;
/// and each tenant's callback endpoint.
const V7: &str = r#"
CREATE TABLE plugin_tenants (
    tenant_id       TEXT NOT NULL,
    plugin          TEXT NOT NULL,
    enabled         BIGINT NOT NULL,
    failures        BIGINT NOT NULL,
    disabled_reason TEXT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plugin)
);
CREATE TABLE plugin_actions (
    seq          {SEQ},
    tenant_id    TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    hook         TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    amount       BIGINT,
    currency     TEXT,
    decision     TEXT NOT NULL,
    dispatched   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, event_id, hook, subject_kind, subject_id)
);
CREATE INDEX plugin_actions_undispatched ON plugin_actions (dispatched, seq);
CREATE TABLE plugin_calls (
    action_seq      BIGINT NOT NULL,
    plugin          TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    commands        TEXT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (action_seq, plugin)
);
CREATE INDEX plugin_calls_due ON plugin_calls (status, next_attempt_at);
CREATE INDEX plugin_calls_by_tenant ON plugin_calls (tenant_id, action_seq);
CREATE TABLE plugin_statuses (
    tenant_id    TEXT NOT NULL,
    plugin       TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    status       TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plugin, subject_kind, subject_id)
);
CREATE TABLE plugin_ledger (
    action_seq   BIGINT NOT NULL,
    plugin       TEXT NOT NULL,
    idx          BIGINT NOT NULL,
    tenant_id    TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    account      TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    memo         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (action_seq, plugin, idx)
);
CREATE INDEX plugin_ledger_by_tenant ON plugin_ledger (tenant_id, created_at);
CREATE TABLE plugin_callbacks (
    action_seq      BIGINT NOT NULL,
    plugin          TEXT NOT NULL,
    idx             BIGINT NOT NULL,
    tenant_id       TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (action_seq, plugin, idx)
);
CREATE TABLE plugin_kv (
    tenant_id TEXT NOT NULL,
    plugin    TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, plugin, key)
);
-- E-mail delivery of the notification outbox (rows whose body names a recipient).
ALTER TABLE notifications ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN last_error TEXT;
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
-- Where a tenant's platform takes plugin callbacks; the signing secret sealed like a Stripe key.
CREATE TABLE callback_endpoints (
    tenant_id   TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    secret_hint TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
"#;

/// Creates the schema, or checks that the database's is one this build can use.
pub fn migrate(conn: &mut dyn Conn) -> Result<(), DbError> {
    conn.batch("CREATE TABLE IF NOT EXISTS payhook_schema (version BIGINT NOT NULL)")?;
    transaction(conn, |tx| {
        if tx.backend() == Backend::Postgres {
            // Two nodes starting at once must not both create the tables.
            tx.batch("LOCK TABLE payhook_schema IN EXCLUSIVE MODE")?;
        }
        let found = tx
            .query_opt("SELECT MAX(version) FROM payhook_schema", &[])?
            .and_then(|r| r.opt_int(0))
            .unwrap_or(0);
        if found > VERSION {
            return Err(DbError::SchemaTooNew {
                found,
                supported: VERSION,
            });
        }
        let seq = match tx.backend() {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        };
        let v1 = V1.replace("{SEQ}", seq);
        let v4 = V4.replace("{SEQ}", seq);
        let v7 = V7.replace("{SEQ}", seq);
        for (version, sql) in [
            (1, v1.as_str()),
            (2, V2),
            (3, V3),
            (4, v4.as_str()),
            (5, V5),
            (6, V6),
            (7, v7.as_str()),
        ] {
            if found < version {
                tx.batch(sql)?;
                tx.execute(
                    "INSERT INTO payhook_schema (version) VALUES ($1)",
                    &[version.into()],
                )?;
            }
        }
        Ok(())
    })
}
