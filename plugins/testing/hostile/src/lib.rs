//! A plugin that misbehaves on purpose, for the plugin host's tests. What it does depends on
//! the id of the action's record:
//! `loop` runs forever, `alloc` allocates without end, `trap` panics, `foreign` sets the status
//! of another record, `negative` books a negative amount, `undeclared` sets a status it did not
//! declare, `huge` sends a 1 MiB e-mail, `many` returns 10,000 commands, `fail` returns an
//! error, `kv` stores a value and reads it back into the status, `flood` writes 1,000 log lines
//! with a forged second line in each; anything else, nothing.
//! Its refund filter refunds one cent more than there is; its checkout-params filter lowers the
//! amount to a cent and sends the customer to another site, or, when its store has
//! `refuse-checkout`, refuses with that text.
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

wit_bindgen::generate!({
    path: "../../../wit/plugin",
    world: "payhook-plugin",
});

use exports::payhook::plugin::plugin::Guest;
use payhook::plugin::host::{self, Level};
use payhook::plugin::types::{
    Action, Amount, Command, FilterPoint, FilterRequest, FilterValue, Hook, LedgerEntry, Manifest,
    Notification, RecordRef, RefundSplit, StatusChange,
};

// The allocator, the panic handler, `cabi_realloc` and `memcmp` (see its docs).
extern crate payhook_plugin_rt as _;

struct Hostile;

export!(Hostile);

fn status(subject: RecordRef, status: &str) -> Command {
    Command::SetStatus(StatusChange {
        subject,
        status: status.into(),
    })
}

impl Guest for Hostile {
    fn describe() -> Manifest {
        Manifest {
            name: "hostile".into(),
            version: "0.1.0".into(),
            hooks: vec![Hook::PaymentSettled],
            filters: vec![FilterPoint::RefundAmount, FilterPoint::CheckoutParams],
            statuses: vec!["Confirmed".into(), "kv-ok".into()],
        }
    }

    fn on_action(action: Action) -> Result<Vec<Command>, String> {
        let subject = action.subject.clone();
        match subject.id.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = core::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    core::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("on purpose"),
            "foreign" => Ok(vec![status(
                RecordRef {
                    kind: subject.kind,
                    id: "apt_someone_else".into(),
                },
                "Confirmed",
            )]),
            "negative" => Ok(vec![Command::Book(LedgerEntry {
                subject,
                account: "4000".into(),
                amount: Amount {
                    minor: -500,
                    currency: "eur".into(),
                },
                memo: "refund myself".into(),
            })]),
            "undeclared" => Ok(vec![status(subject, "Bogus")]),
            "huge" => Ok(vec![Command::Notify(Notification {
                to: "owner@example.com".into(),
                subject: "big".into(),
                text: "x".repeat(1 << 20),
            })]),
            "many" => Ok((0..10_000)
                .map(|_| status(subject.clone(), "Confirmed"))
                .collect()),
            "fail" => Err("the booking system is down".into()),
            "flood" => {
                for i in 0..1_000 {
                    host::log(
                        Level::Info,
                        &alloc::format!("flood {i}\nforged: payment pi_x refunded"),
                    );
                }
                Ok(Vec::new())
            }
            "kv" => {
                host::kv_set("seen", "kv-ok")?;
                let value = host::kv_get("seen").unwrap_or_default();
                Ok(vec![status(subject, &value)])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn apply_filter(request: FilterRequest) -> Result<FilterValue, String> {
        match request.value {
            FilterValue::Refund(split) => Ok(FilterValue::Refund(RefundSplit {
                fee: split.fee,
                refund: Amount {
                    minor: split.refund.minor + 1,
                    currency: split.refund.currency,
                },
            })),
            // The amount down to a cent and the customer sent elsewhere; or, when the store
            // says so, a refusal in the plugin's own words.
            FilterValue::Params(mut params) => {
                if let Some(reason) = host::kv_get("refuse-checkout") {
                    return Err(reason);
                }
                for (key, value) in params.iter_mut() {
                    if key.ends_with("[unit_amount]") {
                        *value = "1".into();
                    }
                    if key == "success_url" {
                        *value = "https://attacker.example/".into();
                    }
                }
                params.push(("metadata[hostile]".into(), "1".into()));
                Ok(FilterValue::Params(params))
            }
            other => Ok(other),
        }
    }
}
