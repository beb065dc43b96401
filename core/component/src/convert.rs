//! Core values to WIT values. One function per type; no logic beyond the mapping.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::exports::payhook::engine::webhook as wit;
use crate::exports::payhook::engine::types::{self as wit_types, Money, MoneyError};
use payhook_core::event::{self, StripeObject};
use payhook_core::money;
use payhook_core::signature::SignatureError;
use payhook_core::webhook;

pub(crate) fn money(m: money::Money) -> Money {
    Money { minor: m.minor, currency: m.currency.as_str().to_string() }
}

pub(crate) fn core_money(m: &Money) -> Result<money::Money, money::MoneyError> {
    Ok(money::Money::new(m.minor, money::Currency::parse(&m.currency)?))
}

pub(crate) fn money_error(e: money::MoneyError) -> MoneyError {
    MoneyError { code: e.code().to_string(), message: e.to_string() }
}

pub(crate) fn delivery(d: webhook::Delivery) -> wit::Delivery {
    wit::Delivery {
        verified: wit::Verified { timestamp: d.timestamp, secret_index: d.secret_index as u32 },
        event: event(d.event),
        facts: d.facts.into_iter().map(fact_to_wit).collect(),
    }
}

pub(crate) fn decoded(d: webhook::Decoded) -> wit::Decoded {
    wit::Decoded { event: event(d.event), facts: d.facts.into_iter().map(fact_to_wit).collect() }
}

pub(crate) fn webhook_error(e: webhook::WebhookError) -> wit::WebhookError {
    match e {
        webhook::WebhookError::Signature(e) => wit::WebhookError::Signature(signature_error(e)),
        webhook::WebhookError::Decode(e) => wit::WebhookError::Decode(decode_error(e)),
    }
}

fn limit(actual: usize, max: usize) -> wit::LimitExceeded {
    wit::LimitExceeded { actual: actual as u64, max: max as u64 }
}

fn window(timestamp: i64, now: i64, tolerance: i64) -> wit::TimestampWindow {
    wit::TimestampWindow { timestamp, now, tolerance }
}

pub(crate) fn signature_error(e: SignatureError) -> wit::SignatureError {
    use wit::SignatureError as W;
    match e {
        SignatureError::MissingHeader => W::MissingHeader,
        SignatureError::HeaderTooLarge { len, max } => W::HeaderTooLarge(limit(len, max)),
        SignatureError::ElementWithoutEquals { position } => W::ElementWithoutEquals(position as u32),
        SignatureError::MissingTimestamp => W::MissingTimestamp,
        SignatureError::DuplicateTimestamp => W::DuplicateTimestamp,
        SignatureError::InvalidTimestamp => W::InvalidTimestamp,
        SignatureError::NoV1Signature => W::NoV1Signature,
        SignatureError::TooManySignatures { count, max } => W::TooManySignatures(limit(count, max)),
        SignatureError::NoSecret => W::NoSecret,
        SignatureError::BlankSecret { index } => W::BlankSecret(index as u32),
        SignatureError::TooManySecrets { count, max } => W::TooManySecrets(limit(count, max)),
        SignatureError::InvalidTolerance { seconds } => W::InvalidTolerance(seconds),
        SignatureError::BodyTooLarge { len, max } => W::BodyTooLarge(limit(len, max)),
        SignatureError::SignatureMismatch => W::SignatureMismatch,
        SignatureError::TimestampTooOld { timestamp, now, tolerance } => W::TimestampTooOld(window(timestamp, now, tolerance)),
        SignatureError::TimestampInFuture { timestamp, now, tolerance } => {
            W::TimestampInFuture(window(timestamp, now, tolerance))
        }
    }
}

pub(crate) fn decode_error(e: event::DecodeError) -> wit::DecodeError {
    use event::DecodeError as D;
    use wit::DecodeError as W;
    match e {
        D::InvalidUtf8 { valid_up_to } => W::InvalidUtf8(valid_up_to as u32),
        D::InvalidJson { message, line, column } => {
            W::InvalidJson(wit::JsonError { message, line: line as u32, column: column as u32 })
        }
        D::NestingTooDeep => W::NestingTooDeep,
        D::WrongType { field, expected } => {
            W::WrongType(wit::WrongType { field, expected })
        }
        D::MissingField { field } => W::MissingField(field),
        D::NotAnEvent { object } => W::NotAnEvent(object),
        D::ThinEventNotification { id, event_type } => W::ThinEventNotification(wit::ThinEvent { id, event_type }),
        D::InvalidCurrency { value } => W::InvalidCurrency(value),
        D::InvalidAmount { field, value } => W::InvalidAmount(wit::InvalidAmount { field, value }),
    }
}

fn metadata(m: event::Metadata) -> Vec<(String, String)> {
    m.into_iter().collect()
}

fn currency(c: money::Currency) -> String {
    c.as_str().to_string()
}

pub(crate) fn event(e: event::Event) -> wit::Event {
    wit::Event {
        id: e.id.into_string(),
        known_type: e.event_type.is_known(),
        event_type: e.event_type.as_str().to_string(),
        created: e.created,
        livemode: e.livemode,
        api_version: e.api_version,
        account: e.account,
        object: object(e.object),
    }
}

fn object(o: StripeObject) -> wit::StripeObject {
    use wit::StripeObject as W;
    match o {
        StripeObject::PaymentIntent(o) => W::PaymentIntent(wit::PaymentIntent {
            id: o.id,
            amount: o.amount,
            amount_received: o.amount_received,
            currency: currency(o.currency),
            status: o.status,
            customer: o.customer,
            latest_charge: o.latest_charge,
            last_payment_error: o.last_payment_error.map(|e| wit::PaymentError {
                code: e.code,
                decline_code: e.decline_code,
                message: e.message,
            }),
            next_action: o.next_action.map(next_action),
            metadata: metadata(o.metadata),
        }),
        StripeObject::Charge(o) => W::Charge(wit::Charge {
            id: o.id,
            amount: o.amount,
            amount_captured: o.amount_captured,
            amount_refunded: o.amount_refunded,
            refunded: o.refunded,
            currency: currency(o.currency),
            status: o.status,
            payment_intent: o.payment_intent,
            customer: o.customer,
            failure_code: o.failure_code,
            failure_message: o.failure_message,
            metadata: metadata(o.metadata),
        }),
        StripeObject::Refund(o) => W::Refund(wit::Refund {
            id: o.id,
            amount: o.amount,
            currency: currency(o.currency),
            status: o.status,
            charge: o.charge,
            payment_intent: o.payment_intent,
            reason: o.reason,
            failure_reason: o.failure_reason,
            metadata: metadata(o.metadata),
        }),
        StripeObject::Dispute(o) => W::Dispute(wit::Dispute {
            id: o.id,
            amount: o.amount,
            currency: currency(o.currency),
            status: o.status,
            reason: o.reason,
            charge: o.charge,
            payment_intent: o.payment_intent,
            metadata: metadata(o.metadata),
        }),
        StripeObject::CheckoutSession(o) => W::CheckoutSession(wit::CheckoutSession {
            id: o.id,
            status: o.status,
            payment_status: o.payment_status,
            mode: o.mode,
            amount_total: o.amount_total,
            currency: o.currency.map(currency),
            payment_intent: o.payment_intent,
            invoice: o.invoice,
            subscription: o.subscription,
            customer: o.customer,
            payment_link: o.payment_link,
            client_reference_id: o.client_reference_id,
            expires_at: o.expires_at,
            metadata: metadata(o.metadata),
        }),
        StripeObject::Invoice(o) => W::Invoice(wit::Invoice {
            id: o.id,
            status: o.status,
            amount_due: o.amount_due,
            amount_paid: o.amount_paid,
            currency: currency(o.currency),
            customer: o.customer,
            subscription: o.subscription,
            billing_reason: o.billing_reason,
            next_payment_attempt: o.next_payment_attempt,
            metadata: metadata(o.metadata),
        }),
        StripeObject::Subscription(o) => W::Subscription(wit::Subscription {
            id: o.id,
            status: o.status,
            customer: o.customer,
            cancel_at_period_end: o.cancel_at_period_end,
            current_period_end: o.current_period_end,
            latest_invoice: o.latest_invoice,
            metadata: metadata(o.metadata),
        }),
        StripeObject::Payout(o) => W::Payout(wit::Payout {
            id: o.id,
            amount: o.amount,
            currency: currency(o.currency),
            status: o.status,
            arrival_date: o.arrival_date,
            failure_code: o.failure_code,
            failure_message: o.failure_message,
            metadata: metadata(o.metadata),
        }),
        StripeObject::EarlyFraudWarning(o) => W::EarlyFraudWarning(wit::EarlyFraudWarning {
            id: o.id,
            charge: o.charge,
            payment_intent: o.payment_intent,
            fraud_type: o.fraud_type,
        }),
        StripeObject::Other(o) => W::Other(wit::UnknownObject { object: o.object, id: o.id }),
    }
}

fn next_action(a: event::NextAction) -> wit::NextAction {
    wit::NextAction { kind: a.kind, redirect_url: a.redirect_url }
}

payhook_core::wit_fact_conversions!();
