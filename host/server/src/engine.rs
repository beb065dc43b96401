//! The engine component, loaded once per process, each call run in a sandboxed instance.
//!
//! Idle [`Session`]s are kept in a small pool and reused (a reused instance is about twice as fast
//! as a fresh one); a session that trapped is dropped and the next call gets a fresh one, and
//! every session is replaced after [`CALLS_PER_SESSION`] calls so that no instance's heap grows
//! without bound.

use std::sync::{Mutex, OnceLock};

use payhook_runtime::{HmacSource, Runtime, RuntimeConfig, RuntimeError, Session};

/// How many calls one instance serves before it is replaced by a fresh one.
pub const CALLS_PER_SESSION: u32 = 10_000;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The process's engine, compiled on first use.
pub fn runtime() -> Result<&'static Runtime, EngineUnavailable> {
    RUNTIME
        .get_or_init(|| {
            let hmac = hmac_source(std::env::var("PAYHOOK_ENGINE_HMAC").ok().as_deref())?;
            let config = RuntimeConfig {
                cache_dir: cache_dir(),
                hmac,
                ..RuntimeConfig::default()
            };
            // An unwritable cache costs start-up time, never the start itself.
            Runtime::new(config.clone())
                .or_else(|_| {
                    Runtime::new(RuntimeConfig {
                        cache_dir: None,
                        ..config
                    })
                })
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EngineUnavailable(e.clone()))
}

/// Which build of the engine the process loads, from `PAYHOOK_ENGINE_HMAC`: `host` (the
/// default when unset or empty) loads the build whose one import is HMAC-SHA256, answered by
/// native code; `component` loads the build that imports nothing and hashes in the sandbox.
pub fn hmac_source(value: Option<&str>) -> Result<HmacSource, String> {
    match value.map(str::trim) {
        None | Some("") | Some("host") => Ok(HmacSource::Host),
        Some("component") => Ok(HmacSource::Component),
        Some(other) => Err(format!(
            "PAYHOOK_ENGINE_HMAC must be `host` or `component`, not {other:?}"
        )),
    }
}

/// Where precompiled engine code is kept between runs: `PAYHOOK_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/payhook`, else `$HOME/.cache/payhook`; none (compile at every start) when
/// neither is set. Loading from the cache takes about a millisecond instead of most of a second.
pub fn cache_dir() -> Option<std::path::PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    var("PAYHOOK_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("payhook")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("payhook")))
}

/// The engine component could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the engine component could not be loaded: {0}")]
pub struct EngineUnavailable(pub String);

/// At most this many idle instances are kept for reuse.
pub const MAX_IDLE_SESSIONS: usize = 16;

/// Idle sessions with the number of calls each has served. A pool rather than one per thread:
/// sessions are then dropped by ordinary code, never by a thread-local destructor at thread
/// exit (where wasmtime's logging could meet a logger that is already gone).
static IDLE: Mutex<Vec<(Session<'static>, u32)>> = Mutex::new(Vec::new());

/// Runs `f` with an engine session from the pool (or a fresh one). A call that fails with a
/// [`RuntimeError`] (a trap, a time-out) drops its session, so no instance that trapped is
/// used again.
pub fn with_session<T>(
    f: impl FnOnce(&mut Session<'static>) -> Result<T, RuntimeError>,
) -> Result<T, RuntimeError> {
    let runtime = runtime().map_err(|e| RuntimeError::Instantiate(e.0))?;
    let idle = IDLE.lock().ok().and_then(|mut idle| idle.pop());
    let (mut session, calls) = match idle {
        Some((session, calls)) if calls < CALLS_PER_SESSION => (session, calls),
        _ => (runtime.session()?, 0),
    };
    let out = f(&mut session);
    if out.is_ok()
        && let Ok(mut idle) = IDLE.lock()
        && idle.len() < MAX_IDLE_SESSIONS
    {
        idle.push((session, calls + 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_build_is_chosen_by_name_and_anything_else_is_refused() {
        assert_eq!(hmac_source(None), Ok(HmacSource::Host));
        assert_eq!(hmac_source(Some("")), Ok(HmacSource::Host));
        assert_eq!(hmac_source(Some("host")), Ok(HmacSource::Host));
        assert_eq!(hmac_source(Some(" component ")), Ok(HmacSource::Component));
        assert_eq!(
            hmac_source(Some("wasm")),
            Err("PAYHOOK_ENGINE_HMAC must be `host` or `component`, not \"wasm\"".to_owned())
        );
    }
}
