//! Slash commands from the account's owner (the WeChat user who scanned the QR code),
//! docs/protocol.md §8.2: `/echo`, `/toggle-debug`, `/ai on|off`, `/reset`. Anyone else's `/…`
//! is ordinary text for the AI, as is an unknown command.

use chrono::{TimeZone, Utc};

use super::prompt::scope_key;
use super::runner::{parse_or_default, Context, Inbound, Shared};
use super::settings::AccountAiSettings;
use super::AiEvent;

/// First line of the `/echo` timing report.
pub const TIMING_HEADER: &str = "⏱ 耗时统计";
/// First line of the debug-mode report.
pub const DEBUG_HEADER: &str = "🐛 调试";

/// Handles the owner's command; false if the text is not a known command.
pub(crate) async fn handle(shared: &Shared, ctx: &Context, inbound: &Inbound) -> bool {
    let Some(text) = inbound.row.text.as_deref().map(str::trim) else {
        return false;
    };
    if !text.starts_with('/') {
        return false;
    }
    let (command, arg) = text.split_once(' ').unwrap_or((text, ""));
    let command = command.to_lowercase();
    let arg = arg.trim();
    let (account_id, peer_id) = (&inbound.row.account_id, &inbound.row.peer_id);
    let reply = match command.as_str() {
        "/echo" => {
            if !arg.is_empty() {
                shared.send(account_id, peer_id, arg).await;
            }
            Ok(timing_report(
                &inbound.row,
                inbound.received_ms,
                shared.now_ms(),
            ))
        }
        "/toggle-debug" => update_account(shared, account_id, |s| s.debug = !s.debug)
            .await
            .map(|s| {
                if s.debug {
                    "调试模式已开启"
                } else {
                    "调试模式已关闭"
                }
                .to_owned()
            }),
        "/ai" => match arg.to_lowercase().as_str() {
            "on" | "off" => {
                let on = arg.eq_ignore_ascii_case("on");
                update_account(shared, account_id, move |s| s.enabled = on)
                    .await
                    .map(|_| {
                        if on {
                            "AI 回复已开启"
                        } else {
                            "AI 回复已关闭"
                        }
                        .to_owned()
                    })
            }
            _ => Ok("用法：/ai on 或 /ai off".to_owned()),
        },
        "/reset" => {
            let scope = scope_key(ctx.account.memory_scope, account_id, peer_id);
            let now = shared.now_ms();
            shared
                .engine
                .store()
                .call(move |s| s.reset_ai_memory(&scope, now))
                .await
                .map(|()| "已清除本会话的记忆".to_owned())
                .map_err(|e| e.to_string())
        }
        _ => return false,
    };
    let text = reply
        .unwrap_or_else(|e| format!("命令执行失败：{}", e.chars().take(200).collect::<String>()));
    shared.send(account_id, peer_id, &text).await;
    if matches!(command.as_str(), "/toggle-debug" | "/ai") {
        shared.engine.emit_ai(AiEvent::SettingsChanged {
            account_id: Some(account_id.clone()),
            peer_id: None,
        });
    }
    shared.emit_command(account_id, &command);
    true
}

impl Shared {
    fn emit_command(&self, account_id: &str, command: &str) {
        self.engine.emit_ai(AiEvent::CommandHandled {
            account_id: account_id.to_owned(),
            command: command.to_owned(),
        });
    }
}

async fn update_account(
    shared: &Shared,
    account_id: &str,
    change: impl FnOnce(&mut AccountAiSettings) + Send + 'static,
) -> Result<AccountAiSettings, String> {
    let id = account_id.to_owned();
    shared
        .engine
        .store()
        .call(move |s| {
            let mut settings: AccountAiSettings =
                parse_or_default(s.ai_account_settings(&id)?, "account");
            change(&mut settings);
            let json = serde_json::to_string(&settings).unwrap_or_else(|_| "{}".into());
            s.set_ai_account_settings(&id, &json)?;
            Ok(settings)
        })
        .await
        .map_err(|e| e.to_string())
}

fn iso(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| "N/A".to_owned())
}

/// The `/echo` timing report (docs/protocol.md §8.2).
pub(crate) fn timing_report(
    row: &crate::store::ai::AiMessageRow,
    received_ms: i64,
    now_ms: i64,
) -> String {
    format!(
        "{TIMING_HEADER}\n事件时间: {}\n平台→插件: {} ms\n插件处理: {} ms",
        iso(row.create_time_ms),
        received_ms - row.create_time_ms,
        now_ms - received_ms
    )
}

/// The debug-mode report sent after a run (docs/protocol.md §8.3, abridged).
pub(crate) fn debug_report(
    row: &crate::store::ai::AiMessageRow,
    received_ms: i64,
    dispatched_ms: i64,
    done_ms: i64,
) -> String {
    let preview: String = row.text.as_deref().unwrap_or("").chars().take(40).collect();
    format!(
        "{DEBUG_HEADER}\n消息: {} ({})\n事件时间: {}\n平台→插件: {} ms\n入站处理: {} ms\nAI 与回复: {} ms\n总计: {} ms",
        preview,
        row.item_kind,
        iso(row.create_time_ms),
        received_ms - row.create_time_ms,
        dispatched_ms - received_ms,
        done_ms - dispatched_ms,
        done_ms - row.create_time_ms
    )
}
