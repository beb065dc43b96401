//! JSON read only in the shapes payhook writes: objects for a document's top ([`Object`]) and
//! the struct-valued fields and map values inside a state document ([`read`], [`optional`],
//! [`values`]); names, JSON strings, for a state document's unit-only enums ([`named_enum!`]).

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt;
use core::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// `T` read from a JSON object, and from nothing else.
///
/// serde's derive for a struct reads it from an object, or from an array of its fields in
/// order. No document payhook reads (an event, a state) is such an array, and that second path
/// is code in the WebAssembly component for every struct read at the top of a document.
/// Reading `T` through a [`MapAccessDeserializer`] leaves it out; an array is refused as not an
/// object ("invalid type: sequence, expected a JSON object").
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Object)
    }
}

/// For `#[serde(deserialize_with = "crate::object::read")]` on a struct-valued field: the
/// field is read as an [`Object`].
pub(crate) fn read<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    Object::<T>::deserialize(deserializer).map(|o| o.0)
}

/// For `#[serde(default, deserialize_with = "crate::object::optional")]` on an optional
/// struct-valued field: `null` (or, with `default`, no field) is `None`, else an [`Object`].
pub(crate) fn optional<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::<Object<T>>::deserialize(deserializer).map(|o| o.map(|o| o.0))
}

/// For `#[serde(deserialize_with = "crate::object::values")]` on a map whose values are
/// structs: a JSON object whose every value is read as an [`Object`]. As with serde's own map
/// reader, a key given twice keeps its last value.
pub(crate) fn values<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, T>, D::Error> {
    deserializer.deserialize_map(ValuesVisitor(PhantomData))
}

struct ValuesVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ValuesVisitor<T> {
    type Value = BTreeMap<String, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = BTreeMap::new();
        while let Some((key, Object(value))) = map.next_entry::<String, Object<T>>()? {
            values.insert(key, value);
        }
        Ok(values)
    }
}

/// The index of `names` that a JSON string names, for a unit-only enum read by its name (see
/// [`named_enum!`]). One reader serves every such enum, where serde's derive makes an enum
/// reader for each. Anything but a string is refused as `invalid type`, and a string not in
/// `names` as `unknown variant`, with the names expected.
pub(crate) fn variant<'de, D: Deserializer<'de>>(
    deserializer: D,
    names: &'static [&'static str],
) -> Result<usize, D::Error> {
    deserializer.deserialize_str(VariantVisitor(names))
}

struct VariantVisitor(&'static [&'static str]);

impl Visitor<'_> for VariantVisitor {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a variant name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<usize, E> {
        self.0.iter().position(|name| *name == v).ok_or_else(|| E::unknown_variant(v, self.0))
    }
}

/// `Deserialize` for a unit-only enum from its name, through [`variant`]: every variant, each
/// with the name its derived `Serialize` writes (the test `named_enum_round_trips` holds the
/// two together).
macro_rules! named_enum {
    ($ty:ty { $($variant:ident = $name:literal),+ $(,)? }) => {
        #[cfg(test)]
        impl $ty {
            /// Every variant, with its name as stored.
            pub(crate) const NAMED: &'static [($ty, &'static str)] = &[$((<$ty>::$variant, $name)),+];
        }

        // A variant left out of the list does not compile.
        const _: fn($ty) = |value| match value {
            $(<$ty>::$variant => {})+
        };

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                const NAMES: &[&str] = &[$($name),+];
                const ALL: &[$ty] = &[$(<$ty>::$variant),+];
                crate::object::variant(deserializer, NAMES).map(|i| ALL[i])
            }
        }
    };
}
pub(crate) use named_enum;
