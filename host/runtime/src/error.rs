//! What can go wrong in the runtime itself (as opposed to the engine's verdicts).

use std::time::Duration;

/// A failure to load, instantiate or call the component. The engine's own verdicts (a bad
/// signature, an invalid amount) are not errors here; they come back inside `Ok`.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime could not be configured.
    #[error("could not configure wasmtime: {0}")]
    Setup(String),
    /// The component did not compile (or a cached copy did not load and recompiling failed).
    #[error("could not compile the engine component: {0}")]
    Compile(String),
    /// The component imports something this host does not provide, or exports the wrong world.
    #[error("could not link the engine component: {0}")]
    Link(String),
    /// A fresh instance could not be made (the pool is exhausted, or memory could not be had).
    #[error("could not instantiate the engine component: {0}")]
    Instantiate(String),
    /// The precompiled-code cache could not be read or written.
    #[error("precompiled cache at {path}: {message}")]
    Cache {
        /// The file or directory concerned.
        path: String,
        /// What failed.
        message: String,
    },
    /// The call trapped: it was stopped and its instance discarded.
    #[error("the engine trapped ({kind}) after {elapsed:?}: {message}")]
    Trap {
        /// What kind of trap.
        kind: TrapKind,
        /// How long the call ran.
        elapsed: Duration,
        /// wasmtime's description.
        message: String,
    },
    /// The component returned a value that does not convert back (a broken build).
    #[error("the engine returned an invalid value: {0}")]
    InvalidResult(String),
    /// This session's instance trapped earlier; take a new session.
    #[error("this engine instance trapped earlier and is not used again; start a new session")]
    Poisoned,
    /// The body is not UTF-8; no Stripe event is, so it is refused before entering the sandbox.
    #[error("the body is not valid UTF-8 (first bad byte at offset {valid_up_to})")]
    BodyNotUtf8 {
        /// How many leading bytes are valid.
        valid_up_to: usize,
    },
    /// The body is larger than the engine accepts; refused before entering the sandbox.
    #[error("the body is {len} bytes; at most {max} are accepted")]
    BodyTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Why a call trapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// The epoch deadline passed: the call ran too long.
    Deadline,
    /// The memory cap was reached.
    OutOfMemory,
    /// The guest panicked or hit `unreachable`.
    Unreachable,
    /// Stack exhausted.
    StackOverflow,
    /// Any other trap.
    Other,
}

impl std::fmt::Display for TrapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrapKind::Deadline => "deadline exceeded",
            TrapKind::OutOfMemory => "memory limit reached",
            TrapKind::Unreachable => "guest panic",
            TrapKind::StackOverflow => "stack overflow",
            TrapKind::Other => "trap",
        })
    }
}

impl RuntimeError {
    pub(crate) fn setup(e: impl std::fmt::Display) -> Self {
        RuntimeError::Setup(format!("{e:#}"))
    }
    pub(crate) fn compile(e: impl std::fmt::Display) -> Self {
        RuntimeError::Compile(format!("{e:#}"))
    }
    pub(crate) fn link(e: impl std::fmt::Display) -> Self {
        RuntimeError::Link(format!("{e:#}"))
    }
    pub(crate) fn instantiate(e: impl std::fmt::Display) -> Self {
        RuntimeError::Instantiate(format!("{e:#}"))
    }

    pub(crate) fn from_call(e: wasmtime::Error, elapsed: Duration) -> Self {
        let message = format!("{e:#}");
        let kind = match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => TrapKind::Deadline,
            Some(wasmtime::Trap::UnreachableCodeReached) => TrapKind::Unreachable,
            Some(wasmtime::Trap::StackOverflow) => TrapKind::StackOverflow,
            Some(wasmtime::Trap::AllocationTooLarge) => TrapKind::OutOfMemory,
            _ if message.contains("memory")
                && (message.contains("limit") || message.contains("grow")) =>
            {
                TrapKind::OutOfMemory
            }
            _ => TrapKind::Other,
        };
        RuntimeError::Trap {
            kind,
            elapsed,
            message,
        }
    }
}
