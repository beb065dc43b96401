//! `payhook serve` and the admin CLI as separate processes, as users run them: the CLI
//! contract, the README quick start, a kill -9 under load, and two servers on one PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payhook_core::secret::WebhookSecret;
use payhook_server::db::{Conn, Database, Location};
use payhook_server::testing::{TempPostgres, fresh_postgres};
use serde_json::{Value, json};

const SECRET_KEY: &str = "sk_test_51ProcessTestSecretKey0123456789";
const PUBLISHABLE_KEY: &str = "pk_test_51ProcessTestPublishable0123456";
const WEBHOOK_SECRET: &str = "whsec_ProcessTestSigningSecret0123456789";
const MASTER_KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const ADMIN_TOKEN: &str = "process-test-admin-token-0123456789";
const SAMPLE: &str =
    include_str!("../../../tests/fixtures/stripe-events/events/payment_intent.succeeded.json");

/// A database for one test, with the directory the processes run in.
struct Place {
    dir: tempfile::TempDir,
    url: String,
    _pg: Option<TempPostgres>,
}

impl Place {
    fn sqlite() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("payhook.db").display());
        Place {
            dir,
            url,
            _pg: None,
        }
    }

    fn postgres(test: &str) -> Option<Place> {
        let pg = fresh_postgres(test)?;
        Some(Place {
            dir: tempfile::tempdir().unwrap(),
            url: pg.url.clone(),
            _pg: Some(pg),
        })
    }

    fn all(test: &str) -> Vec<Place> {
        let mut out = vec![Place::sqlite()];
        out.extend(Place::postgres(test));
        out
    }

    fn location(&self) -> Location {
        Location::parse(&self.url).unwrap()
    }

    fn payhook(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_payhook"));
        c.current_dir(self.dir.path())
            .env("PAYHOOK_DATABASE", &self.url)
            .env("PAYHOOK_MASTER_KEY", MASTER_KEY)
            .env("PAYHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("PAYHOOK_CACHE_DIR", cache_dir())
            // No test talks to Stripe itself: calls (the invoices' Payment Links) go to the
            // discard port on loopback and fail there.
            .env("PAYHOOK_STRIPE_API_BASE", "http://127.0.0.1:9")
            .env_remove("PAYHOOK_PUBLIC_URL")
            .env_remove("PAYHOOK_SERVER");
        c
    }

    /// Runs a CLI command; returns stdout, or panics with stderr.
    fn run(&self, args: &[&str]) -> String {
        let out = self.payhook().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "payhook {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let text = self.run(args);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("payhook {args:?} printed no JSON ({e}): {text}"))
    }

    fn create_tenant(&self, server: &str) -> Value {
        self.json(&[
            "tenant",
            "create",
            "--name",
            "Smile Dental",
            "--mode",
            "test",
            "--secret-key",
            SECRET_KEY,
            "--publishable-key",
            PUBLISHABLE_KEY,
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--currency",
            "eur",
            "--public-url",
            server,
            "--json",
        ])
    }

    fn db(&self) -> Database {
        Database::open(&self.location()).unwrap()
    }
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("payhook-engine-cache")
}

/// A `payhook serve` process on a free loopback port.
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Server {
    fn start(place: &Place, name: &str) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = place.dir.path().join(format!("{name}.log"));
        let child = place
            .payhook()
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_healthy();
        server
    }

    /// A plain HTTP/1.1 GET; the whole answer, head and body, or "" when nothing answers.
    fn get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(self.url.trim_start_matches("http://")) else {
            return String::new();
        };
        let _ = s.write_all(
            format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        );
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.get("/healthz").starts_with("HTTP/1.1 200") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not come up: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no shutdown, no flush, as in a power cut of the process.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn metric(&self, name: &str, label: &str) -> i64 {
        self.get("/metrics")
            .lines()
            .find(|l| l.starts_with(name) && l.contains(label))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as i64)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn payment_event(invoice: Option<&str>, amount: i64) -> (String, String) {
    let mut e: Value = serde_json::from_str(SAMPLE).unwrap();
    let id = payhook_server::ids::new_id("evt");
    e["id"] = json!(id);
    e["created"] = json!(payhook_server::ids::now_secs());
    let o = &mut e["data"]["object"];
    o["id"] = json!(payhook_server::ids::new_id("pi"));
    o["amount"] = json!(amount);
    o["amount_received"] = json!(amount);
    o["currency"] = json!("eur");
    o["metadata"] = match invoice {
        Some(i) => json!({"invoice_id": i}),
        None => json!({}),
    };
    (id, e.to_string())
}

async fn post(
    client: &reqwest::Client,
    server: &str,
    tenant: &str,
    body: String,
) -> Result<u16, reqwest::Error> {
    let header = payhook_core::signature::header_for(
        body.as_bytes(),
        &WebhookSecret::new(WEBHOOK_SECRET),
        payhook_server::ids::now_secs(),
    );
    let response = client
        .post(format!("{server}/webhooks/stripe/{tenant}/test"))
        .header("Stripe-Signature", header)
        .body(body)
        .timeout(Duration::from_secs(5))
        .send()
        .await?;
    Ok(response.status().as_u16())
}

/// Waits until no event is waiting or failed.
fn wait_processed(db: &Database, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut c = db.conn().unwrap();
        let row = c.query_opt("SELECT COUNT(*), SUM(CASE WHEN status = 'processed' THEN 1 ELSE 0 END) FROM events", &[]).unwrap().unwrap();
        if row.int(0) >= expected && row.int(0) == row.int(1) {
            return;
        }
        if Instant::now() > deadline {
            let states: Vec<String> = c
                .query(
                    "SELECT event_id, status, reason, last_error FROM events LIMIT 5",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {:?} {:?}",
                        r.text(0),
                        r.text(1),
                        r.opt_text(2),
                        r.opt_text(3)
                    )
                })
                .collect();
            panic!(
                "events not processed after 60 s: {} stored, {} processed: {states:?}",
                row.int(0),
                row.int(1)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_cli_contract_and_the_readme_quick_start() {
    for place in Place::all("cli_contract") {
        let server = Server::start(&place, "serve");
        let tenant = place.create_tenant(&server.url);
        let id = tenant["id"]
            .as_str()
            .expect("tenant create --json prints an id")
            .to_owned();
        assert_eq!(
            tenant["webhook_url"],
            format!("{}/webhooks/stripe/{id}/test", server.url)
        );
        assert!(
            !tenant.to_string().contains(SECRET_KEY),
            "the key is shown masked: {tenant}"
        );
        let invoice = place.json(&[
            "invoice",
            "create",
            "--tenant",
            &id,
            "--amount",
            "20.00",
            "--currency",
            "eur",
            "--json",
        ]);
        let invoice_id = invoice["id"]
            .as_str()
            .expect("invoice create --json prints an id")
            .to_owned();
        let shown = place.json(&["invoice", "show", &invoice_id, "--json"]);
        assert_eq!(
            (shown["status"].as_str(), shown["amount_paid"].as_i64()),
            (Some("open"), Some(0)),
            "{shown}"
        );
        // The finalized invoice asked for a Payment Link; the server's link worker tries to
        // make it (Stripe is the discard port here) and says why it could not yet.
        assert_eq!(shown["payment_link"]["status"], "pending", "{shown}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let shown = place.json(&["invoice", "show", &invoice_id, "--json"]);
            let link = &shown["payment_link"];
            if link["attempts"].as_i64() >= Some(1) {
                assert_eq!(link["status"], "pending", "retried later: {shown}");
                assert!(
                    link["error"]
                        .as_str()
                        .unwrap()
                        .contains("could not be reached"),
                    "{shown}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the link worker did not run: {shown}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let text = place.run(&["invoice", "show", &invoice_id]);
        assert!(
            text.contains("payment link pending: Stripe could not be reached"),
            "{text}"
        );
        // The quick start: trigger a payment for the invoice, see it paid.
        let out = place.json(&[
            "trigger",
            "payment_intent.succeeded",
            "--tenant",
            &id,
            "--invoice",
            &invoice_id,
            "--server",
            &server.url,
            "--json",
        ]);
        assert_eq!(out["status"], 200, "{out}");
        wait_processed(&place.db(), 1);
        let shown = place.json(&["invoice", "show", &invoice_id, "--json"]);
        assert_eq!(
            (shown["status"].as_str(), shown["amount_paid"].as_i64()),
            (Some("paid"), Some(2000)),
            "{shown}"
        );
        let events = place.json(&["events", "list", "--tenant", &id, "--json"]);
        let first = &events
            .as_array()
            .expect("events list --json prints an array")[0];
        assert_eq!(
            (first["type"].as_str(), first["status"].as_str()),
            (Some("payment_intent.succeeded"), Some("processed")),
            "{events}"
        );
        assert!(first["event_id"].as_str().unwrap().starts_with("evt_"));
        // Replay from the CLI is picked up by the running server.
        let event_id = first["event_id"].as_str().unwrap().to_owned();
        place.run(&["events", "replay", &event_id]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let shown = loop {
            let shown = place.json(&["events", "show", &event_id, "--json"]);
            if shown["status"] != "received" {
                break shown;
            }
            assert!(
                Instant::now() < deadline,
                "the replay was not picked up: {shown}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(
            shown["attempts"], 1,
            "a replay starts the attempts afresh: {shown}"
        );
        // Processed again, it finds everything already recorded.
        assert_eq!(shown["status"], "ignored", "{shown}");
        assert!(
            shown["reason"].as_str().unwrap().contains("duplicate"),
            "{shown}"
        );
        assert_eq!(
            place.json(&["invoice", "show", &invoice_id, "--json"])["amount_paid"],
            2000,
            "a replay changes nothing"
        );
    }
}

#[test]
fn cli_refusals_say_what_is_wrong() {
    let place = Place::sqlite();
    let cases: [(&[&str], &str); 6] = [
        (
            &["tenant", "create", "--name", "X", "--mode", "test"],
            "Stripe gateway is not properly configured",
        ),
        (
            &[
                "tenant",
                "create",
                "--name",
                "X",
                "--mode",
                "test",
                "--secret-key",
                "sk_live_51abcdefghijklmnopqrstuvwxyz",
            ],
            "sk_live_…wxyz",
        ),
        (&["tenant", "show", "ten_nope"], "no tenant"),
        (&["invoice", "show", "inv_nope"], "no invoice"),
        (
            &["events", "list", "--tenant", "ten_nope", "--status", "lost"],
            "unknown status",
        ),
        (
            &["--database", "mysql://x", "tenant", "list"],
            "sqlite://PATH",
        ),
    ];
    for (args, expected) in cases {
        let out = place.payhook().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("sk_live_51abcdefghijklmnopqrstuvwxyz"),
            "the key is masked: {stderr}"
        );
    }
    let tenant = place.create_tenant("http://127.0.0.1:8080");
    let id = tenant["id"].as_str().unwrap();
    let out = place
        .payhook()
        .args([
            "invoice",
            "create",
            "--tenant",
            id,
            "--amount",
            "0.10",
            "--currency",
            "eur",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("0.50"),
        "below Stripe's minimum: {stderr}"
    );
    let out = place
        .payhook()
        .args([
            "invoice",
            "create",
            "--tenant",
            id,
            "--amount",
            "12.345",
            "--currency",
            "eur",
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `args` after `--plugins-dir DIR`.
fn in_dir<'a>(dir: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    ["--plugins-dir", dir]
        .into_iter()
        .chain(args.iter().copied())
        .collect()
}

#[test]
fn plugin_commands_enable_list_set_and_disable_and_say_what_is_wrong() {
    let place = Place::sqlite();
    let dir = place.dir.path().join("plugins");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(payhook_plugins::built::SALON, dir.join("salon.wasm")).unwrap();
    std::fs::write(
        dir.join("salon.json"),
        r#"{"name": "salon", "version": "0.1.0", "description": "visits paid by link"}"#,
    )
    .unwrap();
    let dir = dir.to_str().unwrap();
    let tenant = place.create_tenant("http://127.0.0.1:8080");
    let id = tenant["id"].as_str().unwrap();
    let refused = |args: &[&str], says: &str| {
        let out = place.payhook().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(says),
            "{args:?}: {stderr}"
        );
    };
    refused(
        &in_dir(dir, &["plugin", "enable", "clinic", "--tenant", id]),
        "no plugin \"clinic\" in the plugins directory (installed: salon)",
    );
    refused(
        &in_dir(dir, &["plugin", "enable", "salon", "--tenant", "ten_nope"]),
        "no tenant \"ten_nope\"",
    );
    place.run(&in_dir(dir, &["plugin", "enable", "salon", "--tenant", id]));
    let listed = || place.json(&in_dir(dir, &["plugin", "list", "--tenant", id, "--json"]));
    let list = listed();
    assert_eq!(
        (
            list[0]["name"].as_str(),
            list[0]["installed"].as_bool(),
            list[0]["tenant"]["enabled"].as_bool(),
            list[0]["tenant"]["failures"].as_i64()
        ),
        (Some("salon"), Some(true), Some(true), Some(0)),
        "{list}"
    );
    let text = place.run(&in_dir(dir, &["plugin", "list", "--tenant", id]));
    assert!(
        text.contains("salon  0.1.0  enabled, 0 failures in a row  — visits paid by link"),
        "{text}"
    );
    place.run(&[
        "plugin",
        "set",
        "salon",
        "--tenant",
        id,
        "late_fee_percent",
        "20",
    ]);
    let long_key = "k".repeat(129);
    refused(
        &["plugin", "set", "salon", "--tenant", id, &long_key, "x"],
        "a key must be 1 to 128 bytes",
    );
    place.run(&["plugin", "disable", "salon", "--tenant", id]);
    let list = listed();
    assert_eq!(list[0]["tenant"]["enabled"], false, "{list}");
    assert_eq!(list[0]["tenant"]["disabled_reason"], Value::Null, "{list}");
    // Without the directory, the tenant's plugins are still listed, as not installed here.
    let list = place.json(&["plugin", "list", "--tenant", id, "--json"]);
    assert_eq!(
        (list[0]["name"].as_str(), list[0]["installed"].as_bool()),
        (Some("salon"), Some(false)),
        "{list}"
    );
}

#[test]
fn serve_refuses_a_bad_configuration_with_the_fix() {
    let place = Place::sqlite();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (&["serve", "--addr", &addr], &[], "cannot listen on"),
        (
            &["serve", "--addr", "127.0.0.1:0"],
            &[("PAYHOOK_ENGINE_HMAC", "wasm")],
            "PAYHOOK_ENGINE_HMAC must be `host` or `component`, not \"wasm\"",
        ),
        (
            &["serve", "--addr", "localhost"],
            &[],
            "invalid socket address",
        ),
        (
            &["serve", "--addr", "127.0.0.1:0"],
            &[("PAYHOOK_ADMIN_TOKEN", "short")],
            "shorter than 16",
        ),
        (
            &["serve", "--addr", "127.0.0.1:0"],
            &[("PAYHOOK_MASTER_KEY", "not-a-key")],
            "PAYHOOK_MASTER_KEY",
        ),
    ];
    for (args, env, expected) in cases {
        let mut c = place.payhook();
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} {env:?} started");
        assert!(stderr.contains(expected), "{args:?} {env:?}: {stderr}");
        assert!(
            !stderr.contains("not-a-key"),
            "the refused key is not repeated: {stderr}"
        );
    }
}

#[test]
fn every_command_has_help() {
    let place = Place::sqlite();
    let commands: [&[&str]; 14] = [
        &[],
        &["serve"],
        &["tenant"],
        &["tenant", "create"],
        &["tenant", "roll-webhook-secret"],
        &["tenant", "disconnect"],
        &["events"],
        &["events", "list"],
        &["events", "replay"],
        &["invoice"],
        &["invoice", "create"],
        &["appointment", "create"],
        &["trigger"],
        &["conformance"],
    ];
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let text = place.run(&args);
        assert!(text.contains("Usage:"), "{c:?}: {text}");
    }
}

/// Sends unique signed deliveries from `senders` tasks until told to stop; returns the ids
/// that got a 2xx.
fn load(
    server: String,
    tenant: String,
    senders: usize,
    stop: Arc<Mutex<bool>>,
) -> std::thread::JoinHandle<(Vec<String>, usize)> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let client = {
                payhook_server::stripe::install_tls_provider();
                reqwest::Client::new()
            };
            let mut tasks = Vec::new();
            for _ in 0..senders {
                let (client, server, tenant, stop) =
                    (client.clone(), server.clone(), tenant.clone(), stop.clone());
                tasks.push(tokio::spawn(async move {
                    let (mut acked, mut refused) = (Vec::new(), 0);
                    while !*stop.lock().unwrap() {
                        let (id, body) = payment_event(None, 1500);
                        match post(&client, &server, &tenant, body).await {
                            Ok(s) if (200..300).contains(&s) => acked.push(id),
                            _ => refused += 1,
                        }
                    }
                    (acked, refused)
                }));
            }
            let mut all = (Vec::new(), 0);
            for t in tasks {
                let (a, r) = t.await.unwrap();
                all.0.extend(a);
                all.1 += r;
            }
            all
        })
    })
}

#[test]
fn after_kill_9_under_load_every_acknowledged_delivery_is_stored_and_processed_exactly_once() {
    for place in Place::all("kill9") {
        let server = Server::start(&place, "first");
        let tenant = place.create_tenant(&server.url)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let stop = Arc::new(Mutex::new(false));
        let sender = load(server.url.clone(), tenant.clone(), 16, stop.clone());
        std::thread::sleep(Duration::from_millis(1500));
        server.kill9();
        std::thread::sleep(Duration::from_millis(200));
        *stop.lock().unwrap() = true;
        let (acked, refused) = sender.join().unwrap();
        assert!(
            acked.len() > 50,
            "the load got going before the kill: {} acked",
            acked.len()
        );
        eprintln!(
            "{}: {} deliveries acknowledged before kill -9, {refused} refused or cut off",
            place.url.split(':').next().unwrap(),
            acked.len()
        );

        let _restarted = Server::start(&place, "second");
        let db = place.db();
        wait_processed(&db, acked.len() as i64);
        let mut c = db.conn().unwrap();
        let stored: std::collections::HashMap<String, (String, i64)> = c
            .query("SELECT event_id, status, attempts FROM events", &[])
            .unwrap()
            .into_iter()
            .map(|r| (r.text(0), (r.text(1), r.int(2))))
            .collect();
        for id in &acked {
            let (status, attempts) = stored
                .get(id)
                .unwrap_or_else(|| panic!("{id} got a 2xx but is not stored"));
            assert_eq!((status.as_str(), *attempts), ("processed", 1), "{id}");
        }
        // Deliveries cut off by the kill may be stored without their 2xx; each is processed once.
        assert!(
            stored.values().all(|(s, a)| s == "processed" && *a == 1),
            "every stored event processed exactly once"
        );
        let ledger = c
            .query_opt(
                "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM ledger_entries",
                &[],
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            (ledger.int(0), ledger.int(1)),
            (stored.len() as i64, stored.len() as i64),
            "one ledger entry per payment, never two"
        );
    }
}

#[test]
fn two_servers_on_one_postgres_process_each_event_exactly_once() {
    let Some(place) = Place::postgres("two_nodes") else {
        return;
    };
    let a = Server::start(&place, "node-a");
    let b = Server::start(&place, "node-b");
    let tenant = place.create_tenant(&a.url)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invoice = place.json(&[
        "invoice",
        "create",
        "--tenant",
        &tenant,
        "--amount",
        "1000.00",
        "--currency",
        "eur",
        "--json",
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let n = 300;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let statuses = rt.block_on(async {
        let client = {
            payhook_server::stripe::install_tls_provider();
            reqwest::Client::new()
        };
        let mut tasks = Vec::new();
        for i in 0..n {
            let (client, url, tenant, invoice) = (
                client.clone(),
                if i % 2 == 0 {
                    a.url.clone()
                } else {
                    b.url.clone()
                },
                tenant.clone(),
                invoice.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let (_, body) = payment_event(Some(&invoice), 100);
                post(&client, &url, &tenant, body).await.unwrap()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        statuses
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let db = place.db();
    wait_processed(&db, n);
    let mut c = db.conn().unwrap();
    let attempts = c
        .query_opt("SELECT MIN(attempts), MAX(attempts) FROM events", &[])
        .unwrap()
        .unwrap();
    assert_eq!((attempts.int(0), attempts.int(1)), (1, 1));
    let processed = a.metric("payhook_events_processed_total", "processed")
        + b.metric("payhook_events_processed_total", "processed");
    assert_eq!(
        processed, n,
        "the two nodes processed {processed} events between them, for {n} stored"
    );
    // All 300 payments of 1.00 landed on the invoice, each once.
    let shown = place.json(&["invoice", "show", &invoice, "--json"]);
    assert_eq!(shown["amount_paid"], 300 * 100, "{shown}");
    eprintln!(
        "node a processed {}, node b {}",
        a.metric("payhook_events_processed_total", "processed"),
        b.metric("payhook_events_processed_total", "processed")
    );
}
