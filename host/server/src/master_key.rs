//! Where the master key comes from: the `PAYHOOK_MASTER_KEY` environment variable, or a key file
//! beside the database that is created with mode 0600 on first start.
//!
//! [`MasterKey::resolve`] picks: the variable when it is set (an empty or malformed value is an
//! error, never a reason to fall back to the file and seal under a different key), otherwise the
//! key file. A key file is read only when its mode grants nothing beyond 0600; a new one
//! is made from the operating system's CSPRNG, written with `create_new` and mode 0600 from the
//! first byte, and flushed to disk with its directory before the key is used.
//!
//! Both forms hold the 32 key bytes as 64 hex characters or as standard base64 (44 characters),
//! with surrounding white space ignored; the key file is written as hex and a newline, so its
//! contents can be copied into the variable as they are. No error ever echoes a key or a part
//! of one.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

use crate::seal::{MASTER_KEY_LEN, MasterKey};

/// The environment variable that holds the master key.
pub const MASTER_KEY_ENV: &str = "PAYHOOK_MASTER_KEY";

/// The largest key file read: a key with generous white space, not an arbitrary file.
const MAX_KEY_FILE_LEN: u64 = 1024;

/// The formats a key may be written in, and how to make one, for error messages.
const FORMAT_HINT: &str = "64 hex characters or the standard base64 of 32 bytes \
     (generate one with `openssl rand -hex 32`)";

/// Why no master key could be had. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// `PAYHOOK_MASTER_KEY` is set but empty.
    #[error(
        "PAYHOOK_MASTER_KEY is set but empty: set it to {FORMAT_HINT}, or unset it to use the key file"
    )]
    EnvEmpty,
    /// `PAYHOOK_MASTER_KEY` is set but is not valid Unicode.
    #[error("PAYHOOK_MASTER_KEY is not valid text: set it to {FORMAT_HINT}")]
    EnvNotUnicode,
    /// `PAYHOOK_MASTER_KEY` is neither 64 hex characters nor base64 of 32 bytes.
    #[error("PAYHOOK_MASTER_KEY is not a master key ({found}): set it to {FORMAT_HINT}")]
    EnvInvalid {
        /// What the value looked like, without any of its content.
        found: KeyShape,
    },
    /// The key file's mode grants more than 0600 (read and write for its owner).
    #[error(
        "the master key file {path} has mode {mode:04o}, but it must have mode 0600 (read and write \
         for its owner only): run `chmod 600 {path}` and start again",
        path = path.display()
    )]
    FileTooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file's path names something other than a regular file.
    #[error("the master key file {path} is not a regular file: remove it or choose another path", path = path.display())]
    FileNotRegular {
        /// The path.
        path: PathBuf,
    },
    /// The key file does not hold a key.
    #[error(
        "the master key file {path} does not hold a master key ({found}): it must contain {FORMAT_HINT}; \
         restore it from a backup if secrets were sealed under it; if none were, delete it and a \
         new key is made on the next start",
        path = path.display()
    )]
    FileInvalid {
        /// The key file.
        path: PathBuf,
        /// What its contents looked like, without any of them.
        found: KeyShape,
    },
    /// Reading, creating or flushing the key file failed.
    #[error("could not {action} the master key file {path}: {source}", path = path.display())]
    Io {
        /// What was being done: `"read"`, `"create"`, `"write"`, `"flush"`.
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The operating system's random number generator failed.
    #[error(
        "the operating system's random number generator failed ({reason}): no master key was created"
    )]
    RandomUnavailable {
        /// The generator's description of the failure.
        reason: String,
    },
}

/// What a rejected key looked like: its length and whether it was hex or base64 at all, never
/// any of its characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyShape {
    /// Nothing but white space.
    Empty,
    /// Only hex digits, but not 64 of them.
    HexOfWrongLength {
        /// How many characters it had.
        chars: usize,
    },
    /// Valid base64 that does not decode to 32 bytes.
    Base64OfWrongLength {
        /// How many bytes it decoded to.
        bytes: usize,
    },
    /// Neither hex nor base64.
    NeitherHexNorBase64 {
        /// How many characters it had.
        chars: usize,
    },
}

impl std::fmt::Display for KeyShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyShape::Empty => f.write_str("it is empty"),
            KeyShape::HexOfWrongLength { chars } => write!(f, "{chars} hex characters"),
            KeyShape::Base64OfWrongLength { bytes } => write!(f, "base64 of {bytes} bytes"),
            KeyShape::NeitherHexNorBase64 { chars } => {
                write!(f, "{chars} characters, neither hex nor base64")
            }
        }
    }
}

/// Where [`MasterKey::resolve`] found the key, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// From `PAYHOOK_MASTER_KEY`.
    Env,
    /// From an existing key file.
    ExistingFile(PathBuf),
    /// From a key file created just now.
    CreatedFile(PathBuf),
}

impl MasterKey {
    /// Parses the value of `PAYHOOK_MASTER_KEY`: 64 hex characters or standard base64 of 32
    /// bytes, surrounding white space ignored.
    pub fn from_env_value(value: &str) -> Result<MasterKey, MasterKeyError> {
        if value.trim().is_empty() {
            return Err(MasterKeyError::EnvEmpty);
        }
        parse_key(value).map_err(|found| MasterKeyError::EnvInvalid { found })
    }

    /// Reads the key file at `path`, or creates it with a fresh random key if there is none.
    ///
    /// An existing file is refused when its mode grants anything beyond 0600. A new file is
    /// created with `create_new` and mode 0600, written, and flushed with its directory; if two
    /// processes race to create it, one creates it and the other reads it.
    pub fn load_or_create_file(path: &Path) -> Result<(MasterKey, KeySource), MasterKeyError> {
        match create_key_file(path) {
            Ok(key) => Ok((key, KeySource::CreatedFile(path.to_owned()))),
            Err(CreateError::Exists) => Ok((
                load_key_file(path)?,
                KeySource::ExistingFile(path.to_owned()),
            )),
            Err(CreateError::Failed(e)) => Err(e),
        }
    }

    /// Picks the master key: from `env_value` (the value of `PAYHOOK_MASTER_KEY`) when it is
    /// set, otherwise from the key file at `key_file` (see [`key_file_beside`]).
    pub fn resolve(
        env_value: Option<&str>,
        key_file: &Path,
    ) -> Result<(MasterKey, KeySource), MasterKeyError> {
        match env_value {
            Some(value) => Ok((MasterKey::from_env_value(value)?, KeySource::Env)),
            None => MasterKey::load_or_create_file(key_file),
        }
    }

    /// [`MasterKey::resolve`] with the value read from this process's `PAYHOOK_MASTER_KEY`.
    pub fn from_environment(key_file: &Path) -> Result<(MasterKey, KeySource), MasterKeyError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(value) => {
                let value = Zeroizing::new(value);
                MasterKey::resolve(Some(value.as_str()), key_file)
            }
            Err(std::env::VarError::NotPresent) => MasterKey::resolve(None, key_file),
            Err(std::env::VarError::NotUnicode(_)) => Err(MasterKeyError::EnvNotUnicode),
        }
    }

    /// A key from 32 bytes of the operating system's CSPRNG.
    pub fn generate() -> Result<MasterKey, MasterKeyError> {
        let mut key = MasterKey::zeroed();
        getrandom::fill(key.bytes_mut()).map_err(|e| MasterKeyError::RandomUnavailable {
            reason: e.to_string(),
        })?;
        Ok(key)
    }
}

/// The key file for a database file: `payhook.db` → `payhook.db.key`, in the same directory.
pub fn key_file_beside(database: &Path) -> PathBuf {
    let mut name = database
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "payhook".into());
    name.push(".key");
    database.with_file_name(name)
}

/// 64 hex digits, or standard base64 of exactly 32 bytes; white space around it is ignored.
fn parse_key(text: &str) -> Result<MasterKey, KeyShape> {
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyShape::Empty);
    }
    let mut key = MasterKey::zeroed();
    if text.bytes().all(|b| b.is_ascii_hexdigit()) {
        if text.len() != 2 * MASTER_KEY_LEN {
            return Err(KeyShape::HexOfWrongLength { chars: text.len() });
        }
        for (byte, pair) in key
            .bytes_mut()
            .iter_mut()
            .zip(text.as_bytes().chunks_exact(2))
        {
            *byte = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
        }
        return Ok(key);
    }
    let chars = text.chars().count();
    let decoded = BASE64
        .decode(text)
        .map(Zeroizing::new)
        .map_err(|_| KeyShape::NeitherHexNorBase64 { chars })?;
    if decoded.len() != MASTER_KEY_LEN {
        return Err(KeyShape::Base64OfWrongLength {
            bytes: decoded.len(),
        });
    }
    key.bytes_mut().copy_from_slice(&decoded);
    Ok(key)
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit.to_ascii_lowercase() - b'a' + 10,
    }
}

fn load_key_file(path: &Path) -> Result<MasterKey, MasterKeyError> {
    let io_error = |action| {
        move |source| MasterKeyError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let file = File::open(path).map_err(io_error("read"))?;
    // Checked on the open file, so the file read is the file checked.
    let metadata = file.metadata().map_err(io_error("read"))?;
    if !metadata.is_file() {
        return Err(MasterKeyError::FileNotRegular {
            path: path.to_owned(),
        });
    }
    if let Some(mode) = permission_bits(&metadata)
        && mode & !0o600 != 0
    {
        return Err(MasterKeyError::FileTooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_KEY_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(io_error("read"))?;
    parse_key(&text).map_err(|found| MasterKeyError::FileInvalid {
        path: path.to_owned(),
        found,
    })
}

enum CreateError {
    Exists,
    Failed(MasterKeyError),
}

fn create_key_file(path: &Path) -> Result<MasterKey, CreateError> {
    let failed = |action| {
        move |source| {
            CreateError::Failed(MasterKeyError::Io {
                action,
                path: path.to_owned(),
                source,
            })
        }
    };
    let mut file = match open_new_private(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(CreateError::Exists),
        Err(e) => return Err(failed("create")(e)),
    };
    let written = MasterKey::generate()
        .map_err(CreateError::Failed)
        .and_then(|key| {
            let mut text = Zeroizing::new(String::with_capacity(2 * MASTER_KEY_LEN + 1));
            for byte in key.expose() {
                text.push(char::from(HEX[usize::from(byte >> 4)]));
                text.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
            text.push('\n');
            file.write_all(text.as_bytes()).map_err(failed("write"))?;
            file.sync_all().map_err(failed("flush"))?;
            sync_parent_dir(path).map_err(failed("flush"))?;
            Ok(key)
        });
    if written.is_err() {
        // Leave no half-written file behind to be refused as invalid on the next start.
        let _ = std::fs::remove_file(path);
    }
    written
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(unix)]
fn open_new_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn permission_bits(metadata: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(metadata.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn permission_bits(_: &std::fs::Metadata) -> Option<u32> {
    None
}

#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests;
