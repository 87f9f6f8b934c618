//! One engine against ilink-sim with the AI replies running against the loopback
//! provider stub: the setup every AI test starts from.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use desk_core::ai::{AiConfig, AiEvent, AiService, AiTimings, Preset, ProviderConfig};
use desk_core::engine::{
    Clock, Engine, EngineConfig, EngineEvent, MediaOptions, SystemClock, Timings,
};
use desk_core::secrets::{MemoryStore, Secret, SecretKey, SecretStore};
use desk_core::store::AccountUpsert;
use desk_core::{DataDir, Store};
use ilink_sim::{Knobs, Sim};
use tokio::sync::broadcast::Receiver;

use super::ai_stub::Stub;
use super::{add_bot, loopback_client, next_event, Bot, WAIT};

/// The system clock plus an offset tests can move forward (takeover expiry).
#[derive(Default)]
pub struct ShiftedClock {
    offset_ms: AtomicI64,
}

impl ShiftedClock {
    pub fn now_ms_for_test(&self) -> i64 {
        self.now_ms()
    }

    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
}

pub struct World {
    pub sim: Sim,
    pub stub: Stub,
    pub engine: Arc<Engine>,
    pub ai: AiService,
    pub rx: Receiver<EngineEvent>,
    pub clock: Arc<ShiftedClock>,
    pub secrets: Arc<MemoryStore>,
    pub bot_id: String,
    pub account_id: String,
    /// The WeChat user who scanned the QR code (the account's owner).
    pub owner: String,
    /// The data directory (media downloads land here).
    pub data: tempfile::TempDir,
}

pub const ALICE: &str = "alice@im.wechat";
pub const BOB: &str = "bob@im.wechat";

pub fn fast_engine_timings() -> Timings {
    Timings {
        poll_retry: Duration::from_millis(20),
        poll_backoff: Duration::from_millis(100),
        poll_failures_before_backoff: 3,
        stale_token_pause: Duration::from_secs(3600),
        jitter: 0.0,
        send_retry: Duration::from_millis(20),
        send_retry_max: Duration::from_millis(200),
        send_max_attempts: 3,
        window_wait_limit: Duration::from_secs(3600),
        // Sends back to back unless a test is about pacing.
        send_interval: Duration::ZERO,
        ..Timings::default()
    }
}

/// AI timings for tests: short stalls and idle gaps, the real block sizes and cap.
pub fn fast_ai_timings() -> AiTimings {
    AiTimings {
        typing_keepalive: Duration::from_millis(100),
        block_idle: Duration::from_millis(400),
        first_byte_timeout: Duration::from_secs(5),
        stall_timeout: Duration::from_millis(500),
        run_timeout: Duration::from_secs(20),
        gateway_first_byte_timeout: Duration::from_secs(5),
        gateway_stall_timeout: Duration::from_millis(500),
        gateway_run_timeout: Duration::from_secs(20),
        ..AiTimings::default()
    }
}

impl World {
    pub async fn start(preset: Preset) -> World {
        World::start_with(preset, |_| {}, |_| {}).await
    }

    pub async fn start_with(
        preset: Preset,
        knobs: impl FnOnce(&mut Knobs),
        timings: impl FnOnce(&mut AiTimings),
    ) -> World {
        World::build(
            preset,
            knobs,
            timings,
            EngineConfig::default().event_capacity,
        )
        .await
    }

    /// A world whose event channel holds only `capacity` events, so that its
    /// subscribers (the AI side, the test's own) fall behind a burst.
    pub async fn start_with_event_capacity(preset: Preset, capacity: usize) -> World {
        World::build(preset, |_| {}, |_| {}, capacity).await
    }

    async fn build(
        preset: Preset,
        knobs: impl FnOnce(&mut Knobs),
        timings: impl FnOnce(&mut AiTimings),
        event_capacity: usize,
    ) -> World {
        let sim = super::sim_with(knobs).await;
        let stub = Stub::start().await;
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::at(tmp.path()).unwrap();
        let store = Store::open(&data.database()).unwrap();
        let secrets = Arc::new(MemoryStore::new());
        let Bot {
            bot_id,
            user_id,
            account_id,
        } = add_bot(&sim, &store, &secrets, &[ALICE, BOB]);
        let clock = Arc::new(ShiftedClock::default());
        let engine = Arc::new(Engine::new_in_with_media(
            store,
            &data,
            Arc::clone(&secrets) as Arc<dyn SecretStore>,
            EngineConfig {
                client: loopback_client(),
                timings: fast_engine_timings(),
                clock: Arc::clone(&clock) as Arc<dyn Clock>,
                event_capacity,
                ..EngineConfig::default()
            },
            MediaOptions {
                retry: Duration::from_millis(20),
                retry_max: Duration::from_millis(100),
                ..MediaOptions::default()
            },
        ));
        let rx = engine.subscribe();
        let mut ai_timings = fast_ai_timings();
        timings(&mut ai_timings);
        let ai = AiService::start(
            Arc::clone(&engine),
            AiConfig {
                timings: ai_timings,
                use_system_proxy: false,
                // The test's image server is on loopback.
                allow_private_image_hosts: true,
            },
        );
        let world = World {
            sim,
            stub,
            engine,
            ai,
            rx,
            clock,
            secrets,
            bot_id,
            account_id,
            owner: user_id,
            data: tmp,
        };
        world.use_preset(preset).await;
        world
            .ai
            .set_account_enabled(&world.account_id, true)
            .await
            .unwrap();
        world
            .engine
            .accounts()
            .start(&world.account_id)
            .await
            .unwrap();
        world
    }

    /// A second bot on the same sim and engine, with both peers; returns its
    /// (bot id, account id). Its AI switch is on.
    pub async fn add_account(&self) -> (String, String) {
        let info = self.sim.create_bot();
        for peer in [ALICE, BOB] {
            self.sim.add_peer(&info.bot_id, peer).unwrap();
        }
        let account_id = ilink::account_id::normalize(&info.bot_id);
        let upsert = AccountUpsert {
            account_id: account_id.clone(),
            bot_id: info.bot_id.clone(),
            base_url: self.sim.base_url(),
            alias: None,
            user_id: Some(info.user_id.clone()),
            cdn_url: Some(self.sim.cdn_base_url()),
            route_tag: None,
        };
        self.engine
            .store()
            .call(move |s| s.upsert_account(&upsert, 1))
            .await
            .unwrap();
        self.secrets
            .set(&SecretKey::bot_token(&account_id), &Secret::new(info.token))
            .unwrap();
        self.ai
            .set_account_enabled(&account_id, true)
            .await
            .unwrap();
        self.engine.accounts().start(&account_id).await.unwrap();
        (info.bot_id, account_id)
    }

    /// Points the provider at the stub with `preset`'s quirks.
    pub async fn use_preset(&self, preset: Preset) {
        let mut global = self.ai.global_settings().await.unwrap();
        global.provider = ProviderConfig {
            base_url: self.stub.base_url(),
            ..ProviderConfig::preset(preset)
        };
        self.ai.set_global_settings(global).await.unwrap();
    }

    pub fn say(&self, peer: &str, text: &str) {
        self.sim.inject_text(&self.bot_id, peer, text).unwrap();
    }

    /// Texts the sim accepted from the bot, oldest first.
    pub fn sent_texts(&self) -> Vec<String> {
        super::sent_texts(&self.sim, &self.bot_id)
    }

    pub fn sent_to(&self, peer: &str) -> Vec<String> {
        super::sent_texts_to(&self.sim, &self.bot_id, Some(peer))
    }

    /// Waits until the sim has accepted at least `n` messages from the bot.
    pub async fn wait_sent(&self, n: usize) -> Vec<String> {
        tokio::time::timeout(WAIT, async {
            loop {
                let sent = self.sent_texts();
                if sent.len() >= n {
                    return sent;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "timed out waiting for {n} sent messages: {:?}",
                self.sent_texts()
            )
        })
    }

    /// The next AI event `wanted` accepts.
    pub async fn ai_event(&mut self, mut wanted: impl FnMut(&AiEvent) -> bool) -> AiEvent {
        match next_event(
            &mut self.rx,
            |e| matches!(e, EngineEvent::Ai { event } if wanted(event)),
        )
        .await
        {
            EngineEvent::Ai { event } => event,
            _ => unreachable!(),
        }
    }

    pub async fn finished(&mut self) -> AiEvent {
        self.ai_event(|e| matches!(e, AiEvent::RunFinished { .. }))
            .await
    }

    pub async fn skipped(&mut self) -> String {
        match self
            .ai_event(|e| matches!(e, AiEvent::Skipped { .. }))
            .await
        {
            AiEvent::Skipped { reason, .. } => reason,
            _ => unreachable!(),
        }
    }

    pub async fn failed(&mut self) -> (String, bool) {
        match self
            .ai_event(|e| matches!(e, AiEvent::RunFailed { .. }))
            .await
        {
            AiEvent::RunFailed {
                reason,
                notice_sent,
                ..
            } => (reason, notice_sent),
            _ => unreachable!(),
        }
    }
}
