//! `/api/v1`: tenants and their connections, the event log, invoices, appointments, payments,
//! subscriptions, the ledger and what `payhook import` stored. Every route needs the admin token (checked by the router).

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use payhook_core::machine::document::MachineKind;
use payhook_core::money::Money;
use payhook_core::secret::WebhookSecret;
use payhook_core::stripe::ListKind;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppError, AppState};
use crate::connection::{ConnectionInput, DEFAULT_ROLL_OVERLAP, Mode};
use crate::engine;
use crate::ids::now_secs;
use crate::inbox::{self, EventFilter};
use crate::records::{self, NewRecord, RecordKind};
use crate::secret::Secret;
use crate::tenants::{self, TenantView};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list_tenants).post(create_tenant))
        .route("/tenants/{id}", get(show_tenant))
        .route("/tenants/{id}/connections", post(connect))
        .route("/tenants/{id}/{mode}/rotate-key", post(rotate_key))
        .route(
            "/tenants/{id}/{mode}/roll-webhook-secret",
            post(roll_webhook_secret),
        )
        .route("/tenants/{id}/{mode}/disable", post(disable))
        .route("/tenants/{id}/{mode}/enable", post(enable))
        .route("/tenants/{id}/{mode}/disconnect", post(disconnect))
        .route("/tenants/{id}/events", get(list_events))
        .route("/tenants/{id}/events/{event_id}", get(show_event))
        .route("/tenants/{id}/events/{event_id}/replay", post(replay_event))
        .route(
            "/tenants/{id}/invoices",
            get(list_invoices).post(create_invoice),
        )
        .route(
            "/tenants/{id}/appointments",
            get(list_appointments).post(create_appointment),
        )
        .route("/tenants/{id}/payments", get(list_payments))
        .route(
            "/tenants/{id}/subscriptions",
            get(list_subscriptions).post(super::subscriptions::create),
        )
        .route("/tenants/{id}/ledger", get(ledger))
        .route("/tenants/{id}/charges", get(list_charges))
        .route("/tenants/{id}/refunds", get(list_refunds))
        .route("/tenants/{id}/payouts", get(list_payouts))
        .route(
            "/tenants/{id}/balance-transactions",
            get(list_balance_transactions),
        )
        .route("/invoices/{id}", get(show_invoice))
        .route("/appointments/{id}", get(show_appointment))
}

/// A tenant as the API and the CLI show it: masked keys, and the full webhook URL of each
/// connection (`webhook_url` is the first connection's).
pub fn tenant_json(view: &TenantView, public_url: &str) -> Value {
    let mut value = serde_json::to_value(view).unwrap_or(Value::Null);
    let base = public_url.trim_end_matches('/');
    if let Some(connections) = value.get_mut("connections").and_then(Value::as_array_mut) {
        for c in connections {
            let url = format!("{base}{}", c["webhook_path"].as_str().unwrap_or_default());
            c["webhook_url"] = Value::String(url);
        }
    }
    let first = value["connections"]
        .get(0)
        .map(|c| c["webhook_url"].clone())
        .unwrap_or(Value::Null);
    value["webhook_url"] = first;
    value
}

/// The fields of a new connection, as JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionBody {
    /// Tenant name (creation only).
    #[serde(default)]
    pub name: String,
    /// Connection name; defaults to the tenant name.
    #[serde(default)]
    pub connection_name: Option<String>,
    /// `test` or `live`.
    pub mode: String,
    /// `sk_…` or `rk_…`.
    #[serde(default)]
    pub secret_key: Option<String>,
    /// `pk_…`.
    #[serde(default)]
    pub publishable_key: Option<String>,
    /// `whsec_…`.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// e.g. `eur`.
    #[serde(default)]
    pub currency: Option<String>,
    /// Defaults to true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl ConnectionBody {
    /// The input to validate.
    pub fn input(&self) -> Result<ConnectionInput, AppError> {
        let mode = parse_mode(&self.mode)?;
        let name = self
            .connection_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| self.name.clone());
        Ok(ConnectionInput {
            name,
            mode,
            secret_key: self.secret_key.clone().map(Secret::new),
            publishable_key: self.publishable_key.clone().map(Secret::new),
            webhook_secret: self.webhook_secret.clone().map(WebhookSecret::new),
            default_currency: self.currency.clone(),
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

impl std::fmt::Debug for ConnectionBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionBody([redacted])")
    }
}

fn parse_mode(mode: &str) -> Result<Mode, AppError> {
    mode.parse::<Mode>()
        .map_err(|e| AppError::bad("invalid_mode", e.to_string()))
}

pub(super) type ApiResult = Result<(StatusCode, Json<Value>), AppError>;

fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(value)))
}

async fn list_tenants(State(s): State<AppState>) -> ApiResult {
    let url = s.0.public_url.clone();
    let list = s.db(|c, _| Ok(tenants::list(c)?)).await?;
    ok(Value::Array(
        list.iter().map(|t| tenant_json(t, &url)).collect(),
    ))
}

pub(super) async fn create_tenant(
    State(s): State<AppState>,
    body: Result<Json<ConnectionBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let Json(body) = body.map_err(json_error)?;
    let input = body.input()?;
    let url = s.0.public_url.clone();
    let view = s
        .db(move |c, inner| {
            Ok(tenants::create(
                c,
                &inner.sealer,
                &body.name,
                &input,
                now_secs(),
            )?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(tenant_json(&view, &url))))
}

async fn show_tenant(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let url = s.0.public_url.clone();
    let id2 = id.clone();
    let view = s.db(move |c, _| Ok(tenants::show(c, &id2)?)).await?;
    match view {
        Some(v) => ok(tenant_json(&v, &url)),
        None => Err(AppError::NotFound(format!("no tenant {id:?}"))),
    }
}

pub(super) async fn connect(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<ConnectionBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let Json(body) = body.map_err(json_error)?;
    let input = body.input()?;
    let url = s.0.public_url.clone();
    let tid = id.clone();
    let view = s
        .db(move |c, inner| {
            Ok(tenants::connect(
                c,
                &inner.sealer,
                &tid,
                &input,
                now_secs(),
            )?)
        })
        .await?;
    s.forget_secrets(&id);
    Ok((StatusCode::CREATED, Json(tenant_json(&view, &url))))
}

#[derive(Deserialize)]
pub(super) struct RotateBody {
    pub(super) secret_key: String,
}

pub(super) async fn rotate_key(
    State(s): State<AppState>,
    Path((id, mode)): Path<(String, String)>,
    body: Result<Json<RotateBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let Json(body) = body.map_err(json_error)?;
    let mode = parse_mode(&mode)?;
    let url = s.0.public_url.clone();
    let view = s
        .db(move |c, inner| {
            Ok(tenants::rotate_key(
                c,
                &inner.sealer,
                &id,
                mode,
                &Secret::new(body.secret_key),
                now_secs(),
            )?)
        })
        .await?;
    ok(tenant_json(&view, &url))
}

#[derive(Deserialize)]
pub(super) struct RollBody {
    pub(super) webhook_secret: String,
    /// How long the old secret keeps verifying, in hours (default 24).
    #[serde(default)]
    pub(super) overlap_hours: Option<u64>,
}

pub(super) async fn roll_webhook_secret(
    State(s): State<AppState>,
    Path((id, mode)): Path<(String, String)>,
    body: Result<Json<RollBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let Json(body) = body.map_err(json_error)?;
    let mode = parse_mode(&mode)?;
    let overlap = body.overlap_hours.map_or(DEFAULT_ROLL_OVERLAP, |h| {
        Duration::from_secs(h.saturating_mul(3600))
    });
    let url = s.0.public_url.clone();
    let tid = id.clone();
    let view = s
        .db(move |c, inner| {
            Ok(tenants::roll_webhook_secret(
                c,
                &inner.sealer,
                &tid,
                mode,
                &WebhookSecret::new(body.webhook_secret),
                overlap,
                now_secs(),
            )?)
        })
        .await?;
    s.forget_secrets(&id);
    ok(tenant_json(&view, &url))
}

pub(super) async fn disable(s: State<AppState>, p: Path<(String, String)>) -> ApiResult {
    set_enabled(s, p, false).await
}

pub(super) async fn enable(s: State<AppState>, p: Path<(String, String)>) -> ApiResult {
    set_enabled(s, p, true).await
}

async fn set_enabled(
    State(s): State<AppState>,
    Path((id, mode)): Path<(String, String)>,
    enabled: bool,
) -> ApiResult {
    let mode = parse_mode(&mode)?;
    let url = s.0.public_url.clone();
    let view = s
        .db(move |c, _| Ok(tenants::set_enabled(c, &id, mode, enabled, now_secs())?))
        .await?;
    ok(tenant_json(&view, &url))
}

pub(super) async fn disconnect(
    State(s): State<AppState>,
    Path((id, mode)): Path<(String, String)>,
) -> ApiResult {
    let mode = parse_mode(&mode)?;
    let url = s.0.public_url.clone();
    let tid = id.clone();
    let view = s
        .db(move |c, _| Ok(tenants::disconnect(c, &tid, mode, now_secs())?))
        .await?;
    s.forget_secrets(&id);
    ok(tenant_json(&view, &url))
}

#[derive(Deserialize)]
struct EventQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

async fn list_events(
    State(s): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<EventQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| AppError::bad("invalid_query", e.body_text()))?;
    if let Some(status) = &q.status
        && !inbox::status::ALL.contains(&status.as_str())
    {
        return Err(AppError::bad(
            "invalid_status",
            format!(
                "unknown status {status:?}; use one of {}",
                inbox::status::ALL.join(", ")
            ),
        ));
    }
    let filter = EventFilter {
        status: q.status,
        event_type: q.event_type,
        before: q.before,
        limit: q.limit.unwrap_or(50),
    };
    let events = s
        .db(move |c, _| {
            require_tenant(c, &id)?;
            Ok(inbox::list(c, &id, &filter)?)
        })
        .await?;
    ok(serde_json::to_value(events).unwrap_or(Value::Null))
}

async fn show_event(
    State(s): State<AppState>,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult {
    let e = event_id.clone();
    match s.db(move |c, _| Ok(inbox::show(c, &id, &e)?)).await? {
        Some(event) => ok(serde_json::to_value(event).unwrap_or(Value::Null)),
        None => Err(AppError::NotFound(format!(
            "no event {event_id:?} for this tenant"
        ))),
    }
}

pub(super) async fn replay_event(
    State(s): State<AppState>,
    Path((id, event_id)): Path<(String, String)>,
) -> ApiResult {
    let (t, e) = (id.clone(), event_id.clone());
    if !s.db(move |c, _| Ok(inbox::replay(c, &t, &e)?)).await? {
        return Err(AppError::NotFound(format!(
            "no event {event_id:?} for this tenant"
        )));
    }
    s.0.writer.wake();
    ok(json!({"replayed": true, "event_id": event_id}))
}

/// A new invoice or appointment.
#[derive(Deserialize)]
pub(super) struct RecordBody {
    /// A decimal string in the currency's units, e.g. `"20.00"` (or `"2000"` for JPY).
    amount: String,
    currency: Option<String>,
    customer: Option<String>,
    description: Option<String>,
    starts_at: Option<i64>,
    #[serde(default)]
    metadata: Value,
    /// Invoices: make a Payment Link for it (default: yes, when the tenant has an enabled
    /// connection).
    payment_link: Option<bool>,
}

pub(super) async fn create_invoice(
    s: State<AppState>,
    p: Path<String>,
    body: Result<Json<RecordBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    create_record(s, p, body, RecordKind::Invoice).await
}

pub(super) async fn create_appointment(
    s: State<AppState>,
    p: Path<String>,
    body: Result<Json<RecordBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    create_record(s, p, body, RecordKind::Appointment).await
}

async fn create_record(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    body: Result<Json<RecordBody>, axum::extract::rejection::JsonRejection>,
    kind: RecordKind,
) -> ApiResult {
    let Json(body) = body.map_err(json_error)?;
    let record = s
        .db(move |c, _| {
            let view = tenants::show(c, &tenant)?.ok_or_else(|| AppError::NotFound(format!("no tenant {tenant:?}")))?;
            let default_currency = view.connections.iter().find_map(|c| c.default_currency.clone());
            let currency = body.currency.clone().or(default_currency).ok_or_else(|| {
                AppError::bad("currency_missing", "give a currency (e.g. \"eur\"), or set a default currency on the tenant's connection")
            })?;
            let amount = parse_amount(&body.amount, &currency)?;
            let state = new_state(kind, amount)?;
            let new = NewRecord {
                amount,
                customer: body.customer,
                description: body.description,
                starts_at: body.starts_at,
                metadata: body.metadata,
            };
            let link = kind == RecordKind::Invoice && wants_payment_link(&view, body.payment_link);
            Ok(create_finalized(c, kind, &tenant, &new, &state, link)?)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(record).unwrap_or(Value::Null)),
    ))
}

/// Creates an invoice or an appointment; an invoice is finalized at once: its Payment Link is
/// queued when `payment_link` and its `invoice-finalized` action written for plugins, in the
/// same transaction as the record, so a crash never leaves an invoice its plugins did not hear of.
pub fn create_finalized(
    c: &mut dyn crate::db::Conn,
    kind: RecordKind,
    tenant: &str,
    new: &records::NewRecord,
    state: &str,
    payment_link: bool,
) -> Result<records::Record, records::RecordError> {
    crate::db::transaction(c, |tx| {
        let now = now_secs();
        let record = records::create(tx, kind, tenant, new, state, now)?;
        if kind != RecordKind::Invoice {
            return Ok(record);
        }
        if payment_link {
            records::want_payment_link(tx, &record.id, now)?;
        }
        crate::plugins::invoice_finalized(tx, &record, now)?;
        Ok(records::get(tx, kind, &record.id)?.unwrap_or(record))
    })
}

/// Whether a new invoice gets a Payment Link: as asked, else when the tenant has an enabled
/// connection to make it with.
pub fn wants_payment_link(view: &TenantView, asked: Option<bool>) -> bool {
    asked.unwrap_or_else(|| {
        view.connections
            .iter()
            .any(|c| c.enabled && c.disconnected_at.is_none())
    })
}

/// Parses a decimal amount that Stripe can charge, by the engine's currency rules (minimum
/// charge, digit limits, three-decimal rounding); the error says what is wrong.
pub fn parse_amount(text: &str, currency: &str) -> Result<Money, AppError> {
    let checked = engine::with_session(|s| {
        Ok(match s.parse_amount(text, currency)? {
            Ok(money) => s.check_chargeable(money)?.map(|()| money),
            Err(e) => Err(e),
        })
    });
    match checked {
        Ok(Ok(money)) => Ok(money),
        Ok(Err(e)) => Err(AppError::BadRequest {
            code: "invalid_amount",
            message: e.message,
        }),
        Err(e) => Err(AppError::Internal(format!("the engine failed: {e}"))),
    }
}

/// Parses a refund amount (refunds may be below the minimum charge) in `currency`.
pub fn parse_refund_amount(text: &str, currency: &str) -> Result<Money, AppError> {
    match engine::with_session(|s| s.parse_amount(text, currency)) {
        Ok(Ok(money)) => Ok(money),
        Ok(Err(e)) => Err(AppError::BadRequest {
            code: "invalid_amount",
            message: e.message,
        }),
        Err(e) => Err(AppError::Internal(format!("the engine failed: {e}"))),
    }
}

/// The engine's initial state document for a new record of `kind`.
pub fn new_state(kind: RecordKind, amount: Money) -> Result<String, AppError> {
    let machine = match kind {
        RecordKind::Invoice => MachineKind::Invoice,
        RecordKind::Appointment => MachineKind::Appointment,
    };
    match engine::with_session(|s| s.new_state(machine, amount, "")) {
        Ok(Ok(state)) => Ok(state),
        Ok(Err(e)) => Err(AppError::bad("invalid_amount", e.to_string())),
        Err(e) => Err(AppError::Internal(format!("the engine failed: {e}"))),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
}

type ListQueryResult = Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>;

fn list_query(q: ListQueryResult) -> Result<ListQuery, AppError> {
    q.map(|Query(q)| q)
        .map_err(|e| AppError::bad("invalid_query", e.body_text()))
}

/// 404 unless the tenant exists.
pub(super) fn require_tenant(c: &mut crate::db::DbConn, id: &str) -> Result<(), AppError> {
    match tenants::show(c, id)? {
        Some(_) => Ok(()),
        None => Err(AppError::NotFound(format!("no tenant {id:?}"))),
    }
}

async fn list_invoices(s: State<AppState>, p: Path<String>, q: ListQueryResult) -> ApiResult {
    list_records(s, p, q, RecordKind::Invoice).await
}

async fn list_appointments(s: State<AppState>, p: Path<String>, q: ListQueryResult) -> ApiResult {
    list_records(s, p, q, RecordKind::Appointment).await
}

async fn list_records(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    q: ListQueryResult,
    kind: RecordKind,
) -> ApiResult {
    tenant_list(&s, tenant, q, (50, 500), move |c, t, status, limit| {
        records::list(c, kind, t, status, limit)
    })
    .await
}

/// A list of one tenant's things: 404 for an unknown tenant; `status` and `limit` from the
/// query, `limits` being the default and the most.
async fn tenant_list<T: serde::Serialize + Send + 'static>(
    s: &AppState,
    tenant: String,
    q: ListQueryResult,
    limits: (i64, i64),
    list: impl FnOnce(
        &mut dyn crate::db::Conn,
        &str,
        Option<&str>,
        i64,
    ) -> Result<Vec<T>, crate::db::DbError>
    + Send
    + 'static,
) -> ApiResult {
    let q = list_query(q)?;
    let items = s
        .db(move |c, _| {
            require_tenant(c, &tenant)?;
            Ok(list(
                c,
                &tenant,
                q.status.as_deref(),
                q.limit.unwrap_or(limits.0).clamp(1, limits.1),
            )?)
        })
        .await?;
    ok(serde_json::to_value(items).unwrap_or(Value::Null))
}

async fn show_invoice(s: State<AppState>, p: Path<String>) -> ApiResult {
    show_record(s, p, RecordKind::Invoice).await
}

async fn show_appointment(s: State<AppState>, p: Path<String>) -> ApiResult {
    show_record(s, p, RecordKind::Appointment).await
}

async fn show_record(
    State(s): State<AppState>,
    Path(id): Path<String>,
    kind: RecordKind,
) -> ApiResult {
    let i = id.clone();
    match s.db(move |c, _| Ok(records::get(c, kind, &i)?)).await? {
        Some(r) => ok(serde_json::to_value(r).unwrap_or(Value::Null)),
        None => Err(AppError::NotFound(format!("no {} {id:?}", kind.name()))),
    }
}

async fn list_payments(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    q: ListQueryResult,
) -> ApiResult {
    tenant_list(&s, tenant, q, (50, 500), records::list_payments).await
}

async fn list_subscriptions(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    q: ListQueryResult,
) -> ApiResult {
    tenant_list(&s, tenant, q, (50, 500), records::list_subscriptions).await
}

async fn ledger(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    q: ListQueryResult,
) -> ApiResult {
    // The ledger takes no status.
    tenant_list(&s, tenant, q, (500, 5000), |c, t, _status, limit| {
        records::ledger(c, t, limit)
    })
    .await
}

async fn list_charges(s: State<AppState>, p: Path<String>, q: ListQueryResult) -> ApiResult {
    list_imported(s, p, q, ListKind::Charges).await
}

async fn list_refunds(s: State<AppState>, p: Path<String>, q: ListQueryResult) -> ApiResult {
    list_imported(s, p, q, ListKind::Refunds).await
}

async fn list_payouts(s: State<AppState>, p: Path<String>, q: ListQueryResult) -> ApiResult {
    list_imported(s, p, q, ListKind::Payouts).await
}

async fn list_balance_transactions(
    s: State<AppState>,
    p: Path<String>,
    q: ListQueryResult,
) -> ApiResult {
    list_imported(s, p, q, ListKind::BalanceTransactions).await
}

/// What `payhook import` stored of one of Stripe's lists, newest first.
async fn list_imported(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    q: ListQueryResult,
    list: ListKind,
) -> ApiResult {
    tenant_list(&s, tenant, q, (50, 500), move |c, t, status, limit| {
        crate::import::list_objects(c, t, list, status, limit)
    })
    .await
}

fn json_error(e: axum::extract::rejection::JsonRejection) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::TooLarge(super::MAX_API_BODY);
    }
    AppError::bad("invalid_json", e.body_text())
}
