//! The receiving pipeline in one call: verify, decode, derive facts.
//!
//! This is what a webhook endpoint runs on every delivery, natively or inside the component;
//! both produce the same [`Delivery`] or [`WebhookError`] for the same input, which the
//! conformance suite checks case by case.

use alloc::vec::Vec;

use crate::event::{self, DecodeError, Event};
use crate::fact::{self, Fact};
use crate::secret::WebhookSecret;
use crate::signature::{self, HmacSha256, NativeHmac, SignatureError, Tolerance, VerifiedPayload};

/// A delivery that verified and decoded, with what it establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The signed timestamp.
    pub timestamp: i64,
    /// Which candidate secret matched (0-based).
    pub secret_index: usize,
    /// The event.
    pub event: Event,
    /// Zero or more facts; an event of an unknown type establishes none but is still stored.
    pub facts: Vec<Fact>,
}

/// A stored delivery, decoded, with what it establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The event.
    pub event: Event,
    /// Zero or more facts.
    pub facts: Vec<Fact>,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The signature did not verify.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The signature verified but the body is not a usable event.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl WebhookError {
    /// The error class the official SDKs report for the same input, for conformance checks.
    pub fn sdk_kind(&self) -> &'static str {
        match self {
            WebhookError::Signature(e) => e.sdk_kind(),
            WebhookError::Decode(e) => e.sdk_kind(),
        }
    }
}

/// Verifies a delivery, decodes it and derives its facts. `tolerance_secs` must be at least 1.
pub fn receive(
    header: Option<&str>,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: i64,
    tolerance_secs: i64,
) -> Result<Delivery, WebhookError> {
    receive_with(&NativeHmac, header, body, secrets, now, tolerance_secs)
}

/// [`receive`], with `hmac` computing the signature checks' MACs (see [`HmacSha256`]).
pub fn receive_with(
    hmac: &impl HmacSha256,
    header: Option<&str>,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: i64,
    tolerance_secs: i64,
) -> Result<Delivery, WebhookError> {
    let tolerance = Tolerance::seconds(tolerance_secs)?;
    let payload = signature::verify_with(hmac, header, body, secrets, now, tolerance)?;
    delivery(&payload)
}

/// [`receive_with`] for a body that is already text (a WebAssembly host passes it as a WIT
/// `string`, which is UTF-8 by definition): decoding does not check it again.
pub fn receive_text_with(
    hmac: &impl HmacSha256,
    header: Option<&str>,
    body: &str,
    secrets: &[WebhookSecret],
    now: i64,
    tolerance_secs: i64,
) -> Result<Delivery, WebhookError> {
    let tolerance = Tolerance::seconds(tolerance_secs)?;
    let payload = signature::verify_with(hmac, header, body.as_bytes(), secrets, now, tolerance)?;
    delivery(&payload.with_text(body))
}

fn delivery(payload: &VerifiedPayload<'_>) -> Result<Delivery, WebhookError> {
    let Decoded { event, facts } = decode_payload(payload)?;
    Ok(Delivery {
        timestamp: payload.timestamp().unwrap_or_default(),
        secret_index: payload.secret_index().unwrap_or_default(),
        event,
        facts,
    })
}

/// Decodes a body that [`receive`] or [`signature::verify`] accepted when it arrived and that
/// was stored unchanged.
pub fn decode_stored(body: &[u8]) -> Result<Decoded, DecodeError> {
    decode_payload(&VerifiedPayload::from_store(body))
}

/// [`decode_stored`] for a body that is already text: it is not checked again.
pub fn decode_stored_text(body: &str) -> Result<Decoded, DecodeError> {
    decode_payload(&VerifiedPayload::from_store(body.as_bytes()).with_text(body))
}

fn decode_payload(payload: &VerifiedPayload<'_>) -> Result<Decoded, DecodeError> {
    let event = event::decode(payload)?;
    let facts = fact::facts(&event);
    Ok(Decoded { event, facts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::header_for;
    use alloc::string::String;

    const SECRET: &str = "whsec_text_paths";

    fn fixture_bodies() -> Vec<String> {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/stripe-events/events");
        let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        paths.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    #[test]
    fn the_text_paths_give_what_the_byte_paths_give() {
        let secrets = [WebhookSecret::new(SECRET)];
        let t = 1_767_261_603;
        let mut bodies = fixture_bodies();
        assert!(bodies.len() >= 30, "the fixtures are there");
        // Refusals too: not JSON, not an event, a thin event, a wrong type.
        bodies.extend(
            ["", "{", "[]", r#"{"object":"v2.core.event","id":"evt_1","type":"x"}"#, r#"{"id":1,"object":"event"}"#]
                .map(String::from),
        );
        for body in &bodies {
            let header = header_for(body.as_bytes(), &secrets[0], t);
            for now in [t + 5, t + 301] {
                let bytes = receive_with(&NativeHmac, Some(&header), body.as_bytes(), &secrets, now, 300);
                let text = receive_text_with(&NativeHmac, Some(&header), body, &secrets, now, 300);
                assert_eq!(bytes, text, "{body:.80}");
            }
            assert_eq!(decode_stored(body.as_bytes()), decode_stored_text(body), "{body:.80}");
        }
    }

    #[test]
    fn only_the_byte_paths_can_see_invalid_utf8() {
        let body = b"{\"id\":\"evt_\xff\"}";
        assert_eq!(decode_stored(body), Err(DecodeError::InvalidUtf8 { valid_up_to: 11 }));
    }
}
