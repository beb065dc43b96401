//! `/api/v1` routes that call Stripe: a PaymentIntent for an invoice or an appointment, and
//! refunds. Each call is stored with its idempotency key before it is made (see
//! [`crate::calls`]); an `Idempotency-Key` header from the API client makes a repeated request
//! return the first answer instead of calling again.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use payhook_core::money::Money;
use payhook_core::policy::{CancellationFee, FeeSplit};
use payhook_core::stripe::{Operation, PaymentIntentInput, RefundInput, RefundReason};
use serde::Deserialize;
use serde_json::Value;

use super::{AppError, AppState};
use crate::calls::{self, CallError};
use crate::connection::Mode;
use crate::db::{DbConn, transaction};
use crate::hooks::{RefundContext, RefundFilterError};
use crate::ids::is_plausible;
use crate::records::{self, RecordKind};
use crate::stripe::StripeError;
use crate::tenants::{self, TenantError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/invoices/{id}/payment-intents",
            post(invoice_payment_intent),
        )
        .route(
            "/appointments/{id}/payment-intents",
            post(appointment_payment_intent),
        )
        .route("/tenants/{id}/payments/{payment}/refunds", post(refund))
}

#[derive(Deserialize, Default)]
struct PaymentIntentBody {
    /// `pm_…` (or a test method such as `pm_card_visa`), to confirm at once.
    payment_method: Option<String>,
    /// Confirm at once (needs `payment_method`).
    #[serde(default)]
    confirm: bool,
    /// Where 3-D Secure returns.
    return_url: Option<String>,
    /// Which connection, when the tenant has both.
    mode: Option<String>,
}

async fn invoice_payment_intent(
    s: State<AppState>,
    p: Path<String>,
    h: HeaderMap,
    b: Result<Json<PaymentIntentBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    payment_intent(s, p, h, b, RecordKind::Invoice).await
}

async fn appointment_payment_intent(
    s: State<AppState>,
    p: Path<String>,
    h: HeaderMap,
    b: Result<Json<PaymentIntentBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    payment_intent(s, p, h, b, RecordKind::Appointment).await
}

async fn payment_intent(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<PaymentIntentBody>, axum::extract::rejection::JsonRejection>,
    kind: RecordKind,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let Json(body) = body.map_err(|e| AppError::bad("invalid_json", e.body_text()))?;
    let client_key = client_key(&headers)?;
    let confirm_now = body.confirm;
    if confirm_now && body.payment_method.is_none() {
        return Err(AppError::bad(
            "payment_method_missing",
            "give a payment_method (pm_…) to confirm at once",
        ));
    }
    let return_url = body.return_url.clone();
    let payment_method = body.payment_method.clone();
    let asked_mode = body.mode.clone();
    let (call, secret, tenant, mode, request) = s
        .db(move |c, inner| {
            let Payable {
                record,
                mode,
                secret,
                remaining,
            } = payable(c, inner, kind, &id, asked_mode.as_deref())?;
            // Created, then confirmed in a second call: some fakes (localstripe) take no
            // `confirm` on creation, and two calls are as safe with their own keys.
            let op = Operation::CreatePaymentIntent(PaymentIntentInput {
                amount: remaining,
                customer: None,
                payment_method,
                confirm: false,
                return_url: None,
                description: None,
                metadata: [(format!("{}_id", kind.name()), record.id.clone())]
                    .into_iter()
                    .collect(),
            });
            let request = client_key.unwrap_or_else(|| crate::ids::new_id("req"));
            let purpose = format!("payment_intent:{}:{request}", record.id);
            let call = calls::begin(c, &record.tenant_id, mode, &purpose, &op, None, None)
                .map_err(call_error)?;
            Ok((call, secret, record.tenant_id, mode, request))
        })
        .await?;
    let created = perform(&s, call, &secret).await?;
    if !confirm_now {
        return Ok((StatusCode::OK, Json(created)));
    }
    let pi = created["id"].as_str().unwrap_or_default().to_owned();
    let confirm = Operation::ConfirmPaymentIntent {
        id: pi.clone(),
        payment_method: None,
        return_url,
    };
    let call = s
        .db(move |c, _| {
            let purpose = format!("confirm:{pi}:{request}");
            calls::begin(c, &tenant, mode, &purpose, &confirm, None, None).map_err(call_error)
        })
        .await?;
    let object = perform(&s, call, &secret).await?;
    Ok((StatusCode::OK, Json(object)))
}

/// A record that can be paid, with the connection to take the payment.
pub(super) struct Payable {
    /// The invoice or appointment.
    pub record: records::Record,
    /// The connection's mode.
    pub mode: Mode,
    /// Its secret key.
    pub secret: crate::secret::Secret,
    /// What is still due.
    pub remaining: Money,
}

/// Loads a record to take a payment for: 404 when there is none, 409 when the connection is
/// disabled or the record is paid already.
pub(super) fn payable(
    c: &mut DbConn,
    inner: &super::Inner,
    kind: RecordKind,
    id: &str,
    asked_mode: Option<&str>,
) -> Result<Payable, AppError> {
    let record = records::get(c, kind, id)?
        .ok_or_else(|| AppError::NotFound(format!("no {} {id:?}", kind.name())))?;
    let mode = pick_mode(c, &record.tenant_id, asked_mode)?;
    let connection =
        tenants::load(c, &inner.sealer, &record.tenant_id, mode).map_err(AppError::from)?;
    if !connection.is_enabled() {
        return Err(AppError::Conflict(format!(
            "the {mode} connection is disabled; enable it to take payments"
        )));
    }
    let currency = payhook_core::money::Currency::parse(&record.currency)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let remaining = (record.amount - record.amount_paid + record.amount_refunded).max(0);
    if remaining == 0 {
        return Err(AppError::Conflict(format!(
            "{} {} is already paid",
            kind.name(),
            record.id
        )));
    }
    Ok(Payable {
        record,
        mode,
        secret: connection.secret_key().clone(),
        remaining: Money {
            minor: remaining,
            currency,
        },
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RefundBody {
    /// A decimal in the payment's currency, e.g. `"5.00"`; none refunds what is left.
    amount: Option<String>,
    /// `requested_by_customer`, `duplicate` or `fraudulent`.
    reason: Option<RefundReason>,
    /// A late cancellation: keep this fee and refund the rest of what is left.
    cancellation_fee: Option<FeeBody>,
}

/// A fee kept on a late cancellation: a fixed `amount` or a `percent` of what is left.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeeBody {
    /// A decimal in the payment's currency, e.g. `"10.00"`.
    amount: Option<String>,
    /// A percentage with at most two decimals, e.g. `"10"` or `"12.5"`.
    percent: Option<String>,
}

impl FeeBody {
    fn policy(&self, currency: &str) -> Result<CancellationFee, AppError> {
        match (&self.amount, &self.percent) {
            (Some(a), None) => Ok(CancellationFee::Fixed {
                amount: super::api::parse_refund_amount(a, currency)?,
            }),
            (None, Some(p)) => Ok(CancellationFee::Percent {
                basis_points: basis_points(p).ok_or_else(|| {
                    AppError::bad(
                        "invalid_fee",
                        format!("cancellation_fee.percent {p:?} is not a percentage from 0 to 100 with at most two decimals"),
                    )
                })?,
            }),
            _ => Err(AppError::bad(
                "invalid_fee",
                "cancellation_fee takes either \"amount\" or \"percent\"",
            )),
        }
    }
}

/// `"12.5"` → 1250 basis points; at most 100 %, at most two decimals.
fn basis_points(text: &str) -> Option<u32> {
    let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty()
        || whole.len() > 3
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let frac: u32 = format!("{frac:0<2}").parse().ok()?;
    let bp = whole * 100 + frac;
    (bp <= 10_000).then_some(bp)
}

pub(super) async fn refund(
    State(s): State<AppState>,
    Path((tenant, payment)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<RefundBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let Json(body) = body.map_err(|e| AppError::bad("invalid_json", e.body_text()))?;
    let client_key = client_key(&headers)?;
    if !is_plausible(&payment) {
        return Err(AppError::NotFound(format!("no payment {payment:?}")));
    }
    let (call, secret, fee_kept) = s
        .db(move |c, inner| {
            let mut fee_kept = None;
            let mode = pick_mode(c, &tenant, None)?;
            let connection =
                tenants::load(c, &inner.sealer, &tenant, mode).map_err(AppError::from)?;
            // The split is decided first, outside the write transaction: a late cancellation's
            // refund filter runs plugins (each up to its deadline), and the write lock is not
            // held for them. The transaction then reads what is refundable again and reserves
            // the refund only if it is what the split was made from, so two refunds asked for
            // at once cannot both take the same money (a refund made in between: the split is
            // decided again, from what is left).
            let mut tries = 0;
            let call = loop {
            tries += 1;
            let (refundable, split) = {
                let tx = &mut *c;
                let (refundable, currency) =
                    calls::refundable(tx, &tenant, &payment)?.ok_or_else(|| {
                        AppError::NotFound(format!("no payment {payment:?} for this tenant"))
                    })?;
                let left = Money {
                    minor: refundable,
                    currency: payhook_core::money::Currency::parse(&currency)
                        .map_err(|e| AppError::Internal(e.to_string()))?,
                };
                if refundable <= 0 {
                    return Err(AppError::bad(
                        "nothing_to_refund",
                        "nothing is left to refund on this payment",
                    ));
                }
                let proposed = match (&body.amount, &body.cancellation_fee) {
                    (Some(_), Some(_)) => {
                        return Err(AppError::bad(
                            "fee_conflict",
                            "give an \"amount\" or a \"cancellation_fee\", not both: the fee is taken from what is left",
                        ));
                    }
                    (Some(text), None) => {
                        let amount = super::api::parse_refund_amount(text, &currency)?;
                        FeeSplit {
                            fee: Money { minor: 0, currency: amount.currency },
                            refund: amount,
                        }
                    }
                    (None, Some(fee)) => fee
                        .policy(&currency)?
                        .split(left)
                        .map_err(|e| AppError::bad("invalid_fee", e.to_string()))?,
                    (None, None) => FeeSplit {
                        fee: Money { minor: 0, currency: left.currency },
                        refund: left,
                    },
                };
                let ctx = RefundContext {
                    tenant: &tenant,
                    payment: &payment,
                    refundable: left,
                    cancellation: body.cancellation_fee.is_some(),
                };
                let split = crate::hooks::checked_refund(inner.filters.as_ref(), &ctx, proposed)
                    .map_err(|e| match e {
                        RefundFilterError::Refused(e) => AppError::Internal(e.to_string()),
                        RefundFilterError::Unavailable(e) => AppError::Unavailable(e.to_string()),
                    })?;
                (refundable, split)
            };
            let call = transaction(c, |tx| -> Result<_, AppError> {
                let now = calls::refundable(tx, &tenant, &payment)?.map(|(left, _)| left);
                if now != Some(refundable) {
                    return Ok(None);
                }
                if split.refund.minor == 0 {
                    return Err(AppError::bad(
                        "nothing_to_refund",
                        format!(
                            "the cancellation fee of {} keeps everything that is left to refund",
                            split.fee.to_decimal_string()
                        ),
                    ));
                }
                fee_kept = (split.fee.minor > 0).then(|| split.fee.to_decimal_string());
                let amount = split.refund;
                let op = Operation::CreateRefund(RefundInput {
                    payment_intent: payment.clone(),
                    amount: Some(amount),
                    refundable,
                    reason: body.reason,
                    metadata: Default::default(),
                });
                // Checked here too, so a refused refund reserves nothing.
                match crate::engine::with_session(|s| s.stripe_build(&op, Some("check"))) {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(AppError::bad("invalid_amount", e.message)),
                    Err(e) => return Err(AppError::Internal(format!("the engine failed: {e}"))),
                }
                let purpose = format!(
                    "refund:{payment}:{}",
                    client_key
                        .clone()
                        .unwrap_or_else(|| crate::ids::new_id("req"))
                );
                calls::begin(
                    tx,
                    &tenant,
                    mode,
                    &purpose,
                    &op,
                    Some(&payment),
                    Some(amount.minor),
                )
                .map(Some)
                .map_err(call_error)
            })?;
            match call {
                Some(call) => break call,
                None if tries < 5 => continue,
                None => {
                    return Err(AppError::Conflict(
                        "the payment kept changing while this refund was prepared (other refunds); ask again".into(),
                    ));
                }
            }
            };
            Ok((call, connection.secret_key().clone(), fee_kept))
        })
        .await?;
    let mut object = perform(&s, call, &secret).await?;
    if let (Some(fee), Some(map)) = (fee_kept, object.as_object_mut()) {
        map.insert("cancellation_fee".into(), Value::String(fee));
    }
    Ok((StatusCode::OK, Json(object)))
}

/// Calls Stripe for a stored call (or returns its stored answer) and records the outcome.
pub(super) async fn perform(
    s: &AppState,
    call: calls::Call,
    secret: &crate::secret::Secret,
) -> Result<Value, AppError> {
    if let Some(result) = call.result {
        return Ok(result);
    }
    let outcome =
        s.0.stripe
            .call(secret, &call.operation, Some(&call.idempotency_key))
            .await;
    let id = call.id.clone();
    let (stored, answer) = match outcome {
        Ok(object) => {
            let value = serde_json::to_value(&object).unwrap_or(Value::Null);
            (Ok(value.clone()), Ok(value))
        }
        Err(e) => (Err(e.to_string()), Err(e)),
    };
    s.db(move |c, _| {
        Ok(calls::finish(
            c,
            &id,
            stored.as_ref().map_err(String::as_str),
        )?)
    })
    .await?;
    answer.map_err(stripe_error)
}

pub(super) fn stripe_error(e: StripeError) -> AppError {
    match e {
        StripeError::Refused { code, message } => AppError::BadRequest {
            code: if code == "amount" {
                "invalid_amount"
            } else {
                "invalid_request"
            },
            message,
        },
        StripeError::Api(api) => AppError::Stripe(Box::new(api)),
        StripeError::Unreachable { .. } | StripeError::OverCeiling(_) => {
            AppError::Unavailable(e.to_string())
        }
        StripeError::Engine(_) => AppError::Internal(e.to_string()),
    }
}

pub(super) fn call_error(e: CallError) -> AppError {
    match e {
        CallError::Mismatch => AppError::Conflict(e.to_string()),
        CallError::Db(d) => d.into(),
    }
}

pub(super) fn client_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    match headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::trim))
    {
        None => Ok(None),
        Some(Ok(k)) if is_plausible(k) => Ok(Some(k.to_owned())),
        Some(_) => Err(AppError::bad(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 64 letters, digits, '_' or '-'",
        )),
    }
}

/// The tenant's connection to call Stripe with (see [`pick_mode`]): its mode, secret key and
/// default currency; 409 when it is disabled.
pub(super) fn connection_for(
    c: &mut DbConn,
    inner: &super::Inner,
    tenant: &str,
    asked_mode: Option<&str>,
) -> Result<(Mode, crate::secret::Secret, Option<String>), AppError> {
    let mode = pick_mode(c, tenant, asked_mode)?;
    let connection = tenants::load(c, &inner.sealer, tenant, mode).map_err(AppError::from)?;
    if !connection.is_enabled() {
        return Err(AppError::Conflict(format!(
            "the {mode} connection is disabled; enable it to call Stripe"
        )));
    }
    Ok((
        mode,
        connection.secret_key().clone(),
        connection.default_currency().map(|c| c.as_str().to_owned()),
    ))
}

/// The connection to use: the one named, else the tenant's only live one that is not
/// disconnected, else its test one.
fn pick_mode(c: &mut DbConn, tenant: &str, asked: Option<&str>) -> Result<Mode, AppError> {
    if let Some(m) = asked {
        return m
            .parse::<Mode>()
            .map_err(|e| AppError::bad("invalid_mode", e.to_string()));
    }
    let view = tenants::show(c, tenant)?
        .ok_or_else(|| AppError::from(TenantError::NoTenant(tenant.to_owned())))?;
    let usable: Vec<Mode> = view
        .connections
        .iter()
        .filter(|c| c.disconnected_at.is_none())
        .map(|c| c.mode)
        .collect();
    match usable.as_slice() {
        [one] => Ok(*one),
        [] => Err(AppError::Conflict(
            "the tenant has no connected Stripe account; connect one first".into(),
        )),
        _ => Err(AppError::bad(
            "mode_required",
            "the tenant has a test and a live connection; say which with \"mode\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::basis_points;

    #[test]
    fn fee_percentages_are_read_exactly() {
        for (text, want) in [
            ("10", Some(1000)),
            ("12.5", Some(1250)),
            ("0.01", Some(1)),
            ("100", Some(10_000)),
            ("100.01", None),
            ("1.234", None),
            ("-5", None),
            ("", None),
            (".5", None),
            ("1e2", None),
            ("5.", Some(500)),
        ] {
            assert_eq!(basis_points(text), want, "{text:?}");
        }
    }
}
