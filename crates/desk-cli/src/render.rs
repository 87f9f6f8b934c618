//! Terminal output: times, message text as plain text, and one line per engine event.
//! Text from the network may hold terminal control sequences; they are shown escaped,
//! never passed to the terminal.

use desk_core::ai::AiEvent;
use desk_core::engine::{AccountStatus, EngineEvent};
use desk_core::event_bus::Touched;
use desk_core::store::StoredMessage;
use desk_core::views::{Delivery, Direction};

/// `YYYY-MM-DD HH:MM:SS` (UTC) of an epoch-milliseconds time.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// `text` safe for a terminal: control characters and bidirectional overrides escaped;
/// line breaks kept only if `keep_newlines`, else shown as `\n`.
pub fn plain(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// What a message shows: its text, or a placeholder for media.
pub fn body(m: &StoredMessage, keep_newlines: bool) -> String {
    let mut parts = Vec::new();
    if m.item_kind != "text" {
        let mut media = format!("[{}", m.item_kind);
        if let Some(name) = &m.media_file_name {
            media.push_str(&format!(" {}", plain(name, false)));
        }
        if let Some(size) = m.media_size {
            media.push_str(&format!(", {size} bytes"));
        }
        media.push(']');
        parts.push(media);
    }
    if let Some(quote) = &m.quote_text {
        parts.push(format!("(quoting \"{}\")", plain(quote, false)));
    } else if let Some(kind) = &m.quote_kind {
        parts.push(quoted_a_message(kind, m));
    }
    if let Some(text) = &m.text {
        parts.push(plain(text, keep_newlines));
    }
    parts.join(" ")
}

/// A quote with no text to show: what is known of the quoted message.
fn quoted_a_message(kind: &str, m: &StoredMessage) -> String {
    let mut known = Vec::new();
    if !matches!(kind, "none" | "unknown") {
        known.push(kind.to_owned());
    }
    if let Some(time) = m.quote_time_ms {
        known.push(format!("from {} UTC", utc(time)));
    }
    if let Some(id) = &m.quote_server_id {
        known.push(format!("id {}", plain(id, false)));
    }
    if known.is_empty() {
        "(quoted a message)".to_owned()
    } else {
        format!("(quoted a message: {})", known.join(", "))
    }
}

/// A peer as the terminal shows it: `Name (id)`, or the id alone.
pub fn peer_label(peer_id: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{} ({})", plain(name, false), plain(peer_id, false)),
        None => plain(peer_id, false),
    }
}

/// One message of a conversation log, continuation lines indented; `name` is the name
/// the peer is shown by.
pub fn log_line(m: &StoredMessage, name: Option<&str>) -> String {
    let arrow = if m.direction == "in" {
        format!("<- {}", peer_label(&m.peer_id, name))
    } else {
        // "accepted": taken by the server without a message id, not confirmed.
        let delivery = Delivery::of(Direction::Out, &m.delivery, m.server_message_id.as_deref());
        let mut state = delivery.as_str().to_owned();
        if let Some(error) = &m.error {
            state.push_str(&format!(": {}", plain(error, false)));
        }
        format!("-> [{state}]")
    };
    let text = body(m, true).replace('\n', "\n    ");
    format!("{} {arrow}: {text}", utc(m.create_time_ms))
}

/// One search hit, with its account and peer.
pub fn search_line(m: &StoredMessage, name: Option<&str>) -> String {
    let arrow = if m.direction == "in" { "<-" } else { "->" };
    format!(
        "{} {} {arrow} {}: {}",
        utc(m.create_time_ms),
        m.account_id,
        peer_label(&m.peer_id, name),
        body(m, false)
    )
}

/// An account status in words.
pub fn status(status: &AccountStatus) -> String {
    match status {
        AccountStatus::BackingOff { attempt, until_ms } => format!(
            "backing_off (failure {attempt}, next try {} UTC)",
            utc(*until_ms)
        ),
        AccountStatus::StaleToken { until_ms } => format!(
            "stale_token (log in again; polling resumes {} UTC)",
            utc(*until_ms)
        ),
        AccountStatus::Paused { reason } => format!("paused: {}", plain(reason, false)),
        other => other.as_str().to_owned(),
    }
}

/// One line for one engine event. Events carry no tokens, cursors or context tokens.
/// Kinds of event this build does not describe in words are shown as their JSON.
#[allow(unreachable_patterns)]
pub fn event_line(time_ms: i64, event: &EngineEvent) -> String {
    let time = utc(time_ms);
    match event {
        EngineEvent::AccountStatusChanged {
            account_id,
            status: s,
        } => {
            format!("{time} {account_id} status {}", status(s))
        }
        EngineEvent::MessageReceived {
            account_id,
            peer_id,
            message_row_id,
            item_kind,
            preview,
        } => {
            let mut line = format!(
                "{time} {account_id} message #{message_row_id} from {} [{item_kind}]",
                plain(peer_id, false)
            );
            if let Some(p) = preview {
                line.push_str(&format!(": {}", plain(p, false)));
            }
            line
        }
        EngineEvent::DeliveryUpdated {
            outbox_id,
            account_id,
            peer_id,
            state,
            error,
            ..
        } => {
            let mut line = format!(
                "{time} {account_id} outbox #{outbox_id} to {}: {}",
                plain(peer_id, false),
                state.as_str()
            );
            if let Some(e) = error {
                line.push_str(&format!(" ({})", plain(e, false)));
            }
            line
        }
        EngineEvent::Ai { event } => format!("{time} {}", ai_line(event)),
        EngineEvent::StoreDamaged { detail } => format!(
            "{time} the database failed its integrity check ({}): stop, and restore a backup",
            plain(detail, false)
        ),
        other => {
            let mut value = serde_json::to_value(other).unwrap_or_default();
            let kind = value
                .as_object_mut()
                .and_then(|o| o.remove("type"))
                .and_then(|t| t.as_str().map(str::to_owned))
                .unwrap_or_else(|| "event".to_owned());
            format!("{time} {kind} {}", plain(&value.to_string(), false))
        }
    }
}

/// An AI event in words (no message text: reasons and command names only).
pub fn ai_line(event: &AiEvent) -> String {
    let p = |peer: &str| plain(peer, false);
    match event {
        AiEvent::RunStarted {
            account_id,
            peer_id,
            inbound,
        } => format!(
            "{account_id} AI reply to {} started ({inbound} message(s))",
            p(peer_id)
        ),
        AiEvent::Queued {
            account_id,
            peer_id,
            waiting,
        } => format!(
            "{account_id} AI reply to {} queued behind the one under way ({waiting} waiting)",
            p(peer_id)
        ),
        AiEvent::RunFinished {
            account_id,
            peer_id,
            messages_sent,
            dropped_chars,
        } => {
            let mut line = format!(
                "{account_id} AI replied to {}: {messages_sent} message(s)",
                p(peer_id)
            );
            if *dropped_chars > 0 {
                line.push_str(&format!(
                    ", {dropped_chars} characters left out (over the message cap)"
                ));
            }
            line
        }
        AiEvent::StillWorking {
            account_id,
            peer_id,
            elapsed_ms,
        } => format!(
            "{account_id} AI reply to {} still under way ({} s so far)",
            p(peer_id),
            elapsed_ms / 1000
        ),
        AiEvent::NoReply {
            account_id,
            peer_id,
            reason,
        } => format!(
            "{account_id} AI chose not to answer {}: {} (nothing sent)",
            p(peer_id),
            plain(reason, false)
        ),
        AiEvent::RunFailed {
            account_id,
            peer_id,
            reason,
            notice_sent,
        } => format!(
            "{account_id} AI reply to {} failed: {}{}",
            p(peer_id),
            plain(reason, false),
            if *notice_sent {
                " (the peer got the polite notice)"
            } else {
                ""
            }
        ),
        AiEvent::Skipped {
            account_id,
            peer_id,
            reason,
        } => format!(
            "{account_id} AI skipped a message from {}: {}",
            p(peer_id),
            plain(reason, false)
        ),
        AiEvent::TakeoverStarted {
            account_id,
            peer_id,
            until_ms,
        } => format!(
            "{account_id} AI quiet for {} until {} UTC: you replied by hand (`ai resume-peer` ends it)",
            p(peer_id),
            utc(*until_ms)
        ),
        AiEvent::TakeoverEnded {
            account_id,
            peer_id,
        } => format!("{account_id} AI answers {} again", p(peer_id)),
        AiEvent::SettingsChanged {
            account_id,
            peer_id,
        } => {
            let whose = match (account_id, peer_id) {
                (Some(a), Some(peer)) => format!(" for {} on {a}", p(peer)),
                (Some(a), None) => format!(" for {a}"),
                _ => String::new(),
            };
            format!("AI settings changed{whose}")
        }
        AiEvent::CommandHandled {
            account_id,
            command,
        } => format!(
            "{account_id} AI command handled: {}",
            plain(command, false)
        ),
    }
}

/// The event as one JSON object with the time it was seen (first). Serialized straight
/// to text: through a `serde_json::Value` tree the lines took half as long again in
/// a burst.
pub fn event_json(time_ms: i64, event: &EngineEvent) -> String {
    let body = serde_json::to_string(event).unwrap_or_default();
    // Every event is an object with at least its "type".
    match body.strip_prefix('{') {
        Some(fields) => format!("{{\"time_ms\":{time_ms},{fields}"),
        None => format!("{{\"time_ms\":{time_ms}}}"),
    }
}

/// The line said when the printer fell behind and `count` events were skipped: how
/// many, and which accounts and conversations they touched (the store has them all).
pub fn skipped_line(time_ms: i64, count: u64, touched: Option<&Touched>) -> String {
    let time = utc(time_ms);
    let what = match touched {
        Some(t) => format!(
            "{} account(s), {} conversation(s) touched: {}",
            t.accounts.len(),
            t.conversations.len(),
            t.accounts
                .iter()
                .map(|a| if a.is_empty() {
                    "(all)".to_owned()
                } else {
                    plain(a, false)
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "too far behind to say what they touched".to_owned(),
    };
    format!("{time} skipped {count} events (this printer fell behind; the store has them): {what}")
}

/// [`skipped_line`] as a JSON object of type `skipped`.
pub fn skipped_json(time_ms: i64, count: u64, touched: Option<&Touched>) -> String {
    serde_json::json!({
        "type": "skipped",
        "time_ms": time_ms,
        "count": count,
        "touched": touched.map(|t| serde_json::json!({
            "accounts": t.accounts,
            "conversations": t.conversations.iter()
                .map(|(a, p)| serde_json::json!({"account_id": a, "peer_id": p}))
                .collect::<Vec<_>>(),
        })),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_000_000_123), "2026-11-18 11:06:40");
        assert_eq!(utc(-1000), "1969-12-31 23:59:59");
    }

    #[test]
    fn ai_events_read_as_words_with_their_reasons() {
        let (a, p) = ("acc".to_owned(), "bob@im.wechat".to_owned());
        let line = |e: AiEvent| event_line(0, &EngineEvent::Ai { event: e });
        assert_eq!(
            line(AiEvent::RunFailed {
                account_id: a.clone(),
                peer_id: p.clone(),
                reason: "the provider answered HTTP 500: busy\u{1b}[2J".into(),
                notice_sent: true,
            }),
            "1970-01-01 00:00:00 acc AI reply to bob@im.wechat failed: the provider answered \
             HTTP 500: busy\\u{001b}[2J (the peer got the polite notice)"
        );
        assert_eq!(
            line(AiEvent::Skipped {
                account_id: a.clone(),
                peer_id: p.clone(),
                reason: "quiet hours".into(),
            }),
            "1970-01-01 00:00:00 acc AI skipped a message from bob@im.wechat: quiet hours"
        );
        assert!(line(AiEvent::TakeoverStarted {
            account_id: a.clone(),
            peer_id: p.clone(),
            until_ms: 1_800_000,
        })
        .contains("AI quiet for bob@im.wechat until 1970-01-01 00:30:00 UTC"));
        assert!(line(AiEvent::RunFinished {
            account_id: a,
            peer_id: p,
            messages_sent: 2,
            dropped_chars: 7,
        })
        .ends_with("AI replied to bob@im.wechat: 2 message(s), 7 characters left out (over the message cap)"));
    }

    #[test]
    fn event_json_is_the_event_with_its_time() {
        let event = EngineEvent::Ai {
            event: AiEvent::Skipped {
                account_id: "acc".into(),
                peer_id: "p\"}{".into(),
                reason: "quiet hours".into(),
            },
        };
        let line = event_json(1_700, &event);
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        let mut expected = serde_json::to_value(&event).unwrap();
        expected["time_ms"] = 1_700.into();
        assert_eq!(parsed, expected);
        assert!(line.starts_with(r#"{"time_ms":1700,"type":"ai""#), "{line}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(plain("a\u{1b}[31mb", false), "a\\u{001b}[31mb");
        assert_eq!(plain("x\ny", false), "x\\ny");
        assert_eq!(plain("x\ny", true), "x\ny");
        assert_eq!(plain("abc\u{202e}def", true), "abc\\u{202e}def");
        assert_eq!(plain("你好 <b>", false), "你好 <b>");
    }
}
