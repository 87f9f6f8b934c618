//! The engine against ilink-sim over loopback: polling, dedupe, -14, stop, and the
//! outbound pipeline with its durable outbox. Timings are milliseconds; waits are
//! generous and nothing asserts on how long anything took.

mod common;

use std::sync::Arc;
use std::time::Duration;

use desk_core::engine::{
    AccountStatus, Engine, EngineConfig, EngineEvent, InboundFlow, InflowLimits, Timings,
};
use desk_core::secrets::{MemoryStore, SecretKey, SecretStore};
use desk_core::store::{OutboxState, StoredMessage};
use desk_core::Store;
use ilink_sim::{Fault, Sim};
use tokio::sync::broadcast::Receiver;

use common::{add_bot, loopback_client, next_event, received, sent_texts, sim_with, Bot, WAIT};

fn timings() -> Timings {
    Timings {
        poll_retry: Duration::from_millis(20),
        poll_backoff: Duration::from_millis(100),
        poll_failures_before_backoff: 3,
        stale_token_pause: Duration::from_secs(3600),
        jitter: 0.1,
        send_retry: Duration::from_millis(20),
        send_retry_max: Duration::from_millis(200),
        send_max_attempts: 3,
        window_wait_limit: Duration::from_secs(3600),
        // Sends back to back unless a test is about pacing, and one message per send
        // unless a test is about merging.
        send_interval: Duration::ZERO,
        merge_short_texts: false,
        ..Timings::default()
    }
}

fn config() -> EngineConfig {
    config_with(|_| {})
}

fn config_with(change: impl FnOnce(&mut Timings)) -> EngineConfig {
    let mut timings = timings();
    change(&mut timings);
    EngineConfig {
        client: loopback_client(),
        timings,
        ..EngineConfig::default()
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    tokio::time::timeout(WAIT, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

fn delivery(outbox: i64, wanted: OutboxState) -> impl FnMut(&EngineEvent) -> bool {
    move |e| {
        matches!(e, EngineEvent::DeliveryUpdated { outbox_id, state, .. }
            if *outbox_id == outbox && *state == wanted)
    }
}

async fn conversation(engine: &Engine, account: &str, peer: &str) -> Vec<StoredMessage> {
    let (account, peer) = (account.to_owned(), peer.to_owned());
    engine
        .store()
        .call(move |s| s.conversation_page(&account, &peer, None, 1000))
        .await
        .unwrap()
        .messages
}

async fn stored_status(engine: &Engine, account: &str) -> String {
    let account = account.to_owned();
    engine
        .store()
        .call(move |s| s.account(&account))
        .await
        .unwrap()
        .unwrap()
        .status
}

fn getupdates_count(sim: &Sim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.endpoint.contains("getupdates"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_accounts_receive_each_message_once_in_store_and_events() {
    let sim = sim_with(|_| {}).await;
    let store = Store::open_in_memory().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let a = add_bot(&sim, &store, &secrets, &["alice@im.wechat"]);
    let b = add_bot(&sim, &store, &secrets, &["bob@im.wechat"]);
    let engine = Engine::new(store, secrets, config());
    let mut rx = engine.subscribe();
    assert!(engine.accounts().start_enabled().await.unwrap().is_empty());

    sim.inject_text(&a.bot_id, "alice@im.wechat", "one")
        .unwrap();
    sim.inject_text(&b.bot_id, "bob@im.wechat", "for b")
        .unwrap();
    sim.inject_text(&a.bot_id, "alice@im.wechat", "two")
        .unwrap();

    let mut seen = Vec::new();
    let mut all = Vec::new();
    while seen.len() < 3 {
        let event = next_event(&mut rx, |_| true).await;
        all.push(serde_json::to_string(&event).unwrap());
        if let EngineEvent::MessageReceived {
            account_id,
            peer_id,
            message_row_id,
            item_kind,
            preview,
        } = event
        {
            assert_eq!(item_kind, "text");
            assert!(["one", "two", "for b"].contains(&preview.as_deref().unwrap()));
            seen.push((account_id, peer_id, message_row_id));
        }
    }
    // docs/architecture.md invariant 1: the event comes after the commit, so the row is there.
    let alice = conversation(&engine, &a.account_id, "alice@im.wechat").await;
    let bob = conversation(&engine, &b.account_id, "bob@im.wechat").await;
    let mut texts: Vec<_> = alice.iter().filter_map(|m| m.text.clone()).collect();
    texts.sort();
    assert_eq!(texts, ["one", "two"]);
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].text.as_deref(), Some("for b"));
    for (account, peer, row) in &seen {
        let rows = if account == &a.account_id {
            &alice
        } else {
            &bob
        };
        assert!(rows.iter().any(|m| m.id == *row && &m.peer_id == peer));
    }
    eventually("both online", || {
        engine.accounts().status(&a.account_id) == AccountStatus::Online
            && engine.accounts().status(&b.account_id) == AccountStatus::Online
    })
    .await;

    // The cursor is stored; events never carry it (nor the token).
    let id = a.account_id.clone();
    let cursor = engine.store().call(move |s| s.cursor(&id)).await.unwrap();
    let cursor = cursor.expect("cursor stored");
    // docs/architecture.md invariant 4: events carry no bot token, cursor or context token.
    let mut secrets_seen = vec![cursor.expose().to_owned()];
    for bot in sim.bots() {
        secrets_seen.push(bot.info.token.clone());
    }
    secrets_seen.extend(sim.context_token(&a.bot_id, "alice@im.wechat").unwrap());
    for event in &all {
        for secret in &secrets_seen {
            assert!(!event.contains(secret.as_str()), "{event}");
        }
    }
    assert_eq!(stored_status(&engine, &a.account_id).await, "online");
    engine.shutdown().await;
    assert_eq!(
        engine.accounts().status(&a.account_id),
        AccountStatus::Stopped
    );
    assert_eq!(stored_status(&engine, &a.account_id).await, "offline");
    let presence = sim.presence_events(&a.bot_id).unwrap();
    assert!(presence.first().unwrap().online, "notifystart first");
    assert!(!presence.last().unwrap().online, "notifystop last");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeliveries_and_poll_faults_do_not_duplicate() {
    let sim = sim_with(|k| k.replay_after_ms = Some(50)).await;
    let (engine, a, mut rx) = started_engine(&sim, &["alice@im.wechat"], |_| {}).await;

    sim.inject_text(&a.bot_id, "alice@im.wechat", "first")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    // Failed polls in between: the loop backs off and resumes from the same cursor.
    sim.inject_fault("getupdates", Fault::Status { status: 500 });
    sim.inject_fault("getupdates", Fault::MalformedJson);
    sim.inject_fault(
        "getupdates",
        Fault::Json {
            body: serde_json::json!({"ret": -1}),
        },
    );
    next_event(&mut rx, |e| {
        matches!(
            e,
            EngineEvent::AccountStatusChanged {
                status: AccountStatus::BackingOff { .. },
                ..
            }
        )
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sim.inject_text(&a.bot_id, "alice@im.wechat", "second")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    // Let the replay of "second" come round too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    sim.inject_text(&a.bot_id, "alice@im.wechat", "third")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;

    let rows = conversation(&engine, &a.account_id, "alice@im.wechat").await;
    let mut texts: Vec<_> = rows.iter().filter_map(|m| m.text.clone()).collect();
    texts.sort();
    assert_eq!(texts, ["first", "second", "third"]);
    // No duplicate events either.
    while let Ok(e) = rx.try_recv() {
        assert!(!matches!(e, EngineEvent::MessageReceived { .. }), "{e:?}");
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_token_pauses_polling() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = started_engine(&sim, &["alice@im.wechat"], |_| {}).await;
    sim.inject_text(&a.bot_id, "alice@im.wechat", "hi").unwrap();
    next_event(&mut rx, received(&a.account_id)).await;

    sim.revoke_token(&a.bot_id).unwrap();
    next_event(&mut rx, |e| {
        matches!(
            e,
            EngineEvent::AccountStatusChanged {
                status: AccountStatus::StaleToken { .. },
                ..
            }
        )
    })
    .await;
    assert!(matches!(
        engine.accounts().status(&a.account_id),
        AccountStatus::StaleToken { .. }
    ));
    assert_eq!(stored_status(&engine, &a.account_id).await, "stale_token");
    let polls = getupdates_count(&sim);
    // Pause guard: a send while paused stays queued and is not attempted.
    let entry = engine
        .send_text(&a.account_id, "alice@im.wechat", "while paused")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(getupdates_count(&sim), polls, "no polling while paused");
    assert!(!sim
        .requests()
        .iter()
        .any(|r| r.endpoint.contains("sendmessage")));
    let id = entry.id;
    let entry = engine
        .store()
        .call(move |s| s.outbox_entry(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, OutboxState::Queued);
    // Stop interrupts the pause.
    tokio::time::timeout(WAIT, engine.shutdown()).await.unwrap();
    assert_eq!(
        engine.accounts().status(&a.account_id),
        AccountStatus::Stopped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_aborts_the_long_poll_in_flight() {
    let sim = sim_with(|k| {
        k.poll_hold_ms = 120_000;
        k.longpolling_timeout_ms = 130_000;
    })
    .await;
    let store = Store::open_in_memory().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let a = add_bot(&sim, &store, &secrets, &["alice@im.wechat"]);
    let engine = Engine::new(store, secrets, config());
    engine.accounts().start(&a.account_id).await.unwrap();
    eventually("a poll in flight", || sim.polls_in_flight() > 0).await;
    // Online after notifystart, while the first long-poll is still held.
    assert_eq!(
        engine.accounts().status(&a.account_id),
        AccountStatus::Online
    );
    // Well under the poll hold: the stop did not wait for the server.
    tokio::time::timeout(WAIT, engine.accounts().stop(&a.account_id))
        .await
        .expect("stop returned");
    assert!(!engine.accounts().is_running(&a.account_id));
    assert_eq!(
        engine.accounts().status(&a.account_id),
        AccountStatus::Stopped
    );
    let presence = sim.presence_events(&a.bot_id).unwrap();
    assert!(!presence.last().unwrap().online, "notifystop sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_a_token_is_paused_and_does_not_poll() {
    let sim = sim_with(|_| {}).await;
    let store = Store::open_in_memory().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let a = add_bot(&sim, &store, &secrets, &[]);
    secrets
        .delete(&SecretKey::bot_token(&a.account_id))
        .unwrap();
    let engine = Engine::new(store, secrets, config());
    let failed = engine.accounts().start_enabled().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert!(matches!(
        engine.accounts().status(&a.account_id),
        AccountStatus::Paused { .. }
    ));
    assert_eq!(getupdates_count(&sim), 0);
}

/// An engine with one bot (and these peers) whose account is already started.
async fn started_engine(
    sim: &Sim,
    peers: &[&str],
    timings: impl FnOnce(&mut Timings),
) -> (Engine, Bot, Receiver<EngineEvent>) {
    let store = Store::open_in_memory().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let a = add_bot(sim, &store, &secrets, peers);
    let engine = Engine::new(store, secrets, config_with(timings));
    let rx = engine.subscribe();
    engine.accounts().start(&a.account_id).await.unwrap();
    (engine, a, rx)
}

/// Starts an engine with one bot and one peer who has written once (so a context token
/// is stored).
async fn engine_with_peer(sim: &Sim) -> (Engine, Bot, Receiver<EngineEvent>) {
    let (engine, a, mut rx) =
        started_engine(sim, &["alice@im.wechat", "Carol@im.wechat"], |_| {}).await;
    sim.inject_text(&a.bot_id, "alice@im.wechat", "hello bot")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    (engine, a, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_row_exists_before_the_server_sees_the_send() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    sim.inject_fault("sendmessage", Fault::Delay { ms: 500 });

    let entry = engine
        .send_text(&a.account_id, "alice@im.wechat", "hi alice")
        .await
        .unwrap();
    let id = entry.id;
    let stored = engine
        .store()
        .call(move |s| s.outbox_entry(id))
        .await
        .unwrap()
        .expect("persisted");
    assert_ne!(stored.state, OutboxState::Delivered);
    assert!(sim.sent_messages(&a.bot_id).unwrap().is_empty());

    next_event(&mut rx, delivery(id, OutboxState::Delivered)).await;
    let sent = sim.sent_messages(&a.bot_id).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent_texts(&sim, &a.bot_id), ["hi alice"]);
    assert_eq!(
        Some(sent[0].context_token.clone()),
        sim.context_token(&a.bot_id, "alice@im.wechat").unwrap()
    );
    let rows = conversation(&engine, &a.account_id, "alice@im.wechat").await;
    let out = rows.iter().find(|m| m.direction == "out").unwrap();
    assert_eq!(out.delivery, "delivered");
    assert_eq!(out.server_message_id, Some(sent[0].message_id.to_string()));
    assert_eq!(out.client_id, sent[0].client_id);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_text_goes_out_in_order_as_pieces() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    let long = format!("{}\n\n{}", "a".repeat(1500), "b".repeat(1500));
    let first = engine
        .send_text(&a.account_id, "alice@im.wechat", &long)
        .await
        .unwrap();
    let second = engine
        .send_text(&a.account_id, "alice@im.wechat", "after")
        .await
        .unwrap();
    next_event(&mut rx, delivery(first.id, OutboxState::Delivered)).await;
    next_event(&mut rx, delivery(second.id, OutboxState::Delivered)).await;
    let mut expected = ilink::text::split_text(&long, ilink::text::DEFAULT_SPLIT_LIMIT);
    assert_eq!(expected.len(), 2);
    assert!(expected[0].starts_with('a') && expected[1].trim_start().starts_with('b'));
    expected.push("after".to_owned());
    assert_eq!(sent_texts(&sim, &a.bot_id), expected);
    engine.shutdown().await;
}

/// A split text whose second piece reached the server but whose answer was lost, then
/// the engine stopped: the next engine on the same database sends neither the first
/// piece again nor a second copy of the unconfirmed one under a new id; it repeats that
/// piece with its recorded client_id and goes on with the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_pieces_resumes_at_the_next_piece() {
    let sim = sim_with(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let secrets = Arc::new(MemoryStore::new());
    let store = Store::open(&path).unwrap();
    let a = add_bot(&sim, &store, &secrets, &["alice@im.wechat"]);
    let long = ["a", "b", "c"].map(|c| c.repeat(1500)).join("\n\n");
    let expected = ilink::text::split_text(&long, ilink::text::DEFAULT_SPLIT_LIMIT);
    assert_eq!(expected.len(), 3);
    // No retry within this run: the failed piece waits for the restart.
    let no_retry = config_with(|t| t.send_retry = Duration::from_secs(3600));
    let entry = {
        let engine = Engine::new(store, secrets.clone(), no_retry);
        let mut rx = engine.subscribe();
        engine.accounts().start(&a.account_id).await.unwrap();
        sim.inject_text(&a.bot_id, "alice@im.wechat", "hi").unwrap();
        next_event(&mut rx, received(&a.account_id)).await;
        // Piece 1 is served normally, piece 2 is accepted but its answer is cut.
        sim.inject_fault("sendmessage", Fault::Delay { ms: 0 });
        sim.inject_fault("sendmessage", Fault::TruncatedJson);
        let entry = engine
            .send_text(&a.account_id, "alice@im.wechat", &long)
            .await
            .unwrap();
        // Back in the queue with the error, waiting for a retry.
        next_event(&mut rx, |e| {
            matches!(e, EngineEvent::DeliveryUpdated { outbox_id, state: OutboxState::Queued,
                error: Some(_), .. } if *outbox_id == entry.id)
        })
        .await;
        engine.shutdown().await;
        entry
    };
    let before = sim.sent_messages(&a.bot_id).unwrap();
    assert_eq!(before.len(), 2, "piece 1 and the unconfirmed piece 2");
    let pieces = Store::open(&path).unwrap().outbox_pieces(entry.id).unwrap();
    assert_eq!(pieces.len(), 2);
    assert!(pieces[0].sent && !pieces[1].sent);
    assert_eq!(pieces[1].client_id, before[1].client_id.clone().unwrap());

    let engine = Engine::new(Store::open(&path).unwrap(), secrets, config());
    let mut rx = engine.subscribe();
    engine.accounts().start_enabled().await.unwrap();
    next_event(&mut rx, delivery(entry.id, OutboxState::Delivered)).await;
    let sent = sim.sent_messages(&a.bot_id).unwrap();
    let texts = sent_texts(&sim, &a.bot_id);
    // Piece 2 twice (the server had it; its answer was lost), under one client_id.
    assert_eq!(
        texts,
        [&expected[0], &expected[1], &expected[1], &expected[2]].map(String::clone)
    );
    assert_eq!(sent[1].client_id, sent[2].client_id);
    let ids: std::collections::HashSet<_> = sent.iter().map(|m| m.client_id.clone()).collect();
    assert_eq!(ids.len(), 3, "one client_id per piece");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_window_waits_and_flushes_once_when_the_peer_writes() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    sim.expire_context(&a.bot_id, "alice@im.wechat").unwrap();

    let entry = engine
        .send_text(&a.account_id, "alice@im.wechat", "late reply")
        .await
        .unwrap();
    let waiting = next_event(&mut rx, delivery(entry.id, OutboxState::WaitingForWindow)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = waiting else {
        unreachable!()
    };
    assert!(error.unwrap().contains("-2"));
    // Carol never wrote: no token at all, so nothing is even tried.
    let carol = engine
        .send_text(&a.account_id, "Carol@im.wechat", "hi carol")
        .await
        .unwrap();
    let waiting = next_event(&mut rx, delivery(carol.id, OutboxState::WaitingForWindow)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = waiting else {
        unreachable!()
    };
    assert_eq!(error.as_deref(), Some(desk_core::engine::NO_CONTEXT_TOKEN));
    assert!(sim.sent_messages(&a.bot_id).unwrap().is_empty());

    sim.inject_text(&a.bot_id, "alice@im.wechat", "are you there?")
        .unwrap();
    next_event(&mut rx, delivery(entry.id, OutboxState::Delivered)).await;
    sim.inject_text(&a.bot_id, "Carol@im.wechat", "hello")
        .unwrap();
    next_event(&mut rx, delivery(carol.id, OutboxState::Delivered)).await;
    // Another inbound message later does not send anything again.
    sim.inject_text(&a.bot_id, "alice@im.wechat", "thanks")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = sim.sent_messages(&a.bot_id).unwrap();
    assert_eq!(sent_texts(&sim, &a.bot_id), ["late reply", "hi carol"]);
    assert_eq!(sent[1].to_user_id, "Carol@im.wechat");
    engine.shutdown().await;
}

/// ret -2 with no errmsg, sent for a request shape the server will not take: refused
/// under the first token (it could be a closed window: wait for the peer), then again
/// under the token the peer just renewed, through every backoff retry. That is no closed
/// window and no rate limit: the message fails with its reason instead of waiting a day,
/// and the peer's next message goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret2_again_under_a_fresh_token_fails_as_a_malformed_request() {
    let sim = sim_with(|k| {
        k.refuse_shape_with_ret2 = Some(ilink_sim::RefuseShape {
            text_contains: "<unsendable>".into(),
            errmsg: String::new(),
        })
    })
    .await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    let peer = "alice@im.wechat";
    let broken = engine
        .send_text(&a.account_id, peer, "a <unsendable> shape")
        .await
        .unwrap();
    let waiting = next_event(&mut rx, delivery(broken.id, OutboxState::WaitingForWindow)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = waiting else {
        unreachable!()
    };
    assert!(error.unwrap().contains("-2"));
    let refused_tokens = || {
        sim.requests()
            .iter()
            .filter(|r| r.endpoint == "sendmessage")
            .filter_map(|r| {
                r.body
                    .pointer("/msg/context_token")?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect::<std::collections::BTreeSet<_>>()
    };
    // The first token's backoff runs out, and the message waits for the peer.
    eventually("the first token's tries are used up", || {
        sim.requests()
            .iter()
            .filter(|r| r.endpoint == "sendmessage")
            .count()
            == 3
    })
    .await;
    assert_eq!(refused_tokens().len(), 1);

    sim.inject_text(&a.bot_id, peer, "and?").unwrap();
    let failed = next_event(&mut rx, delivery(broken.id, OutboxState::Failed)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = failed else {
        unreachable!()
    };
    let reason = error.unwrap();
    assert!(reason.contains("malformed"), "{reason}");
    assert!(reason.contains("ret -2"), "{reason}");
    assert_eq!(
        refused_tokens().len(),
        2,
        "refused under the renewed token too"
    );
    // Three tries under the renewed token: a burst limit would have cleared.
    let tries = sim
        .requests()
        .iter()
        .filter(|r| r.endpoint == "sendmessage")
        .count();
    assert_eq!(tries, 6);

    let fine = engine.send_text(&a.account_id, peer, "fine").await.unwrap();
    next_event(&mut rx, delivery(fine.id, OutboxState::Delivered)).await;
    assert_eq!(sent_texts(&sim, &a.bot_id), ["fine"]);
    engine.shutdown().await;
}

/// With the rule turned off, the same refusals leave the message waiting for the peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_ret2_rule_off_a_refused_message_keeps_waiting() {
    let sim = sim_with(|k| {
        k.refuse_shape_with_ret2 = Some(ilink_sim::RefuseShape {
            text_contains: "<unsendable>".into(),
            errmsg: String::new(),
        })
    })
    .await;
    let (engine, a, mut rx) = started_engine(&sim, &["alice@im.wechat"], |t| {
        t.ret2_malformed_after_fresh_tokens = 0
    })
    .await;
    let peer = "alice@im.wechat";
    sim.inject_text(&a.bot_id, peer, "hi").unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    let broken = engine
        .send_text(&a.account_id, peer, "a <unsendable> shape")
        .await
        .unwrap();
    next_event(&mut rx, delivery(broken.id, OutboxState::WaitingForWindow)).await;
    let count = || {
        sim.requests()
            .iter()
            .filter(|r| r.endpoint == "sendmessage")
            .count()
    };
    eventually("the first token's tries are used up", || count() == 3).await;
    sim.inject_text(&a.bot_id, peer, "and?").unwrap();
    eventually("tried under the renewed token too", || count() == 6).await;
    sim.inject_text(&a.bot_id, peer, "still there?").unwrap();
    eventually("and under the next one", || count() == 9).await;
    let (account, row) = (a.account_id.clone(), broken.message_row_id.unwrap());
    // The ninth request is counted when the emulator gets it; the row leaves "sending"
    // once its refusal is back.
    let mut stored = None;
    for _ in 0..250 {
        let message = engine
            .store()
            .call(move |s| s.message(row))
            .await
            .unwrap()
            .unwrap();
        let settled = message.delivery != "sending";
        stored = Some(message);
        if settled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stored = stored.unwrap();
    assert_eq!(
        (stored.account_id, stored.delivery.as_str()),
        (account, "waiting_for_window")
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_errors_retry_then_fail_with_the_reason() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    sim.inject_fault("sendmessage", Fault::Status { status: 500 });
    let retried = engine
        .send_text(&a.account_id, "alice@im.wechat", "eventually")
        .await
        .unwrap();
    next_event(&mut rx, delivery(retried.id, OutboxState::Delivered)).await;
    assert_eq!(sent_texts(&sim, &a.bot_id), ["eventually"]);

    for _ in 0..3 {
        sim.inject_fault("sendmessage", Fault::Status { status: 503 });
    }
    let doomed = engine
        .send_text(&a.account_id, "alice@im.wechat", "never")
        .await
        .unwrap();
    let failed = next_event(&mut rx, delivery(doomed.id, OutboxState::Failed)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = failed else {
        unreachable!()
    };
    assert!(error.unwrap().contains("503"));
    let id = doomed.id;
    let entry = engine
        .store()
        .call(move |s| s.outbox_entry(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, OutboxState::Failed);
    assert_eq!(entry.attempts, 3);
    assert_eq!(sent_texts(&sim, &a.bot_id), ["eventually"]);

    // The user retries it: a fresh set of attempts, and this time it goes out.
    assert!(engine.retry_outbound(doomed.id).await.unwrap());
    next_event(&mut rx, delivery(doomed.id, OutboxState::Delivered)).await;
    assert_eq!(sent_texts(&sim, &a.bot_id), ["eventually", "never"]);
    assert!(
        !engine.retry_outbound(doomed.id).await.unwrap(),
        "delivered"
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_survives_a_restart_and_is_then_delivered() {
    let sim = sim_with(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let secrets = Arc::new(MemoryStore::new());
    let store = Store::open(&path).unwrap();
    let a = add_bot(&sim, &store, &secrets, &["alice@im.wechat"]);
    let entry = {
        let engine = Engine::new(store, secrets.clone(), config());
        let mut rx = engine.subscribe();
        engine.accounts().start(&a.account_id).await.unwrap();
        sim.inject_text(&a.bot_id, "alice@im.wechat", "hi").unwrap();
        next_event(&mut rx, received(&a.account_id)).await;
        engine.shutdown().await;
        // Queued while the account is offline: persisted, not sent.
        let entry = engine
            .send_text(&a.account_id, "alice@im.wechat", "sent after restart")
            .await
            .unwrap();
        assert_eq!(entry.state, OutboxState::Queued);
        entry
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sim.sent_messages(&a.bot_id).unwrap().is_empty());
    let stored_cursor = Store::open(&path)
        .unwrap()
        .cursor(&a.account_id)
        .unwrap()
        .expect("cursor stored");
    let polls_before = getupdates_count(&sim);

    let engine = Engine::new(Store::open(&path).unwrap(), secrets, config());
    let mut rx = engine.subscribe();
    engine.accounts().start_enabled().await.unwrap();
    next_event(&mut rx, delivery(entry.id, OutboxState::Delivered)).await;
    // Polling resumed from the stored cursor.
    eventually("a poll after the restart", || {
        getupdates_count(&sim) > polls_before
    })
    .await;
    let first_poll = sim
        .requests()
        .into_iter()
        .filter(|r| r.endpoint.contains("getupdates"))
        .nth(polls_before)
        .unwrap();
    assert_eq!(
        first_poll.body["get_updates_buf"].as_str(),
        Some(stored_cursor.expose())
    );
    assert_eq!(sent_texts(&sim, &a.bot_id), ["sent after restart"]);
    // The inbound message is not redelivered into the log after the restart either.
    let rows = conversation(&engine, &a.account_id, "alice@im.wechat").await;
    assert_eq!(rows.iter().filter(|m| m.direction == "in").count(), 1);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_stale_token_pause_polling_resumes_with_the_same_cursor() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = started_engine(&sim, &["alice@im.wechat"], |t| {
        t.stale_token_pause = Duration::from_millis(200)
    })
    .await;
    sim.inject_text(&a.bot_id, "alice@im.wechat", "hi").unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    let id = a.account_id.clone();
    let cursor = engine
        .store()
        .call(move |s| s.cursor(&id))
        .await
        .unwrap()
        .unwrap();

    sim.revoke_token(&a.bot_id).unwrap();
    let stale = |e: &EngineEvent| {
        matches!(
            e,
            EngineEvent::AccountStatusChanged {
                status: AccountStatus::StaleToken { .. },
                ..
            }
        )
    };
    next_event(&mut rx, stale).await;
    // The pause ends, the loop polls again (no new notifystart) and is told -14 again.
    next_event(&mut rx, stale).await;
    let bodies: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.endpoint.contains("getupdates"))
        .map(|r| r.body["get_updates_buf"].as_str().unwrap_or("").to_owned())
        .collect();
    let last_two = &bodies[bodies.len() - 2..];
    assert_eq!(last_two, [cursor.expose(), cursor.expose()]);
    let starts = sim
        .presence_events(&a.bot_id)
        .unwrap()
        .iter()
        .filter(|p| p.online)
        .count();
    assert_eq!(starts, 1);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_waiting_for_the_window_expires_with_a_reason() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = started_engine(&sim, &["alice@im.wechat"], |t| {
        t.window_wait_limit = Duration::from_millis(300)
    })
    .await;
    let entry = engine
        .send_text(&a.account_id, "alice@im.wechat", "nobody asked")
        .await
        .unwrap();
    next_event(&mut rx, delivery(entry.id, OutboxState::WaitingForWindow)).await;
    let failed = next_event(&mut rx, delivery(entry.id, OutboxState::Failed)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = failed else {
        unreachable!()
    };
    assert_eq!(
        error.as_deref(),
        Some("expired: the peer did not write again within 300 ms")
    );
    assert_eq!(
        failure_of(&engine, &entry).await.as_deref(),
        Some("window_expired")
    );
    assert!(sim.sent_messages(&a.bot_id).unwrap().is_empty());
    engine.shutdown().await;
}

/// The failure word the log keeps for an outbound message, beside its details.
async fn failure_of(engine: &Engine, entry: &desk_core::store::OutboxEntry) -> Option<String> {
    let row = entry.message_row_id.expect("a logged message");
    engine
        .store()
        .call(move |s| s.message(row))
        .await
        .unwrap()
        .unwrap()
        .failure
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_typing_indicator_fetches_the_peer_typing_ticket_once() {
    let sim = sim_with(|_| {}).await;
    let store = Store::open_in_memory().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let a = add_bot(&sim, &store, &secrets, &["alice@im.wechat"]);
    let ticket = sim
        .rotate_typing_ticket(&a.bot_id, "alice@im.wechat")
        .unwrap();
    let engine = Engine::new(store, secrets, config());
    let mut rx = engine.subscribe();
    engine.accounts().start(&a.account_id).await.unwrap();
    let requests_to = |endpoint: &str| -> Vec<serde_json::Value> {
        sim.requests()
            .into_iter()
            .filter(|r| r.endpoint.contains(endpoint))
            .map(|r| r.body)
            .collect()
    };
    // Receiving asks for no ticket: only a typing indicator needs one.
    sim.inject_text(&a.bot_id, "alice@im.wechat", "hi").unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    sim.inject_text(&a.bot_id, "alice@im.wechat", "again")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    assert!(requests_to("getconfig").is_empty());
    assert_eq!(
        engine
            .accounts()
            .typing_ticket(&a.account_id, "alice@im.wechat"),
        None
    );

    assert!(engine
        .send_typing(&a.account_id, "alice@im.wechat", true)
        .await
        .unwrap());
    let fetched = requests_to("getconfig");
    assert_eq!(fetched.len(), 1);
    let account_id = a.account_id.clone();
    let (token, _) = engine
        .store()
        .call(move |s| s.context_token(&account_id, "alice@im.wechat"))
        .await
        .unwrap()
        .expect("the peer's token is stored");
    assert_eq!(fetched[0]["ilink_user_id"], "alice@im.wechat");
    assert_eq!(fetched[0]["context_token"], token.as_str());
    assert_eq!(
        engine
            .accounts()
            .typing_ticket(&a.account_id, "alice@im.wechat")
            .as_deref(),
        Some(ticket.as_str())
    );
    // The keepalive and the cancel use the held ticket: no second fetch.
    assert!(engine
        .send_typing(&a.account_id, "alice@im.wechat", true)
        .await
        .unwrap());
    assert!(engine
        .send_typing(&a.account_id, "alice@im.wechat", false)
        .await
        .unwrap());
    assert_eq!(requests_to("getconfig").len(), 1);
    let sent = requests_to("sendtyping");
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|b| b["typing_ticket"] == ticket.as_str()));
    assert_eq!(sent[2]["status"], 2);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_one_account_leaves_the_other_running_and_is_remembered() {
    let sim = sim_with(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let store = Store::open(&path).unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let a = add_bot(&sim, &store, &secrets, &["alice@im.wechat"]);
    let b = add_bot(&sim, &store, &secrets, &["bob@im.wechat"]);
    {
        let engine = Engine::new(store, secrets.clone(), config());
        let mut rx = engine.subscribe();
        engine.accounts().start_enabled().await.unwrap();
        engine
            .accounts()
            .set_enabled(&a.account_id, false)
            .await
            .unwrap();
        assert!(!engine.accounts().is_running(&a.account_id));
        assert_eq!(
            engine.accounts().status(&a.account_id),
            AccountStatus::Stopped
        );
        sim.inject_text(&b.bot_id, "bob@im.wechat", "still here")
            .unwrap();
        next_event(&mut rx, received(&b.account_id)).await;
        assert!(matches!(
            engine.accounts().set_enabled("nobody", true).await,
            Err(desk_core::EngineError::UnknownAccount(_))
        ));
        engine.shutdown().await;
    }
    let engine = Engine::new(Store::open(&path).unwrap(), secrets, config());
    engine.accounts().start_enabled().await.unwrap();
    assert!(!engine.accounts().is_running(&a.account_id));
    assert!(engine.accounts().is_running(&b.account_id));
    engine
        .accounts()
        .set_enabled(&a.account_id, true)
        .await
        .unwrap();
    assert!(engine.accounts().is_running(&a.account_id));
    engine.shutdown().await;
    assert!(engine
        .accounts()
        .statuses()
        .values()
        .all(|s| *s == AccountStatus::Stopped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_engine_cancels_its_polls() {
    let sim = sim_with(|k| {
        k.poll_hold_ms = 120_000;
        k.longpolling_timeout_ms = 130_000;
    })
    .await;
    let store = Store::open_in_memory().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let a = add_bot(&sim, &store, &secrets, &[]);
    let engine = Engine::new(store, secrets, config());
    engine.accounts().start(&a.account_id).await.unwrap();
    eventually("a poll in flight", || sim.polls_in_flight() > 0).await;
    drop(engine);
    eventually("the poll abandoned", || sim.polls_in_flight() == 0).await;
    eventually("notifystop", || {
        sim.presence_events(&a.bot_id)
            .unwrap()
            .last()
            .is_some_and(|p| !p.online)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_waiting_message_is_not_sent_when_the_peer_writes() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    let entry = engine
        .send_text(&a.account_id, "Carol@im.wechat", "never mind")
        .await
        .unwrap();
    next_event(&mut rx, delivery(entry.id, OutboxState::WaitingForWindow)).await;
    assert!(engine.cancel_outbound(entry.id).await.unwrap());
    let failed = next_event(&mut rx, delivery(entry.id, OutboxState::Failed)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = failed else {
        unreachable!()
    };
    assert_eq!(error.as_deref(), Some(desk_core::engine::CANCELLED));
    assert_eq!(
        failure_of(&engine, &entry).await.as_deref(),
        Some("cancelled")
    );
    assert!(!engine.cancel_outbound(entry.id).await.unwrap());

    sim.inject_text(&a.bot_id, "Carol@im.wechat", "hello")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    let later = engine
        .send_text(&a.account_id, "Carol@im.wechat", "this one")
        .await
        .unwrap();
    next_event(&mut rx, delivery(later.id, OutboxState::Delivered)).await;
    assert_eq!(sent_texts(&sim, &a.bot_id), ["this one"]);
    engine.shutdown().await;
}

/// The row stored for the sim message `message_id`.
async fn row_for(engine: &Engine, account: &str, peer: &str, message_id: u64) -> StoredMessage {
    let id = message_id.to_string();
    conversation(engine, account, peer)
        .await
        .into_iter()
        .find(|m| m.server_message_id.as_deref() == Some(id.as_str()))
        .expect("the message is stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_are_resolved_against_the_stored_log() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    let peer = "alice@im.wechat";
    let original = sim
        .inject_text(&a.bot_id, peer, "lunch at noon, then the review at three")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    let original_row = row_for(&engine, &a.account_id, peer, original).await;
    // The bot's own delivered message carries the server's id and can be quoted too.
    let reply = engine
        .send_text(&a.account_id, peer, "noted")
        .await
        .unwrap();
    next_event(&mut rx, delivery(reply.id, OutboxState::Delivered)).await;
    let reply_server_id = sim.sent_messages(&a.bot_id).unwrap()[0].message_id;

    let quote = |svr_id: String, partial: Option<serde_json::Value>, text: &str| {
        let mut reference = serde_json::json!({ "svr_id": svr_id });
        if let Some(p) = partial {
            reference["partial_text"] = p;
        }
        vec![serde_json::json!({
            "type": 1, "text_item": { "text": text }, "ref_msg": reference
        })]
    };
    let whole = sim
        .inject_items(&a.bot_id, peer, quote(original.to_string(), None, "ok"))
        .unwrap();
    let part = sim
        .inject_items(
            &a.bot_id,
            peer,
            quote(
                original.to_string(),
                Some(serde_json::json!({"start": "the review", "end": "three"})),
                "which room?",
            ),
        )
        .unwrap();
    let own = sim
        .inject_items(
            &a.bot_id,
            peer,
            quote(reply_server_id.to_string(), None, "👍"),
        )
        .unwrap();
    let missing = sim
        .inject_items(&a.bot_id, peer, quote("123456789".into(), None, "?"))
        .unwrap();
    for _ in 0..4 {
        next_event(&mut rx, received(&a.account_id)).await;
    }

    let whole = row_for(&engine, &a.account_id, peer, whole).await;
    assert_eq!(whole.quote_message_id, Some(original_row.id));
    assert_eq!(
        whole.quote_text.as_deref(),
        Some("lunch at noon, then the review at three")
    );
    let part = row_for(&engine, &a.account_id, peer, part).await;
    assert_eq!(part.quote_message_id, Some(original_row.id));
    assert_eq!(part.quote_text.as_deref(), Some("the review at three"));
    let own = row_for(&engine, &a.account_id, peer, own).await;
    assert_eq!(own.quote_message_id, reply.message_row_id);
    assert_eq!(own.quote_text.as_deref(), Some("noted"));
    let missing = row_for(&engine, &a.account_id, peer, missing).await;
    assert_eq!(missing.quote_server_id.as_deref(), Some("123456789"));
    assert_eq!((missing.quote_message_id, missing.quote_text), (None, None));
    engine.shutdown().await;
}

/// A user quoting one of the bot's messages can send a quote with no body: an item type
/// no client knows, no text, no id, only the quoted item's time. It is kept as "quoted a
/// message" with what is known, and found in the log by id when given, else by time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_with_no_body_keep_their_trace_and_resolve_by_id_or_time() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    let peer = "alice@im.wechat";
    let mut rows = Vec::new();
    for text in ["first", "second"] {
        let sent = engine.send_text(&a.account_id, peer, text).await.unwrap();
        next_event(&mut rx, delivery(sent.id, OutboxState::Delivered)).await;
        rows.push(sent.message_row_id.expect("a log row"));
    }
    let sent = sim.sent_messages(&a.bot_id).unwrap();
    let (first, second) = (&sent[0], &sent[1]);

    let by_time = sim
        .inject_bodiless_quote(&a.bot_id, peer, "this one", second.message_id, false)
        .unwrap();
    let by_id = sim
        .inject_bodiless_quote(&a.bot_id, peer, "and this", first.message_id, true)
        .unwrap();
    let long_ago = sim
        .inject_items(
            &a.bot_id,
            peer,
            vec![serde_json::json!({
                "type": 1, "text_item": { "text": "that old one" },
                "ref_msg": { "message_item": { "type": 31, "create_time_ms": 1_000_000 } }
            })],
        )
        .unwrap();
    let nothing_known = sim
        .inject_items(
            &a.bot_id,
            peer,
            vec![serde_json::json!({
                "type": 1, "text_item": { "text": "?" }, "ref_msg": {}
            })],
        )
        .unwrap();
    for _ in 0..4 {
        next_event(&mut rx, received(&a.account_id)).await;
    }

    let row = row_for(&engine, &a.account_id, peer, by_time).await;
    assert_eq!(row.text.as_deref(), Some("this one"));
    assert_eq!(row.quote_message_id, Some(rows[1]));
    assert_eq!(row.quote_text.as_deref(), Some("second"));
    assert_eq!(
        row.quote_kind.as_deref(),
        Some("text"),
        "the found row's kind"
    );
    assert_eq!(row.quote_time_ms, Some(second.received_at_ms as i64));
    assert_eq!(row.quote_server_id, None);

    let row = row_for(&engine, &a.account_id, peer, by_id).await;
    assert_eq!(row.quote_message_id, Some(rows[0]));
    assert_eq!(row.quote_text.as_deref(), Some("first"));
    let first_id = first.message_id.to_string();
    assert_eq!(row.quote_server_id.as_deref(), Some(first_id.as_str()));

    let row = row_for(&engine, &a.account_id, peer, long_ago).await;
    assert_eq!((row.quote_message_id, row.quote_text), (None, None));
    assert_eq!(row.quote_kind.as_deref(), Some("unknown"));
    assert_eq!(row.quote_time_ms, Some(1_000_000));

    let row = row_for(&engine, &a.account_id, peer, nothing_known).await;
    assert_eq!((row.quote_message_id, row.quote_text), (None, None));
    assert_eq!(row.quote_kind.as_deref(), Some("none"));
    assert_eq!(row.quote_time_ms, None);
    engine.shutdown().await;
}

/// A burst past the server's send rate limit gets ret -2 with a valid token: the sender
/// backs off and tries the same token again, so every message goes out, in order, once,
/// without the peer writing again.
/// Queues `count` texts to alice, "`prefix` 1" to "`prefix` `count`"; their outbox ids.
async fn queue_texts(engine: &Engine, account: &str, prefix: &str, count: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for n in 1..=count {
        let entry = engine
            .send_text(account, "alice@im.wechat", &format!("{prefix} {n}"))
            .await
            .unwrap();
        ids.push(entry.id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_burst_backs_off_and_goes_out_in_order() {
    let sim = sim_with(|k| {
        k.send_rate_limit = Some(ilink_sim::SendRateLimit {
            max: 2,
            window_ms: 300,
        })
    })
    .await;
    let (engine, a, mut rx) = started_engine(&sim, &["alice@im.wechat"], |t| {
        t.send_retry = Duration::from_millis(100);
        t.send_retry_max = Duration::from_millis(400);
        t.send_max_attempts = 6;
    })
    .await;
    sim.inject_text(&a.bot_id, "alice@im.wechat", "tell me five things")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    let ids = queue_texts(&engine, &a.account_id, "thing", 5).await;
    // The third meets the limit and waits, with the server's reason; all go out.
    let mut delivered = std::collections::HashSet::new();
    let mut waited = None;
    while delivered.len() < ids.len() {
        let e = next_event(&mut rx, |e| {
            matches!(e, EngineEvent::DeliveryUpdated { .. })
        })
        .await;
        let EngineEvent::DeliveryUpdated {
            outbox_id,
            state,
            error,
            ..
        } = e
        else {
            unreachable!()
        };
        match state {
            OutboxState::Delivered => {
                delivered.insert(outbox_id);
            }
            OutboxState::WaitingForWindow if waited.is_none() => {
                waited = Some((outbox_id, error.unwrap_or_default()))
            }
            _ => {}
        }
    }
    let (first_waiting, reason) = waited.expect("the limit was hit");
    assert_eq!(first_waiting, ids[2]);
    assert!(reason.contains("-2"), "{reason}");
    assert_eq!(
        sent_texts(&sim, &a.bot_id),
        ["thing 1", "thing 2", "thing 3", "thing 4", "thing 5"]
    );
    engine.shutdown().await;
}

/// The ret -2 tries while the window was closed do not use up the retries of a later
/// server error: once the peer writes again, a 500 is retried, not fatal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_window_gets_a_fresh_set_of_attempts() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    sim.expire_context(&a.bot_id, "alice@im.wechat").unwrap();
    let entry = engine
        .send_text(&a.account_id, "alice@im.wechat", "after the window")
        .await
        .unwrap();
    // Every ret -2 try of this token (send_max_attempts = 3) is used up.
    let id = entry.id;
    eventually("three refused tries", || {
        sim.requests()
            .iter()
            .filter(|r| r.endpoint.contains("sendmessage"))
            .count()
            >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = engine
        .store()
        .call(move |s| s.outbox_entry(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, OutboxState::WaitingForWindow);
    assert!(stored.attempts >= 3);

    sim.inject_fault("sendmessage", Fault::Status { status: 500 });
    sim.inject_text(&a.bot_id, "alice@im.wechat", "back again")
        .unwrap();
    next_event(&mut rx, delivery(entry.id, OutboxState::Delivered)).await;
    assert_eq!(sent_texts(&sim, &a.bot_id), ["after the window"]);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_refused_with_ret_minus_2_fails_at_once_with_its_reason() {
    let sim = sim_with(|_| {}).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    sim.inject_fault(
        "sendmessage",
        Fault::Json {
            body: serde_json::json!({"ret": -2, "errmsg": "invalid arguments"}),
        },
    );
    let entry = engine
        .send_text(&a.account_id, "alice@im.wechat", "hello")
        .await
        .unwrap();
    // Not a closed window: it does not wait for the peer, it fails with the reason.
    let failed = next_event(&mut rx, |e| {
        matches!(e, EngineEvent::DeliveryUpdated { outbox_id, state, .. }
            if *outbox_id == entry.id
                && matches!(state, OutboxState::Failed | OutboxState::WaitingForWindow))
    })
    .await;
    let EngineEvent::DeliveryUpdated { state, error, .. } = failed else {
        unreachable!()
    };
    assert_eq!(state, OutboxState::Failed);
    assert!(error.unwrap().contains("invalid arguments"));
    engine.shutdown().await;
}

/// With sends paced, a burst of twenty queued messages never meets the server's rate
/// limit (the burst test above shows the same limit refusing unpaced sends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_keeps_a_burst_of_twenty_under_the_rate_limit() {
    let sim = sim_with(|k| {
        k.send_rate_limit = Some(ilink_sim::SendRateLimit {
            max: 2,
            window_ms: 300,
        })
    })
    .await;
    let (engine, a, mut rx) = started_engine(&sim, &["alice@im.wechat"], |t| {
        t.send_interval = Duration::from_millis(200);
        t.replies_per_message = 0;
    })
    .await;
    sim.inject_text(&a.bot_id, "alice@im.wechat", "tell me twenty things")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    let ids = queue_texts(&engine, &a.account_id, "thing", 20).await;
    let mut delivered = std::collections::HashSet::new();
    while delivered.len() < ids.len() {
        match next_event(&mut rx, |e| {
            matches!(e, EngineEvent::DeliveryUpdated { .. })
        })
        .await
        {
            EngineEvent::DeliveryUpdated {
                outbox_id,
                state: OutboxState::Delivered,
                ..
            } => {
                delivered.insert(outbox_id);
            }
            EngineEvent::DeliveryUpdated { state, error, .. } => {
                assert!(
                    matches!(state, OutboxState::Queued | OutboxState::Sending) && error.is_none(),
                    "refused: {state:?} {error:?}"
                );
            }
            _ => unreachable!(),
        }
    }
    let expected: Vec<String> = (1..=20).map(|n| format!("thing {n}")).collect();
    assert_eq!(sent_texts(&sim, &a.bot_id), expected);
    engine.shutdown().await;
}

/// The owner's preference paces the sends (the engine's own interval here is zero): a
/// burst stays under the server's rate limit that refuses unpaced sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_interval_preference_paces_the_sends() {
    let sim = sim_with(|k| {
        k.send_rate_limit = Some(ilink_sim::SendRateLimit {
            max: 2,
            window_ms: 300,
        })
    })
    .await;
    let (engine, a, mut rx) = started_engine(&sim, &["alice@im.wechat"], |t| {
        t.replies_per_message = 0;
    })
    .await;
    engine
        .store()
        .call(|s| s.update_prefs(|p| p.send_interval_ms = Some(200)))
        .await
        .unwrap();
    sim.inject_text(&a.bot_id, "alice@im.wechat", "tell me ten things")
        .unwrap();
    next_event(&mut rx, received(&a.account_id)).await;
    let ids = queue_texts(&engine, &a.account_id, "thing", 10).await;
    let mut delivered = std::collections::HashSet::new();
    while delivered.len() < ids.len() {
        match next_event(&mut rx, |e| {
            matches!(e, EngineEvent::DeliveryUpdated { .. })
        })
        .await
        {
            EngineEvent::DeliveryUpdated {
                outbox_id,
                state: OutboxState::Delivered,
                ..
            } => {
                delivered.insert(outbox_id);
            }
            EngineEvent::DeliveryUpdated { state, error, .. } => {
                assert!(
                    matches!(state, OutboxState::Queued | OutboxState::Sending) && error.is_none(),
                    "refused: {state:?} {error:?}"
                );
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(sent_texts(&sim, &a.bot_id).len(), 10);
    engine.shutdown().await;
}

/// Ten messages per message from the peer: the eleventh is held back with its reason,
/// never sent to be refused, and goes out (with the twelfth) once the peer writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_message_waits_for_the_peer_and_goes_out_when_they_write() {
    let sim = sim_with(|k| k.reply_quota = Some(10)).await;
    let (engine, a, mut rx) = engine_with_peer(&sim).await;
    let ids = queue_texts(&engine, &a.account_id, "answer", 12).await;
    let e = next_event(&mut rx, delivery(ids[10], OutboxState::WaitingForWindow)).await;
    let EngineEvent::DeliveryUpdated { error, .. } = e else {
        unreachable!()
    };
    assert!(
        error
            .as_deref()
            .unwrap_or("")
            .contains("waiting for them to write"),
        "{error:?}"
    );
    let account = a.account_id.clone();
    let used = engine
        .store()
        .call(move |s| s.replies_under_token(&account, "alice@im.wechat"))
        .await
        .unwrap();
    assert_eq!(used, 10);
    assert_eq!(
        sent_texts(&sim, &a.bot_id).len(),
        10,
        "nothing beyond the allowance went out"
    );
    let twelfth = ids[11];
    let row = engine
        .store()
        .call(move |s| s.outbox_entry(twelfth))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, OutboxState::Queued, "the twelfth waits its turn");

    sim.inject_text(&a.bot_id, "alice@im.wechat", "go on")
        .unwrap();
    next_event(&mut rx, delivery(ids[11], OutboxState::Delivered)).await;
    let texts = sent_texts(&sim, &a.bot_id);
    assert_eq!(texts.len(), 12);
    assert_eq!(texts[10..], ["answer 11", "answer 12"]);
    let account = a.account_id.clone();
    let used = engine
        .store()
        .call(move |s| s.replies_under_token(&account, "alice@im.wechat"))
        .await
        .unwrap();
    assert_eq!(used, 2, "the peer's new message started a new allowance");
    engine.shutdown().await;
}

/// The integrity check no longer stands between opening the store and the first
/// screen; it runs once after the accounts start, and a damaged database is announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_is_announced_after_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    drop(Store::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE filler (x TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO filler SELECT printf('%0500d', i) FROM n;",
        )
        .unwrap();
    }
    // One page near the end (the filler's leaves) overwritten with garbage.
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    let at = (bytes.len() / page - 3) * page;
    bytes[at..at + page].fill(0xa5);
    std::fs::write(&path, &bytes).unwrap();

    let store = Store::open(&path).expect("opening does not read every page");
    let engine = Engine::new(store, Arc::new(MemoryStore::new()), config());
    let mut rx = engine.subscribe();
    engine.accounts().start_enabled().await.unwrap();
    let event = next_event(&mut rx, |e| matches!(e, EngineEvent::StoreDamaged { .. })).await;
    let EngineEvent::StoreDamaged { detail } = event else {
        unreachable!()
    };
    assert!(!detail.is_empty());
    engine.shutdown().await;
}

/// The store held by the test until the returned sender is dropped or sent to: the
/// inbound writer stalls on it like on a slow commit.
async fn hold_the_store(engine: &Engine) -> std::sync::mpsc::Sender<()> {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (held, holding) = tokio::sync::oneshot::channel();
    let store = engine.store().clone();
    tokio::spawn(async move {
        store
            .call(move |_| {
                let _ = held.send(());
                let _ = released.recv();
                Ok(())
            })
            .await
    });
    holding.await.unwrap();
    release
}

async fn eventually_flow(engine: &Engine, what: &str, check: impl Fn(InboundFlow) -> bool) {
    eventually(what, || check(engine.inbound_flow())).await;
}

/// Alice's and Bob's accounts polling under `limits`. Polls are held for 8 s rather than
/// 300 ms: no empty answer sends a poller round while a test arranges the flow.
async fn alice_and_bob_polling(limits: InflowLimits) -> (Sim, Engine, Bot, Bot) {
    let sim = sim_with(|k| k.poll_hold_ms = 8_000).await;
    let store = Store::open_in_memory().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let a = add_bot(&sim, &store, &secrets, &["alice@im.wechat"]);
    let b = add_bot(&sim, &store, &secrets, &["bob@im.wechat"]);
    let mut config = config();
    config.inflow = limits;
    let engine = Engine::new(store, secrets, config);
    engine.accounts().start_enabled().await.unwrap();
    eventually("both polling", || sim.polls_in_flight() == 2).await;
    (sim, engine, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_writer_has_a_backlog_an_account_polls_again_only_with_a_permit() {
    let (sim, engine, a, b) = alice_and_bob_polling(InflowLimits {
        saturated: 1,
        polls: 1,
        permit_wait: Duration::from_millis(200),
    })
    .await;
    // (One of those polls may have needed the permit, seeing the other's batch waiting.)
    eventually_flow(&engine, "the permit back", |f| f.free_permits == 1).await;
    let before = engine.inbound_flow().polls_by_permit;

    // Alice's one message reaches the writer, which takes it and stalls on the store;
    // then Bob's many queue behind it, in one batch.
    let release = hold_the_store(&engine).await;
    sim.inject_text(&a.bot_id, "alice@im.wechat", "first")
        .unwrap();
    eventually_flow(&engine, "alice's batch queued", |f| f.waiting == 1).await;
    // Room for the writer thread to take it before Bob's arrive (no figure rests on it).
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Far more than Alice's one, and within the thousand rows `conversation` reads.
    const BOBS: usize = 900;
    let bobs: Vec<String> = (0..BOBS).map(|i| format!("bob {i}")).collect();
    let bobs: Vec<&str> = bobs.iter().map(String::as_str).collect();
    sim.inject_texts_together(&b.bot_id, "bob@im.wechat", &bobs)
        .unwrap();
    eventually_flow(&engine, "bob's batch queued", |f| f.waiting == 1 + BOBS).await;
    assert_eq!(engine.inbound_flow().polls_by_permit, before);

    // Alice's message is stored first; Bob's batch, far longer to write, still waits
    // when her next poll goes out, so that poll takes the permit.
    release.send(()).unwrap();
    eventually_flow(&engine, "a poll by permit", |f| f.polls_by_permit > before).await;
    // Everything stored once, the backlog counted back to nothing, and the permit
    // back after the server held Alice's poll (nothing was waiting for her).
    eventually_flow(&engine, "the backlog gone and the permit back", |f| {
        f.waiting == 0 && f.free_permits == 1
    })
    .await;
    let texts = |rows: Vec<StoredMessage>| -> Vec<String> {
        let mut texts: Vec<String> = rows.into_iter().filter_map(|m| m.text).collect();
        texts.sort();
        texts
    };
    let alice = conversation(&engine, &a.account_id, "alice@im.wechat").await;
    assert_eq!(texts(alice), ["first"]);
    let bob = texts(conversation(&engine, &b.account_id, "bob@im.wechat").await);
    let mut expected: Vec<String> = (0..BOBS).map(|i| format!("bob {i}")).collect();
    expected.sort();
    assert!(
        bob == expected,
        "bob's {} rows are not his {} messages once each",
        bob.len(),
        expected.len()
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_expected_to_bring_a_batch_counts_as_backlog_while_it_is_out() {
    // As when one large commit answers hundreds of pollers at once: the writer's queue
    // is empty, but the polls that follow batches will likely bring more.
    let (sim, engine, a, b) = alice_and_bob_polling(InflowLimits {
        saturated: 5,
        polls: 1,
        permit_wait: Duration::from_millis(1_500),
    })
    .await;
    let before = engine.inbound_flow().polls_by_permit;

    // Alice's batch of five is stored; her next poll is expected to bring as many.
    sim.inject_texts_together(&a.bot_id, "alice@im.wechat", &["1", "2", "3", "4", "5"])
        .unwrap();
    eventually_flow(&engine, "alice's next poll expected to bring 5", |f| {
        f.expected == 5 && f.waiting == 0
    })
    .await;
    assert_eq!(engine.inbound_flow().polls_by_permit, before);

    // Bob's one message: with the writer idle, his next poll still needs the permit.
    sim.inject_text(&b.bot_id, "bob@im.wechat", "hi").unwrap();
    eventually_flow(&engine, "bob's poll by permit", |f| {
        f.polls_by_permit == before + 1 && f.free_permits == 0
    })
    .await;
    // Both polls are held by the server (nothing waits for them): after the permit
    // wait, nothing is expected any more and the permit is back.
    eventually_flow(&engine, "nothing expected, the permit back", |f| {
        f.expected == 0 && f.free_permits == 1
    })
    .await;
    assert_eq!(engine.inbound_flow().polls_by_permit, before + 1);
    let alice = conversation(&engine, &a.account_id, "alice@im.wechat").await;
    assert_eq!(alice.len(), 5);
    engine.shutdown().await;
}
