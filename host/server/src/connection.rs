//! A Stripe connection: what a tenant configures to take payments in one mode.
//!
//! The fields are the ones the seed systems ask for: a name (Fluxrate's "Connection Name",
//! IXOPAY's account name), the mode (KiviCare's Sandbox/Live switch), a secret or restricted key
//! (Altegio offers both), an optional publishable key for payment pages, the webhook signing
//! secret (optional at first: Fluxrate adds it once the endpoint exists), a default currency and
//! an enabled switch.
//!
//! [`ConnectionInput`] is what a user typed; [`ConnectionInput::validate`] is the only way to a
//! [`ValidConnection`]. Every key is checked against its field and the mode (test keys only in
//! test mode, as KiviCare insists), and every refusal says what is wrong and how to fix it,
//! showing at most the masked key (`sk_live_…abcd`). A missing or malformed key is reported in
//! KiviCare's words: "Stripe gateway is not properly configured: " and the reason.
//!
//! Rolling the webhook signing secret works as Stripe's own roll does: the new secret verifies at
//! once and the old one keeps verifying until its expiry, [`DEFAULT_ROLL_OVERLAP`] later by
//! default. [`ValidConnection::active_signing_secrets`] lists the secrets to try, newest first.
//!
//! Times are unix seconds passed in by the caller; nothing here reads the clock.

mod key;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use payhook_core::money::{Currency, MoneyError};
use payhook_core::secret::WebhookSecret;
use payhook_core::signature::MAX_SECRETS;
use serde::{Deserialize, Serialize};

use crate::secret::{Secret, mask};

pub use key::MAX_KEY_LEN;

/// How long a rolled signing secret keeps verifying by default: 24 hours, as in Stripe's roll.
pub const DEFAULT_ROLL_OVERLAP: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest overlap a roll may give: an old secret should stop working soon after a roll.
pub const MAX_ROLL_OVERLAP: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The longest connection name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The opening of every "missing or malformed key" message, in KiviCare's words.
pub const NOT_CONFIGURED: &str = "Stripe gateway is not properly configured: ";

/// Why a connection, or a change to one, was refused. Messages show at most a masked key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// No secret key was given.
    #[error(
        "Stripe gateway is not properly configured: the secret key is missing: copy the {mode} \
         mode secret key ({}…) from the Stripe dashboard, Developers → API keys",
        mode.secret_key_prefix()
    )]
    SecretKeyMissing {
        /// The connection's mode.
        mode: Mode,
    },
    /// A roll was asked for with an empty new signing secret.
    #[error(
        "Stripe gateway is not properly configured: the new webhook signing secret is empty: copy it \
         from {}",
        KeyField::WebhookSecret.where_to_find()
    )]
    WebhookSecretMissing,
    /// A key has an unknown prefix, nothing after it, odd characters, or is too long.
    #[error(
        "Stripe gateway is not properly configured: the {field} is malformed: it must start with \
         {expected} and go on with letters and digits only; copy it again from {}",
        field.where_to_find()
    )]
    KeyMalformed {
        /// The field it was given in.
        field: KeyField,
        /// The prefixes it should start with.
        expected: &'static str,
    },
    /// A live key was given for a test-mode connection.
    #[error(
        "the {field} is a live key ({masked}) but the connection is in test mode: use the test key \
         from the Stripe dashboard's test mode, or create the connection with --mode live"
    )]
    LiveKeyInTestMode {
        /// The field it was given in.
        field: KeyField,
        /// The key, masked.
        masked: String,
    },
    /// A test key was given for a live-mode connection.
    #[error(
        "the {field} is a test key ({masked}) but the connection is in live mode: use the live key \
         from the Stripe dashboard with test mode off, or create the connection with --mode test"
    )]
    TestKeyInLiveMode {
        /// The field it was given in.
        field: KeyField,
        /// The key, masked.
        masked: String,
    },
    /// A publishable key (`pk_…`) was given as the secret key.
    #[error(
        "the secret key is a publishable key ({masked}): give the secret key (sk_…) or a restricted \
         key (rk_…) from the Stripe dashboard, Developers → API keys, and pass the pk_ key as the \
         publishable key"
    )]
    PublishableKeyInSecretKeyField {
        /// The key, masked.
        masked: String,
    },
    /// A secret or restricted key was given as the publishable key.
    #[error(
        "the publishable key is a secret key ({masked}): pass it as the secret key and give the \
         publishable key (pk_…) here; a secret key must never reach a web page"
    )]
    SecretKeyInPublishableKeyField {
        /// The key, masked.
        masked: String,
    },
    /// A webhook signing secret (`whsec_…`) was given as an API key.
    #[error(
        "the {field} is a webhook signing secret ({masked}): pass it as the webhook signing secret, \
         and give the {field} from the Stripe dashboard, Developers → API keys"
    )]
    SigningSecretInKeyField {
        /// The field it was given in.
        field: KeyField,
        /// The secret, masked.
        masked: String,
    },
    /// An API key was given as the webhook signing secret.
    #[error(
        "the webhook signing secret is an API key ({masked}): give the endpoint's signing secret \
         (whsec_…) from {}",
        KeyField::WebhookSecret.where_to_find()
    )]
    ApiKeyInWebhookSecretField {
        /// The key, masked.
        masked: String,
    },
    /// The connection name is empty.
    #[error("the connection name is empty: give one, such as \"Production Stripe\"")]
    NameMissing,
    /// The connection name is longer than [`MAX_NAME_CHARS`].
    #[error("the connection name is {chars} characters long: use at most {max}")]
    NameTooLong {
        /// Its length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The connection name holds a control character (a line break, a tab).
    #[error(
        "the connection name contains a control character such as a line break: use one line of plain text"
    )]
    NameHasControlCharacter,
    /// The default currency is not a currency code.
    #[error("the default currency is not valid: {0}")]
    InvalidCurrency(#[source] MoneyError),
    /// A mode other than `test` or `live` was named.
    #[error("unknown mode {given:?}: use \"test\" or \"live\"")]
    UnknownMode {
        /// What was given, cut to 8 characters.
        given: String,
    },
    /// A roll asked for an overlap beyond [`MAX_ROLL_OVERLAP`].
    #[error(
        "a roll overlap of {seconds} seconds is longer than the {max} allowed (7 days): an old signing \
         secret should stop working soon after a roll"
    )]
    RollOverlapTooLong {
        /// The overlap asked for, in seconds.
        seconds: u64,
        /// The limit, in seconds.
        max: u64,
    },
    /// The new signing secret is the current one or one rolled before.
    #[error(
        "the new webhook signing secret is the current one or one rolled before: roll the secret in the \
         Stripe dashboard (Developers → Webhooks, your endpoint, Roll secret) and give the new whsec_ value"
    )]
    WebhookSecretReused,
    /// A roll would leave more secrets active than verification tries.
    #[error(
        "{max} webhook signing secrets would be active, more than are tried: roll again once the \
         oldest expires, at unix time {oldest_expiry}"
    )]
    TooManyActiveWebhookSecrets {
        /// The limit ([`MAX_SECRETS`]).
        max: usize,
        /// When the first of the rolled secrets expires, unix seconds.
        oldest_expiry: i64,
    },
}

impl ConnectionError {
    /// True for a missing or malformed key: the "Stripe gateway is not properly configured" errors.
    pub fn is_not_configured(&self) -> bool {
        matches!(
            self,
            ConnectionError::SecretKeyMissing { .. }
                | ConnectionError::WebhookSecretMissing
                | ConnectionError::KeyMalformed { .. }
        )
    }
}

/// Test or live: which of Stripe's two worlds a connection's keys belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Test mode: `sk_test_`, `rk_test_`, `pk_test_` keys; test cards only; no real money.
    Test,
    /// Live mode: `sk_live_`, `rk_live_`, `pk_live_` keys; real money.
    Live,
}

impl Mode {
    /// `"test"` or `"live"`, as URLs and the CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }

    fn secret_key_prefix(self) -> &'static str {
        match self {
            Mode::Test => "sk_test_",
            Mode::Live => "sk_live_",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ConnectionError;

    /// `test` or `live`, in any case.
    fn from_str(s: &str) -> Result<Mode, ConnectionError> {
        match s.to_ascii_lowercase().as_str() {
            "test" => Ok(Mode::Test),
            "live" => Ok(Mode::Live),
            _ => Err(ConnectionError::UnknownMode {
                given: s.chars().take(8).collect(),
            }),
        }
    }
}

/// Which field of a connection a key was given in, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyField {
    /// The secret or restricted key.
    SecretKey,
    /// The publishable key.
    PublishableKey,
    /// The webhook signing secret.
    WebhookSecret,
}

impl fmt::Display for KeyField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyField::SecretKey => "secret key",
            KeyField::PublishableKey => "publishable key",
            KeyField::WebhookSecret => "webhook signing secret",
        })
    }
}

/// A standard secret key (`sk_`) or a restricted one (`rk_`, Altegio's choice for third-party
/// sites).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretKeyKind {
    /// `sk_test_…` / `sk_live_…`: full access.
    Standard,
    /// `rk_test_…` / `rk_live_…`: the permissions chosen when it was created.
    Restricted,
}

/// A checked publishable key (`pk_test_…` / `pk_live_…`). Public by design, since payment pages
/// embed it, but still printed masked by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishableKey(String);

impl PublishableKey {
    /// The whole key, for a payment page.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PublishableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublishableKey({})", mask(&self.0))
    }
}

/// A connection as a user typed it: nothing is checked yet. Every key field is a redacting type,
/// so even a secret key pasted into the publishable-key field never shows in `Debug`.
#[derive(Debug, Clone)]
pub struct ConnectionInput {
    /// A label for people, such as "Production Stripe".
    pub name: String,
    /// Test or live.
    pub mode: Mode,
    /// The secret (`sk_`) or restricted (`rk_`) key. Required.
    pub secret_key: Option<Secret>,
    /// The publishable key (`pk_`), for payment pages. Optional; blank counts as not given.
    pub publishable_key: Option<Secret>,
    /// The webhook endpoint's signing secret (`whsec_`). Optional at first; blank counts as not
    /// given.
    pub webhook_secret: Option<WebhookSecret>,
    /// The currency used when an amount names none, such as `eur`. Optional.
    pub default_currency: Option<String>,
    /// Whether the connection takes payments and processes webhooks.
    pub enabled: bool,
}

impl ConnectionInput {
    /// Checks every field; keys are trimmed of surrounding white space before they are checked.
    ///
    /// The first problem found is reported, in field order: name, secret key, publishable key,
    /// webhook signing secret, currency.
    pub fn validate(&self) -> Result<ValidConnection, ConnectionError> {
        let name = check_name(&self.name)?;
        let (secret_key, secret_key_kind) =
            key::check_secret_key(self.secret_key.as_ref(), self.mode)?;
        let publishable_key = key::check_publishable_key(self.publishable_key.as_ref(), self.mode)?;
        let webhook_secret = match &self.webhook_secret {
            Some(secret) => key::check_signing_secret(secret)?,
            None => None,
        };
        let default_currency = match self.default_currency.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(code) => Some(Currency::parse(code).map_err(ConnectionError::InvalidCurrency)?),
        };
        Ok(ValidConnection {
            name,
            mode: self.mode,
            secret_key,
            secret_key_kind,
            publishable_key,
            webhook_secret,
            rolled: Vec::new(),
            default_currency,
            enabled: self.enabled,
        })
    }
}

/// A rolled signing secret that still verifies until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledSecret {
    secret: WebhookSecret,
    expires_at: i64,
}

impl RolledSecret {
    /// A rolled secret read back from storage: `secret` verifies while `now < expires_at`.
    pub fn new(secret: WebhookSecret, expires_at: i64) -> Self {
        Self { secret, expires_at }
    }

    /// The secret.
    pub fn secret(&self) -> &WebhookSecret {
        &self.secret
    }

    /// When it stops verifying, unix seconds: it is active while `now < expires_at`.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// A checked connection. Made only by [`ConnectionInput::validate`]; every change keeps it valid.
#[derive(Debug, Clone)]
pub struct ValidConnection {
    name: String,
    mode: Mode,
    secret_key: Secret,
    secret_key_kind: SecretKeyKind,
    publishable_key: Option<PublishableKey>,
    webhook_secret: Option<WebhookSecret>,
    /// Newest first.
    rolled: Vec<RolledSecret>,
    default_currency: Option<Currency>,
    enabled: bool,
}

impl ValidConnection {
    /// The name, trimmed.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Test or live.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The secret or restricted key, trimmed.
    pub fn secret_key(&self) -> &Secret {
        &self.secret_key
    }

    /// Whether the secret key is a standard or a restricted one.
    pub fn secret_key_kind(&self) -> SecretKeyKind {
        self.secret_key_kind
    }

    /// The publishable key, if one was given.
    pub fn publishable_key(&self) -> Option<&PublishableKey> {
        self.publishable_key.as_ref()
    }

    /// The current webhook signing secret, if one was given.
    pub fn webhook_secret(&self) -> Option<&WebhookSecret> {
        self.webhook_secret.as_ref()
    }

    /// The rolled signing secrets, newest first, including any that have expired since the last
    /// roll (use [`ValidConnection::active_signing_secrets`] to verify).
    pub fn rolled_webhook_secrets(&self) -> &[RolledSecret] {
        &self.rolled
    }

    /// The default currency, if one was given.
    pub fn default_currency(&self) -> Option<Currency> {
        self.default_currency
    }

    /// Whether the connection takes payments and processes webhooks.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Restores the rolled signing secrets of a connection read back from storage (newest
    /// first), as [`ValidConnection::roll_webhook_secret`] left them. At most [`MAX_SECRETS`] − 1
    /// are kept, the newest.
    pub fn with_rolled_secrets(mut self, mut rolled: Vec<RolledSecret>) -> Self {
        rolled.truncate(MAX_SECRETS - 1);
        self.rolled = rolled;
        self
    }

    /// Enables or disables the connection.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Replaces the secret key (Fluxrate's "Rotate API key"), checked as at creation.
    pub fn rotate_secret_key(&mut self, new: &Secret) -> Result<(), ConnectionError> {
        (self.secret_key, self.secret_key_kind) = key::check_secret_key(Some(new), self.mode)?;
        Ok(())
    }

    /// Makes `new` the current signing secret; the old one keeps verifying until
    /// `now + overlap` ([`DEFAULT_ROLL_OVERLAP`] is Stripe's 24 hours; zero drops it at once).
    ///
    /// Rolled secrets that have expired by `now` are dropped. Refused when `new` is not a
    /// `whsec_` secret, is the current or a rolled one, when `overlap` exceeds
    /// [`MAX_ROLL_OVERLAP`], or when more than [`MAX_SECRETS`] secrets would be active.
    pub fn roll_webhook_secret(
        &mut self,
        new: &WebhookSecret,
        now: i64,
        overlap: Duration,
    ) -> Result<(), ConnectionError> {
        if overlap > MAX_ROLL_OVERLAP {
            return Err(ConnectionError::RollOverlapTooLong {
                seconds: overlap.as_secs(),
                max: MAX_ROLL_OVERLAP.as_secs(),
            });
        }
        let new = key::check_signing_secret(new)?.ok_or(ConnectionError::WebhookSecretMissing)?;
        let reused = self.webhook_secret.as_ref() == Some(&new)
            || self.rolled.iter().any(|r| r.secret == new);
        if reused {
            return Err(ConnectionError::WebhookSecretReused);
        }
        let mut rolled: Vec<RolledSecret> = self
            .rolled
            .iter()
            .filter(|r| r.expires_at > now)
            .cloned()
            .collect();
        // `overlap` is at most MAX_ROLL_OVERLAP, so it fits an i64.
        let expires_at = now.saturating_add(i64::try_from(overlap.as_secs()).unwrap_or(i64::MAX));
        if let Some(old) = self.webhook_secret.clone().filter(|_| expires_at > now) {
            rolled.insert(
                0,
                RolledSecret {
                    secret: old,
                    expires_at,
                },
            );
        }
        if 1 + rolled.len() > MAX_SECRETS {
            let oldest_expiry = rolled.iter().map(|r| r.expires_at).min().unwrap_or(now);
            return Err(ConnectionError::TooManyActiveWebhookSecrets {
                max: MAX_SECRETS,
                oldest_expiry,
            });
        }
        self.webhook_secret = Some(new);
        self.rolled = rolled;
        Ok(())
    }

    /// The signing secrets to verify a delivery received at `now` against: the current one, then
    /// the rolled ones that have not expired, newest first; at most [`MAX_SECRETS`].
    pub fn active_signing_secrets(&self, now: i64) -> Vec<WebhookSecret> {
        let rolled = self
            .rolled
            .iter()
            .filter(|r| r.expires_at > now)
            .map(|r| &r.secret);
        self.webhook_secret
            .iter()
            .chain(rolled)
            .take(MAX_SECRETS)
            .cloned()
            .collect()
    }
}

fn check_name(name: &str) -> Result<String, ConnectionError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ConnectionError::NameMissing);
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(ConnectionError::NameTooLong {
            chars,
            max: MAX_NAME_CHARS,
        });
    }
    if name.chars().any(char::is_control) {
        return Err(ConnectionError::NameHasControlCharacter);
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests;
