//! getupdates bodies mixing good and broken messages (docs/architecture.md, "Inbound decoding"):
//! decoding never panics, a broken message never takes the envelope or another message
//! with it, and every good message is delivered with its exact text.
//!
//! The input is split on newlines; each piece that is JSON on its own becomes a message
//! of the batch, followed by a known good message.

#![no_main]

use ilink::models::{InboundEntry, UpdatesBatch, WeixinMessage};
use libfuzzer_sys::fuzz_target;

fn good(n: usize) -> String {
    format!(
        r#"{{"message_id":{},"from_user_id":"u","item_list":[{{"type":1,"text_item":{{"text":"good {n}"}}}}]}}"#,
        9_007_199_254_740_993_u64 + n as u64
    )
}

fuzz_target!(|data: &[u8]| {
    let mut texts = Vec::new();
    for (n, piece) in data.split(|b| *b == b'\n').take(64).enumerate() {
        if let Ok(text) = std::str::from_utf8(piece) {
            let text = text.trim();
            if serde_json::from_str::<serde_json::value::Value>(text).is_ok() {
                texts.push((text.to_owned(), false));
            }
        }
        texts.push((good(n), true));
    }
    let joined: Vec<&str> = texts.iter().map(|(t, _)| t.as_str()).collect();
    let body = format!(r#"{{"ret":0,"get_updates_buf":"c","msgs":[{}]}}"#, joined.join(","));
    let batch = UpdatesBatch::decode(body.as_bytes()).expect("the envelope decodes");
    assert_eq!(batch.msgs.len(), texts.len());
    for (entry, (text, is_good)) in batch.msgs.iter().zip(&texts) {
        assert_eq!(entry.raw(), text, "the exact text is kept");
        let alone = serde_json::from_str::<WeixinMessage>(text).ok();
        match entry {
            InboundEntry::Message { message, .. } => {
                assert_eq!(Some(message.as_ref()), alone.as_ref())
            }
            InboundEntry::Undecodable { .. } => {
                assert!(!is_good, "a good message was not delivered");
                assert!(alone.is_none());
            }
        }
    }
    // Whatever else the input does, the raw bytes of the whole body also never panic.
    let _ = UpdatesBatch::decode(data);
});
