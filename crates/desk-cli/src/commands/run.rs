//! `run`: the engine for every enabled account, one line per event, until Ctrl-C or
//! SIGTERM.

use std::io::Write;
use std::sync::Arc;

use clap::Args;
use desk_core::ai::provider::API_KEY_PROFILE;
use desk_core::ai::AiService;
use desk_core::event_bus::{EventFollower, Followed};
use desk_core::secrets::{SecretKey, SecretStore};
use desk_core::Engine;

use super::ai::ai_config;
use super::{runtime, Context};
use crate::error::CliError;
use crate::render::{event_json, event_line, now_ms, skipped_json, skipped_line};
use crate::secrets::{self, WithGivenSecret};
use crate::service_manager;

#[derive(Args)]
#[command(after_help = "\
Prints one line per event as it happens: the time (UTC), the account, and a status \
change, a received message (peer, kind, the start of its text, control characters \
escaped) or an outbound delivery state. Tokens, long-poll cursors and context tokens are \
never printed. If the printer falls behind a burst, it says how many events it skipped \
and which accounts they touched (`skipped N events …`, or a JSON object of type \
\"skipped\"); the store has every message. Diagnostics go to stderr (RUST_LOG sets their level).

Ctrl-C or SIGTERM stops every account cleanly (notifystop) and exits 0; a second one \
leaves at once. Exits 1 if no account could start. Holds a lock on the data directory, \
so a `send` next to it is refused; `send --queue` is not: what it queues is picked up \
within a second.

AI replies (see `ai --help`) run here too, unless --no-ai: their runs, replies, \
failures (with the reason), skipped messages (with the reason), takeovers and owner \
commands are printed as lines, or as JSON objects of type \"ai\". Settings changed \
with `ai …` while this runs apply from the next message; a key stored with `ai \
provider --key-stdin` is read again after such a change. Without a usable OS \
keyring, keep it in the encrypted secrets file (--secrets file) or give it with \
--ai-key-stdin (after the bot token's line when --token-stdin is given too).

On a server: --listen ADDR serves /healthz and /metrics (see `status`); under systemd \
(`service install`) it reports READY, WATCHDOG and STOPPING and logs to the journal.")]
pub struct RunArgs {
    /// Run only this account (repeatable); a named account runs even if disabled.
    #[arg(long = "account", value_name = "ID")]
    accounts: Vec<String>,
    /// Read the bot token of the one --account from stdin and use it for this process
    /// only (for --secrets memory, or to try a token without storing it).
    #[arg(long, requires = "accounts")]
    token_stdin: bool,
    /// Read the AI provider's API key from stdin and use it for this process only.
    #[arg(long, conflicts_with = "no_ai")]
    ai_key_stdin: bool,
    /// Do not send AI replies.
    #[arg(long)]
    no_ai: bool,
    /// Print each event as a JSON object (one per line) instead of text.
    #[arg(long)]
    json: bool,
    /// Serve /healthz and /metrics (Prometheus) at ADDR, e.g. 127.0.0.1:9187 (port 0
    /// picks one). Loopback only, unless --listen-any.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Allow --listen on an address other than loopback.
    #[arg(long, requires = "listen")]
    listen_any: bool,
}

pub fn run(ctx: &Context, args: RunArgs) -> Result<(), CliError> {
    if args.token_stdin && args.accounts.len() != 1 {
        return Err(CliError::Usage(
            "--token-stdin takes the token of exactly one --account".into(),
        ));
    }
    if let Some(addr) = args.listen {
        crate::monitor::check_listen_addr(addr, args.listen_any)?;
    }
    let store = ctx.store()?;
    let mut chosen = Vec::new();
    if args.accounts.is_empty() {
        for account in store.list_accounts()?.into_iter().filter(|a| a.enabled) {
            if ctx.may_use(&account) {
                chosen.push(account.account_id);
            } else {
                eprintln!(
                    "skipping {}: it talks to {}, not to the --sim emulator",
                    account.account_id, account.base_url
                );
            }
        }
    } else {
        for id in &args.accounts {
            let account = super::resolve_account(&store, id)?;
            ctx.check_may_use(&account)?;
            chosen.push(account.account_id);
        }
    }
    drop(store);
    let (given_token, given_ai_key) = match (args.token_stdin, args.ai_key_stdin) {
        (true, true) => {
            let mut both = secrets::read_secrets_from_stdin(&["the bot token", "the AI API key"])?;
            let key = both.pop();
            (both.pop(), key)
        }
        (true, false) => (Some(secrets::read_token_from_stdin()?), None),
        (false, true) => (
            None,
            Some(secrets::read_secrets_from_stdin(&["the AI API key"])?.remove(0)),
        ),
        (false, false) => (None, None),
    };
    let opened = ctx.open_secrets()?;
    let mut secret_store: Arc<dyn SecretStore> = opened.store;
    if let Some(token) = given_token {
        secret_store = Arc::new(WithGivenSecret::bot_token(&chosen[0], token, secret_store));
    }
    if let Some(key) = given_ai_key {
        let name = SecretKey::ai_api_key(API_KEY_PROFILE);
        secret_store = Arc::new(WithGivenSecret::new(name, key, secret_store));
    }
    let lock = ctx.lock_engine()?;
    let rt = runtime()?;
    rt.block_on(async move {
        let _lock = lock;
        // Signals first, so one that arrives while accounts start is not fatal.
        let mut signals = Signals::new()?;
        let engine = Arc::new(Engine::open(
            &ctx.data_dir,
            secret_store,
            ctx.engine_config(),
        )?);
        let mut printer = Printer::start(engine.follow(), args.json)?;
        // Started before the accounts poll, so no message that arrives while they
        // start misses its reply.
        let ai = (!args.no_ai).then(|| AiService::start(Arc::clone(&engine), ai_config(ctx)));
        let mut running = 0;
        for id in &chosen {
            match engine.accounts().start(id).await {
                Ok(()) => running += 1,
                Err(e) => eprintln!("{id} not started: {e}"),
            }
        }
        let monitor = match args.listen {
            Some(addr) if running > 0 => Some(
                crate::monitor::start(
                    Arc::clone(&engine),
                    chosen.clone(),
                    addr,
                    ctx.data_dir.root(),
                )
                .await?,
            ),
            _ => None,
        };
        if running == 0 {
            if let Some(ai) = &ai {
                ai.shutdown();
            }
            engine.shutdown().await;
            printer.finish();
            return Err(CliError::NoAccountRunning);
        }
        eprintln!("running {running} account(s); Ctrl-C or SIGTERM stops");
        if let Some(monitor) = &monitor {
            eprintln!("health and metrics at http://{}/healthz and /metrics", monitor.addr);
        }
        service_manager::ready(&format!("running {running} account(s)"));
        let mut watchdog = service_manager::watchdog_period().map(tokio::time::interval);
        if let Some(ai) = &ai {
            eprintln!("{}", ai_summary(ai, &chosen).await);
        }
        // `send --queue` writes to the database from another process: look for that
        // once a second (a cheap pragma) and hand it to the senders.
        let mut outbox_check = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut seen_version = None;
        let why = loop {
            tokio::select! {
                why = signals.next() => break why,
                _ = async { watchdog.as_mut().expect("guarded").tick().await }, if watchdog.is_some() => {
                    service_manager::watchdog();
                }
                _ = outbox_check.tick() => {
                    let version = engine.store().call(|s| s.data_version()).await.ok();
                    if seen_version.is_some() && version != seen_version {
                        engine.wake_senders();
                        // Or queued a failed download again (`media retry`).
                        engine.wake_media();
                        // Another process may have stored a new API key.
                        if let Some(ai) = &ai {
                            ai.reload_api_key();
                        }
                    }
                    seen_version = version;
                }
                () = printer.stopped() => break "the engine stopped",
            }
        };
        eprintln!("{why}: stopping");
        service_manager::stopping();
        drop(monitor);
        // No new AI runs; those under way end at their next step.
        if let Some(ai) = &ai {
            ai.shutdown();
        }
        tokio::select! {
            () = engine.shutdown() => {}
            why = signals.next() => {
                eprintln!("{why} again: leaving without waiting for notifystop");
                printer.finish();
                return Ok(());
            }
        }
        printer.finish();
        Ok(())
    })
}

/// The event printer, on a thread of its own with its own small runtime: a burst that
/// makes hundreds of pollers runnable at once on the engine's workers never puts the
/// printing of an event behind them.
struct Printer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Fires when the engine's events end.
    ended: tokio::sync::oneshot::Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Printer {
    fn start(mut events: EventFollower, json: bool) -> Result<Printer, CliError> {
        let (stop, mut stop_rx) = tokio::sync::oneshot::channel();
        let (ended_tx, ended) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| CliError::io("cannot start the event printer", e))?;
        let thread = std::thread::Builder::new()
            .name("event-printer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    loop {
                        tokio::select! {
                            // Events first: everything announced before the stop is printed.
                            biased;
                            followed = events.recv() => match followed {
                                Some(first) => print_ready(first, &mut events, json),
                                None => {
                                    let _ = ended_tx.send(());
                                    return;
                                }
                            },
                            _ = &mut stop_rx => break,
                        }
                    }
                    drain(&mut events, json);
                });
            })
            .map_err(|e| CliError::io("cannot start the event printer", e))?;
        Ok(Printer {
            stop: Some(stop),
            ended,
            thread: Some(thread),
        })
    }

    /// Resolves when the engine's events end (never while the engine runs).
    async fn stopped(&mut self) {
        if (&mut self.ended).await.is_err() {
            // The printer ended without the events ending (it was told to stop).
            std::future::pending::<()>().await;
        }
    }

    /// Prints what is still waiting, then ends the thread.
    fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line on stderr saying whether AI replies will go out, and if not, why not.
async fn ai_summary(ai: &AiService, accounts: &[String]) -> String {
    let Ok(global) = ai.global_settings().await else {
        return "AI replies: the settings cannot be read".into();
    };
    if global.paused {
        return "AI replies: paused (`ai resume` ends the pause)".into();
    }
    let mut on = 0;
    for id in accounts {
        if ai.account_settings(id).await.is_ok_and(|s| s.enabled) {
            on += 1;
        }
    }
    if on == 0 {
        return "AI replies: off for every account here (peers may have their own switch; \
                `ai enable --account ID` turns an account on, see `ai --help`)"
            .into();
    }
    format!(
        "AI replies: on for {on} of {} account(s) (peers may have their own switch); \
         provider at {}, model {}",
        accounts.len(),
        crate::render::plain(&global.provider.base_url, false),
        crate::render::plain(&global.provider.model, false)
    )
}

/// Prints `first` and every event already waiting behind it in one write, so a burst
/// costs the printer one turn and one system call rather than one per event.
fn print_ready(first: Followed, events: &mut EventFollower, json: bool) {
    let mut text = String::new();
    let mut next = Some(first);
    while let Some(followed) = next.take() {
        text.push_str(&line_for(&followed, json));
        text.push('\n');
        if text.len() < PRINT_CHUNK {
            next = events.try_recv();
        }
    }
    // A closed stdout must not stop the engine: the store keeps everything.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Printed in one write at most (then the loop looks at signals again).
const PRINT_CHUNK: usize = 256 * 1024;

fn line_for(followed: &Followed, json: bool) -> String {
    let now = now_ms();
    match (followed, json) {
        (Followed::Event(event), true) => event_json(now, event),
        (Followed::Event(event), false) => event_line(now, event),
        (Followed::Missed { count, touched }, true) => skipped_json(now, *count, touched.as_ref()),
        (Followed::Missed { count, touched }, false) => skipped_line(now, *count, touched.as_ref()),
    }
}

fn drain(events: &mut EventFollower, json: bool) {
    while let Some(first) = events.try_recv() {
        print_ready(first, events, json);
    }
}

/// Ctrl-C and (on Unix) SIGTERM. On Unix both are streams made once, so a signal that
/// arrives between two waits is kept, not lost.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> Result<Signals, CliError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind, name: &str| {
                signal(kind).map_err(|e| CliError::io(format!("cannot listen for {name}"), e))
            };
            Ok(Signals {
                int: listen(SignalKind::interrupt(), "SIGINT")?,
                term: listen(SignalKind::terminate(), "SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for the next one and names it.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "interrupted",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted"
        }
    }
}
