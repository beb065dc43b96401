//! Tenants and their Stripe connections, stored with every secret sealed.
//!
//! A tenant is one business (a clinic, a salon, an invoicing account); it has one connection
//! per mode. Secret keys and webhook signing secrets are sealed with the tenant id and the field
//! (`test.secret_key`, `live.webhook_secret`) as associated data, so a sealed value copied to
//! another tenant, mode or column does not open. What is shown is a [`TenantView`]: masked keys
//! only.

use std::time::Duration;

use payhook_core::secret::WebhookSecret;
use serde::Serialize;

use crate::connection::{ConnectionError, ConnectionInput, Mode, RolledSecret, ValidConnection};
use crate::db::{Conn, DbError, transaction};
use crate::ids::{is_plausible, new_id};
use crate::seal::{SealError, SealedSecret, Sealer};
use crate::secret::{Secret, mask};

/// Why a tenant operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The connection's fields were refused; the message says how to fix them.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// No such tenant (or no connection in that mode).
    #[error("no tenant {id:?} with a {mode} connection")]
    NotFound {
        /// The id asked for.
        id: String,
        /// The mode asked for.
        mode: Mode,
    },
    /// No such tenant.
    #[error("no tenant {0:?}")]
    NoTenant(String),
    /// The tenant already has a connection in that mode.
    #[error("tenant {id:?} already has a {mode} connection; rotate its key or disconnect it first")]
    AlreadyConnected {
        /// The tenant.
        id: String,
        /// The mode.
        mode: Mode,
    },
    /// The connection was disconnected: its credentials are gone.
    #[error(
        "the {mode} connection of tenant {id:?} was disconnected; connect it again with new keys"
    )]
    Disconnected {
        /// The tenant.
        id: String,
        /// The mode.
        mode: Mode,
    },
    /// A sealed secret would not open: the master key is not the one it was sealed with, or
    /// the value was tampered with.
    #[error(
        "a stored secret of tenant {id:?} cannot be opened ({source}); is PAYHOOK_MASTER_KEY the key this database was created with?"
    )]
    Unseal {
        /// The tenant.
        id: String,
        /// Why.
        source: SealError,
    },
    /// Sealing failed.
    #[error("cannot seal a secret: {0}")]
    Seal(SealError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What may be shown of a tenant: never a secret, only masked forms.
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    /// `ten_…`
    pub id: String,
    /// The tenant's name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Its connections, test first.
    pub connections: Vec<ConnectionView>,
}

/// What may be shown of a connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionView {
    /// `test` or `live`.
    pub mode: Mode,
    /// The connection's name.
    pub name: String,
    /// The secret key, masked (`sk_test_…abcd`).
    pub secret_key: Option<String>,
    /// The publishable key, in full: it is public by design (payment pages embed it).
    pub publishable_key: Option<String>,
    /// The signing secrets that verify, masked, current first.
    pub webhook_secrets: Vec<SigningSecretView>,
    /// e.g. `eur`.
    pub default_currency: Option<String>,
    /// Whether it takes payments.
    pub enabled: bool,
    /// When it was disconnected (unix seconds), if it was.
    pub disconnected_at: Option<i64>,
    /// The path to give Stripe as the webhook endpoint, under the server's public URL.
    pub webhook_path: String,
}

/// A signing secret, masked.
#[derive(Debug, Clone, Serialize)]
pub struct SigningSecretView {
    /// `whsec_…abcd`
    pub secret: String,
    /// When it stops verifying (unix seconds); `None` for the current one.
    pub expires_at: Option<i64>,
}

/// The stored form of one signing secret.
#[derive(Serialize, serde::Deserialize)]
struct StoredSigningSecret {
    sealed: String,
    hint: String,
    expires_at: Option<i64>,
}

/// The webhook path for a tenant's connection: `/webhooks/stripe/{tenant}/{mode}`.
pub fn webhook_path(tenant: &str, mode: Mode) -> String {
    format!("/webhooks/stripe/{tenant}/{mode}")
}

/// Creates a tenant with its first connection.
pub fn create(
    conn: &mut dyn Conn,
    sealer: &Sealer,
    name: &str,
    input: &ConnectionInput,
    now: i64,
) -> Result<TenantView, TenantError> {
    let valid = input.validate()?;
    let tenant_name = if name.trim().is_empty() {
        valid.name().to_owned()
    } else {
        name.trim().to_owned()
    };
    let id = new_id("ten");
    transaction(conn, |tx| -> Result<(), TenantError> {
        tx.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)",
            &[id.as_str().into(), tenant_name.into(), now.into()],
        )?;
        insert_connection(tx, sealer, &id, &valid, now)
    })?;
    show(conn, &id)?.ok_or(TenantError::NoTenant(id))
}

/// Adds a connection in another mode to a tenant.
pub fn connect(
    conn: &mut dyn Conn,
    sealer: &Sealer,
    id: &str,
    input: &ConnectionInput,
    now: i64,
) -> Result<TenantView, TenantError> {
    let valid = input.validate()?;
    transaction(conn, |tx| -> Result<(), TenantError> {
        if tx
            .query_opt("SELECT 1 FROM tenants WHERE id = $1", &[id.into()])?
            .is_none()
        {
            return Err(TenantError::NoTenant(id.to_owned()));
        }
        let existing = tx.query_opt(
            "SELECT disconnected_at FROM connections WHERE tenant_id = $1 AND mode = $2",
            &[id.into(), valid.mode().as_str().into()],
        )?;
        match existing {
            Some(row) if row.opt_int(0).is_none() => Err(TenantError::AlreadyConnected {
                id: id.to_owned(),
                mode: valid.mode(),
            }),
            Some(_) => {
                tx.execute(
                    "DELETE FROM connections WHERE tenant_id = $1 AND mode = $2",
                    &[id.into(), valid.mode().as_str().into()],
                )?;
                insert_connection(tx, sealer, id, &valid, now)
            }
            None => insert_connection(tx, sealer, id, &valid, now),
        }
    })?;
    show(conn, id)?.ok_or_else(|| TenantError::NoTenant(id.to_owned()))
}

fn insert_connection(
    tx: &mut dyn Conn,
    sealer: &Sealer,
    id: &str,
    valid: &ValidConnection,
    now: i64,
) -> Result<(), TenantError> {
    let mode = valid.mode();
    let sealed_key = seal(sealer, id, mode, "secret_key", valid.secret_key().expose())?;
    let secrets = stored_signing_secrets(sealer, id, valid)?;
    tx.execute(
        "INSERT INTO connections (tenant_id, mode, name, secret_key, secret_key_hint, publishable_key, publishable_key_hint, \
         webhook_secrets, default_currency, enabled, disconnected_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12)",
        &[
            id.into(),
            mode.as_str().into(),
            valid.name().into(),
            sealed_key.into(),
            valid.secret_key().masked().into(),
            valid.publishable_key().map(|k| k.as_str().to_owned()).into(),
            valid.publishable_key().map(|k| mask(k.as_str())).into(),
            secrets.into(),
            valid.default_currency().map(|c| c.as_str().to_owned()).into(),
            valid.is_enabled().into(),
            now.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// Every tenant, oldest first.
pub fn list(conn: &mut dyn Conn) -> Result<Vec<TenantView>, TenantError> {
    let ids: Vec<String> = conn
        .query("SELECT id FROM tenants ORDER BY created_at, id", &[])?
        .iter()
        .map(|r| r.text(0))
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(show(conn, &id)?);
    }
    Ok(out)
}

/// One tenant, if it exists.
pub fn show(conn: &mut dyn Conn, id: &str) -> Result<Option<TenantView>, TenantError> {
    if !is_plausible(id) {
        return Ok(None);
    }
    let Some(tenant) = conn.query_opt(
        "SELECT id, name, created_at FROM tenants WHERE id = $1",
        &[id.into()],
    )?
    else {
        return Ok(None);
    };
    let rows = conn.query(
        "SELECT mode, name, secret_key_hint, publishable_key, webhook_secrets, default_currency, enabled, disconnected_at \
         FROM connections WHERE tenant_id = $1 ORDER BY mode DESC",
        &[id.into()],
    )?;
    let mut connections = Vec::new();
    for r in rows {
        let Ok(mode) = r.text(0).parse::<Mode>() else {
            continue;
        };
        let secrets: Vec<StoredSigningSecret> =
            serde_json::from_str(&r.text(4)).unwrap_or_default();
        let disconnected_at = r.opt_int(7);
        connections.push(ConnectionView {
            mode,
            name: r.text(1),
            secret_key: r.opt_text(2),
            publishable_key: r.opt_text(3),
            webhook_secrets: secrets
                .into_iter()
                .map(|s| SigningSecretView {
                    secret: s.hint,
                    expires_at: s.expires_at,
                })
                .collect(),
            default_currency: r.opt_text(5),
            enabled: r.int(6) != 0,
            disconnected_at,
            webhook_path: webhook_path(id, mode),
        });
    }
    Ok(Some(TenantView {
        id: tenant.text(0),
        name: tenant.text(1),
        created_at: tenant.int(2),
        connections,
    }))
}

/// The signing secrets that verify a delivery to `id`/`mode` at `now`, current first; `None`
/// when there is no such connection or it was disconnected.
pub fn signing_secrets(
    conn: &mut dyn Conn,
    sealer: &Sealer,
    id: &str,
    mode: Mode,
    now: i64,
) -> Result<Option<Vec<WebhookSecret>>, TenantError> {
    if !is_plausible(id) {
        return Ok(None);
    }
    let row = conn.query_opt(
        "SELECT webhook_secrets FROM connections WHERE tenant_id = $1 AND mode = $2 AND disconnected_at IS NULL",
        &[id.into(), mode.as_str().into()],
    )?;
    let Some(row) = row else { return Ok(None) };
    let stored: Vec<StoredSigningSecret> = serde_json::from_str(&row.text(0)).unwrap_or_default();
    let mut out = Vec::new();
    for s in stored
        .iter()
        .filter(|s| s.expires_at.is_none_or(|at| at > now))
    {
        out.push(WebhookSecret::new(
            open(sealer, id, mode, "webhook_secret", &s.sealed)?.expose(),
        ));
    }
    Ok(Some(out))
}

/// The connection with its secrets opened, for calls to Stripe.
pub fn load(
    conn: &mut dyn Conn,
    sealer: &Sealer,
    id: &str,
    mode: Mode,
) -> Result<ValidConnection, TenantError> {
    let row = conn
        .query_opt(
            "SELECT name, secret_key, publishable_key, webhook_secrets, default_currency, enabled, disconnected_at \
             FROM connections WHERE tenant_id = $1 AND mode = $2",
            &[id.into(), mode.as_str().into()],
        )?
        .ok_or_else(|| TenantError::NotFound { id: id.to_owned(), mode })?;
    if row.opt_int(6).is_some() {
        return Err(TenantError::Disconnected {
            id: id.to_owned(),
            mode,
        });
    }
    let secret_key = open(sealer, id, mode, "secret_key", &row.text(1))?;
    let stored: Vec<StoredSigningSecret> = serde_json::from_str(&row.text(3)).unwrap_or_default();
    let mut current = None;
    let mut rolled = Vec::new();
    for s in &stored {
        let secret =
            WebhookSecret::new(open(sealer, id, mode, "webhook_secret", &s.sealed)?.expose());
        match s.expires_at {
            None => current = Some(secret),
            Some(at) => rolled.push(RolledSecret::new(secret, at)),
        }
    }
    let input = ConnectionInput {
        name: row.text(0),
        mode,
        secret_key: Some(secret_key),
        publishable_key: row.opt_text(2).map(Secret::new),
        webhook_secret: current,
        default_currency: row.opt_text(4),
        enabled: row.int(5) != 0,
    };
    Ok(input.validate()?.with_rolled_secrets(rolled))
}

/// Replaces the secret key (checked against the mode as at creation).
pub fn rotate_key(
    conn: &mut dyn Conn,
    sealer: &Sealer,
    id: &str,
    mode: Mode,
    new: &Secret,
    now: i64,
) -> Result<TenantView, TenantError> {
    transaction(conn, |tx| -> Result<(), TenantError> {
        let mut valid = load(tx, sealer, id, mode)?;
        valid.rotate_secret_key(new)?;
        let sealed = seal(sealer, id, mode, "secret_key", valid.secret_key().expose())?;
        tx.execute(
            "UPDATE connections SET secret_key = $1, secret_key_hint = $2, updated_at = $3 WHERE tenant_id = $4 AND mode = $5",
            &[sealed.into(), valid.secret_key().masked().into(), now.into(), id.into(), mode.as_str().into()],
        )?;
        Ok(())
    })?;
    show(conn, id)?.ok_or_else(|| TenantError::NoTenant(id.to_owned()))
}

/// Makes `new` the signing secret; the old one keeps verifying for `overlap`.
pub fn roll_webhook_secret(
    conn: &mut dyn Conn,
    sealer: &Sealer,
    id: &str,
    mode: Mode,
    new: &WebhookSecret,
    overlap: Duration,
    now: i64,
) -> Result<TenantView, TenantError> {
    transaction(conn, |tx| -> Result<(), TenantError> {
        let mut valid = load(tx, sealer, id, mode)?;
        valid.roll_webhook_secret(new, now, overlap)?;
        let secrets = stored_signing_secrets(sealer, id, &valid)?;
        tx.execute(
            "UPDATE connections SET webhook_secrets = $1, updated_at = $2 WHERE tenant_id = $3 AND mode = $4",
            &[secrets.into(), now.into(), id.into(), mode.as_str().into()],
        )?;
        Ok(())
    })?;
    show(conn, id)?.ok_or_else(|| TenantError::NoTenant(id.to_owned()))
}

/// Enables or disables a connection.
pub fn set_enabled(
    conn: &mut dyn Conn,
    id: &str,
    mode: Mode,
    enabled: bool,
    now: i64,
) -> Result<TenantView, TenantError> {
    let n = conn.execute(
        "UPDATE connections SET enabled = $1, updated_at = $2 WHERE tenant_id = $3 AND mode = $4 AND disconnected_at IS NULL",
        &[enabled.into(), now.into(), id.into(), mode.as_str().into()],
    )?;
    if n == 0 {
        return Err(not_found_or_disconnected(conn, id, mode)?);
    }
    show(conn, id)?.ok_or_else(|| TenantError::NoTenant(id.to_owned()))
}

/// Destroys a connection's credentials; its events and records stay.
pub fn disconnect(
    conn: &mut dyn Conn,
    id: &str,
    mode: Mode,
    now: i64,
) -> Result<TenantView, TenantError> {
    let n = conn.execute(
        "UPDATE connections SET secret_key = NULL, webhook_secrets = '[]', enabled = 0, disconnected_at = $1, updated_at = $2 \
         WHERE tenant_id = $3 AND mode = $4 AND disconnected_at IS NULL",
        &[now.into(), now.into(), id.into(), mode.as_str().into()],
    )?;
    if n == 0 {
        return Err(not_found_or_disconnected(conn, id, mode)?);
    }
    show(conn, id)?.ok_or_else(|| TenantError::NoTenant(id.to_owned()))
}

fn not_found_or_disconnected(
    conn: &mut dyn Conn,
    id: &str,
    mode: Mode,
) -> Result<TenantError, TenantError> {
    let exists = conn.query_opt(
        "SELECT 1 FROM connections WHERE tenant_id = $1 AND mode = $2",
        &[id.into(), mode.as_str().into()],
    )?;
    Ok(match exists {
        Some(_) => TenantError::Disconnected {
            id: id.to_owned(),
            mode,
        },
        None => TenantError::NotFound {
            id: id.to_owned(),
            mode,
        },
    })
}

fn stored_signing_secrets(
    sealer: &Sealer,
    id: &str,
    valid: &ValidConnection,
) -> Result<String, TenantError> {
    let mode = valid.mode();
    let mut stored = Vec::new();
    if let Some(current) = valid.webhook_secret() {
        stored.push(StoredSigningSecret {
            sealed: seal(sealer, id, mode, "webhook_secret", current.expose())?,
            hint: mask(current.expose()),
            expires_at: None,
        });
    }
    for r in valid.rolled_webhook_secrets() {
        stored.push(StoredSigningSecret {
            sealed: seal(sealer, id, mode, "webhook_secret", r.secret().expose())?,
            hint: mask(r.secret().expose()),
            expires_at: Some(r.expires_at()),
        });
    }
    Ok(serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned()))
}

fn seal(
    sealer: &Sealer,
    id: &str,
    mode: Mode,
    field: &str,
    plaintext: &str,
) -> Result<String, TenantError> {
    let field = format!("{mode}.{field}");
    sealer
        .seal(id, &field, plaintext.as_bytes())
        .map(|s| s.to_string())
        .map_err(TenantError::Seal)
}

fn open(
    sealer: &Sealer,
    id: &str,
    mode: Mode,
    field: &str,
    sealed: &str,
) -> Result<Secret, TenantError> {
    let unseal = |source| TenantError::Unseal {
        id: id.to_owned(),
        source,
    };
    let sealed = SealedSecret::parse(sealed).map_err(unseal)?;
    sealer
        .open_secret(id, &format!("{mode}.{field}"), &sealed)
        .map_err(unseal)
}
