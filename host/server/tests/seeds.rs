//! The five seed systems' flows, end to end, each a named test against a running server (HTTP
//! on loopback, the writer and processor threads, and the plugin worker as `payhook serve` runs
//! it), on SQLite and PostgreSQL. Payments go through localstripe where it can make them and
//! deliver their webhooks; events it cannot send (declines, expiries, disputes, refunds,
//! renewals) are the shared Stripe envelopes, signed with the tenant's secret.
//!
//! - KiviCare (clinic): a booking holds a slot, a payment confirms it, a decline cancels another
//!   and frees its slot, an expired checkout releases a third, whose late payment is flagged for
//!   a refund (no double booking), a refund marks the first refunded; the clinic is called back.
//! - Altegio (salon): a visit paid through Stripe, a late cancellation whose fee the salon's
//!   refund filter sets, a dispute that tells the owner, and the 0.50 minimum.
//! - Fluxrate (invoicing): an invoice e-mailed to the client, paid, its case updated by a
//!   callback, the administrator told, every webhook visible as processed.
//! - BiVelio (invoicing): an accounting record per payment and refund, and dunning e-mails when
//!   a subscription's renewal fails and when it is paid again.
//! - IXOPAY (reporting): a restricted key, transactional webhooks stored and applied, and the
//!   revenue report.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::sinks::{Mailbox, platform, smtp_sink, with_payment_links};
use common::*;
use payhook_server::ids::now_secs;
use payhook_server::inbox::WriterConfig;
use payhook_server::plugins::{self, Plugins};
use payhook_server::testing::LocalStripe;
use serde_json::{Value, json};

const CALLBACK_SECRET: &str = "whsec_c2VlZHMtY2FsbGJhY2stc2VjcmV0LTAxMjM0NTY3";

/// A running server with the named reference plugins enabled for one tenant, e-mail going to a
/// sink and callbacks to a platform on loopback.
struct Flow {
    s: TestServer,
    tenant: String,
    stop: Arc<AtomicBool>,
    worker: Option<std::thread::JoinHandle<()>>,
    mail: Mailbox,
    hooks: std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>,
    _dir: tempfile::TempDir,
}

impl Flow {
    async fn start(db: &TestDb, names: &[&str], stripe: Option<&LocalStripe>) -> Flow {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let wasm = match *name {
                "clinic" => payhook_plugins::built::CLINIC,
                "salon" => payhook_plugins::built::SALON,
                "invoicing" => payhook_plugins::built::INVOICING,
                other => panic!("no plugin {other}"),
            };
            std::fs::copy(wasm, dir.path().join(format!("{name}.wasm"))).unwrap();
            std::fs::write(
                dir.path().join(format!("{name}.json")),
                json!({"name": name, "version": "0.1.0"}).to_string(),
            )
            .unwrap();
        }
        let installed = Arc::new(Plugins::load_dir(dir.path()).unwrap());
        // The server's refund filter point runs the plugins' filters, as `payhook serve` does.
        // localstripe, with Prices and Payment Links answered in front of it.
        let base = match stripe {
            Some(ls) => with_payment_links(ls.base.clone()).await,
            None => "http://127.0.0.1:9".to_owned(),
        };
        let for_filters = installed.clone();
        let s = TestServer::start_with_filters(
            &db.location,
            WriterConfig::default(),
            &base,
            move |db| {
                Some(Arc::new(plugins::PluginFilters::new(
                    db.clone(),
                    for_filters,
                )))
            },
        )
        .await;
        let tenant = s.tenant();
        if let Some(ls) = stripe {
            let hook = format!("{}/webhooks/stripe/{tenant}/test", s.base);
            ls.send_webhooks_to(&s.client, &hook, WEBHOOK_SECRET).await;
        }
        let (port, mail) = smtp_sink().await;
        let (url, hooks) = platform(0).await;
        let sealer = payhook_server::seal::Sealer::new(&master_key());
        s.with_conn(|c| {
            for name in names {
                plugins::set_enabled(c, &tenant, name, true, None, now_secs()).unwrap();
            }
            plugins::set_endpoint(
                c,
                &sealer,
                &tenant,
                &url,
                &payhook_server::secret::Secret::new(CALLBACK_SECRET),
                now_secs(),
            )
            .unwrap();
        });
        let mailer = payhook_server::mail::Mailer::new(
            &format!("smtp://127.0.0.1:{port}"),
            "payhook <payhook@localhost>",
        )
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (db2, stop2) = (s.db.clone(), stop.clone());
        let worker = std::thread::spawn(move || {
            plugins::run_worker(
                db2,
                installed,
                sealer,
                Some(mailer),
                stop2,
                Duration::from_millis(20),
            )
        });
        Flow {
            s,
            tenant,
            stop,
            worker: Some(worker),
            mail,
            hooks,
            _dir: dir,
        }
    }

    /// Polls `check` until it gives a value (20 s at most).
    async fn until<T>(&self, what: &str, mut check: impl FnMut(&Flow) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The status `plugin` set on a record.
    fn status(&self, plugin: &str, id: &str) -> Option<String> {
        self.s.with_conn(|c| {
            plugins::statuses(c, &self.tenant)
                .unwrap()
                .into_iter()
                .find(|v| v["plugin"] == plugin && v["subject"]["id"] == id)
                .and_then(|v| v["status"].as_str().map(str::to_owned))
        })
    }

    async fn plugin_status(&self, plugin: &str, id: &str, want: &str) {
        self.until(&format!("{plugin} to set {id} {want}"), |f| {
            (f.status(plugin, id).as_deref() == Some(want)).then_some(())
        })
        .await;
    }

    /// The e-mails received for `to` (their data).
    fn mails_to(&self, to: &str) -> Vec<String> {
        self.mail
            .lock()
            .unwrap()
            .iter()
            .filter(|(rcpt, _)| rcpt.iter().any(|r| r == to))
            .map(|(_, data)| data.clone())
            .collect()
    }

    async fn mail_to(&self, to: &str, containing: &str) -> String {
        self.until(&format!("an e-mail to {to} saying {containing:?}"), |f| {
            f.mails_to(to).into_iter().find(|m| m.contains(containing))
        })
        .await
    }

    async fn callback(&self, containing: &str) -> Value {
        self.until(&format!("a callback with {containing}"), |f| {
            f.hooks
                .lock()
                .unwrap()
                .iter()
                .find(|(_, body)| body.contains(containing))
                .map(|(_, body)| serde_json::from_str(body).unwrap())
        })
        .await
    }

    async fn record(&self, kind: &str, metadata: Value, amount: &str) -> String {
        self.record_with(kind, metadata, amount, false).await
    }

    /// A record; an invoice with `payment_link` gets its link from the link worker's next round.
    async fn record_with(
        &self,
        kind: &str,
        metadata: Value,
        amount: &str,
        payment_link: bool,
    ) -> String {
        let (status, body) = self
            .s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{}/{kind}", self.tenant),
                Some(json!({"amount": amount, "currency": "eur", "metadata": metadata, "payment_link": payment_link})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn engine_status(&self, kind: &str, id: &str) -> String {
        let (_, r) = self
            .s
            .api(reqwest::Method::GET, &format!("/{kind}/{id}"), None)
            .await;
        r["status"].as_str().unwrap_or_default().to_owned()
    }

    async fn send(&self, body: &str) {
        assert_eq!(self.s.deliver(&self.tenant, body).await.0, 200);
        self.s.settle(&self.tenant).await;
    }

    /// Pays a record through localstripe (the server's own PaymentIntent endpoint, confirmed
    /// with the test card); its webhook does the rest.
    async fn pay_in_stripe(&self, kind: &str, id: &str) -> String {
        let (status, pi) = self
            .s
            .api(
                reqwest::Method::POST,
                &format!("/{kind}/{id}/payment-intents"),
                Some(json!({"payment_method": "pm_card_visa", "confirm": true})),
            )
            .await;
        assert_eq!(status, 200, "{pi}");
        pi["id"].as_str().unwrap().to_owned()
    }

    async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(w) = self.worker.take() {
            blocking(move || w.join().unwrap());
        }
        self.s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kivicare_clinic_bookings_are_confirmed_cancelled_released_and_never_double_booked() {
    let Some(ls) = LocalStripe::start() else {
        return;
    };
    for db in databases("seed_kivicare") {
        let f = Flow::start(&db, &["clinic"], Some(&ls)).await;
        let owner = "frontdesk@smile.example";
        let meta = |slot: &str| json!({"slot": slot, "owner_email": owner});
        // Booked and paid through Stripe: confirmed (engine and clinic), the clinic called back.
        let first = f.record("appointments", meta("mon-09:00"), "45.00").await;
        assert_eq!(f.engine_status("appointments", &first).await, "held");
        let pi = f.pay_in_stripe("appointments", &first).await;
        f.plugin_status("clinic", &first, "confirmed").await;
        assert_eq!(f.engine_status("appointments", &first).await, "confirmed");
        let cb = f.callback(&format!("\"appointment\":\"{first}\"")).await;
        assert_eq!(cb["event"], "appointment.confirmed", "{cb}");
        // A declined card: the appointment cancelled, its slot released.
        let second = f.record("appointments", meta("mon-10:00"), "45.00").await;
        f.send(&event(
            PI_FAILED,
            json!({"id": "pi_kivi_declined", "amount": 4500, "currency": "eur"}),
            json!({"appointment_id": second}),
        ))
        .await;
        f.plugin_status("clinic", &second, "cancelled").await;
        assert_eq!(f.engine_status("appointments", &second).await, "cancelled");
        // The checkout of a third expires: released. Its payment arrives afterwards: flagged
        // for a refund, the clinic told; nothing is booked twice.
        let third = f.record("appointments", meta("mon-11:00"), "45.00").await;
        f.send(&event(
            CHECKOUT_EXPIRED,
            json!({"amount_total": 4500, "currency": "eur"}),
            json!({"appointment_id": third}),
        ))
        .await;
        f.plugin_status("clinic", &third, "released").await;
        assert_eq!(f.engine_status("appointments", &third).await, "expired");
        f.send(&event(PI_SUCCEEDED, json!({"id": "pi_kivi_late", "amount": 4500, "amount_received": 4500, "currency": "eur"}), json!({"appointment_id": third}))).await;
        f.plugin_status("clinic", &third, "needs_refund").await;
        assert_eq!(
            f.engine_status("appointments", &third).await,
            "paid_after_release"
        );
        let mail = f.mail_to(owner, &third).await;
        assert!(mail.to_lowercase().contains("released"), "{mail}");
        // The first is refunded in full.
        f.send(&event(CHARGE_REFUNDED, json!({"payment_intent": pi, "amount": 4500, "amount_captured": 4500, "amount_refunded": 4500, "currency": "eur"}), json!({"appointment_id": first}))).await;
        f.plugin_status("clinic", &first, "refunded").await;
        assert_eq!(f.engine_status("appointments", &first).await, "refunded");
        f.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altegio_salon_visit_is_paid_a_late_cancellation_keeps_the_fee_and_a_dispute_tells_the_owner()
 {
    let Some(ls) = LocalStripe::start() else {
        return;
    };
    for db in databases("seed_altegio") {
        let f = Flow::start(&db, &["salon"], Some(&ls)).await;
        let owner = "owner@salon-nova.example";
        f.s.with_conn(|c| {
            plugins::kv_set(c, &f.tenant, "salon", "late_fee_percent", "20").unwrap();
            plugins::kv_set(c, &f.tenant, "salon", "owner_email", owner).unwrap();
        });
        // The 0.50 minimum: a 0.49 visit cannot be charged.
        let (status, body) =
            f.s.api(
                reqwest::Method::POST,
                &format!("/tenants/{}/appointments", f.tenant),
                Some(json!({"amount": "0.49", "currency": "eur"})),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("0.50"),
            "{body}"
        );
        // A visit paid through Stripe.
        let visit = f
            .record(
                "appointments",
                json!({"service": "Haircut", "owner_email": owner}),
                "45.00",
            )
            .await;
        let pi = f.pay_in_stripe("appointments", &visit).await;
        f.plugin_status("salon", &visit, "paid").await;
        // Cancelled late: the salon's refund filter keeps 20 % (9.00 of 45.00); 36.00 goes back.
        let (status, refund) =
            f.s.api(
                reqwest::Method::POST,
                &format!("/tenants/{}/payments/{pi}/refunds", f.tenant),
                Some(json!({"cancellation_fee": {"percent": "0"}})),
            )
            .await;
        assert_eq!(status, 200, "{refund}");
        let refunds = ls
            .get(&f.s.client, &format!("/v1/refunds?payment_intent={pi}"))
            .await;
        let amounts: Vec<i64> = refunds["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["amount"].as_i64().unwrap())
            .collect();
        assert_eq!(amounts, [3600], "{refunds}");
        // A dispute on another visit's payment: the owner is told.
        let disputed = f
            .record("appointments", json!({"service": "Colour"}), "80.00")
            .await;
        let pi2 = f.pay_in_stripe("appointments", &disputed).await;
        f.plugin_status("salon", &disputed, "paid").await;
        f.send(&event(
            DISPUTE_CREATED,
            json!({"payment_intent": pi2, "amount": 8000, "currency": "eur", "reason": "fraudulent", "status": "needs_response"}),
            json!({}),
        ))
        .await;
        let mail = f.mail_to(owner, "ispute").await;
        assert!(mail.contains("80.00") || mail.contains("8000"), "{mail}");
        f.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fluxrate_invoice_is_sent_paid_its_case_updated_and_every_webhook_visible() {
    let Some(ls) = LocalStripe::start() else {
        return;
    };
    for db in databases("seed_fluxrate") {
        let f = Flow::start(&db, &["invoicing"], Some(&ls)).await;
        let (client, admin) = ("client@acme.example", "billing@fluxrate.example");
        // The invoicing plugin's notification filter signs every e-mail.
        f.s.with_conn(|c| {
            plugins::kv_set(
                c,
                &f.tenant,
                "invoicing",
                "signature",
                "Fluxrate Billing Team",
            )
            .unwrap()
        });
        let invoice = f
            .record_with(
                "invoices",
                json!({"customer_email": client, "admin_email": admin, "case_id": "CASE-42"}),
                "120.00",
                true,
            )
            .await;
        // Finalized with a Payment Link: the action waits for the link, then the client gets
        // an e-mail with the amount and the link to pay on.
        assert_eq!(
            payhook_server::http::link_round(&f.s.state).await.unwrap(),
            1
        );
        let (_, made) =
            f.s.api(reqwest::Method::GET, &format!("/invoices/{invoice}"), None)
                .await;
        let link = made["payment_link"]["url"].as_str().unwrap().to_owned();
        assert!(link.starts_with("https://buy.stripe.com/test_"), "{made}");
        f.plugin_status("invoicing", &invoice, "sent").await;
        let sent = f.mail_to(client, "120.00").await;
        assert!(sent.contains(&invoice), "{sent}");
        assert!(sent.contains(&link), "the e-mail carries the link: {sent}");
        assert!(
            sent.contains("Fluxrate Billing Team"),
            "the notification filter ran: {sent}"
        );
        // Paid through Stripe: PAID, the case updated by a signed callback, the admin told.
        f.pay_in_stripe("invoices", &invoice).await;
        f.plugin_status("invoicing", &invoice, "PAID").await;
        assert_eq!(f.engine_status("invoices", &invoice).await, "paid");
        let cb = f.callback("invoice.paid").await;
        assert_eq!(
            (cb["invoice"].as_str(), cb["case_id"].as_str()),
            (Some(invoice.as_str()), Some("CASE-42")),
            "{cb}"
        );
        f.mail_to(admin, &invoice).await;
        // Fluxrate's "Webhook Events": every delivery stored with its status.
        let (_, events) =
            f.s.api(
                reqwest::Method::GET,
                &format!("/tenants/{}/events", f.tenant),
                None,
            )
            .await;
        let events = events.as_array().unwrap();
        assert!(
            events
                .iter()
                .any(|e| e["type"] == "payment_intent.succeeded" && e["status"] == "processed"),
            "{events:?}"
        );
        assert!(
            events
                .iter()
                .all(|e| ["processed", "ignored"].contains(&e["status"].as_str().unwrap())),
            "{events:?}"
        );
        f.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bivelio_books_an_accounting_record_per_payment_and_refund_and_dunning_tells_the_customer()
{
    for db in databases("seed_bivelio") {
        let f = Flow::start(&db, &["invoicing"], None).await;
        let (client, admin) = ("accounts@client.example", "admin@bivelio.example");
        let invoice = f.record("invoices", json!({"customer_email": client, "admin_email": admin, "subscription_id": "sub_bivelio1"}), "50.00").await;
        f.plugin_status("invoicing", &invoice, "sent").await;
        // Paid by Checkout: PAID and an accounting record.
        f.send(&event(CHECKOUT_COMPLETED, json!({"payment_intent": "pi_bivelio1", "amount_total": 5000, "currency": "eur", "payment_status": "paid"}), json!({"invoice_id": invoice}))).await;
        f.plugin_status("invoicing", &invoice, "PAID").await;
        assert_eq!(f.engine_status("invoices", &invoice).await, "paid");
        // Refunded in part: a second record, on the refunds account.
        f.send(&event(CHARGE_REFUNDED_PARTIAL, json!({"payment_intent": "pi_bivelio1", "amount": 5000, "amount_captured": 5000, "amount_refunded": 1500, "currency": "eur"}), json!({"invoice_id": invoice}))).await;
        f.plugin_status("invoicing", &invoice, "partially_refunded")
            .await;
        let ledger = f
            .until("two accounting records", |f| {
                let l = f.s.with_conn(|c| plugins::ledger(c, &f.tenant).unwrap());
                (l.len() == 2).then_some(l)
            })
            .await;
        assert_eq!(
            (ledger[0]["account"].as_str(), ledger[0]["amount"].as_i64()),
            (Some("revenue"), Some(5000)),
            "{ledger:?}"
        );
        assert_eq!(
            (ledger[1]["account"].as_str(), ledger[1]["amount"].as_i64()),
            (Some("refunds"), Some(1500)),
            "{ledger:?}"
        );
        // The subscription's renewal fails, then is paid: the customer is told both times.
        // (Stripe's events in the order it made them: each a minute after the last.)
        let at = |body: String, minutes: i64| {
            let mut e: Value = serde_json::from_str(&body).unwrap();
            e["created"] = json!(now_secs() + minutes * 60);
            e.to_string()
        };
        f.send(&at(
            event(
                SUBSCRIPTION_CREATED,
                json!({"id": "sub_bivelio1", "status": "active"}),
                json!({}),
            ),
            1,
        ))
        .await;
        f.send(&at(
            event(
                INVOICE_PAYMENT_FAILED,
                json!({"subscription": "sub_bivelio1", "amount_due": 5000, "currency": "eur"}),
                json!({}),
            ),
            2,
        ))
        .await;
        f.plugin_status("invoicing", "sub_bivelio1", "past_due")
            .await;
        f.mail_to(client, "failed").await;
        f.send(&at(
            event(
                INVOICE_PAID,
                json!({"subscription": "sub_bivelio1", "amount_paid": 5000, "currency": "eur"}),
                json!({}),
            ),
            3,
        ))
        .await;
        f.plugin_status("invoicing", "sub_bivelio1", "PAID").await;
        f.mail_to(client, "recovered").await;
        // The money reaches the bank: a third record, on the bank account. A payout that
        // fails: the administrator (the store's address; a payout names no invoice) is told.
        f.s.with_conn(|c| {
            plugins::kv_set(c, &f.tenant, "invoicing", "admin_email", admin).unwrap()
        });
        f.send(&event(
            PAYOUT_PAID,
            json!({"id": "po_bivelio1", "amount": 3500, "currency": "eur", "arrival_date": 1_767_225_600}),
            json!({}),
        ))
        .await;
        let ledger = f
            .until("a third accounting record", |f| {
                let l = f.s.with_conn(|c| plugins::ledger(c, &f.tenant).unwrap());
                (l.len() == 3).then_some(l)
            })
            .await;
        assert_eq!(
            (
                ledger[2]["account"].as_str(),
                ledger[2]["amount"].as_i64(),
                ledger[2]["memo"].as_str()
            ),
            (
                Some("bank"),
                Some(3500),
                Some("Payout po_bivelio1 to the bank, arrived 2026-01-01")
            ),
            "{ledger:?}"
        );
        f.send(&event(
            PAYOUT_FAILED,
            json!({"id": "po_bivelio2"}),
            json!({}),
        ))
        .await;
        let told = f.mail_to(admin, "po_bivelio2").await;
        // The text as the administrator reads it (quoted-printable soft line breaks joined).
        let read = told.replace("=\r\n", "").replace("=\n", "");
        assert!(
            read.contains("to the bank failed: The bank account has been closed."),
            "{told}"
        );
        f.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ixopay_takes_a_restricted_key_and_its_transactional_webhooks_feed_the_reports() {
    for db in databases("seed_ixopay") {
        let s = TestServer::start(&db.location).await;
        // A restricted key, as IXOPAY asks for, on a test connection.
        let (status, t) = s
            .api(
                reqwest::Method::POST,
                "/tenants",
                Some(json!({"name": "IXOPAY merchant", "mode": "test", "secret_key": "rk_test_51IxopayRestricted0123456789",
                    "webhook_secret": WEBHOOK_SECRET, "currency": "eur"})),
            )
            .await;
        assert_eq!(status, 201, "{t}");
        let tenant = t["id"].as_str().unwrap().to_owned();
        assert_eq!(t["connections"][0]["secret_key"], "rk_test_…6789", "{t}");
        // The transactional events (charges, refunds, payouts) are stored and applied.
        for body in [
            event(
                PI_SUCCEEDED,
                json!({"id": "pi_ixo1", "amount": 3000, "amount_received": 3000, "currency": "eur"}),
                json!({}),
            ),
            event(
                CHARGE_REFUNDED_PARTIAL,
                json!({"payment_intent": "pi_ixo1", "amount": 3000, "amount_captured": 3000, "amount_refunded": 1000, "currency": "eur"}),
                json!({}),
            ),
            event(PAYOUT_PAID, json!({}), json!({})),
        ] {
            assert_eq!(s.deliver(&tenant, &body).await.0, 200);
        }
        s.settle(&tenant).await;
        let (_, payments) = s
            .api(
                reqwest::Method::GET,
                &format!("/tenants/{tenant}/payments"),
                None,
            )
            .await;
        assert_eq!(
            (
                payments[0]["captured"].as_i64(),
                payments[0]["refunded"].as_i64()
            ),
            (Some(3000), Some(1000)),
            "{payments}"
        );
        let today = now_secs() / 86_400 * 86_400;
        let revenue = s.with_conn(|c| {
            payhook_server::reports::revenue_per_day(c, &tenant, today, today + 86_400).unwrap()
        });
        assert_eq!(
            (revenue[0].gross, revenue[0].refunded, revenue[0].net),
            (3000, 1000, 2000),
            "{revenue:?}"
        );
        s.stop().await;
    }
}
