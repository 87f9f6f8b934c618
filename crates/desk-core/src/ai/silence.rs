//! The silence rule: an AI may choose not to answer. A reply that is empty or exactly
//! the silence token is not sent; for the OpenClaw gateway, its own marks of a turn
//! without a reply (a placeholder text, or an error after the agent's silent turn)
//! count as silence too. Silence is noted for the owner, never turned into the polite
//! "cannot reply" notice.

use super::client::ProviderError;
use super::openclaw;
use super::provider::{Preset, ProviderConfig};
use super::sse::SseError;

/// What counts as silence for one run.
#[derive(Debug, Clone)]
pub struct SilenceRule {
    /// Whole replies that mean "no answer" (trimmed), besides an empty one.
    texts: Vec<String>,
    gateway: bool,
}

impl SilenceRule {
    pub fn new(config: &ProviderConfig, token: &str) -> SilenceRule {
        let mut texts = Vec::new();
        if !token.trim().is_empty() {
            texts.push(token.trim().to_owned());
        }
        let gateway = config.preset == Preset::OpenClaw;
        if gateway {
            texts.push(openclaw::NO_RESPONSE_TEXT.to_owned());
        }
        SilenceRule { texts, gateway }
    }

    /// Whether the reply streamed so far may still turn out to be silence: nothing of
    /// it can be sent yet.
    pub fn undecided(&self, so_far: &str) -> bool {
        let so_far = so_far.trim_start();
        so_far.is_empty() || self.texts.iter().any(|t| t.starts_with(so_far.trim_end()))
    }

    /// Whether a complete reply is silence.
    pub fn is_silent(&self, reply: &str) -> bool {
        let reply = reply.trim();
        reply.is_empty() || self.texts.iter().any(|t| t == reply)
    }

    /// Whether a provider failure is the gateway reporting that its agent ended the
    /// turn without a reply.
    pub fn is_silent_failure(&self, error: &ProviderError) -> bool {
        if !self.gateway {
            return false;
        }
        match error {
            ProviderError::Stream(SseError::Provider(message)) => {
                openclaw::is_silent_turn_error(message)
            }
            ProviderError::Status { status, message } if *status == 500 => {
                openclaw::is_silent_turn_error(message)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_the_token_are_silence_and_are_held_until_known() {
        let rule = SilenceRule::new(&ProviderConfig::preset(Preset::OpenAi), "NO_REPLY");
        assert!(rule.is_silent("") && rule.is_silent(" \n") && rule.is_silent(" NO_REPLY\n"));
        assert!(!rule.is_silent("NO_REPLY, but hello") && !rule.is_silent("NO_"));
        assert!(rule.undecided("") && rule.undecided("  NO_") && rule.undecided("NO_REPLY"));
        assert!(!rule.undecided("Hello") && !rule.undecided("NO_REPLY!"));
        // Only the gateway's own placeholder is silence for the gateway.
        assert!(!rule.is_silent(openclaw::NO_RESPONSE_TEXT));
        let none = SilenceRule::new(&ProviderConfig::preset(Preset::OpenAi), "  ");
        assert!(none.is_silent("") && !none.is_silent("NO_REPLY"));
    }

    #[test]
    fn the_gateways_silent_turn_is_silence_but_a_failing_model_is_not() {
        let gateway = SilenceRule::new(&ProviderConfig::preset(Preset::OpenClaw), "NO_REPLY");
        assert!(gateway.is_silent(openclaw::NO_RESPONSE_TEXT));
        let streamed = ProviderError::Stream(SseError::Provider("internal error".into()));
        let whole = ProviderError::Status {
            status: 500,
            message: "internal error".into(),
        };
        assert!(gateway.is_silent_failure(&streamed) && gateway.is_silent_failure(&whole));
        let upstream = ProviderError::Status {
            status: 502,
            message: "upstream provider error".into(),
        };
        assert!(!gateway.is_silent_failure(&upstream));
        assert!(!gateway.is_silent_failure(&ProviderError::Auth(401)));
        let other = SilenceRule::new(&ProviderConfig::preset(Preset::Custom), "NO_REPLY");
        assert!(!other.is_silent_failure(&streamed));
    }
}
