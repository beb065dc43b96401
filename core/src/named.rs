//! Unit-only enums read by their names, JSON strings ([`named_enum!`]): a state document's
//! statuses, a dispute's status, a cancellation's reason, an attempt's kind.

use core::fmt;

use serde::de::{Deserializer, Visitor};

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
        impl $ty {
            /// The names of its variants, as stored, in the order of [`Self::ALL`].
            pub(crate) const NAMES: &'static [&'static str] = &[$($name),+];
            /// Its variants.
            pub(crate) const ALL: &'static [$ty] = &[$(<$ty>::$variant),+];
            /// Every variant, with its name as stored.
            #[cfg(test)]
            pub(crate) const NAMED: &'static [($ty, &'static str)] = &[$((<$ty>::$variant, $name)),+];
        }

        // A variant left out of the list does not compile.
        const _: fn($ty) = |value| match value {
            $(<$ty>::$variant => {})+
        };

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::named::variant(deserializer, <$ty>::NAMES).map(|i| <$ty>::ALL[i])
            }
        }
    };
}
pub(crate) use named_enum;
