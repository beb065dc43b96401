//! Fuzzes the machines with arbitrary state documents (as a corrupted or hand-edited record
//! would hold): the first byte picks the machine and one of the facts of the project's event
//! fixtures, the rest is the state. Every answer must be a decision or a typed error, and a
//! fact applied a second time, to the state it produced, must change nothing.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use payhook_core::fact::Fact;
use payhook_core::machine::document::{self, MachineKind};
use payhook_core::webhook::decode_stored;

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        [$(include_bytes!(concat!("../../tests/fixtures/stripe-events/events/", $name)).as_slice()),*]
    };
}

fn facts() -> &'static [Fact] {
    static FACTS: OnceLock<Vec<Fact>> = OnceLock::new();
    FACTS.get_or_init(|| {
        fixtures!(
            "payment_intent.succeeded.json",
            "payment_intent.payment_failed.json",
            "payment_intent.processing.json",
            "payment_intent.requires_action.json",
            "payment_intent.canceled.json",
            "charge.refunded.json",
            "charge.refunded--partial.json",
            "charge.dispute.created.json",
            "charge.dispute.closed.json",
            "checkout.session.completed.json",
            "checkout.session.completed--async-pending.json",
            "checkout.session.async_payment_succeeded.json",
            "checkout.session.async_payment_failed.json",
            "checkout.session.expired.json",
            "customer.subscription.created.json",
            "customer.subscription.updated.json",
            "customer.subscription.deleted.json",
            "invoice.paid.json",
            "invoice.payment_failed.json",
            "invoice.finalized.json",
            "refund.failed.json",
            "radar.early_fraud_warning.created.json",
            "payout.paid.json",
            "payout.failed.json",
        )
        .iter()
        .flat_map(|body| decode_stored(body).expect("a fixture decodes").facts)
        .collect()
    })
}

const KINDS: [MachineKind; 4] = [
    MachineKind::Invoice,
    MachineKind::Appointment,
    MachineKind::Payment,
    MachineKind::Subscription,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, state)) = data.split_first() else { return };
    let Ok(state) = std::str::from_utf8(state) else { return };
    let facts = facts();
    let kind = KINDS[usize::from(pick & 3)];
    let fact = &facts[usize::from(pick >> 2) % facts.len()];
    let Ok(decision) = document::apply(kind, state, fact) else { return };
    let decision: serde_json::Value = serde_json::from_str(&decision).expect("a decision is JSON");
    let Some(next) = decision.pointer("/applied/next") else { return };
    let next = next.to_string();
    let again = document::apply(kind, &next, fact).expect("a state the machine wrote is valid");
    let again: serde_json::Value = serde_json::from_str(&again).expect("a decision is JSON");
    if let Some(after) = again.pointer("/applied/next") {
        assert_eq!(after.to_string(), next, "the same fact again changed {kind:?} state");
    }
});
