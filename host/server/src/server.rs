//! `payhook serve`: opens the database, loads the keys, starts the writer and serves HTTP until
//! interrupted (Ctrl-C or SIGTERM), then lets the writer finish its batch.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;

use crate::admin_token::{AdminToken, TokenSource, token_file_for};
use crate::db::{Database, Location};
use crate::http::{AppState, app};
use crate::inbox::{Writer, WriterConfig};
use crate::master_key::{KeySource, key_file_beside};
use crate::metrics::Metrics;
use crate::seal::MasterKey;
use crate::seal::Sealer;

/// How `payhook serve` runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The database.
    pub database: Location,
    /// The URL Stripe reaches this server at, for the webhook URLs shown.
    pub public_url: Option<String>,
    /// Whether this node processes events (all do by default).
    pub process: bool,
    /// Stripe's API base URL ([`crate::stripe::DEFAULT_API_BASE`]; a fake such as localstripe
    /// in tests).
    pub stripe_api_base: String,
    /// The plugins directory (see [`crate::plugins`]); none installs no plugin.
    pub plugins_dir: Option<PathBuf>,
    /// The SMTP relay for e-mail (see [`crate::mail`]) and the sender; none sends no e-mail.
    pub smtp: Option<(String, String)>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// See the message.
    #[error("{0}")]
    Startup(String),
}

/// What a server needs besides its address: the database and the keys.
pub struct Opened {
    /// The database.
    pub db: Database,
    /// The sealer made from the master key.
    pub sealer: Sealer,
}

/// Opens the database and the master key, as every command that touches credentials does.
pub fn open(location: &Location) -> Result<(Opened, KeySource), ServeError> {
    let db = Database::open(location).map_err(|e| ServeError::Startup(e.to_string()))?;
    let key_file = master_key_file(location);
    let (key, source) =
        MasterKey::from_environment(&key_file).map_err(|e| ServeError::Startup(e.to_string()))?;
    Ok((
        Opened {
            db,
            sealer: Sealer::new(&key),
        },
        source,
    ))
}

/// The master key file for a database: beside a SQLite file; `payhook.key` in the working
/// directory for PostgreSQL (where `PAYHOOK_MASTER_KEY` is the better choice).
pub fn master_key_file(location: &Location) -> PathBuf {
    match location.sqlite_path() {
        Some(path) => key_file_beside(path),
        None => PathBuf::from("payhook.key"),
    }
}

/// The admin token for a database (see [`AdminToken::resolve`]).
pub fn admin_token(location: &Location) -> Result<(AdminToken, TokenSource), ServeError> {
    AdminToken::resolve(&token_file_for(location.sqlite_path()))
        .map_err(|e| ServeError::Startup(e.to_string()))
}

/// The public URL to show when none is configured.
pub fn default_public_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Serves until interrupted.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    // Opening is blocking work (the PostgreSQL client runs its own runtime).
    let location = config.database.clone();
    let ((opened, key_source), (token, token_source)) = tokio::task::spawn_blocking(move || {
        let opened = open(&location)?;
        let token = admin_token(&location)?;
        // Compile (or load) the engine before the first delivery waits for it.
        crate::engine::runtime().map_err(|e| ServeError::Startup(e.to_string()))?;
        Ok::<_, ServeError>((opened, token))
    })
    .await
    .map_err(|e| ServeError::Startup(e.to_string()))??;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|e| ServeError::Startup(format!("cannot listen on {}: {e}", config.addr)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Startup(e.to_string()))?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| default_public_url(addr));
    // Plugins are compiled and checked before anything starts: a bad one stops the start-up.
    let plugins = std::sync::Arc::new(load_plugins(config.plugins_dir.as_deref())?);
    let metrics = Metrics::new();
    let (writer, thread) = Writer::start(
        opened.db.clone(),
        WriterConfig {
            process: config.process,
            ..WriterConfig::default()
        },
        metrics.clone(),
    );
    let opened_db = opened.db.clone();
    let worker_sealer = opened.sealer.clone();
    let state = AppState::new(
        opened.db,
        opened.sealer,
        writer.clone(),
        metrics,
        token,
        &public_url,
        crate::stripe::StripeClient::new(&config.stripe_api_base),
    );
    let state = if plugins.list.is_empty() {
        state
    } else {
        state.with_filters(std::sync::Arc::new(crate::plugins::PluginFilters::new(
            opened_db.clone(),
            plugins.clone(),
        )))
    };
    tracing::info!(
        %addr,
        database = %config.database.display(),
        master_key = %describe_key(&key_source),
        admin_token = %describe_token(&token_source),
        dashboard = %format!("http://{addr}/"),
        "payhook is listening"
    );
    // Plugins are called by a worker of their own, after the events' transactions: a plugin
    // never holds up a delivery or a state change. Nodes that process run it (with the same
    // plugins directory on every such node).
    let stop_plugins = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let plugin_worker = if config.process {
        let plugins = plugins.clone();
        let names: Vec<&str> = plugins
            .list
            .iter()
            .map(|p| p.manifest.name.as_str())
            .collect();
        tracing::info!(plugins = %names.join(", "), "plugins installed");
        let mailer = match &config.smtp {
            Some((url, from)) => Some(
                crate::mail::Mailer::new(url, from)
                    .map_err(|e| ServeError::Startup(e.to_string()))?,
            ),
            None => None,
        };
        let (db, stop, sealer) = (opened_db.clone(), stop_plugins.clone(), worker_sealer);
        Some(
            std::thread::Builder::new()
                .name("payhook-plugins".into())
                .spawn(move || {
                    crate::plugins::run_worker(
                        db,
                        plugins,
                        sealer,
                        mailer,
                        stop,
                        std::time::Duration::from_millis(200),
                    )
                })
                .map_err(|e| ServeError::Startup(format!("cannot start the plugin worker: {e}")))?,
        )
    } else {
        None
    };
    let (stop_links, links_stopped) = tokio::sync::oneshot::channel::<()>();
    let links = tokio::spawn(crate::http::run_link_worker(state.clone(), async move {
        let _ = links_stopped.await;
    }));
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    let _ = stop_links.send(());
    let _ = links.await;
    stop_plugins.store(true, std::sync::atomic::Ordering::SeqCst);
    if let Some(worker) = plugin_worker {
        let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    }
    writer.stop();
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .ok();
    served.map_err(|e| ServeError::Startup(e.to_string()))
}

/// The plugins in `dir` (none without one), or why they cannot be installed.
pub fn load_plugins(dir: Option<&std::path::Path>) -> Result<crate::plugins::Plugins, ServeError> {
    match dir {
        Some(dir) => {
            crate::plugins::Plugins::load_dir(dir).map_err(|e| ServeError::Startup(e.to_string()))
        }
        None => crate::plugins::Plugins::none().map_err(|e| ServeError::Startup(e.to_string())),
    }
}

fn describe_key(source: &KeySource) -> String {
    match source {
        KeySource::Env => "from PAYHOOK_MASTER_KEY".to_owned(),
        KeySource::ExistingFile(p) => format!("from {}", p.display()),
        KeySource::CreatedFile(p) => format!(
            "created {} (keep it safe: without it the stored keys cannot be opened)",
            p.display()
        ),
    }
}

fn describe_token(source: &TokenSource) -> String {
    match source {
        TokenSource::Env => "from PAYHOOK_ADMIN_TOKEN".to_owned(),
        TokenSource::File(p) => format!("in {}", p.display()),
        TokenSource::CreatedFile(p) => format!("created in {}", p.display()),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing the current batch");
}
