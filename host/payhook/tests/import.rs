//! `payhook import` and `payhook reconcile` as users run them, against localstripe (started by
//! the test on a loopback port): JSON reports, a second run that only looks at what is new, and
//! the refusals with their messages. Needs `PAYHOOK_LOCALSTRIPE_PYTHON` (a Python with
//! `localstripe==1.15.10`); without it the test skips with a notice, except under `CI=true`.

use std::path::Path;
use std::process::{Command, Output};

use payhook_server::testing::LocalStripe;
use serde_json::Value;

const SECRET_KEY: &str = "sk_test_51ImportCliTestSecretKey0123456789";
const WEBHOOK_SECRET: &str = "whsec_ImportCliTestSigningSecret0123456789";
const MASTER_KEY: &str = "0202020202020202020202020202020202020202020202020202020202020202";

fn payhook(dir: &Path, ls: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payhook"))
        .current_dir(dir)
        .env(
            "PAYHOOK_DATABASE",
            format!("sqlite://{}", dir.join("payhook.db").display()),
        )
        .env("PAYHOOK_MASTER_KEY", MASTER_KEY)
        .env("PAYHOOK_STRIPE_API_BASE", ls)
        .env(
            "PAYHOOK_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("payhook-engine-cache"),
        )
        .args(args)
        .output()
        .unwrap()
}

fn json(dir: &Path, ls: &str, args: &[&str]) -> Value {
    let out = payhook(dir, ls, args);
    assert!(
        out.status.success(),
        "payhook {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("payhook {args:?} printed no JSON ({e}): {text}"))
}

/// Runs a command that must fail; returns its stderr.
fn refused(dir: &Path, ls: &str, args: &[&str]) -> String {
    let out = payhook(dir, ls, args);
    assert_eq!(out.status.code(), Some(2), "payhook {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

fn list<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["list"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payhook_import_and_reconcile_against_localstripe() {
    let Some(ls) = LocalStripe::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let base = ls.base.as_str();
    let tenant = json(
        dir,
        base,
        &[
            "tenant",
            "create",
            "--name",
            "Smile Dental",
            "--mode",
            "test",
            "--secret-key",
            SECRET_KEY,
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--json",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    payhook_server::stripe::install_tls_provider();
    let client = reqwest::Client::new();
    for amount in ["1200", "3400"] {
        let r = client
            .post(format!("{base}/v1/payouts"))
            .basic_auth(SECRET_KEY, Some(""))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("amount={amount}&currency=eur&status=paid"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let since = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600)
        .to_string();
    let import = ["import", "--tenant", &tenant, "--since", &since, "--json"];
    let first = json(dir, base, &import);
    assert_eq!(first["complete"], true, "{first}");
    let payouts = list(&first, "payouts");
    assert_eq!(
        (&payouts["start"], &payouts["new"], &payouts["present"]),
        (&Value::from("fresh"), &Value::from(2), &Value::from(0)),
        "{first}"
    );
    assert_eq!(list(&first, "events")["new"], 4, "{first}");
    // Again: only what is new since, which is nothing.
    let second = json(dir, base, &import);
    let payouts = list(&second, "payouts");
    assert_eq!(
        (&payouts["start"], &payouts["new"], &payouts["present"]),
        (
            &Value::from("incremental"),
            &Value::from(0),
            &Value::from(2)
        ),
        "{second}"
    );
    // Reconcile finds the inbox complete.
    let r = json(dir, base, &["reconcile", "--tenant", &tenant, "--json"]);
    assert_eq!(
        (&r["listed"], &r["missing"]),
        (&Value::from(4), &Value::Array(vec![])),
        "{r}"
    );
    // Text output names the lists.
    let out = payhook(
        dir,
        base,
        &["import", "--tenant", &tenant, "--since", &since],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("payouts") && text.contains("incremental"),
        "{text}"
    );

    // Refusals, each saying what is wrong.
    let e = refused(
        dir,
        base,
        &["import", "--tenant", &tenant, "--since", "2024-13-01"],
    );
    assert!(e.contains("bad date") && e.contains("month"), "{e}");
    let e = refused(
        dir,
        base,
        &["import", "--tenant", "ten_nobody", "--since", &since],
    );
    assert!(e.contains("no tenant \"ten_nobody\""), "{e}");
    let e = refused(
        dir,
        base,
        &["reconcile", "--tenant", &tenant, "--mode", "live"],
    );
    assert!(e.contains("no live connection"), "{e}");
    json(dir, base, &["tenant", "disable", &tenant, "--json"]);
    let e = refused(
        dir,
        base,
        &["import", "--tenant", &tenant, "--since", &since],
    );
    assert!(e.contains("disabled"), "{e}");
    json(dir, base, &["tenant", "enable", &tenant, "--json"]);
    let e = refused(
        dir,
        "http://127.0.0.1:9",
        &["reconcile", "--tenant", &tenant, "--since", &since],
    );
    assert!(e.contains("could not be reached"), "{e}");
    assert!(!e.contains(SECRET_KEY), "{e}");
}
