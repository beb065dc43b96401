//! The command line: what to send, how, and where; checked before anything is sent.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser};
use reqwest::Url;

use crate::load::Limit;

/// `payhook-load`'s arguments.
#[derive(Parser)]
#[command(
    name = "payhook-load",
    version,
    about = "Load generator for payhook's webhook endpoint: signed, unique Stripe deliveries"
)]
#[command(group(ArgGroup::new("shape").required(true).args(["concurrency", "rate"])))]
pub struct Cli {
    /// Closed loop: this many senders, each sending its next delivery when the previous one
    /// is answered.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: Option<u32>,
    /// Open loop: this many deliveries a second, sent on schedule whatever the answers;
    /// latency counts from the scheduled time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many deliveries (whichever of this and --duration comes first).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Give up on an answer after this many seconds (counted as a `timeout` error).
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Open loop: at most this many deliveries awaiting an answer; later ones wait, and the
    /// wait counts in their latency.
    #[arg(long, default_value_t = 1024)]
    pub max_in_flight: usize,
    /// The server, e.g. http://127.0.0.1:8080 (loopback addresses only).
    #[arg(long, required_unless_present = "spawn", conflicts_with = "spawn")]
    pub url: Option<String>,
    /// The tenant id the deliveries go to.
    #[arg(long, required_unless_present = "spawn", conflicts_with = "spawn")]
    pub tenant: Option<String>,
    /// The endpoint's webhook signing secret, `whsec_…` (or set PAYHOOK_LOAD_SECRET).
    #[arg(
        long,
        env = "PAYHOOK_LOAD_SECRET",
        hide_env_values = true,
        required_unless_present = "spawn",
        conflicts_with = "spawn"
    )]
    pub secret: Option<String>,
    /// The endpoint's mode, `test` or `live`.
    #[arg(long, default_value = "test", value_parser = ["test", "live"])]
    pub mode: String,
    /// Start a `payhook serve` of our own on a free 127.0.0.1 port, with a test tenant, and
    /// stop it afterwards.
    #[arg(long)]
    pub spawn: bool,
    /// With --spawn: the payhook binary (default: the one beside payhook-load).
    #[arg(long, requires = "spawn")]
    pub payhook_bin: Option<PathBuf>,
    /// With --spawn: the database, e.g. postgres://USER@127.0.0.1:5432/DB (default: a fresh
    /// SQLite file in a temporary directory).
    #[arg(long, requires = "spawn")]
    pub database: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Checks the numbers clap cannot, and gives the run's limit.
pub fn check(cli: &Cli) -> Result<Limit, String> {
    if !(cli.duration.is_finite() && cli.duration > 0.0 && cli.duration <= 86_400.0) {
        return Err(format!(
            "--duration must be between 0 and 86400 seconds, not {}",
            cli.duration
        ));
    }
    if !(cli.timeout.is_finite() && cli.timeout > 0.0 && cli.timeout <= 3600.0) {
        return Err(format!(
            "--timeout must be between 0 and 3600 seconds, not {}",
            cli.timeout
        ));
    }
    if let Some(r) = cli.rate
        && !(r.is_finite() && r > 0.0 && r <= 1_000_000.0)
    {
        return Err(format!(
            "--rate must be above 0 and at most 1000000 a second, not {r}"
        ));
    }
    if cli.max_in_flight == 0 {
        return Err("--max-in-flight must be at least 1".into());
    }
    if let Some(db) = &cli.database {
        loopback_database(db)?;
    }
    if cli.requests == Some(0) {
        return Err("--requests must be at least 1".into());
    }
    Ok(Limit {
        duration: Duration::from_secs_f64(cli.duration),
        requests: cli.requests,
    })
}

/// The server's base URL without a trailing slash, if it is plain HTTP on a loopback address.
pub fn loopback_base(url: &str) -> Result<String, String> {
    let parsed = Url::parse(url).map_err(|e| {
        format!("--url {url:?} is not a URL ({e}); give e.g. http://127.0.0.1:8080")
    })?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "--url {url:?}: only http:// is supported (payhook-load talks to a local server)"
        ));
    }
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(url.trim_end_matches('/').to_owned()),
        _ => Err(format!(
            "--url {url:?}: payhook-load only sends to a loopback address such as 127.0.0.1, not {host:?}"
        )),
    }
}

/// Refuses a PostgreSQL URL whose host is not a loopback address (a socket path or no host is
/// fine): the spawned server must only connect on this machine.
fn loopback_database(url: &str) -> Result<(), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok(());
    }
    let parsed =
        Url::parse(url).map_err(|e| format!("--database is not a PostgreSQL URL ({e})"))?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    match host.parse::<IpAddr>() {
        _ if host.is_empty() => Ok(()),
        Ok(ip) if ip.is_loopback() => Ok(()),
        _ => Err(format!(
            "--database: the spawned server only connects to a loopback address such as 127.0.0.1, not {host:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_to_loopback_is_accepted() {
        assert_eq!(
            loopback_base("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(loopback_base("http://[::1]:8080").is_ok());
        assert!(
            loopback_base("http://10.0.0.1:8080")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(
            loopback_base("http://example.invalid")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(
            loopback_base("https://127.0.0.1")
                .unwrap_err()
                .contains("http://")
        );
        assert!(loopback_base("127.0.0.1:8080").is_err());
        assert!(
            loopback_base("not a url")
                .unwrap_err()
                .contains("not a URL")
        );
    }
}
