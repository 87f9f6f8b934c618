//! Provider presets and the exact request each one gets. Every preset speaks OpenAI's
//! chat-completions API; the differences are the quirks below.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::openclaw;

/// Which provider a configuration started from. All fields stay editable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// The OpenClaw gateway keeps the conversation itself, in a session per scope
    /// (`x-openclaw-session-key`, naming the agent). Each turn carries the persona and
    /// summary as one system message, the turns the agent has not seen (since its last
    /// reply: the peer's, the owner's manual replies) and the new turn; it names its
    /// channel (`weixin`) and sender (the peer, as `user`). It targets a dedicated
    /// agent, never the main one unless the owner confirmed it ([`super::openclaw`]).
    #[default]
    OpenClaw,
    Ollama,
    OpenAi,
    /// Never resends `reasoning_content` (the API rejects it in history).
    DeepSeek,
    /// DashScope's compatible mode: `enable_thinking: false` for chat.
    Qwen,
    Custom,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::OpenClaw,
        Preset::Ollama,
        Preset::OpenAi,
        Preset::DeepSeek,
        Preset::Qwen,
        Preset::Custom,
    ];
}

/// One provider configuration (the API key is in the secret store, not here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct ProviderConfig {
    pub preset: Preset,
    /// Up to and including `/v1` (or the provider's equivalent).
    pub base_url: String,
    pub model: String,
    /// Whether inbound images go to the model as image parts.
    pub vision: bool,
    /// Extra request headers.
    pub extra_headers: Vec<(String, String)>,
    /// Extra top-level body fields as a JSON object's text, merged last so they win
    /// (empty: none).
    pub extra_body: String,
    /// `max_tokens` for replies, if set.
    pub max_tokens: Option<u32>,
    /// The owner confirmed that the OpenClaw gateway's main agent may answer WeChat
    /// users, with every tool it has. Off unless set explicitly.
    pub allow_main_agent: bool,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig::preset(Preset::OpenClaw)
    }
}

/// The secret-store profile the provider's API key is filed under.
pub const API_KEY_PROFILE: &str = "default";

impl ProviderConfig {
    /// A preset's defaults.
    pub fn preset(preset: Preset) -> ProviderConfig {
        let (base_url, model, vision) = match preset {
            Preset::OpenClaw => ("http://127.0.0.1:18789/v1", "openclaw/weixin", false),
            Preset::Ollama => ("http://localhost:11434/v1", "llama3.2", false),
            Preset::OpenAi => ("https://api.openai.com/v1", "gpt-4o-mini", true),
            Preset::DeepSeek => ("https://api.deepseek.com/v1", "deepseek-chat", false),
            Preset::Qwen => (
                "https://dashscope.aliyuncs.com/compatible-mode/v1",
                "qwen-plus",
                false,
            ),
            Preset::Custom => ("http://127.0.0.1:8000/v1", "", false),
        };
        ProviderConfig {
            preset,
            base_url: base_url.to_owned(),
            model: model.to_owned(),
            vision,
            extra_headers: Vec::new(),
            extra_body: String::new(),
            max_tokens: None,
            allow_main_agent: false,
        }
    }

    /// Whether the provider keeps the history itself (only what it has not seen is
    /// sent: the turns since the agent's last reply).
    pub fn keeps_history(&self) -> bool {
        self.preset == Preset::OpenClaw
    }

    /// The extra body fields, if they are a JSON object.
    pub fn extra_body_value(&self) -> Option<Value> {
        if self.extra_body.trim().is_empty() {
            return None;
        }
        serde_json::from_str::<Value>(&self.extra_body)
            .ok()
            .filter(Value::is_object)
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.trim_end_matches('/'))
    }
}

/// One message of a turn, before it is shaped for a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    pub text: String,
    /// `data:` URLs of images (only for vision-capable providers).
    pub images: Vec<String>,
}

impl ChatMessage {
    pub fn new(role: &'static str, text: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role,
            text: text.into(),
            images: Vec::new(),
        }
    }

    fn to_json(&self) -> Value {
        if self.images.is_empty() {
            // Only role and content: nothing else a provider returned (DeepSeek's
            // reasoning_content) is ever sent back.
            return json!({ "role": self.role, "content": self.text });
        }
        let mut parts = vec![json!({ "type": "text", "text": self.text })];
        parts.extend(
            self.images
                .iter()
                .map(|url| json!({ "type": "image_url", "image_url": { "url": url } })),
        );
        json!({ "role": self.role, "content": parts })
    }
}

/// A ready request: headers (besides the bearer token) and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// Builds the streaming request for `messages`. `session_key` names the memory scope
/// and `sender` the peer whose turn it is (both used by the OpenClaw gateway).
pub fn chat_request(
    config: &ProviderConfig,
    messages: &[ChatMessage],
    session_key: &str,
    sender: Option<&str>,
    max_tokens: Option<u32>,
) -> ChatRequest {
    let mut headers = config.extra_headers.clone();
    let mut body = Map::new();
    let sent: Vec<Value> = if config.keeps_history() {
        let has = |headers: &[(String, String)], name: &str| {
            headers
                .iter()
                .any(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        };
        if !has(&headers, openclaw::SESSION_HEADER) {
            let key = openclaw::gateway_session_key(config, session_key);
            headers.push((openclaw::SESSION_HEADER.to_owned(), key));
        }
        if !has(&headers, openclaw::CHANNEL_HEADER) {
            headers.push((
                openclaw::CHANNEL_HEADER.to_owned(),
                openclaw::MESSAGE_CHANNEL.to_owned(),
            ));
        }
        if let Some(sender) = sender {
            body.insert("user".into(), json!(sender));
        }
        gateway_messages(messages)
    } else {
        messages.iter().map(ChatMessage::to_json).collect()
    };
    body.insert("model".into(), json!(config.model));
    body.insert("messages".into(), Value::Array(sent));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({ "include_usage": true }));
    if let Some(max) = max_tokens.or(config.max_tokens) {
        body.insert("max_tokens".into(), json!(max));
    }
    if config.preset == Preset::Qwen {
        body.insert("enable_thinking".into(), json!(false));
    }
    if let Some(Value::Object(extra)) = config.extra_body_value() {
        body.extend(extra);
    }
    ChatRequest {
        headers,
        body: Value::Object(body),
    }
}

/// The gateway's form of a turn: the system messages (persona, summary) joined into one
/// at the front, which the gateway adds to its agent's system prompt; then the earlier
/// turns, which it shows the agent as the messages since its last reply; then the new
/// turn.
fn gateway_messages(messages: &[ChatMessage]) -> Vec<Value> {
    let system: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == "system" && !m.text.trim().is_empty())
        .map(|m| m.text.as_str())
        .collect();
    let mut sent = Vec::new();
    if !system.is_empty() {
        sent.push(ChatMessage::new("system", system.join("\n\n")).to_json());
    }
    sent.extend(
        messages
            .iter()
            .filter(|m| m.role != "system")
            .map(ChatMessage::to_json),
    );
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn() -> Vec<ChatMessage> {
        vec![
            ChatMessage::new("system", "be kind"),
            ChatMessage::new("user", "old"),
            ChatMessage::new("assistant", "older answer"),
            ChatMessage::new("user", "new"),
        ]
    }

    #[test]
    fn openclaw_gets_the_context_in_the_gateways_form_with_session_channel_and_sender() {
        let mut with_summary = turn();
        with_summary.insert(1, ChatMessage::new("system", "summary: tea"));
        let r = chat_request(
            &ProviderConfig::preset(Preset::OpenClaw),
            &with_summary,
            "k1",
            Some("alice@im.wechat"),
            None,
        );
        assert_eq!(
            r.body["messages"],
            json!([
                { "role": "system", "content": "be kind\n\nsummary: tea" },
                { "role": "user", "content": "old" },
                { "role": "assistant", "content": "older answer" },
                { "role": "user", "content": "new" },
            ])
        );
        assert_eq!(r.body["model"], "openclaw/weixin");
        assert_eq!(r.body["user"], "alice@im.wechat");
        assert!(r
            .headers
            .contains(&("x-openclaw-session-key".into(), "agent:weixin:k1".into())));
        assert!(r
            .headers
            .contains(&("x-openclaw-message-channel".into(), "weixin".into())));
        // The owner's own headers win.
        let mut own = ProviderConfig::preset(Preset::OpenClaw);
        own.extra_headers
            .push(("X-OpenClaw-Message-Channel".into(), "wechat-desk".into()));
        let r = chat_request(&own, &turn(), "k1", None, None);
        let channels = r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("x-openclaw-message-channel"))
            .count();
        assert_eq!(channels, 1);
        assert!(r.body.get("user").is_none());
    }

    #[test]
    fn other_presets_send_every_message_as_it_is_and_no_gateway_fields() {
        let r = chat_request(
            &ProviderConfig::preset(Preset::OpenAi),
            &turn(),
            "k1",
            Some("alice@im.wechat"),
            None,
        );
        assert_eq!(r.body["messages"].as_array().unwrap().len(), 4);
        assert!(r.headers.is_empty());
        assert!(r.body.get("user").is_none());
    }

    #[test]
    fn qwen_disables_thinking_and_extra_body_wins() {
        let mut c = ProviderConfig::preset(Preset::Qwen);
        let r = chat_request(&c, &turn(), "k", None, Some(1));
        assert_eq!(r.body["enable_thinking"], json!(false));
        assert_eq!(r.body["max_tokens"], json!(1));
        assert_eq!(r.body["messages"].as_array().unwrap().len(), 4);
        c.extra_body = r#"{ "temperature": 0.2 }"#.into();
        let r = chat_request(&ProviderConfig { ..c }, &turn(), "k", None, None);
        assert_eq!(r.body["temperature"], json!(0.2));
    }

    #[test]
    fn images_become_parts() {
        let mut m = ChatMessage::new("user", "look");
        m.images.push("data:image/png;base64,AA==".into());
        assert_eq!(
            m.to_json()["content"][1],
            json!({ "type": "image_url", "image_url": { "url": "data:image/png;base64,AA==" } })
        );
    }
}
