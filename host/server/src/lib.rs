//! The payhook reference server, as a library: what `payhook serve` and the admin CLI are built
//! from.
//!
//! This first part holds the foundations that everything after it trusts with credentials:
//!
//! - [`secret`]: [`secret::Secret`], a plaintext secret that never prints itself, and the masked
//!   form (`sk_test_…abcd`) that is the only way a key is shown.
//! - [`seal`]: secrets sealed at rest with AES-256-GCM, a fresh random nonce per seal, and the
//!   tenant and field bound in as associated data; a versioned text form for a database column.
//! - [`master_key`]: the master key from `PAYHOOK_MASTER_KEY`, or from a key file beside the
//!   database created with mode 0600 on first start.
//! - [`connection`]: a tenant's Stripe connection (mode, keys, webhook signing secrets with
//!   overlapping rolls, default currency, enabled), checked so that a test key never serves a
//!   live connection and every refusal says how to fix it.
//!
//! # What this crate does *not* do yet
//!
//! It has no HTTP layer, no database and no worker: the domain records, the store (SQLite and
//! PostgreSQL), the webhook inbox and the axum router arrive in later changes, built on these
//! modules. Nothing here reads the clock (times are arguments); the only I/O is the key file and
//! the operating system's random number generator.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod connection;
pub mod master_key;
pub mod seal;
pub mod secret;
