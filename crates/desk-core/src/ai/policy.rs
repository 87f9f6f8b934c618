//! Who gets an AI reply, decided from the settings at every level. Pure, so each rule
//! is tested on its own; the order is the order of the checks below.

use super::openclaw::check_agent;
use super::settings::{AccountAiSettings, GlobalAiSettings};
use crate::store::ai::AiPeerRow;

/// Why a message gets no AI reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    GloballyPaused,
    /// Off for the account (and the peer has no override) or off for the peer.
    Disabled,
    Blocked,
    NotAllowed,
    /// The owner replied by hand recently.
    TakenOver,
    QuietHours,
    RateLimited,
    /// The OpenClaw preset reaches the gateway's main agent and the owner has not
    /// confirmed that WeChat users may drive it.
    MainAgentUnconfirmed,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::GloballyPaused => "AI replies are paused",
            Skip::Disabled => "AI replies are off for this peer",
            Skip::Blocked => "the peer is on the block list",
            Skip::NotAllowed => "the peer is not on the allow list",
            Skip::TakenOver => "the owner is replying by hand",
            Skip::QuietHours => "quiet hours",
            Skip::RateLimited => "the peer reached the hourly limit",
            Skip::MainAgentUnconfirmed => {
                "the OpenClaw preset reaches the gateway's main agent, which WeChat users \
                 must not drive: name a dedicated agent, or confirm the risk in the AI settings"
            }
        }
    }
}

/// What the decision looks at besides the settings.
#[derive(Debug, Clone, Copy)]
pub struct Moment<'a> {
    pub peer_id: &'a str,
    pub now_ms: i64,
    /// Minutes after local midnight.
    pub minute_of_day: u16,
    /// AI runs this peer had in the last hour (`None`: do not check the rate).
    pub runs_last_hour: Option<usize>,
}

/// Whether the peer's AI switch is on: the peer's own setting, else the account's.
pub fn enabled_for(account: &AccountAiSettings, peer: &AiPeerRow) -> bool {
    peer.enabled.unwrap_or(account.enabled)
}

pub fn decide(
    global: &GlobalAiSettings,
    account: &AccountAiSettings,
    peer: &AiPeerRow,
    at: Moment<'_>,
) -> Result<(), Skip> {
    let same = |p: &String| p.eq_ignore_ascii_case(at.peer_id);
    if global.paused {
        return Err(Skip::GloballyPaused);
    }
    if !enabled_for(account, peer) {
        return Err(Skip::Disabled);
    }
    if account.block.iter().any(same) {
        return Err(Skip::Blocked);
    }
    if !account.allow.is_empty() && !account.allow.iter().any(same) {
        return Err(Skip::NotAllowed);
    }
    if peer
        .takeover_until_ms
        .is_some_and(|until| at.now_ms < until)
    {
        return Err(Skip::TakenOver);
    }
    if account
        .quiet_hours
        .is_some_and(|q| q.contains(at.minute_of_day))
    {
        return Err(Skip::QuietHours);
    }
    if check_agent(&global.provider).is_err() {
        return Err(Skip::MainAgentUnconfirmed);
    }
    // Last: a refusal found without the rate (`runs_last_hour: None`) is then final.
    let limit = account.runs_per_peer_per_hour as usize;
    if limit > 0 && at.runs_last_hour.is_some_and(|n| n >= limit) {
        return Err(Skip::RateLimited);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::settings::QuietHours;

    fn at(runs: usize) -> Moment<'static> {
        Moment {
            peer_id: "Peer",
            now_ms: 1_000,
            minute_of_day: 600,
            runs_last_hour: Some(runs),
        }
    }

    #[test]
    fn every_level_in_order() {
        let mut g = GlobalAiSettings::default();
        let mut a = AccountAiSettings {
            enabled: true,
            ..AccountAiSettings::default()
        };
        let mut p = AiPeerRow::default();
        assert_eq!(decide(&g, &a, &p, at(0)), Ok(()));
        p.enabled = Some(false);
        assert_eq!(decide(&g, &a, &p, at(0)), Err(Skip::Disabled));
        a.enabled = false;
        p.enabled = Some(true);
        assert_eq!(
            decide(&g, &a, &p, at(0)),
            Ok(()),
            "the peer overrides the account"
        );
        g.paused = true;
        assert_eq!(decide(&g, &a, &p, at(0)), Err(Skip::GloballyPaused));
        g.paused = false;
        a.block = vec!["peer".into()];
        assert_eq!(decide(&g, &a, &p, at(0)), Err(Skip::Blocked));
        a.block.clear();
        a.allow = vec!["other".into()];
        assert_eq!(decide(&g, &a, &p, at(0)), Err(Skip::NotAllowed));
        a.allow = vec!["PEER".into()];
        p.takeover_until_ms = Some(1_001);
        assert_eq!(decide(&g, &a, &p, at(0)), Err(Skip::TakenOver));
        p.takeover_until_ms = Some(1_000);
        assert_eq!(
            decide(&g, &a, &p, at(0)),
            Ok(()),
            "takeover ends at its time"
        );
        a.quiet_hours = Some(QuietHours {
            start_minute: 540,
            end_minute: 660,
        });
        assert_eq!(decide(&g, &a, &p, at(0)), Err(Skip::QuietHours));
        a.quiet_hours = None;
        a.runs_per_peer_per_hour = 3;
        assert_eq!(decide(&g, &a, &p, at(2)), Ok(()));
        assert_eq!(decide(&g, &a, &p, at(3)), Err(Skip::RateLimited));
    }

    #[test]
    fn the_gateways_main_agent_needs_the_owners_confirmation() {
        let mut g = GlobalAiSettings::default();
        let a = AccountAiSettings {
            enabled: true,
            ..AccountAiSettings::default()
        };
        let p = AiPeerRow::default();
        assert_eq!(decide(&g, &a, &p, at(0)), Ok(()), "the dedicated agent");
        g.provider.model = "openclaw/default".into();
        assert_eq!(decide(&g, &a, &p, at(0)), Err(Skip::MainAgentUnconfirmed));
        let limited = AccountAiSettings {
            runs_per_peer_per_hour: 1,
            ..a.clone()
        };
        assert_eq!(
            decide(&g, &limited, &p, at(5)),
            Err(Skip::MainAgentUnconfirmed),
            "the rate is looked at last"
        );
        g.provider.allow_main_agent = true;
        assert_eq!(decide(&g, &a, &p, at(0)), Ok(()));
    }
}
