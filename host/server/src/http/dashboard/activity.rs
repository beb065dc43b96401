//! What happened: the webhook log (with each event's payload, decision and a replay button),
//! payments (with refunds from the page), invoices, appointments and subscriptions. Every list
//! is a page of an index range, newest first, with a cursor to the next page.

use axum::Router;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::session::Session;
use super::tenants::{Done, done_notice, tenant};
use super::{
    Ctx, PageResult, Tab, badge, empty_row, flash, money, nonempty, pretty, see_other, tenant_page,
    when,
};
use crate::http::api;
use crate::http::payments::{self, RefundBody};
use crate::http::{AppError, AppState};
use crate::inbox::{self, EventFilter};
use crate::records::{self, PageCursor, PaymentFilter, PaymentGroup, RecordKind};

/// Rows per page.
const PAGE: i64 = 50;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{id}/events", get(events))
        .route("/t/{id}/events/{event_id}", get(event))
        .route("/t/{id}/events/{event_id}/replay", post(replay))
        .route("/t/{id}/payments", get(payments_page))
        .route("/t/{id}/payments/{payment}", get(payment))
        .route("/t/{id}/payments/{payment}/refund", post(refund))
        .route("/t/{id}/invoices", get(invoices).post(create_invoice))
        .route("/t/{id}/appointments", get(appointments))
        .route("/t/{id}/subscriptions", get(subscriptions))
}

fn bad_filter(message: String) -> AppError {
    AppError::bad("invalid_filter", message)
}

#[derive(Deserialize, Default)]
struct EventQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    before: Option<String>,
}

/// `/t/{id}/events`: the webhook log.
async fn events(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<EventQuery>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let t = tenant(&s, &id).await?;
    let status = nonempty(&q.status).map(str::to_owned);
    if let Some(st) = &status
        && !inbox::status::ALL.contains(&st.as_str())
    {
        return Err(bad_filter(format!(
            "unknown status {st:?}; use one of {}",
            inbox::status::ALL.join(", ")
        ))
        .into());
    }
    let before = match nonempty(&q.before) {
        None => None,
        Some(b) => Some(
            b.parse::<i64>()
                .map_err(|_| bad_filter(format!("{b:?} is not a page cursor")))?,
        ),
    };
    let event_type = nonempty(&q.event_type).map(str::to_owned);
    let filter = EventFilter {
        status: status.clone(),
        event_type: event_type.clone(),
        before,
        limit: PAGE,
    };
    let tid = id.clone();
    let list = s.db(move |c, _| Ok(inbox::list(c, &tid, &filter)?)).await?;
    let next = (list.len() as i64 == PAGE)
        .then(|| list.last().map(|e| e.seq))
        .flatten();
    let query = |before: i64| {
        let mut parts = vec![format!("before={before}")];
        if let Some(st) = &status {
            parts.push(format!("status={}", super::urlencode(st)));
        }
        if let Some(ty) = &event_type {
            parts.push(format!("type={}", super::urlencode(ty)));
        }
        parts.join("&")
    };
    let body = html! {
        form.filters method="get" {
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for st in inbox::status::ALL { option value=(st) selected[status.as_deref() == Some(st)] { (st) } }
                }
            }
            label { "Type" input name="type" value=(event_type.as_deref().unwrap_or("")) placeholder="payment_intent.succeeded"; }
            button type="submit" { "Filter" }
        }
        table #events {
            thead { tr { th { "Received" } th { "Type" } th { "Status" } th.num { "Attempts" } th { "Error or reason" } th { "Event" } } }
            tbody {
                @if list.is_empty() { (empty_row(6, "No events.")) }
                @for e in &list {
                    tr data-event=(e.event_id) {
                        td { (when(e.received_at / 1000)) }
                        td { code { (e.event_type) } }
                        td { (badge(&e.status)) }
                        td.num { (e.attempts) }
                        td { (e.last_error.as_deref().or(e.reason.as_deref()).unwrap_or("")) }
                        td { a href=(format!("/t/{id}/events/{}", e.event_id)) { (e.event_id) } }
                    }
                }
            }
        }
        div.pager {
            @if before.is_some() { a href=(format!("/t/{id}/events")) { "Newest" } }
            @if let Some(n) = next { a.next href=(format!("/t/{id}/events?{}", query(n))) { "Older →" } }
        }
    };
    tenant_page(
        &ctx,
        StatusCode::OK,
        &t,
        &format!("{} · Webhook events", t.name),
        Tab::Events,
        body,
    )
}

/// `/t/{id}/events/{event}`: one event, its payload and its decision.
async fn event(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path((id, event_id)): Path<(String, String)>,
    Query(d): Query<Done>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let t = tenant(&s, &id).await?;
    let (tid, eid) = (id.clone(), event_id.clone());
    let e = s
        .db(move |c, _| Ok(inbox::show(c, &tid, &eid)?))
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no event {event_id:?} for this tenant")))?;
    let body = html! {
        (flash(done_notice(&d), None))
        section.card {
            dl.facts #event {
                dt { "Type" } dd { code { (e.event_type) } }
                dt { "Status" } dd.status { (badge(&e.status)) }
                @if let Some(r) = &e.reason { dt { "Reason" } dd { (r) } }
                dt { "Attempts" } dd { (e.attempts) }
                @if let Some(err) = &e.last_error { dt { "Last error" } dd.error { (err) } }
                dt { "Mode" } dd { (e.mode) @if e.livemode != (e.mode == "live") { " " (badge("livemode mismatch")) } }
                dt { "Created by Stripe" } dd { (when(e.created)) }
                dt { "Received" } dd { (when(e.received_at / 1000)) }
                @if let Some(p) = e.processed_at { dt { "Processed" } dd { (when(p / 1000)) } }
                @if let Some(n) = e.next_attempt_at { dt { "Next attempt" } dd { (when(n / 1000)) } }
            }
            form method="post" action=(format!("/t/{id}/events/{}/replay", e.event_id)) {
                (ctx.csrf())
                p { button #replay type="submit" { "Replay" } " " span.muted { "Processes the stored event again; what a record already holds is never applied twice." } }
            }
        }
        h2 { "Decision" }
        @match &e.decision {
            Some(d) => pre #decision { (pretty(d)) },
            None => p.muted { "Not processed yet." },
        }
        h2 { "Payload" }
        @match &e.payload {
            Some(p) => pre #payload { (pretty(p)) },
            None => p.muted { "The stored body is not JSON." },
        }
    };
    tenant_page(
        &ctx,
        StatusCode::OK,
        &t,
        &format!("Event {}", e.event_id),
        Tab::Events,
        body,
    )
}

/// `POST …/replay`.
async fn replay(
    State(s): State<AppState>,
    Path((id, event_id)): Path<(String, String)>,
) -> PageResult {
    let _replayed = api::replay_event(State(s), Path((id.clone(), event_id.clone()))).await?;
    see_other(&format!("/t/{id}/events/{event_id}?done=replayed"))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
    before: Option<String>,
}

fn cursor(q: &ListQuery) -> Result<Option<PageCursor>, AppError> {
    nonempty(&q.before)
        .map(|b| {
            b.parse::<PageCursor>()
                .map_err(|e| bad_filter(e.to_string()))
        })
        .transpose()
}

/// Tabs that filter a list by status (`""` is all).
fn tabs(base: &str, current: Option<&str>, all: &[&str]) -> Markup {
    html! {
        div.tabs {
            a.here[current.is_none()] href=(base) { "all" }
            @for st in all {
                a.here[current == Some(*st)] href=(format!("{base}?status={st}")) { (st) }
            }
        }
    }
}

fn next_link(base: &str, status: Option<&str>, next: Option<String>) -> Markup {
    html! {
        div.pager {
            @if let Some(n) = next {
                @let q = match status { Some(st) => format!("?status={st}&before={}", super::urlencode(&n)), None => format!("?before={}", super::urlencode(&n)) };
                a.next href=(format!("{base}{q}")) { "Older →" }
            }
        }
    }
}

/// `/t/{id}/payments`: payments, by status group.
async fn payments_page(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let t = tenant(&s, &id).await?;
    let group = nonempty(&q.status)
        .map(|g| {
            g.parse::<PaymentGroup>()
                .map_err(|e| bad_filter(e.to_string()))
        })
        .transpose()?;
    let filter = PaymentFilter {
        group,
        before: cursor(&q)?,
        limit: PAGE,
    };
    let tid = id.clone();
    let list = s
        .db(move |c, _| Ok(records::list_payments_page(c, &tid, &filter)?))
        .await?;
    let next = (list.len() as i64 == PAGE)
        .then(|| {
            list.last().map(|p| {
                PageCursor {
                    at: p.updated_at,
                    id: p.id.clone(),
                }
                .to_string()
            })
        })
        .flatten();
    let base = format!("/t/{id}/payments");
    let names: Vec<&str> = PaymentGroup::ALL.iter().map(|g| g.name()).collect();
    let body = html! {
        (tabs(&base, group.map(PaymentGroup::name), &names))
        table #payments {
            thead { tr { th { "Payment" } th { "Status" } th.num { "Captured" } th.num { "Refunded" } th { "Dispute" } th { "For" } th { "Updated" } } }
            tbody {
                @if list.is_empty() { (empty_row(7, "No payments.")) }
                @for p in &list {
                    tr data-payment=(p.id) {
                        td { a href=(format!("{base}/{}", p.id)) { (p.id) } }
                        td { (badge(&p.status)) }
                        td.num { (money(p.captured, &p.currency)) }
                        td.num { (money(p.refunded, &p.currency)) }
                        td { @if let Some(d) = &p.dispute_status { (badge(d)) } }
                        td { (record_links(&id, p.invoice_id.as_deref(), p.appointment_id.as_deref())) }
                        td { (when(p.updated_at)) }
                    }
                }
            }
        }
        (next_link(&base, group.map(PaymentGroup::name), next))
    };
    tenant_page(
        &ctx,
        StatusCode::OK,
        &t,
        &format!("{} · Payments", t.name),
        Tab::Payments,
        body,
    )
}

fn record_links(tenant: &str, invoice: Option<&str>, appointment: Option<&str>) -> Markup {
    html! {
        @if let Some(i) = invoice { a href=(format!("/t/{tenant}/invoices#{i}")) { (i) } }
        @if let Some(a) = appointment { a href=(format!("/t/{tenant}/appointments#{a}")) { (a) } }
    }
}

async fn payment_view(
    s: &AppState,
    ctx: &Ctx,
    id: &str,
    payment_id: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> PageResult {
    let t = tenant(s, id).await?;
    let (tid, pid) = (id.to_owned(), payment_id.to_owned());
    let p = s
        .db(move |c, _| Ok(records::get_payment(c, &tid, &pid)?))
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no payment {payment_id:?} for this tenant")))?;
    let refundable = p.captured - p.refunded;
    let body = html! {
        (flash(notice, error))
        section.card {
            dl.facts #payment {
                dt { "Status" } dd.status { (badge(&p.status)) }
                dt { "Captured" } dd { (money(p.captured, &p.currency)) }
                dt { "Refunded" } dd.refunded { (money(p.refunded, &p.currency)) }
                @if let Some(d) = &p.dispute_status { dt { "Dispute" } dd { (badge(d)) } }
                dt { "For" } dd { (record_links(id, p.invoice_id.as_deref(), p.appointment_id.as_deref())) }
                dt { "Updated" } dd { (when(p.updated_at)) }
            }
        }
        @if refundable > 0 {
            section.card {
                h2 { "Refund" }
                p.muted { "Up to " (money(refundable, &p.currency)) " can be refunded. Leave the amount empty to refund all of it." }
                form.stack #refund method="post" action=(format!("/t/{id}/payments/{}/refund", p.id)) data-confirm="Send this refund to Stripe?" {
                    (ctx.csrf())
                    input type="hidden" name="key" value=(ctx.form_key(&format!("refund.{}.{}", p.id, p.refunded)));
                    label for="amount" { "Amount (" (p.currency.to_ascii_uppercase()) ")" }
                    input #amount name="amount" inputmode="decimal" placeholder="all that is left";
                    label for="reason" { "Reason" }
                    select #reason name="reason" {
                        option value="" { "—" }
                        option value="requested_by_customer" { "Requested by the customer" }
                        option value="duplicate" { "Duplicate" }
                        option value="fraudulent" { "Fraudulent" }
                    }
                    p { button type="submit" { "Refund" } }
                }
            }
        }
        h2 { "State" }
        pre { (pretty(&p.state)) }
    };
    tenant_page(
        ctx,
        status,
        &t,
        &format!("Payment {}", p.id),
        Tab::Payments,
        body,
    )
}

/// `/t/{id}/payments/{payment}`.
async fn payment(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path((id, payment_id)): Path<(String, String)>,
    Query(d): Query<Done>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    payment_view(
        &s,
        &ctx,
        &id,
        &payment_id,
        StatusCode::OK,
        done_notice(&d),
        None,
    )
    .await
}

#[derive(Deserialize, Default)]
struct RefundForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    key: String,
}

/// `POST …/refund`: the API's refund, with the form's idempotency key.
async fn refund(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path((id, payment_id)): Path<(String, String)>,
    Form(form): Form<RefundForm>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let mut body = serde_json::Map::new();
    if !form.amount.trim().is_empty() {
        body.insert("amount".into(), form.amount.trim().into());
    }
    if !form.reason.trim().is_empty() {
        body.insert("reason".into(), form.reason.trim().into());
    }
    let parsed: Result<RefundBody, _> = serde_json::from_value(serde_json::Value::Object(body));
    let outcome = match parsed {
        Err(_) => Err(AppError::bad(
            "invalid_reason",
            "choose a reason from the list",
        )),
        Ok(body) => {
            // The rendered form's key (which payment, at which refunded total) together with what
            // was asked: the same form sent twice is one refund, a corrected form is a new one.
            let key = ctx.form_key(&format!(
                "{}.{}.{}",
                form.key.trim(),
                form.amount.trim(),
                form.reason.trim()
            ));
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&key) {
                headers.insert("idempotency-key", v);
            }
            payments::refund(
                State(s.clone()),
                Path((id.clone(), payment_id.clone())),
                headers,
                Ok(axum::Json(body)),
            )
            .await
        }
    };
    match outcome {
        Ok(_) => see_other(&format!("/t/{id}/payments/{payment_id}?done=refunded")),
        Err(e) => {
            payment_view(
                &s,
                &ctx,
                &id,
                &payment_id,
                e.status(),
                None,
                Some(&e.to_string()),
            )
            .await
        }
    }
}

/// How a page is sent: its status and the outcome shown above it.
struct Shown<'a> {
    status: StatusCode,
    notice: Option<&'a str>,
    error: Option<String>,
}

impl<'a> Shown<'a> {
    fn ok(notice: Option<&'a str>) -> Shown<'a> {
        Shown {
            status: StatusCode::OK,
            notice,
            error: None,
        }
    }
    fn error(e: &AppError) -> Shown<'a> {
        Shown {
            status: e.status(),
            notice: None,
            error: Some(e.to_string()),
        }
    }
}

async fn records_page(
    s: &AppState,
    ctx: &Ctx,
    id: &str,
    kind: RecordKind,
    q: &ListQuery,
    shown: Shown<'_>,
) -> PageResult {
    let Shown {
        status,
        notice,
        error,
    } = shown;
    let error = error.as_deref();
    let t = tenant(s, id).await?;
    let st = nonempty(&q.status).map(str::to_owned);
    let before = cursor(q)?;
    let (tid, st2) = (id.to_owned(), st.clone());
    let list = s
        .db(move |c, _| {
            Ok(records::list_page(
                c,
                kind,
                &tid,
                st2.as_deref(),
                before.as_ref(),
                PAGE,
            )?)
        })
        .await?;
    let next = (list.len() as i64 == PAGE)
        .then(|| {
            list.last().map(|r| {
                PageCursor {
                    at: r.created_at,
                    id: r.id.clone(),
                }
                .to_string()
            })
        })
        .flatten();
    let (title, tab, path, statuses): (&str, Tab, &str, &[&str]) = match kind {
        RecordKind::Invoice => (
            "Invoices",
            Tab::Invoices,
            "invoices",
            &[
                "open",
                "processing",
                "payment_failed",
                "partially_paid",
                "paid",
                "partially_refunded",
                "refunded",
            ],
        ),
        RecordKind::Appointment => (
            "Appointments",
            Tab::Appointments,
            "appointments",
            &[
                "held",
                "awaiting_payment",
                "confirmed",
                "cancelled",
                "expired",
                "paid_after_release",
                "refunded",
            ],
        ),
    };
    let base = format!("/t/{id}/{path}");
    let body = html! {
        (flash(notice, error))
        (tabs(&base, st.as_deref(), statuses))
        table id=(path) {
            thead { tr { th { "Id" } th { "Customer" } th { "Status" } th.num { "Amount" } th.num { "Paid" } th.num { "Refunded" } th { "Link" } th { "Created" } } }
            tbody {
                @if list.is_empty() { (empty_row(8, "None.")) }
                @for r in &list {
                    tr id=(r.id) data-record=(r.id) {
                        td { code { (r.id) } }
                        td { (r.customer.as_deref().unwrap_or("")) }
                        td.status { (badge(&r.status)) }
                        td.num { (money(r.amount, &r.currency)) }
                        td.num { (money(r.amount_paid, &r.currency)) }
                        td.num { (money(r.amount_refunded, &r.currency)) }
                        td {
                            @if let Some(l) = &r.payment_link {
                                @if let Some(u) = &l.url { a href=(u) rel="noopener noreferrer" target="_blank" { "Payment link" } }
                                @else { (badge(&l.status)) @if let Some(e) = &l.error { " " span.muted { (e) } } }
                            }
                        }
                        td { (when(r.created_at)) }
                    }
                }
            }
        }
        (next_link(&base, st.as_deref(), next))
        @if kind == RecordKind::Invoice {
            section.card {
                h2 { "New invoice" }
                form.stack #new-invoice method="post" action=(base) {
                    (ctx.csrf())
                    label for="inv-amount" { "Amount" }
                    input #inv-amount name="amount" required inputmode="decimal" placeholder="20.00";
                    label for="inv-currency" { "Currency (default: the connection's)" }
                    input #inv-currency name="currency" maxlength="3" placeholder="eur";
                    label for="inv-customer" { "Customer" }
                    input #inv-customer name="customer";
                    label for="inv-description" { "Description" }
                    input #inv-description name="description";
                    label.check { input #inv-link type="checkbox" name="payment_link" value="true" checked; "Make a Stripe Payment Link" }
                    p { button type="submit" { "Create invoice" } }
                }
            }
        }
    };
    tenant_page(ctx, status, &t, &format!("{} · {title}", t.name), tab, body)
}

async fn invoices(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
    Query(d): Query<Done>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    records_page(
        &s,
        &ctx,
        &id,
        RecordKind::Invoice,
        &q,
        Shown::ok(done_notice(&d)),
    )
    .await
}

async fn appointments(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    records_page(&s, &ctx, &id, RecordKind::Appointment, &q, Shown::ok(None)).await
}

#[derive(Deserialize, Default)]
struct InvoiceForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    payment_link: Option<String>,
}

/// `POST /t/{id}/invoices`: the API's invoice creation.
async fn create_invoice(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Form(form): Form<InvoiceForm>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let text = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let body = serde_json::json!({
        "amount": form.amount.trim(),
        "currency": text(&form.currency).map(|c| c.to_ascii_lowercase()),
        "customer": text(&form.customer),
        "description": text(&form.description),
        "payment_link": form.payment_link.is_some(),
    });
    let outcome = match serde_json::from_value(body) {
        Ok(body) => {
            api::create_invoice(State(s.clone()), Path(id.clone()), Ok(axum::Json(body))).await
        }
        Err(e) => Err(AppError::bad("invalid_form", e.to_string())),
    };
    match outcome {
        Ok(_) => see_other(&format!("/t/{id}/invoices?done=created")),
        Err(e) => {
            records_page(
                &s,
                &ctx,
                &id,
                RecordKind::Invoice,
                &ListQuery::default(),
                Shown::error(&e),
            )
            .await
        }
    }
}

/// `/t/{id}/subscriptions`: active, past due, cancelled.
async fn subscriptions(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let t = tenant(&s, &id).await?;
    let st = nonempty(&q.status).map(str::to_owned);
    let before = cursor(&q)?;
    let (tid, st2) = (id.clone(), st.clone());
    let list = s
        .db(move |c, _| {
            Ok(records::list_subscriptions_page(
                c,
                &tid,
                st2.as_deref(),
                before.as_ref(),
                PAGE,
            )?)
        })
        .await?;
    let next = (list.len() as i64 == PAGE)
        .then(|| {
            list.last().map(|r| {
                PageCursor {
                    at: r.updated_at,
                    id: r.id.clone(),
                }
                .to_string()
            })
        })
        .flatten();
    let base = format!("/t/{id}/subscriptions");
    let body = html! {
        (tabs(&base, st.as_deref(), &["active", "trialing", "past_due", "unpaid", "canceled"]))
        table #subscriptions {
            thead { tr { th { "Subscription" } th { "Status" } th { "Period ends" } th { "Cancels at period end" } th { "Updated" } } }
            tbody {
                @if list.is_empty() { (empty_row(5, "No subscriptions.")) }
                @for r in &list {
                    tr {
                        td { code { (r.id) } }
                        td { (badge(&r.status)) }
                        td { (r.current_period_end.map(when).unwrap_or_default()) }
                        td { @if r.cancel_at_period_end { "yes" } @else { "no" } }
                        td { (when(r.updated_at)) }
                    }
                }
            }
        }
        (next_link(&base, st.as_deref(), next))
    };
    tenant_page(
        &ctx,
        StatusCode::OK,
        &t,
        &format!("{} · Subscriptions", t.name),
        Tab::Subscriptions,
        body,
    )
}
