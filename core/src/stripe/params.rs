//! Stripe's form encoding: pairs whose names carry nesting in bracket syntax
//! (`metadata[invoice_id]=inv_1`, `line_items[0][price_data][currency]=eur`), percent-encoded.

use alloc::collections::BinaryHeap;
use alloc::string::String;
use alloc::vec::Vec;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but the characters that need no escaping in a form value (RFC 3986 unreserved).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

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

/// Sorts form pairs by name, then value.
///
/// A heap sort (`BinaryHeap`), in O(n log n) like the slice's own sort, which is 12 KB of code
/// in the WebAssembly component for this one element type (BENCHMARKS.md, seventh run). Pairs
/// that compare equal are identical, so the order among them cannot show.
pub(crate) fn sort(pairs: &mut Vec<(String, String)>) {
    *pairs = BinaryHeap::from(core::mem::take(pairs)).into_sorted_vec();
}
