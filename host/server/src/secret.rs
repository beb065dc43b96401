//! Plaintext secrets in memory: a [`Secret`] newtype that never prints itself, and the masked
//! form (`sk_test_…abcd`) that is the only way a secret is ever shown to a person.
//!
//! A `Secret` holds a Stripe secret or restricted key, or any other credential, between the
//! moment it is typed or opened and the moment it is used or sealed. Its `Debug` and `Display`
//! print `[redacted]`, its bytes are wiped when it is dropped, and the text is reachable only
//! through [`Secret::expose`], whose call sites are few and deliberate.

use std::fmt;

use zeroize::Zeroizing;

/// What `Debug`, `Display` and [`mask`] print in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// The fewest characters a secret must have after its prefix before [`mask`] shows its last
/// [`MASK_TAIL_CHARS`]: below that, the tail would give away too much of it.
pub const MASK_MIN_BODY_CHARS: usize = 12;

/// How many trailing characters [`mask`] shows.
pub const MASK_TAIL_CHARS: usize = 4;

/// A plaintext secret: a Stripe secret or restricted key, a password, a token.
///
/// `Debug` prints `Secret([redacted])` and `Display` prints `[redacted]`; the text is wiped from
/// memory when the value is dropped. There is deliberately no `PartialEq`: compare
/// [`Secret::expose`] where a test needs to.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret exactly as given (no trimming: validation decides what is acceptable).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The secret's text. Call it only to use the secret (an API call, sealing), never to show it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The form safe to show a person: `sk_test_…abcd` (see [`mask`]).
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    /// True when the secret is empty or only white space.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Masks a key for display: its prefix up to the second underscore (or the first, for a
/// one-word prefix such as `whsec_`), `…`, then its last four characters.
///
/// `sk_test_51Habc…wxyz` becomes `sk_test_…wxyz` and `whsec_abc…wxyz` becomes `whsec_…wxyz`.
/// A value whose prefix is not one or two short lower-case words, whose remainder is not plain
/// ASCII letters and digits, or whose remainder is shorter than [`MASK_MIN_BODY_CHARS`] is masked
/// entirely as `[redacted]`: such a value may be something other than a key (a password pasted
/// into the wrong field), and then even four characters are too many.
pub fn mask(value: &str) -> String {
    let Some((prefix, body)) = split_prefix(value) else {
        return REDACTED.to_owned();
    };
    let plain = body.bytes().all(|b| b.is_ascii_alphanumeric());
    if !plain || body.len() < MASK_MIN_BODY_CHARS {
        return REDACTED.to_owned();
    }
    format!("{prefix}…{}", &body[body.len() - MASK_TAIL_CHARS..])
}

/// Splits `sk_test_rest` into `("sk_test_", "rest")` and `whsec_rest` into `("whsec_", "rest")`.
///
/// The prefix is one or two words of 1 to 8 lower-case ASCII letters, each followed by `_`.
fn split_prefix(value: &str) -> Option<(&str, &str)> {
    let word_end = |from: usize| -> Option<usize> {
        let rest = &value[from..];
        let len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        ((1..=8).contains(&len) && rest.as_bytes().get(len) == Some(&b'_'))
            .then_some(from + len + 1)
    };
    let first = word_end(0)?;
    let end = word_end(first).unwrap_or(first);
    Some(value.split_at(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let s = Secret::new("sk_test_51PayhookTestKey0000000000AbCd");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(
            format!("{:#?}", Some(s.clone())),
            "Some(\n    Secret([redacted]),\n)"
        );
        assert_eq!(s.expose(), "sk_test_51PayhookTestKey0000000000AbCd");
    }

    #[test]
    fn masks_stripe_keys_to_prefix_and_last_four() {
        assert_eq!(
            mask("sk_test_51PayhookTestKey0000000000AbCd"),
            "sk_test_…AbCd"
        );
        assert_eq!(mask("rk_live_51HabcdefghijklmnopQRSTwxyz"), "rk_live_…wxyz");
        assert_eq!(
            mask("pk_test_51PayhookPublishable0000000Pk01"),
            "pk_test_…Pk01"
        );
        assert_eq!(mask("whsec_5ZbQfA8z2dXw9kLmNpQrStUv"), "whsec_…StUv");
        assert_eq!(
            Secret::new("sk_live_abcdefghijkl1234").masked(),
            "sk_live_…1234"
        );
    }

    #[test]
    fn masks_short_or_odd_values_entirely() {
        for value in [
            "",
            "sk_test_",
            "sk_test_abcdefghijk",       // 11 characters after the prefix
            "hunter2hunter2hunter2",     // no prefix
            "SK_TEST_abcdefghijklmnop",  // prefix not lower case
            "sk_test_abcdefgh ijklmnop", // white space in the body
            "sk_test_abcdefghijklmnö",   // not ASCII
            "toolongword_abcdefghijklmnop",
            "_abcdefghijklmnopqrstu",
        ] {
            assert_eq!(mask(value), REDACTED, "{value:?}");
        }
    }

    #[test]
    fn a_third_word_is_part_of_the_body() {
        // `sk_test_` is the prefix; `abc_…` after it is not plain, so the whole value is masked.
        assert_eq!(mask("sk_test_abc_defghijklmnop"), REDACTED);
    }

    #[test]
    fn blank_means_empty_or_white_space() {
        assert!(Secret::new("").is_blank());
        assert!(Secret::new(" \n\t").is_blank());
        assert!(!Secret::new("x").is_blank());
    }
}
