//! Verification of the `Stripe-Signature` header.
//!
//! Stripe signs each delivery as `v1 = hex(HMAC-SHA256(key = whole secret, msg = "{t}.{body}"))`
//! and sends `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`. This module checks every `v1` against every
//! candidate secret in constant time, then checks the timestamp against a tolerance on *both*
//! sides. It never reads the clock: `now` is an argument.
//!
//! Deliberately stricter than the official SDKs (see the README): a timestamp more than the
//! tolerance in the *future* is rejected; a tolerance of zero or below is a configuration error
//! rather than "no check"; `t` must appear once and be all ASCII digits (no sign, no spaces).

use alloc::vec::Vec;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret::WebhookSecret;

/// The tolerance Stripe's SDKs use by default: 300 seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
/// The longest `Stripe-Signature` header that is parsed at all.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The most `v1` values one header may carry.
pub const MAX_SIGNATURES: usize = 16;
/// The most candidate secrets one verification may try (a rolled secret plus its successors).
pub const MAX_SECRETS: usize = 8;
/// The largest body the engine verifies. Stripe's own events stay far below it.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a delivery was not accepted. Every variant names its condition; none carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The `Stripe-Signature` header is absent or empty.
    #[error("the Stripe-Signature header is missing")]
    MissingHeader,
    /// The header is longer than [`MAX_HEADER_BYTES`].
    #[error("the Stripe-Signature header is {len} bytes; at most {max} are accepted")]
    HeaderTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An element of the header has no `=`.
    #[error("malformed Stripe-Signature header: element {position} has no '='")]
    ElementWithoutEquals {
        /// 1-based position of the element.
        position: usize,
    },
    /// The header has no `t=` element.
    #[error("malformed Stripe-Signature header: no timestamp (t=)")]
    MissingTimestamp,
    /// The header has more than one `t=` element; the SDKs disagree on which to use, so neither is.
    #[error("malformed Stripe-Signature header: the timestamp (t=) appears more than once")]
    DuplicateTimestamp,
    /// The `t=` value is not 1 to 19 ASCII digits.
    #[error("malformed Stripe-Signature header: the timestamp (t=) must be unix seconds in ASCII digits")]
    InvalidTimestamp,
    /// The header has no `v1=` element (a `v0` signature is never accepted).
    #[error("the Stripe-Signature header has no v1 signature")]
    NoV1Signature,
    /// The header carries more than [`MAX_SIGNATURES`] `v1` values.
    #[error("the Stripe-Signature header has {count} v1 signatures; at most {max} are checked")]
    TooManySignatures {
        /// How many `v1` values it had (counting stops just past the limit).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// No signing secret was configured.
    #[error("no webhook signing secret is configured")]
    NoSecret,
    /// A configured secret is empty or white space.
    #[error("webhook signing secret #{index} is empty")]
    BlankSecret {
        /// 0-based index of the blank secret among the candidates.
        index: usize,
    },
    /// More than [`MAX_SECRETS`] candidate secrets were given.
    #[error("{count} webhook signing secrets were given; at most {max} are tried")]
    TooManySecrets {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The tolerance is zero or negative: a configuration error, not "no check".
    #[error("the timestamp tolerance must be at least 1 second, got {seconds}")]
    InvalidTolerance {
        /// The rejected value.
        seconds: i64,
    },
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("the body is {len} bytes; at most {max} are accepted")]
    BodyTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No `v1` value matches the body under any candidate secret.
    #[error("no signature matches the body under the configured signing secrets")]
    SignatureMismatch,
    /// The signed timestamp is older than the tolerance allows.
    #[error("the signed timestamp {timestamp} is more than {tolerance} s older than now ({now})")]
    TimestampTooOld {
        /// The signed `t`.
        timestamp: i64,
        /// The verifier's clock.
        now: i64,
        /// The tolerance in seconds.
        tolerance: i64,
    },
    /// The signed timestamp is further in the future than the tolerance allows.
    #[error("the signed timestamp {timestamp} is more than {tolerance} s ahead of now ({now})")]
    TimestampInFuture {
        /// The signed `t`.
        timestamp: i64,
        /// The verifier's clock.
        now: i64,
        /// The tolerance in seconds.
        tolerance: i64,
    },
}

impl SignatureError {
    /// The error class the official SDKs report for the same input, for conformance checks.
    pub fn sdk_kind(&self) -> &'static str {
        use SignatureError::*;
        match self {
            MissingHeader => "missing_header",
            HeaderTooLarge { .. }
            | ElementWithoutEquals { .. }
            | MissingTimestamp
            | DuplicateTimestamp
            | InvalidTimestamp
            | TooManySignatures { .. } => "malformed_header",
            NoV1Signature => "no_v1_signature",
            NoSecret | BlankSecret { .. } => "missing_secret",
            TooManySecrets { .. } | InvalidTolerance { .. } => "configuration",
            BodyTooLarge { .. } => "body_too_large",
            SignatureMismatch => "signature_mismatch",
            TimestampTooOld { .. } | TimestampInFuture { .. } => "timestamp_outside_tolerance",
        }
    }
}

/// How far the signed timestamp may be from `now`, in either direction. Always at least 1 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance(i64);

impl Tolerance {
    /// A tolerance of `seconds`; zero or below is [`SignatureError::InvalidTolerance`].
    pub fn seconds(seconds: i64) -> Result<Self, SignatureError> {
        if seconds <= 0 {
            return Err(SignatureError::InvalidTolerance { seconds });
        }
        Ok(Self(seconds))
    }

    /// The tolerance in seconds.
    pub fn as_secs(self) -> i64 {
        self.0
    }
}

impl Default for Tolerance {
    fn default() -> Self {
        Self(DEFAULT_TOLERANCE_SECS)
    }
}

/// A body whose signature was verified. Event decoding accepts nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedPayload<'a> {
    body: &'a [u8],
    /// The same bytes as text, when the caller already had them as a `str`.
    text: Option<&'a str>,
    timestamp: Option<i64>,
    secret_index: Option<usize>,
}

impl<'a> VerifiedPayload<'a> {
    /// A body that [`verify`] accepted when it was received and that was stored as it came.
    ///
    /// For a host's worker that processes stored deliveries later, when the signed timestamp is
    /// long past the tolerance. Never call it on a body that did not pass [`verify`].
    pub fn from_store(body: &'a [u8]) -> Self {
        Self { body, text: None, timestamp: None, secret_index: None }
    }

    /// The same payload, with its body known to be the UTF-8 text `text`: decoding then does
    /// not check the bytes again. `text` must be the body itself.
    pub(crate) fn with_text(self, text: &'a str) -> Self {
        debug_assert_eq!(text.as_bytes(), self.body);
        Self { text: Some(text), ..self }
    }

    /// The raw body, byte for byte as signed.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The body as text, when the caller passed it as text.
    pub(crate) fn text(&self) -> Option<&'a str> {
        self.text
    }

    /// The signed timestamp, when verified in this call.
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// Which candidate secret matched (0-based), when verified in this call.
    pub fn secret_index(&self) -> Option<usize> {
        self.secret_index
    }
}

/// HMAC-SHA256, as the signature checks compute it.
///
/// [`verify`], [`sign`] and [`header_for`] use [`NativeHmac`]. The `_with` forms take another
/// implementation: the WebAssembly component's `engine-with-host-hmac` build passes one that asks
/// its host, whose native code has the CPU's SHA instructions.
pub trait HmacSha256 {
    /// The MAC of `parts`, concatenated, under `key`.
    fn mac(&self, key: &[u8], parts: &[&[u8]]) -> [u8; 32];
}

/// HMAC-SHA256 computed here, with the `hmac` and `sha2` crates.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeHmac;

impl HmacSha256 for NativeHmac {
    fn mac(&self, key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac takes any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// Verifies `body` against a `Stripe-Signature` header.
///
/// Every `v1` value is compared in constant time against the signature under every candidate
/// secret; the first secret (in the order given) with a match is reported. The signature is
/// checked before the age, as the SDKs do, so a tampered and expired delivery is a mismatch.
pub fn verify<'a>(
    header: Option<&str>,
    body: &'a [u8],
    secrets: &[WebhookSecret],
    now: i64,
    tolerance: Tolerance,
) -> Result<VerifiedPayload<'a>, SignatureError> {
    verify_with(&NativeHmac, header, body, secrets, now, tolerance)
}

/// [`verify`], with `hmac` computing the MACs.
pub fn verify_with<'a>(
    hmac: &impl HmacSha256,
    header: Option<&str>,
    body: &'a [u8],
    secrets: &[WebhookSecret],
    now: i64,
    tolerance: Tolerance,
) -> Result<VerifiedPayload<'a>, SignatureError> {
    check_secrets(secrets)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(SignatureError::BodyTooLarge { len: body.len(), max: MAX_BODY_BYTES });
    }
    let header = parse_header(header)?;
    let secret_index =
        matching_secret(hmac, &header, body, secrets).ok_or(SignatureError::SignatureMismatch)?;
    check_age(header.timestamp, now, tolerance)?;
    Ok(VerifiedPayload { body, text: None, timestamp: Some(header.timestamp), secret_index: Some(secret_index) })
}

/// Computes the `v1` signature (lower-case hex) for `body` signed at `timestamp`.
///
/// For hosts that sign test deliveries (`payhook trigger`) and for tests.
pub fn sign(body: &[u8], secret: &WebhookSecret, timestamp: i64) -> alloc::string::String {
    sign_with(&NativeHmac, body, secret, timestamp)
}

/// [`sign`], with `hmac` computing the MAC.
pub fn sign_with(
    hmac: &impl HmacSha256,
    body: &[u8],
    secret: &WebhookSecret,
    timestamp: i64,
) -> alloc::string::String {
    let mac = mac_for(hmac, secret, timestamp, body);
    let mut out = alloc::string::String::with_capacity(64);
    for byte in mac {
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 0xf) as usize] as char);
    }
    out
}

/// A full header value `t=…,v1=…` for `body`, as Stripe would send it.
pub fn header_for(body: &[u8], secret: &WebhookSecret, timestamp: i64) -> alloc::string::String {
    header_for_with(&NativeHmac, body, secret, timestamp)
}

/// [`header_for`], with `hmac` computing the MAC.
pub fn header_for_with(
    hmac: &impl HmacSha256,
    body: &[u8],
    secret: &WebhookSecret,
    timestamp: i64,
) -> alloc::string::String {
    alloc::format!("t={timestamp},v1={}", sign_with(hmac, body, secret, timestamp))
}

/// The parts of a header that verification uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedHeader<'h> {
    /// The signed timestamp.
    pub timestamp: i64,
    /// Every `v1` value, in order, as text.
    pub signatures: Vec<&'h str>,
}

/// Parses a `Stripe-Signature` header with bounded work: at most [`MAX_HEADER_BYTES`] bytes and
/// [`MAX_SIGNATURES`] `v1` values. Unknown schemes (`v0`, `v2`, …) are ignored; keys are
/// case-sensitive and nothing is trimmed, as in the SDKs.
pub fn parse_header(header: Option<&str>) -> Result<ParsedHeader<'_>, SignatureError> {
    let header = match header {
        Some(h) if !h.trim().is_empty() => h,
        _ => return Err(SignatureError::MissingHeader),
    };
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::HeaderTooLarge { len: header.len(), max: MAX_HEADER_BYTES });
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for (i, element) in header.split(',').enumerate() {
        if element.is_empty() {
            continue; // a trailing comma, as the SDKs allow
        }
        let (key, rest) = element
            .split_once('=')
            .ok_or(SignatureError::ElementWithoutEquals { position: i + 1 })?;
        // The SDKs take the text between the first and second '=' as the value.
        let value = rest.split('=').next().unwrap_or(rest);
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::DuplicateTimestamp);
                }
                timestamp = Some(parse_timestamp(value)?);
            }
            "v1" => {
                if signatures.len() == MAX_SIGNATURES {
                    return Err(SignatureError::TooManySignatures {
                        count: MAX_SIGNATURES + 1,
                        max: MAX_SIGNATURES,
                    });
                }
                signatures.push(value);
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoV1Signature);
    }
    Ok(ParsedHeader { timestamp, signatures })
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn check_secrets(secrets: &[WebhookSecret]) -> Result<(), SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    if secrets.len() > MAX_SECRETS {
        return Err(SignatureError::TooManySecrets { count: secrets.len(), max: MAX_SECRETS });
    }
    if let Some(index) = secrets.iter().position(WebhookSecret::is_blank) {
        return Err(SignatureError::BlankSecret { index });
    }
    Ok(())
}

fn parse_timestamp(value: &str) -> Result<i64, SignatureError> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::InvalidTimestamp);
    }
    value.parse().map_err(|_| SignatureError::InvalidTimestamp)
}

fn matching_secret(
    hmac: &impl HmacSha256,
    header: &ParsedHeader<'_>,
    body: &[u8],
    secrets: &[WebhookSecret],
) -> Option<usize> {
    // Decode the candidates once; a value that is not 64 lower-case hex digits can never match
    // (the SDKs compare hex text exactly, so upper case does not match either).
    let candidates: Vec<[u64; 4]> =
        header.signatures.iter().filter_map(|s| decode_hex32(s)).map(|mac| words(&mac)).collect();
    if candidates.is_empty() {
        return None;
    }
    secrets.iter().position(|secret| {
        let expected = words(&mac_for(hmac, secret, header.timestamp, body));
        // Fold over every candidate so the time taken does not depend on which one matched.
        candidates
            .iter()
            .fold(subtle::Choice::from(0), |found, candidate| found | expected[..].ct_eq(&candidate[..]))
            .into()
    })
}

/// A MAC as four 64-bit words, compared in constant time a word at a time: `subtle` puts an
/// optimisation barrier after each element it compares, and 4 cost less than 32, in the
/// sandbox most of all (1.0k instructions per check there for the bytes).
fn words(mac: &[u8; 32]) -> [u64; 4] {
    let (words, _) = mac.as_chunks::<8>();
    core::array::from_fn(|i| u64::from_le_bytes(words[i]))
}

fn mac_for(hmac: &impl HmacSha256, secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut digits = [0u8; 20];
    hmac.mac(secret.expose().as_bytes(), &[format_i64(timestamp, &mut digits), b".", body])
}

fn format_i64(value: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = value.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn check_age(timestamp: i64, now: i64, tolerance: Tolerance) -> Result<(), SignatureError> {
    let age = i128::from(now) - i128::from(timestamp);
    let tolerance = tolerance.as_secs();
    if age > i128::from(tolerance) {
        return Err(SignatureError::TimestampTooOld { timestamp, now, tolerance });
    }
    if -age > i128::from(tolerance) {
        return Err(SignatureError::TimestampInFuture { timestamp, now, tolerance });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
