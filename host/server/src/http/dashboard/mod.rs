//! The web dashboard at `/`: server-rendered pages for the people who run payhook. Settings
//! (Stripe connections), the webhook log, payments, invoices, appointments, subscriptions and
//! reports.
//!
//! - **Login** with the admin token. A session is a signed cookie ([`session`]): HttpOnly,
//!   SameSite=Strict, and Secure when the server is reached over HTTPS (`--public-url https://…`
//!   or `X-Forwarded-Proto: https` from a proxy).
//! - **CSRF**: every form carries its session's token, checked here for every POST before any
//!   handler runs; a POST from another site (`Origin` or `Sec-Fetch-Site` say so) is refused
//!   even with the token.
//! - **Escaping**: pages are built with `maud`, which escapes every value; a Content Security
//!   Policy allows scripts and styles from `/assets` only, so nothing injected could run.
//! - **The same rules as the API**: every action calls the `/api/v1` handler that does it, so
//!   validation and messages are the API's own.

mod activity;
mod reports;
pub(crate) mod session;
mod tenants;

use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use payhook_core::money::{Currency, Money};
use serde::Deserialize;

use self::session::{COOKIE, Session, SessionKey};
use super::{AppError, AppState};
use crate::ids::now_secs;

/// The largest form a page posts.
const MAX_FORM: usize = 64 * 1024;
/// The cookie that carries the login form's CSRF token before there is a session.
const LOGIN_COOKIE: &str = "payhook_login";

const CSS: &str = include_str!("assets/dashboard.css");
const JS: &str = include_str!("assets/dashboard.js");

/// The Content Security Policy of every dashboard response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's routes.
pub(super) fn routes(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(tenants::overview).post(tenants::create))
        .route("/logout", post(logout))
        .merge(tenants::routes())
        .merge(activity::routes())
        .merge(reports::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), guard));
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/assets/dashboard.css", get(css))
        .route("/assets/dashboard.js", get(js))
        .merge(pages)
        .layer(middleware::from_fn(security_headers))
}

/// What every page knows: the session and the tenant it is about, if any.
pub(crate) struct Ctx {
    session: Session,
    form_key: SessionKey,
}

impl Ctx {
    fn new(state: &AppState, session: Session) -> Ctx {
        Ctx {
            session,
            form_key: SessionKey::from_admin_token(&state.0.admin_token),
        }
    }

    /// The hidden field every form carries.
    fn csrf(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf()); }
    }

    /// A key that is the same each time this session renders a form for `purpose`, so a form
    /// submitted twice does one thing once (an idempotency key for Stripe).
    fn form_key(&self, purpose: &str) -> String {
        self.session.form_key(&self.form_key, purpose)
    }
}

/// The navigation of a tenant's pages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Integrations,
    Events,
    Payments,
    Invoices,
    Appointments,
    Subscriptions,
    Reports,
}

impl Tab {
    const ALL: [(Tab, &'static str, &'static str); 7] = [
        (Tab::Integrations, "Integrations", ""),
        (Tab::Events, "Webhook events", "/events"),
        (Tab::Payments, "Payments", "/payments"),
        (Tab::Invoices, "Invoices", "/invoices"),
        (Tab::Appointments, "Appointments", "/appointments"),
        (Tab::Subscriptions, "Subscriptions", "/subscriptions"),
        (Tab::Reports, "Reports", "/reports"),
    ];
}

/// A whole page.
fn page(ctx: &Ctx, title: &str, tenant: Option<(&str, &str, Tab)>, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · payhook" }
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "payhook" }
                    a href="/" { "Tenants" }
                    @if let Some((id, name, _)) = tenant {
                        span.muted { "›" }
                        a href=(format!("/t/{id}")) { (name) }
                    }
                    form.inline method="post" action="/logout" {
                        (ctx.csrf())
                        button.secondary type="submit" { "Log out" }
                    }
                }
                @if let Some((id, _, here)) = tenant {
                    nav.tenant {
                        @for (tab, label, path) in Tab::ALL {
                            a.here[tab == here] href=(format!("/t/{id}{path}")) { (label) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string())
}

/// An error shown as a page (or above a form, by the page that catches it).
pub(crate) struct PageError(StatusCode, String);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e.status(), e.to_string())
    }
}

impl From<crate::db::DbError> for PageError {
    fn from(e: crate::db::DbError) -> Self {
        AppError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let PageError(status, message) = self;
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { "Error · payhook" }
                    link rel="stylesheet" href="/assets/dashboard.css";
                }
                body {
                    header.top { a.brand href="/" { "payhook" } }
                    main {
                        h1 { (status.canonical_reason().unwrap_or("Error")) }
                        p.error { (message) }
                        p { a href="/" { "Back to the tenants" } }
                    }
                }
            }
        };
        (status, Html(markup.into_string())).into_response()
    }
}

type PageResult = Result<Response, PageError>;

/// Serves a page with a status.
fn respond(status: StatusCode, html: Html<String>) -> PageResult {
    Ok((status, html).into_response())
}

/// Sends one of a tenant's pages, under `tab` of its navigation.
fn tenant_page(
    ctx: &Ctx,
    status: StatusCode,
    t: &crate::tenants::TenantView,
    title: &str,
    tab: Tab,
    body: Markup,
) -> PageResult {
    respond(status, page(ctx, title, Some((&t.id, &t.name, tab)), body))
}

/// A redirect after a form did what it asked (303: the browser follows with a GET).
fn see_other(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

/// A box with the outcome of an action.
fn flash(notice: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        @if let Some(e) = error { p.error role="alert" { (e) } }
    }
}

/// Amounts as people read them: `20.00 EUR`, `500 JPY`.
fn money(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => format!(
            "{} {}",
            Money::new(minor, c).to_decimal_string(),
            currency.to_ascii_uppercase()
        ),
        Err(_) => format!("{minor} {currency} (minor units)"),
    }
}

/// Unix seconds as a UTC date and time.
fn when(secs: i64) -> String {
    crate::import::format_time(secs)
}

/// A status as a coloured badge.
fn badge(status: &str) -> Markup {
    let class = match status {
        "processed" | "succeeded" | "paid" | "active" | "confirmed" | "completed" | "enabled"
        | "won" => "badge ok",
        "received" | "processing" | "requires_action" | "pending" | "open" | "held"
        | "partially_refunded" | "partially_paid" | "trialing" | "needs_response"
        | "under_review" | "in_transit" => "badge warn",
        "failed" | "dead" | "canceled" | "cancelled" | "past_due" | "unpaid" | "lost"
        | "disabled" | "refunded" | "void" | "expired" => "badge bad",
        _ => "badge",
    };
    html! { span class=(class) { (status) } }
}

/// Query parameters with empty values dropped (a filter form sends `status=` for "any").
fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Whether the browser reached us over HTTPS.
fn is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.0.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A request that says it comes from another site. Browsers that send `Sec-Fetch-Site` are
/// believed: only `same-origin` (a page of ours) and `none` (typed or bookmarked) pass.
/// Without it, an `Origin` must name the host the request was sent to; `Origin: null` (a
/// sandboxed or privacy-stripped context) is refused.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        return !(site == "same-origin" || site == "none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let origin = origin.to_str().unwrap_or("");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    origin == "null" || host.is_empty() || !origin_host.eq_ignore_ascii_case(host)
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers)
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Refused, as a page.
fn forbidden(message: &str) -> Response {
    PageError(StatusCode::FORBIDDEN, message.to_owned()).into_response()
}

/// Signs the request in (or sends a page request to the login form), and checks the CSRF token
/// and the origin of every POST.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let key = SessionKey::from_admin_token(&state.0.admin_token);
    let session = cookie(request.headers(), COOKIE).and_then(|v| key.verify(v, now_secs()));
    let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD);
    let Some(session) = session else {
        if unsafe_method {
            return forbidden(
                "You are not logged in (or your session ended); log in and try again.",
            );
        }
        let next_path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let target = format!("/login?next={}", urlencode(&next_path));
        return Redirect::to(&target).into_response();
    };
    let mut request = request;
    if unsafe_method {
        if cross_site(request.headers()) {
            return forbidden("A request from another site was refused.");
        }
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
            return PageError::from(AppError::TooLarge(MAX_FORM)).into_response();
        };
        let token = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        if !token.is_some_and(|t| session.csrf_matches(&t)) {
            return forbidden(
                "The form's security token is missing or out of date; reload the page and try again.",
            );
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}

/// Headers on every dashboard response: the CSP, no framing, no sniffing, no caching, and no
/// referrer to other sites (URLs carry ids). Within the site the origin is sent, so that
/// browsers give our own forms a real `Origin` rather than `null`.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        JS,
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Where to go after logging in: a path on this site only (never `//host` or a URL).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

fn login_page(next: &str, token: &str, error: Option<&str>) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Log in · payhook" }
                link rel="stylesheet" href="/assets/dashboard.css";
            }
            body {
                header.top { span.brand { "payhook" } }
                main {
                    h1 { "Log in" }
                    section.card {
                        (flash(None, error))
                        form.stack method="post" action="/login" {
                            input type="hidden" name="csrf" value=(token);
                            input type="hidden" name="next" value=(next);
                            label for="token" { "Admin token" }
                            input #token type="password" name="token" autocomplete="current-password" required autofocus;
                            p.muted { "The admin token is in PAYHOOK_ADMIN_TOKEN, or in the "
                                code { "payhook.admin-token" } " file beside the database." }
                            button type="submit" { "Log in" }
                        }
                    }
                }
            }
        }
    };
    Html(markup.into_string())
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .expect("the operating system's random number generator is unavailable");
    hex::encode(bytes)
}

/// The login form; its CSRF token is a random value also set as a cookie (double submit).
async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let token = random_hex();
    let secure = if is_secure(&state, &headers) {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    );
    (
        [(header::SET_COOKIE, cookie)],
        login_page(&local_path(q.next.as_deref()), &token, None),
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginForm([redacted])")
    }
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if cross_site(&headers) {
        return forbidden("A request from another site was refused.");
    }
    let Ok(Form(form)) = form else {
        return forbidden("The login form was not understood; reload the page and try again.");
    };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || expected.len() != form.csrf.len() || expected != form.csrf {
        return forbidden(
            "The login form's security token is missing or out of date; reload the page and try again.",
        );
    }
    let next = local_path(form.next.as_deref());
    if !state.0.admin_token.matches(form.token.trim()) {
        tracing::warn!("a dashboard login with a wrong admin token");
        // A short pause makes guessing slower; the token is long and random anyway.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        return (
            StatusCode::UNAUTHORIZED,
            login_page(&next, expected, Some("That is not the admin token.")),
        )
            .into_response();
    }
    let secure = is_secure(&state, &headers);
    let (value, _) = SessionKey::from_admin_token(&state.0.admin_token).issue(now_secs());
    let mut response = Redirect::to(&next).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&value, secure)) {
        h.append(header::SET_COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{LOGIN_COOKIE}=; Path=/login; Max-Age=0")) {
        h.append(header::SET_COOKIE, v);
    }
    response
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(is_secure(&state, &headers))) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Raw JSON, pretty, for a `<pre>` (escaped by the template like any other text).
fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Marks up nothing; a placeholder where a page has no rows.
fn empty_row(columns: usize, text: &str) -> Markup {
    html! { tr { td.muted colspan=(columns) { (text) } } }
}

#[cfg(test)]
mod tests;
