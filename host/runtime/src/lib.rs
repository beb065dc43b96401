//! Runs the payhook engine component with wasmtime: sandboxed, precompiled, a fresh store per call.
//!
//! [`Runtime`] compiles the engine component once (or loads it from a cache of precompiled code
//! keyed by the wasm's SHA-256 and wasmtime's configuration), links it against *one* function at
//! most — no filesystem, network, clock, environment or randomness — and prepares an
//! `InstancePre`. Two builds of the engine are embedded (see [`HmacSource`]): one that imports
//! nothing, and one that asks the host for HMAC-SHA256, which native code computes several times
//! faster than the sandbox can; the linker offers that function and nothing else. Every call
//! then instantiates into a fresh `Store` from the pooling allocator, with a memory cap and an
//! epoch deadline, so no state survives from one call to the next and a runaway call is stopped.
//! A trap comes back as [`RuntimeError::Trap`]; the trapped instance is dropped with its store
//! and never called again.
//!
//! Results are the engine crate's own types ([`payhook_core::webhook::Delivery`] and friends),
//! so a host can swap the native engine for the component and compare them value for value.
//!
//! This crate does no HTTP and no SQL.

/// The version of the `payhook:engine` WIT package the runtime links against, written once for
/// every interface name it looks up (`payhook:engine/webhook@…`).
macro_rules! wit_version {
    () => {
        "0.1.2"
    };
}

mod bindings;
mod cache;
mod convert;
mod error;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use payhook_core::fact::Fact;
use payhook_core::machine::document::MachineKind;
use payhook_core::money::Money;
use payhook_core::secret::WebhookSecret;
use payhook_core::signature::SignatureError;
use payhook_core::webhook::{Decoded, Delivery, WebhookError};
use wasmtime::component::{Component, InstancePre, Linker, WasmList};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy, Store,
    StoreContextMut, StoreLimits, StoreLimitsBuilder,
};

pub use error::{RuntimeError, TrapKind};

/// The engine component, built from `core/component` by this crate's build script: the
/// `engine` world, which imports nothing. This is the file other hosts load.
pub const ENGINE_WASM: &[u8] = include_bytes!(env!("PAYHOOK_ENGINE_WASM"));

/// The same engine built for the `engine-with-host-hmac` world: it imports
/// `payhook:engine/crypto` (HMAC-SHA256) and nothing else.
pub const ENGINE_HOST_HMAC_WASM: &[u8] = include_bytes!(env!("PAYHOOK_ENGINE_HOST_HMAC_WASM"));

/// The import name of the one function the runtime offers a component.
pub const CRYPTO_IMPORT: &str = concat!("payhook:engine/crypto@", wit_version!());

/// Where the engine's signature checks get HMAC-SHA256 from; which build [`Runtime::new`] loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HmacSource {
    /// The host computes it, with native SHA-256 ([`ENGINE_HOST_HMAC_WASM`]). The default:
    /// a signature check costs about a third of what it costs in the sandbox.
    #[default]
    Host,
    /// The component computes it itself and imports nothing ([`ENGINE_WASM`]).
    Component,
}

impl HmacSource {
    /// The embedded component for this choice.
    pub fn wasm(self) -> &'static [u8] {
        match self {
            Self::Host => ENGINE_HOST_HMAC_WASM,
            Self::Component => ENGINE_WASM,
        }
    }
}

/// Why the engine refused an amount: a stable code and the message to show, as the WIT
/// carries it. Built from a native [`payhook_core::money::MoneyError`] with `From`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountError {
    /// A stable snake_case code, e.g. `below_minimum`.
    pub code: String,
    /// The message to show.
    pub message: String,
}

impl From<&payhook_core::money::MoneyError> for AmountError {
    fn from(e: &payhook_core::money::MoneyError) -> Self {
        Self {
            code: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}

/// Why the component refused a machine call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MachineError {
    /// The state document is not a state of that machine.
    #[error("{0}")]
    InvalidState(String),
    /// A currency that is not a three-letter code.
    #[error("invalid currency code {0:?}")]
    InvalidCurrency(String),
}

/// A request to Stripe built by the engine: send `form` as the body of a POST (the query of a
/// GET or DELETE) to `{api_base}{path}`, with `Idempotency-Key` and `Stripe-Version` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeRequest {
    /// `GET`, `POST` or `DELETE`.
    pub method: String,
    /// e.g. `/v1/payment_intents`.
    pub path: String,
    /// The parameters in bracket syntax, sorted.
    pub params: Vec<(String, String)>,
    /// The parameters, form-encoded.
    pub form: String,
    /// The `Idempotency-Key` header, for creating calls.
    pub idempotency_key: Option<String>,
    /// The `Stripe-Version` header.
    pub api_version: String,
}

/// Why the engine refused to build a Stripe request: a stable code and the message to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StripeRequestError {
    /// `invalid-operation`, `amount`, `invalid-id`, `missing`, `invalid`,
    /// `idempotency-key-missing`.
    pub code: String,
    /// What is wrong.
    pub message: String,
}

/// The signature check's result: the signed timestamp and which secret matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The signed timestamp.
    pub timestamp: i64,
    /// The 0-based index of the candidate secret that matched.
    pub secret_index: usize,
}

/// How the sandbox is sized. The defaults suit a webhook receiver.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The most linear memory one call may use. Default 32 MiB: a 1 MiB body, its copy and the
    /// decoded event fit many times over.
    pub memory_limit: usize,
    /// How long one call may run before it is interrupted. Default 100 ms.
    pub call_deadline: Duration,
    /// How often the epoch advances; deadlines are checked at this granularity. Default 5 ms.
    pub epoch_tick: Duration,
    /// How many instances may be alive at once (the pooling allocator's size). Default 64.
    pub max_instances: u32,
    /// Where precompiled code is cached; `None` compiles in memory on every start.
    pub cache_dir: Option<PathBuf>,
    /// Which embedded build [`Runtime::new`] loads. Default [`HmacSource::Host`].
    pub hmac: HmacSource,
    /// Whether to write a perf map (`/tmp/perf-<pid>.map`, Linux `perf`'s format for generated
    /// code) naming each function compiled from the component, so that `perf report` attributes
    /// time spent inside the sandbox to the engine's functions rather than to bare addresses.
    /// The embedded builds carry no function names: theirs show as `wasm[0]::function[N]`, and
    /// an unstripped build loaded with [`Runtime::from_wasm`] shows Rust's. Default `false`.
    pub perf_map: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            memory_limit: 32 << 20,
            call_deadline: Duration::from_millis(100),
            epoch_tick: Duration::from_millis(5),
            max_instances: 64,
            cache_dir: None,
            hmac: HmacSource::default(),
            perf_map: false,
        }
    }
}

/// How the component was loaded, for diagnostics and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSource {
    /// Compiled from wasm (and written to the cache, when one is configured).
    Compiled,
    /// Loaded from the precompiled cache.
    Cache,
}

/// A loaded engine component, ready to be instantiated per call. Cheap to share (`Arc` it).
pub struct Runtime {
    engine: Engine,
    pre: InstancePre<HostState>,
    exports: Arc<bindings::ExportIndices>,
    config: RuntimeConfig,
    deadline_ticks: u64,
    load_source: LoadSource,
    _ticker: Ticker,
}

impl Runtime {
    /// Loads the embedded engine component that `config.hmac` names.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        Self::from_wasm(config.hmac.wasm(), config)
    }

    /// Loads an engine component from wasm bytes (for hosts that ship their own build). Either
    /// world loads, whatever `config.hmac` says: a component that imports
    /// `payhook:engine/crypto` gets the host's HMAC-SHA256, one that imports nothing gets nothing.
    pub fn from_wasm(wasm: &[u8], config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine = Engine::new(&wasmtime_config(&config)).map_err(RuntimeError::setup)?;
        let (component, load_source) = match &config.cache_dir {
            Some(dir) => cache::load_or_compile(&engine, wasm, dir)?,
            None => (
                Component::new(&engine, wasm).map_err(RuntimeError::compile)?,
                LoadSource::Compiled,
            ),
        };
        // Only HMAC-SHA256 is linked: a component that imports anything else fails here, by
        // design.
        let mut linker = Linker::<HostState>::new(&engine);
        linker
            .instance(CRYPTO_IMPORT)
            .and_then(|mut crypto| crypto.func_wrap("hmac-sha256", hmac_sha256))
            .map_err(RuntimeError::setup)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(RuntimeError::link)?;
        let exports = Arc::new(bindings::ExportIndices::new(&pre).map_err(RuntimeError::link)?);
        let tick = config.epoch_tick.max(Duration::from_millis(1));
        let deadline_ticks = (config.call_deadline.as_nanos() / tick.as_nanos()).max(1) as u64 + 1;
        let ticker = Ticker::start(engine.clone(), tick);
        Ok(Self {
            engine,
            pre,
            exports,
            config,
            deadline_ticks,
            load_source,
            _ticker: ticker,
        })
    }

    /// Whether the component came from the cache or was compiled.
    pub fn load_source(&self) -> LoadSource {
        self.load_source
    }

    /// The names of everything the component imports: nothing for [`ENGINE_WASM`],
    /// [`CRYPTO_IMPORT`] for [`ENGINE_HOST_HMAC_WASM`].
    pub fn imports(&self) -> Vec<String> {
        self.pre
            .component()
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// A fresh sandboxed instance for one or more calls; see [`Session`].
    pub fn session(&self) -> Result<Session<'_>, RuntimeError> {
        Session::new(self)
    }

    /// Verifies a `Stripe-Signature` header over `body` in a fresh instance.
    pub fn verify(
        &self,
        header: Option<&str>,
        body: &[u8],
        secrets: &[WebhookSecret],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<Result<Verified, SignatureError>, RuntimeError> {
        self.session()?
            .verify(header, body, secrets, now, tolerance_secs)
    }

    /// Verifies, decodes and derives facts in a fresh instance.
    pub fn receive(
        &self,
        header: Option<&str>,
        body: &[u8],
        secrets: &[WebhookSecret],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<Result<Delivery, WebhookError>, RuntimeError> {
        self.session()?
            .receive(header, body, secrets, now, tolerance_secs)
    }

    /// Decodes a stored (previously verified) body in a fresh instance.
    pub fn decode_stored(
        &self,
        body: &[u8],
    ) -> Result<Result<Decoded, payhook_core::event::DecodeError>, RuntimeError> {
        self.session()?.decode_stored(body)
    }

    /// Signs `body` as Stripe would, in a fresh instance; returns the header value.
    pub fn sign(
        &self,
        body: &[u8],
        secret: &WebhookSecret,
        timestamp: i64,
    ) -> Result<String, RuntimeError> {
        self.session()?.sign(body, secret, timestamp)
    }

    /// Parses a decimal amount in a fresh instance.
    pub fn parse_amount(
        &self,
        text: &str,
        currency: &str,
    ) -> Result<Result<Money, AmountError>, RuntimeError> {
        self.session()?.parse_amount(text, currency)
    }
}

/// One sandboxed instance with its own store, memory cap and deadline.
///
/// A session may serve several calls (reusing the instance is faster); after a trap it refuses
/// every further call with [`RuntimeError::Poisoned`], and the caller takes a new session.
pub struct Session<'r> {
    runtime: &'r Runtime,
    store: Store<HostState>,
    exports: bindings::Exports,
    poisoned: bool,
}

impl<'r> Session<'r> {
    fn new(runtime: &'r Runtime) -> Result<Self, RuntimeError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(runtime.config.memory_limit)
            .instances(4)
            .tables(4)
            .memories(2)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&runtime.engine, HostState { limits });
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(runtime.deadline_ticks);
        store.epoch_deadline_trap();
        let instance = runtime
            .pre
            .instantiate(&mut store)
            .map_err(RuntimeError::instantiate)?;
        Ok(Self {
            runtime,
            store,
            exports: bindings::Exports::new(instance, runtime.exports.clone()),
            poisoned: false,
        })
    }

    /// See [`Runtime::verify`].
    pub fn verify(
        &mut self,
        header: Option<&str>,
        body: &[u8],
        secrets: &[WebhookSecret],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<Result<Verified, SignatureError>, RuntimeError> {
        let body = utf8_body(body)?;
        let secrets = expose(secrets);
        let out = self.call(|b, s| b.verify(s, header, body, &secrets, now, tolerance_secs))?;
        Ok(match out {
            Ok(v) => Ok(Verified {
                timestamp: v.timestamp,
                secret_index: v.secret_index as usize,
            }),
            Err(e) => Err(convert::signature_error(e)),
        })
    }

    /// See [`Runtime::receive`].
    pub fn receive(
        &mut self,
        header: Option<&str>,
        body: &[u8],
        secrets: &[WebhookSecret],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<Result<Delivery, WebhookError>, RuntimeError> {
        let body = utf8_body(body)?;
        let secrets = expose(secrets);
        let out = self.call(|b, s| b.receive(s, header, body, &secrets, now, tolerance_secs))?;
        match out {
            Ok(d) => convert::delivery(d).map(Ok),
            Err(e) => Ok(Err(convert::webhook_error(e))),
        }
    }

    /// See [`Runtime::decode_stored`].
    pub fn decode_stored(
        &mut self,
        body: &[u8],
    ) -> Result<Result<Decoded, payhook_core::event::DecodeError>, RuntimeError> {
        let body = utf8_body(body)?;
        match self.call(|b, s| b.decode_stored(s, body))? {
            Ok(d) => convert::decoded(d).map(Ok),
            Err(e) => Ok(Err(convert::decode_error(e))),
        }
    }

    /// See [`Runtime::sign`].
    pub fn sign(
        &mut self,
        body: &[u8],
        secret: &WebhookSecret,
        timestamp: i64,
    ) -> Result<String, RuntimeError> {
        let body = utf8_body(body)?;
        self.call(|b, s| b.sign(s, body, secret.expose(), timestamp))
    }

    /// Applies `fact` to a record's state document with machine `kind`; returns the decision
    /// document (see [`payhook_core::machine::document`]).
    pub fn apply(
        &mut self,
        kind: MachineKind,
        state: &str,
        fact: &Fact,
    ) -> Result<Result<String, MachineError>, RuntimeError> {
        let fact = convert::fact_to_wit(fact.clone());
        let machine = convert::machine(kind);
        let out = self.call(|b, s| b.apply(s, machine, state, &fact))?;
        Ok(out.map_err(convert::machine_error))
    }

    /// A new state document for machine `kind`: an invoice of `amount` (its currency for the
    /// others), a payment with Stripe id `payment_id`.
    pub fn new_state(
        &mut self,
        kind: MachineKind,
        amount: Money,
        payment_id: &str,
    ) -> Result<Result<String, MachineError>, RuntimeError> {
        let currency = amount.currency.as_str();
        let out = match kind {
            MachineKind::Invoice => {
                let money = convert::to_wit_money(amount);
                self.call(|b, s| b.new_invoice(s, &money))?
            }
            MachineKind::Appointment => self.call(|b, s| b.new_appointment(s, currency))?,
            MachineKind::Payment => self.call(|b, s| b.new_payment(s, payment_id, currency))?,
            MachineKind::Subscription => Ok(self.call(|b, s| b.new_subscription(s))?),
        };
        Ok(out.map_err(convert::machine_error))
    }

    /// See [`Runtime::parse_amount`].
    pub fn parse_amount(
        &mut self,
        text: &str,
        currency: &str,
    ) -> Result<Result<Money, AmountError>, RuntimeError> {
        match self.call(|b, s| b.parse_amount(s, text, currency))? {
            Ok(m) => convert::money(m).map(Ok),
            Err(e) => Ok(Err(AmountError {
                code: e.code,
                message: e.message,
            })),
        }
    }

    /// Builds the request for a Stripe operation in the component (see
    /// [`payhook_core::stripe::build`]).
    pub fn stripe_build(
        &mut self,
        operation: &payhook_core::stripe::Operation,
        idempotency_key: Option<&str>,
    ) -> Result<Result<StripeRequest, StripeRequestError>, RuntimeError> {
        let json = serde_json::to_string(operation)
            .map_err(|e| RuntimeError::InvalidResult(e.to_string()))?;
        let out = self.call(|b, s| b.stripe_build(s, &json, idempotency_key))?;
        Ok(match out {
            Ok(r) => Ok(StripeRequest {
                method: r.method,
                path: r.path,
                params: r.params,
                form: r.form,
                idempotency_key: r.idempotency_key,
                api_version: r.api_version,
            }),
            Err(e) => Err(StripeRequestError {
                code: e.code,
                message: e.message,
            }),
        })
    }

    /// Reads Stripe's answer in the component (see [`payhook_core::stripe::response::parse`]).
    pub fn stripe_parse(
        &mut self,
        status: u16,
        body: &str,
    ) -> Result<
        Result<payhook_core::stripe::response::Object, payhook_core::stripe::response::ApiError>,
        RuntimeError,
    > {
        let out = self.call(|b, s| b.stripe_parse(s, status, body))?;
        Ok(match out {
            Ok(json) => Ok(serde_json::from_str(&json).map_err(|e| {
                RuntimeError::InvalidResult(format!("the engine's Stripe object: {e}"))
            })?),
            Err(e) => Err(payhook_core::stripe::response::ApiError {
                status: e.status,
                kind: e.kind,
                code: e.code,
                decline_code: e.decline_code,
                message: e.message,
                param: e.param,
                payment_intent: e.payment_intent,
            }),
        })
    }

    /// The delay before retrying a Stripe call, in the component (see
    /// [`payhook_core::stripe::retry::next_delay_ms`]); `None` to stop.
    pub fn stripe_next_delay_ms(
        &mut self,
        attempt: u32,
        max_retries: u32,
        outcome: payhook_core::stripe::retry::Outcome,
        jitter: f64,
    ) -> Result<Option<u64>, RuntimeError> {
        use payhook_core::stripe::retry::Outcome;
        let (status, should_retry, retry_after) = match outcome {
            Outcome::ConnectionError => (None, None, None),
            Outcome::Status {
                status,
                should_retry,
                retry_after_secs,
            } => (Some(status), should_retry, retry_after_secs),
        };
        self.call(|b, s| {
            b.stripe_next_delay_ms(
                s,
                attempt,
                max_retries,
                status,
                should_retry,
                retry_after,
                jitter,
            )
        })
    }

    /// Checks that `amount` can be charged: at least the currency's minimum charge, within its
    /// digit limit, and a multiple of 10 for three-decimal currencies.
    pub fn check_chargeable(
        &mut self,
        amount: Money,
    ) -> Result<Result<(), AmountError>, RuntimeError> {
        let money = convert::to_wit_money(amount);
        Ok(self
            .call(|b, s| b.check_chargeable(s, &money))?
            .map_err(|e| AmountError {
                code: e.code,
                message: e.message,
            }))
    }

    fn call<T>(
        &mut self,
        f: impl FnOnce(&bindings::Exports, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, RuntimeError> {
        if self.poisoned {
            return Err(RuntimeError::Poisoned);
        }
        self.store.set_epoch_deadline(self.runtime.deadline_ticks);
        let started = Instant::now();
        f(&self.exports, &mut self.store).map_err(|e| {
            self.poisoned = true;
            RuntimeError::from_call(e, started.elapsed())
        })
    }
}

/// The per-store host state: only the resource limits.
struct HostState {
    limits: StoreLimits,
}

/// `payhook:engine/crypto.hmac-sha256`. The key and message are read where they lie in the
/// component's memory (the canonical ABI has already checked that both are inside it), not
/// copied out first: the message is the whole webhook body. The memory cap bounds both; the key
/// is the caller's own webhook secret and is never logged.
fn hmac_sha256(
    store: StoreContextMut<'_, HostState>,
    (key, message): (WasmList<u8>, WasmList<u8>),
) -> wasmtime::Result<(Vec<u8>,)> {
    let mac = payhook_core::signature::HmacSha256::mac(
        &payhook_core::signature::NativeHmac,
        key.as_le_slice(&store),
        &[message.as_le_slice(&store)],
    );
    Ok((mac.to_vec(),))
}

fn utf8_body(body: &[u8]) -> Result<&str, RuntimeError> {
    if body.len() > payhook_core::signature::MAX_BODY_BYTES {
        // Refused before it is copied into the sandbox; the engine would refuse it too.
        return Err(RuntimeError::BodyTooLarge {
            len: body.len(),
            max: payhook_core::signature::MAX_BODY_BYTES,
        });
    }
    std::str::from_utf8(body).map_err(|e| RuntimeError::BodyNotUtf8 {
        valid_up_to: e.valid_up_to(),
    })
}

/// The secrets' text, borrowed: the host keeps no copies of them, and the only copy made is
/// the one lowered into the sandbox's memory for the call.
fn expose(secrets: &[WebhookSecret]) -> Vec<&str> {
    secrets.iter().map(WebhookSecret::expose).collect()
}

fn wasmtime_config(config: &RuntimeConfig) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    // The host-hmac build instantiates three core modules per component instance (its own, and
    // the shim and fixup that let the imported function reach its memory), each with a table
    // at most; the plain build one.
    pool.total_component_instances(config.max_instances)
        .total_core_instances(config.max_instances * 3)
        .total_memories(config.max_instances)
        .total_tables(config.max_instances * 3)
        .max_memory_size(config.memory_limit)
        // Reset the first MiB of a returned memory with memset rather than madvise: a webhook
        // call touches a few hundred KiB, and re-faulting them costs more than zeroing them
        // (measured: 72 µs per fresh call against 97 µs at 256 KiB and 142 µs at 0).
        .linear_memory_keep_resident(1024 << 10)
        // Tables likewise: resetting them with madvise cost the host-hmac build (two tables)
        // 5 µs per fresh instance in TLB flushes (12.4 µs to instantiate, 7.9 µs with this).
        .table_keep_resident(64 << 10)
        // Where the kernel has PAGEMAP_SCAN (Linux 6.7+), reset only the pages a call touched:
        // another 1 µs (host-hmac) to 3 µs (plain) off a fresh call.
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        // The default 4 GiB reservation per memory slot (virtual address space only) lets
        // Cranelift elide bounds checks; a smaller one costs several times more per call.
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if config.perf_map {
        c.profiler(ProfilingStrategy::PerfMap);
    }
    c
}

/// Advances a wasmtime engine's epoch every `tick` on a background thread, so that epoch
/// deadlines fire; stops on drop. Shared by the engine runtime and the plugin host.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts the thread.
    pub fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("payhook-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Self {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .field("load_source", &self.load_source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
