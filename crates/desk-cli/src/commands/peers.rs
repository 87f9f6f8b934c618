//! `peers`: the people each account talks to, with the owner's names and notes for
//! them. Names and notes live in the store only, never sent to WeChat.

use clap::{Args, Subcommand};
use desk_core::store::PeerCard;
use desk_core::Store;

use super::Context;
use crate::error::CliError;
use crate::render::{plain, utc};

#[derive(Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "\
Examples:
  weixin-desk-cli peers --account ID
  weixin-desk-cli peers rename o9cq80…@im.wechat \"Wang (teapot order)\"
  weixin-desk-cli peers note o9cq80…@im.wechat \"Wholesale; invoices monthly\"
  weixin-desk-cli peers rename o9cq80…@im.wechat \"\"     # back to the id

The name is shown instead of the id in the app, `log`, `search` and `export`, and fills
{peer_name} in AI personas ({peer_note} takes the note). `search` finds peers by name
and note too."
)]
pub struct PeersArgs {
    #[command(subcommand)]
    action: Option<PeersAction>,
    /// Only this account's peers (its id, or its bot id).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Print a JSON array instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum PeersAction {
    /// Give a peer your own name for it (an empty NAME clears it).
    Rename {
        /// The peer's WeChat user id (`…@im.wechat`).
        peer: String,
        /// At most 64 characters, one line.
        name: String,
        /// The account the peer writes to (needed when several accounts know it).
        #[arg(long, value_name = "ID")]
        account: Option<String>,
    },
    /// Set your note on a peer (an empty TEXT clears it).
    Note {
        /// The peer's WeChat user id (`…@im.wechat`).
        peer: String,
        /// Free text, at most 2,000 characters.
        text: String,
        /// The account the peer writes to (needed when several accounts know it).
        #[arg(long, value_name = "ID")]
        account: Option<String>,
    },
}

pub fn peers(ctx: &Context, args: PeersArgs) -> Result<(), CliError> {
    let store = ctx.store()?;
    match args.action {
        None => list(&store, args.account.as_deref(), args.json),
        Some(PeersAction::Rename {
            peer,
            name,
            account,
        }) => {
            let account = account_of(&store, account.as_deref(), &peer)?;
            match store.set_peer_alias(&account, &peer, &name)? {
                Some(name) => println!("{peer} is now called {}", plain(&name, false)),
                None => println!("{peer} has no name of yours now"),
            }
            Ok(())
        }
        Some(PeersAction::Note {
            peer,
            text,
            account,
        }) => {
            let account = account_of(&store, account.as_deref(), &peer)?;
            match store.set_peer_note(&account, &peer, &text)? {
                Some(_) => println!("note saved for {peer}"),
                None => println!("note cleared for {peer}"),
            }
            Ok(())
        }
    }
}

fn list(store: &Store, account: Option<&str>, json: bool) -> Result<(), CliError> {
    let account = match account {
        Some(id) => Some(super::resolve_account(store, id)?.account_id),
        None => None,
    };
    let peers = store.peer_cards(account.as_deref())?;
    if json {
        let text = serde_json::to_string(&peers)
            .map_err(|e| CliError::io("cannot write JSON", std::io::Error::other(e.to_string())))?;
        println!("{text}");
        return Ok(());
    }
    if peers.is_empty() {
        println!("no peers yet (a peer is listed once it wrote)");
        return Ok(());
    }
    for p in &peers {
        println!("{}", peer_line(p));
    }
    Ok(())
}

/// `account  peer  name  (last seen)`, the note and, for an unnamed peer, its first
/// message as a hint on the lines below.
fn peer_line(p: &PeerCard) -> String {
    let name = p
        .display_name
        .as_deref()
        .map(|n| plain(n, false))
        .unwrap_or_else(|| "(no name)".to_owned());
    let mut line = format!(
        "{}  {}  {name}  (last seen {} UTC)",
        p.account_id,
        plain(&p.peer_id, false),
        utc(p.last_seen_ms)
    );
    if p.window_age_unknown {
        line.push_str(
            "\n    reply window: possibly closed (its token was imported and its age is unknown) \
             until they write",
        );
    }
    if let Some(note) = &p.note {
        line.push_str(&format!("\n    note: {}", plain(note, false)));
    }
    if p.alias.is_none() {
        if let Some(first) = &p.first_text {
            line.push_str(&format!("\n    first message: {}", plain(first, false)));
        }
    }
    line
}

/// The account a command about `peer` means: the one given, else the only one that
/// knows the peer.
fn account_of(store: &Store, account: Option<&str>, peer: &str) -> Result<String, CliError> {
    if let Some(id) = account {
        return Ok(super::resolve_account(store, id)?.account_id);
    }
    let mut knowing = store.accounts_knowing_peer(peer)?;
    match knowing.len() {
        1 => Ok(knowing.remove(0)),
        0 => Err(CliError::Usage(format!(
            "no account knows the peer {peer:?} (see `peers`)"
        ))),
        _ => Err(CliError::Usage(format!(
            "several accounts know {peer:?} ({}); say which with --account",
            knowing.join(", ")
        ))),
    }
}
