//! `scheduled`: messages scheduled with `send --at` that have not gone out yet; edit
//! their text or time, or cancel them. A running `run` (or the app) sees the change at
//! once.

use clap::{Args, Subcommand};
use desk_core::store::ScheduleEdit;
use desk_core::views::ScheduledView;

use super::{resolve_account, runtime, Context};
use crate::error::CliError;
use crate::render::{peer_label, plain};
use crate::when::{local, parse_when};

#[derive(Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "\
Examples:
  weixin-desk-cli send --account ACC --to o9cq80…@im.wechat --at 08:30 'good morning'
  weixin-desk-cli scheduled
  weixin-desk-cli scheduled edit 12 --at '2026-12-05 09:00' --text 'good morning!'
  weixin-desk-cli scheduled cancel 12

TIME is HH:MM (local; today, or tomorrow once today's has passed), YYYY-MM-DD HH:MM \
(local) or RFC 3339. A message that has started going out can no longer be changed."
)]
pub struct ScheduledArgs {
    #[command(subcommand)]
    action: Option<Action>,
    /// Only this account's (its id, or its bot id).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Print a JSON array instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Action {
    /// Change a scheduled message's time or text (a file's caption; empty removes it).
    Edit {
        /// Its outbox number (`scheduled` lists them).
        id: i64,
        /// The new time.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// The new text.
        #[arg(long)]
        text: Option<String>,
    },
    /// Cancel a scheduled message (it stays in the log as cancelled).
    Cancel {
        /// Its outbox number (`scheduled` lists them).
        id: i64,
    },
}

pub fn scheduled(ctx: &Context, args: ScheduledArgs) -> Result<(), CliError> {
    match args.action {
        None => list(ctx, args.account.as_deref(), args.json),
        Some(Action::Edit { id, at, text }) => {
            if at.is_none() && text.is_none() {
                return Err(CliError::Usage(
                    "give --at TIME, --text TEXT or both".into(),
                ));
            }
            let due_ms = at
                .as_deref()
                .map(|at| parse_when(at, chrono::Local::now()))
                .transpose()
                .map_err(CliError::Usage)?;
            let rt = runtime()?;
            let entry = rt.block_on(async {
                let engine = super::send::queue_engine(ctx)?;
                Ok::<_, CliError>(
                    engine
                        .edit_scheduled(id, ScheduleEdit { text, due_ms })
                        .await?,
                )
            })?;
            let due = entry.due_ms.map(local).unwrap_or_default();
            println!("outbox #{id} is scheduled for {due}");
            Ok(())
        }
        Some(Action::Cancel { id }) => {
            let rt = runtime()?;
            let cancelled = rt.block_on(async {
                let engine = super::send::queue_engine(ctx)?;
                let scheduled = engine
                    .store()
                    .call(move |s| s.outbox_entry(id))
                    .await?
                    .is_some_and(|e| e.due_ms.is_some());
                if !scheduled {
                    return Err(desk_core::EngineError::NotScheduled(id).into());
                }
                Ok::<_, CliError>(engine.cancel_outbound(id).await?)
            })?;
            if !cancelled {
                return Err(desk_core::EngineError::NoLongerScheduled(id).into());
            }
            println!("outbox #{id} is cancelled");
            Ok(())
        }
    }
}

fn list(ctx: &Context, account: Option<&str>, json: bool) -> Result<(), CliError> {
    let store = ctx.store()?;
    let account = account
        .map(|a| resolve_account(&store, a).map(|a| a.account_id))
        .transpose()?;
    let views: Vec<ScheduledView> = store
        .scheduled_outbox(account.as_deref(), None)?
        .into_iter()
        .filter_map(ScheduledView::of)
        .collect();
    if json {
        let doc = serde_json::to_string(&views).map_err(|e| CliError::Usage(e.to_string()))?;
        println!("{doc}");
        return Ok(());
    }
    if views.is_empty() {
        println!("nothing scheduled");
    }
    for v in &views {
        let name = store
            .peer_card(&v.account_id, &v.peer_id)?
            .and_then(|c| c.display_name);
        let what = match (&v.file_name, &v.text) {
            (Some(file), Some(caption)) => {
                format!("[{}] {}", plain(file, false), plain(caption, false))
            }
            (Some(file), None) => format!("[{}]", plain(file, false)),
            (None, text) => plain(text.as_deref().unwrap_or(""), false),
        };
        let waiting = v
            .reason
            .as_deref()
            .map(|r| format!(" [{}]", plain(r, false)))
            .unwrap_or_default();
        println!(
            "#{} {} {} -> {}: {what}{waiting}",
            v.outbox_id,
            local(v.due_ms),
            v.account_id,
            peer_label(&v.peer_id, name.as_deref()),
        );
    }
    Ok(())
}
