//! Plugins in the server, on SQLite and PostgreSQL: an event's state change is committed first
//! and its action waits for the tenant's plugins; each plugin call is carried out once, or
//! retried on its own; a hostile plugin is stopped, disabled for its tenant with the reason,
//! and changes nothing — other plugins, other tenants and the payments are untouched.

mod common;

use common::sinks::{platform, smtp_sink};

use std::path::Path;

use common::*;
use payhook_server::db::Conn;
use payhook_server::ids::now_secs;
use payhook_server::plugins::{self, Plugins};
use serde_json::{Value, json};

fn install(dir: &Path, name: &str, wasm: &str) {
    std::fs::copy(wasm, dir.join(format!("{name}.wasm"))).unwrap();
    std::fs::write(
        dir.join(format!("{name}.json")),
        json!({"name": name, "version": "0.1.0", "description": "test"}).to_string(),
    )
    .unwrap();
}

fn plugins_dir() -> (tempfile::TempDir, Plugins) {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "template", payhook_plugins::built::TEMPLATE);
    install(dir.path(), "hostile", payhook_plugins::built::HOSTILE);
    let p = Plugins::load_dir(dir.path()).unwrap();
    (dir, p)
}

/// Runs plugin rounds at `now` until none runs a call.
fn rounds(s: &TestServer, p: &Plugins, now: i64) -> usize {
    s.with_conn(|c| {
        let mut ran = 0;
        loop {
            let n = plugins::round(c, p, now).unwrap();
            if n == 0 {
                return ran;
            }
            ran += n;
        }
    })
}

fn calls(s: &TestServer, tenant: &str) -> Vec<Value> {
    s.with_conn(|c| {
        plugins::calls(c, tenant, 500)
            .unwrap()
            .into_iter()
            .map(|v| serde_json::to_value(v).unwrap())
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_hears_of_a_committed_payment_and_sets_its_status_once() {
    let (_dir, p) = plugins_dir();
    for db in databases("plugins_status") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let other = s.tenant();
        s.with_conn(|c| {
            plugins::set_enabled(c, &tenant, "template", true, None, now_secs()).unwrap()
        });
        let appointment = s.appointment(&tenant, "45.00").await;
        let quiet = s.appointment(&other, "45.00").await;
        for (t, a) in [(&tenant, &appointment), (&other, &quiet)] {
            let paid = event(
                PI_SUCCEEDED,
                json!({"amount": 4500, "amount_received": 4500, "currency": "eur"}),
                json!({"appointment_id": a}),
            );
            assert_eq!(s.deliver(t, &paid).await.0, 200);
            s.settle(t).await;
        }
        // The engine's change is committed before any plugin runs.
        let (_, apt) = s
            .api(
                reqwest::Method::GET,
                &format!("/appointments/{appointment}"),
                None,
            )
            .await;
        assert_eq!(apt["status"], "confirmed", "{apt}");
        assert_eq!(s.count("SELECT COUNT(*) FROM plugin_calls", &[]), 0);

        assert_eq!(
            rounds(&s, &p, now_secs()),
            1,
            "one call: the enabled plugin, its tenant"
        );
        let c = calls(&s, &tenant);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(
            (
                c[0]["plugin"].as_str(),
                c[0]["status"].as_str(),
                c[0]["hook"].as_str()
            ),
            (Some("template"), Some("done"), Some("payment-settled"))
        );
        let statuses = s.with_conn(|c| plugins::statuses(c, &tenant).unwrap());
        assert_eq!(statuses.len(), 1, "{statuses:?}");
        assert_eq!(statuses[0]["status"], "Confirmed");
        assert_eq!(statuses[0]["subject"]["id"], appointment.as_str());
        assert!(
            calls(&s, &other).is_empty(),
            "a tenant without the plugin has no calls"
        );
        // Nothing runs twice.
        assert_eq!(rounds(&s, &p, now_secs() + 3600), 0);
        // A new invoice is an action too (invoice-finalized), which the template does not ask
        // for: dispatched, no call.
        let invoice = s.invoice(&tenant, "20.00").await;
        assert_eq!(
            s.count(
                "SELECT COUNT(*) FROM plugin_actions WHERE hook = 'invoice-finalized' AND subject_id = $1",
                &[invoice.as_str().into()]
            ),
            1
        );
        assert_eq!(rounds(&s, &p, now_secs() + 3600), 0);
        assert_eq!(
            s.count(
                "SELECT COUNT(*) FROM plugin_actions WHERE dispatched = 0",
                &[]
            ),
            0
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_plugin_is_stopped_disabled_and_changes_nothing() {
    let (_dir, p) = plugins_dir();
    for db in databases("plugins_hostile") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let other = s.tenant();
        s.with_conn(|c| {
            for name in ["template", "hostile"] {
                plugins::set_enabled(c, &tenant, name, true, None, now_secs()).unwrap();
            }
            plugins::set_enabled(c, &other, "hostile", true, None, now_secs()).unwrap();
        });
        // Payments with no record: the plugins hear of the payment itself, and the hostile one
        // misbehaves by its id.
        for id in ["loop", "alloc", "trap", "foreign", "negative"] {
            let paid = event(
                PI_SUCCEEDED,
                json!({"id": id, "amount": 2000, "amount_received": 2000, "currency": "eur"}),
                json!({}),
            );
            assert_eq!(s.deliver(&tenant, &paid).await.0, 200);
        }
        let fine = event(
            PI_SUCCEEDED,
            json!({"id": "pi_fine", "amount": 2000, "amount_received": 2000, "currency": "eur"}),
            json!({}),
        );
        assert_eq!(s.deliver(&other, &fine).await.0, 200);
        s.settle(&tenant).await;
        s.settle(&other).await;
        let now = now_secs();
        rounds(&s, &p, now);
        let c = calls(&s, &tenant);
        let hostile: Vec<&Value> = c.iter().filter(|c| c["plugin"] == "hostile").collect();
        assert_eq!(hostile.len(), 5, "{c:?}");
        let error = |subject: &str| {
            hostile
                .iter()
                .find(|c| c["subject"] == format!("payment {subject}"))
                .unwrap()["last_error"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        for h in &hostile {
            assert_eq!(h["status"], "failed", "{h}");
        }
        for (subject, says) in [
            ("loop", "ran longer than"),
            ("alloc", "memory"),
            ("trap", "trap"),
            ("foreign", "not of the action's record"),
            ("negative", "negative"),
        ] {
            let e = error(subject);
            assert!(e.to_lowercase().contains(says), "{subject}: {e}");
        }
        // Five failures in a row: disabled for this tenant, with the reason; still enabled for
        // the other tenant, whose call went through.
        let state = s.with_conn(|c| plugins::tenant_plugins(c, &tenant).unwrap());
        let h = state.iter().find(|t| t.plugin == "hostile").unwrap();
        assert!(!h.enabled, "{h:?}");
        assert!(
            h.disabled_reason
                .as_deref()
                .unwrap_or("")
                .contains("5 failed calls in a row"),
            "{h:?}"
        );
        let t = state.iter().find(|t| t.plugin == "template").unwrap();
        assert!(t.enabled && t.failures == 0, "{t:?}");
        let o = s.with_conn(|c| plugins::tenant_plugins(c, &other).unwrap());
        assert!(o[0].enabled, "{o:?}");
        assert_eq!(calls(&s, &other)[0]["status"], "done");
        // The template's calls for the same actions went through.
        assert!(
            c.iter()
                .filter(|c| c["plugin"] == "template")
                .all(|c| c["status"] == "done"),
            "{c:?}"
        );
        // Nothing the hostile plugin asked for was kept; the payments are as the engine left them.
        assert_eq!(s.count("SELECT COUNT(*) FROM plugin_statuses", &[]), 0);
        assert_eq!(s.count("SELECT COUNT(*) FROM plugin_ledger", &[]), 0);
        for id in ["loop", "alloc", "trap", "foreign", "negative"] {
            let status = s.with_conn(|c| {
                payhook_server::records::get_payment(c, &tenant, id)
                    .unwrap()
                    .unwrap()
                    .status
            });
            assert_eq!(status, "succeeded", "{id}");
        }
        // Disabled, its calls wait (even when due); the server still answers.
        assert_eq!(rounds(&s, &p, now + 3600), 0);
        // A payment while it is disabled after failures is kept for it, not lost: its call
        // waits with the others (the template's runs at once).
        let meanwhile = event(
            PI_SUCCEEDED,
            json!({"id": "pi_meanwhile", "amount": 2000, "amount_received": 2000, "currency": "eur"}),
            json!({}),
        );
        assert_eq!(s.deliver(&tenant, &meanwhile).await.0, 200);
        s.settle(&tenant).await;
        assert_eq!(rounds(&s, &p, now + 3600), 1);
        let waiting = calls(&s, &tenant);
        let kept = |plugin: &str| {
            waiting
                .iter()
                .find(|c| c["plugin"] == plugin && c["subject"] == "payment pi_meanwhile")
                .map(|c| c["status"].clone())
        };
        assert_eq!(kept("hostile"), Some(json!("pending")), "{waiting:?}");
        assert_eq!(kept("template"), Some(json!("done")), "{waiting:?}");
        let health = s
            .client
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        // Enabled again by the operator: the calls are retried (and fail again, visibly), and
        // the one kept meanwhile runs.
        s.with_conn(|c| plugins::set_enabled(c, &tenant, "hostile", true, None, now).unwrap());
        assert_eq!(rounds(&s, &p, now + 3600), 6);
        let again = calls(&s, &tenant);
        assert!(
            again
                .iter()
                .filter(|c| c["plugin"] == "hostile" && c["subject"] != "payment pi_meanwhile")
                .all(|c| c["attempts"] == 2),
            "{again:?}"
        );
        assert!(
            again.iter().any(|c| c["plugin"] == "hostile"
                && c["subject"] == "payment pi_meanwhile"
                && c["status"] == "done"),
            "{again:?}"
        );
        // Disabled by the operator: new actions are not queued for it.
        s.with_conn(|c| plugins::set_enabled(c, &tenant, "hostile", false, None, now).unwrap());
        let later = event(
            PI_SUCCEEDED,
            json!({"id": "pi_later", "amount": 2000, "amount_received": 2000, "currency": "eur"}),
            json!({}),
        );
        assert_eq!(s.deliver(&tenant, &later).await.0, 200);
        s.settle(&tenant).await;
        rounds(&s, &p, now + 3600);
        assert!(
            !calls(&s, &tenant)
                .iter()
                .any(|c| c["plugin"] == "hostile" && c["subject"] == "payment pi_later"),
            "an operator's disable stops new calls"
        );
        s.stop().await;
    }
}

#[test]
fn a_plugins_directory_is_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    // A component without its manifest.
    std::fs::copy(
        payhook_plugins::built::TEMPLATE,
        dir.path().join("template.wasm"),
    )
    .unwrap();
    let e = Plugins::load_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("template.json") && e.contains("manifest"), "{e}");
    // A manifest that names another plugin.
    std::fs::write(
        dir.path().join("template.json"),
        r#"{"name": "clinic", "version": "0.1.0"}"#,
    )
    .unwrap();
    let e = Plugins::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("says clinic 0.1.0 but the component is template 0.1.0"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("template.json"),
        r#"{"name": "template", "version": "0.1.0", "extra": 1}"#,
    )
    .unwrap();
    let e = Plugins::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("not a plugin manifest") && e.contains("extra"),
        "{e}"
    );
    // Not a component at all.
    std::fs::write(
        dir.path().join("template.json"),
        r#"{"name": "template", "version": "0.1.0"}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.wasm"), b"not wasm").unwrap();
    std::fs::write(
        dir.path().join("broken.json"),
        r#"{"name": "broken", "version": "0.1.0"}"#,
    )
    .unwrap();
    let e = Plugins::load_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("broken.wasm"), "{e}");
    std::fs::remove_file(dir.path().join("broken.wasm")).unwrap();
    let p = Plugins::load_dir(dir.path()).unwrap();
    assert_eq!(p.list.len(), 1);
    assert!(Plugins::load_dir(&dir.path().join("missing")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_signed_retried_and_logged() {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let secret_bytes = [7u8; 32];
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(secret_bytes)
    );
    for db in databases("plugins_callbacks") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        let sealer = payhook_server::seal::Sealer::new(&master_key());
        // Bad endpoints are refused with what to do.
        for (url, bad, says) in [
            ("ftp://platform.example/x", secret.as_str(), "http"),
            ("http://127.0.0.1:1/hooks", "whsec_short", "whsec_"),
            ("http://127.0.0.1:1/hooks", "sk_test_123", "whsec_"),
        ] {
            let e = s.with_conn(|c| {
                plugins::set_endpoint(
                    c,
                    &sealer,
                    &tenant,
                    url,
                    &payhook_server::secret::Secret::new(bad),
                    now_secs(),
                )
                .unwrap_err()
                .to_string()
            });
            assert!(e.contains(says), "{url} {bad}: {e}");
            assert!(
                !e.contains("short") || !e.contains("whsec_short"),
                "the secret is not echoed: {e}"
            );
        }
        // A callback a plugin asked for (as a finished call writes it).
        let body = r#"{"event":"appointment.confirmed","appointment":"apt_1"}"#;
        s.with_conn(|c| {
            c.execute(
                "INSERT INTO plugin_callbacks (action_seq, plugin, idx, tenant_id, body, status, attempts, next_attempt_at, created_at) \
                 VALUES (1, 'clinic', 0, $1, $2, 'pending', 0, 0, 0)",
                &[tenant.as_str().into(), body.into()],
            )
            .unwrap()
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = reqwest::Client::new();
        let deliver = |now: i64| {
            s.with_conn(|c| plugins::deliver_callbacks(c, &sealer, &client, &rt, now).unwrap())
        };
        // No endpoint yet: it waits, saying why.
        let now = now_secs();
        assert_eq!(deliver(now), 1);
        let cb = s.with_conn(|c| plugins::callbacks(c, &tenant, 10).unwrap());
        assert_eq!((cb[0].status.as_str(), cb[0].attempts), ("pending", 0));
        assert!(
            cb[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("no callback URL"),
            "{cb:?}"
        );

        let (url, got) = platform(1).await;
        let view = s.with_conn(|c| {
            plugins::set_endpoint(
                c,
                &sealer,
                &tenant,
                &url,
                &payhook_server::secret::Secret::new(&secret),
                now,
            )
            .unwrap()
        });
        assert!(
            view.secret.starts_with("whsec_…") && !view.secret.contains(&secret[6..]),
            "{view:?}"
        );
        // First attempt: the platform answers 500; retried later, not sooner.
        assert_eq!(deliver(now + 60), 1);
        let cb = s.with_conn(|c| plugins::callbacks(c, &tenant, 10).unwrap());
        assert_eq!(
            (cb[0].status.as_str(), cb[0].attempts),
            ("failed", 1),
            "{cb:?}"
        );
        assert!(
            cb[0].last_error.as_deref().unwrap().contains("500"),
            "{cb:?}"
        );
        assert_eq!(deliver(now + 60), 0, "not due yet");
        assert_eq!(deliver(now + 60 + 3), 1);
        let cb = s.with_conn(|c| plugins::callbacks(c, &tenant, 10).unwrap());
        assert_eq!(
            (cb[0].status.as_str(), cb[0].attempts),
            ("delivered", 2),
            "{cb:?}"
        );
        assert_eq!(deliver(now + 3600), 0, "delivered once");
        // What the platform received verifies as Standard Webhooks says, with its own copy of
        // the secret; both attempts carry the same id.
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 2);
        for (headers, received) in &got {
            assert_eq!(received, body);
            let id = headers["webhook-id"].to_str().unwrap();
            assert_eq!(id, cb[0].id);
            let ts = headers["webhook-timestamp"].to_str().unwrap();
            let mut mac =
                <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&secret_bytes).unwrap();
            mac.update(format!("{id}.{ts}.{received}").as_bytes());
            let expected = format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            );
            assert_eq!(headers["webhook-signature"].to_str().unwrap(), expected);
        }
        // The sealed secret is not in the database in the clear.
        let stored: String = s.with_conn(|c| {
            c.query_opt(
                "SELECT secret FROM callback_endpoints WHERE tenant_id = $1",
                &[tenant.as_str().into()],
            )
            .unwrap()
            .unwrap()
            .text(0)
        });
        assert!(
            !stored.contains(&secret[6..]) && stored.starts_with("v1."),
            "{stored}"
        );
        blocking(move || drop(rt));
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_e_mails_go_through_the_smtp_relay_and_bad_ones_are_kept_visible() {
    use payhook_server::mail::{self, Mailer};
    for (url, says) in [
        ("http://127.0.0.1:25", "only smtp:// and smtps://"),
        ("smtp://", "smtp://[USER:PASSWORD@]HOST"),
        ("not a url", "smtp://[USER:PASSWORD@]HOST"),
        // A password never travels in plain text beyond this machine.
        (
            "smtp://user:hunter2@mail.example.com",
            "the password would go to mail.example.com unencrypted: use smtps://mail.example.com",
        ),
        (
            "smtp://mail.example.com?tls=yes",
            "tls=\"yes\" is not known",
        ),
        (
            "smtps://mail.example.com?tls=starttls",
            "smtps:// is TLS from the start",
        ),
        (
            "smtp://mail.example.com?ssl=1",
            "the parameter \"ssl\" is not known",
        ),
    ] {
        let e = Mailer::new(url, "payhook@localhost")
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{url}: {e}");
    }
    let e = Mailer::new("smtp://127.0.0.1:25", "not an address")
        .unwrap_err()
        .to_string();
    assert!(e.contains("--smtp-from"), "{e}");
    let secret_url = "smtp://user:hunter2secret@127.0.0.1:25";
    assert!(!format!("{:?}", Mailer::new(secret_url, "a@b.example").unwrap()).contains("hunter2"));
    // TLS from the start, or STARTTLS required: accepted with a password, on their usual ports.
    for (url, relay) in [
        ("smtps://user:pw@mail.example.com", "mail.example.com:465"),
        (
            "smtp://user:pw@mail.example.com?tls=starttls",
            "mail.example.com:587",
        ),
        ("smtps://mail.example.com:2465", "mail.example.com:2465"),
    ] {
        let m = Mailer::new(url, "a@b.example").unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(format!("{m:?}").contains(relay), "{url}: {m:?}");
    }

    let (port, got) = smtp_sink().await;
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Smile Dental <clinic@smile.example>",
    )
    .unwrap();
    let dbs = databases("plugins_mail");
    for db in &dbs {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        s.with_conn(|c| {
            for (n, to) in [(0, "patient@example.com"), (1, "not an address")] {
                let body = json!({"to": to, "title": "Your appointment is confirmed", "text": "See you on Monday.", "plugin": "clinic"});
                c.execute(
                    "INSERT INTO notifications (tenant_id, event_id, kind, subject, status, body, created_at) VALUES ($1, 'evt_1', 'plugin:clinic', $2, 'pending', $3, 0)",
                    &[tenant.as_str().into(), format!("appointment apt_1 #{n}").into(), body.to_string().into()],
                )
                .unwrap();
            }
            // The engine's own notices name no recipient: not e-mail.
            c.execute(
                "INSERT INTO notifications (tenant_id, event_id, kind, subject, status, body, created_at) VALUES ($1, 'evt_2', 'payment_failed', 'subscription sub_1', 'pending', '{}', 0)",
                &[tenant.as_str().into()],
            )
            .unwrap();
        });
        let now = now_secs();
        assert_eq!(
            s.with_conn(|c| mail::deliver(c, &mailer, None, now).unwrap()),
            2
        );
        let rows: Vec<(String, String, i64, Option<String>)> = s.with_conn(|c| {
            c.query("SELECT subject, status, attempts, last_error FROM notifications WHERE tenant_id = $1 ORDER BY seq", &[tenant.as_str().into()])
                .unwrap()
                .iter()
                .map(|r| (r.text(0), r.text(1), r.int(2), r.opt_text(3)))
                .collect()
        });
        assert_eq!((rows[0].1.as_str(), rows[0].2), ("sent", 1), "{rows:?}");
        assert_eq!((rows[1].1.as_str(), rows[1].2), ("failed", 1), "{rows:?}");
        assert!(
            rows[1]
                .3
                .as_deref()
                .unwrap()
                .contains("not an e-mail address"),
            "{rows:?}"
        );
        assert_eq!(
            rows[2].1, "pending",
            "the dunning notice stays for the platform"
        );
        assert_eq!(
            s.with_conn(|c| mail::deliver(c, &mailer, None, now).unwrap()),
            0,
            "sent once; the failed one waits"
        );
        s.stop().await;
    }
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), dbs.len(), "one per database");
    for (to, data) in &got {
        assert_eq!(to, &["patient@example.com".to_owned()]);
        assert!(
            data.contains("Subject: Your appointment is confirmed"),
            "{data}"
        );
        assert!(data.contains("See you on Monday."), "{data}");
        assert!(data.contains("clinic@smile.example"), "{data}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_filters_of_the_tenants_plugins_shape_the_split_and_a_bad_one_is_skipped() {
    use payhook_core::money::{Currency, Money};
    use payhook_core::policy::FeeSplit;
    use payhook_server::hooks::{RefundContext, checked_refund};
    let (_dir, p) = plugins_dir();
    let p = std::sync::Arc::new(p);
    for db in databases("plugins_filters") {
        let s = TestServer::start(&db.location).await;
        let (tenant, plain) = (s.tenant(), s.tenant());
        s.with_conn(|c| {
            for name in ["template", "hostile"] {
                plugins::set_enabled(c, &tenant, name, true, None, now_secs()).unwrap();
            }
            plugins::kv_set(c, &tenant, "template", "fee-percent", "20").unwrap();
        });
        let filters = plugins::PluginFilters::new(s.db.clone(), p.clone());
        let eur = |minor| Money::new(minor, Currency::EUR);
        let proposed = FeeSplit {
            fee: eur(0),
            refund: eur(4500),
        };
        let split = |t: &str| {
            let ctx = RefundContext {
                tenant: t,
                payment: "pi_1",
                refundable: eur(4500),
                cancellation: true,
            };
            blocking(|| checked_refund(&filters, &ctx, proposed).unwrap())
        };
        // The hostile filter (a refund one cent too big) is refused and skipped; the template's
        // 20 % fee (from the tenant's key-value store) is kept.
        assert_eq!(
            split(&tenant),
            FeeSplit {
                fee: eur(900),
                refund: eur(3600)
            }
        );
        // A tenant without plugins: unchanged.
        assert_eq!(split(&plain), proposed);
        // A plain refund (no cancellation fee asked): as asked, whatever the plugins.
        let ctx = RefundContext {
            tenant: &tenant,
            payment: "pi_1",
            refundable: eur(4500),
            cancellation: false,
        };
        assert_eq!(
            blocking(|| checked_refund(&filters, &ctx, proposed).unwrap()),
            proposed
        );
        // Disabled: unchanged.
        s.with_conn(|c| {
            plugins::set_enabled(c, &tenant, "template", false, None, now_secs()).unwrap()
        });
        assert_eq!(split(&tenant), proposed);
        // The hostile filter's bad answers count as its calls' failures do: after five in a
        // row it is disabled for the tenant, and the operator sees why.
        let state = |name: &str| {
            s.with_conn(|c| plugins::tenant_plugins(c, &tenant).unwrap())
                .into_iter()
                .find(|t| t.plugin == name)
                .unwrap()
        };
        assert_eq!(state("hostile").failures, 2);
        for _ in 0..3 {
            split(&tenant);
        }
        let hostile = state("hostile");
        assert!(!hostile.enabled, "{hostile:?}");
        let reason = hostile.disabled_reason.unwrap_or_default();
        assert!(
            reason.contains("the refund-amount filter: the plugin's answer was refused"),
            "{reason}"
        );
        s.stop().await;
    }
}

/// Filters whose plugins cannot be read stop what they guard. A late-cancellation refund
/// made without the salon's fee filter would hand back the fee, and an e-mail sent without the
/// invoicing plugin's filter would go out unsigned: both wait instead, with an error that says
/// why, and go through their filters once the plugins can be read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_that_cannot_read_the_tenants_plugins_hold_back_what_they_guard() {
    use payhook_core::money::{Currency, Money};
    use payhook_core::policy::FeeSplit;
    use payhook_plugins::Notification;
    use payhook_server::hooks::{
        FiltersUnavailable, RefundContext, RefundFilterError, checked_refund,
    };
    use payhook_server::mail::{self, Mailer};
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "salon", payhook_plugins::built::SALON);
    install(dir.path(), "invoicing", payhook_plugins::built::INVOICING);
    let p = std::sync::Arc::new(Plugins::load_dir(dir.path()).unwrap());
    let (port, got) = smtp_sink().await;
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Fluxrate <billing@fluxrate.example>",
    )
    .unwrap();
    for db in databases("plugins_filters_unreadable") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        s.with_conn(|c| {
            for name in ["salon", "invoicing"] {
                plugins::set_enabled(c, &tenant, name, true, None, now_secs()).unwrap();
            }
            plugins::kv_set(c, &tenant, "salon", "late_fee_percent", "20").unwrap();
            plugins::kv_set(c, &tenant, "invoicing", "signature", "Fluxrate billing").unwrap();
        });
        let filters = plugins::PluginFilters::new(s.db.clone(), p.clone());
        let eur = |minor| Money::new(minor, Currency::EUR);
        let proposed = FeeSplit {
            fee: eur(0),
            refund: eur(4500),
        };
        let ctx = RefundContext {
            tenant: &tenant,
            payment: "pi_1",
            refundable: eur(4500),
            cancellation: true,
        };
        let refund = || blocking(|| checked_refund(&filters, &ctx, proposed));
        let letter = || Notification {
            to: "payer@example.com".into(),
            subject: "Invoice INV-7".into(),
            text: "Your invoice is attached.".into(),
        };
        let notify = || blocking(|| filters.notification(&tenant, ("invoice", "inv_7"), letter()));
        let kept = FeeSplit {
            fee: eur(900),
            refund: eur(3600),
        };
        assert_eq!(refund(), Ok(kept));
        assert!(notify().unwrap().text.ends_with("-- \nFluxrate billing"));

        // Which plugins the tenant has, then the plugins' own state: each unreadable in turn.
        for table in ["plugin_tenants", "plugin_kv"] {
            let rename = |from: &str, to: &str| {
                s.with_conn(|c| {
                    c.execute(&format!("ALTER TABLE {from} RENAME TO {to}"), &[])
                        .unwrap()
                })
            };
            rename(table, "unreadable_for_the_test");
            assert_eq!(
                refund(),
                Err(RefundFilterError::Unavailable(FiltersUnavailable {
                    point: "refund-amount"
                })),
                "{table}"
            );
            assert_eq!(
                refund().unwrap_err().to_string(),
                "the tenant's plugins could not be read, so the refund-amount filters did not \
                 run; nothing was done, try again"
            );
            assert_eq!(
                notify(),
                Err(FiltersUnavailable {
                    point: "notification"
                })
            );
            rename("unreadable_for_the_test", table);
            assert_eq!(refund(), Ok(kept), "{table}");
        }

        // The outbox: an e-mail whose filters cannot run is not sent; it is tried again later,
        // like one the relay refused, and then goes out signed.
        s.with_conn(|c| {
            let body = json!({"to": "payer@example.com", "title": "Invoice INV-7", "text": "Your invoice is attached.", "plugin": "invoicing"});
            c.execute(
                "INSERT INTO notifications (tenant_id, event_id, kind, subject, status, body, created_at) VALUES ($1, 'evt_1', 'plugin:invoicing', 'invoice inv_7 #0', 'pending', $2, 0)",
                &[tenant.as_str().into(), body.to_string().into()],
            )
            .unwrap();
            c.execute("ALTER TABLE plugin_tenants RENAME TO unreadable_for_the_test", &[])
                .unwrap();
        });
        let now = now_secs();
        let sent_before = got.lock().unwrap().len();
        assert_eq!(
            s.with_conn(|c| mail::deliver(c, &mailer, Some(&filters), now).unwrap()),
            1
        );
        let row = || {
            s.with_conn(|c| {
                let r = c
                    .query_opt(
                        "SELECT status, attempts, last_error FROM notifications WHERE tenant_id = $1",
                        &[tenant.as_str().into()],
                    )
                    .unwrap()
                    .unwrap();
                (r.text(0), r.int(1), r.opt_text(2).unwrap_or_default())
            })
        };
        let (status, attempts, error) = row();
        assert_eq!((status.as_str(), attempts), ("failed", 1));
        assert_eq!(
            error,
            "the tenant's plugins could not be read, so the notification filters did not run; \
             nothing was done, try again"
        );
        assert_eq!(got.lock().unwrap().len(), sent_before, "nothing was sent");
        s.with_conn(|c| {
            c.execute(
                "ALTER TABLE unreadable_for_the_test RENAME TO plugin_tenants",
                &[],
            )
            .unwrap()
        });
        assert_eq!(
            s.with_conn(|c| mail::deliver(c, &mailer, Some(&filters), now + 3600).unwrap()),
            1
        );
        assert_eq!(row().0, "sent");
        let mails = got.lock().unwrap().clone();
        assert_eq!(mails.len(), sent_before + 1);
        assert!(
            mails.last().unwrap().1.contains("Fluxrate billing"),
            "{mails:?}"
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_made_from_values_another_node_changed_runs_again_and_never_double_books() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "clinic", payhook_plugins::built::CLINIC);
    let p = Plugins::load_dir(dir.path()).unwrap();
    for db in databases("plugins_store_race") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        s.with_conn(|c| {
            plugins::set_enabled(c, &tenant, "clinic", true, None, now_secs()).unwrap()
        });
        let slot = "2026-12-10T09:30/dr-lee";
        let (status, booking) = s
            .api(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/appointments"),
                Some(json!({"amount": "45.00", "currency": "eur", "metadata": {"slot": slot}})),
            )
            .await;
        assert_eq!(status, 201, "{booking}");
        let booking = booking["id"].as_str().unwrap().to_owned();
        let paid = event(
            PI_SUCCEEDED,
            json!({"id": "pi_race", "amount": 4500, "amount_received": 4500, "currency": "eur"}),
            json!({"appointment_id": booking}),
        );
        assert_eq!(s.deliver(&tenant, &paid).await.0, 200);
        s.settle(&tenant).await;
        // While the clinic decides, another node's call books the same slot for apt_other.
        let mut once = true;
        let ran = s.with_conn(|c| {
            plugins::round_with(c, &p, now_secs(), &mut |c| {
                if std::mem::take(&mut once) {
                    plugins::kv_set(c, &tenant, "clinic", &format!("slot:{slot}"), "apt_other")
                        .unwrap();
                }
            })
            .unwrap()
        });
        assert_eq!(ran, 1);
        // Its answer (confirmed, the slot taken) was made from an old value: nothing of it was
        // kept, and it is neither failed nor counted against the plugin.
        assert_eq!(s.count("SELECT COUNT(*) FROM plugin_statuses", &[]), 0);
        let call = calls(&s, &tenant);
        assert_eq!(
            (call[0]["status"].as_str(), call[0]["attempts"].as_i64()),
            (Some("pending"), Some(0)),
            "{call:?}"
        );
        // Run again on the values as they are: the slot is another's, so no double booking.
        assert_eq!(rounds(&s, &p, now_secs()), 1);
        let status = s.with_conn(|c| {
            plugins::statuses(c, &tenant).unwrap()[0]["status"]
                .as_str()
                .unwrap()
                .to_owned()
        });
        assert_eq!(status, "needs_refund");
        let holder = s.with_conn(|c| {
            use payhook_server::db::Conn;
            c.query_opt(
                "SELECT value FROM plugin_kv WHERE tenant_id = $1 AND plugin = 'clinic' AND key = $2",
                &[tenant.as_str().into(), format!("slot:{slot}").into()],
            )
            .unwrap()
            .unwrap()
            .text(0)
        });
        assert_eq!(holder, "apt_other");
        s.stop().await;
    }
}

/// An invoice's e-mail carries the Payment Link it waited for even when the link is made while
/// the round's earlier calls run: the record is read just before its own call, after the check
/// that its link is no longer pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_call_reads_a_payment_link_made_while_earlier_calls_ran() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "invoicing", payhook_plugins::built::INVOICING);
    let p = Plugins::load_dir(dir.path()).unwrap();
    for db in databases("plugins_link_meanwhile") {
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        s.with_conn(|c| {
            plugins::set_enabled(c, &tenant, "invoicing", true, None, now_secs()).unwrap()
        });
        let invoice = async |payment_link: bool, to: &str| {
            let (status, body) = s
                .api(
                    reqwest::Method::POST,
                    &format!("/tenants/{tenant}/invoices"),
                    Some(json!({"amount": "120.00", "currency": "eur", "metadata": {"customer_email": to}, "payment_link": payment_link})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            body["id"].as_str().unwrap().to_owned()
        };
        invoice(false, "first@example.com").await;
        let second = invoice(true, "second@example.com").await;
        let url = "https://buy.stripe.com/test_made_meanwhile";
        // The first invoice's call runs while the second's link is pending; the link is made
        // right after it, before the second invoice's call.
        let mut once = true;
        let ran = s.with_conn(|c| {
            plugins::round_with(c, &p, now_secs(), &mut |c| {
                if std::mem::take(&mut once) {
                    payhook_server::records::save_link_attempt(c, &second, Ok(url)).unwrap();
                }
            })
            .unwrap()
        });
        assert_eq!(ran, 2);
        let mail = |to: &str| {
            s.with_conn(|c| {
                c.query_opt(
                    "SELECT body FROM notifications WHERE body LIKE $1",
                    &[format!("%{to}%").into()],
                )
                .unwrap()
                .unwrap()
                .text(0)
            })
        };
        let second_mail = mail("second@example.com");
        assert!(
            second_mail.contains(&format!("Pay it online, by card: {url}")),
            "{second_mail}"
        );
        let first_mail = mail("first@example.com");
        assert!(
            first_mail.contains("The payment details are on the invoice."),
            "{first_mail}"
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_sending_one_outbox_send_each_e_mail_once() {
    use payhook_server::mail::{self, Mailer};
    let (port, got) = smtp_sink().await;
    for db in databases("plugins_two_senders") {
        got.lock().unwrap().clear();
        let s = TestServer::start(&db.location).await;
        let tenant = s.tenant();
        s.with_conn(|c| {
            for i in 0..20 {
                let body = json!({"to": format!("client{i}@example.com"), "title": format!("Invoice {i}"), "text": "Thank you."});
                c.execute(
                    "INSERT INTO notifications (tenant_id, event_id, kind, subject, status, body, created_at) VALUES ($1, $2, 'plugin:invoicing', $3, 'pending', $4, 0)",
                    &[tenant.as_str().into(), format!("evt_{i}").into(), format!("invoice inv_{i} #0").into(), body.to_string().into()],
                )
                .unwrap();
            }
        });
        // Two nodes' workers, each with its own connection, take the same outbox at once.
        let url = format!("smtp://127.0.0.1:{port}");
        let nodes: Vec<_> = (0..2)
            .map(|_| {
                let (db, url) = (s.db.clone(), url.clone());
                std::thread::spawn(move || {
                    let mailer = Mailer::new(&url, "payhook@localhost").unwrap();
                    let mut conn = db.conn().unwrap();
                    let mut sent = 0;
                    while mail::deliver(&mut conn, &mailer, None, now_secs()).unwrap() > 0 {
                        sent += 1;
                    }
                    sent
                })
            })
            .collect();
        for node in nodes {
            blocking(move || node.join().unwrap());
        }
        let mut to: Vec<String> = got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(r, _)| r.clone())
            .collect();
        to.sort();
        let mut want: Vec<String> = (0..20).map(|i| format!("client{i}@example.com")).collect();
        want.sort();
        assert_eq!(to, want, "every e-mail once");
        assert_eq!(
            s.count(
                "SELECT COUNT(*) FROM notifications WHERE status = 'sent'",
                &[]
            ),
            20
        );
        s.stop().await;
    }
}

/// E-mail goes out from a thread of its own: a relay that takes the connection and then says
/// nothing (the mailer gives up after 10 s) holds up e-mail only. Callbacks queued while it is
/// silent are posted at once, not 10 s later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_does_not_answer_holds_up_only_e_mail() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                drop(socket);
            });
        }
    });
    let (url, got) = platform(0).await;
    let db = &databases("plugins_silent_relay")[0];
    let s = TestServer::start(&db.location).await;
    let tenant = s.tenant();
    let secret = "whsec_c2lsZW50LXJlbGF5LXNlY3JldC0wMTIzNDU2Nzg5";
    s.with_conn(|c| {
        let sealer = payhook_server::seal::Sealer::new(&master_key());
        plugins::set_endpoint(c, &sealer, &tenant, &url, &payhook_server::secret::Secret::new(secret), now_secs())
            .unwrap();
        let body = json!({"to": "client@example.com", "title": "Invoice INV-1", "text": "Attached.", "plugin": "invoicing"});
        c.execute(
            "INSERT INTO notifications (tenant_id, event_id, kind, subject, status, body, created_at) VALUES ($1, 'evt_1', 'plugin:invoicing', 'invoice inv_1 #0', 'pending', $2, 0)",
            &[tenant.as_str().into(), body.to_string().into()],
        )
        .unwrap();
    });
    let mailer = payhook_server::mail::Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "billing@fluxrate.example",
    )
    .unwrap();
    let (_dir, p) = plugins_dir();
    let stop = Arc::new(AtomicBool::new(false));
    let (db2, stop2) = (s.db.clone(), stop.clone());
    let worker = std::thread::spawn(move || {
        plugins::run_worker(
            db2,
            Arc::new(p),
            payhook_server::seal::Sealer::new(&master_key()),
            Some(mailer),
            stop2,
            Duration::from_millis(20),
        )
    });
    // The e-mail is claimed: the worker is waiting on the silent relay.
    let claimed = || {
        s.count(
            "SELECT COUNT(*) FROM notifications WHERE next_attempt_at > 0",
            &[],
        ) == 1
    };
    let waited = Instant::now();
    while !claimed() {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the e-mail was never taken"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.with_conn(|c| {
        for idx in 0..3_i64 {
            c.execute(
                "INSERT INTO plugin_callbacks (action_seq, plugin, idx, tenant_id, body, status, attempts, next_attempt_at, created_at) \
                 VALUES (1, 'invoicing', $1, $2, '{}', 'pending', 0, 0, 0)",
                &[idx.into(), tenant.as_str().into()],
            )
            .unwrap();
        }
    });
    let queued = Instant::now();
    while got.lock().unwrap().len() < 3 {
        // Well under the mailer's 10 s: a worker that sent e-mail between its calls would
        // still be waiting on the relay.
        assert!(
            queued.elapsed() < Duration::from_secs(7),
            "callbacks waited for the relay"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    blocking(|| worker.join().unwrap());
    // The mailer gave up on the relay: the e-mail is kept to be tried again, with why.
    let (status, error) = s.with_conn(|c| {
        let r = c
            .query_opt("SELECT status, last_error FROM notifications", &[])
            .unwrap()
            .unwrap();
        (r.text(0), r.opt_text(1).unwrap_or_default())
    });
    assert_eq!(status, "failed", "{error}");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_posts_its_callbacks_at_once_so_a_slow_platform_costs_one_wait() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A platform that answers no callback before all five have arrived (or 5 s have passed),
    // and notes how many it had at once. Posted together, all five are in at once however
    // slowly a loaded machine sets up their connections; posted one after another, the first
    // waits its 5 s alone and the test fails.
    let (now_in, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let arrived = Arc::new(AtomicUsize::new(0));
    let (a, b, c) = (now_in.clone(), most.clone(), arrived.clone());
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move || {
            let (a, b, c) = (a.clone(), b.clone(), c.clone());
            async move {
                let n = a.fetch_add(1, Ordering::SeqCst) + 1;
                b.fetch_max(n, Ordering::SeqCst);
                c.fetch_add(1, Ordering::SeqCst);
                let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while c.load(Ordering::SeqCst) < 5 && std::time::Instant::now() < until {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                a.fetch_sub(1, Ordering::SeqCst);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let db = &databases("plugins_slow_platform")[0];
    let s = TestServer::start(&db.location).await;
    let tenant = s.tenant();
    let sealer = payhook_server::seal::Sealer::new(&master_key());
    let secret = "whsec_c2xvdy1wbGF0Zm9ybS1zZWNyZXQtMDEyMzQ1Njc=";
    s.with_conn(|c| {
        plugins::set_endpoint(c, &sealer, &tenant, &url, &payhook_server::secret::Secret::new(secret), now_secs())
            .unwrap();
        for idx in 0..5_i64 {
            c.execute(
                "INSERT INTO plugin_callbacks (action_seq, plugin, idx, tenant_id, body, status, attempts, next_attempt_at, created_at) \
                 VALUES (1, 'clinic', $1, $2, '{}', 'pending', 0, 0, 0)",
                &[idx.into(), tenant.as_str().into()],
            )
            .unwrap();
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let sent =
        s.with_conn(|c| plugins::deliver_callbacks(c, &sealer, &client, &rt, now_secs()).unwrap());
    assert_eq!(sent, 5);
    assert_eq!(
        most.load(Ordering::SeqCst),
        5,
        "all five were in flight together"
    );
    let delivered = s.with_conn(|c| plugins::callbacks(c, &tenant, 10).unwrap());
    assert!(
        delivered.iter().all(|c| c.status == "delivered"),
        "{delivered:?}"
    );
    // The worker's runtime is dropped where the worker runs: outside the test's async context.
    blocking(move || drop(rt));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_hands_its_e_mails_to_the_relay_four_at_a_time() {
    use payhook_server::mail::{self, Mailer, SEND_CONCURRENCY};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A relay that accepts no message before a group of four has arrived (or 5 s have passed),
    // and notes how many it held at once. Handed over four at a time, each group is in at once
    // however slowly a loaded machine connects; sent one after another, each message waits
    // its 5 s alone and the test fails.
    let (now_in, most, arrived) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    const MESSAGES: usize = 8;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    {
        let (now_in, most, arrived) = (now_in.clone(), most.clone(), arrived.clone());
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (a, b, c) = (now_in.clone(), most.clone(), arrived.clone());
                tokio::spawn(common::sinks::smtp_dialog(
                    socket,
                    true,
                    false,
                    move |_, _, _| {
                        let n = a.fetch_add(1, Ordering::SeqCst) + 1;
                        b.fetch_max(n, Ordering::SeqCst);
                        let mine = c.fetch_add(1, Ordering::SeqCst) + 1;
                        let group_end = mine.div_ceil(4) * 4;
                        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
                        tokio::task::block_in_place(|| {
                            while c.load(Ordering::SeqCst) < group_end.min(MESSAGES)
                                && std::time::Instant::now() < until
                            {
                                std::thread::sleep(std::time::Duration::from_millis(10));
                            }
                        });
                        a.fetch_sub(1, Ordering::SeqCst);
                    },
                ));
            }
        });
    }
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Smile Dental <clinic@smile.example>",
    )
    .unwrap();
    let db = &databases("plugins_slow_relay")[0];
    let s = TestServer::start(&db.location).await;
    let tenant = s.tenant();
    s.with_conn(|c| {
        for n in 0..MESSAGES {
            let body = json!({"to": format!("patient{n}@example.com"), "title": "Confirmed", "text": "See you.", "plugin": "clinic"});
            c.execute(
                "INSERT INTO notifications (tenant_id, event_id, kind, subject, status, body, created_at) VALUES ($1, 'evt_1', 'plugin:clinic', $2, 'pending', $3, 0)",
                &[tenant.as_str().into(), format!("appointment apt_{n} #0").into(), body.to_string().into()],
            )
            .unwrap();
        }
    });
    let sent = s.with_conn(|c| mail::deliver(c, &mailer, None, now_secs()).unwrap());
    assert_eq!(sent, MESSAGES);
    assert_eq!(SEND_CONCURRENCY, 4);
    assert_eq!(
        most.load(Ordering::SeqCst),
        4,
        "four e-mails were with the relay together, never more"
    );
    let statuses: Vec<String> = s.with_conn(|c| {
        c.query(
            "SELECT status FROM notifications WHERE tenant_id = $1",
            &[tenant.as_str().into()],
        )
        .unwrap()
        .iter()
        .map(|r| r.text(0))
        .collect()
    });
    assert_eq!(statuses, vec!["sent"; MESSAGES], "{statuses:?}");
    s.stop().await;
}
