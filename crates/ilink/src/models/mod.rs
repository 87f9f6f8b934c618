//! Serde models of everything the API sends and receives (spec §2 and §5).
//!
//! Rules (spec §1.8): every field is optional where the wire allows it and is left out when
//! absent; unknown fields are ignored; unknown enum numbers are kept; the 64-bit ids
//! `message_id`, `msg_id` and `svr_id` are read from numbers or strings into exact text.

mod api;
mod enums;
mod lossless;
mod message;

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

#[cfg(test)]
mod tests;
