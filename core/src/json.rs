//! JSON written exactly as `serde_json::to_string` writes it, by a `Serializer` that keeps
//! little per type: the machines' state documents and decisions, and Stripe's answers as the
//! component hands them back.
//!
//! serde_json's serializer writes each struct field's key, escaping and all, inside a copy of
//! `serialize_field` made for each field's type, and the copies are large; writing the four
//! machines' states and decisions took 28 KB of the WebAssembly component. Here a field name, a
//! string and an integer are each written by one function, and what is made per type is only
//! the call to them: 7 KB less, and 3 KB more when Stripe's answers are written this way too. A
//! field name is written without looking for characters to escape (the types written here have
//! none, and a debug build checks), which made writing a decision take fewer instructions than
//! serde_json's, not more.
//!
//! It writes structs, enums, maps with string keys, sequences, options, strings, integers,
//! booleans and `f64` (as serde_json does: shortest round-trip digits, `null` when not finite).
//! An `f32`, bytes, a 128-bit integer or a map key that is not a string is refused
//! ([`Unsupported`]); no type written here has one. Every decision the machines' property tests
//! make is checked against serde_json's output (`machine::testing::run`), and so is every answer
//! in the project's Stripe fixtures.

use alloc::string::String;
use core::fmt;

use serde::Serialize;
use serde::ser;

/// Writes `value` as JSON, as `serde_json::to_string` would.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Unsupported> {
    // A decision is a few hundred bytes to a few kilobytes.
    let mut writer = Writer(String::with_capacity(512));
    value.serialize(&mut writer)?;
    Ok(writer.0)
}

/// Appends `text` to `out` as a JSON string, escaped as [`to_string`] escapes, or `null`.
pub(crate) fn push_text(out: &mut String, text: Option<&str>) {
    let mut writer = Writer(core::mem::take(out));
    match text {
        Some(text) => writer.string(text),
        None => writer.0.push_str("null"),
    }
    *out = writer.0;
}

/// A text quoted for a message, as a JSON string (`"…"`, with `"`, `\` and the characters below
/// U+0020 escaped as [`to_string`] escapes them), where `{:?}` would quote it as Rust does.
///
/// Rust's quoting decides what to escape with Unicode tables (which characters are printable,
/// which extend a grapheme): 5.3 KB of the WebAssembly component, code and data, for messages
/// only. JSON's rules need none. The two read the same for any printable text, tabs and line
/// breaks included; another character below U+0020 is escaped as JSON escapes it (`\u001b`,
/// not `\u{1b}`), and one Rust would escape as invisible (`\u{7f}`, `\u{200b}`) is kept as it is.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        push_text(&mut out, Some(self.0));
        f.write_str(&out)
    }
}

/// A value this writer does not write (see the module's documentation).
#[derive(Debug, PartialEq, Eq)]
pub struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value payhook's JSON writer does not write (an f32, bytes, a 128-bit integer or a map key that is not a string)")
    }
}

impl core::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

/// Where the first byte JSON escapes (`"`, `\` or one below 0x20) is in `bytes`, or its
/// length if there is none. Eight bytes are tested at a time, with the word-at-a-time test
/// for a byte below a bound (as serde_json's reader looks for the end of a string). A native
/// build vectorises a byte-by-byte loop and a WebAssembly build cannot: writing the strings of
/// the benchmark's decision took 6.1k instructions in the component with that loop and takes
/// 3.5k with this one (natively 3.0k and 2.1k).
#[inline]
fn first_escape(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    let (words, rest) = bytes.as_chunks::<8>();
    // Counted rather than derived from an index: 0.3k fewer instructions per decision in the
    // component.
    let mut at = 0;
    for &word in words {
        let word = u64::from_le_bytes(word);
        // A byte's top bit is set in `below(x, n)` if it is below `n` (and, past the first
        // such byte, perhaps where it is not: only the lowest one is read).
        let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x;
        let control = below(word, 0x20);
        let quote = below(word ^ (ONES * u64::from(b'"')), 1);
        let backslash = below(word ^ (ONES * u64::from(b'\\')), 1);
        let found = (control | quote | backslash) & (ONES << 7);
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let tail = rest.iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\');
    at + tail.unwrap_or(rest.len())
}

/// The JSON written so far.
struct Writer(String);

impl Writer {
    /// A JSON string, escaped as serde_json escapes: `"`, `\` and the control characters, the
    /// usual ones by letter and the rest as `\u00xx`; nothing else.
    #[inline(never)]
    fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let out = &mut self.0;
        out.reserve(s.len() + 2);
        out.push('"');
        let bytes = s.as_bytes();
        let mut start = 0;
        loop {
            let i = start + first_escape(&bytes[start..]);
            let Some(&byte) = bytes.get(i) else { break };
            // Every byte escaped is ASCII, so `i` is a character boundary.
            out.push_str(&s[start..i]);
            match byte {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                _ => {
                    out.push_str("\\u00");
                    out.push(char::from(HEX[usize::from(byte >> 4)]));
                    out.push(char::from(HEX[usize::from(byte & 0xf)]));
                }
            }
            start = i + 1;
        }
        out.push_str(&s[start..]);
        out.push('"');
    }

    /// An unsigned integer in decimal.
    #[inline(never)]
    fn unsigned(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &digit in &digits[at..] {
            self.0.push(char::from(digit));
        }
    }

    /// A struct's field name, after a comma unless it is the first. A field name is a Rust
    /// identifier or a serde rename of the machines' types, none of which has a character
    /// JSON escapes, so it is written as it is (the tests hold this for every type).
    #[inline(never)]
    fn key(&mut self, first: &mut bool, key: &str) {
        debug_assert!(!key.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'), "{key}");
        self.separate(first);
        self.0.push('"');
        self.0.push_str(key);
        self.0.push_str("\":");
    }

    /// A comma before every element but the first.
    #[inline]
    fn separate(&mut self, first: &mut bool) {
        if !core::mem::take(first) {
            self.0.push(',');
        }
    }

    /// Opens a compound value: `open` now, `close` at its end.
    #[inline]
    fn compound(&mut self, open: &str, close: &'static str) -> Compound<'_> {
        self.0.push_str(open);
        Compound { writer: self, first: true, close }
    }

    /// Opens a variant's compound value: `{"variant":` and `open`, closed by `close` and `}`.
    fn variant(&mut self, variant: &str, open: &str, close: &'static str) -> Compound<'_> {
        self.0.push('{');
        self.string(variant);
        self.0.push(':');
        self.compound(open, close)
    }
}

/// A sequence, map or struct being written.
struct Compound<'a> {
    writer: &'a mut Writer,
    first: bool,
    close: &'static str,
}

impl Compound<'_> {
    #[inline(never)]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.writer.separate(&mut self.first);
        value.serialize(&mut *self.writer)
    }

    #[inline(never)]
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Unsupported> {
        self.writer.key(&mut self.first, key);
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.writer.0.push_str(self.close);
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.0.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        if v < 0 {
            self.0.push('-');
        }
        self.unsigned(v.unsigned_abs());
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.unsigned(v);
        Ok(())
    }

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_f64(self, v: f64) -> Result<(), Unsupported> {
        // serde_json's own digits (a finite `Number` displays as serde_json writes it); `null`
        // for NaN and the infinities, as serde_json writes them.
        match serde_json::Number::from_f64(v) {
            Some(n) => {
                use core::fmt::Write as _;
                // Writing to a `String` cannot fail.
                let _ = write!(self.0, "{n}");
            }
            None => self.0.push_str("null"),
        }
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.string(v);
        Ok(())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.0.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Unsupported> {
        self.string(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        let mut compound = self.variant(variant, "", "}");
        compound.element(value)?;
        compound.end()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Unsupported> {
        Ok(self.compound("[", "]"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, Unsupported> {
        Ok(self.compound("[", "]"))
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Unsupported> {
        Ok(self.compound("[", "]"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Unsupported> {
        Ok(self.variant(variant, "[", "]}"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Unsupported> {
        Ok(self.compound("{", "}"))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Unsupported> {
        Ok(self.compound("{", "}"))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Unsupported> {
        Ok(self.variant(variant, "{", "}}"))
    }
}

/// serde's compound traits whose elements have no key: each element after a comma.
macro_rules! elements {
    ($($compound:ident::$method:ident),*) => {$(
        impl ser::$compound for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.element(value)
            }

            fn end(self) -> Result<(), Unsupported> {
                Compound::end(self)
            }
        }
    )*};
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        let at = self.writer.0.len();
        self.element(key)?;
        // A key must have been written as a JSON string.
        let written = &self.writer.0.as_bytes()[at..];
        match written.strip_prefix(b",").unwrap_or(written).first() {
            Some(b'"') => Ok(()),
            _ => Err(Unsupported),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.writer.0.push(':');
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), Unsupported> {
        Compound::end(self)
    }
}

/// serde's compound traits whose elements are named fields: each field after its name.
macro_rules! fields {
    ($($compound:ident),*) => {$(
        impl ser::$compound for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;

            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Unsupported> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), Unsupported> {
                Compound::end(self)
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn a_quoted_text_reads_as_rust_quotes_it_but_for_control_and_invisible_characters() {
        for text in ["", "pi_123", "a \"quoted\" word", "back\\slash", "tab\tand\r\nnewline", "éü€😀"] {
            assert_eq!(Quoted(text).to_string(), alloc::format!("{text:?}"));
        }
        // JSON's escapes, where Rust's would be `\0`, `\u{1b}`, `\u{7f}` and `\u{200b}`.
        assert_eq!(Quoted("\0\u{1b}\u{8}\u{c}").to_string(), r#""\u0000\u001b\b\f""#);
        assert_eq!(Quoted("\u{7f}\u{200b}").to_string(), "\"\u{7f}\u{200b}\"");
        // And it is a JSON string that reads back as the text.
        let text = "\0\u{1b}\"\\\n\u{7f}é";
        assert_eq!(serde_json::from_str::<String>(&Quoted(text).to_string()).unwrap(), text);
    }

    #[test]
    fn strings_and_numbers_are_written_as_serde_json_writes_them() {
        let every_byte: String = (0u8..=0x7f).map(char::from).chain(['é', '€', '😀', '\u{7f}', '\u{2028}']).collect();
        for s in [every_byte.as_str(), "", "plain", "a\"b\\c", "\u{1f}\n\r\t\u{8}\u{c}", "end\\"] {
            assert_eq!(to_string(s).unwrap(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
        for n in [0, 1, 9, 10, -1, -10, 1234567890, i64::MAX, i64::MIN] {
            assert_eq!(to_string(&n).unwrap(), n.to_string());
        }
        assert_eq!(to_string(&u64::MAX).unwrap(), u64::MAX.to_string());
        assert_eq!(to_string(&'"').unwrap(), r#""\"""#);
    }

    proptest::proptest! {
        /// The word-at-a-time search finds the byte the plain search finds, wherever it is in
        /// the eight-byte words and the tail, and after bytes from 0x80 up (which must not borrow
        /// into a false match).
        #[test]
        fn the_first_byte_to_escape_is_found_as_a_byte_by_byte_search_finds_it(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    0x20u8..=0xff,
                    proptest::sample::select(vec![b'"', b'\\', 0, 0x1f, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff]),
                ],
                0..40,
            )
        ) {
            let plain = bytes.iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\').unwrap_or(bytes.len());
            proptest::prop_assert_eq!(first_escape(&bytes), plain);
        }

        /// Any text, escapes and multi-byte characters included, is written as serde_json
        /// writes it.
        #[test]
        fn any_text_is_written_as_serde_json_writes_it(text in "(?s).{0,40}|[\\x00-\\x7f]{0,40}") {
            proptest::prop_assert_eq!(to_string(&text).unwrap(), serde_json::to_string(&text).unwrap());
        }
    }

    #[test]
    fn compound_values_are_written_as_serde_json_writes_them() {
        #[derive(Serialize)]
        enum E {
            Unit,
            Newtype(i64),
            Tuple(i64, bool),
            Struct { a: Option<i64>, b: Vec<()> },
        }
        #[derive(Serialize)]
        struct S {
            map: BTreeMap<String, E>,
            empty: BTreeMap<String, E>,
            tuple: (u8, i8),
            list: Vec<E>,
            none: Option<bool>,
        }
        let mut map = BTreeMap::new();
        map.insert("b".to_string(), E::Newtype(-3));
        map.insert("a\"".to_string(), E::Struct { a: Some(1), b: vec![(), ()] });
        let value = S {
            map,
            empty: BTreeMap::new(),
            tuple: (255, -128),
            list: vec![E::Unit, E::Tuple(7, true), E::Struct { a: None, b: vec![] }],
            none: None,
        };
        assert_eq!(to_string(&value).unwrap(), serde_json::to_string(&value).unwrap());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "a\"b")]
    fn a_field_name_that_would_need_escaping_is_caught_in_a_debug_build() {
        #[derive(Serialize)]
        struct Odd {
            #[serde(rename = "a\"b")]
            field: bool,
        }
        let _ = to_string(&Odd { field: true });
    }

    #[test]
    fn an_f64_is_written_as_serde_json_writes_it() {
        for v in [
            1.5,
            -0.0,
            0.0,
            0.1,
            2000.0,
            1e300,
            -1e-7,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(to_string(&v).unwrap(), serde_json::to_string(&v).unwrap(), "{v}");
        }
        let value = serde_json::json!({"percent_off": 12.5, "n": [1, -2, 3.0, u64::MAX], "x": {"y": null}});
        assert_eq!(to_string(&value).unwrap(), serde_json::to_string(&value).unwrap());
    }

    #[test]
    fn f32_bytes_wide_integers_and_keys_that_are_not_strings_are_refused() {
        assert_eq!(to_string(&1.5f32), Err(Unsupported));
        assert_eq!(to_string(&serde_bytes_like()), Err(Unsupported));
        assert_eq!(to_string(&1u128), Err(Unsupported));
        let mut by_number = BTreeMap::new();
        by_number.insert(1, 2);
        assert_eq!(to_string(&by_number), Err(Unsupported));
        let mut by_none = BTreeMap::new();
        by_none.insert(None::<String>, 2);
        assert_eq!(to_string(&by_none), Err(Unsupported));
    }

    /// Something serialised as bytes.
    fn serde_bytes_like() -> impl Serialize {
        struct Bytes;
        impl Serialize for Bytes {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b"x")
            }
        }
        Bytes
    }
}
