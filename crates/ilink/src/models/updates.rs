//! A getupdates answer decoded envelope first, then each message on its own
//! (docs/architecture.md, "Inbound decoding").
//!
//! The envelope (`ret`, `errcode`, `errmsg`, the cursor and the long-poll hold) must
//! decode, or the answer is an error. Each element of `msgs` is then kept as the exact
//! JSON text it arrived as (a slice of the body) and decoded by itself: a message whose
//! fields cannot be read becomes [`InboundEntry::Undecodable`], carrying its text and the
//! reason, while every other message of the batch is delivered as usual.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::api::ApiStatus;
use super::message::WeixinMessage;

/// One element of a getupdates `msgs` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundEntry {
    /// A message this client can read, with the exact JSON text it arrived as.
    Message {
        /// Boxed: a message is large beside the raw text alone.
        message: Box<WeixinMessage>,
        /// The message's JSON exactly as the server sent it (every field, known or not).
        raw: String,
    },
    /// A message this client cannot read. Kept so that it can be shown, copied and read
    /// again by a later version; the batch goes on without it.
    Undecodable {
        /// The message's JSON exactly as the server sent it.
        raw: String,
        /// Why it could not be read.
        error: String,
    },
}

impl InboundEntry {
    /// Decodes one message from its exact JSON text.
    pub fn decode(raw: &str) -> InboundEntry {
        match serde_json::from_str::<WeixinMessage>(raw) {
            Ok(message) => InboundEntry::Message {
                message: Box::new(message),
                raw: raw.to_owned(),
            },
            Err(e) => InboundEntry::Undecodable {
                raw: raw.to_owned(),
                error: e.to_string(),
            },
        }
    }

    /// The JSON text the message arrived as.
    pub fn raw(&self) -> &str {
        match self {
            InboundEntry::Message { raw, .. } | InboundEntry::Undecodable { raw, .. } => raw,
        }
    }

    /// The decoded message, unless it was undecodable.
    pub fn message(&self) -> Option<&WeixinMessage> {
        match self {
            InboundEntry::Message { message, .. } => Some(message),
            InboundEntry::Undecodable { .. } => None,
        }
    }
}

/// A getupdates answer: the envelope, and each message decoded on its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdatesBatch {
    /// Error fields; failure if `ret` or `errcode` is present and non-zero.
    pub status: ApiStatus,
    /// The messages, in order; empty when `msgs` was absent.
    pub msgs: Vec<InboundEntry>,
    /// The next cursor; empty or absent keeps the old one.
    pub get_updates_buf: Option<String>,
    /// Deprecated cursor; never relied on.
    pub sync_buf: Option<String>,
    /// The server's long-poll hold, used for the next client timeout when positive.
    pub longpolling_timeout_ms: Option<i64>,
}

/// The envelope, with each message left as its JSON text. No `flatten` here: serde
/// buffers flattened structs, and a buffered value can no longer lend its raw text.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, deserialize_with = "super::lenient::int")]
    ret: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    errcode: Option<i64>,
    #[serde(default, deserialize_with = "super::lenient::text")]
    errmsg: Option<String>,
    #[serde(default, borrow)]
    msgs: Option<Vec<&'a RawValue>>,
    #[serde(default, deserialize_with = "super::lenient::text")]
    get_updates_buf: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::text")]
    sync_buf: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::int")]
    longpolling_timeout_ms: Option<i64>,
}

impl UpdatesBatch {
    /// Decodes an answer body. Fails only if the envelope cannot be read (not JSON, not an
    /// object, `msgs` not a list, an unreadable `ret`, …); a message that cannot be read
    /// is returned as [`InboundEntry::Undecodable`].
    pub fn decode(body: &[u8]) -> Result<UpdatesBatch, serde_json::Error> {
        // serde would also read a struct from a JSON array, by position.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(serde::de::Error::custom("the answer is not a JSON object"));
        }
        let envelope: Envelope<'_> = serde_json::from_slice(body)?;
        Ok(UpdatesBatch {
            status: ApiStatus {
                ret: envelope.ret,
                errcode: envelope.errcode,
                errmsg: envelope.errmsg,
            },
            msgs: envelope
                .msgs
                .unwrap_or_default()
                .into_iter()
                .map(|raw| InboundEntry::decode(raw.get()))
                .collect(),
            get_updates_buf: envelope.get_updates_buf,
            sync_buf: envelope.sync_buf,
            longpolling_timeout_ms: envelope.longpolling_timeout_ms,
        })
    }

    /// The messages that decoded, in order.
    pub fn messages(&self) -> impl Iterator<Item = &WeixinMessage> {
        self.msgs.iter().filter_map(InboundEntry::message)
    }

    /// The messages that decoded, in order, taken out of the batch.
    pub fn into_messages(self) -> Vec<WeixinMessage> {
        self.msgs
            .into_iter()
            .filter_map(|entry| match entry {
                InboundEntry::Message { message, .. } => Some(*message),
                InboundEntry::Undecodable { .. } => None,
            })
            .collect()
    }

    /// How many messages could not be decoded.
    pub fn undecodable(&self) -> usize {
        self.msgs
            .iter()
            .filter(|e| matches!(e, InboundEntry::Undecodable { .. }))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ItemType;

    #[test]
    fn one_odd_message_does_not_fail_the_batch() {
        let body = br#"{"ret":0,"get_updates_buf":"c2","longpolling_timeout_ms":"35000",
            "msgs":[
              {"message_id":1,"from_user_id":"a","item_list":[{"type":1,"text_item":{"text":"one"}}]},
              {"message_id":2,"from_user_id":"a","item_list":[{"type":2,"image_item":{"mid_size":-5}}]},
              {"message_id":3,"from_user_id":"a","root_id":"r9","item_list":[{"type":"1","is_completed":"true","text_item":{"text":3}}]},
              "not a message",
              {"message_id":4,"create_time_ms":1700000000000.5,"item_list":[{"type":4,"file_item":{"file_name":2024,"len":"12"}}]}
            ]}"#;
        let batch = UpdatesBatch::decode(body).unwrap();
        assert_eq!(batch.get_updates_buf.as_deref(), Some("c2"));
        assert_eq!(batch.longpolling_timeout_ms, Some(35_000));
        assert_eq!(batch.msgs.len(), 5);
        assert_eq!(batch.undecodable(), 2);
        let ids: Vec<_> = batch
            .messages()
            .map(|m| m.message_id.clone().unwrap())
            .collect();
        assert_eq!(ids, ["1", "3", "4"]);

        let InboundEntry::Undecodable { raw, error } = &batch.msgs[1] else {
            panic!("the negative size is undecodable");
        };
        assert!(
            raw.starts_with(r#"{"message_id":2,"#) && raw.ends_with("}]}"),
            "{raw}"
        );
        assert!(error.contains("negative"), "{error}");
        assert_eq!(batch.msgs[3].raw(), r#""not a message""#);

        let third = batch.msgs[2].message().unwrap();
        let item = &third.item_list.as_ref().unwrap()[0];
        assert_eq!(item.item_type, Some(ItemType::Text));
        assert_eq!(item.is_completed, Some(true));
        assert_eq!(item.text_item.as_ref().unwrap().text.as_deref(), Some("3"));
        assert!(
            batch.msgs[2].raw().contains(r#""root_id":"r9""#),
            "unknown fields survive in the raw text"
        );
        let fourth = batch.msgs[4].message().unwrap();
        assert_eq!(fourth.create_time_ms, Some(1_700_000_000_000));
        let file = fourth.item_list.as_ref().unwrap()[0]
            .file_item
            .as_ref()
            .unwrap();
        assert_eq!(file.file_name.as_deref(), Some("2024"));
    }

    #[test]
    fn the_envelope_must_decode() {
        assert!(UpdatesBatch::decode(b"[]").is_err());
        assert!(UpdatesBatch::decode(br#"{"msgs":{}}"#).is_err());
        assert!(UpdatesBatch::decode(br#"{"ret":"x"}"#).is_err());
        let empty = UpdatesBatch::decode(b"{}").unwrap();
        assert_eq!(empty, UpdatesBatch::default());
        let stale = UpdatesBatch::decode(br#"{"errcode":"-14","msgs":null}"#).unwrap();
        assert_eq!(stale.status.errcode, Some(-14));
    }
}
