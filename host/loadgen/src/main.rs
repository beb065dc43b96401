//! `payhook-load`: a load generator for payhook's webhook endpoint.
//!
//! It posts signed, unique `payment_intent.succeeded` deliveries to
//! `POST {url}/webhooks/stripe/{tenant}/{mode}`, in a closed loop (`--concurrency N`) or an open
//! loop (`--rate R`), and reports acknowledgements per second and latency percentiles. With
//! `--spawn` it runs its own `payhook serve` on a temporary database. It only ever talks to
//! loopback addresses.

mod cli;
mod delivery;
mod load;
mod probe;
mod report;
mod spawn;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::cli::{Cli, check, loopback_base};
use crate::load::Target;
use crate::probe::{ServerDelta, cpu_seconds, server_counters};
use crate::report::Report;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("payhook-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let limit = check(&cli)?;
    let pool = cli.concurrency.map_or(cli.max_in_flight, |c| c as usize);
    // Built beside payhook-server (e.g. `cargo build -p payhook -p payhook-load`), reqwest has
    // rustls without a provider; install one so the client can be built either way.
    drop(rustls::crypto::ring::default_provider().install_default());
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs_f64(cli.timeout))
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", load::describe(&e)))?;
    let mut server = None;
    let (base, tenant, secret) = if cli.spawn {
        let bin = match &cli.payhook_bin {
            Some(b) => b.clone(),
            None => spawn::default_payhook_bin()?,
        };
        let s = spawn::start(&bin, cli.database.as_deref(), &client).await?;
        let parts = (s.base.clone(), s.tenant.clone(), s.secret.clone());
        server = Some(s);
        parts
    } else {
        let base = loopback_base(cli.url.as_deref().unwrap_or_default())?;
        reachable(&client, &base).await?;
        (
            base,
            cli.tenant.clone().unwrap_or_default(),
            cli.secret.clone().unwrap_or_default(),
        )
    };
    let live = cli.mode == "live";
    let target = Arc::new(Target {
        client: client.clone(),
        url: format!("{base}/webhooks/stripe/{tenant}/{}", cli.mode),
        secret,
        template: delivery::Template::new(live)?,
        ids: delivery::Ids::new()?,
    });
    let server_pid = server.as_ref().map(|s| s.pid);
    // The server's CPU time is known only for a server of ours.
    let server_cpu_now = || server_pid.and_then(|pid| cpu_seconds(Some(pid)));
    let before = (
        server_counters(&client, &base).await,
        server_cpu_now(),
        cpu_seconds(None),
    );
    let (stats, elapsed) = tokio::select! {
        done = async {
            match (cli.concurrency, cli.rate) {
                (Some(c), _) => Ok(load::closed_loop(target.clone(), c as usize, limit).await),
                (_, Some(r)) => load::open_loop(target.clone(), r, limit, cli.max_in_flight).await,
                _ => Err("give --concurrency or --rate".to_owned()),
            }
        } => done?,
        _ = tokio::signal::ctrl_c() => return Err("interrupted".into()),
    };
    let after = (
        server_counters(&client, &base).await,
        server_cpu_now(),
        cpu_seconds(None),
    );
    let server_cpu = before.1.zip(after.1).map(|(b, a)| a - b);
    let report = Report {
        mode: if cli.concurrency.is_some() {
            "closed"
        } else {
            "open"
        },
        concurrency: cli.concurrency.map(|c| c as usize),
        rate: cli.rate,
        url: target.url.clone(),
        stats,
        elapsed,
        server: before
            .0
            .zip(after.0)
            .map(|(b, a)| ServerDelta::between(b, a, server_cpu)),
        generator_cpu: before.2.zip(after.2).map(|(b, a)| a - b),
    };
    if let Some(mut s) = server {
        s.stop();
    }
    if cli.json {
        println!("{}", report.json());
    } else {
        println!("{}", report.text());
    }
    if report.stats.acks == 0 {
        return Err(format!(
            "no delivery was acknowledged ({} sent); see the counts above",
            report.stats.sent
        ));
    }
    Ok(())
}

/// Checks that a payhook server answers at `base`.
async fn reachable(client: &reqwest::Client, base: &str) -> Result<(), String> {
    match client.get(format!("{base}/healthz")).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!(
            "{base}/healthz answered {}; is that a healthy payhook server?",
            r.status()
        )),
        Err(e) => Err(format!(
            "cannot reach {base}: {}; is `payhook serve` running there?",
            load::describe(&e)
        )),
    }
}
