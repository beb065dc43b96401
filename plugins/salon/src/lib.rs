//! payhook's reference plugin for a salon: bookings (visits) paid online by payment link, in the
//! way Altegio takes Stripe payments.
//!
//! **Statuses** it sets on the action's own record (a visit, or a payment that names none):
//! `paid`, `refunded`, `partially_refunded`, `disputed`, `cancelled`.
//!
//! **Actions**
//! - `payment-settled` → `paid`. `checkout-completed` → `paid` too, unless the engine's decision
//!   says a delayed payment method is still processing (then nothing yet).
//! - `payment-failed` → `cancelled` when the engine cancelled the booking or the payment (a
//!   decline the customer can retry changes nothing); `checkout-expired` → `cancelled`.
//! - `refund-recorded` → `refunded` when nothing received is left with the salon, else
//!   `partially_refunded`. The rule: the engine's decision decides (its record status is
//!   `refunded`, or it says the appointment or invoice is refunded); the action's amount is the
//!   amount captured, not the refund, so it cannot tell on its own. Only when the decision cannot
//!   be read does the refunded total of the refund effect count against the captured amount.
//! - `dispute-opened` → `disputed`, and the owner is told the amount and the reason;
//!   `dispute-won` → `paid` again, `dispute-lost` → stays `disputed`; the owner is told of both.
//!
//! **Filters**
//! - `refund-amount`: the late-cancellation fee. The tenant's `late_fee_percent` (key-value
//!   store; `20` or `12.5`; unset or `0` leaves payhook's split as it is) of the refundable total
//!   is kept, rounded half up to what Stripe can charge in the currency (a cent; a yen; 10 for
//!   three-decimal currencies, 100 for ISK and UGX). The fee is never lower than the one payhook
//!   proposed; fee and refund still add up to the same total and neither is negative.
//! - `checkout-params`: Stripe's minimum. A checkout whose `amount` (or, without one, the sum of
//!   its line items' `unit_amount` × `quantity`) is under 50 minor units (0.50; ¥50) is refused
//!   with a message saying so; any other gets `metadata[source]=salon` and is otherwise unchanged.
//!
//! **Reads**: metadata `owner_email` (else the key `owner_email` in the store), `service` and
//! `customer_email` (else `customer`, the record's customer reference) for the owner's e-mails;
//! the key `late_fee_percent`.
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
    Action, Amount, Command, FilterPoint, FilterRequest, FilterValue, Hook, Manifest, Notification,
    RefundSplit, StatusChange,
};

// The allocator, the panic handler, `cabi_realloc` and `memcmp` (see its docs).
use payhook_plugin_rt::Decision;

const PAID: &str = "paid";
const REFUNDED: &str = "refunded";
const PARTIALLY_REFUNDED: &str = "partially_refunded";
const DISPUTED: &str = "disputed";
const CANCELLED: &str = "cancelled";

/// Stripe's smallest charge, in minor units: 0.50 in two-decimal currencies, ¥50.
const MINIMUM: i64 = 50;

struct Salon;

export!(Salon);

impl Guest for Salon {
    fn describe() -> Manifest {
        Manifest {
            name: "salon".into(),
            version: "0.1.0".into(),
            hooks: vec![
                Hook::PaymentSettled,
                Hook::CheckoutCompleted,
                Hook::PaymentFailed,
                Hook::CheckoutExpired,
                Hook::RefundRecorded,
                Hook::DisputeOpened,
                Hook::DisputeWon,
                Hook::DisputeLost,
            ],
            filters: vec![FilterPoint::RefundAmount, FilterPoint::CheckoutParams],
            statuses: [PAID, REFUNDED, PARTIALLY_REFUNDED, DISPUTED, CANCELLED]
                .map(String::from)
                .to_vec(),
        }
    }

    fn on_action(action: Action) -> Result<Vec<Command>, String> {
        let decision = Decision::read(&action.decision);
        let mut commands = Vec::new();
        match action.hook {
            Hook::PaymentSettled => commands.push(status(&action, PAID)),
            Hook::CheckoutCompleted if !decision.awaiting_payment() => {
                commands.push(status(&action, PAID))
            }
            Hook::PaymentFailed if decision.cancelled() => {
                commands.push(status(&action, CANCELLED))
            }
            Hook::CheckoutExpired => commands.push(status(&action, CANCELLED)),
            Hook::RefundRecorded => {
                let full = fully_refunded(&action, &decision);
                commands.push(status(
                    &action,
                    if full { REFUNDED } else { PARTIALLY_REFUNDED },
                ));
            }
            Hook::DisputeOpened => {
                commands.push(status(&action, DISPUTED));
                commands.extend(tell_owner(&action, &decision));
            }
            Hook::DisputeWon => {
                commands.push(status(&action, PAID));
                commands.extend(tell_owner(&action, &decision));
            }
            Hook::DisputeLost => {
                commands.push(status(&action, DISPUTED));
                commands.extend(tell_owner(&action, &decision));
            }
            _ => {}
        }
        Ok(commands)
    }

    fn apply_filter(request: FilterRequest) -> Result<FilterValue, String> {
        match (request.point, request.value) {
            (FilterPoint::RefundAmount, FilterValue::Refund(split)) => {
                Ok(FilterValue::Refund(late_fee(split)))
            }
            (FilterPoint::CheckoutParams, FilterValue::Params(params)) => {
                minimum_and_source(params).map(FilterValue::Params)
            }
            (_, value) => Ok(value),
        }
    }
}

fn status(action: &Action, status: &str) -> Command {
    Command::SetStatus(StatusChange {
        subject: action.subject.clone(),
        status: status.into(),
    })
}

/// Whether nothing received is left with the salon after this refund (see the crate's docs).
fn fully_refunded(action: &Action, decision: &Decision) -> bool {
    if decision.has("appointment_refunded") || decision.has("invoice_refunded") {
        return true;
    }
    if let Some(status) = decision.status() {
        return status == REFUNDED;
    }
    let total = decision
        .effect("refund_recorded")
        .and_then(|e| money(e.get("total")?));
    match (total, &action.amount) {
        (Some(total), Some(captured)) => total.minor >= captured.minor,
        // Nothing to go by: Stripe said a refund happened, and most refunds are whole.
        _ => true,
    }
}

/// The owner's e-mail about a dispute, if the salon gave an address.
fn tell_owner(action: &Action, decision: &Decision) -> Option<Command> {
    let Some(to) = address(action, "owner_email") else {
        host::log(
            Level::Warn,
            &format!(
                "no owner_email for {} {} (in its metadata or the plugin's store): the owner is not told of the dispute",
                action.subject.kind, action.subject.id
            ),
        );
        return None;
    };
    let what = format!("{} {}", action.subject.kind, action.subject.id);
    let amount = dispute_amount(action, decision)
        .map(|a| format_amount(&a))
        .unwrap_or_else(|| "the payment".into());
    let (subject, mut text) = match action.hook {
        Hook::DisputeOpened => {
            let reason = decision
                .effect("dispute_opened")
                .and_then(|e| e.get("reason")?.as_str())
                .or_else(|| decision.next()?.get("dispute")?.get("reason")?.as_str())
                .unwrap_or("not given");
            (
                format!("Dispute opened: {amount} on {what}"),
                format!(
                    "A client disputed {amount} on {what} with their bank (reason: {}).\n\
                     Stripe holds the amount until the bank decides. Answer the dispute in the Stripe Dashboard before its due date, with what shows the visit took place: the booking, the service given, messages with the client.",
                    reason.replace('_', " ")
                ),
            )
        }
        Hook::DisputeWon => (
            format!("Dispute won: {amount} on {what}"),
            format!("The bank decided in the salon's favour: {amount} on {what} is yours again."),
        ),
        _ => (
            format!("Dispute lost: {amount} on {what}"),
            format!(
                "The bank decided for the client: {amount} on {what} goes back to them, and Stripe keeps its dispute fee."
            ),
        ),
    };
    if let Some(service) = metadata(action, "service") {
        text.push_str(&format!("\nService: {service}"));
    }
    if let Some(client) =
        metadata(action, "customer_email").or_else(|| metadata(action, "customer"))
    {
        text.push_str(&format!("\nClient: {client}"));
    }
    text.push_str(&format!("\nStripe event: {}", action.event_id));
    Some(Command::Notify(Notification { to, subject, text }))
}

/// The disputed amount: the action's, else the one the payment's state holds.
fn dispute_amount(action: &Action, decision: &Decision) -> Option<Amount> {
    if let Some(amount) = &action.amount {
        return Some(amount.clone());
    }
    let next = decision.next()?;
    Some(Amount {
        minor: next.get("dispute")?.get("amount")?.as_i64()?,
        currency: next.get("currency")?.as_str()?.into(),
    })
}

/// The late-cancellation fee (see the crate's docs).
fn late_fee(split: RefundSplit) -> RefundSplit {
    let Some(raw) = host::kv_get("late_fee_percent") else {
        return split;
    };
    let Some(basis_points) = parse_percent(&raw) else {
        host::log(
            Level::Error,
            &format!(
                "late_fee_percent is {raw:?}, not a percentage from 0 to 100 such as 20 or 12.5: the refund is left as payhook proposed it"
            ),
        );
        return split;
    };
    let (fee, refund) = (split.fee.minor, split.refund.minor);
    let Some(total) = fee.checked_add(refund) else {
        return split;
    };
    if basis_points == 0 || fee < 0 || refund < 0 || total == 0 {
        return split;
    }
    let step = i128::from(charge_step(&split.refund.currency));
    // total × percent / 100, in units of `step`, rounded half up.
    let unit = step * 10_000;
    let kept = (i128::from(total) * i128::from(basis_points) + unit / 2) / unit * step;
    let kept = (kept as i64).min(total).max(fee);
    let currency = split.refund.currency;
    RefundSplit {
        fee: Amount {
            minor: kept,
            currency: currency.clone(),
        },
        refund: Amount {
            minor: total - kept,
            currency,
        },
    }
}

/// `20`, `12.5`, `7,25` or `15 %` as basis points (hundredths of a percent), 0 to 10,000.
fn parse_percent(text: &str) -> Option<u32> {
    let text = text.trim().trim_end_matches('%').trim_end();
    let (whole, fraction) = match text.split_once(['.', ',']) {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.len() > 2 || !(fraction.is_empty() || digits(fraction)) {
        return None;
    }
    let hundredths = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<u32>().ok()? * 10,
        _ => fraction.parse::<u32>().ok()?,
    };
    let basis_points = whole.parse::<u32>().ok()? * 100 + hundredths;
    (basis_points <= 10_000).then_some(basis_points)
}

/// What a charge or refund in `currency` must be a multiple of, in minor units: three-decimal
/// currencies end in 0, ISK and UGX are whole units written with two decimals.
fn charge_step(currency: &str) -> i64 {
    match currency {
        "bhd" | "jod" | "kwd" | "omr" | "tnd" => 10,
        "isk" | "ugx" => 100,
        _ => 1,
    }
}

/// Refuses a checkout under Stripe's minimum; tags the others as the salon's.
fn minimum_and_source(mut params: Vec<(String, String)>) -> Result<Vec<(String, String)>, String> {
    let currency = param(&params, "currency")
        .or_else(|| param(&params, "line_items[0][price_data][currency]"))
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(total) = checkout_total(&params)?
        && total < MINIMUM
    {
        let show = |minor| {
            if currency.is_empty() {
                format!("{minor} minor units")
            } else {
                format_amount(&Amount {
                    minor,
                    currency: currency.clone(),
                })
            }
        };
        return Err(format!(
            "the minimum online payment is {}; this checkout asks for {}. Stripe cannot take less: raise the price, or take this payment at the salon",
            show(MINIMUM),
            show(total)
        ));
    }
    const SOURCE: &str = "metadata[source]";
    match params.iter_mut().find(|(k, _)| k == SOURCE) {
        Some((_, v)) => *v = "salon".into(),
        None => params.push((SOURCE.into(), "salon".into())),
    }
    Ok(params)
}

/// The checkout's total in minor units: its `amount`, else the sum of its line items'
/// `unit_amount` × `quantity`; none when it names prices only.
fn checkout_total(params: &[(String, String)]) -> Result<Option<i64>, String> {
    let number = |key: &str, value: &str| {
        value.trim().parse::<i64>().map_err(|_| {
            format!("the checkout's {key} is {value:?}, not a whole number of minor units")
        })
    };
    if let Some(amount) = param(params, "amount") {
        return number("amount", amount).map(Some);
    }
    let mut total: Option<i64> = None;
    for (key, value) in params {
        let Some(index) = key
            .strip_prefix("line_items[")
            .and_then(|rest| rest.strip_suffix("][price_data][unit_amount]"))
        else {
            continue;
        };
        let quantity_key = format!("line_items[{index}][quantity]");
        let quantity = match param(params, &quantity_key) {
            Some(q) => number(&quantity_key, q)?,
            None => 1,
        };
        let line = number(key, value)?.saturating_mul(quantity);
        total = Some(total.unwrap_or(0).saturating_add(line));
    }
    Ok(total)
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// An e-mail address from the record's metadata, else from the plugin's store for the tenant.
fn address(action: &Action, key: &str) -> Option<String> {
    metadata(action, key)
        .map(ToString::to_string)
        .or_else(|| host::kv_get(key))
        .map(|a| a.trim().to_string())
        .filter(|a| a.contains('@'))
}

payhook_plugin_rt::helpers!();

/// What this plugin reads from the engine's decision.
trait Reads {
    fn awaiting_payment(&self) -> bool;
    fn cancelled(&self) -> bool;
}

impl Reads for Decision {
    fn awaiting_payment(&self) -> bool {
        self.has("appointment_awaiting_payment")
            || self.has("payment_processing")
            || matches!(self.status(), Some("awaiting_payment" | "processing"))
    }

    fn cancelled(&self) -> bool {
        self.has("appointment_cancelled")
            || self.has("payment_canceled")
            || matches!(self.status(), Some("cancelled" | "canceled" | "expired"))
    }
}
