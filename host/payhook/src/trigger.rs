//! `payhook trigger EVENT_TYPE --tenant ID`: a realistic sample event, signed with the tenant's
//! signing secret and posted to a running server, as `stripe trigger` does.
//!
//! The samples are the project's fixture envelopes, embedded in the binary. Each trigger gets a
//! fresh event id and the current time; `--invoice` / `--appointment` put the record's id in the
//! object's metadata and, unless `--amount` says otherwise, its amount and currency in the
//! object, so the event settles that record. `--payment` names the PaymentIntent, so a refund can
//! follow the payment it refunds.

use clap::Args;
use payhook_server::connection::Mode;
use payhook_server::ids::{new_id, now_secs};
use payhook_server::records::RecordKind;
use serde_json::{Value, json};

use crate::admin::{self, Ctx};
use crate::fixtures;

#[derive(Args)]
pub struct Trigger {
    /// The event type, e.g. payment_intent.succeeded (`--list` shows every sample).
    #[arg(required_unless_present = "list")]
    event_type: Option<String>,
    /// The tenant to send it to.
    #[arg(long, required_unless_present = "list")]
    tenant: Option<String>,
    /// The connection's mode.
    #[arg(long, default_value = "test")]
    mode: Mode,
    /// The invoice the event is about (its id goes in metadata.invoice_id).
    #[arg(long)]
    invoice: Option<String>,
    /// The appointment the event is about (metadata.appointment_id).
    #[arg(long)]
    appointment: Option<String>,
    /// The PaymentIntent id to use (default: a fresh one).
    #[arg(long)]
    payment: Option<String>,
    /// The amount in minor units (default: the record's, else the sample's).
    #[arg(long)]
    amount: Option<i64>,
    /// The currency (default: the record's, else the sample's).
    #[arg(long)]
    currency: Option<String>,
    /// The server to post to.
    #[arg(long, env = "PAYHOOK_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Lists the sample event types and exits.
    #[arg(long)]
    list: bool,
}

type Result<T> = std::result::Result<T, String>;

/// The sample names (`payment_intent.succeeded`, `charge.refunded--partial`, …).
pub fn samples() -> Vec<&'static str> {
    fixtures::EVENTS
        .iter()
        .map(|(name, _)| name.trim_end_matches(".json"))
        .collect()
}

pub async fn run(ctx: &Ctx, t: Trigger) -> Result<()> {
    if t.list {
        for name in samples() {
            println!("{name}");
        }
        return Ok(());
    }
    let (Some(event_type), Some(tenant)) = (t.event_type.clone(), t.tenant.clone()) else {
        return Err("give an event type and --tenant".into());
    };
    let sample = fixtures::EVENTS
        .iter()
        .find(|(name, _)| name.trim_end_matches(".json") == event_type)
        .map(|(_, body)| *body)
        .ok_or_else(|| {
            format!(
                "no sample for {event_type:?}; `payhook trigger --list` shows the {} there are",
                samples().len()
            )
        })?;
    // The store is synchronous (the PostgreSQL client runs its own runtime).
    let record = tokio::task::block_in_place(|| match (&t.invoice, &t.appointment) {
        (Some(id), _) => admin::record_amount(ctx, RecordKind::Invoice, id).map(Some),
        (None, Some(id)) => admin::record_amount(ctx, RecordKind::Appointment, id).map(Some),
        (None, None) => Ok(None),
    })?;
    let amount = t.amount.or(record.as_ref().map(|r| r.0));
    let currency = t.currency.clone().or(record.map(|r| r.1));
    let body = build_event(sample, &t, t.mode, amount, currency.as_deref())?;
    let secret =
        tokio::task::block_in_place(|| admin::current_signing_secret(ctx, &tenant, t.mode))?;
    let timestamp = now_secs();
    let header =
        payhook_server::engine::with_session(|s| s.sign(body.as_bytes(), &secret, timestamp))
            .map_err(|e| e.to_string())?;
    let url = format!(
        "{}/webhooks/stripe/{tenant}/{}",
        t.server.trim_end_matches('/'),
        t.mode
    );
    let event_id = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    payhook_server::stripe::install_tls_provider();
    let response = reqwest::Client::new()
        .post(&url)
        .header("Stripe-Signature", header)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("posting to {url}: {e}; is `payhook serve` running there?"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    let out = json!({"event_id": event_id, "type": event_type, "url": url, "status": status.as_u16(), "response": answer});
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!("{event_id} ({event_type}) → {url}: {status}");
    }
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the server answered {status}: {answer}"))
    }
}

/// The sample with a fresh id and time, the mode, and the record, payment and amount asked for.
fn build_event(
    sample: &str,
    t: &Trigger,
    mode: Mode,
    amount: Option<i64>,
    currency: Option<&str>,
) -> Result<String> {
    let mut event: Value = serde_json::from_str(sample)
        .map_err(|e| format!("the embedded sample does not parse: {e}"))?;
    event["id"] = Value::String(new_id("evt"));
    event["created"] = json!(now_secs());
    event["livemode"] = Value::Bool(mode == Mode::Live);
    let object = &mut event["data"]["object"];
    let kind = object["object"].as_str().unwrap_or_default().to_owned();
    let payment = t.payment.clone().unwrap_or_else(|| new_id("pi"));
    if kind == "payment_intent" {
        object["id"] = Value::String(payment.clone());
    } else {
        if object.get("payment_intent").is_some() {
            object["payment_intent"] = Value::String(payment.clone());
        }
        if let Some(prefix) = object["id"]
            .as_str()
            .and_then(|id| id.split('_').next())
            .map(str::to_owned)
        {
            object["id"] = Value::String(new_id(&prefix));
        }
    }
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    if let Some(id) = &t.invoice {
        object["metadata"]["invoice_id"] = Value::String(id.clone());
    }
    if let Some(id) = &t.appointment {
        object["metadata"]["appointment_id"] = Value::String(id.clone());
    }
    if let Some(amount) = amount {
        for field in [
            "amount",
            "amount_received",
            "amount_total",
            "amount_captured",
            "amount_due",
            "amount_paid",
        ] {
            if object
                .get(field)
                .is_some_and(|v| v.as_i64().is_some_and(|v| v > 0))
            {
                object[field] = json!(amount);
            }
        }
        if object
            .get("amount_refunded")
            .is_some_and(|v| v.as_i64().is_some_and(|v| v > 0))
        {
            // A full refund stays full; a partial one stays half.
            let full = event_is_full_refund(t);
            object["amount_refunded"] = json!(if full { amount } else { amount / 2 });
        }
    }
    if let Some(currency) = currency
        && object.get("currency").is_some()
    {
        object["currency"] = Value::String(currency.to_ascii_lowercase());
    }
    serde_json::to_string(&event).map_err(|e| e.to_string())
}

fn event_is_full_refund(t: &Trigger) -> bool {
    !t.event_type
        .as_deref()
        .unwrap_or_default()
        .contains("partial")
}
