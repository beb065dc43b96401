//! The payhook engine as a WebAssembly component.
//!
//! A thin shell over `payhook-core`: it converts WIT values to the core's types and back, and
//! nothing else. wit-bindgen generates that glue for every export but four: `webhook.verify`,
//! `webhook.receive`, `webhook.decode-stored` and `machines.apply` are written in [`abi`], where
//! one lowering of an event and its facts serves `receive` and `decode-stored`, and `apply` reads
//! its fact into the core's type directly.
//!
//! It is `#![no_std]` so that the component imports nothing at all: memory comes from its own
//! `allocator` (wasi-libc, linked statically with `-lc`, gives only `memcpy` and the like), a
//! panic is a trap, and there is no clock, randomness, environment or I/O to import.
//!
//! Built with the `host-hmac` feature it is the `engine-with-host-hmac` world instead: the same
//! exports, and HMAC-SHA256 asked of the host through `payhook:engine/crypto`, its one import.
#![no_std]

extern crate alloc;

mod abi;
mod allocator;
mod convert;
mod mem;

#[cfg(not(feature = "host-hmac"))]
wit_bindgen::generate!({
    path: "../../wit/engine",
    world: "engine",
    // Written by hand in `abi`.
    skip: ["verify", "receive", "decode-stored", "apply"],
});

#[cfg(feature = "host-hmac")]
wit_bindgen::generate!({
    path: "../../wit/engine",
    world: "engine-with-host-hmac",
    // Written by hand in `abi`.
    skip: ["verify", "receive", "decode-stored", "apply"],
});

use alloc::string::{String, ToString};

use exports::payhook::engine::amounts::Guest as Amounts;
use exports::payhook::engine::machines::{Guest as Machines, MachineError};
use exports::payhook::engine::stripe::{self as wit_stripe, Guest as Stripe};
use exports::payhook::engine::webhook::Guest as Webhook;
use exports::payhook::engine::types::{Money, MoneyError};
use payhook_core::machine::document;
use payhook_core::{money, secret::WebhookSecret, signature};

struct Engine;

export!(Engine);

/// The MACs of signature checks: computed here, with the `hmac` and `sha2` crates.
#[cfg(not(feature = "host-hmac"))]
const HMAC: signature::NativeHmac = signature::NativeHmac;

/// The MACs of signature checks: asked of the host.
#[cfg(feature = "host-hmac")]
const HMAC: HostHmac = HostHmac;

/// HMAC-SHA256 by the host's `payhook:engine/crypto.hmac-sha256`.
#[cfg(feature = "host-hmac")]
struct HostHmac;

#[cfg(feature = "host-hmac")]
impl signature::HmacSha256 for HostHmac {
    fn mac(&self, key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let message = parts.concat();
        let mac = payhook::engine::crypto::hmac_sha256(key, &message);
        // An answer of any other length is the host's bug: trap rather than compare garbage.
        <[u8; 32]>::try_from(mac.as_slice()).unwrap_or_else(|_| core::arch::wasm32::unreachable())
    }
}

impl Webhook for Engine {
    fn sign(body: String, secret: String, timestamp: i64) -> String {
        signature::header_for_with(&HMAC, body.as_bytes(), &WebhookSecret::new(secret), timestamp)
    }
}

impl Amounts for Engine {
    fn parse_amount(text: String, currency: String) -> Result<Money, MoneyError> {
        let currency = money::Currency::parse(&currency).map_err(convert::money_error)?;
        money::Money::from_decimal_str(&text, currency).map(convert::money).map_err(convert::money_error)
    }

    fn format_amount(amount: Money) -> Result<String, MoneyError> {
        convert::core_money(&amount).map(|m| m.to_decimal_string()).map_err(convert::money_error)
    }

    fn check_chargeable(amount: Money) -> Result<(), MoneyError> {
        convert::core_money(&amount).and_then(|m| m.check_chargeable()).map_err(convert::money_error)
    }

    fn check_refund(amount: Money, refundable: i64) -> Result<(), MoneyError> {
        convert::core_money(&amount).and_then(|m| m.check_refund(refundable)).map_err(convert::money_error)
    }
}

impl Machines for Engine {
    fn new_invoice(amount_due: Money) -> Result<String, MachineError> {
        let amount = convert::core_money(&amount_due).map_err(|_| MachineError::InvalidCurrency(amount_due.currency))?;
        Ok(document::new_invoice(amount))
    }

    fn new_appointment(currency: String) -> Result<String, MachineError> {
        Ok(document::new_appointment(machine_currency(currency)?))
    }

    fn new_payment(id: String, currency: String) -> Result<String, MachineError> {
        Ok(document::new_payment(&id, machine_currency(currency)?))
    }

    fn new_subscription() -> String {
        document::new_subscription()
    }

}

impl Stripe for Engine {
    fn build(operation: String, idempotency_key: Option<String>) -> Result<wit_stripe::Request, wit_stripe::RequestError> {
        use payhook_core::stripe::BuildError;
        let request = payhook_core::stripe::build_json(&operation, idempotency_key.as_deref()).map_err(|e| {
            let code = match &e {
                BuildError::Operation(_) => "invalid-operation",
                BuildError::Request(e) => request_error_code(e),
            };
            wit_stripe::RequestError { code: code.into(), message: e.to_string() }
        })?;
        Ok(wit_stripe::Request {
            method: request.method.as_str().into(),
            form: request.form(),
            path: request.path,
            params: request.params,
            idempotency_key: request.idempotency_key,
            api_version: payhook_core::stripe::API_VERSION.into(),
        })
    }

    fn parse(status: u16, body: String) -> Result<String, wit_stripe::ApiError> {
        // A list's items and another object's `raw` are handed back as Stripe wrote them.
        payhook_core::stripe::response::parse_as_json(status, &body).map_err(|e| wit_stripe::ApiError {
            status: e.status,
            kind: e.kind,
            code: e.code,
            decline_code: e.decline_code,
            message: e.message,
            param: e.param,
            payment_intent: e.payment_intent,
        })
    }

    fn next_delay_ms(attempt: u32, max_retries: u32, status: Option<u16>, should_retry: Option<bool>, retry_after_secs: Option<f64>, jitter: f64) -> Option<u64> {
        use payhook_core::stripe::retry::{Outcome, next_delay_ms};
        let outcome = match status {
            None => Outcome::ConnectionError,
            Some(status) => Outcome::Status { status, should_retry, retry_after_secs },
        };
        next_delay_ms(attempt, max_retries, outcome, jitter)
    }
}

fn request_error_code(e: &payhook_core::stripe::RequestError) -> &'static str {
    use payhook_core::stripe::RequestError as E;
    match e {
        E::Amount(_) => "amount",
        E::InvalidId { .. } => "invalid-id",
        E::Missing(_) => "missing",
        E::Invalid { .. } => "invalid",
        E::IdempotencyKeyMissing => "idempotency-key-missing",
    }
}

fn machine_currency(code: String) -> Result<money::Currency, MachineError> {
    money::Currency::parse(&code).map_err(|_| MachineError::InvalidCurrency(code))
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
