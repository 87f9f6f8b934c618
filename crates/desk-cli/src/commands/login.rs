//! `login`: a QR login in the terminal. The QR code is drawn locally from the URL the
//! server gives; each state is printed in words; a verify code is read from stdin.

use std::io::BufRead;

use clap::Args;
use desk_core::engine::{LoginOptions, LoginState};
use desk_core::user_error::explain;
use desk_core::{Engine, EngineEvent};
use ilink::qr_login::QrLoginConfig;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::run::Signals;
use super::{runtime, Context};
use crate::error::CliError;
use crate::render::plain;

/// Exit code when the login ended without an account.
pub const EXIT_LOGIN_FAILED: u8 = 3;

#[derive(Args)]
#[command(after_help = "\
Draws the QR code in the terminal (and prints its URL); scan it with WeChat on the phone \
and confirm there. States are printed as they happen: waiting for the scan, scanned, the \
verify code prompt (type the number the phone shows, then Enter), a wrong code, an \
expired code and the new one (n of 3), an already bound bot, success or the reason for \
failure. The bot token goes to the secret store (--secrets), never to the screen.

With --sim URL the login runs against that emulator (its CDN at URL/c2c).

Exit status: 0 when logged in (or the bot was already bound here), 3 when the login \
failed, expired or was cancelled (Ctrl-C), 1 on any other error.")]
pub struct LoginArgs {
    /// A name to show for the new account.
    #[arg(long)]
    alias: Option<String>,
    /// The login host, for a self-hosted backend (default: the official one, or --sim).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// `SKRouteTag` for a backend that routes by it; kept with the account.
    #[arg(long, value_name = "TAG")]
    route_tag: Option<String>,
}

pub fn login(ctx: &Context, args: LoginArgs) -> Result<(), CliError> {
    // A self-hosted backend saved in the settings (the window's or `settings set`)
    // unless --base-url, --route-tag or --sim say otherwise.
    let saved = match &ctx.sim {
        None => ctx.store()?.prefs()?.backend,
        Some(_) => Default::default(),
    };
    let api_base = args.base_url.or_else(|| ctx.sim.clone()).or(saved.api_base);
    let cdn_base = ctx
        .sim
        .as_ref()
        .map(|sim| format!("{}/c2c", sim.trim_end_matches('/')))
        .or(saved.cdn_base);
    let route_tag = args.route_tag.or(saved.route_tag);
    let opened = ctx.open_secrets()?;
    if !opened.persistent {
        eprintln!(
            "note: bot tokens are kept in memory (--secrets); the new account's token is \
             forgotten when this command ends"
        );
    }
    let lock = ctx.lock_engine()?;
    let rt = runtime()?;
    rt.block_on(async move {
        let _lock = lock;
        let mut signals = Signals::new()?;
        let engine = Engine::open(&ctx.data_dir, opened.store, ctx.engine_config())?;
        let mut events = engine.subscribe();
        let qr = QrLoginConfig {
            // An emulator's redirect host speaks plain HTTP.
            redirect_scheme: if ctx.sim.is_some() { "http" } else { "https" }.to_owned(),
            ..QrLoginConfig::default()
        };
        let max_codes = qr.max_refresh_count;
        let handle = engine
            .start_login(LoginOptions {
                api_base,
                cdn_base,
                alias: args.alias,
                route_tag,
                qr,
            })
            .await?;
        let id = handle.id().to_owned();
        let mut codes = stdin_lines();
        let last = loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = signals.next() => {
                    engine.cancel_login(&id);
                    break LoginState::Cancelled;
                }
            };
            let state = match event {
                Ok(EngineEvent::LoginProgress { login_id, state }) if login_id == id => state,
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break LoginState::Cancelled,
            };
            say(&state, max_codes);
            if matches!(
                state,
                LoginState::VerifyCodeNeeded | LoginState::VerifyCodeWrong
            ) {
                print_now("verify code: ");
                match codes.recv().await {
                    Some(code) => {
                        handle.submit_verify_code(code.trim());
                    }
                    None => {
                        println!();
                        engine.cancel_login(&id);
                        break LoginState::Failed {
                            reason: "stdin ended before a verify code was given".into(),
                            problem: None,
                        };
                    }
                }
            }
            if state.is_final() {
                break state;
            }
        };
        engine.shutdown().await;
        match last {
            LoginState::Confirmed { .. } | LoginState::AlreadyBound => Ok(()),
            other => Err(CliError::Outcome {
                message: format!("login did not complete: {}", words(&other, max_codes)),
                code: EXIT_LOGIN_FAILED,
            }),
        }
    })
}

/// Prints what the state means; a new QR code is drawn.
fn say(state: &LoginState, max_codes: u32) {
    if let LoginState::QrReady { url } = state {
        match desk_core::qr::terminal(url) {
            Some(code) => println!("{code}"),
            None => println!("(the QR code is too long to draw here)"),
        }
        println!("QR code URL: {}", plain(url, false));
    }
    println!("{}", words(state, max_codes));
}

fn words(state: &LoginState, max_codes: u32) -> String {
    match state {
        LoginState::QrReady { .. } => {
            "waiting: scan the QR code with WeChat and confirm on the phone".into()
        }
        LoginState::Scanned => "scanned: confirm the login on the phone".into(),
        LoginState::VerifyCodeNeeded => "the phone shows a verify code: type it here".into(),
        LoginState::VerifyCodeWrong => "wrong verify code: try again".into(),
        LoginState::VerifyCodeBlocked => "too many wrong verify codes".into(),
        LoginState::Redirected { host } => format!("continuing at {}", plain(host, false)),
        LoginState::Expired => "the QR code expired".into(),
        LoginState::Refreshed { n } => format!("new QR code ({}/{max_codes})", n + 1),
        LoginState::Confirmed {
            account_id,
            bot_id,
            replaced,
            ..
        } => {
            let mut text = format!("logged in: account {account_id} (bot {bot_id})");
            if !replaced.is_empty() {
                text.push_str(&format!("; it replaces {}", replaced.join(", ")));
            }
            text
        }
        LoginState::AlreadyBound => {
            "already bound: this bot is logged in here already; nothing changed".into()
        }
        LoginState::Cancelled => "cancelled".into(),
        LoginState::Failed { reason, problem } => format!(
            "failed: {}",
            explain(
                *problem,
                crate::error::terminal_locale(),
                &plain(reason, false)
            )
        ),
    }
}

fn print_now(text: &str) {
    use std::io::Write;
    print!("{text}");
    let _ = std::io::stdout().flush();
}

/// Lines of stdin, read on a thread of their own (stdin reads block).
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
