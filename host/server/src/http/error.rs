//! One error type for every handler, with the HTTP status documented on each variant. The body
//! is always `{"error": {"code": "...", "message": "..."}}`; no message carries a secret.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::db::DbError;
use crate::records::RecordError;
use crate::tenants::TenantError;

/// What a handler answers when it cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request is malformed or a value is refused; `code` is stable.
    #[error("{message}")]
    BadRequest {
        /// A stable snake_case code.
        code: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// 400: a webhook delivery that did not verify, for an unknown endpoint, with a bad or
    /// expired signature alike: nothing tells a prober which tenants exist.
    #[error("the webhook delivery could not be verified for this endpoint")]
    WebhookRefused,
    /// 401: no admin token, or the wrong one.
    #[error("an admin token is required: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// 404: no such thing.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is too large.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// 402 for a declined card, 502 when Stripe failed, 400 for any other refusal by Stripe:
    /// Stripe's own error, with its code.
    #[error(transparent)]
    Stripe(Box<payhook_core::stripe::response::ApiError>),
    /// 503: the database could not take the request now; retry.
    #[error("{0}")]
    Unavailable(String),
    /// 500: something failed that should not have.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } | AppError::WebhookRefused => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Stripe(e) if e.is_card_error() || e.status == 402 => {
                StatusCode::PAYMENT_REQUIRED
            }
            AppError::Stripe(e) if e.status >= 500 || e.status < 400 => StatusCode::BAD_GATEWAY,
            AppError::Stripe(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. } => code,
            AppError::WebhookRefused => "webhook_refused",
            AppError::Unauthorized => "unauthorized",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::TooLarge(_) => "too_large",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
            AppError::Stripe(_) => "stripe_error",
        }
    }

    /// A 400 with `code`.
    pub fn bad(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if matches!(self, AppError::Internal(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let status = self.status();
        let mut body = json!({"error": {"code": self.code(), "message": self.to_string()}});
        if let AppError::Stripe(e) = &self {
            body["error"]["stripe"] = json!({"type": e.kind, "code": e.code, "decline_code": e.decline_code, "param": e.param});
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> AppError {
        if e.is_transient() {
            AppError::Unavailable(e.to_string())
        } else {
            AppError::Internal(e.to_string())
        }
    }
}

impl From<TenantError> for AppError {
    fn from(e: TenantError) -> AppError {
        match e {
            TenantError::Connection(c) => AppError::bad(
                if c.is_not_configured() {
                    "gateway_not_configured"
                } else {
                    "invalid_connection"
                },
                c.to_string(),
            ),
            TenantError::NotFound { .. } | TenantError::NoTenant(_) => {
                AppError::NotFound(e.to_string())
            }
            TenantError::AlreadyConnected { .. } | TenantError::Disconnected { .. } => {
                AppError::Conflict(e.to_string())
            }
            TenantError::Db(d) => d.into(),
            TenantError::Unseal { .. } | TenantError::Seal(_) => AppError::Internal(e.to_string()),
        }
    }
}

impl From<RecordError> for AppError {
    fn from(e: RecordError) -> AppError {
        match e {
            RecordError::InvalidMetadata { .. } => AppError::bad("invalid_metadata", e.to_string()),
            RecordError::Db(d) => d.into(),
        }
    }
}
