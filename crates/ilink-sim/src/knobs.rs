//! Behaviour switches that tests can change while the emulator runs. Durations are in
//! milliseconds so the same struct serves the Rust API and the `/_sim/knobs` route.

use serde::{Deserialize, Serialize};

use crate::cdn::UploadUrlMode;
use crate::corrupt::CorruptMessage;

/// How a successful sendmessage is answered (E10). `MessageId`, `MessageIdOnly`,
/// `EmptyObject` and `RetErrmsg` are success for a ≥2.4.6 client; `EmptyBody` is a
/// legacy/fault mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendResponse {
    /// `{"ret":0,"message_id":<u64>}`
    MessageId,
    /// `{"message_id":<u64>}`, no `ret` (success all the same; seen live).
    MessageIdOnly,
    /// `{}`
    EmptyObject,
    /// `{"ret":0,"errmsg":""}`
    RetErrmsg,
    /// HTTP 200 with no body.
    EmptyBody,
}

/// At most `max` accepted sends per (bot, peer) in any `window_ms`; more get ret -2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRateLimit {
    pub max: u32,
    pub window_ms: u64,
}

/// Sends whose text contains `text_contains` are refused with ret -2 and `errmsg`
/// (empty: left out), with a valid, fresh token: a malformed request the way the server
/// may report one (docs/protocol.md §1.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefuseShape {
    pub text_contains: String,
    #[serde(default)]
    pub errmsg: String,
}

/// The poster an injected video carries (`video_item.thumb_media`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoPoster {
    /// A real JPEG, as the server sends.
    #[default]
    Sent,
    /// No `thumb_media` at all.
    Missing,
    /// A `thumb_media` whose bytes are no picture.
    Damaged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Reject a missing `iLink-App-Id`/`ClientVersion`, a bad `X-WECHAT-UIN`, a wrong
    /// `Content-Type` or a missing `base_info.channel_version` with HTTP 400. When off,
    /// such requests are served and the problem is only recorded in the request log (E3).
    pub strict_headers: bool,
    /// Reject a `base_info.bot_agent` that does not follow the sanitising rules with
    /// HTTP 400. Off by default: the server uses it only for observability, so the
    /// problem is recorded as a note in the request log, in every mode.
    pub reject_bad_bot_agent: bool,
    /// How long getupdates holds an empty poll (E7). Kept under
    /// `longpolling_timeout_ms`, which clients use as their abort timeout.
    pub poll_hold_ms: u64,
    /// Advertised in every getupdates answer.
    pub longpolling_timeout_ms: u64,
    /// How long a context_token stays usable for replies (E10 step 5).
    pub reply_window_ms: u64,
    /// Replies allowed per context_token; `None` means no quota (E10 step 6).
    pub reply_quota: Option<u32>,
    /// Whether tool-call progress items (types 11, 12) use up the quota.
    pub quota_counts_tool_calls: bool,
    /// Also set `ret:-14` on the stale-token answer of getupdates (some fixtures do).
    pub stale_includes_ret: bool,
    /// Answer a sendmessage without context_token with HTTP 200 and an empty body
    /// instead of ret -3 (one report, PR #247).
    pub missing_context_token_empty_body: bool,
    /// How long get_qrcode_status holds when nothing changed (E5).
    pub qr_hold_ms: u64,
    /// How long a QR stays scannable before it reads `expired` (docs/protocol.md §11 q1: unknown;
    /// the official client keeps a login at most 5 min).
    pub qr_lifetime_ms: u64,
    /// Wrong verify codes allowed before `verify_code_blocked`.
    pub verify_code_attempts: u32,
    /// Which upload URL fields getuploadurl returns (E14).
    pub upload_url_mode: UploadUrlMode,
    /// How long an `upload_param` stays valid for the CDN upload.
    pub upload_param_ttl_ms: u64,
    /// The body of a successful sendmessage.
    pub send_response: SendResponse,
    /// Answer getupdates with `"get_updates_buf": ""` (the client must keep its cursor).
    pub empty_cursor: bool,
    /// At-least-once delivery (docs/protocol.md §4.6): each message is delivered once more, with
    /// the same message_id and a new seq, this long after its first delivery.
    pub replay_after_ms: Option<u64>,
    /// With `replay_after_ms`: the chance that a message is replayed, drawn once per
    /// message at its first delivery from `StdRng::seed_from_u64(replay_seed)`.
    pub replay_probability: f64,
    /// Seed of the replay draws; changing it restarts the sequence.
    pub replay_seed: u64,
    /// Redelivery of unacknowledged messages (E7): once delivered, a message is held
    /// back from `""` and old-cursor polls until this long has passed without a cursor
    /// acknowledging it; then it is delivered again (same seq and message_id). `None`:
    /// such polls get every unacknowledged message at once.
    pub redeliver_unacked_after_ms: Option<u64>,
    /// Per (bot, peer) send rate limit, separate from the per-token `reply_quota`:
    /// sends beyond it get ret -2 `prepare failed` ("bursts of sends", docs/protocol.md §1.6).
    pub send_rate_limit: Option<SendRateLimit>,
    /// Sandbox mode: every new QR is scanned after this long and confirmed (as a new
    /// user) after as long again, with no test driving the phone.
    pub auto_login_ms: Option<u64>,
    /// With `auto_login_ms`: the new user's first message to the bot.
    pub auto_login_greeting: Option<String>,
    /// Send one field of one inbound message in an odd shape (a size as a digit string
    /// or negative or beyond u64, a name or text as a number, an item type or
    /// `is_completed` as a string, a fractional timestamp): the message queued after
    /// `after` more is affected, in every delivery of it, and the knob clears itself.
    pub corrupt_message: Option<CorruptMessage>,
    /// Answer tool-call progress items (types 11, 12) with `{"ret":0}` and no
    /// `message_id` (seen live), whatever `send_response` says.
    pub tool_calls_without_message_id: bool,
    /// Refuse one request shape with ret -2 whatever the token (see [`RefuseShape`]).
    pub refuse_shape_with_ret2: Option<RefuseShape>,
    /// Serve CDN downloads at about this many bytes a second (a slow link), so a test
    /// can stop a client mid-download. `None`: as fast as the connection goes.
    pub cdn_download_bytes_per_sec: Option<u64>,
    /// What poster injected videos carry.
    pub video_poster: VideoPoster,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            strict_headers: true,
            reject_bad_bot_agent: false,
            poll_hold_ms: 25_000,
            longpolling_timeout_ms: 35_000,
            reply_window_ms: 24 * 60 * 60 * 1000,
            reply_quota: None,
            quota_counts_tool_calls: true,
            stale_includes_ret: false,
            missing_context_token_empty_body: false,
            qr_hold_ms: 25_000,
            qr_lifetime_ms: 300_000,
            verify_code_attempts: 3,
            upload_url_mode: UploadUrlMode::Both,
            upload_param_ttl_ms: 10 * 60 * 1000,
            send_response: SendResponse::MessageId,
            empty_cursor: false,
            replay_after_ms: None,
            replay_probability: 1.0,
            replay_seed: 0,
            redeliver_unacked_after_ms: None,
            send_rate_limit: None,
            auto_login_ms: None,
            auto_login_greeting: None,
            corrupt_message: None,
            tool_calls_without_message_id: false,
            refuse_shape_with_ret2: None,
            cdn_download_bytes_per_sec: None,
            video_poster: VideoPoster::Sent,
        }
    }
}
