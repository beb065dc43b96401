//! Calls to Stripe, stored before they are made: each with its idempotency key, so a retry, a
//! repeated API request or a restart reuses the key and Stripe creates one object. Refunds
//! reserve their amount here, so two refunds asked for at once can never exceed what is
//! refundable.

use payhook_core::stripe::Operation;
use serde_json::Value;

use crate::connection::Mode;
use crate::db::{Backend, Conn, DbError};
use crate::ids::{new_id, now_secs};
use crate::stripe::new_idempotency_key;

/// A stored call.
#[derive(Debug, Clone)]
pub struct Call {
    /// `call_…`
    pub id: String,
    /// Sent as `Idempotency-Key`.
    pub idempotency_key: String,
    /// The operation, as stored (the same bytes go out on every attempt).
    pub operation: Operation,
    /// The answer of a call that already finished, for a repeated request.
    pub result: Option<Value>,
}

/// Why a call could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The same purpose was stored with another operation.
    #[error("this idempotency key was used for a different request")]
    Mismatch,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Stores a call for `purpose` (unique per tenant), or returns the one stored before.
pub fn begin(
    conn: &mut dyn Conn,
    tenant: &str,
    mode: Mode,
    purpose: &str,
    operation: &Operation,
    payment_id: Option<&str>,
    amount: Option<i64>,
) -> Result<Call, CallError> {
    let json = serde_json::to_string(operation).unwrap_or_default();
    if let Some(row) = conn.query_opt(
        "SELECT id, idempotency_key, operation, status, result FROM stripe_calls WHERE tenant_id = $1 AND purpose = $2",
        &[tenant.into(), purpose.into()],
    )? {
        if row.text(2) != json {
            return Err(CallError::Mismatch);
        }
        return Ok(Call {
            id: row.text(0),
            idempotency_key: row.text(1),
            operation: operation.clone(),
            result: (row.text(3) == "done").then(|| row.opt_text(4).and_then(|r| serde_json::from_str(&r).ok())).flatten(),
        });
    }
    let (id, key, now) = (new_id("call"), new_idempotency_key(), now_secs());
    conn.execute(
        "INSERT INTO stripe_calls (id, tenant_id, mode, purpose, idempotency_key, operation, payment_id, amount, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)",
        &[
            id.as_str().into(),
            tenant.into(),
            mode.as_str().into(),
            purpose.into(),
            key.as_str().into(),
            json.into(),
            payment_id.into(),
            amount.into(),
            now.into(),
            now.into(),
        ],
    )?;
    Ok(Call {
        id,
        idempotency_key: key,
        operation: operation.clone(),
        result: None,
    })
}

/// The operation stored for `purpose`, if a call was begun for it.
pub fn stored_operation(
    conn: &mut dyn Conn,
    tenant: &str,
    purpose: &str,
) -> Result<Option<Operation>, DbError> {
    Ok(conn
        .query_opt(
            "SELECT operation FROM stripe_calls WHERE tenant_id = $1 AND purpose = $2",
            &[tenant.into(), purpose.into()],
        )?
        .and_then(|row| serde_json::from_str(&row.text(0)).ok()))
}

/// Records how a call ended: `done` with Stripe's object, or `failed` with the error (a failed
/// refund no longer holds its amount).
pub fn finish(conn: &mut dyn Conn, id: &str, outcome: Result<&Value, &str>) -> Result<(), DbError> {
    let (status, result, error) = match outcome {
        Ok(v) => ("done", Some(v.to_string()), None),
        Err(e) => ("failed", None, Some(e.to_owned())),
    };
    conn.execute(
        "UPDATE stripe_calls SET status = $1, result = $2, error = $3, updated_at = $4 WHERE id = $5",
        &[status.into(), result.into(), error.into(), now_secs().into(), id.into()],
    )?;
    Ok(())
}

/// What can still be refunded on a payment: captured, minus refunded (as the webhooks
/// reported), minus refunds asked for and not yet seen in a webhook. Locks the payment's row on
/// PostgreSQL (SQLite's transaction already holds the write lock).
pub fn refundable(
    conn: &mut dyn Conn,
    tenant: &str,
    payment_id: &str,
) -> Result<Option<(i64, String)>, DbError> {
    let lock = if conn.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let Some(row) = conn.query_opt(
        &format!("SELECT captured, refunded, currency FROM payments WHERE tenant_id = $1 AND id = $2{lock}"),
        &[tenant.into(), payment_id.into()],
    )?
    else {
        return Ok(None);
    };
    let (captured, refunded, currency) = (row.int(0), row.int(1), row.text(2));
    // Refund calls still pending, or done but newer than what the webhooks have reported.
    let asked = conn
        .query_opt(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM stripe_calls WHERE tenant_id = $1 AND payment_id = $2 AND purpose LIKE 'refund:%' AND status <> 'failed'",
            &[tenant.into(), payment_id.into()],
        )?
        .map_or(0, |r| r.int(0));
    Ok(Some(((captured - refunded.max(asked)).max(0), currency)))
}
