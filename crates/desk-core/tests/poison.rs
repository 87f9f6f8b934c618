//! One odd message never stalls an account (docs/architecture.md, "Inbound decoding"): the
//! emulator sends one field of one message in each shape live payloads have shown, and
//! every other message of that batch and of the next ten batches is stored exactly once,
//! while the odd one is stored decoded (where the tolerant rules read it) or kept raw as
//! undecodable, counted on the account. Everything goes through the real HTTP client.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use desk_core::engine::{Engine, EngineConfig, EngineEvent};
use desk_core::secrets::MemoryStore;
use desk_core::store::StoredMessage;
use desk_core::Store;
use ilink_sim::{CorruptMessage, Corruption};

use common::{add_bot, loopback_client, next_event, received, sim_with};

const PEER: &str = "alice@im.wechat";

/// What the odd message should become.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Read by the tolerant rules; its text is this.
    Decoded(&'static str),
    /// Kept raw, with a reason mentioning this.
    Undecodable(&'static str),
}

const SHAPES: [(Corruption, Outcome); 8] = [
    (Corruption::SizeAsDigitString, Outcome::Decoded("odd")),
    (Corruption::NegativeSize, Outcome::Undecodable("negative")),
    (
        Corruption::SizeBeyondU64,
        Outcome::Undecodable("beyond 64 bits"),
    ),
    (Corruption::FileNameAsNumber, Outcome::Decoded("odd")),
    (Corruption::TextAsNumber, Outcome::Decoded("42")),
    (Corruption::ItemTypeAsString, Outcome::Decoded("odd")),
    (Corruption::IsCompletedAsString, Outcome::Decoded("odd")),
    (Corruption::FractionalTimestamp, Outcome::Decoded("odd")),
];

/// Waits for `count` new-message events of the account; returns row id → item kind.
async fn receive(
    rx: &mut tokio::sync::broadcast::Receiver<EngineEvent>,
    account: &str,
    count: usize,
) -> HashMap<i64, String> {
    let mut seen = HashMap::new();
    while seen.len() < count {
        if let EngineEvent::MessageReceived {
            message_row_id,
            item_kind,
            ..
        } = next_event(rx, received(account)).await
        {
            seen.insert(message_row_id, item_kind);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_odd_shape_leaves_the_rest_of_the_batch_and_later_batches_flowing() {
    let sim = sim_with(|_| {}).await;
    let store = Store::open_in_memory().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let bot = add_bot(&sim, &store, &secrets, &[PEER]);
    let engine = Engine::new(
        store,
        secrets,
        EngineConfig {
            client: loopback_client(),
            ..EngineConfig::default()
        },
    );
    let mut rx = engine.subscribe();
    engine.accounts().start(&bot.account_id).await.unwrap();

    // message_id → (shape round, what it should be stored as)
    let mut odd: HashMap<String, (usize, Outcome)> = HashMap::new();
    let mut plain: Vec<(String, String)> = Vec::new(); // (message_id, text)
    for (round, (shape, outcome)) in SHAPES.iter().enumerate() {
        // The middle message of a three-message batch gets the odd field.
        sim.update_knobs(|k| {
            k.corrupt_message = Some(CorruptMessage {
                shape: *shape,
                after: 1,
            })
        });
        let texts = [
            format!("r{round} before"),
            "odd".to_owned(),
            format!("r{round} after"),
        ];
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ids = sim.inject_texts_together(&bot.bot_id, PEER, &refs).unwrap();
        assert_eq!(sim.knobs().corrupt_message, None, "the knob was used up");
        let kinds = receive(&mut rx, &bot.account_id, 3).await;
        let undecodable = kinds.values().filter(|k| *k == "undecodable").count();
        let expected = usize::from(matches!(outcome, Outcome::Undecodable(_)));
        assert_eq!(undecodable, expected, "{shape:?}: {kinds:?}");
        plain.push((ids[0].to_string(), texts[0].clone()));
        plain.push((ids[2].to_string(), texts[2].clone()));
        odd.insert(ids[1].to_string(), (round, *outcome));

        // Ten more batches, one message each, all arrive.
        for later in 0..10 {
            let text = format!("r{round} later {later}");
            let id = sim.inject_text(&bot.bot_id, PEER, &text).unwrap();
            let kinds = receive(&mut rx, &bot.account_id, 1).await;
            assert!(kinds.values().all(|k| k == "text"), "{kinds:?}");
            plain.push((id.to_string(), text));
        }
    }

    let account = bot.account_id.clone();
    let rows: Vec<StoredMessage> = engine
        .store()
        .call(move |s| s.conversation_page(&account, PEER, None, 10_000))
        .await
        .unwrap()
        .messages;
    assert_eq!(
        rows.len(),
        plain.len() + odd.len(),
        "nothing twice, nothing lost"
    );
    let by_id: HashMap<&str, &StoredMessage> = rows
        .iter()
        .map(|m| (m.server_message_id.as_deref().expect("an id"), m))
        .collect();
    assert_eq!(by_id.len(), rows.len(), "each message stored once");
    for (id, text) in &plain {
        let row = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{text} stored"));
        assert_eq!(row.text.as_deref(), Some(text.as_str()));
        assert_eq!(row.item_kind, "text");
    }
    for (id, (round, outcome)) in &odd {
        let shape = SHAPES[*round].0;
        let row = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{shape:?} stored"));
        let row_id = row.id;
        let raw = engine
            .store()
            .call(move |s| s.message_raw_json(row_id))
            .await
            .unwrap()
            .expect("raw text kept");
        assert!(
            raw.contains(&format!("\"message_id\":{id}")),
            "{shape:?}: {raw}"
        );
        match outcome {
            Outcome::Decoded(text) => {
                assert_eq!(row.item_kind, "text", "{shape:?}");
                assert_eq!(row.text.as_deref(), Some(*text), "{shape:?}");
            }
            Outcome::Undecodable(reason) => {
                assert_eq!(row.item_kind, "undecodable", "{shape:?}");
                assert_eq!(row.text, None);
                let error = row.error.as_deref().unwrap_or_default();
                assert!(error.contains(reason), "{shape:?}: {error}");
            }
        }
    }
    let account = bot.account_id.clone();
    let counted = engine
        .store()
        .call(move |s| s.undecodable_count(&account))
        .await
        .unwrap();
    let undecodable = SHAPES
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Undecodable(_)))
        .count();
    assert_eq!(counted, undecodable as i64);
    engine.shutdown().await;
}
