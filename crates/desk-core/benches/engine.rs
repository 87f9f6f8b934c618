//! Engine figures against ilink-sim on loopback (release build; figures only, no
//! pass/fail):
//!
//! 1. **Latency**: 10 accounts, 50 inbound messages/s in total, for 10 s. Each message
//!    is injected into a held long-poll, which the emulator answers at once; the figure
//!    is from the injection to the engine's `MessageReceived` event (after the commit),
//!    so it includes the emulator's wake-up and the HTTP round trip. Target p99 ≤ 10 ms.
//! 2. **Burst**: 10,000 messages waiting for one account; the engine starts and the
//!    figure is messages per second until all are committed (one getupdates answer, one
//!    transaction). Target ≥ 2,000 messages/s.
//! 3. **Store alone**: the same 10,000 messages through `Store::commit_inbound_batch`.
//! 4. **Baseline**: figure 1 without the engine: 10 bare `ilink` clients long-polling
//!    the same emulator, from the injection to `getupdates` returning. The difference to
//!    figure 1 is what the engine adds (parse, commit, event).
//!
//! `cargo bench -p desk-core --bench engine`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use desk_core::engine::{AccountStatus, Engine, EngineConfig, EngineEvent};
use desk_core::secrets::{MemoryStore, Secret, SecretKey, SecretStore};
use desk_core::store::AccountUpsert;
use desk_core::Store;
use ilink::models::{ItemType, MessageItem, TextItem, WeixinMessage};
use ilink::{ClientConfig, Timeouts};
use ilink_sim::{Knobs, Sim, SimConfig};
use tokio::sync::broadcast::error::RecvError;

const ACCOUNTS: usize = 10;
const RATE_PER_S: u64 = 50;
const LATENCY_SECS: u64 = 10;
const BURST: usize = 10_000;
const PEER: &str = "bench-peer@im.wechat";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        latency().await;
        baseline().await;
        burst().await;
    });
    store_alone();
}

fn client() -> ClientConfig {
    ClientConfig {
        use_system_proxy: false,
        timeouts: Timeouts {
            getupdates: Duration::from_secs(40),
            ..Timeouts::default()
        },
        ..ClientConfig::default()
    }
}

/// An engine on `store` with the benchmark's client and otherwise default settings.
fn engine_on(store: Store, secrets: Arc<MemoryStore>) -> Engine {
    Engine::new(
        store,
        secrets,
        EngineConfig {
            client: client(),
            ..EngineConfig::default()
        },
    )
}

async fn sim() -> Sim {
    Sim::start(SimConfig {
        knobs: Knobs {
            poll_hold_ms: 30_000,
            ..Knobs::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// A sim bot filed as an account in `store`, token in `secrets`; returns (bot, account).
fn add_account(sim: &Sim, store: &Store, secrets: &MemoryStore) -> (String, String) {
    let bot = sim.create_bot();
    sim.add_peer(&bot.bot_id, PEER).unwrap();
    let account_id = ilink::account_id::normalize(&bot.bot_id);
    store
        .upsert_account(
            &AccountUpsert {
                account_id: account_id.clone(),
                bot_id: bot.bot_id.clone(),
                base_url: sim.base_url(),
                alias: None,
                user_id: Some(bot.user_id.clone()),
                cdn_url: None,
                route_tag: None,
            },
            1,
        )
        .unwrap();
    secrets
        .set(&SecretKey::bot_token(&account_id), &Secret::new(bot.token))
        .unwrap();
    (bot.bot_id, account_id)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn latency() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.sqlite3")).unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let bots: Vec<(String, String)> = (0..ACCOUNTS)
        .map(|_| add_account(&sim, &store, &secrets))
        .collect();
    let engine = engine_on(store, secrets);
    let mut rx = engine.subscribe();
    engine.accounts().start_enabled().await.unwrap();
    let mut online = 0;
    while online < ACCOUNTS {
        if let Ok(EngineEvent::AccountStatusChanged {
            status: AccountStatus::Online,
            ..
        }) = rx.recv().await
        {
            online += 1;
        }
    }
    while sim.polls_in_flight() < ACCOUNTS {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let total = (RATE_PER_S * LATENCY_SECS) as usize;
    let collector = {
        let sent_at = Arc::clone(&sent_at);
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(total);
            let mut received_epoch_ms = Vec::with_capacity(total);
            let mut lagged = 0;
            while latencies.len() + lagged < total {
                match rx.recv().await {
                    Ok(EngineEvent::MessageReceived { preview, .. }) => {
                        let now = Instant::now();
                        let key = preview.unwrap_or_default();
                        if let Some(at) = sent_at.lock().unwrap().remove(&key) {
                            latencies.push(now - at);
                            received_epoch_ms.push((key, epoch_ms()));
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => lagged += n as usize,
                    Err(RecvError::Closed) => break,
                }
            }
            (latencies, received_epoch_ms, lagged)
        })
    };
    let mut message_ids: HashMap<String, (String, u64)> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE_PER_S));
    for n in 0..total {
        tick.tick().await;
        let (bot, _) = &bots[n % ACCOUNTS];
        let text = format!("lat-{n}");
        sent_at.lock().unwrap().insert(text.clone(), Instant::now());
        let id = sim.inject_text(bot, PEER, &text).unwrap();
        message_ids.insert(text, (bot.clone(), id));
    }
    let (mut latencies, received_epoch_ms, lagged) =
        tokio::time::timeout(Duration::from_secs(30), collector)
            .await
            .expect("every message arrives")
            .unwrap();
    latencies.sort();
    println!(
        "latency: {ACCOUNTS} accounts, {RATE_PER_S} msg/s for {LATENCY_SECS} s, {} measured \
         ({lagged} events lagged): p50 {}, p90 {}, p99 {}, max {}",
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap()),
    );
    // The target's own measure: from the emulator handing the message out.
    let mut handed_out = HashMap::new();
    for (bot, _) in &bots {
        handed_out.extend(sim.handed_out(bot).unwrap());
    }
    let mut from_hand_out: Vec<Duration> = received_epoch_ms
        .iter()
        .map(|(text, at)| {
            let out = handed_out[&message_ids[text].1];
            Duration::from_secs_f64((at - out).max(0.0) / 1000.0)
        })
        .collect();
    from_hand_out.sort();
    println!(
        "from hand-out: p50 {}, p99 {}, max {}",
        ms(percentile(&from_hand_out, 0.50)),
        ms(percentile(&from_hand_out, 0.99)),
        ms(*from_hand_out.last().unwrap()),
    );
    let label = format!("{ACCOUNTS} accounts at {RATE_PER_S} msg/s");
    for (name, p, target) in [("p50", 0.50, ""), ("p99", 0.99, "|<=10")] {
        println!(
            "figure|{label}: hand-out → MessageReceived {name}|ms|{:.3}{target}",
            percentile(&from_hand_out, p).as_secs_f64() * 1000.0
        );
    }
    println!(
        "figure|{label}: injection into a held poll → MessageReceived p99|ms|{:.3}",
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0
    );
    engine.shutdown().await;
}

async fn burst() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sqlite3");
    let store = Store::open(&path).unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let (bot, account) = add_account(&sim, &store, &secrets);
    for n in 0..BURST {
        sim.inject_text(
            &bot,
            PEER,
            &format!("burst message number {n}, with some words"),
        )
        .unwrap();
    }
    let engine = engine_on(store, secrets);
    let mut rx = engine.subscribe();
    let started = Instant::now();
    engine.accounts().start(&account).await.unwrap();
    let mut seen = 0;
    while seen < BURST {
        match rx.recv().await {
            Ok(EngineEvent::MessageReceived { .. }) => seen += 1,
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => seen += n as usize,
            Err(RecvError::Closed) => break,
        }
    }
    let elapsed = started.elapsed();
    engine.shutdown().await;
    let stored = Store::open(&path)
        .unwrap()
        .conversation_page(&account, PEER, None, BURST + 10)
        .unwrap()
        .messages
        .len();
    println!(
        "burst: {BURST} messages into one account stored in {} ({stored} rows): {:.0} msg/s \
         (engine start, notifystart, one getupdates answer, one transaction)",
        ms(elapsed),
        BURST as f64 / elapsed.as_secs_f64()
    );
    println!(
        "figure|{BURST}-message burst into one account, to durable storage|msg/s|{:.0}|>=2000",
        BURST as f64 / elapsed.as_secs_f64()
    );
}

fn store_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.sqlite3")).unwrap();
    let secrets = MemoryStore::new();
    store
        .upsert_account(
            &AccountUpsert {
                account_id: "acc".into(),
                bot_id: "acc@im.bot".into(),
                base_url: "http://127.0.0.1:1/".into(),
                alias: None,
                user_id: None,
                cdn_url: None,
                route_tag: None,
            },
            1,
        )
        .unwrap();
    drop(secrets);
    let messages: Vec<WeixinMessage> = (0..BURST)
        .map(|n| WeixinMessage {
            seq: Some(n as i64 + 1),
            message_id: Some(format!("{}", 7_000_000_000_000_000_000u64 + n as u64)),
            from_user_id: Some(PEER.to_owned()),
            to_user_id: Some("acc@im.bot".to_owned()),
            create_time_ms: Some(1_700_000_000_000 + n as i64),
            context_token: Some(format!("ctx-{n}")),
            item_list: Some(vec![MessageItem {
                item_type: Some(ItemType::Text),
                text_item: Some(TextItem {
                    text: Some(format!("burst message number {n}, with some words")),
                }),
                ..MessageItem::default()
            }]),
            ..WeixinMessage::default()
        })
        .collect();
    let cursor = Secret::new("cursor".to_owned());
    let started = Instant::now();
    let commit = store
        .commit_inbound_batch("acc", Some(&cursor), &messages, 1_700_000_000_000)
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(commit.new.len(), BURST);
    println!(
        "store alone: {BURST} messages in one commit_inbound_batch in {}: {:.0} msg/s",
        ms(elapsed),
        BURST as f64 / elapsed.as_secs_f64()
    );
}

async fn baseline() {
    let sim = sim().await;
    let cancel = tokio_util::sync::CancellationToken::new();
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    let mut bots = Vec::new();
    for _ in 0..ACCOUNTS {
        let bot = sim.create_bot();
        sim.add_peer(&bot.bot_id, PEER).unwrap();
        let config = ClientConfig {
            api_base: sim.base_url(),
            ..client()
        };
        let client = ilink::Client::new(config, Some(ilink::Secret::new(bot.token))).unwrap();
        let (cancel, sent_at, tx) = (cancel.clone(), Arc::clone(&sent_at), tx.clone());
        tokio::spawn(async move {
            let mut cursor = String::new();
            while let Ok(answer) = client.getupdates(&cursor, &cancel).await {
                let now = Instant::now();
                let next = answer.get_updates_buf.clone();
                for m in answer.into_messages() {
                    let text = m
                        .item_list
                        .and_then(|items| items.into_iter().next())
                        .and_then(|item| item.text_item)
                        .and_then(|t| t.text)
                        .unwrap_or_default();
                    if let Some(at) = sent_at.lock().unwrap().remove(&text) {
                        let _ = tx.send(now - at);
                    }
                }
                if let Some(next) = next.filter(|c| !c.is_empty()) {
                    cursor = next;
                }
            }
        });
        bots.push(bot.bot_id);
    }
    while sim.polls_in_flight() < ACCOUNTS {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total = (RATE_PER_S * LATENCY_SECS) as usize;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE_PER_S));
    for n in 0..total {
        tick.tick().await;
        let text = format!("base-{n}");
        sent_at.lock().unwrap().insert(text.clone(), Instant::now());
        sim.inject_text(&bots[n % ACCOUNTS], PEER, &text).unwrap();
    }
    let mut latencies = Vec::with_capacity(total);
    while latencies.len() < total {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(d)) => latencies.push(d),
            _ => break,
        }
    }
    cancel.cancel();
    latencies.sort();
    println!(
        "baseline (bare ilink clients, no engine): {} measured: p50 {}, p90 {}, p99 {}, max {}",
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap()),
    );
}
