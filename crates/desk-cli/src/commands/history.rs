//! Reading the store: `log`, `search` and `export`. No engine, no secrets. Peers are
//! shown by the owner's name for them (else a server's), with the id.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use desk_core::store::{PageCursor, PeerCard, SearchScope, StoredMessage};
use desk_core::Store;

use super::Context;
use crate::error::CliError;
use crate::render::{log_line, peer_label, search_line};

/// Messages read per store call when a whole conversation is walked.
const PAGE: usize = 500;

#[derive(Args)]
pub struct LogArgs {
    /// The account (its id, or its bot id).
    #[arg(long, value_name = "ID")]
    account: String,
    /// The peer's WeChat user id.
    peer: String,
    /// How many of the newest messages to show.
    #[arg(long, value_name = "N", default_value_t = 50)]
    limit: usize,
    /// Print JSON Lines (one message object per line) instead of text.
    #[arg(long)]
    json: bool,
}

pub fn log(ctx: &Context, args: LogArgs) -> Result<(), CliError> {
    let store = ctx.store()?;
    let account = super::resolve_account(&store, &args.account)?;
    let mut page = store.conversation_page(&account.account_id, &args.peer, None, args.limit)?;
    page.messages.reverse();
    if page.messages.is_empty() && !args.json {
        println!("no messages with {}", args.peer);
    }
    let mut names = Names::new(&store);
    print_messages(&page.messages, args.json, &mut names, log_line)
}

/// The names peers are shown by, read once per peer.
struct Names<'s> {
    store: &'s Store,
    known: HashMap<(String, String), Option<String>>,
}

impl<'s> Names<'s> {
    fn new(store: &'s Store) -> Names<'s> {
        Names {
            store,
            known: HashMap::new(),
        }
    }

    fn of(&mut self, m: &StoredMessage) -> Result<Option<String>, CliError> {
        let key = (m.account_id.clone(), m.peer_id.to_lowercase());
        if let Some(name) = self.known.get(&key) {
            return Ok(name.clone());
        }
        let name = self
            .store
            .peer_card(&m.account_id, &m.peer_id)?
            .and_then(|c| c.display_name);
        self.known.insert(key, name.clone());
        Ok(name)
    }
}

#[derive(Args)]
pub struct SearchArgs {
    /// Words that must all appear (case-insensitive; Chinese works too).
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
    /// Only this account's messages (its id, or its bot id).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Only messages with this peer (with --account: one conversation).
    #[arg(long, value_name = "PEER")]
    peer: Option<String>,
    /// Most hits to show.
    #[arg(long, value_name = "N", default_value_t = 50)]
    limit: usize,
    /// Print JSON Lines (one message object per line) instead of text.
    #[arg(long)]
    json: bool,
}

pub fn search(ctx: &Context, args: SearchArgs) -> Result<(), CliError> {
    let store = ctx.store()?;
    let account_id = match &args.account {
        Some(id) => Some(super::resolve_account(&store, id)?.account_id),
        None => None,
    };
    let scope = SearchScope {
        account_id,
        peer_id: args.peer.clone(),
    };
    let query = args.text.join(" ");
    let hits = store.search_in(&query, &scope, args.limit)?;
    // Peers found by name, note or id come first (text only: JSON Lines stay messages;
    // `peers --json` lists peers).
    if !args.json {
        let peers = store.search_peers(&query, &scope, args.limit)?;
        for p in &peers {
            println!("{}", peer_hit_line(p));
        }
        if hits.is_empty() && peers.is_empty() {
            println!("no messages found");
        }
    }
    let mut names = Names::new(&store);
    print_messages(&hits, args.json, &mut names, search_line)
}

fn peer_hit_line(p: &PeerCard) -> String {
    let mut line = format!(
        "peer {} {}",
        p.account_id,
        peer_label(&p.peer_id, p.display_name.as_deref())
    );
    if let Some(note) = &p.note {
        line.push_str(&format!(" — {}", crate::render::plain(note, false)));
    }
    line
}

fn print_messages(
    messages: &[StoredMessage],
    json: bool,
    names: &mut Names<'_>,
    line: fn(&StoredMessage, Option<&str>) -> String,
) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    for m in messages {
        let name = names.of(m)?;
        let text = if json {
            to_json(m, name.as_deref())?
        } else {
            line(m, name.as_deref())
        };
        writeln!(out, "{text}").map_err(|e| CliError::io("cannot write to stdout", e))?;
    }
    Ok(())
}

/// A message as one JSON object: the stored message (which leaves out the CDN
/// reference, raw JSON and context tokens) and the name its peer is shown by.
fn to_json(m: &StoredMessage, peer_name: Option<&str>) -> Result<String, CliError> {
    let encode =
        |e: serde_json::Error| CliError::io("cannot encode a message", std::io::Error::other(e));
    let mut value = serde_json::to_value(m).map_err(encode)?;
    if let Some(fields) = value.as_object_mut() {
        fields.insert("peer_name".into(), peer_name.into());
    }
    serde_json::to_string(&value).map_err(encode)
}

#[derive(Args)]
pub struct ExportArgs {
    /// Only this account (default: all).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// The file to write (created owner-only; it holds other people's messages).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

pub fn export(ctx: &Context, args: ExportArgs) -> Result<(), CliError> {
    let store = ctx.store()?;
    let accounts = match &args.account {
        Some(id) => vec![super::resolve_account(&store, id)?],
        None => store.list_accounts()?,
    };
    let what = format!("cannot write {}", args.out.display());
    if args.force {
        match std::fs::remove_file(&args.out) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CliError::io(what, e)),
        }
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&args.out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Usage(format!(
                "{} exists; pass --force to replace it",
                args.out.display()
            ))
        } else {
            CliError::io(what.clone(), e)
        }
    })?;
    let mut out = BufWriter::new(file);
    let mut count = 0usize;
    for account in &accounts {
        for conversation in store.list_conversations(&account.account_id)? {
            let name = conversation.display_name.as_deref();
            for m in whole_conversation(&store, &account.account_id, &conversation.peer_id)? {
                writeln!(out, "{}", to_json(&m, name)?)
                    .map_err(|e| CliError::io(what.clone(), e))?;
                count += 1;
            }
        }
    }
    out.into_inner()
        .map_err(|e| CliError::io(what.clone(), e.into_error()))?
        .sync_all()
        .map_err(|e| CliError::io(what, e))?;
    eprintln!("{count} messages written to {}", args.out.display());
    Ok(())
}

/// Every message of a conversation, oldest first.
fn whole_conversation(
    store: &Store,
    account_id: &str,
    peer_id: &str,
) -> Result<Vec<StoredMessage>, CliError> {
    let mut all = Vec::new();
    let mut before: Option<PageCursor> = None;
    loop {
        let page = store.conversation_page(account_id, peer_id, before, PAGE)?;
        all.extend(page.messages);
        match page.older {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
    }
    all.reverse();
    Ok(all)
}
