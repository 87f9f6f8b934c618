//! `import-openclaw`: lists the WeChat accounts in the official OpenClaw Weixin plugin's
//! state folder and imports the chosen ones (desk_core::openclaw_import). The plugin's
//! files are only read.

use std::path::PathBuf;

use clap::Args;
use desk_core::openclaw_import::{self, FoundAccount, ImportOutcome, StateFolder};
use desk_core::Locale;

use super::Context;
use crate::error::CliError;
use crate::render::{now_ms, plain};

#[derive(Args)]
#[command(after_help = "\
Without --account or --all it only lists what it finds. Examples:

  weixin-desk-cli import-openclaw
  weixin-desk-cli import-openclaw --account b0f5860fdecb-im-bot
  weixin-desk-cli import-openclaw --state-dir /srv/openclaw/state --all

Each account comes over whole or not at all: its bot token (into the secret store, as \
`login` keeps it), its long-poll cursor (polling resumes where the plugin stopped), its \
peers' context tokens (their age is unknown, so each reply window counts as possibly \
closed until the peer writes) and the plugin's allow-list as the account's AI \
allow-list (AI replies stay off until you turn them on).

One bot token must have one poller: stop the OpenClaw gateway (or its Weixin channel) \
before `run` starts the imported accounts.")]
pub struct ImportArgs {
    /// The plugin's state folder (default: $OPENCLAW_STATE_DIR, else ~/.openclaw).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Import this account (its id as listed, or its bot id); repeat for several.
    #[arg(long = "account", value_name = "ID", conflicts_with = "all")]
    accounts: Vec<String>,
    /// Import every account that can be imported.
    #[arg(long)]
    all: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn import_openclaw(ctx: &Context, args: ImportArgs) -> Result<(), CliError> {
    let folder = match args.state_dir {
        Some(dir) => StateFolder::at(dir),
        None => StateFolder::from_env().ok_or_else(|| {
            CliError::Usage(
                "no home folder to look in; give the state folder with --state-dir".into(),
            )
        })?,
    };
    let store = ctx.store()?;
    let scan = openclaw_import::scan(&folder, &store, Locale::En)?;
    if args.accounts.is_empty() && !args.all {
        return list(&scan, args.json);
    }
    let chosen: Vec<String> = if args.all {
        scan.accounts
            .iter()
            .filter(|a| a.problem.is_none())
            .map(|a| a.account_id.clone())
            .collect()
    } else {
        args.accounts
            .iter()
            .map(|id| ilink::account_id::normalize(id))
            .collect()
    };
    let secrets = ctx.open_secrets()?;
    let outcomes = openclaw_import::import(
        &folder,
        &chosen,
        &store,
        &*secrets.store,
        now_ms(),
        Locale::En,
    );
    let failed = outcomes.iter().filter(|o| !o.imported).count();
    if args.json {
        print_json(serde_json::to_string(&serde_json::json!({
            "state_dir": scan.state_dir,
            "outcomes": outcomes,
            "gateway": scan.gateway,
        })))?;
    } else {
        if chosen.is_empty() {
            println!("nothing to import from {}", scan.state_dir);
        }
        for o in &outcomes {
            println!("{}", outcome_line(o));
        }
        if outcomes.iter().any(|o| o.imported) {
            println!();
            println!("warning: {}", openclaw_import::ONE_POLLER_WARNING);
            if let Some(seen) = scan.gateway.describe() {
                println!("warning: {seen}");
            }
            if !secrets.persistent {
                eprintln!(
                    "note: the tokens were kept in memory only and are now forgotten; \
                     import again with --secrets keyring or file"
                );
            }
        }
    }
    if failed > 0 {
        return Err(CliError::Outcome {
            message: format!("{failed} account(s) not imported"),
            code: 1,
        });
    }
    Ok(())
}

fn list(scan: &openclaw_import::OpenClawScan, json: bool) -> Result<(), CliError> {
    if json {
        return print_json(serde_json::to_string(scan));
    }
    if !scan.found {
        println!(
            "no OpenClaw Weixin state in {} (give another folder with --state-dir)",
            scan.state_dir
        );
        return Ok(());
    }
    println!("OpenClaw Weixin state in {}", scan.state_dir);
    if let Some(why) = &scan.problem {
        println!("cannot read its account list: {}", plain(why, false));
    }
    if scan.accounts.is_empty() && scan.problem.is_none() {
        println!("no accounts in it");
    }
    for a in &scan.accounts {
        println!("{}", found_line(a));
    }
    println!();
    println!("warning: {}", openclaw_import::ONE_POLLER_WARNING);
    if let Some(seen) = scan.gateway.describe() {
        println!("warning: {seen}");
    }
    if scan.accounts.iter().any(|a| a.problem.is_none()) {
        println!("import with --account ID (repeatable) or --all");
    }
    Ok(())
}

/// `id  bot  user  saved …`, then what an import brings or why it cannot.
fn found_line(a: &FoundAccount) -> String {
    let mut line = format!(
        "{}  bot {}  user {}  saved {}",
        a.account_id,
        plain(&a.bot_id, false),
        a.user_id
            .as_deref()
            .map_or("-".to_owned(), |u| plain(u, false)),
        a.saved_at
            .as_deref()
            .map_or("-".to_owned(), |s| plain(s, false)),
    );
    match &a.problem {
        Some(why) => line.push_str(&format!("\n    cannot import: {}", plain(why, false))),
        None => line.push_str(&format!(
            "\n    {}; {} context token(s) (age unknown); {} peer(s) on its allow-list; {}",
            if a.has_cursor {
                "cursor saved"
            } else {
                "no cursor"
            },
            a.context_tokens,
            a.allowed_peers,
            plain(&a.base_url, false)
        )),
    }
    line
}

fn outcome_line(o: &ImportOutcome) -> String {
    match &o.reason {
        None => format!(
            "imported {}: {}, {} context token(s) (reply windows possibly closed until each \
             peer writes), {} peer(s) on the AI allow-list",
            o.account_id,
            if o.has_cursor {
                "polling resumes from its cursor"
            } else {
                "no cursor (polling starts afresh)"
            },
            o.context_tokens,
            o.allowed_peers
        ),
        Some(why) => format!("not imported {}: {}", o.account_id, plain(why, false)),
    }
}

/// Prints a value already turned into JSON text.
fn print_json(text: serde_json::Result<String>) -> Result<(), CliError> {
    let text =
        text.map_err(|e| CliError::io("cannot write JSON", std::io::Error::other(e.to_string())))?;
    println!("{text}");
    Ok(())
}
