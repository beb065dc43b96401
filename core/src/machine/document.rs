//! The machines as JSON documents, for hosts that store a record's state as JSON and for the
//! component's `machines` interface: a state goes in as the JSON its `State` serialises to, and
//! the [`Decision`] comes back as JSON.

use alloc::string::{String, ToString};

use super::{Decision, appointment, invoice, payment, subscription};
use crate::fact::Fact;
use crate::money::{Currency, Money};

/// Which state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineKind {
    /// [`invoice`]
    Invoice,
    /// [`appointment`]
    Appointment,
    /// [`payment`]
    Payment,
    /// [`subscription`]
    Subscription,
}

impl MachineKind {
    /// Every machine.
    pub const ALL: [MachineKind; 4] =
        [MachineKind::Invoice, MachineKind::Appointment, MachineKind::Payment, MachineKind::Subscription];

    /// Its name, e.g. `invoice`.
    pub fn name(self) -> &'static str {
        match self {
            MachineKind::Invoice => "invoice",
            MachineKind::Appointment => "appointment",
            MachineKind::Payment => "payment",
            MachineKind::Subscription => "subscription",
        }
    }
}

/// Why a state document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The JSON is not a state of this machine.
    #[error("not a valid {machine} state: {message}")]
    InvalidState {
        /// The machine.
        machine: &'static str,
        /// What the JSON parser reported.
        message: String,
    },
}

/// Applies `fact` to the state document `state` of machine `kind`; returns the decision as JSON:
/// `{"applied":{"next":<state>,"effects":[…]}}` or `{"ignored":…}`.
pub fn apply(kind: MachineKind, state: &str, fact: &Fact) -> Result<String, DocumentError> {
    match kind {
        MachineKind::Invoice => run(kind, state, fact, invoice::apply),
        MachineKind::Appointment => run(kind, state, fact, appointment::apply),
        MachineKind::Payment => run(kind, state, fact, payment::apply),
        MachineKind::Subscription => run(kind, state, fact, subscription::apply),
    }
}

/// A finalized invoice of `amount_due`, as a state document.
pub fn new_invoice(amount_due: Money) -> String {
    to_json(&invoice::State::open(amount_due))
}

/// A new held appointment in `currency`, as a state document.
pub fn new_appointment(currency: Currency) -> String {
    to_json(&appointment::State::new(currency))
}

/// A new payment `id` in `currency`, as a state document.
pub fn new_payment(id: &str, currency: Currency) -> String {
    to_json(&payment::State::new(super::PaymentId::new(id), currency))
}

/// A new subscription, as a state document.
pub fn new_subscription() -> String {
    to_json(&subscription::State::new())
}

fn run<S: serde::Serialize + serde::de::DeserializeOwned>(
    kind: MachineKind,
    state: &str,
    fact: &Fact,
    apply: fn(&S, &Fact) -> Decision<S>,
) -> Result<String, DocumentError> {
    // Read by `machine::read`: an object of the state's fields.
    let state = serde_json::from_str::<S>(state)
        .map_err(|e| DocumentError::InvalidState { machine: kind.name(), message: e.to_string() })?;
    Ok(to_json(&apply(&state, fact)))
}

/// `value` as JSON, exactly as `serde_json::to_string` writes it (see [`crate::json`]).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // The machines' types are plain structs, enums, strings and integers with string map keys:
    // writing them cannot fail.
    crate::json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventId;
    use crate::fact::{FactKind, Links, Subject};

    fn paid(minor: i64) -> Fact {
        Fact {
            event_id: EventId::new("evt_1"),
            occurred_at: 10,
            kind: FactKind::PaymentSucceeded { amount: Money::new(minor, Currency::EUR) },
            subject: Subject { payment_intent: Some("pi_1".into()), ..Subject::default() },
            links: Links { invoice_id: Some("inv_1".into()), ..Links::default() },
        }
    }

    #[test]
    fn documents_give_the_same_decision_as_the_typed_machines() {
        let state = invoice::State::open(Money::new(2000, Currency::EUR));
        let typed = invoice::apply(&state, &paid(2000));
        let json = apply(MachineKind::Invoice, &new_invoice(Money::new(2000, Currency::EUR)), &paid(2000)).unwrap();
        let decoded: Decision<invoice::State> = serde_json::from_str(&json).unwrap();
        assert_eq!(decoded, typed);
        assert!(json.starts_with("{\"applied\":{\"next\":"), "{json}");
    }

    #[test]
    fn a_state_of_another_machine_is_refused_with_its_name() {
        let err = apply(MachineKind::Payment, &new_subscription(), &paid(1)).unwrap_err();
        assert!(err.to_string().starts_with("not a valid payment state: unknown variant `incomplete`"), "{err}");
        let err = apply(MachineKind::Invoice, "not json", &paid(1)).unwrap_err();
        assert!(err.to_string().starts_with("not a valid invoice state: expected ident"), "{err}");
    }

    #[test]
    fn a_state_is_read_from_an_object_only() {
        // serde's derive would read an invoice from the array of its fields; `machine::read` does not.
        let array = r#"["open","eur",2000,{"paid":{},"refunded":{}},null]"#;
        assert!(serde_json::from_str::<invoice::State>(array).is_err());
        let err = apply(MachineKind::Invoice, array, &paid(2000)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a valid invoice state: invalid type: sequence, expected a JSON object at line 1 column 1"
        );
        let err = apply(MachineKind::Subscription, "7", &paid(1)).unwrap_err();
        assert!(err.to_string().starts_with("not a valid subscription state: invalid type: integer `7`, expected a JSON object"), "{err}");
        // Missing and unknown fields read as they did, with the position.
        let err = apply(MachineKind::Invoice, r#"{"status":"open","x":1}"#, &paid(1)).unwrap_err();
        assert_eq!(err.to_string(), "not a valid invoice state: missing field `currency` at line 1 column 23");
    }

    #[test]
    fn nested_values_are_objects_and_optional_ones_may_be_left_out() {
        let payment = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value = serde_json::from_str(&new_payment("pi_1", Currency::EUR)).unwrap();
            f(&mut v);
            apply(MachineKind::Payment, &v.to_string(), &paid(2000))
        };
        for key in ["attempt", "dispute", "fraud_warning"] {
            assert!(payment(&|v| drop(v.as_object_mut().unwrap().remove(key))).is_ok(), "{key} left out");
            assert!(payment(&|v| v[key] = serde_json::Value::Null).is_ok(), "{key} null");
        }
        // A failed refund, a map's value, is an object too; the map keeps a repeated key's last value.
        let refund = serde_json::json!({"amount": 5, "reason": null});
        assert!(payment(&|v| v["failed_refunds"] = serde_json::json!({"re_1": refund.clone()})).is_ok());
        let err = payment(&|v| v["failed_refunds"] = serde_json::json!({"re_1": [5, null]})).unwrap_err().to_string();
        assert!(err.starts_with("not a valid payment state: invalid type: sequence, expected a JSON object"), "{err}");
        let err = payment(&|v| v["failed_refunds"] = serde_json::json!([])).unwrap_err().to_string();
        assert!(err.starts_with("not a valid payment state: invalid type: sequence, expected a map"), "{err}");
        let repeated = r#"{"re_1":{"amount":5,"reason":null},"re_1":{"amount":7,"reason":"x"}}"#;
        let state = new_payment("pi_1", Currency::EUR).replace(r#""failed_refunds":{}"#, &alloc::format!(r#""failed_refunds":{repeated}"#));
        assert!(state.contains("re_1"), "{state}");
        let read: payment::State = serde_json::from_str(&state).unwrap();
        assert_eq!(read.failed_refunds["re_1"].amount, 7, "{state}");
        let stamp = serde_json::json!({"at": 1, "rank": 0, "event": "evt_1"});
        let with_attempt = |at: serde_json::Value, kind: serde_json::Value| {
            payment(&|v| v["attempt"] = serde_json::json!({"at": at, "kind": kind}))
        };
        assert!(with_attempt(stamp.clone(), serde_json::json!({"kind": "processing"})).is_ok());
        // The derive alone would read a struct from the array of its fields; these are refused.
        for (at, kind) in [
            (serde_json::json!([1, 0, "evt_1"]), serde_json::json!({"kind": "processing"})),
            (stamp, serde_json::json!(["processing", null, null])),
        ] {
            let err = with_attempt(at, kind).unwrap_err().to_string();
            assert!(err.starts_with("not a valid payment state: invalid type: sequence, expected a JSON object"), "{err}");
        }
        let mut appointment: serde_json::Value = serde_json::from_str(&new_appointment(Currency::EUR)).unwrap();
        appointment["settlement"] = serde_json::json!([{}, {}]);
        let err = apply(MachineKind::Appointment, &appointment.to_string(), &paid(1)).unwrap_err().to_string();
        assert!(err.starts_with("not a valid appointment state: invalid type: sequence, expected a JSON object"), "{err}");
    }

    #[test]
    fn every_new_state_applies() {
        for kind in MachineKind::ALL {
            let state = match kind {
                MachineKind::Invoice => new_invoice(Money::new(2000, Currency::EUR)),
                MachineKind::Appointment => new_appointment(Currency::EUR),
                MachineKind::Payment => new_payment("pi_1", Currency::EUR),
                MachineKind::Subscription => new_subscription(),
            };
            assert!(apply(kind, &state, &paid(2000)).is_ok(), "{}", kind.name());
        }
    }
}
