//! `--spawn`: a `payhook serve` of our own on a free loopback port, with a temporary SQLite
//! database (or the one given) and a test tenant, stopped and cleaned up afterwards.
//!
//! Everything the server and the admin CLI write (the SQLite file, the master key, the admin
//! token, the log) goes in one temporary directory, their working directory, which is removed
//! when the [`Server`] is dropped. The server is stopped through its own child handle.

use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// How long a fresh server may take to answer `/healthz` (it compiles the engine on first
/// start when there is no cache).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `payhook serve` of ours with its tenant.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The test tenant's id.
    pub tenant: String,
    /// Its webhook signing secret.
    pub secret: String,
    /// The server's process id, for its CPU time.
    pub pid: u32,
    log: PathBuf,
    // Dropped last: removes the database, keys and log.
    _dir: TempDir,
}

/// The `payhook` binary beside this executable.
pub fn default_payhook_bin() -> Result<PathBuf, String> {
    let me = std::env::current_exe()
        .map_err(|e| format!("cannot tell where payhook-load is: {e}; give --payhook-bin"))?;
    Ok(me.with_file_name(format!("payhook{}", std::env::consts::EXE_SUFFIX)))
}

fn random_token(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| format!("no random numbers from the operating system: {e}"))?;
    Ok(hex::encode(buf))
}

/// A port nobody listens on now, on 127.0.0.1.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Starts `payhook serve` from `bin` on `database` (default: a fresh SQLite file), creates a
/// test tenant and waits until the server answers `/healthz`.
pub async fn start(
    bin: &Path,
    database: Option<&str>,
    client: &reqwest::Client,
) -> Result<Server, String> {
    if !bin.is_file() {
        return Err(format!(
            "no payhook binary at {}: build it with `cargo build --release -p payhook`, or give its path with --payhook-bin",
            bin.display()
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("payhook-load-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let database = match database {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", dir.path().join("payhook.db").display()),
    };
    let secret = format!("whsec_{}", random_token(24)?);
    let tenant = create_tenant(bin, dir.path(), &database, &secret)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("serve.log");
    let out = File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(bin)
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--database",
            &database,
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {} serve: {e}", bin.display()))?;
    let pid = child.id();
    let mut server = Server {
        child: Some(child),
        base,
        tenant,
        secret,
        pid,
        log,
        _dir: dir,
    };
    server.wait_healthy(client).await?;
    Ok(server)
}

/// `payhook tenant create … --json`; the new tenant's id.
fn create_tenant(bin: &Path, dir: &Path, database: &str, secret: &str) -> Result<String, String> {
    let secret_key = format!("sk_test_load{}", random_token(12)?);
    let publishable_key = format!("pk_test_load{}", random_token(12)?);
    let output = Command::new(bin)
        .args(["tenant", "create", "--name", "load", "--mode", "test"])
        .args([
            "--secret-key",
            &secret_key,
            "--publishable-key",
            &publishable_key,
            "--webhook-secret",
            secret,
        ])
        .args(["--json", "--database", database])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} tenant create: {e}", bin.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "tenant creation failed ({}): {}",
            output.status,
            stderr.trim()
        ));
    }
    let json: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "tenant creation printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout).trim(),
            stderr.trim()
        )
    })?;
    json["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("tenant creation printed no id: {json}"))
}

impl Server {
    async fn wait_healthy(&mut self, client: &reqwest::Client) -> Result<(), String> {
        let started = Instant::now();
        let url = format!("{}/healthz", self.base);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "payhook serve exited ({status}) before it was ready; its log:\n{}",
                    self.log_tail()
                ));
            }
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "payhook serve did not answer {url} within {} s; its log:\n{}",
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the server (through its child handle) and waits for it to exit; the temporary
    /// directory goes when `self` is dropped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
