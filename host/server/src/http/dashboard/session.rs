//! Dashboard sessions and CSRF tokens.
//!
//! A session is a signed cookie, so every `payhook serve` sharing a database and an admin token
//! accepts it and nothing is stored per login: `v1.<expires>.<nonce>.<mac>`, the MAC being
//! HMAC-SHA256 under a key derived from the admin token. Changing the admin token therefore ends
//! every session. The CSRF token of a session is another HMAC of its nonce: a page embeds it in
//! every form, and a POST without the session's token is refused.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::admin_token::AdminToken;

/// The session cookie's name.
pub const COOKIE: &str = "payhook_session";
/// How long a login lasts.
pub const LIFETIME_SECS: i64 = 12 * 3600;

type HmacSha256 = Hmac<Sha256>;

/// The key that signs sessions, derived from the admin token.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

/// A signed-in session, as read from a valid cookie.
#[derive(Clone)]
pub struct Session {
    nonce: String,
    /// When it ends (unix seconds).
    pub expires: i64,
    csrf: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The token every form of this session carries.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        presented.len() == self.csrf.len()
            && bool::from(presented.as_bytes().ct_eq(self.csrf.as_bytes()))
    }

    /// A value for a form's idempotency key: stable for one rendering of a form, so that a
    /// double submit of the same form is one Stripe call.
    pub fn form_key(&self, key: &SessionKey, purpose: &str) -> String {
        let mac = key.mac(&format!("form.{}.{purpose}", self.nonce));
        format!("dash_{}", &mac[..32])
    }
}

impl SessionKey {
    /// The key for `token`.
    pub fn from_admin_token(token: &AdminToken) -> SessionKey {
        let mut hasher = Sha256::new();
        hasher.update(b"payhook dashboard session v1\0");
        hasher.update(token.expose().as_bytes());
        SessionKey(hasher.finalize().into())
    }

    fn mac(&self, message: &str) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A new session ending `LIFETIME_SECS` after `now`: its cookie value and the session.
    pub fn issue(&self, now: i64) -> (String, Session) {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)
            .expect("the operating system's random number generator is unavailable");
        let nonce = hex::encode(bytes);
        let expires = now + LIFETIME_SECS;
        let body = format!("v1.{expires}.{nonce}");
        let value = format!("{body}.{}", self.mac(&body));
        let session = self.session(nonce, expires);
        (value, session)
    }

    fn session(&self, nonce: String, expires: i64) -> Session {
        let csrf = self.mac(&format!("csrf.{nonce}"));
        Session {
            nonce,
            expires,
            csrf,
        }
    }

    /// The session a cookie value stands for, if it is ours, intact and not expired.
    pub fn verify(&self, value: &str, now: i64) -> Option<Session> {
        if value.len() > 200 {
            return None;
        }
        let (body, mac) = value.rsplit_once('.')?;
        let expected = self.mac(body);
        if mac.len() != expected.len() || !bool::from(mac.as_bytes().ct_eq(expected.as_bytes())) {
            return None;
        }
        let mut parts = body.split('.');
        let (Some("v1"), Some(expires), Some(nonce), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let expires: i64 = expires.parse().ok()?;
        (expires > now).then(|| self.session(nonce.to_owned(), expires))
    }
}

/// The `Set-Cookie` value that stores a session (`secure` when served over HTTPS).
pub fn set_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={LIFETIME_SECS}{secure}")
}

/// The `Set-Cookie` value that ends a session.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(token: &str) -> SessionKey {
        SessionKey::from_admin_token(&AdminToken::new(token))
    }

    #[test]
    fn a_session_verifies_until_it_expires() {
        let k = key("an-admin-token-long-enough");
        let (value, session) = k.issue(1_000);
        let back = k.verify(&value, 1_001).expect("valid");
        assert_eq!(back.csrf(), session.csrf());
        assert!(k.verify(&value, 1_000 + LIFETIME_SECS).is_none(), "expired");
    }

    #[test]
    fn a_tampered_or_foreign_cookie_is_refused() {
        let k = key("an-admin-token-long-enough");
        let (value, _) = k.issue(1_000);
        // Another admin token signs other sessions.
        assert!(
            key("another-admin-token-value")
                .verify(&value, 1_001)
                .is_none()
        );
        // A later expiry with the old MAC.
        let forged = value.replacen(&(1_000 + LIFETIME_SECS).to_string(), "99999999999", 1);
        assert!(k.verify(&forged, 1_001).is_none());
        for bad in ["", "v1", "v1.1.2", "v1.x.y.z", &"a".repeat(500)] {
            assert!(k.verify(bad, 1_001).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_exactly() {
        let k = key("an-admin-token-long-enough");
        let (_, a) = k.issue(1_000);
        let (_, b) = k.issue(1_000);
        assert_ne!(a.csrf(), b.csrf());
        assert!(a.csrf_matches(a.csrf()));
        assert!(!a.csrf_matches(b.csrf()));
        assert!(!a.csrf_matches(""));
        assert!(
            !format!("{a:?}").contains(a.csrf()),
            "Debug hides the token"
        );
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let c = set_cookie("v", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(set_cookie("v", true).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
