//! `ilink/bot/getupdates` (docs/protocol.md §2.4, E7, E8): a long-poll over a per-bot queue, with an
//! opaque cursor that acknowledges what the client has taken.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use tokio::time::Instant;

use crate::auth::{self, StaleShape};
use crate::corrupt::{self, Corruption};
use crate::state::{lock, Shared};
use crate::wire;

/// Where the client is in the queue. `None` for the empty cursor.
fn decode_cursor(bot_id: &str, cursor: &str) -> Result<Option<u64>, String> {
    if cursor.is_empty() {
        return Ok(None);
    }
    let raw = STANDARD
        .decode(cursor)
        .map_err(|_| "get_updates_buf is not base64".to_owned())?;
    let text = String::from_utf8(raw).map_err(|_| "get_updates_buf is not ours".to_owned())?;
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("simcur1"), Some(bot), Some(pos)) if bot == bot_id => pos
            .parse::<u64>()
            .map(Some)
            .map_err(|_| "get_updates_buf position is malformed".to_owned()),
        (Some("simcur1"), Some(_), Some(_)) => {
            Err("get_updates_buf belongs to another bot".to_owned())
        }
        _ => Err("get_updates_buf is not ours".to_owned()),
    }
}

/// Opaque to clients, like the real cursor (base64 of a small record naming the bot).
fn encode_cursor(bot_id: &str, position: u64) -> String {
    STANDARD.encode(format!("simcur1|{bot_id}|{position}"))
}

pub(crate) async fn getupdates(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authed = match auth::authenticate(
        &shared,
        "getupdates",
        &headers,
        &body,
        StaleShape::Getupdates,
    ) {
        Ok(authed) => authed,
        Err(rejection) => return rejection.into_response(),
    };
    let cursor_text = match authed.body.get("get_updates_buf") {
        None | Some(Value::Null) => {
            // The official client always sends it ("" when it has none).
            let note = "get_updates_buf missing; treated as \"\"".to_owned();
            lock(&shared).note(authed.log_id, [note]);
            ""
        }
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return wire::bad_request("get_updates_buf must be a string"),
    };
    let bot_id = authed.bot_id.as_str();

    // Acknowledge first; an unreadable cursor is treated like "" (the real server's
    // reaction is unknown), and noted in the request log.
    let (from, hold) = {
        let mut state = lock(&shared);
        let hold = Duration::from_millis(state.knobs.poll_hold_ms);
        let position = match decode_cursor(bot_id, cursor_text) {
            Ok(position) => position,
            Err(problem) => {
                state.note(authed.log_id, [format!("{problem}; treated as \"\"")]);
                None
            }
        };
        let Ok(bot) = state.bot_mut(bot_id) else {
            return auth::stale(StaleShape::Getupdates, false);
        };
        let position = position.map(|p| p.min(bot.last_seq()));
        if let Some(p) = position {
            bot.acked = bot.acked.max(p);
        }
        (position.unwrap_or(bot.acked), hold)
    };

    let _in_flight = InFlight::enter(&shared);
    let deadline = Instant::now() + hold;
    let mut next_due: Option<std::time::Instant> = None;
    loop {
        let notify = {
            let state = lock(&shared);
            match state.bots.get(bot_id) {
                Some(bot) => bot.notify.clone(),
                None => return auth::stale(StaleShape::Getupdates, false),
            }
        };
        let notified = notify.notified();
        tokio::pin!(notified);
        // Registered before looking, so an inject between the look and the wait is not lost.
        notified.as_mut().enable();
        {
            let mut guard = lock(&shared);
            let state = &mut *guard;
            if state.bot_for_token(&authed.token) != Some(bot_id) {
                return auth::stale(StaleShape::Getupdates, state.knobs.stale_includes_ret);
            }
            let knobs = state.knobs.clone();
            let Some(bot) = state.bots.get_mut(bot_id) else {
                return auth::stale(StaleShape::Getupdates, false);
            };
            let now = std::time::Instant::now();
            let stall = knobs.redeliver_unacked_after_ms.map(Duration::from_millis);
            let acked = bot.acked;
            let mut msgs = Vec::new();
            let mut first_deliveries = Vec::new();
            let mut redelivered = 0;
            for queued in bot.queue.iter_mut().filter(|q| q.seq > from) {
                if let (Some(stall), Some(at), true) =
                    (stall, queued.delivered_at, queued.seq > acked)
                {
                    // Delivered, not acknowledged yet: the server waits before redelivering.
                    let due = at + stall;
                    if now < due {
                        next_due = Some(next_due.map_or(due, |d: std::time::Instant| d.min(due)));
                        continue;
                    }
                    redelivered += 1;
                }
                queued.delivered_at = Some(now);
                queued.first_handed_out_ms.get_or_insert_with(epoch_ms);
                msgs.push(corrupt::render(&queued.msg, queued.corruption));
                if !queued.replayed {
                    queued.replayed = true;
                    first_deliveries.push((queued.msg.clone(), queued.corruption));
                }
            }
            if !msgs.is_empty() || Instant::now() >= deadline {
                let position = bot.queue.last().map_or(from, |q| q.seq.max(from));
                if let Some(delay) = knobs.replay_after_ms {
                    for (msg, corruption) in first_deliveries {
                        if state.draw_replay() {
                            schedule_replay(&shared, bot_id, msg, corruption, delay);
                        }
                    }
                }
                if redelivered > 0 {
                    let note = format!("redelivered {redelivered} unacknowledged message(s)");
                    state.note(authed.log_id, [note]);
                }
                let cursor = if knobs.empty_cursor {
                    String::new()
                } else {
                    encode_cursor(bot_id, position)
                };
                // Written by hand around each message's own text, which may carry an
                // odd field no `Value` can hold (corrupt.rs).
                let body = format!(
                    r#"{{"ret":0,"msgs":[{}],"get_updates_buf":{},"longpolling_timeout_ms":{}}}"#,
                    msgs.join(","),
                    Value::String(cursor),
                    knobs.longpolling_timeout_ms,
                );
                return wire::ok_text(body);
            }
        }
        // Wake for a held-back message falling due, if that is before the hold ends.
        let wake = next_due
            .take()
            .map_or(deadline, |due| Instant::from_std(due).min(deadline));
        let _ = tokio::time::timeout_at(wake, notified).await;
    }
}

/// Counts a getupdates in `polls_in_flight` until it is answered or the client goes
/// away (axum drops the handler's future then, and with it this guard).
struct InFlight(Shared);

impl InFlight {
    fn enter(shared: &Shared) -> InFlight {
        lock(shared).polls_in_flight += 1;
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = lock(&self.0);
        state.polls_in_flight = state.polls_in_flight.saturating_sub(1);
    }
}

/// Delivers `msg` once more after `delay_ms` (the real server's ~1 s replays).
fn schedule_replay(
    shared: &Shared,
    bot_id: &str,
    msg: Value,
    corruption: Option<Corruption>,
    delay_ms: u64,
) {
    let shared = shared.clone();
    let bot_id = bot_id.to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        lock(&shared).replay(&bot_id, msg, corruption);
    });
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_is_bound_to_its_bot() {
        let c = encode_cursor("abc@im.bot", 7);
        assert_eq!(decode_cursor("abc@im.bot", &c), Ok(Some(7)));
        assert!(decode_cursor("def@im.bot", &c).is_err());
        assert!(decode_cursor("abc@im.bot", "%%%").is_err());
        assert_eq!(decode_cursor("abc@im.bot", ""), Ok(None));
    }
}
