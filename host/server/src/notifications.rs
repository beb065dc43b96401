//! Notifications the engine asks for (a subscription's payment failed; it recovered), kept in
//! an outbox written in the same transaction as the state change that caused them, so each is
//! recorded exactly once however often its event is delivered or replayed. Delivery (e-mail,
//! a platform callback) reads the outbox; until a channel is configured they stay `pending`
//! and are listed by the API.

use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::db::{Conn, DbError};

/// One notification.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// Its place in the outbox.
    pub seq: i64,
    /// `payment_failed` or `payment_recovered`.
    pub kind: String,
    /// What it is about, e.g. `subscription sub_…`.
    pub subject: String,
    /// The Stripe event that caused it.
    pub event_id: String,
    /// `pending` until a delivery channel takes it.
    pub status: String,
    /// Title, text and the engine's effect.
    pub body: Json,
    /// Unix seconds.
    pub created_at: i64,
}

/// The default title and text of a notification, before any plugin filter changes them.
pub fn default_message(kind: &str, subject: &str, effect: &Json) -> (String, String) {
    match kind {
        "payment_failed" => {
            let retry = effect["retry_at"]
                .as_i64()
                .map(|t| format!(" Stripe will try again at {t} (unix time)."))
                .unwrap_or_default();
            (
                "Payment failed".to_owned(),
                format!("The latest payment for {subject} failed; it is past due.{retry}"),
            )
        }
        "payment_recovered" => (
            "Payment received".to_owned(),
            format!("The overdue payment for {subject} was received; it is active again."),
        ),
        other => (other.replace('_', " "), format!("{other} for {subject}")),
    }
}

/// Records a notification once per (event, kind, subject); returns false when it was there.
pub fn record(
    conn: &mut dyn Conn,
    tenant_id: &str,
    event_id: &str,
    kind: &str,
    subject: &str,
    effect: &Json,
    now: i64,
) -> Result<bool, DbError> {
    let (title, text) = default_message(kind, subject, effect);
    let body = json!({"title": title, "text": text, "effect": effect});
    let n = conn.execute(
        "INSERT INTO notifications (tenant_id, event_id, kind, subject, status, body, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $6) \
         ON CONFLICT (tenant_id, event_id, kind, subject) DO NOTHING",
        &[
            tenant_id.into(),
            event_id.into(),
            kind.into(),
            subject.into(),
            body.to_string().into(),
            now.into(),
        ],
    )?;
    Ok(n > 0)
}

/// A tenant's notifications, newest first.
pub fn list(
    conn: &mut dyn Conn,
    tenant_id: &str,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<Notification>, DbError> {
    let kind = kind.unwrap_or("");
    let rows = conn.query(
        "SELECT seq, kind, subject, event_id, status, body, created_at FROM notifications \
         WHERE tenant_id = $1 AND ($2 = '' OR kind = $3) ORDER BY seq DESC LIMIT $4",
        &[tenant_id.into(), kind.into(), kind.into(), limit.into()],
    )?;
    Ok(rows
        .iter()
        .map(|r| Notification {
            seq: r.int(0),
            kind: r.text(1),
            subject: r.text(2),
            event_id: r.text(3),
            status: r.text(4),
            body: serde_json::from_str(&r.text(5)).unwrap_or(Json::Null),
            created_at: r.int(6),
        })
        .collect())
}
