//! "invalid type" and "invalid value" errors for payhook's own JSON readers, worded as
//! serde_json words them except for a floating-point number, which is named without its digits,
//! and a string, which is quoted as a JSON string ([`Quoted`](crate::json::Quoted)): the same
//! text for any printable string, tabs and line breaks included.
//!
//! serde_json's `de::Error::invalid_type` quotes a float it refuses with its own float formatter
//! (`floating point `1.5``), and that formatter's tables are 17 KB of the component
//! (BENCHMARKS.md, eleventh run). A reader that refuses a value through these functions instead,
//! and never lets serde_json refuse one for it, keeps the formatter out of the component. The
//! line and column serde_json adds are unchanged.

use core::fmt;

use serde::de::{self, Expected};

/// What a reader found instead of what it expected: the JSON types, and a number as serde_json
/// reads it (an integer within `i64` or `u64`, or else a float).
#[derive(Clone, Copy)]
pub(crate) enum Found<'a> {
    Str(&'a str),
    Signed(i64),
    Unsigned(u64),
    /// A float, named without its digits.
    Float,
    Bool(bool),
    Null,
    Seq,
    Map,
}

/// Worded as serde_json words it (serde's `Unexpected`, with `null` for a unit), but a float as
/// `floating point number` and a string quoted as JSON.
impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Found::Str(s) => write!(f, "string {}", crate::json::Quoted(s)),
            Found::Signed(n) => write!(f, "integer `{n}`"),
            Found::Unsigned(n) => write!(f, "integer `{n}`"),
            Found::Float => f.write_str("floating point number"),
            Found::Bool(b) => write!(f, "boolean `{b}`"),
            Found::Null => f.write_str("null"),
            Found::Seq => f.write_str("sequence"),
            Found::Map => f.write_str("map"),
        }
    }
}

/// `invalid type: {found}, expected {expected}`.
pub(crate) fn invalid_type<E: de::Error>(found: Found<'_>, expected: &dyn Expected) -> E {
    E::custom(format_args!("invalid type: {found}, expected {expected}"))
}

/// `invalid value: {found}, expected {expected}`.
pub(crate) fn invalid_value<E: de::Error>(found: Found<'_>, expected: &dyn Expected) -> E {
    E::custom(format_args!("invalid value: {found}, expected {expected}"))
}

#[cfg(test)]
mod tests {
    use alloc::string::{String, ToString};

    use serde::de::Error as _;

    use super::*;

    /// What serde_json itself says.
    fn serde_json_says(unexpected: serde::de::Unexpected<'_>, value: bool) -> String {
        let e = if value {
            serde_json::Error::invalid_value(unexpected, &"a thing")
        } else {
            serde_json::Error::invalid_type(unexpected, &"a thing")
        };
        e.to_string()
    }

    #[test]
    fn every_refusal_but_a_float_reads_as_serde_json_writes_it() {
        use serde::de::Unexpected as U;
        let cases = [
            (Found::Str("a \"quoted\"\tline\\ é\r\n"), U::Str("a \"quoted\"\tline\\ é\r\n")),
            (Found::Signed(-7), U::Signed(-7)),
            (Found::Signed(i64::MIN), U::Signed(i64::MIN)),
            (Found::Unsigned(u64::MAX), U::Unsigned(u64::MAX)),
            (Found::Bool(true), U::Bool(true)),
            (Found::Bool(false), U::Bool(false)),
            (Found::Null, U::Unit),
            (Found::Seq, U::Seq),
            (Found::Map, U::Map),
        ];
        for (found, unexpected) in cases {
            for value in [false, true] {
                let ours: serde_json::Error = if value {
                    invalid_value(found, &"a thing")
                } else {
                    invalid_type(found, &"a thing")
                };
                assert_eq!(ours.to_string(), serde_json_says(unexpected, value));
            }
        }
        // A string with a control character but `\t`, `\r` and `\n`: quoted as a JSON string,
        // where serde_json quotes it as Rust does (`\0`, `\u{1b}`, and `\u{7f}` escaped).
        assert_eq!(serde_json_says(U::Str("\0\u{1b}\u{7f}"), false), r#"invalid type: string "\0\u{1b}\u{7f}", expected a thing"#);
        let ours: serde_json::Error = invalid_type(Found::Str("\0\u{1b}\u{7f}\u{200b}"), &"a thing");
        assert_eq!(ours.to_string(), "invalid type: string \"\\u0000\\u001b\u{7f}\u{200b}\", expected a thing");
        // A float: the type, not its digits.
        assert_eq!(serde_json_says(U::Float(1.5), false), "invalid type: floating point `1.5`, expected a thing");
        let ours: serde_json::Error = invalid_type(Found::Float, &"a thing");
        assert_eq!(ours.to_string(), "invalid type: floating point number, expected a thing");
        let ours: serde_json::Error = invalid_value(Found::Float, &"a thing");
        assert_eq!(ours.to_string(), "invalid value: floating point number, expected a thing");
    }
}
