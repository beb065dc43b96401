//! The reference plugins (`plugins/clinic`, `plugins/salon`, `plugins/invoicing`), loaded and
//! called as payhook does: each manifest is valid, each hook answers exactly the commands the
//! plugin's docs promise (and they pass the host's checks), the key-value store carries what a
//! plugin learns from one call to the next, and the filters keep to the host's rules.
//!
//! The decisions are the engine's own, as payhook passes them to plugins (`{"decision": …,
//! "fact": …, "record": …}`), taken from its machines for the facts named.

use std::time::Duration;

use payhook_plugins::{
    Action, Amount, Command, FilterPoint, FilterRequest, FilterValue, Hook, Kv, LedgerEntry,
    Notification, Plugin, PluginError, PluginHost, RecordRef, RefundSplit, SandboxLimits,
    StatusChange, check_commands, check_filter, check_manifest,
};

const CLINIC: &str = env!("PAYHOOK_PLUGIN_CLINIC");
const SALON: &str = env!("PAYHOOK_PLUGIN_SALON");
const INVOICING: &str = env!("PAYHOOK_PLUGIN_INVOICING");

fn host() -> PluginHost {
    PluginHost::new(SandboxLimits {
        memory: 16 << 20,
        // Generous: the tests run beside other builds on a small machine.
        deadline: Duration::from_millis(500),
    })
    .unwrap()
}

fn load(host: &PluginHost, path: &str) -> Plugin {
    host.load(&std::fs::read(path).unwrap()).unwrap()
}

fn money(minor: i64, currency: &str) -> Amount {
    Amount {
        minor,
        currency: currency.into(),
    }
}

fn eur(minor: i64) -> Amount {
    money(minor, "eur")
}

fn record(kind: &str, id: &str) -> RecordRef {
    RecordRef {
        kind: kind.into(),
        id: id.into(),
    }
}

/// An action as the plugin worker builds it.
fn action(
    hook: Hook,
    (kind, id): (&str, &str),
    event: &str,
    amount: Option<Amount>,
    decision: &str,
    metadata: &[(&str, &str)],
) -> Action {
    Action {
        hook,
        tenant: "ten_a".into(),
        event_id: event.into(),
        subject: record(kind, id),
        amount,
        decision: decision.into(),
        metadata: metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Calls the plugin as payhook does, and checks its answer once more on its own.
fn run(host: &PluginHost, plugin: &Plugin, action: &Action, kv: &mut Kv) -> Vec<Command> {
    let commands = host
        .on_action(plugin, action, kv)
        .unwrap_or_else(|e| panic!("{} on {:?}: {e}", plugin.name(), action.hook));
    check_commands(plugin.manifest(), action, &commands).unwrap();
    commands
}

/// No commands.
const NONE: [Command; 0] = [];

fn status(kind: &str, id: &str, status: &str) -> Command {
    Command::SetStatus(StatusChange {
        subject: record(kind, id),
        status: status.into(),
    })
}

fn callback(body: &str) -> Command {
    Command::Callback(body.into())
}

fn book(id: &str, account: &str, amount: Amount, memo: &str) -> Command {
    Command::Book(LedgerEntry {
        subject: record("invoice", id),
        account: account.into(),
        amount,
        memo: memo.into(),
    })
}

/// The e-mail in `command`, checked for its address and subject; its text is returned.
fn email<'a>(command: &'a Command, to: &str, subject: &str) -> &'a str {
    match command {
        Command::Notify(Notification {
            to: t,
            subject: s,
            text,
        }) => {
            assert_eq!((t.as_str(), s.as_str()), (to, subject), "{text}");
            text
        }
        other => panic!("not an e-mail: {other:?}"),
    }
}

fn kv_of(pairs: &[(&str, &str)]) -> Kv {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn stored(kv: &Kv, key: &str) -> Option<String> {
    kv.get(key).map(str::to_owned)
}

// ---- clinic --------------------------------------------------------------------------------

const SLOT: &str = "2025-07-01T09:30/dr-lee";
const DESK: &str = "desk@clinic.example";

fn appointment(hook: Hook, id: &str, event: &str, decision: &str, slot: &str) -> Action {
    let amount = matches!(
        hook,
        Hook::PaymentSettled | Hook::PaymentFailed | Hook::RefundRecorded
    )
    .then(|| eur(4500));
    action(
        hook,
        ("appointment", id),
        event,
        amount,
        decision,
        &[
            ("slot", slot),
            ("owner_email", DESK),
            ("service", "Check-up"),
        ],
    )
}

#[test]
fn clinic_manifest() {
    let host = host();
    let plugin = load(&host, CLINIC);
    let m = plugin.manifest();
    check_manifest(m).unwrap();
    assert_eq!((m.name.as_str(), m.version.as_str()), ("clinic", "0.1.0"));
    assert_eq!(
        m.hooks,
        [
            Hook::PaymentSettled,
            Hook::CheckoutCompleted,
            Hook::PaymentFailed,
            Hook::CheckoutExpired,
            Hook::RefundRecorded
        ]
    );
    assert!(m.filters.is_empty());
    assert_eq!(
        m.statuses,
        [
            "pending",
            "confirmed",
            "cancelled",
            "refunded",
            "released",
            "needs_refund"
        ]
    );
}

#[test]
fn clinic_confirms_a_paid_appointment_and_its_slot_is_taken() {
    let host = host();
    let plugin = load(&host, CLINIC);
    let mut kv = Kv::default();
    let paid = appointment(
        Hook::PaymentSettled,
        "apt_1",
        "evt_1",
        decisions::APT_PAID,
        SLOT,
    );
    assert_eq!(
        run(&host, &plugin, &paid, &mut kv),
        [
            status("appointment", "apt_1", "confirmed"),
            callback(
                r#"{"appointment":"apt_1","event":"appointment.confirmed","event_id":"evt_1"}"#
            ),
        ]
    );
    assert_eq!(
        stored(&kv, &format!("slot:{SLOT}")).as_deref(),
        Some("apt_1")
    );

    // Another appointment paid for the same slot: flagged, never booked twice.
    let decision = decisions::APT_PAID.replace("apt_1", "apt_9");
    let other = appointment(Hook::PaymentSettled, "apt_9", "evt_9", &decision, SLOT);
    let commands = run(&host, &plugin, &other, &mut kv);
    assert_eq!(commands.len(), 3, "{commands:?}");
    assert_eq!(commands[0], status("appointment", "apt_9", "needs_refund"));
    let text = email(
        &commands[1],
        DESK,
        "Payment for a slot that is not free: appointment apt_9",
    );
    assert!(
        text.starts_with(&format!(
            "A payment of 45.00 EUR arrived for appointment apt_9, but its slot ({SLOT}) is already booked for appointment apt_1."
        )),
        "{text}"
    );
    assert!(
        text.contains("needs_refund") && text.ends_with("Stripe event: evt_9"),
        "{text}"
    );
    assert_eq!(
        commands[2],
        callback(
            r#"{"appointment":"apt_9","event":"appointment.needs_refund","event_id":"evt_9"}"#
        )
    );
    assert_eq!(
        stored(&kv, &format!("slot:{SLOT}")).as_deref(),
        Some("apt_1")
    );

    // The same appointment paid again (a second payment) keeps its slot.
    let again = appointment(
        Hook::PaymentSettled,
        "apt_1",
        "evt_2",
        decisions::APT_PAID,
        SLOT,
    );
    assert_eq!(
        run(&host, &plugin, &again, &mut kv)[0],
        status("appointment", "apt_1", "confirmed")
    );
}

#[test]
fn clinic_never_confirms_a_slot_it_cannot_note_as_taken() {
    let host = host();
    let plugin = load(&host, CLINIC);
    // A store at its 1,000 keys: the new slot's note cannot be stored.
    let mut kv: Kv = (0..1_000)
        .map(|i| {
            (
                format!("slot:2024-01-01T09:{i:03}/dr-lee"),
                format!("apt_old{i}"),
            )
        })
        .collect();
    let paid = appointment(
        Hook::PaymentSettled,
        "apt_1",
        "evt_1",
        decisions::APT_PAID,
        SLOT,
    );
    let commands = run(&host, &plugin, &paid, &mut kv);
    assert_eq!(
        commands[0],
        status("appointment", "apt_1", "needs_refund"),
        "{commands:?}"
    );
    let text = email(
        &commands[1],
        DESK,
        "Payment for a slot that is not free: appointment apt_1",
    );
    assert!(
        text.contains(&format!(
            "its slot ({SLOT}) could not be noted as taken (at most 1000 keys per plugin and tenant)"
        )),
        "{text}"
    );
    assert_eq!(stored(&kv, &format!("slot:{SLOT}")), None);
    // Once a freed slot's key is removed there is room again, and the next payment confirms.
    kv.set("slot:2024-01-01T09:000/dr-lee", "").unwrap();
    assert_eq!(
        run(&host, &plugin, &paid, &mut kv)[0],
        status("appointment", "apt_1", "confirmed")
    );
}

#[test]
fn clinic_a_payment_for_a_released_slot_needs_a_refund_and_the_clinic_is_told() {
    let host = host();
    let plugin = load(&host, CLINIC);
    let mut kv = Kv::default();
    // The Checkout Session expires: the slot is released.
    let expired = appointment(
        Hook::CheckoutExpired,
        "apt_2",
        "evt_5",
        decisions::APT_EXPIRED,
        SLOT,
    );
    assert_eq!(
        run(&host, &plugin, &expired, &mut kv),
        [
            status("appointment", "apt_2", "released"),
            callback(
                r#"{"appointment":"apt_2","event":"appointment.released","event_id":"evt_5"}"#
            ),
        ]
    );
    assert_eq!(stored(&kv, "released:apt_2").as_deref(), Some("1"));

    // A later payment (here one the engine itself saw nothing wrong with): the store remembers.
    let decision = decisions::APT_PAID.replace("apt_1", "apt_2");
    let late = appointment(Hook::PaymentSettled, "apt_2", "evt_6", &decision, SLOT);
    let commands = run(&host, &plugin, &late, &mut kv);
    assert_eq!(commands.len(), 3, "{commands:?}");
    assert_eq!(commands[0], status("appointment", "apt_2", "needs_refund"));
    let text = email(
        &commands[1],
        DESK,
        "Payment for a slot that is not free: appointment apt_2",
    );
    assert!(
        text.starts_with(&format!(
            "A payment of 45.00 EUR arrived for appointment apt_2, but its slot ({SLOT}) had been released."
        )),
        "{text}"
    );
    assert!(text.contains(&format!("Slot: {SLOT}\n")), "{text}");
    assert_eq!(
        commands[2],
        callback(
            r#"{"appointment":"apt_2","event":"appointment.needs_refund","event_id":"evt_6"}"#
        )
    );
    assert_eq!(
        stored(&kv, &format!("slot:{SLOT}")),
        None,
        "the slot is not taken"
    );

    // The engine's own verdict (paid after the slot was released) counts the same, and the
    // clinic's address can come from the store.
    let mut kv = kv_of(&[("owner_email", "owner@clinic.example")]);
    let mut engine_says = appointment(
        Hook::PaymentSettled,
        "apt_2",
        "evt_6",
        decisions::APT_PAID_AFTER_RELEASE,
        SLOT,
    );
    engine_says.metadata.retain(|(k, _)| k != "owner_email");
    let commands = run(&host, &plugin, &engine_says, &mut kv);
    assert_eq!(commands[0], status("appointment", "apt_2", "needs_refund"));
    email(
        &commands[1],
        "owner@clinic.example",
        "Payment for a slot that is not free: appointment apt_2",
    );
    // Nobody to tell: still flagged, and the platform still called back.
    let mut kv = Kv::default();
    assert_eq!(
        run(&host, &plugin, &engine_says, &mut kv),
        [
            status("appointment", "apt_2", "needs_refund"),
            callback(
                r#"{"appointment":"apt_2","event":"appointment.needs_refund","event_id":"evt_6"}"#
            ),
        ]
    );
}

#[test]
fn clinic_a_failed_payment_cancels_and_releases_and_another_patient_may_book_the_slot() {
    let host = host();
    let plugin = load(&host, CLINIC);
    let mut kv = Kv::default();
    let failed = appointment(
        Hook::PaymentFailed,
        "apt_3",
        "evt_7",
        decisions::APT_FAILED,
        SLOT,
    );
    assert_eq!(
        run(&host, &plugin, &failed, &mut kv),
        [
            status("appointment", "apt_3", "cancelled"),
            callback(
                r#"{"appointment":"apt_3","event":"appointment.cancelled","event_id":"evt_7"}"#
            ),
        ]
    );
    assert_eq!(stored(&kv, "released:apt_3").as_deref(), Some("1"));
    // The slot is free: another appointment takes it.
    let decision = decisions::APT_CHECKOUT_PAID.replace("apt_4", "apt_6");
    let next = appointment(Hook::CheckoutCompleted, "apt_6", "evt_30", &decision, SLOT);
    assert_eq!(
        run(&host, &plugin, &next, &mut kv),
        [
            status("appointment", "apt_6", "confirmed"),
            callback(
                r#"{"appointment":"apt_6","event":"appointment.confirmed","event_id":"evt_30"}"#
            ),
        ]
    );
    assert_eq!(
        stored(&kv, &format!("slot:{SLOT}")).as_deref(),
        Some("apt_6")
    );
    // A failure of another appointment does not free a slot it did not hold.
    let failed = appointment(
        Hook::PaymentFailed,
        "apt_7",
        "evt_8",
        decisions::APT_FAILED,
        SLOT,
    );
    run(&host, &plugin, &failed, &mut kv);
    assert_eq!(
        stored(&kv, &format!("slot:{SLOT}")).as_deref(),
        Some("apt_6")
    );
}

#[test]
fn clinic_checkout_completed_confirms_or_waits_for_a_delayed_payment() {
    let host = host();
    let plugin = load(&host, CLINIC);
    let mut kv = Kv::default();
    let waiting = appointment(
        Hook::CheckoutCompleted,
        "apt_2",
        "evt_4",
        decisions::APT_CHECKOUT_UNPAID,
        SLOT,
    );
    assert_eq!(
        run(&host, &plugin, &waiting, &mut kv),
        [
            status("appointment", "apt_2", "pending"),
            callback(r#"{"appointment":"apt_2","event":"appointment.pending","event_id":"evt_4"}"#),
        ]
    );
    assert_eq!(stored(&kv, &format!("slot:{SLOT}")), None);
    let paid = appointment(
        Hook::CheckoutCompleted,
        "apt_4",
        "evt_30",
        decisions::APT_CHECKOUT_PAID,
        SLOT,
    );
    assert_eq!(
        run(&host, &plugin, &paid, &mut kv)[0],
        status("appointment", "apt_4", "confirmed")
    );
    assert_eq!(
        stored(&kv, &format!("slot:{SLOT}")).as_deref(),
        Some("apt_4")
    );
}

#[test]
fn clinic_refunds_and_a_full_refund_frees_the_slot() {
    let host = host();
    let plugin = load(&host, CLINIC);
    let mut kv = kv_of(&[(format!("slot:{SLOT}").as_str(), "apt_1")]);
    let partial = appointment(
        Hook::RefundRecorded,
        "apt_1",
        "evt_2",
        decisions::APT_REFUND_PARTIAL,
        SLOT,
    );
    assert_eq!(
        run(&host, &plugin, &partial, &mut kv),
        [
            status("appointment", "apt_1", "refunded"),
            callback(
                r#"{"appointment":"apt_1","event":"appointment.refunded","event_id":"evt_2"}"#
            ),
        ]
    );
    assert_eq!(
        stored(&kv, &format!("slot:{SLOT}")).as_deref(),
        Some("apt_1")
    );
    assert_eq!(stored(&kv, "released:apt_1"), None);
    let full = appointment(
        Hook::RefundRecorded,
        "apt_1",
        "evt_3",
        decisions::APT_REFUND_FULL,
        SLOT,
    );
    assert_eq!(
        run(&host, &plugin, &full, &mut kv),
        [
            status("appointment", "apt_1", "refunded"),
            callback(
                r#"{"appointment":"apt_1","event":"appointment.refunded","event_id":"evt_3"}"#
            ),
        ]
    );
    // The freed slot's key is removed (an empty value), so it no longer counts against the cap.
    assert_eq!(stored(&kv, &format!("slot:{SLOT}")), None);
    assert!(
        kv.changes()
            .any(|(k, v)| k == format!("slot:{SLOT}") && v.is_none())
    );
    assert_eq!(stored(&kv, "released:apt_1").as_deref(), Some("1"));
}

#[test]
fn clinic_leaves_other_records_and_hooks_alone() {
    let host = host();
    let plugin = load(&host, CLINIC);
    let mut kv = Kv::default();
    let payment = action(
        Hook::PaymentSettled,
        ("payment", "pi_1"),
        "evt_14",
        Some(eur(4500)),
        decisions::PAY_PAID,
        &[],
    );
    assert_eq!(run(&host, &plugin, &payment, &mut kv), NONE);
    let dispute = appointment(Hook::DisputeOpened, "apt_1", "evt_15", "{}", SLOT);
    assert_eq!(run(&host, &plugin, &dispute, &mut kv), NONE);
    assert_eq!(kv, Kv::default());
}

// ---- salon ---------------------------------------------------------------------------------

const OWNER: &str = "owner@salon.example";

fn visit(hook: Hook, id: &str, event: &str, decision: &str) -> Action {
    action(
        hook,
        ("appointment", id),
        event,
        Some(eur(4500)),
        decision,
        &[
            ("service", "Haircut"),
            ("customer_email", "ana@example.com"),
        ],
    )
}

#[test]
fn salon_manifest() {
    let host = host();
    let plugin = load(&host, SALON);
    let m = plugin.manifest();
    check_manifest(m).unwrap();
    assert_eq!((m.name.as_str(), m.version.as_str()), ("salon", "0.1.0"));
    assert_eq!(
        m.hooks,
        [
            Hook::PaymentSettled,
            Hook::CheckoutCompleted,
            Hook::PaymentFailed,
            Hook::CheckoutExpired,
            Hook::RefundRecorded,
            Hook::DisputeOpened,
            Hook::DisputeWon,
            Hook::DisputeLost
        ]
    );
    assert_eq!(
        m.filters,
        [FilterPoint::RefundAmount, FilterPoint::CheckoutParams]
    );
    assert_eq!(
        m.statuses,
        [
            "paid",
            "refunded",
            "partially_refunded",
            "disputed",
            "cancelled"
        ]
    );
}

#[test]
fn salon_visit_statuses_follow_payments_and_refunds() {
    let host = host();
    let plugin = load(&host, SALON);
    let mut kv = Kv::default();
    let mut says = |a: Action| run(&host, &plugin, &a, &mut kv);
    use crate::decisions as d;
    assert_eq!(
        says(visit(Hook::PaymentSettled, "apt_1", "evt_1", d::APT_PAID)),
        [status("appointment", "apt_1", "paid")]
    );
    // A completed checkout whose delayed payment is still processing: nothing yet.
    assert_eq!(
        says(visit(
            Hook::CheckoutCompleted,
            "apt_2",
            "evt_4",
            d::APT_CHECKOUT_UNPAID
        )),
        NONE
    );
    assert_eq!(
        says(visit(
            Hook::CheckoutCompleted,
            "apt_4",
            "evt_30",
            d::APT_CHECKOUT_PAID
        )),
        [status("appointment", "apt_4", "paid")]
    );
    // The engine cancels a booking whose payment failed; a decline on a bare payment the client
    // can retry changes nothing, a canceled payment cancels.
    assert_eq!(
        says(visit(Hook::PaymentFailed, "apt_3", "evt_7", d::APT_FAILED)),
        [status("appointment", "apt_3", "cancelled")]
    );
    let payment = |hook, event, decision| {
        action(
            hook,
            ("payment", "pi_3"),
            event,
            Some(eur(4500)),
            decision,
            &[],
        )
    };
    assert_eq!(
        says(payment(Hook::PaymentFailed, "evt_34", d::PAY_FAILED)),
        NONE
    );
    assert_eq!(
        says(payment(Hook::PaymentFailed, "evt_35", d::PAY_CANCELED)),
        [status("payment", "pi_3", "cancelled")]
    );
    assert_eq!(
        says(visit(
            Hook::CheckoutExpired,
            "apt_2",
            "evt_5",
            d::APT_EXPIRED
        )),
        [status("appointment", "apt_2", "cancelled")]
    );
    // Refunds: 15.00 of 45.00, then the rest; on a bare payment; on an invoice; and with a
    // decision that cannot be read (taken as whole).
    assert_eq!(
        says(visit(
            Hook::RefundRecorded,
            "apt_1",
            "evt_2",
            d::APT_REFUND_PARTIAL
        )),
        [status("appointment", "apt_1", "partially_refunded")]
    );
    assert_eq!(
        says(visit(
            Hook::RefundRecorded,
            "apt_1",
            "evt_3",
            d::APT_REFUND_FULL
        )),
        [status("appointment", "apt_1", "refunded")]
    );
    assert_eq!(
        says(action(
            Hook::RefundRecorded,
            ("payment", "pi_2"),
            "evt_19",
            Some(eur(4500)),
            d::PAY_REFUND_PARTIAL,
            &[]
        )),
        [status("payment", "pi_2", "partially_refunded")]
    );
    assert_eq!(
        says(action(
            Hook::RefundRecorded,
            ("invoice", "inv_2"),
            "evt_13",
            Some(eur(12000)),
            d::INV2_REFUND_FULL,
            &[]
        )),
        [status("invoice", "inv_2", "refunded")]
    );
    assert_eq!(
        says(visit(Hook::RefundRecorded, "apt_8", "evt_40", "{}")),
        [status("appointment", "apt_8", "refunded")]
    );
}

#[test]
fn salon_disputes_tell_the_owner_the_amount_and_the_reason() {
    let host = host();
    let plugin = load(&host, SALON);
    // A dispute reaches the payment (its own metadata is empty): the owner's address is the
    // tenant's, in the store.
    let mut kv = kv_of(&[("owner_email", OWNER)]);
    let dispute = |hook, id, event, amount, decision| {
        action(hook, ("payment", id), event, amount, decision, &[])
    };
    let opened = dispute(
        Hook::DisputeOpened,
        "pi_1",
        "evt_15",
        Some(eur(4500)),
        decisions::PAY_DISPUTE_OPENED,
    );
    let commands = run(&host, &plugin, &opened, &mut kv);
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert_eq!(commands[0], status("payment", "pi_1", "disputed"));
    let text = email(
        &commands[1],
        OWNER,
        "Dispute opened: 45.00 EUR on payment pi_1",
    );
    assert!(
        text.starts_with(
            "A client disputed 45.00 EUR on payment pi_1 with their bank (reason: fraudulent)."
        ),
        "{text}"
    );
    assert!(text.ends_with("\nStripe event: evt_15"), "{text}");

    // Won: Stripe's event names no amount; the payment's state does.
    let won = dispute(
        Hook::DisputeWon,
        "pi_1",
        "evt_16",
        None,
        decisions::PAY_DISPUTE_WON,
    );
    let commands = run(&host, &plugin, &won, &mut kv);
    assert_eq!(commands[0], status("payment", "pi_1", "paid"));
    let text = email(
        &commands[1],
        OWNER,
        "Dispute won: 45.00 EUR on payment pi_1",
    );
    assert!(text.contains("salon's favour"), "{text}");

    let lost = dispute(
        Hook::DisputeLost,
        "pi_2",
        "evt_18",
        Some(eur(4500)),
        decisions::PAY_DISPUTE_LOST,
    );
    let commands = run(&host, &plugin, &lost, &mut kv);
    assert_eq!(commands[0], status("payment", "pi_2", "disputed"));
    let text = email(
        &commands[1],
        OWNER,
        "Dispute lost: 45.00 EUR on payment pi_2",
    );
    assert!(text.contains("goes back to them"), "{text}");

    // On a visit, its own owner_email wins, and the e-mail names the service and the client.
    let mut on_visit = visit(
        Hook::DisputeOpened,
        "apt_1",
        "evt_15",
        decisions::PAY_DISPUTE_OPENED,
    );
    on_visit
        .metadata
        .push(("owner_email".into(), "front@salon.example".into()));
    let commands = run(&host, &plugin, &on_visit, &mut kv);
    let text = email(
        &commands[1],
        "front@salon.example",
        "Dispute opened: 45.00 EUR on appointment apt_1",
    );
    assert!(
        text.contains("\nService: Haircut\nClient: ana@example.com\n"),
        "{text}"
    );

    // Nobody to tell: the status still changes.
    let mut kv = Kv::default();
    assert_eq!(
        run(&host, &plugin, &opened, &mut kv),
        [status("payment", "pi_1", "disputed")]
    );
}

fn split_request(fee: Amount, refund: Amount) -> FilterRequest {
    FilterRequest {
        point: FilterPoint::RefundAmount,
        tenant: "ten_a".into(),
        subject: record("appointment", "apt_1"),
        value: FilterValue::Refund(RefundSplit { fee, refund }),
    }
}

/// The split the salon returns for (`fee`, `refund`) with `late_fee_percent` set to `percent`.
fn late_fee(
    host: &PluginHost,
    plugin: &Plugin,
    percent: Option<&str>,
    fee: Amount,
    refund: Amount,
) -> (i64, i64) {
    let mut kv = match percent {
        Some(p) => kv_of(&[("late_fee_percent", p)]),
        None => Kv::default(),
    };
    let request = split_request(fee, refund);
    let value = host.apply_filter(plugin, &request, &mut kv).unwrap();
    check_filter(&request, &value).unwrap();
    match value {
        FilterValue::Refund(s) => {
            let currency = &request_currency(&request);
            assert_eq!((&s.fee.currency, &s.refund.currency), (currency, currency));
            (s.fee.minor, s.refund.minor)
        }
        other => panic!("{other:?}"),
    }
}

fn request_currency(request: &FilterRequest) -> String {
    match &request.value {
        FilterValue::Refund(s) => s.refund.currency.clone(),
        _ => unreachable!(),
    }
}

#[test]
fn salon_keeps_the_late_cancellation_fee_rounded_to_what_stripe_can_charge() {
    let host = host();
    let plugin = load(&host, SALON);
    let fee = |percent, fee, refund| late_fee(&host, &plugin, percent, fee, refund);
    // Unset, or 0: payhook's split stands.
    assert_eq!(fee(None, eur(0), eur(4500)), (0, 4500));
    assert_eq!(fee(Some("0"), eur(500), eur(4000)), (500, 4000));
    // 20 % of 45.00 EUR.
    assert_eq!(fee(Some("20"), eur(0), eur(4500)), (900, 3600));
    assert_eq!(fee(Some("20 %"), eur(0), eur(4500)), (900, 3600));
    // Of 45.00 of which payhook proposed to keep 3.00: the fee is the larger.
    assert_eq!(fee(Some("20"), eur(300), eur(4200)), (900, 3600));
    assert_eq!(fee(Some("20"), eur(1500), eur(3000)), (1500, 3000));
    // Yen have no decimals: 12.5 % of ¥1,004 is ¥125.5, kept as ¥126 (half up); 15 % of ¥999
    // is ¥149.85, kept as ¥150.
    let jpy = |minor| money(minor, "jpy");
    assert_eq!(fee(Some("12.5"), jpy(0), jpy(1004)), (126, 878));
    assert_eq!(fee(Some("15"), jpy(0), jpy(999)), (150, 849));
    // 1.255 KWD: a three-decimal amount must end in 0, so 20 % (0.251) is kept as 0.250.
    assert_eq!(
        fee(Some("20"), money(0, "kwd"), money(1255, "kwd")),
        (250, 1005)
    );
    // 7.5 % of 10.01 EUR is 75.075 cents: 75.
    assert_eq!(fee(Some("7,5"), eur(0), eur(1001)), (75, 926));
    // All of it.
    assert_eq!(fee(Some("100"), eur(0), eur(4500)), (4500, 0));
    // A setting that is not a percentage: logged, and payhook's split stands.
    assert_eq!(fee(Some("twenty"), eur(0), eur(4500)), (0, 4500));
    assert_eq!(fee(Some("150"), eur(0), eur(4500)), (0, 4500));
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn checkout(
    host: &PluginHost,
    plugin: &Plugin,
    pairs: &[(&str, &str)],
) -> Result<Vec<(String, String)>, PluginError> {
    let request = FilterRequest {
        point: FilterPoint::CheckoutParams,
        tenant: "ten_a".into(),
        subject: record("appointment", "apt_1"),
        value: FilterValue::Params(params(pairs)),
    };
    let value = host.apply_filter(plugin, &request, &mut Kv::default())?;
    check_filter(&request, &value).unwrap();
    match value {
        FilterValue::Params(p) => Ok(p),
        other => panic!("{other:?}"),
    }
}

#[test]
fn salon_refuses_a_checkout_under_the_minimum_and_tags_the_others() {
    let host = host();
    let plugin = load(&host, SALON);
    assert_eq!(
        checkout(&host, &plugin, &[("amount", "49"), ("currency", "eur")]),
        Err(PluginError::Failed(
            "the minimum online payment is 0.50 EUR; this checkout asks for 0.49 EUR. Stripe cannot take less: raise the price, or take this payment at the salon".into()
        ))
    );
    assert_eq!(
        checkout(&host, &plugin, &[("amount", "50"), ("currency", "eur")]),
        Ok(params(&[
            ("amount", "50"),
            ("currency", "eur"),
            ("metadata[source]", "salon")
        ]))
    );
    // Line items: 2 × ¥20 is under ¥50.
    match checkout(
        &host,
        &plugin,
        &[
            ("line_items[0][price_data][currency]", "jpy"),
            ("line_items[0][price_data][unit_amount]", "20"),
            ("line_items[0][quantity]", "2"),
        ],
    ) {
        Err(PluginError::Failed(why)) => assert!(
            why.starts_with("the minimum online payment is 50 JPY; this checkout asks for 40 JPY."),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    // Prices by id carry no amount here: only tagged; a source already set becomes the salon.
    assert_eq!(
        checkout(
            &host,
            &plugin,
            &[
                ("line_items[0][price]", "price_123"),
                ("metadata[source]", "widget"),
                ("line_items[0][quantity]", "1"),
            ]
        ),
        Ok(params(&[
            ("line_items[0][price]", "price_123"),
            ("metadata[source]", "salon"),
            ("line_items[0][quantity]", "1"),
        ]))
    );
    match checkout(&host, &plugin, &[("amount", "4.50"), ("currency", "eur")]) {
        Err(PluginError::Failed(why)) => {
            assert!(why.contains("not a whole number of minor units"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

// ---- invoicing -----------------------------------------------------------------------------

const CLIENT: &str = "client@example.com";
const ADMIN: &str = "admin@firm.example";
const LINK: &str = "https://pay.example.com/inv_1";

fn invoice(
    hook: Hook,
    id: &str,
    event: &str,
    amount: Option<Amount>,
    decision: &str,
    metadata: &[(&str, &str)],
) -> Action {
    action(hook, ("invoice", id), event, amount, decision, metadata)
}

#[test]
fn invoicing_manifest() {
    let host = host();
    let plugin = load(&host, INVOICING);
    let m = plugin.manifest();
    check_manifest(m).unwrap();
    assert_eq!(
        (m.name.as_str(), m.version.as_str()),
        ("invoicing", "0.1.0")
    );
    assert_eq!(
        m.hooks,
        [
            Hook::InvoiceFinalized,
            Hook::PaymentSettled,
            Hook::CheckoutCompleted,
            Hook::PaymentFailed,
            Hook::RefundRecorded,
            Hook::SubscriptionChanged,
            Hook::PayoutPaid,
            Hook::PayoutFailed
        ]
    );
    assert_eq!(m.filters, [FilterPoint::Notification]);
    assert_eq!(
        m.statuses,
        [
            "sent",
            "PAID",
            "partially_refunded",
            "refunded",
            "payment_failed",
            "past_due"
        ]
    );
}

#[test]
fn invoicing_sends_the_invoice_with_its_payment_link() {
    let host = host();
    let plugin = load(&host, INVOICING);
    let mut kv = Kv::default();
    let finalized = invoice(
        Hook::InvoiceFinalized,
        "inv_1",
        "evt_8",
        Some(eur(12000)),
        decisions::INV_FINALIZED,
        &[("customer_email", CLIENT), ("payment_link", LINK)],
    );
    let commands = run(&host, &plugin, &finalized, &mut kv);
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert_eq!(commands[0], status("invoice", "inv_1", "sent"));
    assert_eq!(
        email(&commands[1], CLIENT, "Invoice inv_1: 120.00 EUR due"),
        format!(
            "Invoice inv_1 for 120.00 EUR is ready.\nPay it online, by card: {LINK}\nThank you."
        )
    );
    // The record's customer reference, when it is an address, is the client's.
    let by_reference = invoice(
        Hook::InvoiceFinalized,
        "inv_1",
        "evt_8",
        Some(eur(12000)),
        decisions::INV_FINALIZED,
        &[("customer", CLIENT)],
    );
    let commands = run(&host, &plugin, &by_reference, &mut kv);
    assert!(
        email(&commands[1], CLIENT, "Invoice inv_1: 120.00 EUR due")
            .contains("The payment details are on the invoice.")
    );
    // No address (a customer id is not one): sent all the same.
    let quiet = invoice(
        Hook::InvoiceFinalized,
        "inv_1",
        "evt_8",
        Some(eur(12000)),
        decisions::INV_FINALIZED,
        &[("customer", "cus_123")],
    );
    assert_eq!(
        run(&host, &plugin, &quiet, &mut kv),
        [status("invoice", "inv_1", "sent")]
    );
}

#[test]
fn invoicing_a_payment_marks_paid_books_calls_the_case_back_and_tells_the_admin() {
    let host = host();
    let plugin = load(&host, INVOICING);
    let mut kv = kv_of(&[("admin_email", ADMIN)]);
    let paid = invoice(
        Hook::PaymentSettled,
        "inv_2",
        "evt_12",
        Some(eur(12000)),
        decisions::INV2_PAID,
        &[("customer_email", CLIENT), ("case_id", "case_7")],
    );
    let commands = run(&host, &plugin, &paid, &mut kv);
    assert_eq!(commands.len(), 4, "{commands:?}");
    assert_eq!(
        commands[..3],
        [
            status("invoice", "inv_2", "PAID"),
            book(
                "inv_2",
                "revenue",
                eur(12000),
                "Payment evt_12 for invoice inv_2"
            ),
            callback(
                r#"{"amount":12000,"case_id":"case_7","currency":"eur","event":"invoice.paid","event_id":"evt_12","invoice":"inv_2"}"#
            ),
        ]
    );
    assert_eq!(
        email(&commands[3], ADMIN, "Invoice inv_2 paid: 120.00 EUR"),
        "Invoice inv_2 is PAID: 120.00 EUR was received.\nCase case_7 is updated.\nStripe event: evt_12"
    );

    // Paid in two parts: the first is booked and reported, the invoice is not PAID yet.
    let first = invoice(
        Hook::PaymentSettled,
        "inv_1",
        "evt_9",
        Some(eur(5000)),
        decisions::INV1_PART_PAID,
        &[("admin_email", "books@firm.example")],
    );
    let commands = run(&host, &plugin, &first, &mut kv);
    assert_eq!(
        commands[..2],
        [
            book(
                "inv_1",
                "revenue",
                eur(5000),
                "Payment evt_9 for invoice inv_1"
            ),
            callback(
                r#"{"amount":5000,"case_id":null,"currency":"eur","event":"invoice.partially_paid","event_id":"evt_9","invoice":"inv_1","remaining":7000}"#
            ),
        ]
    );
    assert_eq!(
        email(
            &commands[2],
            "books@firm.example",
            "Part payment on invoice inv_1: 50.00 EUR"
        ),
        "50.00 EUR was received on invoice inv_1; 70.00 EUR is still due.\nStripe event: evt_9"
    );
    assert_eq!(commands.len(), 3);
    let second = invoice(
        Hook::PaymentSettled,
        "inv_1",
        "evt_10",
        Some(eur(7000)),
        decisions::INV1_PAID,
        &[],
    );
    let commands = run(&host, &plugin, &second, &mut kv);
    assert_eq!(
        commands[..3],
        [
            status("invoice", "inv_1", "PAID"),
            book(
                "inv_1",
                "revenue",
                eur(7000),
                "Payment evt_10 for invoice inv_1"
            ),
            callback(
                r#"{"amount":7000,"case_id":null,"currency":"eur","event":"invoice.paid","event_id":"evt_10","invoice":"inv_1"}"#
            ),
        ]
    );
    email(&commands[3], ADMIN, "Invoice inv_1 paid: 70.00 EUR");

    // A Payment Link's completed checkout (Fluxrate's flow) pays it the same way; one whose
    // delayed payment is still processing does nothing yet.
    let unpaid = invoice(
        Hook::CheckoutCompleted,
        "inv_4",
        "evt_31",
        None,
        decisions::INV4_CHECKOUT_UNPAID,
        &[],
    );
    assert_eq!(run(&host, &plugin, &unpaid, &mut kv), NONE);
    let checkout = invoice(
        Hook::CheckoutCompleted,
        "inv_4",
        "evt_33",
        Some(eur(12000)),
        decisions::INV4_CHECKOUT_PAID,
        &[],
    );
    let commands = run(&host, &plugin, &checkout, &mut kv);
    assert_eq!(
        commands[..2],
        [
            status("invoice", "inv_4", "PAID"),
            book(
                "inv_4",
                "revenue",
                eur(12000),
                "Payment evt_33 for invoice inv_4"
            ),
        ]
    );
}

#[test]
fn invoicing_a_failed_payment_tells_the_client_how_to_try_again() {
    let host = host();
    let plugin = load(&host, INVOICING);
    let failed = invoice(
        Hook::PaymentFailed,
        "inv_4",
        "evt_32",
        Some(eur(12000)),
        decisions::INV4_FAILED,
        &[("customer_email", CLIENT), ("payment_link", LINK)],
    );
    let commands = run(&host, &plugin, &failed, &mut Kv::default());
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert_eq!(commands[0], status("invoice", "inv_4", "payment_failed"));
    assert_eq!(
        email(&commands[1], CLIENT, "Payment for invoice inv_4 failed"),
        format!(
            "The payment for invoice inv_4 did not go through. The bank said: Your card was declined.\nYou can try again, with this or another card: {LINK}"
        )
    );
}

#[test]
fn invoicing_refunds_are_booked_for_what_was_given_back() {
    let host = host();
    let plugin = load(&host, INVOICING);
    let mut kv = Kv::default();
    // 20.00 refunded of a 70.00 charge: the action's amount is the charge's.
    let partial = invoice(
        Hook::RefundRecorded,
        "inv_1",
        "evt_11",
        Some(eur(7000)),
        decisions::INV1_REFUND_PARTIAL,
        &[],
    );
    assert_eq!(
        run(&host, &plugin, &partial, &mut kv),
        [
            status("invoice", "inv_1", "partially_refunded"),
            book(
                "inv_1",
                "refunds",
                eur(2000),
                "Refund evt_11 for invoice inv_1"
            ),
        ]
    );
    let full = invoice(
        Hook::RefundRecorded,
        "inv_2",
        "evt_13",
        Some(eur(12000)),
        decisions::INV2_REFUND_FULL,
        &[],
    );
    assert_eq!(
        run(&host, &plugin, &full, &mut kv),
        [
            status("invoice", "inv_2", "refunded"),
            book(
                "inv_2",
                "refunds",
                eur(12000),
                "Refund evt_13 for invoice inv_2"
            ),
        ]
    );
}

#[test]
fn invoicing_dunning_tells_the_customer_a_payment_failed_and_then_that_it_was_recovered() {
    let host = host();
    let plugin = load(&host, INVOICING);
    let mut kv = kv_of(&[("admin_email", ADMIN)]);
    // An invoice of the subscription names its customer: the plugin keeps the address.
    let renewal = invoice(
        Hook::InvoiceFinalized,
        "inv_5",
        "evt_19",
        Some(eur(2900)),
        decisions::INV_FINALIZED,
        &[("customer_email", CLIENT), ("subscription_id", "sub_1")],
    );
    run(&host, &plugin, &renewal, &mut kv);
    assert_eq!(stored(&kv, "customer_email:sub_1").as_deref(), Some(CLIENT));

    let subscription = |id, event, decision| {
        action(
            Hook::SubscriptionChanged,
            ("subscription", id),
            event,
            None,
            decision,
            &[],
        )
    };
    let past_due = subscription("sub_1", "evt_21", decisions::SUB_PAST_DUE);
    let commands = run(&host, &plugin, &past_due, &mut kv);
    assert_eq!(commands.len(), 3, "{commands:?}");
    assert_eq!(commands[0], status("subscription", "sub_1", "past_due"));
    assert!(
        email(
            &commands[1],
            CLIENT,
            "Payment failed for your subscription sub_1"
        )
        .starts_with("We could not collect the payment for your subscription sub_1.\n")
    );
    assert_eq!(
        email(&commands[2], ADMIN, "Subscription sub_1 is past due"),
        "A payment for subscription sub_1 failed. The customer was told."
    );

    let recovered = subscription("sub_1", "evt_22", decisions::SUB_RECOVERED);
    let commands = run(&host, &plugin, &recovered, &mut kv);
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert_eq!(commands[0], status("subscription", "sub_1", "PAID"));
    assert_eq!(
        email(
            &commands[1],
            CLIENT,
            "Payment recovered for your subscription sub_1"
        ),
        "The overdue payment for your subscription sub_1 was collected: it is active again. Thank you."
    );

    // A change that is not about payment (created, a new period): nothing.
    let created = subscription("sub_1", "evt_20", decisions::SUB_CREATED);
    assert_eq!(run(&host, &plugin, &created, &mut kv), NONE);

    // A customer the plugin does not know: the administrator is asked to reach them, with the
    // date of Stripe's next try.
    let unknown = subscription("sub_2", "evt_37", decisions::SUB2_FAILED_WITH_RETRY);
    let commands = run(&host, &plugin, &unknown, &mut kv);
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert_eq!(commands[0], status("subscription", "sub_2", "past_due"));
    let text = email(&commands[1], ADMIN, "Subscription sub_2 is past due");
    assert!(
        text.starts_with(
            "A payment for subscription sub_2 failed. Stripe will try the card again on 2025-07-01 (UTC)."
        ),
        "{text}"
    );
    assert!(text.contains("please contact them"), "{text}");
}

#[test]
fn invoicing_signs_notifications_once() {
    let host = host();
    let plugin = load(&host, INVOICING);
    let message = |text: &str| FilterRequest {
        point: FilterPoint::Notification,
        tenant: "ten_a".into(),
        subject: record("invoice", "inv_1"),
        value: FilterValue::Message(Notification {
            to: CLIENT.into(),
            subject: "Invoice inv_1: 120.00 EUR due".into(),
            text: text.into(),
        }),
    };
    let text_of = |value: FilterValue| match value {
        FilterValue::Message(n) => n.text,
        other => panic!("{other:?}"),
    };
    let unsigned = message("Invoice inv_1 for 120.00 EUR is ready.");
    assert_eq!(
        text_of(
            host.apply_filter(&plugin, &unsigned, &mut Kv::default())
                .unwrap()
        ),
        "Invoice inv_1 for 120.00 EUR is ready."
    );
    let mut kv = kv_of(&[("signature", "Acme Consulting · billing@acme.example")]);
    let signed = host.apply_filter(&plugin, &unsigned, &mut kv).unwrap();
    check_filter(&unsigned, &signed).unwrap();
    let signed = text_of(signed);
    assert_eq!(
        signed,
        "Invoice inv_1 for 120.00 EUR is ready.\n\n-- \nAcme Consulting · billing@acme.example"
    );
    // Through the filter again: signed once.
    assert_eq!(
        text_of(
            host.apply_filter(&plugin, &message(&signed), &mut kv)
                .unwrap()
        ),
        signed
    );
}

// ---- all three -----------------------------------------------------------------------------

#[test]
fn each_reference_plugin_is_small() {
    for (name, path) in [
        ("clinic", CLINIC),
        ("salon", SALON),
        ("invoicing", INVOICING),
    ] {
        let bytes = std::fs::metadata(path).unwrap().len();
        eprintln!("{name}: {bytes} bytes");
        assert!(bytes < 150 * 1024, "{name} is {bytes} bytes");
    }
}

/// The engine's decisions, as its machines make them for the facts named.
mod decisions {
    /// Appointment apt_1, held: payment_intent.succeeded for 45.00 EUR.
    pub const APT_PAID: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":4500},"effect":"payment_completed","payment":"pi_1"},{"amount":{"currency":"eur","minor":4500},"effect":"ledger_entry","kind":"payment","payment":"pi_1","total":{"currency":"eur","minor":4500}},{"effect":"appointment_confirmed"}],"next":{"awaiting":false,"currency":"eur","expired_at":null,"failure":null,"paid_at":{"at":10,"event":"evt_1","rank":1},"settlement":{"paid":{"pi_1":4500},"refunded":{}},"status":"confirmed"}}},"fact":"payment_succeeded","record":"appointment apt_1"}"#;
    /// Appointment apt_1, paid: 15.00 of 45.00 refunded.
    pub const APT_REFUND_PARTIAL: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":1500},"effect":"refund_recorded","payment":"pi_1","total":{"currency":"eur","minor":1500}},{"amount":{"currency":"eur","minor":1500},"effect":"ledger_entry","kind":"refund","payment":"pi_1","total":{"currency":"eur","minor":1500}}],"next":{"awaiting":false,"currency":"eur","expired_at":null,"failure":null,"paid_at":{"at":10,"event":"evt_1","rank":1},"settlement":{"paid":{"pi_1":4500},"refunded":{"pi_1":1500}},"status":"confirmed"}}},"fact":"refunded","record":"appointment apt_1"}"#;
    /// Appointment apt_1, then the rest refunded.
    pub const APT_REFUND_FULL: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":3000},"effect":"refund_recorded","payment":"pi_1","total":{"currency":"eur","minor":4500}},{"amount":{"currency":"eur","minor":3000},"effect":"ledger_entry","kind":"refund","payment":"pi_1","total":{"currency":"eur","minor":4500}},{"effect":"appointment_refunded"}],"next":{"awaiting":false,"currency":"eur","expired_at":null,"failure":null,"paid_at":{"at":10,"event":"evt_1","rank":1},"settlement":{"paid":{"pi_1":4500},"refunded":{"pi_1":4500}},"status":"refunded"}}},"fact":"refunded","record":"appointment apt_1"}"#;
    /// Appointment apt_2, held: checkout.session.completed with a delayed payment method.
    pub const APT_CHECKOUT_UNPAID: &str = r#"{"decision":{"applied":{"effects":[{"effect":"appointment_awaiting_payment"}],"next":{"awaiting":true,"currency":"eur","expired_at":null,"failure":null,"paid_at":null,"settlement":{"paid":{},"refunded":{}},"status":"awaiting_payment"}}},"fact":"checkout_completed_unpaid","record":"appointment apt_2"}"#;
    /// Appointment apt_2, then checkout.session.expired.
    pub const APT_EXPIRED: &str = r#"{"decision":{"applied":{"effects":[{"effect":"appointment_cancelled","reason":"checkout_expired"},{"effect":"slot_released"}],"next":{"awaiting":false,"currency":"eur","expired_at":{"at":20,"event":"evt_5","rank":0},"failure":null,"paid_at":null,"settlement":{"paid":{},"refunded":{}},"status":"expired"}}},"fact":"checkout_expired","record":"appointment apt_2"}"#;
    /// Appointment apt_2, then paid after all.
    pub const APT_PAID_AFTER_RELEASE: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":4500},"effect":"payment_completed","payment":"pi_1"},{"amount":{"currency":"eur","minor":4500},"effect":"ledger_entry","kind":"payment","payment":"pi_1","total":{"currency":"eur","minor":4500}},{"amount":{"currency":"eur","minor":4500},"effect":"paid_after_slot_released","released_by":"checkout_expired"}],"next":{"awaiting":false,"currency":"eur","expired_at":{"at":20,"event":"evt_5","rank":0},"failure":null,"paid_at":{"at":30,"event":"evt_6","rank":1},"settlement":{"paid":{"pi_1":4500},"refunded":{}},"status":"paid_after_release"}}},"fact":"payment_succeeded","record":"appointment apt_2"}"#;
    /// Appointment apt_3, held: payment_intent.payment_failed (card declined).
    pub const APT_FAILED: &str = r#"{"decision":{"applied":{"effects":[{"effect":"appointment_cancelled","reason":"payment_failed"},{"effect":"slot_released"},{"code":"card_declined","effect":"payment_failed","message":"Your card was declined."}],"next":{"awaiting":false,"currency":"eur","expired_at":null,"failure":{"at":{"at":10,"event":"evt_7","rank":0},"code":"card_declined","message":"Your card was declined.","reason":"payment_failed"},"paid_at":null,"settlement":{"paid":{},"refunded":{}},"status":"cancelled"}}},"fact":"payment_failed","record":"appointment apt_3"}"#;
    /// Appointment apt_4, held: checkout.session.completed, paid.
    pub const APT_CHECKOUT_PAID: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":4500},"effect":"payment_completed","payment":"pi_1"},{"amount":{"currency":"eur","minor":4500},"effect":"ledger_entry","kind":"payment","payment":"pi_1","total":{"currency":"eur","minor":4500}},{"effect":"appointment_confirmed"}],"next":{"awaiting":false,"currency":"eur","expired_at":null,"failure":null,"paid_at":{"at":10,"event":"evt_30","rank":1},"settlement":{"paid":{"pi_1":4500},"refunded":{}},"status":"confirmed"}}},"fact":"checkout_completed_paid","record":"appointment apt_4"}"#;
    /// Payment pi_1 (linked to no record): succeeded.
    pub const PAY_PAID: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":4500},"effect":"payment_completed","payment":"pi_1"},{"amount":{"currency":"eur","minor":4500},"effect":"ledger_entry","kind":"payment","payment":"pi_1","total":{"currency":"eur","minor":4500}}],"next":{"attempt":null,"canceled":false,"captured":4500,"currency":"eur","dispute":null,"failed_refunds":{},"fraud_warning":null,"id":"pi_1","refunded":0,"status":"succeeded","succeeded":true}}},"fact":"payment_succeeded","record":"payment pi_1"}"#;
    /// Payment pi_1, then charge.dispute.created (fraudulent).
    pub const PAY_DISPUTE_OPENED: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":4500},"effect":"dispute_opened","reason":"fraudulent"}],"next":{"attempt":null,"canceled":false,"captured":4500,"currency":"eur","dispute":{"amount":4500,"lost":0,"reason":"fraudulent","status":"open"},"failed_refunds":{},"fraud_warning":null,"id":"pi_1","refunded":0,"status":"succeeded","succeeded":true}}},"fact":"dispute_opened","record":"payment pi_1"}"#;
    /// Payment pi_1, then the dispute won.
    pub const PAY_DISPUTE_WON: &str = r#"{"decision":{"applied":{"effects":[{"effect":"dispute_won"}],"next":{"attempt":null,"canceled":false,"captured":4500,"currency":"eur","dispute":{"amount":4500,"lost":0,"reason":"fraudulent","status":"won"},"failed_refunds":{},"fraud_warning":null,"id":"pi_1","refunded":0,"status":"succeeded","succeeded":true}}},"fact":"dispute_won","record":"payment pi_1"}"#;
    /// Payment pi_2, succeeded: a dispute lost (its opening not seen).
    pub const PAY_DISPUTE_LOST: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":4500},"effect":"dispute_opened","reason":null},{"amount":{"currency":"eur","minor":4500},"effect":"dispute_lost"},{"amount":{"currency":"eur","minor":4500},"effect":"ledger_entry","kind":"dispute_loss","payment":"pi_2","total":{"currency":"eur","minor":4500}}],"next":{"attempt":null,"canceled":false,"captured":4500,"currency":"eur","dispute":{"amount":4500,"lost":4500,"reason":null,"status":"lost"},"failed_refunds":{},"fraud_warning":null,"id":"pi_2","refunded":0,"status":"succeeded","succeeded":true}}},"fact":"dispute_lost","record":"payment pi_2"}"#;
    /// Payment pi_2, then 10.00 of 45.00 refunded.
    pub const PAY_REFUND_PARTIAL: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":1000},"effect":"refund_recorded","payment":"pi_2","total":{"currency":"eur","minor":1000}},{"amount":{"currency":"eur","minor":1000},"effect":"ledger_entry","kind":"refund","payment":"pi_2","total":{"currency":"eur","minor":1000}}],"next":{"attempt":null,"canceled":false,"captured":4500,"currency":"eur","dispute":{"amount":4500,"lost":4500,"reason":null,"status":"lost"},"failed_refunds":{},"fraud_warning":null,"id":"pi_2","refunded":1000,"status":"partially_refunded","succeeded":true}}},"fact":"refunded","record":"payment pi_2"}"#;
    /// Payment pi_3, new: payment_intent.payment_failed (a decline the client may retry).
    pub const PAY_FAILED: &str = r#"{"decision":{"applied":{"effects":[{"code":"card_declined","effect":"payment_failed","message":"Your card was declined."}],"next":{"attempt":{"at":{"at":10,"event":"evt_34","rank":2},"kind":{"code":"card_declined","kind":"failed","message":"Your card was declined."}},"canceled":false,"captured":0,"currency":"eur","dispute":null,"failed_refunds":{},"fraud_warning":null,"id":"pi_3","refunded":0,"status":"failed","succeeded":false}}},"fact":"payment_failed","record":"payment pi_3"}"#;
    /// Payment pi_3, then payment_intent.canceled.
    pub const PAY_CANCELED: &str = r#"{"decision":{"applied":{"effects":[{"effect":"payment_canceled"}],"next":{"attempt":null,"canceled":true,"captured":0,"currency":"eur","dispute":null,"failed_refunds":{},"fraud_warning":null,"id":"pi_3","refunded":0,"status":"canceled","succeeded":false}}},"fact":"payment_canceled","record":"payment pi_3"}"#;
    /// A draft invoice of 120.00 EUR: invoice.finalized.
    pub const INV_FINALIZED: &str = r#"{"decision":{"applied":{"effects":[{"amount_due":{"currency":"eur","minor":12000},"effect":"invoice_opened"}],"next":{"amount_due":12000,"attempt":null,"currency":"eur","settlement":{"paid":{},"refunded":{}},"status":"open"}}},"fact":"invoice_finalized","record":"invoice inv_1"}"#;
    /// Invoice inv_1 of 120.00 EUR, open: 50.00 paid.
    pub const INV1_PART_PAID: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":5000},"effect":"payment_completed","payment":"pi_1"},{"amount":{"currency":"eur","minor":5000},"effect":"ledger_entry","kind":"payment","payment":"pi_1","total":{"currency":"eur","minor":5000}},{"effect":"invoice_partially_paid","paid":{"currency":"eur","minor":5000},"remaining":{"currency":"eur","minor":7000}}],"next":{"amount_due":12000,"attempt":null,"currency":"eur","settlement":{"paid":{"pi_1":5000},"refunded":{}},"status":"partially_paid"}}},"fact":"payment_succeeded","record":"invoice inv_1"}"#;
    /// Invoice inv_1, then the other 70.00 paid by a second payment.
    pub const INV1_PAID: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":7000},"effect":"payment_completed","payment":"pi_2"},{"amount":{"currency":"eur","minor":7000},"effect":"ledger_entry","kind":"payment","payment":"pi_2","total":{"currency":"eur","minor":7000}},{"amount":{"currency":"eur","minor":12000},"effect":"invoice_paid"}],"next":{"amount_due":12000,"attempt":null,"currency":"eur","settlement":{"paid":{"pi_1":5000,"pi_2":7000},"refunded":{}},"status":"paid"}}},"fact":"payment_succeeded","record":"invoice inv_1"}"#;
    /// Invoice inv_1, then 20.00 of the second payment's 70.00 refunded.
    pub const INV1_REFUND_PARTIAL: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":2000},"effect":"refund_recorded","payment":"pi_2","total":{"currency":"eur","minor":2000}},{"amount":{"currency":"eur","minor":2000},"effect":"ledger_entry","kind":"refund","payment":"pi_2","total":{"currency":"eur","minor":2000}}],"next":{"amount_due":12000,"attempt":null,"currency":"eur","settlement":{"paid":{"pi_1":5000,"pi_2":7000},"refunded":{"pi_2":2000}},"status":"partially_refunded"}}},"fact":"refunded","record":"invoice inv_1"}"#;
    /// Invoice inv_2 of 120.00 EUR, open: paid in full.
    pub const INV2_PAID: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":12000},"effect":"payment_completed","payment":"pi_1"},{"amount":{"currency":"eur","minor":12000},"effect":"ledger_entry","kind":"payment","payment":"pi_1","total":{"currency":"eur","minor":12000}},{"amount":{"currency":"eur","minor":12000},"effect":"invoice_paid"}],"next":{"amount_due":12000,"attempt":null,"currency":"eur","settlement":{"paid":{"pi_1":12000},"refunded":{}},"status":"paid"}}},"fact":"payment_succeeded","record":"invoice inv_2"}"#;
    /// Invoice inv_2, then refunded in full.
    pub const INV2_REFUND_FULL: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":12000},"effect":"refund_recorded","payment":"pi_1","total":{"currency":"eur","minor":12000}},{"amount":{"currency":"eur","minor":12000},"effect":"ledger_entry","kind":"refund","payment":"pi_1","total":{"currency":"eur","minor":12000}},{"amount":{"currency":"eur","minor":12000},"effect":"invoice_refunded"}],"next":{"amount_due":12000,"attempt":null,"currency":"eur","settlement":{"paid":{"pi_1":12000},"refunded":{"pi_1":12000}},"status":"refunded"}}},"fact":"refunded","record":"invoice inv_2"}"#;
    /// Invoice inv_4 of 120.00 EUR, open: checkout.session.completed, a delayed method.
    pub const INV4_CHECKOUT_UNPAID: &str = r#"{"decision":{"applied":{"effects":[{"effect":"payment_processing"}],"next":{"amount_due":12000,"attempt":{"at":{"at":10,"event":"evt_31","rank":1},"kind":{"kind":"processing"}},"currency":"eur","settlement":{"paid":{},"refunded":{}},"status":"processing"}}},"fact":"checkout_completed_unpaid","record":"invoice inv_4"}"#;
    /// Invoice inv_4, then payment_intent.payment_failed.
    pub const INV4_FAILED: &str = r#"{"decision":{"applied":{"effects":[{"code":"card_declined","effect":"payment_failed","message":"Your card was declined."}],"next":{"amount_due":12000,"attempt":{"at":{"at":20,"event":"evt_32","rank":2},"kind":{"code":"card_declined","kind":"failed","message":"Your card was declined."}},"currency":"eur","settlement":{"paid":{},"refunded":{}},"status":"payment_failed"}}},"fact":"payment_failed","record":"invoice inv_4"}"#;
    /// Invoice inv_4, then checkout.session.completed, paid.
    pub const INV4_CHECKOUT_PAID: &str = r#"{"decision":{"applied":{"effects":[{"amount":{"currency":"eur","minor":12000},"effect":"payment_completed","payment":"pi_1"},{"amount":{"currency":"eur","minor":12000},"effect":"ledger_entry","kind":"payment","payment":"pi_1","total":{"currency":"eur","minor":12000}},{"amount":{"currency":"eur","minor":12000},"effect":"invoice_paid"}],"next":{"amount_due":12000,"attempt":null,"currency":"eur","settlement":{"paid":{"pi_1":12000},"refunded":{}},"status":"paid"}}},"fact":"checkout_completed_paid","record":"invoice inv_4"}"#;
    /// Subscription sub_1, new: customer.subscription.created, active.
    pub const SUB_CREATED: &str = r#"{"decision":{"applied":{"effects":[{"effect":"subscription_status_changed","from":"incomplete","to":"active"},{"current_period_end":1000,"effect":"subscription_period_end"}],"next":{"cancel_at_period_end":null,"canceled":false,"current_period_end":1000,"latest":{"at":{"at":10,"event":"evt_20","rank":0},"retry_at":null,"status":"active"},"status":"active"}}},"fact":"subscription_created","record":"subscription sub_1"}"#;
    /// Subscription sub_1, then customer.subscription.updated to past_due.
    pub const SUB_PAST_DUE: &str = r#"{"decision":{"applied":{"effects":[{"effect":"subscription_status_changed","from":"active","to":"past_due"},{"effect":"notify_payment_failed","retry_at":null}],"next":{"cancel_at_period_end":null,"canceled":false,"current_period_end":1000,"latest":{"at":{"at":20,"event":"evt_21","rank":2},"retry_at":null,"status":"past_due"},"status":"past_due"}}},"fact":"subscription_past_due","record":"subscription sub_1"}"#;
    /// Subscription sub_1, then customer.subscription.updated back to active.
    pub const SUB_RECOVERED: &str = r#"{"decision":{"applied":{"effects":[{"effect":"subscription_status_changed","from":"past_due","to":"active"},{"effect":"notify_payment_recovered"},{"current_period_end":2000,"effect":"subscription_period_end"}],"next":{"cancel_at_period_end":{"at":{"at":30,"event":"evt_22","rank":1},"value":false},"canceled":false,"current_period_end":2000,"latest":{"at":{"at":30,"event":"evt_22","rank":1},"retry_at":null,"status":"active"},"status":"active"}}},"fact":"subscription_updated","record":"subscription sub_1"}"#;
    /// Subscription sub_2, active: an invoice's payment failed, Stripe retries on 2025-07-01.
    pub const SUB2_FAILED_WITH_RETRY: &str = r#"{"decision":{"applied":{"effects":[{"effect":"subscription_status_changed","from":"active","to":"past_due"},{"effect":"notify_payment_failed","retry_at":1751371200}],"next":{"cancel_at_period_end":null,"canceled":false,"current_period_end":1000,"latest":{"at":{"at":20,"event":"evt_37","rank":3},"retry_at":1751371200,"status":"past_due"},"status":"past_due"}}},"fact":"invoice_payment_failed","record":"subscription sub_2"}"#;
}

#[test]
fn invoicing_books_a_payout_to_the_bank_and_tells_the_admin_when_one_fails() {
    let host = host();
    let plugin = load(&host, INVOICING);
    // The decision as the server writes it for a payout: the payout as it is, no effects.
    let paid = action(
        Hook::PayoutPaid,
        ("payout", "po_1"),
        "evt_p1",
        Some(eur(3500)),
        r#"{"fact":"payout_paid","record":"payout po_1","decision":{"applied":{"next":{"payout":"po_1","status":"paid","amount":3500,"currency":"eur","arrival_date":1767225600},"effects":[]}}}"#,
        &[],
    );
    let mut kv = kv_of(&[("admin_email", "books@bivelio.example")]);
    assert_eq!(
        run(&host, &plugin, &paid, &mut kv),
        [Command::Book(LedgerEntry {
            subject: record("payout", "po_1"),
            account: "bank".into(),
            amount: eur(3500),
            memo: "Payout po_1 to the bank, arrived 2026-01-01".into(),
        })]
    );
    let failed = action(
        Hook::PayoutFailed,
        ("payout", "po_2"),
        "evt_p2",
        Some(eur(3500)),
        r#"{"fact":"payout_failed","record":"payout po_2","decision":{"applied":{"next":{"payout":"po_2","status":"failed","failure_code":"account_closed","failure_message":"The bank account has been closed."},"effects":[]}}}"#,
        &[],
    );
    let told = run(&host, &plugin, &failed, &mut kv);
    assert_eq!(told.len(), 1, "{told:?}");
    let text = email(
        &told[0],
        "books@bivelio.example",
        "Payout po_2 failed: 35.00 EUR",
    );
    assert!(
        text.contains("failed: The bank account has been closed."),
        "{text}"
    );
    // No administrator's address: nobody to tell, nothing booked.
    assert_eq!(run(&host, &plugin, &failed, &mut Kv::default()), NONE);
}
