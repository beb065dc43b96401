//! Fuzzes the reading of Stripe's answers: for any body (under a 200), `parse` and
//! `parse_as_json` read back must give the same answer, where the second writes a list's items
//! and another object's `raw` as the body's own text, found by counting brackets; neither may
//! panic (a debug assertion checks that as many items are found as serde_json read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhook_core::stripe::response::{Object, parse, parse_as_json};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    match (parse(200, body), parse_as_json(200, body)) {
        (Ok(object), Ok(text)) => {
            let read: Object = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(read, object, "{text}");
        }
        (Err(parsed), Err(written)) => assert_eq!(parsed, written),
        (parsed, written) => panic!("{parsed:?} but {written:?}"),
    }
});
