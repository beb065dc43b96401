//! `POST /api/v1/tenants/{id}/{mode}/check`: does this connection work?
//!
//! In test mode, a 0.50 EUR PaymentIntent with Stripe's test card, confirmed, then refunded in
//! full at once; in live mode only reads (the account and its balance), never a charge. Each
//! step is reported with what Stripe answered, and the check stops at the first failure. The
//! two creating calls are stored with their idempotency keys before they are made, like every
//! other.


use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use payhook_core::event::Metadata;
use payhook_core::money::{Currency, Money};
use payhook_core::stripe::response::ApiError;
use payhook_core::stripe::{Operation, PaymentIntentInput, RefundInput};
use serde::Serialize;
use serde_json::{Value, json};

use super::payments::{call_error, perform};
use super::{AppError, AppState};
use crate::calls;
use crate::connection::Mode;
use crate::ids::new_id;
use crate::secret::Secret;
use crate::tenants;

/// The test charge: Stripe's minimum in EUR.
const TEST_CHARGE_MINOR: i64 = 50;
/// Stripe's test card that always succeeds.
const TEST_CARD: &str = "pm_card_visa";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/tenants/{id}/{mode}/check", post(check))
}

/// One step of the check.
#[derive(Debug, Serialize)]
struct Step {
    /// `balance`, `charge`, `refund`, `account`.
    step: &'static str,
    ok: bool,
    /// What was done or read, e.g. `pi_… succeeded`.
    detail: String,
    /// Stripe's error, or why the step could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

pub(super) async fn check(
    State(s): State<AppState>,
    Path((tenant, mode)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let mode: Mode = mode
        .parse()
        .map_err(|e: crate::connection::ConnectionError| {
            AppError::bad("invalid_mode", e.to_string())
        })?;
    let t = tenant.clone();
    // A disabled connection may be checked (that is how one knows it can be enabled again);
    // a disconnected one has no key to check.
    let secret = s
        .db(move |c, inner| {
            let connection = tenants::load(c, &inner.sealer, &t, mode).map_err(AppError::from)?;
            Ok(connection.secret_key().clone())
        })
        .await?;
    let run = new_id("chk");
    let mut steps = Vec::new();
    let ok = match mode {
        Mode::Live => live(&s, &secret, &mut steps).await,
        Mode::Test => test(&s, &tenant, &secret, &run, &mut steps).await,
    };
    Ok((
        StatusCode::OK,
        Json(json!({"tenant": tenant, "mode": mode.as_str(), "ok": ok, "steps": steps})),
    ))
}

/// Live mode: reads only.
async fn live(s: &AppState, secret: &Secret, steps: &mut Vec<Step>) -> bool {
    for (step, op) in [
        ("account", Operation::RetrieveAccount),
        ("balance", Operation::RetrieveBalance),
    ] {
        match s.0.stripe.call(secret, &op, None).await {
            Ok(object) => {
                let v = serde_json::to_value(object).unwrap_or(Value::Null);
                let detail = match step {
                    "account" => format!(
                        "account {} (charges enabled: {})",
                        v["raw"]["id"].as_str().or(v["id"].as_str()).unwrap_or("?"),
                        v["raw"]["charges_enabled"]
                    ),
                    _ => "balance read".to_owned(),
                };
                steps.push(Step {
                    step,
                    ok: true,
                    detail,
                    error: None,
                });
            }
            Err(e) => {
                steps.push(failed(step, super::payments::stripe_error(e)));
                return false;
            }
        }
    }
    true
}

/// Test mode: the balance, a 0.50 EUR charge with the test card, and its refund.
async fn test(
    s: &AppState,
    tenant: &str,
    secret: &Secret,
    run: &str,
    steps: &mut Vec<Step>,
) -> bool {
    if let Err(e) =
        s.0.stripe
            .call(secret, &Operation::RetrieveBalance, None)
            .await
    {
        steps.push(failed("balance", super::payments::stripe_error(e)));
        return false;
    }
    steps.push(Step {
        step: "balance",
        ok: true,
        detail: "the key reads the account's balance".into(),
        error: None,
    });
    let amount = Money {
        minor: TEST_CHARGE_MINOR,
        currency: Currency::parse("eur").expect("eur is a currency"),
    };
    let metadata: Metadata = [("payhook_check".to_owned(), run.to_owned())].into();
    let create = Operation::CreatePaymentIntent(PaymentIntentInput {
        amount,
        customer: None,
        payment_method: Some(TEST_CARD.into()),
        confirm: false,
        return_url: None,
        // No description: the metadata says what it is (and localstripe takes none).
        description: None,
        metadata,
    });
    let pi = match stored_call(s, tenant, secret, &format!("check:{run}:create"), create).await {
        Ok(pi) => pi,
        Err(e) => {
            steps.push(failed("charge", e));
            return false;
        }
    };
    let id = pi["id"].as_str().unwrap_or_default().to_owned();
    let confirm = Operation::ConfirmPaymentIntent {
        id: id.clone(),
        payment_method: None,
        return_url: None,
    };
    match stored_call(s, tenant, secret, &format!("check:{run}:confirm"), confirm).await {
        Ok(pi) if pi["status"] == "succeeded" => steps.push(Step {
            step: "charge",
            ok: true,
            detail: format!("{id}: 0.50 EUR charged with the test card"),
            error: None,
        }),
        Ok(pi) => {
            steps.push(Step {
                step: "charge",
                ok: false,
                detail: format!("{id} is {} instead of succeeded", pi["status"]),
                error: None,
            });
            return false;
        }
        Err(e) => {
            steps.push(failed("charge", e));
            return false;
        }
    }
    let refund = Operation::CreateRefund(RefundInput {
        payment_intent: id.clone(),
        amount: None,
        refundable: TEST_CHARGE_MINOR,
        reason: None,
        metadata: [("payhook_check".to_owned(), run.to_owned())].into(),
    });
    match stored_call(s, tenant, secret, &format!("check:{run}:refund"), refund).await {
        Ok(r) => {
            steps.push(Step {
                step: "refund",
                ok: true,
                detail: format!(
                    "{}: 0.50 EUR refunded ({})",
                    r["id"].as_str().unwrap_or("?"),
                    r["status"].as_str().unwrap_or("?")
                ),
                error: None,
            });
            true
        }
        Err(e) => {
            steps.push(failed("refund", e));
            false
        }
    }
}

async fn stored_call(
    s: &AppState,
    tenant: &str,
    secret: &Secret,
    purpose: &str,
    op: Operation,
) -> Result<Value, AppError> {
    let (tenant, purpose) = (tenant.to_owned(), purpose.to_owned());
    let call = s
        .db(move |c, _| {
            calls::begin(c, &tenant, Mode::Test, &purpose, &op, None, None).map_err(call_error)
        })
        .await?;
    perform(s, call, secret).await
}

fn failed(step: &'static str, e: AppError) -> Step {
    let (detail, error) = match &e {
        AppError::Stripe(api) => (configuration_hint(api), serde_json::to_value(api).ok()),
        other => (other.to_string(), None),
    };
    Step {
        step,
        ok: false,
        detail,
        error,
    }
}

/// Stripe refusing the key itself means the gateway is not configured; say so in those words.
fn configuration_hint(api: &ApiError) -> String {
    if api.status == 401 || api.status == 403 {
        format!("Stripe gateway is not properly configured: {}", api.message)
    } else {
        api.message.clone()
    }
}
