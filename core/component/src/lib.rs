//! The payhook engine as a WebAssembly component.
//!
//! A thin shell over `payhook-core`: it converts WIT values to the core's types and back, and
//! nothing else. It is `#![no_std]` so that the component imports nothing at all: memory comes
//! from wasi-libc's `malloc` (linked statically with `-lc`), a panic is a trap, and there is no
//! clock, randomness, environment or I/O to import.
#![no_std]

extern crate alloc;

mod allocator;
mod convert;

wit_bindgen::generate!({
    path: "../../wit/engine",
    world: "engine",
});

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use exports::payhook::engine::amounts::Guest as Amounts;
use exports::payhook::engine::machines::{Guest as Machines, Machine, MachineError};
use exports::payhook::engine::webhook::{self as wit, Guest as Webhook};
use exports::payhook::engine::types::{Money, MoneyError};
use payhook_core::machine::document::{self, MachineKind};
use payhook_core::{money, secret::WebhookSecret, signature, webhook};

struct Engine;

export!(Engine);

impl Webhook for Engine {
    fn verify(
        header: Option<String>,
        body: String,
        secrets: Vec<String>,
        now: i64,
        tolerance_secs: i64,
    ) -> Result<wit::Verified, wit::SignatureError> {
        let secrets = to_secrets(secrets);
        let tolerance = signature::Tolerance::seconds(tolerance_secs).map_err(convert::signature_error)?;
        signature::verify(header.as_deref(), body.as_bytes(), &secrets, now, tolerance)
            .map(|v| wit::Verified {
                timestamp: v.timestamp().unwrap_or_default(),
                secret_index: v.secret_index().unwrap_or_default() as u32,
            })
            .map_err(convert::signature_error)
    }

    fn receive(
        header: Option<String>,
        body: String,
        secrets: Vec<String>,
        now: i64,
        tolerance_secs: i64,
    ) -> Result<wit::Delivery, wit::WebhookError> {
        webhook::receive(header.as_deref(), body.as_bytes(), &to_secrets(secrets), now, tolerance_secs)
            .map(convert::delivery)
            .map_err(convert::webhook_error)
    }

    fn decode_stored(body: String) -> Result<wit::Decoded, wit::DecodeError> {
        webhook::decode_stored(body.as_bytes()).map(convert::decoded).map_err(convert::decode_error)
    }

    fn sign(body: String, secret: String, timestamp: i64) -> String {
        signature::header_for(body.as_bytes(), &WebhookSecret::new(secret), timestamp)
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

    fn apply(machine: Machine, state: String, fact: wit::Fact) -> Result<String, MachineError> {
        let fact = convert::fact_from_wit(fact).map_err(MachineError::InvalidCurrency)?;
        let kind = match machine {
            Machine::Invoice => MachineKind::Invoice,
            Machine::Appointment => MachineKind::Appointment,
            Machine::Payment => MachineKind::Payment,
            Machine::Subscription => MachineKind::Subscription,
        };
        document::apply(kind, &state, &fact).map_err(|e| MachineError::InvalidState(e.to_string()))
    }
}

fn machine_currency(code: String) -> Result<money::Currency, MachineError> {
    money::Currency::parse(&code).map_err(|_| MachineError::InvalidCurrency(code))
}

fn to_secrets(secrets: Vec<String>) -> Vec<WebhookSecret> {
    secrets.into_iter().map(WebhookSecret::new).collect()
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
