//! The admin commands: `tenant`, `events`, `invoice` and `appointment`, run directly on the
//! database given by `--database` (the same one `payhook serve` uses; SQLite and PostgreSQL
//! both take writes from several processes).

use std::time::Duration;

use clap::{Args, Subcommand};
use payhook_core::secret::WebhookSecret;
use payhook_server::connection::{ConnectionInput, Mode};
use payhook_server::db::{DbConn, Location};
use payhook_server::http::api::{
    create_finalized, new_state, parse_amount, tenant_json, wants_payment_link,
};
use payhook_server::ids::now_secs;
use payhook_server::inbox::{self, EventFilter};
use payhook_server::records::{self, NewRecord, RecordKind};
use payhook_server::secret::Secret;
use payhook_server::server;
use payhook_server::tenants::{self, TenantView};
use serde_json::{Value, json};

/// What every admin command needs.
pub struct Ctx {
    pub database: Location,
    pub public_url: String,
    pub json: bool,
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Creates a tenant with its first Stripe connection; prints its id and webhook URL.
    Create(CreateTenant),
    /// Adds a connection in the other mode to a tenant.
    Connect {
        /// The tenant.
        id: String,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Lists tenants (keys masked).
    List,
    /// Shows one tenant (keys masked) with its webhook URLs.
    Show {
        /// The tenant.
        id: String,
    },
    /// Replaces a connection's secret key.
    RotateKey {
        /// The tenant.
        id: String,
        /// The connection's mode.
        #[arg(long, default_value = "test")]
        mode: Mode,
        /// The new `sk_…` or `rk_…` key (or set PAYHOOK_STRIPE_SECRET_KEY).
        #[arg(long, env = "PAYHOOK_STRIPE_SECRET_KEY", hide_env_values = true)]
        secret_key: String,
    },
    /// Makes a new webhook signing secret current; the old one keeps verifying for the overlap.
    RollWebhookSecret {
        /// The tenant.
        id: String,
        /// The connection's mode.
        #[arg(long, default_value = "test")]
        mode: Mode,
        /// The new `whsec_…` secret (or set PAYHOOK_WEBHOOK_SECRET).
        #[arg(long, env = "PAYHOOK_WEBHOOK_SECRET", hide_env_values = true)]
        webhook_secret: String,
        /// How long the old secret keeps verifying, in hours (Stripe's roll: 24).
        #[arg(long, default_value_t = 24)]
        overlap_hours: u64,
    },
    /// Stops a connection taking payments (webhooks are still stored and processed).
    Disable {
        /// The tenant.
        id: String,
        /// The connection's mode.
        #[arg(long, default_value = "test")]
        mode: Mode,
    },
    /// Enables a disabled connection.
    Enable {
        /// The tenant.
        id: String,
        /// The connection's mode.
        #[arg(long, default_value = "test")]
        mode: Mode,
    },
    /// Destroys a connection's credentials; its events and records are kept. Its webhook URL
    /// refuses deliveries from then on.
    Disconnect {
        /// The tenant.
        id: String,
        /// The connection's mode.
        #[arg(long, default_value = "test")]
        mode: Mode,
    },
}

#[derive(Args)]
pub struct CreateTenant {
    /// The tenant's name, e.g. "Smile Dental".
    #[arg(long)]
    name: String,
    #[command(flatten)]
    connection: ConnectionArgs,
}

#[derive(Args)]
pub struct ConnectionArgs {
    /// `test` or `live`.
    #[arg(long, default_value = "test")]
    mode: Mode,
    /// The connection's name (default: the tenant's name).
    #[arg(long)]
    connection_name: Option<String>,
    /// The secret (`sk_…`) or restricted (`rk_…`) key (or set PAYHOOK_STRIPE_SECRET_KEY).
    #[arg(long, env = "PAYHOOK_STRIPE_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// The publishable key (`pk_…`).
    #[arg(long)]
    publishable_key: Option<String>,
    /// The webhook signing secret (`whsec_…`) Stripe shows for this endpoint (or set
    /// PAYHOOK_WEBHOOK_SECRET).
    #[arg(long, env = "PAYHOOK_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// The default currency, e.g. `eur`.
    #[arg(long)]
    currency: Option<String>,
}

impl ConnectionArgs {
    fn input(&self, tenant_name: &str) -> ConnectionInput {
        ConnectionInput {
            name: self
                .connection_name
                .clone()
                .unwrap_or_else(|| tenant_name.to_owned()),
            mode: self.mode,
            secret_key: self.secret_key.clone().map(Secret::new),
            publishable_key: self.publishable_key.clone().map(Secret::new),
            webhook_secret: self.webhook_secret.clone().map(WebhookSecret::new),
            default_currency: self.currency.clone(),
            enabled: true,
        }
    }
}

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Lists a tenant's events, newest first.
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Only this status: received, processed, ignored, failed, dead.
        #[arg(long)]
        status: Option<String>,
        /// Only this event type.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// At most this many (1–500).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Only events before this sequence number (the next page).
        #[arg(long)]
        before: Option<i64>,
    },
    /// Shows one event with its payload and what processing decided.
    Show {
        /// The event id, `evt_…`.
        event_id: String,
        /// The tenant (needed only when two tenants hold the same event id).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Processes an event again from its stored body (safe: records ignore what they hold).
    Replay {
        /// The event id, `evt_…`.
        event_id: String,
        /// The tenant (needed only when two tenants hold the same event id).
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum RecordCommand {
    /// Creates one; prints its id.
    Create {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The amount as a decimal, e.g. 20.00 (2000 for JPY).
        #[arg(long)]
        amount: String,
        /// The currency, e.g. eur (default: the connection's default currency).
        #[arg(long)]
        currency: Option<String>,
        /// Your customer reference.
        #[arg(long)]
        customer: Option<String>,
        /// A description (invoices).
        #[arg(long)]
        description: Option<String>,
        /// When the appointment starts, unix seconds (appointments).
        #[arg(long)]
        starts_at: Option<i64>,
        /// Metadata, KEY=VALUE; repeatable.
        #[arg(long = "metadata", value_name = "KEY=VALUE")]
        metadata: Vec<String>,
        /// Invoices: make no Payment Link (by default the running server makes one when the
        /// tenant has an enabled connection; `invoice show` gives its URL).
        #[arg(long)]
        no_payment_link: bool,
    },
    /// Shows one, with its status and amounts in minor units (and an invoice's Payment Link).
    Show {
        /// The id.
        id: String,
    },
    /// Lists a tenant's, newest first.
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

type Result<T> = std::result::Result<T, String>;

pub(crate) fn connect_db(ctx: &Ctx) -> Result<(DbConn, payhook_server::seal::Sealer)> {
    let (opened, _) = server::open(&ctx.database).map_err(|e| e.to_string())?;
    let conn = opened.db.conn().map_err(|e| e.to_string())?;
    Ok((conn, opened.sealer))
}

pub(crate) fn print(ctx: &Ctx, value: &Value, text: impl FnOnce() -> String) {
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", text());
    }
}

fn tenant_text(t: &TenantView, url: &str) -> String {
    let mut out = format!("{}  {}\n", t.id, t.name);
    for c in &t.connections {
        let state = match (c.disconnected_at, c.enabled) {
            (Some(_), _) => "disconnected",
            (None, true) => "enabled",
            (None, false) => "disabled",
        };
        out.push_str(&format!(
            "  {} \"{}\" {state}\n    secret key      {}\n    publishable key {}\n    webhook URL     {}{}\n",
            c.mode,
            c.name,
            c.secret_key.as_deref().unwrap_or("-"),
            c.publishable_key.as_deref().unwrap_or("-"),
            url.trim_end_matches('/'),
            c.webhook_path
        ));
        for s in &c.webhook_secrets {
            match s.expires_at {
                None => out.push_str(&format!("    signing secret  {}\n", s.secret)),
                Some(at) => out.push_str(&format!(
                    "    signing secret  {} (rolled; verifies until {at})\n",
                    s.secret
                )),
            }
        }
    }
    out.trim_end().to_owned()
}

pub fn tenant(ctx: &Ctx, command: TenantCommand) -> Result<()> {
    let (mut conn, sealer) = connect_db(ctx)?;
    let now = now_secs();
    let view = match command {
        TenantCommand::Create(c) => tenants::create(&mut conn, &sealer, &c.name, &c.connection.input(&c.name), now),
        TenantCommand::Connect { id, connection } => {
            let name = tenants::show(&mut conn, &id).map_err(|e| e.to_string())?.map(|t| t.name).unwrap_or_default();
            tenants::connect(&mut conn, &sealer, &id, &connection.input(&name), now)
        }
        TenantCommand::List => {
            let list = tenants::list(&mut conn).map_err(|e| e.to_string())?;
            let value = Value::Array(list.iter().map(|t| tenant_json(t, &ctx.public_url)).collect());
            print(ctx, &value, || {
                if list.is_empty() {
                    "no tenants yet: `payhook tenant create --name NAME --mode test --secret-key sk_test_… --webhook-secret whsec_…`".to_owned()
                } else {
                    list.iter().map(|t| tenant_text(t, &ctx.public_url)).collect::<Vec<_>>().join("\n\n")
                }
            });
            return Ok(());
        }
        TenantCommand::Show { id } => match tenants::show(&mut conn, &id).map_err(|e| e.to_string())? {
            Some(v) => Ok(v),
            None => return Err(format!("no tenant {id:?}; `payhook tenant list` shows them")),
        },
        TenantCommand::RotateKey { id, mode, secret_key } => tenants::rotate_key(&mut conn, &sealer, &id, mode, &Secret::new(secret_key), now),
        TenantCommand::RollWebhookSecret { id, mode, webhook_secret, overlap_hours } => tenants::roll_webhook_secret(
            &mut conn,
            &sealer,
            &id,
            mode,
            &WebhookSecret::new(webhook_secret),
            Duration::from_secs(overlap_hours.saturating_mul(3600)),
            now,
        ),
        TenantCommand::Disable { id, mode } => tenants::set_enabled(&mut conn, &id, mode, false, now),
        TenantCommand::Enable { id, mode } => tenants::set_enabled(&mut conn, &id, mode, true, now),
        TenantCommand::Disconnect { id, mode } => tenants::disconnect(&mut conn, &id, mode, now),
    }
    .map_err(|e| e.to_string())?;
    print(ctx, &tenant_json(&view, &ctx.public_url), || {
        tenant_text(&view, &ctx.public_url)
    });
    Ok(())
}

pub fn events(ctx: &Ctx, command: EventsCommand) -> Result<()> {
    let (mut conn, _) = connect_db(ctx)?;
    match command {
        EventsCommand::List {
            tenant,
            status,
            event_type,
            limit,
            before,
        } => {
            if let Some(s) = &status
                && !inbox::status::ALL.contains(&s.as_str())
            {
                return Err(format!(
                    "unknown status {s:?}; use one of {}",
                    inbox::status::ALL.join(", ")
                ));
            }
            if tenants::show(&mut conn, &tenant)
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Err(format!(
                    "no tenant {tenant:?}; `payhook tenant list` shows them"
                ));
            }
            let list = inbox::list(
                &mut conn,
                &tenant,
                &EventFilter {
                    status,
                    event_type,
                    before,
                    limit,
                },
            )
            .map_err(|e| e.to_string())?;
            let value = serde_json::to_value(&list).unwrap_or(Value::Null);
            print(ctx, &value, || {
                if list.is_empty() {
                    return "no events".to_owned();
                }
                list.iter()
                    .map(|e| {
                        let why = e
                            .reason
                            .as_deref()
                            .or(e.last_error.as_deref())
                            .map(|r| format!("  ({r})"))
                            .unwrap_or_default();
                        format!(
                            "{:>6}  {}  {:<40} {:<9} attempts {}{why}",
                            e.seq, e.event_id, e.event_type, e.status, e.attempts
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        EventsCommand::Show { event_id, tenant } => {
            let tenant = which_tenant(&mut conn, &event_id, tenant)?;
            let event = inbox::show(&mut conn, &tenant, &event_id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no event {event_id:?}"))?;
            let value = serde_json::to_value(&event).unwrap_or(Value::Null);
            print(ctx, &value, || {
                serde_json::to_string_pretty(&value).unwrap_or_default()
            });
        }
        EventsCommand::Replay { event_id, tenant } => {
            let tenant = which_tenant(&mut conn, &event_id, tenant)?;
            if !inbox::replay(&mut conn, &tenant, &event_id).map_err(|e| e.to_string())? {
                return Err(format!("no event {event_id:?}"));
            }
            print(
                ctx,
                &json!({"replayed": true, "event_id": event_id, "tenant_id": tenant}),
                || {
                    format!(
                        "{event_id} is queued again; a running server processes it within a second"
                    )
                },
            );
        }
    }
    Ok(())
}

fn which_tenant(conn: &mut DbConn, event_id: &str, tenant: Option<String>) -> Result<String> {
    if let Some(t) = tenant {
        return Ok(t);
    }
    let found = inbox::find_tenant(conn, event_id).map_err(|e| e.to_string())?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("no event {event_id:?}")),
        _ => Err(format!(
            "{} tenants hold an event {event_id:?}; name one with --tenant",
            found.len()
        )),
    }
}

pub fn record(ctx: &Ctx, kind: RecordKind, command: RecordCommand) -> Result<()> {
    let (mut conn, _) = connect_db(ctx)?;
    let record = match command {
        RecordCommand::Create {
            tenant,
            amount,
            currency,
            customer,
            description,
            starts_at,
            metadata,
            no_payment_link,
        } => {
            let view = tenants::show(&mut conn, &tenant)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no tenant {tenant:?}; `payhook tenant list` shows them"))?;
            let currency = currency
                .or_else(|| view.connections.iter().find_map(|c| c.default_currency.clone()))
                .ok_or("give --currency (e.g. eur), or set a default currency on the tenant's connection")?;
            let money = parse_amount(&amount, &currency).map_err(|e| e.to_string())?;
            let state = new_state(kind, money).map_err(|e| e.to_string())?;
            let mut meta = serde_json::Map::new();
            for pair in metadata {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("metadata {pair:?} is not KEY=VALUE"))?;
                meta.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            let new = NewRecord {
                amount: money,
                customer,
                description,
                starts_at,
                metadata: Value::Object(meta),
            };
            let asked = no_payment_link.then_some(false);
            let link = kind == RecordKind::Invoice && wants_payment_link(&view, asked);
            create_finalized(&mut conn, kind, &tenant, &new, &state, link)
                .map_err(|e| e.to_string())?
        }
        RecordCommand::Show { id } => records::get(&mut conn, kind, &id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no {} {id:?}", kind.name()))?,
        RecordCommand::List {
            tenant,
            status,
            limit,
        } => {
            let list = records::list(
                &mut conn,
                kind,
                &tenant,
                status.as_deref(),
                limit.clamp(1, 500),
            )
            .map_err(|e| e.to_string())?;
            let value = serde_json::to_value(&list).unwrap_or(Value::Null);
            print(ctx, &value, || {
                list.iter()
                    .map(|r| {
                        format!(
                            "{}  {} {}  {:<18} paid {}",
                            r.id, r.amount_display, r.currency, r.status, r.amount_paid
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            return Ok(());
        }
    };
    let value = serde_json::to_value(&record).unwrap_or(Value::Null);
    print(ctx, &value, || {
        let link = match &record.payment_link {
            None => String::new(),
            Some(l) => match (&l.url, &l.error) {
                (Some(url), _) => format!("\npayment link: {url}"),
                (None, Some(e)) => format!("\npayment link {}: {e}", l.status),
                (None, None) => format!("\npayment link: {} (the server makes it)", l.status),
            },
        };
        format!(
            "{}  {} {}  status {}  paid {} refunded {} (minor units){link}",
            record.id,
            record.amount_display,
            record.currency,
            record.status,
            record.amount_paid,
            record.amount_refunded
        )
    });
    Ok(())
}

/// The connection's current signing secret, for `trigger`.
pub fn current_signing_secret(ctx: &Ctx, tenant: &str, mode: Mode) -> Result<WebhookSecret> {
    let (mut conn, sealer) = connect_db(ctx)?;
    let secrets = tenants::signing_secrets(&mut conn, &sealer, tenant, mode, now_secs())
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "no tenant {tenant:?} with a {mode} connection; `payhook tenant list` shows them"
            )
        })?;
    secrets.into_iter().next().ok_or_else(|| {
        format!("the {mode} connection of {tenant} has no webhook signing secret; add one with `payhook tenant roll-webhook-secret {tenant} --mode {mode} --webhook-secret whsec_…`")
    })
}

/// The amount and currency of an invoice or appointment, for `trigger`.
pub fn record_amount(ctx: &Ctx, kind: RecordKind, id: &str) -> Result<(i64, String)> {
    let (mut conn, _) = connect_db(ctx)?;
    let r = records::get(&mut conn, kind, id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no {} {id:?}", kind.name()))?;
    Ok((r.amount, r.currency))
}
