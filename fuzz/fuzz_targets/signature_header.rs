//! Fuzzes the `Stripe-Signature` parser and the whole verification with arbitrary headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhook_core::secret::WebhookSecret;
use payhook_core::signature::{Tolerance, parse_header, verify};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else { return };
    let _ = parse_header(Some(header));
    let secrets = [WebhookSecret::new("whsec_fuzz")];
    let _ = verify(Some(header), b"{}", &secrets, 1_767_225_600, Tolerance::default());
});
