//! The message model (docs/protocol.md §5.2). Every field is optional on the wire; absent fields stay
//! absent when serialised, explicit empty strings are kept, unknown fields are ignored.

use serde::{Deserialize, Serialize};

use super::enums::{ItemType, MessageState, MessageType, VoiceEncoding};

/// One message, inbound (from getupdates) or outbound (in sendmessage).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeixinMessage {
    /// Small per-bot sequence number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub seq: Option<i64>,
    /// The server's 64-bit id as exact decimal text (sent as a number or a string).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lossless::deserialize"
    )]
    pub message_id: Option<String>,
    /// Sender; the conversation key for inbound messages. Outbound sends `""`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub from_user_id: Option<String>,
    /// Recipient, case preserved.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub to_user_id: Option<String>,
    /// Client-chosen id, `<prefix>:<epoch ms>-<8 hex>` outbound.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub client_id: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::timestamp"
    )]
    pub create_time_ms: Option<i64>,
    /// Milliseconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::timestamp"
    )]
    pub update_time_ms: Option<i64>,
    /// Milliseconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::timestamp"
    )]
    pub delete_time_ms: Option<i64>,
    /// Observed as `""`; ignored by the official client.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub session_id: Option<String>,
    /// Observed as `""`; ignored by the official client.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub group_id: Option<String>,
    /// User (1) or bot (2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<MessageType>,
    /// Always finish (2) outbound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_state: Option<MessageState>,
    /// The content; exactly one item per outbound send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_list: Option<Vec<MessageItem>>,
    /// Reply token; copy the latest inbound one into every send to that user.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub context_token: Option<String>,
    /// Reply-run id (a UUID), on sends that belong to one AI reply run.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub run_id: Option<String>,
}

/// One piece of content in `item_list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageItem {
    /// Which `*_item` field carries the content.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub item_type: Option<ItemType>,
    /// Milliseconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::timestamp"
    )]
    pub create_time_ms: Option<i64>,
    /// Milliseconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::timestamp"
    )]
    pub update_time_ms: Option<i64>,
    /// Whether the item is final.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::flag"
    )]
    pub is_completed: Option<bool>,
    /// Item id, observed as `"v1:<u64>"`; may come as a number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lossless::deserialize"
    )]
    pub msg_id: Option<String>,
    /// The message this item quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_msg: Option<Box<RefMessage>>,
    /// Type 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_item: Option<TextItem>,
    /// Type 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_item: Option<ImageItem>,
    /// Type 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_item: Option<VoiceItem>,
    /// Type 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_item: Option<FileItem>,
    /// Type 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_item: Option<VideoItem>,
    /// Type 11.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_start_item: Option<ToolCallStartItem>,
    /// Type 12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_result_item: Option<ToolCallResultItem>,
}

/// A quote: either embedded content (`title`, `message_item`) or only the quoted
/// message's server id (`svr_id`), possibly with the quoted part (`partial_text`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefMessage {
    /// The quoted content, embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_item: Option<MessageItem>,
    /// A summary of the quoted message.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub title: Option<String>,
    /// The quoted message's server id, exact decimal text (may come as a number).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lossless::deserialize"
    )]
    pub svr_id: Option<String>,
    /// Present when only part of the message was quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_text: Option<PartialText>,
}

/// The quoted part of a message (docs/protocol.md §5.6 item 4): occurrence counts, not offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialText {
    /// Text the quote starts with.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub start: Option<String>,
    /// Text the quote ends with.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub end: Option<String>,
    /// 0-based occurrence of `start`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub startindex: Option<i64>,
    /// 0-based occurrence of `end`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub endindex: Option<i64>,
    /// Hex MD5 of the quoted part, any case.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub quotemd5: Option<String>,
}

/// `text_item`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextItem {
    /// The text.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub text: Option<String>,
}

/// A CDN reference. Note `aes_key` is base64 here (of raw bytes or of hex text, §7.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdnMedia {
    /// Download parameter (the CDN URL query calls it `encrypted_query_param`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub encrypt_query_param: Option<String>,
    /// Base64 media key.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub aes_key: Option<String>,
    /// 0 or 1; outbound always 1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub encrypt_type: Option<i64>,
    /// A full download URL, preferred when present.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub full_url: Option<String>,
}

/// `image_item`. Its `aeskey` is hex and takes precedence over `media.aes_key`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageItem {
    /// The image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<CdnMedia>,
    /// A thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_media: Option<CdnMedia>,
    /// Hex key (32 chars).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub aeskey: Option<String>,
    /// Observed but unused.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub url: Option<String>,
    /// Ciphertext size outbound.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::size"
    )]
    pub mid_size: Option<u64>,
    /// Thumbnail size.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::size"
    )]
    pub thumb_size: Option<u64>,
    /// Thumbnail height.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub thumb_height: Option<i64>,
    /// Thumbnail width.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub thumb_width: Option<i64>,
    /// Full-resolution size.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::size"
    )]
    pub hd_size: Option<u64>,
}

/// `voice_item`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceItem {
    /// The audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<CdnMedia>,
    /// Codec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode_type: Option<VoiceEncoding>,
    /// Bits per sample.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub bits_per_sample: Option<i64>,
    /// Hz.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub sample_rate: Option<i64>,
    /// Milliseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub playtime: Option<i64>,
    /// The server's transcription.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub text: Option<String>,
}

/// `file_item`. `len` is the plaintext length as a **string**.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileItem {
    /// The file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<CdnMedia>,
    /// Untrusted file name; sanitise before use.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub file_name: Option<String>,
    /// Hex MD5.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub md5: Option<String>,
    /// Decimal plaintext length. A bare number or padded digits are accepted and kept as
    /// plain digits; anything that is not a size makes the message undecodable.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::size_text"
    )]
    pub len: Option<String>,
}

/// `video_item`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoItem {
    /// The video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<CdnMedia>,
    /// Ciphertext size outbound.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::size"
    )]
    pub video_size: Option<u64>,
    /// Duration.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub play_length: Option<i64>,
    /// Hex MD5.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub video_md5: Option<String>,
    /// A thumbnail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_media: Option<CdnMedia>,
    /// Thumbnail size.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::size"
    )]
    pub thumb_size: Option<u64>,
    /// Thumbnail height.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub thumb_height: Option<i64>,
    /// Thumbnail width.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub thumb_width: Option<i64>,
}

/// `tool_call_start_item` (type 11).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallStartItem {
    /// The tool's name (or title, or `tool`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub tool_name: Option<String>,
    /// Left out when empty.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub tool_call_id: Option<String>,
}

/// `tool_call_result_item` (type 12).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallResultItem {
    /// The tool's name (or title, or `tool`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub tool_name: Option<String>,
    /// Left out when empty.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub tool_call_id: Option<String>,
    /// `completed`, `failed`, `blocked` or `unknown`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::text"
    )]
    pub status: Option<String>,
}
