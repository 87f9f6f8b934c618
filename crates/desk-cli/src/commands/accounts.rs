//! `accounts` and `add-account`.

use clap::Args;
use desk_core::secrets::SecretKey;
use desk_core::store::AccountUpsert;

use super::Context;
use crate::error::CliError;
use crate::render::{now_ms, plain};
use crate::secrets;

pub fn list(ctx: &Context, json: bool) -> Result<(), CliError> {
    let accounts = ctx.store()?.list_accounts()?;
    if json {
        // Account rows hold no secrets: the token is in the keyring.
        let text = serde_json::to_string(&accounts)
            .map_err(|e| CliError::io("cannot write JSON", std::io::Error::other(e.to_string())))?;
        println!("{text}");
        return Ok(());
    }
    if accounts.is_empty() {
        println!("no accounts (add one with `add-account`)");
        return Ok(());
    }
    println!("{:<32} {:<12} {:<8} ALIAS", "ACCOUNT", "STATUS", "ENABLED");
    for a in accounts {
        println!(
            "{:<32} {:<12} {:<8} {}",
            a.account_id,
            a.status,
            if a.enabled { "yes" } else { "no" },
            a.alias
                .as_deref()
                .map(|x| plain(x, false))
                .unwrap_or_default()
        );
    }
    Ok(())
}

#[derive(Args)]
#[command(after_help = "\
For a bot whose token you already have (servers, tests); otherwise use `login`. The \
token goes to the secret store chosen with --secrets: the OS \
keyring, or with --secrets memory nowhere lasting (give it to `run`/`send` again with \
--token-stdin). Example:

  printf %s \"$TOKEN\" | weixin-desk-cli add-account --bot-id ID@im.bot --token-stdin \\
      --base-url https://ilinkai.weixin.qq.com")]
pub struct AddAccount {
    /// The bot id (`ilink_bot_id`, e.g. `…@im.bot`).
    #[arg(long)]
    bot_id: String,
    /// Read the bot token from stdin (required: tokens are never taken from the command
    /// line, where other users can see them).
    #[arg(long, required = true)]
    token_stdin: bool,
    /// The API base the account talks to (default: the --sim URL).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// A name to show for the account.
    #[arg(long)]
    alias: Option<String>,
    /// The WeChat user bound to the bot (`ilink_user_id`).
    #[arg(long)]
    user_id: Option<String>,
    /// The CDN base for media, if not the default (with --sim: the emulator's, URL/c2c).
    #[arg(long, value_name = "URL")]
    cdn_url: Option<String>,
    /// Sent as `SKRouteTag`, if the account needs one.
    #[arg(long)]
    route_tag: Option<String>,
}

pub fn add(ctx: &Context, args: AddAccount) -> Result<(), CliError> {
    let base_url = match (args.base_url, &ctx.sim) {
        (Some(url), _) => url,
        (None, Some(sim)) => sim.clone(),
        (None, None) => {
            return Err(CliError::Usage(
                "give the account's API base with --base-url (or --sim URL)".into(),
            ))
        }
    };
    if let Some(sim) = &ctx.sim {
        if !super::same_url(sim, &base_url) {
            return Err(CliError::Usage(format!(
                "--base-url {base_url} differs from --sim {sim}"
            )));
        }
    }
    let token = secrets::read_token_from_stdin()?;
    let account_id = ilink::account_id::normalize(&args.bot_id);
    let store = ctx.store()?;
    let secrets = ctx.open_secrets()?;
    // The secret first: an account row without its token would only sit there paused.
    secrets
        .store
        .set(&SecretKey::bot_token(&account_id), &token)?;
    let account = store.upsert_account(
        &AccountUpsert {
            account_id: account_id.clone(),
            bot_id: args.bot_id.trim().to_owned(),
            base_url,
            alias: args.alias,
            user_id: args.user_id,
            // The emulator serves its CDN under `<base>c2c`.
            cdn_url: args.cdn_url.or_else(|| {
                ctx.sim
                    .as_ref()
                    .map(|sim| format!("{}/c2c", sim.trim_end_matches('/')))
            }),
            route_tag: args.route_tag,
        },
        now_ms(),
    )?;
    println!(
        "account {} saved ({})",
        account.account_id, account.base_url
    );
    if !secrets.persistent {
        eprintln!(
            "note: the token was kept in memory only and is now forgotten; give it to \
             `run` and `send` with --token-stdin"
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct MarkRead {
    /// The account: its id, or its bot id (`…@im.bot`).
    #[arg(long)]
    account: String,
}

/// Clears the unread count of every conversation of the account.
pub fn mark_read(ctx: &Context, args: MarkRead) -> Result<(), CliError> {
    let store = ctx.store()?;
    let account = super::resolve_account(&store, &args.account)?;
    let cleared = store.mark_account_read(&account.account_id)?;
    println!(
        "marked {cleared} conversation(s) of {} read",
        plain(&account.account_id, false)
    );
    Ok(())
}
