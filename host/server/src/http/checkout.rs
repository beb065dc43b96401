//! `/api/v1` routes that open a page for the customer to pay on: a Checkout Session (hosted or
//! embedded) for an invoice or an appointment, and a Payment Link for an invoice. Like every
//! call to Stripe, each is stored with its idempotency key before it is made.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use payhook_core::stripe::{CheckoutInput, CheckoutMode, LineItem, Operation, UiMode};
use serde::Deserialize;
use serde_json::Value;

use super::payments::{Payable, call_error, client_key, payable, perform};
use super::{AppError, AppState};
use crate::calls;
use crate::hooks::{CheckoutContext, CheckoutFilterError};
use crate::ids::{new_id, now_secs};
use crate::records::{self, RecordKind};

/// The shortest and longest a Checkout Session may stay open, as Stripe allows.
const MIN_EXPIRY_MINUTES: i64 = 30;
const MAX_EXPIRY_MINUTES: i64 = 24 * 60;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/invoices/{id}/checkout-sessions", post(invoice_checkout))
        .route(
            "/appointments/{id}/checkout-sessions",
            post(appointment_checkout),
        )
        .route("/invoices/{id}/payment-links", post(invoice_payment_link))
        .route(
            "/appointments/{id}/payment-links",
            post(appointment_payment_link),
        )
}

type Answer = Result<(StatusCode, Json<Value>), AppError>;
type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

#[derive(Deserialize)]
struct CheckoutBody {
    /// `hosted` (default: the answer's `url`) or `embedded` (its `client_secret`).
    #[serde(default)]
    ui_mode: Option<UiMode>,
    /// Hosted: where to go after paying. Embedded: where to return.
    success_url: String,
    /// Hosted: where to go when the customer gives up.
    cancel_url: Option<String>,
    /// How long the session (and an appointment's slot) is held: 30 to 1440 minutes, default 30.
    expires_in_minutes: Option<i64>,
    /// Which connection, when the tenant has both.
    mode: Option<String>,
}

async fn invoice_checkout(
    s: State<AppState>,
    p: Path<String>,
    h: HeaderMap,
    b: Body<CheckoutBody>,
) -> Answer {
    checkout(s, p, h, b, RecordKind::Invoice).await
}

async fn appointment_checkout(
    s: State<AppState>,
    p: Path<String>,
    h: HeaderMap,
    b: Body<CheckoutBody>,
) -> Answer {
    checkout(s, p, h, b, RecordKind::Appointment).await
}

async fn checkout(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body<CheckoutBody>,
    kind: RecordKind,
) -> Answer {
    let Json(body) = body.map_err(|e| AppError::bad("invalid_json", e.body_text()))?;
    let minutes = body.expires_in_minutes.unwrap_or(MIN_EXPIRY_MINUTES);
    if !(MIN_EXPIRY_MINUTES..=MAX_EXPIRY_MINUTES).contains(&minutes) {
        return Err(AppError::bad(
            "invalid_expiry",
            format!(
                "expires_in_minutes must be {MIN_EXPIRY_MINUTES} to {MAX_EXPIRY_MINUTES} (Stripe's limits)"
            ),
        ));
    }
    let request = client_key(&headers)?.unwrap_or_else(|| new_id("req"));
    let (call, secret) = s
        .db(move |c, inner| {
            let Payable {
                record,
                mode,
                secret,
                remaining,
            } = payable(c, inner, kind, &id, body.mode.as_deref())?;
            let reference = format!("{}_id", kind.name());
            let op = Operation::CreateCheckoutSession(CheckoutInput {
                mode: CheckoutMode::Payment,
                ui_mode: body.ui_mode.unwrap_or(UiMode::Hosted),
                line_items: vec![LineItem {
                    name: title(kind, &record.id),
                    amount: remaining,
                    quantity: 1,
                    interval: None,
                }],
                success_url: body.success_url,
                cancel_url: body.cancel_url,
                // A minute of slack so that Stripe's own clock never sees less than its minimum.
                expires_at: Some(now_secs() + minutes * 60 + 60),
                customer: None,
                client_reference_id: Some(record.id.clone()),
                metadata: [(reference, record.id.clone())].into_iter().collect(),
                extra_params: Vec::new(),
            });
            let purpose = format!("checkout:{}:{request}", record.id);
            let ctx = CheckoutContext {
                tenant: &record.tenant_id,
                kind: kind.name(),
                record: &record.id,
            };
            let op = tailored(c, inner, &ctx, &purpose, "checkout session", op)?;
            let call = calls::begin(c, &record.tenant_id, mode, &purpose, &op, None, None)
                .map_err(call_error)?;
            Ok((call, secret))
        })
        .await?;
    Ok((StatusCode::OK, Json(perform(&s, call, &secret).await?)))
}

#[derive(Deserialize)]
struct PaymentLinkBody {
    /// Where to send the customer after paying (Stripe's own page otherwise).
    redirect_url: Option<String>,
    /// Which connection, when the tenant has both.
    mode: Option<String>,
}

/// A Payment Link for what is due on an invoice: a one-off price for it, then the link, with
/// `invoice_id` in the metadata of the link and of every payment it takes. The link is kept on
/// the invoice.
async fn invoice_payment_link(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body<PaymentLinkBody>,
) -> Answer {
    let Json(body) = body.map_err(|e| AppError::bad("invalid_json", e.body_text()))?;
    let request = client_key(&headers)?.unwrap_or_else(|| new_id("req"));
    let link = make_link(
        &s,
        RecordKind::Invoice,
        id,
        body.mode,
        request,
        body.redirect_url,
    )
    .await?;
    Ok((StatusCode::OK, Json(link)))
}

/// A Payment Link for a booking (a salon's visit): `appointment_id` in the metadata of the link
/// and of every payment it takes, so the webhook confirms the appointment.
async fn appointment_payment_link(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body<PaymentLinkBody>,
) -> Answer {
    let Json(body) = body.map_err(|e| AppError::bad("invalid_json", e.body_text()))?;
    let request = client_key(&headers)?.unwrap_or_else(|| new_id("req"));
    let link = make_link(
        &s,
        RecordKind::Appointment,
        id,
        body.mode,
        request,
        body.redirect_url,
    )
    .await?;
    Ok((StatusCode::OK, Json(link)))
}

/// Makes (or, for a repeated `request`, returns) the Payment Link of an invoice or an
/// appointment; an invoice keeps its URL.
async fn make_link(
    s: &AppState,
    kind: RecordKind,
    id: String,
    mode: Option<String>,
    request: String,
    redirect_url: Option<String>,
) -> Result<Value, AppError> {
    let (price_call, secret, tenant, mode, invoice) = s
        .db(move |c, inner| {
            let Payable {
                record,
                mode,
                secret,
                remaining,
            } = payable(c, inner, kind, &id, mode.as_deref())?;
            let op = Operation::CreatePrice {
                product_name: title(kind, &record.id),
                amount: remaining,
                interval: None,
            };
            let purpose = format!("price:{}:{request}", record.id);
            let call = calls::begin(c, &record.tenant_id, mode, &purpose, &op, None, None)
                .map_err(call_error)?;
            Ok((call, secret, record.tenant_id, mode, record.id))
        })
        .await?;
    let price = perform(s, price_call, &secret).await?;
    let price_id = price["id"]
        .as_str()
        .or_else(|| price["raw"]["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let op = Operation::CreatePaymentLink {
        price: price_id.clone(),
        quantity: 1,
        redirect_url,
        metadata: [(format!("{}_id", kind.name()), invoice.clone())]
            .into_iter()
            .collect(),
        extra_params: Vec::new(),
    };
    let inv = invoice.clone();
    let call = s
        .db(move |c, inner| {
            let purpose = format!("payment_link:{inv}:{price_id}");
            let ctx = CheckoutContext {
                tenant: &tenant,
                kind: kind.name(),
                record: &inv,
            };
            let op = tailored(c, inner, &ctx, &purpose, "payment link", op)?;
            calls::begin(c, &tenant, mode, &purpose, &op, None, None).map_err(call_error)
        })
        .await?;
    let link = perform(s, call, &secret).await?;
    if kind != RecordKind::Invoice {
        return Ok(link);
    }
    if let Some(url) = link["url"]
        .as_str()
        .or_else(|| link["raw"]["url"].as_str())
        .map(str::to_owned)
    {
        s.db(move |c, _| Ok(records::save_link_attempt(c, &invoice, Ok(&url))?))
            .await?;
    }
    Ok(link)
}

/// How often the link worker looks for invoices whose Payment Link is due.
const LINK_POLL: Duration = Duration::from_secs(1);

/// Makes the Payment Link of every invoice that asked for one when it was finalized (see
/// [`records::want_payment_link`]), until `stop` resolves. Stripe being unreachable or busy is
/// retried with backoff; Stripe refusing (an invalid key, an amount it does not take) is
/// recorded on the invoice as failed, with Stripe's message.
pub async fn run_link_worker(s: AppState, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        if let Err(e) = link_round(&s).await {
            tracing::warn!(error = %e, "the payment link worker could not read its queue");
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(LINK_POLL) => {}
        }
    }
}

/// One pass over the invoices whose link is due; returns how many were tried.
pub async fn link_round(s: &AppState) -> Result<usize, AppError> {
    let due = s
        .db(|c, _| Ok(records::links_due(c, now_secs(), 16)?))
        .await?;
    for (tenant, invoice, attempts) in &due {
        let outcome = make_link(
            s,
            RecordKind::Invoice,
            invoice.clone(),
            None,
            "auto".into(),
            None,
        )
        .await;
        let (invoice, attempts) = (invoice.clone(), *attempts + 1);
        let error = match outcome {
            Ok(_) => continue,
            Err(e) => e,
        };
        let retry_at = match &error {
            AppError::Unavailable(_) | AppError::Internal(_)
                if attempts < records::MAX_LINK_ATTEMPTS =>
            {
                Some(now_secs() + (1_i64 << attempts.min(10)))
            }
            _ => None,
        };
        tracing::warn!(%tenant, %invoice, attempts, error = %error, retried = retry_at.is_some(), "a payment link could not be made");
        let message = error.to_string();
        s.db(move |c, _| {
            Ok(records::save_link_attempt(
                c,
                &invoice,
                Err((&message, retry_at)),
            )?)
        })
        .await?;
    }
    Ok(due.len())
}

/// `op` as the tenant's `checkout-params` filters leave it (see [`crate::hooks::Filters`]): they
/// see the form payhook would send and may add words for the customer and metadata; a refusal
/// is the answer, and nothing is stored or sent. A repeated request (the same `purpose`) gets
/// the operation as it was first filtered, so a retry sends the same form under the same
/// idempotency key.
fn tailored(
    c: &mut crate::db::DbConn,
    inner: &super::Inner,
    ctx: &CheckoutContext<'_>,
    purpose: &str,
    what: &'static str,
    op: Operation,
) -> Result<Operation, AppError> {
    if let Some(stored) = calls::stored_operation(c, ctx.tenant, purpose)? {
        // The same request again: the same apart from what the filters added and from the
        // session's expiry, which counts from when it was first asked.
        let asked = |op: &Operation| {
            let mut op = op.clone().with_extra_params(Vec::new());
            if let Operation::CreateCheckoutSession(c) = &mut op {
                c.expires_at = None;
            }
            op
        };
        if asked(&stored) == asked(&op) {
            return Ok(stored);
        }
        return Err(call_error(calls::CallError::Mismatch));
    }
    let form = match crate::engine::with_session(|e| e.stripe_build(&op, Some("filter"))) {
        Ok(Ok(request)) => request.params,
        Ok(Err(e)) => return Err(AppError::bad("invalid_request", e.message)),
        Err(e) => return Err(AppError::Internal(format!("the engine failed: {e}"))),
    };
    let changes = inner
        .filters
        .checkout_params(ctx, what, &form)
        .map_err(|e| match e {
            CheckoutFilterError::Refused(e) => AppError::bad("refused_by_plugin", e.to_string()),
            CheckoutFilterError::Unavailable(e) => AppError::Unavailable(e.to_string()),
        })?;
    Ok(op.with_extra_params(changes))
}

fn title(kind: RecordKind, id: &str) -> String {
    match kind {
        RecordKind::Invoice => format!("Invoice {id}"),
        RecordKind::Appointment => format!("Appointment {id}"),
    }
}
