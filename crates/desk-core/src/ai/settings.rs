//! What the owner configures for AI replies, stored as JSON documents in SQLite (never
//! the API key, which lives in the secret store). Unknown or missing fields take their
//! defaults, so older documents keep loading.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::provider::{Preset, ProviderConfig};

/// Whose conversation the model remembers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum MemoryScope {
    /// One conversation per account and peer: no peer ever sees another's words.
    #[default]
    PerAccountPerPeer,
    /// One conversation per peer, across the accounts that talk to them.
    PerPeer,
    /// One conversation for everything (the official plugin's default).
    Shared,
}

/// App-wide AI settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct GlobalAiSettings {
    /// Stops every AI reply at once.
    pub paused: bool,
    pub provider: ProviderConfig,
    /// Most history messages sent with a turn.
    pub history_messages: u32,
    /// Rough token budget for the history (CJK characters count one each, other text
    /// one per four characters).
    pub history_tokens: u32,
    /// Longest message a reply is sent in (characters); longer blocks are split.
    pub split_limit: u32,
    /// A reply that is exactly this (or empty) is the AI choosing not to answer:
    /// nothing is sent (empty: only an empty reply is silence).
    pub silence_token: String,
}

/// The silence token agents are taught (OpenClaw's own convention).
pub const DEFAULT_SILENCE_TOKEN: &str = "NO_REPLY";

/// The range a reply's split limit may be set in: WeChat shows up to 4,000 characters
/// in one message (the official framework splits there).
pub const SPLIT_LIMIT_RANGE: std::ops::RangeInclusive<u32> = 100..=4_000;

impl Default for GlobalAiSettings {
    fn default() -> Self {
        GlobalAiSettings {
            paused: false,
            provider: ProviderConfig::default(),
            history_messages: 20,
            history_tokens: 3_000,
            split_limit: ilink::text::DEFAULT_SPLIT_LIMIT as u32,
            silence_token: DEFAULT_SILENCE_TOKEN.to_owned(),
        }
    }
}

/// Quiet hours in the owner's local time: no replies from `start` to `end` (minutes
/// after midnight; `start > end` spans midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct QuietHours {
    pub start_minute: u16,
    pub end_minute: u16,
}

impl QuietHours {
    pub fn contains(&self, minute_of_day: u16) -> bool {
        let (s, e, m) = (self.start_minute, self.end_minute, minute_of_day);
        if s <= e {
            s <= m && m < e
        } else {
            m >= s || m < e
        }
    }
}

/// One account's AI settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct AccountAiSettings {
    /// Whether peers get AI replies by default (a peer's own switch overrides it).
    pub enabled: bool,
    /// The system prompt; `{peer_name}`, `{peer_note}` and `{date}` are filled in
    /// (`prompt::PersonaVars`).
    pub persona: String,
    pub memory_scope: MemoryScope,
    /// When not empty, only these peers get replies.
    pub allow: Vec<String>,
    /// These peers never get replies.
    pub block: Vec<String>,
    pub quiet_hours: Option<QuietHours>,
    /// Most AI runs per peer in any hour (0: no limit).
    pub runs_per_peer_per_hour: u32,
    /// How long a manual reply from the owner silences the AI for that peer.
    pub takeover_minutes: u32,
    /// Sent to the peer when the provider fails; `None` sends nothing.
    pub error_notice: Option<String>,
    /// Send a timing report after each run (toggled by `/toggle-debug`).
    pub debug: bool,
}

impl Default for AccountAiSettings {
    fn default() -> Self {
        AccountAiSettings {
            enabled: false,
            persona: String::new(),
            memory_scope: MemoryScope::default(),
            allow: Vec::new(),
            block: Vec::new(),
            quiet_hours: None,
            runs_per_peer_per_hour: 30,
            takeover_minutes: 30,
            error_notice: Some(DEFAULT_ERROR_NOTICE.to_owned()),
            debug: false,
        }
    }
}

/// The polite notice a peer gets when the model cannot answer.
pub const DEFAULT_ERROR_NOTICE: &str = "抱歉，我暂时无法回复，请稍后再试。";

/// The reply loop's delays and limits, injectable so tests run in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct AiTimings {
    /// Re-send "typing" this often while a run lasts (docs/protocol.md §6.2: 5 s).
    pub typing_keepalive: Duration,
    /// Send the text gathered so far after this long without new text.
    pub block_idle: Duration,
    /// A block is sent once it has at least this many characters and reaches a break.
    pub block_min_chars: usize,
    /// Most messages one run sends.
    pub max_messages: usize,
    /// Longest wait for the provider's response headers.
    pub first_byte_timeout: Duration,
    /// Longest silence inside a streamed response.
    pub stall_timeout: Duration,
    /// Longest whole run.
    pub run_timeout: Duration,
    /// The OpenClaw gateway's pace, instead of the three above: after the role chunk it
    /// is silent until its model speaks, and it waits for a model up to its idle timeout
    /// (120 s for cloud providers, 300 s for self-hosted ones by default;
    /// `models.providers.<id>.timeoutSeconds`) and retries transient failures within a
    /// 90 s window. Leaving earlier aborts its run (it cancels on disconnect).
    pub gateway_first_byte_timeout: Duration,
    pub gateway_stall_timeout: Duration,
    pub gateway_run_timeout: Duration,
    /// Tell the owner the run is still under way this often ([`super::AiEvent::StillWorking`]).
    pub still_working_every: Duration,
    /// Largest image fetched from a reply's Markdown link.
    pub image_max_bytes: u64,
    /// How long a turn for a vision model waits for an inbound image to be downloaded
    /// (after that it gets the placeholder).
    pub media_wait: Duration,
}

impl Default for AiTimings {
    fn default() -> Self {
        AiTimings {
            typing_keepalive: Duration::from_secs(5),
            block_idle: Duration::from_secs(3),
            block_min_chars: 200,
            max_messages: 10,
            first_byte_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(60),
            run_timeout: Duration::from_secs(300),
            gateway_first_byte_timeout: Duration::from_secs(600),
            gateway_stall_timeout: Duration::from_secs(600),
            gateway_run_timeout: Duration::from_secs(30 * 60),
            still_working_every: Duration::from_secs(30),
            image_max_bytes: 10 * 1024 * 1024,
            media_wait: Duration::from_secs(20),
        }
    }
}

/// How long a provider may take, per preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderTimeouts {
    pub first_byte: Duration,
    pub stall: Duration,
    pub run: Duration,
}

impl AiTimings {
    /// The timeouts for a preset: the gateway's own pace for OpenClaw, the general ones
    /// for every other provider.
    pub fn for_preset(&self, preset: Preset) -> ProviderTimeouts {
        if preset == Preset::OpenClaw {
            ProviderTimeouts {
                first_byte: self.gateway_first_byte_timeout,
                stall: self.gateway_stall_timeout,
                run: self.gateway_run_timeout,
            }
        } else {
            ProviderTimeouts {
                first_byte: self.first_byte_timeout,
                stall: self.stall_timeout,
                run: self.run_timeout,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_may_span_midnight() {
        let night = QuietHours {
            start_minute: 23 * 60,
            end_minute: 7 * 60,
        };
        assert!(night.contains(23 * 60 + 30) && night.contains(60) && !night.contains(12 * 60));
        let lunch = QuietHours {
            start_minute: 12 * 60,
            end_minute: 13 * 60,
        };
        assert!(lunch.contains(12 * 60) && !lunch.contains(13 * 60));
    }

    #[test]
    fn the_gateway_gets_more_time_than_its_own_model_idle_timeout_and_retries() {
        let t = AiTimings::default();
        let gateway = t.for_preset(Preset::OpenClaw);
        // Self-hosted idle 300 s plus the 90 s transient-retry window.
        assert!(gateway.stall >= Duration::from_secs(300 + 90));
        assert!(gateway.first_byte >= gateway.stall);
        assert!(gateway.run > gateway.stall);
        assert_eq!(t.for_preset(Preset::OpenAi).stall, Duration::from_secs(60));
    }

    #[test]
    fn missing_fields_take_defaults() {
        let s: AccountAiSettings = serde_json::from_str(r#"{"enabled":true}"#).unwrap();
        assert!(s.enabled);
        assert_eq!(s.takeover_minutes, 30);
        assert_eq!(s.memory_scope, MemoryScope::PerAccountPerPeer);
        let g: GlobalAiSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(g, GlobalAiSettings::default());
        assert_eq!(g.silence_token, "NO_REPLY");
    }
}
