//! Deliveries: a realistic `payment_intent.succeeded` envelope with a fresh event id, a fresh
//! PaymentIntent id and the current time, and its `Stripe-Signature` header.
//!
//! The sample is parsed once into a [`Template`]: the envelope as Stripe sends it (pretty-printed
//! JSON) cut at the places that change per delivery, so making a body is a few copies and no
//! JSON work, and the generator stays far cheaper than the server it loads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The sample envelope, from the project's fixtures.
pub const SAMPLE: &str =
    include_str!("../../../tests/fixtures/stripe-events/events/payment_intent.succeeded.json");

const EVENT_ID: &str = "@@payhook-load:event@@";
const PAYMENT_ID: &str = "@@payhook-load:payment@@";
const CREATED: &str = "@@payhook-load:created@@";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    EventId,
    PaymentId,
    Created,
}

/// The sample envelope, ready to be filled in per delivery.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Cuts the embedded sample for a test-mode (`live == false`) or live-mode endpoint.
    pub fn new(live: bool) -> Result<Template, String> {
        Template::from_sample(SAMPLE, live)
    }

    /// Cuts `sample`, a `payment_intent.succeeded` envelope: the event id, the PaymentIntent id
    /// (and the client secret and latest charge derived from it) and both `created` fields
    /// change per delivery; `livemode` follows `live`.
    pub fn from_sample(sample: &str, live: bool) -> Result<Template, String> {
        let mut event: Value = serde_json::from_str(sample)
            .map_err(|e| format!("the sample event does not parse: {e}"))?;
        let object = event["data"]["object"]
            .as_object_mut()
            .ok_or("the sample event has no data.object")?;
        if object.get("object").and_then(Value::as_str) != Some("payment_intent") {
            return Err("the sample event is not about a PaymentIntent".into());
        }
        object.insert("id".into(), Value::String(format!("pi_{PAYMENT_ID}")));
        object.insert("created".into(), Value::String(CREATED.into()));
        object.insert("livemode".into(), Value::Bool(live));
        if let Some(secret) = object
            .get("client_secret")
            .and_then(Value::as_str)
            .and_then(|s| s.split_once("_secret_"))
        {
            let secret = format!("pi_{PAYMENT_ID}_secret_{}", secret.1);
            object.insert("client_secret".into(), Value::String(secret));
        }
        if object.get("latest_charge").is_some_and(Value::is_string) {
            object.insert(
                "latest_charge".into(),
                Value::String(format!("ch_{PAYMENT_ID}")),
            );
        }
        event["id"] = Value::String(format!("evt_{EVENT_ID}"));
        event["created"] = Value::String(CREATED.into());
        event["livemode"] = Value::Bool(live);
        let text = serde_json::to_string_pretty(&event).map_err(|e| e.to_string())?;
        // A number goes in without the quotes its marker needed.
        let text = text.replace(&format!("\"{CREATED}\""), CREATED);
        Ok(Template { parts: cut(&text) })
    }

    /// The body of one delivery: `unique` goes into the event and PaymentIntent ids.
    pub fn body(&self, unique: &str, created: u64) -> String {
        let mut out = String::with_capacity(
            self.parts
                .iter()
                .map(|p| if let Part::Text(t) = p { t.len() } else { 24 })
                .sum(),
        );
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                // Stripe's ids: a digit, then letters and digits.
                Part::EventId => {
                    out.push('1');
                    out.push_str(unique);
                }
                Part::PaymentId => {
                    out.push('3');
                    out.push_str(unique);
                }
                Part::Created => out.push_str(&created.to_string()),
            }
        }
        out
    }
}

/// Splits `text` at every marker.
fn cut(mut text: &str) -> Vec<Part> {
    let markers = [
        (EVENT_ID, Part::EventId),
        (PAYMENT_ID, Part::PaymentId),
        (CREATED, Part::Created),
    ];
    let mut parts = Vec::new();
    loop {
        let next = markers
            .iter()
            .filter_map(|(m, p)| text.find(m).map(|at| (at, m.len(), p)))
            .min_by_key(|(at, ..)| *at);
        let Some((at, len, part)) = next else { break };
        if at > 0 {
            parts.push(Part::Text(text[..at].to_owned()));
        }
        parts.push(part.clone());
        text = &text[at + len..];
    }
    if !text.is_empty() {
        parts.push(Part::Text(text.to_owned()));
    }
    parts
}

/// Unique suffixes for ids: a random per-run prefix and a shared counter, in base 62, so that
/// no two deliveries of any run share an id.
#[derive(Debug)]
pub struct Ids {
    run: String,
    next: AtomicU64,
}

impl Ids {
    /// A fresh run prefix from the operating system's random number generator.
    pub fn new() -> Result<Ids, String> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|e| format!("no random numbers from the operating system: {e}"))?;
        Ok(Ids {
            run: base62(u64::from_le_bytes(bytes), 11),
            next: AtomicU64::new(0),
        })
    }

    /// The next unique suffix (letters and digits only).
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut out = self.run.clone();
        out.push_str(&base62(n, 8));
        out
    }
}

fn base62(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    // Only ASCII digits and letters went in.
    String::from_utf8(out).unwrap_or_default()
}

/// The `Stripe-Signature` header for `body` signed at `timestamp`: `t=<unix>,v1=<hex>`, the
/// HMAC-SHA256 of `"{t}.{body}"` keyed with the whole `whsec_…` secret, as Stripe signs.
pub fn signature_header(secret: &str, timestamp: u64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Now, in unix seconds.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `valid_basic` from tests/fixtures/stripe-vectors/vectors.json (stripe-python's
    /// `generate_signature_header`, cross-checked with stripe-node).
    #[test]
    fn signature_header_matches_the_stripe_vector() {
        let vectors: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/stripe-vectors/vectors.json"
        ))
        .unwrap();
        let case = vectors["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == "valid_basic")
            .unwrap();
        let header = signature_header(
            case["secret"].as_str().unwrap(),
            case["timestamp"].as_u64().unwrap(),
            case["payload"].as_str().unwrap(),
        );
        assert_eq!(header, case["header"].as_str().unwrap());
        assert_eq!(
            header,
            "t=1767225600,v1=e13ce661f9b7beb7294cc9bab8a6f7d225fd7326f009ad5cfbf0220659c25f3a"
        );
    }

    #[test]
    fn bodies_are_the_sample_with_fresh_ids_and_time() {
        let template = Template::new(false).unwrap();
        let body = template.body("AbC123", 1_800_000_000);
        let event: Value = serde_json::from_str(&body).unwrap();
        let sample: Value = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(event["id"], "evt_1AbC123");
        assert_eq!(event["created"], 1_800_000_000);
        assert_eq!(event["type"], "payment_intent.succeeded");
        assert_eq!(event["livemode"], false);
        let object = &event["data"]["object"];
        assert_eq!(object["id"], "pi_3AbC123");
        assert_eq!(object["created"], 1_800_000_000);
        assert_eq!(object["latest_charge"], "ch_3AbC123");
        assert!(
            object["client_secret"]
                .as_str()
                .unwrap()
                .starts_with("pi_3AbC123_secret_")
        );
        // Everything else is the sample's.
        assert_eq!(object["amount"], sample["data"]["object"]["amount"]);
        assert_eq!(event["api_version"], sample["api_version"]);
        assert!(!body.contains("@@"));
        assert!(
            Template::new(true)
                .unwrap()
                .body("x", 1)
                .contains("\"livemode\": true")
        );
    }

    #[test]
    fn ids_are_unique_and_plain() {
        let ids = Ids::new().unwrap();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_eq!(base62(61, 2), "0z");
        assert_eq!(base62(62, 2), "10");
    }
}
