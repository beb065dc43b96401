//! Stripe's form encoding: nested values flattened in bracket syntax
//! (`metadata[invoice_id]=inv_1`, `line_items[0][price_data][currency]=eur`), percent-encoded.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// Everything but the characters that need no escaping in a form value (RFC 3986 unreserved).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Flattens a JSON object into `(name, value)` pairs in bracket syntax, sorted by name. Nulls are
/// left out; booleans are `true`/`false`; an empty object or array is left out.
pub fn flatten(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Object(map) = value {
        for (k, v) in map {
            walk(k.clone(), v, &mut out);
        }
    }
    out.sort();
    out
}

fn walk(name: String, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push((name, b.to_string())),
        Value::Number(n) => out.push((name, n.to_string())),
        Value::String(s) => out.push((name, s.clone())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(format!("{name}[{i}]"), item, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                walk(format!("{name}[{k}]"), v, out);
            }
        }
    }
}

/// `a=1&b%5Bc%5D=x+y`-style encoding of the pairs, in order (spaces as `%20`).
pub fn encode(params: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(k, FORM));
        out.push('=');
        out.extend(utf8_percent_encode(v, FORM));
    }
    out
}
