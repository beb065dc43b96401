//! The payhook reference server, as a library: what `payhook serve` and the admin CLI are built
//! from.
//!
//! The foundations, which everything else trusts with credentials:
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
//! On these sit the server itself:
//!
//! - [`db`]: SQLite (default) or PostgreSQL behind one small interface, migrated at start-up.
//! - [`tenants`]: tenants and their connections, every secret sealed.
//! - [`inbox`]: the webhook inbox, stored with group commit before the 2xx.
//! - [`process`]: the worker that runs stored events through the engine, exactly once.
//! - [`records`]: invoices, appointments, payments, subscriptions and the ledger.
//! - [`import`]: history import from Stripe's lists, and reconcile against the events list.
//! - [`http`]: the axum router (webhooks, `/api/v1`, `/healthz`, `/metrics`).
//! - [`server`]: `payhook serve`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin_token;
pub mod calls;
pub mod connection;
pub mod db;
pub mod engine;
pub mod hooks;
pub mod http;
pub mod ids;
pub mod import;
pub mod inbox;
pub mod mail;
pub mod master_key;
pub mod metrics;
pub mod notifications;
pub mod plugins;
pub mod process;
pub mod rate;
pub mod records;
pub mod reports;
pub mod seal;
pub mod secret;
pub mod server;
pub mod stripe;
pub mod tenants;
pub mod testing;
