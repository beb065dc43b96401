//! Secrets sealed at rest with AES-256-GCM.
//!
//! A [`Sealer`] holds the [`MasterKey`] and turns a plaintext secret into a [`SealedSecret`] that
//! a database column can hold, and back. Every seal draws a fresh random 96-bit nonce from the
//! operating system, so sealing the same secret twice gives two different values. The tenant id
//! and the field name are bound in as associated data: a sealed value copied to another tenant's
//! row, or from one field to another, fails to open ([`SealError::OpenFailed`]), as does a value
//! with any bit changed or one sealed under another master key.
//!
//! # The text form
//!
//! `v1.<nonce>.<ciphertext and tag>`, both parts in standard base64 with padding (RFC 4648 §4).
//! `v1` names the scheme: AES-256-GCM, a 12-byte nonce, a 16-byte tag appended to the
//! ciphertext, and associated data
//!
//! ```text
//! "payhook-seal-v1" ‖ len(tenant_id) ‖ tenant_id ‖ len(field) ‖ field
//! ```
//!
//! where each length is 8 bytes, big-endian. The length prefixes make the encoding unambiguous
//! whatever bytes an id or a field name holds (`("a\0b", "c")` and `("a", "b\0c")` differ). The
//! text is ASCII, has no white space and contains no secret, so it is safe in logs and dumps.

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

use crate::secret::{REDACTED, Secret};

/// Length of a master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;
/// Length of a nonce in bytes (96 bits, the size GCM is defined for).
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag appended to the ciphertext.
pub const TAG_LEN: usize = 16;
/// The largest plaintext sealed. Credentials are far smaller; the limit keeps a sealed value a
/// reasonable column and bounds what [`SealedSecret::parse`] decodes.
pub const MAX_PLAINTEXT_LEN: usize = 16 * 1024;
/// The version tag that starts the text form.
pub const VERSION: &str = "v1";

/// Domain separation for the associated data, so a v1 value can never be read as another scheme.
const AAD_LABEL: &[u8] = b"payhook-seal-v1";
/// The longest text form [`SealedSecret::parse`] looks at: the largest plaintext plus overhead.
const MAX_TEXT_LEN: usize = 4 * (MAX_PLAINTEXT_LEN + TAG_LEN).div_ceil(3) + 32;

/// Why a secret could not be sealed, parsed or opened. No variant carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The operating system's random number generator failed, so no nonce could be drawn.
    #[error(
        "the operating system's random number generator failed ({reason}): no secret was sealed"
    )]
    RandomUnavailable {
        /// The generator's own description of the failure.
        reason: String,
    },
    /// The plaintext is larger than [`MAX_PLAINTEXT_LEN`].
    #[error("the secret is {len} bytes; at most {max} can be sealed")]
    PlaintextTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text form is longer than any sealed value.
    #[error("the sealed value is {len} bytes long; no sealed value is longer than {max}")]
    TextTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text form does not start with a version this build knows.
    #[error("the sealed value has version {version:?}; this build opens only {VERSION:?} values")]
    UnsupportedVersion {
        /// The version tag found (at most 8 characters of it).
        version: String,
    },
    /// The text form is not `v1.<nonce>.<ciphertext>`.
    #[error("the sealed value is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The nonce does not decode to exactly [`NONCE_LEN`] bytes.
    #[error("the sealed value's nonce is {len} bytes; it must be {NONCE_LEN}")]
    WrongNonceLength {
        /// The decoded length.
        len: usize,
    },
    /// The ciphertext is shorter than the authentication tag alone.
    #[error(
        "the sealed value's ciphertext is {len} bytes; it must be at least {TAG_LEN} (the tag)"
    )]
    CiphertextTooShort {
        /// The decoded length.
        len: usize,
    },
    /// Authentication failed: the value was sealed for another tenant or field, under another
    /// master key, or was altered. AES-GCM cannot tell these apart, and neither can this error.
    #[error(
        "the sealed {field:?} of tenant {tenant_id:?} does not open: it was sealed for another \
         tenant or field, under another master key, or it was altered"
    )]
    OpenFailed {
        /// The tenant the caller tried to open it for.
        tenant_id: String,
        /// The field the caller tried to open it for.
        field: String,
    },
    /// The value opened, but its plaintext is not UTF-8 text (from [`Sealer::open_secret`]).
    #[error("the sealed {field:?} of tenant {tenant_id:?} opened but is not UTF-8 text")]
    NotText {
        /// The tenant.
        tenant_id: String,
        /// The field.
        field: String,
    },
}

/// The 32-byte key every secret is sealed under. Wiped from memory when dropped; its `Debug`
/// prints `MasterKey([redacted])`.
///
/// Made from raw bytes here, or loaded from `PAYHOOK_MASTER_KEY` or a key file by the
/// [`master_key`](crate::master_key) module.
pub struct MasterKey(Box<Zeroizing<[u8; MASTER_KEY_LEN]>>);

impl MasterKey {
    /// Wraps 32 bytes that are already a key (for example from a key-management service).
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> Self {
        let mut key = Self::zeroed();
        *key.0.as_mut() = Zeroizing::new(bytes);
        key
    }

    /// An all-zero key to fill in place, so the bytes are never copied around the stack.
    pub(crate) fn zeroed() -> Self {
        Self(Box::new(Zeroizing::new([0; MASTER_KEY_LEN])))
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8; MASTER_KEY_LEN] {
        &mut self.0
    }

    pub(crate) fn expose(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({REDACTED})")
    }
}

/// Seals and opens secrets under one master key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Box<Aes256Gcm>,
}

impl Sealer {
    /// A sealer for `key`. The key schedule is wiped when the sealer is dropped.
    pub fn new(key: &MasterKey) -> Self {
        let key: &Key<Aes256Gcm> = key.expose().into();
        Self {
            cipher: Box::new(Aes256Gcm::new(key)),
        }
    }

    /// Seals `plaintext` for `field` of `tenant_id` under a fresh random nonce.
    pub fn seal(
        &self,
        tenant_id: &str,
        field: &str,
        plaintext: &[u8],
    ) -> Result<SealedSecret, SealError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(SealError::PlaintextTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError::RandomUnavailable {
            reason: e.to_string(),
        })?;
        let aad = associated_data(tenant_id, field);
        let ciphertext = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Only a plaintext beyond GCM's 64 GiB limit fails, and MAX_PLAINTEXT_LEN is far below it.
            .map_err(|_| SealError::PlaintextTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            })?;
        Ok(SealedSecret { nonce, ciphertext })
    }

    /// Opens a value sealed for `field` of `tenant_id`. The plaintext is wiped when dropped.
    pub fn open(
        &self,
        tenant_id: &str,
        field: &str,
        sealed: &SealedSecret,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let aad = associated_data(tenant_id, field);
        self.cipher
            .decrypt(
                &Nonce::from(sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::OpenFailed {
                tenant_id: tenant_id.to_owned(),
                field: field.to_owned(),
            })
    }

    /// Seals a text [`Secret`] (a Stripe key, a signing secret).
    pub fn seal_secret(
        &self,
        tenant_id: &str,
        field: &str,
        secret: &Secret,
    ) -> Result<SealedSecret, SealError> {
        self.seal(tenant_id, field, secret.expose().as_bytes())
    }

    /// Opens a value sealed by [`Sealer::seal_secret`] back into a [`Secret`].
    pub fn open_secret(
        &self,
        tenant_id: &str,
        field: &str,
        sealed: &SealedSecret,
    ) -> Result<Secret, SealError> {
        let mut bytes = self.open(tenant_id, field, sealed)?;
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(text) => Ok(Secret::new(text)),
            Err(e) => {
                // Wipe the rejected bytes too before reporting.
                drop(Zeroizing::new(e.into_bytes()));
                Err(SealError::NotText {
                    tenant_id: tenant_id.to_owned(),
                    field: field.to_owned(),
                })
            }
        }
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealer {{ key: {REDACTED} }}")
    }
}

/// A sealed secret: nonce and ciphertext-with-tag. Holds nothing secret, so it prints freely.
///
/// Its text form (`Display`, [`SealedSecret::parse`], `FromStr`) is what a database stores.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl SealedSecret {
    /// Parses the text form `v1.<base64 nonce>.<base64 ciphertext and tag>`.
    ///
    /// Checks the shape only; whether the value is authentic is known when it is opened.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        if text.len() > MAX_TEXT_LEN {
            return Err(SealError::TextTooLong {
                len: text.len(),
                max: MAX_TEXT_LEN,
            });
        }
        let mut parts = text.split('.');
        let version = parts.next().unwrap_or_default();
        if version != VERSION {
            return Err(SealError::UnsupportedVersion {
                version: version.chars().take(8).collect(),
            });
        }
        let (Some(nonce), Some(ciphertext), None) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed {
                reason: "expected three parts separated by '.'",
            });
        };
        let nonce = BASE64.decode(nonce).map_err(|_| SealError::Malformed {
            reason: "the nonce is not standard base64",
        })?;
        let nonce: [u8; NONCE_LEN] = nonce
            .as_slice()
            .try_into()
            .map_err(|_| SealError::WrongNonceLength { len: nonce.len() })?;
        let ciphertext = BASE64
            .decode(ciphertext)
            .map_err(|_| SealError::Malformed {
                reason: "the ciphertext is not standard base64",
            })?;
        if ciphertext.len() < TAG_LEN {
            return Err(SealError::CiphertextTooShort {
                len: ciphertext.len(),
            });
        }
        Ok(Self { nonce, ciphertext })
    }

    /// The nonce this value was sealed with.
    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }
}

impl fmt::Display for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{VERSION}.{}.{}",
            BASE64.encode(self.nonce),
            BASE64.encode(&self.ciphertext)
        )
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret({self})")
    }
}

impl FromStr for SealedSecret {
    type Err = SealError;

    fn from_str(text: &str) -> Result<Self, SealError> {
        Self::parse(text)
    }
}

/// `"payhook-seal-v1" ‖ u64be(len tenant) ‖ tenant ‖ u64be(len field) ‖ field`.
fn associated_data(tenant_id: &str, field: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 16 + tenant_id.len() + field.len());
    aad.extend_from_slice(AAD_LABEL);
    for part in [tenant_id, field] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests;
