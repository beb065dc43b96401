//! The wire side of decoding: one pass over the JSON with lenient fields.
//!
//! Every field is a [`Field`]: absent, null, a value, or a value of the wrong JSON type. Nothing
//! is buffered, so the body is read once; objects of kinds the domain does not use may reuse a
//! field name with another type without failing the decode, while a wrong type in an object the
//! domain does use becomes a precise error in [`super::object`].
//!
//! The reading is written out rather than derived. Each struct is a [`Record`] that names the
//! [`Slot`] each of its fields is read into, and every value, at any depth, is read by the same
//! [`Read`] (strings, the commonest, by [`Text`]). serde's derive made a visitor per struct and
//! a copy of `serde_json`'s parser for each field type; this is two copies, 32 KB less in the
//! WebAssembly component, for 0.8% more instructions per event on a reused instance and 0.5%
//! fewer on a fresh one. Records and slots are closed enums, matched rather than called through
//! trait objects: a fresh WebAssembly instance initialises each function it calls through the
//! function table on first use, which cost it 15.7k instructions per event (BENCHMARKS.md,
//! seventh run).
//!
//! What it accepts is what the derive accepted, except that a list's items must be objects
//! (the derive also took an array of a struct's fields):
//!
//! - a field the decoder reads, given twice in one object, is refused (`duplicate field`);
//!   one it does not read is skipped, however often it comes;
//! - an expanded reference (`{"id": …}`) and metadata take the last of a repeated key;
//! - a list object's `data` must be an array of objects, or the event is refused.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{DecodeError, Event, EventId, EventType, object};
use crate::unexpected::{self, Found};

/// A field as read from the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Field<T> {
    /// Not present.
    #[default]
    Absent,
    /// Present as `null`.
    Null,
    /// Present with the expected type.
    Value(T),
    /// Present with another JSON type.
    Invalid,
}

impl<T> Field<T> {
    pub(crate) fn ok(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
    pub(crate) fn as_ref(&self) -> Field<&T> {
        match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Value(v) => Field::Value(v),
            Field::Invalid => Field::Invalid,
        }
    }
    fn is_set(&self) -> bool {
        !matches!(self, Field::Absent)
    }
}

impl<T: Default> Field<T> {
    /// Makes this field a default value and returns it, to be read into in place (a record is
    /// too large to move about).
    fn fill(&mut self) -> &mut T {
        *self = Field::Value(T::default());
        match self {
            Field::Value(v) => v,
            // Just set: never taken (and optimised away).
            _ => unreachable!(),
        }
    }
}

/// An id that may come as a string or as an expanded object with an `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdRef(pub(crate) String);

/// Metadata being read: entries of string values are kept, others dropped.
#[derive(Default)]
struct Entries {
    map: super::Metadata,
    key: String,
    value: Field<String>,
}

impl Entries {
    /// Keeps the value read for the last key, if it is a string (a later one replaces it).
    fn keep(&mut self) {
        if let Field::Value(v) = core::mem::take(&mut self.value) {
            self.map.insert(core::mem::take(&mut self.key), v);
        }
    }
}

/// Where one JSON value is read into.
enum Slot<'a> {
    Text(&'a mut Field<String>),
    Count(&'a mut Field<i64>),
    Flag(&'a mut Field<bool>),
    Id(&'a mut Field<IdRef>),
    Metadata(&'a mut Field<super::Metadata>),
    /// A lenient field holding a record: an object is read into it, anything else is invalid.
    Nested(Nested<'a>),
    /// A list object's `data`: an array of objects, strictly.
    Items(&'a mut Option<Vec<RawItem>>),
    /// An object, strictly (the envelope, a list's item).
    Object(Record<'a>),
}

/// Marks a lenient field as `null` (`true`) or of another type (`false`).
fn mark<T>(field: &mut Field<T>, null: bool) {
    *field = if null { Field::Null } else { Field::Invalid };
}

impl Slot<'_> {
    /// A value of another JSON type than the slot reads (`found`): a lenient field is
    /// marked as `null` or as of another type, and a strict slot refuses it, with the words and
    /// the position serde_json's own refusal had (a float named without its digits, see
    /// `crate::unexpected`; an array or object reported just after its bracket).
    fn other<E: de::Error>(self, found: Found<'_>) -> Result<(), E> {
        let null = matches!(found, Found::Null);
        match self {
            Slot::Text(f) => mark(f, null),
            Slot::Count(f) => mark(f, null),
            Slot::Flag(f) => mark(f, null),
            Slot::Id(f) => mark(f, null),
            Slot::Metadata(f) => mark(f, null),
            Slot::Nested(n) => n.mark(null),
            Slot::Items(_) => return Err(unexpected::invalid_type(found, &"a sequence")),
            Slot::Object(_) => return Err(unexpected::invalid_type(found, &"a JSON object")),
        }
        Ok(())
    }
}

/// A struct's field: its [`Slot`], and whether a value was read into it already.
trait AsSlot {
    fn is_set(&self) -> bool;
    fn slot(&mut self) -> Slot<'_>;
}

macro_rules! leaf_slots {
    ($($t:ty => $variant:ident),*) => {$(
        impl AsSlot for Field<$t> {
            fn is_set(&self) -> bool {
                Field::is_set(self)
            }
            fn slot(&mut self) -> Slot<'_> {
                Slot::$variant(self)
            }
        }
    )*};
}

leaf_slots!(String => Text, i64 => Count, bool => Flag, IdRef => Id, super::Metadata => Metadata);

impl AsSlot for Option<Vec<RawItem>> {
    fn is_set(&self) -> bool {
        self.is_some()
    }
    fn slot(&mut self) -> Slot<'_> {
        Slot::Items(self)
    }
}

/// The records, each with the JSON name of each field it reads: [`Record`] (an object being
/// read into one) and [`Nested`] (a lenient field holding one).
macro_rules! records {
    ($($variant:ident($t:ty) { $($name:literal => $field:ident),* $(,)? })*) => {
        /// An object being read into a struct.
        enum Record<'a> {
            $($variant(&'a mut $t),)*
            /// An expanded reference: only its `id` is read; a repeated `id` is not refused.
            Expanded(&'a mut Field<String>),
            /// Metadata: every key is read.
            Entries(&'a mut Entries),
        }

        impl Record<'_> {
            /// Where the value of field `key` goes; `None` skips it; `Err` names a field
            /// given twice.
            fn slot(&mut self, key: &str) -> Result<Option<Slot<'_>>, &'static str> {
                match self {
                    $(Record::$variant(record) => match key {
                        $($name => if record.$field.is_set() {
                            Err($name)
                        } else {
                            Ok(Some(record.$field.slot()))
                        },)*
                        _ => Ok(None),
                    },)*
                    Record::Expanded(id) => Ok((key == "id").then(|| Slot::Text(&mut **id))),
                    Record::Entries(entries) => {
                        entries.keep();
                        entries.key = key.to_string();
                        Ok(Some(Slot::Text(&mut entries.value)))
                    }
                }
            }
        }

        /// A lenient field that holds a record.
        enum Nested<'a> {
            $($variant(&'a mut Field<$t>),)*
        }

        impl<'a> Nested<'a> {
            /// The field, made a default record to read the object into.
            fn open(self) -> Record<'a> {
                match self {
                    $(Nested::$variant(field) => Record::$variant(field.fill()),)*
                }
            }
            fn mark(self, null: bool) {
                match self {
                    $(Nested::$variant(field) => mark(field, null),)*
                }
            }
        }

        $(impl AsSlot for Field<$t> {
            fn is_set(&self) -> bool {
                Field::is_set(self)
            }
            fn slot(&mut self) -> Slot<'_> {
                Slot::Nested(Nested::$variant(self))
            }
        })*
    };
}

records! {
    Envelope(RawEnvelope) {
        "id" => id,
        "object" => object,
        "type" => event_type,
        "created" => created,
        "livemode" => livemode,
        "api_version" => api_version,
        "account" => account,
        "data" => data,
    }
    Data(RawData) { "object" => object }
    Object(RawObject) {
        "object" => object,
        "id" => id,
        "amount" => amount,
        "amount_received" => amount_received,
        "amount_captured" => amount_captured,
        "amount_refunded" => amount_refunded,
        "amount_total" => amount_total,
        "amount_due" => amount_due,
        "amount_paid" => amount_paid,
        "amount_remaining" => amount_remaining,
        "currency" => currency,
        "status" => status,
        "payment_status" => payment_status,
        "customer" => customer,
        "payment_intent" => payment_intent,
        "charge" => charge,
        "invoice" => invoice,
        "subscription" => subscription,
        "latest_charge" => latest_charge,
        "latest_invoice" => latest_invoice,
        "payment_link" => payment_link,
        "metadata" => metadata,
        "last_payment_error" => last_payment_error,
        "next_action" => next_action,
        "failure_code" => failure_code,
        "failure_message" => failure_message,
        "failure_reason" => failure_reason,
        "reason" => reason,
        "fraud_type" => fraud_type,
        "client_reference_id" => client_reference_id,
        "mode" => mode,
        "billing_reason" => billing_reason,
        "cancellation_reason" => cancellation_reason,
        "refunded" => refunded,
        "captured" => captured,
        "cancel_at_period_end" => cancel_at_period_end,
        "expires_at" => expires_at,
        "arrival_date" => arrival_date,
        "current_period_end" => current_period_end,
        "next_payment_attempt" => next_payment_attempt,
        "items" => items,
        "charges" => charges,
        "parent" => parent,
    }
    PaymentError(RawPaymentError) {
        "code" => code,
        "decline_code" => decline_code,
        "message" => message,
        "type" => kind,
    }
    NextAction(RawNextAction) { "type" => kind, "redirect_to_url" => redirect_to_url }
    Redirect(RawRedirect) { "url" => url }
    List(RawList) { "data" => data }
    Item(RawItem) { "id" => id, "current_period_end" => current_period_end }
    Parent(RawInvoiceParent) { "subscription_details" => subscription_details }
    Details(RawSubscriptionDetails) { "subscription" => subscription }
}

/// Reads one JSON value into its [`Slot`].
struct Read<'a>(Slot<'a>);

impl<'de> DeserializeSeed<'de> for Read<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // Every slot, strict or lenient, through `deserialize_any`: a strict one refuses another
        // type itself (`Slot::other`), so serde_json's own refusal, which quotes a float with
        // its float formatter, is never reached.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Read<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Slot::Object(_) => "a JSON object",
            Slot::Items(_) => "a sequence",
            _ => "any JSON value",
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.other(Found::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        match self.0 {
            Slot::Flag(f) => *f = Field::Value(v),
            slot => return slot.other(Found::Bool(v)),
        }
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        // Beyond i64: not a whole number payhook reads.
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => self.0.other(Found::Unsigned(v)),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        match self.0 {
            Slot::Count(f) => *f = Field::Value(v),
            slot => return slot.other(Found::Signed(v)),
        }
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.0.other(Found::Float)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        match self.0 {
            Slot::Text(f) => *f = Field::Value(v.to_string()),
            Slot::Id(f) => *f = Field::Value(IdRef(v.to_string())),
            slot => return slot.other(Found::Str(v)),
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match self.0 {
            Slot::Items(items) => {
                let mut data = Vec::new();
                loop {
                    let mut item = RawItem::default();
                    if seq.next_element_seed(Read(Slot::Object(Record::Item(&mut item))))?.is_none() {
                        break;
                    }
                    data.push(item);
                }
                *items = Some(data);
                Ok(())
            }
            // Refused before its items are read: no depth of nesting is descended into.
            slot @ Slot::Object(_) => slot.other(Found::Seq),
            slot => {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                slot.other(Found::Seq)
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match self.0 {
            Slot::Object(record) => read_fields(&mut map, record)?,
            Slot::Nested(nested) => read_fields(&mut map, nested.open())?,
            Slot::Id(f) => {
                let mut id = Field::Absent;
                read_fields(&mut map, Record::Expanded(&mut id))?;
                *f = id.ok().map_or(Field::Invalid, |id| Field::Value(IdRef(id)));
            }
            Slot::Metadata(f) => {
                let mut entries = Entries::default();
                read_fields(&mut map, Record::Entries(&mut entries))?;
                entries.keep();
                *f = Field::Value(entries.map);
            }
            slot @ Slot::Items(_) => return slot.other(Found::Map),
            slot => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return slot.other(Found::Map);
            }
        }
        Ok(())
    }
}

/// Reads an object's fields into `record`, skipping the fields it does not name.
fn read_fields<'de, A: MapAccess<'de>>(map: &mut A, mut record: Record<'_>) -> Result<(), A::Error> {
    while let Some(slot) = map.next_key_seed(Key(&mut record))? {
        match slot {
            Some(Slot::Text(field)) => map.next_value_seed(Text(field))?,
            Some(slot) => map.next_value_seed(Read(slot))?,
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// Reads a lenient string field, the commonest kind, with a copy of the parser of its own:
/// 3.8k fewer instructions per event in the component than through [`Read`], for 1.6 KB
/// (BENCHMARKS.md, seventh run).
struct Text<'a>(&'a mut Field<String>);

impl<'de> DeserializeSeed<'de> for Text<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Text<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        *self.0 = Field::Value(v.to_string());
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.visit_f64(0.0)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.visit_f64(0.0)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.visit_f64(0.0)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        *self.0 = Field::Invalid;
        Ok(())
    }
    // `null`, arrays and objects as any slot takes them.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Read(Slot::Text(self.0)).visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Read(Slot::Text(self.0)).visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        Read(Slot::Text(self.0)).visit_map(map)
    }
}

/// Reads a field's name and finds its slot in the record.
struct Key<'r, 'a>(&'r mut Record<'a>);

impl<'de, 'r> DeserializeSeed<'de> for Key<'r, '_> {
    type Value = Option<Slot<'r>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'r> Visitor<'de> for Key<'r, '_> {
    type Value = Option<Slot<'r>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        self.0.slot(key).map_err(E::duplicate_field)
    }
}

/// A Stripe list object (`{"object": "list", "data": [...]}`); only `data` is read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawList {
    /// `data`, once read. Unlike the other fields it is strict: an array of objects.
    data: Option<Vec<RawItem>>,
}

impl RawList {
    pub(crate) fn items(&self) -> &[RawItem] {
        self.data.as_deref().unwrap_or_default()
    }
}

/// `last_payment_error` of a PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawPaymentError {
    pub(crate) code: Field<String>,
    pub(crate) decline_code: Field<String>,
    pub(crate) message: Field<String>,
    pub(crate) kind: Field<String>,
}

/// `next_action` of a PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawNextAction {
    pub(crate) kind: Field<String>,
    pub(crate) redirect_to_url: Field<RawRedirect>,
}

/// `next_action.redirect_to_url`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawRedirect {
    pub(crate) url: Field<String>,
}

/// An element of a list whose items matter only for their id or period end.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawItem {
    pub(crate) id: Field<String>,
    pub(crate) current_period_end: Field<i64>,
}

/// `invoice.parent` (API 2025-03-31 and later).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawInvoiceParent {
    pub(crate) subscription_details: Field<RawSubscriptionDetails>,
}

/// `invoice.parent.subscription_details`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawSubscriptionDetails {
    pub(crate) subscription: Field<IdRef>,
}

/// The union of the object fields the domain reads, over every object kind it uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawObject {
    pub(crate) object: Field<String>,
    pub(crate) id: Field<String>,
    pub(crate) amount: Field<i64>,
    pub(crate) amount_received: Field<i64>,
    pub(crate) amount_captured: Field<i64>,
    pub(crate) amount_refunded: Field<i64>,
    pub(crate) amount_total: Field<i64>,
    pub(crate) amount_due: Field<i64>,
    pub(crate) amount_paid: Field<i64>,
    pub(crate) amount_remaining: Field<i64>,
    pub(crate) currency: Field<String>,
    pub(crate) status: Field<String>,
    pub(crate) payment_status: Field<String>,
    pub(crate) customer: Field<IdRef>,
    pub(crate) payment_intent: Field<IdRef>,
    pub(crate) charge: Field<IdRef>,
    pub(crate) invoice: Field<IdRef>,
    pub(crate) subscription: Field<IdRef>,
    pub(crate) latest_charge: Field<IdRef>,
    pub(crate) latest_invoice: Field<IdRef>,
    pub(crate) payment_link: Field<IdRef>,
    pub(crate) metadata: Field<super::Metadata>,
    pub(crate) last_payment_error: Field<RawPaymentError>,
    pub(crate) next_action: Field<RawNextAction>,
    pub(crate) failure_code: Field<String>,
    pub(crate) failure_message: Field<String>,
    pub(crate) failure_reason: Field<String>,
    pub(crate) reason: Field<String>,
    pub(crate) fraud_type: Field<String>,
    pub(crate) client_reference_id: Field<String>,
    pub(crate) mode: Field<String>,
    pub(crate) billing_reason: Field<String>,
    pub(crate) cancellation_reason: Field<String>,
    pub(crate) refunded: Field<bool>,
    pub(crate) captured: Field<bool>,
    pub(crate) cancel_at_period_end: Field<bool>,
    pub(crate) expires_at: Field<i64>,
    pub(crate) arrival_date: Field<i64>,
    pub(crate) current_period_end: Field<i64>,
    pub(crate) next_payment_attempt: Field<i64>,
    pub(crate) items: Field<RawList>,
    pub(crate) charges: Field<RawList>,
    pub(crate) parent: Field<RawInvoiceParent>,
}

#[derive(Debug, Default)]
struct RawData {
    object: Field<RawObject>,
}

#[derive(Debug, Default)]
struct RawEnvelope {
    id: Field<String>,
    object: Field<String>,
    event_type: Field<String>,
    created: Field<i64>,
    livemode: Field<bool>,
    api_version: Field<String>,
    account: Field<String>,
    data: Field<RawData>,
}

/// Reads `text`, a JSON object, into `envelope`; anything else is refused as not an object.
fn read_envelope(text: &str, envelope: &mut RawEnvelope) -> Result<(), serde_json::Error> {
    let mut json = serde_json::Deserializer::from_str(text);
    Read(Slot::Object(Record::Envelope(envelope))).deserialize(&mut json)?;
    json.end()
}

pub(super) fn decode_text(text: &str) -> Result<Event, DecodeError> {
    // An object only: the envelope is never an array.
    let mut envelope = RawEnvelope::default();
    read_envelope(text, &mut envelope).map_err(json_error)?;
    let object_kind = envelope.object.as_ref().ok().map(String::as_str);
    if let Some(kind) = object_kind
        && kind.starts_with("v2.")
    {
        return Err(DecodeError::ThinEventNotification {
            id: envelope.id.ok().unwrap_or_default(),
            event_type: envelope.event_type.ok().unwrap_or_default(),
        });
    }
    if let Some(kind) = object_kind
        && kind != "event"
    {
        return Err(DecodeError::NotAnEvent { object: kind.to_string() });
    }
    let id = envelope.id.ok().ok_or(DecodeError::MissingField { field: "id".into() })?;
    let event_type = envelope.event_type.ok().ok_or(DecodeError::MissingField { field: "type".into() })?;
    // Stripe always sends `created`; the SDKs accept an event without it, and so does payhook,
    // counting it as the oldest possible (0) so it never supersedes a dated fact.
    let created = match envelope.created {
        Field::Value(t) => t,
        Field::Absent | Field::Null => 0,
        Field::Invalid => return Err(DecodeError::WrongType { field: "created".into(), expected: "unix seconds".into() }),
    };
    let data = envelope.data.ok().ok_or(DecodeError::MissingField { field: "data".into() })?;
    let raw_object = data.object.ok().ok_or(DecodeError::MissingField { field: "data.object".into() })?;
    Ok(Event {
        id: EventId::new(id),
        event_type: EventType::parse(&event_type),
        created,
        livemode: envelope.livemode.ok().unwrap_or(false),
        api_version: envelope.api_version.ok(),
        account: envelope.account.ok(),
        object: object::StripeObject::from_raw(raw_object)?,
    })
}

fn json_error(e: serde_json::Error) -> DecodeError {
    let message = e.to_string();
    if message.starts_with("recursion limit exceeded") {
        return DecodeError::NestingTooDeep;
    }
    // serde_json appends " at line L column C"; keep the message and the position apart. (By
    // the suffix it wrote: searching for " at line " brought a substring searcher, 2 KB, into
    // the WebAssembly component.)
    let position = alloc::format!(" at line {} column {}", e.line(), e.column());
    let message = match message.strip_suffix(position.as_str()) {
        Some(text) => text.to_string(),
        None => message,
    };
    DecodeError::InvalidJson { message, line: e.line(), column: e.column() }
}
