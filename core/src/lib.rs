//! The payhook engine: everything a booking or invoicing system needs to decide about a Stripe
//! payment, as pure functions.
//!
//! - [`signature`]: verifies a `Stripe-Signature` header against one or more signing secrets.
//! - [`event`]: decodes a verified payload into an [`event::Event`], tolerant of API versions
//!   from 2017-08-15 to today; the event type is an open vocabulary.
//! - [`money`]: integer minor units and Stripe's currency rules.
//! - [`fact`]: maps an event to the payment facts it establishes.
//! - [`webhook`]: the receiving pipeline in one call (verify, decode, facts).
//! - [`stripe`]: requests to Stripe's API built as data, and its answers read into typed results.
//! - [`machine`]: monotonic state machines for invoices, appointments, payments and
//!   subscriptions; `apply(state, fact)` is total and order-independent.
//!
//! # What this crate does *not* do
//!
//! It performs no I/O of any kind. It never reads the clock (the caller passes `now`), never
//! makes random numbers, never touches the network, a disk or a database, and keeps no state
//! between calls. Secrets and current state come in as arguments; what must happen goes out as
//! data. That is what lets the same code run natively and as a WebAssembly component with no
//! imports at all.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod event;
pub mod fact;
pub mod json;
pub mod machine;
pub mod money;
mod named;
pub mod policy;
pub mod secret;
pub mod signature;
pub mod sorted_map;
pub mod stripe;
mod unexpected;
pub mod webhook;
pub mod wit_fact;

pub use sorted_map::SortedMap;
