//! Helpers shared by the engine's integration tests. Each test file uses a different
//! subset, hence the allowance.
#![allow(dead_code)]

use std::time::Duration;

use desk_core::engine::EngineEvent;
use desk_core::secrets::{MemoryStore, Secret, SecretKey, SecretStore};
use desk_core::store::AccountUpsert;
use desk_core::Store;
use ilink::{ClientConfig, Timeouts};
use ilink_sim::{Knobs, Sim, SimConfig};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

/// How long any single wait may take before a test fails; generous on purpose.
pub const WAIT: Duration = Duration::from_secs(30);

/// A client for the loopback emulator: no proxy, short but safe timeouts.
pub fn loopback_client() -> ClientConfig {
    ClientConfig {
        use_system_proxy: false,
        timeouts: Timeouts {
            get_bot_qrcode: Some(Duration::from_secs(5)),
            get_qrcode_status: Duration::from_secs(5),
            getupdates: Duration::from_secs(10),
            send: Duration::from_secs(10),
            control: Duration::from_secs(5),
        },
        ..ClientConfig::default()
    }
}

/// The next event that `wanted` accepts, skipping others (and lag).
pub async fn next_event(
    rx: &mut Receiver<EngineEvent>,
    mut wanted: impl FnMut(&EngineEvent) -> bool,
) -> EngineEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            match rx.recv().await {
                Ok(e) if wanted(&e) => return e,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => panic!("event channel closed"),
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

/// Matches a `MessageReceived` for `account`.
pub fn received(account: &str) -> impl FnMut(&EngineEvent) -> bool + '_ {
    move |e| matches!(e, EngineEvent::MessageReceived { account_id, .. } if account_id == account)
}

/// The emulator on loopback with short holds, `change` applied to its knobs.
pub async fn sim_with(change: impl FnOnce(&mut Knobs)) -> Sim {
    let mut knobs = Knobs {
        poll_hold_ms: 300,
        longpolling_timeout_ms: 10_000,
        ..Knobs::default()
    };
    change(&mut knobs);
    Sim::start(SimConfig {
        knobs,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// A sim bot registered as an account (token in the secret store only).
pub struct Bot {
    pub bot_id: String,
    pub user_id: String,
    pub account_id: String,
}

/// Creates a sim bot with `peers` and registers it in `store` as an account on the sim
/// (and its CDN), its token in `secrets`.
pub fn add_bot(sim: &Sim, store: &Store, secrets: &MemoryStore, peers: &[&str]) -> Bot {
    let info = sim.create_bot();
    for peer in peers {
        sim.add_peer(&info.bot_id, peer).unwrap();
    }
    let account_id = ilink::account_id::normalize(&info.bot_id);
    store
        .upsert_account(
            &AccountUpsert {
                account_id: account_id.clone(),
                bot_id: info.bot_id.clone(),
                base_url: sim.base_url(),
                alias: None,
                user_id: Some(info.user_id.clone()),
                cdn_url: Some(sim.cdn_base_url()),
                route_tag: None,
            },
            1,
        )
        .unwrap();
    secrets
        .set(&SecretKey::bot_token(&account_id), &Secret::new(info.token))
        .unwrap();
    Bot {
        bot_id: info.bot_id,
        user_id: info.user_id,
        account_id,
    }
}

/// Texts the sim accepted from `bot` (to `peer`, or to anyone), oldest first.
pub fn sent_texts_to(sim: &Sim, bot: &str, peer: Option<&str>) -> Vec<String> {
    sim.sent_messages(bot)
        .unwrap()
        .iter()
        .filter(|m| peer.is_none_or(|p| m.to_user_id == p))
        .map(|m| {
            m.item["text_item"]["text"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

pub fn sent_texts(sim: &Sim, bot: &str) -> Vec<String> {
    sent_texts_to(sim, bot, None)
}

pub mod ai_stub;
pub mod ai_world;
