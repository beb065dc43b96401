//! The wire side of decoding: one pass over the JSON with lenient fields.
//!
//! Every field is a [`Field`]: absent, null, a value, or a value of the wrong JSON type. Nothing
//! is buffered, so the body is read once; objects of kinds the domain does not use may reuse a
//! field name with another type without failing the decode, while a wrong type in an object the
//! domain does use becomes a precise error in [`super::object`].
//!
//! The reading is written out rather than derived. Each struct is a [`Record`] that names the
//! [`Slot`] each of its fields is read into, and every value, at any depth, is read by the same
//! [`Read`] through those two traits. serde's derive made a visitor per struct and a copy of
//! `serde_json`'s parser for each field type; this is one copy, 28 KB less in the WebAssembly
//! component (BENCHMARKS.md, seventh run). What it accepts is what the derive accepted, except
//! that a list's items must be objects (the derive also took an array of a struct's fields):
//!
//! - a field the decoder reads, given twice in one object, is refused (`duplicate field`);
//!   one it does not read is skipped, however often it comes;
//! - an expanded reference (`{"id": …}`) and metadata take the last of a repeated key;
//! - a list object's `data` must be an array of objects, or the event is refused.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{DecodeError, Event, EventId, EventType, object};

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
}

/// A JSON scalar, as the decoder offers it to a [`Slot`].
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    Float,
    Str(&'a str),
}

/// A type that a lenient field can hold; each JSON value it does not accept yields `None`.
trait Lenient: Sized {
    fn from_scalar(_: Scalar<'_>) -> Option<Self> {
        None
    }
    /// Reads an object into `field`, in place (a record is too large to move about).
    fn from_object(fields: &mut dyn Fields, field: &mut Field<Self>) -> Result<(), Stop> {
        fields.skip()?;
        *field = Field::Invalid;
        Ok(())
    }
}

impl Lenient for i64 {
    fn from_scalar(v: Scalar<'_>) -> Option<Self> {
        match v {
            Scalar::U64(v) => i64::try_from(v).ok(),
            Scalar::I64(v) => Some(v),
            _ => None,
        }
    }
}

impl Lenient for bool {
    fn from_scalar(v: Scalar<'_>) -> Option<Self> {
        match v {
            Scalar::Bool(v) => Some(v),
            _ => None,
        }
    }
}

impl Lenient for String {
    fn from_scalar(v: Scalar<'_>) -> Option<Self> {
        match v {
            Scalar::Str(v) => Some(v.to_string()),
            _ => None,
        }
    }
}

/// An id that may come as a string or as an expanded object with an `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdRef(pub(crate) String);

impl Lenient for IdRef {
    fn from_scalar(v: Scalar<'_>) -> Option<Self> {
        String::from_scalar(v).map(IdRef)
    }
    fn from_object(fields: &mut dyn Fields, field: &mut Field<Self>) -> Result<(), Stop> {
        struct Expanded(Field<String>);
        impl Record for Expanded {
            // A repeated `id` is not refused: the last one counts.
            fn field(&mut self, key: &str) -> Result<Option<Read<'_>>, &'static str> {
                Ok((key == "id").then(|| Read::into(&mut self.0)))
            }
        }
        let mut expanded = Expanded(Field::Absent);
        fields.read(&mut expanded)?;
        *field = wrap(expanded.0.ok().map(IdRef));
        Ok(())
    }
}

/// Metadata: string keys to string values. Values of other types are dropped.
impl Lenient for BTreeMap<String, String> {
    fn from_object(fields: &mut dyn Fields, field: &mut Field<Self>) -> Result<(), Stop> {
        #[derive(Default)]
        struct Entries {
            map: BTreeMap<String, String>,
            key: String,
            value: Field<String>,
        }
        impl Entries {
            fn keep(&mut self) {
                if let Field::Value(v) = core::mem::take(&mut self.value) {
                    self.map.insert(core::mem::take(&mut self.key), v);
                }
            }
        }
        impl Record for Entries {
            // The value read for the previous key is kept here, as the next one begins.
            fn field(&mut self, key: &str) -> Result<Option<Read<'_>>, &'static str> {
                self.keep();
                self.key = key.to_string();
                Ok(Some(Read::into(&mut self.value)))
            }
        }
        let mut entries = Entries::default();
        fields.read(&mut entries)?;
        entries.keep();
        *field = Field::Value(entries.map);
        Ok(())
    }
}

/// The decoder's side of reading an object: the place each field of it is read into.
trait Record {
    /// Where the value of field `key` goes; `None` skips it; `Err` names a field read twice.
    fn field(&mut self, key: &str) -> Result<Option<Read<'_>>, &'static str>;
}

/// Where one JSON value is read into.
///
/// The decoder is one pass over the JSON, as serde's derive would make it, but with the types
/// erased: every value is read by the same few functions, which call the slot it belongs in.
/// A derived visitor per type made each of them its own copy of `serde_json`'s parser
/// (BENCHMARKS.md, seventh run).
trait Slot {
    /// Whether a value has been read into this slot (a second one is a duplicate field).
    fn is_set(&self) -> bool;
    /// Which JSON values this slot takes: any (a lenient field), or an object or array only.
    fn wants(&self) -> Want {
        Want::Any
    }
    /// What a strict slot expected, for the error when it gets something else.
    fn expecting(&self) -> &'static str {
        "any JSON value"
    }
    fn scalar(&mut self, v: Scalar<'_>);
    fn object(&mut self, fields: &mut dyn Fields) -> Result<(), Stop>;
    fn array(&mut self, items: &mut dyn Items) -> Result<(), Stop>;
}

/// The JSON values a [`Slot`] takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Any,
    Object,
    Array,
}

/// An object being read: its fields go into a [`Record`], or are skipped.
trait Fields {
    fn read(&mut self, record: &mut dyn Record) -> Result<(), Stop>;
    fn skip(&mut self) -> Result<(), Stop>;
}

/// An array being read: each element goes into a [`Slot`], or all are skipped.
trait Items {
    /// Reads the next element; `false` at the end of the array.
    fn next(&mut self, element: Read<'_>) -> Result<bool, Stop>;
    fn skip(&mut self) -> Result<(), Stop>;
}

/// Reading stopped on an error, which the [`Fields`] or [`Items`] that met it holds.
struct Stop;

impl<T: Lenient> Slot for Field<T> {
    fn is_set(&self) -> bool {
        !matches!(self, Field::Absent)
    }
    fn scalar(&mut self, v: Scalar<'_>) {
        *self = match v {
            Scalar::Null => Field::Null,
            v => wrap(T::from_scalar(v)),
        };
    }
    fn object(&mut self, fields: &mut dyn Fields) -> Result<(), Stop> {
        T::from_object(fields, self)
    }
    fn array(&mut self, items: &mut dyn Items) -> Result<(), Stop> {
        items.skip()?;
        *self = Field::Invalid;
        Ok(())
    }
}

fn wrap<T>(v: Option<T>) -> Field<T> {
    v.map_or(Field::Invalid, Field::Value)
}

/// A slot that takes an object only, read into a record.
struct Strict<'r>(&'r mut dyn Record);

impl Slot for Strict<'_> {
    fn is_set(&self) -> bool {
        false
    }
    fn wants(&self) -> Want {
        Want::Object
    }
    fn expecting(&self) -> &'static str {
        "a JSON object"
    }
    // Never called: the parser refuses anything but an object for `Want::Object`.
    fn scalar(&mut self, _: Scalar<'_>) {}
    fn object(&mut self, fields: &mut dyn Fields) -> Result<(), Stop> {
        fields.read(self.0)
    }
    fn array(&mut self, items: &mut dyn Items) -> Result<(), Stop> {
        items.skip()
    }
}

/// One JSON value to read, and the [`Slot`] it goes into.
struct Read<'s> {
    slot: &'s mut dyn Slot,
    want: Want,
}

impl<'s> Read<'s> {
    /// Reads into `slot`. What it wants is asked here, where its type is known, rather than
    /// through the `dyn Slot` for every value.
    fn into<S: Slot>(slot: &'s mut S) -> Self {
        Read { want: slot.wants(), slot }
    }
}

impl<'de> DeserializeSeed<'de> for Read<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.want {
            Want::Any => d.deserialize_any(self),
            Want::Object => d.deserialize_map(self),
            Want::Array => d.deserialize_seq(self),
        }
    }
}

impl<'de> Visitor<'de> for Read<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slot.expecting())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.slot.scalar(Scalar::Null);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.slot.scalar(Scalar::Bool(v));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.slot.scalar(Scalar::U64(v));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.slot.scalar(Scalar::I64(v));
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.slot.scalar(Scalar::Float);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.slot.scalar(Scalar::Str(v));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let mut items = Reader { access: seq, error: None };
        let read = self.slot.array(&mut items);
        items.finish(read)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let mut fields = Reader { access: map, error: None };
        let read = self.slot.object(&mut fields);
        fields.finish(read)
    }
}

/// A map or sequence being read, and the error that stopped it.
struct Reader<A, E> {
    access: A,
    error: Option<E>,
}

impl<A, E: de::Error> Reader<A, E> {
    fn keep<T>(&mut self, r: Result<T, E>) -> Result<T, Stop> {
        r.map_err(|e| {
            self.error = Some(e);
            Stop
        })
    }
    fn finish(self, read: Result<(), Stop>) -> Result<(), E> {
        match (read, self.error) {
            (Ok(()), None) => Ok(()),
            (_, Some(e)) => Err(e),
            (Err(Stop), None) => Err(E::custom("the event could not be read")),
        }
    }
}

impl<'de, A: MapAccess<'de>> Fields for Reader<A, A::Error> {
    fn read(&mut self, record: &mut dyn Record) -> Result<(), Stop> {
        loop {
            let key = self.access.next_key_seed(Key(&mut *record));
            match self.keep(key)? {
                None => return Ok(()),
                Some(Some(read)) => {
                    let value = self.access.next_value_seed(read);
                    self.keep(value)?
                }
                Some(None) => {
                    let value = self.access.next_value::<IgnoredAny>();
                    self.keep(value)?;
                }
            }
        }
    }
    fn skip(&mut self) -> Result<(), Stop> {
        loop {
            let entry = self.access.next_entry::<IgnoredAny, IgnoredAny>();
            if self.keep(entry)?.is_none() {
                return Ok(());
            }
        }
    }
}

impl<'de, A: SeqAccess<'de>> Items for Reader<A, A::Error> {
    fn next(&mut self, element: Read<'_>) -> Result<bool, Stop> {
        let element = self.access.next_element_seed(element);
        self.keep(element).map(|e| e.is_some())
    }
    fn skip(&mut self) -> Result<(), Stop> {
        loop {
            let element = self.access.next_element::<IgnoredAny>();
            if self.keep(element)?.is_none() {
                return Ok(());
            }
        }
    }
}

/// Reads a field's name and finds its slot in the record.
struct Key<'r>(&'r mut dyn Record);

impl<'de, 'r> DeserializeSeed<'de> for Key<'r> {
    type Value = Option<Read<'r>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'r> Visitor<'de> for Key<'r> {
    type Value = Option<Read<'r>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        self.0.field(key).map_err(E::duplicate_field)
    }
}

/// A record of lenient fields, each named as in the JSON: a field read twice is refused.
macro_rules! record {
    ($t:ty { $($name:literal => $field:ident),* $(,)? }) => {
        impl Record for $t {
            fn field(&mut self, key: &str) -> Result<Option<Read<'_>>, &'static str> {
                match key {
                    $($name => if self.$field.is_set() {
                        Err($name)
                    } else {
                        Ok(Some(Read::into(&mut self.$field)))
                    },)*
                    _ => Ok(None),
                }
            }
        }
    };
}

/// A record that is a lenient field itself: an object reads it, anything else is invalid.
macro_rules! lenient_record {
    ($($t:ty),*) => {$(
        impl Lenient for $t {
            fn from_object(fields: &mut dyn Fields, field: &mut Field<Self>) -> Result<(), Stop> {
                *field = Field::Value(<$t>::default());
                match field {
                    Field::Value(record) => fields.read(record),
                    _ => Ok(()),
                }
            }
        }
    )*};
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

record!(RawList { "data" => data });

/// A list's `data`: an array of objects, each read as a [`RawItem`].
impl Slot for Option<Vec<RawItem>> {
    fn is_set(&self) -> bool {
        self.is_some()
    }
    fn wants(&self) -> Want {
        Want::Array
    }
    fn expecting(&self) -> &'static str {
        "a sequence"
    }
    // Never called: the parser refuses anything but an array for `Want::Array`.
    fn scalar(&mut self, _: Scalar<'_>) {}
    fn object(&mut self, fields: &mut dyn Fields) -> Result<(), Stop> {
        fields.skip()
    }
    fn array(&mut self, items: &mut dyn Items) -> Result<(), Stop> {
        let mut data = Vec::new();
        loop {
            let mut item = RawItem::default();
            if !items.next(Read::into(&mut Strict(&mut item)))? {
                break;
            }
            data.push(item);
        }
        *self = Some(data);
        Ok(())
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

record!(RawPaymentError {
    "code" => code,
    "decline_code" => decline_code,
    "message" => message,
    "type" => kind,
});

/// `next_action` of a PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawNextAction {
    pub(crate) kind: Field<String>,
    pub(crate) redirect_to_url: Field<RawRedirect>,
}

record!(RawNextAction { "type" => kind, "redirect_to_url" => redirect_to_url });

/// `next_action.redirect_to_url`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawRedirect {
    pub(crate) url: Field<String>,
}

record!(RawRedirect { "url" => url });

/// An element of a list whose items matter only for their id or period end.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawItem {
    pub(crate) id: Field<String>,
    pub(crate) current_period_end: Field<i64>,
}

record!(RawItem { "id" => id, "current_period_end" => current_period_end });

/// `invoice.parent` (API 2025-03-31 and later).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawInvoiceParent {
    pub(crate) subscription_details: Field<RawSubscriptionDetails>,
}

record!(RawInvoiceParent { "subscription_details" => subscription_details });

/// `invoice.parent.subscription_details`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RawSubscriptionDetails {
    pub(crate) subscription: Field<IdRef>,
}

record!(RawSubscriptionDetails { "subscription" => subscription });

lenient_record!(
    RawPaymentError,
    RawNextAction,
    RawRedirect,
    RawInvoiceParent,
    RawSubscriptionDetails,
    RawList,
    RawObject,
    RawData
);

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
    pub(crate) metadata: Field<BTreeMap<String, String>>,
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

record!(RawObject {
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
});

#[derive(Debug, Default)]
struct RawData {
    object: Field<RawObject>,
}

record!(RawData { "object" => object });

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

record!(RawEnvelope {
    "id" => id,
    "object" => object,
    "type" => event_type,
    "created" => created,
    "livemode" => livemode,
    "api_version" => api_version,
    "account" => account,
    "data" => data,
});

/// Reads `text`, a JSON object, into `record`; anything else is refused as not an object.
fn read_object(text: &str, record: &mut dyn Record) -> Result<(), serde_json::Error> {
    let mut json = serde_json::Deserializer::from_str(text);
    Read::into(&mut Strict(record)).deserialize(&mut json)?;
    json.end()
}

pub(super) fn decode_text(text: &str) -> Result<Event, DecodeError> {
    // An object only: the envelope is never an array.
    let mut envelope = RawEnvelope::default();
    read_object(text, &mut envelope).map_err(json_error)?;
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
    // serde_json appends " at line L column C"; keep the message and the position apart.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    DecodeError::InvalidJson { message, line: e.line(), column: e.column() }
}
