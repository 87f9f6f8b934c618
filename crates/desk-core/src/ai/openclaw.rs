//! The OpenClaw gateway as the brain: which of the gateway's agents a configuration
//! reaches, and the one rule that keeps WeChat strangers away from the owner's main
//! agent. The gateway runs a request made with its token as the owner's, so whatever
//! tools the agent has (a default main agent has `exec`) any peer who writes can use.

use serde::{Deserialize, Serialize};

use super::provider::{Preset, ProviderConfig};

/// The agent the preset targets by default: one the owner creates for WeChat, with no
/// tool that acts on the host (see [`DEDICATED_AGENT_CONFIG`]).
pub const DEFAULT_AGENT_ID: &str = "weixin";

/// The request header that picks an agent, besides the model field.
pub const AGENT_HEADER: &str = "x-openclaw-agent-id";

/// The gateway configuration (JSON5, in `openclaw.json`) that turns on the endpoint and
/// creates the dedicated agent with messaging only: no shell, file, browser or device
/// tools.
pub const DEDICATED_AGENT_CONFIG: &str = r#"{
  gateway: {
    mode: "local",
    bind: "loopback",
    http: { endpoints: { chatCompletions: { enabled: true } } },
  },
  agents: {
    list: [
      { id: "main", default: true },
      {
        id: "weixin",
        name: "WeChat replies",
        workspace: "~/.openclaw/workspace-weixin",
        tools: {
          profile: "minimal",
          deny: ["exec", "process", "read", "write", "edit", "apply_patch",
                 "browser", "canvas", "nodes", "cron", "gateway"],
        },
      },
    ],
  },
}"#;

/// The header that names the session a request belongs to.
pub const SESSION_HEADER: &str = "x-openclaw-session-key";

/// The header that names the channel a request comes from, and the channel the app
/// names: the gateway normalises `weixin` to its own Weixin channel id
/// (`openclaw-weixin`), so the agent is told it talks on WeChat, not in web chat.
pub const CHANNEL_HEADER: &str = "x-openclaw-message-channel";
pub const MESSAGE_CHANNEL: &str = "weixin";

/// The text the gateway puts in a successful completion that carries no reply (the
/// agent ended its turn silently).
pub const NO_RESPONSE_TEXT: &str = "No response from OpenClaw.";

/// Error messages the gateway (2026.9) answers with when the agent's turn produced no
/// visible reply: a `NO_REPLY` or empty turn is retried once, then the run fails with a
/// generic "internal error" (HTTP 500, or an error chunk after the role chunk when
/// streaming); its own channels word the same failure as the other texts. A model that
/// fails (HTTP errors, timeouts) is reported differently ("upstream provider error",
/// HTTP 502), so it still gets the polite notice.
const SILENT_TURN_ERRORS: &[&str] = &[
    "internal error",
    "agent couldn't generate a response",
    "the agent run failed before producing a reply",
    "incomplete turn",
];

/// Whether a gateway error message says the agent's turn ended without a reply. The one
/// place that knows the gateway's wording.
pub fn is_silent_turn_error(message: &str) -> bool {
    let message = message.trim().trim_start_matches('⚠').trim().to_lowercase();
    let message = message.trim_end_matches('.');
    SILENT_TURN_ERRORS.iter().any(|known| {
        if *known == "internal error" {
            message == *known
        } else {
            message.contains(known)
        }
    })
}

/// The session key as sent. The gateway routes an explicit session key that does not
/// name an agent to its default (main) agent, whatever the model field says: a key for
/// a named agent must read `agent:<id>:<key>` or the dedicated agent is bypassed.
pub fn gateway_session_key(config: &ProviderConfig, key: &str) -> String {
    match agent_target(config) {
        Some(target) if !target.id.eq_ignore_ascii_case("default") => {
            format!("agent:{}:{key}", target.id.to_lowercase())
        }
        _ => key.to_owned(),
    }
}

/// Tool names an OpenClaw agent may have that act on the gateway's host.
pub const HOST_TOOLS: &[&str] = &[
    "exec",
    "process",
    "bash",
    "shell",
    "read",
    "write",
    "edit",
    "apply_patch",
    "browser",
    "canvas",
    "nodes",
    "cron",
    "gateway",
];

/// The gateway agent a configuration reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AgentTarget {
    /// The agent id as configured (`default` when the request names none).
    pub id: String,
    /// Whether this is (or may be) the gateway's main agent, which has every tool the
    /// owner gave it.
    pub main: bool,
}

/// The agent the OpenClaw preset reaches; `None` for other presets. The model field
/// (`openclaw/<id>`, `openclaw:<id>`, `agent:<id>`) and the agent header both pick an
/// agent; when either may reach the main agent, the target counts as main.
pub fn agent_target(config: &ProviderConfig) -> Option<AgentTarget> {
    if config.preset != Preset::OpenClaw {
        return None;
    }
    let from_model = model_agent(&config.model);
    let from_header = config
        .extra_headers
        .iter()
        .find(|(name, _)| name.trim().eq_ignore_ascii_case(AGENT_HEADER))
        .map(|(_, value)| value.trim().to_owned());
    let named: Vec<&str> = from_header
        .iter()
        .chain([&from_model])
        .map(String::as_str)
        .collect();
    let main = named.iter().copied().find(|id| is_main(id));
    let id = main.unwrap_or(named[0]).to_owned();
    Some(AgentTarget {
        id,
        main: main.is_some(),
    })
}

/// The agent id a model field names (`default` when it names none: the gateway then
/// routes to its default agent, which is the main one unless configured otherwise).
fn model_agent(model: &str) -> String {
    let model = model.trim();
    let id = ["openclaw/", "openclaw:", "agent:"]
        .iter()
        .find_map(|prefix| {
            model
                .get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(prefix))
                .map(|_| &model[prefix.len()..])
        });
    match id.map(str::trim) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => "default".to_owned(),
    }
}

fn is_main(id: &str) -> bool {
    ["", "default", "main"]
        .iter()
        .any(|m| id.trim().eq_ignore_ascii_case(m))
}

/// Why AI replies refuse to run on this configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the OpenClaw preset reaches the gateway's main agent ({id:?}), so any WeChat user who \
     writes could use every tool it has; name a dedicated agent (model \
     \"openclaw/{DEFAULT_AGENT_ID}\") or confirm that risk explicitly"
)]
pub struct MainAgentRefused {
    pub id: String,
}

/// The rule: the main agent only with the owner's explicit confirmation.
pub fn check_agent(config: &ProviderConfig) -> Result<(), MainAgentRefused> {
    match agent_target(config) {
        Some(target) if target.main && !config.allow_main_agent => {
            Err(MainAgentRefused { id: target.id })
        }
        _ => Ok(()),
    }
}

/// The tools of these that act on the host, in the order given.
pub fn host_tools(tools: &[String]) -> Vec<&str> {
    tools
        .iter()
        .map(String::as_str)
        .filter(|t| HOST_TOOLS.iter().any(|h| t.eq_ignore_ascii_case(h)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openclaw(model: &str) -> ProviderConfig {
        ProviderConfig {
            model: model.into(),
            ..ProviderConfig::preset(Preset::OpenClaw)
        }
    }

    #[test]
    fn the_preset_targets_the_dedicated_agent_by_default() {
        let config = ProviderConfig::preset(Preset::OpenClaw);
        assert_eq!(config.model, "openclaw/weixin");
        assert!(!config.allow_main_agent);
        assert_eq!(
            agent_target(&config),
            Some(AgentTarget {
                id: "weixin".into(),
                main: false
            })
        );
        assert_eq!(check_agent(&config), Ok(()));
    }

    #[test]
    fn every_way_of_naming_the_main_agent_is_refused_without_confirmation() {
        for model in [
            "openclaw/default",
            "openclaw/main",
            "OpenClaw/Main",
            "openclaw:main",
            "agent:main",
            "openclaw",
            "openclaw/",
            "gpt-4o-mini",
            "",
        ] {
            let config = openclaw(model);
            assert!(agent_target(&config).unwrap().main, "{model:?}");
            let refused = check_agent(&config).unwrap_err();
            assert!(refused.to_string().contains("main agent"), "{refused}");
        }
        let mut header = openclaw("openclaw/weixin");
        header
            .extra_headers
            .push(("X-OpenClaw-Agent-Id".into(), " main ".into()));
        assert!(check_agent(&header).is_err(), "the header reaches main too");
    }

    #[test]
    fn confirmation_lets_the_main_agent_answer() {
        let mut config = openclaw("openclaw/default");
        config.allow_main_agent = true;
        assert_eq!(check_agent(&config), Ok(()));
        assert!(agent_target(&config).unwrap().main);
    }

    #[test]
    fn named_agents_and_other_presets_pass() {
        for model in ["openclaw/support", "openclaw:beta", "agent:weixin"] {
            let target = agent_target(&openclaw(model)).unwrap();
            assert!(!target.main, "{model}");
            assert_eq!(check_agent(&openclaw(model)), Ok(()));
        }
        let openai = ProviderConfig::preset(Preset::OpenAi);
        assert_eq!(agent_target(&openai), None);
        assert_eq!(check_agent(&openai), Ok(()));
    }

    #[test]
    fn session_keys_name_the_agent_the_request_targets() {
        let config = ProviderConfig::preset(Preset::OpenClaw);
        assert_eq!(
            gateway_session_key(&config, "weixin-desk:k"),
            "agent:weixin:weixin-desk:k"
        );
        let mut main = openclaw("openclaw/Main");
        main.allow_main_agent = true;
        assert_eq!(gateway_session_key(&main, "k"), "agent:main:k");
        assert_eq!(gateway_session_key(&openclaw("openclaw/default"), "k"), "k");
        assert_eq!(
            gateway_session_key(&ProviderConfig::preset(Preset::OpenAi), "k"),
            "k"
        );
    }

    #[test]
    fn the_gateways_words_for_a_turn_without_a_reply() {
        for silent in [
            "internal error",
            "Internal error.",
            "⚠️ Agent couldn't generate a response. Please try again.",
            "The agent run failed before producing a reply.",
            "incomplete turn detected",
        ] {
            assert!(is_silent_turn_error(silent), "{silent}");
        }
        for failure in [
            "upstream provider error",
            "internal error while contacting the model provider",
            "Agent run failed",
            "",
        ] {
            assert!(!is_silent_turn_error(failure), "{failure}");
        }
    }

    #[test]
    fn host_tools_are_picked_out() {
        let tools: Vec<String> = ["message", "exec", "web_search", "Browser"]
            .map(String::from)
            .to_vec();
        assert_eq!(host_tools(&tools), ["exec", "Browser"]);
    }

    #[test]
    fn the_shown_configuration_creates_the_default_agent_without_host_tools() {
        assert!(DEDICATED_AGENT_CONFIG.contains(&format!("id: \"{DEFAULT_AGENT_ID}\"")));
        assert!(DEDICATED_AGENT_CONFIG.contains("chatCompletions: { enabled: true }"));
        for tool in ["exec", "process", "write", "browser"] {
            assert!(
                DEDICATED_AGENT_CONFIG.contains(&format!("\"{tool}\"")),
                "{tool}"
            );
        }
    }
}
