//! `weixin-desk-cli`: the same engine and data directory as the desktop app, headless.

mod commands;
mod error;
mod monitor;
mod render;
mod secrets;
mod service_manager;
mod when;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use desk_core::{DataDir, Locale};

use crate::commands::Context;
use crate::error::CliError;
use crate::secrets::SecretsMode;

const ABOUT: &str = "Weixin Desk, headless: the desktop app's engine, data directory and store";

const LONG_ABOUT: &str = "\
Weixin Desk, headless: the desktop app's engine, data directory and store.

Bot tokens live in the OS keyring (--secrets keyring), as in the app. Where no keyring
works (a server without a D-Bus session), --secrets file keeps them in one encrypted
file in the data folder, with a key from the service manager (systemd credential
weixin-desk.key), an owner-only key file (--secrets-key-file) or a passphrase typed on
the terminal; --secrets auto (the default) picks it there by itself when it has a key,
and says so. Without any key, auto falls back to this process's memory and says so;
--secrets memory asks for that outright. A token kept in memory is forgotten when the
command ends, so `run` and `send` then take it again on stdin with --token-stdin. Tokens
are never taken from the command line and never written to disk in plaintext.

Accounts are added with `login` (a QR code drawn in the terminal, scanned with WeChat)
or, for a bot whose token you already have, with `add-account` (token on stdin), or
brought over from the official OpenClaw Weixin plugin with `import-openclaw`.

AI replies on a server: an account (`login` or `add-account`), then `ai provider
--preset … --key-stdin`, `ai test`, `ai enable --account ID`, and `run` (see `ai
--help`).";

#[derive(Parser)]
#[command(name = "weixin-desk-cli", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    /// Data directory (default: the desktop app's, $XDG_DATA_HOME/weixin-desk).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where bot tokens and the AI provider's key are kept: auto (the data folder's
    /// secrets file if it has one, else the keyring, else the secrets file if a key is
    /// at hand, else memory with a warning), keyring, file (encrypted, in the data
    /// folder), or memory (forgotten when the command ends).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    secrets: SecretsMode,
    /// The key of the encrypted secrets file (32 bytes or 64 hex digits, owner-only;
    /// `secrets new-key PATH` makes one). Under systemd the credential weixin-desk.key
    /// comes first; without either, a passphrase is asked on the terminal.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "WEIXIN_DESK_SECRETS_KEY_FILE"
    )]
    secrets_key_file: Option<PathBuf>,
    /// Try things out against an iLink emulator (ilink-sim) at URL: `add-account`
    /// files new accounts under it, and `run`/`send` only touch accounts whose API base
    /// is URL, so a real account's token is never sent to the emulator.
    #[arg(long, global = true, value_name = "URL")]
    sim: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the version, the data directory and the interface language.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the accounts with their last status, whether they are enabled and alias.
    Accounts {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Log in with a QR code drawn in the terminal; the new account is stored and
    /// enabled.
    Login(commands::login::LoginArgs),
    /// Add (or update) an account from a bot id and token, without a QR login. The
    /// token is read from stdin.
    AddAccount(commands::accounts::AddAccount),
    /// List the WeChat accounts in the OpenClaw Weixin plugin's state folder and import
    /// the chosen ones (token, cursor, context tokens, allow-list), without scanning again.
    ImportOpenclaw(commands::import_openclaw::ImportArgs),
    /// Mark every conversation of an account read.
    MarkRead(commands::accounts::MarkRead),
    /// Run the engine for every enabled account, printing events as they happen, until
    /// Ctrl-C or SIGTERM.
    Run(commands::run::RunArgs),
    /// Queue a text or a file for a peer and wait for its delivery state.
    Send(commands::send::SendArgs),
    /// Messages scheduled with `send --at`, not sent yet: list them, `scheduled edit
    /// ID [--at TIME] [--text TEXT]`, `scheduled cancel ID`.
    Scheduled(commands::scheduled::ScheduledArgs),
    /// Print a conversation, oldest first.
    Log(commands::history::LogArgs),
    /// Search the text of every stored message, newest first.
    Search(commands::history::SearchArgs),
    /// The peers each account talks to, and your names and notes for them:
    /// `peers [--account ID]`, `peers rename PEER NAME`, `peers note PEER TEXT`.
    Peers(commands::peers::PeersArgs),
    /// Write messages as JSON Lines (one object per line; no secrets).
    Export(commands::history::ExportArgs),
    /// AI replies: the provider and its key, `ai test`, pause, per-account and per-peer
    /// switches, personas, takeover and memory. `run` sends the replies.
    Ai(commands::ai::AiArgs),
    /// `run` as a systemd service: `service install [--user]`, `status`, `uninstall`.
    Service(commands::service::ServiceArgs),
    /// The health and figures of the `run --listen` serving this data folder.
    Status(commands::status::StatusArgs),
    /// The encrypted secrets file: `new-key PATH`, `migrate --to keyring|file`.
    Secrets(commands::secrets::SecretsArgs),
    /// Inbound media: `media retry` downloads a failed one again.
    Media(commands::media::MediaArgs),
    /// Show or change the preferences the desktop app shares (notifications,
    /// do-not-disturb, muted conversations, a self-hosted backend).
    Settings(commands::settings::SettingsArgs),
}

fn main() -> ExitCode {
    desk_core::allocator::limit_arenas();
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if !matches!(err, CliError::Outcome { .. }) {
                eprintln!("weixin-desk-cli: {}", err.explained());
            }
            err.exit_code()
        }
    }
}

/// Engine diagnostics go to stderr, warnings and up unless RUST_LOG says otherwise.
/// (The secret-store fallback is reported by the CLI itself, in plain words.) Under
/// systemd (JOURNAL_STREAM set) they go to the journal with their fields instead.
fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,desk_core::secrets=error"));
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        if let Ok(journald) = tracing_journald::layer() {
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(journald.with_syslog_identifier("weixin-desk-cli".into()))
                .try_init();
            return;
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> Result<(), CliError> {
    let data_dir = match cli.data_dir {
        Some(dir) => DataDir::at(dir)?,
        None => DataDir::default_for_user()?,
    };
    let ctx = Context {
        data_dir,
        secrets: cli.secrets,
        secrets_key_file: cli.secrets_key_file,
        sim: cli.sim,
    };
    match cli.command {
        Command::Info { json } => info(&ctx, json),
        Command::Accounts { json } => commands::accounts::list(&ctx, json),
        Command::Login(args) => commands::login::login(&ctx, args),
        Command::AddAccount(args) => commands::accounts::add(&ctx, args),
        Command::ImportOpenclaw(args) => commands::import_openclaw::import_openclaw(&ctx, args),
        Command::MarkRead(args) => commands::accounts::mark_read(&ctx, args),
        Command::Run(args) => commands::run::run(&ctx, args),
        Command::Send(args) => commands::send::send(&ctx, args),
        Command::Scheduled(args) => commands::scheduled::scheduled(&ctx, args),
        Command::Log(args) => commands::history::log(&ctx, args),
        Command::Search(args) => commands::history::search(&ctx, args),
        Command::Export(args) => commands::history::export(&ctx, args),
        Command::Peers(args) => commands::peers::peers(&ctx, args),
        Command::Ai(args) => commands::ai::ai(&ctx, args),
        Command::Service(args) => commands::service::service(&ctx, args),
        Command::Status(args) => commands::status::status(&ctx, args),
        Command::Secrets(args) => commands::secrets::secrets(&ctx, args),
        Command::Media(args) => commands::media::media(&ctx, args),
        Command::Settings(args) => commands::settings::settings(&ctx, args),
    }
}

fn info(ctx: &Context, json: bool) -> Result<(), CliError> {
    let store = ctx.store()?;
    let system = std::env::var("LANG").ok();
    let locale = Locale::resolve(store.saved_locale()?, system.as_deref());
    if json {
        let info = serde_json::json!({
            "version": desk_core::VERSION,
            "data_dir": ctx.data_dir.root(),
            "locale": locale,
            "schema_version": store.schema_version()?,
        });
        println!("{info}");
    } else {
        println!("Weixin Desk {}", desk_core::VERSION);
        println!("data directory: {}", ctx.data_dir.root().display());
        println!("language: {}", locale.tag());
    }
    Ok(())
}
