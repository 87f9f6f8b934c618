//! Serde models of everything the API sends and receives (docs/protocol.md §2 and §5).
//!
//! Rules (docs/protocol.md §1.8): every field is optional where the wire allows it and is left out when
//! absent; unknown fields are ignored; unknown enum numbers are kept; the 64-bit ids
//! `message_id`, `msg_id` and `svr_id` are read from numbers or strings into exact text;
//! other numbers, flags and texts are read tolerantly (`lenient.rs`), and a getupdates
//! answer is decoded one message at a time (`updates.rs`).

mod api;
mod enums;
mod lenient;
mod lossless;
mod message;
mod updates;

pub use api::{
    ApiStatus, BaseInfo, GetBotQrcodeRequest, GetConfigRequest, GetConfigResponse,
    GetUpdatesRequest, GetUpdatesResponse, GetUploadUrlRequest, GetUploadUrlResponse,
    NotifyRequest, QrCodeResponse, QrStatus, QrStatusResponse, SendMessageRequest,
    SendMessageResponse, SendTypingRequest,
};
pub use enums::{
    ItemType, MessageState, MessageType, TypingStatus, UploadMediaType, VoiceEncoding,
};
pub use message::{
    CdnMedia, FileItem, ImageItem, MessageItem, PartialText, RefMessage, TextItem,
    ToolCallResultItem, ToolCallStartItem, VideoItem, VoiceItem, WeixinMessage,
};
pub use updates::{InboundEntry, UpdatesBatch};

#[cfg(test)]
mod tests;
