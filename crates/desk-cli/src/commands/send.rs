//! `send`: queue a text or a file through the engine and wait, bounded, for its delivery
//! state.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use desk_core::secrets::SecretStore;
use desk_core::store::OutboxState;
use desk_core::{Engine, EngineEvent};
use tokio::sync::broadcast::error::RecvError;

use super::run::Signals;
use super::{runtime, Context};
use crate::error::CliError;
use crate::render::{now_ms, plain};
use crate::secrets::{self, WithGivenSecret};

/// Exit code when the message failed.
pub const EXIT_FAILED: u8 = 3;
/// Exit code when the wait ended before a delivery state (the message stays queued).
pub const EXIT_NOT_YET: u8 = 4;

#[derive(Args)]
#[command(after_help = "\
With --queue it is only queued (exit 0 once persisted) for a running `run`, the app, \
or the next `run`.

With --at TIME it is scheduled the same way (send later): it goes out at TIME, not \
before, from a `run` or the app that runs then, and only while the peer's reply window \
is open and their allowance lasts (else it waits with the reason, as any send does). \
TIME is HH:MM (local; today, or tomorrow once today's has passed), YYYY-MM-DD HH:MM \
(local) or RFC 3339 (2026-12-04T19:30:00+08:00). `scheduled` lists, edits and cancels \
scheduled messages.

Exit status: 0 when delivered, or when it waits for the peer's reply window (it stays in \
the outbox and goes out when the peer writes again while `run` or the app runs); 3 when \
it failed; 4 when --wait ran out first (still queued: it is retried the next time the \
account runs); 1 on any other error.

The account polls while `send` runs, as in `run`. A `send` next to a running `run` on \
the same data directory is refused (they share a lock file); the desktop app is not \
detected, so do not send for an account the app is polling at the same time.

A message sent with `send` is a manual reply: AI replies stay quiet for that peer for \
the account's takeover time (30 minutes unless changed; `ai resume-peer` ends it). One \
scheduled with --at is not.

Examples:
  weixin-desk-cli send --account ACC --to o9cq8AbC@im.wechat 'see you at 3'
  weixin-desk-cli send --account ACC --to o9cq8AbC@im.wechat --file ./photo.jpg 'the view'
  weixin-desk-cli send --account ACC --to o9cq8AbC@im.wechat --at 08:30 'good morning'
  echo 'from a pipe' | weixin-desk-cli send --account ACC --to o9cq8AbC@im.wechat")]
pub struct SendArgs {
    /// The sending account (its id, or its bot id).
    #[arg(long, value_name = "ID")]
    account: String,
    /// The peer's WeChat user id (as on the wire, e.g. `…@im.wechat`).
    #[arg(long, value_name = "PEER")]
    to: String,
    /// The text; read from stdin when left out (unless --token-stdin takes stdin or
    /// --file is given). With --file: an optional caption, sent just before the file.
    text: Option<String>,
    /// Send this file: a picture or video (by its content) goes as one, anything else as
    /// a file under its sanitised name. Copied into the data directory first; at most
    /// 100 MiB.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Only queue it, for a `run` (or the app) that is running or starts later:
    /// persisted in the outbox and not waited for. Needs no token and no lock.
    #[arg(long, conflicts_with_all = ["wait", "token_stdin"])]
    queue: bool,
    /// Send later: schedule it for TIME (HH:MM, YYYY-MM-DD HH:MM, or RFC 3339) and exit
    /// once persisted, as with --queue.
    #[arg(long, value_name = "TIME", conflicts_with_all = ["wait", "token_stdin"])]
    at: Option<String>,
    /// How long to wait for the delivery state, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    wait: u64,
    /// Read the account's bot token from stdin and use it for this process only.
    #[arg(long)]
    token_stdin: bool,
}

enum Outcome {
    Final(OutboxState, Option<String>),
    TimedOut,
    Interrupted,
}

pub fn send(ctx: &Context, args: SendArgs) -> Result<(), CliError> {
    if let Some(path) = &args.file {
        // Checked again (size, kind) when it is staged; this says it before anything
        // else is asked for.
        std::fs::metadata(path)
            .map_err(|e| CliError::io(format!("cannot send {}", path.display()), e))?;
    }
    let due_ms = args
        .at
        .as_deref()
        .map(|at| crate::when::parse_when(at, chrono::Local::now()))
        .transpose()
        .map_err(CliError::Usage)?;
    let store = ctx.store()?;
    let account = super::resolve_account(&store, &args.account)?;
    ctx.check_may_use(&account)?;
    drop(store);
    let (text, token) = match (args.text, args.token_stdin) {
        (Some(text), true) => (text, Some(secrets::read_token_from_stdin()?)),
        (Some(text), false) => (text, None),
        (None, true) if args.file.is_some() => {
            (String::new(), Some(secrets::read_token_from_stdin()?))
        }
        (None, false) if args.file.is_some() => (String::new(), None),
        (None, true) => {
            return Err(CliError::Usage(
                "give the text as an argument: stdin carries the token".into(),
            ))
        }
        (None, false) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::io("cannot read the text from stdin", e))?;
            // The line break `echo` ends with is not part of the message.
            let text = text.trim_end_matches(['\n', '\r']).to_owned();
            (text, None)
        }
    };
    if args.queue || due_ms.is_some() {
        return queue_only(
            ctx,
            &account.account_id,
            &args.to,
            args.file.as_deref(),
            &text,
            due_ms,
        );
    }
    let opened = ctx.open_secrets()?;
    let secret_store: Arc<dyn SecretStore> = match token {
        Some(token) => Arc::new(WithGivenSecret::bot_token(
            &account.account_id,
            token,
            opened.store,
        )),
        None => opened.store,
    };
    let id = account.account_id;
    let wait = Duration::from_secs(args.wait);
    let lock = ctx.lock_engine()?;
    let rt = runtime()?;
    rt.block_on(async move {
        let _lock = lock;
        let mut signals = Signals::new()?;
        let engine = Engine::open(&ctx.data_dir, secret_store, ctx.engine_config())?;
        let mut events = engine.subscribe();
        engine.accounts().start(&id).await?;
        let queued = match &args.file {
            Some(path) => {
                let caption = Some(text.as_str()).filter(|t| !t.trim().is_empty());
                engine.send_file(&id, &args.to, path, caption).await
            }
            None => engine.send_text(&id, &args.to, &text).await,
        };
        let entry = match queued {
            Ok(entry) => entry,
            Err(e) => {
                engine.shutdown().await;
                return Err(e.into());
            }
        };
        println!("queued as outbox #{}", entry.id);
        note_takeover(&engine, &id, &args.to).await;
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(wait, final_state(&mut events, entry.id)) => {
                outcome.unwrap_or(Outcome::TimedOut)
            }
            _ = signals.next() => Outcome::Interrupted,
        };
        engine.shutdown().await;
        report(outcome, entry.id, args.wait)
    })
}

/// `send --queue` and `send --at`: an engine that neither polls nor downloads writes the
/// outbox row (and stages the file) and exits; whoever runs the account sends it.
fn queue_only(
    ctx: &Context,
    account_id: &str,
    to: &str,
    file: Option<&std::path::Path>,
    text: &str,
    due_ms: Option<i64>,
) -> Result<(), CliError> {
    let rt = runtime()?;
    rt.block_on(async move {
        let engine = queue_engine(ctx)?;
        let caption = Some(text).filter(|t| !t.trim().is_empty());
        let entry = match (file, due_ms) {
            (Some(path), None) => engine.send_file(account_id, to, path, caption).await?,
            (Some(path), Some(due)) => {
                engine
                    .send_file_at(account_id, to, path, caption, due)
                    .await?
            }
            (None, None) => engine.send_text(account_id, to, text).await?,
            (None, Some(due)) => engine.send_text_at(account_id, to, text, due).await?,
        };
        match due_ms {
            Some(due) => println!(
                "scheduled as outbox #{} for {}",
                entry.id,
                crate::when::local(due)
            ),
            None => println!("queued as outbox #{}", entry.id),
        }
        // A message for later is no reply in the moment: the AI is not held back.
        if due_ms.is_none() {
            note_takeover(&engine, account_id, to).await;
        }
        Ok(())
    })
}

/// An engine that only writes the outbox (no token, no lock, no polling, no
/// downloads), beside a `run` or the app that sends. Inside a runtime.
pub(super) fn queue_engine(ctx: &Context) -> Result<Engine, CliError> {
    let store = ctx.store()?;
    let secrets: Arc<dyn SecretStore> = Arc::new(desk_core::secrets::MemoryStore::new());
    let no_downloads = desk_core::engine::MediaOptions {
        concurrency: 0,
        ..Default::default()
    };
    Ok(Engine::new_in_with_media(
        store,
        &ctx.data_dir,
        secrets,
        ctx.engine_config(),
        no_downloads,
    ))
}

/// Records the AI takeover a manual send starts (a running `run` reads it with the
/// peer's next message). The message is queued either way: a failure here is a warning.
async fn note_takeover(engine: &Engine, account_id: &str, peer_id: &str) {
    let (a, p, now) = (account_id.to_owned(), peer_id.to_owned(), now_ms());
    match engine
        .store()
        .call(move |s| super::ai::record_takeover(s, &a, &p, now))
        .await
    {
        Ok(taken) => {
            if let Some(note) = super::ai::takeover_note(peer_id, taken) {
                println!("{note}");
            }
        }
        Err(e) => eprintln!("warning: the AI takeover for this peer was not recorded: {e}"),
    }
}

/// Waits for the outbox entry's next delivered, waiting or failed state; prints retries
/// and, for a file, the upload's progress in quarters.
async fn final_state(
    events: &mut tokio::sync::broadcast::Receiver<EngineEvent>,
    outbox: i64,
) -> Outcome {
    let (mut shown_quarter, mut last_sent) = (0, 0);
    loop {
        match events.recv().await {
            Ok(EngineEvent::UploadProgress {
                outbox_id,
                sent,
                total,
                ..
            }) if outbox_id == outbox && total > 0 => {
                if sent < last_sent {
                    // A retried upload starts over.
                    shown_quarter = 0;
                }
                last_sent = sent;
                let quarter = sent.saturating_mul(4) / total;
                if quarter > shown_quarter {
                    shown_quarter = quarter;
                    eprintln!("uploading: {sent} of {total} bytes");
                }
            }
            Ok(EngineEvent::DeliveryUpdated {
                outbox_id,
                state,
                error,
                ..
            }) if outbox_id == outbox => match state {
                OutboxState::Delivered | OutboxState::WaitingForWindow | OutboxState::Failed => {
                    return Outcome::Final(state, error)
                }
                OutboxState::Queued | OutboxState::Sending => {
                    if let Some(e) = error {
                        eprintln!("{}, retrying: {}", state.as_str(), plain(&e, false));
                    }
                }
            },
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return Outcome::TimedOut,
        }
    }
}

fn report(outcome: Outcome, outbox: i64, wait_secs: u64) -> Result<(), CliError> {
    let reason = |e: Option<String>| {
        e.map(|e| format!(": {}", plain(&e, false)))
            .unwrap_or_default()
    };
    match outcome {
        Outcome::Final(OutboxState::Delivered, _) => {
            println!("delivered");
            Ok(())
        }
        Outcome::Final(OutboxState::WaitingForWindow, error) => {
            println!(
                "waiting_for_window{}; it stays in the outbox and goes out when the peer \
                 writes again while `run` or the app runs",
                reason(error)
            );
            Ok(())
        }
        Outcome::Final(state, error) => {
            let message = format!("{}{}", state.as_str(), reason(error));
            println!("{message}");
            Err(CliError::Outcome {
                message,
                code: EXIT_FAILED,
            })
        }
        Outcome::TimedOut | Outcome::Interrupted => {
            let why = match outcome {
                Outcome::Interrupted => "interrupted".to_owned(),
                _ => format!("no delivery state within {wait_secs} s"),
            };
            let message = format!(
                "not delivered yet ({why}); outbox #{outbox} stays queued and is retried the \
                 next time the account runs"
            );
            println!("{message}");
            Err(CliError::Outcome {
                message,
                code: EXIT_NOT_YET,
            })
        }
    }
}
