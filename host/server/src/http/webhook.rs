//! `POST /webhooks/stripe/{tenant}/{mode}`: verify, store, then acknowledge.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use payhook_core::secret::WebhookSecret;
use payhook_core::webhook::WebhookError;
use payhook_runtime::RuntimeError;
use serde_json::{Value as Json_, json};

use super::{AppError, AppState, SECRETS_TTL, STORE_DEADLINE};
use crate::connection::Mode;
use crate::engine;
use crate::ids::now_secs;
use crate::inbox::{IngestError, NewDelivery, Stored};
use crate::tenants;

/// Verifies the delivery with the connection's signing secrets (current and rolled), stores it,
/// and answers 200 only once it is committed: `{"received": true, "duplicate": false}`.
///
/// 400 for an unknown endpoint, a bad signature or an expired timestamp alike; 413 above
/// 1 MiB; 503 when the database does not take the write within 2 s.
pub(super) async fn receive(
    State(state): State<AppState>,
    Path((tenant, mode)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Json_>, AppError> {
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge(super::MAX_WEBHOOK_BODY)
        } else {
            AppError::bad("unreadable_body", e.body_text())
        }
    })?;
    let metrics = &state.0.metrics;
    let refused = |reason: &str| {
        metrics.count_rejected(reason);
        AppError::WebhookRefused
    };
    let Ok(mode) = mode.parse::<Mode>() else {
        return Err(refused("unknown_endpoint"));
    };
    let Some(secrets) = signing_secrets(&state, &tenant, mode).await? else {
        return Err(refused("unknown_endpoint"));
    };
    if secrets.is_empty() {
        return Err(refused("no_signing_secret"));
    }
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = now_secs();
    let tolerance = state.0.tolerance_secs;
    let delivery =
        match engine::with_session(|s| s.receive(header, &body, &secrets, now, tolerance)) {
            Ok(Ok(delivery)) => delivery,
            Ok(Err(WebhookError::Signature(_))) => return Err(refused("signature")),
            Ok(Err(WebhookError::Decode(e))) => {
                metrics.count_rejected("not_an_event");
                return Err(AppError::bad(
                    "not_an_event",
                    format!("the signed body is not a Stripe event: {e}"),
                ));
            }
            Err(RuntimeError::BodyNotUtf8 { .. }) => return Err(refused("signature")),
            Err(RuntimeError::BodyTooLarge { max, .. }) => return Err(AppError::TooLarge(max)),
            Err(e) => {
                return Err(AppError::Internal(format!(
                    "the engine failed on a delivery: {e}"
                )));
            }
        };
    let event = delivery.event;
    // The engine accepted the body as UTF-8.
    let body = String::from_utf8(Vec::from(body)).map_err(|_| refused("signature"))?;
    let new = NewDelivery {
        tenant_id: tenant,
        mode,
        event_id: event.id.as_str().to_owned(),
        event_type: event.event_type.as_str().to_owned(),
        livemode: event.livemode,
        created: event.created,
        api_version: event.api_version.clone(),
        body,
    };
    let started = Instant::now();
    match tokio::time::timeout(STORE_DEADLINE, state.0.writer.store(new)).await {
        Ok(Ok(stored)) => Ok(Json(
            json!({"received": true, "duplicate": stored == Stored::Duplicate}),
        )),
        Ok(Err(IngestError::Database(e))) => Err(AppError::Unavailable(format!(
            "the delivery was not stored: {e}"
        ))),
        Ok(Err(e)) => Err(AppError::Unavailable(format!(
            "the delivery was not stored: {e}"
        ))),
        Err(_) => Err(AppError::Unavailable(format!(
            "the delivery was not stored within {} ms; Stripe will retry",
            started.elapsed().as_millis()
        ))),
    }
}

/// The connection's active signing secrets, from a short-lived cache; `None` when there is no
/// such endpoint.
async fn signing_secrets(
    state: &AppState,
    tenant: &str,
    mode: Mode,
) -> Result<Option<Vec<WebhookSecret>>, AppError> {
    let key = (tenant.to_owned(), mode);
    if let Ok(cache) = state.0.secrets.lock()
        && let Some((at, secrets)) = cache.get(&key)
        && at.elapsed() < SECRETS_TTL
    {
        return Ok(secrets.clone());
    }
    let (t, now) = (tenant.to_owned(), now_secs());
    let secrets = state
        .db(move |conn, inner| {
            tenants::signing_secrets(conn, &inner.sealer, &t, mode, now).map_err(AppError::from)
        })
        .await?;
    if let Ok(mut cache) = state.0.secrets.lock() {
        // A flood of unknown tenants must not grow the cache without bound.
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), secrets.clone()));
    }
    Ok(secrets)
}
