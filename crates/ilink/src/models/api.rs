//! Request and response bodies of the API endpoints (docs/protocol.md §2). Responses tolerate missing
//! and unknown fields; `ret` and `errcode` are absent on success more often than not.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::enums::{TypingStatus, UploadMediaType};
use super::message::WeixinMessage;

/// `base_info`, carried by every authenticated POST (not by `get_bot_qrcode`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseInfo {
    /// The plugin version string, e.g. `2.4.9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_version: Option<String>,
    /// The sanitised self-description (§1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_agent: Option<String>,
}

/// The error fields any response may carry. A missing `ret` means success.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStatus {
    /// Result code; 0 or absent is success. Read from a number or its decimal text.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub ret: Option<i64>,
    /// Second error code; -14 is a stale token. Read from a number or its decimal text.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub errcode: Option<i64>,
    /// Often empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errmsg: Option<String>,
}

/// `get_bot_qrcode` request. Holds bot tokens: never log it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetBotQrcodeRequest {
    /// Up to 10 locally stored bot tokens, newest first.
    #[serde(default)]
    pub local_token_list: Vec<String>,
}

impl fmt::Debug for GetBotQrcodeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetBotQrcodeRequest")
            .field(
                "local_token_list",
                &format_args!("[{} ***]", self.local_token_list.len()),
            )
            .finish()
    }
}

/// `get_bot_qrcode` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCodeResponse {
    /// Opaque polling id for `get_qrcode_status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qrcode: Option<String>,
    /// A URL to render as a QR code (not an image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qrcode_img_content: Option<String>,
    /// Error fields.
    #[serde(flatten)]
    pub status: ApiStatus,
}

/// QR login status (§3.1). Unknown strings are kept in `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QrStatus {
    /// `wait`: not scanned yet.
    Wait,
    /// `scaned`: scanned, waiting for the phone to confirm.
    Scaned,
    /// `scaned_but_redirect`: poll `https://<redirect_host>` from now on.
    ScanedButRedirect,
    /// `need_verifycode`: ask the user for the number shown on the phone.
    NeedVerifycode,
    /// `verify_code_blocked`: too many wrong codes.
    VerifyCodeBlocked,
    /// `expired`: the QR timed out.
    Expired,
    /// `binded_redirect`: already bound here; success without new credentials.
    BindedRedirect,
    /// `confirmed`: credentials follow.
    Confirmed,
    /// Anything else, as sent.
    Other(String),
}

impl QrStatus {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Wait => "wait",
            Self::Scaned => "scaned",
            Self::ScanedButRedirect => "scaned_but_redirect",
            Self::NeedVerifycode => "need_verifycode",
            Self::VerifyCodeBlocked => "verify_code_blocked",
            Self::Expired => "expired",
            Self::BindedRedirect => "binded_redirect",
            Self::Confirmed => "confirmed",
            Self::Other(other) => other,
        }
    }

    /// Parses the wire spelling, keeping unknown values.
    pub fn from_wire(value: &str) -> Self {
        match value {
            "wait" => Self::Wait,
            "scaned" => Self::Scaned,
            "scaned_but_redirect" => Self::ScanedButRedirect,
            "need_verifycode" => Self::NeedVerifycode,
            "verify_code_blocked" => Self::VerifyCodeBlocked,
            "expired" => Self::Expired,
            "binded_redirect" => Self::BindedRedirect,
            "confirmed" => Self::Confirmed,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for QrStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for QrStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Self::from_wire(&s))
    }
}

/// `get_qrcode_status` response. Holds the new bot token: its Debug hides it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrStatusResponse {
    /// The login state; absent is treated like an unknown status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<QrStatus>,
    /// The new bot token (opaque), at `confirmed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<String>,
    /// `<12 hex>@im.bot`, at `confirmed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ilink_bot_id: Option<String>,
    /// The account's API base; empty means the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseurl: Option<String>,
    /// The WeChat user who scanned, `<id>@im.wechat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ilink_user_id: Option<String>,
    /// Host to poll after `scaned_but_redirect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_host: Option<String>,
    /// Error fields: a non-zero `ret` or `errcode` ends the login.
    #[serde(flatten)]
    pub api: ApiStatus,
}

impl QrStatusResponse {
    /// The response the client substitutes for a timeout or HTTP 524.
    pub fn wait() -> Self {
        Self {
            status: Some(QrStatus::Wait),
            ..Self::default()
        }
    }
}

impl fmt::Debug for QrStatusResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QrStatusResponse")
            .field("status", &self.status)
            .field("bot_token", &self.bot_token.as_ref().map(|_| "***"))
            .field("ilink_bot_id", &self.ilink_bot_id)
            .field("baseurl", &self.baseurl)
            .field("ilink_user_id", &self.ilink_user_id)
            .field("redirect_host", &self.redirect_host)
            .field("api", &self.api)
            .finish()
    }
}

/// `getupdates` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUpdatesRequest {
    /// The cursor; `""` when none is stored.
    pub get_updates_buf: String,
    /// Deprecated cursor field; the official client does not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_buf: Option<String>,
    /// Filled in by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_info: Option<BaseInfo>,
}

/// `getupdates` response, every message typed: the form to build or inspect a whole body
/// with. The client decodes answers into [`super::UpdatesBatch`] instead, one message at
/// a time, so that one odd message cannot fail the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUpdatesResponse {
    /// Error fields; failure if `ret` or `errcode` is present and non-zero.
    #[serde(flatten)]
    pub status: ApiStatus,
    /// New messages, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgs: Option<Vec<WeixinMessage>>,
    /// The next cursor; empty or absent keeps the old one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_updates_buf: Option<String>,
    /// Deprecated cursor; never relied on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_buf: Option<String>,
    /// The server's long-poll hold, used as the next client timeout when positive.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lenient::int"
    )]
    pub longpolling_timeout_ms: Option<i64>,
}

/// `sendmessage` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessageRequest {
    /// The message, with exactly one item.
    pub msg: WeixinMessage,
    /// Filled in by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_info: Option<BaseInfo>,
}

/// `sendmessage` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessageResponse {
    /// Error fields; only `ret` decides.
    #[serde(flatten)]
    pub status: ApiStatus,
    /// The server's id for the stored message, exact decimal text.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::lossless::deserialize"
    )]
    pub message_id: Option<String>,
}

/// `getuploadurl` request (§2.6). `aeskey` is **hex** here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUploadUrlRequest {
    /// 32 lowercase hex chars, new per upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filekey: Option<String>,
    /// What is uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<UploadMediaType>,
    /// The recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_user_id: Option<String>,
    /// Plaintext length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rawsize: Option<u64>,
    /// Lowercase hex MD5 of the plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rawfilemd5: Option<String>,
    /// Ciphertext length, `(rawsize/16+1)*16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesize: Option<u64>,
    /// Never sent by the official client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_rawsize: Option<u64>,
    /// Never sent by the official client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_rawfilemd5: Option<String>,
    /// Never sent by the official client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_filesize: Option<u64>,
    /// Always `true` from the official client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_need_thumb: Option<bool>,
    /// The 16-byte key as 32 lowercase hex chars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aeskey: Option<String>,
    /// Filled in by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_info: Option<BaseInfo>,
}

/// `getuploadurl` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUploadUrlResponse {
    /// Error fields.
    #[serde(flatten)]
    pub status: ApiStatus,
    /// Opaque upload id for `<cdn>/upload?encrypted_query_param=…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_param: Option<String>,
    /// Unused (no thumbnails are uploaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb_upload_param: Option<String>,
    /// When non-empty after trimming, the exact upload URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_full_url: Option<String>,
}

/// `getconfig` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetConfigRequest {
    /// The peer; required by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ilink_user_id: Option<String>,
    /// The peer's latest context token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_token: Option<String>,
    /// Filled in by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_info: Option<BaseInfo>,
}

/// `getconfig` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetConfigResponse {
    /// Error fields.
    #[serde(flatten)]
    pub status: ApiStatus,
    /// Opaque base64 ticket for `sendtyping`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typing_ticket: Option<String>,
}

/// `sendtyping` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendTypingRequest {
    /// The peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ilink_user_id: Option<String>,
    /// From `getconfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typing_ticket: Option<String>,
    /// Typing or cancel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TypingStatus>,
    /// Filled in by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_info: Option<BaseInfo>,
}

/// Body of `notifystart` and `notifystop`: only `base_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyRequest {
    /// Filled in by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_info: Option<BaseInfo>,
}
