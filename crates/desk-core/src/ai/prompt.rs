//! What a turn sends: the memory scope's key, the persona with its variables, the
//! history from the log within a message and token budget, and the new user turn built
//! from the coalesced inbound messages.

use base64::Engine as _;

use super::provider::ChatMessage;
use super::settings::MemoryScope;
use crate::store::ai::{AiMessageRow, HistoryFilter};

/// The key a scope's memory and run lock are filed under.
pub fn scope_key(scope: MemoryScope, account_id: &str, peer_id: &str) -> String {
    let peer = peer_id.to_lowercase();
    match scope {
        MemoryScope::PerAccountPerPeer => format!("account-peer:{account_id}:{peer}"),
        MemoryScope::PerPeer => format!("peer:{peer}"),
        MemoryScope::Shared => "shared".to_owned(),
    }
}

/// Which messages are history for a scope.
pub fn history_filter(scope: MemoryScope, account_id: &str, peer_id: &str) -> HistoryFilter {
    match scope {
        MemoryScope::PerAccountPerPeer => HistoryFilter::AccountPeer {
            account_id: account_id.to_owned(),
            peer_id: peer_id.to_owned(),
        },
        MemoryScope::PerPeer => HistoryFilter::Peer {
            peer_id: peer_id.to_owned(),
        },
        MemoryScope::Shared => HistoryFilter::All,
    }
}

/// The session key the OpenClaw gateway keeps a scope's history under: stable until
/// the scope is reset (the reset point is part of it, so the gateway starts afresh).
pub fn session_key(scope_key: &str, reset_after_id: i64) -> String {
    if reset_after_id == 0 {
        format!("weixin-desk:{scope_key}")
    } else {
        format!("weixin-desk:{scope_key}:{reset_after_id}")
    }
}

/// What a persona may name: `{peer_name}` (the owner's name for the peer, else a
/// name the server gave, else the id), `{peer_note}` (the owner's note, or nothing)
/// and `{date}` (YYYY-MM-DD).
pub struct PersonaVars<'a> {
    pub peer_name: &'a str,
    pub peer_note: &'a str,
    pub date: &'a str,
}

/// Fills the [`PersonaVars`] into a persona, in one pass: a name or note that looks
/// like a placeholder is kept as written.
pub fn render_persona(persona: &str, vars: &PersonaVars<'_>) -> String {
    crate::catalog::fill(
        persona,
        &[
            ("peer_name", vars.peer_name),
            ("peer_note", vars.peer_note),
            ("date", vars.date),
        ],
    )
}

/// A rough token count: one per CJK character, one per four other characters.
pub fn estimate_tokens(text: &str) -> u32 {
    let (mut cjk, mut other) = (0u32, 0u32);
    for c in text.chars() {
        if matches!(c as u32, 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF) {
            cjk += 1;
        } else {
            other += 1;
        }
    }
    cjk + other.div_ceil(4)
}

/// The body a logged message contributes to a prompt: its text (a voice message's
/// transcript), the quote it answers, and a placeholder for media without text.
pub fn message_text(row: &AiMessageRow) -> String {
    let body = row
        .text
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| placeholder(&row.item_kind).to_owned());
    match row.quote_text.as_deref().filter(|q| !q.trim().is_empty()) {
        Some(quote) => format!("[引用: {quote}]\n{body}"),
        // A quote whose text is unknown still tells the model a message was pointed at.
        None if row.quote_kind.is_some() => format!("[引用了一条消息]\n{body}"),
        None => body,
    }
}

fn placeholder(kind: &str) -> &'static str {
    match kind {
        "image" => "[图片]",
        "video" => "[视频]",
        "voice" => "[语音]",
        "file" => "[文件]",
        _ => "[消息]",
    }
}

/// A report the app itself sent (timing, debug): not conversation.
fn is_report(row: &AiMessageRow) -> bool {
    row.direction == "out"
        && row.text.as_deref().is_some_and(|t| {
            t.starts_with(super::commands::TIMING_HEADER)
                || t.starts_with(super::commands::DEBUG_HEADER)
        })
}

/// For a provider that keeps the conversation itself (the OpenClaw gateway): the rows
/// (newest first, as read) its agent has not seen — those after its last reply and
/// after `seen_upto`, the newest message a turn already gave it. The peer's messages
/// it was not asked about (a takeover, a pause) and the owner's manual replies are
/// among them. The polite notice and reports are not the agent's replies.
pub fn unseen_by_agent(
    rows: Vec<AiMessageRow>,
    seen_upto: i64,
    notice: Option<&str>,
) -> Vec<AiMessageRow> {
    let notice = notice.map(str::trim).filter(|n| !n.is_empty());
    let agent_reply = |r: &AiMessageRow| {
        r.direction == "out"
            && r.ai_generated
            && !is_report(r)
            && !(notice.is_some() && r.text.as_deref().map(str::trim) == notice)
    };
    rows.into_iter()
        .take_while(|r| r.id > seen_upto && !agent_reply(r))
        .collect()
}

/// History rows (newest first, as read) → chat messages, oldest first, within budget.
pub fn history_messages(
    rows: &[AiMessageRow],
    max_messages: u32,
    max_tokens: u32,
) -> Vec<ChatMessage> {
    let mut out = Vec::new();
    let mut tokens = 0u32;
    for row in rows
        .iter()
        .filter(|r| !is_report(r))
        .take(max_messages as usize)
    {
        let text = message_text(row);
        tokens = tokens.saturating_add(estimate_tokens(&text));
        if tokens > max_tokens {
            break;
        }
        let role = if row.direction == "in" {
            "user"
        } else {
            "assistant"
        };
        out.push(ChatMessage::new(role, text));
    }
    out.reverse();
    out
}

/// The new user turn from the coalesced inbound messages (oldest first). Images are
/// attached as `data:` URLs when `vision` is on and the file is saved; `read_image`
/// loads one (path relative to the data directory).
pub fn user_turn(
    rows: &[AiMessageRow],
    vision: bool,
    read_image: impl Fn(&str) -> Option<Vec<u8>>,
) -> ChatMessage {
    let mut turn = ChatMessage::new("user", String::new());
    let texts: Vec<String> = rows
        .iter()
        .map(|row| {
            if vision && row.item_kind == "image" {
                let image = row.media_path.as_deref().and_then(&read_image);
                if let Some(bytes) = image {
                    let mime = row.media_mime.as_deref().unwrap_or("image/jpeg");
                    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                    turn.images.push(format!("data:{mime};base64,{data}"));
                    return row
                        .quote_text
                        .as_deref()
                        .map(|q| format!("[引用: {q}]\n[图片]"))
                        .unwrap_or_else(|| "[图片]".to_owned());
                }
            }
            message_text(row)
        })
        .collect();
    turn.text = texts.join("\n");
    turn
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, direction: &str, text: &str) -> AiMessageRow {
        AiMessageRow {
            id,
            account_id: "a".into(),
            peer_id: "p".into(),
            direction: direction.into(),
            create_time_ms: id,
            item_kind: "text".into(),
            text: Some(text.into()),
            quote_text: None,
            quote_kind: None,
            media_path: None,
            media_mime: None,
            media_state: "none".into(),
            ai_generated: false,
            delivery: "received".into(),
        }
    }

    #[test]
    fn history_is_oldest_first_within_both_budgets() {
        let rows = vec![row(3, "out", "c"), row(2, "in", "b"), row(1, "in", "a")];
        let all = history_messages(&rows, 10, 100);
        assert_eq!(
            all.iter()
                .map(|m| (m.role, m.text.as_str()))
                .collect::<Vec<_>>(),
            [("user", "a"), ("user", "b"), ("assistant", "c")]
        );
        assert_eq!(history_messages(&rows, 2, 100).len(), 2);
        let long = vec![row(2, "in", &"字".repeat(50)), row(1, "in", "a")];
        assert_eq!(history_messages(&long, 10, 49).len(), 0);
        assert_eq!(history_messages(&long, 10, 50).len(), 1);
    }

    #[test]
    fn the_gateway_gets_what_came_after_its_last_reply() {
        let ai = |id, text: &str| AiMessageRow {
            ai_generated: true,
            ..row(id, "out", text)
        };
        // Newest first: a takeover's messages and the owner's reply after the agent's.
        let rows = vec![
            row(7, "in", "during takeover"),
            row(6, "out", "owner by hand"),
            ai(5, "抱歉"),
            row(4, "in", "question"),
            ai(3, "agent answer"),
            row(2, "in", "seen"),
        ];
        let ids = |rows: Vec<AiMessageRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(unseen_by_agent(rows.clone(), 0, Some("抱歉"))),
            [7, 6, 5, 4]
        );
        assert_eq!(ids(unseen_by_agent(rows.clone(), 0, None)), [7, 6]);
        assert_eq!(ids(unseen_by_agent(rows, 6, Some("抱歉"))), [7]);
    }

    #[test]
    fn scopes_and_persona_variables() {
        assert_eq!(
            scope_key(MemoryScope::PerAccountPerPeer, "acc", "Peer@im"),
            "account-peer:acc:peer@im"
        );
        assert_eq!(scope_key(MemoryScope::PerPeer, "x", "P"), "peer:p");
        assert_eq!(scope_key(MemoryScope::Shared, "x", "P"), "shared");
        let vars = PersonaVars {
            peer_name: "Ann",
            peer_note: "likes tea",
            date: "2026-01-02",
        };
        assert_eq!(
            render_persona("Hi {peer_name} ({peer_note}), today is {date}.", &vars),
            "Hi Ann (likes tea), today is 2026-01-02."
        );
        // A peer's name is not read for placeholders.
        let odd = PersonaVars {
            peer_name: "{date}",
            ..vars
        };
        assert_eq!(
            render_persona("Hi {peer_name}, today is {date}.", &odd),
            "Hi {date}, today is 2026-01-02."
        );
    }

    #[test]
    fn quotes_and_media_placeholders() {
        let mut r = row(1, "in", "");
        r.item_kind = "image".into();
        r.quote_text = Some("earlier".into());
        assert_eq!(message_text(&r), "[引用: earlier]\n[图片]");
        let mut bare = row(2, "in", "this one");
        bare.quote_kind = Some("unknown".into());
        assert_eq!(message_text(&bare), "[引用了一条消息]\nthis one");
        let turn = user_turn(&[r.clone()], true, |_| None);
        assert!(turn.images.is_empty(), "no saved file: placeholder only");
        r.media_path = Some("media/x.png".into());
        r.media_mime = Some("image/png".into());
        let turn = user_turn(&[r], true, |_| Some(vec![1, 2]));
        assert_eq!(turn.images, ["data:image/png;base64,AQI="]);
    }
}
