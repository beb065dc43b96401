//! payhook's reference plugin for invoicing apps: invoices paid by payment link and
//! subscriptions with dunning, in the way Fluxrate and BiVelio take Stripe payments.
//!
//! **Statuses** it sets on the action's own record: `sent`, `PAID`, `partially_refunded`,
//! `refunded`, `payment_failed` on invoices; `past_due` and `PAID` (paid up again) on
//! subscriptions.
//!
//! **Actions on invoices**
//! - `invoice-finalized` → `sent`, and the client (`customer_email`) gets the amount due and
//!   the payment link (`payment_link`) when there is one.
//! - `payment-settled`, and `checkout-completed` with the money collected → `PAID`; an
//!   accounting record on account `revenue` of the payment's amount, memo
//!   `Payment {event-id} for invoice {id}`; a platform callback
//!   `{"event": "invoice.paid", "invoice": <id>, "case_id": <case_id or null>, "event_id": …,
//!   "amount": <minor units>, "currency": …}` (the linked case is updated); and the administrator
//!   (`admin_email`) is told. When the engine's decision says the invoice is only partly paid,
//!   the payment is booked and the administrator told, but the invoice is not `PAID` and the
//!   callback is `invoice.partially_paid`, with `remaining`.
//! - `payment-failed` → `payment_failed`, and the client is told, with the link to try again.
//! - `refund-recorded` → `refunded` when the engine's decision says everything received was
//!   refunded, else `partially_refunded`; an accounting record on account `refunds` of what this
//!   refund gave back (from the decision: the action's amount is the charge's, not the refund's),
//!   memo `Refund {event-id} for invoice {id}`.
//!
//! **Actions on subscriptions** (`subscription-changed`), dunning as the engine decides it:
//! when its decision says a payment failed (the subscription is past due or unpaid) → `past_due`,
//! and the customer is told the payment failed (with Stripe's next try, when there is one), the
//! administrator too; when it says the overdue payment was collected → `PAID`, and the customer
//! is told the payment was recovered. Any other change sets nothing.
//!
//! **Actions on payouts**: `payout-paid` → an accounting record on account `bank` of the
//! amount paid out, memo `Payout {id} to the bank, arrived {date}`; `payout-failed` → the
//! administrator (the store's `admin_email`) is told, with the bank's reason.
//!
//! **Filter** `notification`: appends the tenant's signature (the key `signature`) to the text,
//! below a `-- ` line, once.
//!
//! **Reads**: metadata `customer_email` (else `customer`, the record's customer reference, when it
//! is an e-mail address), `payment_link`, `case_id`, `admin_email` (else the key
//! `admin_email` in the store) and `subscription_id`. A subscription's own record has no
//! metadata, so the customer's address for dunning is the key `customer_email:{subscription}`,
//! which the plugin stores whenever an invoice names both its `subscription_id` and its
//! `customer_email` (an operator may set it too); without one, the administrator is told instead.
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
    Action, Amount, Command, FilterPoint, FilterRequest, FilterValue, Hook, LedgerEntry, Manifest,
    Notification, StatusChange,
};

// The allocator, the panic handler, `cabi_realloc` and `memcmp` (see its docs).
use payhook_plugin_rt::Decision;

const SENT: &str = "sent";
const PAID: &str = "PAID";
const PARTIALLY_REFUNDED: &str = "partially_refunded";
const REFUNDED: &str = "refunded";
const PAYMENT_FAILED: &str = "payment_failed";
const PAST_DUE: &str = "past_due";

/// The longest text a notification may have (payhook's limit).
const MAX_TEXT: usize = 10_000;

struct Invoicing;

export!(Invoicing);

impl Guest for Invoicing {
    fn describe() -> Manifest {
        Manifest {
            name: "invoicing".into(),
            version: "0.1.0".into(),
            hooks: vec![
                Hook::InvoiceFinalized,
                Hook::PaymentSettled,
                Hook::CheckoutCompleted,
                Hook::PaymentFailed,
                Hook::RefundRecorded,
                Hook::SubscriptionChanged,
                Hook::PayoutPaid,
                Hook::PayoutFailed,
            ],
            filters: vec![FilterPoint::Notification],
            statuses: [
                SENT,
                PAID,
                PARTIALLY_REFUNDED,
                REFUNDED,
                PAYMENT_FAILED,
                PAST_DUE,
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    fn on_action(action: Action) -> Result<Vec<Command>, String> {
        let decision = Decision::read(&action.decision);
        let commands = match (action.subject.kind.as_str(), action.hook) {
            ("invoice", hook) => {
                remember_subscriber(&action);
                match hook {
                    Hook::InvoiceFinalized => finalized(&action),
                    Hook::PaymentSettled => settled(&action, &decision),
                    Hook::CheckoutCompleted if decision.collected() => settled(&action, &decision),
                    Hook::PaymentFailed => failed(&action, &decision),
                    Hook::RefundRecorded => refunded(&action, &decision),
                    _ => Vec::new(),
                }
            }
            ("subscription", Hook::SubscriptionChanged) => dunning(&action, &decision),
            ("payout", Hook::PayoutPaid) => payout_paid(&action, &decision),
            ("payout", Hook::PayoutFailed) => payout_failed(&action, &decision),
            _ => Vec::new(),
        };
        Ok(commands)
    }

    fn apply_filter(request: FilterRequest) -> Result<FilterValue, String> {
        match (request.point, request.value) {
            (FilterPoint::Notification, FilterValue::Message(mut message)) => {
                if let Some(signature) = host::kv_get("signature") {
                    let signature = signature.trim();
                    let block = format!("\n\n-- \n{signature}");
                    if !signature.is_empty() && !message.text.ends_with(&block) {
                        if message.text.chars().count() + block.chars().count() <= MAX_TEXT {
                            message.text.push_str(&block);
                        } else {
                            host::log(
                                Level::Warn,
                                "the notification is too long to sign: sent without the signature",
                            );
                        }
                    }
                }
                Ok(FilterValue::Message(message))
            }
            (_, value) => Ok(value),
        }
    }
}

/// `invoice-finalized`: sent, and the client gets the link.
fn finalized(action: &Action) -> Vec<Command> {
    let id = &action.subject.id;
    let mut commands = vec![status(action, SENT)];
    let due = action
        .amount
        .as_ref()
        .map(format_amount)
        .unwrap_or_else(|| "the amount on the invoice".into());
    let mut text = format!("Invoice {id} for {due} is ready.\n");
    match metadata(action, "payment_link") {
        Some(link) => text.push_str(&format!("Pay it online, by card: {link}\n")),
        None => text.push_str("The payment details are on the invoice.\n"),
    }
    text.push_str("Thank you.");
    commands.extend(notify(
        action,
        client(action),
        format!("Invoice {id}: {due} due"),
        text,
        "the client",
    ));
    commands
}

/// A payment on the invoice: PAID (or partly), booked, the case called back, the admin told.
fn settled(action: &Action, decision: &Decision) -> Vec<Command> {
    let id = &action.subject.id;
    let partial =
        decision.has("invoice_partially_paid") || decision.status() == Some("partially_paid");
    let mut commands = Vec::new();
    if !partial {
        commands.push(status(action, PAID));
    }
    if let Some(amount) = action.amount.as_ref().filter(|a| a.minor > 0) {
        commands.push(Command::Book(LedgerEntry {
            subject: action.subject.clone(),
            account: "revenue".into(),
            amount: amount.clone(),
            memo: format!("Payment {} for invoice {id}", action.event_id),
        }));
    }
    let case_id = metadata(action, "case_id");
    let received = action
        .amount
        .as_ref()
        .map(format_amount)
        .unwrap_or_else(|| "a payment".into());
    let mut body = json!({
        "event": if partial { "invoice.partially_paid" } else { "invoice.paid" },
        "invoice": id,
        "case_id": case_id,
        "event_id": action.event_id,
        "amount": action.amount.as_ref().map(|a| a.minor),
        "currency": action.amount.as_ref().map(|a| a.currency.as_str()),
    });
    let (subject, mut text) = if partial {
        let remaining = decision
            .effect("invoice_partially_paid")
            .and_then(|e| money(e.get("remaining")?));
        body["remaining"] = json!(remaining.as_ref().map(|a| a.minor));
        let still = remaining
            .map(|a| format!("{} is still due", format_amount(&a)))
            .unwrap_or_else(|| "part of it is still due".into());
        (
            format!("Part payment on invoice {id}: {received}"),
            format!("{received} was received on invoice {id}; {still}.\n"),
        )
    } else {
        (
            format!("Invoice {id} paid: {received}"),
            format!("Invoice {id} is PAID: {received} was received.\n"),
        )
    };
    if let Some(excess) = decision
        .effect("invoice_overpaid")
        .and_then(|e| money(e.get("excess")?))
    {
        text.push_str(&format!(
            "That is {} more than was due: refund it or keep it as the client's credit.\n",
            format_amount(&excess)
        ));
    }
    if let Some(case_id) = case_id {
        text.push_str(&format!("Case {case_id} is updated.\n"));
    }
    text.push_str(&format!("Stripe event: {}", action.event_id));
    commands.push(Command::Callback(body.to_string()));
    commands.extend(notify(
        action,
        admin(action),
        subject,
        text,
        "the administrator",
    ));
    commands
}

/// `payment-failed`: the client is told, with the link to try again.
fn failed(action: &Action, decision: &Decision) -> Vec<Command> {
    let id = &action.subject.id;
    let mut commands = vec![status(action, PAYMENT_FAILED)];
    let why = decision
        .effect("payment_failed")
        .and_then(|e| e.get("message")?.as_str())
        .map(|m| format!(" The bank said: {m}"))
        .unwrap_or_default();
    let mut text = format!("The payment for invoice {id} did not go through.{why}\n");
    match metadata(action, "payment_link") {
        Some(link) => text.push_str(&format!(
            "You can try again, with this or another card: {link}"
        )),
        None => text.push_str("Please try again, or reply to this e-mail."),
    }
    commands.extend(notify(
        action,
        client(action),
        format!("Payment for invoice {id} failed"),
        text,
        "the client",
    ));
    commands
}

/// `refund-recorded`: refunded or partly, and booked on `refunds`.
fn refunded(action: &Action, decision: &Decision) -> Vec<Command> {
    let id = &action.subject.id;
    let full = decision.has("invoice_refunded") || decision.status().is_none_or(|s| s == REFUNDED);
    let mut commands = vec![status(
        action,
        if full { REFUNDED } else { PARTIALLY_REFUNDED },
    )];
    let currency = action.amount.as_ref().map(|a| a.currency.as_str());
    // What this refund gave back: the engine's refund effects (one per payment refunded).
    let given_back: i64 = decision
        .effects()
        .filter(|e| e.get("effect").and_then(Value::as_str) == Some("refund_recorded"))
        .filter_map(|e| money(e.get("amount")?))
        .filter(|a| Some(a.currency.as_str()) == currency)
        .map(|a| a.minor)
        .sum();
    match &action.amount {
        Some(charge) if given_back > 0 => commands.push(Command::Book(LedgerEntry {
            subject: action.subject.clone(),
            account: "refunds".into(),
            amount: Amount {
                minor: given_back.min(charge.minor),
                currency: charge.currency.clone(),
            },
            memo: format!("Refund {} for invoice {id}", action.event_id),
        })),
        _ => host::log(
            Level::Warn,
            &format!(
                "invoice {id}: the decision does not say how much was refunded; nothing booked"
            ),
        ),
    }
    commands
}

/// `subscription-changed`: dunning.
fn dunning(action: &Action, decision: &Decision) -> Vec<Command> {
    let id = &action.subject.id;
    let customer = client(action).or_else(|| host::kv_get(&subscriber_key(id)));
    let mut commands = Vec::new();
    if let Some(failure) = decision.effect("notify_payment_failed") {
        commands.push(status(action, PAST_DUE));
        let retry = failure
            .get("retry_at")
            .and_then(Value::as_i64)
            .map(|at| format!(" Stripe will try the card again on {} (UTC).", date(at)))
            .unwrap_or_default();
        let text = format!(
            "We could not collect the payment for your subscription {id}.{retry}\n\
             Please check that your card is valid and has funds, or update it, so that the subscription stays active."
        );
        let reached = customer.is_some();
        commands.extend(notify(
            action,
            customer,
            format!("Payment failed for your subscription {id}"),
            text,
            "the customer",
        ));
        let note = if reached {
            "The customer was told."
        } else {
            "No e-mail address is known for the customer (customer_email:<subscription> in the plugin's store): please contact them."
        };
        commands.extend(notify(
            action,
            admin(action),
            format!("Subscription {id} is past due"),
            format!("A payment for subscription {id} failed.{retry} {note}"),
            "the administrator",
        ));
    } else if decision.has("notify_payment_recovered") {
        commands.push(status(action, PAID));
        let text = format!(
            "The overdue payment for your subscription {id} was collected: it is active again. Thank you."
        );
        commands.extend(notify(
            action,
            customer,
            format!("Payment recovered for your subscription {id}"),
            text,
            "the customer",
        ));
    }
    commands
}

/// Stores the customer's address for the invoice's subscription, for dunning e-mails.
/// `payout-paid`: the transfer from Stripe to the bank, booked on account `bank`.
fn payout_paid(action: &Action, decision: &Decision) -> Vec<Command> {
    let Some(amount) = action.amount.clone() else {
        return Vec::new();
    };
    let id = &action.subject.id;
    let arrived = decision
        .next()
        .and_then(|p| p.get("arrival_date")?.as_i64())
        .map(|t| format!(", arrived {}", date(t)))
        .unwrap_or_default();
    vec![Command::Book(LedgerEntry {
        subject: action.subject.clone(),
        account: "bank".into(),
        amount,
        memo: format!("Payout {id} to the bank{arrived}"),
    })]
}

/// `payout-failed`: the administrator is told, with the bank's reason.
fn payout_failed(action: &Action, decision: &Decision) -> Vec<Command> {
    let id = &action.subject.id;
    let amount = action
        .amount
        .as_ref()
        .map(format_amount)
        .unwrap_or_else(|| "a payout".into());
    let why = decision
        .next()
        .and_then(|p| p.get("failure_message")?.as_str())
        .unwrap_or("Stripe gave no reason");
    let text = format!(
        "Payout {id} of {amount} to the bank failed: {why}\nStripe returns the money to the balance; check the bank account in the Stripe Dashboard before the next payout."
    );
    notify(
        action,
        admin(action),
        format!("Payout {id} failed: {amount}"),
        text,
        "the administrator",
    )
    .into_iter()
    .collect()
}

fn remember_subscriber(action: &Action) {
    let (Some(subscription), Some(email)) = (metadata(action, "subscription_id"), client(action))
    else {
        return;
    };
    let key = subscriber_key(subscription);
    if host::kv_get(&key).as_deref() != Some(email.as_str())
        && let Err(why) = host::kv_set(&key, &email)
    {
        host::log(Level::Warn, &format!("could not store {key}: {why}"));
    }
}

fn subscriber_key(subscription: &str) -> String {
    format!("customer_email:{subscription}")
}

fn status(action: &Action, status: &str) -> Command {
    Command::SetStatus(StatusChange {
        subject: action.subject.clone(),
        status: status.into(),
    })
}

/// An e-mail to `to`, if there is an address; else a line in the log saying who was not told.
fn notify(
    action: &Action,
    to: Option<String>,
    subject: String,
    text: String,
    who: &str,
) -> Option<Command> {
    match to.map(|a| a.trim().to_string()).filter(|a| a.contains('@')) {
        Some(to) => Some(Command::Notify(Notification { to, subject, text })),
        None => {
            host::log(
                Level::Warn,
                &format!(
                    "{} {}: no e-mail address for {who}; not told: {subject}",
                    action.subject.kind, action.subject.id
                ),
            );
            None
        }
    }
}

/// The client's address: `customer_email`, else the record's `customer` reference when it is an
/// e-mail address.
fn client(action: &Action) -> Option<String> {
    metadata(action, "customer_email")
        .or_else(|| metadata(action, "customer").filter(|c| c.contains('@')))
        .map(String::from)
}

/// The administrator's address: the record's `admin_email`, else the tenant's.
fn admin(action: &Action) -> Option<String> {
    metadata(action, "admin_email")
        .map(String::from)
        .or_else(|| host::kv_get("admin_email"))
}

/// A unix time's UTC date, `2025-07-01` (days to a proleptic Gregorian date, by 400-year eras).
fn date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    // Shift the epoch to 0000-03-01, so that a leap day ends each year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

payhook_plugin_rt::helpers!();

/// What this plugin reads from the engine's decision.
trait Reads {
    fn collected(&self) -> bool;
}

impl Reads for Decision {
    fn collected(&self) -> bool {
        if self.applied.is_null() {
            return true;
        }
        [
            "payment_completed",
            "invoice_paid",
            "invoice_partially_paid",
        ]
        .iter()
        .any(|name| self.has(name))
    }
}
