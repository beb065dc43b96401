//! A payhook plugin to start from.
//!
//! It is `#![no_std]`: a plugin imports nothing but payhook's `host` interface (logging and a
//! key-value store), so it has no filesystem, network, clock, environment or randomness to
//! reach for, and payhook refuses to load one that asks for them. Memory comes from `dlmalloc`,
//! a panic is a trap (payhook reports it and retries the hook call on its own).
//!
//! What it does, as an example of each kind of hook:
//! - `payment-settled` on an appointment: the appointment becomes `Confirmed`, a ledger entry
//!   books the amount, and the clinic's inbox (from the record's `notify` metadata) is told;
//! - `payment-failed` on an appointment: `Cancelled`, and the slot is free again;
//! - the `refund-amount` filter: on a late cancellation, keeps 10 % (at most what is refundable)
//!   unless the tenant stored another rate under `fee-percent` with `kv-set`.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

wit_bindgen::generate!({
    path: "../../wit/plugin",
    world: "payhook-plugin",
});

use exports::payhook::plugin::plugin::Guest;
use payhook::plugin::host::{self, Level};
use payhook::plugin::types::{
    Action, Amount, Command, FilterPoint, FilterRequest, FilterValue, Hook, LedgerEntry, Manifest,
    Notification, RefundSplit, StatusChange,
};

// The allocator, the panic handler, `cabi_realloc` and `memcmp` (see its docs).
extern crate payhook_plugin_rt as _;

struct Template;

export!(Template);

impl Guest for Template {
    fn describe() -> Manifest {
        Manifest {
            name: "template".into(),
            version: "0.1.0".into(),
            hooks: vec![Hook::PaymentSettled, Hook::PaymentFailed],
            filters: vec![FilterPoint::RefundAmount],
            statuses: vec!["Confirmed".into(), "Cancelled".into()],
        }
    }

    fn on_action(action: Action) -> Result<Vec<Command>, String> {
        if action.subject.kind != "appointment" {
            return Ok(Vec::new());
        }
        let mut commands = Vec::new();
        match action.hook {
            Hook::PaymentSettled => {
                commands.push(Command::SetStatus(StatusChange {
                    subject: action.subject.clone(),
                    status: "Confirmed".into(),
                }));
                if let Some(amount) = &action.amount {
                    commands.push(Command::Book(LedgerEntry {
                        subject: action.subject.clone(),
                        account: "4000 Treatments".into(),
                        amount: amount.clone(),
                        memo: format!("Payment for appointment {}", action.subject.id),
                    }));
                }
                if let Some(to) = metadata(&action, "notify") {
                    commands.push(Command::Notify(Notification {
                        to: to.to_string(),
                        subject: format!("Appointment {} confirmed", action.subject.id),
                        text: "The payment arrived; the appointment is confirmed.".into(),
                    }));
                }
            }
            Hook::PaymentFailed => {
                host::log(
                    Level::Info,
                    &format!("payment failed: releasing {}", action.subject.id),
                );
                commands.push(Command::SetStatus(StatusChange {
                    subject: action.subject,
                    status: "Cancelled".into(),
                }));
            }
            _ => {}
        }
        Ok(commands)
    }

    fn apply_filter(request: FilterRequest) -> Result<FilterValue, String> {
        match (request.point, request.value) {
            (FilterPoint::RefundAmount, FilterValue::Refund(split)) => {
                let percent: i64 = host::kv_get("fee-percent")
                    .and_then(|p| p.parse().ok())
                    .filter(|p| (0..=100).contains(p))
                    .unwrap_or(10);
                let refundable = split.fee.minor + split.refund.minor;
                let fee = (refundable * percent / 100).min(refundable);
                Ok(FilterValue::Refund(RefundSplit {
                    fee: Amount {
                        minor: fee,
                        currency: split.fee.currency.clone(),
                    },
                    refund: Amount {
                        minor: refundable - fee,
                        currency: split.refund.currency,
                    },
                }))
            }
            (_, value) => Ok(value),
        }
    }
}

fn metadata<'a>(action: &'a Action, key: &str) -> Option<&'a str> {
    action
        .metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}
