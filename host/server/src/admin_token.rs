//! The admin token that guards `/api/v1`: from `PAYHOOK_ADMIN_TOKEN`, or a file created with
//! mode 0600 beside the database on first start (like the master key). Compared in constant
//! time; never logged.

use std::io::Write;
use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// The environment variable that sets the admin token.
pub const ADMIN_TOKEN_ENV: &str = "PAYHOOK_ADMIN_TOKEN";
/// The shortest admin token accepted from the environment.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Why the admin token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    /// The variable is set but too short to guard anything.
    #[error(
        "PAYHOOK_ADMIN_TOKEN is shorter than {MIN_TOKEN_CHARS} characters; use a long random value (e.g. `openssl rand -hex 32`)"
    )]
    TooShort,
    /// The token file could not be read or created.
    #[error("admin token file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Where the token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `PAYHOOK_ADMIN_TOKEN`.
    Env,
    /// An existing file.
    File(PathBuf),
    /// A file created just now.
    CreatedFile(PathBuf),
}

/// The admin token.
#[derive(Clone)]
pub struct AdminToken(Secret);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken([redacted])")
    }
}

impl AdminToken {
    /// A token from a known value (tests, embedding).
    pub fn new(value: impl Into<String>) -> AdminToken {
        AdminToken(Secret::new(value.into()))
    }

    /// The token: `PAYHOOK_ADMIN_TOKEN` if set, else the file at `path`, created if missing.
    pub fn resolve(path: &Path) -> Result<(AdminToken, TokenSource), AdminTokenError> {
        if let Ok(value) = std::env::var(ADMIN_TOKEN_ENV) {
            let value = value.trim().to_owned();
            if value.chars().count() < MIN_TOKEN_CHARS {
                return Err(AdminTokenError::TooShort);
            }
            return Ok((AdminToken::new(value), TokenSource::Env));
        }
        let file_error = |e: std::io::Error| AdminTokenError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => {
                check_private(path).map_err(|reason| AdminTokenError::File {
                    path: path.to_owned(),
                    reason,
                })?;
                Ok((
                    AdminToken::new(text.trim()),
                    TokenSource::File(path.to_owned()),
                ))
            }
            Ok(_) => Err(AdminTokenError::File {
                path: path.to_owned(),
                reason: "the file is empty; delete it to have a new token made".into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).map_err(|e| AdminTokenError::File {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
                let token = hex::encode(bytes);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(path) {
                    Ok(mut file) => {
                        file.write_all(token.as_bytes())
                            .and_then(|_| file.sync_all())
                            .map_err(file_error)?;
                        Ok((
                            AdminToken::new(token),
                            TokenSource::CreatedFile(path.to_owned()),
                        ))
                    }
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::resolve(path),
                    Err(e) => Err(file_error(e)),
                }
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// True when `presented` is the token (constant time).
    pub fn matches(&self, presented: &str) -> bool {
        let a = self.0.expose().as_bytes();
        let b = presented.as_bytes();
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }

    /// The value, to hand to a client in the same process (tests, the CLI's `trigger`).
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "its mode is {mode:o}, readable by others; run `chmod 600 {}`",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// The token file for a database: `payhook.db` → `payhook.db.admin-token`; for PostgreSQL,
/// `payhook.admin-token` in the working directory.
pub fn token_file_for(database: Option<&Path>) -> PathBuf {
    match database {
        Some(db) => {
            let mut name = db
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| "payhook".into());
            name.push(".admin-token");
            db.with_file_name(name)
        }
        None => PathBuf::from("payhook.admin-token"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_is_created_private_and_read_back() {
        if std::env::var_os(ADMIN_TOKEN_ENV).is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.admin-token");
        let (a, src) = AdminToken::resolve(&path).unwrap();
        assert_eq!(src, TokenSource::CreatedFile(path.clone()));
        let (b, _) = AdminToken::resolve(&path).unwrap();
        assert!(b.matches(a.expose()));
        assert!(!b.matches("wrong"));
        assert_eq!(format!("{a:?}"), "AdminToken([redacted])");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = AdminToken::resolve(&path).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
    }
}
