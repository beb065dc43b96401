//! The dashboard through the router, without a socket or a browser: login, sessions, CSRF,
//! escaping and secrets. The browser tests (tests/browser) drive the same pages in Chromium.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use crate::admin_token::AdminToken;
use crate::db::{Conn, Database, Location};
use crate::http::{AppState, app};
use crate::inbox::{Writer, WriterConfig};
use crate::metrics::Metrics;
use crate::seal::{MasterKey, Sealer};

const TOKEN: &str = "dashboard-test-token-0123456789";
const SECRET_BODY: &str = "51DashboardSecretKeyBody0123456789";

fn state(dir: &tempfile::TempDir, public_url: &str) -> (AppState, crate::inbox::WriterThread) {
    let db = Database::open(&Location::Sqlite(dir.path().join("d.db"))).unwrap();
    let metrics = Metrics::new();
    let (writer, thread) = Writer::start(
        db.clone(),
        WriterConfig {
            process: false,
            ..WriterConfig::default()
        },
        metrics.clone(),
    );
    let state = AppState::new(
        db,
        Sealer::new(&MasterKey::from_bytes([3; 32])),
        writer,
        metrics,
        AdminToken::new(TOKEN),
        public_url,
        crate::stripe::StripeClient::new("http://127.0.0.1:9"),
    );
    (state, thread)
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
    /// The first form's CSRF token on the page.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token")
            + 19;
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

async fn send(app: &axum::Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A logged-in browser: its session cookie.
struct Browser {
    app: axum::Router,
    cookie: String,
}

impl Browser {
    async fn login(app: &axum::Router) -> Browser {
        let page = send(app, Request::get("/login").body(Body::empty()).unwrap()).await;
        let login_cookie = page.set_cookies()[0].split(';').next().unwrap().to_owned();
        let reply = send(
            app,
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, &login_cookie)
                .body(Body::from(form(&[
                    ("token", TOKEN),
                    ("csrf", &page.csrf()),
                    ("next", "/"),
                ])))
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let session = reply
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("payhook_session=v1"))
            .expect("a session cookie");
        Browser {
            app: app.clone(),
            cookie: session.split(';').next().unwrap().to_owned(),
        }
    }

    async fn get(&self, path: &str) -> Reply {
        send(
            &self.app,
            Request::get(path)
                .header(header::COOKIE, &self.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post(&self, path: &str, pairs: &[(&str, &str)], extra: &[(&str, &str)]) -> Reply {
        let mut r = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::COOKIE, &self.cookie);
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        send(&self.app, r.body(Body::from(form(pairs))).unwrap()).await
    }

    /// A form posted as the page would: with the session's CSRF token.
    async fn submit(&self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        let csrf = self.get("/").await.csrf();
        let mut all = pairs.to_vec();
        all.push(("csrf", &csrf));
        self.post(path, &all, &[("origin", "http://127.0.0.1:8080")])
            .await
    }

    async fn new_tenant(&self, name: &str) -> String {
        let secret = format!("sk_test_{SECRET_BODY}");
        let reply = self
            .submit(
                "/",
                &[
                    ("name", name),
                    ("mode", "test"),
                    ("secret_key", &secret),
                    (
                        "publishable_key",
                        "pk_test_51DashboardPublishable0123456789",
                    ),
                    ("webhook_secret", "whsec_DashboardSigningSecret0123456789"),
                    ("currency", "eur"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        reply
            .location()
            .trim_start_matches("/t/")
            .split('?')
            .next()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn no_page_works_without_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _t) = state(&dir, "http://127.0.0.1:8080");
    let app = app(state);
    for path in [
        "/",
        "/t/ten_0123456789abcdef",
        "/t/ten_0123456789abcdef/events",
        "/t/ten_0123456789abcdef/events/evt_1",
        "/t/ten_0123456789abcdef/payments",
        "/t/ten_0123456789abcdef/invoices",
        "/t/ten_0123456789abcdef/appointments",
        "/t/ten_0123456789abcdef/subscriptions",
        "/t/ten_0123456789abcdef/reports",
        "/t/ten_0123456789abcdef/reports/revenue.csv",
        "/t/ten_0123456789abcdef/reports/payouts",
        "/t/ten_0123456789abcdef/reports/reconciliation.csv",
    ] {
        let r = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            r.location().starts_with("/login?next=%2F"),
            "{path}: {}",
            r.location()
        );
    }
    for path in [
        "/",
        "/logout",
        "/t/ten_0123456789abcdef/test/disable",
        "/t/ten_0123456789abcdef/events/evt_1/replay",
    ] {
        let r = send(
            &app,
            Request::post(path).body(Body::from("csrf=x")).unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("not logged in"), "{path}: {}", r.body);
    }
    // A forged cookie is no session.
    let r = send(
        &app,
        Request::get("/")
            .header(header::COOKIE, "payhook_session=v1.99999999999.00.00")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The API still wants its bearer token, session or not.
    let b = Browser::login(&app).await;
    let api = send(
        &app,
        Request::get("/api/v1/tenants")
            .header(header::COOKIE, &b.cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_checks_the_token_and_sets_a_strict_http_only_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let (st, _t) = state(&dir, "http://127.0.0.1:8080");
    let app_ = app(st);
    let app = &app_;
    let page = send(
        app,
        Request::get("/login?next=//evil.example/x")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("name=\"next\" value=\"/\""),
        "an off-site next is dropped"
    );
    let login_cookie = page.set_cookies()[0].split(';').next().unwrap().to_owned();
    let post = |pairs: Vec<(&'static str, String)>, cookie: Option<String>| {
        let app = app.clone();
        async move {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            let mut r = Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            if let Some(c) = cookie {
                r = r.header(header::COOKIE, c);
            }
            send(&app, r.body(Body::from(body)).unwrap()).await
        }
    };
    // Without the login form's token: refused before the admin token is even compared.
    let r = post(
        vec![("token", TOKEN.into()), ("csrf", "forged".into())],
        Some(login_cookie.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(vec![("token", TOKEN.into()), ("csrf", page.csrf())], None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A wrong token.
    let r = post(
        vec![("token", "not-the-token".into()), ("csrf", page.csrf())],
        Some(login_cookie.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("That is not the admin token."));
    assert!(
        !r.body.contains("not-the-token"),
        "the attempt is not echoed"
    );
    assert!(r.set_cookies().is_empty());
    // The right one.
    let r = post(
        vec![
            ("token", TOKEN.into()),
            ("csrf", page.csrf()),
            ("next", "/t/x".into()),
        ],
        Some(login_cookie),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/t/x");
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("payhook_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/")
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    assert!(!cookie.contains(TOKEN));

    // Behind HTTPS the cookie is Secure.
    let dir2 = tempfile::tempdir().unwrap();
    let (state2, _t2) = state(&dir2, "https://pay.example.com");
    let app2 = crate::http::app(state2);
    let page = send(&app2, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert!(page.set_cookies()[0].contains("; Secure"));
}

#[tokio::test]
async fn a_forged_cross_site_post_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _t) = state(&dir, "http://127.0.0.1:8080");
    let app = app(state);
    let b = Browser::login(&app).await;
    let tenant = b.new_tenant("Smile Dental").await;
    let disable = format!("/t/{tenant}/test/disable");
    let csrf = b.get("/").await.csrf();
    // The session cookie alone (what a cross-site form would carry, were SameSite ignored).
    let r = b.post(&disable, &[], &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("security token"), "{}", r.body);
    let r = b.post(&disable, &[("csrf", "0123")], &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The right token but another site's origin.
    let r = b
        .post(
            &disable,
            &[("csrf", &csrf)],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("another site"));
    let r = b
        .post(
            &disable,
            &[("csrf", &csrf)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = b.get(&format!("/t/{tenant}")).await;
    assert!(page.body.contains(">enabled<"), "nothing was disabled");
    for refused in [
        &[("origin", "null")][..],
        &[("sec-fetch-site", "same-site")][..],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://127.0.0.1:8080"),
        ][..],
    ] {
        let r = b.post(&disable, &[("csrf", &csrf)], refused).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{refused:?}");
    }
    // As a browser posts the page's form: Sec-Fetch-Site decides, whatever Origin says (a
    // no-referrer policy makes Chromium send `Origin: null` on same-origin posts).
    let r = b
        .post(
            &disable,
            &[("csrf", &csrf)],
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b
        .post(
            &format!("/t/{tenant}/test/enable"),
            &[("csrf", &csrf)],
            &[
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b
        .post(
            &disable,
            &[("csrf", &csrf)],
            &[("origin", "http://127.0.0.1:8080")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get(&format!("/t/{tenant}?done=disable")).await;
    assert!(page.body.contains(">disabled<"));
    assert!(page.body.contains("The connection is disabled"));
    // Another session's token is not this one's.
    let other = Browser::login(&app).await;
    let r = b
        .post(
            &format!("/t/{tenant}/test/enable"),
            &[("csrf", &other.get("/").await.csrf())],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn connecting_validates_like_the_api_and_never_renders_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _t) = state(&dir, "http://127.0.0.1:8080");
    let app = app(state);
    let b = Browser::login(&app).await;
    // A live key on a test connection: the API's own message, and nothing typed is lost but the
    // secrets (which are never sent back).
    let live = format!("sk_live_{SECRET_BODY}");
    let r = b
        .submit(
            "/",
            &[
                ("name", "Salon Nova"),
                ("mode", "test"),
                ("secret_key", &live),
                ("currency", "eur"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("live"), "{}", r.body);
    assert!(r.body.contains("value=\"Salon Nova\""));
    assert!(!r.body.contains(SECRET_BODY), "the secret is not echoed");
    let tenant = b.new_tenant("Smile Dental").await;
    for path in [
        "/".to_owned(),
        format!("/t/{tenant}"),
        format!("/t/{tenant}?done=connected"),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.body.contains(SECRET_BODY),
            "{path} renders the secret key"
        );
        assert!(
            !page.body.contains("DashboardSigningSecret0123456789"),
            "{path} renders the signing secret"
        );
        assert!(
            !page.body.contains("DashboardPublishable0123456789"),
            "{path} renders a whole key"
        );
    }
    let page = b.get(&format!("/t/{tenant}")).await;
    assert!(page.body.contains("sk_test_…6789"), "masked: {}", page.body);
    assert!(page.body.contains(&format!(
        "http://127.0.0.1:8080/webhooks/stripe/{tenant}/test"
    )));
    assert!(page.body.contains("data-copy=\"webhook-url-test\""));
    assert!(page.body.contains("payment_intent.succeeded"));
    let csp = page
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(page.headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
    // Rotating with a malformed key: the API's message, the old key kept.
    let r = b
        .submit(
            &format!("/t/{tenant}/test/rotate-key"),
            &[("secret_key", "pk_test_nope")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("sk_test_…6789"));
    // Rolling with a bad overlap.
    let r = b
        .submit(
            &format!("/t/{tenant}/test/roll-webhook-secret"),
            &[
                ("webhook_secret", "whsec_NewOne0123456789abcdef"),
                ("overlap_hours", "-1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("0 to 720"));
    let r = b
        .submit(
            &format!("/t/{tenant}/test/roll-webhook-secret"),
            &[
                ("webhook_secret", "whsec_NewOne0123456789abcdef"),
                ("overlap_hours", "2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/t/{tenant}")).await;
    assert!(page.body.contains("verifies until"));
    assert!(!page.body.contains("NewOne0123456789abcdef"));
}

#[tokio::test]
async fn values_from_stripe_and_records_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _t) = state(&dir, "http://127.0.0.1:8080");
    let app = app(state.clone());
    let b = Browser::login(&app).await;
    let tenant = b.new_tenant("<script>alert('tenant')</script>").await;
    let r = b
        .submit(
            &format!("/t/{tenant}/invoices"),
            &[
                ("amount", "20.00"),
                ("customer", "<script>alert('customer')</script>"),
                ("description", "<img src=x onerror=alert(1)>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // An event whose metadata carries a script, stored as a webhook would store it.
    let body = serde_json::json!({
        "id": "evt_1Escape", "object": "event", "type": "payment_intent.succeeded", "created": 1_700_000_000,
        "livemode": false, "api_version": "2026-10-28.endive",
        "data": {"object": {"id": "pi_1Escape", "object": "payment_intent", "amount": 2000, "amount_received": 2000,
            "currency": "eur", "status": "succeeded", "metadata": {"note": "</pre><script>alert('metadata')</script>"}}}
    })
    .to_string();
    let d = crate::inbox::NewDelivery {
        tenant_id: tenant.clone(),
        mode: crate::connection::Mode::Test,
        event_id: "evt_1Escape".into(),
        event_type: "payment_intent.succeeded".into(),
        livemode: false,
        created: 1_700_000_000,
        api_version: Some("2026-10-28.endive".into()),
        body,
    };
    state
        .db(move |c, _| Ok(crate::inbox::insert(c, &d)?))
        .await
        .unwrap();
    for path in [
        "/".to_owned(),
        format!("/t/{tenant}"),
        format!("/t/{tenant}/invoices"),
        format!("/t/{tenant}/events"),
        format!("/t/{tenant}/events/evt_1Escape"),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            !page.body.contains("<script>alert"),
            "{path} has a live script tag"
        );
        assert!(
            !page.body.contains("<img src=x"),
            "{path} has a live img tag"
        );
    }
    let page = b.get(&format!("/t/{tenant}/invoices")).await;
    assert!(
        page.body
            .contains("&lt;script&gt;alert('customer')&lt;/script&gt;"),
        "{}",
        page.body
    );
    let page = b.get(&format!("/t/{tenant}/events/evt_1Escape")).await;
    assert!(
        page.body
            .contains("&lt;/pre&gt;&lt;script&gt;alert('metadata')"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn reports_render_and_download_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _t) = state(&dir, "http://127.0.0.1:8080");
    let app = app(state.clone());
    let b = Browser::login(&app).await;
    let tenant = b.new_tenant("Fluxrate").await;
    for amount in ["20.00", "35.50"] {
        let r = b
            .submit(
                &format!("/t/{tenant}/invoices"),
                &[("amount", amount), ("customer", "ACME")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    // One payment settles nothing the dashboard knows of; one refund of it; both booked today.
    let now = crate::ids::now_secs();
    let t = tenant.clone();
    state
        .db(move |c, _| {
            c.execute(
                "INSERT INTO payments (tenant_id, id, currency, state, status, captured, refunded, created_at, updated_at) \
                 VALUES ($1, 'pi_1Orphan', 'eur', '{}', 'partially_refunded', 4200, 200, $2, $2)",
                &[t.as_str().into(), now.into()],
            )?;
            for (kind, amount, total) in [("payment", 4200, 4200), ("refund", 200, 200)] {
                c.execute(
                    "INSERT INTO ledger_entries (tenant_id, payment_id, kind, amount, currency, total, event_id, created_at) \
                     VALUES ($1, 'pi_1Orphan', $2, $3, 'eur', $4, 'evt_1', $5)",
                    &[t.as_str().into(), kind.into(), i64::from(amount).into(), i64::from(total).into(), now.into()],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let revenue = b.get(&format!("/t/{tenant}/reports")).await;
    assert_eq!(revenue.status, StatusCode::OK);
    assert!(
        revenue.body.contains("<svg class=\"chart\""),
        "{}",
        revenue.body
    );
    assert!(
        revenue.body.contains("42.00 EUR") && revenue.body.contains("40.00 EUR"),
        "{}",
        revenue.body
    );
    let r = b.get(&format!("/t/{tenant}/reports?days=0")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("from 1 to 366"));
    let r = b.get(&format!("/t/{tenant}/reports?end=2026-02-30")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("no such day"), "{}", r.body);
    let r = b
        .get(&format!("/t/{tenant}/reports?days=7&end=2020-01-01"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("No settled payments or refunds in these days.")
    );
    assert!(
        r.body.contains("revenue.csv?days=7&amp;end=2020-01-01"),
        "{}",
        r.body
    );

    let recon = b.get(&format!("/t/{tenant}/reports/reconciliation")).await;
    assert_eq!(recon.status, StatusCode::OK);
    assert!(
        recon.body.contains("Invoices without payment (2)"),
        "{}",
        recon.body
    );
    assert!(recon.body.contains("data-payment=\"pi_1Orphan\""));

    let csv = b
        .get(&format!("/t/{tenant}/reports/reconciliation.csv"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let disposition = csv
        .headers
        .get(header::CONTENT_DISPOSITION)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"{tenant}-reconciliation.csv\"")
    );
    assert!(
        csv.body.contains("pi_1Orphan") && csv.body.lines().count() >= 4,
        "{}",
        csv.body
    );
    let csv = b
        .get(&format!("/t/{tenant}/reports/revenue.csv?days=7"))
        .await;
    assert!(
        csv.body.contains("4200") && csv.body.contains("42.00"),
        "{}",
        csv.body
    );

    let payouts = b.get(&format!("/t/{tenant}/reports/payouts")).await;
    assert_eq!(payouts.status, StatusCode::OK);
    assert!(payouts.body.contains("No payouts imported yet."));
    let r = b
        .get(&format!("/t/{tenant}/reports/payouts?before=nonsense"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The other pages, with and without filters; a bad filter is a clear 400.
    for path in [
        "payments",
        "payments?status=refunded",
        "invoices",
        "invoices?status=open",
        "appointments",
        "subscriptions?status=past_due",
        "events?status=dead&type=payment_intent.succeeded",
    ] {
        let page = b.get(&format!("/t/{tenant}/{path}")).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    }
    let page = b
        .get(&format!("/t/{tenant}/payments?status=refunded"))
        .await;
    assert!(page.body.contains("data-payment=\"pi_1Orphan\""));
    let page = b.get(&format!("/t/{tenant}/payments?status=failed")).await;
    assert!(!page.body.contains("data-payment=\"pi_1Orphan\""));
    for (path, says) in [
        ("payments?status=bogus", "bogus"),
        ("events?status=bogus", "unknown status"),
        ("events?before=x", "page cursor"),
        ("invoices?before=x", ""),
    ] {
        let page = b.get(&format!("/t/{tenant}/{path}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(page.body.contains(says), "{path}: {}", page.body);
    }
    let page = b.get("/t/ten_0000000000000000/payments").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = b.get(&format!("/t/{tenant}/payments/pi_1Orphan")).await;
    assert!(
        page.body.contains("id=\"refund\""),
        "a refundable payment has the refund form"
    );
    // A refund the API refuses before calling Stripe: its message, on the payment's page.
    let r = b
        .submit(
            &format!("/t/{tenant}/payments/pi_1Orphan/refund"),
            &[("amount", "41.00")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("class=\"error\""), "{}", r.body);
    assert!(r.body.contains("id=\"refund\""), "the form is still there");
    let r = b
        .submit(
            &format!("/t/{tenant}/payments/pi_1Orphan/refund"),
            &[("amount", "5"), ("reason", "because")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("choose a reason"), "{}", r.body);
    assert!(
        page.body.contains("Up to 40.00 EUR can be refunded"),
        "what is left to refund: {}",
        page.body
    );
}
