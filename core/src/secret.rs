//! Webhook signing secrets, kept out of `Debug` output.

use alloc::string::String;
use core::fmt;

/// A webhook endpoint signing secret (`whsec_…`), used whole as the HMAC-SHA256 key.
///
/// Its `Debug` and `Display` print `[redacted]`, so it cannot leak through logs or errors by
/// accident. The bytes are reachable only through [`WebhookSecret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret string exactly as Stripe shows it (the `whsec_` prefix is part of the key).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret's text. Call sites are few and deliberate: the HMAC key and sealing at rest.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is empty or only white space, which Stripe never issues.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let s = WebhookSecret::new("whsec_abc123");
        assert_eq!(format!("{s:?}"), "WebhookSecret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "whsec_abc123");
    }
}
