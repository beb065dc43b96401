//! `/api/v1` routes for subscriptions: create one (with a new customer and price when asked),
//! change its plan, cancel it at the period's end or now; and the notifications the engine asked
//! for when a subscription's payment failed or recovered. The subscription's state itself comes
//! from Stripe's webhooks, like every other record.


use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use payhook_core::event::Metadata;
use payhook_core::stripe::{Interval, Operation, SubscriptionInput};
use serde::Deserialize;
use serde_json::Value;

use super::payments::{call_error, client_key, connection_for, perform};
use super::{AppError, AppState};
use crate::calls;
use crate::connection::Mode;
use crate::ids::{is_plausible, new_id};
use crate::notifications;
use crate::secret::Secret;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/tenants/{id}/subscriptions/{sub}/price",
            post(change_price),
        )
        .route("/tenants/{id}/subscriptions/{sub}/cancel", post(cancel))
        .route("/tenants/{id}/notifications", get(list_notifications))
}

type Answer = Result<(StatusCode, Json<Value>), AppError>;
type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn body<T>(b: Body<T>) -> Result<T, AppError> {
    b.map(|Json(v)| v)
        .map_err(|e| AppError::bad("invalid_json", e.body_text()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    /// An existing `cus_…`; else a customer is created from `email` and `name`.
    customer: Option<String>,
    email: Option<String>,
    name: Option<String>,
    /// `pm_…` made the new customer's default for its invoices.
    payment_method: Option<String>,
    /// An existing recurring `price_…` (or a plan id); else one is made from `amount`,
    /// `interval` and `product_name`.
    price: Option<String>,
    /// A decimal in `currency` (default: the connection's), e.g. `"29.00"`.
    amount: Option<String>,
    currency: Option<String>,
    /// `monthly`, `quarterly` or `annual`.
    interval: Option<Interval>,
    product_name: Option<String>,
    /// Copied to the subscription.
    #[serde(default)]
    metadata: Metadata,
    /// Which connection, when the tenant has both.
    mode: Option<String>,
}

/// Creates a subscription: the customer and the price first when they are not given, each
/// call stored with its idempotency key before it is made, so a repeated request (same
/// `Idempotency-Key` header) creates nothing twice.
pub(super) async fn create(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    b: Body<CreateBody>,
) -> Answer {
    let b = body(b)?;
    let request = client_key(&headers)?.unwrap_or_else(|| new_id("req"));
    if b.customer.is_none() && b.email.is_none() && b.name.is_none() {
        return Err(AppError::bad(
            "customer_missing",
            "give an existing \"customer\" (cus_…), or an \"email\" or \"name\" for a new one",
        ));
    }
    if b.customer.is_some() && (b.email.is_some() || b.payment_method.is_some()) {
        return Err(AppError::bad(
            "customer_conflict",
            "\"email\" and \"payment_method\" are for a new customer; leave them out with \"customer\"",
        ));
    }
    let new_price = match (&b.price, &b.amount, b.interval) {
        (Some(_), None, None) => None,
        (None, Some(amount), Some(interval)) => Some((amount.clone(), interval)),
        (None, _, _) => {
            return Err(AppError::bad(
                "price_missing",
                "give a recurring \"price\" (price_…), or an \"amount\" and an \"interval\" (monthly, quarterly or annual)",
            ));
        }
        (Some(_), _, _) => {
            return Err(AppError::bad(
                "price_conflict",
                "give either \"price\" or \"amount\" with \"interval\", not both",
            ));
        }
    };
    let asked_mode = b.mode.clone();
    let currency = b.currency.clone();
    let t = tenant.clone();
    let (mode, secret, default_currency) = s
        .db(move |c, inner| connection_for(c, inner, &t, asked_mode.as_deref()))
        .await?;
    let step = |what: &str| format!("subscription:{request}:{what}");
    // Everything is checked before the first call, so a refused request creates nothing.
    let new_price = match new_price {
        None => None,
        Some((amount, interval)) => {
            let currency = currency.or(default_currency).ok_or_else(|| {
                AppError::bad(
                    "currency_missing",
                    "the connection has no default currency: give \"currency\"",
                )
            })?;
            let amount = super::api::parse_amount(&amount, &currency)?;
            Some(Operation::CreatePrice {
                product_name: b
                    .product_name
                    .unwrap_or_else(|| format!("Subscription {}", amount.to_decimal_string())),
                amount,
                interval: Some(interval),
            })
        }
    };
    let customer = match b.customer {
        Some(id) => id,
        None => {
            let op = Operation::CreateCustomer {
                email: b.email,
                name: b.name,
                payment_method: b.payment_method,
                metadata: b.metadata.clone(),
            };
            id_of(&call(&s, &tenant, mode, &secret, &step("customer"), op).await?)
        }
    };
    let price = match (b.price, new_price) {
        (Some(price), _) => price,
        (None, Some(op)) => id_of(&call(&s, &tenant, mode, &secret, &step("price"), op).await?),
        (None, None) => unreachable!("checked above"),
    };
    let op = Operation::CreateSubscription(SubscriptionInput {
        customer,
        price,
        default_payment_method: None,
        metadata: b.metadata,
    });
    let subscription = call(&s, &tenant, mode, &secret, &step("create"), op).await?;
    Ok((StatusCode::OK, Json(subscription)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    /// The new recurring `price_…` (or plan id).
    price: String,
    mode: Option<String>,
}

/// Moves a subscription to another price; Stripe prorates.
async fn change_price(
    State(s): State<AppState>,
    Path((tenant, sub)): Path<(String, String)>,
    headers: HeaderMap,
    b: Body<PriceBody>,
) -> Answer {
    let b = body(b)?;
    let request = client_key(&headers)?.unwrap_or_else(|| new_id("req"));
    let (mode, secret) = subscription_connection(&s, &tenant, &sub, b.mode).await?;
    let current =
        s.0.stripe
            .call(
                &secret,
                &Operation::RetrieveSubscription { id: sub.clone() },
                None,
            )
            .await
            .map_err(super::payments::stripe_error)?;
    let current = serde_json::to_value(current).unwrap_or(Value::Null);
    let item = current["raw"]["items"]["data"][0]["id"]
        .as_str()
        .ok_or_else(|| AppError::Conflict(format!("subscription {sub} has no item to change")))?
        .to_owned();
    let op = Operation::ChangeSubscriptionPrice {
        id: sub.clone(),
        item,
        price: b.price,
    };
    let purpose = format!("subscription_price:{sub}:{request}");
    let answer = call(&s, &tenant, mode, &secret, &purpose, op).await?;
    Ok((StatusCode::OK, Json(answer)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    /// True (the default): at the end of the paid period, and revocable; false: now.
    #[serde(default = "yes")]
    at_period_end: bool,
    mode: Option<String>,
}

fn yes() -> bool {
    true
}

async fn cancel(
    State(s): State<AppState>,
    Path((tenant, sub)): Path<(String, String)>,
    headers: HeaderMap,
    b: Body<CancelBody>,
) -> Answer {
    let b = body(b)?;
    let request = client_key(&headers)?.unwrap_or_else(|| new_id("req"));
    let (mode, secret) = subscription_connection(&s, &tenant, &sub, b.mode).await?;
    let op = Operation::CancelSubscription {
        id: sub.clone(),
        at_period_end: b.at_period_end,
    };
    let purpose = format!("subscription_cancel:{sub}:{request}");
    let answer = call(&s, &tenant, mode, &secret, &purpose, op).await?;
    Ok((StatusCode::OK, Json(answer)))
}

#[derive(Deserialize)]
struct NotificationQuery {
    kind: Option<String>,
    limit: Option<i64>,
}

async fn list_notifications(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    q: Result<Query<NotificationQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let Query(q) = q.map_err(|e| AppError::bad("invalid_query", e.body_text()))?;
    let items = s
        .db(move |c, _| {
            super::api::require_tenant(c, &tenant)?;
            Ok(notifications::list(
                c,
                &tenant,
                q.kind.as_deref(),
                q.limit.unwrap_or(50).clamp(1, 500),
            )?)
        })
        .await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::to_value(items).unwrap_or(Value::Null)),
    ))
}

async fn subscription_connection(
    s: &AppState,
    tenant: &str,
    sub: &str,
    mode: Option<String>,
) -> Result<(Mode, Secret), AppError> {
    if !is_plausible(sub) {
        return Err(AppError::NotFound(format!("no subscription {sub:?}")));
    }
    let t = tenant.to_owned();
    let (mode, secret, _) = s
        .db(move |c, inner| connection_for(c, inner, &t, mode.as_deref()))
        .await?;
    Ok((mode, secret))
}

/// Stores a creating call under `purpose`, then makes it (or returns the stored answer).
async fn call(
    s: &AppState,
    tenant: &str,
    mode: Mode,
    secret: &Secret,
    purpose: &str,
    op: Operation,
) -> Result<Value, AppError> {
    let (tenant, purpose) = (tenant.to_owned(), purpose.to_owned());
    let stored = s
        .db(move |c, _| {
            calls::begin(c, &tenant, mode, &purpose, &op, None, None).map_err(call_error)
        })
        .await?;
    perform(s, stored, secret).await
}

fn id_of(object: &Value) -> String {
    object["id"]
        .as_str()
        .or_else(|| object["raw"]["id"].as_str())
        .unwrap_or_default()
        .to_owned()
}
