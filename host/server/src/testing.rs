//! Support for payhook's own tests (and embedders' tests): a fresh PostgreSQL database per test.
//!
//! Tests that need PostgreSQL read its URL from `PAYHOOK_TEST_POSTGRES` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Without it they skip with a printed notice, except
//! under `CI=true`, where a missing URL fails the test: CI must run them.

use crate::db::Location;

/// The variable that names the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "PAYHOOK_TEST_POSTGRES";

/// A database created for one test and dropped when this is dropped.
pub struct TempPostgres {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl TempPostgres {
    /// Where the database is.
    pub fn location(&self) -> Location {
        Location::Postgres(self.url.clone())
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = admin(&self.admin_url, &sql);
    }
}

/// A fresh, empty PostgreSQL database, or `None` (with a notice on stderr) when
/// `PAYHOOK_TEST_POSTGRES` is not set outside CI.
///
/// # Panics
/// Under `CI=true` without `PAYHOOK_TEST_POSTGRES`, or when the server cannot be reached.
pub fn fresh_postgres(test: &str) -> Option<TempPostgres> {
    let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{POSTGRES_ENV} is not set, and under CI=true the PostgreSQL tests must run");
        }
        eprintln!(
            "note: {test} skipped on PostgreSQL: set {POSTGRES_ENV}=postgres://USER@HOST:PORT/DB to run it"
        );
        return None;
    };
    let name = crate::ids::new_id("payhook_test");
    admin(&admin_url, &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| {
        panic!("{POSTGRES_ENV} is set but a test database cannot be created there: {e}")
    });
    let url = replace_database(&admin_url, &name);
    Some(TempPostgres {
        admin_url,
        name,
        url,
    })
}

/// Runs one statement on its own thread: the synchronous client starts a runtime of its own,
/// which may not happen on a thread that drives async tasks (as in a `#[tokio::test]`).
fn admin(url: &str, sql: &str) -> Result<(), String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut client =
                    postgres::Client::connect(url, postgres::NoTls).map_err(|e| e.to_string())?;
                client.batch_execute(sql).map_err(|e| e.to_string())
            })
            .join()
            .unwrap_or_else(|_| Err("the PostgreSQL admin thread panicked".into()))
    })
}

/// `postgres://u@h:p/test?x` → `postgres://u@h:p/{name}?x`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The variable that names a Python with `localstripe==1.15.10` installed.
pub const LOCALSTRIPE_ENV: &str = "PAYHOOK_LOCALSTRIPE_PYTHON";

/// localstripe, the fake Stripe, started on a free loopback port for one test and stopped when
/// this is dropped.
pub struct LocalStripe {
    child: std::process::Child,
    /// Its API base, `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalStripe {
    /// Starts localstripe with the Python named by `PAYHOOK_LOCALSTRIPE_PYTHON`, or returns
    /// `None` (with a notice on stderr) when it is not set outside CI.
    ///
    /// # Panics
    /// Under `CI=true` without the variable, or when localstripe does not listen within 30 s.
    pub fn start() -> Option<LocalStripe> {
        use std::time::{Duration, Instant};
        let Ok(python) = std::env::var(LOCALSTRIPE_ENV) else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "{LOCALSTRIPE_ENV} is not set, and under CI=true the localstripe tests must run"
                );
            }
            eprintln!(
                "note: localstripe tests skipped: set {LOCALSTRIPE_ENV} to a Python with localstripe==1.15.10"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/support/localstripe_server.py"
        );
        let child = std::process::Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start localstripe");
        let ls = LocalStripe {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "localstripe did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(ls)
    }

    /// A form POST straight to the fake (what Stripe itself would do on its side); panics
    /// unless it succeeds.
    pub async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> serde_json::Value {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let request = client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(payhook_core::stripe::params::encode(&owned));
        send(request, path).await
    }

    /// A GET straight to the fake; panics unless it succeeds.
    pub async fn get(&self, client: &reqwest::Client, path: &str) -> serde_json::Value {
        send(client.get(format!("{}{path}", self.base)), path).await
    }

    /// Tells localstripe to deliver its events to `url`, signed with `secret`.
    pub async fn send_webhooks_to(&self, client: &reqwest::Client, url: &str, secret: &str) {
        self.post(
            client,
            "/_config/webhooks/payhook",
            &[("url", url), ("secret", secret)],
        )
        .await;
    }
}

/// Sends a request to localstripe (any key will do) and reads its JSON answer; panics unless it
/// succeeds.
async fn send(request: reqwest::RequestBuilder, path: &str) -> serde_json::Value {
    let r = request
        .basic_auth("sk_test_localstripe", Some(""))
        .send()
        .await
        .expect("localstripe answers");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{path}: {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            super::replace_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            super::replace_database("postgres://u@h:5432/test?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            super::replace_database("postgres://u@h", "x"),
            "postgres://u@h/x"
        );
    }
}
