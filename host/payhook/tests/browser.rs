//! The dashboard in a real browser: starts localstripe and `payhook serve` on loopback, then runs
//! tests/browser/dashboard.test.mjs (Playwright driving headless Chromium) against them.
//!
//! Needs Node, Chromium (`/usr/bin/chromium` or `$CHROMIUM`), `npm ci` in tests/browser and
//! `PAYHOOK_LOCALSTRIPE_PYTHON`. Without any of them the test skips with a notice, except under
//! `CI=true`, where it fails saying what to install (`.ci/run` installs them all). Screenshots go
//! to target/browser-screenshots.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use payhook_server::testing::LocalStripe;

const ADMIN_TOKEN: &str = "browser-test-admin-token-0123456789";
const MASTER_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";
/// How long the browser tests may take (they take well under a minute).
const NODE_TIME_LIMIT: Duration = Duration::from_secs(600);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether `ok`; when not, a notice that the test is skipped, or a panic under `CI=true`.
fn have(ok: bool, what: &str, install: &str) -> bool {
    if !ok {
        if under_ci() {
            panic!("the browser tests need {what}, and under CI=true they must run: {install}");
        }
        eprintln!("note: the browser tests are skipped: {what} is missing ({install})");
    }
    ok
}

/// The `payhook serve` process, killed when dropped (also when the test fails).
struct Server {
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A plain HTTP/1.1 GET's status line, or "" when nothing answers.
fn status_line(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
    );
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn the_dashboard_in_chromium() {
    let root = repo_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let playwright = root.join("tests/browser/node_modules/playwright-core");
    if !have(node_ok, "Node.js (node)", "install Node.js 20 or later")
        || !have(
            Path::new(&chromium).is_file(),
            &format!("Chromium at {chromium}"),
            "apt-get install -y chromium, or set CHROMIUM to the browser",
        )
        || !have(
            playwright.is_dir(),
            "playwright-core in tests/browser/node_modules",
            "run `npm ci` in tests/browser",
        )
    {
        return;
    }
    // Prints its own notice, and panics under CI, when PAYHOOK_LOCALSTRIPE_PYTHON is not set.
    let Some(ls) = LocalStripe::start() else {
        return;
    };

    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("payhook.db").display());
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("payhook-engine-cache");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let url = format!("http://{addr}");
    let log = dir.path().join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_payhook"))
        .args([
            "serve",
            "--addr",
            &addr,
            "--stripe-api-base",
            &ls.base,
            "--database",
            &database,
        ])
        .current_dir(dir.path())
        .env("PAYHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("PAYHOOK_MASTER_KEY", MASTER_KEY)
        .env("PAYHOOK_CACHE_DIR", &cache)
        .env_remove("PAYHOOK_PUBLIC_URL")
        .env_remove("PAYHOOK_SERVER")
        .env_remove("PAYHOOK_DATABASE")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start payhook serve");
    let server = Server { child, log };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !status_line(&addr, "/healthz").starts_with("HTTP/1.1 200") {
        assert!(
            Instant::now() < deadline,
            "the server did not come up: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let screenshots = root.join("target/browser-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let screenshots = screenshots.canonicalize().unwrap();
    println!("browser screenshots: {}", screenshots.display());
    let started = Instant::now();
    let mut node = Command::new("node")
        .args([
            "--test",
            "--test-reporter=spec",
            "tests/browser/dashboard.test.mjs",
        ])
        .current_dir(&root)
        .env("PAYHOOK_URL", &url)
        .env("PAYHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("PAYHOOK_MASTER_KEY", MASTER_KEY)
        .env("PAYHOOK_BIN", env!("CARGO_BIN_EXE_payhook"))
        .env("PAYHOOK_DATABASE", &database)
        .env("PAYHOOK_CACHE_DIR", &cache)
        .env("LOCALSTRIPE_URL", &ls.base)
        .env("SCREENSHOT_DIR", &screenshots)
        .env("CHROMIUM", &chromium)
        .env_remove("PAYHOOK_PUBLIC_URL")
        .env_remove("PAYHOOK_SERVER")
        .stdin(Stdio::null())
        .spawn()
        .expect("run node");
    // node:test sets no time limit: a browser that hangs must not hang the test run.
    let status = loop {
        if let Some(status) = node.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > NODE_TIME_LIMIT {
            let _ = node.kill();
            let _ = node.wait();
            panic!(
                "the browser tests did not finish in {} s; screenshots in {}; the server's log:\n{}",
                NODE_TIME_LIMIT.as_secs(),
                screenshots.display(),
                server.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "browser tests took {:.1} s; screenshots: {}",
        started.elapsed().as_secs_f64(),
        screenshots.display()
    );
    assert!(
        status.success(),
        "the browser tests failed ({status}); screenshots in {}; the server's log:\n{}",
        screenshots.display(),
        server.log()
    );
    drop(server);
    drop(ls);
}
