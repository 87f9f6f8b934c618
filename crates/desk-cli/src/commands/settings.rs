//! `settings …`: the preferences the desktop app and the CLI share (notifications,
//! do-not-disturb, muted conversations, start-up, a self-hosted iLink backend), kept in
//! the store. A running app reads them again for each use.

use clap::{Args, Subcommand, ValueEnum};
use desk_core::prefs::{BackendPrefs, Prefs};

use super::{resolve_account, Context};
use crate::error::CliError;
use crate::render::plain;

#[derive(Args)]
pub struct SettingsArgs {
    #[command(subcommand)]
    command: Option<SettingsCommand>,
    /// Print the settings as JSON (without a subcommand).
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum SettingsCommand {
    /// Change one setting; an empty VALUE clears an address, agent or tag.
    Set {
        #[arg(value_enum)]
        key: Key,
        /// `on`/`off` for switches; an http(s) address for the bases; seconds for
        /// send-interval (e.g. 1.5; empty or `default` for the engine's 1 s).
        value: String,
    },
    /// Stop notifications for one conversation.
    Mute(Conversation),
    /// Notify for one conversation again.
    Unmute(Conversation),
}

#[derive(Args)]
struct Conversation {
    /// The account (its id, or its bot id).
    #[arg(long, value_name = "ID")]
    account: String,
    /// The peer's WeChat user id.
    peer: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Key {
    Notifications,
    DoNotDisturb,
    StartMinimised,
    Autostart,
    ApiBase,
    CdnBase,
    BotAgent,
    RouteTag,
    /// Least time between two sends of one account, in seconds.
    SendInterval,
}

pub fn settings(ctx: &Context, args: SettingsArgs) -> Result<(), CliError> {
    let store = ctx.store()?;
    let prefs = match args.command {
        None => store.prefs()?,
        Some(SettingsCommand::Set { key, value }) => {
            // Read, check and write in the store's one transaction, so a change the
            // window makes meanwhile is not overwritten.
            let mut refused = None;
            let saved = store.update_prefs(|p| {
                let mut next = p.clone();
                match apply(&mut next, key, &value) {
                    Ok(()) => *p = next,
                    Err(e) => refused = Some(e),
                }
            })?;
            if let Some(e) = refused {
                return Err(e);
            }
            saved
        }
        Some(SettingsCommand::Mute(c)) => mute(&store, &c, true)?,
        Some(SettingsCommand::Unmute(c)) => mute(&store, &c, false)?,
    };
    if args.json {
        let doc = serde_json::to_string(&prefs).map_err(|e| CliError::Usage(e.to_string()))?;
        println!("{doc}");
    } else {
        print(&prefs);
    }
    Ok(())
}

fn mute(store: &desk_core::Store, c: &Conversation, muted: bool) -> Result<Prefs, CliError> {
    let account = resolve_account(store, &c.account)?.account_id;
    Ok(store.update_prefs(|p| p.set_muted(&account, &c.peer, muted))?)
}

fn switch(value: &str) -> Result<bool, CliError> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(CliError::Usage(format!(
            "expected on or off, got \"{}\"",
            plain(value, false)
        ))),
    }
}

/// Sets one key; the backend's fields go through the same checks as in the window.
fn apply(prefs: &mut Prefs, key: Key, value: &str) -> Result<(), CliError> {
    let text = Some(value.to_owned());
    let backend = &mut prefs.backend;
    match key {
        Key::Notifications => prefs.notifications = switch(value)?,
        Key::DoNotDisturb => prefs.do_not_disturb = switch(value)?,
        Key::StartMinimised => prefs.start_minimised = switch(value)?,
        Key::Autostart => prefs.autostart = switch(value)?,
        Key::ApiBase => backend.api_base = text,
        Key::CdnBase => backend.cdn_base = text,
        Key::BotAgent => backend.bot_agent = text,
        Key::RouteTag => backend.route_tag = text,
        Key::SendInterval => prefs.send_interval_ms = seconds(value)?,
    }
    prefs.backend = BackendPrefs::cleaned(prefs.backend.clone()).map_err(CliError::Usage)?;
    Ok(())
}

/// A send interval typed in seconds; empty or `default` clears it.
fn seconds(value: &str) -> Result<Option<u32>, CliError> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    let secs: f64 = value
        .trim_end_matches('s')
        .trim()
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "expected seconds such as 1 or 0.5, got \"{}\"",
                plain(value, false)
            ))
        })?;
    let ms = (secs * 1000.0).round().min(f64::from(u32::MAX)) as u32;
    desk_core::prefs::checked_send_interval(Some(ms)).map_err(CliError::Usage)
}

fn print(prefs: &Prefs) {
    let on = |b: bool| if b { "on" } else { "off" };
    let or_default = |v: &Option<String>| match v {
        Some(v) => plain(v, false),
        None => "(official default)".to_owned(),
    };
    println!("notifications: {}", on(prefs.notifications));
    println!("do-not-disturb: {}", on(prefs.do_not_disturb));
    println!("start-minimised: {}", on(prefs.start_minimised));
    println!("autostart: {}", on(prefs.autostart));
    match prefs.send_interval_ms {
        Some(ms) => println!("send-interval: {} s", f64::from(ms) / 1000.0),
        None => println!(
            "send-interval: {} s (default)",
            desk_core::engine::Timings::default()
                .send_interval
                .as_secs_f64()
        ),
    }
    println!("api-base: {}", or_default(&prefs.backend.api_base));
    println!("cdn-base: {}", or_default(&prefs.backend.cdn_base));
    println!("bot-agent: {}", or_default(&prefs.backend.bot_agent));
    println!(
        "route-tag: {}",
        prefs
            .backend
            .route_tag
            .as_deref()
            .map(|t| plain(t, false))
            .unwrap_or_else(|| "(none)".to_owned())
    );
    if prefs.muted.is_empty() {
        println!("muted: (none)");
    }
    for (account, peer) in &prefs.muted {
        println!("muted: {} on {account}", plain(peer, false));
    }
}
