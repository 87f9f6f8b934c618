//! The sandbox scenario behind `ilink-sim --demo`: QR logins confirm themselves, and a
//! few peers with Chinese and English names chat with every live bot on a timeline:
//! texts, pictures, a file, voice with and without a transcript, and a quote.

mod png;
mod script;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::media::{InboundMedia, KeyForm, MediaKind};
use crate::state::{lock, Shared, SimError, State};
use crate::voice;

pub use script::DemoPeer;

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Time between two messages to each bot.
    pub tick: Duration,
    /// QR codes are scanned after this long and confirmed after as long again.
    pub login_step_ms: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            tick: Duration::from_secs(4),
            login_step_ms: 2000,
        }
    }
}

/// The demo's users, with display names.
pub fn demo_peers() -> Vec<DemoPeer> {
    script::PEERS.to_vec()
}

/// Where one bot is in the timeline, and the ids of what it was sent (for quotes).
#[derive(Default)]
struct Progress {
    next: usize,
    sent: HashMap<usize, u64>,
}

/// Turns on auto-login and starts the timeline task.
pub(crate) fn start(shared: Shared, config: DemoConfig) -> JoinHandle<()> {
    {
        let mut state = lock(&shared);
        state.knobs.auto_login_ms = Some(config.login_step_ms);
        state.knobs.auto_login_greeting = Some("你好！This is ilink-sim's demo user.".to_owned());
        state.demo_peers = demo_peers();
    }
    // Encode the voice clips now (real SILK, cached), not on the timeline's first turn.
    for (_, say) in script::TIMELINE {
        if let script::Say::Voice { playtime_ms, .. } = say {
            voice::silk_voice(*playtime_ms);
        }
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(config.tick);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut progress: HashMap<String, Progress> = HashMap::new();
        loop {
            ticks.tick().await;
            let mut state = lock(&shared);
            for bot_id in live_bots(&state) {
                let entry = progress.entry(bot_id.clone()).or_default();
                if let Err(err) = step(&mut state, &bot_id, entry) {
                    tracing::warn!(%err, bot = bot_id, "demo step failed");
                }
            }
        }
    })
}

fn live_bots(state: &State) -> Vec<String> {
    state
        .bot_list()
        .into_iter()
        .filter(|b| b.token_live)
        .map(|b| b.info.bot_id)
        .collect()
}

/// Injects the bot's next timeline step.
fn step(state: &mut State, bot_id: &str, progress: &mut Progress) -> Result<(), SimError> {
    for peer in &script::PEERS {
        state.add_peer(bot_id, peer.user_id)?;
    }
    let index = progress.next % script::TIMELINE.len();
    progress.next += 1;
    let (who, say) = &script::TIMELINE[index];
    let peer = &script::PEERS[*who];
    let id = match say {
        script::Say::Text(text) => state.inject_text(bot_id, peer.user_id, text)?,
        script::Say::Image(background, band) => state.inject_media(
            bot_id,
            peer.user_id,
            InboundMedia {
                kind: MediaKind::Image,
                bytes: png::two_tone(48, *background, *band),
                key_form: KeyForm::HexAndRawBase64,
                full_url: true,
            },
        )?,
        script::Say::File { name, body } => state.inject_media(
            bot_id,
            peer.user_id,
            InboundMedia {
                kind: MediaKind::File {
                    name: (*name).to_owned(),
                },
                bytes: body.as_bytes().to_vec(),
                key_form: KeyForm::HexBase64,
                full_url: true,
            },
        )?,
        script::Say::Voice {
            transcript,
            playtime_ms,
        } => {
            let id = state.inject_media(
                bot_id,
                peer.user_id,
                InboundMedia {
                    kind: MediaKind::Voice {
                        text: transcript.map(str::to_owned),
                    },
                    bytes: voice::silk_voice(*playtime_ms),
                    key_form: KeyForm::HexBase64,
                    full_url: true,
                },
            )?;
            set_playtime(state, bot_id, *playtime_ms);
            id
        }
        script::Say::Quote { step, text } => {
            let items = vec![quote_item(
                progress.sent.get(step).copied(),
                *step,
                peer,
                text,
            )];
            state.inject_items(bot_id, peer.user_id, items)?
        }
    };
    progress.sent.insert(index, id);
    Ok(())
}

/// The embedded quote form (docs/protocol.md §5.6): title, the quoted item and its `svr_id`.
fn quote_item(quoted_id: Option<u64>, step: usize, peer: &DemoPeer, text: &str) -> Value {
    let quoted_text = match &script::TIMELINE[step].1 {
        script::Say::Text(t) => *t,
        _ => "",
    };
    let mut item = json!({ "type": 1, "text_item": { "text": text } });
    if let Some(id) = quoted_id {
        item["ref_msg"] = json!({
            "title": peer.display_name,
            "svr_id": id.to_string(),
            "message_item": { "type": 1, "text_item": { "text": quoted_text } },
        });
    }
    item
}

/// The media injector gives its own clip's length; the demo's voices differ.
fn set_playtime(state: &mut State, bot_id: &str, playtime_ms: u32) {
    let Ok(bot) = state.bot_mut(bot_id) else {
        return;
    };
    let voice = bot.queue.last_mut().and_then(|queued| {
        queued
            .msg
            .get_mut("item_list")
            .and_then(|items| items.get_mut(0))
            .and_then(|item| item.get_mut("voice_item"))
    });
    if let Some(Value::Object(voice)) = voice {
        voice.insert("playtime".into(), json!(playtime_ms));
    }
}
