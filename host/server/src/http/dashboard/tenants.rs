//! Settings › Integrations › Stripe: the tenants, their connections, and every action on a
//! connection (connect, check, rotate the key, roll the signing secret, disable, enable,
//! disconnect). Each action calls the API's handler, so its rules and messages are the API's.

use axum::Router;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::session::Session;
use super::{Ctx, PageResult, Tab, badge, flash, page, respond, see_other, tenant_page, when};
use crate::http::api::{self, ConnectionBody, RollBody, RotateBody};
use crate::http::{AppError, AppState};
use crate::tenants::{self, ConnectionView, TenantView};

/// The event types to enable on the Stripe webhook endpoint: those payhook turns into payment
/// facts.
pub const EVENTS_TO_ENABLE: [&str; 27] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.canceled",
    "charge.succeeded",
    "charge.failed",
    "charge.refunded",
    "charge.refund.updated",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.closed",
    "radar.early_fraud_warning.created",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "payout.paid",
    "payout.failed",
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{id}", get(integrations))
        .route("/t/{id}/connect", post(connect))
        .route("/t/{id}/{mode}/{action}", post(act))
}

/// A tenant's id and name for the navigation, or a 404 page.
pub(super) async fn tenant(s: &AppState, id: &str) -> Result<TenantView, AppError> {
    let tid = id.to_owned();
    s.db(move |c, _| Ok(tenants::show(c, &tid)?))
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no tenant {id:?}")))
}

/// A publishable key as the dashboard shows it: the prefix and the last four characters. It is
/// public by design, but the dashboard shows every key masked alike (the secret key and the
/// signing secrets are stored masked already).
fn masked(key: Option<&str>) -> String {
    key.map_or_else(|| "—".to_owned(), crate::secret::mask)
}

/// The fields of the connect form that may be shown again after an error (never a secret).
#[derive(Deserialize, Default)]
pub(super) struct ConnectForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    secret_key: String,
    #[serde(default)]
    publishable_key: String,
    #[serde(default)]
    webhook_secret: String,
    #[serde(default)]
    currency: String,
}

impl std::fmt::Debug for ConnectForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectForm([redacted])")
    }
}

impl ConnectForm {
    fn body(&self) -> ConnectionBody {
        let opt = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        ConnectionBody {
            name: self.name.trim().to_owned(),
            connection_name: None,
            mode: self.mode.trim().to_owned(),
            secret_key: opt(&self.secret_key),
            publishable_key: opt(&self.publishable_key),
            webhook_secret: opt(&self.webhook_secret),
            currency: opt(&self.currency),
            enabled: None,
        }
    }
}

/// The connect form: a new tenant (`action` "/") or another mode of a tenant.
fn connect_form(ctx: &Ctx, action: &str, with_name: bool, kept: &ConnectForm) -> Markup {
    html! {
        form.stack #connect method="post" action=(action) autocomplete="off" {
            (ctx.csrf())
            @if with_name {
                label for="name" { "Name" }
                input #name name="name" required value=(kept.name) placeholder="Smile Dental";
            }
            label for="mode" { "Mode" }
            select #mode name="mode" {
                option value="test" selected[kept.mode != "live"] { "Test" }
                option value="live" selected[kept.mode == "live"] { "Live" }
            }
            label for="secret_key" { "Secret or restricted key" }
            input #secret_key type="password" name="secret_key" placeholder="sk_test_… / rk_test_… (sk_live_… in live mode)" autocomplete="off";
            label for="publishable_key" { "Publishable key" }
            input #publishable_key name="publishable_key" placeholder="pk_test_… / pk_live_…" autocomplete="off";
            label for="webhook_secret" { "Webhook signing secret" }
            input #webhook_secret type="password" name="webhook_secret" placeholder="whsec_…" autocomplete="off";
            label for="currency" { "Default currency" }
            input #currency name="currency" value=(kept.currency) placeholder="eur" maxlength="3";
            p { button type="submit" { "Connect" } }
        }
    }
}

fn overview_page(
    ctx: &Ctx,
    list: &[TenantView],
    kept: &ConnectForm,
    error: Option<&str>,
) -> Markup {
    html! {
        section.card {
            table #tenants {
                thead { tr { th { "Tenant" } th { "Id" } th { "Connections" } th { "Created" } } }
                tbody {
                    @if list.is_empty() { (super::empty_row(4, "No tenant yet: connect a Stripe account below.")) }
                    @for t in list {
                        tr {
                            td { a href=(format!("/t/{}", t.id)) { (t.name) } }
                            td { code { (t.id) } }
                            td {
                                @for c in &t.connections {
                                    span.row { (c.mode.as_str()) " " (connection_badge(c)) }
                                }
                            }
                            td { (when(t.created_at)) }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Connect a Stripe account" }
            (flash(None, error))
            (connect_form(ctx, "/", true, kept))
        }
    }
}

fn connection_badge(c: &ConnectionView) -> Markup {
    if c.disconnected_at.is_some() {
        badge("disconnected")
    } else if c.enabled {
        badge("enabled")
    } else {
        badge("disabled")
    }
}

/// `/`: the tenants and a form to connect a new one.
pub(super) async fn overview(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let list = s.db(|c, _| Ok(tenants::list(c)?)).await?;
    respond(
        StatusCode::OK,
        page(
            &ctx,
            "Tenants",
            None,
            overview_page(&ctx, &list, &ConnectForm::default(), None),
        ),
    )
}

/// `POST /`: a new tenant with its first connection.
pub(super) async fn create(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Form(form): Form<ConnectForm>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    match api::create_tenant(State(s.clone()), Ok(axum::Json(form.body()))).await {
        Ok((_, axum::Json(v))) => {
            let id = v["id"].as_str().unwrap_or_default();
            see_other(&format!("/t/{id}?done=connected"))
        }
        Err(e) => {
            let list = s.db(|c, _| Ok(tenants::list(c)?)).await?;
            let kept = ConnectForm {
                name: form.name,
                mode: form.mode,
                currency: form.currency,
                ..ConnectForm::default()
            };
            respond(
                e.status(),
                page(
                    &ctx,
                    "Tenants",
                    None,
                    overview_page(&ctx, &list, &kept, Some(&e.to_string())),
                ),
            )
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

/// The notice for `?done=…` after an action (fixed texts: nothing from the URL is shown).
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "connected" => "Connected. Paste the webhook URL into Stripe and enable the events listed.",
        "rotate-key" => "The secret key was replaced.",
        "roll-webhook-secret" => {
            "The signing secret was rolled; the old one keeps verifying until its expiry."
        }
        "disable" => "The connection is disabled: webhooks are still stored, no payment is taken.",
        "enable" => "The connection is enabled.",
        "disconnect" => "Disconnected: its credentials are destroyed; its history is kept.",
        "replayed" => "The event is queued to be processed again.",
        "refunded" => "The refund was sent to Stripe; the payment updates when Stripe confirms it.",
        "created" => "Created.",
        _ => return None,
    })
}

pub(super) fn done_notice(d: &Done) -> Option<&'static str> {
    notice(d.done.as_deref())
}

fn connection_card(ctx: &Ctx, s: &AppState, t: &TenantView, c: &ConnectionView) -> Markup {
    let mode = c.mode.as_str();
    let url = format!("{}{}", s.0.public_url, c.webhook_path);
    let base = format!("/t/{}/{mode}", t.id);
    let live = c.disconnected_at.is_none();
    html! {
        section.card.connection id=(format!("connection-{mode}")) {
            h2 { (c.name) " · " (mode) " " (connection_badge(c)) }
            dl.facts {
                dt { "Secret key" } dd { code.secret-key { (c.secret_key.as_deref().unwrap_or("—")) } }
                dt { "Publishable key" } dd { code { (masked(c.publishable_key.as_deref())) } }
                dt { "Signing secrets" }
                dd {
                    @if c.webhook_secrets.is_empty() { "—" }
                    @for w in &c.webhook_secrets {
                        div {
                            code { (w.secret) }
                            @if let Some(e) = w.expires_at { span.muted { " verifies until " (when(e)) } }
                            @else { span.muted { " current" } }
                        }
                    }
                }
                dt { "Default currency" } dd { (c.default_currency.as_deref().unwrap_or("—")) }
                dt { "Webhook URL" }
                dd.row {
                    input #(format!("webhook-url-{mode}")) .webhook-url readonly value=(url) size="70";
                    button.secondary type="button" data-copy=(format!("webhook-url-{mode}")) { "Copy" }
                }
            }
            @if live {
                div.row {
                    form.inline method="post" action=(format!("{base}/check")) {
                        (ctx.csrf())
                        button type="submit" { "Check connection" }
                    }
                    @if c.enabled {
                        form.inline method="post" action=(format!("{base}/disable")) data-confirm="Disable this connection? Webhooks are still stored; no payment is taken." {
                            (ctx.csrf()) button.secondary type="submit" { "Disable" }
                        }
                    } @else {
                        form.inline method="post" action=(format!("{base}/enable")) {
                            (ctx.csrf()) button.secondary type="submit" { "Enable" }
                        }
                    }
                    form.inline method="post" action=(format!("{base}/disconnect")) data-confirm="Disconnect? The credentials are destroyed; the history is kept." {
                        (ctx.csrf()) button.danger type="submit" { "Disconnect" }
                    }
                }
                details {
                    summary { "Rotate the secret key" }
                    form.stack method="post" action=(format!("{base}/rotate-key")) autocomplete="off" {
                        (ctx.csrf())
                        label for=(format!("rotate-{mode}")) { "New secret key" }
                        input id=(format!("rotate-{mode}")) type="password" name="secret_key" required autocomplete="off";
                        p { button type="submit" { "Rotate" } }
                    }
                }
                details {
                    summary { "Roll the webhook signing secret" }
                    form.stack method="post" action=(format!("{base}/roll-webhook-secret")) autocomplete="off" {
                        (ctx.csrf())
                        label for=(format!("roll-{mode}")) { "New signing secret" }
                        input id=(format!("roll-{mode}")) type="password" name="webhook_secret" required autocomplete="off";
                        label for=(format!("overlap-{mode}")) { "Old secret keeps verifying for (hours)" }
                        input id=(format!("overlap-{mode}")) type="number" name="overlap_hours" min="0" max="720" value="24";
                        p { button type="submit" { "Roll" } }
                    }
                }
            }
        }
    }
}

fn integrations_body(
    ctx: &Ctx,
    s: &AppState,
    t: &TenantView,
    notice_text: Option<&str>,
    error: Option<&str>,
    extra: Option<Markup>,
) -> Markup {
    let missing_mode = ["test", "live"]
        .into_iter()
        .find(|m| !t.connections.iter().any(|c| c.mode.as_str() == *m));
    html! {
        (flash(notice_text, error))
        @if let Some(x) = extra { (x) }
        @for c in &t.connections { (connection_card(ctx, s, t, c)) }
        section.card {
            h2 { "Events to enable in Stripe" }
            p.muted { "In Stripe's dashboard (Developers › Webhooks), add an endpoint with the URL above and enable:" }
            ul.events { @for e in EVENTS_TO_ENABLE { li { code { (e) } } } }
        }
        @if let Some(m) = missing_mode {
            section.card {
                h2 { "Add a " (m) " connection" }
                (connect_form(ctx, &format!("/t/{}/connect", t.id), false, &ConnectForm { mode: m.to_owned(), ..ConnectForm::default() }))
            }
        }
    }
}

/// `/t/{id}`: the tenant's connections.
async fn integrations(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let t = tenant(&s, &id).await?;
    let body = integrations_body(&ctx, &s, &t, done_notice(&d), None, None);
    tenant_page(
        &ctx,
        StatusCode::OK,
        &t,
        &format!("{} · Integrations", t.name),
        Tab::Integrations,
        body,
    )
}

/// The integrations page again, with what went wrong (or a check's steps).
async fn integrations_with(
    s: &AppState,
    ctx: &Ctx,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
    extra: Option<Markup>,
) -> PageResult {
    let t = tenant(s, id).await?;
    let body = integrations_body(ctx, s, &t, None, error, extra);
    tenant_page(
        ctx,
        status,
        &t,
        &format!("{} · Integrations", t.name),
        Tab::Integrations,
        body,
    )
}

/// `POST /t/{id}/connect`: another mode for a tenant.
async fn connect(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Form(form): Form<ConnectForm>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    match api::connect(
        State(s.clone()),
        Path(id.clone()),
        Ok(axum::Json(form.body())),
    )
    .await
    {
        Ok(_) => see_other(&format!("/t/{id}?done=connected")),
        Err(e) => integrations_with(&s, &ctx, &id, e.status(), Some(&e.to_string()), None).await,
    }
}

#[derive(Deserialize, Default)]
struct ActionForm {
    #[serde(default)]
    secret_key: String,
    #[serde(default)]
    webhook_secret: String,
    #[serde(default)]
    overlap_hours: String,
}

/// `POST /t/{id}/{mode}/{action}`: one action on a connection.
async fn act(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path((id, mode, action)): Path<(String, String, String)>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let path = Path((id.clone(), mode.clone()));
    let st = State(s.clone());
    let outcome = match action.as_str() {
        "check" => {
            return match crate::http::check::check(st, path).await {
                Ok((_, axum::Json(v))) => {
                    let steps = check_steps(&v);
                    integrations_with(&s, &ctx, &id, StatusCode::OK, None, Some(steps)).await
                }
                Err(e) => {
                    integrations_with(&s, &ctx, &id, e.status(), Some(&e.to_string()), None).await
                }
            };
        }
        "rotate-key" => {
            api::rotate_key(
                st,
                path,
                Ok(axum::Json(RotateBody {
                    secret_key: form.secret_key.trim().to_owned(),
                })),
            )
            .await
        }
        "roll-webhook-secret" => {
            let overlap_hours = match form.overlap_hours.trim() {
                "" => None,
                h => match h.parse::<u64>() {
                    Ok(h) if h <= 720 => Some(h),
                    _ => {
                        let e = "The overlap is a whole number of hours from 0 to 720.";
                        return integrations_with(
                            &s,
                            &ctx,
                            &id,
                            StatusCode::BAD_REQUEST,
                            Some(e),
                            None,
                        )
                        .await;
                    }
                },
            };
            api::roll_webhook_secret(
                st,
                path,
                Ok(axum::Json(RollBody {
                    webhook_secret: form.webhook_secret.trim().to_owned(),
                    overlap_hours,
                })),
            )
            .await
        }
        "disable" => api::disable(st, path).await,
        "enable" => api::enable(st, path).await,
        "disconnect" => api::disconnect(st, path).await,
        _ => return Err(AppError::NotFound("no such action".into()).into()),
    };
    match outcome {
        Ok(_) => see_other(&format!("/t/{id}?done={action}")),
        Err(e) => integrations_with(&s, &ctx, &id, e.status(), Some(&e.to_string()), None).await,
    }
}

/// A connection check's steps, as the API reports them.
fn check_steps(v: &Value) -> Markup {
    let ok = v["ok"].as_bool().unwrap_or(false);
    html! {
        section.card #check {
            h2 { "Connection check (" (v["mode"].as_str().unwrap_or("")) "): " @if ok { (badge("succeeded")) } @else { (badge("failed")) } }
            table {
                thead { tr { th { "Step" } th { "Result" } th { "Detail" } } }
                tbody {
                    @for step in v["steps"].as_array().into_iter().flatten() {
                        tr {
                            td { (step["step"].as_str().unwrap_or("")) }
                            td { @if step["ok"].as_bool() == Some(true) { (badge("succeeded")) } @else { (badge("failed")) } }
                            td {
                                (step["detail"].as_str().unwrap_or(""))
                                @if let Some(m) = step["error"]["message"].as_str() { div.error { (m) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
