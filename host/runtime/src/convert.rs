//! WIT values back to the engine crate's types, so callers see one set of types whichever way
//! the engine runs. A value that does not convert means a broken component build.

use payhook_core::event::{self, DecodeError, EventId, EventType, StripeObject};
use payhook_core::fact::Fact;
use payhook_core::money::{Currency, Money};
use payhook_core::signature::SignatureError;
use payhook_core::webhook::{Decoded, Delivery, WebhookError};

use payhook_core::machine::document::MachineKind;

use crate::bindings::exports::payhook::engine::machines as wit_machines;
use crate::bindings::exports::payhook::engine::types as wit_types;
use crate::bindings::exports::payhook::engine::webhook as wit;
use crate::{MachineError, RuntimeError};

type Result<T> = std::result::Result<T, RuntimeError>;

fn currency(code: &str) -> Result<Currency> {
    Currency::parse(code)
        .map_err(|e| RuntimeError::InvalidResult(format!("currency {code:?}: {e}")))
}

pub(crate) fn money(m: wit_types::Money) -> Result<Money> {
    Ok(Money::new(m.minor, currency(&m.currency)?))
}

pub(crate) fn signature_error(e: wit::SignatureError) -> SignatureError {
    use wit::SignatureError as W;
    let n = |v: u64| v as usize;
    match e {
        W::MissingHeader => SignatureError::MissingHeader,
        W::HeaderTooLarge(l) => SignatureError::HeaderTooLarge {
            len: n(l.actual),
            max: n(l.max),
        },
        W::ElementWithoutEquals(p) => SignatureError::ElementWithoutEquals {
            position: p as usize,
        },
        W::MissingTimestamp => SignatureError::MissingTimestamp,
        W::DuplicateTimestamp => SignatureError::DuplicateTimestamp,
        W::InvalidTimestamp => SignatureError::InvalidTimestamp,
        W::NoV1Signature => SignatureError::NoV1Signature,
        W::TooManySignatures(l) => SignatureError::TooManySignatures {
            count: n(l.actual),
            max: n(l.max),
        },
        W::NoSecret => SignatureError::NoSecret,
        W::BlankSecret(i) => SignatureError::BlankSecret { index: i as usize },
        W::TooManySecrets(l) => SignatureError::TooManySecrets {
            count: n(l.actual),
            max: n(l.max),
        },
        W::InvalidTolerance(s) => SignatureError::InvalidTolerance { seconds: s },
        W::BodyTooLarge(l) => SignatureError::BodyTooLarge {
            len: n(l.actual),
            max: n(l.max),
        },
        W::SignatureMismatch => SignatureError::SignatureMismatch,
        W::TimestampTooOld(w) => SignatureError::TimestampTooOld {
            timestamp: w.timestamp,
            now: w.now,
            tolerance: w.tolerance,
        },
        W::TimestampInFuture(w) => SignatureError::TimestampInFuture {
            timestamp: w.timestamp,
            now: w.now,
            tolerance: w.tolerance,
        },
    }
}

pub(crate) fn decode_error(e: wit::DecodeError) -> DecodeError {
    use wit::DecodeError as W;
    match e {
        W::InvalidUtf8(v) => DecodeError::InvalidUtf8 {
            valid_up_to: v as usize,
        },
        W::InvalidJson(j) => DecodeError::InvalidJson {
            message: j.message,
            line: j.line as usize,
            column: j.column as usize,
        },
        W::NestingTooDeep => DecodeError::NestingTooDeep,
        W::WrongType(w) => DecodeError::WrongType {
            field: w.field,
            expected: w.expected,
        },
        W::MissingField(field) => DecodeError::MissingField { field },
        W::NotAnEvent(object) => DecodeError::NotAnEvent { object },
        W::ThinEventNotification(t) => DecodeError::ThinEventNotification {
            id: t.id,
            event_type: t.event_type,
        },
        W::InvalidCurrency(value) => DecodeError::InvalidCurrency { value },
        W::InvalidAmount(a) => DecodeError::InvalidAmount {
            field: a.field,
            value: a.value,
        },
    }
}

pub(crate) fn webhook_error(e: wit::WebhookError) -> WebhookError {
    match e {
        wit::WebhookError::Signature(e) => WebhookError::Signature(signature_error(e)),
        wit::WebhookError::Decode(e) => WebhookError::Decode(decode_error(e)),
    }
}

pub(crate) fn delivery(d: wit::Delivery) -> Result<Delivery> {
    Ok(Delivery {
        timestamp: d.verified.timestamp,
        secret_index: d.verified.secret_index as usize,
        event: event(d.event)?,
        facts: d.facts.into_iter().map(fact).collect::<Result<_>>()?,
    })
}

pub(crate) fn decoded(d: wit::Decoded) -> Result<Decoded> {
    Ok(Decoded {
        event: event(d.event)?,
        facts: d.facts.into_iter().map(fact).collect::<Result<_>>()?,
    })
}

fn metadata(m: Vec<(String, String)>) -> event::Metadata {
    m.into_iter().collect()
}

fn event(e: wit::Event) -> Result<event::Event> {
    let event_type = EventType::parse(&e.event_type);
    if event_type.is_known() != e.known_type {
        return Err(RuntimeError::InvalidResult(format!(
            "event type {:?} classified differently",
            e.event_type
        )));
    }
    Ok(event::Event {
        id: EventId::new(e.id),
        event_type,
        created: e.created,
        livemode: e.livemode,
        api_version: e.api_version,
        account: e.account,
        object: object(e.object)?,
    })
}

fn object(o: wit::StripeObject) -> Result<StripeObject> {
    use wit::StripeObject as W;
    Ok(match o {
        W::PaymentIntent(o) => StripeObject::PaymentIntent(event::PaymentIntent {
            currency: currency(&o.currency)?,
            id: o.id,
            amount: o.amount,
            amount_received: o.amount_received,
            status: o.status,
            customer: o.customer,
            latest_charge: o.latest_charge,
            last_payment_error: o.last_payment_error.map(|e| event::PaymentError {
                code: e.code,
                decline_code: e.decline_code,
                message: e.message,
            }),
            next_action: o.next_action.map(next_action),
            metadata: metadata(o.metadata),
        }),
        W::Charge(o) => StripeObject::Charge(event::Charge {
            currency: currency(&o.currency)?,
            id: o.id,
            amount: o.amount,
            amount_captured: o.amount_captured,
            amount_refunded: o.amount_refunded,
            refunded: o.refunded,
            status: o.status,
            payment_intent: o.payment_intent,
            customer: o.customer,
            failure_code: o.failure_code,
            failure_message: o.failure_message,
            metadata: metadata(o.metadata),
        }),
        W::Refund(o) => StripeObject::Refund(event::Refund {
            currency: currency(&o.currency)?,
            id: o.id,
            amount: o.amount,
            status: o.status,
            charge: o.charge,
            payment_intent: o.payment_intent,
            reason: o.reason,
            failure_reason: o.failure_reason,
            metadata: metadata(o.metadata),
        }),
        W::Dispute(o) => StripeObject::Dispute(event::Dispute {
            currency: currency(&o.currency)?,
            id: o.id,
            amount: o.amount,
            status: o.status,
            reason: o.reason,
            charge: o.charge,
            payment_intent: o.payment_intent,
            metadata: metadata(o.metadata),
        }),
        W::CheckoutSession(o) => StripeObject::CheckoutSession(event::CheckoutSession {
            currency: o.currency.as_deref().map(currency).transpose()?,
            id: o.id,
            status: o.status,
            payment_status: o.payment_status,
            mode: o.mode,
            amount_total: o.amount_total,
            payment_intent: o.payment_intent,
            invoice: o.invoice,
            subscription: o.subscription,
            customer: o.customer,
            payment_link: o.payment_link,
            client_reference_id: o.client_reference_id,
            expires_at: o.expires_at,
            metadata: metadata(o.metadata),
        }),
        W::Invoice(o) => StripeObject::Invoice(event::Invoice {
            currency: currency(&o.currency)?,
            id: o.id,
            status: o.status,
            amount_due: o.amount_due,
            amount_paid: o.amount_paid,
            customer: o.customer,
            subscription: o.subscription,
            billing_reason: o.billing_reason,
            next_payment_attempt: o.next_payment_attempt,
            metadata: metadata(o.metadata),
        }),
        W::Subscription(o) => StripeObject::Subscription(event::Subscription {
            id: o.id,
            status: o.status,
            customer: o.customer,
            cancel_at_period_end: o.cancel_at_period_end,
            current_period_end: o.current_period_end,
            latest_invoice: o.latest_invoice,
            metadata: metadata(o.metadata),
        }),
        W::Payout(o) => StripeObject::Payout(event::Payout {
            currency: currency(&o.currency)?,
            id: o.id,
            amount: o.amount,
            status: o.status,
            arrival_date: o.arrival_date,
            failure_code: o.failure_code,
            failure_message: o.failure_message,
            metadata: metadata(o.metadata),
        }),
        W::EarlyFraudWarning(o) => StripeObject::EarlyFraudWarning(event::EarlyFraudWarning {
            id: o.id,
            charge: o.charge,
            payment_intent: o.payment_intent,
            fraud_type: o.fraud_type,
        }),
        W::Other(o) => StripeObject::Other(event::UnknownObject {
            object: o.object,
            id: o.id,
        }),
    })
}

fn next_action(a: wit::NextAction) -> event::NextAction {
    event::NextAction {
        kind: a.kind,
        redirect_url: a.redirect_url,
    }
}

payhook_core::wit_fact_conversions!();

fn fact(f: wit::Fact) -> Result<Fact> {
    fact_from_wit(f)
        .map_err(|code| RuntimeError::InvalidResult(format!("currency {code:?} in a fact")))
}

pub(crate) fn machine(kind: MachineKind) -> wit_machines::Machine {
    match kind {
        MachineKind::Invoice => wit_machines::Machine::Invoice,
        MachineKind::Appointment => wit_machines::Machine::Appointment,
        MachineKind::Payment => wit_machines::Machine::Payment,
        MachineKind::Subscription => wit_machines::Machine::Subscription,
    }
}

pub(crate) fn machine_error(e: wit_machines::MachineError) -> MachineError {
    match e {
        wit_machines::MachineError::InvalidState(m) => MachineError::InvalidState(m),
        wit_machines::MachineError::InvalidCurrency(c) => MachineError::InvalidCurrency(c),
    }
}

pub(crate) fn to_wit_money(m: Money) -> wit_types::Money {
    money_to_wit(&m)
}
