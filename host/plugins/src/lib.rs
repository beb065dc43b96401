//! The plugin host: loads payhook plugins (`.wasm` components of the `payhook:plugin` world,
//! `wit/plugin`) with wasmtime and calls their hooks, sandboxed.
//!
//! - **Nothing to reach**: a plugin may import only payhook's `host` interface (logging and a
//!   key-value store scoped to the plugin and tenant). One that imports anything else (a
//!   filesystem, sockets, clocks, randomness, the environment) is refused when it is loaded.
//! - **A fresh store per call**, with a memory cap and an epoch deadline: nothing survives
//!   from one call to the next, a loop is stopped at the deadline, runaway allocation at the
//!   cap. A trap, a time-out, a plugin's own error and an invalid answer are each a typed
//!   [`PluginError`]; the caller's state is never touched by a failed call.
//! - **Outputs are checked before use** ([`check_commands`], [`check_filter`]): statuses from
//!   the plugin's declared set, only the action's own record, amounts not negative and within
//!   the payment, sizes bounded; a filter's refund split must still add up.
//! - **Repeated failures disable** a plugin for a tenant ([`Health`]), with the reason kept for
//!   the operator.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use payhook_runtime::Ticker;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/plugin",
        world: "payhook-plugin",
        additional_derives: [PartialEq, Eq],
    });
}

pub use bindings::payhook::plugin::host::Level;
pub use bindings::payhook::plugin::types::{
    Action, Amount, Command, FilterPoint, FilterRequest, FilterValue, Hook, LedgerEntry, Manifest,
    Notification, RecordRef, RefundSplit, StatusChange,
};

/// The most a plugin may ask for in one answer.
pub mod limits {
    /// Commands per action.
    pub const MAX_COMMANDS: usize = 32;
    /// Characters in a status.
    pub const MAX_STATUS: usize = 64;
    /// Characters in an account name.
    pub const MAX_ACCOUNT: usize = 64;
    /// Characters in a memo.
    pub const MAX_MEMO: usize = 500;
    /// Characters in an e-mail address.
    pub const MAX_ADDRESS: usize = 254;
    /// Characters in a subject line.
    pub const MAX_SUBJECT: usize = 200;
    /// Characters in an e-mail's text.
    pub const MAX_TEXT: usize = 10_000;
    /// Bytes in a callback body.
    pub const MAX_CALLBACK: usize = 64 * 1024;
    /// Bytes in a key-value key.
    pub const MAX_KEY: usize = 128;
    /// Bytes in a key-value value.
    pub const MAX_VALUE: usize = 16 * 1024;
    /// Keys per plugin and tenant.
    pub const MAX_KEYS: usize = 1_000;
    /// Characters of a log line kept.
    pub const MAX_LOG: usize = 2_000;
    /// Log lines kept per call; the rest are dropped, with one warning.
    pub const MAX_LOG_LINES: usize = 100;
    /// Table elements per instance (a `table.grow` beyond it fails).
    pub const MAX_TABLE_ELEMENTS: usize = 100_000;
}

/// Why a plugin could not be loaded or a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The file is not a WebAssembly component wasmtime can compile.
    #[error("the plugin is not a WebAssembly component payhook can load: {0}")]
    Compile(String),
    /// It imports something payhook does not give plugins.
    #[error(
        "the plugin imports what payhook does not give plugins (only payhook:plugin/host: logging and a key-value store): {0}"
    )]
    Link(String),
    /// Its manifest is unusable.
    #[error("the plugin's manifest is invalid: {0}")]
    Manifest(String),
    /// It ran past its deadline and was stopped.
    #[error("the plugin ran longer than {0:?} and was stopped")]
    Timeout(Duration),
    /// It tried to use more memory than allowed.
    #[error("the plugin tried to use more than {0} bytes of memory and was stopped")]
    OutOfMemory(usize),
    /// It trapped (a panic, an invalid operation).
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// It answered with an error of its own.
    #[error("the plugin failed: {0}")]
    Failed(String),
    /// Its answer breaks a rule; nothing of it was used.
    #[error("the plugin's answer was refused: {0}")]
    Invalid(String),
}

/// The sandbox's size.
#[derive(Debug, Clone, Copy)]
pub struct SandboxLimits {
    /// Linear memory per call.
    pub memory: usize,
    /// Wall-clock time per call.
    pub deadline: Duration,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory: 16 << 20,
            deadline: Duration::from_millis(100),
        }
    }
}

/// The key-value store a plugin sees for the tenant of a call: the host loads it before the
/// call and keeps what the call changed only when the call succeeds, so a failed call changes
/// nothing. Setting a key to the empty string removes it. [`Kv::changes`] is what a host writes
/// back: only the keys a call changed, so a write made meanwhile to another key (an operator's
/// setting) is never overwritten with an old value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Kv {
    values: HashMap<String, String>,
    changed: std::collections::BTreeSet<String>,
    /// Every key a call read or wrote, with its value as loaded: what the call's answer was
    /// made from (see [`Kv::seen`]).
    seen: std::collections::BTreeMap<String, Option<String>>,
}

impl Kv {
    /// The stored value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value a plugin reads: as [`Kv::get`], noting that the call depends on it.
    fn read(&mut self, key: &str) -> Option<String> {
        let value = self.values.get(key).cloned();
        if !self.changed.contains(key) {
            self.seen
                .entry(key.to_owned())
                .or_insert_with(|| value.clone());
        }
        value
    }

    /// The keys the plugin's calls read or wrote, each with its value as loaded. A host that
    /// runs calls on several nodes checks, when it writes a call's changes back, that these
    /// still hold, and otherwise runs the call again: two calls never both act on one value.
    pub fn seen(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.seen.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The keys changed since the store was loaded, each with its new value (`None`: removed).
    pub fn changes(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.changed.iter().map(|k| (k.as_str(), self.get(k)))
    }

    /// Sets `key` within the limits (see [`check_kv`]); an empty value removes it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        check_kv(key, value, self.values.len(), self.values.contains_key(key))?;
        if !self.changed.contains(key) {
            let loaded = self.values.get(key).cloned();
            self.seen.entry(key.to_owned()).or_insert(loaded);
        }
        if value.is_empty() {
            self.values.remove(key);
        } else {
            self.values.insert(key.to_owned(), value.to_owned());
        }
        self.changed.insert(key.to_owned());
        Ok(())
    }
}

/// A store as loaded: these values, nothing changed.
impl FromIterator<(String, String)> for Kv {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Kv {
        Kv {
            values: pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
            changed: Default::default(),
            seen: Default::default(),
        }
    }
}

/// The key-value limits, for a [`Kv`] and for a host's own writes: `len` keys stored, `exists`
/// whether `key` is one. Removing a key (an empty value) is always allowed.
pub fn check_kv(key: &str, value: &str, len: usize, exists: bool) -> Result<(), String> {
    if key.is_empty() || key.len() > limits::MAX_KEY {
        return Err(format!("a key must be 1 to {} bytes", limits::MAX_KEY));
    }
    if value.len() > limits::MAX_VALUE {
        return Err(format!(
            "a value may be at most {} bytes",
            limits::MAX_VALUE
        ));
    }
    if !exists && !value.is_empty() && len >= limits::MAX_KEYS {
        return Err(format!(
            "at most {} keys per plugin and tenant",
            limits::MAX_KEYS
        ));
    }
    Ok(())
}

struct CallState {
    limits: StoreLimits,
    plugin: String,
    tenant: String,
    kv: Kv,
    /// Log lines written by this call.
    logged: usize,
}

impl bindings::payhook::plugin::types::Host for CallState {}

impl bindings::payhook::plugin::host::Host for CallState {
    fn log(&mut self, level: Level, message: String) {
        self.logged += 1;
        let (plugin, tenant) = (&self.plugin, &self.tenant);
        if self.logged > limits::MAX_LOG_LINES {
            if self.logged == limits::MAX_LOG_LINES + 1 {
                tracing::warn!(%plugin, %tenant, "the plugin wrote more than {} log lines in one call; the rest of this call's are dropped", limits::MAX_LOG_LINES);
            }
            return;
        }
        // One line each, as written: control characters (a forged second line) become spaces.
        let message: String = message
            .chars()
            .take(limits::MAX_LOG)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        match level {
            Level::Debug => tracing::debug!(%plugin, %tenant, "{message}"),
            Level::Info => tracing::info!(%plugin, %tenant, "{message}"),
            Level::Warn => tracing::warn!(%plugin, %tenant, "{message}"),
            Level::Error => tracing::error!(%plugin, %tenant, "{message}"),
        }
    }
    fn kv_get(&mut self, key: String) -> Option<String> {
        self.kv.read(&key)
    }
    fn kv_set(&mut self, key: String, value: String) -> Result<(), String> {
        self.kv.set(&key, &value)
    }
}

/// A loaded plugin: compiled once, instantiated afresh for every call.
pub struct Plugin {
    manifest: Manifest,
    pre: bindings::PayhookPluginPre<CallState>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// What it declared.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    /// Its name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }
    /// Whether it asked for `hook`.
    pub fn wants(&self, hook: Hook) -> bool {
        self.manifest.hooks.contains(&hook)
    }
    /// Whether it asked for the filter `point`.
    pub fn filters(&self, point: FilterPoint) -> bool {
        self.manifest.filters.contains(&point)
    }
}

/// Loads and calls plugins. One per process; cheap to share by reference.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<CallState>,
    limits: SandboxLimits,
    deadline_ticks: u64,
    _ticker: Ticker,
}

/// How often the deadline clock advances.
const TICK: Duration = Duration::from_millis(5);

impl PluginHost {
    /// A host whose calls run within `limits`.
    pub fn new(limits: SandboxLimits) -> Result<PluginHost, PluginError> {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        bindings::PayhookPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Link(format!("{e:#}")))?;
        let deadline_ticks = (limits.deadline.as_millis() / TICK.as_millis()).max(1) as u64 + 1;
        let ticker = Ticker::start(engine.clone(), TICK);
        Ok(PluginHost {
            engine,
            linker,
            limits,
            deadline_ticks,
            _ticker: ticker,
        })
    }

    /// Compiles a plugin, checks that it imports only payhook's host interface, and reads and
    /// checks its manifest.
    pub fn load(&self, wasm: &[u8]) -> Result<Plugin, PluginError> {
        let component = Component::new(&self.engine, wasm)
            .map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        // Imports are resolved once here: only payhook's host interface links.
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(bindings::PayhookPluginPre::new)
            .map_err(|e| PluginError::Link(format!("{e:#}")))?;
        let mut kv = Kv::default();
        let manifest = self.call(&pre, "(loading)", "", &mut kv, |p, store| {
            p.payhook_plugin_plugin().call_describe(store)
        })?;
        check_manifest(&manifest)?;
        Ok(Plugin { manifest, pre })
    }

    /// Tells `plugin` about `action`, if it asked for that hook (else returns no commands
    /// without calling it), and returns its commands once checked.
    pub fn on_action(
        &self,
        plugin: &Plugin,
        action: &Action,
        kv: &mut Kv,
    ) -> Result<Vec<Command>, PluginError> {
        if !plugin.wants(action.hook) {
            return Ok(Vec::new());
        }
        let before = kv.clone();
        let checked = self
            .call(
                &plugin.pre,
                plugin.name(),
                &action.tenant,
                kv,
                |p, store| p.payhook_plugin_plugin().call_on_action(store, action),
            )
            .and_then(|answer| {
                let commands =
                    answer.map_err(|e| PluginError::Failed(e.chars().take(500).collect()))?;
                check_commands(plugin.manifest(), action, &commands)?;
                Ok(commands)
            });
        if checked.is_err() {
            *kv = before;
        }
        checked
    }

    /// Passes a value through `plugin`'s filter, if it asked for that filter point (else returns
    /// the value unchanged), and checks what comes back.
    pub fn apply_filter(
        &self,
        plugin: &Plugin,
        request: &FilterRequest,
        kv: &mut Kv,
    ) -> Result<FilterValue, PluginError> {
        if !plugin.filters(request.point) {
            return Ok(request.value.clone());
        }
        let before = kv.clone();
        let checked = self
            .call(
                &plugin.pre,
                plugin.name(),
                &request.tenant,
                kv,
                |p, store| p.payhook_plugin_plugin().call_apply_filter(store, request),
            )
            .and_then(|answer| {
                let value =
                    answer.map_err(|e| PluginError::Failed(e.chars().take(500).collect()))?;
                check_filter(request, &value)?;
                Ok(value)
            });
        if checked.is_err() {
            *kv = before;
        }
        checked
    }

    fn call<R>(
        &self,
        pre: &bindings::PayhookPluginPre<CallState>,
        plugin: &str,
        tenant: &str,
        kv: &mut Kv,
        f: impl FnOnce(&bindings::PayhookPlugin, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let state = CallState {
            limits: StoreLimitsBuilder::new()
                .memory_size(self.limits.memory)
                .table_elements(limits::MAX_TABLE_ELEMENTS)
                .instances(4)
                .tables(4)
                .memories(2)
                .trap_on_grow_failure(true)
                .build(),
            plugin: plugin.to_owned(),
            tenant: tenant.to_owned(),
            kv: kv.clone(),
            logged: 0,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks);
        store.epoch_deadline_trap();
        let started = Instant::now();
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| self.classify(e, started))?;
        let out = f(&instance, &mut store).map_err(|e| self.classify(e, started))?;
        *kv = store.into_data().kv;
        Ok(out)
    }

    fn classify(&self, e: wasmtime::Error, started: Instant) -> PluginError {
        let message = format!("{e:#}");
        match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => PluginError::Timeout(started.elapsed()),
            Some(wasmtime::Trap::AllocationTooLarge) => {
                PluginError::OutOfMemory(self.limits.memory)
            }
            _ if message.contains("forcing trap when growing memory")
                || message.contains("memory size")
                || message.contains("exceeds memory limits") =>
            {
                PluginError::OutOfMemory(self.limits.memory)
            }
            _ => PluginError::Trap(message),
        }
    }
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A manifest payhook can use: a short name, a version, and statuses that are short words.
pub fn check_manifest(m: &Manifest) -> Result<(), PluginError> {
    let bad = |why: String| Err(PluginError::Manifest(why));
    if m.name.is_empty()
        || m.name.len() > 64
        || !m
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad(format!(
            "name {:?}: use 1 to 64 lower-case letters, digits and '-'",
            m.name.chars().take(80).collect::<String>()
        ));
    }
    if m.version.is_empty() || m.version.len() > 32 {
        return bad("version: give one, such as 1.0.0".into());
    }
    if m.statuses.len() > 64 {
        return bad("at most 64 statuses".into());
    }
    if let Some(s) = m
        .statuses
        .iter()
        .find(|s| s.is_empty() || s.chars().count() > limits::MAX_STATUS)
    {
        return bad(format!(
            "status {s:?}: 1 to {} characters",
            limits::MAX_STATUS
        ));
    }
    Ok(())
}

/// Checks a plugin's commands for `action`; the first rule broken refuses them all.
pub fn check_commands(
    manifest: &Manifest,
    action: &Action,
    commands: &[Command],
) -> Result<(), PluginError> {
    let bad = |why: String| Err(PluginError::Invalid(why));
    if commands.len() > limits::MAX_COMMANDS {
        return bad(format!(
            "{} commands; at most {} per action",
            commands.len(),
            limits::MAX_COMMANDS
        ));
    }
    let own = |r: &RecordRef| r.kind == action.subject.kind && r.id == action.subject.id;
    for c in commands {
        match c {
            Command::SetStatus(s) => {
                if !own(&s.subject) {
                    return bad(format!(
                        "it set the status of {} {}, not of the action's record",
                        s.subject.kind, s.subject.id
                    ));
                }
                if !manifest.statuses.contains(&s.status) {
                    return bad(format!(
                        "status {:?} is not one it declared ({})",
                        s.status,
                        manifest.statuses.join(", ")
                    ));
                }
            }
            Command::Book(e) => {
                if !own(&e.subject) {
                    return bad(format!(
                        "it booked an entry on {} {}, not on the action's record",
                        e.subject.kind, e.subject.id
                    ));
                }
                if e.amount.minor < 0 {
                    return bad(format!(
                        "a negative amount ({}) in a ledger entry",
                        e.amount.minor
                    ));
                }
                match &action.amount {
                    Some(a) if a.currency != e.amount.currency => {
                        return bad(format!(
                            "a ledger entry in {} for a payment in {}",
                            e.amount.currency, a.currency
                        ));
                    }
                    Some(a) if e.amount.minor > a.minor.abs() => {
                        return bad(format!(
                            "a ledger entry of {} minor units for a payment of {}",
                            e.amount.minor, a.minor
                        ));
                    }
                    None => return bad("a ledger entry for an action with no amount".into()),
                    Some(_) => {}
                }
                if e.account.is_empty() || e.account.chars().count() > limits::MAX_ACCOUNT {
                    return bad(format!(
                        "an account name of 1 to {} characters",
                        limits::MAX_ACCOUNT
                    ));
                }
                if e.memo.chars().count() > limits::MAX_MEMO {
                    return bad(format!("a memo over {} characters", limits::MAX_MEMO));
                }
            }
            Command::Notify(n) => check_notification(n).or_else(bad)?,
            Command::Callback(body) => {
                if body.len() > limits::MAX_CALLBACK {
                    return bad(format!(
                        "a callback body over {} bytes",
                        limits::MAX_CALLBACK
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_notification(n: &Notification) -> Result<(), String> {
    if n.to.is_empty() || n.to.len() > limits::MAX_ADDRESS || !n.to.contains('@') {
        return Err(format!(
            "an e-mail address {:?}",
            n.to.chars().take(80).collect::<String>()
        ));
    }
    if n.subject.chars().count() > limits::MAX_SUBJECT {
        return Err(format!("a subject over {} characters", limits::MAX_SUBJECT));
    }
    if n.text.chars().count() > limits::MAX_TEXT {
        return Err(format!(
            "an e-mail text over {} characters",
            limits::MAX_TEXT
        ));
    }
    Ok(())
}

/// Checks a filter's answer against what it was offered: the same kind of value; a refund
/// split in the same currency, not negative, adding up to the same total; a notification
/// within its limits.
pub fn check_filter(request: &FilterRequest, value: &FilterValue) -> Result<(), PluginError> {
    let bad = |why: String| Err(PluginError::Invalid(why));
    match (&request.value, value) {
        (FilterValue::Refund(before), FilterValue::Refund(after)) => {
            let currency = &before.refund.currency;
            if &after.fee.currency != currency || &after.refund.currency != currency {
                return bad(format!(
                    "a refund split in another currency than {currency}"
                ));
            }
            if after.fee.minor < 0 || after.refund.minor < 0 {
                return bad("a negative amount in a refund split".into());
            }
            let total = before.fee.minor + before.refund.minor;
            if after.fee.minor.checked_add(after.refund.minor) != Some(total) {
                return bad(format!(
                    "a fee of {} and a refund of {} that do not add up to {total}",
                    after.fee.minor, after.refund.minor
                ));
            }
            Ok(())
        }
        (FilterValue::Message(_), FilterValue::Message(n)) => check_notification(n).or_else(bad),
        (FilterValue::Params(_), FilterValue::Params(p)) => {
            if p.len() > 500 || p.iter().any(|(k, v)| k.len() > 200 || v.len() > 5_000) {
                return bad("too many or too long parameters".into());
            }
            Ok(())
        }
        _ => bad("a value of another kind than it was given".into()),
    }
}

/// Consecutive failures per plugin and tenant; a plugin that fails [`Health::threshold`] times
/// in a row is disabled for that tenant, with the last error kept as the reason.
#[derive(Debug)]
pub struct Health {
    threshold: u32,
    state: HashMap<(String, String), (u32, Option<String>)>,
}

impl Health {
    /// Disables after `threshold` failures in a row (at least 1).
    pub fn new(threshold: u32) -> Health {
        Health {
            threshold: threshold.max(1),
            state: HashMap::new(),
        }
    }

    /// Records a call's outcome.
    pub fn record<T>(&mut self, plugin: &str, tenant: &str, outcome: &Result<T, PluginError>) {
        let entry = self
            .state
            .entry((plugin.to_owned(), tenant.to_owned()))
            .or_insert((0, None));
        match outcome {
            Ok(_) if entry.0 < self.threshold => *entry = (0, None),
            Ok(_) => {}
            Err(e) => {
                entry.0 = entry.0.saturating_add(1);
                entry.1 = Some(e.to_string());
            }
        }
    }

    /// Why the plugin is disabled for the tenant, when it is.
    pub fn disabled(&self, plugin: &str, tenant: &str) -> Option<String> {
        self.state
            .get(&(plugin.to_owned(), tenant.to_owned()))
            .filter(|(n, _)| *n >= self.threshold)
            .map(|(n, why)| {
                format!(
                    "disabled after {n} failures in a row; the last: {}",
                    why.as_deref().unwrap_or("unknown")
                )
            })
    }

    /// The operator enables it again.
    pub fn enable(&mut self, plugin: &str, tenant: &str) {
        self.state.remove(&(plugin.to_owned(), tenant.to_owned()));
    }
}

/// The plugins this crate's build script built (for tests in other crates): paths of the
/// `.wasm` files.
pub mod built {
    /// `plugins/template`.
    pub const TEMPLATE: &str = env!("PAYHOOK_PLUGIN_TEMPLATE");
    /// `plugins/testing/hostile`: misbehaves on purpose, by the action's record id (`loop`,
    /// `alloc`, `trap`, `foreign`, `negative`…).
    pub const HOSTILE: &str = env!("PAYHOOK_PLUGIN_HOSTILE");
    /// `plugins/clinic`: appointments (KiviCare).
    pub const CLINIC: &str = env!("PAYHOOK_PLUGIN_CLINIC");
    /// `plugins/salon`: visits and products (Altegio).
    pub const SALON: &str = env!("PAYHOOK_PLUGIN_SALON");
    /// `plugins/invoicing`: invoices, cases and books (Fluxrate, BiVelio).
    pub const INVOICING: &str = env!("PAYHOOK_PLUGIN_INVOICING");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_reports_only_the_keys_a_call_changed_and_an_empty_value_removes() {
        let mut kv: Kv = [
            ("owner_email".to_owned(), "o@salon.example".to_owned()),
            ("slot:9:30".to_owned(), "apt_1".to_owned()),
        ]
        .into_iter()
        .collect();
        assert_eq!(kv.changes().count(), 0);
        kv.set("released:apt_1", "1").unwrap();
        kv.set("slot:9:30", "").unwrap();
        assert_eq!(kv.get("slot:9:30"), None);
        assert_eq!(kv.len(), 2);
        let changes: Vec<_> = kv.changes().collect();
        assert_eq!(
            changes,
            [("released:apt_1", Some("1")), ("slot:9:30", None)],
            "the operator's owner_email is not written back"
        );
        // What the call depended on, as loaded: the keys it wrote and the one it read.
        assert_eq!(kv.read("owner_email").as_deref(), Some("o@salon.example"));
        assert_eq!(kv.read("released:apt_1").as_deref(), Some("1"));
        let seen: Vec<_> = kv.seen().collect();
        assert_eq!(
            seen,
            [
                ("owner_email", Some("o@salon.example")),
                ("released:apt_1", None),
                ("slot:9:30", Some("apt_1"))
            ]
        );
    }

    #[test]
    fn the_key_cap_counts_stored_keys_and_removing_is_always_allowed() {
        let mut kv: Kv = (0..limits::MAX_KEYS)
            .map(|i| (format!("k{i}"), "v".to_owned()))
            .collect();
        assert_eq!(
            kv.set("one-more", "v"),
            Err("at most 1000 keys per plugin and tenant".to_owned())
        );
        kv.set("k0", "changed").unwrap();
        kv.set("k1", "").unwrap();
        kv.set("one-more", "v").unwrap();
        assert_eq!(kv.len(), limits::MAX_KEYS);
        assert_eq!(
            kv.set("", "v"),
            Err(format!("a key must be 1 to {} bytes", limits::MAX_KEY))
        );
    }
}
