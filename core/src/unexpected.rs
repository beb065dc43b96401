//! "invalid type" and "invalid value" errors for payhook's own JSON readers, worded as
//! serde_json words them except for a floating-point number, which is named without its digits.
//!
//! serde_json's `de::Error::invalid_type` quotes a float it refuses with its own float formatter
//! (`floating point `1.5``), and that formatter's tables are 17 KB of the component
//! (BENCHMARKS.md, eleventh run). A reader that refuses a value through these functions instead,
//! and never lets serde_json refuse one for it, keeps the formatter out of the component. The
//! line and column serde_json adds are unchanged.

use core::fmt;

use serde::de::{self, Expected, Unexpected};

/// `unexpected` as serde_json writes it (`null` for a unit, serde's wording for the rest), but a
/// float as `floating point number`.
struct Found<'a>(Unexpected<'a>);

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Unexpected::Float(_) => f.write_str("floating point number"),
            Unexpected::Unit => f.write_str("null"),
            other => fmt::Display::fmt(&other, f),
        }
    }
}

/// `invalid type: {unexpected}, expected {expected}`.
pub(crate) fn invalid_type<E: de::Error>(unexpected: Unexpected<'_>, expected: &dyn Expected) -> E {
    E::custom(format_args!("invalid type: {}, expected {}", Found(unexpected), expected))
}

/// `invalid value: {unexpected}, expected {expected}`.
pub(crate) fn invalid_value<E: de::Error>(unexpected: Unexpected<'_>, expected: &dyn Expected) -> E {
    E::custom(format_args!("invalid value: {}, expected {}", Found(unexpected), expected))
}

#[cfg(test)]
mod tests {
    use alloc::string::{String, ToString};

    use serde::de::Error as _;

    use super::*;

    /// What serde_json itself says.
    fn serde_json_says(unexpected: Unexpected<'_>, value: bool) -> String {
        let e = if value {
            serde_json::Error::invalid_value(unexpected, &"a thing")
        } else {
            serde_json::Error::invalid_type(unexpected, &"a thing")
        };
        e.to_string()
    }

    #[test]
    fn every_refusal_but_a_float_reads_as_serde_json_writes_it() {
        let cases = [
            Unexpected::Str("a \"quoted\"\nline"),
            Unexpected::Signed(-7),
            Unexpected::Unsigned(u64::MAX),
            Unexpected::Bool(true),
            Unexpected::Unit,
            Unexpected::Seq,
            Unexpected::Map,
            Unexpected::Other("something"),
        ];
        for unexpected in cases {
            for value in [false, true] {
                let ours: serde_json::Error = if value {
                    invalid_value(unexpected, &"a thing")
                } else {
                    invalid_type(unexpected, &"a thing")
                };
                assert_eq!(ours.to_string(), serde_json_says(unexpected, value));
            }
        }
        // A float: the type, not its digits.
        assert_eq!(serde_json_says(Unexpected::Float(1.5), false), "invalid type: floating point `1.5`, expected a thing");
        let ours: serde_json::Error = invalid_type(Unexpected::Float(1.5), &"a thing");
        assert_eq!(ours.to_string(), "invalid type: floating point number, expected a thing");
        let ours: serde_json::Error = invalid_value(Unexpected::Float(-0.0), &"a thing");
        assert_eq!(ours.to_string(), "invalid value: floating point number, expected a thing");
    }
}
