//! The HTTP layer: the webhook endpoint, the admin API under `/api/v1`, `/healthz` and
//! `/metrics`. [`app`] builds the router from an [`AppState`]; it is tested with requests and no
//! socket, and served by [`crate::server`].

pub mod api;
mod check;
mod checkout;
mod dashboard;
mod error;
mod payments;
mod subscriptions;
mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use payhook_core::secret::WebhookSecret;

pub use checkout::{link_round, run_link_worker};
pub use error::AppError;

use crate::admin_token::AdminToken;
use crate::connection::Mode;
use crate::db::{Database, DbConn};
use crate::inbox::Writer;
use crate::metrics::Metrics;
use crate::seal::Sealer;
use crate::stripe::StripeClient;

/// The largest webhook body accepted (413 above): Stripe's events are a few KB.
pub const MAX_WEBHOOK_BODY: usize = 1 << 20;
/// The largest API request body.
pub const MAX_API_BODY: usize = 64 * 1024;
/// How long a webhook sender waits at most for its delivery to be stored before a 503.
pub const STORE_DEADLINE: Duration = Duration::from_millis(1900);
/// How long signing secrets read from the database are reused before they are read again
/// (changes made through the API take effect at once; through the CLI, within this time).
pub const SECRETS_TTL: Duration = Duration::from_secs(1);
/// The signature tolerance, as Stripe's SDKs default it.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// The OpenAPI document of `/api/v1`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    db: Database,
    sealer: Sealer,
    writer: Writer,
    metrics: Metrics,
    admin_token: AdminToken,
    stripe: StripeClient,
    public_url: String,
    tolerance_secs: i64,
    filters: Arc<dyn crate::hooks::Filters>,
    secrets: Mutex<HashMap<(String, Mode), CachedSecrets>>,
}

/// A connection's signing secrets as last read (None: no such connection), and when.
type CachedSecrets = (Instant, Option<Vec<WebhookSecret>>);

impl AppState {
    /// The state for a server on `db`.
    pub fn new(
        db: Database,
        sealer: Sealer,
        writer: Writer,
        metrics: Metrics,
        admin_token: AdminToken,
        public_url: &str,
        stripe: StripeClient,
    ) -> AppState {
        AppState(Arc::new(Inner {
            db,
            sealer,
            writer,
            metrics,
            admin_token,
            stripe,
            public_url: public_url.trim_end_matches('/').to_owned(),
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            filters: Arc::new(crate::hooks::NoFilters),
            secrets: Mutex::new(HashMap::new()),
        }))
    }

    /// With plugin filters (see [`crate::hooks`]). Call before the state is shared.
    pub fn with_filters(mut self, filters: Arc<dyn crate::hooks::Filters>) -> AppState {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.filters = filters,
            None => panic!("AppState::with_filters is for a state not yet shared"),
        }
        self
    }

    /// Runs `f` with a database connection on a blocking thread.
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn, &Inner) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let state = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = state.db.conn()?;
            f(&mut conn, &state)
        })
        .await
        .map_err(|e| AppError::Internal(format!("a database task failed: {e}")))?
    }

    fn forget_secrets(&self, tenant: &str) {
        if let Ok(mut cache) = self.0.secrets.lock() {
            cache.retain(|(t, _), _| t != tenant);
        }
    }
}

/// The router.
pub fn app(state: AppState) -> Router {
    let api = api::routes()
        .merge(payments::routes())
        .merge(checkout::routes())
        .merge(subscriptions::routes())
        .merge(check::routes())
        .layer(DefaultBodyLimit::max(MAX_API_BODY))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .route(
            "/webhooks/stripe/{tenant}/{mode}",
            post(webhook::receive).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY)),
        )
        .nest("/api/v1", api)
        .route("/api/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(dashboard::routes(state.clone()))
        .fallback(not_found)
        .with_state(state)
}

async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if state.0.admin_token.matches(token) => next.run(request).await,
        _ => AppError::Unauthorized.into_response(),
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn healthz(State(state): State<AppState>) -> Response {
    let checked = state
        .db(|conn, _| Ok(crate::db::Conn::query(conn, "SELECT 1", &[])?))
        .await;
    match checked {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "unavailable", "error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.0.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> AppError {
    AppError::NotFound("no such route".into())
}

#[cfg(test)]
mod tests;
