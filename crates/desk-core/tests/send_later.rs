//! Send later and merged sends, through the engine against ilink-sim on loopback:
//! scheduled messages wait for their time (without holding back others), can be edited
//! and cancelled, and at their time still respect the peer's allowance; short texts
//! queued together arrive as one message while each log row keeps a true state.
//! Time moves by a shifted clock; waits are for conditions, never for durations.

mod common;

use std::sync::Arc;
use std::time::Duration;

use desk_core::engine::{Engine, EngineConfig, EngineEvent, Timings};
use desk_core::secrets::MemoryStore;
use desk_core::store::{OutboxState, ScheduleEdit};
use desk_core::views::{ScheduledView, WaitReason};
use desk_core::Store;
use ilink_sim::Sim;
use tokio::sync::broadcast::Receiver;

use common::ai_world::ShiftedClock;
use common::{add_bot, loopback_client, next_event, received, sent_texts, sim_with, Bot};

const ALICE: &str = "alice@im.wechat";
const HOUR: Duration = Duration::from_secs(3600);

struct World {
    sim: Sim,
    engine: Engine,
    bot: Bot,
    rx: Receiver<EngineEvent>,
    clock: Arc<ShiftedClock>,
}

/// An engine whose account runs and whose peer alice has written once.
async fn world(change: impl FnOnce(&mut Timings)) -> World {
    let mut w = world_before_alice_writes(change).await;
    w.sim
        .inject_text(&w.bot.bot_id, ALICE, "hello bot")
        .unwrap();
    next_event(&mut w.rx, received(&w.bot.account_id)).await;
    w
}

/// An engine whose account runs; alice has not written yet.
async fn world_before_alice_writes(change: impl FnOnce(&mut Timings)) -> World {
    let sim = sim_with(|_| {}).await;
    let store = Store::open_in_memory().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let bot = add_bot(&sim, &store, &secrets, &[ALICE]);
    let clock = Arc::new(ShiftedClock::default());
    let mut timings = Timings {
        jitter: 0.0,
        send_retry: Duration::from_millis(20),
        send_interval: Duration::ZERO,
        window_wait_limit: 24 * HOUR,
        ..Timings::default()
    };
    change(&mut timings);
    let engine = Engine::new(
        store,
        secrets,
        EngineConfig {
            client: loopback_client(),
            timings,
            clock: Arc::clone(&clock) as _,
            ..EngineConfig::default()
        },
    );
    let rx = engine.subscribe();
    engine.accounts().start(&bot.account_id).await.unwrap();
    World {
        sim,
        engine,
        bot,
        rx,
        clock,
    }
}

fn delivery(outbox: i64, wanted: OutboxState) -> impl FnMut(&EngineEvent) -> bool {
    move |e| {
        matches!(e, EngineEvent::DeliveryUpdated { outbox_id, state, .. }
            if *outbox_id == outbox && *state == wanted)
    }
}

async fn state_of(engine: &Engine, id: i64) -> OutboxState {
    engine
        .store()
        .call(move |s| s.outbox_entry(id))
        .await
        .unwrap()
        .unwrap()
        .state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_texts_queued_together_arrive_as_one_message_and_each_row_is_delivered() {
    let mut w = world(|_| {}).await;
    let account = w.bot.account_id.clone();
    // Queued while the account is stopped: together in the queue when it starts.
    w.engine.accounts().stop(&account).await;
    let long = "long ".repeat(100);
    let mut ids = Vec::new();
    for text in ["one", "two", "three", long.as_str(), "after"] {
        ids.push(w.engine.send_text(&account, ALICE, text).await.unwrap().id);
    }
    w.engine.accounts().start(&account).await.unwrap();
    for &id in &ids {
        next_event(&mut w.rx, delivery(id, OutboxState::Delivered)).await;
    }
    assert_eq!(
        sent_texts(&w.sim, &w.bot.bot_id),
        ["one\ntwo\nthree", long.as_str(), "after"]
    );
    let sent = w.sim.sent_messages(&w.bot.bot_id).unwrap();
    let rows = w
        .engine
        .store()
        .call(move |s| s.conversation_page(&account, ALICE, None, 100))
        .await
        .unwrap()
        .messages;
    let row = |text: &str| {
        rows.iter()
            .find(|m| m.text.as_deref() == Some(text))
            .unwrap()
            .clone()
    };
    // The three merged rows: each delivered, under the one request's ids.
    for text in ["one", "two", "three"] {
        let m = row(text);
        assert_eq!(m.delivery, "delivered", "{text}");
        assert_eq!(m.client_id, sent[0].client_id, "{text}");
        assert_eq!(m.server_message_id, Some(sent[0].message_id.to_string()));
    }
    assert_eq!(row(&long).client_id, sent[1].client_id);
    assert_eq!(row("after").client_id, sent[2].client_id);
    // One of alice's allowance per message that went out.
    let account = w.bot.account_id.clone();
    let used = w
        .engine
        .store()
        .call(move |s| s.replies_under_token(&account, ALICE))
        .await
        .unwrap();
    assert_eq!(used, 3);
    w.engine.shutdown().await;
}

/// Texts written before the peer ever wrote wait together, and go out as one message
/// once they do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_waiting_for_the_peer_go_out_as_one_message_when_they_write() {
    let mut w = world_before_alice_writes(|_| {}).await;
    let account = w.bot.account_id.clone();
    let mut ids = Vec::new();
    for text in ["hi", "are you there?", "call me"] {
        ids.push(w.engine.send_text(&account, ALICE, text).await.unwrap().id);
    }
    next_event(&mut w.rx, delivery(ids[0], OutboxState::WaitingForWindow)).await;
    w.sim.inject_text(&w.bot.bot_id, ALICE, "yes?").unwrap();
    for &id in &ids {
        next_event(&mut w.rx, delivery(id, OutboxState::Delivered)).await;
    }
    assert_eq!(
        sent_texts(&w.sim, &w.bot.bot_id),
        ["hi\nare you there?\ncall me"]
    );
    w.engine.shutdown().await;
}

/// A scheduled text waits for its time without holding back a later send to the same
/// peer, then goes out once; a cancelled one never does; an edit changes what and when.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_texts_wait_for_their_time_and_can_be_edited_and_cancelled() {
    let mut w = world(|_| {}).await;
    let account = w.bot.account_id.clone();
    let now = w.engine.now_ms();
    let hour = HOUR.as_millis() as i64;
    let later = w
        .engine
        .send_text_at(&account, ALICE, "in an hour", now + hour)
        .await
        .unwrap();
    let cancelled = w
        .engine
        .send_text_at(&account, ALICE, "never", now + hour)
        .await
        .unwrap();
    let edited = w
        .engine
        .send_text_at(&account, ALICE, "first draft", now + 3 * hour)
        .await
        .unwrap();
    assert!(matches!(
        w.engine
            .send_text_at(&account, ALICE, "past", now - 1)
            .await,
        Err(desk_core::EngineError::DueInPast)
    ));
    let listed: Vec<i64> = w
        .engine
        .scheduled(Some(&account), Some(ALICE))
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, [later.id, cancelled.id, edited.id]);

    // Sent after them, delivered first: the scheduled ones hold nothing back.
    let at_once = w
        .engine
        .send_text(&account, ALICE, "right now")
        .await
        .unwrap();
    next_event(&mut w.rx, delivery(at_once.id, OutboxState::Delivered)).await;
    assert_eq!(sent_texts(&w.sim, &w.bot.bot_id), ["right now"]);
    assert_eq!(state_of(&w.engine, later.id).await, OutboxState::Queued);

    assert!(w.engine.cancel_outbound(cancelled.id).await.unwrap());
    let changed = w
        .engine
        .edit_scheduled(
            edited.id,
            ScheduleEdit {
                text: Some("final words".into()),
                due_ms: Some(now + 2 * hour),
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.due_ms, Some(now + 2 * hour));

    // An hour on: the first goes out, the edited one still waits.
    w.clock.advance(HOUR);
    w.engine.wake_senders();
    next_event(&mut w.rx, delivery(later.id, OutboxState::Delivered)).await;
    assert_eq!(
        sent_texts(&w.sim, &w.bot.bot_id),
        ["right now", "in an hour"]
    );
    assert_eq!(state_of(&w.engine, edited.id).await, OutboxState::Queued);
    // Two hours on: the edited text, at its new time; never the cancelled one.
    w.clock.advance(HOUR);
    w.engine.wake_senders();
    next_event(&mut w.rx, delivery(edited.id, OutboxState::Delivered)).await;
    assert_eq!(
        sent_texts(&w.sim, &w.bot.bot_id),
        ["right now", "in an hour", "final words"]
    );
    assert_eq!(state_of(&w.engine, cancelled.id).await, OutboxState::Failed);
    // Gone out: no longer scheduled, no longer editable.
    assert!(w.engine.scheduled(None, None).await.unwrap().is_empty());
    assert!(matches!(
        w.engine
            .edit_scheduled(
                edited.id,
                ScheduleEdit {
                    text: Some("too late".into()),
                    due_ms: None
                }
            )
            .await,
        Err(desk_core::EngineError::NoLongerScheduled(_))
    ));
    w.engine.shutdown().await;
}

/// At its time a scheduled message still respects the peer's allowance: it waits with
/// the reason, and goes out when the peer writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_its_time_a_scheduled_message_waits_for_the_allowance() {
    let mut w = world(|t| t.replies_per_message = 1).await;
    let account = w.bot.account_id.clone();
    let first = w
        .engine
        .send_text(&account, ALICE, "the one")
        .await
        .unwrap();
    next_event(&mut w.rx, delivery(first.id, OutboxState::Delivered)).await;
    let due = w.engine.now_ms() + HOUR.as_millis() as i64;
    let later = w
        .engine
        .send_text_at(&account, ALICE, "later on", due)
        .await
        .unwrap();
    w.clock.advance(HOUR);
    w.engine.wake_senders();
    let e = next_event(&mut w.rx, delivery(later.id, OutboxState::WaitingForWindow)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = e else {
        unreachable!()
    };
    assert!(
        error
            .unwrap_or_default()
            .contains("waiting for them to write"),
        "the reason is shown"
    );
    let shown = w.engine.scheduled(Some(&account), None).await.unwrap();
    assert_eq!(shown.len(), 1, "still listed while it waits");
    assert_eq!(shown[0].wait_reason, Some(WaitReason::AllowanceUsed));
    assert_eq!(sent_texts(&w.sim, &w.bot.bot_id), ["the one"]);

    w.sim.inject_text(&w.bot.bot_id, ALICE, "go on").unwrap();
    next_event(&mut w.rx, delivery(later.id, OutboxState::Delivered)).await;
    assert_eq!(sent_texts(&w.sim, &w.bot.bot_id), ["the one", "later on"]);
    w.engine.shutdown().await;
}

/// A scheduled message whose time comes after the peer's reply window closed is not
/// sent to be refused: it waits, listed, with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_its_time_a_scheduled_message_waits_when_the_window_has_closed() {
    let mut w = world(|t| t.window_wait_limit = HOUR).await;
    let account = w.bot.account_id.clone();
    let due = w.engine.now_ms() + 2 * HOUR.as_millis() as i64;
    let later = w
        .engine
        .send_text_at(&account, ALICE, "too late", due)
        .await
        .unwrap();
    w.clock.advance(2 * HOUR);
    w.engine.wake_senders();
    let e = next_event(&mut w.rx, delivery(later.id, OutboxState::WaitingForWindow)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = e else {
        unreachable!()
    };
    assert_eq!(
        error.as_deref(),
        Some(desk_core::engine::WINDOW_CLOSED),
        "the reason is shown"
    );
    let shown = w
        .engine
        .scheduled(Some(&account), Some(ALICE))
        .await
        .unwrap();
    assert_eq!(
        shown[0].last_error.as_deref(),
        Some(desk_core::engine::WINDOW_CLOSED)
    );
    // The window says why in its language; the details stay beside it.
    let view = ScheduledView::of(shown[0].clone()).unwrap();
    assert_eq!(view.wait, Some(WaitReason::WindowClosed));
    assert_eq!(
        view.reason.as_deref(),
        Some(desk_core::engine::WINDOW_CLOSED)
    );
    assert!(w.sim.sent_messages(&w.bot.bot_id).unwrap().is_empty());
    w.engine.shutdown().await;
}
