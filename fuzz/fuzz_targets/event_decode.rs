//! Fuzzes event decoding and fact derivation with arbitrary bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhook_core::webhook::decode_stored;

fuzz_target!(|data: &[u8]| {
    let _ = decode_stored(data);
});
