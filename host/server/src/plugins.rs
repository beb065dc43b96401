//! Plugins in the server: the installed plugins (a directory of components, each with a small
//! manifest), which are enabled per tenant, the actions processing records for them, and the
//! worker that calls them and carries out what they ask.
//!
//! **Never in the way of a payment.** Processing an event writes one *action* per record it
//! changed (`plugin_actions`), in the event's own transaction, and nothing else: no plugin runs
//! there. The plugin worker then gives each action to every plugin enabled for the tenant that
//! asked for its hook, as a *call* of its own (`plugin_calls`): a call that fails (a trap, a
//! time-out, an error, an answer that breaks a rule) is retried with backoff, on its own and
//! visibly, and is `dead` after [`MAX_ATTEMPTS`]. After [`FAILURES_TO_DISABLE`] failed calls
//! in a row a plugin is disabled for that tenant, with the reason kept, until the operator
//! enables it again. A call's commands (statuses, ledger entries, e-mails into the
//! notification outbox, platform callbacks) and its key-value writes are written in one
//! transaction with the call's `done`, so each happens once.
//!
//! **Installing.** A plugins directory (`payhook serve --plugins-dir DIR`) holds, per plugin,
//! `NAME.wasm` and `NAME.json`: `{"name": "clinic", "version": "0.1.0", "description": "…"}`.
//! The component's own manifest must say the same name and version (a mismatch is refused at
//! start-up, saying which file is wrong).

use std::path::{Path, PathBuf};
use std::time::Duration;

use payhook_core::fact::FactKind;
use payhook_plugins::{
    Action, Amount, Command, Hook, Kv, Plugin, PluginError, PluginHost, RecordRef, SandboxLimits,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::db::{Conn, Database, DbError, transaction};
use crate::hooks::FiltersUnavailable;
use crate::ids::now_secs;

/// Attempts a call gets before it is `dead`.
pub const MAX_ATTEMPTS: i64 = 8;
/// Failed calls in a row after which a plugin is disabled for the tenant.
pub const FAILURES_TO_DISABLE: i64 = 5;
/// The first retry waits this long; each next one twice as long, up to an hour.
pub const FIRST_RETRY_SECS: i64 = 2;

/// Why plugins could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The directory or a file could not be read.
    #[error("plugins directory {path}: {reason}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A manifest file is not what payhook expects.
    #[error("{path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The component would not load.
    #[error("{path}: {source}")]
    Load {
        /// The component.
        path: PathBuf,
        /// The plugin host's error.
        source: PluginError,
    },
}

/// A plugin's manifest file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileManifest {
    /// The plugin's name; the component's manifest must say the same.
    pub name: String,
    /// Its version; the component's manifest must say the same.
    pub version: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// An installed plugin.
pub struct Installed {
    /// What its manifest file says.
    pub manifest: FileManifest,
    /// The component.
    pub plugin: Plugin,
    /// Where it was loaded from.
    pub path: PathBuf,
}

/// The installed plugins and the host that runs them.
pub struct Plugins {
    host: PluginHost,
    /// The plugins, by name.
    pub list: Vec<Installed>,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|p| &p.manifest.name))
            .finish()
    }
}

impl Plugins {
    /// No plugins.
    pub fn none() -> Result<Plugins, PluginError> {
        Ok(Plugins {
            host: PluginHost::new(SandboxLimits::default())?,
            list: Vec::new(),
        })
    }

    /// Loads every `NAME.wasm` with its `NAME.json` in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Plugins, InstallError> {
        let read = |path: &Path, e: std::io::Error| InstallError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let host =
            PluginHost::new(SandboxLimits::default()).map_err(|source| InstallError::Load {
                path: dir.to_owned(),
                source,
            })?;
        let mut wasm: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| read(dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        wasm.sort();
        let mut list: Vec<Installed> = Vec::new();
        for path in wasm {
            let json_path = path.with_extension("json");
            let text = std::fs::read_to_string(&json_path).map_err(|e| InstallError::Manifest {
                path: json_path.clone(),
                reason: format!(
                    "every plugin needs a manifest beside it ({e}); write {{\"name\": …, \"version\": …}}"
                ),
            })?;
            let manifest: FileManifest =
                serde_json::from_str(&text).map_err(|e| InstallError::Manifest {
                    path: json_path.clone(),
                    reason: format!("not a plugin manifest: {e}"),
                })?;
            let bytes = std::fs::read(&path).map_err(|e| read(&path, e))?;
            let plugin = host.load(&bytes).map_err(|source| InstallError::Load {
                path: path.clone(),
                source,
            })?;
            let declared = plugin.manifest();
            if declared.name != manifest.name || declared.version != manifest.version {
                return Err(InstallError::Manifest {
                    path: json_path,
                    reason: format!(
                        "says {} {} but the component is {} {}",
                        manifest.name, manifest.version, declared.name, declared.version
                    ),
                });
            }
            if list.iter().any(|p| p.manifest.name == manifest.name) {
                return Err(InstallError::Manifest {
                    path: json_path,
                    reason: format!("a second plugin named {:?}", manifest.name),
                });
            }
            list.push(Installed {
                manifest,
                plugin,
                path,
            });
        }
        Ok(Plugins { host, list })
    }

    /// The installed plugin named `name`.
    pub fn get(&self, name: &str) -> Option<&Installed> {
        self.list.iter().find(|p| p.manifest.name == name)
    }
}

/// The hook an engine fact is, for plugins.
pub fn hook_of(kind: &FactKind) -> Option<Hook> {
    Some(match kind {
        FactKind::PaymentSucceeded { .. } | FactKind::CheckoutAsyncPaymentSucceeded { .. } => {
            Hook::PaymentSettled
        }
        FactKind::PaymentFailed { .. }
        | FactKind::CheckoutAsyncPaymentFailed
        | FactKind::PaymentCanceled => Hook::PaymentFailed,
        FactKind::PaymentRequiresAction { .. } => Hook::PaymentRequiresAction,
        FactKind::CheckoutCompletedPaid { .. } | FactKind::CheckoutCompletedUnpaid => {
            Hook::CheckoutCompleted
        }
        FactKind::CheckoutExpired => Hook::CheckoutExpired,
        FactKind::Refunded { .. } | FactKind::RefundFailed { .. } => Hook::RefundRecorded,
        FactKind::DisputeOpened { .. } => Hook::DisputeOpened,
        FactKind::DisputeWon => Hook::DisputeWon,
        FactKind::DisputeLost { .. } => Hook::DisputeLost,
        FactKind::SubscriptionCreated { .. }
        | FactKind::SubscriptionUpdated { .. }
        | FactKind::SubscriptionPastDue { .. }
        | FactKind::SubscriptionCanceled => Hook::SubscriptionChanged,
        FactKind::InvoiceFinalized { .. } => Hook::InvoiceFinalized,
        FactKind::PayoutPaid { .. } => Hook::PayoutPaid,
        FactKind::PayoutFailed { .. } => Hook::PayoutFailed,
        _ => return None,
    })
}

/// A hook's name as the WIT spells it.
pub fn hook_name(hook: Hook) -> &'static str {
    match hook {
        Hook::PaymentSettled => "payment-settled",
        Hook::PaymentFailed => "payment-failed",
        Hook::PaymentRequiresAction => "payment-requires-action",
        Hook::CheckoutCompleted => "checkout-completed",
        Hook::CheckoutExpired => "checkout-expired",
        Hook::RefundRecorded => "refund-recorded",
        Hook::DisputeOpened => "dispute-opened",
        Hook::DisputeWon => "dispute-won",
        Hook::DisputeLost => "dispute-lost",
        Hook::SubscriptionChanged => "subscription-changed",
        Hook::InvoiceFinalized => "invoice-finalized",
        Hook::PayoutPaid => "payout-paid",
        Hook::PayoutFailed => "payout-failed",
    }
}

const ALL_HOOKS: [Hook; 13] = [
    Hook::PaymentSettled,
    Hook::PaymentFailed,
    Hook::PaymentRequiresAction,
    Hook::CheckoutCompleted,
    Hook::CheckoutExpired,
    Hook::RefundRecorded,
    Hook::DisputeOpened,
    Hook::DisputeWon,
    Hook::DisputeLost,
    Hook::SubscriptionChanged,
    Hook::InvoiceFinalized,
    Hook::PayoutPaid,
    Hook::PayoutFailed,
];

/// The hook named `name`.
pub fn parse_hook(name: &str) -> Option<Hook> {
    ALL_HOOKS.into_iter().find(|h| hook_name(*h) == name)
}

/// An action for plugins, as processing writes it.
#[derive(Debug, Clone)]
pub struct NewAction {
    /// The tenant.
    pub tenant: String,
    /// The Stripe event.
    pub event_id: String,
    /// What happened.
    pub hook: Hook,
    /// `invoice`, `appointment`, `payment` or `subscription`.
    pub subject_kind: &'static str,
    /// The record's id.
    pub subject_id: String,
    /// The amount the fact moved, if it has one.
    pub amount: Option<(i64, String)>,
    /// The engine's decision for the record.
    pub decision: Json,
}

/// Writes an action, once per (event, hook, record), in the caller's transaction.
pub fn write_action(conn: &mut dyn Conn, a: &NewAction, now: i64) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO plugin_actions (tenant_id, event_id, hook, subject_kind, subject_id, amount, currency, decision, dispatched, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) \
         ON CONFLICT (tenant_id, event_id, hook, subject_kind, subject_id) DO NOTHING",
        &[
            a.tenant.as_str().into(),
            a.event_id.as_str().into(),
            hook_name(a.hook).into(),
            a.subject_kind.into(),
            a.subject_id.as_str().into(),
            a.amount.as_ref().map(|(m, _)| *m).into(),
            a.amount.as_ref().map(|(_, c)| c.as_str()).into(),
            a.decision.to_string().into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// A plugin's state for one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct TenantPlugin {
    /// The plugin's name.
    pub plugin: String,
    /// Whether it is called for this tenant.
    pub enabled: bool,
    /// Failed calls in a row.
    pub failures: i64,
    /// Why it was disabled by payhook (none when the operator disabled it).
    pub disabled_reason: Option<String>,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The plugins enabled or disabled for a tenant (those never enabled have no row).
pub fn tenant_plugins(conn: &mut dyn Conn, tenant: &str) -> Result<Vec<TenantPlugin>, DbError> {
    Ok(conn
        .query(
            "SELECT plugin, enabled, failures, disabled_reason, updated_at FROM plugin_tenants WHERE tenant_id = $1 ORDER BY plugin",
            &[tenant.into()],
        )?
        .iter()
        .map(|r| TenantPlugin {
            plugin: r.text(0),
            enabled: r.int(1) != 0,
            failures: r.int(2),
            disabled_reason: r.opt_text(3),
            updated_at: r.int(4),
        })
        .collect())
}

/// Enables (clearing the failures) or disables a plugin for a tenant.
pub fn set_enabled(
    conn: &mut dyn Conn,
    tenant: &str,
    plugin: &str,
    enabled: bool,
    reason: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO plugin_tenants (tenant_id, plugin, enabled, failures, disabled_reason, updated_at) VALUES ($1, $2, $3, 0, $4, $5) \
         ON CONFLICT (tenant_id, plugin) DO UPDATE SET enabled = excluded.enabled, failures = 0, \
         disabled_reason = excluded.disabled_reason, updated_at = excluded.updated_at",
        &[tenant.into(), plugin.into(), enabled.into(), reason.into(), now.into()],
    )?;
    Ok(())
}

/// One plugin call, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    /// The action's place.
    pub action: i64,
    /// The plugin.
    pub plugin: String,
    /// The Stripe event behind it.
    pub event_id: String,
    /// The hook.
    pub hook: String,
    /// `kind id` of the record.
    pub subject: String,
    /// `pending`, `done`, `failed` or `dead`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// The last error.
    pub last_error: Option<String>,
    /// The commands it returned (once done).
    pub commands: Option<Json>,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A tenant's plugin calls, newest first.
pub fn calls(conn: &mut dyn Conn, tenant: &str, limit: i64) -> Result<Vec<CallView>, DbError> {
    Ok(conn
        .query(
            "SELECT c.action_seq, c.plugin, a.event_id, a.hook, a.subject_kind, a.subject_id, c.status, c.attempts, c.last_error, c.commands, c.updated_at \
             FROM plugin_calls c JOIN plugin_actions a ON a.seq = c.action_seq \
             WHERE c.tenant_id = $1 ORDER BY c.action_seq DESC, c.plugin LIMIT $2",
            &[tenant.into(), limit.clamp(1, 500).into()],
        )?
        .iter()
        .map(|r| CallView {
            action: r.int(0),
            plugin: r.text(1),
            event_id: r.text(2),
            hook: r.text(3),
            subject: format!("{} {}", r.text(4), r.text(5)),
            status: r.text(6),
            attempts: r.int(7),
            last_error: r.opt_text(8),
            commands: r.opt_text(9).and_then(|c| serde_json::from_str(&c).ok()),
            updated_at: r.int(10),
        })
        .collect())
}

/// The statuses plugins set on a tenant's records.
pub fn statuses(conn: &mut dyn Conn, tenant: &str) -> Result<Vec<Json>, DbError> {
    Ok(conn
        .query(
            "SELECT plugin, subject_kind, subject_id, status, event_id, updated_at FROM plugin_statuses WHERE tenant_id = $1 ORDER BY updated_at DESC, plugin LIMIT 500",
            &[tenant.into()],
        )?
        .iter()
        .map(|r| {
            json!({"plugin": r.text(0), "subject": {"kind": r.text(1), "id": r.text(2)}, "status": r.text(3), "event_id": r.text(4), "updated_at": r.int(5)})
        })
        .collect())
}

/// The ledger entries plugins booked for a tenant, oldest first.
pub fn ledger(conn: &mut dyn Conn, tenant: &str) -> Result<Vec<Json>, DbError> {
    Ok(conn
        .query(
            "SELECT plugin, subject_kind, subject_id, account, amount, currency, memo, created_at FROM plugin_ledger WHERE tenant_id = $1 ORDER BY created_at, action_seq, idx LIMIT 5000",
            &[tenant.into()],
        )?
        .iter()
        .map(|r| {
            json!({"plugin": r.text(0), "subject": {"kind": r.text(1), "id": r.text(2)}, "account": r.text(3), "amount": r.int(4), "currency": r.text(5), "memo": r.text(6), "created_at": r.int(7)})
        })
        .collect())
}

/// Gives new actions to the plugins that want them: one call per plugin asking for the hook
/// that is enabled for the tenant, or that payhook disabled after repeated failures (its calls
/// wait, and run once the operator enables it again: nothing is lost while it is being fixed).
/// A plugin the operator disabled gets no calls. Returns how many actions were dispatched.
pub fn dispatch(conn: &mut dyn Conn, plugins: &Plugins, now: i64) -> Result<usize, DbError> {
    transaction(conn, |tx| {
        let rows = tx.query(
            "SELECT seq, tenant_id, hook FROM plugin_actions WHERE dispatched = 0 ORDER BY seq LIMIT 200",
            &[],
        )?;
        for r in &rows {
            let (seq, tenant, hook) = (r.int(0), r.text(1), r.text(2));
            let enabled = tx.query(
                "SELECT plugin FROM plugin_tenants WHERE tenant_id = $1 AND (enabled = 1 OR disabled_reason IS NOT NULL)",
                &[tenant.as_str().into()],
            )?;
            for p in &enabled {
                let name = p.text(0);
                let wants = plugins
                    .get(&name)
                    .zip(parse_hook(&hook))
                    .is_some_and(|(i, h)| i.plugin.wants(h));
                if wants {
                    tx.execute(
                        "INSERT INTO plugin_calls (action_seq, plugin, tenant_id, status, attempts, next_attempt_at, updated_at) \
                         VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT (action_seq, plugin) DO NOTHING",
                        &[seq.into(), name.as_str().into(), tenant.as_str().into(), now.into()],
                    )?;
                }
            }
            tx.execute(
                "UPDATE plugin_actions SET dispatched = 1 WHERE seq = $1",
                &[seq.into()],
            )?;
        }
        Ok(rows.len())
    })
}

/// A due call, with what the plugin is told.
struct Due {
    action_seq: i64,
    plugin: String,
    tenant: String,
    attempts: i64,
    status: String,
    action: Action,
}

/// What a plugin is told of a record: its metadata, and `customer` (and, for an invoice, its
/// `payment_link` once made) when the record has them.
fn record_metadata(
    conn: &mut dyn Conn,
    kind: &str,
    id: &str,
) -> Result<Vec<(String, String)>, DbError> {
    let sql = match kind {
        "invoice" => "SELECT metadata, customer, payment_link_url FROM invoices WHERE id = $1",
        "appointment" => "SELECT metadata, customer, NULL FROM appointments WHERE id = $1",
        _ => return Ok(Vec::new()),
    };
    let Some(row) = conn.query_opt(sql, &[id.into()])? else {
        return Ok(Vec::new());
    };
    let meta: Json = serde_json::from_str(&row.text(0)).unwrap_or(Json::Null);
    let mut out: Vec<(String, String)> = meta
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    for (key, value) in [
        ("customer", row.opt_text(1)),
        ("payment_link", row.opt_text(2)),
    ] {
        if let Some(v) = value
            && !out.iter().any(|(k, _)| k == key)
        {
            out.push((key.to_owned(), v));
        }
    }
    Ok(out)
}

/// Tells plugins an invoice was finalized (made through the API or the CLI). The call waits
/// while the invoice's Payment Link is being made, so that plugins can send it.
pub fn invoice_finalized(
    conn: &mut dyn Conn,
    record: &crate::records::Record,
    now: i64,
) -> Result<(), DbError> {
    write_action(
        conn,
        &NewAction {
            tenant: record.tenant_id.clone(),
            event_id: format!("{}:finalized", record.id),
            hook: Hook::InvoiceFinalized,
            subject_kind: "invoice",
            subject_id: record.id.clone(),
            amount: Some((record.amount, record.currency.clone())),
            decision: json!({"fact": "invoice_finalized", "record": format!("invoice {}", record.id), "status": record.status}),
        },
        now,
    )
}

fn link_pending(conn: &mut dyn Conn, invoice: &str) -> Result<bool, DbError> {
    Ok(conn
        .query_opt(
            "SELECT payment_link_status FROM invoices WHERE id = $1",
            &[invoice.into()],
        )?
        .and_then(|r| r.opt_text(0))
        .is_some_and(|s| s == "pending"))
}

fn due_calls(conn: &mut dyn Conn, now: i64, limit: i64) -> Result<Vec<Due>, DbError> {
    let rows = conn.query(
        "SELECT c.action_seq, c.plugin, c.tenant_id, c.attempts, c.status, a.event_id, a.hook, a.subject_kind, a.subject_id, a.amount, a.currency, a.decision \
         FROM plugin_calls c JOIN plugin_actions a ON a.seq = c.action_seq \
         JOIN plugin_tenants t ON t.tenant_id = c.tenant_id AND t.plugin = c.plugin AND t.enabled = 1 \
         WHERE c.status IN ('pending', 'failed') AND c.next_attempt_at <= $1 ORDER BY c.next_attempt_at, c.action_seq LIMIT $2",
        &[now.into(), limit.into()],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let Some(hook) = parse_hook(&r.text(6)) else {
            continue;
        };
        let (kind, id) = (r.text(7), r.text(8));
        let amount = match (r.opt_int(9), r.opt_text(10)) {
            (Some(minor), Some(currency)) => Some(Amount { minor, currency }),
            _ => None,
        };
        out.push(Due {
            action_seq: r.int(0),
            plugin: r.text(1),
            tenant: r.text(2),
            attempts: r.int(3),
            status: r.text(4),
            action: Action {
                hook,
                tenant: r.text(2),
                event_id: r.text(5),
                subject: RecordRef { kind, id },
                amount,
                decision: r.text(11),
                // Read just before the call (see `round_with`).
                metadata: Vec::new(),
            },
        });
    }
    Ok(out)
}

fn load_kv(conn: &mut dyn Conn, tenant: &str, plugin: &str) -> Result<Kv, DbError> {
    Ok(conn
        .query(
            "SELECT key, value FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2",
            &[tenant.into(), plugin.into()],
        )?
        .into_iter()
        .map(|r| (r.text(0), r.text(1)))
        .collect())
}

/// Writes one key of a plugin's store: `None` (or an empty value) removes it.
fn write_kv(
    conn: &mut dyn Conn,
    tenant: &str,
    plugin: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), DbError> {
    match value.filter(|v| !v.is_empty()) {
        Some(value) => conn.execute(
            "INSERT INTO plugin_kv (tenant_id, plugin, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, plugin, key) DO UPDATE SET value = excluded.value",
            &[tenant.into(), plugin.into(), key.into(), value.into()],
        )?,
        None => conn.execute(
            "DELETE FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3",
            &[tenant.into(), plugin.into(), key.into()],
        )?,
    };
    Ok(())
}

/// Sets a key of a plugin's store for a tenant (the operator's configuration, e.g. an owner's
/// e-mail address), within the same limits a plugin has; an empty value removes the key.
pub fn kv_set(
    conn: &mut dyn Conn,
    tenant: &str,
    plugin: &str,
    key: &str,
    value: &str,
) -> Result<(), String> {
    // Under the lock a plugin call's `finish` takes, so its compare-and-set sees this write.
    transaction(conn, |tx| -> Result<Result<(), String>, DbError> {
        if tx.backend() == crate::db::Backend::Postgres {
            tx.query(
                "SELECT plugin FROM plugin_tenants WHERE tenant_id = $1 AND plugin = $2 FOR UPDATE",
                &[tenant.into(), plugin.into()],
            )?;
        }
        let kv = load_kv(tx, tenant, plugin)?;
        if let Err(why) = payhook_plugins::check_kv(key, value, kv.len(), kv.get(key).is_some()) {
            return Ok(Err(why));
        }
        write_kv(tx, tenant, plugin, key, Some(value))?;
        Ok(Ok(()))
    })
    .map_err(|e| e.to_string())?
}

fn command_json(c: &Command) -> Json {
    match c {
        Command::SetStatus(s) => {
            json!({"set_status": {"subject": {"kind": s.subject.kind, "id": s.subject.id}, "status": s.status}})
        }
        Command::Book(e) => {
            json!({"book": {"subject": {"kind": e.subject.kind, "id": e.subject.id}, "account": e.account, "amount": e.amount.minor, "currency": e.amount.currency, "memo": e.memo}})
        }
        Command::Notify(n) => json!({"notify": {"to": n.to, "subject": n.subject}}),
        Command::Callback(body) => json!({"callback": {"bytes": body.len()}}),
    }
}

/// Why a call's answer was not carried out.
#[derive(Debug)]
enum Unfinished {
    /// The database failed.
    Db(DbError),
    /// A key the call read or wrote changed since it was loaded (another node's call, the
    /// operator): the answer was made from old values; the call runs again.
    StoreChanged(String),
}

impl From<DbError> for Unfinished {
    fn from(e: DbError) -> Self {
        Unfinished::Db(e)
    }
}

/// Carries out a call's commands and its key-value writes, and marks it done, in one
/// transaction, provided every key the call read or wrote still has the value it was made
/// from. The plugin's store is locked for the check and the writes (SQLite: the write
/// transaction; PostgreSQL: the plugin's row for the tenant), so two calls of one plugin for
/// one tenant, on two nodes, never both act on the same value (two bookings of one slot).
fn finish(
    conn: &mut dyn Conn,
    due: &Due,
    commands: &[Command],
    kv: &Kv,
    now: i64,
) -> Result<(), Unfinished> {
    transaction(conn, |tx| {
        if tx.backend() == crate::db::Backend::Postgres {
            tx.query(
                "SELECT plugin FROM plugin_tenants WHERE tenant_id = $1 AND plugin = $2 FOR UPDATE",
                &[due.tenant.as_str().into(), due.plugin.as_str().into()],
            )?;
        }
        for (key, loaded) in kv.seen() {
            let now_is = tx
                .query_opt(
                    "SELECT value FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3",
                    &[
                        due.tenant.as_str().into(),
                        due.plugin.as_str().into(),
                        key.into(),
                    ],
                )?
                .map(|r| r.text(0))
                .filter(|v| !v.is_empty());
            if now_is.as_deref() != loaded {
                return Err(Unfinished::StoreChanged(key.to_owned()));
            }
        }
        let claimed = tx.execute(
            "UPDATE plugin_calls SET status = 'done', attempts = attempts + 1, last_error = NULL, commands = $1, updated_at = $2 \
             WHERE action_seq = $3 AND plugin = $4 AND status = $5",
            &[
                Json::Array(commands.iter().map(command_json).collect()).to_string().into(),
                now.into(),
                due.action_seq.into(),
                due.plugin.as_str().into(),
                due.status.as_str().into(),
            ],
        )?;
        if claimed != 1 {
            // Another node carried it out first.
            return Ok(());
        }
        let (tenant, event) = (due.tenant.as_str(), due.action.event_id.as_str());
        for (idx, c) in commands.iter().enumerate() {
            let idx = idx as i64;
            match c {
                Command::SetStatus(s) => {
                    tx.execute(
                        "INSERT INTO plugin_statuses (tenant_id, plugin, subject_kind, subject_id, status, event_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (tenant_id, plugin, subject_kind, subject_id) DO UPDATE SET status = excluded.status, event_id = excluded.event_id, updated_at = excluded.updated_at",
                        &[tenant.into(), due.plugin.as_str().into(), s.subject.kind.as_str().into(), s.subject.id.as_str().into(), s.status.as_str().into(), event.into(), now.into()],
                    )?;
                }
                Command::Book(e) => {
                    tx.execute(
                        "INSERT INTO plugin_ledger (action_seq, plugin, idx, tenant_id, subject_kind, subject_id, account, amount, currency, memo, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (action_seq, plugin, idx) DO NOTHING",
                        &[due.action_seq.into(), due.plugin.as_str().into(), idx.into(), tenant.into(), e.subject.kind.as_str().into(), e.subject.id.as_str().into(),
                          e.account.as_str().into(), e.amount.minor.into(), e.amount.currency.as_str().into(), e.memo.as_str().into(), now.into()],
                    )?;
                }
                Command::Notify(n) => {
                    let body = json!({"to": n.to, "title": n.subject, "text": n.text, "plugin": due.plugin});
                    tx.execute(
                        "INSERT INTO notifications (tenant_id, event_id, kind, subject, status, body, created_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6) \
                         ON CONFLICT (tenant_id, event_id, kind, subject) DO NOTHING",
                        &[tenant.into(), event.into(), format!("plugin:{}", due.plugin).into(),
                          format!("{} {} #{idx}", due.action.subject.kind, due.action.subject.id).into(), body.to_string().into(), now.into()],
                    )?;
                }
                Command::Callback(body) => {
                    tx.execute(
                        "INSERT INTO plugin_callbacks (action_seq, plugin, idx, tenant_id, body, status, attempts, next_attempt_at, created_at) \
                         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) ON CONFLICT (action_seq, plugin, idx) DO NOTHING",
                        &[due.action_seq.into(), due.plugin.as_str().into(), idx.into(), tenant.into(), body.as_str().into(), now.into()],
                    )?;
                }
            }
        }
        // Only what this call changed: a key set meanwhile by the operator stays as set.
        for (key, value) in kv.changes() {
            write_kv(tx, tenant, &due.plugin, key, value)?;
        }
        tx.execute(
            "UPDATE plugin_tenants SET failures = 0 WHERE tenant_id = $1 AND plugin = $2",
            &[tenant.into(), due.plugin.as_str().into()],
        )?;
        Ok(())
    })
}

/// Records a failed call: retried with backoff, `dead` after [`MAX_ATTEMPTS`]; the plugin is
/// disabled for the tenant after [`FAILURES_TO_DISABLE`] failures in a row.
fn fail(conn: &mut dyn Conn, due: &Due, error: &PluginError, now: i64) -> Result<(), DbError> {
    let attempts = due.attempts + 1;
    let status = if attempts >= MAX_ATTEMPTS {
        "dead"
    } else {
        "failed"
    };
    let wait = (FIRST_RETRY_SECS << (attempts - 1).clamp(0, 11)).min(3600);
    let message: String = error.to_string().chars().take(1000).collect();
    transaction(conn, |tx| {
        // The plugin's tenant row first, as `finish` takes it: no deadlock between the two.
        if tx.backend() == crate::db::Backend::Postgres {
            tx.query(
                "SELECT plugin FROM plugin_tenants WHERE tenant_id = $1 AND plugin = $2 FOR UPDATE",
                &[due.tenant.as_str().into(), due.plugin.as_str().into()],
            )?;
        }
        let claimed = tx.execute(
            "UPDATE plugin_calls SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, updated_at = $5 \
             WHERE action_seq = $6 AND plugin = $7 AND status = $8",
            &[status.into(), attempts.into(), (now + wait).into(), message.as_str().into(), now.into(),
              due.action_seq.into(), due.plugin.as_str().into(), due.status.as_str().into()],
        )?;
        if claimed != 1 {
            // Another node recorded this attempt first: one failure, counted once.
            return Ok(());
        }
        note_failure(tx, &due.tenant, &due.plugin, &message, now)
    })
}

/// Counts a failure of `plugin` for `tenant` (a call or a filter); at [`FAILURES_TO_DISABLE`]
/// in a row it is disabled for the tenant, with `message` in the reason.
fn note_failure(
    conn: &mut dyn Conn,
    tenant: &str,
    plugin: &str,
    message: &str,
    now: i64,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE plugin_tenants SET failures = failures + 1, updated_at = $1 WHERE tenant_id = $2 AND plugin = $3",
        &[now.into(), tenant.into(), plugin.into()],
    )?;
    let reason =
        format!("disabled after {FAILURES_TO_DISABLE} failed calls in a row; the last: {message}");
    conn.execute(
        "UPDATE plugin_tenants SET enabled = 0, disabled_reason = $1 WHERE tenant_id = $2 AND plugin = $3 AND failures >= $4 AND enabled = 1",
        &[reason.into(), tenant.into(), plugin.into(), FAILURES_TO_DISABLE.into()],
    )?;
    Ok(())
}

/// One round of the worker: dispatch new actions, then carry out the due calls. Returns how
/// many calls ran.
pub fn round(conn: &mut dyn Conn, plugins: &Plugins, now: i64) -> Result<usize, DbError> {
    round_with(conn, plugins, now, &mut |_| {})
}

/// As [`round`], running `between` after each plugin call and before its answer is carried
/// out: for tests that change things at that moment, as another node could.
#[doc(hidden)]
pub fn round_with(
    conn: &mut dyn Conn,
    plugins: &Plugins,
    now: i64,
    between: &mut dyn FnMut(&mut dyn Conn),
) -> Result<usize, DbError> {
    dispatch(conn, plugins, now)?;
    let mut due = due_calls(conn, now, 50)?;
    for d in &mut due {
        let Some(installed) = plugins.get(&d.plugin) else {
            // Enabled for the tenant but not installed on this node: left for a node that has it.
            continue;
        };
        if d.action.hook == Hook::InvoiceFinalized && link_pending(conn, &d.action.subject.id)? {
            conn.execute(
                "UPDATE plugin_calls SET next_attempt_at = $1 WHERE action_seq = $2 AND plugin = $3",
                &[(now + 2).into(), d.action_seq.into(), d.plugin.as_str().into()],
            )?;
            continue;
        }
        // The record as it is now, read after the link check: a Payment Link made while the
        // calls before this one ran is in what the plugin is told (read with the list of
        // calls, an invoice's e-mail could go out without the link it waited for).
        d.action.metadata = record_metadata(conn, &d.action.subject.kind, &d.action.subject.id)?;
        let d = &*d;
        let mut kv = load_kv(conn, &d.tenant, &d.plugin)?;
        match plugins
            .host
            .on_action(&installed.plugin, &d.action, &mut kv)
            .inspect(|_| between(conn))
        {
            Ok(commands) => match finish(conn, d, &commands, &kv, now) {
                Ok(()) => {}
                // Not a failure of the plugin's: it runs again, on the values as they are now.
                Err(Unfinished::StoreChanged(key)) => {
                    tracing::info!(plugin = %d.plugin, tenant = %d.tenant, action = d.action_seq, %key, "the plugin's store changed during its call; it runs again");
                }
                Err(Unfinished::Db(e)) => return Err(e),
            },
            Err(e) => {
                tracing::warn!(plugin = %d.plugin, tenant = %d.tenant, action = d.action_seq, error = %e, "a plugin call failed");
                fail(conn, d, &e, now)?;
            }
        }
    }
    Ok(due.len())
}

/// Runs the plugin worker until `stop` is set: plugin calls, then callbacks, a round whenever
/// there may be work, at least every `idle`. E-mail, when there is a `mailer`, goes out from a
/// thread of its own: a relay that is slow or does not answer (each message may take 10 s)
/// holds up only e-mail, never the plugin calls that confirm a booking or the callbacks.
pub fn run_worker(
    db: Database,
    plugins: std::sync::Arc<Plugins>,
    sealer: crate::seal::Sealer,
    mailer: Option<crate::mail::Mailer>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    idle: Duration,
) {
    std::thread::scope(|scope| {
        if let Some(mailer) = &mailer {
            let (db, plugins, stop) = (&db, &plugins, &stop);
            let started = std::thread::Builder::new()
                .name("payhook-mail".into())
                .spawn_scoped(scope, move || run_mail(db, plugins, mailer, stop, idle));
            if let Err(e) = started {
                tracing::error!(error = %e, "the e-mail worker cannot start; e-mail will not be sent");
            }
        }
        run_calls(&db, &plugins, &sealer, &stop, idle);
    });
}

/// The plugin calls and the callbacks, until `stop`.
fn run_calls(
    db: &Database,
    plugins: &Plugins,
    sealer: &crate::seal::Sealer,
    stop: &std::sync::atomic::AtomicBool,
    idle: Duration,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "the plugin worker cannot start its runtime; plugins will not run");
            return;
        }
    };
    crate::stripe::install_tls_provider();
    let client = reqwest::Client::new();
    keep_running(db, stop, idle, "plugins", |c| {
        let now = now_secs();
        Ok(round(c, plugins, now)? + deliver_callbacks(c, sealer, &client, &rt, now)?)
    });
}

/// The e-mail outbox, through the tenants' notification filters, until `stop`.
fn run_mail(
    db: &Database,
    plugins: &std::sync::Arc<Plugins>,
    mailer: &crate::mail::Mailer,
    stop: &std::sync::atomic::AtomicBool,
    idle: Duration,
) {
    let filters = PluginFilters::new(db.clone(), plugins.clone());
    keep_running(db, stop, idle, "e-mail", |c| {
        crate::mail::deliver(c, mailer, Some(&filters), now_secs())
    });
}

/// Runs `step` on a connection of its own until `stop`, resting `idle` whenever a step found
/// nothing to do. A step that fails is logged (for the `worker` named) and the connection
/// opened again for the next.
fn keep_running(
    db: &Database,
    stop: &std::sync::atomic::AtomicBool,
    idle: Duration,
    worker: &str,
    mut step: impl FnMut(&mut crate::db::DbConn) -> Result<usize, DbError>,
) {
    use std::sync::atomic::Ordering;
    let mut conn = None;
    while !stop.load(Ordering::SeqCst) {
        if conn.is_none() {
            conn = db.conn().ok();
        }
        let done = match conn.as_mut().map(&mut step) {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                tracing::warn!(%worker, error = %e, "a worker's round failed; retrying");
                conn = None;
                0
            }
            None => 0,
        };
        if done == 0 {
            std::thread::sleep(idle);
        }
    }
}

// ---- Platform callbacks ---------------------------------------------------------------------

/// Attempts a callback gets before it is `dead`.
pub const CALLBACK_ATTEMPTS: i64 = 10;
/// How long one callback may take.
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// A tenant's callback endpoint, as shown: the URL and the masked secret.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    /// Where callbacks are posted.
    pub url: String,
    /// The signing secret, masked (`whsec_…abcd`).
    pub secret: String,
}

/// Why a callback endpoint was refused.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The URL is not one payhook will post to.
    #[error("the callback URL {0:?} is not an http:// or https:// URL")]
    Url(String),
    /// The secret is not a Standard Webhooks secret.
    #[error(
        "the callback secret must be whsec_ followed by 24 to 64 bytes in base64 (e.g. `whsec_$(openssl rand -base64 32)`)"
    )]
    Secret,
    /// See the message.
    #[error("{0}")]
    Store(String),
}

fn secret_bytes(secret: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body = secret.strip_prefix("whsec_")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    (24..=64).contains(&bytes.len()).then_some(bytes)
}

/// Sets where the tenant's platform takes callbacks, and the secret they are signed with
/// (Standard Webhooks: `whsec_` and base64). The secret is sealed; only its mask is shown.
pub fn set_endpoint(
    conn: &mut dyn Conn,
    sealer: &crate::seal::Sealer,
    tenant: &str,
    url: &str,
    secret: &crate::secret::Secret,
    now: i64,
) -> Result<EndpointView, EndpointError> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url).map_err(|_| EndpointError::Url(url.to_owned()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(EndpointError::Url(url.to_owned()));
    }
    if secret_bytes(secret.expose()).is_none() {
        return Err(EndpointError::Secret);
    }
    let sealed = sealer
        .seal_secret(tenant, "callback_secret", secret)
        .map_err(|e| EndpointError::Store(e.to_string()))?;
    // Standard Webhooks secrets are base64 (with `+`, `/`, `=`), which the key mask refuses to
    // show any of; their last four characters are as safe to show as a key's.
    let body = secret.expose().trim_start_matches("whsec_");
    let hint = format!("whsec_…{}", &body[body.len().saturating_sub(4)..]);
    conn.execute(
        "INSERT INTO callback_endpoints (tenant_id, url, secret, secret_hint, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, secret_hint = excluded.secret_hint, updated_at = excluded.updated_at",
        &[tenant.into(), url.into(), sealed.to_string().into(), hint.as_str().into(), now.into()],
    )
    .map_err(|e| EndpointError::Store(e.to_string()))?;
    Ok(EndpointView {
        url: url.to_owned(),
        secret: hint,
    })
}

/// The Standard Webhooks signature of a message: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under the secret's bytes.
pub fn sign_callback(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
        .expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// One callback, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackView {
    /// Its `webhook-id`.
    pub id: String,
    /// The plugin that asked for it.
    pub plugin: String,
    /// `pending`, `delivered`, `failed` or `dead`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The body posted.
    pub body: String,
}

fn callback_id(action_seq: i64, plugin: &str, idx: i64) -> String {
    format!("msg_{action_seq}_{plugin}_{idx}")
}

/// A tenant's callbacks, newest first.
pub fn callbacks(
    conn: &mut dyn Conn,
    tenant: &str,
    limit: i64,
) -> Result<Vec<CallbackView>, DbError> {
    Ok(conn
        .query(
            "SELECT action_seq, plugin, idx, status, attempts, last_error, body FROM plugin_callbacks WHERE tenant_id = $1 \
             ORDER BY action_seq DESC, plugin, idx LIMIT $2",
            &[tenant.into(), limit.clamp(1, 500).into()],
        )?
        .iter()
        .map(|r| CallbackView {
            id: callback_id(r.int(0), &r.text(1), r.int(2)),
            plugin: r.text(1),
            status: r.text(3),
            attempts: r.int(4),
            last_error: r.opt_text(5),
            body: r.text(6),
        })
        .collect())
}

/// A callback's row key, id, tenant, attempts (this one included) and outcome.
type Posted = (
    Vec<crate::db::Value>,
    String,
    String,
    i64,
    Result<u16, String>,
);

/// Posts the due callbacks, signed and concurrently, and records each outcome: `delivered` on
/// a 2xx, else
/// retried with backoff and `dead` after [`CALLBACK_ATTEMPTS`]. A tenant without an endpoint
/// keeps its callbacks waiting (checked again every minute). Returns how many were attempted.
pub fn deliver_callbacks(
    conn: &mut dyn Conn,
    sealer: &crate::seal::Sealer,
    client: &reqwest::Client,
    rt: &tokio::runtime::Runtime,
    now: i64,
) -> Result<usize, DbError> {
    let due = conn.query(
        "SELECT c.action_seq, c.plugin, c.idx, c.tenant_id, c.body, c.attempts, c.status, e.url, e.secret, c.next_attempt_at \
         FROM plugin_callbacks c LEFT JOIN callback_endpoints e ON e.tenant_id = c.tenant_id \
         WHERE c.status IN ('pending', 'failed') AND c.next_attempt_at <= $1 ORDER BY c.next_attempt_at LIMIT 20",
        &[now.into()],
    )?;
    // Claimed and signed one by one, posted all at once (one platform that does not answer
    // costs a round one time-out, not one per callback), then each outcome recorded.
    let mut outcomes: Vec<Posted> = Vec::new();
    let mut posts = tokio::task::JoinSet::new();
    for r in &due {
        let (seq, plugin, idx, tenant, body) =
            (r.int(0), r.text(1), r.int(2), r.text(3), r.text(4));
        let (attempts, status) = (r.int(5), r.text(6));
        let id = callback_id(seq, &plugin, idx);
        let key: Vec<crate::db::Value> = vec![
            seq.into(),
            plugin.as_str().into(),
            idx.into(),
            status.as_str().into(),
        ];
        let (Some(url), Some(sealed)) = (r.opt_text(7), r.opt_text(8)) else {
            conn.execute(
                "UPDATE plugin_callbacks SET next_attempt_at = $1, last_error = $2 WHERE action_seq = $3 AND plugin = $4 AND idx = $5 AND status = $6",
                &[(now + 60).into(), "no callback URL is set for the tenant (payhook plugin callback --tenant …)".into(), key[0].clone(), key[1].clone(), key[2].clone(), key[3].clone()],
            )?;
            continue;
        };
        // Claimed before it is posted, as e-mails are (see `mail::SEND_LEASE_SECS`).
        let claimed = conn.execute(
            "UPDATE plugin_callbacks SET next_attempt_at = $1 WHERE action_seq = $2 AND plugin = $3 AND idx = $4 AND status = $5 AND next_attempt_at = $6",
            &[(now.max(crate::ids::now_secs()) + crate::mail::SEND_LEASE_SECS).into(), key[0].clone(), key[1].clone(), key[2].clone(), key[3].clone(), r.int(9).into()],
        )?;
        if claimed != 1 {
            continue;
        }
        let secret = crate::seal::SealedSecret::parse(&sealed)
            .ok()
            .and_then(|s| sealer.open_secret(&tenant, "callback_secret", &s).ok())
            .and_then(|s| secret_bytes(s.expose()));
        let Some(secret) = secret else {
            let e = "the callback secret cannot be opened with this master key".to_owned();
            outcomes.push((key, id, tenant, attempts + 1, Err(e)));
            continue;
        };
        let signature = sign_callback(&secret, &id, now, &body);
        let request = client
            .post(&url)
            .timeout(CALLBACK_TIMEOUT)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .body(body);
        posts.spawn_on(
            async move {
                let outcome = match request.send().await {
                    Ok(response) if response.status().is_success() => {
                        Ok(response.status().as_u16())
                    }
                    Ok(response) => Err(format!("the platform answered {}", response.status())),
                    // Without the URL: its query may carry the platform's token.
                    Err(e) => Err(format!(
                        "the platform could not be reached: {}",
                        e.without_url()
                    )),
                };
                (key, id, tenant, attempts + 1, outcome)
            },
            rt.handle(),
        );
    }
    outcomes.extend(rt.block_on(posts.join_all()));
    for (key, id, tenant, attempts, outcome) in outcomes {
        match outcome {
            Ok(code) => {
                tracing::info!(callback = %id, tenant = %tenant, status = code, "callback delivered");
                conn.execute(
                    "UPDATE plugin_callbacks SET status = 'delivered', attempts = $1, last_error = NULL WHERE action_seq = $2 AND plugin = $3 AND idx = $4 AND status = $5",
                    &[attempts.into(), key[0].clone(), key[1].clone(), key[2].clone(), key[3].clone()],
                )?;
            }
            Err(e) => {
                let next_status = if attempts >= CALLBACK_ATTEMPTS {
                    "dead"
                } else {
                    "failed"
                };
                tracing::warn!(callback = %id, tenant = %tenant, attempts, error = %e, "callback failed");
                let wait = (FIRST_RETRY_SECS << (attempts - 1).clamp(0, 11)).min(3600);
                conn.execute(
                    "UPDATE plugin_callbacks SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4 \
                     WHERE action_seq = $5 AND plugin = $6 AND idx = $7 AND status = $8",
                    &[next_status.into(), attempts.into(), (now + wait).into(), e.into(), key[0].clone(), key[1].clone(), key[2].clone(), key[3].clone()],
                )?;
            }
        }
    }
    Ok(due.len())
}

// ---- Filters --------------------------------------------------------------------------------

/// The plugins' filters, for the server's filter points (see [`crate::hooks`]): each plugin
/// enabled for the tenant that asked for the point, in name order, may change the value; a
/// plugin that fails or answers out of the rules is skipped (logged) and the value goes on
/// unchanged. Filters read the plugin's key-value store; what they write to it is not kept.
/// The refund filter runs for late cancellations only (a refund asked with a cancellation fee).
/// A `checkout-params` filter that answers with an error of its own refuses the checkout or
/// link (its words are the answer's); one that traps, times out or changes what it may not
/// (see [`payhook_core::stripe::changes`]) is skipped. When the tenant's plugins or their
/// state cannot be read, no filter runs and the point answers [`FiltersUnavailable`]: the
/// checkout, refund or e-mail waits rather than going out unfiltered.
pub struct PluginFilters {
    db: Database,
    plugins: std::sync::Arc<Plugins>,
}

impl PluginFilters {
    /// Filters by `plugins`, with their per-tenant state in `db`.
    pub fn new(db: Database, plugins: std::sync::Arc<Plugins>) -> PluginFilters {
        PluginFilters { db, plugins }
    }

    /// Counts a filter call as the plugin's calls are counted: a failure toward disabling it
    /// for the tenant (with the error as the reason, visible in `payhook plugin list`), a
    /// success resetting the count.
    fn count(
        &self,
        tenant: &str,
        plugin: &str,
        point: payhook_plugins::FilterPoint,
        outcome: Result<(), &PluginError>,
    ) {
        let point = filter_point_name(point);
        let Ok(mut conn) = self.db.conn() else {
            return;
        };
        let now = crate::ids::now_secs();
        let written = match outcome {
            Ok(()) => conn
                .execute(
                    "UPDATE plugin_tenants SET failures = 0 WHERE tenant_id = $1 AND plugin = $2 AND failures > 0",
                    &[tenant.into(), plugin.into()],
                )
                .map(drop),
            Err(e) => {
                let message: String = format!("the {point} filter: {e}").chars().take(1000).collect();
                transaction(&mut conn, |tx| note_failure(tx, tenant, plugin, &message, now))
            }
        };
        if let Err(e) = written {
            tracing::warn!(%plugin, %tenant, error = %e, "a filter's outcome could not be recorded");
        }
    }

    /// The tenant's enabled plugins that filter `point`, in name order, each with its
    /// key-value store; or [`FiltersUnavailable`] when any of that cannot be read, so that no
    /// value is ever used unfiltered because the database failed (the error is logged here).
    fn enabled(
        &self,
        tenant: &str,
        point: payhook_plugins::FilterPoint,
    ) -> Result<Vec<(&Installed, Kv)>, FiltersUnavailable> {
        let name = filter_point_name(point);
        if !self.plugins.list.iter().any(|p| p.plugin.filters(point)) {
            return Ok(Vec::new());
        }
        let unavailable = |e: &dyn std::fmt::Display| {
            tracing::warn!(%tenant, point = name, error = %e, "the tenant's plugins could not be read; the filters did not run and what they guard was not done");
            FiltersUnavailable { point: name }
        };
        let mut conn = self.db.conn().map_err(|e| unavailable(&e))?;
        let states = tenant_plugins(&mut conn, tenant).map_err(|e| unavailable(&e))?;
        let mut out = Vec::new();
        for p in states
            .iter()
            .filter(|s| s.enabled)
            .filter_map(|s| self.plugins.get(&s.plugin))
            .filter(|p| p.plugin.filters(point))
        {
            let kv = load_kv(&mut conn, tenant, &p.manifest.name).map_err(|e| unavailable(&e))?;
            out.push((p, kv));
        }
        Ok(out)
    }
}

/// A filter point's name, as the WIT spells it (in logs, errors and the reason a plugin is
/// disabled).
fn filter_point_name(point: payhook_plugins::FilterPoint) -> &'static str {
    use payhook_plugins::FilterPoint;
    match point {
        FilterPoint::CheckoutParams => "checkout-params",
        FilterPoint::RefundAmount => "refund-amount",
        FilterPoint::Notification => "notification",
    }
}

impl crate::hooks::Filters for PluginFilters {
    fn checkout_params(
        &self,
        ctx: &crate::hooks::CheckoutContext<'_>,
        what: &'static str,
        form: &[(String, String)],
    ) -> Result<Vec<(String, String)>, crate::hooks::CheckoutFilterError> {
        use payhook_core::stripe::changes;
        use payhook_plugins::{FilterPoint, FilterRequest, FilterValue, PluginError};
        let mut current = form.to_vec();
        for (p, mut kv) in self.enabled(ctx.tenant, FilterPoint::CheckoutParams)? {
            let request = FilterRequest {
                point: FilterPoint::CheckoutParams,
                tenant: ctx.tenant.to_owned(),
                subject: RecordRef {
                    kind: ctx.kind.to_owned(),
                    id: ctx.record.to_owned(),
                },
                value: FilterValue::Params(current.clone()),
            };
            let name = &p.manifest.name;
            match self.plugins.host.apply_filter(&p.plugin, &request, &mut kv) {
                Ok(FilterValue::Params(answer)) => {
                    // Checked against payhook's own form: all the filters' changes together
                    // stay within the rules, and a later filter may reword an earlier one's.
                    let checked = changes::changes_between(form, &answer).and_then(|c| {
                        let mut next = form.to_vec();
                        changes::apply(&mut next, &c)?;
                        Ok(next)
                    });
                    match checked {
                        Ok(next) => {
                            current = next;
                            self.count(ctx.tenant, name, FilterPoint::CheckoutParams, Ok(()));
                        }
                        Err(e) => {
                            tracing::warn!(plugin = %name, tenant = %ctx.tenant, error = %e, "a checkout-params filter changed what it may not; its answer was not used");
                            let e = PluginError::Invalid(e.to_string());
                            self.count(ctx.tenant, name, FilterPoint::CheckoutParams, Err(&e));
                        }
                    }
                }
                Ok(_) => {
                    tracing::warn!(plugin = %name, "a checkout-params filter answered another kind of value; skipped")
                }
                // The plugin's own "no" (a price under its minimum, a slot that is taken).
                Err(PluginError::Failed(reason)) => {
                    return Err(crate::hooks::CheckoutRefused {
                        plugin: name.clone(),
                        what,
                        reason,
                    }
                    .into());
                }
                // A trap, a time-out, an invalid answer: the plugin is broken, not refusing.
                Err(e) => {
                    tracing::warn!(plugin = %name, tenant = %ctx.tenant, error = %e, "a checkout-params filter failed; skipped");
                    self.count(ctx.tenant, name, FilterPoint::CheckoutParams, Err(&e));
                }
            }
        }
        // Every step was checked; the whole is checked once more against payhook's form.
        changes::changes_between(form, &current).map_err(|e| {
            crate::hooks::CheckoutRefused {
                plugin: "payhook".into(),
                what,
                reason: e.to_string(),
            }
            .into()
        })
    }

    fn refund_amount(
        &self,
        ctx: &crate::hooks::RefundContext<'_>,
        proposed: payhook_core::policy::FeeSplit,
    ) -> Result<payhook_core::policy::FeeSplit, FiltersUnavailable> {
        use payhook_core::money::Money;
        use payhook_plugins::{FilterPoint, FilterRequest, FilterValue, RefundSplit};
        // The refund filter is the late-cancellation fee's: a plain refund is as asked.
        if !ctx.cancellation {
            return Ok(proposed);
        }
        let currency = proposed.refund.currency;
        let mut split = proposed;
        for (p, mut kv) in self.enabled(ctx.tenant, FilterPoint::RefundAmount)? {
            let request = FilterRequest {
                point: FilterPoint::RefundAmount,
                tenant: ctx.tenant.to_owned(),
                subject: RecordRef {
                    kind: "payment".into(),
                    id: ctx.payment.to_owned(),
                },
                value: FilterValue::Refund(RefundSplit {
                    fee: Amount {
                        minor: split.fee.minor,
                        currency: currency.as_str().to_owned(),
                    },
                    refund: Amount {
                        minor: split.refund.minor,
                        currency: currency.as_str().to_owned(),
                    },
                }),
            };
            match self.plugins.host.apply_filter(&p.plugin, &request, &mut kv) {
                Ok(FilterValue::Refund(r)) => {
                    split = payhook_core::policy::FeeSplit {
                        fee: Money::new(r.fee.minor, currency),
                        refund: Money::new(r.refund.minor, currency),
                    };
                    self.count(
                        ctx.tenant,
                        &p.manifest.name,
                        FilterPoint::RefundAmount,
                        Ok(()),
                    );
                }
                Ok(_) => {
                    tracing::warn!(plugin = %p.manifest.name, "a refund filter answered another kind of value; skipped")
                }
                Err(e) => {
                    tracing::warn!(plugin = %p.manifest.name, tenant = %ctx.tenant, error = %e, "a refund filter failed; skipped");
                    self.count(
                        ctx.tenant,
                        &p.manifest.name,
                        FilterPoint::RefundAmount,
                        Err(&e),
                    );
                }
            }
        }
        Ok(split)
    }
}

impl PluginFilters {
    /// An e-mail before it is sent: the notification filters of the tenant's plugins, in name
    /// order, may change its subject and text (the recipient stays). `subject` is the record
    /// the notification is about (`kind`, `id`). [`FiltersUnavailable`] means the e-mail is
    /// not to be sent yet.
    pub fn notification(
        &self,
        tenant: &str,
        record: (&str, &str),
        mail: payhook_plugins::Notification,
    ) -> Result<payhook_plugins::Notification, FiltersUnavailable> {
        use payhook_plugins::{FilterPoint, FilterRequest, FilterValue};
        let mut mail = mail;
        for (p, mut kv) in self.enabled(tenant, FilterPoint::Notification)? {
            let request = FilterRequest {
                point: FilterPoint::Notification,
                tenant: tenant.to_owned(),
                subject: RecordRef {
                    kind: record.0.to_owned(),
                    id: record.1.to_owned(),
                },
                value: FilterValue::Message(mail.clone()),
            };
            match self.plugins.host.apply_filter(&p.plugin, &request, &mut kv) {
                Ok(FilterValue::Message(m)) => {
                    mail = payhook_plugins::Notification { to: mail.to, ..m };
                    self.count(tenant, &p.manifest.name, FilterPoint::Notification, Ok(()));
                }
                Ok(_) => {
                    tracing::warn!(plugin = %p.manifest.name, "a notification filter answered another kind of value; skipped")
                }
                Err(e) => {
                    tracing::warn!(plugin = %p.manifest.name, tenant = %tenant, error = %e, "a notification filter failed; skipped");
                    self.count(tenant, &p.manifest.name, FilterPoint::Notification, Err(&e));
                }
            }
        }
        Ok(mail)
    }
}
