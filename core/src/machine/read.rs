//! Reading the state documents: one reader for every record a state holds.
//!
//! Each record is a [`Shape`]: the names of its fields and the [`Kind`] of each, a table. One
//! visitor, [`Read`], reads any value by its kind; a record's fields are read into a row of
//! [`Got`] and the record is built from that row once its object ends. serde's derive made a
//! visitor per struct, and a copy of `serde_json`'s parser per field type and struct (BENCHMARKS.md,
//! tenth run); this is one copy, the same for the native library and the WebAssembly component.
//!
//! What it accepts is what the derive accepted, with every record read from a JSON object only
//! (the derive also read a struct from an array of its fields; payhook held it to objects):
//!
//! - a field given twice in one object is refused (`duplicate field`), an unknown field is
//!   skipped, a required field left out is refused (`missing field`);
//! - an optional field (`Option<…>`) may be left out or `null`;
//! - a map (a settlement's amounts, a payment's failed refunds) keeps a repeated key's last value;
//! - errors say what was expected as the derive did (`i64`, `a string`, `a variant name`, `a map`,
//!   `a JSON object`…), with `serde_json`'s line and column; a float is refused as a `floating
//!   point number`, without its digits (see `crate::unexpected`).

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::mem::forget;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::payment::{Dispute, FailedRefund, FraudWarning};
use super::subscription::{Report, Setting};
use super::{Attempt, AttemptKind, AttemptTag, CancelReason, PaymentId, Settlement, SortedMap, Stamp};
use super::{appointment, invoice, payment, subscription};
use crate::event::EventId;
use crate::money::{CURRENCY_EXPECTED, Currency};
use crate::unexpected::{self, Found};

/// The record of variant `$variant` read for a field of its shape, or `None` if left out or null.
macro_rules! record {
    ($got:expr, $variant:ident) => {
        match $got {
            Got::Record(record) => match *record {
                Record::$variant(value) => Some(value),
                _ => misread(),
            },
            _ => None,
        }
    };
}

/// What a field holds, and so which JSON it takes.
#[derive(Clone, Copy)]
enum Kind {
    /// A string.
    Text,
    /// A string or `null`; may be left out.
    OptText,
    /// An `i64`.
    Int,
    /// An `i64` or `null`; may be left out.
    OptInt,
    /// A `u8` (a stamp's rank).
    Rank,
    /// `true` or `false`.
    Flag,
    /// A unit-only enum, by the names of its variants in order.
    Name(&'static [&'static str]),
    /// A currency code.
    Currency,
    /// A record: an object.
    Record(Shape),
    /// A record or `null`; may be left out.
    OptRecord(Shape),
    /// An object of amounts by payment (a settlement's).
    Amounts,
    /// An object of failed refunds by refund id.
    Refunds,
}

impl Kind {
    fn optional(self) -> bool {
        matches!(self, Kind::OptText | Kind::OptInt | Kind::OptRecord(_))
    }
}

/// The records of a state document. Each names its [`Record`] variant.
#[derive(Clone, Copy)]
enum Shape {
    Invoice,
    Appointment,
    Failure,
    Payment,
    FailedRefund,
    Dispute,
    FraudWarning,
    Subscription,
    Report,
    Setting,
    Settlement,
    Stamp,
    Attempt,
    AttemptKind,
}

/// The most fields a record has (a payment's).
const MOST_FIELDS: usize = 11;

impl Shape {
    /// Its fields, in the order [`Shape::build`] takes them.
    fn fields(self) -> &'static [(&'static str, Kind)] {
        use Kind::*;
        match self {
            Shape::Invoice => &[
                ("status", Name(invoice::Status::NAMES)),
                ("currency", Currency),
                ("amount_due", OptInt),
                ("settlement", Record(Shape::Settlement)),
                ("attempt", OptRecord(Shape::Attempt)),
            ],
            Shape::Appointment => &[
                ("status", Name(appointment::Status::NAMES)),
                ("currency", Currency),
                ("settlement", Record(Shape::Settlement)),
                ("paid_at", OptRecord(Shape::Stamp)),
                ("expired_at", OptRecord(Shape::Stamp)),
                ("failure", OptRecord(Shape::Failure)),
                ("awaiting", Flag),
            ],
            Shape::Failure => &[
                ("at", Record(Shape::Stamp)),
                ("reason", Name(CancelReason::NAMES)),
                ("code", OptText),
                ("message", OptText),
            ],
            Shape::Payment => &[
                ("id", Text),
                ("status", Name(payment::Status::NAMES)),
                ("currency", Currency),
                ("attempt", OptRecord(Shape::Attempt)),
                ("succeeded", Flag),
                ("canceled", Flag),
                ("captured", Int),
                ("refunded", Int),
                ("failed_refunds", Refunds),
                ("dispute", OptRecord(Shape::Dispute)),
                ("fraud_warning", OptRecord(Shape::FraudWarning)),
            ],
            Shape::FailedRefund => &[("amount", Int), ("reason", OptText)],
            Shape::Dispute => &[
                ("status", Name(payment::DisputeStatus::NAMES)),
                ("amount", Int),
                ("reason", OptText),
                ("lost", Int),
            ],
            Shape::FraudWarning => &[("fraud_type", OptText)],
            Shape::Subscription => &[
                ("status", Name(subscription::Status::NAMES)),
                ("latest", OptRecord(Shape::Report)),
                ("canceled", Flag),
                ("cancel_at_period_end", OptRecord(Shape::Setting)),
                ("current_period_end", OptInt),
            ],
            Shape::Report => &[
                ("at", Record(Shape::Stamp)),
                ("status", Name(subscription::Status::NAMES)),
                ("retry_at", OptInt),
            ],
            Shape::Setting => &[("at", Record(Shape::Stamp)), ("value", Flag)],
            Shape::Settlement => &[("paid", Amounts), ("refunded", Amounts)],
            Shape::Stamp => &[("at", Int), ("rank", Rank), ("event", Text)],
            Shape::Attempt => &[("at", Record(Shape::Stamp)), ("kind", Record(Shape::AttemptKind))],
            Shape::AttemptKind => &[
                ("kind", Name(AttemptTag::NAMES)),
                ("code", OptText),
                ("message", OptText),
            ],
        }
    }

    /// The record from its fields as read, in [`Shape::fields`]' order: [`fields`] checked that
    /// each required one is present, and [`Read`] gave each the value of its kind. The cells
    /// past the shape's fields are never set: `Missing`, owning nothing, they are forgotten
    /// rather than dropped (dropping them cost a call per cell).
    fn build(self, row: [Got; MOST_FIELDS]) -> Record {
        match self {
            Shape::Invoice => {
                let [status, currency, amount_due, settlement, attempt, rest @ ..] = row;
                forget(rest);
                Record::Invoice(invoice::State {
                    status: status.named(invoice::Status::ALL),
                    currency: currency.currency(),
                    amount_due: amount_due.opt_int(),
                    settlement: record!(settlement, Settlement).unwrap_or_default(),
                    attempt: record!(attempt, Attempt),
                })
            }
            Shape::Appointment => {
                let [status, currency, settlement, paid_at, expired_at, failure, awaiting, rest @ ..] = row;
                forget(rest);
                Record::Appointment(appointment::State {
                    status: status.named(appointment::Status::ALL),
                    currency: currency.currency(),
                    settlement: record!(settlement, Settlement).unwrap_or_default(),
                    paid_at: record!(paid_at, Stamp),
                    expired_at: record!(expired_at, Stamp),
                    failure: record!(failure, Failure),
                    awaiting: awaiting.flag(),
                })
            }
            Shape::Failure => {
                let [at, reason, code, message, rest @ ..] = row;
                forget(rest);
                Record::Failure(appointment::Failure {
                    at: required(record!(at, Stamp)),
                    reason: reason.named(CancelReason::ALL),
                    code: code.opt_text(),
                    message: message.opt_text(),
                })
            }
            Shape::Payment => {
                let [id, status, currency, attempt, succeeded, canceled, captured, refunded, failed_refunds, dispute, fraud_warning] =
                    row;
                Record::Payment(payment::State {
                    id: PaymentId::new(id.text()),
                    status: status.named(payment::Status::ALL),
                    currency: currency.currency(),
                    attempt: record!(attempt, Attempt),
                    succeeded: succeeded.flag(),
                    canceled: canceled.flag(),
                    captured: captured.int(),
                    refunded: refunded.int(),
                    failed_refunds: failed_refunds.refunds(),
                    dispute: record!(dispute, Dispute),
                    fraud_warning: record!(fraud_warning, FraudWarning),
                })
            }
            Shape::FailedRefund => {
                let [amount, reason, rest @ ..] = row;
                forget(rest);
                Record::FailedRefund(FailedRefund { amount: amount.int(), reason: reason.opt_text() })
            }
            Shape::Dispute => {
                let [status, amount, reason, lost, rest @ ..] = row;
                forget(rest);
                Record::Dispute(Dispute {
                    status: status.named(payment::DisputeStatus::ALL),
                    amount: amount.int(),
                    reason: reason.opt_text(),
                    lost: lost.int(),
                })
            }
            Shape::FraudWarning => {
                let [fraud_type, rest @ ..] = row;
                forget(rest);
                Record::FraudWarning(FraudWarning { fraud_type: fraud_type.opt_text() })
            }
            Shape::Subscription => {
                let [status, latest, canceled, cancel_at_period_end, current_period_end, rest @ ..] = row;
                forget(rest);
                Record::Subscription(subscription::State {
                    status: status.named(subscription::Status::ALL),
                    latest: record!(latest, Report),
                    canceled: canceled.flag(),
                    cancel_at_period_end: record!(cancel_at_period_end, Setting),
                    current_period_end: current_period_end.opt_int(),
                })
            }
            Shape::Report => {
                let [at, status, retry_at, rest @ ..] = row;
                forget(rest);
                Record::Report(Report {
                    at: required(record!(at, Stamp)),
                    status: status.named(subscription::Status::ALL),
                    retry_at: retry_at.opt_int(),
                })
            }
            Shape::Setting => {
                let [at, value, rest @ ..] = row;
                forget(rest);
                Record::Setting(Setting { at: required(record!(at, Stamp)), value: value.flag() })
            }
            Shape::Settlement => {
                let [paid, refunded, rest @ ..] = row;
                forget(rest);
                Record::Settlement(Settlement { paid: paid.amounts(), refunded: refunded.amounts() })
            }
            Shape::Stamp => {
                let [at, rank, event, rest @ ..] = row;
                forget(rest);
                Record::Stamp(Stamp {
                    at: at.int(),
                    // `Read` took only a `u8`'s values for a rank.
                    rank: rank.int() as u8,
                    event: EventId::new(event.text()),
                })
            }
            Shape::Attempt => {
                let [at, kind, rest @ ..] = row;
                forget(rest);
                Record::Attempt(Attempt { at: required(record!(at, Stamp)), kind: required(record!(kind, AttemptKind)) })
            }
            Shape::AttemptKind => {
                let [kind, code, message, rest @ ..] = row;
                forget(rest);
                Record::AttemptKind(match kind.named(AttemptTag::ALL) {
                    AttemptTag::RequiresAction => AttemptKind::RequiresAction,
                    AttemptTag::Processing => AttemptKind::Processing,
                    AttemptTag::Failed => AttemptKind::Failed { code: code.opt_text(), message: message.opt_text() },
                })
            }
        }
    }
}

/// The value of a required field, which [`fields`] checked present.
fn required<T>(value: Option<T>) -> T {
    value.unwrap_or_else(|| misread())
}

/// Where a field's value is not of its kind: [`fields`] and [`Read`] make that impossible, so
/// this is never called.
#[cold]
#[inline(never)]
fn misread() -> ! {
    unreachable!("a state record's field was not read as its kind")
}

/// A record read.
enum Record {
    Invoice(invoice::State),
    Appointment(appointment::State),
    Failure(appointment::Failure),
    Payment(payment::State),
    FailedRefund(FailedRefund),
    Dispute(Dispute),
    FraudWarning(FraudWarning),
    Subscription(subscription::State),
    Report(Report),
    Setting(Setting),
    Settlement(Settlement),
    Stamp(Stamp),
    Attempt(Attempt),
    AttemptKind(AttemptKind),
}

/// One field's value as read.
#[derive(Default)]
enum Got {
    /// Not given.
    #[default]
    Missing,
    Null,
    Text(String),
    Int(i64),
    Flag(bool),
    /// The index of a variant's name.
    Name(usize),
    Currency(Currency),
    Record(Box<Record>),
    Amounts(SortedMap<PaymentId, i64>),
    Refunds(SortedMap<String, FailedRefund>),
}

/// The value in a cell if it holds variant `$variant`: `None` for an optional field left out or
/// null.
macro_rules! held {
    ($got:expr, $variant:ident) => {
        match $got {
            Got::$variant(value) => Some(value),
            _ => None,
        }
    };
}

impl Got {
    // A required field's value, as [`Read`] reads its kind (anything else is `misread`), or an
    // optional one's (`None` if left out or null).
    fn text(self) -> String {
        required(held!(self, Text))
    }
    fn opt_text(self) -> Option<String> {
        held!(self, Text)
    }
    #[inline]
    fn int(self) -> i64 {
        required(held!(self, Int))
    }
    fn opt_int(self) -> Option<i64> {
        held!(self, Int)
    }
    #[inline]
    fn flag(self) -> bool {
        required(held!(self, Flag))
    }
    /// The variant of `all` whose name was read: `all` is in the order of the names `Read` took.
    #[inline]
    fn named<T: Copy>(self, all: &[T]) -> T {
        required(held!(self, Name).and_then(|index| all.get(index).copied()))
    }
    #[inline]
    fn currency(self) -> Currency {
        required(held!(self, Currency))
    }
    fn amounts(self) -> SortedMap<PaymentId, i64> {
        required(held!(self, Amounts))
    }
    fn refunds(self) -> SortedMap<String, FailedRefund> {
        required(held!(self, Refunds))
    }
}

/// Reads a value of its kind: the one visitor of every state document.
#[derive(Clone, Copy)]
struct Read(Kind);

impl<'de> DeserializeSeed<'de> for Read {
    type Value = Got;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Got, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Read {
    type Value = Got;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Kind::Text | Kind::OptText => "a string",
            Kind::Int | Kind::OptInt => "i64",
            Kind::Rank => "u8",
            Kind::Flag => "a boolean",
            Kind::Name(_) => "a variant name",
            Kind::Currency => CURRENCY_EXPECTED,
            Kind::Record(_) | Kind::OptRecord(_) => "a JSON object",
            Kind::Amounts | Kind::Refunds => "a map",
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Got, E> {
        match self.0 {
            Kind::Text | Kind::OptText => Ok(Got::Text(v.into())),
            Kind::Name(names) => match names.iter().position(|name| *name == v) {
                Some(index) => Ok(Got::Name(index)),
                None => Err(E::unknown_variant(v, names)),
            },
            Kind::Currency => Currency::parse(v).map(Got::Currency).map_err(E::custom),
            _ => Err(unexpected::invalid_type(Found::Str(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Got, E> {
        match self.0 {
            Kind::Int | Kind::OptInt => Ok(Got::Int(v)),
            Kind::Rank if u8::try_from(v).is_ok() => Ok(Got::Int(v)),
            Kind::Rank => Err(unexpected::invalid_value(Found::Signed(v), &self)),
            _ => Err(unexpected::invalid_type(Found::Signed(v), &self)),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Got, E> {
        match (self.0, i64::try_from(v)) {
            (Kind::Int | Kind::OptInt | Kind::Rank, Ok(signed)) => self.visit_i64(signed),
            (Kind::Int | Kind::OptInt | Kind::Rank, Err(_)) => Err(unexpected::invalid_value(Found::Unsigned(v), &self)),
            _ => Err(unexpected::invalid_type(Found::Unsigned(v), &self)),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Got, E> {
        match self.0 {
            Kind::Flag => Ok(Got::Flag(v)),
            _ => Err(unexpected::invalid_type(Found::Bool(v), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Got, E> {
        match self.0 {
            kind if kind.optional() => Ok(Got::Null),
            _ => Err(unexpected::invalid_type(Found::Null, &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Got, E> {
        Err(unexpected::invalid_type(Found::Float, &self))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Got, A::Error> {
        Err(unexpected::invalid_type(Found::Seq, &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Got, A::Error> {
        match self.0 {
            Kind::Record(shape) | Kind::OptRecord(shape) => Ok(Got::Record(Box::new(fields(shape, map)?))),
            Kind::Amounts => {
                let mut amounts = SortedMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let amount = map.next_value_seed(Read(Kind::Int))?.int();
                    amounts.insert(PaymentId::new(key), amount);
                }
                Ok(Got::Amounts(amounts))
            }
            Kind::Refunds => {
                let mut refunds = SortedMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let refund = map.next_value_seed(Read(Kind::Record(Shape::FailedRefund)))?;
                    refunds.insert(key, required(record!(refund, FailedRefund)));
                }
                Ok(Got::Refunds(refunds))
            }
            _ => Err(unexpected::invalid_type(Found::Map, &self)),
        }
    }
}

/// Reads the fields of a record of `shape` from `map`, then builds it.
fn fields<'de, A: MapAccess<'de>>(shape: Shape, mut map: A) -> Result<Record, A::Error> {
    let fields = shape.fields();
    let mut row: [Got; MOST_FIELDS] = Default::default();
    while let Some(field) = map.next_key_seed(Field(fields))? {
        let Some(index) = field else {
            map.next_value::<IgnoredAny>()?;
            continue;
        };
        let (name, kind) = fields[index];
        if !matches!(row[index], Got::Missing) {
            return Err(de::Error::duplicate_field(name));
        }
        let value = map.next_value_seed(Read(kind))?;
        // The slot is `Missing`, which owns nothing: it need not be dropped.
        forget(core::mem::replace(&mut row[index], value));
    }
    for ((name, kind), got) in fields.iter().zip(&row) {
        if matches!(got, Got::Missing) && !kind.optional() {
            return Err(de::Error::missing_field(name));
        }
    }
    Ok(shape.build(row))
}

/// Reads a field's name: the index of one of the record's fields, or `None` for another name.
struct Field(&'static [(&'static str, Kind)]);

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|(name, _)| *name == v))
    }
}

/// `Deserialize` for each record, through [`Read`]: a JSON object of its fields.
macro_rules! read_from_objects {
    ($($ty:ty = $shape:ident),+ $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let got = deserializer.deserialize_any(Read(Kind::Record(Shape::$shape)))?;
                Ok(required(record!(got, $shape)))
            }
        }
    )+};
}

read_from_objects! {
    invoice::State = Invoice,
    appointment::State = Appointment,
    appointment::Failure = Failure,
    payment::State = Payment,
    FailedRefund = FailedRefund,
    Dispute = Dispute,
    FraudWarning = FraudWarning,
    subscription::State = Subscription,
    Report = Report,
    Setting = Setting,
    Settlement = Settlement,
    Stamp = Stamp,
    Attempt = Attempt,
    AttemptKind = AttemptKind,
}

#[cfg(test)]
mod tests {
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    use serde_json::{Value, json};

    use super::*;
    use crate::money::Money;

    fn stamp(at: i64, rank: u8) -> Stamp {
        Stamp { at, rank, event: EventId::new(alloc::format!("evt_{at}")) }
    }

    /// A record of each shape with every optional field set, and the same with each left out.
    fn full_states() -> (invoice::State, appointment::State, payment::State, subscription::State) {
        let settlement = Settlement {
            paid: [(PaymentId::new("pi_1"), 1500), (PaymentId::new("pi_2"), 500)].into_iter().collect(),
            refunded: [(PaymentId::new("pi_1"), 200)].into_iter().collect(),
        };
        let failed = AttemptKind::Failed { code: Some("card_declined".into()), message: Some("Declined \"now\"".into()) };
        let mut invoice = invoice::State::open(Money::new(2000, Currency::EUR));
        invoice.settlement = settlement.clone();
        invoice.attempt = Some(Attempt { at: stamp(5, 2), kind: failed.clone() });
        let mut appointment = appointment::State::new(Currency::JPY);
        appointment.settlement = settlement;
        appointment.paid_at = Some(stamp(7, 1));
        appointment.expired_at = Some(stamp(6, 0));
        appointment.failure = Some(appointment::Failure {
            at: stamp(4, 0),
            reason: CancelReason::PaymentFailed,
            code: Some("expired_card".into()),
            message: None,
        });
        let mut payment = payment::State::new(PaymentId::new("pi_1"), Currency::USD);
        payment.attempt = Some(Attempt { at: stamp(3, 255), kind: AttemptKind::Processing });
        payment.captured = 2000;
        payment.refunded = i64::MAX;
        payment.failed_refunds.insert("re_1".into(), FailedRefund { amount: 5, reason: Some("lost".into()) });
        payment.failed_refunds.insert("re_2".into(), FailedRefund { amount: 7, reason: None });
        payment.dispute = Some(Dispute { status: payment::DisputeStatus::Lost, amount: 9, reason: None, lost: i64::MIN });
        payment.fraud_warning = Some(FraudWarning { fraud_type: Some("made_with_stolen_card".into()) });
        let mut subscription = subscription::State::new();
        subscription.latest = Some(Report { at: stamp(8, 3), status: subscription::Status::PastDue, retry_at: Some(9) });
        subscription.cancel_at_period_end = Some(Setting { at: stamp(8, 4), value: true });
        subscription.current_period_end = Some(100);
        (invoice, appointment, payment, subscription)
    }

    fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug>(value: &T) {
        let text = serde_json::to_string(value).unwrap();
        assert_eq!(&serde_json::from_str::<T>(&text).unwrap(), value, "{text}");
        // Another deserializer than serde_json's text reader: a `Value`'s.
        let tree = serde_json::to_value(value).unwrap();
        assert_eq!(&serde_json::from_value::<T>(tree).unwrap(), value);
    }

    #[test]
    fn every_record_reads_back_as_written() {
        let (invoice, appointment, payment, subscription) = full_states();
        round_trip(&invoice);
        round_trip(&appointment);
        round_trip(&payment);
        round_trip(&subscription);
        for kind in [AttemptKind::RequiresAction, AttemptKind::Processing, AttemptKind::Failed { code: None, message: None }] {
            round_trip(&Attempt { at: stamp(1, 0), kind });
        }
        // Each optional field set to null, or left out, reads as `None`.
        let mut none = payment.clone();
        (none.attempt, none.dispute, none.fraud_warning) = (None, None, None);
        let mut tree = serde_json::to_value(&payment).unwrap();
        for key in ["attempt", "dispute", "fraud_warning"] {
            tree[key] = Value::Null;
        }
        assert_eq!(serde_json::from_value::<payment::State>(tree.clone()).unwrap(), none);
        for key in ["attempt", "dispute", "fraud_warning"] {
            tree.as_object_mut().unwrap().remove(key);
        }
        assert_eq!(serde_json::from_value::<payment::State>(tree).unwrap(), none);
        let read = serde_json::from_str::<appointment::Failure>(r#"{"reason":"payment_canceled","at":{"event":"e","rank":0,"at":-1}}"#);
        assert_eq!(
            read.unwrap(),
            appointment::Failure { at: Stamp { at: -1, rank: 0, event: EventId::new("e") }, reason: CancelReason::PaymentCanceled, code: None, message: None }
        );
    }

    /// A payment state with `edit` made to it, read; the error's text if refused.
    fn payment_read(edit: impl FnOnce(&mut Value)) -> Result<payment::State, String> {
        let (_, _, payment, _) = full_states();
        let mut tree = serde_json::to_value(&payment).unwrap();
        edit(&mut tree);
        serde_json::from_str::<payment::State>(&tree.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_refuses_other_values_as_the_derive_did() {
        let cases: Vec<(&str, Value, &str)> = alloc::vec![
            ("captured", json!("5"), r#"invalid type: string "5", expected i64"#),
            ("captured", json!(1.5), "invalid type: floating point number, expected i64"),
            ("captured", json!(9223372036854775808u64), "invalid value: integer `9223372036854775808`, expected i64"),
            ("captured", Value::Null, "invalid type: null, expected i64"),
            ("succeeded", json!(1), "invalid type: integer `1`, expected a boolean"),
            ("id", Value::Null, "invalid type: null, expected a string"),
            ("id", json!(["pi_1"]), "invalid type: sequence, expected a string"),
            ("status", json!("paid"), "unknown variant `paid`, expected one of `created`, `requires_action`"),
            ("status", json!({"succeeded": null}), "invalid type: map, expected a variant name"),
            ("currency", json!(978), r#"invalid type: integer `978`, expected a three-letter ISO 4217 currency code such as "usd""#),
            ("currency", json!("euro"), r#"invalid currency code "euro""#),
            ("attempt", json!(5), "invalid type: integer `5`, expected a JSON object"),
            ("attempt", json!([{"at": 1, "rank": 0, "event": "e"}, {"kind": "processing"}]), "invalid type: sequence, expected a JSON object"),
            ("attempt", json!({"at": {"at": 1, "rank": 256, "event": "e"}, "kind": {"kind": "processing"}}), "invalid value: integer `256`, expected u8"),
            ("attempt", json!({"at": {"at": 1, "rank": -1, "event": "e"}, "kind": {"kind": "processing"}}), "invalid value: integer `-1`, expected u8"),
            ("attempt", json!({"at": {"at": 1, "rank": 0, "event": "e"}, "kind": {"kind": "failed", "code": 5}}), "invalid type: integer `5`, expected a string"),
            ("attempt", json!({"at": {"at": 1, "rank": 0, "event": "e"}}), "missing field `kind`"),
            ("failed_refunds", Value::Null, "invalid type: null, expected a map"),
            ("failed_refunds", json!({"re_1": {"amount": 5, "reason": false}}), "invalid type: boolean `false`, expected a string"),
            ("failed_refunds", json!({"re_1": 5}), "invalid type: integer `5`, expected a JSON object"),
        ];
        for (key, value, expected) in cases {
            let err = payment_read(|tree| tree[key] = value.clone()).unwrap_err();
            assert!(err.starts_with(expected), "{key}: {value}: {err}");
            assert!(err.contains(" at line 1 column "), "{key}: {value}: {err}");
        }
        let err = serde_json::from_str::<Settlement>(r#"{"paid":{"pi_1":"5"},"refunded":{}}"#).unwrap_err().to_string();
        assert!(err.starts_with(r#"invalid type: string "5", expected i64"#), "{err}");
        let err = payment_read(|tree| drop(tree.as_object_mut().unwrap().remove("captured"))).unwrap_err();
        assert!(err.starts_with("missing field `captured`"), "{err}");
        let err = serde_json::from_str::<payment::State>(r#"{"id":"pi_1","id":"pi_2"}"#).unwrap_err().to_string();
        assert_eq!(err, "duplicate field `id` at line 1 column 17");
        let err = serde_json::from_str::<Dispute>(r#"{"status":"open","status":"won"}"#).unwrap_err().to_string();
        assert!(err.starts_with("duplicate field `status`"), "{err}");
        // A null is a value given: an optional field is refused if given twice too.
        let err = serde_json::from_str::<FraudWarning>(r#"{"fraud_type":null,"fraud_type":"x"}"#).unwrap_err().to_string();
        assert!(err.starts_with("duplicate field `fraud_type`"), "{err}");
    }

    #[test]
    fn unknown_fields_are_skipped_and_a_repeated_map_key_keeps_its_last_value() {
        let read = payment_read(|tree| {
            tree["later"] = json!([1, {"nested": [null, true, "x", -2.5e3]}]);
            tree["dispute"]["note"] = json!({"a": {}});
        })
        .unwrap();
        assert_eq!(read, full_states().2);
        let settlement: Settlement = serde_json::from_str(r#"{"paid":{"pi_1":5,"pi_1":7},"refunded":{},"x":1}"#).unwrap();
        assert_eq!(settlement.paid[&PaymentId::new("pi_1")], 7);
        let text = r#"{"re_1":{"amount":5,"reason":null},"re_1":{"amount":7,"reason":"x"}}"#;
        let read = payment_read(|tree| tree["failed_refunds"] = json!({})).unwrap();
        let state = serde_json::to_string(&read).unwrap().replace(r#""failed_refunds":{}"#, &alloc::format!(r#""failed_refunds":{text}"#));
        let read: payment::State = serde_json::from_str(&state).unwrap();
        assert_eq!(read.failed_refunds["re_1"], FailedRefund { amount: 7, reason: Some("x".to_string()) });
    }
}
