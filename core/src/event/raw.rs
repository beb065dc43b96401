//! The wire side of decoding: one pass over the JSON with lenient fields.
//!
//! Every field is a [`Field`]: absent, null, a value, or a value of the wrong JSON type. Nothing
//! is buffered, so the body is read once; objects of kinds the domain does not use may reuse a
//! field name with another type without failing the decode, while a wrong type in an object the
//! domain does use becomes a precise error in [`super::object`].

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{DecodeError, Event, EventId, EventType, object};
use crate::object::Object;

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

/// A type that a lenient field can hold; each JSON kind it does not accept yields `None`.
pub(crate) trait Lenient: Sized {
    fn from_u64(_: u64) -> Option<Self> {
        None
    }
    fn from_i64(_: i64) -> Option<Self> {
        None
    }
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl Lenient for i64 {
    fn from_u64(v: u64) -> Option<Self> {
        i64::try_from(v).ok()
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(v)
    }
}

impl Lenient for bool {
    fn from_bool(v: bool) -> Option<Self> {
        Some(v)
    }
}

impl Lenient for String {
    fn from_str(v: &str) -> Option<Self> {
        Some(v.to_string())
    }
}

/// An id that may come as a string or as an expanded object with an `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdRef(pub(crate) String);

impl Lenient for IdRef {
    fn from_str(v: &str) -> Option<Self> {
        Some(IdRef(v.to_string()))
    }
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut id = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "id" {
                id = map.next_value::<Field<String>>()?.ok();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(id.map(IdRef))
    }
}

/// Metadata: string keys to string values. Values of other types are dropped.
impl Lenient for BTreeMap<String, String> {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if let Field::Value(v) = map.next_value::<Field<String>>()? {
                out.insert(key, v);
            }
        }
        Ok(Some(out))
    }
}

/// Lets a derived struct be a lenient field: a JSON object decodes it, anything else is invalid.
macro_rules! lenient_struct {
    ($($t:ty),*) => {$(
        impl Lenient for $t {
            fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
                <$t>::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
            }
        }
    )*};
}

impl<'de, T: Lenient> Deserialize<'de> for Field<T> {
    // One out-of-line copy per field type, called from the derived visitors, rather than one
    // inlined per field: 1.6k fewer instructions per webhook in the component (BENCHMARKS.md,
    // sixth run), for 0.8 KB.
    #[inline(never)]
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

fn wrap<T>(v: Option<T>) -> Field<T> {
    v.map_or(Field::Invalid, Field::Value)
}

impl<'de, T: Lenient> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(wrap(T::from_bool(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(wrap(T::from_u64(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(wrap(T::from_i64(v)))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Invalid)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(wrap(T::from_str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Invalid)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(wrap(T::from_map(map)?))
    }
}

/// A Stripe list object (`{"object": "list", "data": [...]}`); only `data` is read.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RawList<T> {
    pub(crate) data: alloc::vec::Vec<T>,
}

/// `last_payment_error` of a PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RawPaymentError {
    pub(crate) code: Field<String>,
    pub(crate) decline_code: Field<String>,
    pub(crate) message: Field<String>,
    #[serde(rename = "type")]
    pub(crate) kind: Field<String>,
}

/// `next_action` of a PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RawNextAction {
    #[serde(rename = "type")]
    pub(crate) kind: Field<String>,
    pub(crate) redirect_to_url: Field<RawRedirect>,
}

/// `next_action.redirect_to_url`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RawRedirect {
    pub(crate) url: Field<String>,
}

/// An element of a list whose items matter only for their id or period end.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RawItem {
    pub(crate) id: Field<String>,
    pub(crate) current_period_end: Field<i64>,
}

/// `invoice.parent` (API 2025-03-31 and later).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RawInvoiceParent {
    pub(crate) subscription_details: Field<RawSubscriptionDetails>,
}

/// `invoice.parent.subscription_details`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RawSubscriptionDetails {
    pub(crate) subscription: Field<IdRef>,
}

lenient_struct!(
    RawPaymentError,
    RawNextAction,
    RawRedirect,
    RawInvoiceParent,
    RawSubscriptionDetails,
    RawList<RawItem>,
    RawObject
);

/// The union of the object fields the domain reads, over every object kind it uses.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
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
    pub(crate) items: Field<RawList<RawItem>>,
    pub(crate) charges: Field<RawList<RawItem>>,
    pub(crate) parent: Field<RawInvoiceParent>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RawData {
    object: Field<RawObject>,
}

impl Lenient for RawData {
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        RawData::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RawEnvelope {
    id: Field<String>,
    object: Field<String>,
    #[serde(rename = "type")]
    event_type: Field<String>,
    created: Field<i64>,
    livemode: Field<bool>,
    api_version: Field<String>,
    account: Field<String>,
    data: Field<RawData>,
}

pub(super) fn decode_text(text: &str) -> Result<Event, DecodeError> {
    // An object only (see `Object`): the envelope is never an array.
    let Object(envelope) = serde_json::from_str::<Object<RawEnvelope>>(text).map_err(json_error)?;
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
