//! Reports: revenue per day (a chart drawn on the server as SVG), payouts with the balance
//! transactions they contain, and the reconciliation of invoices against payments. Each is
//! downloadable as CSV.

use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::session::Session;
use super::tenants::tenant;
use super::{Ctx, PageResult, Tab, badge, empty_row, money, nonempty, tenant_page, when};
use crate::http::{AppError, AppState};
use crate::ids::now_secs;
use crate::records::PageCursor;
use crate::reports::{self, DayRevenue, PayoutView, Reconciliation};

/// Days the revenue report covers unless asked otherwise, and the most it covers.
const DEFAULT_DAYS: i64 = 30;
const MAX_DAYS: i64 = 366;
/// Payouts per page.
const PAYOUTS_PAGE: i64 = 25;
/// Rows per reconciliation section.
const RECONCILE_ROWS: i64 = 200;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{id}/reports", get(revenue))
        .route("/t/{id}/reports/revenue.csv", get(revenue_csv))
        .route("/t/{id}/reports/payouts", get(payouts))
        .route("/t/{id}/reports/payouts.csv", get(payouts_csv))
        .route("/t/{id}/reports/reconciliation", get(reconciliation))
        .route(
            "/t/{id}/reports/reconciliation.csv",
            get(reconciliation_csv),
        )
}

fn report_tabs(id: &str, here: &str) -> Markup {
    html! {
        div.tabs {
            @for (path, label) in [("", "Revenue"), ("/payouts", "Payouts"), ("/reconciliation", "Reconciliation")] {
                a.here[path == here] href=(format!("/t/{id}/reports{path}")) { (label) }
            }
        }
    }
}

#[derive(Deserialize, Default)]
struct DaysQuery {
    days: Option<String>,
    end: Option<String>,
}

/// The days a revenue report covers: `days` days (default 30) up to and including `end`
/// (`YYYY-MM-DD`, default today), as days since 1970.
#[derive(Clone, Copy)]
struct Window {
    first_day: i64,
    days: i64,
}

impl Window {
    fn of(q: &DaysQuery) -> Result<Window, AppError> {
        let days = match nonempty(&q.days) {
            None => DEFAULT_DAYS,
            Some(d) => match d.parse::<i64>() {
                Ok(n) if (1..=MAX_DAYS).contains(&n) => n,
                _ => {
                    return Err(AppError::bad(
                        "invalid_days",
                        format!("days must be a whole number from 1 to {MAX_DAYS}"),
                    ));
                }
            },
        };
        let now = now_secs();
        let end_day = match nonempty(&q.end) {
            None => now / 86_400,
            Some(e) => {
                crate::import::parse_since(e, now)
                    .map_err(|err| AppError::bad("invalid_end", err.to_string()))?
                    / 86_400
            }
        };
        Ok(Window {
            first_day: end_day - (days - 1),
            days,
        })
    }

    fn end_date(self) -> String {
        when((self.first_day + self.days - 1) * 86_400)[..10].to_owned()
    }

    fn query(self) -> String {
        format!("days={}&end={}", self.days, self.end_date())
    }
}

async fn revenue_rows(s: &AppState, id: &str, w: Window) -> Result<Vec<DayRevenue>, AppError> {
    let since = w.first_day * 86_400;
    let until = (w.first_day + w.days) * 86_400;
    let tid = id.to_owned();
    s.db(move |c, _| Ok(reports::revenue_per_day(c, &tid, since, until)?))
        .await
}

/// A bar chart of gross revenue (and refunds, in red) per day over every day of the report,
/// one chart per currency, drawn as SVG on the server.
fn chart(rows: &[DayRevenue], first_day: i64, days: i64) -> Markup {
    let mut currencies: Vec<&str> = rows.iter().map(|r| r.currency.as_str()).collect();
    currencies.sort_unstable();
    currencies.dedup();
    let labels: Vec<String> = (0..days)
        .map(|d| when((first_day + d) * 86_400)[..10].to_owned())
        .collect();
    let (w, h, left, bottom) = (760i64, 200i64, 70i64, 30i64);
    let slot = ((w - left) / days.max(1)).max(2);
    html! {
        @for cur in currencies {
            @let series: Vec<(&String, Option<&DayRevenue>)> = labels
                .iter()
                .map(|day| (day, rows.iter().find(|r| r.currency == cur && &r.day == day)))
                .collect();
            @let top = rows.iter().filter(|r| r.currency == cur).map(|r| r.gross.max(r.refunded)).max().unwrap_or(1).max(1);
            figure {
                figcaption { "Revenue per day, " (cur.to_ascii_uppercase()) " (gross; refunds in red)" }
                svg.chart role="img" aria-label=(format!("Revenue per day in {cur}")) width=(w) height=(h + bottom) viewBox=(format!("0 0 {w} {}", h + bottom)) {
                    line.axis x1=(left - 4) y1=(h) x2=(w) y2=(h) {}
                    line.axis x1=(left - 4) y1="4" x2=(left - 4) y2=(h) {}
                    text x="0" y="12" { (money(top, cur)) }
                    text x="0" y=(h) { "0" }
                    @for (i, (day, r)) in series.iter().enumerate() {
                        @let x = left + i as i64 * slot;
                        @if let Some(r) = r {
                            @let gh = r.gross.max(0) * (h - 8) / top;
                            @let rh = r.refunded.max(0) * (h - 8) / top;
                            rect.bar x=(x) y=(h - gh) width=((slot * 6 / 10).max(1)) height=(gh) {
                                title { (r.day) ": " (money(r.gross, &r.currency)) " gross, " (money(r.refunded, &r.currency)) " refunded" }
                            }
                            @if rh > 0 {
                                rect.refund x=(x + (slot * 6 / 10).max(1)) y=(h - rh) width=((slot * 3 / 10).max(1)) height=(rh) {}
                            }
                        }
                        @if days <= 14 || i as i64 % (days / 7).max(1) == 0 {
                            text x=(x) y=(h + 16) { (day.get(5..).unwrap_or(day)) }
                        }
                    }
                }
            }
        }
    }
}

/// `/t/{id}/reports`: revenue per day.
async fn revenue(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<DaysQuery>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let t = tenant(&s, &id).await?;
    let w = Window::of(&q)?;
    let rows = revenue_rows(&s, &id, w).await?;
    let body = html! {
        (report_tabs(&id, ""))
        form.filters method="get" {
            label { "Days" input name="days" type="number" min="1" max=(MAX_DAYS) value=(w.days); }
            label { "Up to" input name="end" type="date" value=(w.end_date()); }
            button type="submit" { "Show" }
            a.button.secondary #download-revenue href=(format!("/t/{id}/reports/revenue.csv?{}", w.query())) download { "Download CSV" }
        }
        @if rows.is_empty() { p.muted { "No settled payments or refunds in these days." } }
        @else { (chart(&rows, w.first_day, w.days)) }
        table #revenue {
            thead { tr { th { "Day" } th { "Currency" } th.num { "Payments" } th.num { "Gross" } th.num { "Refunded" } th.num { "Net" } } }
            tbody {
                @for r in &rows {
                    tr {
                        td { (r.day) } td { (r.currency.to_ascii_uppercase()) } td.num { (r.payments) }
                        td.num { (money(r.gross, &r.currency)) } td.num { (money(r.refunded, &r.currency)) } td.num { (money(r.net, &r.currency)) }
                    }
                }
            }
        }
    };
    tenant_page(
        &ctx,
        StatusCode::OK,
        &t,
        &format!("{} · Revenue", t.name),
        Tab::Reports,
        body,
    )
}

fn csv(name: &str, tenant: &str, body: String) -> axum::response::Response {
    let disposition = format!("attachment; filename=\"{tenant}-{name}.csv\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

async fn revenue_csv(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DaysQuery>,
) -> PageResult {
    let t = tenant(&s, &id).await?;
    let rows = revenue_rows(&s, &id, Window::of(&q)?).await?;
    Ok(csv("revenue", &t.id, reports::revenue_csv(&rows)))
}

#[derive(Deserialize, Default)]
struct PageQuery {
    before: Option<String>,
}

async fn payout_rows(s: &AppState, id: &str, q: &PageQuery) -> Result<Vec<PayoutView>, AppError> {
    let before = nonempty(&q.before)
        .map(|b| {
            b.parse::<PageCursor>()
                .map_err(|e| AppError::bad("invalid_filter", e.to_string()))
        })
        .transpose()?;
    let tid = id.to_owned();
    s.db(move |c, _| Ok(reports::payouts(c, &tid, before.as_ref(), PAYOUTS_PAGE)?))
        .await
}

/// `/t/{id}/reports/payouts`: payouts (as `payhook import` stored them) and what they paid out.
async fn payouts(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let t = tenant(&s, &id).await?;
    let rows = payout_rows(&s, &id, &q).await?;
    let next = (rows.len() as i64 == PAYOUTS_PAGE)
        .then(|| {
            rows.last().map(|p| {
                PageCursor {
                    at: p.created,
                    id: p.id.clone(),
                }
                .to_string()
            })
        })
        .flatten();
    let body = html! {
        (report_tabs(&id, "/payouts"))
        p.row {
            span.muted { "Payouts and balance transactions come from Stripe through " code { "payhook import" } "." }
            a.button.secondary #download-payouts href=(format!("/t/{id}/reports/payouts.csv")) download { "Download CSV" }
        }
        @if rows.is_empty() { p.muted { "No payouts imported yet." } }
        @for p in &rows {
            section.card.payout id=(p.id) {
                h2 {
                    code { (p.id) } " "
                    (badge(p.status.as_deref().unwrap_or("unknown")))
                    " " (p.amount.map(|a| money(a, p.currency.as_deref().unwrap_or(""))).unwrap_or_default())
                }
                p.muted { "Created " (when(p.created)) @if let Some(a) = p.arrival_date { " · arrives " (when(a)) } }
                @if !p.transactions_known { p.muted { "Its balance transactions are not imported yet." } }
                @else {
                    table {
                        thead { tr { th { "Transaction" } th { "Type" } th { "Source" } th.num { "Amount" } th.num { "Fee" } th.num { "Net" } th { "Created" } } }
                        tbody {
                            @if p.transactions.is_empty() { (empty_row(7, "None.")) }
                            @for x in &p.transactions {
                                tr {
                                    td { code { (x.id) } } td { (x.kind) } td { (x.source.as_deref().unwrap_or("")) }
                                    td.num { (money(x.amount, &x.currency)) } td.num { (money(x.fee, &x.currency)) } td.num { (money(x.net, &x.currency)) }
                                    td { (when(x.created)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.pager { @if let Some(n) = next { a.next href=(format!("/t/{id}/reports/payouts?before={}", super::urlencode(&n))) { "Older →" } } }
    };
    tenant_page(
        &ctx,
        StatusCode::OK,
        &t,
        &format!("{} · Payouts", t.name),
        Tab::Reports,
        body,
    )
}

async fn payouts_csv(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let t = tenant(&s, &id).await?;
    let rows = payout_rows(&s, &id, &q).await?;
    Ok(csv("payouts", &t.id, reports::payouts_csv(&rows)))
}

async fn reconcile(s: &AppState, id: &str) -> Result<Reconciliation, AppError> {
    let tid = id.to_owned();
    s.db(move |c, _| Ok(reports::reconciliation(c, &tid, RECONCILE_ROWS)?))
        .await
}

/// `/t/{id}/reports/reconciliation`: invoices against payments.
async fn reconciliation(
    State(s): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> PageResult {
    let ctx = Ctx::new(&s, session);
    let t = tenant(&s, &id).await?;
    let r = reconcile(&s, &id).await?;
    let body = html! {
        (report_tabs(&id, "/reconciliation"))
        p { a.button.secondary #download-reconciliation href=(format!("/t/{id}/reports/reconciliation.csv")) download { "Download CSV" } }
        section.card #invoices-without-payment {
            h2 { "Invoices without payment (" (r.invoices_without_payment.len()) ")" }
            table {
                thead { tr { th { "Invoice" } th { "Status" } th.num { "Amount" } th.num { "Recorded as paid" } th { "Created" } } }
                tbody {
                    @if r.invoices_without_payment.is_empty() { (empty_row(5, "None.")) }
                    @for i in &r.invoices_without_payment {
                        tr data-invoice=(i.invoice_id) {
                            td { a href=(format!("/t/{id}/invoices#{}", i.invoice_id)) { (i.invoice_id) } }
                            td { (badge(&i.status)) }
                            td.num { (money(i.amount, &i.currency)) }
                            td.num { (money(i.amount_paid, &i.currency)) }
                            td { (when(i.created_at)) }
                        }
                    }
                }
            }
        }
        section.card #payments-without-invoice {
            h2 { "Payments without invoice (" (r.payments_without_invoice.len()) ")" }
            table {
                thead { tr { th { "Payment" } th { "Status" } th.num { "Captured" } th.num { "Refunded" } th { "Updated" } } }
                tbody {
                    @if r.payments_without_invoice.is_empty() { (empty_row(5, "None.")) }
                    @for p in &r.payments_without_invoice {
                        tr data-payment=(p.payment_id) {
                            td { a href=(format!("/t/{id}/payments/{}", p.payment_id)) { (p.payment_id) } }
                            td { (badge(&p.status)) }
                            td.num { (money(p.captured, &p.currency)) }
                            td.num { (money(p.refunded, &p.currency)) }
                            td { (when(p.updated_at)) }
                        }
                    }
                }
            }
        }
        section.card #amounts-differ {
            h2 { "Amounts that differ (" (r.amounts_differ.len()) ")" }
            p.muted { "Invoices whose recorded payment differs from what their payments captured, or whose amount differs from what their payments captured net of refunds." }
            table {
                thead { tr { th { "Invoice" } th { "Status" } th.num { "Amount" } th.num { "Recorded as paid" } th.num { "Captured" } th.num { "Refunded" } th.num { "Net" } th.num { "Payments" } th { "Why" } } }
                tbody {
                    @if r.amounts_differ.is_empty() { (empty_row(9, "None.")) }
                    @for d in &r.amounts_differ {
                        tr data-invoice=(d.invoice_id) {
                            td { a href=(format!("/t/{id}/invoices#{}", d.invoice_id)) { (d.invoice_id) } }
                            td { (badge(&d.status)) }
                            td.num { (money(d.amount, &d.currency)) }
                            td.num { (money(d.amount_paid, &d.currency)) }
                            td.num { (money(d.captured, &d.currency)) }
                            td.num { (money(d.refunded, &d.currency)) }
                            td.num { (money(d.net, &d.currency)) }
                            td.num { (d.payments) }
                            td {
                                @if d.paid_differs { div { "recorded ≠ captured" } }
                                @if d.net_differs { div { "amount ≠ net" } }
                                @if d.other_currency_payments > 0 { div { (d.other_currency_payments) " in another currency" } }
                            }
                        }
                    }
                }
            }
        }
    };
    tenant_page(
        &ctx,
        StatusCode::OK,
        &t,
        &format!("{} · Reconciliation", t.name),
        Tab::Reports,
        body,
    )
}

async fn reconciliation_csv(State(s): State<AppState>, Path(id): Path<String>) -> PageResult {
    let t = tenant(&s, &id).await?;
    let r = reconcile(&s, &id).await?;
    Ok(csv(
        "reconciliation",
        &t.id,
        reports::reconciliation_csv(&r),
    ))
}
