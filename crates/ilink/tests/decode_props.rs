//! Untrusted API bodies (docs/protocol.md §1.8, docs/architecture.md, invariant 5), in `cargo test` as well as
//! under the fuzzer (`fuzz/`, targets `decode_json` and `getupdates_batch`): the fuzz
//! seeds, mutated at random, never make decoding panic, and whatever decodes survives a
//! serialise/decode round trip; a getupdates body mixing good and broken messages
//! delivers every good one (docs/architecture.md, "Inbound decoding").

use ilink::models::{
    GetConfigResponse, GetUpdatesResponse, GetUploadUrlResponse, InboundEntry, QrStatusResponse,
    SendMessageResponse, UpdatesBatch, WeixinMessage,
};
use proptest::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

const SEEDS: [&str; 5] = [
    include_str!("../fuzz/seeds/decode_json/getupdates.json"),
    include_str!("../fuzz/seeds/decode_json/ids.json"),
    include_str!("../fuzz/seeds/decode_json/qr.json"),
    include_str!("../fuzz/seeds/decode_json/stale.json"),
    include_str!("../fuzz/seeds/decode_json/upload.json"),
];

/// One edit: overwrite, insert or delete a byte at a position (taken modulo the length).
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to JSON more often than chance would pick them.
    let byte = prop_oneof![
        any::<u8>(),
        proptest::sample::select(b"{}[]\":,-0123456789e.tfn\\ ".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(seed: &str, edits: &[Edit]) -> Vec<u8> {
    let mut data = seed.as_bytes().to_vec();
    for edit in edits {
        match *edit {
            Edit::Set(at, b) if !data.is_empty() => {
                let at = at % data.len();
                data[at] = b;
            }
            Edit::Insert(at, b) => data.insert(at % (data.len() + 1), b),
            Edit::Delete(at) if !data.is_empty() => {
                data.remove(at % data.len());
            }
            _ => {}
        }
    }
    data
}

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    data: &[u8],
) -> Result<(), TestCaseError> {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let text = serde_json::to_vec(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again: T =
            serde_json::from_slice(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again, value);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_bodies_never_panic_and_round_trip(
        seed in proptest::sample::select(SEEDS.to_vec()),
        edits in proptest::collection::vec(edit(), 0..8),
    ) {
        let data = apply(seed, &edits);
        round_trip::<GetUpdatesResponse>(&data)?;
        round_trip::<WeixinMessage>(&data)?;
        round_trip::<SendMessageResponse>(&data)?;
        round_trip::<GetUploadUrlResponse>(&data)?;
        round_trip::<GetConfigResponse>(&data)?;
        round_trip::<QrStatusResponse>(&data)?;
    }
}

/// Messages broken in the shapes seen live, and in shapes no server should send.
const BROKEN: [&str; 8] = [
    r#"{"message_id":1,"from_user_id":"u","item_list":[{"type":2,"image_item":{"mid_size":-1}}]}"#,
    r#"{"message_id":2,"item_list":[{"type":2,"image_item":{"mid_size":18446744073709551616}}]}"#,
    r#"{"message_id":3,"item_list":[{"type":"text"}]}"#,
    r#"{"message_id":4.5}"#,
    r#"{"item_list":"not a list"}"#,
    r#""a string""#,
    "[1,2]",
    "null",
];

/// One element of a generated batch: a good message, a broken one, or a good one
/// mutated (kept only while it is still JSON, so the envelope stays readable).
#[derive(Debug, Clone)]
enum Element {
    Good(u64, String),
    Broken(usize),
    Mutated(u64, Vec<Edit>),
}

fn good_text(id: u64, text: &str) -> String {
    serde_json::json!({
        "message_id": id, "from_user_id": "u@im.wechat", "create_time_ms": 1,
        "item_list": [{"type": 1, "is_completed": "true", "text_item": {"text": text}}],
        "future_field": {"x": [1, 2]}
    })
    .to_string()
}

fn element() -> impl Strategy<Value = Element> {
    prop_oneof![
        (any::<u64>(), ".{0,12}").prop_map(|(id, t)| Element::Good(id, t)),
        (0..BROKEN.len()).prop_map(Element::Broken),
        (any::<u64>(), proptest::collection::vec(edit(), 1..4))
            .prop_map(|(id, e)| Element::Mutated(id, e)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_batch_delivers_every_good_message_whatever_the_others_are(
        elements in proptest::collection::vec(element(), 0..8),
    ) {
        let mut texts = Vec::new();
        for element in &elements {
            let text = match element {
                Element::Good(id, t) => good_text(*id, t),
                Element::Broken(i) => BROKEN[*i].to_owned(),
                Element::Mutated(id, edits) => {
                    let bytes = apply(&good_text(*id, "m"), edits);
                    match String::from_utf8(bytes) {
                        Ok(t) if serde_json::from_str::<serde_json::Value>(&t).is_ok() => {
                            t.trim().to_owned()
                        }
                        _ => continue,
                    }
                }
            };
            texts.push(text);
        }
        let body = format!(r#"{{"ret":0,"get_updates_buf":"c","msgs":[{}]}}"#, texts.join(","));
        let batch = UpdatesBatch::decode(body.as_bytes()).expect("the envelope decodes");
        prop_assert_eq!(batch.msgs.len(), texts.len());
        prop_assert_eq!(batch.get_updates_buf.as_deref(), Some("c"));
        for (entry, text) in batch.msgs.iter().zip(&texts) {
            prop_assert_eq!(entry.raw(), text.as_str(), "the exact text is kept");
            let alone = serde_json::from_str::<WeixinMessage>(text);
            match (entry, alone) {
                (InboundEntry::Message { message, .. }, Ok(expected)) => {
                    prop_assert_eq!(message.as_ref(), &expected)
                }
                (InboundEntry::Undecodable { .. }, Err(_)) => {}
                (entry, alone) => prop_assert!(false, "{entry:?} vs {alone:?}"),
            }
        }
        let mut good = elements.iter().filter_map(|e| match e {
            Element::Good(id, _) => Some(id.to_string()),
            _ => None,
        });
        let delivered: Vec<String> =
            batch.messages().filter_map(|m| m.message_id.clone()).collect();
        prop_assert!(
            good.all(|id| delivered.contains(&id)),
            "every good message is delivered"
        );
    }
}

#[test]
fn the_seeds_decode() {
    for seed in SEEDS {
        assert!(
            serde_json::from_str::<serde_json::Value>(seed).is_ok(),
            "{seed}"
        );
    }
    let updates: GetUpdatesResponse = serde_json::from_str(SEEDS[0]).unwrap();
    assert_eq!(updates.msgs.map(|m| m.len()), Some(1));
}
