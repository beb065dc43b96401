//! `payhook plugin`: the installed plugins and which tenants they are enabled for.

use clap::Subcommand;
use payhook_server::ids::now_secs;
use payhook_server::plugins;
use payhook_server::tenants;
use serde_json::{Value, json};

use crate::admin::{Ctx, connect_db, print};

type Result<T> = std::result::Result<T, String>;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Lists the installed plugins (with --plugins-dir) and, with --tenant, which are enabled
    /// for the tenant, its failures and why payhook disabled one.
    List {
        /// The tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Enables a plugin for a tenant (again, after payhook disabled it: the failures are reset
    /// and its waiting calls run).
    Enable {
        /// The plugin's name.
        name: String,
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Disables a plugin for a tenant: its calls wait until it is enabled again.
    Disable {
        /// The plugin's name.
        name: String,
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Sets a key of a plugin's key-value store for a tenant (its configuration, e.g.
    /// `owner_email`).
    Set {
        /// The plugin's name.
        name: String,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The key.
        key: String,
        /// The value; an empty one ("") removes the key.
        value: String,
    },
    /// Sets where the tenant's platform takes the plugins' callbacks, signed (Standard Webhooks)
    /// with a `whsec_…` secret the platform also holds.
    Callback {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The platform's URL (http:// or https://).
        #[arg(long)]
        url: String,
        /// The signing secret: `whsec_` and 24 to 64 bytes in base64.
        #[arg(long, env = "PAYHOOK_CALLBACK_SECRET", hide_env_values = true)]
        secret: String,
    },
    /// Shows a tenant's callbacks, newest first: status, attempts, the last error.
    Callbacks {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// At most this many (1–500).
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Shows a tenant's plugin calls, newest first: status, attempts, the last error.
    Calls {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// At most this many (1–500).
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

fn installed(dir: Option<&std::path::Path>) -> Result<Option<plugins::Plugins>> {
    dir.map(|d| plugins::Plugins::load_dir(d).map_err(|e| e.to_string()))
        .transpose()
}

fn require_tenant(conn: &mut payhook_server::db::DbConn, tenant: &str) -> Result<()> {
    match tenants::show(conn, tenant).map_err(|e| e.to_string())? {
        Some(_) => Ok(()),
        None => Err(format!(
            "no tenant {tenant:?}; `payhook tenant list` shows them"
        )),
    }
}

/// Runs a `payhook plugin` command.
pub fn run(ctx: &Ctx, dir: Option<&std::path::Path>, command: PluginCommand) -> Result<()> {
    let (mut conn, sealer) = connect_db(ctx)?;
    match command {
        PluginCommand::List { tenant } => {
            let installed = installed(dir)?;
            let states = match &tenant {
                Some(t) => {
                    require_tenant(&mut conn, t)?;
                    plugins::tenant_plugins(&mut conn, t).map_err(|e| e.to_string())?
                }
                None => Vec::new(),
            };
            let mut rows: Vec<Value> = Vec::new();
            for p in installed.iter().flat_map(|i| i.list.iter()) {
                let state = states.iter().find(|s| s.plugin == p.manifest.name);
                rows.push(json!({
                    "name": p.manifest.name, "version": p.manifest.version, "description": p.manifest.description,
                    "installed": true, "tenant": state,
                }));
            }
            for s in &states {
                if !rows.iter().any(|r| r["name"] == s.plugin.as_str()) {
                    rows.push(json!({"name": s.plugin, "installed": false, "tenant": s}));
                }
            }
            let value = Value::Array(rows.clone());
            print(ctx, &value, || {
                if rows.is_empty() {
                    return "no plugins (give --plugins-dir DIR to list the installed ones)"
                        .to_owned();
                }
                rows.iter()
                    .map(|r| {
                        let state = match &r["tenant"] {
                            Value::Null if tenant.is_some() => "not enabled".to_owned(),
                            Value::Null => String::new(),
                            t if t["enabled"] == true => {
                                format!("enabled, {} failures in a row", t["failures"])
                            }
                            t => format!(
                                "disabled{}",
                                t["disabled_reason"]
                                    .as_str()
                                    .map(|r| format!(": {r}"))
                                    .unwrap_or_default()
                            ),
                        };
                        format!(
                            "{}  {}  {}{}",
                            r["name"].as_str().unwrap_or(""),
                            r["version"].as_str().unwrap_or("(not installed here)"),
                            state,
                            r["description"]
                                .as_str()
                                .map(|d| format!("  — {d}"))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        PluginCommand::Enable { name, tenant } => set(ctx, dir, &mut conn, &name, &tenant, true),
        PluginCommand::Disable { name, tenant } => set(ctx, dir, &mut conn, &name, &tenant, false),
        PluginCommand::Set {
            name,
            tenant,
            key,
            value,
        } => {
            require_tenant(&mut conn, &tenant)?;
            plugins::kv_set(&mut conn, &tenant, &name, &key, &value)
                .map_err(|e| format!("cannot set {key:?}: {e}"))?;
            print(
                ctx,
                &json!({"plugin": name, "tenant": tenant, "key": key}),
                || format!("{name}: {key} set for {tenant}"),
            );
            Ok(())
        }
        PluginCommand::Callback {
            tenant,
            url,
            secret,
        } => {
            require_tenant(&mut conn, &tenant)?;
            let view = plugins::set_endpoint(
                &mut conn,
                &sealer,
                &tenant,
                &url,
                &payhook_server::secret::Secret::new(secret),
                now_secs(),
            )
            .map_err(|e| e.to_string())?;
            let value = serde_json::to_value(&view).unwrap_or(Value::Null);
            print(ctx, &value, || {
                format!(
                    "callbacks for {tenant} go to {} signed with {}",
                    view.url, view.secret
                )
            });
            Ok(())
        }
        PluginCommand::Callbacks { tenant, limit } => {
            require_tenant(&mut conn, &tenant)?;
            let list = plugins::callbacks(&mut conn, &tenant, limit).map_err(|e| e.to_string())?;
            let value = serde_json::to_value(&list).unwrap_or(Value::Null);
            print(ctx, &value, || {
                if list.is_empty() {
                    return "no callbacks".to_owned();
                }
                list.iter()
                    .map(|c| {
                        format!(
                            "{}  {}  {} (attempts {}){}",
                            c.id,
                            c.plugin,
                            c.status,
                            c.attempts,
                            c.last_error
                                .as_deref()
                                .map(|e| format!(": {e}"))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        PluginCommand::Calls { tenant, limit } => {
            require_tenant(&mut conn, &tenant)?;
            let calls = plugins::calls(&mut conn, &tenant, limit).map_err(|e| e.to_string())?;
            let value = serde_json::to_value(&calls).unwrap_or(Value::Null);
            print(ctx, &value, || {
                if calls.is_empty() {
                    return "no plugin calls".to_owned();
                }
                calls
                    .iter()
                    .map(|c| {
                        format!(
                            "{}  {}  {}  {}  {} (attempts {}){}",
                            c.action,
                            c.plugin,
                            c.hook,
                            c.subject,
                            c.status,
                            c.attempts,
                            c.last_error
                                .as_deref()
                                .map(|e| format!(": {e}"))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
    }
}

fn set(
    ctx: &Ctx,
    dir: Option<&std::path::Path>,
    conn: &mut payhook_server::db::DbConn,
    name: &str,
    tenant: &str,
    enabled: bool,
) -> Result<()> {
    require_tenant(conn, tenant)?;
    if enabled
        && let Some(installed) = installed(dir)?
        && installed.get(name).is_none()
    {
        let names: Vec<&str> = installed
            .list
            .iter()
            .map(|p| p.manifest.name.as_str())
            .collect();
        return Err(format!(
            "no plugin {name:?} in the plugins directory (installed: {})",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ));
    }
    plugins::set_enabled(conn, tenant, name, enabled, None, now_secs())
        .map_err(|e| e.to_string())?;
    let word = if enabled { "enabled" } else { "disabled" };
    print(
        ctx,
        &json!({"plugin": name, "tenant": tenant, "enabled": enabled}),
        || format!("{name} {word} for {tenant}"),
    );
    Ok(())
}
