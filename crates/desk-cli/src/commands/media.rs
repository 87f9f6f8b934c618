//! `media retry`: downloads a failed inbound file, picture, video or voice message again.

use std::time::Duration;

use clap::{Args, Subcommand};
use desk_core::engine::EngineEvent;
use desk_core::secrets::MemoryStore;
use desk_core::Engine;

use super::{resolve_account, runtime, Context};
use crate::error::CliError;
use crate::render::{now_ms, plain};

#[derive(Args)]
pub struct MediaArgs {
    #[command(subcommand)]
    command: MediaCommand,
}

#[derive(Subcommand)]
enum MediaCommand {
    /// Download a failed inbound media again, with a fresh set of attempts (the message
    /// id is the `id` that `export` writes). While `run` is going, it downloads it; otherwise
    /// this command does and waits for the result.
    Retry {
        /// The account the message belongs to.
        #[arg(long)]
        account: String,
        /// The message's id.
        message_id: i64,
        /// Seconds to wait for the download.
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
}

pub fn media(ctx: &Context, args: MediaArgs) -> Result<(), CliError> {
    match args.command {
        MediaCommand::Retry {
            account,
            message_id,
            wait,
        } => retry(ctx, &account, message_id, wait),
    }
}

fn retry(ctx: &Context, account: &str, message_id: i64, wait: u64) -> Result<(), CliError> {
    let store = ctx.store()?;
    let account = resolve_account(&store, account)?;
    let media = store
        .message_media(message_id)?
        .filter(|m| m.account_id == account.account_id)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no message {message_id} in account {} (see `export`)",
                account.account_id
            ))
        })?;
    if media.state != "failed" {
        return Err(CliError::Usage(format!(
            "message {message_id}'s media is {}, not failed: nothing to retry",
            media.state
        )));
    }
    let lock = match ctx.lock_engine() {
        Ok(lock) => lock,
        Err(CliError::Busy) => {
            // `run` holds the engine: queue it in the store; it notices within a second.
            store.requeue_failed_media(message_id, now_ms())?;
            println!("queued again; the running `run` downloads it");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    drop(store);
    let rt = runtime()?;
    rt.block_on(async move {
        let _lock = lock;
        // No account is started: the download needs no token.
        let engine = Engine::open(
            &ctx.data_dir,
            std::sync::Arc::new(MemoryStore::new()),
            ctx.engine_config(),
        )?;
        let mut events = engine.subscribe();
        engine.retry_media(message_id).await?;
        let result = tokio::time::timeout(Duration::from_secs(wait), async {
            loop {
                match events.recv().await {
                    Ok(EngineEvent::MediaReady {
                        message_row_id,
                        path,
                        ..
                    }) if message_row_id == message_id => return Ok(path),
                    Ok(EngineEvent::MediaFailed {
                        message_row_id,
                        reason,
                        ..
                    }) if message_row_id == message_id => return Err(reason),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return Err("the engine stopped".to_owned()),
                }
            }
        })
        .await;
        engine.shutdown().await;
        match result {
            Ok(Ok(path)) => {
                println!("saved: {}", plain(&path, false));
                Ok(())
            }
            Ok(Err(reason)) => {
                let message = format!("the download failed again: {}", plain(&reason, false));
                eprintln!("{message}");
                Err(CliError::Outcome { message, code: 1 })
            }
            Err(_) => {
                println!("still downloading after {wait} s; `run` carries on with it");
                Ok(())
            }
        }
    })
}
