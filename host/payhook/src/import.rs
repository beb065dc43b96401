//! `payhook import` and `payhook reconcile`: run on the database given by `--database`, with
//! the connection's key opened by the master key, as the other admin commands do. A progress
//! bar on stderr shows the pages as they are stored (hidden with `--json` or when stderr is not
//! a terminal).

use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use payhook_core::stripe::ListKind;
use payhook_server::connection::Mode;
use payhook_server::ids::now_secs;
use payhook_server::import::{
    self, Counts, ImportOptions, ImportReport, ListReport, Progress, ReconcileOptions,
    ReconcileReport, Source,
};
use payhook_server::server;
use payhook_server::stripe::StripeClient;

use crate::admin::Ctx;

#[derive(Args)]
pub struct ImportArgs {
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// The connection's mode (default: the tenant's only connection).
    #[arg(long)]
    mode: Option<Mode>,
    /// Import what was created from this date on: YYYY-MM-DD (UTC) or unix seconds.
    #[arg(long)]
    since: String,
    /// Only these lists (default: all of them).
    #[arg(long, value_delimiter = ',', value_parser = parse_list)]
    lists: Option<Vec<ListKind>>,
    /// Objects per page (1 to 100).
    #[arg(long, default_value_t = import::PAGE_SIZE, value_parser = clap::value_parser!(u32).range(1..=100))]
    page_size: u32,
    /// Stop each list after this many pages; the next run goes on from there.
    #[arg(long)]
    max_pages: Option<u32>,
    /// Page everything from --since again, ignoring what earlier runs got through.
    #[arg(long)]
    restart: bool,
    /// Stripe's API base URL (a fake such as localstripe for tests).
    #[arg(long, env = "PAYHOOK_STRIPE_API_BASE", default_value = payhook_server::stripe::DEFAULT_API_BASE)]
    stripe_api_base: String,
}

#[derive(Args)]
pub struct ReconcileArgs {
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// The connection's mode (default: the tenant's only connection).
    #[arg(long)]
    mode: Option<Mode>,
    /// Compare events created from this date on: YYYY-MM-DD (UTC) or unix seconds (default:
    /// from where the last reconcile got to, or three days before the newest stored event).
    #[arg(long)]
    since: Option<String>,
    /// Stripe's API base URL (a fake such as localstripe for tests).
    #[arg(long, env = "PAYHOOK_STRIPE_API_BASE", default_value = payhook_server::stripe::DEFAULT_API_BASE)]
    stripe_api_base: String,
}

fn parse_list(text: &str) -> Result<ListKind, String> {
    import::LISTS
        .into_iter()
        .find(|l| import::list_name(*l) == text)
        .ok_or_else(|| {
            format!(
                "no list {text:?}; the lists are {}",
                import::LISTS.map(import::list_name).join(", ")
            )
        })
}

/// The progress bar: a spinner with the current list's counts.
struct Bar(ProgressBar);

impl Bar {
    fn new(ctx: &Ctx) -> Bar {
        let visible = !ctx.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = ProgressBar::with_draw_target(
            None,
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Bar(bar)
    }
}

impl Progress for Bar {
    fn page(&self, list: ListKind, c: &Counts) {
        self.0.set_message(format!(
            "{}: {} fetched, {} new, {} already here",
            import::list_name(list),
            c.fetched,
            c.new,
            c.present
        ));
    }

    fn finished(&self, r: &ListReport) {
        self.0
            .set_message(format!("{}: done", import::list_name(r.list)));
    }
}

fn list_line(r: &ListReport) -> String {
    format!(
        "{:<21} {:<11} {:>6} fetched {:>6} new {:>6} already here{}{}",
        import::list_name(r.list),
        format!("{:?}", r.start).to_lowercase(),
        r.counts.fetched,
        r.counts.new,
        r.counts.present,
        if r.counts.skipped > 0 {
            format!(" {:>6} skipped", r.counts.skipped)
        } else {
            String::new()
        },
        if r.complete {
            ""
        } else {
            "  (stopped; run again to go on)"
        },
    )
}

fn open(ctx: &Ctx, tenant: &str, mode: Option<Mode>) -> Result<(Source, server::Opened), String> {
    let (opened, _) = server::open(&ctx.database).map_err(|e| e.to_string())?;
    let mut conn = opened.db.conn().map_err(|e| e.to_string())?;
    let source =
        Source::open(&mut conn, &opened.sealer, tenant, mode).map_err(|e| e.to_string())?;
    Ok((source, opened))
}

/// Opens the connection first (the database clients block), then pages on an async runtime.
pub fn run_import(ctx: &Ctx, args: ImportArgs) -> Result<(), String> {
    let since = import::parse_since(&args.since, now_secs()).map_err(|e| e.to_string())?;
    let (source, opened) = open(ctx, &args.tenant, args.mode)?;
    let options = ImportOptions {
        lists: args.lists.unwrap_or_else(|| import::LISTS.to_vec()),
        page_size: args.page_size,
        max_pages: args.max_pages,
        restart: args.restart,
        ..ImportOptions::since(since)
    };
    let bar = Bar::new(ctx);
    let stripe = StripeClient::new(&args.stripe_api_base);
    let result =
        crate::runtime()?.block_on(import::import(&opened.db, &stripe, &source, &options, &bar));
    bar.0.finish_and_clear();
    let report = result.map_err(|e| e.to_string())?;
    print_import(ctx, &report);
    Ok(())
}

fn print_import(ctx: &Ctx, r: &ImportReport) {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        return;
    }
    println!(
        "{} {}: imported what was created from {}",
        r.tenant,
        r.mode,
        import::format_time(r.since)
    );
    for l in &r.lists {
        println!("  {}", list_line(l));
    }
    if !r.complete {
        println!("stopped before the end of every list; run the same command again to go on");
    }
}

/// As [`run_import`].
pub fn run_reconcile(ctx: &Ctx, args: ReconcileArgs) -> Result<(), String> {
    let since = args
        .since
        .as_deref()
        .map(|s| import::parse_since(s, now_secs()))
        .transpose()
        .map_err(|e| e.to_string())?;
    let (source, opened) = open(ctx, &args.tenant, args.mode)?;
    let bar = Bar::new(ctx);
    let stripe = StripeClient::new(&args.stripe_api_base);
    let options = ReconcileOptions {
        since,
        ..ReconcileOptions::default()
    };
    let result = crate::runtime()?.block_on(import::reconcile(
        &opened.db, &stripe, &source, &options, &bar,
    ));
    bar.0.finish_and_clear();
    let report = result.map_err(|e| e.to_string())?;
    print_reconcile(ctx, &report);
    Ok(())
}

fn print_reconcile(ctx: &Ctx, r: &ReconcileReport) {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        return;
    }
    println!(
        "{} {}: events created {} to {}{}: {} listed, {} in the inbox, {} missing, {} stored now",
        r.tenant,
        r.mode,
        import::format_time(r.since),
        import::format_time(r.through),
        if r.default_since {
            " (default start)"
        } else {
            ""
        },
        r.listed,
        r.present,
        r.missing.len(),
        r.inserted.len()
    );
    for id in &r.inserted {
        println!("  stored {id}");
    }
    for id in r.missing.iter().filter(|id| !r.inserted.contains(id)) {
        println!("  {id} arrived by webhook meanwhile");
    }
}
