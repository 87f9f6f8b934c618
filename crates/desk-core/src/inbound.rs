//! How one inbound wire message becomes a stored row: its dedupe key (docs/protocol.md §4 item 6),
//! body text (§5.3), the one media item worth downloading (§7.4) and its quote (§5.6).
//! Pure functions; storing happens in `store::inbound`.

use ilink::models::{CdnMedia, InboundEntry, ItemType, MessageItem, PartialText, WeixinMessage};

/// A received message made ready to store: its row, or what can be read of a message
/// this version cannot decode. Built where the batch arrives (each account's poller, in
/// parallel), so the one writer only writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceivedEntry {
    Decoded(Box<InboundRecord>),
    Undecodable(UndecodableRecord),
}

impl ReceivedEntry {
    pub fn from_entry(entry: &InboundEntry) -> ReceivedEntry {
        match entry {
            InboundEntry::Message { message, raw } => {
                ReceivedEntry::Decoded(Box::new(InboundRecord::from_received(message, raw)))
            }
            InboundEntry::Undecodable { raw, error } => {
                ReceivedEntry::Undecodable(UndecodableRecord::from_raw(raw, error))
            }
        }
    }

    /// The reply token the message brought.
    pub fn context_token(&self) -> Option<&str> {
        match self {
            ReceivedEntry::Decoded(record) => record.context_token.as_deref(),
            ReceivedEntry::Undecodable(record) => record.context_token.as_deref(),
        }
    }
}

/// The row a new inbound message is stored as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    /// Sender, case as on the wire; `None` if the message names none (cannot be routed).
    pub peer_id: Option<String>,
    pub dedupe_key: String,
    pub server_message_id: Option<String>,
    pub client_id: Option<String>,
    pub seq: Option<i64>,
    pub create_time_ms: Option<i64>,
    pub item_kind: &'static str,
    pub text: Option<String>,
    pub media: Option<MediaRef>,
    pub quote_server_id: Option<String>,
    pub quote_text: Option<String>,
    /// The quoted part, when the quote selects part of a message (§5.6 item 4).
    pub quote_partial: Option<PartialText>,
    /// Set whenever the message quotes something, even a quote with no body, no id or
    /// an item type this version does not know: the quoted item's kind (`none` when the
    /// quote names no item type).
    pub quote_kind: Option<&'static str>,
    /// The quoted item's own time, for resolving a quote that carries no id.
    pub quote_time_ms: Option<i64>,
    pub context_token: Option<String>,
    /// The message's JSON exactly as it arrived (every field, known to this version or
    /// not), kept for reprocessing.
    pub raw_json: String,
}

/// The media item chosen for download, as the CDN describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    pub file_name: Option<String>,
    pub size: Option<i64>,
    pub md5: Option<String>,
    pub cdn_param: Option<String>,
    /// The key to decrypt with: the image's hex `aeskey` if present, else `media.aes_key`.
    pub aes_key: Option<String>,
    pub full_url: Option<String>,
}

impl InboundRecord {
    /// The record of a message built here rather than received (fixtures, tools): its
    /// raw text is the model serialised.
    pub fn from_wire(message: &WeixinMessage) -> InboundRecord {
        // Serialising our own model cannot fail; an empty string would only lose the
        // copy kept for reprocessing.
        let raw = serde_json::to_string(message).unwrap_or_default();
        InboundRecord::from_received(message, &raw)
    }

    /// The record of a received message and the exact JSON text it arrived as.
    pub fn from_received(message: &WeixinMessage, raw: &str) -> InboundRecord {
        let items = message.item_list.as_deref().unwrap_or_default();
        let (text, text_kind) = body_text(items);
        let media = choose_media(items);
        let item_kind = media
            .as_ref()
            .map(|(kind, _)| *kind)
            .or(text_kind)
            .or_else(|| items.first().map(|i| item_kind_name(i.item_type)))
            .unwrap_or("none");
        let (quote_server_id, quote_text) = quote(items);
        let reference = items.iter().find_map(|i| i.ref_msg.as_deref());
        let quote_partial = reference.and_then(|r| r.partial_text.clone());
        let quoted_item = reference.and_then(|r| r.message_item.as_ref());
        let quote_kind =
            reference.map(|_| item_kind_name(quoted_item.and_then(|item| item.item_type)));
        let quote_time_ms = quoted_item.and_then(|item| item.create_time_ms);
        InboundRecord {
            peer_id: non_empty(message.from_user_id.as_deref()),
            dedupe_key: dedupe_key(message),
            server_message_id: non_empty(message.message_id.as_deref()),
            client_id: non_empty(message.client_id.as_deref()),
            seq: message.seq,
            create_time_ms: message.create_time_ms,
            item_kind,
            text,
            media: media.map(|(_, m)| m),
            quote_server_id,
            quote_text,
            quote_partial,
            quote_kind,
            quote_time_ms,
            context_token: non_empty(message.context_token.as_deref()),
            raw_json: raw.to_owned(),
        }
    }
}

/// What can be known of a message this version cannot decode, read from its JSON text
/// without the typed model: enough to file it in its conversation once (its sender, its
/// time, a dedupe key) and to keep its reply token. The text itself is kept whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndecodableRecord {
    /// Sender, if the text names one as a string (or a number).
    pub peer_id: Option<String>,
    pub dedupe_key: String,
    pub server_message_id: Option<String>,
    pub create_time_ms: Option<i64>,
    pub context_token: Option<String>,
    /// Why it could not be decoded.
    pub error: String,
    /// The message's JSON exactly as it arrived.
    pub raw_json: String,
}

impl UndecodableRecord {
    pub fn from_raw(raw: &str, error: &str) -> UndecodableRecord {
        use serde_json::Value;
        let value: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        let text = |key: &str| match value.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Some(n.to_string()),
            _ => None,
        };
        let server_message_id = text("message_id");
        let client_id = text("client_id");
        let seq = text("seq");
        let dedupe_key = if let Some(id) = &server_message_id {
            format!("mid:{id}")
        } else if let Some(id) = &client_id {
            format!("cid:{id}")
        } else if let Some(seq) = seq.as_deref().and_then(|s| s.parse::<i64>().ok()) {
            format!("seq:{seq}")
        } else {
            // The exact text: a parsed value would round a number beyond 64 bits and
            // could take two messages for one (a replay that changed only an unreadable
            // seq is then stored twice, which loses nothing).
            format!("raw:{:016x}", fnv1a(raw.as_bytes()))
        };
        let create_time_ms = match value.get("create_time_ms") {
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.abs() < 9.0e15).map(|f| f as i64)),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        UndecodableRecord {
            peer_id: text("from_user_id"),
            dedupe_key,
            server_message_id,
            create_time_ms,
            context_token: match value.get("context_token") {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            },
            error: error.to_owned(),
            raw_json: raw.to_owned(),
        }
    }
}

/// The key a redelivery of `message` repeats: `message_id`, else `client_id`, else `seq`,
/// else the item ids, else a fingerprint of sender, time and content.
pub fn dedupe_key(message: &WeixinMessage) -> String {
    if let Some(id) = non_empty(message.message_id.as_deref()) {
        return format!("mid:{id}");
    }
    if let Some(id) = non_empty(message.client_id.as_deref()) {
        return format!("cid:{id}");
    }
    if let Some(seq) = message.seq {
        return format!("seq:{seq}");
    }
    let items = message.item_list.as_deref().unwrap_or_default();
    let item_ids: Vec<&str> = items
        .iter()
        .filter_map(|i| i.msg_id.as_deref())
        .filter(|id| !id.is_empty())
        .collect();
    if !item_ids.is_empty() {
        return format!("items:{:016x}", fnv1a(item_ids.join("\n").as_bytes()));
    }
    let content = serde_json::to_string(items).unwrap_or_default();
    let fingerprint = format!(
        "{}\n{}\n{content}",
        message.from_user_id.as_deref().unwrap_or_default(),
        message.create_time_ms.unwrap_or_default()
    );
    format!("fp:{:016x}", fnv1a(fingerprint.as_bytes()))
}

/// FNV-1a, 64-bit: stable across builds (dedupe keys outlive the process), and collisions
/// only matter within one account's 48-hour window.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// §5.3: the first TEXT item with text, or VOICE item with a transcription.
fn body_text(items: &[MessageItem]) -> (Option<String>, Option<&'static str>) {
    for item in items {
        match item.item_type {
            Some(ItemType::Text) => {
                if let Some(t) = item.text_item.as_ref().and_then(|t| t.text.as_deref()) {
                    if !t.is_empty() {
                        return (Some(t.to_owned()), Some("text"));
                    }
                }
            }
            Some(ItemType::Voice) => {
                if let Some(t) = item.voice_item.as_ref().and_then(|v| v.text.as_deref()) {
                    if !t.is_empty() {
                        return (Some(t.to_owned()), Some("voice"));
                    }
                }
            }
            _ => {}
        }
    }
    (None, None)
}

fn downloadable(media: Option<&CdnMedia>) -> Option<&CdnMedia> {
    media.filter(|m| {
        m.encrypt_query_param
            .as_deref()
            .is_some_and(|p| !p.is_empty())
            || m.full_url.as_deref().is_some_and(|u| !u.is_empty())
    })
}

/// §7.4: the first downloadable image, else video, else file, else untranscribed voice.
fn choose_media(items: &[MessageItem]) -> Option<(&'static str, MediaRef)> {
    let cdn = |m: &CdnMedia| MediaRef {
        file_name: None,
        size: None,
        md5: None,
        cdn_param: m.encrypt_query_param.clone(),
        aes_key: m.aes_key.clone(),
        full_url: m.full_url.clone(),
    };
    let size = |n: Option<u64>| n.and_then(|n| i64::try_from(n).ok());
    let image = items.iter().find_map(|i| {
        let image = i.image_item.as_ref()?;
        let media = downloadable(image.media.as_ref())?;
        Some(MediaRef {
            aes_key: image.aeskey.clone().or_else(|| media.aes_key.clone()),
            size: size(image.mid_size),
            ..cdn(media)
        })
    });
    if let Some(m) = image {
        return Some(("image", m));
    }
    let video = items.iter().find_map(|i| {
        let video = i.video_item.as_ref()?;
        let media = downloadable(video.media.as_ref())?;
        Some(MediaRef {
            size: size(video.video_size),
            md5: video.video_md5.clone(),
            ..cdn(media)
        })
    });
    if let Some(m) = video {
        return Some(("video", m));
    }
    let file = items.iter().find_map(|i| {
        let file = i.file_item.as_ref()?;
        let media = downloadable(file.media.as_ref())?;
        Some(MediaRef {
            file_name: file.file_name.clone(),
            size: file.len.as_deref().and_then(|l| l.parse().ok()),
            md5: file.md5.clone(),
            ..cdn(media)
        })
    });
    if let Some(m) = file {
        return Some(("file", m));
    }
    items
        .iter()
        .find_map(|i| {
            let voice = i.voice_item.as_ref()?;
            if voice.text.as_deref().is_some_and(|t| !t.is_empty()) {
                return None; // transcribed voice is not downloaded
            }
            downloadable(voice.media.as_ref()).map(cdn)
        })
        .map(|m| ("voice", m))
}

/// The item [`InboundRecord::from_wire`] picks for download (§7.4), with its kind
/// (`image`, `video`, `file` or `voice`): the media pipeline downloads exactly what the
/// stored row describes.
pub fn chosen_media_item(message: &WeixinMessage) -> Option<(&'static str, &MessageItem)> {
    let items = message.item_list.as_deref().unwrap_or_default();
    let image = items.iter().find(|i| {
        i.image_item
            .as_ref()
            .and_then(|m| downloadable(m.media.as_ref()))
            .is_some()
    });
    if let Some(item) = image {
        return Some(("image", item));
    }
    let video = items.iter().find(|i| {
        i.video_item
            .as_ref()
            .and_then(|m| downloadable(m.media.as_ref()))
            .is_some()
    });
    if let Some(item) = video {
        return Some(("video", item));
    }
    let file = items.iter().find(|i| {
        i.file_item
            .as_ref()
            .and_then(|m| downloadable(m.media.as_ref()))
            .is_some()
    });
    if let Some(item) = file {
        return Some(("file", item));
    }
    items
        .iter()
        .find(|i| {
            i.voice_item.as_ref().is_some_and(|v| {
                v.text.as_deref().is_none_or(|t| t.is_empty())
                    && downloadable(v.media.as_ref()).is_some()
            })
        })
        .map(|item| ("voice", item))
}

/// §5.6 steps 1–2: the quote id and the embedded quote text, from the first item that
/// quotes something.
fn quote(items: &[MessageItem]) -> (Option<String>, Option<String>) {
    let Some(reference) = items.iter().find_map(|i| i.ref_msg.as_deref()) else {
        return (None, None);
    };
    let quoted = reference.message_item.as_ref();
    let id = non_empty(reference.svr_id.as_deref().map(str::trim))
        .or_else(|| non_empty(quoted.and_then(|q| q.msg_id.as_deref()).map(str::trim)));
    let title = reference
        .title
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    let body = quoted.map(quoted_body).unwrap_or_default();
    let text: Vec<&str> = [title, body.as_str()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    let text = (!text.is_empty()).then(|| text.join(" | "));
    (id, text)
}

/// §5.3 body of a quoted item, with the placeholder labels for media.
fn quoted_body(item: &MessageItem) -> String {
    if let (Some(text), _) = body_text(std::slice::from_ref(item)) {
        return text;
    }
    match item.item_type {
        Some(ItemType::Image) => "[图片]",
        Some(ItemType::Video) => "[视频]",
        Some(ItemType::File) => "[文件]",
        Some(ItemType::Voice) => "[语音]",
        _ => "",
    }
    .to_owned()
}

fn item_kind_name(kind: Option<ItemType>) -> &'static str {
    match kind {
        Some(ItemType::Text) => "text",
        Some(ItemType::Image) => "image",
        Some(ItemType::Voice) => "voice",
        Some(ItemType::File) => "file",
        Some(ItemType::Video) => "video",
        Some(ItemType::ToolCallStart) => "tool_call_start",
        Some(ItemType::ToolCallResult) => "tool_call_result",
        Some(ItemType::None) | None => "none",
        Some(ItemType::Unknown(_)) => "unknown",
    }
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(json: &str) -> WeixinMessage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn dedupe_key_prefers_message_id_then_client_id_then_seq() {
        let m = wire(r#"{"message_id":7495426660285223688,"client_id":"c","seq":3}"#);
        assert_eq!(dedupe_key(&m), "mid:7495426660285223688");
        let m = wire(r#"{"message_id":"","client_id":"c","seq":3}"#);
        assert_eq!(dedupe_key(&m), "cid:c");
        let m = wire(r#"{"seq":3}"#);
        assert_eq!(dedupe_key(&m), "seq:3");
    }

    #[test]
    fn dedupe_key_falls_back_to_item_ids_then_content() {
        let a = wire(r#"{"item_list":[{"type":1,"msg_id":"v1:1","text_item":{"text":"x"}}]}"#);
        let b = wire(r#"{"item_list":[{"type":1,"msg_id":"v1:1","text_item":{"text":"y"}}]}"#);
        assert!(dedupe_key(&a).starts_with("items:"));
        assert_eq!(dedupe_key(&a), dedupe_key(&b), "same item ids, same key");

        let c = r#"{"from_user_id":"u","create_time_ms":5,"item_list":[{"type":1,"text_item":{"text":"hi"}}]}"#;
        let d = r#"{"from_user_id":"u","create_time_ms":6,"item_list":[{"type":1,"text_item":{"text":"hi"}}]}"#;
        assert!(dedupe_key(&wire(c)).starts_with("fp:"));
        assert_eq!(dedupe_key(&wire(c)), dedupe_key(&wire(c)));
        assert_ne!(dedupe_key(&wire(c)), dedupe_key(&wire(d)));
        // Stable across builds: a pinned value.
        assert_eq!(fnv1a(b"hello"), 0xa430_d846_80aa_bd0b);
    }

    #[test]
    fn text_voice_transcript_and_media_choice() {
        let m = wire(
            r#"{"from_user_id":"U@im.wechat","context_token":"ctx","item_list":[
                {"type":3,"voice_item":{"text":"语音转写","media":{"encrypt_query_param":"v"}}},
                {"type":4,"file_item":{"file_name":"a.pdf","len":"12","media":{"encrypt_query_param":"f","aes_key":"k"}}},
                {"type":2,"image_item":{"aeskey":"00ff","media":{"encrypt_query_param":"i","aes_key":"b64"}}}]}"#,
        );
        let r = InboundRecord::from_wire(&m);
        assert_eq!(r.peer_id.as_deref(), Some("U@im.wechat"));
        assert_eq!(r.text.as_deref(), Some("语音转写"));
        assert_eq!(r.item_kind, "image", "images win over files (§7.4)");
        let media = r.media.unwrap();
        assert_eq!(media.aes_key.as_deref(), Some("00ff"), "hex aeskey wins");
        assert_eq!(media.cdn_param.as_deref(), Some("i"));
        assert_eq!(r.context_token.as_deref(), Some("ctx"));
    }

    #[test]
    fn a_received_message_keeps_its_exact_text() {
        let raw = r#"{"message_id": 7, "from_user_id":"u","button_item_list":[{"id":1}],
            "root_id":"r","item_list":[{"type":1,"text_item":{"text":"hi"}}]}"#;
        let r = InboundRecord::from_received(&wire(raw), raw);
        assert_eq!(r.raw_json, raw, "unknown fields and spacing kept");
        assert_eq!(r.text.as_deref(), Some("hi"));
    }

    #[test]
    fn an_undecodable_message_keeps_what_can_be_read_and_its_text() {
        let raw = r#"{"message_id":7495426660285223688,"from_user_id":"U@im.wechat","create_time_ms":5,"context_token":"c","item_list":[{"type":2,"image_item":{"mid_size":-1}}]}"#;
        let r = UndecodableRecord::from_raw(raw, "size -1 is negative");
        assert_eq!(r.peer_id.as_deref(), Some("U@im.wechat"));
        assert_eq!(r.dedupe_key, "mid:7495426660285223688");
        assert_eq!(r.create_time_ms, Some(5));
        assert_eq!(r.context_token.as_deref(), Some("c"));
        assert_eq!(
            (r.raw_json.as_str(), r.error.as_str()),
            (raw, "size -1 is negative")
        );

        // An id beyond 64 bits is not kept rounded: the text itself is the key, so two
        // ids that round to the same float stay two messages.
        let raw = r#"{"message_id":18446744073709551616,"from_user_id":"u"}"#;
        let r = UndecodableRecord::from_raw(raw, "e");
        assert!(r.dedupe_key.starts_with("raw:"), "{}", r.dedupe_key);
        assert_eq!(r.server_message_id, None);
        assert_eq!(
            UndecodableRecord::from_raw(raw, "e").dedupe_key,
            r.dedupe_key
        );
        let other = r#"{"message_id":18446744073709551617,"from_user_id":"u"}"#;
        assert_ne!(
            UndecodableRecord::from_raw(other, "e").dedupe_key,
            r.dedupe_key
        );
        let r = UndecodableRecord::from_raw("[1,2]", "e");
        assert_eq!((r.peer_id, r.dedupe_key.starts_with("raw:")), (None, true));
    }

    #[test]
    fn files_carry_name_and_size_and_transcribed_voice_is_not_downloaded() {
        let m = wire(
            r#"{"item_list":[{"type":4,"file_item":{"file_name":"../x.pdf","len":"12","media":{"encrypt_query_param":"f"}}}]}"#,
        );
        let r = InboundRecord::from_wire(&m);
        assert_eq!(r.item_kind, "file");
        let media = r.media.unwrap();
        assert_eq!(media.file_name.as_deref(), Some("../x.pdf"));
        assert_eq!(media.size, Some(12));

        let m = wire(
            r#"{"item_list":[{"type":3,"voice_item":{"text":"hi","media":{"encrypt_query_param":"v"}}}]}"#,
        );
        let r = InboundRecord::from_wire(&m);
        assert_eq!((r.item_kind, r.media), ("voice", None));
    }

    #[test]
    fn the_chosen_media_item_is_the_one_the_row_describes() {
        let m = wire(
            r#"{"item_list":[
                {"type":3,"voice_item":{"media":{"encrypt_query_param":"v"}}},
                {"type":4,"file_item":{"file_name":"a.pdf","media":{"encrypt_query_param":"f"}}},
                {"type":2,"image_item":{"media":{}}},
                {"type":5,"video_item":{"media":{"full_url":"http://v"}}}]}"#,
        );
        let (kind, item) = chosen_media_item(&m).unwrap();
        assert_eq!(kind, "video", "the image has nothing to download");
        assert_eq!(kind, InboundRecord::from_wire(&m).item_kind);
        assert!(item.video_item.is_some());
        let voice = wire(
            r#"{"item_list":[{"type":3,"voice_item":{"media":{"encrypt_query_param":"v"}}}]}"#,
        );
        assert_eq!(chosen_media_item(&voice).unwrap().0, "voice");
        let transcribed = wire(
            r#"{"item_list":[{"type":3,"voice_item":{"text":"hi","media":{"encrypt_query_param":"v"}}}]}"#,
        );
        assert!(chosen_media_item(&transcribed).is_none());
    }

    #[test]
    fn quotes_take_svr_id_and_embedded_text() {
        let m = wire(
            r#"{"item_list":[{"type":1,"text_item":{"text":"reply"},
                "ref_msg":{"svr_id":" 42 ","title":" 标题 ","message_item":{"type":2}}}]}"#,
        );
        let r = InboundRecord::from_wire(&m);
        assert_eq!(r.quote_server_id.as_deref(), Some("42"));
        assert_eq!(r.quote_text.as_deref(), Some("标题 | [图片]"));
        assert_eq!(r.quote_kind, Some("image"));
        assert_eq!(r.item_kind, "text");

        let r = InboundRecord::from_wire(&wire(r#"{"from_user_id":""}"#));
        assert_eq!((r.peer_id, r.item_kind, r.quote_text), (None, "none", None));
    }

    #[test]
    fn a_quote_with_no_body_keeps_what_is_known() {
        let m = wire(
            r#"{"item_list":[{"type":1,"text_item":{"text":"this one"},
                "ref_msg":{"message_item":{"type":31,"create_time_ms":1700000000123}}}]}"#,
        );
        let r = InboundRecord::from_wire(&m);
        assert_eq!((r.quote_server_id, r.quote_text), (None, None));
        assert_eq!(r.quote_kind, Some("unknown"));
        assert_eq!(r.quote_time_ms, Some(1_700_000_000_123));

        let m = wire(r#"{"item_list":[{"type":1,"text_item":{"text":"x"},"ref_msg":{}}]}"#);
        let r = InboundRecord::from_wire(&m);
        assert_eq!((r.quote_kind, r.quote_time_ms), (Some("none"), None));
        let plain = InboundRecord::from_wire(&wire(r#"{"item_list":[{"type":1}]}"#));
        assert_eq!(plain.quote_kind, None);
    }
}
