//! Recognising Stripe keys by their prefix, and checking each one against the field it was given
//! in and the connection's mode.

use payhook_core::secret::WebhookSecret;

use super::{ConnectionError, KeyField, Mode, PublishableKey, SecretKeyKind};
use crate::secret::{Secret, mask};

/// The longest key accepted. Stripe's keys are about 110 characters; this only bounds input.
pub const MAX_KEY_LEN: usize = 255;

/// What a key's prefix says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Secret(SecretKeyKind, Mode),
    Publishable(Mode),
    Signing,
}

/// The kind named by `key`'s prefix, or `None` for a value that is not a well-formed key:
/// an unknown prefix, nothing after it, more than [`MAX_KEY_LEN`] characters, or characters
/// other than ASCII letters, digits and `_`.
fn classify(key: &str) -> Option<Kind> {
    const PREFIXES: [(&str, Kind); 7] = [
        (
            "sk_test_",
            Kind::Secret(SecretKeyKind::Standard, Mode::Test),
        ),
        (
            "sk_live_",
            Kind::Secret(SecretKeyKind::Standard, Mode::Live),
        ),
        (
            "rk_test_",
            Kind::Secret(SecretKeyKind::Restricted, Mode::Test),
        ),
        (
            "rk_live_",
            Kind::Secret(SecretKeyKind::Restricted, Mode::Live),
        ),
        ("pk_test_", Kind::Publishable(Mode::Test)),
        ("pk_live_", Kind::Publishable(Mode::Live)),
        ("whsec_", Kind::Signing),
    ];
    let (body, kind) = PREFIXES
        .iter()
        .find_map(|(prefix, kind)| Some((key.strip_prefix(prefix)?, *kind)))?;
    let plain = body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (plain && !body.is_empty() && key.len() <= MAX_KEY_LEN).then_some(kind)
}

/// Checks the secret or restricted key for a connection in `mode`; returns it trimmed.
pub(super) fn check_secret_key(
    key: Option<&Secret>,
    mode: Mode,
) -> Result<(Secret, SecretKeyKind), ConnectionError> {
    let Some(key) = key.filter(|k| !k.is_blank()) else {
        return Err(ConnectionError::SecretKeyMissing { mode });
    };
    let key = key.expose().trim();
    let field = KeyField::SecretKey;
    match classify(key) {
        None => Err(ConnectionError::KeyMalformed {
            field,
            expected: field.expected(mode),
        }),
        Some(Kind::Publishable(_)) => {
            Err(ConnectionError::PublishableKeyInSecretKeyField { masked: mask(key) })
        }
        Some(Kind::Signing) => Err(ConnectionError::SigningSecretInKeyField {
            field,
            masked: mask(key),
        }),
        Some(Kind::Secret(kind, key_mode)) => {
            check_mode(field, key, key_mode, mode)?;
            Ok((Secret::new(key), kind))
        }
    }
}

/// Checks the optional publishable key; a blank one counts as not given.
pub(super) fn check_publishable_key(
    key: Option<&Secret>,
    mode: Mode,
) -> Result<Option<PublishableKey>, ConnectionError> {
    let Some(key) = key.filter(|k| !k.is_blank()) else {
        return Ok(None);
    };
    let key = key.expose().trim();
    let field = KeyField::PublishableKey;
    match classify(key) {
        None => Err(ConnectionError::KeyMalformed {
            field,
            expected: field.expected(mode),
        }),
        Some(Kind::Secret(..)) => {
            Err(ConnectionError::SecretKeyInPublishableKeyField { masked: mask(key) })
        }
        Some(Kind::Signing) => Err(ConnectionError::SigningSecretInKeyField {
            field,
            masked: mask(key),
        }),
        Some(Kind::Publishable(key_mode)) => {
            check_mode(field, key, key_mode, mode)?;
            Ok(Some(PublishableKey(key.to_owned())))
        }
    }
}

/// Checks a webhook signing secret (`whsec_…`); `None` for a blank one.
pub(super) fn check_signing_secret(
    secret: &WebhookSecret,
) -> Result<Option<WebhookSecret>, ConnectionError> {
    if secret.is_blank() {
        return Ok(None);
    }
    let secret = secret.expose().trim();
    let field = KeyField::WebhookSecret;
    match classify(secret) {
        Some(Kind::Signing) => Ok(Some(WebhookSecret::new(secret))),
        Some(Kind::Secret(..) | Kind::Publishable(_)) => {
            Err(ConnectionError::ApiKeyInWebhookSecretField {
                masked: mask(secret),
            })
        }
        None => Err(ConnectionError::KeyMalformed {
            field,
            expected: field.expected(Mode::Test),
        }),
    }
}

fn check_mode(
    field: KeyField,
    key: &str,
    key_mode: Mode,
    mode: Mode,
) -> Result<(), ConnectionError> {
    match (key_mode, mode) {
        (Mode::Live, Mode::Test) => Err(ConnectionError::LiveKeyInTestMode {
            field,
            masked: mask(key),
        }),
        (Mode::Test, Mode::Live) => Err(ConnectionError::TestKeyInLiveMode {
            field,
            masked: mask(key),
        }),
        (Mode::Test, Mode::Test) | (Mode::Live, Mode::Live) => Ok(()),
    }
}

impl KeyField {
    /// The prefixes a key in this field must start with, for a connection in `mode`.
    pub(super) fn expected(self, mode: Mode) -> &'static str {
        match (self, mode) {
            (KeyField::SecretKey, Mode::Test) => "sk_test_ (or rk_test_ for a restricted key)",
            (KeyField::SecretKey, Mode::Live) => "sk_live_ (or rk_live_ for a restricted key)",
            (KeyField::PublishableKey, Mode::Test) => "pk_test_",
            (KeyField::PublishableKey, Mode::Live) => "pk_live_",
            (KeyField::WebhookSecret, _) => "whsec_",
        }
    }

    /// Where in Stripe's dashboard the right value is found.
    pub(super) fn where_to_find(self) -> &'static str {
        match self {
            KeyField::SecretKey | KeyField::PublishableKey => {
                "the Stripe dashboard, Developers → API keys"
            }
            KeyField::WebhookSecret => {
                "the Stripe dashboard, Developers → Webhooks, your endpoint's signing secret (Reveal)"
            }
        }
    }
}
