//! payhook's reference plugin for a clinic: appointments paid with Stripe Checkout during
//! booking, in the way KiviCare takes Stripe payments, with one paid booking per slot.
//!
//! **Statuses** it sets on the appointment (actions on other records are left alone):
//! `pending`, `confirmed`, `cancelled`, `refunded`, `released`, `needs_refund`.
//!
//! **Actions**
//! - `payment-settled`, and `checkout-completed` with the money collected → `confirmed` (the
//!   payment is "Completed", the booking finalized), and the slot is noted as taken: `slot:{slot}`
//!   = the appointment's id in the key-value store. Unless the slot is not the appointment's to
//!   take: its slot was released before (`released:{id}` is set, or the engine's decision says
//!   the payment came after a release) or another appointment holds it (`slot:{slot}` names
//!   another id). Then it is `needs_refund` instead, the slot is left as it is, and the clinic
//!   (`owner_email`) is told that a payment arrived for a released slot: no double booking. A
//!   slot that cannot be noted as taken (the store is full) is treated the same way: the
//!   booking is flagged, never confirmed without its note.
//! - `checkout-completed` while a delayed payment method is still processing → `pending`.
//! - `payment-failed` → `cancelled`; `checkout-expired` → `released`. Both note the release
//!   (`released:{id}` = `1`) and free the slot (`slot:{slot}` removed) if the appointment held it.
//! - `refund-recorded` → `refunded`; when everything paid was refunded the slot is freed and the
//!   release noted, as above.
//! - Every status change is also a platform callback:
//!   `{"event": "appointment.<status>", "appointment": <id>, "event_id": <evt_…>}`.
//!
//! **Reads**: metadata `slot` (the calendar slot, e.g. `2025-07-01T09:30/dr-lee`) and
//! `owner_email` (else the key `owner_email` in the store); the keys above.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use serde_json::{Value, json};

wit_bindgen::generate!({
    path: "../../wit/plugin",
    world: "payhook-plugin",
});

use exports::payhook::plugin::plugin::Guest;
use payhook::plugin::host::{self, Level};
use payhook::plugin::types::{
    Action, Amount, Command, FilterRequest, FilterValue, Hook, Manifest, Notification, StatusChange,
};

// The allocator, the panic handler, `cabi_realloc` and `memcmp` (see its docs).
use payhook_plugin_rt::Decision;

const PENDING: &str = "pending";
const CONFIRMED: &str = "confirmed";
const CANCELLED: &str = "cancelled";
const REFUNDED: &str = "refunded";
const RELEASED: &str = "released";
const NEEDS_REFUND: &str = "needs_refund";

struct Clinic;

export!(Clinic);

impl Guest for Clinic {
    fn describe() -> Manifest {
        Manifest {
            name: "clinic".into(),
            version: "0.1.0".into(),
            hooks: vec![
                Hook::PaymentSettled,
                Hook::CheckoutCompleted,
                Hook::PaymentFailed,
                Hook::CheckoutExpired,
                Hook::RefundRecorded,
            ],
            filters: Vec::new(),
            statuses: [
                PENDING,
                CONFIRMED,
                CANCELLED,
                REFUNDED,
                RELEASED,
                NEEDS_REFUND,
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    fn on_action(action: Action) -> Result<Vec<Command>, String> {
        if action.subject.kind != "appointment" {
            return Ok(Vec::new());
        }
        let decision = Decision::read(&action.decision);
        let id = action.subject.id.as_str();
        let slot = metadata(&action, "slot");
        let mut told = None;
        let status = match action.hook {
            Hook::CheckoutCompleted if decision.awaiting_payment() => PENDING,
            Hook::PaymentSettled | Hook::CheckoutCompleted => {
                match conflict(id, slot, &decision).or_else(|| hold(id, slot).err()) {
                    None => CONFIRMED,
                    Some(why) => {
                        told = tell_clinic(&action, &decision, slot, &why);
                        NEEDS_REFUND
                    }
                }
            }
            Hook::PaymentFailed => {
                release(id, slot);
                CANCELLED
            }
            Hook::CheckoutExpired => {
                release(id, slot);
                RELEASED
            }
            Hook::RefundRecorded => {
                if decision.has("appointment_refunded") {
                    release(id, slot);
                }
                REFUNDED
            }
            _ => return Ok(Vec::new()),
        };
        host::log(Level::Info, &format!("appointment {id}: {status}"));
        let mut commands = vec![Command::SetStatus(StatusChange {
            subject: action.subject.clone(),
            status: status.into(),
        })];
        commands.extend(told);
        let body = json!({
            "event": format!("appointment.{status}"),
            "appointment": id,
            "event_id": action.event_id,
        });
        commands.push(Command::Callback(body.to_string()));
        Ok(commands)
    }

    fn apply_filter(request: FilterRequest) -> Result<FilterValue, String> {
        // It asks for no filter; payhook's value stands.
        Ok(request.value)
    }
}

/// Why a payment for appointment `id` must not confirm it: its slot was released, or another
/// appointment holds it.
fn conflict(id: &str, slot: Option<&str>, decision: &Decision) -> Option<String> {
    if kv_get(&released_key(id)).is_some() || decision.has("paid_after_slot_released") {
        return Some(match slot {
            Some(slot) => format!("its slot ({slot}) had been released"),
            None => "its slot had been released".into(),
        });
    }
    let slot = slot?;
    let holder = kv_get(&slot_key(slot)).filter(|holder| holder != id)?;
    Some(format!(
        "its slot ({slot}) is already booked for appointment {holder}"
    ))
}

/// Notes that appointment `id` takes its slot. A slot that cannot be noted (the store is full)
/// is not confirmed: without the note, another payment could book it twice.
fn hold(id: &str, slot: Option<&str>) -> Result<(), String> {
    let Some(slot) = slot else { return Ok(()) };
    host::kv_set(&slot_key(slot), id).map_err(|why| {
        host::log(
            Level::Error,
            &format!("could not note slot {slot} as taken by {id}: {why}"),
        );
        format!("its slot ({slot}) could not be noted as taken ({why})")
    })
}

/// Notes that appointment `id` gave up its slot, and frees the slot if it held it.
fn release(id: &str, slot: Option<&str>) {
    kv_set(&released_key(id), "1");
    if let Some(slot) = slot {
        let key = slot_key(slot);
        if kv_get(&key).as_deref() == Some(id) {
            kv_set(&key, "");
        }
    }
}

/// The clinic's e-mail about a payment that must not confirm its appointment.
fn tell_clinic(
    action: &Action,
    decision: &Decision,
    slot: Option<&str>,
    why: &str,
) -> Option<Command> {
    let id = &action.subject.id;
    let Some(to) = metadata(action, "owner_email")
        .map(ToString::to_string)
        .or_else(|| kv_get("owner_email"))
        .filter(|a| a.contains('@'))
    else {
        host::log(
            Level::Warn,
            &format!(
                "appointment {id} needs a refund but no owner_email is known (in its metadata or the plugin's store): the clinic is not told"
            ),
        );
        return None;
    };
    let amount = action
        .amount
        .clone()
        .or_else(|| money(decision.effect("payment_completed")?.get("amount")?))
        .map(|a| format_amount(&a))
        .unwrap_or_else(|| "a payment".into());
    let mut text = format!(
        "A payment of {amount} arrived for appointment {id}, but {why}.\n\
         The appointment was not confirmed, so that the slot is not booked twice: it is marked needs_refund. Refund the payment in the Stripe Dashboard, or offer the patient another slot.\n"
    );
    if let Some(slot) = slot {
        text.push_str(&format!("Slot: {slot}\n"));
    }
    text.push_str(&format!("Stripe event: {}", action.event_id));
    Some(Command::Notify(Notification {
        to,
        subject: format!("Payment for a slot that is not free: appointment {id}"),
        text,
    }))
}

fn released_key(id: &str) -> String {
    format!("released:{id}")
}

fn slot_key(slot: &str) -> String {
    format!("slot:{slot}")
}

/// A value of the store; an empty one (a freed slot) counts as none.
fn kv_get(key: &str) -> Option<String> {
    host::kv_get(key).filter(|v| !v.is_empty())
}

/// Stores a value; a store that is full, or a key that is too long, is logged and the call goes
/// on: the status matters more than the note.
fn kv_set(key: &str, value: &str) {
    if let Err(why) = host::kv_set(key, value) {
        host::log(Level::Warn, &format!("could not store {key}: {why}"));
    }
}

payhook_plugin_rt::helpers!();

/// What this plugin reads from the engine's decision.
trait Reads {
    fn awaiting_payment(&self) -> bool;
}

impl Reads for Decision {
    fn awaiting_payment(&self) -> bool {
        self.has("appointment_awaiting_payment")
            || self
                .applied
                .get("next")
                .and_then(|next| next.get("status"))
                .and_then(Value::as_str)
                == Some("awaiting_payment")
    }
}
