//! `payhook`: the reference server, its admin CLI and the conformance suite.

mod admin;
mod conformance;
mod fixtures;
mod import;
mod plugin;
mod trigger;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use payhook_runtime::{HmacSource, Runtime, RuntimeConfig};

#[derive(Parser)]
#[command(
    name = "payhook",
    version,
    about = "The payhook Stripe payments engine: reference server, admin CLI and conformance suite"
)]
struct Cli {
    /// The database: sqlite://PATH or postgres://USER@HOST:PORT/DB.
    #[arg(
        long,
        global = true,
        env = "PAYHOOK_DATABASE",
        default_value = "sqlite://payhook.db"
    )]
    database: String,
    /// The URL Stripe reaches the server at, for the webhook URLs shown (default: the
    /// server's own address, http://127.0.0.1:8080).
    #[arg(long, global = true, env = "PAYHOOK_PUBLIC_URL")]
    public_url: Option<String>,
    /// Print JSON, for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// The plugins directory: NAME.wasm with its NAME.json manifest per plugin.
    #[arg(long, global = true, env = "PAYHOOK_PLUGINS_DIR", value_name = "DIR")]
    plugins_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server: webhooks at /webhooks/stripe/{tenant}/{mode}, the admin API at /api/v1.
    Serve {
        /// Where to listen (loopback by default; put a TLS proxy in front for Stripe).
        #[arg(long, env = "PAYHOOK_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Only receive and store; leave processing to other nodes.
        #[arg(long)]
        no_process: bool,
        /// Stripe's API base URL (a fake such as localstripe for tests).
        #[arg(long, env = "PAYHOOK_STRIPE_API_BASE", default_value = payhook_server::stripe::DEFAULT_API_BASE)]
        stripe_api_base: String,
        /// The SMTP relay plugins' e-mails go through: smtps://USER:PASSWORD@HOST[:PORT] (TLS),
        /// smtp://USER:PASSWORD@HOST[:PORT]?tls=starttls, or smtp://HOST[:PORT] for a local relay.
        /// Add ca=FILE (a PEM file) to trust a private authority's relay certificate too.
        #[arg(long, env = "PAYHOOK_SMTP_URL", hide_env_values = true)]
        smtp_url: Option<String>,
        /// The sender of those e-mails.
        #[arg(
            long,
            env = "PAYHOOK_SMTP_FROM",
            default_value = "payhook <payhook@localhost>"
        )]
        smtp_from: String,
    },
    /// Plugins: the installed ones (--plugins-dir) and which tenants they are enabled for.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Tenants and their Stripe connections.
    #[command(subcommand)]
    Tenant(admin::TenantCommand),
    /// The webhook event log.
    #[command(subcommand)]
    Events(admin::EventsCommand),
    /// Invoices.
    #[command(subcommand)]
    Invoice(admin::RecordCommand),
    /// Appointments (bookings).
    #[command(subcommand)]
    Appointment(admin::RecordCommand),
    /// Signs a sample event with a tenant's signing secret and posts it to the server.
    Trigger(trigger::Trigger),
    /// Imports a tenant's history from Stripe (events through the webhook inbox; charges,
    /// refunds, payouts, balance transactions); resumable, safe while webhooks arrive.
    Import(import::ImportArgs),
    /// Compares Stripe's events list with the inbox (after downtime) and stores what is missing.
    Reconcile(import::ReconcileArgs),
    /// Runs every signature vector and event envelope through the native engine and both builds
    /// of the component (HMAC by the host, HMAC in the sandbox), checks that they agree and that verdicts match the official SDKs' (except the
    /// documented deviations). Ends with `N passed, N failed`; exits 1 if any case failed.
    Conformance {
        /// A vectors file (format stripe-signature-vectors/1) instead of the embedded one.
        #[arg(long, value_name = "FILE")]
        vectors: Option<PathBuf>,
        /// A directory of event envelopes (*.json) instead of the embedded ones.
        #[arg(long, value_name = "DIR")]
        events: Option<PathBuf>,
        /// Print every case, not only failures.
        #[arg(long, short)]
        verbose: bool,
        /// Print one JSON object per case (`case`, `passed`, `outcome`) instead of text, then
        /// the summary line; other hosts compare their runs against this.
        #[arg(long)]
        json: bool,
    },
    /// Writes the engine component (`payhook_engine.wasm`) embedded in this binary to FILE,
    /// for hosts in other languages.
    ExportWasm {
        /// Where to write it.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let location = match payhook_server::db::Location::parse(&cli.database) {
        Ok(l) => l,
        Err(e) => return finish(Err(e.to_string())),
    };
    let ctx = admin::Ctx {
        database: location.clone(),
        public_url: cli
            .public_url
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
        json: cli.json,
    };
    match cli.command {
        Command::Serve {
            addr,
            no_process,
            stripe_api_base,
            smtp_url,
            smtp_from,
        } => {
            let config = payhook_server::server::ServeConfig {
                addr,
                database: location,
                public_url: cli.public_url,
                process: !no_process,
                stripe_api_base,
                plugins_dir: cli.plugins_dir.clone(),
                smtp: smtp_url.map(|url| (url, smtp_from)),
            };
            finish(runtime().and_then(|rt| {
                rt.block_on(payhook_server::server::serve(config))
                    .map(|_| ExitCode::SUCCESS)
                    .map_err(|e| e.to_string())
            }))
        }
        Command::Tenant(c) => finish(admin::tenant(&ctx, c).map(|_| ExitCode::SUCCESS)),
        Command::Plugin(c) => {
            finish(plugin::run(&ctx, cli.plugins_dir.as_deref(), c).map(|_| ExitCode::SUCCESS))
        }
        Command::Events(c) => finish(admin::events(&ctx, c).map(|_| ExitCode::SUCCESS)),
        Command::Invoice(c) => finish(
            admin::record(&ctx, payhook_server::records::RecordKind::Invoice, c)
                .map(|_| ExitCode::SUCCESS),
        ),
        Command::Appointment(c) => finish(
            admin::record(&ctx, payhook_server::records::RecordKind::Appointment, c)
                .map(|_| ExitCode::SUCCESS),
        ),
        Command::Trigger(t) => finish(
            runtime()
                .and_then(|rt| rt.block_on(trigger::run(&ctx, t)))
                .map(|_| ExitCode::SUCCESS),
        ),
        Command::Import(a) => finish(import::run_import(&ctx, a).map(|_| ExitCode::SUCCESS)),
        Command::Reconcile(a) => finish(import::run_reconcile(&ctx, a).map(|_| ExitCode::SUCCESS)),
        Command::Conformance {
            vectors,
            events,
            verbose,
            json,
        } => finish(run_conformance(vectors, events, verbose, json)),
        Command::ExportWasm { file } => finish(
            std::fs::write(&file, payhook_runtime::ENGINE_WASM)
                .map(|_| ExitCode::SUCCESS)
                .map_err(|e| format!("writing {}: {e}", file.display())),
        ),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

fn finish(result: Result<ExitCode, String>) -> ExitCode {
    result.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    })
}

fn run_conformance(
    vectors: Option<PathBuf>,
    events: Option<PathBuf>,
    verbose: bool,
    json: bool,
) -> Result<ExitCode, String> {
    let vectors_text = match &vectors {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?
        }
        None => fixtures::VECTORS.to_owned(),
    };
    let events = match &events {
        Some(dir) => read_events(dir)?,
        None => fixtures::EVENTS
            .iter()
            .map(|(n, b)| (n.to_string(), b.to_string()))
            .collect(),
    };
    // Every case through both builds of the component (HMAC by the host, and in the sandbox);
    // a case passes only if both agree with the native engine.
    let mut runs = Vec::new();
    for (hmac, build) in [
        (HmacSource::Host, "host-hmac build"),
        (HmacSource::Component, "in-component hmac build"),
    ] {
        let runtime = Runtime::new(RuntimeConfig {
            hmac,
            ..RuntimeConfig::default()
        })
        .map_err(|e| format!("loading the engine component ({build}): {e}"))?;
        let mut these =
            conformance::run_vectors(&vectors_text, &runtime).map_err(|e| e.to_string())?;
        these.extend(conformance::run_events(&events, &runtime));
        runs.push((build, these));
    }
    let results = conformance::merge(runs);
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    let mut out = std::io::stdout().lock();
    let written = (|| -> std::io::Result<()> {
        for r in &results {
            match &r.failure {
                _ if json => writeln!(out, "{}", r.to_json())?,
                Some(why) => writeln!(out, "FAIL {} ({}): {why}", r.name, r.verdict)?,
                None if verbose => writeln!(out, "ok   {} ({})", r.name, r.verdict)?,
                None => {}
            }
        }
        writeln!(out, "{} passed, {} failed", results.len() - failed, failed)
    })();
    match written {
        // A reader that stopped early (`| head`) is not an error of ours.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("writing the report: {e}"))
        }
        _ => Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
    }
}

fn read_events(dir: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut events = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "json") {
            let body = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            events.push((
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                body,
            ));
        }
    }
    events.sort();
    if events.is_empty() {
        return Err(format!("{} holds no *.json event envelopes", dir.display()));
    }
    Ok(events)
}
